/* web.c: the HTTP router (see web.h).
 *
 * Route order, as the reference's lib/http-worker.js (SERVER-API.md §3.2);
 * the first route that answers wins:
 *   1. HEAD /blob..., and OPTIONS on any URL containing /blob/: files_http(),
 *      before the security headers (it sets its own, §3.5);
 *   2. every other response gets the security headers of §3.10
 *      (security_headers()) and, unless its handler set one, Cache-Control:
 *      max-age=31536000 for URLs ending in [?&]ver=..., no-cache otherwise;
 *   3. files_http(): GET /blob/..., /upload-blob...;
 *   4. auth_http(): /block/..., POST /api/auth;
 *   5. GET|HEAD /health (health.c);
 *   6. the static client tree (GET|HEAD, from --web-root): customize/www,
 *      www (with .gz variants), /common/... from src/common, then
 *      /(index|contact|features|maintenance).html from customize and
 *      customize.dist;
 *   7. /datastore/...: HEAD from <data>/datastore (a channel log's size and
 *      mtime, for the checkup page), any other method 403;
 *   8. /customize/... from customize then customize.dist,
 *      /customize.dist/... from customize.dist;
 *   9. single-segment paths (/^\/[^/]*$/: "/", "/favicon.ico") from
 *      customize then customize.dist;
 *  10. GET|HEAD /api/config, /api/broadcast, /extensions.js, /api/instance,
 *      /api/logo (an uploaded logo under <data>/data first, admin.h);
 *      /api/updatequota and /api/profiling answer 404;
 *  11. anything else: 404 with customize/404.html or customize.dist/404.html.
 * Routes 10 match as Express does: case-insensitive, one trailing '/'
 * allowed; mount points (/common, /customize, /datastore) too.
 *
 * Static files: the request path is decoded and checked by
 * httpu_path_decode() (400 for "..", encoded '/', NUL, backslash...; 404
 * for hidden names), then opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) below the root directory: the kernel refuses any
 * resolution that leaves the root, through "..", an absolute symlink or a
 * relative one that climbs out, and there is no window between a check and
 * the open. Symlinks that stay inside the root work (a tree may link
 * www/components into place). Where openat2 is missing (Linux < 5.6, or a
 * seccomp filter refusing it) open_checked() resolves with realpath() and
 * checks the prefix instead; the root belongs to the administrator, so the
 * race between that check and open() is not one a client can use. Files
 * open with O_NONBLOCK (a FIFO in the tree cannot block the loop) and only
 * regular files are served. A directory without its trailing slash gets a
 * 301 to the slash form, with one its index.html. Bodies go out as
 * resp->file_fd, streamed by net.c; ETag (W/"size-mtime", as Express) and
 * Last-Modified allow 304s.
 *
 * Opening files happens on the loop thread (open/fstat of local files, like
 * the reference's stat calls); reading them never does. */
#include "server/web.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/httputil.h"
#include "server/admin.h"
#include "server/auth.h"
#include "server/files.h"
#include "server/server.h"
#include "storage/fsutil.h"

#define WEB_VERSION "2026.2.2" /* the CryptPad release whose client we serve: urlArgs */
#define WEB_JS_TYPE "text/javascript; charset=utf-8"
#define WEB_HTML_TYPE "text/html; charset=utf-8"

struct web_state {
    char unsafe[600];       /* httpUnsafeOrigin */
    char safe[600];         /* httpSafeOrigin */
    bool origins_final;     /* computed with a known port */
    bool csp_ready;
    bool csp_embedding;     /* settings.enable_embedding when csp[] was built */
    struct buf csp[2];      /* the CSP values for HTTPU_CSP_STANDARD and HTTPU_CSP_OFFICE */
};

/* ---------------------------------------------------------------------- */
/* Origins and security headers                                            */

static void compute_origins(struct server *srv, struct web_state *w)
{
    const struct config *cfg = &srv->cfg;
    int port = cfg->port ? cfg->port : srv->net ? net_port(srv->net) : 0;
    if (cfg->origin[0])
        snprintf(w->unsafe, sizeof w->unsafe, "%s", cfg->origin);
    else
        snprintf(w->unsafe, sizeof w->unsafe, "http://localhost:%d", port);
    if (cfg->sandbox_origin[0]) {
        snprintf(w->safe, sizeof w->safe, "%s", cfg->sandbox_origin);
    } else {
        int sport = cfg->sandbox_port > 0 ? cfg->sandbox_port : port + 1;
        if (httpu_origin_with_port(w->unsafe, sport, w->safe, sizeof w->safe) < 0)
            snprintf(w->safe, sizeof w->safe, "%s", w->unsafe); /* an origin with a path: no sandbox */
    }
    w->origins_final = port != 0;
    w->csp_ready = false;
}

/* The module's state, made on first use: other modules may ask for the
 * origins before web_init(). */
static struct web_state *ws(struct server *srv)
{
    if (!srv->web)
        srv->web = xcalloc(1, sizeof *srv->web);
    if (!srv->web->origins_final)
        compute_origins(srv, srv->web);
    return srv->web;
}

const char *web_unsafe_origin(struct server *srv)
{
    return ws(srv)->unsafe;
}

const char *web_safe_origin(struct server *srv)
{
    return ws(srv)->safe;
}

const char *web_acao(struct server *srv)
{
    return srv->settings.enable_embedding ? "*" : ws(srv)->safe;
}

static const char *csp_value(struct server *srv, enum httpu_csp_kind kind)
{
    struct web_state *w = ws(srv);
    if (!w->csp_ready || w->csp_embedding != srv->settings.enable_embedding) {
        struct httpu_origins o = {w->unsafe, w->safe, NULL, srv->settings.enable_embedding};
        for (int i = 0; i < 2; i++) {
            buf_reset(&w->csp[i]);
            httpu_csp(&w->csp[i], &o, i == 1);
        }
        w->csp_ready = true;
        w->csp_embedding = srv->settings.enable_embedding;
    }
    return w->csp[kind == HTTPU_CSP_OFFICE ? 1 : 0].data;
}

static const char *req_header(const struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* §3.10, in the reference's order (lib/defaults.js httpHeaders, then CSP,
 * CORP, COEP). */
static void security_headers(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    const char *acao = web_acao(srv);
    if (!srv->settings.enable_embedding && httpu_url_office_fonts(req->url)) {
        const char *origin = req_header(req, "origin");
        if (origin && strcmp(origin, web_unsafe_origin(srv)) == 0)
            acao = web_unsafe_origin(srv);
    }
    struct buf *h = &resp->headers;
    buf_appendf(h,
                "X-XSS-Protection: 1; mode=block\r\nX-Content-Type-Options: nosniff\r\n"
                "Access-Control-Allow-Origin: %s\r\nReferrer-Policy: same-origin\r\n"
                "Permissions-policy: interest-cohort=()\r\n",
                acao);
    enum httpu_csp_kind kind = httpu_csp_kind(req->url);
    if (kind != HTTPU_CSP_NONE)
        buf_appendf(h, "Content-Security-Policy: %s\r\n", csp_value(srv, kind));
    buf_appends(h, "Cross-Origin-Resource-Policy: cross-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\n");
}

/* True if the header block holds a line "<name>:" (case-insensitive). */
static bool resp_has_header(const struct buf *h, const char *name)
{
    size_t n = strlen(name);
    size_t i = 0;
    while (i < h->len) {
        if (h->len - i > n && strncasecmp(h->data + i, name, n) == 0 && h->data[i + n] == ':')
            return true;
        const char *nl = memchr(h->data + i, '\n', h->len - i);
        if (!nl)
            break;
        i = (size_t)(nl - h->data) + 1;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Opening files below a root                                              */

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

static bool g_no_openat2; /* openat2 is unavailable: use open_checked() */

/* The fallback of open_beneath() (see the top of the file). */
static int open_checked(const char *root, const char *rel)
{
    char real_root[PATH_MAX], full[PATH_MAX + HTTPU_PATH_MAX + 2], real[PATH_MAX];
    if (!realpath(root, real_root))
        return -1;
    snprintf(full, sizeof full, "%s/%s", real_root, rel);
    if (!realpath(full, real))
        return -1;
    size_t rl = strlen(real_root);
    if (rl > 1 && (strncmp(real, real_root, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))) {
        errno = EXDEV;
        return -1;
    }
    return open(real, OPEN_FLAGS | O_NOFOLLOW);
}

/* Opens rel (a decoded path, leading '/' ignored; "" is root itself) below
 * the directory root, never outside it. Returns an fd, or -1 with errno. */
static int open_beneath(const char *root, const char *rel)
{
    while (*rel == '/')
        rel++;
    if (!*rel)
        rel = ".";
    if (g_no_openat2)
        return open_checked(root, rel);
    int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = OPEN_FLAGS;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
    int err = errno;
    close(dfd);
    if (fd < 0 && (err == ENOSYS || err == EPERM)) {
        LOG_WARN("web: openat2 unavailable (%s); checking static paths with realpath()", strerror(err));
        g_no_openat2 = true;
        return open_checked(root, rel);
    }
    errno = err;
    return fd;
}

/* "<web root>/<sub>" into out; false if no web root is configured. */
static bool web_dir(const struct server *srv, const char *sub, char out[PATH_MAX])
{
    if (!srv->cfg.web_root[0])
        return false;
    int n = snprintf(out, PATH_MAX, "%s/%s", srv->cfg.web_root, sub);
    return n > 0 && n < PATH_MAX;
}

/* ---------------------------------------------------------------------- */
/* Static files                                                            */

/* Fills resp with the open regular file fd (taken): 200 with the body
 * streamed by net, or 304 when the client's copy is current. */
static void file_response(const struct http_req *req, struct http_resp *resp, int fd, const struct stat *st,
                          const char *ctype, bool gzipped, const char *extra)
{
    char etag[HTTPU_ETAG_MAX], date[HTTPU_DATE_LEN];
    int64_t mtime_ms = fsu_ts_ms(&st->st_mtim);
    httpu_etag(etag, (uint64_t)st->st_size, mtime_ms);
    httpu_http_date(date, (int64_t)st->st_mtim.tv_sec);
    buf_appendf(&resp->headers, "ETag: %s\r\nLast-Modified: %s\r\n", etag, date);
    if (gzipped)
        buf_appends(&resp->headers, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
    if (extra)
        buf_appends(&resp->headers, extra);
    resp->content_type = ctype;
    buf_reset(&resp->body);
    if (httpu_not_modified(req_header(req, "if-none-match"), req_header(req, "if-modified-since"),
                           req_header(req, "cache-control"), etag, (int64_t)st->st_mtim.tv_sec)) {
        close(fd);
        resp->status = 304;
        return;
    }
    resp->status = 200;
    resp->file_fd = fd;
    resp->file_off = 0;
    resp->file_len = (uint64_t)st->st_size;
}

static void redirect_slash(const struct http_req *req, struct http_resp *resp)
{
    const char *query = strchr(req->url, '?');
    resp->status = 301;
    resp->content_type = "text/plain";
    /* The path as sent: http_parser let no CR, LF or blank through. */
    buf_appendf(&resp->headers, "Location: %s/%s\r\n", req->path, query ? query : "");
    buf_reset(&resp->body);
    buf_appends(&resp->body, "Moved Permanently\n");
}

/* Opens name below root as a regular file; -1 if it is missing or is not one. */
static int open_regular(const char *root, const char *name, struct stat *st)
{
    int fd = open_beneath(root, name);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Serves rel (decoded, "" for the root itself) from the directory root, as
 * Express' static middleware does: a directory without a trailing slash is
 * redirected, with one its index.html is served; gz: a .gz variant is served
 * when the client accepts gzip. type/extra override the MIME type and add
 * header lines (may be NULL). Returns false if there is nothing to serve
 * there (the caller tries the next root). */
static bool serve_file(const struct http_req *req, struct http_resp *resp, const char *root, const char *rel,
                       bool gz, const char *type, const char *extra)
{
    char name[HTTPU_PATH_MAX + 32];
    snprintf(name, sizeof name, "%s", rel);
    int fd = open_beneath(root, name);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        size_t n = strlen(name);
        if (n == 0 || name[n - 1] != '/') {
            redirect_slash(req, resp);
            return true;
        }
        snprintf(name + n, sizeof name - n, "index.html");
        if ((fd = open_regular(root, name, &st)) < 0)
            return false;
    } else if (!S_ISREG(st.st_mode)) {
        close(fd); /* FIFO, socket, device: never served */
        return false;
    }
    const char *ctype = type ? type : httpu_mime(name);
    bool gzipped = false;
    const char *ae = gz ? req_header(req, "accept-encoding") : NULL;
    if (ae && httpu_accepts_gzip(ae)) {
        size_t n = strlen(name);
        snprintf(name + n, sizeof name - n, ".gz");
        struct stat gst;
        int gfd = open_regular(root, name, &gst);
        if (gfd >= 0) {
            close(fd);
            fd = gfd;
            st = gst;
            gzipped = true;
        }
    }
    file_response(req, resp, fd, &st, ctype, gzipped, extra);
    return true;
}

/* serve_file() from "<web root>/<sub>". */
static bool serve_web(const struct server *srv, const struct http_req *req, struct http_resp *resp,
                      const char *sub, const char *rel, bool gz)
{
    char root[PATH_MAX];
    return web_dir(srv, sub, root) && serve_file(req, resp, root, rel, gz, NULL, NULL);
}

/* Express mount point: path is prefix or prefix + "/..." (case-insensitive).
 * Returns the rest of path ("" for the mount point itself), or NULL. */
static const char *mount(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncasecmp(path, prefix, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return NULL;
    return path + n;
}

/* Express route: the path itself, case-insensitive, one trailing '/' allowed. */
static bool route_is(const char *path, const char *route)
{
    size_t n = strlen(route);
    return strncasecmp(path, route, n) == 0 && (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0'));
}

/* Step 6 of the route order. */
static bool serve_tree(const struct server *srv, const struct http_req *req, struct http_resp *resp,
                       const char *path)
{
    static const char *const main_pages[] = {"/index.html", "/contact.html", "/features.html",
                                             "/maintenance.html"};
    if (serve_web(srv, req, resp, "customize/www", path, false) || serve_web(srv, req, resp, "www", path, true))
        return true;
    const char *rest = mount(path, "/common");
    if (rest && serve_web(srv, req, resp, "src/common", rest, false))
        return true;
    for (size_t i = 0; i < sizeof main_pages / sizeof main_pages[0]; i++)
        if (strcmp(path, main_pages[i]) == 0)
            return serve_web(srv, req, resp, "customize", path, false) ||
                   serve_web(srv, req, resp, "customize.dist", path, false);
    return false;
}

/* Steps 8 and 9. */
static bool serve_customize(const struct server *srv, const struct http_req *req, struct http_resp *resp,
                            const char *path)
{
    const char *rest = mount(path, "/customize");
    if (rest && (serve_web(srv, req, resp, "customize", rest, false) ||
                 serve_web(srv, req, resp, "customize.dist", rest, false)))
        return true;
    rest = mount(path, "/customize.dist");
    if (rest && serve_web(srv, req, resp, "customize.dist", rest, false))
        return true;
    if (strchr(path + 1, '/') == NULL) /* a single segment */
        return serve_web(srv, req, resp, "customize", path, false) ||
               serve_web(srv, req, resp, "customize.dist", path, false);
    return false;
}

/* Step 11: 404 with the tree's 404 page. */
static void not_found(const struct server *srv, struct http_resp *resp)
{
    static const char *const subs[] = {"customize", "customize.dist"};
    buf_reset(&resp->body);
    resp->status = 404;
    for (size_t i = 0; i < 2; i++) {
        char root[PATH_MAX];
        struct stat st;
        int fd = web_dir(srv, subs[i], root) ? open_regular(root, "404.html", &st) : -1;
        if (fd >= 0) {
            resp->content_type = WEB_HTML_TYPE;
            resp->file_fd = fd;
            resp->file_off = 0;
            resp->file_len = (uint64_t)st.st_size;
            return;
        }
    }
    resp->content_type = "text/plain";
    buf_appends(&resp->body, "Not Found\n");
}

/* ---------------------------------------------------------------------- */
/* JavaScript endpoints (§3.3)                                             */

/* Copies key from src into o if src has it. */
static void copy_key(json_t *o, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set(o, key, v);
}

/* Sets key to src's value if src has it, else to dflt (taken). */
static void set_or(json_t *o, const json_t *src, const char *key, json_t *dflt)
{
    json_t *v = json_object_get(src, key);
    if (v) {
        json_object_set(o, key, v);
        json_decref(dflt);
    } else {
        json_object_set_new(o, key, dflt);
    }
}

/* Appends src's keys that o lacks, in src's order. */
static void copy_rest(json_t *o, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v) {
        if (!json_object_get(o, k))
            json_object_set(o, k, v);
    }
}

/* The /api/config object: the reference's keys in its order (lib/http-
 * worker.js serveConfig). Computed keys come from the settings; the others
 * from settings.config_extra (decrees) over their defaults, and keys left
 * out when undefined stay out unless config_extra has them. */
static json_t *config_object(struct server *srv)
{
    const struct settings *st = &srv->settings;
    const json_t *x = st->config_extra;
    json_t *o = json_object();
    char url_args[64];
    snprintf(url_args, sizeof url_args, "ver=%s-%lld", WEB_VERSION, st->fresh_key);
    json_object_set_new(o, "requireConf", json_pack("{s:i,s:s}", "waitSeconds", 600, "urlArgs", url_args));
    set_or(o, x, "removeDonateButton", json_false());
    copy_key(o, x, "accounts_api");
    copy_key(o, x, "websocketPath");
    json_object_set_new(o, "httpUnsafeOrigin", json_string(web_unsafe_origin(srv)));
    copy_key(o, x, "adminEmail");
    json_object_set_new(o, "adminKeys", st->admins ? json_deep_copy(st->admins) : json_array());
    json_object_set_new(o, "moderatorKeys", st->moderators ? json_deep_copy(st->moderators) : json_array());
    set_or(o, x, "inactiveTime", json_integer((json_int_t)st->inactive_days));
    copy_key(o, x, "supportMailbox");
    copy_key(o, x, "supportMailboxKey");
    json_object_set_new(o, "defaultStorageLimit", json_integer((json_int_t)st->default_limit));
    json_object_set_new(o, "maxUploadSize", json_integer((json_int_t)st->max_upload));
    json_object_set_new(o, "premiumUploadSize",
                        st->premium_upload ? json_integer((json_int_t)st->premium_upload) : json_false());
    json_object_set_new(o, "restrictRegistration", json_boolean(st->restrict_registration));
    copy_key(o, x, "appsToDisable");
    copy_key(o, x, "restrictSsoRegistration");
    json_object_set_new(o, "httpSafeOrigin", json_string(web_safe_origin(srv)));
    json_object_set_new(o, "enableEmbedding", json_boolean(st->enable_embedding));
    copy_key(o, x, "fileHost");
    copy_key(o, x, "shouldUpdateNode");
    set_or(o, x, "listMyInstance", json_false());
    set_or(o, x, "sso", json_false());
    copy_key(o, x, "enforceMFA");
    copy_key(o, x, "onlyOffice");
    if (x)
        copy_rest(o, x);
    return o;
}

static json_t *broadcast_object(struct server *srv)
{
    const struct settings *st = &srv->settings;
    const json_t *x = st->broadcast_extra;
    char pk[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(pk, sizeof pk, st->curve_pk, sizeof st->curve_pk, sodium_base64_VARIANT_ORIGINAL);
    json_t *o = json_pack("{s:s,s:s}", "curvePublic", pk, "lastBroadcastHash", st->last_broadcast_hash);
    copy_key(o, x, "surveyURL");
    /* A maintenance window is left out once its end has passed. */
    json_t *m = json_object_get(x, "maintenance");
    json_t *end = json_object_get(m, "end");
    bool over = json_is_number(end) && json_number_value(end) != 0 &&
                json_number_value(end) < (double)server_now_ms();
    if (m && !over)
        json_object_set(o, "maintenance", m);
    const char *k;
    json_t *v;
    if (x)
        json_object_foreach((json_t *)x, k, v) {
            if (strcmp(k, "maintenance") != 0 && !json_object_get(o, k))
                json_object_set(o, k, v);
        }
    return o;
}

static json_t *instance_object(struct server *srv)
{
    const json_t *x = srv->settings.instance;
    json_t *o = json_object();
    copy_key(o, x, "color");
    set_or(o, x, "name", json_object());
    set_or(o, x, "description", json_object());
    set_or(o, x, "location", json_object());
    set_or(o, x, "notice", json_object());
    if (x)
        copy_rest(o, x);
    return o;
}

/* The extension loader with no plugins: lib/http-worker.js's template with
 * both lists empty. */
static const char extensions_js[] =
    "let extensions = [];\n"
    "let styles = [];\n"
    "let lang = window.cryptpadLanguage;\n"
    "let paths = [];\n"
    "extensions.forEach(name => {\n"
    "    paths.push(`optional!/${name}/extensions.js`);\n"
    "    paths.push(`optional!json!/${name}/translations/messages.json`);\n"
    "    const l = lang === \"en\" ? '' : `${lang}.`;\n"
    "    paths.push(`optional!json!/${name}/translations/messages.${l}json`);\n"
    "});\n"
    "styles.forEach(name => {\n"
    "    paths.push(`optional!less!/${name}/style.less`);\n"
    "});\n"
    "define(paths, function () {\n"
    "    let args = Array.prototype.slice.apply(arguments);\n"
    "    return args;\n"
    "}, function () {\n"
    "    // ignore missing files\n"
    "});";

/* Answers with a JavaScript module: head, v pretty-printed (taken), tail. */
static void js_module(struct http_resp *resp, const char *head, json_t *v, const char *tail)
{
    resp->status = 200;
    resp->content_type = WEB_JS_TYPE;
    buf_reset(&resp->body);
    buf_appends(&resp->body, head);
    httpu_json_pretty(&resp->body, v);
    buf_appends(&resp->body, tail);
    json_decref(v);
}

/* Step 10. Returns false if the path is none of these endpoints. */
static bool js_endpoints(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    const char *p = req->path;
    /* Clients slice [27:-5] out of these two to get the JSON. */
    if (route_is(p, "/api/config")) {
        js_module(resp, "define(function(){;\nreturn ", config_object(srv), ";\n});");
    } else if (route_is(p, "/api/broadcast")) {
        js_module(resp, "define(function(){;\nreturn ", broadcast_object(srv), ";\n});");
    } else if (route_is(p, "/api/instance")) {
        js_module(resp, "define(function (){\n    return ", instance_object(srv), ";\n});");
    } else if (route_is(p, "/extensions.js")) {
        resp->status = 200;
        resp->content_type = WEB_JS_TYPE;
        buf_reset(&resp->body);
        buf_append(&resp->body, extensions_js, sizeof extensions_js - 1);
    } else if (route_is(p, "/api/logo")) {
        char root[PATH_MAX];
        static const char hdr[] = "Content-Disposition: inline\r\n";
        /* The logo an admin uploaded (UPLOAD_LOGO: <data>/data/logo, under
         * the data root) with its SET_LOGO_MIME type, mapped through the
         * accepted image types so a decree never reaches the header; then
         * the operator's customize/ file and the default. */
        const char *mime = json_string_value(json_object_get(srv->settings.extra, "logoMimeType"));
        const char *type = mime ? admin_logo_mime(mime) : "image/svg+xml";
        if (!(snprintf(root, sizeof root, "%s/data", srv->cfg.data) < (int)sizeof root &&
              serve_file(req, resp, root, "logo", false, type ? type : "application/octet-stream", hdr)) &&
            !(web_dir(srv, "customize", root) &&
              serve_file(req, resp, root, "CryptPad_logo_hero.svg", false, "image/svg+xml", hdr)) &&
            !(web_dir(srv, "customize.dist", root) &&
              serve_file(req, resp, root, "CryptPad_logo_hero.svg", false, "image/svg+xml", hdr)))
            not_found(srv, resp);
    } else if (route_is(p, "/api/updatequota") || route_is(p, "/api/profiling")) {
        /* No accounts_api and no profiling: 404 (the reference answers
         * /api/profiling with its 404 page but status 200, Q14). */
        not_found(srv, resp);
    } else {
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* The router                                                              */

static void route(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    bool get = strcmp(req->method, "GET") == 0, head = strcmp(req->method, "HEAD") == 0;
    if (files_http(srv, req, resp) || auth_http(srv, req, resp))
        return;
    if ((get || head) && strcmp(req->path, "/health") == 0) {
        health_on_http(srv, req, resp);
        return;
    }
    char path[HTTPU_PATH_MAX + 1];
    size_t plen;
    int rc = httpu_path_decode(req->path, strlen(req->path), path, &plen);
    if (rc == BP_EPROTO) {
        resp->status = 400;
        resp->content_type = "text/plain";
        buf_reset(&resp->body);
        buf_appends(&resp->body, "Bad Request\n");
        return;
    }
    if (mount(req->path, "/datastore") && !head) {
        resp->status = 403;
        resp->content_type = "text/plain";
        buf_reset(&resp->body);
        return;
    }
    if (rc == 0 && (get || head)) {
        if (serve_tree(srv, req, resp, path))
            return;
        const char *rest = mount(path, "/datastore");
        char root[PATH_MAX];
        if (rest && head && snprintf(root, sizeof root, "%s/datastore", srv->cfg.data) < (int)sizeof root &&
            serve_file(req, resp, root, rest, false, NULL, NULL))
            return;
        if (serve_customize(srv, req, resp, path))
            return;
    }
    if ((get || head) && js_endpoints(srv, req, resp))
        return;
    not_found(srv, resp);
}

void web_on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    struct server *srv = ud;
    /* Step 1: the blob store's own headers. */
    if ((strcmp(req->method, "HEAD") == 0 && mount(req->path, "/blob")) ||
        (strcmp(req->method, "OPTIONS") == 0 && strstr(req->url, "/blob/"))) {
        if (files_http(srv, req, resp))
            return;
    }
    security_headers(srv, req, resp);
    route(srv, req, resp);
    if (!resp_has_header(&resp->headers, "cache-control"))
        buf_appends(&resp->headers, httpu_url_versioned(req->url) ? "Cache-Control: max-age=31536000\r\n"
                                                                   : "Cache-Control: no-cache\r\n");
}

size_t web_body_limit(void *ud, const struct http_req *req)
{
    return files_body_limit(ud, req);
}

int web_init(struct server *srv)
{
    struct web_state *w = ws(srv);
    if (srv->cfg.web_root[0]) {
        struct stat st;
        if (stat(srv->cfg.web_root, &st) < 0 || !S_ISDIR(st.st_mode))
            LOG_WARN("web: --web-root %s is not a directory: static files will be 404", srv->cfg.web_root);
    }
    LOG_INFO("web: origin %s, sandbox origin %s, client tree %s", w->unsafe, w->safe,
             srv->cfg.web_root[0] ? srv->cfg.web_root : "(none)");
    return 0;
}

void web_free(struct server *srv)
{
    if (!srv->web)
        return;
    buf_free(&srv->web->csp[0]);
    buf_free(&srv->web->csp[1]);
    free(srv->web);
    srv->web = NULL;
}
