/* httpc.c: the HTTP/1.1 client (blindpad/http.h) and its response parser
 * (cnet_hresp_*, also used for the WebSocket handshake's 101 response).
 *
 * Parsing is Node's http_parser in HTTP_RESPONSE mode; it de-chunks chunked
 * bodies and enforces the framing. We bound what we keep: header lines
 * (BP_HTTP_MAX_HEADER_LINE), number of headers (BP_HTTP_MAX_HEADERS), body
 * (max_body). Requests always say "Connection: close", so a response without
 * Content-Length or chunking simply ends at EOF. */
#include <blindpad/http.h>

#include <ctype.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/cnet.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "protocol/rawjson.h"

/* ---- response parser ---- */

const char *bp_http_header(const struct bp_http_resp *r, const char *name)
{
    if (!r)
        return NULL;
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void bp_http_resp_free(struct bp_http_resp *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    free(r);
}

static int fail(struct cnet_hresp *p, int err)
{
    if (!p->err)
        p->err = err;
    return -1; /* makes http_parser stop */
}

static int end_header(struct cnet_hresp *p)
{
    if (!p->in_value)
        return 0;
    struct bp_http_resp *r = p->r;
    if (r->n_headers >= BP_HTTP_MAX_HEADERS)
        return BP_ETOOBIG;
    if (!r->headers) {
        r->headers = calloc(BP_HTTP_MAX_HEADERS, sizeof(*r->headers));
        if (!r->headers)
            return BP_ENOMEM;
    }
    char *n = malloc(p->field.len + 1), *v = malloc(p->value.len + 1);
    if (!n || !v) {
        free(n);
        free(v);
        return BP_ENOMEM;
    }
    for (size_t i = 0; i < p->field.len; i++)
        n[i] = (char)tolower((unsigned char)p->field.data[i]);
    n[p->field.len] = '\0';
    if (p->value.len)
        memcpy(v, p->value.data, p->value.len);
    v[p->value.len] = '\0';
    r->headers[r->n_headers].name = n;
    r->headers[r->n_headers].value = v;
    r->n_headers++;
    p->field.len = p->value.len = 0;
    p->in_value = false;
    return 0;
}

static int on_hfield(http_parser *hp, const char *at, size_t n)
{
    struct cnet_hresp *p = hp->data;
    int r = end_header(p);
    if (r)
        return fail(p, r);
    if (p->field.len + n > BP_HTTP_MAX_HEADER_LINE)
        return fail(p, BP_ETOOBIG);
    buf_append(&p->field, at, n);
    return 0;
}

static int on_hvalue(http_parser *hp, const char *at, size_t n)
{
    struct cnet_hresp *p = hp->data;
    p->in_value = true;
    if (p->field.len + p->value.len + n > BP_HTTP_MAX_HEADER_LINE)
        return fail(p, BP_ETOOBIG);
    buf_append(&p->value, at, n);
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    struct cnet_hresp *p = hp->data;
    int r = end_header(p);
    if (r)
        return fail(p, r);
    p->r->status = (int)hp->status_code;
    p->headers_done = true;
    if (hp->content_length != (uint64_t)-1 && hp->content_length > p->max_body && !p->head_only &&
        !hp->upgrade)
        return fail(p, BP_ETOOBIG);
    return p->head_only ? 1 : 0; /* 1 = no body (HEAD) */
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    struct cnet_hresp *p = hp->data;
    struct bp_http_resp *r = p->r;
    if (n > p->max_body - r->body_len)
        return fail(p, BP_ETOOBIG);
    uint8_t *nb = realloc(r->body, r->body_len + n + 1);
    if (!nb)
        return fail(p, BP_ENOMEM);
    r->body = nb;
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    struct cnet_hresp *p = hp->data;
    p->done = true;
    return 0;
}

void cnet_hresp_init(struct cnet_hresp *p, bool head_only, size_t max_body)
{
    memset(p, 0, sizeof(*p));
    http_parser_init(&p->hp, HTTP_RESPONSE);
    p->hp.data = p;
    http_parser_settings_init(&p->hs);
    p->hs.on_header_field = on_hfield;
    p->hs.on_header_value = on_hvalue;
    p->hs.on_headers_complete = on_headers_complete;
    p->hs.on_body = on_body;
    p->hs.on_message_complete = on_message_complete;
    p->head_only = head_only;
    p->max_body = max_body ? max_body : BP_HTTP_BODY_DEFAULT;
}

long cnet_hresp_feed(struct cnet_hresp *p, const char *data, size_t n)
{
    if (p->err)
        return p->err;
    if (!p->r) {
        p->r = calloc(1, sizeof(*p->r));
        if (!p->r)
            return p->err = BP_ENOMEM;
    }
    if (p->done)
        return (long)n; /* Connection: close; ignore anything after the response */
    if (!p->headers_done) {
        /* http_parser bounds header size itself (HTTP_MAX_HEADER_SIZE, 80 KiB);
         * we also bound the bytes before the body. */
        p->head_bytes += n;
        if (p->head_bytes > (size_t)BP_HTTP_MAX_HEADERS * BP_HTTP_MAX_HEADER_LINE) {
            return p->err = BP_ETOOBIG;
        }
    }
    size_t k = http_parser_execute(&p->hp, &p->hs, data, n);
    if (p->err)
        return p->err;
    if (p->hp.upgrade) {
        p->upgrade = true;
        p->done = p->headers_done;
        return (long)k;
    }
    if (HTTP_PARSER_ERRNO(&p->hp) != HPE_OK)
        return p->err = BP_EPROTO;
    return (long)k;
}

int cnet_hresp_eof(struct cnet_hresp *p)
{
    if (p->err)
        return p->err;
    if (!p->done && p->headers_done) {
        http_parser_execute(&p->hp, &p->hs, NULL, 0);
        if (p->err)
            return p->err;
    }
    return p->done ? 0 : BP_EPROTO;
}

struct bp_http_resp *cnet_hresp_take(struct cnet_hresp *p)
{
    struct bp_http_resp *r = p->r;
    p->r = NULL;
    if (r && !r->body) {
        r->body = calloc(1, 1);
        if (!r->body) {
            bp_http_resp_free(r);
            return NULL;
        }
    }
    return r;
}

void cnet_hresp_free(struct cnet_hresp *p)
{
    bp_http_resp_free(p->r);
    p->r = NULL;
    buf_free(&p->field);
    buf_free(&p->value);
}

int cnet_http_parse_response(const char *data, size_t n, bool head_only, size_t max_body,
                             struct bp_http_resp **out)
{
    *out = NULL;
    struct cnet_hresp p;
    cnet_hresp_init(&p, head_only, max_body);
    long k = cnet_hresp_feed(&p, data, n);
    int r = k < 0 ? (int)k : cnet_hresp_eof(&p);
    if (r == 0) {
        *out = cnet_hresp_take(&p);
        if (!*out)
            r = BP_ENOMEM;
    }
    cnet_hresp_free(&p);
    return r;
}

/* ---- one request ---- */

struct call {
    struct cnet_tcp t;
    uv_timer_t timer;
    uv_write_t wreq;
    struct buf out;
    struct cnet_hresp parser;
    bp_http_cb cb;
    void *ud;
    int err;
    char errmsg[256];
    bool finished, timer_closed, tcp_closed;
    char rbuf[65536];
};

static void call_maybe_free(struct call *c)
{
    if (!c->timer_closed || !c->tcp_closed)
        return;
    buf_free(&c->out);
    cnet_hresp_free(&c->parser);
    free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct call *c = h->data;
    c->timer_closed = true;
    call_maybe_free(c);
}

static void on_tcp_closed(struct cnet_tcp *t)
{
    struct call *c = t->owner;
    c->tcp_closed = true;
    call_maybe_free(c);
}

/* Ends the call: calls cb once, then releases the handles. */
static void finish(struct call *c, int err, const char *fmt, const char *arg)
{
    if (c->finished)
        return;
    c->finished = true;
    struct bp_http_resp *resp = NULL;
    if (err == 0) {
        resp = cnet_hresp_take(&c->parser);
        if (!resp) {
            err = BP_ENOMEM;
            fmt = "out of memory";
        }
    }
    if (err && fmt)
        snprintf(c->errmsg, sizeof(c->errmsg), fmt, arg ? arg : "");
    uv_timer_stop(&c->timer);
    c->cb(err, resp, err ? c->errmsg : NULL, c->ud);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    cnet_tcp_close(&c->t, on_tcp_closed);
}

static void on_timeout(uv_timer_t *h)
{
    finish(h->data, BP_ETIMEOUT, "HTTP request timed out", NULL);
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    struct cnet_tcp *t = h->data;
    struct call *c = t->owner;
    *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct cnet_tcp *t = s->data;
    struct call *c = t->owner;
    if (c->finished)
        return;
    if (nread == UV_EOF) {
        int r = cnet_hresp_eof(&c->parser);
        if (r == 0)
            finish(c, 0, NULL, NULL);
        else if (!c->parser.headers_done && c->parser.head_bytes == 0)
            finish(c, BP_ENET, "the server closed the connection without answering", NULL);
        else
            finish(c, r == BP_ETOOBIG ? r : BP_EPROTO, "malformed HTTP response", NULL);
        return;
    }
    if (nread < 0) {
        finish(c, BP_ENET, "connection error: %s", cnet_tcp_strerror(t, (int)nread));
        return;
    }
    if (nread == 0)
        return; /* EAGAIN (libuv reports it after filling its buffer): not the end; feeding
                   http_parser 0 bytes would mean end of stream */
    long k = cnet_hresp_feed(&c->parser, b->base, (size_t)nread);
    if (k < 0) {
        finish(c, (int)k == BP_ETOOBIG ? BP_ETOOBIG : (int)k == BP_ENOMEM ? BP_ENOMEM : BP_EPROTO,
               (int)k == BP_ETOOBIG ? "HTTP response too large" : "malformed HTTP response", NULL);
        return;
    }
    if (c->parser.done)
        finish(c, 0, NULL, NULL);
}

static void on_written(uv_write_t *w, int status)
{
    struct call *c = w->data;
    if (status < 0 && !c->finished)
        finish(c, BP_ENET, "cannot send the request: %s", uv_strerror(status));
}

static void on_connected(struct cnet_tcp *t, int status)
{
    struct call *c = t->owner;
    if (c->finished)
        return;
    if (status < 0) {
        finish(c, BP_ENET, "cannot connect: %s", cnet_tcp_strerror(t, status));
        return;
    }
    int r = cnet_tcp_read_start(t, on_alloc, on_read);
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    c->wreq.data = c;
    if (r == 0)
        r = cnet_tcp_write(t, &c->wreq, &b, 1, on_written);
    if (r < 0)
        finish(c, BP_ENET, "cannot send the request: %s", cnet_tcp_strerror(t, r));
}

static bool header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return false;
    for (const char *p = h; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return true;
}

int bp_http_request(uv_loop_t *loop, const struct bp_http_req *req, bp_http_cb cb, void *ud)
{
    if (!loop || !req || !req->method || !cb)
        return BP_EINVAL;
    bool post = strcmp(req->method, "POST") == 0;
    bool head = strcmp(req->method, "HEAD") == 0;
    if (!post && !head && strcmp(req->method, "GET") != 0)
        return BP_EINVAL;
    if (req->body_len && !req->body)
        return BP_EINVAL;
    struct cnet_url u;
    int r = cnet_url_parse(req->url, &u);
    if (r)
        return r;
    if (req->content_type && (strchr(req->content_type, '\r') || strchr(req->content_type, '\n')))
        return BP_EINVAL;
    for (const char *const *h = req->headers; h && *h; h++)
        if (!header_ok(*h))
            return BP_EINVAL;
    struct call *c = calloc(1, sizeof(*c));
    if (!c)
        return BP_ENOMEM;
    c->cb = cb;
    c->ud = ud;
    buf_appendf(&c->out, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                         "User-Agent: libblindpad\r\nAccept: */*\r\n",
                req->method, u.path, u.hostport);
    for (const char *const *h = req->headers; h && *h; h++)
        buf_appendf(&c->out, "%s\r\n", *h);
    if (post)
        buf_appendf(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                    req->content_type ? req->content_type : "application/json", req->body_len);
    buf_appends(&c->out, "\r\n");
    if (post && req->body_len)
        buf_append(&c->out, req->body, req->body_len);
    cnet_hresp_init(&c->parser, head, req->max_body);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    r = cnet_tcp_connect_url(&c->t, loop, &u, on_connected, c);
    if (r < 0) {
        c->tcp_closed = true;
        c->finished = true;
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
        return BP_ENET;
    }
    uv_timer_start(&c->timer, on_timeout, req->timeout_ms ? req->timeout_ms : BP_CONN_TIMEOUT_DEFAULT, 0);
    return 0;
}

/* ---- blocking forms ---- */

struct sync_res {
    bool done;
    int err;
    struct bp_http_resp *resp;
    char errmsg[256];
};

static void sync_cb(int err, struct bp_http_resp *resp, const char *errmsg, void *ud)
{
    struct sync_res *s = ud;
    s->done = true;
    s->err = err;
    s->resp = resp;
    if (errmsg)
        snprintf(s->errmsg, sizeof(s->errmsg), "%s", errmsg);
}

static void set_msg(char *errmsg, size_t len, const char *m)
{
    if (errmsg && len)
        snprintf(errmsg, len, "%s", m);
}

int bp_http_fetch(const struct bp_http_req *req, struct bp_http_resp **out, char *errmsg,
                  size_t errmsg_len)
{
    *out = NULL;
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return BP_ENOMEM;
    struct sync_res s = {0};
    int r = bp_http_request(&loop, req, sync_cb, &s);
    if (r == 0) {
        while (!s.done)
            uv_run(&loop, UV_RUN_ONCE);
        r = s.err;
        *out = s.resp;
        if (r)
            set_msg(errmsg, errmsg_len, s.errmsg);
    } else {
        set_msg(errmsg, errmsg_len, r == BP_EINVAL ? "bad URL or header (http:// or https:// only)"
                                                   : bp_strerror(r));
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* lets the handles close */
    uv_loop_close(&loop);
    return r;
}

int bp_http_get(const char *url, const char *range, struct bp_http_resp **out)
{
    char hdr[128];
    const char *hs[2] = {NULL, NULL};
    if (range) {
        if (strlen(range) > 100)
            return BP_EINVAL;
        snprintf(hdr, sizeof(hdr), "Range: %s", range);
        hs[0] = hdr;
    }
    struct bp_http_req req = {.method = "GET", .url = url, .headers = hs};
    return bp_http_fetch(&req, out, NULL, 0);
}

int bp_http_post(const char *url, const char *content_type, const void *body, size_t len,
                 struct bp_http_resp **out)
{
    struct bp_http_req req = {.method = "POST", .url = url, .content_type = content_type,
                              .body = body, .body_len = len};
    return bp_http_fetch(&req, out, NULL, 0);
}

/* ---- protocol helpers ---- */

/* Copies the server's error text from a JSON error body ({"errorCode"} or
 * {"error"}) or the status into errmsg. */
static void server_error(const struct bp_http_resp *resp, char *errmsg, size_t len)
{
    json_t *j = rawjson_load((const char *)resp->body, resp->body_len);
    const char *e = NULL;
    char *dumped = NULL;
    if (json_is_object(j)) {
        json_t *v = json_object_get(j, "errorCode");
        if (!v)
            v = json_object_get(j, "error");
        if (json_is_string(v))
            e = json_string_value(v);
        else if (v)
            e = dumped = jsonw_dump(v, NULL);
    }
    if (errmsg && len) {
        if (e)
            snprintf(errmsg, len, "%s", e);
        else
            snprintf(errmsg, len, "HTTP %d", resp->status);
    }
    free(dumped);
    json_decref(j);
}

/* POSTs body to base+path; a non-2xx answer becomes BP_ESERVER with the
 * server's error in errmsg. raw_headers NULL: a JSON body; else those extra
 * headers and an application/octet-stream body (the binary upload). */
static int post_json(const char *base, const char *path, const struct buf *body,
                     const char *const *raw_headers, struct bp_http_resp **resp, char *errmsg,
                     size_t len)
{
    char url[CNET_PATH_MAX + CNET_HOST_MAX + 16];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    if (bl + strlen(path) + 1 > sizeof(url))
        return BP_EINVAL;
    memcpy(url, base, bl);
    memcpy(url + bl, path, strlen(path) + 1);
    struct bp_http_req req = {.method = "POST", .url = url, .body = body->data,
                              .body_len = body->len, .headers = raw_headers,
                              .content_type = raw_headers ? "application/octet-stream" : NULL};
    int r = bp_http_fetch(&req, resp, errmsg, len);
    if (r == 0 && ((*resp)->status < 200 || (*resp)->status > 299)) {
        server_error(*resp, errmsg, len);
        bp_http_resp_free(*resp);
        *resp = NULL;
        return BP_ESERVER;
    }
    return r;
}

int bp_http_auth(const char *base, const struct bp_sign_key *key, const char *cmd,
                 const char *params_json, char **result, char *errmsg, size_t errmsg_len)
{
    *result = NULL;
    if (!base || !key || !key->pk || !key->sk || !cmd)
        return BP_EINVAL;
    json_t *params = NULL;
    if (params_json) {
        params = rawjson_load(params_json, strlen(params_json));
        if (!json_is_object(params)) {
            json_decref(params);
            set_msg(errmsg, errmsg_len, "params must be a JSON object");
            return BP_EINVAL;
        }
    }
    char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(pk64, sizeof(pk64), key->pk, 32, sodium_base64_VARIANT_ORIGINAL);
    uint8_t nonce[24];
    randombytes_buf(nonce, sizeof(nonce));
    char nonce64[sodium_base64_ENCODED_LEN(24, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(nonce64, sizeof(nonce64), nonce, sizeof(nonce), sodium_base64_VARIANT_ORIGINAL);

    /* Stage 1 body, in the order the web client serialises it. */
    struct buf body = BUF_INIT;
    buf_appends(&body, "{\"command\":");
    jsonw_cstr(&body, cmd);
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        if (!strcmp(k, "command") || !strcmp(k, "publicKey") || !strcmp(k, "nonce"))
            continue;
        buf_appendc(&body, ',');
        jsonw_cstr(&body, k);
        buf_appendc(&body, ':');
        jsonw_value(&body, v);
    }
    json_decref(params);
    buf_appendf(&body, ",\"publicKey\":\"%s\",\"nonce\":\"%s\"}", pk64, nonce64);

    struct bp_http_resp *resp = NULL;
    int r = post_json(base, "/api/auth", &body, NULL, &resp, errmsg, errmsg_len);
    if (r) {
        buf_free(&body);
        return r;
    }
    json_t *ch = rawjson_load((const char *)resp->body, resp->body_len);
    bp_http_resp_free(resp);
    json_t *jt = json_object_get(ch, "txid"), *jd = json_object_get(ch, "date");
    if (!json_is_string(jt) || !json_is_string(jd)) {
        json_decref(ch);
        buf_free(&body);
        set_msg(errmsg, errmsg_len, "the server's challenge has no txid/date");
        return BP_EPROTO;
    }
    /* The signed text: the stage-1 object with txid and date appended,
     * i.e. our own body without its final '}' plus the two members. */
    struct buf signed_text = BUF_INIT;
    buf_append(&signed_text, body.data, body.len - 1);
    buf_appends(&signed_text, ",\"txid\":");
    jsonw_str(&signed_text, json_string_value(jt), json_string_length(jt));
    buf_appends(&signed_text, ",\"date\":");
    jsonw_str(&signed_text, json_string_value(jd), json_string_length(jd));
    buf_appendc(&signed_text, '}');
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const uint8_t *)signed_text.data, signed_text.len, key->sk);
    buf_free(&signed_text);
    char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    buf_reset(&body);
    buf_appendf(&body, "{\"sig\":\"%s\",\"txid\":", sig64);
    jsonw_str(&body, json_string_value(jt), json_string_length(jt));
    buf_appendc(&body, '}');
    json_decref(ch);
    r = post_json(base, "/api/auth", &body, NULL, &resp, errmsg, errmsg_len);
    buf_free(&body);
    if (r)
        return r;
    *result = (char *)resp->body; /* NUL-terminated (cnet_hresp_take) */
    resp->body = NULL;
    bp_http_resp_free(resp);
    return 0;
}

/* The combined signed cookie and the key, base64 (§3.6 "sig", "edPublic"). */
static int upload_sig(const struct bp_sign_key *key, const char *cookie,
                      char sm64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES + 256,
                                                          sodium_base64_VARIANT_ORIGINAL)],
                      char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)])
{
    size_t cl = strlen(cookie);
    if (cl > 256)
        return BP_EINVAL;
    uint8_t sm[crypto_sign_BYTES + 256];
    unsigned long long smlen;
    crypto_sign(sm, &smlen, (const uint8_t *)cookie, cl, key->sk);
    sodium_bin2base64(sm64, sodium_base64_ENCODED_LEN(sizeof(sm), sodium_base64_VARIANT_ORIGINAL),
                      sm, (size_t)smlen, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(pk64, sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL), key->pk,
                      32, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/* A 2xx /upload-blob answer -> the next cookie, and the binary upload's
 * limit if the server advertises it (blindpad extension; 0 otherwise). */
static int upload_answer(struct bp_http_resp *resp, char *new_cookie, size_t new_cookie_len,
                         size_t *raw_max, char *errmsg, size_t errmsg_len)
{
    if (raw_max) {
        const char *m = bp_http_header(resp, "x-blindpad-upload-max");
        char *end = NULL;
        unsigned long long v = m ? strtoull(m, &end, 10) : 0;
        *raw_max = m && end != m && *end == '\0' && v <= BP_HTTP_UPLOAD_RAW_MAX ? (size_t)v : 0;
    }
    json_t *j = rawjson_load((const char *)resp->body, resp->body_len);
    bp_http_resp_free(resp);
    json_t *c = json_object_get(j, "cookie");
    if (!json_is_string(c) || json_string_length(c) + 1 > new_cookie_len) {
        json_decref(j);
        set_msg(errmsg, errmsg_len, "no cookie in the /upload-blob answer");
        return BP_EPROTO;
    }
    memcpy(new_cookie, json_string_value(c), json_string_length(c) + 1);
    json_decref(j);
    return 0;
}

int bp_http_upload_chunk(const char *base, const struct bp_sign_key *key, const char *cookie,
                         const void *chunk, size_t len, char *new_cookie, size_t new_cookie_len,
                         size_t *raw_max, char *errmsg, size_t errmsg_len)
{
    if (!base || !key || !key->pk || !key->sk || !cookie || (!chunk && len) || !new_cookie)
        return BP_EINVAL;
    char sm64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES + 256, sodium_base64_VARIANT_ORIGINAL)];
    char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    if (upload_sig(key, cookie, sm64, pk64))
        return BP_EINVAL;
    /* The chunk is public ciphertext: OpenSSL's EVP_EncodeBlock() (922 MB/s here)
     * rather than libsodium's constant-time encoder (146 MB/s), written
     * straight into the body, which is built without a printf pass over it
     * (bench/filetransfer.sh: these two were 70% of the client's upload CPU). */
    if (len > (size_t)INT_MAX / 2)
        return BP_ETOOBIG;
    size_t b64len = 4 * ((len + 2) / 3);
    struct buf body = BUF_INIT;
    buf_reserve(&body, b64len + 256);
    buf_appends(&body, "{\"chunk\":\"");
    EVP_EncodeBlock((unsigned char *)body.data + body.len, (const unsigned char *)chunk, (int)len);
    body.len += b64len;
    body.data[body.len] = '\0';
    buf_appends(&body, "\",\"sig\":\"");
    buf_appends(&body, sm64);
    buf_appends(&body, "\",\"edPublic\":\"");
    buf_appends(&body, pk64);
    buf_appends(&body, "\"}");
    struct bp_http_resp *resp = NULL;
    int r = post_json(base, "/upload-blob", &body, NULL, &resp, errmsg, errmsg_len);
    buf_free(&body);
    if (r)
        return r;
    return upload_answer(resp, new_cookie, new_cookie_len, raw_max, errmsg, errmsg_len);
}

int bp_http_upload_raw(const char *base, const struct bp_sign_key *key, const char *cookie,
                       const void *data, size_t len, char *new_cookie, size_t new_cookie_len,
                       char *errmsg, size_t errmsg_len)
{
    if (!base || !key || !key->pk || !key->sk || !cookie || (!data && len) || !new_cookie)
        return BP_EINVAL;
    if (len > BP_HTTP_UPLOAD_RAW_MAX)
        return BP_ETOOBIG;
    char sm64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES + 256, sodium_base64_VARIANT_ORIGINAL)];
    char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    if (upload_sig(key, cookie, sm64, pk64))
        return BP_EINVAL;
    char hsig[sizeof sm64 + 32], hkey[sizeof pk64 + 32];
    snprintf(hsig, sizeof hsig, "X-Blindpad-Sig: %s", sm64);
    snprintf(hkey, sizeof hkey, "X-Blindpad-Key: %s", pk64);
    const char *hs[] = {hsig, hkey, NULL};
    struct buf body = {.data = (char *)(uintptr_t)data, .len = len}; /* borrowed, not freed */
    struct bp_http_resp *resp = NULL;
    int r = post_json(base, "/upload-blob", &body, hs, &resp, errmsg, errmsg_len);
    if (r)
        return r;
    return upload_answer(resp, new_cookie, new_cookie_len, NULL, errmsg, errmsg_len);
}
