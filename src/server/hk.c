/* hk.c: the history keeper (NETFLUX.md §3-4): history requests, and the
 * write path of every stored channel message.
 *
 * WRITE PATH of one channel message, in arrival order per channel:
 *
 *   arrival ──> checks that need no crypto (restricted, expired, storable)
 *      │             └─ refused: [seq,"ERROR"]
 *      v
 *   queued on the channel (ch->q_head..q_tail)
 *      │  if the channel had a validateKey on arrival: ed25519 check on the
 *      │  thread pool (both cores), results may come back out of order
 *      v
 *   head of the queue verified ─> commit: duplicate checkpoint? bad signature?
 *      │                           append to the log (one write)
 *      v
 *   durable: fsync=group waits for the next shared fsync batch,
 *            fsync=always was synced in the append, none goes on at once
 *      v
 *   relayed to the other members, then ACKed to the sender.
 *
 * The validation requirement is fixed at arrival from the metadata in force
 * at that instant, and metadata is created synchronously on the loop thread
 * by the GET_HISTORY that creates the channel, so a message that arrives
 * after that request is checked against it: there is no window in which a
 * new channel's validateKey or allow list is not yet in force.
 *
 * HISTORY STREAMS. A history answer can be large, so it is produced as the
 * connection drains: at most HK_HIGH_WATER bytes are queued for the user; the
 * rest waits for on_drain. A stream reads the log with store_iter from its
 * start offset to the size the log had when the request arrived.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/meta.h"
#include "protocol/msg.h"
#include "protocol/rawjson.h"
#include "server/server.h"
#include "storage/tasks.h"

enum hs_kind { HS_HISTORY, HS_RANGE, HS_FULL };

struct hstream {
    struct server *srv;
    struct user *u;             /* reference */
    struct store_chan *sc;      /* reference */
    enum hs_kind kind;
    char *txid;                 /* serialised txid, or NULL to keep element 0 (from xmalloc) */
    char *prio;                 /* serialised priority ("null" when absent) */
    struct store_iter it;
    uint64_t stop;              /* HS_RANGE: last offset to send (inclusive) */
    bool skip_legacy;           /* do not send a legacy metadata first line */
    struct buf tail;            /* frames sent after the lines (end markers) */
    struct hstream *next;       /* u->streams */
};

/* ---- helpers ----------------------------------------------------------- */

/* [0,HK,"MSG",U,"<body>"(,prio)] */
static void hk_frame(struct buf *out, struct server *srv, struct user *u, const char *body, size_t blen,
                     const char *prio)
{
    buf_appends(out, "[0,\"");
    buf_appends(out, srv->hk_id);
    buf_appends(out, "\",\"MSG\",\"");
    buf_appends(out, u->id);
    buf_appends(out, "\",");
    jsonw_str(out, body, blen);
    if (prio) {
        buf_appendc(out, ',');
        buf_appends(out, prio);
    }
    buf_appendc(out, ']');
}

void hk_send_notice(struct server *srv, struct user *u, const char *json_body)
{
    struct buf b = BUF_INIT;
    hk_frame(&b, srv, u, json_body, strlen(json_body), NULL);
    nf_send(u, &b);
    buf_free(&b);
}

/* {"error":code,"channel":c(,"txid":t)} or with "message" */
static void error_body(struct buf *b, const char *code, const char *message, const char *chan,
                       const char *txid)
{
    buf_appends(b, "{\"error\":");
    jsonw_cstr(b, code);
    if (message) {
        buf_appends(b, ",\"message\":");
        jsonw_cstr(b, message);
    }
    buf_appends(b, ",\"channel\":");
    jsonw_cstr(b, chan);
    if (txid) {
        buf_appends(b, ",\"txid\":");
        buf_appends(b, txid);
    }
    buf_appendc(b, '}');
}

static void send_body(struct server *srv, struct user *u, struct buf *body, const char *prio)
{
    struct buf f = BUF_INIT;
    hk_frame(&f, srv, u, body->data, body->len, prio);
    nf_send(u, &f);
    buf_free(&f);
    buf_reset(body);
}

/* The metadata frame of a history answer (nothing when meta is NULL). */
static void send_meta(struct server *srv, struct user *u, const json_t *meta, struct buf *body, const char *prio)
{
    if (!meta)
        return;
    jsonw_value(body, meta);
    send_body(srv, u, body, prio);
}

/* {"state":1,"channel":c(,"txid":t)}: the end marker of GET_HISTORY. */
static void end_marker(struct buf *body, const char *chan, const char *txid)
{
    buf_appends(body, "{\"state\":1,\"channel\":");
    jsonw_cstr(body, chan);
    if (txid) {
        buf_appends(body, ",\"txid\":");
        buf_appends(body, txid);
    }
    buf_appendc(body, '}');
}

static void notify_members(struct channel *ch, const char *body)
{
    struct membership *m;
    DL_FOREACH2(ch->members, m, cnext) hk_send_notice(ch->srv, m->u, body);
}

static bool expired(const json_t *meta)
{
    long long e = meta ? meta_expire(meta) : 0;
    return e && e < server_now_ms();
}

/* ---- history streams ------------------------------------------------- */

static void stream_free(struct hstream *hs)
{
    store_iter_done(&hs->it);
    store_chan_release(hs->srv->store, hs->sc);
    user_unref(hs->u);
    free(hs->txid);
    free(hs->prio);
    buf_free(&hs->tail);
    free(hs);
}

void hk_stream_free_all(struct user *u)
{
    struct hstream *hs, *tmp;
    LL_FOREACH_SAFE(u->streams, hs, tmp) {
        LL_DELETE(u->streams, hs);
        stream_free(hs);
    }
}

/* Emits one stored line as the stream's frame type. Returns false to skip. */
static bool emit_line(struct hstream *hs, const char *line, size_t len, uint64_t off, struct buf *frame,
                      struct buf *body)
{
    struct server *srv = hs->srv;
    if (store_chan_line_bad(hs->sc, off))
        return false;
    bool legacy = off == 0 && store_chan_legacy_meta(hs->sc);
    if (hs->kind == HS_FULL) {
        buf_appends(body, "[\"FULL_HISTORY\",");
        buf_append(body, line, len);
        buf_appendc(body, ']');
        hk_frame(frame, srv, hs->u, body->data, body->len, NULL);
        buf_reset(body);
        return true;
    }
    if (legacy)
        return false;
    if (hs->kind == HS_RANGE) {
        buf_appends(body, "[\"HISTORY_RANGE\",");
        buf_appends(body, hs->txid);
        buf_appendc(body, ',');
        buf_append(body, line, len);
        buf_appendc(body, ']');
        hk_frame(frame, srv, hs->u, body->data, body->len, NULL);
        buf_reset(body);
        return true;
    }
    /* GET_HISTORY: element 0 replaced by the txid when there is one. Lines
     * we (and the reference) write start with "[0,": splice without parsing. */
    if (hs->txid && len > 3 && memcmp(line, "[0,", 3) == 0) {
        buf_appendc(body, '[');
        buf_appends(body, hs->txid);
        buf_append(body, line + 2, len - 2);
    } else if (hs->txid) {
        json_t *v = rawjson_load(line, len);
        if (!json_is_array(v)) {
            json_decref(v);
            return false;
        }
        json_t *t = json_loads(hs->txid, JSON_DECODE_ANY, NULL);
        json_array_set_new(v, 0, t ? t : json_null());
        jsonw_value(body, v);
        json_decref(v);
    } else {
        buf_append(body, line, len);
    }
    hk_frame(frame, srv, hs->u, body->data, body->len, hs->prio);
    buf_reset(body);
    return true;
}

/* Sends as much of the stream as the connection has room for. Returns true
 * when the stream is finished (the caller frees it). */
static bool stream_pump(struct hstream *hs)
{
    struct user *u = hs->u;
    struct buf frame = BUF_INIT, body = BUF_INIT;
    bool done = false;
    while (u->conn && conn_pending(u->conn) < HK_HIGH_WATER) {
        const char *line;
        size_t len;
        uint64_t off;
        int rc = store_iter_next(&hs->it, &line, &len, &off);
        if (rc == 1 && hs->kind == HS_RANGE && off > hs->stop)
            rc = 0;
        if (rc < 0) {
            LOG_WARN("hk: reading %s: %s", store_chan_id(hs->sc), bp_strerror(rc));
            buf_reset(&hs->tail);
            if (hs->kind == HS_RANGE) {
                buf_appends(&body, "[\"HISTORY_RANGE_ERROR\",");
                buf_appends(&body, hs->txid);
                buf_appendc(&body, ',');
                jsonw_cstr(&body, bp_strerror(rc));
                buf_appendc(&body, ']');
                hk_frame(&hs->tail, hs->srv, u, body.data, body.len, NULL);
            } else if (hs->kind == HS_FULL) {
                buf_appends(&body, "[\"ERROR\",");
                jsonw_cstr(&body, store_chan_id(hs->sc));
                buf_appendc(&body, ',');
                jsonw_cstr(&body, bp_strerror(rc));
                buf_appendc(&body, ']');
                hk_frame(&hs->tail, hs->srv, u, body.data, body.len, NULL);
            } else {
                error_body(&body, bp_strerror(rc), NULL, store_chan_id(hs->sc), hs->txid);
                hk_frame(&hs->tail, hs->srv, u, body.data, body.len, hs->prio);
            }
            buf_reset(&body);
            rc = 0;
        }
        if (rc == 0) {
            if (hs->tail.len)
                conn_send(u->conn, hs->tail.data, hs->tail.len);
            done = true;
            break;
        }
        if (hs->kind == HS_RANGE) {
            /* Only messages with string content are sent (observed). */
            json_t *v = rawjson_load(line, len);
            bool ok = json_is_array(v) && json_is_string(json_array_get(v, 4));
            json_decref(v);
            if (!ok)
                continue;
        }
        if (emit_line(hs, line, len, off, &frame, &body)) {
            conn_send(u->conn, frame.data, frame.len);
            buf_reset(&frame);
        }
    }
    if (!u->conn)
        done = true;
    buf_free(&frame);
    buf_free(&body);
    return done;
}

void hk_pump_streams(struct user *u)
{
    struct hstream *hs;
    while ((hs = u->streams)) {
        if (!stream_pump(hs))
            return; /* still blocked: the rest waits behind it, in order */
        LL_DELETE(u->streams, hs);
        stream_free(hs);
    }
}

static void stream_start(struct hstream *hs)
{
    struct user *u = hs->u;
    LL_APPEND(u->streams, hs);
    if (u->streams == hs)
        hk_pump_streams(u);
}

static struct hstream *stream_new(struct server *srv, struct user *u, struct store_chan *sc, enum hs_kind kind,
                                  uint64_t from)
{
    struct hstream *hs = xcalloc(1, sizeof *hs);
    hs->srv = srv;
    hs->u = u;
    u->refs++;
    hs->sc = sc;
    hs->kind = kind;
    store_iter_init(&hs->it, srv->store, sc, from);
    return hs;
}

/* ---- GET_HISTORY ------------------------------------------------------ */

static char *dump_or_null(const json_t *v)
{
    return v ? jsonw_dump(v, NULL) : xstrdup("null");
}

/* metadata.expire at creation: seconds from now, made absolute (ms). The
 * reference does `if (expire) expire = +expire * 1000 + now`: falsy values
 * stay as they are, numeric strings count as numbers, anything else becomes
 * NaN (stored as null). Absurd values are clamped to JavaScript's last date
 * (8.64e15 ms), which keeps the stored value an integer (the reference would
 * store e.g. 1e+303). */
static void set_expire(json_t *m, long long now)
{
    json_t *exp = json_object_get(m, "expire");
    double secs;
    if (!exp || json_is_null(exp) || json_is_false(exp) || (json_is_number(exp) && json_number_value(exp) == 0) ||
        (json_is_string(exp) && json_string_length(exp) == 0))
        return;
    if (json_is_number(exp)) {
        secs = json_number_value(exp);
    } else if (json_is_true(exp)) {
        secs = 1;
    } else if (json_is_string(exp)) {
        char *end;
        secs = strtod(json_string_value(exp), &end);
        while (*end == ' ' || *end == '\t' || *end == '\n')
            end++;
        if (*end || end == json_string_value(exp)) {
            json_object_set_new(m, "expire", json_null());
            return;
        }
    } else {
        json_object_set_new(m, "expire", json_null());
        return;
    }
    if (!isfinite(secs)) {
        json_object_set_new(m, "expire", json_null()); /* NaN, Infinity: JSON.stringify gives null */
        return;
    }
    const double max = 8.64e15;
    double abs_ms = secs * 1000 + (double)now;
    abs_ms = abs_ms > max ? max : abs_ms < -max ? -max : abs_ms;
    json_object_set_new(m, "expire", json_integer((json_int_t)abs_ms));
}

/* Builds the metadata for a channel this request creates (NETFLUX.md §3.3). */
static json_t *creation_meta(struct server *srv, const json_t *cfg_meta, const char *chan)
{
    json_t *m = json_is_object(cfg_meta) ? json_deep_copy(cfg_meta) : json_object();
    set_expire(m, server_now_ms());
    json_object_del(m, "forcePlaceholder");
    json_t *sd = json_object_get(m, "selfdestruct");
    if (sd && !json_is_false(sd) && !json_is_null(sd) &&
        !(json_is_integer(sd) && json_integer_value(sd) == 0) &&
        !(json_is_string(sd) && json_string_length(sd) == 0))
        json_object_set_new(m, "selfdestruct", json_string(srv->hk_id));
    /* channel and created are set last, overwriting any client values. */
    json_object_del(m, "channel");
    json_object_del(m, "created");
    json_object_set_new(m, "channel", json_string(chan));
    json_object_set_new(m, "created", json_integer(server_now_ms()));
    return m;
}

/* meta: the channel's metadata as hk_on_direct() found it (borrowed), or NULL. */
static void get_history(struct server *srv, struct user *u, const json_t *seq, const char *chan_name,
                        size_t chan_len, struct channel *ch, const json_t *meta, const json_t *cfg)
{
    if (!json_is_object(cfg))
        cfg = NULL; /* legacy form: cfg was a validateKey string */
    const json_t *jtxid = cfg ? json_object_get(cfg, "txid") : NULL;
    bool truthy = jtxid && !json_is_false(jtxid) && !json_is_null(jtxid) &&
                  !(json_is_integer(jtxid) && json_integer_value(jtxid) == 0) &&
                  !(json_is_real(jtxid) && json_real_value(jtxid) == 0) &&
                  !(json_is_string(jtxid) && json_string_length(jtxid) == 0);
    char *txid_key = jtxid ? jsonw_dump(jtxid, NULL) : NULL; /* for end markers and errors */
    char *txid_el = truthy ? xstrdup(txid_key) : NULL;      /* for element 0 of messages */
    char *prio = dump_or_null(cfg ? json_object_get(cfg, "priority") : NULL);
    const json_t *lkh = cfg ? json_object_get(cfg, "lastKnownHash") : NULL;
    /* lastKnownHash: a non-empty string, -1 (from the start), absent/falsy
     * (server decides), or anything else truthy, which the reference answers
     * with {"error":"ERROR"} (observed for a number). */
    bool lkh_all = json_is_integer(lkh) && json_integer_value(lkh) == -1;
    bool lkh_str = json_is_string(lkh) && json_string_length(lkh) > 0;
    bool lkh_bad = lkh && !lkh_all && !lkh_str && !json_is_null(lkh) && !json_is_false(lkh) &&
                   !(json_is_string(lkh)) && !(json_is_number(lkh) && json_number_value(lkh) == 0);
    bool lkh_given = lkh_all || lkh_str || lkh_bad;
    const json_t *cfg_meta = cfg ? json_object_get(cfg, "metadata") : NULL;
    struct buf body = BUF_INIT;

    /* An invalid validateKey at creation gets the ACK and then nothing. */
    const json_t *vk = json_object_get(cfg_meta, "validateKey");
    uint8_t key[32];
    bool bad_vk = vk && (!json_is_string(vk) ||
                         msg_key32(json_string_value(vk), json_string_length(vk), key) != 0);

    nf_send_ack(u, seq);
    if (!store_id_valid(chan_name, chan_len)) {
        error_body(&body, "EINVAL", NULL, chan_name, txid_key);
        send_body(srv, u, &body, prio);
        goto out;
    }
    struct store_chan *sc = NULL;
    int rc = store_chan_open(srv->store, chan_name, &sc);
    if (rc < 0) {
        error_body(&body, bp_strerror(rc), NULL, chan_name, txid_key);
        send_body(srv, u, &body, prio);
        goto out;
    }
    if (!store_chan_exists(sc) || store_chan_size(sc) == 0) {
        struct buf reason = BUF_INIT;
        bool force = json_is_true(json_object_get(cfg_meta, "forcePlaceholder"));
        bool placeholder = !store_chan_exists(sc) && store_placeholder(srv->store, chan_name, &reason) == 0;
        if (placeholder && !force) {
            error_body(&body, "EDELETED", reason.data ? reason.data : "", chan_name, txid_key);
            send_body(srv, u, &body, prio);
        } else if (lkh_given && (!store_chan_exists(sc) || !lkh_all)) {
            /* No log and a lastKnownHash: EDELETED; an empty log: the hash
             * cannot be in it (EUNKNOWN). The metadata goes first. */
            send_meta(srv, u, meta, &body, prio);
            error_body(&body, !store_chan_exists(sc) ? "EDELETED" : lkh_bad ? "ERROR" : "EUNKNOWN", NULL,
                       chan_name, txid_key);
            send_body(srv, u, &body, prio);
        } else if (bad_vk && !meta) {
            /* nothing after the ACK (observed) */
        } else {
            if (meta) {
                send_meta(srv, u, meta, &body, prio);
            } else if (ch && nf_is_member(ch, u) && chan_len == 32) {
                /* Create the channel: its metadata is in force from now on. */
                json_t *nm = creation_meta(srv, cfg_meta, chan_name);
                size_t ml;
                char *line = jsonw_dump(nm, &ml);
                line = xrealloc(line, ml + 2);
                line[ml] = '\n';
                line[ml + 1] = '\0';
                int wrc = store_meta_append(srv->store, chan_name, line, ml + 1);
                if (wrc < 0) {
                    error_body(&body, bp_strerror(wrc), NULL, chan_name, txid_key);
                    send_body(srv, u, &body, prio);
                    free(line);
                    json_decref(nm);
                    buf_free(&reason);
                    store_chan_release(srv->store, sc);
                    goto out;
                }
                long long exp_ms = meta_expire(nm);
                nf_channel_set_meta(ch, nm);
                if (exp_ms)
                    tasks_add_expire(srv, exp_ms, chan_name); /* logged on failure, as the reference */
                buf_append(&body, line, ml);
                free(line);
                send_body(srv, u, &body, prio);
            }
            end_marker(&body, chan_name, txid_key);
            send_body(srv, u, &body, prio);
        }
        buf_free(&reason);
        store_chan_release(srv->store, sc);
        goto out;
    }

    uint64_t from = 0;
    if (lkh_all) {
        from = 0;
    } else if (lkh_str || lkh_bad) {
        if (lkh_bad || store_history_start(srv->store, sc, json_string_value(lkh), json_string_length(lkh), &from) < 0) {
            send_meta(srv, u, meta, &body, prio);
            error_body(&body, lkh_bad ? "ERROR" : "EUNKNOWN", NULL, chan_name, txid_key);
            send_body(srv, u, &body, prio);
            store_chan_release(srv->store, sc);
                goto out;
        }
    } else {
        store_history_start(srv->store, sc, NULL, 0, &from);
    }
    send_meta(srv, u, meta, &body, prio);
    struct hstream *hs = stream_new(srv, u, sc, HS_HISTORY, from);
    hs->txid = txid_el;
    txid_el = NULL;
    hs->prio = prio;
    prio = NULL;
    end_marker(&body, chan_name, txid_key);
    hk_frame(&hs->tail, srv, u, body.data, body.len, hs->prio);
    stream_start(hs);
out:
    buf_free(&body);
    free(txid_key);
    free(txid_el);
    free(prio);
}

/* ---- GET_HISTORY_RANGE (NETFLUX.md §3.5) ------------------------------- */

struct rline {
    uint64_t off;
    bool cp;
};

static bool hash_eq(const json_t *content, const char *h, size_t hl)
{
    const char *s = json_string_value(content);
    size_t n = msg_hash_len(s, json_string_length(content));
    return n == hl && memcmp(s, h, n) == 0;
}

static void get_history_range(struct server *srv, struct user *u, const json_t *seq, const char *chan,
                              const json_t *arg)
{
    struct buf hk = BUF_INIT;
    jsonw_cstr(&hk, srv->hk_id);
    if (!json_is_object(arg)) {
        nf_send_error(u, seq, "INVALID_ARGS", hk.data);
        buf_free(&hk);
        return;
    }
    const json_t *count = json_object_get(arg, "count"), *cpcount = json_object_get(arg, "cpCount");
    const json_t *to = json_object_get(arg, "to"), *fromh = json_object_get(arg, "from");
    const json_t *txid = json_object_get(arg, "txid");
    bool to_truthy = to && !json_is_false(to) && !json_is_null(to) &&
                     !(json_is_string(to) && !json_string_length(to)) &&
                     !(json_is_number(to) && json_number_value(to) == 0);
    bool txid_truthy = txid && !json_is_false(txid) && !json_is_null(txid) &&
                       !(json_is_string(txid) && !json_string_length(txid)) &&
                       !(json_is_number(txid) && json_number_value(txid) == 0);
    if (!json_is_number(count) && !json_is_number(cpcount) && !to_truthy) {
        nf_send_error(u, seq, "UNSPECIFIED_COUNT", hk.data);
        buf_free(&hk);
        return;
    }
    if (!txid_truthy) {
        nf_send_error(u, seq, "NO_TXID", hk.data);
        buf_free(&hk);
        return;
    }
    buf_free(&hk);
    nf_send_ack(u, seq);
    char *txid_s = jsonw_dump(txid, NULL);
    struct buf body = BUF_INIT;
    struct store_chan *sc = NULL;
    int rc = store_id_valid(chan, strlen(chan)) ? store_chan_open(srv->store, chan, &sc) : BP_EBADID;
    if (rc < 0 || !store_chan_exists(sc)) {
        if (rc == 0 && to_truthy) {
            buf_appends(&body, "[\"HISTORY_RANGE_ERROR\",");
            buf_appends(&body, txid_s);
            buf_appends(&body, ",{\"code\":\"ENOENT\"}]");
        } else if (rc < 0) {
            buf_appends(&body, "[\"HISTORY_RANGE_ERROR\",");
            buf_appends(&body, txid_s);
            buf_appendc(&body, ',');
            jsonw_cstr(&body, bp_strerror(rc));
            buf_appendc(&body, ']');
        } else {
            buf_appends(&body, "[\"HISTORY_RANGE_END\",");
            buf_appends(&body, txid_s);
            buf_appendc(&body, ',');
            jsonw_cstr(&body, chan);
            buf_appendc(&body, ']');
        }
        send_body(srv, u, &body, NULL);
        store_chan_release(srv->store, sc);
        buf_free(&body);
        free(txid_s);
        return;
    }
    /* First pass: find the span [start, stop] to send. */
    const char *fh = json_is_string(fromh) ? json_string_value(fromh) : NULL;
    size_t fhl = fh ? json_string_length(fromh) : 0;
    struct rline *lines = NULL;
    size_t n = 0, cap = 0, stop_idx = SIZE_MAX, start_idx = 0;
    bool to_found = false, from_found = false;
    struct store_iter it;
    store_iter_init(&it, srv->store, sc, 0);
    const char *line;
    size_t len;
    uint64_t off;
    while (store_iter_next(&it, &line, &len, &off) == 1) {
        json_t *v = rawjson_load(line, len);
        const json_t *content = json_array_get(v, 4);
        if (json_is_array(v) && json_is_string(content)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                lines = xrealloc(lines, cap * sizeof *lines);
            }
            size_t pl, il;
            const char *id;
            lines[n].off = off;
            lines[n].cp = msg_checkpoint(json_string_value(content), json_string_length(content), &pl, &id, &il);
            if (to_truthy && !to_found) {
                if ((json_is_string(to) && strcmp(json_string_value(to), "NONE") == 0) ||
                    (json_is_string(to) && hash_eq(content, json_string_value(to), json_string_length(to)))) {
                    to_found = true;
                    start_idx = n;
                }
            }
            bool is_from = fh && hash_eq(content, fh, fhl);
            n++;
            if (is_from && (!to_truthy || to_found) && stop_idx == SIZE_MAX) {
                stop_idx = n - 1;
                from_found = true;
                json_decref(v);
                break;
            }
        }
        json_decref(v);
    }
    store_iter_done(&it);
    bool send = true;
    if (to_truthy) {
        send = to_found;
        if (stop_idx == SIZE_MAX)
            stop_idx = n ? n - 1 : 0;
    } else {
        if (stop_idx == SIZE_MAX)
            stop_idx = n ? n - 1 : 0;
        if (json_is_number(count)) {
            double c = json_number_value(count);
            size_t k = c <= 0 ? 0 : (size_t)c;
            start_idx = stop_idx + 1 > k ? stop_idx + 1 - k : 0;
            if (k == 0)
                send = false;
        } else {
            double c = json_number_value(cpcount);
            size_t k = c <= 0 ? 0 : (size_t)c, seen = 0;
            start_idx = 0;
            /* The reference trims when it reads a checkpoint, but stops at
             * `from` before that: a `from` checkpoint does not count. */
            size_t top = stop_idx + 1;
            if (from_found && n && lines[stop_idx].cp)
                top = stop_idx;
            for (size_t i = top; i-- > 0 && k > 0;) {
                if (lines[i].cp && ++seen == k) {
                    start_idx = i;
                    break;
                }
            }
        }
    }
    struct hstream *hs = stream_new(srv, u, sc, HS_RANGE, send && n ? lines[start_idx].off : store_chan_size(sc));
    hs->stop = send && n ? lines[stop_idx].off : 0;
    if (!send || !n)
        hs->it.end = 0;
    hs->txid = txid_s;
    buf_appends(&body, "[\"HISTORY_RANGE_END\",");
    buf_appends(&body, txid_s);
    buf_appendc(&body, ',');
    jsonw_cstr(&body, chan);
    buf_appendc(&body, ']');
    hk_frame(&hs->tail, srv, u, body.data, body.len, NULL);
    free(lines);
    buf_free(&body);
    stream_start(hs);
}

static void get_full_history(struct server *srv, struct user *u, const json_t *seq, const char *chan)
{
    nf_send_ack(u, seq);
    struct store_chan *sc = NULL;
    int rc = store_id_valid(chan, strlen(chan)) ? store_chan_open(srv->store, chan, &sc) : BP_EBADID;
    struct buf body = BUF_INIT;
    if (rc < 0 || !store_chan_exists(sc)) {
        buf_appends(&body, "[\"ERROR\",");
        jsonw_cstr(&body, chan);
        buf_appendc(&body, ',');
        jsonw_cstr(&body, rc < 0 ? bp_strerror(rc) : "ENOENT: no such channel");
        buf_appendc(&body, ']');
        send_body(srv, u, &body, NULL);
        store_chan_release(srv->store, sc);
        buf_free(&body);
        return;
    }
    struct hstream *hs = stream_new(srv, u, sc, HS_FULL, 0);
    buf_appends(&body, "[\"FULL_HISTORY_END\",");
    jsonw_cstr(&body, chan);
    buf_appendc(&body, ']');
    hk_frame(&hs->tail, srv, u, body.data, body.len, NULL);
    buf_free(&body);
    stream_start(hs);
}

void hk_on_direct(struct server *srv, struct user *u, const json_t *seq, const char *payload, size_t len)
{
    json_t *root = rawjson_load(payload, len);
    if (!json_is_array(root)) {
        json_decref(root); /* nothing at all, not even an ACK (observed) */
        return;
    }
    const json_t *cmd = json_array_get(root, 0);
    const char *name = json_is_string(cmd) ? json_string_value(cmd) : "";
    bool hist = strcmp(name, "GET_HISTORY") == 0, range = strcmp(name, "GET_HISTORY_RANGE") == 0,
         full = strcmp(name, "GET_FULL_HISTORY") == 0;
    if (!hist && !range && !full) {
        rpc_handle(srv, u, seq, payload, len, root);
        json_decref(root);
        return;
    }
    const json_t *jchan = json_array_get(root, 1);
    if (!json_is_string(jchan) || json_string_length(jchan) > NF_CHAN_MAX ||
        memchr(json_string_value(jchan), '\0', json_string_length(jchan))) {
        struct buf hk = BUF_INIT;
        jsonw_cstr(&hk, srv->hk_id);
        nf_send_error(u, seq, "EINVAL", hk.data);
        buf_free(&hk);
        json_decref(root);
        return;
    }
    const char *chan = json_string_value(jchan);
    size_t chan_len = json_string_length(jchan);
    struct channel *ch = nf_channel_find(srv, chan);
    /* Access checks for 32-char channels (NETFLUX.md §3.2). */
    const json_t *meta = NULL;
    json_t *own = NULL; /* meta when the channel is not in memory */
    if (chan_len == 32 && store_id_valid(chan, chan_len)) {
        own = ch ? NULL : nf_meta_read(srv, chan);
        meta = ch ? nf_channel_meta(ch) : own;
        if (meta && expired(meta)) {
            /* EEXPIRED to the members and no ACK (observed). A requester who
             * is not a member would hear nothing and hang: it gets it too. */
            struct buf nb = BUF_INIT;
            error_body(&nb, "EEXPIRED", NULL, chan, NULL);
            if (ch)
                notify_members(ch, nb.data);
            if (!ch || !nf_is_member(ch, u))
                hk_send_notice(srv, u, nb.data);
            buf_free(&nb);
            hk_expired_access(srv, chan, meta);
            json_decref(own);
            json_decref(root);
            return;
        }
        if (meta && meta_restricted(meta) && !nf_user_has_allowed_key(u, meta)) {
            struct buf hk = BUF_INIT;
            jsonw_cstr(&hk, srv->hk_id);
            nf_send_error(u, seq, "ERESTRICTED", hk.data);
            buf_free(&hk);
            json_decref(own);
            json_decref(root);
            return;
        }
    }
    if (hist)
        get_history(srv, u, seq, chan, chan_len, ch, meta, json_array_get(root, 2));
    else if (range)
        get_history_range(srv, u, seq, chan, json_array_get(root, 2));
    else
        get_full_history(srv, u, seq, chan);
    json_decref(own);
    json_decref(root);
}

/* ---- the write path ---------------------------------------------------- */

static void pending_free(struct pending *p)
{
    free(p->wpm_txid);
    json_decref(p->seq);
    json_decref(p->frame);
    sbuf_unref(p->out);
    user_unref(p->u);
    channel_unref(p->ch);
    free(p);
}

/* Relays a committed message and ACKs its sender. */
static void release(struct pending *p)
{
    struct channel *ch = p->ch;
    if (ch->name_len == 33) {
        /* The admin broadcast channel has no member list: its messages (only
         * WRITE_PRIVATE_MESSAGE by an admin) go to every connected user, as
         * chainpad-server's getChannelUserList does for 33-char channels. */
        struct user *to, *tmp;
        HASH_ITER(hh, p->srv->users, to, tmp) nf_send_sbuf(to, p->out);
    } else if (ch->live) {
        struct membership *m;
        DL_FOREACH2(ch->members, m, cnext) if (m->u != p->u || p->wpm) nf_send_sbuf(m->u, p->out);
    }
    p->srv->msgs_relayed++;
    if (!p->wpm) {
        nf_send_ack(p->u, p->seq);
    } else {
        char body[128];
        snprintf(body, sizeof body, "[%s,null,%lld,null]", p->wpm_txid, p->time);
        hk_send_notice(p->srv, p->u, body);
    }
    pending_free(p);
}

/* Tells the sender its write failed: [seq,"ERROR"], or an RPC error. */
static void refuse(struct pending *p, const char *rpc_code)
{
    if (!p->wpm) {
        nf_send_error(p->u, p->seq, NULL, NULL);
        return;
    }
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%s,\"ERROR\",", p->wpm_txid);
    jsonw_cstr(&b, rpc_code);
    buf_appendc(&b, ']');
    hk_send_notice(p->srv, p->u, b.data);
    buf_free(&b);
}

static void sync_after(uv_work_t *w, int status);

static void sync_work(uv_work_t *w)
{
    struct server *srv = w->data;
    store_sync_run(srv->sync_batch);
}

static void sync_start(uv_timer_t *t)
{
    struct server *srv = t->data;
    if (srv->sync_busy || !srv->dur_head)
        return;
    srv->sync_batch = store_sync_begin(srv->store);
    srv->sync_head = srv->dur_head;
    srv->dur_head = srv->dur_tail = NULL;
    if (!srv->sync_batch) {
        sync_after(&srv->sync_work, 0);
        return;
    }
    srv->sync_busy = true;
    srv->sync_work.data = srv;
    srv->pending_work++;
    uv_queue_work(srv->loop, &srv->sync_work, sync_work, sync_after);
}

static void sync_after(uv_work_t *w, int status)
{
    struct server *srv = w->data ? w->data : NULL;
    if (!srv)
        return;
    int rc = 0;
    if (srv->sync_busy) {
        srv->pending_work--;
        srv->sync_busy = false;
        rc = store_sync_end(srv->store, srv->sync_batch);
        srv->sync_batch = NULL;
    }
    struct pending *p = srv->sync_head, *next;
    srv->sync_head = NULL;
    for (; p; p = next) {
        next = p->next;
        if (rc == 0) {
            release(p);
        } else {
            /* The data may not be on disk: tell the sender, relay nothing. */
            refuse(p, bp_strerror(rc));
            pending_free(p);
        }
    }
    if (srv->dur_head)
        hk_sync_kick(srv);
}

void hk_sync_kick(struct server *srv)
{
    if (srv->sync_busy || uv_is_active((uv_handle_t *)&srv->sync_timer))
        return;
    uv_timer_start(&srv->sync_timer, sync_start, srv->cfg.fsync_interval, 0);
}

/* Appends the head message of a channel queue; relays it or queues it for
 * the next fsync batch. Consumes p. */
static void commit(struct pending *p)
{
    struct server *srv = p->srv;
    struct channel *ch = p->ch;
    if (ch->deleted) {
        refuse(p, "EDELETED");
        pending_free(p);
        return;
    }
    if (p->needs_verify && p->verify_rc != 0) {
        LOG_DEBUG("hk: refused a badly signed message for %s", ch->name);
        refuse(p, "FAILED_VALIDATION");
        pending_free(p);
        return;
    }
    size_t pre, idl;
    const char *cpid;
    bool is_cp = msg_checkpoint(p->content, p->clen, &pre, &cpid, &idl);
    struct buf b = BUF_INIT;
    buf_appends(&b, "[0,");
    if (p->wpm)
        buf_appends(&b, "null");
    else
        jsonw_cstr(&b, p->u->id);
    for (size_t i = 1; i < json_array_size(p->frame); i++) {
        buf_appendc(&b, ',');
        jsonw_value(&b, json_array_get(p->frame, i));
    }
    if (is_cp && idl) {
        size_t n = idl < MSG_CP_ID_MAX ? idl : MSG_CP_ID_MAX;
        if (ch->has_last_cp && strlen(ch->last_cp) == n && memcmp(ch->last_cp, cpid, n) == 0) {
            /* Duplicate checkpoint: relayed without timestamp, not stored. */
            buf_appendc(&b, ']');
            p->out = sbuf_from_buf(&b);
            buf_free(&b);
            release(p);
            return;
        }
    }
    p->time = server_now_ms();
    buf_appendf(&b, ",%lld]\n", p->time);
    int rc = BP_EBADID;
    struct store_chan *sc = NULL;
    if (store_id_valid(ch->name, ch->name_len))
        rc = store_chan_open(srv->store, ch->name, &sc);
    if (rc == 0)
        rc = store_append(srv->store, sc, b.data, b.len, p->content, p->clen);
    store_chan_release(srv->store, sc);
    if (rc < 0) {
        if (rc != BP_EBADID)
            LOG_WARN("hk: write to %s refused: %s", ch->name, bp_strerror(rc));
        refuse(p, bp_strerror(rc));
        buf_free(&b);
        pending_free(p);
        return;
    }
    if (is_cp && idl) {
        size_t n = idl < MSG_CP_ID_MAX ? idl : MSG_CP_ID_MAX;
        memcpy(ch->last_cp, cpid, n);
        ch->last_cp[n] = '\0';
        ch->has_last_cp = true;
    }
    srv->msgs_stored++;
    b.len--; /* the frame is the line without its '\n' */
    b.data[b.len] = '\0';
    p->out = sbuf_from_buf(&b);
    buf_free(&b);
    if (store_fsync_mode(srv->store) == STORE_FSYNC_GROUP) {
        p->next = NULL;
        if (srv->dur_tail)
            srv->dur_tail->next = p;
        else
            srv->dur_head = p;
        srv->dur_tail = p;
        hk_sync_kick(srv);
    } else {
        release(p);
    }
}

static void channel_drain(struct channel *ch)
{
    struct pending *p;
    while ((p = ch->q_head) && (!p->needs_verify || p->verified)) {
        ch->q_head = p->next;
        if (!ch->q_head)
            ch->q_tail = NULL;
        p->next = NULL;
        commit(p);
    }
}

/* Signature checks run on the thread pool in batches: at most vjobs_max
 * jobs (two per CPU) are in flight; messages that arrive meanwhile wait in
 * srv->vq and the next job takes a share of them. At light load every
 * message gets a job of its own (no added latency); under load one hand-off
 * to a worker and one wake-up of the loop serve many messages. */
struct verify_job {
    uv_work_t work;
    struct server *srv;
    size_t n;
    struct pending *items[]; /* each holds a channel reference */
};

#define VERIFY_BATCH_MAX 256

static void verify_work(uv_work_t *w)
{
    struct verify_job *j = w->data;
    for (size_t i = 0; i < j->n; i++) {
        struct pending *p = j->items[i];
        p->verify_rc = msg_verify(p->vkey, p->content, p->clen);
    }
}

static void verify_dispatch(struct server *srv);

static void verify_after(uv_work_t *w, int status)
{
    struct verify_job *j = w->data;
    struct server *srv = j->srv;
    srv->pending_work--;
    srv->vjobs--;
    /* Mark first, then drain each channel once: draining may free items. */
    struct channel **chans = xmalloc(j->n * sizeof *chans);
    size_t nc = 0;
    for (size_t i = 0; i < j->n; i++) {
        struct pending *p = j->items[i];
        p->verified = true;
        if (status != 0)
            p->verify_rc = BP_ESIG;
        if (!p->ch->drain_mark) {
            p->ch->drain_mark = true;
            p->ch->refs++;
            chans[nc++] = p->ch;
        }
    }
    free(j);
    for (size_t i = 0; i < nc; i++) {
        chans[i]->drain_mark = false;
        channel_drain(chans[i]);
        channel_unref(chans[i]);
    }
    free(chans);
    verify_dispatch(srv);
}

static void verify_dispatch(struct server *srv)
{
    while (srv->vq_len && srv->vjobs < srv->vjobs_max) {
        size_t share = (srv->vq_len + (srv->vjobs_max - srv->vjobs) - 1) / (srv->vjobs_max - srv->vjobs);
        if (share > VERIFY_BATCH_MAX)
            share = VERIFY_BATCH_MAX;
        struct verify_job *j = xmalloc(sizeof *j + share * sizeof j->items[0]);
        j->srv = srv;
        j->n = share;
        memcpy(j->items, srv->vq, share * sizeof j->items[0]);
        memmove(srv->vq, srv->vq + share, (srv->vq_len - share) * sizeof srv->vq[0]);
        srv->vq_len -= share;
        j->work.data = j;
        srv->vjobs++;
        srv->pending_work++;
        uv_queue_work(srv->loop, &j->work, verify_work, verify_after);
    }
}

static void enqueue(struct server *srv, struct pending *p)
{
    struct channel *ch = p->ch;
    if (ch->q_tail)
        ch->q_tail->next = p;
    else
        ch->q_head = p;
    ch->q_tail = p;
    if (p->needs_verify) {
        if (srv->vq_len == srv->vq_cap) {
            srv->vq_cap = srv->vq_cap ? srv->vq_cap * 2 : 64;
            srv->vq = xrealloc(srv->vq, srv->vq_cap * sizeof *srv->vq);
        }
        srv->vq[srv->vq_len++] = p;
        verify_dispatch(srv);
    } else {
        ch->refs++;
        channel_drain(ch);
        channel_unref(ch);
    }
}

static struct pending *pending_new(struct server *srv, struct user *u, struct channel *ch, json_t *frame)
{
    struct pending *p = xcalloc(1, sizeof *p);
    p->srv = srv;
    p->ch = ch;
    ch->refs++;
    p->u = u;
    u->refs++;
    p->frame = json_incref(frame);
    const json_t *content = json_array_get(frame, 3);
    p->content = json_string_value(content);
    p->clen = json_string_length(content);
    if (ch->has_vkey) {
        p->needs_verify = true;
        memcpy(p->vkey, ch->vkey, 32);
    }
    return p;
}

void hk_private_write(struct server *srv, struct user *u, struct channel *ch, const char *txid, json_t *content)
{
    json_t *frame = json_pack("[i,s,s,o]", 0, "MSG", ch->name, content);
    struct pending *p = pending_new(srv, u, ch, frame);
    json_decref(frame);
    p->wpm = true;
    p->wpm_txid = xstrdup(txid);
    p->seq = json_null();
    enqueue(srv, p);
}

void hk_channel_write(struct server *srv, struct user *u, struct channel *ch, const json_t *seq, json_t *frame)
{
    bool member = nf_is_member(ch, u);
    const json_t *meta = ch->name_len == 32 ? nf_channel_meta(ch) : NULL;
    if (meta && meta_restricted(meta) && !member) {
        nf_send_error(u, seq, NULL, NULL);
        return;
    }
    if (meta && expired(meta)) {
        /* Refused (the reference meant to, NETFLUX.md §4.4) with the notice. */
        nf_send_error(u, seq, NULL, NULL);
        struct buf nb = BUF_INIT;
        error_body(&nb, "EEXPIRED", NULL, ch->name, NULL);
        notify_members(ch, nb.data);
        if (!member)
            hk_send_notice(srv, u, nb.data);
        buf_free(&nb);
        hk_expired_access(srv, ch->name, meta);
        return;
    }
    if (!store_id_valid(ch->name, ch->name_len)) {
        nf_send_error(u, seq, NULL, NULL);
        return;
    }
    struct pending *p = pending_new(srv, u, ch, frame);
    p->seq = json_incref((json_t *)seq);
    enqueue(srv, p);
}

/* At shutdown, after the network is down: makes written messages durable and
 * drops what still waits for a batch (nobody is left to relay it to). */
void hk_shutdown(struct server *srv)
{
    struct store_sync *b = store_sync_begin(srv->store);
    if (b) {
        store_sync_run(b);
        store_sync_end(srv->store, b);
    }
    struct pending *p, *next;
    for (p = srv->dur_head; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    srv->dur_head = srv->dur_tail = NULL;
}

/* ---- archive, restore, expiry ------------------------------------------ */

int hk_archive_channel_then(struct server *srv, const char *id, const char *reason, void (*archived)(void *arg),
                            void *arg)
{
    if (!store_id_valid(id, strlen(id)))
        return BP_EBADID;
    int rc = store_archive(srv->store, id, reason);
    if (rc < 0)
        return rc;
    if (archived)
        archived(arg);
    struct channel *ch = nf_channel_find(srv, id);
    if (ch) {
        if (reason) {
            struct buf b = BUF_INIT;
            error_body(&b, "EDELETED", reason, id, NULL);
            notify_members(ch, b.data);
            buf_free(&b);
        }
        ch->deleted = true;  /* writes still queued are refused (EDELETED) */
        nf_channel_drop(ch); /* no LEAVE frames (observed) */
    }
    return 0;
}

int hk_archive_channel(struct server *srv, const char *id, const char *reason)
{
    return hk_archive_channel_then(srv, id, reason, NULL, NULL);
}

int hk_restore_channel(struct server *srv, const char *id)
{
    int rc = store_restore(srv->store, id);
    if (rc < 0)
        return rc;
    struct channel *ch = nf_channel_find(srv, id);
    if (ch && ch->name_len == 32)
        nf_channel_set_meta(ch, nf_meta_read(srv, id)); /* it was read while the channel was gone */
    return 0;
}

#define EXPIRE_OVERDUE_MS (24LL * 3600 * 1000)

void hk_expired_access(struct server *srv, const char *id, const json_t *meta)
{
    long long e = meta ? meta_expire(meta) : 0;
    if (!e || server_now_ms() - e < EXPIRE_OVERDUE_MS)
        return;
    /* Its EXPIRE task did not run (no task, a lost task directory): archive
     * it now, as the reference's checkExpired does. The members have just had
     * the EEXPIRED notice; the channel stays in memory with its metadata, so
     * they keep being refused until they leave. */
    int rc = store_archive(srv->store, id, "EXPIRED");
    if (rc == 0)
        LOG_INFO("hk: channel %s found more than a day past its expiry: archived", id);
    else if (rc != BP_ENOENT)
        LOG_WARN("hk: archiving the expired channel %s: %s", id, bp_strerror(rc));
}
