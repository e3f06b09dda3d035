/* files.c: encrypted uploads (see files.h): the RPC commands of SERVER-API.md
 * §2.7, the HTTP endpoints of §3.5 and §3.6, and the blob functions the
 * other modules call. The disk layout and its I/O are in storage/blob.c.
 *
 * An upload, as the web client runs it:
 *   UPLOAD_STATUS {id,size}   size rules, staged?, free space; records the
 *                             declared size ("pending") for the key
 *   /api/auth UPLOAD_COOKIE   first cookie (auth.c calls files_new_upload_cookie)
 *   POST /upload-blob ...     per chunk: signed cookie, append, new cookie
 *   UPLOAD_COMPLETE id        (or OWNED_UPLOAD_COMPLETE) stage -> blob/<xx>/<id>
 *
 * Pending sizes (Q8) live here, in srv->files, keyed by safe key, and not in
 * the 5-minute RPC session: a long upload makes no RPC at all between
 * UPLOAD_STATUS and UPLOAD_COMPLETE. A chunk is refused once the stage would
 * exceed the pending size plus FILES_SLACK. With no pending size (the server
 * restarted mid-upload) the user's largest allowed upload is the bound.
 *
 * Abandoned uploads: files_tick() (housekeeping) walks blobstage/ on the
 * thread pool for stages and cookies older than --upload-stage-max-age and
 * removes them back on the loop (blob_stage_sweep re-checks each one there,
 * so a chunk written meanwhile keeps its stage).
 *
 * Threads: loop thread, except that walk (sweep_run, which only reads). */
#include "server/files.h"

#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uthash.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/meta.h"
#include "protocol/httputil.h"
#include "protocol/msg.h"
#include "server/pins.h"
#include "server/rpc_internal.h"
#include "server/server.h"
#include "server/web.h"
#include "storage/blob.h"
#include "storage/fsutil.h"

#define FILES_BODY_MAX 512000              /* Express.json({limit:"500kb"}) on /upload-blob */
#define FILES_SLACK ((uint64_t)64 << 10)   /* bytes a stage may exceed its declared size by */
#define FILES_SIG_MAX (64 + 1024)          /* signed cookie: signature + a cookie of at most 1 KiB */
#define FILES_PENDING_PRUNE 4096           /* pending entries above which old ones are pruned */
#define FILES_PENDING_MAX_AGE_MS (24LL * 3600 * 1000)
#define FILES_SWEEP_EVERY_MAX_MS (3600LL * 1000) /* stage sweeps at least this often */
#define FILES_SWEEP_BATCH 10000                  /* stale files removed per sweep, at most */

/* The declared size of a key's upload in progress. */
struct pending_upload {
    char sk[BLOB_SAFE_KEY_LEN + 1];  /* safe key (hash key) */
    uint64_t size;                   /* declared bytes */
    long long since_ms;              /* when it was recorded (pruning) */
    UT_hash_handle hh;
};

struct files_state {
    struct pending_upload *pending;  /* uthash by sk; entries from xmalloc */
    long long last_sweep_ms;         /* start of the last stage sweep (0: none yet) */
    bool sweeping;                   /* a sweep job is in flight */
};

static const char *root_of(const struct server *srv)
{
    return srv->cfg.data;
}

static bool want_sync(const struct server *srv)
{
    return srv->cfg.fsync != STORE_FSYNC_NONE;
}

/* ---- pending sizes ---------------------------------------------------------- */

static struct pending_upload *pending_find(struct server *srv, const char *sk)
{
    struct pending_upload *p = NULL;
    if (srv->files)
        HASH_FIND_STR(srv->files->pending, sk, p);
    return p;
}

static void pending_drop(struct server *srv, const char *sk)
{
    struct pending_upload *p = pending_find(srv, sk);
    if (p) {
        HASH_DEL(srv->files->pending, p);
        free(p);
    }
}

static void pending_set(struct server *srv, const char *sk, uint64_t size)
{
    if (!srv->files)
        return;
    long long now = server_now_ms();
    if (HASH_COUNT(srv->files->pending) >= FILES_PENDING_PRUNE) {
        /* Uploads abandoned long ago: their stage is still bounded by the
         * user's largest allowed upload once the entry is gone. */
        struct pending_upload *p, *tmp;
        HASH_ITER(hh, srv->files->pending, p, tmp) {
            if (now - p->since_ms > FILES_PENDING_MAX_AGE_MS) {
                HASH_DEL(srv->files->pending, p);
                free(p);
            }
        }
    }
    struct pending_upload *p = pending_find(srv, sk);
    if (!p) {
        p = xcalloc(1, sizeof *p);
        memcpy(p->sk, sk, sizeof p->sk);
        HASH_ADD_STR(srv->files->pending, sk, p);
    }
    p->size = size;
    p->since_ms = now;
}

/* The largest upload this key may declare (§2.7 step 1): maxUploadSize, or
 * just below premiumUploadSize for a key with a plan. */
static uint64_t upload_max(struct server *srv, const char *key)
{
    unsigned long long limit;
    const char *plan = "", *note = "";
    uint64_t max = srv->settings.max_upload;
    if (srv->settings.premium_upload > max) {
        settings_limit(srv, key, &limit, &plan, &note);
        if (plan && *plan)
            max = srv->settings.premium_upload - 1;
    }
    return max;
}

/* What the stage of sk may grow to. */
static uint64_t stage_bound(struct server *srv, const char *key, const char *sk)
{
    struct pending_upload *p = pending_find(srv, sk);
    return (p ? p->size : upload_max(srv, key)) + FILES_SLACK;
}

/* ---- abandoned stages ------------------------------------------------------------- */

/* One sweep: the walk (pool) fills names, the removal (loop) reads them. */
struct sweep_job {
    uv_work_t work;
    struct server *srv;
    long long before_ms;   /* files last written before this are abandoned */
    struct buf names;      /* "<file name>\n" per stale file, owned by the job */
    bool more;             /* the walk stopped at FILES_SWEEP_BATCH */
    int rc;
};

static void sweep_run(uv_work_t *w)
{
    struct sweep_job *j = w->data;
    j->rc = blob_stage_stale(root_of(j->srv), j->before_ms, FILES_SWEEP_BATCH, &j->names, &j->more);
}

static void sweep_after(uv_work_t *w, int status)
{
    struct sweep_job *j = w->data;
    struct server *srv = j->srv;
    srv->pending_work--;
    srv->files->sweeping = false;
    unsigned removed = 0, failed = 0;
    if (status == 0 && j->rc < 0)
        LOG_WARN("files: cannot read %s/blobstage: %s", root_of(srv), bp_strerror(j->rc));
    const char *line = j->names.data, *end = j->names.data + j->names.len;
    for (const char *nl; status == 0 && line < end && (nl = memchr(line, '\n', (size_t)(end - line))); line = nl + 1) {
        int rc = blob_stage_sweep(root_of(srv), line, (size_t)(nl - line), j->before_ms);
        if (rc < 0) {
            failed++;
            continue;
        }
        removed += (unsigned)rc;
        /* the key's declared size goes with its stage (names start with the key) */
        char sk[BLOB_SAFE_KEY_LEN + 1];
        memcpy(sk, line, BLOB_SAFE_KEY_LEN);
        sk[BLOB_SAFE_KEY_LEN] = '\0';
        struct pending_upload *p = rc ? pending_find(srv, sk) : NULL;
        if (p && p->since_ms < j->before_ms) {
            HASH_DEL(srv->files->pending, p);
            free(p);
        }
    }
    if (removed || failed)
        LOG_INFO("files: removed %u file(s) of uploads abandoned for over %u s%s%s", removed,
                 srv->cfg.upload_stage_max_age, failed ? "; some could not be removed" : "",
                 j->more ? "; more next time" : "");
    if (j->more) /* the next tick goes on with the rest */
        srv->files->last_sweep_ms = 0;
    buf_free(&j->names);
    free(j);
}

void files_tick(struct server *srv)
{
    struct files_state *f = srv->files;
    unsigned max_age = srv->cfg.upload_stage_max_age;
    if (!f || f->sweeping || srv->stopping || max_age == 0)
        return;
    long long now = server_now_ms();
    long long every = (long long)max_age * 1000 < FILES_SWEEP_EVERY_MAX_MS ? (long long)max_age * 1000
                                                                           : FILES_SWEEP_EVERY_MAX_MS;
    if (f->last_sweep_ms && now >= f->last_sweep_ms && now - f->last_sweep_ms < every)
        return; /* (a clock set back starts a sweep rather than none for a long time) */
    f->last_sweep_ms = now;
    struct sweep_job *j = xcalloc(1, sizeof *j);
    j->srv = srv;
    j->before_ms = now - (long long)max_age * 1000;
    j->work.data = j;
    f->sweeping = true;
    srv->pending_work++;
    uv_queue_work(srv->loop, &j->work, sweep_run, sweep_after);
}

/* ---- life cycle --------------------------------------------------------------- */

int files_init(struct server *srv)
{
    srv->files = xcalloc(1, sizeof *srv->files);
    int rc = blob_init(root_of(srv));
    if (rc < 0) /* like the channel store: reads go on, writes report their errors */
        LOG_WARN("files: cannot prepare blob directories under %s: %s", root_of(srv), bp_strerror(rc));
    return 0;
}

void files_free(struct server *srv)
{
    if (!srv->files)
        return;
    struct pending_upload *p, *tmp;
    HASH_ITER(hh, srv->files->pending, p, tmp) {
        HASH_DEL(srv->files->pending, p);
        free(p);
    }
    free(srv->files);
    srv->files = NULL;
}

/* ---- functions for the other modules --------------------------------------------- */

bool files_blob_id_valid(const char *id, size_t len)
{
    return blob_id_valid(id, len);
}

int files_id_size(struct server *srv, const char *id, size_t len, uint64_t *size, struct buf *reason)
{
    *size = 0;
    if (len == BLOB_ID_LEN) {
        if (!blob_id_valid(id, len))
            return BP_EBADID;
        int rc = blob_size(root_of(srv), id, size, reason);
        if (rc == BP_ENOENT) {
            *size = 0;
            return 0;
        }
        return rc == BP_EDELETED ? rc : 0; /* other stat errors count as 0, as missing files do */
    }
    if ((len != 32 && len != 33) || !store_id_valid(id, len))
        return BP_EBADID;
    /* stat() only: quota checks call this for every pinned id. */
    char cid[34];
    memcpy(cid, id, len);
    cid[len] = '\0';
    uint64_t log_size, meta_size;
    store_sizes(srv->store, cid, &log_size, &meta_size);
    *size = log_size + meta_size;
    return 0;
}

json_t *files_blob_meta(struct server *srv, const char *id)
{
    if (!id || !blob_id_valid(id, strlen(id)))
        return json_object();
    struct buf b = BUF_INIT;
    json_t *m = NULL;
    int rc = blob_meta_read(root_of(srv), id, &b);
    if (rc == 0)
        m = meta_reduce(b.data, b.len, NULL);
    else if (rc != BP_ENOENT)
        LOG_WARN("files: metadata of blob %s: %s", id, bp_strerror(rc));
    buf_free(&b);
    if (!m || !json_is_object(m)) {
        json_decref(m);
        m = json_object();
    }
    return m;
}

int files_blob_meta_append(struct server *srv, const char *id, const char *line, size_t len)
{
    if (!id || !blob_id_valid(id, strlen(id)))
        return BP_EBADID;
    return blob_meta_append(root_of(srv), id, line, len, want_sync(srv));
}

int files_blob_archive(struct server *srv, const char *id, const char *reason)
{
    if (!id || !blob_id_valid(id, strlen(id)))
        return BP_EBADID;
    return blob_archive(root_of(srv), id, reason);
}

int files_blob_restore(struct server *srv, const char *id)
{
    if (!id || !blob_id_valid(id, strlen(id)))
        return BP_EBADID;
    return blob_restore(root_of(srv), id);
}

int files_new_upload_cookie(struct server *srv, const char *key, char out[33])
{
    char sk[BLOB_SAFE_KEY_LEN + 1];
    out[0] = '\0';
    if (!key || blob_safe_key(key, strlen(key), sk) < 0)
        return BP_EBADID;
    return blob_cookie_new(root_of(srv), sk, out);
}

/* ---- RPC ------------------------------------------------------------------------ */

/* The caller's safe key, or NULL after replying INVALID_SAFEKEY (the
 * reference's answer for a key that is not 44 chars). */
static bool ctx_safe_key(const struct rpc_ctx *c, char sk[BLOB_SAFE_KEY_LEN + 1])
{
    if (!c->key || blob_safe_key(c->key, strlen(c->key), sk) < 0) {
        rpc_reply_error(c, "INVALID_SAFEKEY");
        return false;
    }
    return true;
}

/* A JSON number as a byte count: finite, >= 0, rounded up. */
static bool size_arg(const json_t *v, bool positive, uint64_t *out)
{
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0 || (positive && d <= 0))
        return false;
    *out = d >= 9007199254740992.0 ? (uint64_t)1 << 53 : (uint64_t)ceil(d);
    return true;
}

static void rpc_upload_status(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    uint64_t size;
    /* The reference's type check never fires (and a null argument crashes
     * it, Q9); here anything but a non-negative number is refused. */
    if (!json_is_object(arg) || !size_arg(json_object_get(arg, "size"), false, &size)) {
        rpc_reply_error(c, "E_INVALID_SIZE");
        return;
    }
    if (size > srv->settings.max_upload) {
        unsigned long long limit;
        const char *plan = "", *note = "";
        settings_limit(srv, c->key, &limit, &plan, &note);
        if (!srv->settings.premium_upload || !plan || !*plan || size >= srv->settings.premium_upload) {
            rpc_reply_error(c, "TOO_LARGE");
            return;
        }
    }
    char sk[BLOB_SAFE_KEY_LEN + 1];
    if (!ctx_safe_key(c, sk))
        return;
    uint64_t staged;
    if (blob_stage_size(root_of(srv), sk, &staged) == 0) {
        rpc_reply_signed(c, "true");
        return;
    }
    uint64_t free_bytes = 0;
    int rc = pins_free_space(srv, c->key, &free_bytes);
    if (rc < 0) {
        rpc_reply_error(c, "E_BAD_LIMIT");
        return;
    }
    if (size >= free_bytes) {
        rpc_reply_error(c, "NOT_ENOUGH_SPACE");
        return;
    }
    pending_set(srv, sk, size);
    rpc_reply_signed(c, "false");
}

static void rpc_upload_cancel(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    uint64_t size;
    if (!json_is_object(arg) || !size_arg(json_object_get(arg, "size"), true, &size)) {
        rpc_reply_error(c, "INVALID_FILESIZE");
        return;
    }
    char sk[BLOB_SAFE_KEY_LEN + 1];
    if (!ctx_safe_key(c, sk))
        return;
    /* The client goes straight from here to the upload, without a new
     * UPLOAD_STATUS, so this is where its size is recorded (the reference
     * does the same). It never passed the checks of UPLOAD_STATUS, so it is
     * held to them here: at most the largest allowed upload and the free
     * space. */
    uint64_t bound = upload_max(srv, c->key), free_bytes = 0;
    if (pins_free_space(srv, c->key, &free_bytes) == 0 && free_bytes > 0 && free_bytes - 1 < bound)
        bound = free_bytes - 1;
    pending_set(srv, sk, size < bound ? size : bound);
    if (blob_stage_cancel(root_of(srv), sk) < 0) {
        rpc_reply_error(c, "E_UNLINK");
        return;
    }
    rpc_reply_signed(c, NULL);
}

/* The code name of an I/O error, as the reference reports fs errors. */
static const char *err_code(int rc)
{
    switch (rc) {
    case BP_ENOENT: return "ENOENT";
    case BP_EEXIST: return "EEXISTS";
    case BP_ENOSPC: return "ENOSPC";
    case BP_EROFS: return "EACCES";
    default: return "EIO";
    }
}

/* Shared by UPLOAD and /upload-blob: appends dec to sk's stage unless it
 * would pass the bound. Returns 0, BP_ETOOBIG (over the bound), or an I/O error. */
static int stage_chunk(struct server *srv, const char *key, const char *sk, const uint8_t *dec, size_t n)
{
    uint64_t staged = 0;
    int rc = blob_stage_size(root_of(srv), sk, &staged);
    if (rc < 0 && rc != BP_ENOENT)
        return rc;
    if (rc == BP_ENOENT)
        staged = 0;
    if (staged + n > stage_bound(srv, key, sk))
        return BP_ETOOBIG;
    return blob_stage_append(root_of(srv), sk, dec, n, false);
}

/* Decodes a base64 chunk; *dec from xmalloc (caller frees). */
static int decode_chunk(const json_t *chunk, uint8_t **dec, size_t *n)
{
    *dec = NULL;
    *n = 0;
    if (!json_is_string(chunk))
        return BP_EINVAL;
    size_t len = json_string_length(chunk);
    size_t cap = len / 4 * 3 + 3;
    *dec = xmalloc(cap);
    int rc = msg_b64decode(json_string_value(chunk), len, *dec, cap, n);
    if (rc < 0) {
        free(*dec);
        *dec = NULL;
    }
    return rc;
}

/* The legacy WebSocket upload (cookie only, no signature): [null,key,cookie,"UPLOAD",{chunk,id}]. */
static void rpc_upload(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    uint8_t *dec;
    size_t n;
    if (decode_chunk(json_is_object(arg) ? json_object_get(arg, "chunk") : NULL, &dec, &n) < 0) {
        rpc_reply_error(c, "DECODE_BUFFER");
        return;
    }
    char sk[BLOB_SAFE_KEY_LEN + 1];
    if (!ctx_safe_key(c, sk)) {
        free(dec);
        return;
    }
    int rc = stage_chunk(srv, c->key, sk, dec, n);
    free(dec);
    if (rc == BP_ETOOBIG) {
        rpc_reply_error(c, "E_OVER_LIMIT");
    } else if (rc < 0) {
        LOG_WARN("files: staging a chunk: %s", bp_strerror(rc));
        rpc_reply_error(c, err_code(rc));
    } else {
        char v[32];
        snprintf(v, sizeof v, "%zu", n);
        rpc_reply_signed(c, v);
    }
}

static void upload_complete(const struct rpc_ctx *c, const json_t *arg, bool owned)
{
    struct server *srv = c->srv;
    if (!json_is_string(arg) || !blob_id_valid(json_string_value(arg), json_string_length(arg))) {
        rpc_reply_error(c, "INVALID_ID");
        return;
    }
    char sk[BLOB_SAFE_KEY_LEN + 1];
    if (!ctx_safe_key(c, sk))
        return;
    const char *id = json_string_value(arg);
    /* Q7: the reply waits for the rename, and a failure (nothing staged
     * included) is an error reply. */
    int rc = blob_commit(root_of(srv), sk, id, owned ? c->key : NULL, want_sync(srv));
    if (rc < 0) {
        if (rc != BP_EEXIST && rc != BP_ENOENT)
            LOG_WARN("files: completing upload %s: %s", id, bp_strerror(rc));
        rpc_reply_error(c, owned ? err_code(rc) : "RENAME_ERR");
        return;
    }
    pending_drop(srv, sk);
    struct buf v = BUF_INIT;
    jsonw_cstr(&v, id);
    rpc_reply_signed(c, v.data);
    buf_free(&v);
}

static void rpc_upload_complete(const struct rpc_ctx *c, const json_t *arg)
{
    upload_complete(c, arg, false);
}

static void rpc_owned_upload_complete(const struct rpc_ctx *c, const json_t *arg)
{
    upload_complete(c, arg, true);
}

const struct rpc_cmd files_rpc_cmds[] = {
    {"UPLOAD_STATUS", rpc_upload_status, RPC_SIGNED},
    {"UPLOAD_CANCEL", rpc_upload_cancel, RPC_SIGNED},
    {"UPLOAD_COMPLETE", rpc_upload_complete, RPC_SIGNED},
    {"OWNED_UPLOAD_COMPLETE", rpc_owned_upload_complete, RPC_SIGNED},
    {"UPLOAD", rpc_upload, RPC_COOKIE_ONLY},
    {NULL, NULL, RPC_ANON},
};

/* ---- HTTP ----------------------------------------------------------------------- */

static const char *hdr(const struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* permittedEmbedders, as the router computes it (web.h). */
static const char *acao(struct server *srv)
{
    return web_acao(srv);
}

static void json_reply(struct http_resp *resp, int status, const char *key, const char *value)
{
    resp->status = status;
    resp->content_type = "application/json; charset=utf-8";
    buf_reset(&resp->body);
    buf_appendc(&resp->body, '{');
    jsonw_cstr(&resp->body, key);
    buf_appendc(&resp->body, ':');
    jsonw_cstr(&resp->body, value);
    buf_appendc(&resp->body, '}');
}

static void not_found(struct http_resp *resp)
{
    resp->status = 404;
    resp->content_type = "text/html; charset=utf-8";
    buf_reset(&resp->body);
    buf_appends(&resp->body, "<!DOCTYPE html>\n<html><head><title>404</title></head><body>Not Found</body></html>\n");
}

/* OPTIONS on any URL containing "/blob/" (§3.5): the CORS preflight. */
static void blob_options(struct server *srv, struct http_resp *resp)
{
    resp->status = 204;
    resp->content_type = "application/octet-stream; charset=utf-8";
    buf_appendf(&resp->headers,
                "Access-Control-Allow-Origin: %s\r\n"
                "Access-Control-Allow-Methods: GET, OPTIONS\r\n"
                "Access-Control-Allow-Headers: DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,"
                "If-Modified-Since,Cache-Control,Content-Type,Content-Range,Range,Access-Control-Allow-Origin\r\n"
                "Access-Control-Max-Age: 1728000\r\n",
                acao(srv));
}

/* If-Range: a range is honoured only if the validator still matches. */
static bool range_fresh(const struct http_req *req, const char *etag, long long mtime_ms)
{
    const char *ir = hdr(req, "if-range");
    if (!ir)
        return true;
    if (strchr(ir, '"'))
        return strstr(ir, etag) != NULL;
    int64_t when;
    return httpu_http_date_parse(ir, &when) == 0 && mtime_ms / 1000 <= when;
}

/* Serves an open regular file: Range, 304, 416, validators. extra_head
 * selects the HEAD header set of §3.5. Takes fd. */
static void serve_file(struct server *srv, const struct http_req *req, struct http_resp *resp, int fd,
                       const struct stat *st, const char *ctype, bool head)
{
    uint64_t size = (uint64_t)st->st_size;
    long long mtime = fsu_ts_ms(&st->st_mtim);
    char etag[HTTPU_ETAG_MAX], date[HTTPU_DATE_LEN];
    httpu_etag(etag, size, mtime);
    httpu_http_date(date, mtime / 1000);
    if (head) {
        /* HEAD is answered before the router's security headers (§3.2 step 3):
         * only these, as the reference's static handler for HEAD sends them. */
        buf_appendf(&resp->headers,
                    "Access-Control-Allow-Origin: %s\r\n"
                    "Access-Control-Allow-Headers: Content-Length\r\n"
                    "Access-Control-Expose-Headers: Content-Length\r\n"
                    "Cache-Control: public, max-age=0\r\n",
                    acao(srv));
    }
    buf_appendf(&resp->headers, "Accept-Ranges: bytes\r\nLast-Modified: %s\r\nETag: %s\r\n", date, etag);
    resp->content_type = ctype;
    if (httpu_not_modified(hdr(req, "if-none-match"), hdr(req, "if-modified-since"), hdr(req, "cache-control"),
                           etag, mtime / 1000)) {
        resp->status = 304;
        close(fd);
        return;
    }
    /* One range -> 206; several, a stale If-Range or a malformed header ->
     * everything (200); nothing satisfiable -> 416. */
    uint64_t off = 0, len = size;
    const char *range = hdr(req, "range");
    int r = range && range_fresh(req, etag, mtime) ? httpu_range_parse(range, size, &off, &len) : BP_EINVAL;
    if (r == BP_ETOOBIG) {
        close(fd);
        resp->status = 416;
        resp->content_type = "text/plain; charset=utf-8";
        buf_appendf(&resp->headers, "Content-Range: bytes */%llu\r\n", (unsigned long long)size);
        buf_appends(&resp->body, "Range Not Satisfiable\n");
        return;
    }
    resp->file_fd = fd;
    if (r == 0) {
        resp->status = 206;
        buf_appendf(&resp->headers, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)off,
                    (unsigned long long)(off + len - 1), (unsigned long long)size);
        resp->file_off = off;
        resp->file_len = len;
    } else {
        resp->status = 200;
        resp->file_off = 0;
        resp->file_len = size;
    }
}

/* Opens a regular file for serving; -1 if it is missing or not a file. */
static int open_regular(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* GET/HEAD /blob/<xx>/<id> and /blob/placeholder.txt. */
static void blob_get(struct server *srv, const struct http_req *req, struct http_resp *resp, const char *rest)
{
    bool head = strcmp(req->method, "HEAD") == 0;
    if (!head && strcmp(req->method, "GET") != 0) {
        not_found(resp);
        return;
    }
    char path[FSU_PATH_MAX];
    struct stat st;
    if (strcmp(rest, "placeholder.txt") == 0) {
        int n = snprintf(path, sizeof path, "%s/blob/placeholder.txt", root_of(srv));
        int fd = n > 0 && (size_t)n < sizeof path ? open_regular(path, &st) : -1;
        if (fd < 0)
            not_found(resp);
        else
            serve_file(srv, req, resp, fd, &st, "text/plain; charset=UTF-8", head);
        return;
    }
    /* "<xx>/<48 hex>", xx the id's first two characters (anything else is
     * not a file the reference's static handler would find). */
    if (strlen(rest) != 3 + BLOB_ID_LEN || rest[2] != '/' || !blob_id_valid(rest + 3, BLOB_ID_LEN) ||
        memcmp(rest, rest + 3, 2) != 0) {
        not_found(resp);
        return;
    }
    const char *id = rest + 3;
    int fd = blob_path(path, sizeof path, root_of(srv), id, BLOB_DATA) == 0 ? open_regular(path, &st) : -1;
    if (fd < 0) {
        not_found(resp);
        return;
    }
    /* Eviction reads this (§4.12); a failure only makes the blob look older. */
    int rc = blob_activity_touch(root_of(srv), id, server_now_ms());
    if (rc < 0)
        LOG_DEBUG("files: activity of %s: %s", id, bp_strerror(rc));
    serve_file(srv, req, resp, fd, &st, "application/octet-stream", head);
}

/* Parses an /upload-blob body. jansson lexes strings byte by byte, which was
 * ~70% of the server's CPU for a 175 KB body (bench/filetransfer.sh, perf): the
 * base64 "chunk" string, when it has no escape or control byte, is taken as
 * the bytes between its quotes and jansson parses the rest. A raw '"' cannot
 * occur inside a JSON string, so `"chunk":"` is structural; the result must
 * then hold a top-level "chunk" equal to the placeholder, else (a nested key,
 * anything odd) the whole body is parsed by jansson. Same value either way. */
static json_t *load_upload_body(const char *s, size_t n)
{
    static const char key[] = "\"chunk\":\"";
    const char *k = n > 4096 ? memmem(s, n, key, sizeof key - 1) : NULL;
    if (k) {
        const char *str = k + sizeof key - 1;
        const char *end = memchr(str, '"', n - (size_t)(str - s));
        bool plain = end != NULL;
        for (const char *p = str; plain && p < end; p++)
            plain = *p != '\\' && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80;
        if (plain) {
            size_t slen = (size_t)(end - str), rest = n - slen;
            char *tmp = malloc(rest);
            if (tmp) {
                memcpy(tmp, s, (size_t)(str - s));
                memcpy(tmp + (str - s), end, n - (size_t)(end - s));
                json_t *v = json_loadb(tmp, rest, 0, NULL);
                free(tmp);
                const json_t *c = json_object_get(v, "chunk");
                if (json_is_object(v) && json_is_string(c) && json_string_length(c) == 0) {
                    json_object_set_new(v, "chunk", json_stringn_nocheck(str, slen));
                    return v;
                }
                json_decref(v);
            }
        }
    }
    return json_loadb(s, n, 0, NULL);
}

/* The blindpad binary upload (docs/PROTOCOL.md "Binary uploads"): the body
 * is the raw ciphertext bytes (Content-Type: application/octet-stream), the
 * edPublic and the signed cookie travel in X-Blindpad-Key / X-Blindpad-Sig,
 * and the body may be up to FILES_RAW_MAX. Every 200 answer of /upload-blob
 * advertises the extension with X-Blindpad-Upload-Max, so a client that
 * sent its first chunk as CryptPad's JSON learns it can switch; CryptPad's
 * own clients ignore the header. */
#define FILES_RAW_MAX ((size_t)4 << 20)
#define FILES_RAW_TYPE "application/octet-stream"

static bool is_raw_upload(const struct http_req *req)
{
    const char *ct = hdr(req, "content-type");
    size_t n = sizeof FILES_RAW_TYPE - 1;
    return ct && strncasecmp(ct, FILES_RAW_TYPE, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool is_upload_path(const char *path)
{
    return strncmp(path, "/upload-blob", 12) == 0 && (path[12] == '\0' || path[12] == '/');
}

/* Steps 1-2 of §3.6: sig (b64 of a combined signed message) must open with
 * key (b64 edPublic), and the cookie inside must be the key's current upload
 * cookie, issued less than 5 min ago. On success sk is the safe key and 0 is
 * returned; otherwise the 403 error string. */
static const char *upload_auth(struct server *srv, const char *key, size_t klen, const char *sig,
                               size_t slen, char sk[BLOB_SAFE_KEY_LEN + 1])
{
    uint8_t pk[32], sm[FILES_SIG_MAX], cookie[FILES_SIG_MAX];
    size_t smlen = 0;
    unsigned long long mlen = 0;
    if (!key || !sig || blob_safe_key(key, klen, sk) < 0 || msg_key32(key, klen, pk) < 0 ||
        slen > FILES_SIG_MAX / 3 * 4 + 4 || msg_b64decode(sig, slen, sm, sizeof sm, &smlen) < 0 ||
        smlen < crypto_sign_BYTES || crypto_sign_open(cookie, &mlen, sm, smlen, pk) != 0)
        return "INVALID_KEY";
    if (blob_cookie_check(root_of(srv), sk, (const char *)cookie, (size_t)mlen, server_now_ms()) < 0)
        return "INVALID_COOKIE";
    return NULL;
}

size_t files_body_limit(struct server *srv, const struct http_req *req)
{
    if (!srv->files || strcmp(req->method, "POST") != 0 || !is_upload_path(req->path) ||
        !is_raw_upload(req))
        return 0;
    const char *key = hdr(req, "x-blindpad-key"), *sig = hdr(req, "x-blindpad-sig");
    char sk[BLOB_SAFE_KEY_LEN + 1];
    /* Only a sender with a valid cookie gets the larger limit: an anonymous
     * peer cannot make the server buffer more than max_http_body. */
    if (!key || !sig || upload_auth(srv, key, strlen(key), sig, strlen(sig), sk))
        return 0;
    return FILES_RAW_MAX;
}

/* Steps 3-4: appends dec[0..n) to key's stage and answers with a new cookie. */
static void upload_stage_reply(struct server *srv, struct http_resp *resp, const char *key,
                               const char *sk, const uint8_t *dec, size_t n)
{
    int rc = stage_chunk(srv, key, sk, dec, n);
    if (rc == BP_ETOOBIG) {
        json_reply(resp, 413, "error", "E_OVER_LIMIT");
        return;
    }
    if (rc < 0) {
        LOG_WARN("files: staging a chunk: %s", bp_strerror(rc));
        json_reply(resp, 500, "error", err_code(rc));
        return;
    }
    char next[BLOB_COOKIE_LEN + 1];
    rc = blob_cookie_new(root_of(srv), sk, next);
    if (rc < 0) {
        LOG_WARN("files: writing an upload cookie: %s", bp_strerror(rc));
        json_reply(resp, 500, "error", err_code(rc));
        return;
    }
    json_reply(resp, 200, "cookie", next);
    buf_appendf(&resp->headers, "X-Blindpad-Upload-Max: %zu\r\n", FILES_RAW_MAX);
}

/* POST /upload-blob[/...]: the binary form (above). The key and cookie are
 * checked again although files_body_limit() checked them at the head: the
 * cookie may have rotated meanwhile (another request of the same key), and
 * a body within max_http_body never went through that check. One verify
 * per body of up to 4 MiB costs nothing measurable. */
static void upload_post_raw(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    const char *key = hdr(req, "x-blindpad-key"), *sig = hdr(req, "x-blindpad-sig");
    char sk[BLOB_SAFE_KEY_LEN + 1];
    const char *why = key && sig ? upload_auth(srv, key, strlen(key), sig, strlen(sig), sk) : "INVALID_KEY";
    if (why) {
        json_reply(resp, 403, "error", why);
        return;
    }
    if (req->body_len > FILES_RAW_MAX) {
        json_reply(resp, 413, "error", "TOO_LARGE");
        return;
    }
    upload_stage_reply(srv, resp, key, sk, (const uint8_t *)req->body, req->body_len);
}

/* POST /upload-blob[/...] (§3.6). */
static void upload_post(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    if (strcmp(req->method, "POST") != 0) {
        resp->status = 403;
        buf_reset(&resp->body);
        return;
    }
    if (is_raw_upload(req)) {
        upload_post_raw(srv, req, resp);
        return;
    }
    if (req->body_len > FILES_BODY_MAX) {
        json_reply(resp, 413, "error", "TOO_LARGE");
        return;
    }
    json_t *body = load_upload_body(req->body ? req->body : "", req->body_len);
    if (!json_is_object(body)) {
        json_decref(body);
        json_reply(resp, 400, "error", "INVALID_JSON");
        return;
    }
    const json_t *jsig = json_object_get(body, "sig"), *jkey = json_object_get(body, "edPublic");
    const json_t *jchunk = json_object_get(body, "chunk");
    char sk[BLOB_SAFE_KEY_LEN + 1];
    const char *why = json_is_string(jkey) && json_is_string(jsig)
                          ? upload_auth(srv, json_string_value(jkey), json_string_length(jkey),
                                        json_string_value(jsig), json_string_length(jsig), sk)
                          : "INVALID_KEY";
    if (why) {
        json_decref(body);
        json_reply(resp, 403, "error", why);
        return;
    }
    /* 3. decode the chunk; append it within the declared size (Q8). */
    uint8_t *dec;
    size_t n;
    if (decode_chunk(jchunk, &dec, &n) < 0) {
        json_decref(body);
        json_reply(resp, 400, "error", "DECODE_BUFFER");
        return;
    }
    char key[BLOB_SAFE_KEY_LEN + 1];
    memcpy(key, json_string_value(jkey), sizeof key);
    json_decref(body);
    upload_stage_reply(srv, resp, key, sk, dec, n);
    free(dec);
}

bool files_http(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    if (!srv->files)
        return false;
    const char *path = req->path;
    if (strcmp(req->method, "OPTIONS") == 0 && req->url && strstr(req->url, "/blob/")) {
        blob_options(srv, resp);
        return true;
    }
    if (strncmp(path, "/blob/", 6) == 0) {
        blob_get(srv, req, resp, path + 6);
        return true;
    }
    if (is_upload_path(path)) {
        upload_post(srv, req, resp);
        return true;
    }
    return false;
}
