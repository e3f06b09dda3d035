/* httputil.h: pure helpers for the HTTP side (SERVER-API.md §3): request
 * path decoding, Range headers, MIME types, caching rules and validators,
 * the security headers' CSP, and JSON.stringify(v, null, '\t').
 *
 * No I/O and no state: every function here only reads its arguments, so
 * they are unit-tested (tests/unit/test_httputil.c) and fuzzed
 * (fuzz/fuzz_http.c). The router (server/web.c) and the blob module
 * (server/files.c) use them. Strings are NUL-terminated unless a length is
 * given. */
#ifndef BP_HTTPUTIL_H
#define BP_HTTPUTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define HTTPU_PATH_MAX 2048  /* longest decoded request path served */
#define HTTPU_ETAG_MAX 48    /* room for an etag from httpu_etag(), NUL included */
#define HTTPU_DATE_LEN 30    /* room for an IMF-fixdate, NUL included */

/* Decodes a request path (the URL up to '?', as sent) into out: %XX escapes
 * decoded and runs of '/' collapsed into one. The result starts with '/'
 * and keeps a trailing '/'. Returns 0 and sets *out_len, or:
 *   BP_EPROTO   (answer 400) not starting with '/' (absolute or '*' forms),
 *               a bad escape, a NUL or other control byte, a backslash
 *               (raw or encoded), an encoded '/' (it would join two
 *               segments), a "." or ".." segment, raw or encoded;
 *   BP_ENOENT   (answer 404) a segment that starts with '.' (hidden files
 *               are never served, like Express' dotfiles "ignore");
 *   BP_ETOOBIG  (answer 404) longer than HTTPU_PATH_MAX once decoded.
 * So a decoded path names a file strictly below the directory it is joined
 * to, whatever the input. out is written even on error (undefined then). */
int httpu_path_decode(const char *path, size_t len, char out[HTTPU_PATH_MAX + 1], size_t *out_len);

/* Parses a Range header value against a representation of size bytes
 * (RFC 9110 §14.1.2): "bytes=a-b" (b clamped to size - 1), "bytes=a-", and
 * the suffix form "bytes=-n" (the last n bytes, all of them if n > size).
 * Blanks around the unit, '=', the numbers and '-' are allowed. Returns:
 *   0           one satisfiable range: answer 206 with [*off, *off + *len);
 *   BP_EINVAL   ignore the header and answer 200 with everything: another
 *               unit, bad syntax (a > b, junk, numbers over 2^63), or
 *               several ranges (the reference serves those whole too);
 *   BP_ETOOBIG  not satisfiable (a >= size, "-0", an empty representation):
 *               answer 416 with "Content-Range: bytes * /size" (no blank). */
int httpu_range_parse(const char *value, uint64_t size, uint64_t *off, uint64_t *len);

/* The Content-Type for a file name, by its extension (case-insensitive): a
 * static string. Text types carry "; charset=UTF-8" as Express sends them;
 * .wasm is application/wasm (streaming compilation needs it); unknown or no
 * extension: application/octet-stream. */
const char *httpu_mime(const char *name);

/* True if url (path and query as sent) matches the reference's cache rule
 * /[?&]ver=[^/]+$/: such URLs name one version of a file and get
 * "Cache-Control: max-age=31536000"; every other response gets no-cache. */
bool httpu_url_versioned(const char *url);

enum httpu_csp_kind {
    HTTPU_CSP_STANDARD,
    HTTPU_CSP_OFFICE,   /* script-src also allows 'unsafe-eval' 'unsafe-inline' */
    HTTPU_CSP_NONE,     /* /api/config*, /api/broadcast*: no CSP header */
};

/* Which CSP an url gets (§3.10), by the reference's regular expressions on
 * the URL as sent: office for ^/common/onlyoffice/.*\.html,
 * ^/common/onlyoffice/dist/.*\/sdkjs/common/spell/spell/spell.js,
 * ^/(sheet|presentation|doc)/inner\.html and ^/unsafeiframe/inner\.html; none
 * for ^/api/(broadcast|config). */
enum httpu_csp_kind httpu_csp_kind(const char *url);

/* True for ^/common/onlyoffice/dist/.*\/fonts/ (ACAO special case, §3.10). */
bool httpu_url_office_fonts(const char *url);

struct httpu_origins {
    const char *unsafe;        /* httpUnsafeOrigin, e.g. "https://pad.example" */
    const char *safe;          /* httpSafeOrigin */
    const char *accounts_api;  /* "" or NULL when none */
    bool embedding;            /* enableEmbedding */
};

/* Appends the Content-Security-Policy value that the reference builds
 * (lib/defaults.js commonCSP + script-src), byte for byte: the directives
 * joined with "; ", then every run of blanks made one space. */
void httpu_csp(struct buf *out, const struct httpu_origins *o, bool office);

/* Writes origin with its port replaced by port, as the reference derives
 * the sandbox origin (new URL(unsafe); url.port = httpPort + 1): the port is
 * left out when it is the scheme's default (http 80, https 443).
 * "http://localhost:3000", 3001 -> "http://localhost:3001". Returns 0, or
 * BP_EINVAL if origin is not http(s)://host[:port] (an IPv6 host in
 * brackets), port is not 1..65535, or the result does not fit in cap. */
int httpu_origin_with_port(const char *origin, int port, char *out, size_t cap);

/* True if an Accept-Encoding value accepts gzip: "gzip" (or "x-gzip", or
 * "*" when gzip is not listed) with a q-value that is not 0. */
bool httpu_accepts_gzip(const char *value);

/* The weak validator Express gives static files: W/"<size hex>-<mtime ms hex>". */
void httpu_etag(char out[HTTPU_ETAG_MAX], uint64_t size, int64_t mtime_ms);

/* Writes t (seconds since the epoch, UTC) as an IMF-fixdate,
 * "Sun, 06 Nov 1994 08:49:37 GMT". */
void httpu_http_date(char out[HTTPU_DATE_LEN], int64_t t);

/* Parses an IMF-fixdate (the only form clients send today) into seconds
 * since the epoch. Returns 0 or BP_EINVAL. */
int httpu_http_date_parse(const char *s, int64_t *t);

/* Conditional GET/HEAD (RFC 9110 §13.1.2-13.2.2, as the `fresh` module the
 * reference uses): true if the client's copy is current and 304 is the
 * answer. If-None-Match, when present, decides alone: "*" or a listed tag
 * equal to etag under weak comparison. Otherwise If-Modified-Since must
 * parse and be at or after mtime_s. "Cache-Control: no-cache" in the request
 * always means false. Any argument may be NULL (header absent). */
bool httpu_not_modified(const char *if_none_match, const char *if_modified_since,
                        const char *cache_control, const char *etag, int64_t mtime_s);

/* Appends v as JavaScript's JSON.stringify(v, null, '\t') writes it: one
 * member per line, indented with tabs, "key": value, "{}" and "[]" for
 * empty containers; scalars as jsonw.h writes them. Nesting deeper than 64
 * levels is written as null (our config objects never come close). */
void httpu_json_pretty(struct buf *out, const json_t *v);

#endif
