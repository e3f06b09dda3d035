/* test_client_conn.c: the client connection (blindpad/client.h, http.h)
 * against the real server, plus its pure parsers.
 *
 * The server is build/blindpad-server ($BLINDPAD_BIN, else next to this
 * test's build directory, else build/blindpad-server from the current
 * directory), started on a free loopback port with a temporary data dir and
 * --sandbox-port 0, and killed at the end. Fake servers (junk, a non-101
 * answer, a WebSocket that sends non-JSON) are forked listeners. */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <nettle/sha1.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blindpad/client.h>
#include <blindpad/http.h>

#include "client/cnet.h"
#include "common/buf.h"
#include "protocol/rawjson.h"

#include "server_proc.h"

static struct srv S; /* the shared server */

static int group_setup(void **state)
{
    if (sodium_init() < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return server_start(&S, NULL);
}

static int group_teardown(void **state)
{
    server_stop(&S, SIGTERM);
    return 0;
}

static void rand_chan(char out[33])
{
    cnet_randhex(out, 32);
}

struct keypair {
    uint8_t pk[32];
    uint8_t *sk;
    struct bp_sign_key k;
};

static void kp_new(struct keypair *kp)
{
    kp->sk = sodium_malloc(64);
    assert_non_null(kp->sk);
    crypto_sign_keypair(kp->pk, kp->sk);
    kp->k.pk = kp->pk;
    kp->k.sk = kp->sk;
}

static void kp_free(struct keypair *kp) { sodium_free(kp->sk); }

static struct bp_client *open_client(const struct bp_client_opts *o)
{
    struct bp_client *cl = NULL;
    char err[256];
    int r = bp_client_open(S.ws, o, &cl, err, sizeof(err));
    if (r)
        fprintf(stderr, "open: %s (%s)\n", bp_strerror(r), err);
    assert_int_equal(r, 0);
    return cl;
}

/* ---- pure parsers ---- */

static void test_url(void **state)
{
    struct cnet_url u;
    assert_int_equal(cnet_url_parse("ws://example.org/cryptpad_websocket", &u), 0);
    assert_true(u.ws);
    assert_string_equal(u.host, "example.org");
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/cryptpad_websocket");
    assert_int_equal(cnet_url_parse("http://[::1]:3000", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "3000");
    assert_string_equal(u.hostport, "[::1]:3000");
    assert_string_equal(u.path, "/");
    assert_int_equal(cnet_url_parse("http://h:3000?x=1#frag", &u), 0);
    assert_string_equal(u.path, "/?x=1");
    assert_int_equal(cnet_url_parse("wss://h/", &u), 0);
    assert_true(u.ws && u.tls);
    assert_string_equal(u.port, "443");
    assert_int_equal(cnet_url_parse("HTTPS://h:8443/x", &u), 0);
    assert_true(!u.ws && u.tls);
    assert_string_equal(u.port, "8443");
    assert_string_equal(u.hostport, "h:8443");
    assert_string_equal(u.path, "/x");
    assert_int_equal(cnet_url_parse("http://h/", &u), 0);
    assert_true(!u.tls);
    assert_int_equal(cnet_url_parse("ftp://h/", &u), BP_EINVAL);
    assert_int_equal(cnet_url_parse("https:/h/", &u), BP_EINVAL);
    assert_int_equal(cnet_url_parse("http://h:0/", &u), BP_EINVAL);
    assert_int_equal(cnet_url_parse("http://h:99999/", &u), BP_EINVAL);
    assert_int_equal(cnet_url_parse("http://u@h/", &u), BP_EINVAL);
    assert_int_equal(cnet_url_parse("http:///x", &u), BP_EINVAL);
    assert_int_equal(cnet_url_parse("http://h/a b", &u), BP_EINVAL);
    assert_int_equal(cnet_url_parse("http://h/a\r\nX: y", &u), BP_EINVAL);
}

static void test_frames(void **state)
{
    struct nfc_frame f;
    const char *s = "[0,\"\",\"IDENT\",\"0123456789abcdef0123456789abcdef\"]";
    assert_int_equal(nfc_parse(s, strlen(s), &f), 0);
    assert_int_equal(f.kind, NFC_IDENT);
    assert_string_equal(f.target, "0123456789abcdef0123456789abcdef");
    nfc_frame_free(&f);
    s = "[7,\"ERROR\",\"enoent\",\"abc\"]";
    assert_int_equal(nfc_parse(s, strlen(s), &f), 0);
    assert_int_equal(f.kind, NFC_REPLY);
    assert_int_equal(f.seq, 7);
    assert_string_equal(f.code, "enoent");
    nfc_frame_free(&f);
    s = "[3,\"ERROR\"]";
    assert_int_equal(nfc_parse(s, strlen(s), &f), 0);
    assert_null(f.code);
    nfc_frame_free(&f);
    s = "[0,\"a\",\"MSG\",\"c\",\"hello\",1795401650344]";
    assert_int_equal(nfc_parse(s, strlen(s), &f), 0);
    assert_int_equal(f.kind, NFC_MSG);
    assert_string_equal(json_string_value(f.content), "hello");
    nfc_frame_free(&f);
    assert_int_equal(nfc_parse("{\"a\":1}", 7, &f), BP_EPROTO);
    assert_int_equal(nfc_parse("[1]", 3, &f), BP_EPROTO);
    assert_int_equal(nfc_parse("nope", 4, &f), BP_EPROTO);

    struct nfc_hk h;
    s = "{\"state\":1,\"channel\":\"c\",\"txid\":\"t\"}";
    assert_int_equal(nfc_hk_parse(s, strlen(s), &h), 0);
    assert_int_equal(h.kind, NFC_HK_END);
    assert_string_equal(h.txid, "t");
    nfc_hk_free(&h);
    s = "{\"error\":\"EUNKNOWN\",\"channel\":\"c\",\"txid\":\"t\"}";
    assert_int_equal(nfc_hk_parse(s, strlen(s), &h), 0);
    assert_int_equal(h.kind, NFC_HK_ERROR);
    assert_string_equal(h.error, "EUNKNOWN");
    nfc_hk_free(&h);
    s = "{\"channel\":\"c\",\"created\":1}";
    assert_int_equal(nfc_hk_parse(s, strlen(s), &h), 0);
    assert_int_equal(h.kind, NFC_HK_META);
    nfc_hk_free(&h);
    s = "[\"t\",null,\"MSG\",\"c\",\"x\",5]";
    assert_int_equal(nfc_hk_parse(s, strlen(s), &h), 0);
    assert_int_equal(h.kind, NFC_HK_ARRAY);
    struct bp_hist_msg m;
    assert_int_equal(nfc_hist_msg(h.root, &m), 0);
    assert_string_equal(m.sender, "");
    assert_string_equal(m.content, "x");
    assert_int_equal(m.time, 5);
    nfc_hk_free(&h);
}

static void test_rpc_envelope(void **state)
{
    struct keypair kp;
    kp_new(&kp);
    const char *s;
    struct buf b = BUF_INIT;
    assert_int_equal(rpcc_build(&b, "tx", NULL, NULL, "GET_FILE_SIZE", "\"abc\""), 0);
    assert_string_equal(b.data, "[\"tx\",[\"GET_FILE_SIZE\",\"abc\"]]");
    buf_reset(&b);
    /* signed: the signature covers [cookie,cmd,arg] as JSON.stringify writes it */
    assert_int_equal(rpcc_build(&b, "tx", &kp.k, "1|2|3", "PIN", "[ \"a\" , 1.50 ]"), 0);
    json_t *j = rawjson_load(b.data, b.len);
    json_t *env = json_array_get(j, 1);
    assert_int_equal(json_array_size(env), 5);
    const char *signed_text = "[\"1|2|3\",\"PIN\",[\"a\",1.5]]";
    uint8_t sig[64];
    size_t sl;
    const char *s64 = json_string_value(json_array_get(env, 0));
    assert_int_equal(sodium_base642bin(sig, 64, s64, strlen(s64), NULL, &sl, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)signed_text,
                                                 strlen(signed_text), kp.pk), 0);
    assert_non_null(strstr(b.data, ",\"1|2|3\",\"PIN\",[\"a\",1.5]]]"));
    json_decref(j);
    buf_reset(&b);
    assert_int_equal(rpcc_build(&b, "tx", &kp.k, NULL, "COOKIE", "\"\""), 0);
    assert_non_null(strstr(b.data, ",null,\"COOKIE\",\"\"]]"));
    buf_reset(&b);
    assert_int_equal(rpcc_build(&b, "tx", NULL, NULL, "X", "{bad"), BP_EINVAL);
    buf_free(&b);

    char *v, *c, *e;
    s = "[\"t\",\"1|2|3\",5,\"\",\"\"]";
    j = rawjson_load(s, strlen(s));
    assert_int_equal(rpcc_reply(j, true, &v, &c, &e), 0);
    assert_string_equal(v, "[5,\"\",\"\"]");
    assert_string_equal(c, "1|2|3");
    free(v);
    free(c);
    json_decref(j);
    s = "[\"t\",null,{\"isNew\":true},null]";
    j = rawjson_load(s, strlen(s));
    assert_int_equal(rpcc_reply(j, false, &v, &c, &e), 0);
    assert_string_equal(v, "[{\"isNew\":true}]");
    free(v);
    json_decref(j);
    s = "[\"t\",\"ERROR\",{\"code\":\"ENOENT\"}]";
    j = rawjson_load(s, strlen(s));
    assert_int_equal(rpcc_reply(j, false, &v, &c, &e), BP_ESERVER);
    assert_string_equal(e, "{\"code\":\"ENOENT\"}");
    free(e);
    json_decref(j);
    kp_free(&kp);
}

static void test_http_parser(void **state)
{
    struct bp_http_resp *r;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    assert_int_equal(cnet_http_parse_response(s, strlen(s), false, 0, &r), 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(bp_http_header(r, "CONTENT-TYPE"), "text/plain");
    assert_int_equal(r->body_len, 11);
    assert_string_equal((char *)r->body, "hello world");
    bp_http_resp_free(r);
    s = "HTTP/1.1 206 Partial Content\r\nContent-Length: 2\r\nContent-Range: bytes 0-1/9\r\n\r\nab";
    assert_int_equal(cnet_http_parse_response(s, strlen(s), false, 0, &r), 0);
    assert_int_equal(r->status, 206);
    assert_string_equal((char *)r->body, "ab");
    bp_http_resp_free(r);
    /* HEAD: Content-Length without a body */
    s = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    assert_int_equal(cnet_http_parse_response(s, strlen(s), true, 0, &r), 0);
    assert_int_equal(r->body_len, 0);
    bp_http_resp_free(r);
    /* body over the limit; truncated body; garbage */
    s = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
    assert_int_equal(cnet_http_parse_response(s, strlen(s), false, 5, &r), BP_ETOOBIG);
    s = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123";
    assert_int_equal(cnet_http_parse_response(s, strlen(s), false, 0, &r), BP_EPROTO);
    assert_int_equal(cnet_http_parse_response("garbage\r\n\r\n", 11, false, 0, &r), BP_EPROTO);
    /* to EOF without a length */
    s = "HTTP/1.1 200 OK\r\n\r\nuntil eof";
    assert_int_equal(cnet_http_parse_response(s, strlen(s), false, 0, &r), 0);
    assert_string_equal((char *)r->body, "until eof");
    bp_http_resp_free(r);
    /* too many headers */
    struct buf b = BUF_INIT;
    buf_appends(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < BP_HTTP_MAX_HEADERS + 1; i++)
        buf_appendf(&b, "X-H%d: v\r\n", i);
    buf_appends(&b, "Content-Length: 0\r\n\r\n");
    assert_int_equal(cnet_http_parse_response(b.data, b.len, false, 0, &r), BP_ETOOBIG);
    buf_free(&b);
}

/* ---- against the server ---- */

static void test_connect(void **state)
{
    struct bp_client *cl = open_client(NULL);
    assert_int_equal(strlen(bp_client_id(cl)), 32);
    assert_int_equal(strlen(bp_client_hk(cl)), 16);
    struct bp_client *cl2 = open_client(NULL);
    assert_string_not_equal(bp_client_id(cl), bp_client_id(cl2));
    assert_string_equal(bp_client_hk(cl), bp_client_hk(cl2));
    bp_client_free(cl2);
    /* http:// with no path means /cryptpad_websocket */
    struct bp_client *cl3 = NULL;
    assert_int_equal(bp_client_open(S.http, NULL, &cl3, NULL, 0), 0);
    bp_client_free(cl3);
    /* a join where the server picks the name */
    char chan[64];
    size_t n = 99;
    assert_int_equal(bp_client_join(cl, NULL, chan, sizeof(chan), &n), 0);
    assert_int_equal(strlen(chan), 32);
    assert_int_equal(n, 0);
    /* errors carry the server's code */
    assert_int_equal(bp_client_leave(cl, "ffffffffffffffffffffffffffffffff"), BP_ESERVER);
    assert_string_equal(bp_client_error(cl), "ENOENT");
    assert_int_equal(bp_client_send(cl, "0123456789abcdef0123456789abcdef", "x", 1), BP_ESERVER);
    assert_string_equal(bp_client_error(cl), "enoent");
    bp_client_free(cl);
}

struct hist {
    int metas, msgs;
    char meta[1024];
    char content[8][64];
    char sender[8][40];
    int stop_after;
    struct srv *kill_srv;
};

static int h_meta(const char *json, size_t len, void *ud)
{
    struct hist *h = ud;
    h->metas++;
    snprintf(h->meta, sizeof(h->meta), "%.*s", (int)len, json);
    return 0;
}

static int h_msg(const struct bp_hist_msg *m, void *ud)
{
    struct hist *h = ud;
    if (h->msgs < 8) {
        snprintf(h->content[h->msgs], 64, "%.*s", (int)m->content_len, m->content);
        snprintf(h->sender[h->msgs], 40, "%s", m->sender);
    }
    h->msgs++;
    if (h->kill_srv && h->msgs == 1)
        server_stop(h->kill_srv, SIGKILL);
    return h->stop_after && h->msgs >= h->stop_after;
}

static void test_history(void **state)
{
    struct keypair kp;
    kp_new(&kp);
    char pk64[64], meta[200], chan[33];
    sodium_bin2base64(pk64, sizeof(pk64), kp.pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(meta, sizeof(meta), "{\"owners\":[\"%s\"]}", pk64);
    rand_chan(chan);

    struct bp_client *a = open_client(NULL);
    assert_int_equal(bp_client_join(a, chan, NULL, 0, NULL), 0);
    struct hist h = {0};
    struct bp_history_opts ho = {.metadata_json = meta};
    assert_int_equal(bp_client_history(a, chan, &ho, h_meta, h_msg, &h), 0);
    assert_int_equal(h.metas, 1);
    assert_int_equal(h.msgs, 0);
    assert_non_null(strstr(h.meta, pk64));
    assert_non_null(strstr(h.meta, chan));
    const char *msgs[] = {"first message", "second", "third \"quoted\" \xc3\xa9"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(bp_client_send(a, chan, msgs[i], strlen(msgs[i])), 0);

    /* another client reads it back */
    struct bp_client *b = open_client(NULL);
    assert_int_equal(bp_client_join(b, chan, NULL, 0, NULL), 0);
    struct hist h2 = {0};
    assert_int_equal(bp_client_history(b, chan, NULL, h_meta, h_msg, &h2), 0);
    assert_int_equal(h2.metas, 1);
    assert_int_equal(h2.msgs, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(h2.content[i], msgs[i]);
        assert_string_equal(h2.sender[i], bp_client_id(a));
    }
    /* resume from a hash (inclusive) */
    struct hist h3 = {0};
    struct bp_history_opts o3 = {.last_known_hash = "second"};
    assert_int_equal(bp_client_history(b, chan, &o3, NULL, h_msg, &h3), 0);
    assert_int_equal(h3.msgs, 2);
    assert_string_equal(h3.content[0], "second");
    /* an unknown hash: the HK's error string */
    struct hist h4 = {0};
    struct bp_history_opts o4 = {.last_known_hash = "nope"};
    assert_int_equal(bp_client_history(b, chan, &o4, NULL, h_msg, &h4), BP_ESERVER);
    assert_string_equal(bp_client_error(b), "EUNKNOWN");
    /* the callback stops the stream */
    struct hist h5 = {.stop_after = 1};
    assert_int_equal(bp_client_history(b, chan, NULL, NULL, h_msg, &h5), BP_ECANCELED);
    /* the connection is still usable after that */
    struct hist h6 = {0};
    assert_int_equal(bp_client_history(b, chan, NULL, NULL, h_msg, &h6), 0);
    assert_int_equal(h6.msgs, 3);
    bp_client_free(a);
    bp_client_free(b);
    kp_free(&kp);
}

struct live {
    int n;
    char content[64];
    char sender[40];
    bool direct;
    int joins;
};

static void on_live(const struct bp_nf_msg *m, void *ud)
{
    struct live *l = ud;
    l->n++;
    snprintf(l->content, sizeof(l->content), "%.*s", (int)m->content_len, m->content);
    snprintf(l->sender, sizeof(l->sender), "%s", m->sender);
    l->direct = m->direct;
}

static void on_live_join(const char *chan, const char *user, void *ud)
{
    struct live *l = ud;
    l->joins++;
}

static void test_two_clients(void **state)
{
    char chan[33];
    rand_chan(chan);
    struct live la = {0}, lb = {0};
    struct bp_client_opts oa = {.on_message = on_live, .on_join = on_live_join, .ud = &la};
    struct bp_client_opts ob = {.on_message = on_live, .on_join = on_live_join, .ud = &lb};
    struct bp_client *a = open_client(&oa), *b = open_client(&ob);
    size_t n = 99;
    assert_int_equal(bp_client_join(a, chan, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(bp_client_join(b, chan, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    for (int i = 0; i < 50 && la.joins == 0; i++)
        bp_client_poll(a, 20);
    assert_int_equal(la.joins, 1);
    assert_int_equal(bp_client_send(a, chan, "hello B", 7), 0);
    for (int i = 0; i < 100 && lb.n == 0; i++)
        assert_int_equal(bp_client_poll(b, 20), 0);
    assert_int_equal(lb.n, 1);
    assert_string_equal(lb.content, "hello B");
    assert_string_equal(lb.sender, bp_client_id(a));
    assert_false(lb.direct);
    assert_int_equal(la.n, 0); /* no echo */
    /* a direct message */
    assert_int_equal(bp_client_send(b, bp_client_id(a), "psst", 4), 0);
    for (int i = 0; i < 100 && la.n == 0; i++)
        bp_client_poll(a, 20);
    assert_int_equal(la.n, 1);
    assert_true(la.direct);
    assert_string_equal(la.content, "psst");
    /* a duplicate JOIN is treated as a JACK */
    assert_int_equal(bp_client_join(a, chan, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(bp_client_leave(b, chan), 0);
    bp_client_free(a);
    bp_client_free(b);
}

static void test_rpc(void **state)
{
    struct keypair kp;
    kp_new(&kp);
    struct bp_client *cl = open_client(NULL);
    char *reply = NULL;
    assert_int_equal(bp_client_rpc(cl, &kp.k, "COOKIE", "\"\"", &reply), 0);
    assert_string_equal(reply, "[]");
    free(reply);
    assert_int_equal(bp_client_rpc(cl, &kp.k, "GET_LIMIT", NULL, &reply), 0);
    assert_string_equal(reply, "[52428800,\"\",\"\"]");
    free(reply);
    assert_int_equal(bp_client_rpc(cl, &kp.k, "GET_HASH", NULL, &reply), 0);
    assert_string_equal(reply, "[\"slspTLTetp6gCkw88xE5BIAbYBXllWvQGahXCx/h1gQOlE7zze4W0KRlA8puZZol8hz5zt3BPzUqPJgTjBXWrw==\"]");
    free(reply);
    char chan[33], arg[64];
    rand_chan(chan);
    snprintf(arg, sizeof(arg), "[\"%s\"]", chan);
    assert_int_equal(bp_client_rpc(cl, &kp.k, "PIN", arg, &reply), 0);
    assert_string_equal(reply, "[]");
    free(reply);
    assert_int_equal(bp_client_rpc(cl, &kp.k, "GET_HASH", NULL, &reply), 0);
    assert_int_equal(strlen(reply), 92);
    assert_null(strstr(reply, "slspTLTetp6g"));
    free(reply);
    /* a server error string */
    assert_int_equal(bp_client_rpc(cl, &kp.k, "PIN", "\"notalist\"", &reply), BP_ESERVER);
    assert_null(reply);
    assert_true(strlen(bp_client_error(cl)) > 0);
    /* NO_COOKIE: the session is dropped; the next call recovers once */
    assert_int_equal(bp_client_rpc(cl, &kp.k, "EXPIRE_SESSION", NULL, &reply), 0);
    free(reply);
    unsigned before = bp_conn_cookie_retries(bp_client_conn(cl));
    assert_int_equal(bp_client_rpc(cl, &kp.k, "GET_LIMIT", NULL, &reply), 0);
    assert_string_equal(reply, "[52428800,\"\",\"\"]");
    free(reply);
    assert_int_equal(bp_conn_cookie_retries(bp_client_conn(cl)), before + 1);
    /* anonymous */
    snprintf(arg, sizeof(arg), "\"%s\"", chan);
    assert_int_equal(bp_client_rpc(cl, NULL, "GET_FILE_SIZE", arg, &reply), 0);
    assert_string_equal(reply, "[0]");
    free(reply);
    assert_int_equal(bp_client_rpc(cl, NULL, "IS_NEW_CHANNEL", arg, &reply), 0);
    assert_string_equal(reply, "[{\"isNew\":true}]");
    free(reply);
    /* bad argument JSON is refused locally */
    assert_int_equal(bp_client_rpc(cl, NULL, "GET_FILE_SIZE", "{", &reply), BP_EINVAL);
    bp_client_free(cl);
    kp_free(&kp);
}

static void test_http_config(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/api/config?cb=1", S.http);
    struct bp_http_resp *r = NULL;
    assert_int_equal(bp_http_get(url, NULL, &r), 0);
    assert_int_equal(r->status, 200);
    assert_memory_equal(r->body, "define(function(){", 18);
    json_t *j = rawjson_load((char *)r->body + 27, r->body_len - 27 - 5);
    assert_true(json_is_object(j));
    assert_int_equal(json_integer_value(json_object_get(j, "defaultStorageLimit")), 52428800);
    json_decref(j);
    bp_http_resp_free(r);
    snprintf(url, sizeof(url), "%s/block/xx/short", S.http);
    assert_int_equal(bp_http_get(url, NULL, &r), 0);
    assert_int_equal(r->status, 404);
    bp_http_resp_free(r);
    assert_int_equal(bp_http_get("ftp://127.0.0.1/", NULL, &r), BP_EINVAL);
    assert_null(r);
}

static void test_upload(void **state)
{
    struct keypair kp;
    kp_new(&kp);
    struct bp_client *cl = open_client(NULL);
    char id[49], arg[200], *reply = NULL;
    cnet_randhex(id, 48);
    uint8_t data[3 * 1000];
    randombytes_buf(data, sizeof(data));
    snprintf(arg, sizeof(arg), "{\"id\":\"%s\",\"size\":%zu}", id, sizeof(data));
    assert_int_equal(bp_client_rpc(cl, &kp.k, "UPLOAD_STATUS", arg, &reply), 0);
    assert_string_equal(reply, "[false]");
    free(reply);

    char *res = NULL, err[256] = "";
    snprintf(arg, sizeof(arg), "{\"id\":\"%s\"}", id);
    int r = bp_http_auth(S.http, &kp.k, "UPLOAD_COOKIE", arg, &res, err, sizeof(err));
    if (r)
        fprintf(stderr, "auth: %s\n", err);
    assert_int_equal(r, 0);
    json_t *j = rawjson_load(res, strlen(res));
    free(res);
    char cookie[128];
    assert_true(json_is_string(json_object_get(j, "cookie")));
    snprintf(cookie, sizeof(cookie), "%s", json_string_value(json_object_get(j, "cookie")));
    json_decref(j);
    /* two JSON chunks (CryptPad's form), then the rest as one binary body
     * (blindpad's extension, advertised by every answer) */
    for (int i = 0; i < 2; i++) {
        char next[128];
        size_t raw_max = 0;
        r = bp_http_upload_chunk(S.http, &kp.k, cookie, data + i * 1000, 1000, next, sizeof(next),
                                 &raw_max, err, sizeof(err));
        if (r)
            fprintf(stderr, "upload: %s\n", err);
        assert_int_equal(r, 0);
        assert_int_equal(raw_max, 4u << 20);
        assert_string_not_equal(next, cookie);
        memcpy(cookie, next, sizeof(cookie));
    }
    char next[128];
    r = bp_http_upload_raw(S.http, &kp.k, cookie, data + 2000, 1000, next, sizeof(next), err,
                           sizeof(err));
    if (r)
        fprintf(stderr, "upload raw: %s\n", err);
    assert_int_equal(r, 0);
    assert_string_not_equal(next, cookie);
    /* the cookie just used is stale now: refused, in both forms, with the server's error */
    char stale[128];
    r = bp_http_upload_raw(S.http, &kp.k, cookie, data, 10, stale, sizeof(stale), err, sizeof(err));
    assert_int_equal(r, BP_ESERVER);
    assert_string_equal(err, "INVALID_COOKIE");
    r = bp_http_upload_chunk(S.http, &kp.k, "00000000000000000000000000000000", data, 10, stale,
                             sizeof(stale), NULL, err, sizeof(err));
    assert_int_equal(r, BP_ESERVER);
    assert_string_equal(err, "INVALID_COOKIE");
    /* without a valid cookie a binary body gets only the plain body limit
     * (1 MiB): 2 MiB is refused before it is read, nothing is staged */
    uint8_t *big = calloc(1, 2u << 20);
    assert_non_null(big);
    r = bp_http_upload_raw(S.http, &kp.k, cookie, big, 2u << 20, stale, sizeof(stale), err,
                           sizeof(err));
    free(big);
    assert_true(r == BP_ESERVER || r == BP_ENET); /* 413, or the connection cut while sending */
    /* another key's signature over the right cookie is refused */
    struct keypair other;
    kp_new(&other);
    r = bp_http_upload_raw(S.http, &other.k, next, data, 10, stale, sizeof(stale), err, sizeof(err));
    assert_int_equal(r, BP_ESERVER);
    assert_string_equal(err, "INVALID_COOKIE");
    kp_free(&other);
    /* a bad /api/auth command */
    r = bp_http_auth(S.http, &kp.k, "NO_SUCH_COMMAND", NULL, &res, err, sizeof(err));
    assert_int_equal(r, BP_ESERVER);
    assert_string_equal(err, "invalid command");

    snprintf(arg, sizeof(arg), "\"%s\"", id);
    assert_int_equal(bp_client_rpc(cl, &kp.k, "UPLOAD_COMPLETE", arg, &reply), 0);
    char want[64];
    snprintf(want, sizeof(want), "[\"%s\"]", id);
    assert_string_equal(reply, want);
    free(reply);

    char url[200];
    snprintf(url, sizeof(url), "%s/blob/%.2s/%s", S.http, id, id);
    struct bp_http_resp *resp = NULL;
    assert_int_equal(bp_http_get(url, "bytes=0-1", &resp), 0);
    assert_int_equal(resp->status, 206);
    assert_int_equal(resp->body_len, 2);
    assert_memory_equal(resp->body, data, 2);
    assert_non_null(bp_http_header(resp, "content-range"));
    bp_http_resp_free(resp);
    assert_int_equal(bp_http_get(url, "bytes=1000-", &resp), 0);
    assert_int_equal(resp->status, 206);
    assert_int_equal(resp->body_len, 2000);
    assert_memory_equal(resp->body, data + 1000, 2000);
    bp_http_resp_free(resp);
    struct bp_http_req hr = {.method = "HEAD", .url = url};
    assert_int_equal(bp_http_fetch(&hr, &resp, NULL, 0), 0);
    assert_int_equal(resp->status, 200);
    assert_string_equal(bp_http_header(resp, "content-length"), "3000");
    assert_int_equal(resp->body_len, 0);
    bp_http_resp_free(resp);
    bp_client_free(cl);
    kp_free(&kp);
}

/* ---- error paths ---- */

static void test_not_running(void **state)
{
    char url[96], err[256] = "";
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/cryptpad_websocket", free_port());
    struct bp_client *cl = NULL;
    assert_int_equal(bp_client_open(url, NULL, &cl, err, sizeof(err)), BP_ENET);
    assert_null(cl);
    assert_non_null(strstr(err, "cannot connect"));
    struct bp_http_resp *r = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/config", free_port());
    assert_int_equal(bp_http_get(url, NULL, &r), BP_ENET);
    assert_int_equal(bp_client_open("ftp://127.0.0.1/", NULL, &cl, err, sizeof(err)), BP_EINVAL);
    /* wss:// to a port where nothing listens: refused like ws:// */
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d/", free_port());
    assert_int_equal(bp_client_open(url, NULL, &cl, err, sizeof(err)), BP_ENET);
    assert_non_null(strstr(err, "cannot connect"));
}

struct sendctx {
    int done, errors;
};

static void send_done(struct bp_conn *c, int err, const char *d, void *ud)
{
    struct sendctx *s = ud;
    s->done++;
    if (err)
        s->errors++;
}

static void test_killed_mid_history(void **state)
{
    struct srv s2 = {0};
    assert_int_equal(server_start(&s2, "none"), 0);
    struct bp_client *cl = NULL;
    assert_int_equal(bp_client_open(s2.ws, NULL, &cl, NULL, 0), 0);
    char chan[33];
    rand_chan(chan);
    assert_int_equal(bp_client_join(cl, chan, NULL, 0, NULL), 0);
    /* ~12 MB of history, pipelined */
    enum { N = 3000, SZ = 4000 };
    char *msg = malloc(SZ + 1);
    memset(msg, 'a', SZ);
    struct sendctx sc = {0};
    for (int i = 0; i < N; i++) {
        snprintf(msg, 16, "%08d", i);
        msg[8] = 'a';
        assert_int_equal(bp_conn_send(bp_client_conn(cl), chan, msg, SZ, send_done, &sc), 0);
    }
    free(msg);
    for (int i = 0; i < 3000 && sc.done < N; i++)
        assert_int_equal(bp_client_poll(cl, 10), 0);
    assert_int_equal(sc.done, N);
    assert_int_equal(sc.errors, 0);
    struct bp_client *reader = NULL;
    assert_int_equal(bp_client_open(s2.ws, NULL, &reader, NULL, 0), 0);
    assert_int_equal(bp_client_join(reader, chan, NULL, 0, NULL), 0);
    struct hist h = {.kill_srv = &s2};
    int r = bp_client_history(reader, chan, NULL, NULL, h_msg, &h);
    assert_int_equal(r, BP_ENET);
    assert_true(h.msgs >= 1 && h.msgs < N);
    assert_true(strlen(bp_client_error(reader)) > 0);
    /* later calls fail at once */
    assert_int_equal(bp_client_send(reader, chan, "x", 1), BP_ENET);
    assert_int_equal(bp_client_poll(cl, 500), BP_ENET);
    bp_client_free(reader);
    bp_client_free(cl);
    server_stop(&s2, SIGTERM);
}

/* A forked listener that reads the request and answers `answer`. With ws
 * set, it answers a correct 101 and then sends `answer` as a text frame. */
static pid_t fake_server(int *port, const char *answer, bool ws)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(fd, NULL, NULL);
        char req[4096];
        size_t got = 0;
        while (got < sizeof(req) - 1) {
            ssize_t k = read(c, req + got, sizeof(req) - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        if (ws) {
            const char *kh = strstr(req, "Sec-WebSocket-Key: ");
            char key[64] = "";
            if (kh)
                sscanf(kh + 19, "%60s", key);
            struct sha1_ctx h;
            uint8_t d[SHA1_DIGEST_SIZE];
            sha1_init(&h);
            sha1_update(&h, strlen(key), (const uint8_t *)key);
            sha1_update(&h, 36, (const uint8_t *)"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            sha1_digest(&h, sizeof(d), d);
            char acc[64];
            sodium_bin2base64(acc, sizeof(acc), d, sizeof(d), sodium_base64_VARIANT_ORIGINAL);
            char head[256];
            int n = snprintf(head, sizeof(head),
                             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
            if (write(c, head, (size_t)n) < 0)
                _exit(1);
            uint8_t fr[2] = {0x81, (uint8_t)strlen(answer)};
            if (write(c, fr, 2) < 0 || write(c, answer, strlen(answer)) < 0)
                _exit(1);
        } else if (write(c, answer, strlen(answer)) < 0) {
            _exit(1);
        }
        sleep(2); /* the client must fail on the content, not on EOF */
        _exit(0);
    }
    close(fd);
    return pid;
}

static void test_fake_servers(void **state)
{
    struct {
        const char *answer;
        bool ws;
    } cases[] = {
        {"SSH-2.0-OpenSSH_9.0\r\nthis is not HTTP at all\r\n\r\n", false},
        {"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n", false},
        {"this is not json", true},
        {"{\"an\":\"object\"}", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int port;
        pid_t pid = fake_server(&port, cases[i].answer, cases[i].ws);
        char url[96], err[256] = "";
        snprintf(url, sizeof(url), "ws://127.0.0.1:%d/cryptpad_websocket", port);
        struct bp_client *cl = NULL;
        struct bp_client_opts o = {.timeout_ms = 5000};
        int r = bp_client_open(url, &o, &cl, err, sizeof(err));
        if (r != BP_EPROTO)
            fprintf(stderr, "case %zu: %d %s\n", i, r, err);
        assert_int_equal(r, BP_EPROTO);
        assert_true(strlen(err) > 0);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    /* an HTTP client against junk */
    int port;
    pid_t pid = fake_server(&port, "NOT HTTP\r\n\r\n", false);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/config", port);
    struct bp_http_resp *r = NULL;
    assert_int_equal(bp_http_get(url, NULL, &r), BP_EPROTO);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    /* silence: a listener that never answers gives BP_ETIMEOUT */
    pid = fake_server(&port, "", false);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
    struct bp_client *cl = NULL;
    struct bp_client_opts o = {.timeout_ms = 500};
    assert_int_equal(bp_client_open(url, &o, &cl, NULL, 0), BP_ETIMEOUT);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_rpc_envelope),
        cmocka_unit_test(test_http_parser),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_two_clients),
        cmocka_unit_test(test_rpc),
        cmocka_unit_test(test_http_config),
        cmocka_unit_test(test_upload),
        cmocka_unit_test(test_not_running),
        cmocka_unit_test(test_killed_mid_history),
        cmocka_unit_test(test_fake_servers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
