/* sc_join.c: scenario s2, the join storm.
 *
 * Populate: one writer per channel (fresh random 32-hex ids) joins and stores
 * --history messages of --msg-size random base64, --window 32 un-ACKed at a
 * time, and stays joined (the pad's author is still in it). Storm: --joiners
 * clients, spread round-robin over the channels, each connect, wait for
 * IDENT, JOIN, read the HK id from the member list and send
 *   [seq,"MSG",HK,"[\"GET_HISTORY\",chan,{\"txid\":N,\"priority\":2}]"]
 * then count history messages until the end marker {"state":1,...}. At most
 * --inflight joiners are between "connect started" and "end marker" at once
 * (0 = all at once). Joiners stay connected, so each later JOIN is also
 * broadcast to the earlier ones, as in a real pad.
 *
 * Time to full history = end marker received - connect started; the
 * measured phase runs from the first connect to the last end marker. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "lg.h"
#include "lg_conn.h"
#include "lg_hist.h"

#define WRITER_WINDOW 32

enum js_phase { JS_POPULATE, JS_STORM, JS_DONE };
enum { JP_NEW = 0, JP_JOINED, JP_DONE };   /* conn->phase */

struct js {
    struct lg *lg;
    uint32_t nchan, hist_n, nj, inflight;
    size_t msg_size;
    char (*chan)[33];
    uint32_t *wsent, *wacked;       /* per channel */
    enum js_phase phase;
    struct pacer pacer;
    uv_timer_t tick;
    bool stopped;
    uint32_t populated, writers_failed;
    uint64_t pop_errors;
    uint64_t t0, t_storm0, t_last, t_end;
    uint32_t ok, errors, failed;
    uint64_t msgs_total, msgs_min, msgs_max, metadata_frames;
    uint32_t exact, short_n, over;
    struct hist full, connect, join, history;
};

static double ns_s(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void js_stop(struct lg *lg);

static void js_finish(struct js *js)
{
    js->t_end = uv_hrtime();
    lg_measure_end(js->lg);
    js_stop(js->lg);
}

static void check_storm_done(struct js *js)
{
    if (js->phase == JS_STORM && js->ok + js->errors + js->failed >= js->nj) {
        lg_log(js->lg, "storm done: %u complete, %u history errors, %u failed", js->ok, js->errors, js->failed);
        js_finish(js);
    }
}

/* ---- joiners ---- */

static void j_on_ident(struct conn *c)
{
    struct js *js = c->lg->st;
    conn_join(c, js->chan[c->group]);
}

static void j_on_joined(struct conn *c)
{
    c->phase = JP_JOINED;
    c->t_mark = uv_hrtime();
    conn_sendf(c, "[%llu,\"MSG\",\"%s\",\"[\\\"GET_HISTORY\\\",\\\"%s\\\",{\\\"txid\\\":%u,\\\"priority\\\":2}]\"]",
               (unsigned long long)++c->seq, c->hk, c->chan, c->idx + 1);
}

static void j_complete(struct js *js, struct conn *c, bool ok)
{
    c->phase = JP_DONE;
    js->t_last = c->now;
    if (ok) {
        js->ok++;
        hist_add(&js->full, c->now - c->t_start);
        hist_add(&js->connect, c->t_ident - c->t_start);
        hist_add(&js->join, c->t_joined - c->t_join_sent);
        hist_add(&js->history, c->now - c->t_mark);
        js->msgs_total += c->n_recv;
        if (c->n_recv < js->msgs_min)
            js->msgs_min = c->n_recv;
        if (c->n_recv > js->msgs_max)
            js->msgs_max = c->n_recv;
        if (c->n_recv == js->hist_n)
            js->exact++;
        else if (c->n_recv < js->hist_n)
            js->short_n++;
        else
            js->over++;
    } else {
        js->errors++;
    }
    pacer_done(&js->pacer);
    check_storm_done(js);
}

static void j_on_frame(struct conn *c, const struct nf_frame *f)
{
    struct js *js = c->lg->st;
    int64_t seq = nf_uint(f, 0);
    if (seq > 0 && (uint64_t)seq == c->join_seq && nf_streq(f, 1, "ERROR")) {
        lg_log(js->lg, "joiner %u: JOIN refused", c->idx);
        conn_close(c, LG_EPROTO);
        return;
    }
    if (c->phase != JP_JOINED || seq != 0 || f->n < 5 || !nf_streq(f, 2, "MSG") || f->el[1].len != 16 ||
        f->el[4].type != NF_STR)
        return;
    const struct nf_el *body = &f->el[4];
    if (body->len && body->p[0] == '[') {
        c->n_recv++;
    } else if (nf_strpre(f, 4, "{\\\"state\\\":1")) {
        j_complete(js, c, true);
    } else if (nf_strpre(f, 4, "{\\\"error\\\"")) {
        if (js->errors < 10)
            lg_log(js->lg, "joiner %u: history error %.*s", c->idx, (int)body->len, body->p);
        j_complete(js, c, false);
    } else {
        js->metadata_frames++;
    }
}

static void j_on_close(struct conn *c)
{
    struct js *js = c->lg->st;
    if (js->phase != JS_STORM || c->phase == JP_DONE)
        return;
    js->failed++;
    if (js->failed <= 10)
        lg_log(js->lg, "joiner %u failed: %s", c->idx, lg_strerror(c->err));
    pacer_done(&js->pacer);
    check_storm_done(js);
}

static const struct conn_ops joiner_ops = {j_on_ident, j_on_joined, j_on_frame, j_on_close};

static void start_joiner(struct pacer *p, uint32_t i)
{
    struct js *js = p->lg->st;
    struct conn *c = conn_new(p->lg, &joiner_ops, i);
    c->group = i % js->nchan;
    conn_connect(c);
}

static void start_storm(struct js *js)
{
    struct lg *lg = js->lg;
    js->phase = JS_STORM;
    lg_log(lg, "populated %u channel(s) with %u messages in %.2fs; storm: %u joiners, %s", js->nchan, js->hist_n,
           ns_s(uv_hrtime() - js->t0), js->nj, js->inflight ? "paced" : "all at once");
    if (js->inflight)
        lg_log(lg, "at most %u joiners in flight", js->inflight);
    lg_measure_begin(lg);
    js->t_storm0 = uv_hrtime();
    pacer_init(&js->pacer, lg, js->nj, js->inflight, 0, start_joiner);
    pacer_kick(&js->pacer);
}

/* ---- writers ---- */

static void w_send(struct js *js, struct conn *c)
{
    uint32_t ch = c->group;
    while (js->wsent[ch] < js->hist_n && js->wsent[ch] - js->wacked[ch] < WRITER_WINDOW) {
        struct buf *b = &js->lg->scratch;
        b->len = 0;
        lg_msg_frame(js->lg, b, ++c->seq, js->chan[ch], js->msg_size);
        if (conn_send(c, b->data, b->len) != 0)
            return;
        js->wsent[ch]++;
    }
}

static void w_on_ident(struct conn *c)
{
    struct js *js = c->lg->st;
    conn_join(c, js->chan[c->group]);
}

static void w_on_joined(struct conn *c)
{
    w_send(c->lg->st, c);
}

static void w_on_frame(struct conn *c, const struct nf_frame *f)
{
    struct js *js = c->lg->st;
    int64_t seq = nf_uint(f, 0);
    if (seq <= 0 || (uint64_t)seq == c->join_seq || js->phase != JS_POPULATE)
        return;
    bool ack = nf_streq(f, 1, "ACK");
    if (!ack && !nf_streq(f, 1, "ERROR"))
        return;
    if (!ack)
        js->pop_errors++;
    uint32_t ch = c->group;
    if (++js->wacked[ch] == js->hist_n) {
        if (++js->populated == js->nchan)
            start_storm(js);
        return;
    }
    w_send(js, c);
}

static void w_on_close(struct conn *c)
{
    struct js *js = c->lg->st;
    if (js->phase == JS_DONE)
        return;
    js->writers_failed++;
    lg_log(js->lg, "writer of channel %u closed: %s", c->group, lg_strerror(c->err));
    if (js->phase == JS_POPULATE) {
        js->lg->abort_reason = "a writer failed while populating";
        js_stop(js->lg);
    }
}

static const struct conn_ops writer_ops = {w_on_ident, w_on_joined, w_on_frame, w_on_close};

/* ---- scenario hooks ---- */

static void on_tick(uv_timer_t *t)
{
    struct js *js = t->data;
    struct lg *lg = js->lg;
    uint64_t now = uv_hrtime();
    if (js->phase == JS_POPULATE && ns_s(now - js->t0) > lg->o.setup_timeout) {
        lg->abort_reason = "populating did not finish within --setup-timeout";
        lg_log(lg, "%s", lg->abort_reason);
        js_stop(lg);
    } else if (js->phase == JS_STORM && ns_s(now - js->t_storm0) > lg->o.duration) {
        lg_log(lg, "storm time limit (--duration %.0fs) reached: %u/%u complete", lg->o.duration, js->ok, js->nj);
        lg->abort_reason = "storm did not complete within --duration";
        js_finish(js);
    }
}

static void s2_defaults(struct lg_opts *o)
{
    if (o->channels < 0)
        o->channels = 1;
    if (o->history < 0)
        o->history = 1000;
    if (o->joiners < 0)
        o->joiners = 1000;
    if (o->inflight < 0)
        o->inflight = 0;
    if (o->msg_size < 0)
        o->msg_size = 1024;
    if (o->duration < 0)
        o->duration = 60;
}

static int s2_start(struct lg *lg)
{
    struct lg_opts *o = &lg->o;
    struct js *js = xcalloc(1, sizeof(*js));
    lg->st = js;
    js->lg = lg;
    js->nchan = (uint32_t)o->channels;
    js->hist_n = (uint32_t)o->history;
    js->nj = (uint32_t)o->joiners;
    js->inflight = (uint32_t)o->inflight;
    js->msg_size = (size_t)o->msg_size;
    if (js->nchan < 1 || js->nj < 1 || js->hist_n < 1) {
        fprintf(stderr, "loadgen: s2 needs --channels, --joiners and --history >= 1\n");
        return -1;
    }
    js->chan = xcalloc(js->nchan, sizeof(*js->chan));
    js->wsent = xcalloc(js->nchan, sizeof(*js->wsent));
    js->wacked = xcalloc(js->nchan, sizeof(*js->wacked));
    js->msgs_min = UINT64_MAX;
    hist_init(&js->full);
    hist_init(&js->connect);
    hist_init(&js->join);
    hist_init(&js->history);
    js->t0 = uv_hrtime();
    uv_timer_init(lg->loop, &js->tick);
    js->tick.data = js;
    uv_timer_start(&js->tick, on_tick, 10, 10);
    lg_log(lg, "populating %u channel(s) with %u messages of %zu bytes", js->nchan, js->hist_n, js->msg_size);
    for (uint32_t ch = 0; ch < js->nchan; ch++) {
        rand_hex32(js->chan[ch]);
        struct conn *c = conn_new(lg, &writer_ops, ch);
        c->group = ch;
        conn_connect(c);
    }
    return 0;
}

static void js_stop(struct lg *lg)
{
    struct js *js = lg->st;
    if (!js) {
        lg_done(lg);
        return;
    }
    if (js->stopped)
        return;
    js->stopped = true;
    if (js->phase == JS_STORM && !js->t_end)
        js->t_end = uv_hrtime();
    js->phase = JS_DONE;
    lg_measure_end(lg);
    pacer_stop(&js->pacer);
    uv_close((uv_handle_t *)&js->tick, NULL);
    lg_close_all_conns(lg);
    lg_done(lg);
}

static void js_progress(struct lg *lg)
{
    struct js *js = lg->st;
    if (!js)
        return;
    if (js->phase == JS_POPULATE) {
        uint64_t acked = 0;
        for (uint32_t i = 0; i < js->nchan; i++)
            acked += js->wacked[i];
        lg_log(lg, "populating: %llu/%llu stored", (unsigned long long)acked,
               (unsigned long long)js->hist_n * js->nchan);
    } else if (js->phase == JS_STORM) {
        lg_log(lg, "storm: started %u, in flight %u, complete %u, errors %u, failed %u", js->pacer.started,
               js->pacer.inflight, js->ok, js->errors, js->failed);
    }
}

static void js_report(struct lg *lg, struct jout *j)
{
    struct js *js = lg->st;
    struct lg_opts *o = &lg->o;
    jo_begin(j, "params");
    jo_u64(j, "channels", (uint64_t)o->channels);
    jo_u64(j, "history", (uint64_t)o->history);
    jo_u64(j, "joiners", (uint64_t)o->joiners);
    jo_u64(j, "inflight", (uint64_t)o->inflight);
    jo_u64(j, "msg_size", (uint64_t)o->msg_size);
    jo_num(j, "time_limit_s", o->duration);
    jo_end(j);
    if (!js)
        return;
    jo_begin(j, "populate");
    uint64_t stored = 0;
    for (uint32_t i = 0; i < js->nchan; i++)
        stored += js->wacked[i];
    jo_u64(j, "acked", stored - js->pop_errors);
    jo_u64(j, "errors", js->pop_errors);
    jo_num(j, "populate_s", js->t_storm0 ? ns_s(js->t_storm0 - js->t0) : NAN);
    jo_end(j);
    double storm_s = js->t_storm0 && js->t_last ? ns_s(js->t_last - js->t_storm0) : NAN;
    jo_begin(j, "storm");
    jo_u64(j, "joiners_complete", js->ok);
    jo_u64(j, "history_errors", js->errors);
    jo_u64(j, "joiners_failed", js->failed);
    jo_u64(j, "joiners_unfinished", js->nj - js->ok - js->errors - js->failed);
    jo_num(j, "storm_s", storm_s);
    jo_num(j, "joins_per_s", (double)js->ok / storm_s);
    jo_hist(j, "time_to_full_history", &js->full);
    jo_hist(j, "connect_to_ident", &js->connect);
    jo_hist(j, "join_to_member_list", &js->join);
    jo_hist(j, "get_history_to_end_marker", &js->history);
    jo_end(j);
    jo_begin(j, "history_messages_per_client");
    jo_u64(j, "expected", js->hist_n);
    jo_u64(j, "min", js->ok ? js->msgs_min : 0);
    jo_u64(j, "max", js->msgs_max);
    jo_u64(j, "clients_exact", js->exact);
    jo_u64(j, "clients_short", js->short_n);
    jo_u64(j, "clients_over", js->over);
    jo_u64(j, "total", js->msgs_total);
    jo_u64(j, "metadata_frames", js->metadata_frames);
    jo_end(j);
    lg->delivered = js->msgs_total;
    hist_free(&js->full);
    hist_free(&js->connect);
    hist_free(&js->join);
    hist_free(&js->history);
    free(js->chan);
    free(js->wsent);
    free(js->wacked);
}

const struct scenario sc_s2 = {"s2", "join storm: J clients JOIN + GET_HISTORY of channels holding H messages",
                               s2_defaults, s2_start, js_stop, js_report, js_progress};
