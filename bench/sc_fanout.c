/* sc_fanout.c: scenarios s1 (fan-out), s4 (signed writes) and s5 (slow
 * consumer), which share one engine.
 *
 * Setup: C channels (fresh random 32-hex ids) x U users; every user connects,
 * waits for IDENT and JOINs its channel (at most --inflight connects at
 * once). s4 then has the first user of each channel create it with a
 * validateKey (GET_HISTORY with cfg.metadata, NETFLUX.md §3.3); s5 adds one
 * extra member that never sends. The measured phase starts when all of this
 * is done.
 *
 * Sending: at a fixed total --rate (a 1 ms timer sends whatever the schedule
 * says is due, round-robin over the users) or, with --rate 0, in a closed
 * loop where every user keeps --window messages un-ACKed. Every message is
 * recorded in the track table (lg_track.h) under its first 64 characters with
 * its send time and the number of other members of its channel; each receipt
 * adds one end-to-end latency sample, the last one also a "fan-out complete"
 * sample, and the ACK an ack-latency sample. After --duration (or --messages)
 * sending stops and in-flight messages get --drain-timeout to arrive.
 *
 * s5: after --warmup the extra member stops reading its socket
 * (uv_read_stop; the TCP connection stays open). Samples are split by send
 * time into before/during the stall; the server's RSS is sampled every
 * 250 ms; the slow member counts as disconnected when another member sees its
 * LEAVE (or, failing that, when the kernel shows the server's side of its
 * socket closed). */
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "lg.h"
#include "lg_conn.h"
#include "lg_hist.h"
#include "lg_track.h"

#define OUT_LIMIT ((size_t)4 << 20)  /* skip a send while this much is unsent on a conn */
#define EMPTY_SLOT UINT64_MAX

enum fo_phase { FO_CONNECT, FO_CREATE, FO_RUN, FO_DRAIN, FO_DONE };
enum { CP_NEW = 0, CP_JOINED, CP_CREATING, CP_GONE };   /* conn->phase */

struct sigchan {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    char vk[64];        /* base64(pk) */
    char owner[64];     /* base64 of another random Ed25519 public key */
    char *arena;        /* n pre-signed contents of clen bytes each */
    uint32_t n, next;
    bool created;       /* metadata with our validateKey came back */
};

struct fo {
    struct lg *lg;
    int kind;                 /* 1, 4 or 5 */
    uint32_t nchan, upc;      /* channels, senders per channel */
    uint32_t nsend;           /* senders = nchan * upc; s5 adds one conn after them */
    uint32_t nconn;
    uint32_t window;
    size_t msg_size;
    double rate, duration;
    uint64_t cap;             /* --messages, 0 = none */
    struct conn **c;          /* nconn entries; NULL once closed */
    char (*chan)[33];
    uint32_t *members;        /* joined senders per channel */
    struct track tr;
    struct pacer pacer;
    uv_timer_t tick;
    enum fo_phase phase;
    uint32_t joined, setup_failed, created;
    uint64_t t_setup0, t_run0, t_send_end, t_end;
    uint64_t sched;           /* messages due so far at a fixed rate */
    uint32_t rr;              /* round-robin cursor */
    bool stopped;

    uint64_t sent, acked, rejected, deliveries, expected, unknown, extra;
    uint64_t skip_window, skip_table, skip_buffer, skip_pool, lost_conns, unacked_lost;
    uint64_t lag_max_ns;      /* fixed rate: worst delay between due time and the actual send */
    struct hist e2e[2], full[2], ack[2];

    /* s4 */
    struct sigchan *sig;
    size_t clen, plen;        /* content and payload bytes */
    double sign_s;
    uint64_t bad_sent, bad_acked, good_rejected, create_mismatch;

    /* s5 */
    struct conn *slow;
    bool stalled, slow_gone;
    uint64_t t_stall, slow_recv, t_gone;
    const char *gone_how;
    uv_timer_t sampler;
    bool sampler_on;
    struct buf samples;       /* JSON fragments "[t,kb]," */
    long rss_max, rss_last;
    long srv_txq_max, our_rxq_max;
    unsigned slow_lport;
};

static double ns_to_s(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void fo_stop(struct lg *lg);

/* ---- sending ---- */

static void end_sending(struct fo *fo, const char *why)
{
    if (fo->phase != FO_RUN)
        return;
    fo->phase = FO_DRAIN;
    fo->t_send_end = uv_hrtime();
    lg_log(fo->lg, "sending stopped (%s) after %.2fs: sent %llu; draining %u in flight", why,
           ns_to_s(fo->t_send_end - fo->t_run0), (unsigned long long)fo->sent, fo->tr.used);
}

/* Sends one message on c. Returns 0, or -1 if it had to be skipped. */
static int send_one(struct fo *fo, struct conn *c)
{
    struct lg *lg = fo->lg;
    if (fo->phase != FO_RUN || !c || c->phase != CP_JOINED || c->state != CS_OPEN)
        return -1;
    if (fo->cap && fo->sent >= fo->cap) {
        end_sending(fo, "--messages reached");
        return -1;
    }
    uint64_t seq = c->seq + 1;
    uint64_t *slot = &c->ring[seq & c->ring_mask];
    if (c->outstanding >= fo->window || *slot != EMPTY_SLOT) {
        fo->skip_window++;
        return -1;
    }
    if (conn_out_pending(c) > OUT_LIMIT) {
        fo->skip_buffer++;
        return -1;
    }
    struct buf *b = &lg->scratch;
    b->len = 0;
    size_t at;
    bool bad = false;
    if (fo->kind == 4) {
        struct sigchan *sc = &fo->sig[c->group];
        if (sc->next >= sc->n) {
            fo->skip_pool++;
            return -1;
        }
        const char *content = sc->arena + (size_t)sc->next++ * fo->clen;
        buf_appendf(b, "[%llu,\"MSG\",\"%s\",\"", (unsigned long long)seq, fo->chan[c->group]);
        at = b->len;
        buf_append(b, content, fo->clen);
        buf_append(b, "\"]", 2);
        if (lg->o.bad_every > 0 && (fo->sent + 1) % (uint64_t)lg->o.bad_every == 0) {
            /* corrupt one character of the signature: still valid base64 */
            char *x = b->data + at + 10;
            *x = *x == 'A' ? 'B' : 'A';
            bad = true;
        }
    } else {
        at = lg_msg_frame(lg, b, seq, fo->chan[c->group], fo->msg_size);
    }
    uint64_t now = uv_hrtime();
    uint32_t id = track_add(&fo->tr, b->data + at, TRACK_KEY, now);
    if (id == TRACK_NONE) {
        fo->skip_table++;
        return -1;
    }
    struct track_rec *r = &fo->tr.rec[id];
    uint32_t m = fo->members[c->group];
    r->expect = bad ? 0 : (m ? m - 1 : 0);
    r->remaining = r->expect;
    r->phase = fo->stalled ? 1 : 0;
    r->tag = bad;
    c->seq = seq;
    *slot = (seq << 32) | id;
    c->outstanding++;
    fo->sent++;
    if (bad)
        fo->bad_sent++;
    r->t_send = uv_hrtime();
    if (conn_send(c, b->data, b->len) != 0) {
        /* the conn is closing: forget the message */
        *slot = EMPTY_SLOT;
        c->outstanding--;
        fo->sent--;
        track_del(&fo->tr, id);
        return -1;
    }
    return 0;
}

/* Fixed rate: send what is due. Closed loop: nothing to do here. */
static void send_due(struct fo *fo, uint64_t now)
{
    if (fo->rate <= 0 || fo->phase != FO_RUN)
        return;
    uint64_t due = (uint64_t)(fo->rate * ns_to_s(now - fo->t_run0));
    uint64_t limit = fo->sched + 100000; /* bound one tick's work */
    while (fo->sched < due && fo->sched < limit && fo->phase == FO_RUN) {
        uint64_t due_at = fo->t_run0 + (uint64_t)((double)fo->sched * 1e9 / fo->rate);
        fo->sched++;
        struct conn *c = NULL;
        for (uint32_t k = 0; k < fo->nsend && !c; k++) {
            c = fo->c[fo->rr];
            fo->rr = (fo->rr + 1) % fo->nsend;
            if (c && c->phase != CP_JOINED)
                c = NULL;
        }
        if (!c)
            break;
        if (send_one(fo, c) == 0) {
            uint64_t t = uv_hrtime();
            if (t > due_at && t - due_at > fo->lag_max_ns)
                fo->lag_max_ns = t - due_at;
        }
    }
}

static void finish(struct fo *fo)
{
    fo->t_end = uv_hrtime();
    lg_measure_end(fo->lg);
    fo_stop(fo->lg);
}

static void on_tick(uv_timer_t *t)
{
    struct fo *fo = t->data;
    struct lg *lg = fo->lg;
    uint64_t now = uv_hrtime();
    switch (fo->phase) {
    case FO_CONNECT:
    case FO_CREATE:
        if (ns_to_s(now - fo->t_setup0) > lg->o.setup_timeout) {
            lg_log(lg, "setup did not finish within %.0fs (%u/%u joined, %u/%u created)", lg->o.setup_timeout,
                   fo->joined, fo->nconn, fo->created, fo->kind == 4 ? fo->nchan : 0);
            lg->abort_reason = "setup timeout";
            fo_stop(lg);
        }
        break;
    case FO_RUN:
        if (fo->kind == 5 && !fo->stalled && fo->slow && ns_to_s(now - fo->t_run0) >= lg->o.warmup) {
            fo->stalled = true;
            fo->t_stall = now;
            conn_stop_reading(fo->slow);
            lg_log(lg, "slow consumer stops reading (it received %llu messages so far)",
                   (unsigned long long)fo->slow_recv);
        }
        send_due(fo, now);
        if (fo->phase == FO_RUN && ns_to_s(now - fo->t_run0) >= fo->duration)
            end_sending(fo, "--duration reached");
        break;
    case FO_DRAIN:
        if (fo->tr.used == 0 || ns_to_s(now - fo->t_send_end) >= lg->o.drain_timeout)
            finish(fo);
        break;
    case FO_DONE:
        break;
    }
}

/* ---- s5 sampler ---- */

static void on_sample(uv_timer_t *t)
{
    struct fo *fo = t->data;
    struct lg *lg = fo->lg;
    uint64_t now = uv_hrtime();
    double at = ns_to_s(now - fo->t_run0);
    long rss = lg->o.npids ? proc_rss_kb(lg->o.pids, lg->o.npids) : -1;
    if (rss >= 0) {
        buf_appendf(&fo->samples, "%s[%.2f,%ld]", fo->samples.len ? "," : "", at, rss);
        if (rss > fo->rss_max)
            fo->rss_max = rss;
        fo->rss_last = rss;
    }
    if (!fo->slow || fo->slow_gone || !fo->slow_lport)
        return;
    int st;
    long tx, rx;
    /* the server's side of the slow member's socket */
    if (proc_tcp_lookup(lg->o.port, fo->slow_lport, &st, &tx, &rx) == 0) {
        if (tx > fo->srv_txq_max)
            fo->srv_txq_max = tx;
        if (st != 1 && fo->stalled) {
            fo->slow_gone = true;
            fo->t_gone = now;
            fo->gone_how = "server closed its socket (kernel state left ESTABLISHED)";
        }
    } else if (fo->stalled) {
        fo->slow_gone = true;
        fo->t_gone = now;
        fo->gone_how = "server socket released (reset)";
    }
    if (proc_tcp_lookup(fo->slow_lport, lg->o.port, &st, &tx, &rx) == 0 && rx > fo->our_rxq_max)
        fo->our_rxq_max = rx;
    if (fo->slow_gone)
        lg_log(lg, "slow consumer disconnected %.2fs into the stall: %s", ns_to_s(fo->t_gone - fo->t_stall),
               fo->gone_how);
}

/* ---- run ---- */

static void start_run(struct fo *fo)
{
    struct lg *lg = fo->lg;
    fo->phase = FO_RUN;
    lg_log(lg, "setup done in %.2fs: %u connections joined%s; sending for %.1fs %s", lg_elapsed(lg),
           fo->joined, fo->setup_failed ? " (some failed)" : "", fo->duration,
           fo->rate > 0 ? "at a fixed rate" : "in a closed loop");
    lg_measure_begin(lg);
    fo->t_run0 = uv_hrtime();
    if (fo->kind == 5) {
        uv_timer_init(lg->loop, &fo->sampler);
        fo->sampler.data = fo;
        fo->sampler_on = true;
        uv_timer_start(&fo->sampler, on_sample, 0, 250);
    }
    if (fo->rate <= 0)
        for (uint32_t w = 0; w < fo->window && fo->phase == FO_RUN; w++)
            for (uint32_t i = 0; i < fo->nsend && fo->phase == FO_RUN; i++)
                send_one(fo, fo->c[i]);
}

static void create_channels(struct fo *fo)
{
    struct lg *lg = fo->lg;
    fo->phase = FO_CREATE;
    for (uint32_t ch = 0; ch < fo->nchan; ch++) {
        struct conn *c = NULL;
        for (uint32_t u = 0; u < fo->upc && !c; u++) {
            c = fo->c[ch * fo->upc + u];
            if (c && c->phase != CP_JOINED)
                c = NULL;
        }
        if (!c) {
            fo->created++;
            continue;
        }
        c->phase = CP_CREATING;
        c->aux = ++c->seq;
        const struct sigchan *s = &fo->sig[ch];
        conn_sendf(c,
                   "[%llu,\"MSG\",\"%s\",\"[\\\"GET_HISTORY\\\",\\\"%s\\\",{\\\"txid\\\":%u,\\\"priority\\\":2,"
                   "\\\"metadata\\\":{\\\"validateKey\\\":\\\"%s\\\",\\\"owners\\\":[\\\"%s\\\"]}}]\"]",
                   (unsigned long long)c->aux, c->hk, fo->chan[ch], ch + 1, s->vk, s->owner);
    }
    if (fo->created == fo->nchan)
        start_run(fo);
    else
        lg_log(lg, "creating %u channels with a validateKey", fo->nchan);
}

static void setup_progress(struct fo *fo)
{
    if (fo->phase != FO_CONNECT || fo->joined + fo->setup_failed < fo->nconn)
        return;
    if (fo->joined == 0) {
        fo->lg->abort_reason = "no connection could join";
        fo_stop(fo->lg);
        return;
    }
    if (fo->kind == 4)
        create_channels(fo);
    else
        start_run(fo);
}

/* ---- connection callbacks ---- */

static void fo_on_ident(struct conn *c)
{
    struct fo *fo = c->lg->st;
    conn_join(c, fo->chan[c->group]);
}

static void fo_on_joined(struct conn *c)
{
    struct fo *fo = c->lg->st;
    if (c->phase != CP_NEW)
        return;
    c->phase = CP_JOINED;
    if (c != fo->slow)
        fo->members[c->group]++;
    else
        fo->slow_lport = c->lport;
    fo->joined++;
    pacer_done(&fo->pacer);
    setup_progress(fo);
}

static void on_ack(struct fo *fo, struct conn *c, uint64_t seq, bool ok)
{
    uint64_t *slot = &c->ring[seq & c->ring_mask];
    if (*slot == EMPTY_SLOT || (*slot >> 32) != (seq & 0xffffffffu))
        return;
    uint32_t id = (uint32_t)(*slot & 0xffffffffu);
    *slot = EMPTY_SLOT;
    c->outstanding--;
    struct track_rec *r = &fo->tr.rec[id];
    if (ok) {
        fo->acked++;
        fo->expected += r->expect;
        hist_add(&fo->ack[r->phase], c->now - r->t_send);
        if (r->tag)
            fo->bad_acked++;
    } else {
        fo->rejected++;
        if (!r->tag)
            fo->good_rejected++;
        r->remaining = 0;
    }
    r->acked = 1;
    if (r->remaining == 0)
        track_del(&fo->tr, id);
    if (fo->rate <= 0)
        send_one(fo, c);
}

static void on_delivery(struct fo *fo, struct conn *c, const struct nf_el *content)
{
    uint32_t id = track_find(&fo->tr, content->p, content->len < TRACK_KEY ? content->len : TRACK_KEY);
    if (id == TRACK_NONE) {
        fo->unknown++;
        return;
    }
    struct track_rec *r = &fo->tr.rec[id];
    uint64_t lat = c->now - r->t_send;
    fo->deliveries++;
    hist_add(&fo->e2e[r->phase], lat);
    if (r->remaining == 0) {
        fo->extra++;
        return;
    }
    if (--r->remaining == 0) {
        hist_add(&fo->full[r->phase], lat);
        if (r->acked)
            track_del(&fo->tr, id);
    }
}

static void on_history(struct fo *fo, struct conn *c, const struct nf_frame *f)
{
    const struct nf_el *body = &f->el[4];
    struct sigchan *s = &fo->sig[c->group];
    if (nf_strpre(f, 4, "{\\\"state\\\":1")) {
        if (!s->created) {
            fo->create_mismatch++;
            lg_log(fo->lg, "channel %s: no metadata with our validateKey came back", fo->chan[c->group]);
        }
        c->phase = CP_JOINED;
        if (++fo->created == fo->nchan)
            start_run(fo);
    } else if (nf_strpre(f, 4, "{\\\"error\\\"")) {
        lg_log(fo->lg, "GET_HISTORY error: %.*s", (int)body->len, body->p);
        fo->create_mismatch++;
        c->phase = CP_JOINED;
        if (++fo->created == fo->nchan)
            start_run(fo);
    } else if (body->len && body->p[0] == '{') {
        char want[96];
        snprintf(want, sizeof(want), "\\\"validateKey\\\":\\\"%s\\\"", s->vk);
        if (memmem(body->p, body->len, want, strlen(want)))
            s->created = true;
    }
}

static void fo_on_frame(struct conn *c, const struct nf_frame *f)
{
    struct fo *fo = c->lg->st;
    int64_t seq = nf_uint(f, 0);
    if (seq > 0) {
        bool ack = nf_streq(f, 1, "ACK");
        if (ack || nf_streq(f, 1, "ERROR")) {
            if ((uint64_t)seq == c->join_seq && !ack) {
                lg_log(fo->lg, "JOIN refused: %.*s", f->n > 2 ? (int)f->el[2].len : 0, f->n > 2 ? f->el[2].p : "");
                conn_close(c, LG_EPROTO);
                return;
            }
            if (c->ring)
                on_ack(fo, c, (uint64_t)seq, ack);
        }
        return;
    }
    if (seq != 0 || f->n < 5 || !nf_streq(f, 2, "MSG"))
        goto other;
    if (c == fo->slow) {
        fo->slow_recv++;
        return;
    }
    if (f->el[3].len == 32 && memcmp(f->el[3].p, fo->chan[c->group], 32) == 0 && f->el[4].type == NF_STR) {
        on_delivery(fo, c, &f->el[4]);
        return;
    }
    if (c->phase == CP_CREATING && f->el[1].len == 16 && f->el[4].type == NF_STR) {
        on_history(fo, c, f);
        return;
    }
other:
    /* the slow member leaving, seen by the others */
    if (seq == 0 && f->n >= 4 && nf_streq(f, 2, "LEAVE") && fo->slow && !fo->slow_gone && c != fo->slow &&
        f->el[1].len == strlen(fo->slow->id) && memcmp(f->el[1].p, fo->slow->id, f->el[1].len) == 0) {
        fo->slow_gone = true;
        fo->t_gone = c->now;
        fo->gone_how = "LEAVE of the slow member seen by the other members";
        lg_log(fo->lg, "slow consumer disconnected by the server %.2fs into the stall",
               fo->stalled ? ns_to_s(fo->t_gone - fo->t_stall) : -1.0);
    }
}

static void fo_on_close(struct conn *c)
{
    struct fo *fo = c->lg->st;
    if (c->idx < fo->nconn && fo->c[c->idx] == c)
        fo->c[c->idx] = NULL;
    if (c == fo->slow)
        fo->slow = NULL;
    if (fo->phase == FO_DONE)
        return;
    if (c->phase == CP_NEW) {
        fo->setup_failed++;
        lg_log(fo->lg, "connection %u failed during setup: %s", c->idx, lg_strerror(c->err));
        pacer_done(&fo->pacer);
        setup_progress(fo);
        return;
    }
    fo->lost_conns++;
    if (c->phase == CP_JOINED && fo->members[c->group] && c->idx < fo->nsend)
        fo->members[c->group]--;
    if (fo->lost_conns <= 10)
        lg_log(fo->lg, "connection %u lost: %s", c->idx, lg_strerror(c->err));
    /* its un-ACKed messages will never be ACKed: stop waiting for that part */
    for (uint32_t k = 0; c->ring && k <= c->ring_mask; k++) {
        if (c->ring[k] == EMPTY_SLOT)
            continue;
        uint32_t id = (uint32_t)(c->ring[k] & 0xffffffffu);
        fo->unacked_lost++;
        fo->tr.rec[id].acked = 1;
        if (fo->tr.rec[id].remaining == 0)
            track_del(&fo->tr, id);
    }
    if (c->phase == CP_CREATING && ++fo->created == fo->nchan)
        start_run(fo);
    if (c->idx < fo->nsend && fo->phase >= FO_CREATE && fo->phase <= FO_DRAIN) {
        bool any = false;
        for (uint32_t i = 0; i < fo->nsend && !any; i++)
            any = fo->c[i] != NULL;
        if (!any) {
            fo->lg->abort_reason = "every sending connection was lost";
            lg_log(fo->lg, "%s", fo->lg->abort_reason);
            end_sending(fo, "no connection left");
            finish(fo);
        }
    }
}

static const struct conn_ops fo_ops = {fo_on_ident, fo_on_joined, fo_on_frame, fo_on_close};

static void fo_start_conn(struct pacer *p, uint32_t i)
{
    struct fo *fo = p->lg->st;
    struct conn *c = conn_new(p->lg, &fo_ops, i);
    c->group = i < fo->nsend ? i / fo->upc : 0;
    if (i < fo->nsend) {
        uint32_t ring = 1;
        while (ring < fo->window)
            ring *= 2;
        c->ring = xmalloc(ring * sizeof(*c->ring));
        for (uint32_t k = 0; k < ring; k++)
            c->ring[k] = EMPTY_SLOT;
        c->ring_mask = ring - 1;
    } else {
        fo->slow = c;
    }
    fo->c[i] = c;
    conn_connect(c);
}

/* ---- s4 pre-signing and the verify benchmark ---- */

static void presign(struct fo *fo)
{
    struct lg *lg = fo->lg;
    uint64_t total = fo->cap;
    uint32_t per = (uint32_t)((total + fo->nchan - 1) / fo->nchan);
    /* payload = base64(24-byte nonce) "|" base64(ciphertext), about --msg-size bytes */
    size_t ctb64 = fo->msg_size > 33 + 4 ? (fo->msg_size - 33) / 4 * 4 : 4;
    size_t ctlen = ctb64 / 4 * 3;
    fo->plen = 32 + 1 + ctb64;
    fo->clen = sodium_base64_ENCODED_LEN(crypto_sign_BYTES + fo->plen, sodium_base64_VARIANT_ORIGINAL) - 1;
    uint8_t *raw = xmalloc(24 + ctlen);
    char *payload = xmalloc(fo->plen + 1);
    uint8_t *sm = xmalloc(crypto_sign_BYTES + fo->plen);
    uint64_t t0 = uv_hrtime();
    fo->sig = xcalloc(fo->nchan, sizeof(*fo->sig));
    for (uint32_t ch = 0; ch < fo->nchan; ch++) {
        struct sigchan *s = &fo->sig[ch];
        uint8_t opk[crypto_sign_PUBLICKEYBYTES], osk[crypto_sign_SECRETKEYBYTES];
        crypto_sign_keypair(s->pk, s->sk);
        crypto_sign_keypair(opk, osk);
        sodium_bin2base64(s->vk, sizeof(s->vk), s->pk, sizeof(s->pk), sodium_base64_VARIANT_ORIGINAL);
        sodium_bin2base64(s->owner, sizeof(s->owner), opk, sizeof(opk), sodium_base64_VARIANT_ORIGINAL);
        s->n = per;
        s->arena = xmalloc((size_t)per * fo->clen + 1);
        for (uint32_t i = 0; i < per; i++) {
            for (size_t k = 0; k < 24 + ctlen; k += 8) {
                uint64_t v = rng_next(&lg->rng);
                memcpy(raw + k, &v, 24 + ctlen - k < 8 ? 24 + ctlen - k : 8);
            }
            sodium_bin2base64(payload, 33, raw, 24, sodium_base64_VARIANT_ORIGINAL);
            payload[32] = '|';
            sodium_bin2base64(payload + 33, ctb64 + 1, raw + 24, ctlen, sodium_base64_VARIANT_ORIGINAL);
            unsigned long long smlen;
            crypto_sign(sm, &smlen, (const uint8_t *)payload, fo->plen, s->sk);
            sodium_bin2base64(s->arena + (size_t)i * fo->clen, fo->clen + 1, sm, (size_t)smlen,
                              sodium_base64_VARIANT_ORIGINAL);
        }
    }
    fo->sign_s = ns_to_s(uv_hrtime() - t0);
    lg_log(lg, "pre-signed %llu messages (%zu-byte payloads, %zu-byte contents) in %.2fs",
           (unsigned long long)per * fo->nchan, fo->plen, fo->clen, fo->sign_s);
    free(raw);
    free(payload);
    free(sm);
}

struct vbench {
    const uint8_t *sig, *m, *pk;
    size_t mlen;
    double seconds;
    uint64_t count;
    int failures;
    int cpus;           /* CPUs this thread was allowed to run on */
};

/* The generator is usually pinned to one core (taskset); the verify limit is
 * about the machine, so its threads may run on every online CPU. */
static int widen_affinity(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++)
        CPU_SET((int)i, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        return -1;
    return CPU_COUNT(&set);
}

static void *verify_loop(void *arg)
{
    struct vbench *v = arg;
    v->cpus = widen_affinity();
    uint64_t t0 = uv_hrtime(), n = 0;
    for (;;) {
        for (int k = 0; k < 32; k++, n++)
            if (crypto_sign_verify_detached(v->sig, v->m, v->mlen, v->pk) != 0)
                v->failures++;
        if (ns_to_s(uv_hrtime() - t0) >= v->seconds)
            break;
    }
    v->count = n;
    return NULL;
}

/* Verifications per second of one message of the scenario's size on
 * nthreads threads, for about `seconds`. */
static double verify_rate(struct fo *fo, int nthreads, double seconds, int *cpus)
{
    const struct sigchan *s = &fo->sig[0];
    size_t smlen = crypto_sign_BYTES + fo->plen;
    uint8_t *sm = xmalloc(smlen);
    size_t got = 0;
    if (sodium_base642bin(sm, smlen, s->arena, fo->clen, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != smlen) {
        free(sm);
        return -1;
    }
    struct vbench vb[2];
    pthread_t th[2];
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < nthreads; i++) {
        vb[i] = (struct vbench){sm, sm + crypto_sign_BYTES, s->pk, fo->plen, seconds, 0, 0, 0};
        pthread_create(&th[i], NULL, verify_loop, &vb[i]);
    }
    uint64_t total = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        total += vb[i].count;
        *cpus = vb[i].cpus;
        if (vb[i].failures)
            total = 0;
    }
    double el = ns_to_s(uv_hrtime() - t0);
    free(sm);
    return total ? (double)total / el : -1;
}

/* ---- scenario hooks ---- */

static void fo_defaults_common(struct lg_opts *o)
{
    if (o->msg_size < 0)
        o->msg_size = 1024;
    if (o->rate < 0)
        o->rate = 0;
    if (o->window < 0)
        o->window = o->rate > 0 ? 64 : 4;
    if (o->inflight < 0)
        o->inflight = 256;
    if (o->conn_rate < 0)
        o->conn_rate = 0;
    if (o->messages < 0)
        o->messages = 0;
    if (o->bad_every < 0)
        o->bad_every = 0;
    if (o->window < 1)
        o->window = 1;
}

static void s1_defaults(struct lg_opts *o)
{
    if (o->channels < 0)
        o->channels = 100;
    if (o->users < 0)
        o->users = 10;
    if (o->duration < 0)
        o->duration = 10;
    fo_defaults_common(o);
}

static void s4_defaults(struct lg_opts *o)
{
    if (o->channels < 0)
        o->channels = 10;
    if (o->users < 0)
        o->users = 10;
    if (o->duration < 0)
        o->duration = 10;
    if (o->messages < 0 || o->messages == 0)
        o->messages = 20000;
    fo_defaults_common(o);
}

static void s5_defaults(struct lg_opts *o)
{
    if (o->channels < 0)
        o->channels = 1;
    if (o->users < 0)
        o->users = 10;
    if (o->duration < 0)
        o->duration = 20;
    if (o->rate < 0 || o->rate == 0)
        o->rate = 500;
    if (o->warmup < 0)
        o->warmup = o->duration / 4 < 5 ? o->duration / 4 : 5;
    fo_defaults_common(o);
}

static int fo_start(struct lg *lg, int kind)
{
    struct lg_opts *o = &lg->o;
    struct fo *fo = xcalloc(1, sizeof(*fo));
    lg->st = fo;
    fo->lg = lg;
    fo->kind = kind;
    fo->nchan = (uint32_t)o->channels;
    fo->upc = (uint32_t)o->users;
    if (fo->nchan < 1 || fo->upc < 1 || (kind != 5 && fo->upc < 2)) {
        fprintf(stderr, "loadgen: need --channels >= 1 and --users >= 2 (s5: >= 1)\n");
        return -1;
    }
    fo->nsend = fo->nchan * fo->upc;
    fo->nconn = fo->nsend + (kind == 5 ? 1 : 0);
    fo->window = (uint32_t)o->window;
    fo->msg_size = (size_t)o->msg_size;
    fo->rate = o->rate;
    fo->duration = o->duration;
    fo->cap = (uint64_t)o->messages;
    fo->c = xcalloc(fo->nconn, sizeof(*fo->c));
    fo->chan = xcalloc(fo->nchan, sizeof(*fo->chan));
    fo->members = xcalloc(fo->nchan, sizeof(*fo->members));
    for (uint32_t i = 0; i < fo->nchan; i++)
        rand_hex32(fo->chan[i]);
    uint64_t cap = (uint64_t)fo->nsend * fo->window * 2;
    if (cap < 65536)
        cap = 65536;
    if (cap > (1u << 22))
        cap = 1u << 22;
    track_init(&fo->tr, (uint32_t)cap);
    for (int i = 0; i < 2; i++) {
        hist_init(&fo->e2e[i]);
        hist_init(&fo->full[i]);
        hist_init(&fo->ack[i]);
    }
    fo->rss_max = fo->rss_last = -1;
    if (kind == 4)
        presign(fo);
    uv_timer_init(lg->loop, &fo->tick);
    fo->tick.data = fo;
    uv_timer_start(&fo->tick, on_tick, 1, 1);
    fo->t_setup0 = uv_hrtime();
    lg_log(lg, "connecting %u clients (%u channels x %u users%s)", fo->nconn, fo->nchan, fo->upc,
           kind == 5 ? " + 1 slow consumer" : "");
    pacer_init(&fo->pacer, lg, fo->nconn, (uint32_t)o->inflight, o->conn_rate, fo_start_conn);
    pacer_kick(&fo->pacer);
    return 0;
}

static int s1_start(struct lg *lg)
{
    return fo_start(lg, 1);
}

static int s4_start(struct lg *lg)
{
    return fo_start(lg, 4);
}

static int s5_start(struct lg *lg)
{
    return fo_start(lg, 5);
}

static void fo_stop(struct lg *lg)
{
    struct fo *fo = lg->st;
    if (!fo) {
        lg_done(lg);
        return;
    }
    if (fo->stopped)
        return;
    fo->stopped = true;
    if (fo->phase == FO_RUN || fo->phase == FO_DRAIN) {
        if (!fo->t_send_end)
            fo->t_send_end = uv_hrtime();
        if (!fo->t_end)
            fo->t_end = uv_hrtime();
    }
    fo->phase = FO_DONE;
    lg_measure_end(lg);
    pacer_stop(&fo->pacer);
    uv_close((uv_handle_t *)&fo->tick, NULL);
    if (fo->sampler_on)
        uv_close((uv_handle_t *)&fo->sampler, NULL);
    lg_close_all_conns(lg);
    lg_done(lg);
}

static void fo_progress(struct lg *lg)
{
    struct fo *fo = lg->st;
    if (!fo)
        return;
    if (fo->phase <= FO_CREATE)
        lg_log(lg, "setup: %u/%u joined, %u failed", fo->joined, fo->nconn, fo->setup_failed);
    else if (fo->phase != FO_DONE)
        lg_log(lg, "sent %llu acked %llu delivered %llu in flight %u%s", (unsigned long long)fo->sent,
               (unsigned long long)fo->acked, (unsigned long long)fo->deliveries, fo->tr.used,
               fo->stalled ? " [stalled]" : "");
}

static void report_latency(struct jout *j, const char *key, struct fo *fo, int phase)
{
    jo_begin(j, key);
    jo_hist(j, "e2e", &fo->e2e[phase]);
    jo_hist(j, "ack", &fo->ack[phase]);
    jo_hist(j, "fanout_complete", &fo->full[phase]);
    jo_end(j);
}

static void fo_report(struct lg *lg, struct jout *j)
{
    struct fo *fo = lg->st;
    struct lg_opts *o = &lg->o;
    jo_begin(j, "params");
    jo_u64(j, "channels", (uint64_t)o->channels);
    jo_u64(j, "users", (uint64_t)o->users);
    jo_u64(j, "msg_size", (uint64_t)o->msg_size);
    jo_num(j, "rate", o->rate);
    jo_u64(j, "window", (uint64_t)o->window);
    jo_num(j, "duration_s", o->duration);
    jo_u64(j, "messages_cap", (uint64_t)o->messages);
    if (fo && fo->kind == 5)
        jo_num(j, "warmup_s", o->warmup);
    if (fo && fo->kind == 4)
        jo_u64(j, "bad_every", (uint64_t)o->bad_every);
    jo_end(j);
    if (!fo)
        return;
    jo_begin(j, "setup");
    jo_u64(j, "connections", fo->nconn);
    jo_u64(j, "joined", fo->joined);
    jo_u64(j, "failed", fo->setup_failed);
    jo_num(j, "setup_s", fo->t_run0 ? ns_to_s(fo->t_run0 - fo->t_setup0) : NAN);
    jo_end(j);

    double send_s = fo->t_run0 && fo->t_send_end ? ns_to_s(fo->t_send_end - fo->t_run0) : NAN;
    double total_s = fo->t_run0 && fo->t_end ? ns_to_s(fo->t_end - fo->t_run0) : NAN;
    jo_begin(j, "messages");
    jo_u64(j, "sent", fo->sent);
    jo_u64(j, "acked", fo->acked);
    jo_u64(j, "rejected", fo->rejected);
    jo_u64(j, "deliveries", fo->deliveries);
    jo_u64(j, "deliveries_expected", fo->expected);
    jo_u64(j, "deliveries_unknown", fo->unknown);
    jo_u64(j, "deliveries_extra", fo->extra);
    jo_u64(j, "in_flight_at_end", fo->tr.used);
    jo_u64(j, "skipped_window_full", fo->skip_window);
    jo_u64(j, "skipped_table_full", fo->skip_table);
    jo_u64(j, "skipped_output_buffered", fo->skip_buffer);
    if (fo->kind == 4)
        jo_u64(j, "skipped_presigned_exhausted", fo->skip_pool);
    jo_u64(j, "connections_lost", fo->lost_conns);
    jo_u64(j, "unacked_on_lost_connections", fo->unacked_lost);
    jo_end(j);
    jo_begin(j, "rates");
    jo_num(j, "send_phase_s", send_s);
    jo_num(j, "measured_s", total_s);
    jo_num(j, "sent_per_s", (double)fo->sent / send_s);
    jo_num(j, "acked_per_s", (double)fo->acked / total_s);
    jo_num(j, "delivered_per_s", (double)fo->deliveries / total_s);
    if (fo->rate > 0)
        jo_num(j, "schedule_lag_max_us", (double)fo->lag_max_ns / 1e3);
    jo_end(j);
    lg->delivered = fo->deliveries;

    if (fo->kind == 5) {
        report_latency(j, "before_stall", fo, 0);
        report_latency(j, "during_stall", fo, 1);
        jo_begin(j, "slow_consumer");
        jo_num(j, "stall_at_s", fo->stalled ? ns_to_s(fo->t_stall - fo->t_run0) : NAN);
        jo_num(j, "stall_s", fo->stalled && fo->t_end ? ns_to_s(fo->t_end - fo->t_stall) : NAN);
        jo_u64(j, "received_before_stall", fo->slow_recv);
        jo_bool(j, "disconnected", fo->slow_gone);
        jo_num(j, "disconnected_after_s", fo->slow_gone && fo->stalled ? ns_to_s(fo->t_gone - fo->t_stall) : NAN);
        jo_str(j, "how", fo->gone_how);
        jo_i64(j, "server_send_queue_max_bytes", fo->srv_txq_max);
        jo_i64(j, "own_receive_queue_max_bytes", fo->our_rxq_max);
        jo_end(j);
        jo_begin(j, "server_rss");
        jo_i64(j, "max_kb", fo->rss_max);
        jo_i64(j, "final_kb", fo->rss_last);
        jo_num(j, "sample_interval_s", 0.25);
        jo_raw_array(j, "samples_t_s_kb", fo->samples.data, fo->samples.len);
        jo_end(j);
    } else {
        report_latency(j, "latency", fo, 0);
    }
    if (fo->kind == 4) {
        jo_begin(j, "signed");
        jo_u64(j, "payload_bytes", fo->plen);
        jo_u64(j, "content_bytes", fo->clen);
        jo_u64(j, "presigned", (uint64_t)fo->nchan * (fo->sig ? fo->sig[0].n : 0));
        jo_num(j, "presign_s", fo->sign_s);
        jo_u64(j, "channels_not_created", fo->create_mismatch);
        jo_num(j, "accepted_per_s", (double)(fo->acked - fo->bad_acked) / total_s);
        jo_u64(j, "rejected", fo->rejected);
        jo_u64(j, "rejected_good", fo->good_rejected);
        jo_u64(j, "bad_sent", fo->bad_sent);
        jo_u64(j, "bad_accepted", fo->bad_acked);
        if (!lg->abort_reason || fo->t_end) {
            lg_log(lg, "measuring crypto_sign_verify_detached on %zu-byte messages (1 and 2 threads)", fo->plen);
            /* best of 3 rounds each: the machine is shared, the limit is the best case */
            double v1 = -1, v2 = -1;
            int cpus = 0;
            for (int round = 0; round < 3; round++) {
                double r1 = verify_rate(fo, 1, 0.5, &cpus), r2 = verify_rate(fo, 2, 0.5, &cpus);
                v1 = r1 > v1 ? r1 : v1;
                v2 = r2 > v2 ? r2 : v2;
            }
            jo_num(j, "verify_detached_per_s_1_thread", v1);
            jo_num(j, "verify_detached_per_s_2_threads", v2);
            jo_i64(j, "verify_cpus_available", cpus);
        }
        jo_end(j);
    }
    track_free(&fo->tr);
    for (int i = 0; i < 2; i++) {
        hist_free(&fo->e2e[i]);
        hist_free(&fo->full[i]);
        hist_free(&fo->ack[i]);
    }
    for (uint32_t ch = 0; fo->sig && ch < fo->nchan; ch++)
        free(fo->sig[ch].arena);
    free(fo->sig);
    free(fo->c);
    free(fo->chan);
    free(fo->members);
    buf_free(&fo->samples);
}

const struct scenario sc_s1 = {"s1", "fan-out: C channels x U users, each message delivered to U-1 members",
                               s1_defaults, s1_start, fo_stop, fo_report, fo_progress};
const struct scenario sc_s4 = {"s4", "signed writes: channels with a validateKey, pre-signed Ed25519 messages",
                               s4_defaults, s4_start, fo_stop, fo_report, fo_progress};
const struct scenario sc_s5 = {"s5", "slow consumer: one member stops reading while the others keep sending",
                               s5_defaults, s5_start, fo_stop, fo_report, fo_progress};
