/* fuzz_netflux: the Netflux frame parser and dispatcher (nf.c, hk.c, rpc.c)
 * with a fake transport. The input is split on '\n' into frames; the first
 * byte of each frame picks which of four connected users sends it. Oracle:
 * besides the sanitizers, every frame the server sends must be valid JSON
 * (an array), as the clients JSON.parse it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "protocol/rawjson.h"
#include "server/server.h"

struct conn {
    void *data;
    bool closed;
};

static struct server g_srv;
static struct conn g_conns[4];
static bool g_ready;

static void check_frame(const char *data, size_t len)
{
    json_t *v = json_loadb(data, len, 0, NULL);
    if (!json_is_array(v)) {
        fprintf(stderr, "server sent invalid JSON: %.*s\n", (int)(len > 300 ? 300 : len), data);
        abort();
    }
    json_decref(v);
}

int conn_send(struct conn *c, const char *data, size_t len)
{
    if (c->closed)
        return -14;
    check_frame(data, len);
    return 0;
}
int conn_send_sbuf(struct conn *c, struct sbuf *s) { return conn_send(c, s->data, s->len); }
size_t conn_pending(const struct conn *c) { return 0; }
void conn_close(struct conn *c, uint16_t code, const char *reason) { c->closed = true; }
void conn_abort(struct conn *c, const char *reason) { c->closed = true; }
void conn_set_data(struct conn *c, void *data) { c->data = data; }
void *conn_data(const struct conn *c) { return c->data; }
const char *conn_peer(const struct conn *c) { return "127.0.0.1"; }
size_t net_conn_count(const struct net *n) { return 4; }
void net_free(struct net *n) {}
/* server.c is linked but its setup is not used here. */
int net_new(struct net **out, uv_loop_t *loop, const struct net_config *cfg, const struct net_callbacks *cb) { return -1; }
int net_listen(struct net *n) { return -1; }
int net_port(const struct net *n) { return 0; }
void net_shutdown(struct net *n, void (*done)(void *arg), void *arg) { done(arg); }

static void setup(void)
{
    char dir[] = "/tmp/bp-fuzz-nf-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    log_set_level(LOG_LEVEL_ERROR);
    config_defaults(&g_srv.cfg);
    g_srv.loop = uv_default_loop();
    snprintf(g_srv.hk_id, sizeof g_srv.hk_id, "0123456789abcdef");
    snprintf(g_srv.rpc_pid, sizeof g_srv.rpc_pid, "1");
    struct store_config sc = {.root = dir, .fsync = STORE_FSYNC_NONE, .max_open_files = 64, .max_cached = 64};
    if (store_new(&g_srv.store, &sc) != 0)
        abort();
    uv_timer_init(g_srv.loop, &g_srv.sync_timer);
    g_srv.vjobs_max = 2;
    g_srv.sync_timer.data = &g_srv;
    g_ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_ready)
        setup();
    for (int i = 0; i < 4; i++) {
        memset(&g_conns[i], 0, sizeof g_conns[i]);
        nf_on_open(&g_srv, &g_conns[i]);
    }
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p) {
            /* Oracle: the fast frame parser agrees with the plain one. */
            json_t *a = rawjson_load(p + 1, (size_t)(le - p - 1));
            json_t *b = rawjson_load_frame(p + 1, (size_t)(le - p - 1));
            if (!a != !b || (a && !json_equal(a, b))) {
                fprintf(stderr, "rawjson_load_frame disagrees with rawjson_load\n");
                abort();
            }
            json_decref(a);
            json_decref(b);
            struct conn *c = &g_conns[(unsigned char)*p % 4];
            if (!c->closed)
                nf_on_message(&g_srv, c, p + 1, (size_t)(le - p - 1), 0);
        }
        p = le + 1;
        while (g_srv.pending_work)
            uv_run(g_srv.loop, UV_RUN_ONCE);
    }
    for (int i = 0; i < 4; i++)
        nf_on_close(&g_srv, &g_conns[i], "FUZZ");
    while (g_srv.pending_work)
        uv_run(g_srv.loop, UV_RUN_ONCE);
    return 0;
}
