/* Unit tests: src/server/auth.c and src/storage/block.c. The pure parts
 * (challenge text, token shape, ISO dates, block paths), then the HTTP
 * handlers driven in-process through auth_http() with a minimal struct
 * server on a temporary data root: the two stages of /api/auth, the block
 * GET and its MFA gate, and the expiry of challenges (Q12), which the
 * integration test cannot wait ten minutes for. */
#include "test.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "protocol/totp.h"
#include "server/auth.h"
#include "server/server.h"
#include "storage/block.h"
#include "storage/fsutil.h"

static char g_root[256];
static struct server g_srv;

static int setup(void **state)
{
    snprintf(g_root, sizeof g_root, "/tmp/bp-auth-test-XXXXXX");
    assert_non_null(mkdtemp(g_root));
    memset(&g_srv, 0, sizeof g_srv);
    snprintf(g_srv.cfg.data, sizeof g_srv.cfg.data, "%s", g_root);
    g_srv.cfg.otp_session_hours = 168;
    assert_int_equal(sodium_init() >= 0, 1);
    assert_int_equal(auth_init(&g_srv), 0);
    return 0;
}

static int teardown(void **state)
{
    auth_free(&g_srv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

struct resp {
    int status;
    char body[4096];
    char headers[1024];
    int fd;
    uint64_t len;
};

static bool do_http(const char *method, const char *path, const char *body, const char *authz, struct resp *out)
{
    struct http_header h[1] = {{"authorization", authz}};
    struct http_req req = {.method = method, .url = path, .path = path, .headers = h, .n_headers = authz ? 1 : 0,
                           .body = body ? body : "", .body_len = body ? strlen(body) : 0, .peer = "127.0.0.1"};
    struct http_resp r = {.status = 404, .content_type = "text/plain", .headers = BUF_INIT, .body = BUF_INIT,
                          .file_fd = -1};
    bool handled = auth_http(&g_srv, &req, &r);
    memset(out, 0, sizeof *out);
    out->status = r.status;
    snprintf(out->body, sizeof out->body, "%s", r.body.data ? r.body.data : "");
    snprintf(out->headers, sizeof out->headers, "%s", r.headers.data ? r.headers.data : "");
    out->fd = r.file_fd;
    out->len = r.file_len;
    buf_free(&r.body);
    buf_free(&r.headers);
    return handled;
}

static void post(const char *body, struct resp *out) { assert_true(do_http("POST", "/api/auth/", body, NULL, out)); }

struct keys {
    uint8_t pk[32], sk[64];
    char b64[45];   /* standard base64 */
    char safe[45];  /* '/' -> '-' */
};

static void keys_new(struct keys *k)
{
    do {
        crypto_sign_keypair(k->pk, k->sk);
        sodium_bin2base64(k->b64, sizeof k->b64, k->pk, 32, sodium_base64_VARIANT_ORIGINAL);
    } while (!strchr(k->b64, '/')); /* keys with a '/' exercise the URL-safe form */
    assert_true(block_safe_key(k->b64, 44, k->safe));
}

static void b64(const uint8_t *p, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
}

/* Runs both stages of a command whose stage-1 body is `params` (without the
 * braces), signed by k. Returns the stage-2 response in out; stage 1 must
 * succeed. stored gets the challenge text when not NULL. */
static void command(const struct keys *k, const char *params, struct resp *out)
{
    struct buf body = BUF_INIT;
    buf_appendf(&body, "{%s%s\"publicKey\":\"%s\",\"nonce\":\"bm9uY2Vub25jZW5vbmNlbm9uY2Vub25j\"}", params,
                *params ? "," : "", k->b64);
    struct resp r1;
    post(body.data, &r1);
    assert_int_equal(r1.status, 200);
    json_t *j = json_loads(r1.body, 0, NULL);
    assert_non_null(j);
    const char *txid = json_string_value(json_object_get(j, "txid"));
    const char *date = json_string_value(json_object_get(j, "date"));
    assert_non_null(txid);
    struct buf text = BUF_INIT;
    assert_int_equal(auth_challenge_text(body.data, body.len, txid, date, &text), 0);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)text.data, text.len, k->sk);
    char sigb[89];
    b64(sig, 64, sigb, sizeof sigb);
    struct buf b2 = BUF_INIT;
    buf_appendf(&b2, "{\"sig\":\"%s\",\"txid\":\"%s\"}", sigb, txid);
    post(b2.data, out);
    buf_free(&b2);
    buf_free(&text);
    buf_free(&body);
    json_decref(j);
}

/* WRITE_BLOCK content for k with these block bytes; bad_sig signs other bytes. */
static void write_block_params(const struct keys *k, const uint8_t *blk, size_t n, bool bad_sig, const char *extra,
                               struct buf *out)
{
    uint8_t h[64], sig[64];
    crypto_hash_sha512(h, blk, n);
    if (bad_sig)
        h[0] ^= 1;
    crypto_sign_detached(sig, NULL, h, 64, k->sk);
    char sigb[89];
    b64(sig, 64, sigb, sizeof sigb);
    char *cb = malloc(n / 3 * 4 + 8);
    b64(blk, n, cb, n / 3 * 4 + 8);
    buf_appendf(out, "\"command\":\"WRITE_BLOCK\",\"content\":{\"publicKey\":\"%s\",\"signature\":\"%s\",\"ciphertext\":\"%s\"%s}",
                k->b64, sigb, cb, extra ? extra : "");
    free(cb);
}

static void write_block(const struct keys *k, const uint8_t *blk, size_t n, struct resp *out)
{
    struct buf p = BUF_INIT;
    write_block_params(k, blk, n, false, NULL, &p);
    command(k, p.data, out);
    buf_free(&p);
}

static void block_url(const struct keys *k, char *out, size_t cap)
{
    snprintf(out, cap, "/block/%.2s/%s", k->safe, k->safe);
}

static size_t read_fd(struct resp *r, uint8_t *out, size_t cap)
{
    assert_true(r->fd >= 0);
    ssize_t n = read(r->fd, out, cap);
    close(r->fd);
    r->fd = -1;
    assert_true(n >= 0);
    return (size_t)n;
}

/* ---- pure -------------------------------------------------------------------- */

static void test_challenge_text(void **state)
{
    struct buf b = BUF_INIT;
    const char *body = "{\"command\":\"MFA_CHECK\",\"publicKey\":\"k\",\"nonce\":\"n\"}";
    assert_int_equal(auth_challenge_text(body, strlen(body), "T", "D", &b), 0);
    assert_string_equal(b.data,
                        "{\"command\":\"MFA_CHECK\",\"publicKey\":\"k\",\"nonce\":\"n\",\"txid\":\"T\",\"date\":\"D\"}");
    buf_reset(&b);
    assert_int_equal(auth_challenge_text("{\"a\":1} \r\n", 10, "T", "D", &b), 0);
    assert_string_equal(b.data, "{\"a\":1,\"txid\":\"T\",\"date\":\"D\"}");
    buf_reset(&b);
    assert_int_equal(auth_challenge_text("{ }", 3, "T", "D", &b), 0);
    assert_string_equal(b.data, "{ \"txid\":\"T\",\"date\":\"D\"}");
    buf_reset(&b);
    assert_int_equal(auth_challenge_text("[1,2]", 5, "T", "D", &b), BP_EPROTO);
    assert_int_equal(auth_challenge_text("", 0, "T", "D", &b), BP_EPROTO);
    assert_int_equal(auth_challenge_text("   ", 3, "T", "D", &b), BP_EPROTO);
    /* The result is what JSON.stringify({...body, txid, date}) gives. */
    buf_reset(&b);
    const char *u = "{\"reason\":\"caf\xc3\xa9 \\u2028\"}";
    assert_int_equal(auth_challenge_text(u, strlen(u), "T", "D", &b), 0);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "txid")), "T");
    json_decref(j);
    buf_free(&b);
}

static void test_token_shape(void **state)
{
    assert_true(auth_token_valid("abcdefghijklmnopqrstuvwxyzABCD+=", 32));
    assert_true(auth_token_valid("0123456789-0123456789-0123456789", 32));
    assert_false(auth_token_valid("abcdefghijklmnopqrstuvwxyzABCD+", 31));
    assert_false(auth_token_valid("abcdefghijklmnopqrstuvwxyzABCD+==", 33));
    assert_false(auth_token_valid("../../../../../../../etc/passwd0", 32));
    assert_false(auth_token_valid("abcdefghijklmnopqrstuvwxyzABCD/=", 32));
    assert_false(auth_token_valid("abcdefghijklmnopqrstuvwxyzABCD.=", 32));
    assert_false(auth_token_valid("abcdefghijklmnopqrstuvwxyzABC\0=", 32));
    for (int i = 0; i < 200; i++) {
        char t[33];
        auth_new_token(t);
        assert_int_equal(strlen(t), 32);
        assert_true(auth_token_valid(t, 32));
    }
}

static void test_iso_date(void **state)
{
    char d[32];
    auth_iso_date(0, d);
    assert_string_equal(d, "1970-01-01T00:00:00.000Z");
    auth_iso_date(1795401695816LL, d);
    assert_string_equal(d, "2026-11-23T02:41:35.816Z");
    auth_iso_date(951782400007LL, d); /* 2000-02-29 */
    assert_string_equal(d, "2000-02-29T00:00:00.007Z");
}

static void test_block_paths(void **state)
{
    char safe[45], p[FSU_PATH_MAX];
    const char *k = "ab/d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=";
    assert_int_equal(strlen(k), 44);
    assert_true(block_safe_key(k, 44, safe));
    assert_string_equal(safe, "ab-d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=");
    char back[45];
    block_unsafe_key(safe, back);
    assert_string_equal(back, k);
    assert_int_equal(block_path(p, sizeof p, "/r", safe, BLOCK_LIVE), 0);
    assert_string_equal(p, "/r/block/ab/ab-d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=");
    assert_int_equal(block_path(p, sizeof p, "/r", safe, BLOCK_PLACEHOLDER), 0);
    assert_string_equal(p, "/r/block/ab/ab-d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=.placeholder");
    assert_int_equal(block_path(p, sizeof p, "/r", safe, BLOCK_ARCHIVED), 0);
    assert_string_equal(p, "/r/data/archive/block/ab/ab-d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=");
    /* Only the URL-safe form is a path; other shapes are refused. */
    assert_int_equal(block_path(p, sizeof p, "/r", k, BLOCK_LIVE), BP_EBADID);
    assert_int_equal(block_path(p, sizeof p, "/r", "short", BLOCK_LIVE), BP_EBADID);
    assert_false(block_safe_key("../../../../../../../../../../../etc/passwd0", 44, safe));
    assert_false(block_safe_key(k, 43, safe));
    assert_false(block_safe_key("ab.d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=", 44, safe));
    assert_int_equal(block_path(p, 20, "/r", "ab-d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=", BLOCK_LIVE), BP_ETOOBIG);
}

static void test_block_store(void **state)
{
    const char *safe = "ab-d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=";
    struct buf b = BUF_INIT;
    assert_false(block_exists(g_root, safe));
    assert_int_equal(block_archive(g_root, safe, "X", 1), BP_ENOENT);
    assert_int_equal(block_write(g_root, safe, "one", 3), 0);
    assert_true(block_exists(g_root, safe));
    assert_int_equal(block_read_placeholder(g_root, safe, &b), BP_ENOENT);
    /* An overwrite archives the old block with PASSWORD_CHANGE. */
    assert_int_equal(block_write(g_root, safe, "two", 3), 0);
    char p[FSU_PATH_MAX];
    assert_int_equal(block_path(p, sizeof p, g_root, safe, BLOCK_ARCHIVED), 0);
    assert_int_equal(fsu_read(p, 100, &b), 0);
    assert_string_equal(b.data, "one");
    buf_reset(&b);
    assert_int_equal(block_read_placeholder(g_root, safe, &b), 0);
    assert_string_equal(b.data, "PASSWORD_CHANGE");
    buf_reset(&b);
    assert_int_equal(block_path(p, sizeof p, g_root, safe, BLOCK_LIVE), 0);
    assert_int_equal(fsu_read(p, 100, &b), 0);
    assert_string_equal(b.data, "two");
    buf_reset(&b);
    /* Archive, refuse a restore over a live block, restore. */
    assert_int_equal(block_restore(g_root, safe), BP_EEXIST);
    assert_int_equal(block_archive(g_root, safe, "GONE", 4), 0);
    assert_false(block_exists(g_root, safe));
    assert_int_equal(block_read_placeholder(g_root, safe, &b), 0);
    assert_string_equal(b.data, "GONE");
    buf_reset(&b);
    assert_int_equal(block_restore(g_root, safe), 0);
    assert_true(block_exists(g_root, safe));
    assert_int_equal(block_read_placeholder(g_root, safe, &b), BP_ENOENT);
    assert_int_equal(block_restore(g_root, safe), BP_EEXIST);
    assert_int_equal(block_archive(g_root, safe, NULL, 0), 0);
    assert_int_equal(block_read_placeholder(g_root, safe, &b), BP_ENOENT);
    assert_int_equal(block_restore(g_root, safe), 0);
    assert_int_equal(block_archive(g_root, safe, NULL, 0), 0);
    /* The admin entry points take either key form. */
    assert_int_equal(auth_block_restore(&g_srv, "ab/d+fghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ="), 0);
    assert_int_equal(auth_block_archive(&g_srv, safe, "ADMIN"), 0);
    assert_int_equal(auth_block_archive(&g_srv, safe, "ADMIN"), BP_ENOENT);
    assert_int_equal(auth_block_archive(&g_srv, "../x", "ADMIN"), BP_EBADID);
    buf_free(&b);
}

/* ---- /api/auth -------------------------------------------------------------------- */

static void test_stage1_errors(void **state)
{
    struct keys k;
    keys_new(&k);
    struct resp r;
    char body[512];
    post("{\"command\":\"NOPE\",\"publicKey\":\"x\"}", &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "{\"error\":\"invalid command\"}");
    post("{\"command\":\"MFA_CHECK\",\"publicKey\":\"short\"}", &r);
    assert_string_equal(r.body, "{\"error\":\"Invalid key\"}");
    post("{\"command\":\"MFA_CHECK\",\"publicKey\":44}", &r);
    assert_string_equal(r.body, "{\"error\":\"Invalid key\"}");
    snprintf(body, sizeof body, "{\"command\":\"WRITE_BLOCK\",\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"Internal server error 7692\"}");
    snprintf(body, sizeof body, "{\"command\":\"WRITE_BLOCK\",\"content\":null,\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"Internal server error 7692\"}");
    snprintf(body, sizeof body, "{\"command\":\"WRITE_BLOCK\",\"content\":\"x\",\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"INVALID_KEY\"}");
    /* A 44-char key that is not base64 of 32 bytes. */
    post("{\"command\":\"MFA_CHECK\",\"publicKey\":\"../../../../../../../../../../../../../../aa\"}", &r);
    assert_string_equal(r.body, "{\"error\":\"INVALID_KEY\"}");
    snprintf(body, sizeof body, "{\"command\":\"TOTP_SETUP\",\"code\":\"12345\",\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"E_INVALID\"}");
    snprintf(body, sizeof body, "{\"command\":\"TOTP_VALIDATE\",\"code\":\"123456\",\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"NO_MFA_CONFIGURED\"}");
    /* Neither txid nor command, or not an object. */
    post("{\"hello\":1}", &r);
    assert_string_equal(r.body, "{\"error\":\"invalid request\"}");
    post("[1,2,3]", &r);
    assert_string_equal(r.body, "{\"error\":\"invalid request\"}");
    post("not json", &r);
    assert_string_equal(r.body, "{\"error\":\"invalid request\"}");
    post("", &r);
    assert_string_equal(r.body, "{\"error\":\"invalid request\"}");
    post("{\"command\":\"MFA_CHECK\",\"command\":\"WRITE_BLOCK\"}", &r);
    assert_string_equal(r.body, "{\"error\":\"invalid request\"}");
    assert_int_equal(auth_pending(&g_srv), 0);
    /* Only POST to /api/auth[/] is handled. */
    assert_false(do_http("GET", "/api/auth", NULL, NULL, &r));
    assert_false(do_http("POST", "/api/authx", "{}", NULL, &r));
    assert_true(do_http("POST", "/api/auth", "{}", NULL, &r));
}

static void test_stage2_errors(void **state)
{
    struct resp r;
    post("{\"txid\":\"abc\",\"sig\":\"x\",\"extra\":1}", &r);
    assert_string_equal(r.body, "{\"error\":\"extraneous parameters\"}");
    post("{\"txid\":\"abc\",\"signature\":\"x\",\"mytxid\":1}", &r);
    assert_string_equal(r.body, "{\"error\":\"Invalid txid\"}");
    post("{\"txid\":\"abcdefghijklmnopqrstuvwxyzABCDEF\",\"sig\":\"x\"}", &r);
    assert_string_equal(r.body, "{\"error\":\"Missing signature\"}");
    char sig[89];
    memset(sig, 'A', 86);
    memcpy(sig + 86, "==", 3);
    char body[256];
    snprintf(body, sizeof body, "{\"txid\":\"abcdefghijklmnopqrstuvwxyzABCDEF\",\"sig\":\"%s\"}", sig);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"Unexpected response\"}");
    /* Q11: a txid shaped like a path is only "unknown". */
    snprintf(body, sizeof body, "{\"txid\":\"../../../../../../../etc/passwd0\",\"sig\":\"%s\"}", sig);
    post(body, &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "{\"error\":\"Unexpected response\"}");
}

static void test_write_and_get(void **state)
{
    struct keys k;
    keys_new(&k);
    uint8_t blk[200];
    randombytes_buf(blk, sizeof blk);
    blk[0] = 0;
    struct resp r;
    char url[128];
    block_url(&k, url, sizeof url);
    assert_true(do_http("GET", url, NULL, NULL, &r));
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"code\":404}");
    write_block(&k, blk, sizeof blk, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    assert_int_equal(auth_pending(&g_srv), 0);
    assert_true(do_http("GET", url, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, sizeof blk);
    assert_non_null(strstr(r.headers, "ETag: W/\""));
    assert_non_null(strstr(r.headers, "Last-Modified: "));
    assert_non_null(strstr(r.headers, "Cache-Control: no-cache"));
    uint8_t got[512];
    assert_int_equal(read_fd(&r, got, sizeof got), sizeof blk);
    assert_memory_equal(got, blk, sizeof blk);
    /* A badly signed block is refused and the old one stays. */
    struct buf p = BUF_INIT;
    uint8_t other[50] = {0};
    write_block_params(&k, other, sizeof other, true, NULL, &p);
    command(&k, p.data, &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "{\"error\":\"Execution error\",\"errorCode\":\"E_COULD_NOT_VERIFY\"}");
    assert_true(do_http("GET", url, NULL, NULL, &r));
    assert_int_equal(read_fd(&r, got, sizeof got), sizeof blk);
    assert_memory_equal(got, blk, sizeof blk);
    buf_free(&p);
    /* Too large a block. */
    size_t big = BLOCK_MAX_SIZE + 1;
    uint8_t *huge = calloc(1, big);
    write_block(&k, huge, big, &r);
    free(huge);
    assert_string_equal(r.body, "{\"error\":\"Execution error\",\"errorCode\":\"E_BLOCK_TOO_LARGE\"}");
    /* Other shapes of /block URLs. */
    assert_true(do_http("GET", "/block/placeholder.txt", NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "PLACEHOLDER\n");
    assert_true(do_http("GET", "/block/AA/short", NULL, NULL, &r));
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"error\":\"INVALID_ID\"}");
    char wrong[128];
    snprintf(wrong, sizeof wrong, "/block/zz/%s", k.safe);
    assert_true(do_http("GET", wrong, NULL, NULL, &r));
    assert_int_equal(r.status, 404);
    /* REMOVE_BLOCK with a reason; then the placeholder shows; again: ENOENT. */
    command(&k, "\"command\":\"REMOVE_BLOCK\",\"reason\":\"caf\xc3\xa9 \\\"x\\\"\"", &r);
    assert_int_equal(r.status, 200);
    assert_true(do_http("GET", url, NULL, NULL, &r));
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"reason\":\"caf\xc3\xa9 \\\"x\\\"\",\"code\":404}");
    command(&k, "\"command\":\"REMOVE_BLOCK\"", &r);
    assert_string_equal(r.body, "{\"error\":\"Execution error\",\"errorCode\":\"ENOENT\"}");
}

static void test_signature_and_replay(void **state)
{
    struct keys k, other;
    keys_new(&k);
    keys_new(&other);
    char body[256];
    snprintf(body, sizeof body, "{\"command\":\"MFA_CHECK\",\"publicKey\":\"%s\",\"nonce\":\"n\"}", k.b64);
    struct resp r1, r2;
    post(body, &r1);
    assert_int_equal(r1.status, 200);
    assert_int_equal(auth_pending(&g_srv), 1);
    json_t *j = json_loads(r1.body, 0, NULL);
    const char *txid = json_string_value(json_object_get(j, "txid"));
    const char *date = json_string_value(json_object_get(j, "date"));
    assert_int_equal(strlen(txid), 32);
    assert_int_equal(strlen(date), 24);
    struct buf text = BUF_INIT;
    auth_challenge_text(body, strlen(body), txid, date, &text);
    /* The stored challenge is exactly the text to sign. */
    char p[FSU_PATH_MAX];
    snprintf(p, sizeof p, "%s/data/challenges/%.2s/%s", g_root, txid, txid);
    struct buf stored = BUF_INIT;
    assert_int_equal(fsu_read(p, 1 << 16, &stored), 0);
    assert_int_equal(stored.len, text.len);
    assert_memory_equal(stored.data, text.data, text.len);
    /* Signed by the wrong key: refused, and the challenge is gone. */
    uint8_t sig[64];
    char sigb[89], b2[256];
    crypto_sign_detached(sig, NULL, (const uint8_t *)text.data, text.len, other.sk);
    b64(sig, 64, sigb, sizeof sigb);
    snprintf(b2, sizeof b2, "{\"sig\":\"%s\",\"txid\":\"%s\"}", sigb, txid);
    post(b2, &r2);
    assert_string_equal(r2.body, "{\"error\":\"Failed signature validation\"}");
    assert_false(fsu_exists(p));
    assert_int_equal(auth_pending(&g_srv), 0);
    /* The right signature now is too late. */
    crypto_sign_detached(sig, NULL, (const uint8_t *)text.data, text.len, k.sk);
    b64(sig, 64, sigb, sizeof sigb);
    snprintf(b2, sizeof b2, "{\"sig\":\"%s\",\"txid\":\"%s\"}", sigb, txid);
    post(b2, &r2);
    assert_string_equal(r2.body, "{\"error\":\"Unexpected response\"}");
    buf_free(&stored);
    buf_free(&text);
    json_decref(j);
}

static void test_challenge_expiry(void **state)
{
    struct keys k;
    keys_new(&k);
    char body[256];
    snprintf(body, sizeof body, "{\"command\":\"MFA_CHECK\",\"publicKey\":\"%s\",\"nonce\":\"n\"}", k.b64);
    struct resp r;
    char txids[3][33];
    for (int i = 0; i < 3; i++) {
        post(body, &r);
        assert_int_equal(r.status, 200);
        json_t *j = json_loads(r.body, 0, NULL);
        snprintf(txids[i], 33, "%s", json_string_value(json_object_get(j, "txid")));
        json_decref(j);
    }
    assert_int_equal(auth_pending(&g_srv), 3);
    long long now = server_now_ms();
    auth_expire(&g_srv, now + AUTH_CHALLENGE_TTL_MS - 60000);
    assert_int_equal(auth_pending(&g_srv), 3);
    auth_expire(&g_srv, now + AUTH_CHALLENGE_TTL_MS + 1000);
    assert_int_equal(auth_pending(&g_srv), 0);
    for (int i = 0; i < 3; i++) {
        char p[FSU_PATH_MAX];
        snprintf(p, sizeof p, "%s/data/challenges/%.2s/%s", g_root, txids[i], txids[i]);
        assert_false(fsu_exists(p));
    }
    /* What a previous run left: an old challenge is deleted at start, a
     * young one is kept and expires later. */
    post(body, &r);
    json_t *j = json_loads(r.body, 0, NULL);
    char young[33];
    snprintf(young, sizeof young, "%s", json_string_value(json_object_get(j, "txid")));
    json_decref(j);
    char oldp[FSU_PATH_MAX], youngp[FSU_PATH_MAX];
    snprintf(oldp, sizeof oldp, "%s/data/challenges/Ab/AbCdEfGhIjKlMnOpQrStUvWxYz012345", g_root);
    snprintf(youngp, sizeof youngp, "%s/data/challenges/%.2s/%s", g_root, young, young);
    assert_int_equal(fsu_write_atomic(oldp, "{}", 2, false), 0);
    struct timeval tv[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
    assert_int_equal(utimes(oldp, tv), 0);
    auth_free(&g_srv);
    assert_int_equal(auth_init(&g_srv), 0);
    assert_false(fsu_exists(oldp));
    assert_true(fsu_exists(youngp));
    assert_int_equal(auth_pending(&g_srv), 1);
    /* A stage 2 after expiry is refused even if the file were still there. */
    auth_expire(&g_srv, server_now_ms() + AUTH_CHALLENGE_TTL_MS);
    assert_false(fsu_exists(youngp));
}

/* The code for secret at the current time. */
static void totp_now(const uint8_t key[20], char out[7])
{
    long v = totp_hotp(key, 20, (uint64_t)(time(NULL) / TOTP_STEP), 6);
    snprintf(out, 7, "%06lu", (unsigned long)v % 1000000u);
}

static void test_totp_flow(void **state)
{
    struct keys k;
    keys_new(&k);
    uint8_t blk[100] = {0};
    struct resp r;
    char url[128], params[512], code[7], secret[40];
    block_url(&k, url, sizeof url);
    write_block(&k, blk, sizeof blk, &r);
    assert_int_equal(r.status, 200);
    uint8_t key[20];
    randombytes_buf(key, sizeof key);
    totp_base32_encode(key, 20, secret);
    totp_now(key, code);
    snprintf(params, sizeof params, "\"command\":\"TOTP_SETUP\",\"secret\":\"%s\",\"code\":\"%s\",\"contact\":\"secret:abcdefghijklmnopqrstuvwxyz012345\"",
             secret, code);
    command(&k, params, &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    char bearer[64];
    snprintf(bearer, sizeof bearer, "Bearer %s", json_string_value(json_object_get(j, "bearer")));
    json_decref(j);
    assert_int_equal(strlen(bearer), 7 + 32);
    /* The MFA file is the reference's format. */
    char p[FSU_PATH_MAX];
    snprintf(p, sizeof p, "%s/data/mfa/%.2s/%s.json", g_root, k.safe, k.safe);
    j = json_load_file(p, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "TOTP");
    assert_string_equal(json_string_value(json_object_get(j, "secret")), secret);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "creation"))), 24);
    json_decref(j);
    /* The gate. */
    assert_true(do_http("GET", url, NULL, NULL, &r));
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body, "{\"sso\":false,\"method\":\"TOTP\",\"code\":401}");
    assert_true(do_http("GET", url, NULL, bearer, &r));
    assert_int_equal(r.status, 200);
    close(r.fd);
    assert_true(do_http("GET", url, NULL, bearer + 7, &r)); /* a bare token, as the reference */
    assert_int_equal(r.status, 200);
    close(r.fd);
    const char *bad[] = {"Bearer ../../../../../../../../etc/passwd", "Bearer ", "Bearer x",
                         "Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                         "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_true(do_http("GET", url, NULL, bad[i], &r));
        assert_int_equal(r.status, 401);
    }
    /* MFA-protected: the plain commands are refused at stage 1. */
    char body[256];
    snprintf(body, sizeof body, "{\"command\":\"MFA_CHECK\",\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"NOT_ALLOWED\"}");
    snprintf(body, sizeof body, "{\"command\":\"REMOVE_BLOCK\",\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"NOT_ALLOWED\"}");
    /* A second setup: EEXISTS. A wrong code: INVALID_OTP. */
    snprintf(body, sizeof body, "{\"command\":\"TOTP_SETUP\",\"secret\":\"%s\",\"code\":\"%s\",\"publicKey\":\"%s\"}",
             secret, code, k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"EEXISTS\"}");
    char wrong[16];
    snprintf(wrong, sizeof wrong, "%06u", (unsigned)(atoi(code) + 500000) % 1000000u);
    snprintf(body, sizeof body, "{\"command\":\"TOTP_VALIDATE\",\"code\":\"%s\",\"publicKey\":\"%s\"}", wrong, k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"INVALID_OTP\"}");
    /* TOTP_VALIDATE gives a new bearer. */
    snprintf(params, sizeof params, "\"command\":\"TOTP_VALIDATE\",\"code\":\"%s\"", code);
    command(&k, params, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"bearer\":\""));
    /* An expired session is refused and deleted. */
    snprintf(p, sizeof p, "%s/data/sessions/%.2s/%s/%s", g_root, k.safe, k.safe, bearer + 7);
    assert_true(fsu_exists(p));
    const char *expired = "{\"mfa\":{\"type\":\"otp\",\"exp\":1000}}";
    assert_int_equal(fsu_write_atomic(p, expired, strlen(expired), false), 0);
    assert_true(do_http("GET", url, NULL, bearer, &r));
    assert_int_equal(r.status, 401);
    assert_false(fsu_exists(p));
    /* Revoke with the wrong recovery key, then the right one. */
    snprintf(body, sizeof body,
             "{\"command\":\"TOTP_REVOKE\",\"recoveryKey\":\"abcdefghijklmnopqrstuvwxyz012346\",\"publicKey\":\"%s\"}", k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"E_WRONG_RECOVERY_KEY\"}");
    command(&k, "\"command\":\"TOTP_REVOKE\",\"recoveryKey\":\"abcdefghijklmnopqrstuvwxyz012345\"", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"success\":true}");
    assert_true(do_http("GET", url, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    close(r.fd);
    snprintf(p, sizeof p, "%s/data/sessions/%.2s/%s", g_root, k.safe, k.safe);
    assert_false(fsu_exists(p));
}

static void test_otp_rate_limit(void **state)
{
    struct keys k;
    keys_new(&k);
    uint8_t blk[100] = {0}, key[20];
    struct resp r;
    char params[512], code[7], secret[40], body[256];
    write_block(&k, blk, sizeof blk, &r);
    randombytes_buf(key, sizeof key);
    totp_base32_encode(key, 20, secret);
    totp_now(key, code);
    snprintf(params, sizeof params, "\"command\":\"TOTP_SETUP\",\"secret\":\"%s\",\"code\":\"%s\"", secret, code);
    command(&k, params, &r);
    assert_int_equal(r.status, 200);
    char wrong[16];
    snprintf(wrong, sizeof wrong, "%06u", (unsigned)(atoi(code) + 500000) % 1000000u);
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof body, "{\"command\":\"TOTP_VALIDATE\",\"code\":\"%s\",\"publicKey\":\"%s\"}", wrong, k.b64);
        post(body, &r);
        assert_string_equal(r.body, "{\"error\":\"INVALID_OTP\"}");
    }
    /* Now even the right code is refused, for every command that takes one. */
    totp_now(key, code);
    snprintf(body, sizeof body, "{\"command\":\"TOTP_VALIDATE\",\"code\":\"%s\",\"publicKey\":\"%s\"}", code, k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"E_TOO_MANY_ATTEMPTS\"}");
    snprintf(body, sizeof body, "{\"command\":\"TOTP_REVOKE\",\"code\":\"%s\",\"publicKey\":\"%s\"}", code, k.b64);
    post(body, &r);
    assert_string_equal(r.body, "{\"error\":\"E_TOO_MANY_ATTEMPTS\"}");
    /* Another block is not affected. */
    struct keys k2;
    keys_new(&k2);
    write_block(&k2, blk, sizeof blk, &r);
    snprintf(params, sizeof params, "\"command\":\"TOTP_SETUP\",\"secret\":\"%s\",\"code\":\"%s\"", secret, code);
    command(&k2, params, &r);
    assert_int_equal(r.status, 200);
    snprintf(params, sizeof params, "\"command\":\"TOTP_VALIDATE\",\"code\":\"%s\"", code);
    command(&k2, params, &r);
    assert_int_equal(r.status, 200);
}

static void test_restricted_registration(void **state)
{
    g_srv.settings.restrict_registration = true;
    struct keys oldk, newk, third;
    keys_new(&oldk);
    keys_new(&newk);
    keys_new(&third);
    uint8_t blk[64] = {0};
    struct resp r;
    write_block(&oldk, blk, sizeof blk, &r);
    assert_string_equal(r.body, "{\"error\":\"Execution error\",\"errorCode\":\"E_RESTRICTED\"}");
    /* An existing account (written while open) proves itself. */
    g_srv.settings.restrict_registration = false;
    write_block(&oldk, blk, sizeof blk, &r);
    assert_int_equal(r.status, 200);
    g_srv.settings.restrict_registration = true;
    uint8_t sig[64];
    char sigb[89], proof[256], extra[400];
    crypto_sign_detached(sig, NULL, oldk.pk, 32, oldk.sk);
    b64(sig, 64, sigb, sizeof sigb);
    snprintf(proof, sizeof proof, "[\\\"%s\\\",\\\"%s\\\"]", oldk.b64, sigb);
    snprintf(extra, sizeof extra, ",\"registrationProof\":\"%s\"", proof);
    struct buf p = BUF_INIT;
    write_block_params(&newk, blk, sizeof blk, false, extra, &p);
    command(&newk, p.data, &r);
    assert_int_equal(r.status, 200);
    buf_reset(&p);
    /* A proof signed by another key is refused. */
    crypto_sign_detached(sig, NULL, oldk.pk, 32, third.sk);
    b64(sig, 64, sigb, sizeof sigb);
    snprintf(proof, sizeof proof, "[\\\"%s\\\",\\\"%s\\\"]", oldk.b64, sigb);
    snprintf(extra, sizeof extra, ",\"registrationProof\":\"%s\"", proof);
    write_block_params(&third, blk, sizeof blk, false, extra, &p);
    command(&third, p.data, &r);
    assert_string_equal(r.body, "{\"error\":\"Execution error\",\"errorCode\":\"E_RESTRICTED\"}");
    buf_reset(&p);
    /* An invitation: used once, then gone; the invited user is recorded. */
    char ip[FSU_PATH_MAX];
    snprintf(ip, sizeof ip, "%s/data/invitations/1a/1a2b3c4d5e", g_root);
    const char *invite = "{\"alias\":\"bob\",\"email\":\"\",\"createdBy\":\"adm\",\"time\":1}";
    assert_int_equal(fsu_write_atomic(ip, invite, strlen(invite), false), 0);
    char ud[200];
    snprintf(ud, sizeof ud, ",\"inviteToken\":\"1a2b3c4d5e\",\"userData\":[\"bob\",\"%s\"]", newk.b64);
    write_block_params(&third, blk, sizeof blk, false, ud, &p);
    command(&third, p.data, &r);
    assert_int_equal(r.status, 200);
    assert_false(fsu_exists(ip));
    char up[FSU_PATH_MAX];
    snprintf(up, sizeof up, "%s/data/users/%.2s/%s", g_root, newk.safe, newk.safe);
    json_t *u = json_load_file(up, 0, NULL);
    assert_non_null(u);
    assert_string_equal(json_string_value(json_object_get(u, "block")), third.b64);
    assert_string_equal(json_string_value(json_object_get(u, "type")), "invite:1a2b3c4d5e");
    assert_string_equal(json_string_value(json_object_get(u, "alias")), "bob");
    json_decref(u);
    /* The invitation cannot be used twice. */
    struct keys fourth;
    keys_new(&fourth);
    buf_reset(&p);
    write_block_params(&fourth, blk, sizeof blk, false, ud, &p);
    command(&fourth, p.data, &r);
    assert_string_equal(r.body, "{\"error\":\"Execution error\",\"errorCode\":\"E_RESTRICTED\"}");
    buf_free(&p);
    g_srv.settings.restrict_registration = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge_text),
        cmocka_unit_test(test_token_shape),
        cmocka_unit_test(test_iso_date),
        cmocka_unit_test(test_block_paths),
        cmocka_unit_test_setup_teardown(test_block_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage1_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage2_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totp_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restricted_registration, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
