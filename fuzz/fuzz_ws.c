/* fuzz_ws.c: libFuzzer target for the input path of one connection: HTTP/1.1
 * parsing (http_parser), the WebSocket upgrade, then frames (wslay), with the
 * output queue behind them. No socket: net__conn_input() is fed directly and
 * the connection's first write fails, which closes it the ordinary way.
 *
 * Input layout: byte 0 seeds the chunk sizes (so a frame or a header can be
 * split at any point, as TCP may do); the rest is the byte stream.
 *
 *   make build/fuzz/fuzz_ws && build/fuzz/fuzz_ws fuzz/corpus/fuzz_ws */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/log.h"
#include "server/net.h"
#include "server/net_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct net *net;

/* Echo, so that messages reach the output queue; "c..." closes, "x..." aborts. */
static void f_on_message(void *ud, struct conn *c, const char *p, size_t len, int binary)
{
    if (len && p[0] == 'c') {
        char reason[200]; /* up to 199 bytes: also exercises the 123-byte cut */
        snprintf(reason, sizeof reason, "%.*s", len < 199 ? (int)len : 199, p);
        conn_close(c, (uint16_t)(len * 977), reason); /* any code; invalid ones become 1000 */
    }
    else if (len && p[0] == 'x')
        conn_abort(c, "FUZZ");
    else
        conn_send(c, p, len);
}

static void f_on_close(void *ud, struct conn *c, const char *reason)
{
    if (conn_send(c, "x", 1) == 0)
        abort(); /* a closed conn must refuse output */
}

static void f_on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    if (!strcmp(req->path, "/health")) {
        resp->status = 200;
        buf_append(&resp->body, req->body, req->body_len);
        for (size_t i = 0; i < req->n_headers; i++)
            buf_appendf(&resp->headers, "X-%zu: %zu\r\n", i, strlen(req->headers[i].value));
    }
}

static void setup(void)
{
    static const struct net_config cfg = {
        .host = "127.0.0.1",
        .max_message = 64 * 1024,
        .max_output = 256 * 1024,
        .max_http_header = 4096,
        .max_http_body = 4096,
        .max_conns = 10,
    };
    static const struct net_callbacks cb = {
        .on_message = f_on_message,
        .on_close = f_on_close,
        .on_http = f_on_http,
    };
    log_set_level(LOG_LEVEL_ERROR);
    uv_loop_init(&loop);
    if (net_new(&net, &loop, &cfg, &cb) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!net)
        setup();
    if (size == 0)
        return 0;
    char accept[NET_WS_ACCEPT_LEN];
    net__ws_accept((const char *)data + 1, size - 1 < 40 ? size - 1 : 40, accept);

    struct conn *c = net__conn_new_unconnected(net);
    uint32_t seed = data[0] * 2654435761u + 1;
    const char *p = (const char *)data + 1;
    size_t left = size - 1;
    while (left) {
        seed = seed * 1103515245u + 12345u;
        size_t n = data[0] & 0x80 ? (seed >> 16) % 300 + 1 : left; /* split or whole */
        if (n > left)
            n = left;
        net__conn_input(c, p, n);
        p += n;
        left -= n;
    }
    conn_abort(c, "END"); /* c stays valid until the loop runs its close callbacks */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (net_conn_count(net) != 0)
        abort();
    return 0;
}
