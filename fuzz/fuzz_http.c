/* fuzz_http.c: libFuzzer target for the HTTP side: the pure helpers of
 * protocol/httputil.c with their invariants checked (abort on violation),
 * then the same bytes as an HTTP stream into one net.c connection whose
 * handler answers with file bodies, so that streaming, the input stashed
 * behind a body and the close during a file read are exercised.
 *
 * Input layout: byte 0 seeds the chunk sizes of the stream (as fuzz_ws);
 * the rest is the text given to every parser and then the stream.
 *
 *   make build/fuzz/fuzz_http && build/fuzz/fuzz_http fuzz/corpus/fuzz_http */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/err.h"
#include "common/log.h"
#include "protocol/httputil.h"
#include "server/net.h"
#include "server/net_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                         \
    do {                                                                 \
        if (!(c)) {                                                      \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                     \
        }                                                                \
    } while (0)

static uv_loop_t loop;
static struct net *net;
static int file_fd = -1; /* a 600 KiB file to stream from */

static void check_path(const char *s, size_t n)
{
    char out[HTTPU_PATH_MAX + 1];
    size_t len = 0;
    int rc = httpu_path_decode(s, n, out, &len);
    CHECK(rc == 0 || rc == BP_EPROTO || rc == BP_ENOENT || rc == BP_ETOOBIG);
    if (rc != 0 && rc != BP_ENOENT)
        return;
    CHECK(len >= 1 && len <= HTTPU_PATH_MAX && strlen(out) == len && out[0] == '/');
    CHECK(!strstr(out, "//") && !strchr(out, '\\'));
    for (size_t i = 0; i < len; i++)
        CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    /* no "." or ".." segment: nothing can climb out of the root it is joined to */
    for (const char *p = out; p; p = strchr(p + 1, '/')) {
        const char *seg = p + 1;
        size_t sl = strcspn(seg, "/");
        CHECK(!(sl == 1 && seg[0] == '.') && !(sl == 2 && seg[0] == '.' && seg[1] == '.'));
        CHECK(rc == BP_ENOENT || sl == 0 || seg[0] != '.');
    }
}

static void check_range(const char *s, uint64_t size)
{
    uint64_t off, len;
    int rc = httpu_range_parse(s, size, &off, &len);
    CHECK(rc == 0 || rc == BP_EINVAL || rc == BP_ETOOBIG);
    if (rc == 0)
        CHECK(len > 0 && off < size && len <= size - off);
}

static int json_depth(const json_t *v)
{
    int d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            int x = json_depth(m);
            d = x > d ? x : d;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            int x = json_depth(m);
            d = x > d ? x : d;
        }
        return d + 1;
    }
    return 0;
}

/* json_equal(), except that numbers compare by value: JSON.stringify writes
 * 1.0 as 1, which reads back as an integer. */
static bool js_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!js_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        const char *k;
        json_t *m;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach((json_t *)a, k, m) {
            json_t *o = json_object_get(b, k);
            if (!o || !js_equal(m, o))
                return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static void check_helpers(const char *s, size_t n)
{
    check_path(s, n);
    check_path(s, strlen(s)); /* up to an embedded NUL */
    check_range(s, 0);
    check_range(s, 1);
    check_range(s, 24);
    check_range(s, UINT64_MAX);
    const char *mime = httpu_mime(s);
    CHECK(mime && *mime);
    (void)httpu_url_versioned(s);
    (void)httpu_url_office_fonts(s);
    enum httpu_csp_kind k = httpu_csp_kind(s);
    CHECK(k == HTTPU_CSP_STANDARD || k == HTTPU_CSP_OFFICE || k == HTTPU_CSP_NONE);
    (void)httpu_accepts_gzip(s);

    int64_t t;
    if (httpu_http_date_parse(s, &t) == 0 && t >= 0 && t <= 253402300799LL) {
        char d[HTTPU_DATE_LEN];
        int64_t t2;
        httpu_http_date(d, t);
        CHECK(httpu_http_date_parse(d, &t2) == 0 && t2 == t);
    }
    char etag[HTTPU_ETAG_MAX];
    httpu_etag(etag, n, (int64_t)n * 1000);
    (void)httpu_not_modified(s, s, s, etag, (int64_t)n);
    (void)httpu_not_modified(NULL, s, NULL, etag, 0);

    char origin[128];
    if (httpu_origin_with_port(s, (int)(n % 70000), origin, sizeof origin) == 0)
        CHECK(!strncmp(origin, "http://", 7) || !strncmp(origin, "https://", 8));
    struct buf csp = BUF_INIT;
    struct httpu_origins o = {s, "http://x", s, n & 1};
    httpu_csp(&csp, &o, n & 2);
    CHECK(csp.len && !strstr(csp.data, "  "));
    buf_free(&csp);

    /* JSON.stringify(v, null, '\t') reads back as the same value. */
    json_error_t err;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (v) {
        struct buf b = BUF_INIT;
        httpu_json_pretty(&b, v);
        json_t *back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        /* A double from 2^63 up to 1e21 is written as JavaScript does, as
         * digits without a point ("222222222222222220000"), which jansson
         * reads back as an integer that does not fit: not a writer bug. */
        if (!back && strstr(err.text, "too big")) {
            json_decref(v);
            buf_free(&b);
            return;
        }
        CHECK(back);
        if (json_depth(v) <= 60)
            CHECK(js_equal(v, back));
        json_decref(back);
        json_decref(v);
        buf_free(&b);
    }
}

/* "/f...": a file body (ranges from the path's length); "/h": HEAD-like 304
 * with a file; anything else: a small body. */
static void f_on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    size_t pl = strlen(req->path);
    check_path(req->path, pl);
    resp->status = 200;
    if (req->path[0] == '/' && req->path[1] == 'f') {
        resp->file_fd = dup(file_fd);
        resp->file_off = (pl * 4099) % (700u << 10); /* sometimes past the end: short file */
        resp->file_len = (pl * 65537) % (600u << 10);
    } else if (req->path[0] == '/' && req->path[1] == 'h') {
        resp->status = 304;
        resp->file_fd = dup(file_fd);
        resp->file_len = 10;
    } else {
        buf_appends(&resp->body, "ok\n");
    }
}

static void setup(void)
{
    static const struct net_config cfg = {
        .host = "127.0.0.1",
        .max_http_header = 4096,
        .max_http_body = 4096,
        .max_conns = 10,
    };
    static const struct net_callbacks cb = {.on_http = f_on_http};
    log_set_level(LOG_LEVEL_ERROR);
    uv_loop_init(&loop);
    if (net_new(&net, &loop, &cfg, &cb) != 0)
        abort();
    char path[] = "/tmp/fuzz_http.XXXXXX";
    file_fd = mkstemp(path);
    if (file_fd < 0)
        abort();
    unlink(path);
    static char block[4096];
    memset(block, 'z', sizeof block);
    for (int i = 0; i < 150; i++)
        if (write(file_fd, block, sizeof block) != (ssize_t)sizeof block)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!net)
        setup();
    if (size == 0)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    check_helpers(s, size - 1);
    free(s);

    struct conn *c = net__conn_new_unconnected(net);
    uint32_t seed = data[0] * 2654435761u + 1;
    const char *p = (const char *)data + 1;
    size_t left = size - 1;
    while (left) {
        seed = seed * 1103515245u + 12345u;
        size_t n = data[0] & 0x80 ? (seed >> 16) % 300 + 1 : left;
        if (n > left)
            n = left;
        net__conn_input(c, p, n);
        p += n;
        left -= n;
    }
    /* One loop turn: the first write fails and closes c, maybe while a file
     * read is in flight. Then, if c is still there (no complete request,
     * nothing written), close it. c is the only conn. */
    uv_run(&loop, UV_RUN_NOWAIT);
    if (net_conn_count(net) != 0)
        conn_abort(c, "END");
    uv_run(&loop, UV_RUN_DEFAULT);
    if (net_conn_count(net) != 0)
        abort();
    return 0;
}
