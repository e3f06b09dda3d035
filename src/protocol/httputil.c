/* httputil.c: pure helpers for the HTTP side (see httputil.h). */
#include "protocol/httputil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/jsonw.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Case-insensitive prefix test; returns the rest of s after it, or NULL. */
static const char *skip_word(const char *s, const char *word)
{
    for (; *word; s++, word++)
        if (lower(*s) != lower(*word))
            return NULL;
    return s;
}

/* ---------------------------------------------------------------------- */
/* Paths                                                                   */

/* Checks the segment just written to out[seg..o): "." and ".." are refused,
 * a leading dot marks a hidden file. */
static int segment_check(const char *s, size_t n, bool *hidden)
{
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return BP_EPROTO;
    if (n && s[0] == '.')
        *hidden = true;
    return 0;
}

int httpu_path_decode(const char *path, size_t len, char out[HTTPU_PATH_MAX + 1], size_t *out_len)
{
    bool hidden = false;
    size_t o = 0, seg;
    *out_len = 0;
    out[0] = '\0';
    if (len == 0 || path[0] != '/')
        return BP_EPROTO;
    out[o++] = '/';
    seg = o;
    for (size_t i = 1; i < len;) {
        unsigned char ch = (unsigned char)path[i];
        bool encoded = false;
        if (ch == '%') {
            if (len - i < 3)
                return BP_EPROTO;
            int hi = hexval(path[i + 1]), lo = hexval(path[i + 2]);
            if (hi < 0 || lo < 0)
                return BP_EPROTO;
            ch = (unsigned char)(hi << 4 | lo);
            encoded = true;
            i += 3;
        } else {
            i++;
        }
        if (ch == '/') {
            if (encoded)
                return BP_EPROTO; /* "a%2fb" is one segment to the client, two to the fs */
            if (o == seg)
                continue; /* "//": collapsed */
            if (segment_check(out + seg, o - seg, &hidden) < 0)
                return BP_EPROTO;
        } else if (ch < 0x20 || ch == 0x7f || ch == '\\') {
            return BP_EPROTO;
        }
        if (o >= HTTPU_PATH_MAX)
            return BP_ETOOBIG;
        out[o++] = (char)ch;
        if (ch == '/')
            seg = o;
    }
    if (segment_check(out + seg, o - seg, &hidden) < 0)
        return BP_EPROTO;
    out[o] = '\0';
    *out_len = o;
    return hidden ? BP_ENOENT : 0;
}

/* ---------------------------------------------------------------------- */
/* Range                                                                   */

/* Reads decimal digits at *p (at least one) into *v, at most INT64_MAX. */
static bool read_u63(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *p = s;
    *v = n;
    return true;
}

static const char *skip_blanks(const char *s)
{
    while (is_blank(*s))
        s++;
    return s;
}

int httpu_range_parse(const char *value, uint64_t size, uint64_t *off, uint64_t *len)
{
    *off = *len = 0;
    const char *p = skip_word(skip_blanks(value), "bytes");
    if (!p)
        return BP_EINVAL;
    p = skip_blanks(p);
    if (*p++ != '=')
        return BP_EINVAL;
    p = skip_blanks(p);
    uint64_t a = 0, b = 0;
    bool has_a = read_u63(&p, &a);
    p = skip_blanks(p);
    if (*p++ != '-')
        return BP_EINVAL;
    p = skip_blanks(p);
    bool has_b = read_u63(&p, &b);
    p = skip_blanks(p);
    if (*p != '\0') /* junk, or a second range after ',' */
        return BP_EINVAL;
    if (!has_a && !has_b)
        return BP_EINVAL;
    if (has_a) {
        if (has_b && b < a)
            return BP_EINVAL;
        if (a >= size)
            return BP_ETOOBIG;
        uint64_t last = has_b && b < size - 1 ? b : size - 1;
        *off = a;
        *len = last - a + 1;
        return 0;
    }
    if (b == 0 || size == 0) /* "-n": the last n bytes */
        return BP_ETOOBIG;
    if (b > size)
        b = size;
    *off = size - b;
    *len = b;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* MIME types                                                              */

#define UTF8 "; charset=UTF-8"

static const struct {
    const char *ext;
    const char *type;
} mime_table[] = {
    {"aac", "audio/aac"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"css", "text/css" UTF8},
    {"csv", "text/csv" UTF8},
    {"eot", "application/vnd.ms-fontobject"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html" UTF8},
    {"html", "text/html" UTF8},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "application/javascript" UTF8},
    {"json", "application/json" UTF8},
    {"less", "text/less" UTF8},
    {"map", "application/json" UTF8},
    {"md", "text/markdown" UTF8},
    {"mjs", "application/javascript" UTF8},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain" UTF8},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
};

const char *httpu_mime(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        const char *ext = dot + 1;
        for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++) {
            const char *rest = skip_word(ext, mime_table[i].ext);
            if (rest && *rest == '\0')
                return mime_table[i].type;
        }
    }
    return "application/octet-stream";
}

/* ---------------------------------------------------------------------- */
/* URL rules                                                               */

bool httpu_url_versioned(const char *url)
{
    const char *last_slash = strrchr(url, '/');
    for (const char *p = url; (p = strpbrk(p, "?&")) != NULL; p++) {
        /* [?&]ver= then one or more characters, none of them '/', to the end. */
        if (strncmp(p + 1, "ver=", 4) == 0 && p[5] != '\0' && (!last_slash || last_slash < p + 5))
            return true;
    }
    return false;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define OO_DIST "/common/onlyoffice/dist/"

/* ^/common/onlyoffice/dist/.*\/sdkjs/common/spell/spell/spell.js ('.' = any) */
static bool url_office_spell(const char *url)
{
    static const char mid[] = "/sdkjs/common/spell/spell/spell";
    if (!has_prefix(url, OO_DIST))
        return false;
    for (const char *p = url + strlen(OO_DIST); (p = strstr(p, mid)) != NULL; p++) {
        const char *q = p + strlen(mid);
        if (q[0] && q[1] == 'j' && q[2] == 's')
            return true;
    }
    return false;
}

enum httpu_csp_kind httpu_csp_kind(const char *url)
{
    if ((has_prefix(url, "/common/onlyoffice/") && strstr(url + strlen("/common/onlyoffice/"), ".html")) ||
        url_office_spell(url) || has_prefix(url, "/sheet/inner.html") ||
        has_prefix(url, "/presentation/inner.html") || has_prefix(url, "/doc/inner.html") ||
        has_prefix(url, "/unsafeiframe/inner.html"))
        return HTTPU_CSP_OFFICE;
    if (has_prefix(url, "/api/broadcast") || has_prefix(url, "/api/config"))
        return HTTPU_CSP_NONE;
    return HTTPU_CSP_STANDARD;
}

bool httpu_url_office_fonts(const char *url)
{
    return has_prefix(url, OO_DIST) && strstr(url + strlen(OO_DIST), "/fonts/") != NULL;
}

/* ---------------------------------------------------------------------- */
/* CSP and origins                                                         */

void httpu_csp(struct buf *out, const struct httpu_origins *o, bool office)
{
    const char *u = o->unsafe ? o->unsafe : "";
    const char *s = o->safe && strcmp(o->safe, u) != 0 ? o->safe : "";
    const char *a = o->accounts_api ? o->accounts_api : "";
    /* W: U with its scheme made ws(s). Only the first occurrence of each is
     * replaced, as String.replace does; an origin has one, at the start. */
    struct buf w = BUF_INIT;
    const char *hs = strstr(u, "https://");
    const char *h = strstr(u, "http://");
    if (hs) {
        buf_append(&w, u, (size_t)(hs - u));
        buf_appends(&w, "wss://");
        buf_appends(&w, hs + 8);
    } else if (h) {
        buf_append(&w, u, (size_t)(h - u));
        buf_appends(&w, "ws://");
        buf_appends(&w, h + 7);
    } else {
        buf_appends(&w, u);
    }
    struct buf raw = BUF_INIT;
    buf_appendf(&raw, "default-src 'none'; style-src 'unsafe-inline' 'self' %s; font-src 'self' data: %s; ", u, u);
    buf_appendf(&raw, "child-src %s; frame-src 'self' blob: %s; ", u, s);
    buf_appendf(&raw, "connect-src 'self' blob: %s %s %s %s; ", u, s, a, w.data ? w.data : "");
    buf_appendf(&raw, "img-src 'self' data: blob: %s; media-src blob:; ", u);
    if (o->embedding) {
        /* Env.protocol: new URL(U).protocol, the scheme with its colon. */
        const char *colon = strchr(u, ':');
        buf_appendf(&raw, "frame-ancestors 'self' %.*s vector:; ", colon ? (int)(colon - u + 1) : 0, u);
    } else {
        buf_appendf(&raw, "frame-ancestors 'self' %s; ", u);
    }
    buf_appendf(&raw, "worker-src 'self'; script-src 'self' %sresource: %s",
                office ? "'unsafe-eval' 'unsafe-inline' " : "", u);
    /* .replace(/\s+/g, ' ') */
    bool in_blank = false;
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.data[i];
        bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
        if (blank) {
            if (!in_blank)
                buf_appendc(out, ' ');
        } else {
            buf_appendc(out, c);
        }
        in_blank = blank;
    }
    buf_free(&raw);
    buf_free(&w);
}

int httpu_origin_with_port(const char *origin, int port, char *out, size_t cap)
{
    size_t slen;
    bool https;
    if (has_prefix(origin, "http://")) {
        slen = 7;
        https = false;
    } else if (has_prefix(origin, "https://")) {
        slen = 8;
        https = true;
    } else {
        return BP_EINVAL;
    }
    if (port < 1 || port > 65535)
        return BP_EINVAL;
    const char *host = origin + slen;
    size_t hlen;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (!end)
            return BP_EINVAL;
        hlen = (size_t)(end - host) + 1;
    } else {
        hlen = strcspn(host, ":/?#");
    }
    if (hlen == 0)
        return BP_EINVAL;
    const char *rest = host + hlen;
    if (*rest == ':') { /* the old port: digits only */
        rest++;
        if (*rest < '0' || *rest > '9')
            return BP_EINVAL;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    if (*rest != '\0')
        return BP_EINVAL; /* an origin has no path */
    int n;
    if ((https && port == 443) || (!https && port == 80))
        n = snprintf(out, cap, "%.*s%.*s", (int)slen, origin, (int)hlen, host);
    else
        n = snprintf(out, cap, "%.*s%.*s:%d", (int)slen, origin, (int)hlen, host, port);
    if (n < 0 || (size_t)n >= cap)
        return BP_EINVAL;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Content negotiation and validators                                      */

/* A q-value that is zero: "0", "0.", "0.0", "0.00", "0.000". */
static bool q_is_zero(const char *s, size_t n)
{
    if (n == 0 || s[0] != '0')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(i == 1 ? s[i] == '.' : s[i] == '0'))
            return false;
    return true;
}

bool httpu_accepts_gzip(const char *value)
{
    int gzip = -1, star = -1; /* -1 not listed, 0 refused, 1 accepted */
    const char *p = value;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *item = p;
        p += n;
        if (*p == ',')
            p++;
        /* coding [; q=x] */
        while (n && is_blank(*item)) {
            item++;
            n--;
        }
        size_t clen = 0;
        while (clen < n && item[clen] != ';' && !is_blank(item[clen]))
            clen++;
        bool zero = false;
        const char *semi = memchr(item, ';', n);
        if (semi) {
            const char *q = semi + 1;
            const char *end = item + n;
            while (q < end && is_blank(*q))
                q++;
            if (end - q >= 2 && lower(q[0]) == 'q' && q[1] == '=') {
                q += 2;
                size_t qlen = 0;
                while (q + qlen < end && !is_blank(q[qlen]) && q[qlen] != ';')
                    qlen++;
                zero = q_is_zero(q, qlen);
            }
        }
        int v = zero ? 0 : 1;
        if ((clen == 4 && skip_word(item, "gzip") != NULL) || (clen == 6 && skip_word(item, "x-gzip") != NULL))
            gzip = gzip == 1 ? 1 : v;
        else if (clen == 1 && item[0] == '*')
            star = v;
    }
    return gzip == 1 || (gzip == -1 && star == 1);
}

void httpu_etag(char out[HTTPU_ETAG_MAX], uint64_t size, int64_t mtime_ms)
{
    snprintf(out, HTTPU_ETAG_MAX, "W/\"%" PRIx64 "-%" PRIx64 "\"", size, (uint64_t)(mtime_ms < 0 ? 0 : mtime_ms));
}

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void httpu_http_date(char out[HTTPU_DATE_LEN], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, HTTPU_DATE_LEN, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, HTTPU_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

int httpu_http_date_parse(const char *s, int64_t *t)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes at fixed positions. */
    int day, year, hh, mm, ss;
    unsigned mon = 0;
    *t = 0;
    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT") != 0)
        return BP_EINVAL;
    bool wday_ok = false;
    for (int i = 0; i < 7; i++)
        wday_ok |= memcmp(s, wdays[i], 3) == 0;
    for (unsigned i = 0; i < 12; i++)
        if (memcmp(s + 8, months[i], 3) == 0)
            mon = i + 1;
    if (!wday_ok || !mon || !digits(s + 5, 2, &day) || !digits(s + 12, 4, &year) || !digits(s + 17, 2, &hh) ||
        !digits(s + 20, 2, &mm) || !digits(s + 23, 2, &ss) || day < 1 || day > 31 || hh > 23 || mm > 59 ||
        ss > 60)
        return BP_EINVAL;
    *t = days_from_civil(year, mon, (unsigned)day) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

/* Weak comparison of two entity tags (RFC 9110 §8.8.3.2): W/ ignored. */
static bool etag_weak_eq(const char *a, size_t alen, const char *b)
{
    if (alen >= 2 && a[0] == 'W' && a[1] == '/') {
        a += 2;
        alen -= 2;
    }
    if (b[0] == 'W' && b[1] == '/')
        b += 2;
    return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

/* True if the comma-separated list holds the token no-cache. */
static bool has_no_cache(const char *cc)
{
    while (*cc) {
        size_t n = strcspn(cc, ",");
        const char *t = cc;
        size_t tl = n;
        while (tl && is_blank(*t)) {
            t++;
            tl--;
        }
        while (tl && is_blank(t[tl - 1]))
            tl--;
        if (tl == 8 && skip_word(t, "no-cache"))
            return true;
        cc += n;
        if (*cc == ',')
            cc++;
    }
    return false;
}

bool httpu_not_modified(const char *if_none_match, const char *if_modified_since,
                        const char *cache_control, const char *etag, int64_t mtime_s)
{
    if (!if_none_match && !if_modified_since)
        return false;
    if (cache_control && has_no_cache(cache_control))
        return false;
    if (if_none_match) {
        const char *p = if_none_match;
        while (*p) {
            size_t n = strcspn(p, ",");
            const char *tag = p;
            size_t tl = n;
            while (tl && is_blank(*tag)) {
                tag++;
                tl--;
            }
            while (tl && is_blank(tag[tl - 1]))
                tl--;
            if ((tl == 1 && tag[0] == '*') || (etag && tl && etag_weak_eq(tag, tl, etag)))
                return true;
            p += n;
            if (*p == ',')
                p++;
        }
        return false;
    }
    int64_t since;
    return httpu_http_date_parse(if_modified_since, &since) == 0 && mtime_s <= since;
}

/* ---------------------------------------------------------------------- */
/* JSON.stringify(v, null, '\t')                                           */

static void indent(struct buf *out, int depth)
{
    buf_appendc(out, '\n');
    for (int i = 0; i < depth; i++)
        buf_appendc(out, '\t');
}

static void pretty(struct buf *out, const json_t *v, int depth)
{
    if (depth > 64) {
        buf_appends(out, "null");
        return;
    }
    if (json_is_object(v)) {
        if (json_object_size(v) == 0) {
            buf_appends(out, "{}");
            return;
        }
        const char *k;
        json_t *m;
        bool first = true;
        buf_appendc(out, '{');
        json_object_foreach((json_t *)v, k, m) {
            if (!first)
                buf_appendc(out, ',');
            first = false;
            indent(out, depth + 1);
            jsonw_cstr(out, k);
            buf_appends(out, ": ");
            pretty(out, m, depth + 1);
        }
        indent(out, depth);
        buf_appendc(out, '}');
    } else if (json_is_array(v)) {
        if (json_array_size(v) == 0) {
            buf_appends(out, "[]");
            return;
        }
        size_t i;
        json_t *m;
        buf_appendc(out, '[');
        json_array_foreach(v, i, m) {
            if (i)
                buf_appendc(out, ',');
            indent(out, depth + 1);
            pretty(out, m, depth + 1);
        }
        indent(out, depth);
        buf_appendc(out, ']');
    } else {
        jsonw_value(out, v);
    }
}

void httpu_json_pretty(struct buf *out, const json_t *v)
{
    pretty(out, v, 0);
}
