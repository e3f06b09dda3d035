/* conn.c: the blocking facade (bp_client_*, blindpad/client.h).
 *
 * A bp_client owns a private uv loop and one bp_conn on it. Each call starts
 * the asynchronous request and runs the loop (UV_RUN_ONCE) until the
 * request's callback has run. The connection's own timer (nfc.c) guarantees
 * that every request ends (reply, timeout, or drop), so these loops end. */
#include <blindpad/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct bp_client {
    uv_loop_t loop;
    struct bp_conn *c;
    struct bp_client_opts opts;
    bool opened;
    int open_err;
    bool dropped;
    char err[512];
};

struct wait {
    bool done;
    int err;
    char *reply;
    char chan[128];
    size_t n_members;
    struct bp_client *cl;
    void *ud;
    int (*on_meta)(const char *json, size_t len, void *ud);
    int (*on_msg)(const struct bp_hist_msg *m, void *ud);
};

static void set_err(struct bp_client *cl, int err, const char *detail)
{
    if (!err)
        cl->err[0] = '\0';
    else
        snprintf(cl->err, sizeof(cl->err), "%s", detail ? detail : bp_strerror(err));
}

static void ev_open(struct bp_conn *c, int err, void *ud)
{
    struct bp_client *cl = ud;
    cl->opened = true;
    cl->open_err = err;
    if (err)
        cl->dropped = true;
}

static void ev_message(struct bp_conn *c, const struct bp_nf_msg *m, void *ud)
{
    struct bp_client *cl = ud;
    if (cl->opts.on_message)
        cl->opts.on_message(m, cl->opts.ud);
}

static void ev_join(struct bp_conn *c, const char *chan, const char *user, void *ud)
{
    struct bp_client *cl = ud;
    if (cl->opts.on_join)
        cl->opts.on_join(chan, user, cl->opts.ud);
}

static void ev_leave(struct bp_conn *c, const char *chan, const char *user, void *ud)
{
    struct bp_client *cl = ud;
    if (cl->opts.on_leave)
        cl->opts.on_leave(chan, user, cl->opts.ud);
}

static void ev_close(struct bp_conn *c, int err, void *ud)
{
    struct bp_client *cl = ud;
    cl->dropped = true;
}

static const struct bp_conn_events client_events = {
    .on_open = ev_open,
    .on_message = ev_message,
    .on_join = ev_join,
    .on_leave = ev_leave,
    .on_close = ev_close,
};

static void run_until(struct bp_client *cl, const bool *done)
{
    while (!*done)
        uv_run(&cl->loop, UV_RUN_ONCE);
}

static void shutdown_loop(struct bp_client *cl)
{
    if (cl->c)
        bp_conn_free(cl->c);
    cl->c = NULL;
    uv_run(&cl->loop, UV_RUN_DEFAULT);
    uv_loop_close(&cl->loop);
}

int bp_client_open(const char *url, const struct bp_client_opts *opts, struct bp_client **out,
                   char *errmsg, size_t errmsg_len)
{
    *out = NULL;
    struct bp_client *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return BP_ENOMEM;
    if (opts)
        cl->opts = *opts;
    if (uv_loop_init(&cl->loop) != 0) {
        free(cl);
        return BP_ENOMEM;
    }
    struct bp_conn_opts co = {.timeout_ms = cl->opts.timeout_ms};
    int r = bp_conn_new(&cl->loop, url, &co, &client_events, cl, &cl->c);
    if (r == 0) {
        run_until(cl, &cl->opened);
        r = cl->open_err;
    }
    if (r) {
        if (errmsg && errmsg_len)
            snprintf(errmsg, errmsg_len, "%s",
                     cl->c ? bp_conn_errmsg(cl->c)
                           : r == BP_EINVAL ? "bad URL (expected http://, https://, ws:// or wss://)"
                                            : bp_strerror(r));
        shutdown_loop(cl);
        free(cl);
        return r;
    }
    *out = cl;
    return 0;
}

void bp_client_free(struct bp_client *cl)
{
    if (!cl)
        return;
    shutdown_loop(cl);
    free(cl);
}

const char *bp_client_error(const struct bp_client *cl) { return cl->err; }
const char *bp_client_id(const struct bp_client *cl) { return bp_conn_id(cl->c); }
const char *bp_client_hk(const struct bp_client *cl) { return bp_conn_hk(cl->c); }
struct bp_conn *bp_client_conn(struct bp_client *cl) { return cl->c; }

/* After a failed start: explains BP_ENET/BP_EINVAL from bp_conn_*(). */
static int start_failed(struct bp_client *cl, int r)
{
    set_err(cl, r, r == BP_ENET ? (bp_conn_errmsg(cl->c)[0] ? bp_conn_errmsg(cl->c)
                                                              : "the connection is closed")
                                : NULL);
    return r;
}

static void done_cb(struct bp_conn *c, int err, const char *detail, void *ud)
{
    struct wait *w = ud;
    w->done = true;
    w->err = err;
    set_err(w->cl, err, detail);
}

static void join_cb(struct bp_conn *c, int err, const char *chan, const char *const *members,
                    size_t n, const char *detail, void *ud)
{
    struct wait *w = ud;
    snprintf(w->chan, sizeof(w->chan), "%s", chan ? chan : "");
    w->n_members = n;
    done_cb(c, err, detail, ud);
}

int bp_client_join(struct bp_client *cl, const char *chan, char *chan_out, size_t chan_out_len,
                   size_t *n_members)
{
    struct wait w = {.cl = cl};
    int r = bp_conn_join(cl->c, chan, join_cb, &w);
    if (r)
        return start_failed(cl, r);
    run_until(cl, &w.done);
    if (w.err == 0) {
        if (chan_out && chan_out_len) {
            if (strlen(w.chan) + 1 > chan_out_len)
                return BP_ETOOBIG;
            memcpy(chan_out, w.chan, strlen(w.chan) + 1);
        }
        if (n_members)
            *n_members = w.n_members;
    }
    return w.err;
}

int bp_client_leave(struct bp_client *cl, const char *chan)
{
    struct wait w = {.cl = cl};
    int r = bp_conn_leave(cl->c, chan, done_cb, &w);
    if (r)
        return start_failed(cl, r);
    run_until(cl, &w.done);
    return w.err;
}

int bp_client_send(struct bp_client *cl, const char *target, const char *content, size_t len)
{
    struct wait w = {.cl = cl};
    int r = bp_conn_send(cl->c, target, content, len, done_cb, &w);
    if (r)
        return start_failed(cl, r);
    run_until(cl, &w.done);
    return w.err;
}

static int hist_meta(const char *json, size_t len, void *ud)
{
    struct wait *w = ud;
    return w->on_meta ? w->on_meta(json, len, w->ud) : 0;
}

static int hist_msg(const struct bp_hist_msg *m, void *ud)
{
    struct wait *w = ud;
    return w->on_msg ? w->on_msg(m, w->ud) : 0;
}

int bp_client_history(struct bp_client *cl, const char *chan, const struct bp_history_opts *opts,
                      int (*on_meta)(const char *json, size_t len, void *ud),
                      int (*on_msg)(const struct bp_hist_msg *m, void *ud), void *ud)
{
    struct wait w = {.cl = cl, .on_meta = on_meta, .on_msg = on_msg, .ud = ud};
    struct bp_history_cbs cbs = {.on_meta = hist_meta, .on_msg = hist_msg, .on_done = done_cb};
    int r = bp_conn_history(cl->c, chan, opts, &cbs, &w);
    if (r)
        return start_failed(cl, r);
    run_until(cl, &w.done);
    return w.err;
}

static void rpc_cb(struct bp_conn *c, int err, const char *reply, const char *detail, void *ud)
{
    struct wait *w = ud;
    if (!err && reply) {
        w->reply = strdup(reply);
        if (!w->reply)
            err = BP_ENOMEM;
    }
    done_cb(c, err, detail, ud);
}

int bp_client_rpc(struct bp_client *cl, const struct bp_sign_key *key, const char *cmd,
                  const char *arg_json, char **reply_json)
{
    if (reply_json)
        *reply_json = NULL;
    struct wait w = {.cl = cl};
    int r = bp_conn_rpc(cl->c, key, cmd, arg_json, rpc_cb, &w);
    if (r)
        return start_failed(cl, r);
    run_until(cl, &w.done);
    if (reply_json)
        *reply_json = w.reply;
    else
        free(w.reply);
    return w.err;
}

static void poll_timer(uv_timer_t *t)
{
    bool *done = t->data;
    *done = true;
}

int bp_client_poll(struct bp_client *cl, unsigned timeout_ms)
{
    if (cl->dropped) {
        set_err(cl, BP_ENET, bp_conn_errmsg(cl->c));
        return BP_ENET;
    }
    if (timeout_ms == 0) {
        /* Only what is ready now: a 0 ms timer would still let UV_RUN_ONCE
         * block in poll until the connection's next deadline check. */
        uv_run(&cl->loop, UV_RUN_NOWAIT);
        if (cl->dropped) {
            set_err(cl, BP_ENET, bp_conn_errmsg(cl->c));
            return BP_ENET;
        }
        set_err(cl, 0, NULL);
        return 0;
    }
    bool done = false;
    uv_timer_t t;
    uv_timer_init(&cl->loop, &t);
    t.data = &done;
    uv_timer_start(&t, poll_timer, timeout_ms, 0);
    while (!done && !cl->dropped)
        uv_run(&cl->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&cl->loop, UV_RUN_NOWAIT); /* the close callback (t lives on this stack) */
    if (cl->dropped) {
        set_err(cl, BP_ENET, bp_conn_errmsg(cl->c));
        return BP_ENET;
    }
    set_err(cl, 0, NULL);
    return 0;
}
