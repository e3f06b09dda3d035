/* Unit tests: src/server/net.c.
 *
 * Each test runs net on a private uv loop bound to 127.0.0.1 port 0, plus a
 * client thread that speaks raw HTTP/WebSocket over blocking sockets with
 * hand-made masked frames. The client never calls cmocka (its longjmp must
 * stay on the main thread): it records the first failed check in struct res,
 * which the test asserts once the loop has ended. Server-side observations
 * (on_open/on_close counts and reasons...) are likewise asserted after uv_run(),
 * when net_shutdown()'s done() has run and every handle is closed, which also
 * checks that no handle leaks (uv_loop_close() == 0). */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <http_parser.h>
#include <uv.h>

#include "common/buf.h"
#include "common/err.h"
#include "server/net.h"
#include "server/net_internal.h"

#define MAX_OPEN 8
#define FLOOD_CHUNK (256 * 1024)

/* ---------------------------------------------------------------------- */
/* The server side: a small app on top of net, run on the loop thread.     */

struct srv;
struct res {
    char fail[256]; /* first failed client check, "" if none */
};
typedef void client_fn(struct srv *s, struct res *r);

struct srv {
    uv_loop_t loop;
    struct net *net;
    struct net_config cfg;
    uv_async_t wake;              /* rung by the client thread */
    uv_timer_t flood_timer;       /* "flood": sends FLOOD_CHUNK sbufs every ms */
    pthread_t thread;
    client_fn *client;
    struct res *res;
    int port;
    atomic_int client_done;       /* the client thread has finished */
    atomic_int want_shutdown;     /* the client asks for net_shutdown() now */
    bool shutdown_started, done_called, joined;
    bool raise_parser_limit;      /* lift http_parser's global head limit */
    /* observations */
    int opens, closes, messages, drains, https, saw_custom, last_binary;
    char reasons[16][64];         /* on_close reasons, in order */
    int n_reasons;
    char peer[64];                /* conn_peer() at the last on_open */
    struct conn *open[MAX_OPEN];  /* open conns, for "bcast:" */
    struct conn *flood_conn;
    struct sbuf *flood_payload;
    int flood_etoobig;            /* conn_send_sbuf() returned BP_ETOOBIG */
    size_t fill_pending;          /* conn_pending() right after "fill" */
};

static bool is(const char *data, size_t len, const char *s)
{
    return len == strlen(s) && !memcmp(data, s, len);
}

static int count_reason(const struct srv *s, const char *reason)
{
    int n = 0;
    for (int i = 0; i < s->n_reasons; i++)
        n += !strcmp(s->reasons[i], reason);
    return n;
}

static void on_flood(uv_timer_t *t)
{
    struct srv *s = t->data;
    for (int i = 0; i < 4 && s->flood_conn; i++) {
        int rc = conn_send_sbuf(s->flood_conn, s->flood_payload);
        if (rc != 0) {
            s->flood_etoobig += rc == BP_ETOOBIG;
            s->flood_conn = NULL;
            uv_timer_stop(t);
        }
    }
}

static void t_on_open(void *ud, struct conn *c)
{
    struct srv *s = ud;
    s->opens++;
    for (int i = 0; i < MAX_OPEN; i++)
        if (!s->open[i]) {
            s->open[i] = c;
            break;
        }
    snprintf(s->peer, sizeof s->peer, "%s", conn_peer(c));
}

static void t_on_close(void *ud, struct conn *c, const char *reason)
{
    struct srv *s = ud;
    s->closes++;
    if (s->n_reasons < 16)
        snprintf(s->reasons[s->n_reasons++], sizeof s->reasons[0], "%s", reason);
    for (int i = 0; i < MAX_OPEN; i++)
        if (s->open[i] == c)
            s->open[i] = NULL;
    if (c == s->flood_conn) {
        s->flood_conn = NULL;
        uv_timer_stop(&s->flood_timer);
    }
    /* After on_close a conn refuses everything. */
    if (conn_send(c, "x", 1) != BP_ECLOSED)
        s->closes += 1000;
}

/* Commands: flood, fill, close, stats, bcast:<text>; anything else is echoed
 * as "T:<text>" (conn_send) or "B:<bytes>" (conn_send_sbuf). */
static void t_on_message(void *ud, struct conn *c, const char *data, size_t len, int binary)
{
    struct srv *s = ud;
    s->messages++;
    s->last_binary = binary;
    if (is(data, len, "flood")) {
        s->flood_conn = c;
        uv_timer_start(&s->flood_timer, on_flood, 0, 1);
    } else if (is(data, len, "fill")) {
        char *chunk = malloc(65536);
        memset(chunk, 'f', 65536);
        for (int i = 0; i < 32; i++)
            conn_send(c, chunk, 65536);
        s->fill_pending = conn_pending(c);
        free(chunk);
    } else if (is(data, len, "close")) {
        conn_close(c, 4000, "bye");
        conn_close(c, 4001, "again"); /* idempotent */
    } else if (is(data, len, "stats")) {
        char b[64];
        int n = snprintf(b, sizeof b, "full=%d", count_reason(s, "SEND_BUFFER_FULL"));
        conn_send(c, b, (size_t)n);
    } else if (len > 6 && !memcmp(data, "bcast:", 6)) {
        struct sbuf *sb = sbuf_new(data + 6, len - 6);
        for (int i = 0; i < MAX_OPEN; i++)
            if (s->open[i])
                conn_send_sbuf(s->open[i], sb);
        sbuf_unref(sb);
    } else {
        struct buf b = BUF_INIT;
        buf_appends(&b, binary ? "B:" : "T:");
        buf_append(&b, data, len);
        if (binary) {
            struct sbuf *sb = sbuf_from_buf(&b);
            conn_send_sbuf(c, sb);
            sbuf_unref(sb);
        } else {
            conn_send(c, b.data, b.len);
        }
        buf_free(&b);
    }
}

static void t_on_drain(void *ud, struct conn *c)
{
    struct srv *s = ud;
    s->drains++;
    conn_send(c, "drained", 7);
}

static void t_on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    struct srv *s = ud;
    s->https++;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!strcmp(req->headers[i].name, "x-custom") && !strcmp(req->headers[i].value, "Yes"))
            s->saw_custom = 1;
    if (!strcmp(req->path, "/health")) {
        resp->status = 200;
        buf_appends(&resp->body, "ok\n");
        buf_appends(&resp->headers, "X-Test: 1\r\n");
    } else if (!strcmp(req->path, "/echo") && !strcmp(req->method, "POST")) {
        resp->status = 200;
        resp->content_type = "application/octet-stream";
        buf_append(&resp->body, req->body, req->body_len);
    }
}

static void join_and_close(struct srv *s)
{
    if (s->joined || !s->done_called || !atomic_load(&s->client_done))
        return;
    /* The client's last act is uv_async_send(): join before closing wake. */
    pthread_join(s->thread, NULL);
    s->joined = true;
    uv_close((uv_handle_t *)&s->wake, NULL);
    uv_close((uv_handle_t *)&s->flood_timer, NULL);
}

static void on_done(void *arg)
{
    struct srv *s = arg;
    s->done_called = true;
    join_and_close(s);
}

static void on_wake(uv_async_t *a)
{
    struct srv *s = a->data;
    if (!s->shutdown_started && (atomic_load(&s->want_shutdown) || atomic_load(&s->client_done))) {
        s->shutdown_started = true;
        net_shutdown(s->net, on_done, s);
    }
    join_and_close(s);
}

static void *client_main(void *arg)
{
    struct srv *s = arg;
    s->client(s, s->res);
    atomic_store(&s->client_done, 1);
    uv_async_send(&s->wake);
    return NULL;
}

static const struct net_callbacks callbacks_template = {
    .on_open = t_on_open,
    .on_message = t_on_message,
    .on_close = t_on_close,
    .on_drain = t_on_drain,
    .on_http = t_on_http,
};

static void srv_init(struct srv *s)
{
    memset(s, 0, sizeof *s);
    s->cfg = (struct net_config){
        .host = "127.0.0.1",
        .port = 0,
        .max_message = 1 << 20,
        .max_output = 8 << 20,
        .max_http_header = 8192,
        .max_http_body = 65536,
        .max_conns = 100,
    };
}

/* Runs client on its own thread against a fresh net until it returns, then
 * shuts net down and checks that everything was closed. */
static void srv_run(struct srv *s, client_fn *client, struct res *r)
{
    struct net_callbacks cb = callbacks_template;
    cb.ud = s;
    memset(r, 0, sizeof *r);
    s->client = client;
    s->res = r;
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(net_new(&s->net, &s->loop, &s->cfg, &cb), 0);
    if (s->raise_parser_limit) /* as if another net had set it: net's own count must hold */
        http_parser_set_max_header_size(1u << 20);
    assert_int_equal(net_listen(s->net), 0);
    s->port = net_port(s->net);
    assert_true(s->port > 0);
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    uv_timer_init(&s->loop, &s->flood_timer);
    s->flood_timer.data = s;
    char *big = malloc(FLOOD_CHUNK);
    memset(big, 'z', FLOOD_CHUNK);
    s->flood_payload = sbuf_new(big, FLOOD_CHUNK);
    free(big);
    assert_int_equal(pthread_create(&s->thread, NULL, client_main, s), 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    assert_true(s->joined);
    assert_true(s->done_called);
    assert_int_equal(net_conn_count(s->net), 0);
    net_free(s->net);
    sbuf_unref(s->flood_payload);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    if (r->fail[0])
        fail_msg("client: %s", r->fail);
}

/* ---------------------------------------------------------------------- */
/* The client side: blocking sockets, run on the client thread.            */

#define CK(cond)                                                                    \
    do {                                                                            \
        if (!(cond)) {                                                              \
            if (!r->fail[0])                                                        \
                snprintf(r->fail, sizeof r->fail, "%s:%d: %s", __func__, __LINE__, \
                         #cond);                                                    \
            goto out;                                                               \
        }                                                                           \
    } while (0)

static const char *SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";     /* RFC 6455 §1.3 */
/* Its answer, as printed in RFC 6455 §1.3 (and what sha1sum | base64 gives). */
static const char *SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

static void set_timeouts(int fd)
{
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int cli_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    set_timeouts(fd);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool cli_send(int fd, const void *p, size_t n)
{
    const char *q = p;
    while (n) {
        ssize_t k = send(fd, q, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        q += k;
        n -= (size_t)k;
    }
    return true;
}

static bool cli_sends(int fd, const char *s)
{
    return cli_send(fd, s, strlen(s));
}

static bool cli_recv_n(int fd, void *p, size_t n)
{
    char *q = p;
    while (n) {
        ssize_t k = recv(fd, q, n, 0);
        if (k <= 0)
            return false;
        q += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads a response head (byte by byte, so nothing after it is consumed) into
 * head; returns the status code or -1. */
static int cli_read_head(int fd, char *head, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        if (!cli_recv_n(fd, head + n, 1))
            return -1;
        n++;
        head[n] = '\0';
        if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)) {
            int status;
            return sscanf(head, "HTTP/1.1 %d ", &status) == 1 ? status : -1;
        }
    }
    return -1;
}

/* Copies the value of header name (any case) from head; false if absent. */
static bool head_get(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (!strncasecmp(h, name, nl) && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ')
                h++;
            size_t vl = strcspn(h, "\r");
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, h, vl);
            out[vl] = '\0';
            return true;
        }
    }
    return false;
}

/* Reads one HTTP response; body (NUL-terminated) must hold Content-Length. */
static int cli_http(int fd, bool head_only, char *body, size_t cap, char *head, size_t hcap)
{
    int status = cli_read_head(fd, head, hcap);
    char cl[32];
    if (status < 0 || !head_get(head, "Content-Length", cl, sizeof cl))
        return -1;
    size_t len = strtoul(cl, NULL, 10);
    body[0] = '\0';
    if (head_only)
        return status;
    if (len >= cap || !cli_recv_n(fd, body, len))
        return -1;
    body[len] = '\0';
    return status;
}

/* True if the server closes: EOF (or a reset) before the timeout. */
static bool cli_eof(int fd)
{
    char b[4096];
    for (;;) {
        ssize_t k = recv(fd, b, sizeof b, 0);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return true;
        if (k < 0)
            return false; /* timeout */
    }
}

/* Sends one masked client frame. */
static bool cli_frame(int fd, int fin, int opcode, const void *payload, size_t len)
{
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t *f = malloc(len + 14);
    size_t h = 0;
    f[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        f[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        f[h++] = 0x80 | 126;
        f[h++] = (uint8_t)(len >> 8);
        f[h++] = (uint8_t)len;
    } else {
        f[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        f[h + i] = ((const uint8_t *)payload)[i] ^ mask[i % 4];
    bool ok = cli_send(fd, f, h + len);
    free(f);
    return ok;
}

static bool cli_text(int fd, const char *s)
{
    return cli_frame(fd, 1, 1, s, strlen(s));
}

static bool cli_close_frame(int fd, uint16_t code, const char *reason)
{
    char p[128] = {(char)(code >> 8), (char)(code & 0xff)};
    size_t rl = strlen(reason);
    memcpy(p + 2, reason, rl);
    return cli_frame(fd, 1, 8, p, 2 + rl);
}

struct frame {
    int fin, opcode;
    size_t hdr_len;  /* bytes of header on the wire: 2, 4 or 10 */
    size_t len;
    char *data;      /* malloc'd, NUL-terminated */
};

/* Reads one server frame, which must be unmasked. */
static bool cli_recv_frame(int fd, struct frame *f)
{
    uint8_t h[10];
    memset(f, 0, sizeof *f);
    if (!cli_recv_n(fd, h, 2) || (h[1] & 0x80))
        return false;
    f->fin = h[0] >> 7;
    f->opcode = h[0] & 0x0f;
    f->len = h[1] & 0x7f;
    f->hdr_len = 2;
    if (f->len == 126) {
        if (!cli_recv_n(fd, h + 2, 2))
            return false;
        f->len = (size_t)h[2] << 8 | h[3];
        f->hdr_len = 4;
    } else if (f->len == 127) {
        if (!cli_recv_n(fd, h + 2, 8))
            return false;
        f->len = 0;
        for (int i = 2; i < 10; i++)
            f->len = f->len << 8 | h[i];
        f->hdr_len = 10;
    }
    if (f->len > (64u << 20))
        return false;
    f->data = malloc(f->len + 1);
    if (!cli_recv_n(fd, f->data, f->len)) {
        free(f->data);
        f->data = NULL;
        return false;
    }
    f->data[f->len] = '\0';
    return true;
}

/* Receives a text frame and compares it with want. */
static bool cli_expect_text(int fd, const char *want)
{
    struct frame f;
    if (!cli_recv_frame(fd, &f))
        return false;
    bool ok = f.opcode == 1 && f.fin && f.len == strlen(want) && !memcmp(f.data, want, f.len);
    free(f.data);
    return ok;
}

/* Receives a close frame and returns its code (0 without one, -1 if not a
 * close frame); its reason is copied to reason if given. */
static int cli_expect_close(int fd, char *reason, size_t cap)
{
    struct frame f;
    if (!cli_recv_frame(fd, &f))
        return -1;
    int code = -1;
    if (f.opcode == 8) {
        code = f.len >= 2 ? ((uint8_t)f.data[0] << 8 | (uint8_t)f.data[1]) : 0;
        if (reason)
            snprintf(reason, cap, "%.*s", f.len >= 2 ? (int)f.len - 2 : 0, f.data + 2);
    }
    free(f.data);
    return code;
}

static char *upgrade_request(const char *path, const char *key, const char *extra)
{
    static _Thread_local char req[1024];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
             path, key, extra);
    return req;
}

/* Connects and upgrades; returns the socket or -1. */
static int cli_ws(int port)
{
    char head[2048];
    int fd = cli_connect(port);
    if (fd < 0)
        return -1;
    if (!cli_sends(fd, upgrade_request("/cryptpad_websocket", SAMPLE_KEY, "")) ||
        cli_read_head(fd, head, sizeof head) != 101) {
        close(fd);
        return -1;
    }
    return fd;
}

static void cli_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void ask_shutdown(struct srv *s)
{
    atomic_store(&s->want_shutdown, 1);
    uv_async_send(&s->wake);
}

/* ---------------------------------------------------------------------- */
/* Pure helpers                                                            */

static void test_frame_header(void **state)
{
    uint8_t h[NET_WS_HDR_MAX];
    assert_int_equal(net__ws_frame_header(h, 1, 0), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 0);
    assert_int_equal(net__ws_frame_header(h, 1, 125), 2);
    assert_int_equal(h[1], 125);
    assert_int_equal(net__ws_frame_header(h, 1, 126), 4);
    assert_memory_equal(h, "\x81\x7e\x00\x7e", 4);
    assert_int_equal(net__ws_frame_header(h, 1, 65535), 4);
    assert_memory_equal(h, "\x81\x7e\xff\xff", 4);
    assert_int_equal(net__ws_frame_header(h, 1, 65536), 10);
    assert_memory_equal(h, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    assert_int_equal(net__ws_frame_header(h, 8, 0x0102030405060708ull), 10);
    assert_memory_equal(h, "\x88\x7f\x01\x02\x03\x04\x05\x06\x07\x08", 10);
}

static void test_accept_key(void **state)
{
    char out[NET_WS_ACCEPT_LEN];
    assert_int_equal(net__ws_accept(SAMPLE_KEY, strlen(SAMPLE_KEY), out), 0);
    assert_string_equal(out, SAMPLE_ACCEPT);
    assert_int_equal(net__ws_accept(" dGhlIHNhbXBsZSBub25jZQ== ", 26, out), 0);
    assert_string_equal(out, SAMPLE_ACCEPT);
    /* 15 and 17 bytes, bad characters, empty. */
    assert_int_equal(net__ws_accept("AAAAAAAAAAAAAAAAAAAA", 20, out), BP_EPROTO);
    assert_string_equal(out, "");
    assert_int_equal(net__ws_accept("AAAAAAAAAAAAAAAAAAAAAAA=", 24, out), BP_EPROTO);
    assert_int_equal(net__ws_accept("dGhlIHNhbXBsZSBub25jZQ!=", 24, out), BP_EPROTO);
    assert_int_equal(net__ws_accept("", 0, out), BP_EPROTO);
}

/* ---------------------------------------------------------------------- */
/* Handshake                                                               */

static void cl_handshake(struct srv *s, struct res *r)
{
    char head[2048], v[128];
    int fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_sends(fd, upgrade_request("/cryptpad_websocket", SAMPLE_KEY,
                                     "Sec-WebSocket-Protocol: foo, bar\r\n"
                                     "Sec-WebSocket-Extensions: permessage-deflate\r\n")));
    CK(cli_read_head(fd, head, sizeof head) == 101);
    CK(head_get(head, "Sec-WebSocket-Accept", v, sizeof v) && !strcmp(v, SAMPLE_ACCEPT));
    CK(head_get(head, "Upgrade", v, sizeof v) && !strcasecmp(v, "websocket"));
    CK(head_get(head, "Sec-WebSocket-Protocol", v, sizeof v) && !strcmp(v, "foo"));
    CK(!head_get(head, "Sec-WebSocket-Extensions", v, sizeof v));
    close(fd);

    /* Any path; header names and tokens in any case; Connection as a list. */
    fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_sends(fd, "GET /anything?x=1 HTTP/1.1\r\nhost: x\r\nUPGRADE: WebSocket\r\n"
                     "connection: keep-alive, Upgrade\r\nsec-websocket-key: " "dGhlIHNhbXBsZSBub25jZQ=="
                     "\r\nsec-websocket-version: 13\r\n\r\n"));
    CK(cli_read_head(fd, head, sizeof head) == 101);
    CK(head_get(head, "Sec-WebSocket-Accept", v, sizeof v) && !strcmp(v, SAMPLE_ACCEPT));
    CK(!head_get(head, "Sec-WebSocket-Protocol", v, sizeof v));
out:
    if (fd >= 0)
        close(fd);
}

static void test_handshake(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_handshake, &r);
    assert_int_equal(s.opens, 2);
    assert_int_equal(s.closes, 2);
    assert_string_equal(s.peer, "127.0.0.1");
}

static void cl_bad_upgrade(struct srv *s, struct res *r)
{
    static const char *bad[] = {
        /* no key */
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",
        /* version 8 */
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        /* a key of 15 bytes */
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n\r\n",
        /* no upgrade token in Connection */
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        /* POST */
        "POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        /* a protocol that is not a token (it would be echoed) */
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: a b\r\n\r\n",
    };
    char head[2048];
    int fd = -1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = cli_connect(s->port);
        CK(fd >= 0);
        CK(cli_sends(fd, bad[i]));
        CK(cli_read_head(fd, head, sizeof head) == 400);
        CK(strstr(head, "Connection: close\r\n"));
        CK(cli_eof(fd));
        close(fd);
        fd = -1;
    }
out:
    if (fd >= 0)
        close(fd);
}

static void test_bad_upgrade(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_bad_upgrade, &r);
    assert_int_equal(s.opens, 0);
    assert_int_equal(s.https, 0);
}

/* ---------------------------------------------------------------------- */
/* Messages                                                                */

static void cl_echo(struct srv *s, struct res *r)
{
    char head[2048];
    struct frame f = {0};
    char *big = NULL;
    /* A frame sent in the same packet as the upgrade belongs to the WebSocket. */
    int fd = cli_connect(s->port);
    CK(fd >= 0);
    struct buf b = BUF_INIT;
    buf_appends(&b, upgrade_request("/cryptpad_websocket", SAMPLE_KEY, ""));
    CK(cli_send(fd, b.data, b.len));
    buf_free(&b);
    CK(cli_text(fd, "early"));
    CK(cli_read_head(fd, head, sizeof head) == 101);
    CK(cli_expect_text(fd, "T:early"));

    CK(cli_text(fd, "hello"));
    CK(cli_expect_text(fd, "T:hello"));

    /* A ping is answered with a pong carrying its payload, not delivered. */
    CK(cli_frame(fd, 1, 9, "p1", 2));
    CK(cli_recv_frame(fd, &f));
    CK(f.opcode == 10 && f.len == 2 && !memcmp(f.data, "p1", 2));
    free(f.data);
    f.data = NULL;

    /* Replies of 125, 126, 65535, 65536 and 70000 bytes use the 7, 16 and
     * 64-bit length forms. */
    static const size_t sizes[] = {125, 126, 65535, 65536, 70000};
    static const size_t hdrs[] = {2, 4, 4, 10, 10};
    big = malloc(70000);
    memset(big, 'a', 70000);
    for (int i = 0; i < 5; i++) {
        CK(cli_frame(fd, 1, 1, big, sizes[i] - 2));
        CK(cli_recv_frame(fd, &f));
        CK(f.opcode == 1 && f.fin && f.len == sizes[i] && f.hdr_len == hdrs[i]);
        CK(!memcmp(f.data, "T:aaaa", 6));
        free(f.data);
        f.data = NULL;
    }
out:
    free(f.data);
    free(big);
    if (fd >= 0)
        close(fd);
}

static void test_echo(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_echo, &r);
    assert_int_equal(s.opens, 1);
    assert_int_equal(s.messages, 7); /* early, hello, 5 sizes; not the ping */
    assert_int_equal(s.closes, 1);
}

static void cl_binary(struct srv *s, struct res *r)
{
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    CK(cli_frame(fd, 1, 2, "[2,\"PING\"]", 10));
    CK(cli_expect_text(fd, "B:[2,\"PING\"]"));
out:
    if (fd >= 0)
        close(fd);
}

static void test_binary(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_binary, &r);
    assert_int_equal(s.messages, 1);
    assert_int_equal(s.last_binary, 1);
}

static void cl_fragmented(struct srv *s, struct res *r)
{
    struct frame f = {0};
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    /* "hel" + ping + "l" + "o": one message; the ping in between is allowed. */
    CK(cli_frame(fd, 0, 1, "hel", 3));
    CK(cli_frame(fd, 1, 9, "x", 1));
    CK(cli_frame(fd, 0, 0, "l", 1));
    CK(cli_frame(fd, 1, 0, "o", 1));
    int got_pong = 0, got_text = 0;
    for (int i = 0; i < 2; i++) {
        CK(cli_recv_frame(fd, &f));
        got_pong += f.opcode == 10 && f.len == 1 && f.data[0] == 'x';
        got_text += f.opcode == 1 && !strcmp(f.data, "T:hello");
        free(f.data);
        f.data = NULL;
    }
    CK(got_pong == 1 && got_text == 1);
    /* A UTF-8 sequence split across two fragments is valid. */
    CK(cli_frame(fd, 0, 1, "\xc3", 1));
    CK(cli_frame(fd, 1, 0, "\xa9", 1));
    CK(cli_expect_text(fd, "T:\xc3\xa9"));
out:
    free(f.data);
    if (fd >= 0)
        close(fd);
}

static void test_fragmented(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_fragmented, &r);
    assert_int_equal(s.messages, 2);
}

static void cl_broadcast(struct srv *s, struct res *r)
{
    int a = cli_ws(s->port), b = cli_ws(s->port);
    CK(a >= 0 && b >= 0);
    CK(cli_text(a, "bcast:hi all"));
    CK(cli_expect_text(a, "hi all"));
    CK(cli_expect_text(b, "hi all"));
out:
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
}

static void test_broadcast_sbuf(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_broadcast, &r);
    assert_int_equal(s.opens, 2);
}

/* ---------------------------------------------------------------------- */
/* Errors and closing                                                      */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cl_too_big(struct srv *s, struct res *r)
{
    char *big = calloc(1, 2000);
    memset(big, 'a', 2000);
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    CK(cli_frame(fd, 1, 1, big, 2000));
    CK(cli_expect_close(fd, NULL, 0) == 1009);
    /* Failing the connection: EOF follows at once (half-close), without
     * waiting for our answer or for the 2 s timer. */
    double t0 = now_s();
    CK(cli_eof(fd));
    CK(now_s() - t0 < 1.0);
    close(fd);
    /* The limit applies to the whole message, not to each fragment. */
    fd = cli_ws(s->port);
    CK(fd >= 0);
    CK(cli_frame(fd, 0, 1, big, 600));
    CK(cli_frame(fd, 1, 0, big, 600));
    CK(cli_expect_close(fd, NULL, 0) == 1009);
    CK(cli_eof(fd));
out:
    free(big);
    if (fd >= 0)
        close(fd);
}

static void test_too_big(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    s.cfg.max_message = 1000;
    srv_run(&s, cl_too_big, &r);
    assert_int_equal(s.messages, 0);
    assert_int_equal(count_reason(&s, "SOCKET_ERROR"), 2);
}

static void cl_bad_utf8(struct srv *s, struct res *r)
{
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    CK(cli_frame(fd, 1, 1, "ok\xc3\x28", 4));
    CK(cli_expect_close(fd, NULL, 0) == 1007);
    CK(cli_eof(fd));
out:
    if (fd >= 0)
        close(fd);
}

static void test_bad_utf8(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_bad_utf8, &r);
    assert_int_equal(s.messages, 0);
    assert_int_equal(count_reason(&s, "SOCKET_ERROR"), 1);
}

static void cl_protocol_errors(struct srv *s, struct res *r)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x81\x02hi", 4},                                  /* unmasked */
        {"\x89\xfe\x00\x7e\x01\x02\x03\x04", 8},            /* ping of 126 bytes */
        {"\x80\x81\x01\x02\x03\x04\x41", 7},                /* continuation first */
        {"\x83\x81\x01\x02\x03\x04\x41", 7},                /* reserved opcode 3 */
        {"\xc1\x81\x01\x02\x03\x04\x41", 7},                /* RSV1 without extension */
        {"\x81\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10},   /* 64-bit length, top bit set */
    };
    int fd = -1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = cli_ws(s->port);
        CK(fd >= 0);
        CK(cli_send(fd, bad[i].bytes, bad[i].len));
        CK(cli_expect_close(fd, NULL, 0) == 1002);
        CK(cli_eof(fd));
        close(fd);
        fd = -1;
    }
out:
    if (fd >= 0)
        close(fd);
}

static void test_protocol_errors(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_protocol_errors, &r);
    assert_int_equal(s.messages, 0);
    assert_int_equal(count_reason(&s, "SOCKET_ERROR"), 6);
}

static void cl_client_close(struct srv *s, struct res *r)
{
    char reason[128];
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    /* A message after the close frame must not be delivered. */
    CK(cli_close_frame(fd, 1000, "bye") && cli_text(fd, "late"));
    CK(cli_expect_close(fd, reason, sizeof reason) == 1000);
    CK(!strcmp(reason, "bye"));
    CK(cli_eof(fd));
out:
    if (fd >= 0)
        close(fd);
}

static void test_client_close(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_client_close, &r);
    assert_int_equal(s.opens, 1);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.messages, 0);
    assert_string_equal(s.reasons[0], "SOCKET_CLOSED");
}

static void cl_server_close(struct srv *s, struct res *r)
{
    char reason[128];
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    CK(cli_text(fd, "close"));
    CK(cli_expect_close(fd, reason, sizeof reason) == 4000);
    CK(!strcmp(reason, "bye"));
    CK(cli_text(fd, "ignored")); /* the server is closing: not delivered */
    double t0 = now_s();
    CK(cli_close_frame(fd, 4000, ""));
    CK(cli_eof(fd));
    CK(now_s() - t0 < 1.0); /* closed on the answer, not by the 2 s timer */
out:
    if (fd >= 0)
        close(fd);
}

static void test_server_close(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_server_close, &r);
    assert_int_equal(s.messages, 1);
    assert_int_equal(s.closes, 1);
    assert_string_equal(s.reasons[0], "bye");
}

static void cl_close_timeout(struct srv *s, struct res *r)
{
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    CK(cli_text(fd, "close"));
    CK(cli_expect_close(fd, NULL, 0) == 4000);
    /* Never answer: the server gives up after its timeout. */
    double t0 = now_s();
    CK(cli_eof(fd));
    CK(now_s() - t0 > 1.0 && now_s() - t0 < 4.0);
out:
    if (fd >= 0)
        close(fd);
}

static void test_close_timeout(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_close_timeout, &r);
    assert_int_equal(s.closes, 1);
    assert_string_equal(s.reasons[0], "bye");
}

static void cl_shutdown(struct srv *s, struct res *r)
{
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    ask_shutdown(s);
    CK(cli_expect_close(fd, NULL, 0) == 1001);
    CK(cli_close_frame(fd, 1001, ""));
    CK(cli_eof(fd));
out:
    if (fd >= 0)
        close(fd);
}

static void test_shutdown(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_shutdown, &r);
    assert_int_equal(s.closes, 1);
    assert_string_equal(s.reasons[0], "SERVER_SHUTDOWN");
}

/* ---------------------------------------------------------------------- */
/* Output back-pressure                                                    */

static void cl_send_buffer_full(struct srv *s, struct res *r)
{
    int b = -1;
    int a = cli_ws(s->port);
    CK(a >= 0);
    int rcv = 64 * 1024; /* keep the kernel from absorbing too much */
    setsockopt(a, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    CK(cli_text(a, "flood")); /* and never read */
    b = cli_ws(s->port);
    CK(b >= 0);
    bool dropped = false;
    for (int i = 0; i < 100 && !dropped; i++) {
        CK(cli_text(b, "stats"));
        struct frame f;
        CK(cli_recv_frame(b, &f));
        dropped = !strcmp(f.data, "full=1");
        free(f.data);
        if (!dropped)
            cli_sleep_ms(50);
    }
    CK(dropped);
    /* The loop still serves b. */
    CK(cli_text(b, "still there"));
    CK(cli_expect_text(b, "T:still there"));
out:
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
}

static void test_send_buffer_full(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    s.cfg.max_output = 2 << 20;
    srv_run(&s, cl_send_buffer_full, &r);
    assert_int_equal(s.flood_etoobig, 1);
    assert_int_equal(count_reason(&s, "SEND_BUFFER_FULL"), 1);
    assert_int_equal(s.opens, 2);
    assert_int_equal(s.closes, 2);
}

static void cl_drain(struct srv *s, struct res *r)
{
    struct frame f = {0};
    int fd = cli_ws(s->port);
    CK(fd >= 0);
    CK(cli_text(fd, "fill"));
    cli_sleep_ms(100); /* let the output pile up */
    for (int i = 0; i < 32; i++) {
        CK(cli_recv_frame(fd, &f));
        CK(f.opcode == 1 && f.len == 65536 && f.data[0] == 'f');
        free(f.data);
        f.data = NULL;
    }
    CK(cli_expect_text(fd, "drained"));
out:
    free(f.data);
    if (fd >= 0)
        close(fd);
}

static void test_drain(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_drain, &r);
    assert_true(s.fill_pending >= 32 * (65536 + 10));
    assert_int_equal(s.drains, 1);
}

/* ---------------------------------------------------------------------- */
/* Connections                                                             */

static void cl_max_conns(struct srv *s, struct res *r)
{
    int b = -1;
    int a = cli_ws(s->port);
    CK(a >= 0);
    b = cli_connect(s->port);
    CK(b >= 0);
    CK(cli_eof(b)); /* refused: accepted and closed at once */
    CK(cli_text(a, "hi"));
    CK(cli_expect_text(a, "T:hi"));
out:
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
}

static void test_max_conns(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    s.cfg.max_conns = 1;
    srv_run(&s, cl_max_conns, &r);
    assert_int_equal(s.opens, 1);
}

/* ---------------------------------------------------------------------- */
/* Plain HTTP                                                              */

static void cl_http(struct srv *s, struct res *r)
{
    char head[2048], body[256], v[64];
    int fd = cli_connect(s->port);
    CK(fd >= 0);
    /* Two pipelined requests in one packet, on one keep-alive connection. */
    CK(cli_sends(fd, "GET /health HTTP/1.1\r\nHost: x\r\nX-Custom: Yes\r\n\r\n"
                     "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 200);
    CK(!strcmp(body, "ok\n"));
    const char *want = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n";
    CK(!strncmp(head, want, strlen(want)));
    CK(head_get(head, "X-Test", v, sizeof v) && !strcmp(v, "1"));
    CK(head_get(head, "Connection", v, sizeof v) && !strcmp(v, "keep-alive"));
    CK(cli_http(fd, true, body, sizeof body, head, sizeof head) == 200);
    CK(head_get(head, "Content-Length", v, sizeof v) && !strcmp(v, "3"));

    CK(cli_sends(fd, "GET /nope HTTP/1.1\r\n\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 404);

    CK(cli_sends(fd, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"));
    cli_sleep_ms(20);
    CK(cli_sends(fd, "cde"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 200);
    CK(!strcmp(body, "abcde"));

    CK(cli_sends(fd, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nxyz\r\n2\r\n12\r\n0\r\n\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 200);
    CK(!strcmp(body, "xyz12"));

    CK(cli_sends(fd, "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 200);
    CK(head_get(head, "Connection", v, sizeof v) && !strcmp(v, "close"));
    CK(cli_eof(fd));
out:
    if (fd >= 0)
        close(fd);
}

static void test_http(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_http, &r);
    assert_int_equal(s.https, 6);
    assert_int_equal(s.saw_custom, 1);
    assert_int_equal(s.opens, 0);
}

static void cl_http_limits(struct srv *s, struct res *r)
{
    char head[2048], body[256];
    int fd = -1;
    struct buf b = BUF_INIT;

    /* A head over max_http_header (1024): 431, then close. */
    buf_appends(&b, "GET /health HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 4000; i++)
        buf_appendc(&b, 'x');
    buf_appends(&b, "\r\n\r\n");
    fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_send(fd, b.data, b.len));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 431);
    CK(cli_eof(fd));
    close(fd);

    /* Many small headers count as much as a big one. */
    buf_reset(&b);
    buf_appends(&b, "GET /health HTTP/1.1\r\n");
    for (int i = 0; i < 200; i++)
        buf_appends(&b, "A: b\r\n");
    buf_appends(&b, "\r\n");
    fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_send(fd, b.data, b.len));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 431);
    CK(cli_eof(fd));
    close(fd);

    /* A body over max_http_body (100): 413, declared or chunked. */
    fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_sends(fd, "POST /echo HTTP/1.1\r\nContent-Length: 500\r\n\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 413);
    CK(cli_eof(fd));
    close(fd);
    fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_sends(fd, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
                     "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 413);
    CK(cli_eof(fd));
    close(fd);

    /* Malformed: 400, then close. */
    fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_sends(fd, "GET / HTTP/1.1\r\nBad Header\r\n\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 400);
    CK(cli_eof(fd));
    close(fd);
    fd = cli_connect(s->port);
    CK(fd >= 0);
    static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    CK(cli_send(fd, tls_hello, sizeof tls_hello - 1));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 400);
    CK(cli_eof(fd));
    close(fd);

    /* Within the limits. */
    fd = cli_connect(s->port);
    CK(fd >= 0);
    CK(cli_sends(fd, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
                     "0123456789012345678901234567890123456789012345678901234567890123456789"
                     "012345678901234567890123456789"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 200);
    CK(strlen(body) == 100);
out:
    buf_free(&b);
    if (fd >= 0)
        close(fd);
}

static void test_http_limits(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    s.cfg.max_http_header = 1024;
    s.cfg.max_http_body = 100;
    srv_run(&s, cl_http_limits, &r);
    assert_int_equal(s.https, 1);

    srv_init(&s);
    s.cfg.max_http_header = 1024;
    s.cfg.max_http_body = 100;
    s.raise_parser_limit = true;
    srv_run(&s, cl_http_limits, &r);
    assert_int_equal(s.https, 1);
}

static void cl_ipv6(struct srv *s, struct res *r)
{
    char head[1024], body[64];
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    CK(fd >= 0);
    set_timeouts(fd);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)s->port)};
    a.sin6_addr = in6addr_loopback;
    CK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CK(cli_sends(fd, "GET /health HTTP/1.1\r\n\r\n"));
    CK(cli_http(fd, false, body, sizeof body, head, sizeof head) == 200);
out:
    if (fd >= 0)
        close(fd);
}

static void test_ipv6(void **state)
{
    /* Skip where the host has no IPv6 loopback. */
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    a.sin6_addr = in6addr_loopback;
    bool have = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof a) == 0;
    if (probe >= 0)
        close(probe);
    if (!have)
        skip();
    struct srv s;
    struct res r;
    srv_init(&s);
    s.cfg.host = "::1";
    srv_run(&s, cl_ipv6, &r);
    assert_int_equal(s.https, 1);
}

/* ---------------------------------------------------------------------- */
/* The socket-less input path used by fuzz/fuzz_ws.c                       */

static void on_done_flag(void *arg)
{
    *(int *)arg = 1;
}

static void test_unconnected_input(void **state)
{
    struct srv s;
    srv_init(&s);
    struct net_callbacks cb = callbacks_template;
    cb.ud = &s;
    assert_int_equal(uv_loop_init(&s.loop), 0);
    assert_int_equal(net_new(&s.net, &s.loop, &s.cfg, &cb), 0);
    struct conn *c = net__conn_new_unconnected(s.net);
    assert_int_equal(net_conn_count(s.net), 1);

    /* Handshake then "hel"+"lo" (masked with zeros), fed one byte at a time. */
    struct buf in = BUF_INIT;
    buf_appends(&in, upgrade_request("/", SAMPLE_KEY, ""));
    buf_append(&in, "\x01\x83\x00\x00\x00\x00hel\x80\x82\x00\x00\x00\x00lo", 17);
    for (size_t i = 0; i < in.len; i++)
        net__conn_input(c, in.data + i, 1);
    buf_free(&in);
    assert_int_equal(s.opens, 1);
    assert_int_equal(s.messages, 1);
    assert_true(conn_pending(c) > 0); /* the 101 and "T:hello" */

    /* The write fails (no socket): the conn closes through the usual path. */
    uv_run(&s.loop, UV_RUN_DEFAULT);
    assert_int_equal(s.closes, 1);
    assert_string_equal(s.reasons[0], "SOCKET_ERROR");
    int done = 0;
    net_shutdown(s.net, on_done_flag, &done);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    assert_int_equal(done, 1);
    net_free(s.net);
    assert_int_equal(uv_loop_close(&s.loop), 0);
}

static void test_listen_error(void **state)
{
    struct srv s;
    srv_init(&s);
    struct net_callbacks cb = callbacks_template;
    cb.ud = &s;
    assert_int_equal(uv_loop_init(&s.loop), 0);
    s.cfg.host = "not an address";
    struct net *n;
    assert_int_equal(net_new(&n, &s.loop, &s.cfg, &cb), 0);
    assert_int_equal(net_listen(n), BP_ECONFIG);
    net_free(n); /* without net_shutdown(): freed once its handles close */
    uv_run(&s.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&s.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_header),
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_bad_upgrade),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_fragmented),
        cmocka_unit_test(test_broadcast_sbuf),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_client_close),
        cmocka_unit_test(test_server_close),
        cmocka_unit_test(test_close_timeout),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_send_buffer_full),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_max_conns),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_http_limits),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_unconnected_input),
        cmocka_unit_test(test_listen_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
