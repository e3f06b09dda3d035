/* auth.c: login blocks and /api/auth (see auth.h).
 *
 * FILES (all under the data root srv->cfg.data, CryptPad's layout, §4.10):
 *
 *   block/<xx>/<k>...                 storage/block.h
 *   data/challenges/<t[0:2]>/<t>      a pending challenge: the exact text the
 *                                     client must sign (below), written
 *                                     create-only at stage 1, deleted at
 *                                     stage 2 or after AUTH_CHALLENGE_TTL_MS
 *   data/mfa/<xx>/<k>.json            {"method":"TOTP","secret":"<base32>",
 *                                     "creation":"<ISO>"[,"contact":"..."]}
 *   data/sessions/<xx>/<k>/<token>    {"mfa":{"type":"otp","exp":<ms>}}
 *   data/invitations/<xx>/<id>        an admin's invitation (JSON object)
 *   data/users/<xx>/<safeEdPublic>    a known user (JSON object, admin-managed)
 *   data/archive/mfa/<xx>/<k>.json    MFA settings of an account archived by an
 *                                     admin (auth_mfa_archive), same format
 *
 * k is the URL-safe block key ('/' -> '-'); t and token are 32 chars of
 * [A-Za-z0-9+=-] (checked before use, Q11).
 *
 * THE CHALLENGE TEXT. At stage 1 the client posts JSON.stringify(obj); at
 * stage 2 it signs JSON.stringify({...obj, txid, date}). Both are
 * JSON.stringify of the same object, so the signed bytes are the posted body
 * with its final '}' replaced by ,"txid":"..","date":".."} — that is what is
 * stored and verified, byte for byte (no re-serialisation). At stage 2 the
 * stored text is parsed again for the command's parameters.
 *
 * MEMORY. Pending challenges are also kept in a hash by txid and a list in
 * creation order, so auth_tick() deletes the expired ones without scanning
 * the disk; the disk is scanned once, at start, for what an earlier run left.
 * Expired sessions are deleted when a GET sees them (as the reference) and
 * by a scan of data/sessions once a day.
 *
 * Threads: loop thread only; small files with blocking system calls. */
#include "server/auth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>
#include <utlist.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "protocol/totp.h"
#include "server/files.h"
#include "server/server.h"
#include "storage/block.h"
#include "storage/fsutil.h"

#define CHAL_MAX_COUNT 100000                   /* pending challenges at once */
#define CHAL_MAX_BYTES ((size_t)256 << 20)      /* their total size on disk */
#define RECORD_MAX ((size_t)64 << 10)           /* mfa, session, user, invite files */
#define SESSION_SCAN_FIRST_MS (10LL * 60 * 1000)
#define SESSION_SCAN_EVERY_MS (24LL * 3600 * 1000)
#define CONTACT_MAX 254                         /* TOTP_SETUP contact, UTF-16 units */
#define OTP_MAX_FAILURES 10                     /* wrong codes per block per window... */
#define OTP_WINDOW_MS (15LL * 60 * 1000)        /* ...then every code is refused until it ends */
#define OTP_TRACK_MAX 100000                    /* blocks tracked at once */

struct chal {
    char txid[33];
    long long created;          /* ms */
    size_t bytes;               /* size of the file */
    struct chal *prev, *next;   /* auth_state.fifo, oldest first (utlist DL) */
    UT_hash_handle hh;          /* auth_state.by_txid */
};

/* Wrong TOTP codes for one block: guessing 6 digits (3 valid per try) must
 * not be a matter of minutes for someone who has the password. */
struct otp_fail {
    char safe[BLOCK_KEY_LEN + 1];
    unsigned count;
    long long since;            /* ms of the first failure of the window */
    UT_hash_handle hh;
};

struct auth_state {
    struct otp_fail *otp_fails; /* uthash by safe key, owns the entries */
    struct chal *by_txid;       /* uthash, owns the entries */
    struct chal *fifo;          /* the same entries in creation order */
    size_t count, bytes;
    long long next_session_scan; /* ms */
};

/* ---- small helpers -------------------------------------------------------- */

/* snprintf that says whether it fitted (paths are bounded by FSU_PATH_MAX
 * and a cut one must never be used). */
static bool fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static bool fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(out, cap, f, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

static bool js_truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_TRUE:
        return true;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL: {
        double d = json_real_value(v);
        return d != 0 && !isnan(d);
    }
    default:
        return true;
    }
}

/* The length of a UTF-8 string in UTF-16 code units (JavaScript's .length). */
static size_t js_length(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) != 0x80)
            units += c >= 0xf0 ? 2 : 1;
    }
    return units;
}

bool auth_token_valid(const char *s, size_t len)
{
    if (len != 32)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '=' ||
              c == '-'))
            return false;
    }
    return true;
}

void auth_new_token(char out[33])
{
    uint8_t raw[24];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, 33, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    for (char *p = out; *p; p++)
        if (*p == '/')
            *p = '-';
}

void auth_iso_date(long long ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    int milli = (int)(ms % 1000);
    if (milli < 0) {
        milli += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    fmt(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, milli);
}

static bool json_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int auth_challenge_text(const char *body, size_t len, const char *txid, const char *date, struct buf *out)
{
    while (len && json_ws(body[len - 1]))
        len--;
    if (!len || body[len - 1] != '}')
        return BP_EPROTO;
    len--;
    size_t inner = len;
    while (inner && json_ws(body[inner - 1]))
        inner--;
    bool empty = inner && body[inner - 1] == '{';
    buf_append(out, body, len);
    buf_appendf(out, "%s\"txid\":\"%s\",\"date\":\"%s\"}", empty ? "" : ",", txid, date);
    return 0;
}

/* Decodes standard base64 (padding required, as tweetnacl-util) of exactly
 * want bytes. */
static bool b64_exact(const char *s, size_t len, uint8_t *out, size_t want)
{
    if (len != ((want + 2) / 3) * 4)
        return false;
    size_t n = 0;
    return b64_chars_ok(s, len, false) &&
           sodium_base642bin(out, want, s, len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 && n == want;
}

/* A block key given as a JSON value: 44 chars decoding to 32 bytes. Fills
 * the URL-safe form. */
static bool key_from_json(const json_t *v, char safe[BLOCK_KEY_LEN + 1], uint8_t raw[32])
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    uint8_t tmp[32];
    if (!raw)
        raw = tmp;
    if (n != BLOCK_KEY_LEN || strchr(s, '-') || !b64_exact(s, n, raw, 32))
        return false;
    return block_safe_key(s, n, safe);
}

static const char *bp_code(int rc)
{
    switch (rc) {
    case BP_ENOENT: return "ENOENT";
    case BP_ENOSPC: return "ENOSPC";
    case BP_EROFS: return "EROFS";
    case BP_EEXIST: return "EEXIST";
    case BP_EBADID: return "EINVAL";
    case BP_ETOOBIG: return "E2BIG";
    default: return "EIO";
    }
}

/* Appends s as a JSON string, with bytes that are not UTF-8 replaced by
 * U+FFFD (what Node's toString('utf8') does to a placeholder file). */
static void json_str_lossy(struct buf *b, const char *s, size_t n)
{
    if (utf8_valid(s, n)) {
        jsonw_str(b, s, n);
        return;
    }
    struct buf t = BUF_INIT;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (k && i + k <= n && utf8_valid(s + i, k)) {
            buf_append(&t, s + i, k);
            i += k;
        } else {
            buf_append(&t, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    jsonw_str(b, t.data ? t.data : "", t.len);
    buf_free(&t);
}

static const char *header(const struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* Adds "Name: value" unless the router already set that header. */
static void add_header_once(struct http_resp *r, const char *name, const char *value)
{
    size_t nl = strlen(name);
    const char *h = r->headers.data;
    for (size_t i = 0; h && i < r->headers.len; i++) {
        if ((i == 0 || h[i - 1] == '\n') && r->headers.len - i > nl && strncasecmp(h + i, name, nl) == 0 &&
            h[i + nl] == ':')
            return;
    }
    buf_appendf(&r->headers, "%s: %s\r\n", name, value);
}

#define JSON_TYPE "application/json; charset=utf-8"

static void reply_raw(struct http_resp *r, int status, const char *json)
{
    r->status = status;
    r->content_type = JSON_TYPE;
    buf_reset(&r->body);
    buf_appends(&r->body, json);
}

static void reply_error(struct http_resp *r, int status, const char *err)
{
    r->status = status;
    r->content_type = JSON_TYPE;
    buf_reset(&r->body);
    buf_appends(&r->body, "{\"error\":");
    jsonw_cstr(&r->body, err);
    buf_appendc(&r->body, '}');
}

/* Reads a small JSON file. Returns 0 with *out (new reference), BP_ENOENT,
 * BP_ECORRUPT when it does not parse, or another read error. */
static int read_json_file(const char *path, json_t **out)
{
    struct buf b = BUF_INIT;
    *out = NULL;
    int rc = fsu_read(path, RECORD_MAX, &b);
    if (rc == 0) {
        *out = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY, NULL);
        if (!*out)
            rc = BP_ECORRUPT;
    }
    buf_free(&b);
    return rc;
}

/* ---- paths ---------------------------------------------------------------- */

static int mfa_path(const struct server *srv, const char *safe, char *out, size_t cap)
{
    return fsu_shard_path(out, cap, srv->cfg.data, "data/mfa", safe, ".json");
}

static int session_dir(const struct server *srv, const char *safe, char *out, size_t cap)
{
    return fsu_shard_path(out, cap, srv->cfg.data, "data/sessions", safe, "");
}

static int session_path(const struct server *srv, const char *safe, const char *token, char *out, size_t cap)
{
    if (!auth_token_valid(token, strlen(token)))
        return BP_EBADID;
    char sfx[40];
    if (!fmt(sfx, sizeof sfx, "/%s", token))
        return BP_EBADID;
    return fsu_shard_path(out, cap, srv->cfg.data, "data/sessions", safe, sfx);
}

static int chal_path(const struct server *srv, const char *txid, char *out, size_t cap)
{
    if (!auth_token_valid(txid, strlen(txid)))
        return BP_EBADID;
    return fsu_shard_path(out, cap, srv->cfg.data, "data/challenges", txid, "");
}

/* ---- challenges in memory ------------------------------------------------- */

static void chal_add(struct auth_state *st, const char *txid, long long created, size_t bytes)
{
    struct chal *c = xcalloc(1, sizeof *c);
    memcpy(c->txid, txid, 32);
    c->created = created;
    c->bytes = bytes;
    HASH_ADD_STR(st->by_txid, txid, c);
    DL_APPEND(st->fifo, c);
    st->count++;
    st->bytes += bytes;
}

static void chal_del(struct auth_state *st, struct chal *c)
{
    HASH_DEL(st->by_txid, c);
    DL_DELETE(st->fifo, c);
    st->count--;
    st->bytes -= c->bytes;
    free(c);
}

static int chal_cmp(struct chal *a, struct chal *b) { return a->created < b->created ? -1 : a->created > b->created; }

/* At start: what an earlier run left in data/challenges is either deleted
 * (expired) or taken into the list. */
static void chal_scan(struct server *srv, long long now)
{
    char dir[FSU_PATH_MAX];
    DIR *d = fmt(dir, sizeof dir, "%s/data/challenges", srv->cfg.data) ? opendir(dir) : NULL;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
            continue;
        char sub[FSU_PATH_MAX];
        DIR *d2 = fmt(sub, sizeof sub, "%s/%s", dir, e->d_name) ? opendir(sub) : NULL;
        if (!d2)
            continue;
        struct dirent *f;
        while ((f = readdir(d2))) {
            if (!auth_token_valid(f->d_name, strlen(f->d_name)) || strncmp(f->d_name, e->d_name, 2) != 0)
                continue;
            char p[FSU_PATH_MAX];
            struct stat sb;
            if (!fmt(p, sizeof p, "%s/%s", sub, f->d_name) || stat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
                continue;
            long long mt = fsu_ts_ms(&sb.st_mtim);
            if (now - mt >= AUTH_CHALLENGE_TTL_MS || srv->auth->count >= CHAL_MAX_COUNT) {
                unlink(p);
                continue;
            }
            struct chal *dup = NULL;
            HASH_FIND_STR(srv->auth->by_txid, f->d_name, dup);
            if (!dup)
                chal_add(srv->auth, f->d_name, mt, (size_t)sb.st_size);
        }
        closedir(d2);
    }
    closedir(d);
    DL_SORT(srv->auth->fifo, chal_cmp);
}

void auth_expire(struct server *srv, long long now_ms)
{
    struct auth_state *st = srv->auth;
    if (!st)
        return;
    while (st->fifo && now_ms - st->fifo->created >= AUTH_CHALLENGE_TTL_MS) {
        char p[FSU_PATH_MAX];
        if (chal_path(srv, st->fifo->txid, p, sizeof p) == 0)
            (void)fsu_unlink(p);
        chal_del(st, st->fifo);
    }
}

size_t auth_pending(const struct server *srv) { return srv->auth ? srv->auth->count : 0; }

/* ---- sessions --------------------------------------------------------------- */

/* True if a session file's JSON has expired (mfa.exp, or sso.exp, a number
 * of ms in the past). */
static bool session_expired(const json_t *s, long long now)
{
    const char *kinds[] = {"mfa", "sso"};
    for (int i = 0; i < 2; i++) {
        const json_t *exp = json_object_get(json_object_get(s, kinds[i]), "exp");
        if (json_is_number(exp) && json_number_value(exp) != 0 && (double)now > json_number_value(exp))
            return true;
    }
    return false;
}

/* The daily sweep: deletes expired session files and empty key directories.
 * Sessions are few (accounts with two-factor login times their devices). */
static void session_scan(struct server *srv, long long now)
{
    char root[FSU_PATH_MAX];
    DIR *d = fmt(root, sizeof root, "%s/data/sessions", srv->cfg.data) ? opendir(root) : NULL;
    if (!d)
        return;
    unsigned removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
            continue;
        char sub[FSU_PATH_MAX];
        DIR *d2 = fmt(sub, sizeof sub, "%s/%s", root, e->d_name) ? opendir(sub) : NULL;
        if (!d2)
            continue;
        struct dirent *k;
        while ((k = readdir(d2))) {
            char kd[FSU_PATH_MAX];
            if (!fsu_id_ok(k->d_name, strlen(k->d_name)))
                continue;
            DIR *d3 = fmt(kd, sizeof kd, "%s/%s", sub, k->d_name) ? opendir(kd) : NULL;
            if (!d3)
                continue;
            struct dirent *t;
            while ((t = readdir(d3))) {
                if (!auth_token_valid(t->d_name, strlen(t->d_name)))
                    continue;
                char tp[FSU_PATH_MAX];
                json_t *j = NULL;
                if (fmt(tp, sizeof tp, "%s/%s", kd, t->d_name) && read_json_file(tp, &j) == 0 && session_expired(j, now) && unlink(tp) == 0)
                    removed++;
                json_decref(j);
            }
            closedir(d3);
            (void)rmdir(kd); /* only succeeds when it is empty */
        }
        closedir(d2);
    }
    closedir(d);
    if (removed)
        LOG_INFO("auth: %u expired session(s) deleted", removed);
}

/* Writes a new two-factor session for the block and puts its token in out.
 * The client may propose the token (the `session` parameter, which the
 * reference uses as-is); one of the wrong shape is replaced by a random one. */
static int session_create(struct server *srv, const char *safe, const json_t *proposed, char out[33])
{
    if (json_is_string(proposed) && auth_token_valid(json_string_value(proposed), json_string_length(proposed)))
        memcpy(out, json_string_value(proposed), 33);
    else
        auth_new_token(out);
    char p[FSU_PATH_MAX];
    int rc = session_path(srv, safe, out, p, sizeof p);
    if (rc < 0)
        return rc;
    long long exp = server_now_ms() + (long long)srv->cfg.otp_session_hours * 3600 * 1000;
    char body[96];
    int n = snprintf(body, sizeof body, "{\"mfa\":{\"type\":\"otp\",\"exp\":%lld}}", exp);
    return fsu_write_atomic(p, body, (size_t)n, false);
}

/* Deletes every session of the block (TOTP_REVOKE). As the reference, the
 * directory is left alone if it holds anything that is not a token. */
static void sessions_delete_all(struct server *srv, const char *safe)
{
    char dir[FSU_PATH_MAX];
    if (session_dir(srv, safe, dir, sizeof dir) < 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    bool ok = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strlen(e->d_name) != 32)
            ok = false;
    if (ok) {
        rewinddir(d);
        while ((e = readdir(d))) {
            if (!auth_token_valid(e->d_name, strlen(e->d_name)))
                continue;
            char p[FSU_PATH_MAX];
            if (fmt(p, sizeof p, "%s/%s", dir, e->d_name))
                unlink(p);
        }
    } else {
        LOG_WARN("auth: %s holds files that are not sessions; left alone", dir);
    }
    closedir(d);
    if (ok)
        (void)rmdir(dir);
}

/* ---- MFA settings --------------------------------------------------------- */

/* Reads data/mfa/<xx>/<k>.json: 0 with *out, BP_ENOENT, BP_ECORRUPT, or a
 * read error. */
static int mfa_read(struct server *srv, const char *safe, json_t **out)
{
    char p[FSU_PATH_MAX];
    *out = NULL;
    int rc = mfa_path(srv, safe, p, sizeof p);
    if (rc < 0)
        return rc;
    return read_json_file(p, out);
}

static const char *totp_match(const json_t *mfa, const json_t *code, long long now);

static void otp_fails_sweep(struct auth_state *st, long long now)
{
    struct otp_fail *f, *tmp;
    HASH_ITER(hh, st->otp_fails, f, tmp) {
        if (now - f->since >= OTP_WINDOW_MS) {
            HASH_DEL(st->otp_fails, f);
            free(f);
        }
    }
}

/* The TOTP secret of the MFA settings, checked against code at now. NULL
 * when it is valid, else the reference's error code, or E_TOO_MANY_ATTEMPTS
 * once OTP_MAX_FAILURES wrong codes were given for the block in the window
 * (not in the reference). */
static const char *mfa_check_code(struct server *srv, const char *safe, const json_t *mfa, const json_t *code)
{
    struct auth_state *st = srv->auth;
    long long now = server_now_ms();
    struct otp_fail *f = NULL;
    HASH_FIND_STR(st->otp_fails, safe, f);
    if (f && now - f->since >= OTP_WINDOW_MS) {
        HASH_DEL(st->otp_fails, f);
        free(f);
        f = NULL;
    }
    if (f && f->count >= OTP_MAX_FAILURES)
        return "E_TOO_MANY_ATTEMPTS";
    const char *err = totp_match(mfa, code, now);
    if (err && strcmp(err, "INVALID_OTP") == 0) {
        if (!f && HASH_COUNT(st->otp_fails) < OTP_TRACK_MAX) {
            f = xcalloc(1, sizeof *f);
            memcpy(f->safe, safe, sizeof f->safe);
            f->since = now;
            HASH_ADD_STR(st->otp_fails, safe, f);
        }
        if (f && ++f->count == OTP_MAX_FAILURES)
            LOG_WARN("auth: %u wrong two-factor codes for block %s; refusing codes for a while", f->count, safe);
    } else if (!err && f) {
        HASH_DEL(st->otp_fails, f);
        free(f);
    }
    return err;
}

static const char *totp_match(const json_t *mfa, const json_t *code, long long now)
{
    const json_t *secret = json_object_get(mfa, "secret");
    uint8_t key[TOTP_SECRET_BYTES + 1];
    size_t klen = 0;
    if (!json_is_string(secret) ||
        totp_base32_decode(json_string_value(secret), json_string_length(secret), key, sizeof key, &klen) < 0 ||
        klen != TOTP_SECRET_BYTES)
        return "E_INVALID_SECRET";
    bool ok = totp_check(key, klen, json_string_value(code), json_string_length(code), now / 1000);
    sodium_memzero(key, sizeof key);
    return ok ? NULL : "INVALID_OTP";
}

/* readMFA + checkCode (TOTP_VALIDATE and friends). */
static const char *mfa_validate(struct server *srv, const char *safe, const json_t *code)
{
    json_t *mfa = NULL;
    int rc = mfa_read(srv, safe, &mfa);
    const char *err;
    if (rc == BP_ECORRUPT || (rc == 0 && !js_truthy(mfa)))
        err = "INVALID_CONFIGURATION";
    else if (rc < 0)
        err = "NO_MFA_CONFIGURED";
    else
        err = mfa_check_code(srv, safe, mfa, code);
    json_decref(mfa);
    return err;
}

static bool code_ok(const json_t *code)
{
    return json_is_string(code) && totp_code_format_ok(json_string_value(code), json_string_length(code));
}

/* ---- known users and invitations ------------------------------------------ */

/* An edPublic from the client's userData, as a path component. */
static bool user_key(const json_t *v, char safe[BLOCK_KEY_LEN + 1]) { return key_from_json(v, safe, NULL); }

static int user_path(struct server *srv, const char *safe, char *out, size_t cap)
{
    return fsu_shard_path(out, cap, srv->cfg.data, "data/users", safe, "");
}

/* Whether a known-user record points at this block (either key form). */
static bool user_block_is(const json_t *rec, const char *block_safe)
{
    const json_t *b = json_object_get(rec, "block");
    char s[BLOCK_KEY_LEN + 1];
    return json_is_string(b) && block_safe_key(json_string_value(b), json_string_length(b), s) &&
           strcmp(s, block_safe) == 0;
}

/* Password change: the known user whose record points at the old block now
 * points at the new one (Users.checkUpdate; the reference does not check
 * that the record was the old block's). */
static void user_move_block(struct server *srv, const json_t *user_data, const char *old_safe, const char *new_key)
{
    char uk[BLOCK_KEY_LEN + 1], p[FSU_PATH_MAX];
    if (!user_key(json_array_get(user_data, 1), uk) || user_path(srv, uk, p, sizeof p) < 0)
        return;
    json_t *rec = NULL;
    if (read_json_file(p, &rec) == 0 && json_is_object(rec) && user_block_is(rec, old_safe)) {
        json_object_set_new(rec, "block", json_string(new_key));
        size_t n;
        char *s = jsonw_dump(rec, &n);
        if (fsu_write_atomic(p, s, n, true) < 0)
            LOG_WARN("auth: cannot update known user %s", uk);
        free(s);
    }
    json_decref(rec);
}

/* Account deletion: the known user goes, if the record is this block's. */
static void user_delete(struct server *srv, const json_t *ed_public, const char *block_safe)
{
    char uk[BLOCK_KEY_LEN + 1], p[FSU_PATH_MAX];
    if (!user_key(ed_public, uk) || user_path(srv, uk, p, sizeof p) < 0)
        return;
    json_t *rec = NULL;
    if (read_json_file(p, &rec) == 0 && user_block_is(rec, block_safe))
        (void)fsu_unlink(p);
    json_decref(rec);
}

static int invite_path(struct server *srv, const json_t *token, char *out, size_t cap)
{
    if (!json_is_string(token))
        return BP_EBADID;
    return fsu_shard_path(out, cap, srv->cfg.data, "data/invitations", json_string_value(token), "");
}

/* Invitation.use: the invited user becomes a known user (created, never
 * replaced), and the invitation is deleted either way. */
static void invite_use(struct server *srv, const json_t *token, const char *block_key, const json_t *user_data)
{
    char ip[FSU_PATH_MAX], up[FSU_PATH_MAX], uk[BLOCK_KEY_LEN + 1];
    if (invite_path(srv, token, ip, sizeof ip) < 0)
        return;
    json_t *inv = NULL;
    (void)read_json_file(ip, &inv);
    if (!json_is_object(inv)) {
        json_decref(inv);
        inv = json_object();
    }
    const json_t *ed = json_array_get(user_data, 1);
    /* DISABLE_STORE_INVITED_USERS: the invitation is still used up, but no
     * known-user record is kept for the new account. */
    bool store_user = !json_is_true(json_object_get(srv->settings.extra, "dontStoreInvitedUsers"));
    if (store_user && user_key(ed, uk) && user_path(srv, uk, up, sizeof up) == 0) {
        json_object_set_new(inv, "block", json_string(block_key));
        const json_t *name = json_array_get(user_data, 0);
        if (name)
            json_object_set(inv, "name", (json_t *)name);
        json_object_set(inv, "edPublic", (json_t *)ed);
        struct buf type = BUF_INIT;
        buf_appendf(&type, "invite:%s", json_string_value(token));
        json_object_set_new(inv, "type", json_stringn(type.data, type.len));
        buf_free(&type);
        json_t *by = json_object_get(inv, "createdBy");
        json_object_set(inv, "createdBy", by ? by : json_null());
        json_object_set_new(inv, "time", json_integer(server_now_ms()));
        size_t n;
        char *s = jsonw_dump(inv, &n);
        int rc = fsu_write_excl(up, s, n, true);
        if (rc < 0)
            LOG_WARN("auth: invitation used but known user %s not recorded: %s", uk, bp_strerror(rc));
        free(s);
    }
    json_decref(inv);
    (void)fsu_unlink(ip);
}

/* ---- login blocks ----------------------------------------------------------- */

/* registrationProof: a JSON string ["<old key>","<sig of the 32 raw old-key
 * bytes by the old key>"], the old block still existing. Fills old_safe and
 * old_key (standard form). */
static bool ancestor_proof(struct server *srv, const json_t *proof, char old_safe[BLOCK_KEY_LEN + 1],
                           char old_key[BLOCK_KEY_LEN + 1])
{
    if (!json_is_string(proof))
        return false;
    json_t *arr = json_loadb(json_string_value(proof), json_string_length(proof), JSON_DECODE_ANY, NULL);
    bool ok = false;
    uint8_t pub[32], sig[64];
    const json_t *s = json_array_get(arr, 1);
    if (key_from_json(json_array_get(arr, 0), old_safe, pub) && json_is_string(s) &&
        b64_exact(json_string_value(s), json_string_length(s), sig, 64) &&
        crypto_sign_verify_detached(sig, pub, 32, pub) == 0 && block_exists(srv->cfg.data, old_safe)) {
        block_unsafe_key(old_safe, old_key);
        ok = true;
    }
    json_decref(arr);
    return ok;
}

/* Block.writeLoginBlock (§6). content is the stage-1 content object, key
 * the signer (== content.publicKey). Returns NULL on success or the error
 * code; *old_safe is set ("" if none) to the proven previous block. */
static const char *write_login_block(struct server *srv, const json_t *content, char old_safe[BLOCK_KEY_LEN + 1])
{
    char old_key[BLOCK_KEY_LEN + 1], safe[BLOCK_KEY_LEN + 1], ip[FSU_PATH_MAX];
    old_safe[0] = '\0';
    const json_t *invite = json_object_get(content, "inviteToken");
    bool invited = js_truthy(invite) && invite_path(srv, invite, ip, sizeof ip) == 0 && fsu_exists(ip);
    const json_t *proof = json_object_get(content, "registrationProof");
    bool proven = false;
    if (js_truthy(proof))
        proven = ancestor_proof(srv, proof, old_safe, old_key);
    if (srv->settings.restrict_registration && (js_truthy(proof) ? !proven : !invited))
        return "E_RESTRICTED";
    if (!proven)
        old_safe[0] = '\0';

    uint8_t pub[32], sig[64], hash[crypto_hash_sha512_BYTES];
    const json_t *jk = json_object_get(content, "publicKey");
    const json_t *js = json_object_get(content, "signature");
    const json_t *jc = json_object_get(content, "ciphertext");
    if (!key_from_json(jk, safe, pub))
        return "E_INVALID_KEY";
    if (!json_is_string(js) || !b64_exact(json_string_value(js), json_string_length(js), sig, 64))
        return "E_INVALID_SIGNATURE";
    if (!json_is_string(jc))
        return "E_INVALID_BLOCK";
    size_t clen = json_string_length(jc);
    if (clen > ((BLOCK_MAX_SIZE + 2) / 3) * 4)
        return "E_BLOCK_TOO_LARGE";
    uint8_t *block = xmalloc(clen / 4 * 3 + 3);
    size_t blen = 0;
    if (clen % 4 || !b64_chars_ok(json_string_value(jc), clen, false) ||
        sodium_base642bin(block, clen / 4 * 3 + 3, json_string_value(jc), clen, NULL, &blen, NULL,
                                      sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(block);
        return "E_INVALID_BLOCK";
    }
    if (blen > BLOCK_MAX_SIZE) {
        free(block);
        return "E_BLOCK_TOO_LARGE";
    }
    crypto_hash_sha512(hash, block, blen);
    if (crypto_sign_verify_detached(sig, hash, sizeof hash, pub) != 0) {
        free(block);
        return "E_COULD_NOT_VERIFY";
    }
    int rc = block_write(srv->cfg.data, safe, block, blen);
    free(block);
    if (rc < 0) {
        LOG_ERROR("auth: cannot write block %s: %s", safe, bp_strerror(rc));
        return bp_code(rc);
    }
    LOG_INFO("auth: block %s written%s", safe, proven ? " (password change)" : "");
    const json_t *user_data = json_object_get(content, "userData");
    if (proven)
        user_move_block(srv, user_data, old_safe, json_string_value(jk));
    if (invited)
        invite_use(srv, invite, json_string_value(jk), user_data);
    return NULL;
}

/* Block.removeLoginBlock: archive + placeholder; the known user goes unless
 * it is a password change. */
static const char *remove_login_block(struct server *srv, const char *safe, const json_t *reason,
                                      const json_t *ed_public)
{
    struct buf ph = BUF_INIT;
    bool has_reason = js_truthy(reason);
    if (json_is_string(reason)) {
        buf_append(&ph, json_string_value(reason), json_string_length(reason));
    } else if (has_reason) {
        /* `${reason.code}:${reason.txt}` for anything that is not a string */
        const char *parts[] = {"code", "txt"};
        for (int i = 0; i < 2; i++) {
            const json_t *v = json_object_get(reason, parts[i]);
            if (i)
                buf_appendc(&ph, ':');
            if (json_is_string(v))
                buf_append(&ph, json_string_value(v), json_string_length(v));
            else if (json_is_integer(v))
                buf_appendf(&ph, "%lld", (long long)json_integer_value(v));
            else if (json_is_object(v))
                buf_appends(&ph, "[object Object]");
            else if (!v)
                buf_appends(&ph, "undefined");
            else {
                char *s = jsonw_dump(v, NULL);
                buf_appends(&ph, s);
                free(s);
            }
        }
    }
    int rc = block_archive(srv->cfg.data, safe, has_reason ? (ph.data ? ph.data : "") : NULL, ph.len);
    buf_free(&ph);
    if (rc < 0)
        return bp_code(rc); /* Q13: "ENOENT", never the path */
    LOG_INFO("auth: block %s archived by its owner", safe);
    if (js_truthy(ed_public) && !(json_is_string(reason) && strcmp(json_string_value(reason), "PASSWORD_CHANGE") == 0))
        user_delete(srv, ed_public, safe);
    return NULL;
}

/* ---- HTTP commands ------------------------------------------------------------ */

/* One command, as in the reference's lib/http-commands.js: check() runs at
 * stage 1 on the posted body, complete() at stage 2 on the stored one. */
struct actx {
    struct server *srv;
    const json_t *body;          /* the command's parameters (borrowed) */
    const char *key;             /* body.publicKey, 44 chars */
    bool key_ok;                 /* it decodes to 32 bytes */
    char safe[BLOCK_KEY_LEN + 1]; /* its URL-safe form, when key_ok */
    const char *err;             /* the error code (static) */
    struct buf out;              /* complete(): the JSON result; empty = no body */
};

enum { CHK_OK = 0, CHK_ERR = -1, CHK_THROW = -2 };

static int fail(struct actx *a, const char *err)
{
    a->err = err;
    return CHK_ERR;
}

static int need_key(struct actx *a) { return a->key_ok ? CHK_OK : fail(a, "INVALID_KEY"); }

/* checkMFA: refused when the block has MFA settings. Fails closed: a file
 * that cannot be read or parsed also refuses (the reference lets it pass). */
static int no_mfa(struct actx *a)
{
    json_t *m = NULL;
    int rc = mfa_read(a->srv, a->safe, &m);
    json_decref(m);
    return rc == BP_ENOENT ? CHK_OK : fail(a, "NOT_ALLOWED");
}

static int bearer_result(struct actx *a, const char *safe)
{
    char token[33];
    int rc = session_create(a->srv, safe, json_object_get(a->body, "session"), token);
    if (rc < 0) {
        LOG_ERROR("auth: cannot write a session for %s: %s", safe, bp_strerror(rc));
        return fail(a, "SESSION_WRITE_ERROR");
    }
    buf_appendf(&a->out, "{\"bearer\":\"%s\"}", token);
    return CHK_OK;
}

static int mfa_delete(struct actx *a)
{
    char p[FSU_PATH_MAX];
    if (mfa_path(a->srv, a->safe, p, sizeof p) < 0 || fsu_unlink(p) < 0)
        return fail(a, "MFA_ERROR");
    sessions_delete_all(a->srv, a->safe);
    buf_appends(&a->out, "{\"success\":true}");
    return CHK_OK;
}

/* MFA_CHECK */
static int mfa_check_check(struct actx *a)
{
    int rc = need_key(a);
    return rc ? rc : no_mfa(a);
}

static int nothing_complete(struct actx *a) { return CHK_OK; }

/* WRITE_BLOCK */
static int write_block_check(struct actx *a)
{
    const json_t *content = json_object_get(a->body, "content");
    if (!content || json_is_null(content))
        return CHK_THROW; /* content.publicKey of undefined */
    int rc = need_key(a);
    if (rc)
        return rc;
    const json_t *cpk = json_object_get(content, "publicKey");
    if (!json_is_string(cpk) || strcmp(json_string_value(cpk), a->key) != 0)
        return fail(a, "INVALID_KEY");
    return no_mfa(a);
}

static int write_block_complete(struct actx *a)
{
    char old_safe[BLOCK_KEY_LEN + 1];
    const char *err = write_login_block(a->srv, json_object_get(a->body, "content"), old_safe);
    if (err)
        return fail(a, err);
    /* A session token given with a password change moves from the old block
     * to the new one (Sessions.update; used by SSO accounts). */
    const json_t *session = json_object_get(a->body, "session");
    char from[FSU_PATH_MAX], to[FSU_PATH_MAX];
    if (old_safe[0] && json_is_string(session) &&
        session_path(a->srv, old_safe, json_string_value(session), from, sizeof from) == 0 &&
        session_path(a->srv, a->safe, json_string_value(session), to, sizeof to) == 0 && fsu_exists(from))
        (void)fsu_move(from, to);
    return CHK_OK;
}

/* REMOVE_BLOCK */
static int remove_block_complete(struct actx *a)
{
    const char *err = remove_login_block(a->srv, a->safe, json_object_get(a->body, "reason"),
                                         json_object_get(a->body, "edPublic"));
    return err ? fail(a, err) : CHK_OK;
}

/* UPLOAD_COOKIE */
static int upload_cookie_complete(struct actx *a)
{
    char cookie[33];
    int rc = files_new_upload_cookie(a->srv, a->key, cookie);
    if (rc < 0)
        return fail(a, bp_code(rc));
    buf_appends(&a->out, "{\"cookie\":");
    jsonw_cstr(&a->out, cookie);
    buf_appendc(&a->out, '}');
    return CHK_OK;
}

/* TOTP_SETUP */
static int totp_setup_check(struct actx *a)
{
    const json_t *code = json_object_get(a->body, "code");
    const json_t *contact = json_object_get(a->body, "contact");
    const json_t *secret = json_object_get(a->body, "secret");
    if (!code_ok(code))
        return fail(a, "E_INVALID");
    if (js_truthy(contact) &&
        (!json_is_string(contact) || js_length(json_string_value(contact), json_string_length(contact)) > CONTACT_MAX))
        return fail(a, "INVALID_CONTACT");
    int rc = need_key(a);
    if (rc)
        return rc;
    uint8_t key[TOTP_SECRET_BYTES + 1];
    size_t klen = 0;
    if (!json_is_string(secret) ||
        totp_base32_decode(json_string_value(secret), json_string_length(secret), key, sizeof key, &klen) < 0 ||
        klen != TOTP_SECRET_BYTES)
        return fail(a, "INVALID_SECRET");
    json_t *m = NULL;
    rc = mfa_read(a->srv, a->safe, &m);
    json_decref(m);
    if (rc == 0 || rc == BP_ECORRUPT)
        return fail(a, "EEXISTS");
    if (rc != BP_ENOENT)
        return fail(a, bp_code(rc));
    bool ok = totp_check(key, klen, json_string_value(code), json_string_length(code), server_now_ms() / 1000);
    sodium_memzero(key, sizeof key);
    return ok ? CHK_OK : fail(a, "INVALID_OTP");
}

static int totp_setup_complete(struct actx *a)
{
    if (!block_exists(a->srv->cfg.data, a->safe))
        return fail(a, "NO_BLOCK");
    char date[32], p[FSU_PATH_MAX];
    auth_iso_date(server_now_ms(), date);
    json_t *rec = json_pack("{s:s,s:O,s:s}", "method", "TOTP", "secret", json_object_get(a->body, "secret"),
                            "creation", date);
    const json_t *contact = json_object_get(a->body, "contact");
    if (json_is_string(contact))
        json_object_set(rec, "contact", (json_t *)contact);
    size_t n;
    char *s = jsonw_dump(rec, &n);
    json_decref(rec);
    int rc = mfa_path(a->srv, a->safe, p, sizeof p);
    if (rc == 0)
        rc = fsu_write_excl(p, s, n, true);
    free(s);
    if (rc < 0) {
        LOG_ERROR("auth: cannot store the MFA settings of %s: %s", a->safe, bp_strerror(rc));
        return fail(a, "STORAGE_FAILURE");
    }
    LOG_INFO("auth: two-factor login set up for block %s", a->safe);
    return bearer_result(a, a->safe);
}

/* TOTP_VALIDATE */
static int totp_validate_check(struct actx *a)
{
    const json_t *code = json_object_get(a->body, "code");
    if (!code_ok(code))
        return fail(a, "E_INVALID");
    int rc = need_key(a);
    if (rc)
        return rc;
    const char *err = mfa_validate(a->srv, a->safe, code);
    return err ? fail(a, err) : CHK_OK;
}

static int totp_validate_complete(struct actx *a) { return bearer_result(a, a->safe); }

/* TOTP_MFA_CHECK and TOTP_REMOVE_BLOCK: the code is `auth`; the key is
 * checked first for TOTP_REMOVE_BLOCK, second for TOTP_MFA_CHECK. */
static int totp_auth_check(struct actx *a, bool key_first)
{
    const json_t *code = json_object_get(a->body, "auth");
    if (key_first && need_key(a))
        return CHK_ERR;
    if (!code_ok(code))
        return fail(a, "E_INVALID");
    if (!key_first && need_key(a))
        return CHK_ERR;
    const char *err = mfa_validate(a->srv, a->safe, code);
    return err ? fail(a, err) : CHK_OK;
}

static int totp_mfa_check_check(struct actx *a) { return totp_auth_check(a, false); }
static int totp_remove_block_check(struct actx *a) { return totp_auth_check(a, true); }

static int totp_remove_block_complete(struct actx *a)
{
    int rc = remove_block_complete(a);
    return rc ? rc : mfa_delete(a);
}

/* TOTP_REVOKE: a code, or the recovery key stored as contact "secret:<key>". */
static bool recovery_format_ok(const json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) != 32)
        return false;
    const char *s = json_string_value(v);
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '+' || s[i] == '/'))
            return false;
    return true;
}

static int totp_revoke_check(struct actx *a)
{
    const json_t *code = json_object_get(a->body, "code");
    const json_t *recovery = json_object_get(a->body, "recoveryKey");
    if (!code_ok(code) && !recovery_format_ok(recovery))
        return fail(a, "E_INVALID");
    int rc = need_key(a);
    if (rc)
        return rc;
    json_t *mfa = NULL;
    rc = mfa_read(a->srv, a->safe, &mfa);
    if (rc == BP_ECORRUPT || (rc == 0 && !js_truthy(mfa)))
        a->err = "INVALID_CONFIGURATION";
    else if (rc < 0)
        a->err = "NO_MFA_CONFIGURED";
    else if (js_truthy(recovery)) {
        const json_t *contact = json_object_get(mfa, "contact");
        const char *c = json_string_value(contact);
        if (!c || strncmp(c, "secret:", 7) != 0)
            a->err = "E_NO_RECOVERY_KEY";
        else if (!json_is_string(recovery) || json_string_length(contact) - 7 != json_string_length(recovery) ||
                 sodium_memcmp(c + 7, json_string_value(recovery), json_string_length(recovery)) != 0)
            a->err = "E_WRONG_RECOVERY_KEY";
    } else {
        a->err = mfa_check_code(a->srv, a->safe, mfa, code);
    }
    json_decref(mfa);
    return a->err ? CHK_ERR : CHK_OK;
}

static int totp_revoke_complete(struct actx *a)
{
    int rc = mfa_delete(a);
    if (rc == 0)
        LOG_INFO("auth: two-factor login revoked for block %s", a->safe);
    return rc;
}

/* TOTP_WRITE_BLOCK: a password change of a two-factor account. */
static int totp_write_block_check(struct actx *a)
{
    const json_t *content = json_object_get(a->body, "content");
    if (!content || json_is_null(content))
        return CHK_THROW; /* content.auth of undefined */
    int rc = need_key(a);
    if (rc)
        return rc;
    const json_t *cpk = json_object_get(content, "publicKey");
    if (!json_is_string(cpk) || strcmp(json_string_value(cpk), a->key) != 0)
        return fail(a, "INVALID_KEY");
    const json_t *code = json_object_get(content, "auth");
    if (!code_ok(code))
        return fail(a, "E_INVALID");
    const json_t *proof = json_object_get(content, "registrationProof");
    if (!js_truthy(proof))
        return fail(a, "MISSING_ANCESTOR");
    char old_safe[BLOCK_KEY_LEN + 1], old_key[BLOCK_KEY_LEN + 1];
    if (!ancestor_proof(a->srv, proof, old_safe, old_key))
        return fail(a, "INVALID_ANCESTOR");
    const char *err = mfa_validate(a->srv, old_safe, code);
    return err ? fail(a, err) : CHK_OK;
}

static int totp_write_block_complete(struct actx *a)
{
    char old_safe[BLOCK_KEY_LEN + 1];
    if (write_login_block(a->srv, json_object_get(a->body, "content"), old_safe))
        return fail(a, "BLOCK_WRITE_ERROR");
    if (!old_safe[0])
        return fail(a, "INVALID_ANCESTOR");
    /* MFA.copy: errors are ignored, as in the reference. */
    char from[FSU_PATH_MAX], to[FSU_PATH_MAX];
    struct buf m = BUF_INIT;
    if (mfa_path(a->srv, old_safe, from, sizeof from) == 0 && mfa_path(a->srv, a->safe, to, sizeof to) == 0 &&
        fsu_read(from, RECORD_MAX, &m) == 0)
        (void)fsu_write_excl(to, m.data ? m.data : "", m.len, true);
    buf_free(&m);
    return bearer_result(a, a->safe);
}

struct command {
    const char *name;
    int (*check)(struct actx *a);
    int (*complete)(struct actx *a);
};

static const struct command g_commands[] = {
    {"MFA_CHECK", mfa_check_check, nothing_complete},
    {"WRITE_BLOCK", write_block_check, write_block_complete},
    {"REMOVE_BLOCK", mfa_check_check, remove_block_complete},
    {"UPLOAD_COOKIE", need_key, upload_cookie_complete},
    {"TOTP_SETUP", totp_setup_check, totp_setup_complete},
    {"TOTP_VALIDATE", totp_validate_check, totp_validate_complete},
    {"TOTP_MFA_CHECK", totp_mfa_check_check, nothing_complete},
    {"TOTP_REVOKE", totp_revoke_check, totp_revoke_complete},
    {"TOTP_WRITE_BLOCK", totp_write_block_check, totp_write_block_complete},
    {"TOTP_REMOVE_BLOCK", totp_remove_block_check, totp_remove_block_complete},
    {NULL, NULL, NULL},
};

static const struct command *find_command(const json_t *name)
{
    if (!json_is_string(name))
        return NULL;
    for (const struct command *c = g_commands; c->name; c++)
        if (strcmp(c->name, json_string_value(name)) == 0)
            return c;
    return NULL;
}

static void actx_init(struct actx *a, struct server *srv, const json_t *body)
{
    memset(a, 0, sizeof *a);
    a->srv = srv;
    a->body = body;
    a->key = json_string_value(json_object_get(body, "publicKey"));
    a->key_ok = key_from_json(json_object_get(body, "publicKey"), a->safe, NULL);
}

/* Stage 1: validate, store the challenge, answer {txid, date}. */
static void stage1(struct server *srv, const struct http_req *req, struct http_resp *resp, const json_t *body)
{
    struct auth_state *st = srv->auth;
    const struct command *cmd = find_command(json_object_get(body, "command"));
    if (!cmd) {
        reply_error(resp, 500, "invalid command");
        return;
    }
    const json_t *pk = json_object_get(body, "publicKey");
    if (!json_is_string(pk) || js_length(json_string_value(pk), json_string_length(pk)) != BLOCK_KEY_LEN) {
        reply_error(resp, 500, "Invalid key");
        return;
    }
    /* txid and date are appended to the raw body; a body that already has
     * them (a falsy txid) would be signed differently by a JS client. */
    if (json_object_get(body, "txid") || json_object_get(body, "date")) {
        reply_error(resp, 500, "invalid request");
        return;
    }
    struct actx a;
    actx_init(&a, srv, body);
    int rc = cmd->check(&a);
    if (rc == CHK_THROW) {
        reply_error(resp, 500, "Internal server error 7692");
        return;
    }
    if (rc) {
        reply_error(resp, 500, a.err);
        return;
    }
    char txid[33], date[32], path[FSU_PATH_MAX];
    long long now = server_now_ms();
    auth_new_token(txid);
    auth_iso_date(now, date);
    struct buf text = BUF_INIT;
    if (auth_challenge_text(req->body, req->body_len, txid, date, &text) < 0) {
        buf_free(&text);
        reply_error(resp, 500, "invalid request");
        return;
    }
    if (st->count >= CHAL_MAX_COUNT || st->bytes + text.len > CHAL_MAX_BYTES) {
        LOG_WARN("auth: too many pending challenges (%zu, %zu bytes); refusing new ones", st->count, st->bytes);
        rc = BP_ETOOBIG;
    } else if ((rc = chal_path(srv, txid, path, sizeof path)) == 0) {
        rc = fsu_write_excl(path, text.data, text.len, false);
    }
    if (rc < 0) {
        if (rc != BP_ETOOBIG)
            LOG_ERROR("auth: cannot store a challenge: %s", bp_strerror(rc));
        buf_free(&text);
        reply_error(resp, 500, "Internal server error 6250");
        return;
    }
    chal_add(st, txid, now, text.len);
    buf_free(&text);
    resp->status = 200;
    resp->content_type = JSON_TYPE;
    buf_appendf(&resp->body, "{\"txid\":\"%s\",\"date\":\"%s\"}", txid, date);
}

/* Stage 2: the signed answer; the challenge is consumed whatever happens. */
static void stage2(struct server *srv, struct http_resp *resp, const json_t *body)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (!strstr(k, "sig") && !strstr(k, "txid")) {
            reply_error(resp, 500, "extraneous parameters");
            return;
        }
    }
    const json_t *jt = json_object_get(body, "txid");
    const json_t *js = json_object_get(body, "sig");
    if (!json_is_string(jt) || js_length(json_string_value(jt), json_string_length(jt)) != 32) {
        reply_error(resp, 500, "Invalid txid");
        return;
    }
    if (!json_is_string(js) || js_length(json_string_value(js), json_string_length(js)) != 88) {
        reply_error(resp, 500, "Missing signature");
        return;
    }
    const char *txid = json_string_value(jt);
    char path[FSU_PATH_MAX];
    struct buf text = BUF_INIT;
    /* Q11: a txid of another shape is never a path; it is just unknown. */
    if (chal_path(srv, txid, path, sizeof path) < 0 || fsu_read(path, AUTH_BODY_MAX + 256, &text) < 0) {
        buf_free(&text);
        reply_error(resp, 500, "Unexpected response");
        return;
    }
    long long created = 0;
    struct chal *c = NULL;
    HASH_FIND_STR(srv->auth->by_txid, txid, c);
    if (c) {
        created = c->created;
        chal_del(srv->auth, c);
    } else if (fsu_mtime_ms(path, &created) < 0) {
        created = 0; /* unreadable age: treated as expired */
    }
    (void)fsu_unlink(path);
    if (server_now_ms() - created >= AUTH_CHALLENGE_TTL_MS) {
        buf_free(&text);
        reply_error(resp, 500, "Unexpected response");
        return;
    }
    json_t *stored = json_loadb(text.data ? text.data : "", text.len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *spk = json_object_get(stored, "publicKey");
    const struct command *cmd = find_command(json_object_get(stored, "command"));
    uint8_t sig[64], pub[32];
    size_t siglen = 0;
    struct actx a;
    actx_init(&a, srv, stored);
    if (!json_is_object(stored))
        reply_error(resp, 500, "Internal server error 129");
    else if (!json_is_string(spk))
        reply_error(resp, 500, "Invalid public key");
    else if (!cmd)
        reply_error(resp, 501, "Not implemented");
    else if (json_string_length(js) % 4 || !b64_chars_ok(json_string_value(js), json_string_length(js), false) ||
             sodium_base642bin(sig, sizeof sig, json_string_value(js), json_string_length(js), NULL, &siglen, NULL,
                               sodium_base64_VARIANT_ORIGINAL) != 0 || siglen != sizeof sig ||
             !key_from_json(spk, a.safe, pub))
        reply_error(resp, 500, "decoding error");
    else if (crypto_sign_verify_detached(sig, (const uint8_t *)text.data, text.len, pub) != 0)
        reply_error(resp, 500, "Failed signature validation");
    else if (cmd->complete(&a) != CHK_OK) {
        LOG_INFO("auth: %s for %s failed: %s", cmd->name, a.safe, a.err);
        resp->status = 500;
        resp->content_type = JSON_TYPE;
        buf_appends(&resp->body, "{\"error\":\"Execution error\",\"errorCode\":");
        jsonw_cstr(&resp->body, a.err);
        buf_appendc(&resp->body, '}');
    } else {
        resp->status = 200;
        resp->content_type = JSON_TYPE;
        buf_append(&resp->body, a.out.data ? a.out.data : "", a.out.len);
    }
    buf_free(&a.out);
    json_decref(stored);
    buf_free(&text);
}

static void api_auth(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    if (req->body_len > AUTH_BODY_MAX) {
        reply_error(resp, 413, "request entity too large");
        return;
    }
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(body))
        reply_error(resp, 500, "invalid request");
    else if (js_truthy(json_object_get(body, "txid")))
        stage2(srv, resp, body);
    else if (js_truthy(json_object_get(body, "command")))
        stage1(srv, req, resp, body);
    else
        reply_error(resp, 500, "invalid request");
    json_decref(body);
}

/* ---- GET /block/... ------------------------------------------------------------ */

static void block_not_found(struct server *srv, struct http_resp *resp, const char *safe)
{
    struct buf ph = BUF_INIT;
    resp->status = 404;
    resp->content_type = JSON_TYPE;
    buf_reset(&resp->body);
    if (safe && block_read_placeholder(srv->cfg.data, safe, &ph) == 0) {
        buf_appends(&resp->body, "{\"reason\":");
        json_str_lossy(&resp->body, ph.data ? ph.data : "", ph.len);
        buf_appends(&resp->body, ",\"code\":404}");
    } else {
        buf_appends(&resp->body, "{\"code\":404}");
    }
    buf_free(&ph);
}

static void http_date(time_t t, char out[40])
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    fmt(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The MFA gate (§3.4 step 3). Returns true if the request may go on; false
 * when resp has been filled (401, 404 or 500). */
static bool block_gate(struct server *srv, const struct http_req *req, struct http_resp *resp, const char *safe)
{
    json_t *mfa = NULL;
    int rc = mfa_read(srv, safe, &mfa);
    if (rc == BP_ENOENT)
        return true;
    if (rc < 0 || !json_is_object(mfa)) {
        LOG_ERROR("auth: unreadable MFA settings for block %s: %s", safe, rc < 0 ? bp_strerror(rc) : "not an object");
        json_decref(mfa);
        reply_raw(resp, 500, "{\"code\":500,\"error\":\"UNEXPECTED_ERROR\"}");
        return false;
    }
    bool ok = false;
    if (!block_exists(srv->cfg.data, safe)) {
        block_not_found(srv, resp, safe);
        json_decref(mfa);
        return false;
    }
    /* "Authorization: Bearer <token>"; the reference also takes a bare token. */
    const char *h = header(req, "authorization");
    char token[33];
    if (h) {
        while (*h == ' ' || *h == '\t')
            h++;
        if (strncmp(h, "Bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\t')) {
            h += 6;
            while (*h == ' ' || *h == '\t')
                h++;
        }
        size_t n = strlen(h);
        while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
            n--;
        if (auth_token_valid(h, n)) {
            memcpy(token, h, 32);
            token[32] = '\0';
            char p[FSU_PATH_MAX];
            json_t *s = NULL;
            if (session_path(srv, safe, token, p, sizeof p) == 0 && read_json_file(p, &s) == 0 &&
                js_truthy(json_object_get(s, "mfa"))) {
                if (session_expired(s, server_now_ms()))
                    (void)fsu_unlink(p);
                else
                    ok = true;
            }
            json_decref(s);
        }
    }
    if (!ok) {
        resp->status = 401;
        resp->content_type = JSON_TYPE;
        buf_reset(&resp->body);
        buf_appends(&resp->body, "{\"sso\":false");
        const json_t *method = json_object_get(mfa, "method");
        if (method) {
            buf_appends(&resp->body, ",\"method\":");
            jsonw_value(&resp->body, method);
        }
        buf_appends(&resp->body, ",\"code\":401}");
    }
    json_decref(mfa);
    return ok;
}

static void block_http(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    const char *path = req->path;
    if (strcmp(path, "/block/placeholder.txt") == 0) {
        char p[FSU_PATH_MAX];
        resp->status = 200;
        resp->content_type = "text/plain; charset=UTF-8";
        buf_reset(&resp->body);
        if (!fmt(p, sizeof p, "%s/block/placeholder.txt", srv->cfg.data) || fsu_read(p, 4096, &resp->body) < 0)
            buf_appends(&resp->body, "PLACEHOLDER\n");
        return;
    }
    const char *base = strrchr(path, '/') + 1;
    char safe[BLOCK_KEY_LEN + 1];
    if (!block_safe_key(base, strlen(base), safe) || strchr(base, '/')) {
        reply_raw(resp, 404, "{\"error\":\"INVALID_ID\"}");
        return;
    }
    /* Only /block/<k[0:2]>/<k> names a block; any other place is empty. */
    bool shaped = (size_t)(base - path) == 10 && strncmp(path + 7, base, 2) == 0;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (!shaped || !get) {
        block_not_found(srv, resp, safe);
        return;
    }
    if (!block_gate(srv, req, resp, safe))
        return;
    char p[FSU_PATH_MAX];
    int fd = -1;
    struct stat sb;
    if (block_path(p, sizeof p, srv->cfg.data, safe, BLOCK_LIVE) == 0)
        fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        block_not_found(srv, resp, safe);
        return;
    }
    long long mt = fsu_ts_ms(&sb.st_mtim);
    char etag[64], lm[40];
    snprintf(etag, sizeof etag, "W/\"%llx-%llx\"", (unsigned long long)sb.st_size, (unsigned long long)mt);
    http_date(sb.st_mtim.tv_sec, lm);
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    buf_reset(&resp->body);
    add_header_once(resp, "Cache-Control", "no-cache");
    buf_appendf(&resp->headers, "ETag: %s\r\nLast-Modified: %s\r\n", etag, lm);
    resp->file_fd = fd;
    resp->file_off = 0;
    resp->file_len = (uint64_t)sb.st_size;
}

/* ---- module interface ------------------------------------------------------------ */

bool auth_http(struct server *srv, const struct http_req *req, struct http_resp *resp)
{
    if (strncmp(req->path, "/block/", 7) == 0) {
        block_http(srv, req, resp);
        return true;
    }
    if ((strcmp(req->path, "/api/auth") == 0 || strcmp(req->path, "/api/auth/") == 0) &&
        strcmp(req->method, "POST") == 0) {
        api_auth(srv, req, resp);
        return true;
    }
    return false;
}

int auth_init(struct server *srv)
{
    srv->auth = xcalloc(1, sizeof *srv->auth);
    long long now = server_now_ms();
    chal_scan(srv, now);
    srv->auth->next_session_scan = now + SESSION_SCAN_FIRST_MS;
    if (srv->auth->count)
        LOG_INFO("auth: %zu pending challenge(s) from an earlier run", srv->auth->count);
    return 0;
}

void auth_free(struct server *srv)
{
    struct auth_state *st = srv->auth;
    if (!st)
        return;
    while (st->fifo)
        chal_del(st, st->fifo);
    struct otp_fail *f, *tmp;
    HASH_ITER(hh, st->otp_fails, f, tmp) {
        HASH_DEL(st->otp_fails, f);
        free(f);
    }
    free(st);
    srv->auth = NULL;
}

void auth_tick(struct server *srv)
{
    if (!srv->auth)
        return;
    long long now = server_now_ms();
    auth_expire(srv, now);
    otp_fails_sweep(srv->auth, now);
    if (now >= srv->auth->next_session_scan) {
        srv->auth->next_session_scan = now + SESSION_SCAN_EVERY_MS;
        session_scan(srv, now);
    }
}

static int admin_key(const char *block_key, char safe[BLOCK_KEY_LEN + 1])
{
    if (!block_key || !block_safe_key(block_key, strlen(block_key), safe))
        return BP_EBADID;
    return 0;
}

int auth_block_archive(struct server *srv, const char *block_key, const char *reason)
{
    char safe[BLOCK_KEY_LEN + 1];
    int rc = admin_key(block_key, safe);
    if (rc == 0)
        rc = block_archive(srv->cfg.data, safe, reason, reason ? strlen(reason) : 0);
    if (rc == 0)
        LOG_INFO("auth: block %s archived (admin)", safe);
    return rc;
}

int auth_block_restore(struct server *srv, const char *block_key)
{
    char safe[BLOCK_KEY_LEN + 1];
    int rc = admin_key(block_key, safe);
    if (rc == 0)
        rc = block_restore(srv->cfg.data, safe);
    if (rc == 0)
        LOG_INFO("auth: block %s restored (admin)", safe);
    return rc;
}

int auth_mfa_revoke(struct server *srv, const char *block_key)
{
    char safe[BLOCK_KEY_LEN + 1], p[FSU_PATH_MAX];
    int rc = admin_key(block_key, safe);
    if (rc == 0)
        rc = mfa_path(srv, safe, p, sizeof p);
    if (rc == 0)
        rc = fsu_unlink(p);
    if (rc < 0)
        return rc;
    sessions_delete_all(srv, safe);
    LOG_INFO("auth: two-factor authentication of block %s disabled (admin)", safe);
    return 0;
}

static int mfa_archive_path(const struct server *srv, const char *safe, char *out, size_t cap)
{
    return fsu_shard_path(out, cap, srv->cfg.data, "data/archive/mfa", safe, ".json");
}

int auth_mfa_archive(struct server *srv, const char *block_key)
{
    char safe[BLOCK_KEY_LEN + 1], live[FSU_PATH_MAX], arch[FSU_PATH_MAX];
    int rc = admin_key(block_key, safe);
    if (rc == 0)
        rc = mfa_path(srv, safe, live, sizeof live);
    if (rc == 0)
        rc = mfa_archive_path(srv, safe, arch, sizeof arch);
    if (rc == 0 && !fsu_exists(live))
        rc = BP_ENOENT;
    if (rc == 0)
        rc = fsu_move(live, arch);
    if (rc < 0)
        return rc;
    sessions_delete_all(srv, safe);
    LOG_INFO("auth: two-factor settings of block %s archived (admin)", safe);
    return 0;
}

int auth_mfa_restore(struct server *srv, const char *block_key)
{
    char safe[BLOCK_KEY_LEN + 1], live[FSU_PATH_MAX], arch[FSU_PATH_MAX];
    int rc = admin_key(block_key, safe);
    if (rc == 0)
        rc = mfa_path(srv, safe, live, sizeof live);
    if (rc == 0)
        rc = mfa_archive_path(srv, safe, arch, sizeof arch);
    if (rc == 0 && fsu_exists(live))
        rc = BP_EEXIST;
    if (rc == 0 && !fsu_exists(arch))
        rc = BP_ENOENT;
    if (rc == 0)
        rc = fsu_move(arch, live);
    if (rc == 0)
        LOG_INFO("auth: two-factor settings of block %s restored (admin)", safe);
    return rc;
}
