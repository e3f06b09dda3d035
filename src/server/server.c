/* server.c: setting up and tearing down one server (see server.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "server/admin.h"
#include "server/auth.h"
#include "server/files.h"
#include "server/pins.h"
#include "server/server.h"
#include "server/web.h"
#include "storage/tasks.h"

#define HOUSEKEEPING_MS 5000 /* session expiry and, when needed, the store probe */

long long server_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void housekeeping(uv_timer_t *t)
{
    struct server *srv = t->data;
    rpc_sessions_expire(srv);
    nf_selfdestruct_sweep(srv, false);
    tasks_tick(srv); /* due EXPIRE tasks (cheap: storage/tasks.h) */
    pins_tick(srv);
    auth_tick(srv);
    admin_tick(srv);
    files_tick(srv);
    struct store_health h;
    store_health(srv->store, &h);
    if (!h.writable)
        store_probe(srv->store);
}

static void server_modules_free(struct server *srv)
{
    web_free(srv);
    pins_free(srv);
    auth_free(srv);
    files_free(srv);
    admin_free(srv);
    settings_free(srv);
}

int server_init(struct server *srv, uv_loop_t *loop, const struct config *cfg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    if (sodium_init() < 0)
        return BP_ESYS;
    uint8_t raw[HK_ID_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(srv->hk_id, sizeof srv->hk_id, raw, sizeof raw);
    snprintf(srv->rpc_pid, sizeof srv->rpc_pid, "%ld", (long)getpid());
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    /* Two signature jobs per CPU keep every core busy while the loop hands
     * out the next batch (S4: 18.6k -> 21.3k signed writes/s with 2 -> 4). */
    srv->vjobs_max = ncpu > 0 ? 2 * (unsigned)ncpu : 4;
    struct store_config sc = {
        .root = cfg->data,
        .fsync = cfg->fsync,
        .max_open_files = cfg->max_open_files,
        .max_cached = cfg->max_cached,
        .max_line = cfg->max_message + 4096,
    };
    int rc = store_new(&srv->store, &sc);
    if (rc < 0)
        return rc;
    /* Modules, in dependency order: settings first (everyone reads them),
     * then decrees over them (admin), then the rest. */
    if ((rc = settings_init(srv)) < 0 || (rc = admin_init(srv)) < 0 || (rc = files_init(srv)) < 0 ||
        (rc = auth_init(srv)) < 0 || (rc = pins_init(srv)) < 0 || (rc = web_init(srv)) < 0) {
        LOG_ERROR("cannot start: %s", bp_strerror(rc));
        server_modules_free(srv);
        store_free(srv->store);
        srv->store = NULL;
        return rc;
    }
    struct net_config nc = {
        .host = cfg->host,
        .port = cfg->port,
        .max_message = cfg->max_message,
        .max_output = cfg->max_output,
        .max_http_header = 64 * 1024,
        .max_http_body = cfg->max_http_body,
        .max_conns = cfg->max_conns,
    };
    struct net_callbacks cb = {
        .ud = srv,
        .on_open = nf_on_open,
        .on_message = nf_on_message,
        .on_close = nf_on_close,
        .on_drain = nf_on_drain,
        .on_http = web_on_http,
        .body_limit = web_body_limit,
    };
    rc = net_new(&srv->net, loop, &nc, &cb);
    if (rc == 0)
        rc = net_listen(srv->net);
    /* The sandbox origin: CryptPad serves it on port+1 when no separate
     * sandbox origin is configured (SERVER-API.md §3.1). */
    int sport = cfg->sandbox_port;
    if (sport < 0)
        sport = cfg->sandbox_origin[0] ? 0 : (cfg->port ? cfg->port + 1 : 0);
    if (rc == 0 && sport > 0) {
        struct net_config snc = nc;
        snc.port = sport;
        rc = net_new(&srv->net_sandbox, loop, &snc, &cb);
        if (rc == 0)
            rc = net_listen(srv->net_sandbox);
        if (rc < 0 && cfg->sandbox_port < 0) {
            /* Only the derived default: the main origin still works (the
             * web client needs the sandbox, so say so loudly). */
            LOG_WARN("cannot listen on %s:%d for the sandbox origin (%s); continuing without it "
                     "(see --sandbox-port)", cfg->host, sport, bp_strerror(rc));
            net_free(srv->net_sandbox);
            srv->net_sandbox = NULL;
            rc = 0;
        } else if (rc < 0) {
            LOG_ERROR("cannot listen on %s:%d (sandbox origin): %s", cfg->host, sport, bp_strerror(rc));
        }
    } else if (rc < 0) {
        LOG_ERROR("cannot listen on %s:%d: %s", cfg->host, cfg->port, bp_strerror(rc));
    }
    if (rc < 0) {
        net_free(srv->net);
        srv->net = NULL;
        net_free(srv->net_sandbox);
        srv->net_sandbox = NULL;
        server_modules_free(srv);
        store_free(srv->store);
        srv->store = NULL;
        return rc;
    }
    uv_timer_init(loop, &srv->keepalive);
    srv->keepalive.data = srv;
    uv_timer_start(&srv->keepalive, nf_keepalive_tick, cfg->keepalive_tick, cfg->keepalive_tick);
    uv_timer_init(loop, &srv->sync_timer);
    srv->sync_timer.data = srv;
    uv_timer_init(loop, &srv->housekeeping);
    srv->housekeeping.data = srv;
    uv_timer_start(&srv->housekeeping, housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    LOG_INFO("blindpad-server listening on %s:%d, data in %s, fsync %s, history keeper %s", cfg->host,
             net_port(srv->net), cfg->data,
             cfg->fsync == STORE_FSYNC_ALWAYS ? "always" : cfg->fsync == STORE_FSYNC_GROUP ? "group" : "none",
             srv->hk_id);
    return 0;
}

struct stop_ctx {
    struct server *srv;
    unsigned listeners;    /* listeners still shutting down */
    void (*done)(void *);
    void *arg;
};

/* Called once per listener; the last one finishes the stop. */
static void on_net_down(void *arg)
{
    struct stop_ctx *ctx = arg;
    if (--ctx->listeners > 0)
        return;
    struct server *srv = ctx->srv;
    uv_close((uv_handle_t *)&srv->keepalive, NULL);
    uv_close((uv_handle_t *)&srv->housekeeping, NULL);
    uv_close((uv_handle_t *)&srv->sync_timer, NULL);
    void (*done)(void *) = ctx->done;
    void *darg = ctx->arg;
    free(ctx);
    done(darg);
}

void server_stop(struct server *srv, void (*done)(void *), void *arg)
{
    srv->stopping = true;
    struct stop_ctx *ctx = xmalloc(sizeof *ctx);
    ctx->srv = srv;
    ctx->done = done;
    ctx->arg = arg;
    ctx->listeners = srv->net_sandbox ? 2 : 1;
    uv_timer_stop(&srv->keepalive);
    if (srv->net_sandbox)
        net_shutdown(srv->net_sandbox, on_net_down, ctx);
    net_shutdown(srv->net, on_net_down, ctx);
}

void server_free(struct server *srv)
{
    /* Whatever was written but not yet fsynced is synced now, before exit. */
    hk_shutdown(srv);
    free(srv->vq);
    nf_selfdestruct_sweep(srv, true);
    net_free(srv->net);
    net_free(srv->net_sandbox);
    rpc_free(srv);
    server_modules_free(srv);
    store_free(srv->store);
}
