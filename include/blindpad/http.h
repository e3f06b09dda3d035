/* blindpad/http.h: a small HTTP/1.1 client (http:// only) for the server's
 * HTTP endpoints (SERVER-API.md §3): /api/config, GET /block, GET/HEAD /blob
 * with Range, POST /upload-blob and the two-stage POST /api/auth.
 *
 * One TCP connection per request ("Connection: close"). Responses are parsed
 * with Node's http_parser (chunked transfer encoding included); the body is
 * kept in memory up to max_body bytes (BP_ETOOBIG beyond). Every header line
 * and the number of headers are bounded too.
 *
 * Asynchronous form on the caller's uv loop (bp_http_request) and blocking
 * forms with a private loop (bp_http_get, bp_http_post, bp_http_fetch).
 * Responses are caller-owned: bp_http_resp_free(). A non-2xx status is NOT an
 * error at this level (the response is returned); the helpers that implement
 * a protocol step (bp_http_auth, bp_http_upload_chunk) turn non-2xx into
 * BP_ESERVER with the server's "error" text. https:// URLs use TLS with the
 * certificate verified (see blindpad/client.h); a TLS failure is BP_ENET. */
#ifndef BLINDPAD_HTTP_H
#define BLINDPAD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <blindpad/client.h>
#include <blindpad/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_HTTP_BODY_DEFAULT (32u << 20) /* default max_body */
#define BP_HTTP_MAX_HEADERS 64
#define BP_HTTP_MAX_HEADER_LINE 8192

struct bp_http_header {
    char *name;  /* lower-cased */
    char *value;
};

struct bp_http_resp {
    int status;
    struct bp_http_header *headers; /* n_headers entries */
    size_t n_headers;
    uint8_t *body;                  /* NUL-terminated (not counted in body_len) */
    size_t body_len;
};

/* Returns the first header with that (case-insensitive) name, or NULL. */
const char *bp_http_header(const struct bp_http_resp *r, const char *name);
void bp_http_resp_free(struct bp_http_resp *r);

struct bp_http_req {
    const char *method;        /* "GET", "HEAD", "POST" */
    const char *url;           /* http://host[:port]/path?query */
    const char *const *headers; /* NULL-terminated "Name: value" strings, or NULL */
    const char *content_type;  /* POST only; NULL = application/json */
    const void *body;          /* POST body (body_len bytes) */
    size_t body_len;
    size_t max_body;           /* 0 = BP_HTTP_BODY_DEFAULT */
    unsigned timeout_ms;       /* whole request; 0 = BP_CONN_TIMEOUT_DEFAULT */
};

struct bp_http_call;
/* resp is owned by the callback (free it with bp_http_resp_free) and NULL
 * when err < 0; errmsg says why then. */
typedef void (*bp_http_cb)(int err, struct bp_http_resp *resp, const char *errmsg, void *ud);

/* Starts a request on loop; cb is called exactly once, later. */
int bp_http_request(uv_loop_t *loop, const struct bp_http_req *req, bp_http_cb cb, void *ud);

/* Blocking versions (private loop). errmsg (may be NULL) gets a description
 * on failure. *out is NULL on error. */
int bp_http_fetch(const struct bp_http_req *req, struct bp_http_resp **out, char *errmsg,
                  size_t errmsg_len);
int bp_http_get(const char *url, const char *range, struct bp_http_resp **out);
int bp_http_post(const char *url, const char *content_type, const void *body, size_t len,
                 struct bp_http_resp **out);

/* POST /api/auth, both stages (SERVER-API §3.7): stage 1 sends
 * {"command":cmd, ...params, "publicKey":<pk>, "nonce":<24 random bytes>};
 * stage 2 signs that body with txid and date appended and sends {sig, txid}.
 * base: the server origin ("http://host:port"); params_json: a JSON object
 * (or NULL) whose members are placed before publicKey. *result (malloc'd,
 * may be "" for an empty body) gets the stage-2 body. BP_ESERVER on a non-2xx
 * answer, with the server's error (errorCode if present) in errmsg. */
int bp_http_auth(const char *base, const struct bp_sign_key *key, const char *cmd,
                 const char *params_json, char **result, char *errmsg, size_t errmsg_len);

/* POST /upload-blob (§3.6): sends chunk (raw bytes, base64-encoded here) with
 * sig = crypto_sign(cookie). new_cookie (at least 65 bytes) gets the next
 * cookie. raw_max (may be NULL) gets the largest body bp_http_upload_raw()
 * may send to this server: a blindpad server advertises it in every
 * /upload-blob answer (X-Blindpad-Upload-Max); 0 = CryptPad's server, JSON
 * chunks only. */
int bp_http_upload_chunk(const char *base, const struct bp_sign_key *key, const char *cookie,
                         const void *chunk, size_t len, char *new_cookie, size_t new_cookie_len,
                         size_t *raw_max, char *errmsg, size_t errmsg_len);

/* The binary form of the same step (blindpad extension, docs/PROTOCOL.md
 * "Binary uploads"): data (len <= the raw_max the server advertised, at most
 * BP_HTTP_UPLOAD_RAW_MAX) is sent as it is, application/octet-stream, with
 * the key and signed cookie in X-Blindpad-Key / X-Blindpad-Sig: no base64
 * on either side and far fewer requests. data is borrowed. */
#define BP_HTTP_UPLOAD_RAW_MAX ((size_t)64 << 20)
int bp_http_upload_raw(const char *base, const struct bp_sign_key *key, const char *cookie,
                       const void *data, size_t len, char *new_cookie, size_t new_cookie_len,
                       char *errmsg, size_t errmsg_len);

#ifdef __cplusplus
}
#endif

#endif
