/* nfc.c: the asynchronous client connection (bp_conn_*, blindpad/client.h):
 * WebSocket client (wslay's client side over a libuv TCP stream), Netflux
 * (NETFLUX.md §1-2), the history keeper's GET_HISTORY (§3.3) and RPC
 * (SERVER-API.md §1), plus the pure frame parsers of cnet.h.
 *
 * Life cycle: RESOLVE/CONNECT -> HANDSHAKE (GET with Upgrade; the 101 and
 * its Sec-WebSocket-Accept are checked) -> IDENT (frames before IDENT are
 * ignored, as netflux-websocket does) -> PROBE (JOIN of the 34-zero
 * ephemeral channel: the 16-char member is the history keeper; then LEAVE)
 * -> OPEN -> CLOSED. events.on_open reports the end of the first phases,
 * events.on_close the loss of an open connection.
 *
 * Requests ("ops") wait in one list: replies are matched by Netflux seq
 * (ACK/JACK/ERROR) and, for the history keeper's direct messages, by txid
 * (history messages, end marker, errors, RPC replies). Metadata objects have
 * no txid: they go to the oldest history request for that channel.
 *
 * Timing: one repeating timer per connection (CONN_TICK_MS) checks request
 * deadlines (so timeouts are accurate to a tick), sends [seq,"PING"] after
 * 15 s without one acknowledged, and drops the connection after 60 s without
 * any frame from the server (netflux-websocket's rules, NETFLUX.md §1.4).
 *
 * Freeing: libuv closes handles asynchronously and callbacks may call
 * bp_conn_free(); the struct is released only when both handles are closed
 * and no callback of ours is on the stack (c->depth == 0). */
#include "client/cnet.h"

#include <nettle/sha1.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/utf8.h"
#include "protocol/rawjson.h"

#define CONN_TICK_MS 100
#define PING_EVERY_MS 15000
#define SILENCE_MAX_MS 60000
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HK_PROBE_CHAN "0000000000000000000000000000000000"
#define HANDSHAKE_MAX 16384
#define MEMBERS_MAX 100000

/* ---- pure parsers ------------------------------------------------------- */

void nfc_frame_free(struct nfc_frame *f)
{
    json_decref(f->root);
    memset(f, 0, sizeof(*f));
}

static const char *str_at(json_t *a, size_t i)
{
    json_t *v = json_array_get(a, i);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int nfc_parse(const char *p, size_t n, struct nfc_frame *f)
{
    memset(f, 0, sizeof(*f));
    json_t *a = rawjson_load_frame(p, n);
    if (!json_is_array(a) || json_array_size(a) < 2) {
        json_decref(a);
        return BP_EPROTO;
    }
    f->root = a;
    size_t len = json_array_size(a);
    json_t *e0 = json_array_get(a, 0);
    if (json_is_integer(e0) && json_integer_value(e0) == 0) {
        /* event: [0, sender, TYPE, target, ...] */
        f->sender = str_at(a, 1);
        f->type = str_at(a, 2);
        f->target = str_at(a, 3);
        f->kind = NFC_OTHER;
        if (!f->type || !f->sender)
            return 0;
        if (!strcmp(f->type, "IDENT") && f->target)
            f->kind = NFC_IDENT;
        else if (!strcmp(f->type, "PING")) {
            f->kind = NFC_PING;
            f->extra = json_array_get(a, 3);
        } else if (!strcmp(f->type, "JOIN") && f->target)
            f->kind = NFC_JOIN;
        else if (!strcmp(f->type, "LEAVE") && f->target)
            f->kind = NFC_LEAVE;
        else if (!strcmp(f->type, "MSG") && f->target && len >= 5) {
            f->kind = NFC_MSG;
            f->content = json_array_get(a, 4);
            f->extra = json_array_get(a, 5);
        }
        return 0;
    }
    /* reply: [seq, TYPE, ...] */
    f->type = str_at(a, 1);
    if (!f->type) {
        f->kind = NFC_OTHER;
        return 0;
    }
    f->kind = NFC_REPLY;
    if (json_is_integer(e0) && json_integer_value(e0) > 0)
        f->seq = (uint64_t)json_integer_value(e0);
    if (!strcmp(f->type, "JACK"))
        f->target = str_at(a, 2);
    else if (!strcmp(f->type, "ERROR"))
        f->code = str_at(a, 2);
    return 0;
}

void nfc_hk_free(struct nfc_hk *h)
{
    json_decref(h->root);
    memset(h, 0, sizeof(*h));
}

int nfc_hk_parse(const char *p, size_t n, struct nfc_hk *h)
{
    memset(h, 0, sizeof(*h));
    json_t *v = rawjson_load_frame(p, n);
    if (!v)
        v = rawjson_load(p, n); /* objects: rawjson_load_frame wants an array */
    if (!v)
        return BP_EPROTO;
    h->root = v;
    h->kind = NFC_HK_OTHER;
    if (json_is_array(v)) {
        h->txid = str_at(v, 0);
        if (h->txid) {
            h->kind = NFC_HK_ARRAY;
            h->channel = str_at(v, 3);
        }
        return 0;
    }
    if (!json_is_object(v))
        return 0;
    json_t *t = json_object_get(v, "txid");
    h->txid = json_is_string(t) ? json_string_value(t) : NULL;
    json_t *c = json_object_get(v, "channel");
    h->channel = json_is_string(c) ? json_string_value(c) : NULL;
    json_t *e = json_object_get(v, "error");
    json_t *s = json_object_get(v, "state");
    if (e) {
        h->kind = NFC_HK_ERROR;
        h->error = json_is_string(e) ? json_string_value(e) : NULL;
    } else if (json_is_integer(s) && json_integer_value(s) == 1 && h->channel) {
        h->kind = NFC_HK_END;
    } else if (h->channel && !s) {
        h->kind = NFC_HK_META;
    }
    return 0;
}

static void content_of(json_t *v, const char **p, size_t *len, bool *is_str, char **dumped)
{
    *dumped = NULL;
    if (json_is_string(v)) {
        *p = json_string_value(v);
        *len = json_string_length(v);
        *is_str = true;
    } else {
        *dumped = jsonw_dump(v, len);
        *p = *dumped;
        *is_str = false;
    }
}

int nfc_hist_msg(json_t *arr, struct bp_hist_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (!json_is_array(arr) || json_array_size(arr) < 5)
        return BP_EPROTO;
    const char *type = str_at(arr, 2);
    const char *chan = str_at(arr, 3);
    json_t *sender = json_array_get(arr, 1);
    json_t *content = json_array_get(arr, 4);
    if (!type || strcmp(type, "MSG") != 0 || !chan || !json_is_string(content) ||
        !(json_is_string(sender) || json_is_null(sender)))
        return BP_EPROTO;
    m->sender = json_is_string(sender) ? json_string_value(sender) : "";
    m->channel = chan;
    m->content = json_string_value(content);
    m->content_len = json_string_length(content);
    m->content_is_string = true;
    json_t *t = json_array_get(arr, 5);
    if (json_is_integer(t))
        m->time = (int64_t)json_integer_value(t);
    else if (json_is_real(t))
        m->time = (int64_t)json_real_value(t);
    return 0;
}

/* ---- connection --------------------------------------------------------- */

enum cstate { CS_CONNECT, CS_HANDSHAKE, CS_IDENT, CS_PROBE, CS_OPEN, CS_CLOSED };
enum op_kind { OP_JOIN, OP_LEAVE, OP_MSG, OP_HIST, OP_RPC };

struct op {
    struct op *next;
    enum op_kind kind;
    bool internal;          /* the HK probe (no user callback) */
    uint64_t seq;           /* Netflux request awaiting ACK/JACK/ERROR (0: none) */
    bool acked;
    char txid[40];          /* HK requests */
    char *chan;
    uint64_t deadline;      /* uv_now() ms */
    void *ud;
    bp_conn_join_cb join_cb;
    bp_conn_done_cb done_cb;
    bp_conn_rpc_cb rpc_cb;
    struct bp_history_cbs hcbs;
    char **members;
    size_t n_members, cap_members;
    /* RPC */
    bool is_signed, retried;
    int phase;              /* 0: the request itself is out; 1: a COOKIE is out first */
    uint8_t pk[32];
    uint8_t *sk;            /* sodium_malloc'd copy, freed at completion */
    char *cmd, *arg;
};

struct cookie {
    struct cookie *next;
    uint8_t pk[32];
    char *value;
};

struct bp_conn {
    uv_loop_t *loop;
    struct cnet_tcp t;
    uv_timer_t timer;
    uv_write_t wreq;
    bool timer_closed, tcp_closed, freed, open_reported;
    int depth;
    enum cstate state;
    struct cnet_url url;
    struct bp_conn_events ev;
    void *ud;
    unsigned timeout_ms;
    bool no_probe;
    uint64_t open_deadline;
    /* WebSocket */
    wslay_event_context_ptr ws;
    struct cnet_hresp hs;
    char ws_key[32];
    const uint8_t *in;
    size_t in_len;
    struct buf out, busy;
    bool writing;
    char rbuf[65536];
    /* Netflux */
    char id[CNET_ID_MAX + 1];
    char hk[CNET_ID_MAX + 1];
    uint64_t seq;
    struct op *ops;
    uint64_t last_rx, last_ping;
    uint64_t ping_seq;
    struct cookie *cookies;
    unsigned cookie_retries;
    char err[512];
};

static void conn_fail(struct bp_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pump(struct bp_conn *c);

const char *bp_conn_errmsg(const struct bp_conn *c) { return c->err; }
const char *bp_conn_id(const struct bp_conn *c) { return c->id; }
const char *bp_conn_hk(const struct bp_conn *c) { return c->hk; }
unsigned bp_conn_cookie_retries(const struct bp_conn *c) { return c->cookie_retries; }

static void maybe_release(struct bp_conn *c)
{
    if (!c->freed || c->depth || !c->timer_closed || !c->tcp_closed)
        return;
    if (c->ws)
        wslay_event_context_free(c->ws);
    cnet_hresp_free(&c->hs);
    buf_free(&c->out);
    buf_free(&c->busy);
    for (struct cookie *k = c->cookies, *n; k; k = n) {
        n = k->next;
        free(k->value);
        free(k);
    }
    free(c);
}

static void op_free(struct op *o)
{
    for (size_t i = 0; i < o->n_members; i++)
        free(o->members[i]);
    free(o->members);
    free(o->chan);
    free(o->cmd);
    free(o->arg);
    if (o->sk)
        sodium_free(o->sk);
    free(o);
}

static void op_unlink(struct bp_conn *c, struct op *o)
{
    for (struct op **pp = &c->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            return;
        }
}

static void probe_done(struct bp_conn *c, int err, const char *detail);

/* Completes o with err: unlinks it, calls its callback once, frees it. */
static void op_finish(struct bp_conn *c, struct op *o, int err, const char *detail,
                      const char *reply)
{
    op_unlink(c, o);
    c->depth++;
    switch (o->kind) {
    case OP_JOIN:
        if (o->internal)
            probe_done(c, err, detail);
        else if (o->join_cb)
            o->join_cb(c, err, o->chan ? o->chan : "", (const char *const *)o->members,
                       o->n_members, detail, o->ud);
        break;
    case OP_LEAVE:
    case OP_MSG:
        if (o->done_cb)
            o->done_cb(c, err, detail, o->ud);
        break;
    case OP_HIST:
        if (o->hcbs.on_done)
            o->hcbs.on_done(c, err, detail, o->ud);
        break;
    case OP_RPC:
        if (o->rpc_cb)
            o->rpc_cb(c, err, err ? NULL : reply, detail, o->ud);
        break;
    }
    c->depth--;
    op_free(o);
}

static void fail_all(struct bp_conn *c, int err, const char *detail)
{
    while (c->ops)
        op_finish(c, c->ops, err, detail, NULL);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct bp_conn *c = h->data;
    c->timer_closed = true;
    maybe_release(c);
}

static void on_tcp_closed(struct cnet_tcp *t)
{
    struct bp_conn *c = t->owner;
    c->tcp_closed = true;
    maybe_release(c);
}

static void close_transport(struct bp_conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    cnet_tcp_close(&c->t, on_tcp_closed);
}

/* Ends the connection with err: reports it (on_open or on_close), fails the
 * pending requests. */
static void conn_fail(struct bp_conn *c, int err, const char *fmt, ...)
{
    if (c->state == CS_CLOSED)
        return;
    bool was_open = c->state == CS_OPEN;
    c->state = CS_CLOSED;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    close_transport(c);
    c->depth++;
    fail_all(c, err, c->err);
    if (!c->freed) {
        if (!c->open_reported) {
            c->open_reported = true;
            if (c->ev.on_open)
                c->ev.on_open(c, err, c->ud);
        } else if (was_open && c->ev.on_close) {
            c->ev.on_close(c, err, c->ud);
        }
    }
    c->depth--;
}

/* ---- output ---- */

static void flush(struct bp_conn *c);

static void on_write(uv_write_t *req, int status)
{
    struct bp_conn *c = req->data;
    c->writing = false;
    c->busy.len = 0;
    c->depth++;
    if (status < 0)
        conn_fail(c, BP_ENET, "connection lost while sending: %s", uv_strerror(status));
    else
        flush(c);
    c->depth--;
    maybe_release(c);
}

static void flush(struct bp_conn *c)
{
    if (c->writing || !c->out.len || c->state == CS_CLOSED)
        return;
    struct buf tmp = c->busy;
    c->busy = c->out;
    c->out = tmp;
    c->out.len = 0;
    uv_buf_t b = uv_buf_init(c->busy.data, (unsigned)c->busy.len);
    c->wreq.data = c;
    int r = cnet_tcp_write(&c->t, &c->wreq, &b, 1, on_write);
    if (r < 0) {
        conn_fail(c, BP_ENET, "cannot send: %s", cnet_tcp_strerror(&c->t, r));
        return;
    }
    c->writing = true;
}

static void pump(struct bp_conn *c)
{
    if (c->state == CS_CLOSED || !c->ws)
        return;
    if (wslay_event_want_write(c->ws) && wslay_event_send(c->ws) != 0) {
        conn_fail(c, BP_EPROTO, "WebSocket send error");
        return;
    }
    flush(c);
}

/* Queues one text message. */
static int send_text(struct bp_conn *c, const char *p, size_t n)
{
    if (c->state == CS_CLOSED || !c->ws)
        return BP_ENET;
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)p, n};
    if (wslay_event_queue_msg(c->ws, &m) != 0)
        return BP_ENOMEM;
    if (!c->in) /* inside wslay_event_recv() the reader pumps afterwards */
        pump(c);
    return 0;
}

/* ---- wslay callbacks ---- */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    struct bp_conn *c = ud;
    if (!c->in_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    struct bp_conn *c = ud;
    buf_append(&c->out, data, len);
    return (ssize_t)len;
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    randombytes_buf(buf, len);
    return 0;
}

static void handle_frame(struct bp_conn *c, const char *p, size_t n);

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    struct bp_conn *c = ud;
    if (c->state == CS_CLOSED)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
        handle_frame(c, (const char *)arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv,
    .send_callback = ws_send,
    .genmask_callback = ws_genmask,
    .on_msg_recv_callback = ws_on_msg,
};

/* ---- Netflux ---- */

static uint64_t now_ms(struct bp_conn *c) { return uv_now(c->loop); }

static struct op *op_new(struct bp_conn *c, enum op_kind kind)
{
    struct op *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->kind = kind;
    o->deadline = now_ms(c) + c->timeout_ms;
    /* append: oldest first, so metadata goes to the oldest history request */
    struct op **pp = &c->ops;
    while (*pp)
        pp = &(*pp)->next;
    *pp = o;
    return o;
}

static struct op *op_by_seq(struct bp_conn *c, uint64_t seq)
{
    if (!seq)
        return NULL;
    for (struct op *o = c->ops; o; o = o->next)
        if (o->seq == seq)
            return o;
    return NULL;
}

static bool op_alive(struct bp_conn *c, const struct op *o)
{
    for (struct op *x = c->ops; x; x = x->next)
        if (x == o)
            return true;
    return false;
}

static struct op *op_by_txid(struct bp_conn *c, const char *txid)
{
    if (!txid)
        return NULL;
    for (struct op *o = c->ops; o; o = o->next)
        if ((o->kind == OP_HIST || o->kind == OP_RPC) && o->txid[0] && !strcmp(o->txid, txid))
            return o;
    return NULL;
}

/* Sends [seq,TYPE,target(,content)] with content as a JSON string. */
static int send_cmd(struct bp_conn *c, uint64_t seq, const char *type, const char *target,
                    const char *content, size_t clen)
{
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%llu,\"%s\"", (unsigned long long)seq, type);
    if (target) {
        buf_appendc(&b, ',');
        jsonw_cstr(&b, target);
    }
    if (content) {
        buf_appendc(&b, ',');
        jsonw_str(&b, content, clen);
    }
    buf_appendc(&b, ']');
    int r = send_text(c, b.data, b.len);
    buf_free(&b);
    return r;
}

static bool valid_id(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    if (n == 0 || n > maxlen)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '+' || s[i] == '/' || s[i] == '=' ||
              s[i] == '-'))
            return false;
    return true;
}

static void probe_done(struct bp_conn *c, int err, const char *detail)
{
    if (c->state != CS_PROBE)
        return;
    if (err) {
        conn_fail(c, err, "cannot find the history keeper: %s", detail ? detail : bp_strerror(err));
        return;
    }
    /* Leave the ephemeral channel; the reply is not awaited. */
    send_cmd(c, ++c->seq, "LEAVE", HK_PROBE_CHAN, NULL, 0);
    if (!c->hk[0]) {
        conn_fail(c, BP_EPROTO, "the server has no history keeper (no 16-char member)");
        return;
    }
    c->state = CS_OPEN;
    c->open_reported = true;
    if (c->ev.on_open)
        c->ev.on_open(c, 0, c->ud);
}

static void start_open(struct bp_conn *c)
{
    if (c->no_probe) {
        c->state = CS_OPEN;
        c->open_reported = true;
        c->depth++;
        if (c->ev.on_open)
            c->ev.on_open(c, 0, c->ud);
        c->depth--;
        return;
    }
    c->state = CS_PROBE;
    struct op *o = op_new(c, OP_JOIN);
    if (!o) {
        conn_fail(c, BP_ENOMEM, "out of memory");
        return;
    }
    o->internal = true;
    o->chan = strdup(HK_PROBE_CHAN);
    o->seq = ++c->seq;
    send_cmd(c, o->seq, "JOIN", HK_PROBE_CHAN, NULL, 0);
}

static void on_reply(struct bp_conn *c, struct nfc_frame *f)
{
    if (f->seq && f->seq == c->ping_seq) {
        c->ping_seq = 0;
        return;
    }
    struct op *o = op_by_seq(c, f->seq);
    if (!o)
        return; /* e.g. the probe's LEAVE */
    bool ack = !strcmp(f->type, "ACK"), jack = !strcmp(f->type, "JACK");
    bool error = !strcmp(f->type, "ERROR");
    if (error && o->kind == OP_JOIN && f->code && !strcmp(f->code, "EJOINED"))
        jack = true, error = false; /* the member list follows */
    if (error) {
        op_finish(c, o, BP_ESERVER, f->code ? f->code : "ERROR", NULL);
        return;
    }
    switch (o->kind) {
    case OP_JOIN:
        if (jack) {
            o->acked = true;
            if ((!o->chan || !o->chan[0]) && f->target) {
                free(o->chan);
                o->chan = strdup(f->target);
            }
        }
        break;
    case OP_LEAVE:
    case OP_MSG:
        if (ack)
            op_finish(c, o, 0, NULL, NULL);
        break;
    case OP_HIST:
    case OP_RPC:
        if (ack) {
            o->acked = true;
            o->seq = 0;
            o->deadline = now_ms(c) + c->timeout_ms;
        }
        break;
    }
}

static void on_join_event(struct bp_conn *c, struct nfc_frame *f)
{
    if (strlen(f->sender) == 16 && valid_id(f->sender, 16)) {
        memcpy(c->hk, f->sender, 17);
        return; /* the HK is never a real member */
    }
    for (struct op *o = c->ops; o; o = o->next) {
        if (o->kind != OP_JOIN || !o->acked || !o->chan || strcmp(o->chan, f->target))
            continue;
        if (!strcmp(f->sender, c->id)) {
            op_finish(c, o, 0, NULL, NULL);
            return;
        }
        if (o->n_members >= MEMBERS_MAX)
            return;
        if (o->n_members == o->cap_members) {
            size_t cap = o->cap_members ? o->cap_members * 2 : 8;
            char **m = realloc(o->members, cap * sizeof(*m));
            if (!m)
                return;
            o->members = m;
            o->cap_members = cap;
        }
        char *d = strdup(f->sender);
        if (d)
            o->members[o->n_members++] = d;
        return;
    }
    if (c->ev.on_join)
        c->ev.on_join(c, f->target, f->sender, c->ud);
}

static void deliver(struct bp_conn *c, struct nfc_frame *f)
{
    if (!c->ev.on_message)
        return;
    struct bp_nf_msg m = {0};
    char *dumped;
    m.sender = f->sender;
    m.target = f->target;
    m.direct = !strcmp(f->target, c->id);
    content_of(f->content, &m.content, &m.content_len, &m.content_is_string, &dumped);
    if (json_is_integer(f->extra) && !m.direct)
        m.time = (int64_t)json_integer_value(f->extra);
    c->ev.on_message(c, &m, c->ud);
    free(dumped);
}

static int send_rpc(struct bp_conn *c, struct op *o, const char *cmd, const char *arg);

static const char *cookie_for(struct bp_conn *c, const uint8_t pk[32])
{
    for (struct cookie *k = c->cookies; k; k = k->next)
        if (!memcmp(k->pk, pk, 32))
            return k->value;
    return NULL;
}

static void cookie_set(struct bp_conn *c, const uint8_t pk[32], char *value)
{
    for (struct cookie *k = c->cookies; k; k = k->next)
        if (!memcmp(k->pk, pk, 32)) {
            free(k->value);
            k->value = value;
            return;
        }
    struct cookie *k = calloc(1, sizeof(*k));
    if (!k) {
        free(value);
        return;
    }
    memcpy(k->pk, pk, 32);
    k->value = value;
    k->next = c->cookies;
    c->cookies = k;
}

static void on_rpc_reply(struct bp_conn *c, struct op *o, json_t *arr)
{
    char *values = NULL, *cookie = NULL, *err = NULL;
    int r = rpcc_reply(arr, o->is_signed, &values, &cookie, &err);
    if (cookie)
        cookie_set(c, o->pk, cookie);
    if (o->phase == 1) {
        /* the COOKIE we sent first (or after NO_COOKIE) */
        free(values);
        if (r) {
            op_finish(c, o, r == BP_ESERVER ? r : BP_EPROTO, err ? err : "bad RPC reply", NULL);
            free(err);
            return;
        }
        o->phase = 0;
        r = send_rpc(c, o, o->cmd, o->arg);
        if (r)
            op_finish(c, o, r, "cannot send the RPC", NULL);
        return;
    }
    if (r == BP_ESERVER && err && !strcmp(err, "NO_COOKIE") && o->is_signed && !o->retried) {
        free(err);
        o->retried = true;
        o->phase = 1;
        c->cookie_retries++;
        r = send_rpc(c, o, "COOKIE", "\"\"");
        if (r)
            op_finish(c, o, r, "cannot send the RPC", NULL);
        return;
    }
    op_finish(c, o, r == 0 || r == BP_ESERVER || r == BP_ENOMEM ? r : BP_EPROTO,
              r ? (err ? err : "bad RPC reply") : NULL, values);
    free(values);
    free(err);
}

static void on_hk_message(struct bp_conn *c, struct nfc_frame *f)
{
    struct nfc_hk h;
    if (nfc_hk_parse(json_string_value(f->content), json_string_length(f->content), &h) != 0) {
        deliver(c, f);
        return;
    }
    struct op *o = op_by_txid(c, h.txid);
    if (h.kind == NFC_HK_META && h.channel) {
        for (struct op *x = c->ops; x; x = x->next)
            if (x->kind == OP_HIST && x->acked && !strcmp(x->chan, h.channel)) {
                o = x;
                break;
            }
    }
    if (!o) {
        nfc_hk_free(&h);
        deliver(c, f); /* HK notices (EDELETED, ECLEARED, metadata changes, ...) */
        return;
    }
    o->deadline = now_ms(c) + c->timeout_ms;
    if (o->kind == OP_RPC) {
        if (h.kind == NFC_HK_ARRAY)
            on_rpc_reply(c, o, h.root);
        nfc_hk_free(&h);
        return;
    }
    /* history */
    int stop = 0;
    switch (h.kind) {
    case NFC_HK_ARRAY: {
        struct bp_hist_msg m;
        if (nfc_hist_msg(h.root, &m) == 0 && o->hcbs.on_msg) {
            c->depth++;
            stop = o->hcbs.on_msg(&m, o->ud);
            c->depth--;
        }
        break;
    }
    case NFC_HK_META:
        if (o->hcbs.on_meta) {
            c->depth++;
            stop = o->hcbs.on_meta(json_string_value(f->content), json_string_length(f->content),
                                   o->ud);
            c->depth--;
        }
        break;
    case NFC_HK_END:
        op_finish(c, o, 0, NULL, NULL);
        break;
    case NFC_HK_ERROR: {
        char *d = h.error ? NULL : jsonw_dump(json_object_get(h.root, "error"), NULL);
        op_finish(c, o, BP_ESERVER, h.error ? h.error : d, NULL);
        free(d);
        break;
    }
    default:
        break;
    }
    /* A callback may have ended o (or the whole connection): look it up by
     * address before touching it. */
    if (stop && c->state != CS_CLOSED && op_alive(c, o))
        op_finish(c, o, BP_ECANCELED, "stopped by the caller", NULL);
    nfc_hk_free(&h);
}

static void handle_frame(struct bp_conn *c, const char *p, size_t n)
{
    struct nfc_frame f;
    c->last_rx = now_ms(c);
    if (nfc_parse(p, n, &f) != 0) {
        conn_fail(c, BP_EPROTO, "the server sent a frame that is not a Netflux JSON array");
        return;
    }
    if (c->state == CS_IDENT) {
        if (f.kind == NFC_IDENT && valid_id(f.target, CNET_ID_MAX)) {
            snprintf(c->id, sizeof(c->id), "%s", f.target);
            start_open(c);
        }
        nfc_frame_free(&f);
        return;
    }
    switch (f.kind) {
    case NFC_REPLY:
        on_reply(c, &f);
        break;
    case NFC_PING: {
        struct buf b = BUF_INIT;
        buf_appends(&b, "[0,\"\",\"PONG\",");
        jsonw_value(&b, f.extra);
        buf_appendc(&b, ']');
        send_text(c, b.data, b.len);
        buf_free(&b);
        break;
    }
    case NFC_JOIN:
        on_join_event(c, &f);
        break;
    case NFC_LEAVE:
        if (c->ev.on_leave)
            c->ev.on_leave(c, f.target, f.sender, c->ud);
        break;
    case NFC_MSG:
        if (c->hk[0] && !strcmp(f.sender, c->hk) && !strcmp(f.target, c->id) &&
            json_is_string(f.content))
            on_hk_message(c, &f);
        else
            deliver(c, &f);
        break;
    default:
        break;
    }
    nfc_frame_free(&f);
}

/* ---- handshake and reads ---- */

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

static void feed_ws(struct bp_conn *c, const char *p, size_t n)
{
    c->in = (const uint8_t *)p;
    c->in_len = n;
    int r = wslay_event_recv(c->ws);
    c->in = NULL;
    c->in_len = 0;
    if (c->state == CS_CLOSED)
        return;
    if (r != 0) {
        conn_fail(c, BP_EPROTO, "WebSocket framing error from the server");
        return;
    }
    pump(c);
    if (c->state != CS_CLOSED && wslay_event_get_close_received(c->ws))
        conn_fail(c, BP_ENET, "the server closed the WebSocket");
}

/* Returns the number of bytes of data that were the handshake, or -1 after
 * failing the connection, or n when more is needed. */
static long feed_handshake(struct bp_conn *c, const char *data, size_t n)
{
    long k = cnet_hresp_feed(&c->hs, data, n);
    if (k < 0) {
        conn_fail(c, BP_EPROTO, "the server did not answer with HTTP (%s)", bp_strerror((int)k));
        return -1;
    }
    if (!c->hs.done)
        return (long)n;
    struct bp_http_resp *r = c->hs.r;
    if (!c->hs.upgrade || r->status != 101) {
        conn_fail(c, BP_EPROTO, "the server answered HTTP %d instead of switching to WebSocket",
                  r->status);
        return -1;
    }
    char want[64];
    expected_accept(c->ws_key, want);
    const char *acc = bp_http_header(r, "sec-websocket-accept");
    if (!acc || strcmp(acc, want) != 0) {
        conn_fail(c, BP_EPROTO, "bad Sec-WebSocket-Accept in the handshake");
        return -1;
    }
    if (wslay_event_context_client_init(&c->ws, &ws_callbacks, c) != 0) {
        c->ws = NULL;
        conn_fail(c, BP_ENOMEM, "out of memory");
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, BP_CONN_MAX_FRAME);
    c->state = CS_IDENT;
    c->last_rx = now_ms(c);
    return k;
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    struct cnet_tcp *t = h->data;
    struct bp_conn *c = t->owner;
    *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct cnet_tcp *t = s->data;
    struct bp_conn *c = t->owner;
    if (c->state == CS_CLOSED || nread == 0)
        return;
    c->depth++;
    if (nread < 0) {
        if (c->state == CS_HANDSHAKE)
            conn_fail(c, c->hs.head_bytes ? BP_EPROTO : BP_ENET,
                      "the server closed the connection during the WebSocket handshake");
        else
            conn_fail(c, BP_ENET, "connection closed by the server (%s)",
                      nread == UV_EOF ? "end of stream" : cnet_tcp_strerror(t, (int)nread));
    } else {
        const char *p = b->base;
        size_t n = (size_t)nread;
        if (c->state == CS_HANDSHAKE) {
            long k = feed_handshake(c, p, n);
            if (k < 0 || c->state == CS_HANDSHAKE) {
                n = 0;
            } else {
                p += k;
                n -= (size_t)k;
            }
        }
        if (n && c->state != CS_CLOSED)
            feed_ws(c, p, n);
    }
    c->depth--;
    maybe_release(c);
}

static void on_connected(struct cnet_tcp *t, int status)
{
    struct bp_conn *c = t->owner;
    if (c->state == CS_CLOSED)
        return;
    c->depth++;
    if (status < 0) {
        conn_fail(c, BP_ENET, "cannot connect to %s:%s: %s", c->url.host, c->url.port,
                  cnet_tcp_strerror(t, status));
    } else {
        int r = cnet_tcp_read_start(t, on_alloc, on_read);
        if (r < 0) {
            conn_fail(c, BP_ENET, "cannot read: %s", uv_strerror(r));
        } else {
            uint8_t key[16];
            randombytes_buf(key, sizeof(key));
            sodium_bin2base64(c->ws_key, sizeof(c->ws_key), key, sizeof(key),
                              sodium_base64_VARIANT_ORIGINAL);
            buf_appendf(&c->out,
                        "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nUser-Agent: libblindpad\r\n\r\n",
                        c->url.path, c->url.hostport, c->ws_key);
            c->state = CS_HANDSHAKE;
            cnet_hresp_init(&c->hs, false, HANDSHAKE_MAX);
            flush(c);
        }
    }
    c->depth--;
    maybe_release(c);
}

static void on_tick(uv_timer_t *h)
{
    struct bp_conn *c = h->data;
    if (c->state == CS_CLOSED)
        return;
    uint64_t now = now_ms(c);
    c->depth++;
    if (c->state != CS_OPEN) {
        if (now >= c->open_deadline)
            conn_fail(c, BP_ETIMEOUT, "no answer from %s:%s within %u ms", c->url.host, c->url.port,
                      c->timeout_ms);
    } else if (now - c->last_rx > SILENCE_MAX_MS) {
        conn_fail(c, BP_ETIMEOUT, "nothing received from the server for %d s", SILENCE_MAX_MS / 1000);
    } else {
        if (!c->ping_seq && now - c->last_ping >= PING_EVERY_MS) {
            c->ping_seq = ++c->seq;
            c->last_ping = now;
            send_cmd(c, c->ping_seq, "PING", NULL, NULL, 0);
        } else if (c->ping_seq && now - c->last_ping >= PING_EVERY_MS) {
            c->ping_seq = 0; /* unanswered: allow the next one; silence is judged by last_rx */
        }
        for (struct op *o = c->ops; o && c->state != CS_CLOSED;) {
            struct op *next = o->next;
            if (now >= o->deadline)
                op_finish(c, o, BP_ETIMEOUT, "no answer from the server in time", NULL);
            o = next;
        }
    }
    c->depth--;
    maybe_release(c);
}

/* ---- public API ---- */

int bp_conn_new(uv_loop_t *loop, const char *url, const struct bp_conn_opts *opts,
                const struct bp_conn_events *events, void *ud, struct bp_conn **out)
{
    *out = NULL;
    if (!loop)
        return BP_EINVAL;
    struct bp_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return BP_ENOMEM;
    int r = cnet_url_parse(url, &c->url);
    if (r) {
        free(c);
        return r;
    }
    if (!c->url.ws || !strcmp(c->url.path, "/")) {
        if (!strcmp(c->url.path, "/"))
            snprintf(c->url.path, sizeof(c->url.path), "/cryptpad_websocket");
    }
    c->loop = loop;
    if (events)
        c->ev = *events;
    c->ud = ud;
    c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : BP_CONN_TIMEOUT_DEFAULT;
    c->no_probe = opts && opts->no_hk_probe;
    c->open_deadline = uv_now(loop) + c->timeout_ms;
    c->last_ping = uv_now(loop);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    r = cnet_tcp_connect_url(&c->t, loop, &c->url, on_connected, c);
    if (r < 0) {
        c->tcp_closed = true;
        c->freed = true;
        c->state = CS_CLOSED;
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
        return BP_ENET;
    }
    uv_timer_start(&c->timer, on_tick, CONN_TICK_MS, CONN_TICK_MS);
    *out = c;
    return 0;
}

void bp_conn_free(struct bp_conn *c)
{
    if (!c || c->freed)
        return;
    c->freed = true;
    c->depth++;
    if (c->state != CS_CLOSED) {
        c->state = CS_CLOSED;
        snprintf(c->err, sizeof(c->err), "closed by the caller");
        close_transport(c);
    }
    fail_all(c, BP_ECANCELED, "closed by the caller");
    c->depth--;
    maybe_release(c);
}

static int check_open(struct bp_conn *c)
{
    if (!c || c->freed)
        return BP_EINVAL;
    if (c->state != CS_OPEN)
        return c->state == CS_CLOSED ? BP_ENET : BP_EINVAL;
    return 0;
}

int bp_conn_join(struct bp_conn *c, const char *chan, bp_conn_join_cb cb, void *ud)
{
    int r = check_open(c);
    if (r)
        return r;
    if (chan && strlen(chan) > CNET_ID_MAX)
        return BP_EINVAL;
    struct op *o = op_new(c, OP_JOIN);
    if (!o)
        return BP_ENOMEM;
    o->join_cb = cb;
    o->ud = ud;
    o->chan = strdup(chan ? chan : "");
    o->seq = ++c->seq;
    r = send_cmd(c, o->seq, "JOIN", chan && *chan ? chan : NULL, NULL, 0);
    if (r || !o->chan) {
        op_unlink(c, o);
        op_free(o);
        return r ? r : BP_ENOMEM;
    }
    return 0;
}

static int simple_op(struct bp_conn *c, enum op_kind kind, const char *type, const char *target,
                     const char *content, size_t len, bp_conn_done_cb cb, void *ud)
{
    int r = check_open(c);
    if (r)
        return r;
    if (!target || !*target)
        return BP_EINVAL;
    struct op *o = op_new(c, kind);
    if (!o)
        return BP_ENOMEM;
    o->done_cb = cb;
    o->ud = ud;
    o->seq = ++c->seq;
    r = send_cmd(c, o->seq, type, target, content, len);
    if (r) {
        op_unlink(c, o);
        op_free(o);
    }
    return r;
}

int bp_conn_leave(struct bp_conn *c, const char *chan, bp_conn_done_cb cb, void *ud)
{
    return simple_op(c, OP_LEAVE, "LEAVE", chan, NULL, 0, cb, ud);
}

int bp_conn_send(struct bp_conn *c, const char *target, const char *content, size_t len,
                 bp_conn_done_cb cb, void *ud)
{
    if (!content || !utf8_valid(content, len))
        return BP_EINVAL;
    return simple_op(c, OP_MSG, "MSG", target, content, len, cb, ud);
}

/* Sends an HK request (payload is the JSON text that becomes the MSG's
 * string content). */
static int send_hk(struct bp_conn *c, struct op *o, const struct buf *payload)
{
    o->seq = ++c->seq;
    o->acked = false;
    return send_cmd(c, o->seq, "MSG", c->hk, payload->data, payload->len);
}

int bp_conn_history(struct bp_conn *c, const char *chan, const struct bp_history_opts *opts,
                    const struct bp_history_cbs *cbs, void *ud)
{
    int r = check_open(c);
    if (r)
        return r;
    if (!chan || !*chan || strlen(chan) > CNET_ID_MAX || !cbs || !c->hk[0])
        return BP_EINVAL;
    json_t *meta = NULL;
    if (opts && opts->metadata_json) {
        meta = rawjson_load(opts->metadata_json, strlen(opts->metadata_json));
        if (!json_is_object(meta)) {
            json_decref(meta);
            return BP_EINVAL;
        }
    }
    struct op *o = op_new(c, OP_HIST);
    if (!o) {
        json_decref(meta);
        return BP_ENOMEM;
    }
    o->hcbs = *cbs;
    o->ud = ud;
    o->chan = strdup(chan);
    snprintf(o->txid, sizeof(o->txid), "bp");
    cnet_randhex(o->txid + 2, 16);
    struct buf b = BUF_INIT;
    buf_appends(&b, "[\"GET_HISTORY\",");
    jsonw_cstr(&b, chan);
    buf_appends(&b, ",{\"txid\":");
    jsonw_cstr(&b, o->txid);
    if (opts && opts->from_start)
        buf_appends(&b, ",\"lastKnownHash\":-1");
    else if (opts && opts->last_known_hash) {
        buf_appends(&b, ",\"lastKnownHash\":");
        jsonw_cstr(&b, opts->last_known_hash);
    }
    if (meta) {
        buf_appends(&b, ",\"metadata\":");
        jsonw_value(&b, meta);
        json_decref(meta);
    }
    buf_appends(&b, "}]");
    r = o->chan ? send_hk(c, o, &b) : BP_ENOMEM;
    buf_free(&b);
    if (r) {
        op_unlink(c, o);
        op_free(o);
    }
    return r;
}

static int send_rpc(struct bp_conn *c, struct op *o, const char *cmd, const char *arg)
{
    snprintf(o->txid, sizeof(o->txid), "bp");
    cnet_randhex(o->txid + 2, 16); /* a new txid for every (re)send, as the web client */
    struct bp_sign_key k = {o->pk, o->sk};
    struct buf b = BUF_INIT;
    int r = rpcc_build(&b, o->txid, o->is_signed ? &k : NULL,
                       o->is_signed ? cookie_for(c, o->pk) : NULL, cmd, arg);
    if (r == 0)
        r = send_hk(c, o, &b);
    buf_free(&b);
    o->deadline = now_ms(c) + c->timeout_ms;
    return r;
}

int bp_conn_rpc(struct bp_conn *c, const struct bp_sign_key *key, const char *cmd,
                const char *arg_json, bp_conn_rpc_cb cb, void *ud)
{
    int r = check_open(c);
    if (r)
        return r;
    if (!cmd || !*cmd || !c->hk[0] || (key && (!key->pk || !key->sk)))
        return BP_EINVAL;
    if (arg_json) {
        json_t *j = rawjson_load(arg_json, strlen(arg_json));
        if (!j)
            return BP_EINVAL;
        json_decref(j);
    }
    struct op *o = op_new(c, OP_RPC);
    if (!o)
        return BP_ENOMEM;
    o->rpc_cb = cb;
    o->ud = ud;
    o->cmd = strdup(cmd);
    o->arg = arg_json ? strdup(arg_json) : NULL;
    if (!o->cmd || (arg_json && !o->arg)) {
        op_unlink(c, o);
        op_free(o);
        return BP_ENOMEM;
    }
    if (key) {
        o->is_signed = true;
        memcpy(o->pk, key->pk, 32);
        o->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
        if (!o->sk) {
            op_unlink(c, o);
            op_free(o);
            return BP_ENOMEM;
        }
        memcpy(o->sk, key->sk, crypto_sign_SECRETKEYBYTES);
        if (!cookie_for(c, o->pk) && strcmp(cmd, "COOKIE") != 0)
            o->phase = 1; /* get a cookie first, as Pinpad.create does */
    }
    r = o->phase == 1 ? send_rpc(c, o, "COOKIE", "\"\"") : send_rpc(c, o, o->cmd, o->arg);
    if (r) {
        op_unlink(c, o);
        op_free(o);
    }
    return r;
}
