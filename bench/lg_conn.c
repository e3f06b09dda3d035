/* lg_conn.c: Netflux client connections over libuv + wslay (see lg_conn.h). */
#include "lg_conn.h"

#include <ctype.h>
#include <nettle/sha1.h>
#include <sodium.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

#define HANDSHAKE_MAX 16384
#define MAX_RECV_MSG ((uint64_t)64 << 20)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* One read buffer for every connection: reads are consumed synchronously by
 * wslay inside the read callback, and there is only one thread. */
static char read_buf[256 * 1024];

const char *lg_strerror(int err)
{
    switch (err) {
    case 0: return "closed by the load generator";
    case LG_EHANDSHAKE: return "WebSocket handshake failed";
    case LG_EWS: return "WebSocket framing error";
    case LG_ECLOSEFRAME: return "server sent a WebSocket close frame";
    case LG_EPROTO: return "unexpected Netflux reply";
    default: return uv_strerror(err);
    }
}

static void on_closed(uv_handle_t *h);
static void flush(struct conn *c);
static void pump(struct conn *c);

struct conn *conn_new(struct lg *lg, const struct conn_ops *ops, uint32_t idx)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->lg = lg;
    c->ops = ops;
    c->idx = idx;
    c->reading = true;
    return c;
}

void conn_close(struct conn *c, int err)
{
    if (c->state == CS_CLOSING)
        return;
    if (c->state != CS_OPEN && err != 0)
        c->lg->failed++;
    c->state = CS_CLOSING;
    c->err = err;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct lg *lg = c->lg;
    if (c->prev)
        c->prev->next = c->next;
    else
        lg->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    lg->live--;
    c->ops->on_close(c);
    if (c->ws)
        wslay_event_context_free(c->ws);
    buf_free(&c->hs);
    buf_free(&c->out);
    buf_free(&c->busy);
    free(c->ring);
    free(c);
}

void lg_close_all_conns(struct lg *lg)
{
    for (struct conn *c = lg->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c, 0);
    }
}

/* ---- wslay callbacks ---- */

/* wslay_event_recv() checks every byte of a text message against a UTF-8
 * state machine, which costs more than everything else the generator does
 * per delivered message put together. The generator is not a conformance
 * test, so unless --check-utf8 is given, the byte stream is followed frame by
 * frame on its way into wslay and the opcode of each text frame is rewritten
 * to binary (wslay then skips the check; handle_message() treats both alike).
 * Server frames are unmasked: a header is 2 bytes, plus 2 or 8 of extended
 * length, plus 4 if masked anyway. Headers may be split across reads. */
static void relabel_text_frames(struct conn *c, uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (c->rx_payload_left) {
            uint64_t skip = n - i < c->rx_payload_left ? n - i : c->rx_payload_left;
            i += (size_t)skip;
            c->rx_payload_left -= skip;
            continue;
        }
        if (c->rx_hdr_len == 0 && (p[i] & 0x0f) == WSLAY_TEXT_FRAME)
            p[i] = (uint8_t)((p[i] & 0xf0) | WSLAY_BINARY_FRAME);
        c->rx_hdr[c->rx_hdr_len++] = p[i++];
        if (c->rx_hdr_len < 2)
            continue;
        unsigned l7 = c->rx_hdr[1] & 0x7f;
        unsigned need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((c->rx_hdr[1] & 0x80) ? 4 : 0);
        if (c->rx_hdr_len < need)
            continue;
        uint64_t len = l7;
        if (l7 >= 126) {
            len = 0;
            for (unsigned k = 2; k < (l7 == 126 ? 4u : 10u); k++)
                len = (len << 8) | c->rx_hdr[k];
        }
        c->rx_payload_left = len;
        c->rx_hdr_len = 0;
    }
}

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    struct conn *c = ud;
    if (!c->in_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    if (!c->lg->o.check_utf8)
        relabel_text_frames(c, buf, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

/* Everything wslay produces is appended to c->out; flush() hands it to the
 * kernel in one call once wslay_event_send() has returned. */
static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    struct conn *c = ud;
    buf_append(&c->out, data, len);
    return (ssize_t)len;
}

/* RFC 6455 wants unpredictable masks against proxy cache poisoning; on a
 * loopback benchmark a fast PRNG is enough. */
static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    struct conn *c = ud;
    while (len) {
        uint64_t r = rng_next(&c->lg->rng);
        size_t n = len < 8 ? len : 8;
        memcpy(buf, &r, n);
        buf += n;
        len -= n;
    }
    return 0;
}

static void handle_message(struct conn *c, const char *p, size_t n)
{
    struct lg *lg = c->lg;
    struct nf_frame f;
    lg->ws_msgs_in++;
    lg->ws_bytes_in += n;
    if (nf_scan(p, n, &f) != 0 || f.n < 2) {
        lg->bad_frames++;
        return;
    }
    bool event = nf_uint(&f, 0) == 0;
    if (event && f.n >= 4 && nf_strlen_is(&f, 1, 0)) {
        if (nf_streq(&f, 2, "IDENT")) {
            if (c->state == CS_WAIT_IDENT && f.el[3].type == NF_STR && f.el[3].len < sizeof(c->id)) {
                memcpy(c->id, f.el[3].p, f.el[3].len);
                c->id[f.el[3].len] = '\0';
                c->state = CS_OPEN;
                c->t_ident = c->now;
                c->ops->on_ident(c);
            }
            return;
        }
        if (nf_streq(&f, 2, "PING")) {
            lg->server_pings++;
            if (c->reading && conn_sendf(c, "[0,\"\",\"PONG\",%.*s]", (int)f.el[3].len, f.el[3].p) == 0)
                lg->pongs++;
            return;
        }
    }
    if (event && f.n >= 4 && nf_streq(&f, 2, "JOIN") && f.el[1].type == NF_STR) {
        if (f.el[1].len == 16) {
            memcpy(c->hk, f.el[1].p, 16);
            c->hk[16] = '\0';
        } else if (c->joining && !c->joined && f.el[1].len == strlen(c->id) &&
                   memcmp(f.el[1].p, c->id, f.el[1].len) == 0) {
            c->joined = true;
            c->t_joined = c->now;
            c->ops->on_joined(c);
            return;
        }
    }
    c->ops->on_frame(c, &f);
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    struct conn *c = ud;
    if (c->state == CS_CLOSING)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
        handle_message(c, (const char *)arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv,
    .send_callback = ws_send,
    .genmask_callback = ws_genmask,
    .on_msg_recv_callback = ws_on_msg,
};

/* ---- output ---- */

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = false;
    c->busy.len = 0;
    if (status < 0) {
        if (c->state != CS_CLOSING)
            conn_close(c, status);
        return;
    }
    flush(c);
}

static void flush(struct conn *c)
{
    if (c->writing || !c->out.len || c->state == CS_CLOSING)
        return;
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)c->out.len) {
        c->out.len = 0;
        return;
    }
    if (r < 0 && r != UV_EAGAIN) {
        conn_close(c, r);
        return;
    }
    if (r < 0)
        r = 0;
    struct buf tmp = c->busy;
    c->busy = c->out;
    c->out = tmp;
    c->out.len = 0;
    b = uv_buf_init(c->busy.data + r, (unsigned)(c->busy.len - (size_t)r));
    c->wreq.data = c;
    r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        conn_close(c, r);
        return;
    }
    c->writing = true;
}

static void pump(struct conn *c)
{
    if (c->state == CS_CLOSING || !c->ws)
        return;
    if (wslay_event_want_write(c->ws) && wslay_event_send(c->ws) != 0) {
        conn_close(c, LG_EWS);
        return;
    }
    flush(c);
}

int conn_send(struct conn *c, const char *p, size_t n)
{
    if (!c->ws || c->state == CS_CLOSING)
        return -1;
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)p, n};
    if (wslay_event_queue_msg(c->ws, &m) != 0)
        return -1;
    c->lg->ws_msgs_out++;
    c->lg->ws_bytes_out += n;
    if (!c->in) /* inside wslay_event_recv() the caller pumps afterwards */
        pump(c);
    return 0;
}

int conn_sendf(struct conn *c, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    return conn_send(c, tmp, (size_t)n);
}

void conn_join(struct conn *c, const char *chan)
{
    snprintf(c->chan, sizeof(c->chan), "%s", chan);
    c->join_seq = ++c->seq;
    c->joining = true;
    c->joined = false;
    c->t_join_sent = uv_hrtime();
    conn_sendf(c, "[%llu,\"JOIN\",\"%s\"]", (unsigned long long)c->join_seq, c->chan);
}

void conn_stop_reading(struct conn *c)
{
    if (c->reading && c->state != CS_CLOSING)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

size_t conn_out_pending(const struct conn *c)
{
    return c->out.len + c->busy.len + (c->ws ? wslay_event_get_queued_msg_length(c->ws) : 0);
}

/* ---- handshake ---- */

static void expected_accept(const char *key, char out[64])
{
    struct sha1_ctx h;
    uint8_t d[SHA1_DIGEST_SIZE];
    sha1_init(&h);
    sha1_update(&h, strlen(key), (const uint8_t *)key);
    sha1_update(&h, strlen(WS_GUID), (const uint8_t *)WS_GUID);
    sha1_digest(&h, sizeof(d), d);
    sodium_bin2base64(out, 64, d, sizeof(d), sodium_base64_VARIANT_ORIGINAL);
}

/* Checks the response head hs[0..head_len): status 101 and the accept key. */
static bool handshake_ok(struct conn *c, size_t head_len)
{
    const char *h = c->hs.data;
    if (head_len < 12 || (strncmp(h, "HTTP/1.1 101", 12) != 0 && strncmp(h, "HTTP/1.0 101", 12) != 0))
        return false;
    char want[64];
    expected_accept(c->ws_key, want);
    static const char name[] = "sec-websocket-accept:";
    for (const char *line = strstr(h, "\r\n"); line && line < h + head_len; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, sizeof(name) - 1) != 0)
            continue;
        l += sizeof(name) - 1;
        while (*l == ' ' || *l == '\t')
            l++;
        size_t n = strcspn(l, " \t\r\n");
        return n == strlen(want) && memcmp(l, want, n) == 0;
    }
    return false;
}

static void feed_ws(struct conn *c, const char *p, size_t n)
{
    c->in = (const uint8_t *)p;
    c->in_len = n;
    int r = wslay_event_recv(c->ws);
    c->in = NULL;
    c->in_len = 0;
    if (c->state == CS_CLOSING)
        return;
    if (r != 0) {
        conn_close(c, LG_EWS);
        return;
    }
    pump(c);
    if (c->state != CS_CLOSING && wslay_event_get_close_received(c->ws)) {
        c->lg->closed_by_server++;
        conn_close(c, LG_ECLOSEFRAME);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    *b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (c->state == CS_CLOSING)
        return;
    if (nread < 0) {
        if (c->state == CS_OPEN)
            c->lg->closed_by_server++;
        conn_close(c, (int)nread);
        return;
    }
    if (nread == 0)
        return;
    c->now = uv_hrtime();
    const char *p = b->base;
    size_t n = (size_t)nread;
    if (c->state == CS_HANDSHAKE) {
        size_t old = c->hs.len;
        buf_append(&c->hs, p, n);
        char *end = strstr(c->hs.data, "\r\n\r\n");
        if (!end) {
            if (c->hs.len > HANDSHAKE_MAX)
                conn_close(c, LG_EHANDSHAKE);
            return;
        }
        size_t head = (size_t)(end - c->hs.data) + 4;
        if (!handshake_ok(c, head)) {
            conn_close(c, LG_EHANDSHAKE);
            return;
        }
        if (wslay_event_context_client_init(&c->ws, &ws_callbacks, c) != 0) {
            c->ws = NULL;
            conn_close(c, LG_EWS);
            return;
        }
        wslay_event_config_set_max_recv_msg_length(c->ws, MAX_RECV_MSG);
        c->state = CS_WAIT_IDENT;
        size_t used = head - old; /* bytes of this read that belonged to the head */
        p += used;
        n -= used;
        buf_free(&c->hs);
    }
    if (n)
        feed_ws(c, p, n);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (c->state == CS_CLOSING)
        return;
    if (status < 0) {
        conn_close(c, status);
        return;
    }
    struct lg *lg = c->lg;
    lg->opened++;
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        c->lport = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        conn_close(c, r);
        return;
    }
    uint8_t key[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t v = rng_next(&lg->rng);
        memcpy(key + i, &v, 8);
    }
    sodium_bin2base64(c->ws_key, sizeof(c->ws_key), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
    buf_appendf(&c->out,
                "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                lg->o.path, lg->o.hostport, c->ws_key);
    c->state = CS_HANDSHAKE;
    flush(c);
}

void conn_connect(struct conn *c)
{
    struct lg *lg = c->lg;
    if (uv_tcp_init(lg->loop, &c->tcp) != 0)
        abort(); /* cannot fail: the socket is created lazily by connect */
    c->tcp.data = c;
    c->next = lg->conns;
    if (lg->conns)
        lg->conns->prev = c;
    lg->conns = c;
    lg->live++;
    c->state = CS_CONNECTING;
    c->t_start = uv_hrtime();
    c->creq.data = c;
    int r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&lg->o.addr, on_connect);
    if (r < 0)
        conn_close(c, r);
}
