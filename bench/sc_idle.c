/* sc_idle.c: scenario s3, idle connections.
 *
 * Opens --conns connections at most --conn-rate per second with at most
 * --inflight handshakes (connect started, IDENT not yet received) at once.
 * Each connection only waits for IDENT and then stays idle, answering the
 * server's [0,"","PING",t] with [0,"","PONG",t] (lg_conn.c does that).
 * Server RSS is read before opening and again 1 s after the last connection
 * settled; the difference divided by the connections held is the server's
 * memory per idle connection. While they are held, --probes new clients are
 * timed one after the other: connect -> IDENT -> JOIN (fresh channel, own
 * JOIN in the member list) -> [seq,"PING"] -> [seq,"ACK"]. The connections
 * are then held until --duration seconds after the opening finished, so that
 * server keepalive PINGs (15 s idle on CryptPad) are exercised on long runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "lg.h"
#include "lg_conn.h"
#include "lg_hist.h"

#define PROBE_TIMEOUT_S 10.0
#define SETTLE_S 1.0

enum id_phase { ID_OPEN, ID_SETTLE, ID_PROBE, ID_HOLD, ID_DONE };

struct idle {
    struct lg *lg;
    uint32_t n, nprobes;
    struct pacer pacer;
    uv_timer_t tick;
    enum id_phase phase;
    bool stopped;
    uint32_t established, failed, dropped;
    long rss_before, rss_after, self_rss_before, self_rss_after;
    uint64_t t0, t_opened, t_settled, t_end;
    struct hist connect;                  /* connect started -> IDENT, idle conns */
    struct hist p_total, p_ident, p_join, p_ping;
    struct conn *probe;
    uint64_t probe_ping_sent;
    uint32_t probes_done, probes_failed;
};

static double ns_s(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void id_stop(struct lg *lg);

/* ---- idle connections ---- */

static void i_on_ident(struct conn *c)
{
    struct idle *st = c->lg->st;
    c->phase = 1;
    st->established++;
    hist_add(&st->connect, c->t_ident - c->t_start);
    pacer_done(&st->pacer);
}

static void i_on_joined(struct conn *c)
{
}

static void i_on_frame(struct conn *c, const struct nf_frame *f)
{
}

static void i_on_close(struct conn *c)
{
    struct idle *st = c->lg->st;
    if (st->phase == ID_DONE)
        return;
    if (c->phase == 0) {
        st->failed++;
        if (st->failed <= 10)
            lg_log(st->lg, "connection %u failed: %s", c->idx, lg_strerror(c->err));
        pacer_done(&st->pacer);
    } else {
        st->dropped++;
        if (st->dropped <= 10)
            lg_log(st->lg, "idle connection %u dropped: %s", c->idx, lg_strerror(c->err));
    }
}

static const struct conn_ops idle_ops = {i_on_ident, i_on_joined, i_on_frame, i_on_close};

static void start_idle(struct pacer *p, uint32_t i)
{
    conn_connect(conn_new(p->lg, &idle_ops, i));
}

/* ---- probes ---- */

static void next_probe(struct idle *st);

static void p_on_ident(struct conn *c)
{
    char chan[33];
    rand_hex32(chan);
    conn_join(c, chan);
}

static void p_on_joined(struct conn *c)
{
    struct idle *st = c->lg->st;
    st->probe_ping_sent = uv_hrtime();
    c->aux = ++c->seq;
    conn_sendf(c, "[%llu,\"PING\"]", (unsigned long long)c->aux);
}

static void p_on_frame(struct conn *c, const struct nf_frame *f)
{
    struct idle *st = c->lg->st;
    if (c->aux && nf_uint(f, 0) == (int64_t)c->aux && nf_streq(f, 1, "ACK")) {
        c->phase = 1;
        st->probes_done++;
        hist_add(&st->p_total, c->now - c->t_start);
        hist_add(&st->p_ident, c->t_ident - c->t_start);
        hist_add(&st->p_join, c->t_joined - c->t_join_sent);
        hist_add(&st->p_ping, c->now - st->probe_ping_sent);
        conn_close(c, 0);
    }
}

static void p_on_close(struct conn *c)
{
    struct idle *st = c->lg->st;
    st->probe = NULL;
    if (st->phase == ID_DONE)
        return;
    if (c->phase == 0) {
        st->probes_failed++;
        lg_log(st->lg, "probe %u failed: %s", c->idx, lg_strerror(c->err));
    }
    next_probe(st);
}

static const struct conn_ops probe_ops = {p_on_ident, p_on_joined, p_on_frame, p_on_close};

static void next_probe(struct idle *st)
{
    uint32_t i = st->probes_done + st->probes_failed;
    if (i >= st->nprobes) {
        st->phase = ID_HOLD;
        lg_log(st->lg, "probes done (%u ok, %u failed); holding %u connections", st->probes_done,
               st->probes_failed, st->established - st->dropped);
        return;
    }
    st->probe = conn_new(st->lg, &probe_ops, st->n + i);
    conn_connect(st->probe);
}

/* ---- scenario ---- */

static void on_tick(uv_timer_t *t)
{
    struct idle *st = t->data;
    struct lg *lg = st->lg;
    uint64_t now = uv_hrtime();
    switch (st->phase) {
    case ID_OPEN:
        if (st->established + st->failed >= st->n) {
            st->phase = ID_SETTLE;
            st->t_opened = now;
            lg_log(lg, "opened %u connections (%u failed) in %.2fs; settling %.0fs", st->established, st->failed,
                   ns_s(now - st->t0), SETTLE_S);
        } else if (ns_s(now - st->t0) > lg->o.setup_timeout) {
            lg_log(lg, "opening did not finish within --setup-timeout %.0fs; going on with %u", lg->o.setup_timeout,
                   st->established);
            pacer_stop(&st->pacer);
            st->phase = ID_SETTLE;
            st->t_opened = now;
        }
        break;
    case ID_SETTLE:
        if (ns_s(now - st->t_opened) >= SETTLE_S) {
            st->t_settled = now;
            st->rss_after = lg->o.npids ? proc_rss_kb(lg->o.pids, lg->o.npids) : -1;
            st->self_rss_after = self_rss_kb();
            st->phase = ID_PROBE;
            lg_log(lg, "server RSS %ld -> %ld KiB; probing %u new clients", st->rss_before, st->rss_after,
                   st->nprobes);
            next_probe(st);
        }
        break;
    case ID_PROBE:
        if (st->probe && ns_s(now - st->probe->t_start) > PROBE_TIMEOUT_S)
            conn_close(st->probe, UV_ETIMEDOUT);
        break;
    case ID_HOLD:
        if (ns_s(now - st->t_opened) >= lg->o.duration) {
            st->t_end = now;
            lg_measure_end(lg);
            id_stop(lg);
        }
        break;
    case ID_DONE:
        break;
    }
}

static void s3_defaults(struct lg_opts *o)
{
    if (o->conns < 0)
        o->conns = 20000;
    if (o->inflight < 0)
        o->inflight = 100;
    if (o->conn_rate < 0)
        o->conn_rate = 2000;
    if (o->probes < 0)
        o->probes = 20;
    if (o->duration < 0)
        o->duration = 10;
    if (o->setup_timeout < 0) {
        double t = o->conn_rate > 0 ? 2 * o->conns / o->conn_rate + 30 : 60;
        o->setup_timeout = t > 60 ? t : 60;
    }
}

static int s3_start(struct lg *lg)
{
    struct lg_opts *o = &lg->o;
    struct idle *st = xcalloc(1, sizeof(*st));
    lg->st = st;
    st->lg = lg;
    st->n = (uint32_t)o->conns;
    st->nprobes = (uint32_t)o->probes;
    if ((long)st->n + 64 > lg->nofile)
        lg_log(lg, "warning: --conns %u is close to or above the open-file limit %ld", st->n, lg->nofile);
    hist_init(&st->connect);
    hist_init(&st->p_total);
    hist_init(&st->p_ident);
    hist_init(&st->p_join);
    hist_init(&st->p_ping);
    st->rss_before = o->npids ? proc_rss_kb(o->pids, o->npids) : -1;
    st->self_rss_before = self_rss_kb();
    st->rss_after = -1;
    lg_measure_begin(lg);
    st->t0 = uv_hrtime();
    uv_timer_init(lg->loop, &st->tick);
    st->tick.data = st;
    uv_timer_start(&st->tick, on_tick, 10, 10);
    lg_log(lg, "opening %u idle connections (<= %.0f/s, <= %u handshakes in flight)", st->n, o->conn_rate,
           (uint32_t)o->inflight);
    pacer_init(&st->pacer, lg, st->n, (uint32_t)o->inflight, o->conn_rate, start_idle);
    pacer_kick(&st->pacer);
    return 0;
}

static void id_stop(struct lg *lg)
{
    struct idle *st = lg->st;
    if (!st) {
        lg_done(lg);
        return;
    }
    if (st->stopped)
        return;
    st->stopped = true;
    if (!st->t_end)
        st->t_end = uv_hrtime();
    st->phase = ID_DONE;
    lg_measure_end(lg);
    pacer_stop(&st->pacer);
    uv_close((uv_handle_t *)&st->tick, NULL);
    lg_close_all_conns(lg);
    lg_done(lg);
}

static void id_progress(struct lg *lg)
{
    struct idle *st = lg->st;
    if (st && st->phase != ID_DONE)
        lg_log(lg, "established %u, failed %u, dropped %u, handshakes in flight %u, server pings %llu",
               st->established, st->failed, st->dropped, st->pacer.inflight, (unsigned long long)lg->server_pings);
}

static void id_report(struct lg *lg, struct jout *j)
{
    struct idle *st = lg->st;
    struct lg_opts *o = &lg->o;
    jo_begin(j, "params");
    jo_u64(j, "conns", (uint64_t)o->conns);
    jo_u64(j, "inflight", (uint64_t)o->inflight);
    jo_num(j, "conn_rate", o->conn_rate);
    jo_u64(j, "probes", (uint64_t)o->probes);
    jo_num(j, "hold_s", o->duration);
    jo_end(j);
    if (!st)
        return;
    uint32_t held = st->established - st->dropped;
    double open_s = st->t_opened ? ns_s(st->t_opened - st->t0) : NAN;
    jo_begin(j, "idle");
    jo_u64(j, "established", st->established);
    jo_u64(j, "failed", st->failed);
    jo_u64(j, "dropped_while_held", st->dropped);
    jo_u64(j, "held_at_end", held);
    jo_num(j, "open_s", open_s);
    jo_num(j, "opened_per_s", (double)st->established / open_s);
    jo_num(j, "held_s", st->t_opened && st->t_end > st->t_opened ? ns_s(st->t_end - st->t_opened) : NAN);
    jo_hist(j, "connect_to_ident", &st->connect);
    jo_end(j);
    jo_begin(j, "memory");
    jo_i64(j, "server_rss_kb_before", st->rss_before);
    jo_i64(j, "server_rss_kb_after", st->rss_after);
    if (st->rss_before >= 0 && st->rss_after >= 0 && st->established)
        jo_num(j, "server_rss_bytes_per_conn", (double)(st->rss_after - st->rss_before) * 1024.0 / st->established);
    else
        jo_null(j, "server_rss_bytes_per_conn");
    jo_i64(j, "generator_rss_kb_before", st->self_rss_before);
    jo_i64(j, "generator_rss_kb_after", st->self_rss_after);
    jo_end(j);
    jo_begin(j, "probe");
    jo_u64(j, "ok", st->probes_done);
    jo_u64(j, "failed", st->probes_failed);
    jo_hist(j, "connect_ident_join_ping", &st->p_total);
    jo_hist(j, "connect_to_ident", &st->p_ident);
    jo_hist(j, "join_to_member_list", &st->p_join);
    jo_hist(j, "ping_to_ack", &st->p_ping);
    jo_end(j);
    hist_free(&st->connect);
    hist_free(&st->p_total);
    hist_free(&st->p_ident);
    hist_free(&st->p_join);
    hist_free(&st->p_ping);
}

const struct scenario sc_s3 = {"s3", "idle connections: N connections held idle, server RSS per connection, probes",
                               s3_defaults, s3_start, id_stop, id_report, id_progress};
