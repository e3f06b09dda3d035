/* main.c: blindpad-server's entry point: configuration, signals, the loop.
 * SIGTERM and SIGINT shut down cleanly: new connections are refused, every
 * WebSocket gets a close frame, queued writes and fsyncs finish, logs are
 * flushed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "server/server.h"

static struct server g_srv;
static uv_signal_t g_sigterm, g_sigint;

static void stopped(void *arg)
{
    uv_close((uv_handle_t *)&g_sigterm, NULL);
    uv_close((uv_handle_t *)&g_sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    if (g_srv.stopping)
        return;
    LOG_INFO("signal %d: shutting down", signum);
    server_stop(&g_srv, stopped, NULL);
}

int main(int argc, char **argv)
{
    struct config cfg;
    config_defaults(&cfg);
    int rc = config_parse(&cfg, argc, argv);
    if (rc == 1)
        return 0;
    if (rc < 0)
        return 2;
    log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    /* Many connections need many descriptors: raise the soft limit to the hard one. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* The thread pool runs signature checks (two jobs per CPU) and fsync
     * batches: size it so that a batch fsync never waits behind all the
     * checks. libuv reads this when the pool first starts. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char pool[24];
    snprintf(pool, sizeof pool, "%ld", (ncpu > 0 ? ncpu : 2) * 2 + 2);
    setenv("UV_THREADPOOL_SIZE", pool, 0);
    uv_loop_t *loop = uv_default_loop();
    rc = server_init(&g_srv, loop, &cfg);
    if (rc < 0) {
        fprintf(stderr, "blindpad-server: %s\n", bp_strerror(rc));
        return 1;
    }
    uv_signal_init(loop, &g_sigterm);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &g_sigint);
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    server_free(&g_srv);
    uv_loop_close(loop);
    LOG_INFO("stopped");
    log_flush();
    return 0;
}
