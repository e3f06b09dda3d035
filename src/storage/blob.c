/* blob.c: the on-disk side of encrypted uploads (see blob.h for the layout).
 *
 * File formats (all written by this file):
 *   <id>                 opaque bytes; the client's format (2-byte length,
 *                        encrypted metadata, secretbox chunks) is not looked at.
 *   <id>.metadata.ndjson one JSON value per line: first {"owners":[k]} for an
 *                        owned upload, then [COMMAND,value,ms] amendments (Q17:
 *                        SET_METADATA on a blob appends here, not to datastore/).
 *   <id>.activity        decimal ms of the last GET/HEAD, no newline.
 *   <id>.placeholder     the deletion reason as UTF-8 text, no newline.
 *   <sk>.cookie          32 lowercase hex chars, no newline; the file's mtime is
 *                        the cookie's issue time.
 *
 * Crash safety: the stage is appended with fsu_append (a failed write is cut
 * back); cookies, activity, placeholders and owned-upload metadata are
 * replaced with fsu_write_atomic; a commit is one rename that never replaces
 * a live blob (renameat2 RENAME_NOREPLACE, with a stat-then-rename fallback on
 * file systems without it, safe because every caller is on the loop thread). */
#include "storage/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/fsutil.h"

#define ARCHIVE_DIR "data/archive/blob"

/* ---- ids and paths ---------------------------------------------------------- */

bool blob_id_valid(const char *id, size_t len)
{
    if (!id || len != BLOB_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '=';
}

bool blob_safe_key_valid(const char *sk, size_t len)
{
    if (!sk || len != BLOB_SAFE_KEY_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!b64_char(sk[i]) && sk[i] != '-')
            return false;
    return true;
}

int blob_safe_key(const char *key, size_t len, char out[BLOB_SAFE_KEY_LEN + 1])
{
    if (!key || len != BLOB_SAFE_KEY_LEN)
        return BP_EBADID;
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '/')
            out[i] = '-';
        else if (b64_char(key[i]))
            out[i] = key[i];
        else
            return BP_EBADID;
    }
    out[len] = '\0';
    return 0;
}

static const char *suffix_of(enum blob_file f)
{
    switch (f) {
    case BLOB_META: return ".metadata.ndjson";
    case BLOB_ACTIVITY: return ".activity";
    case BLOB_PLACEHOLDER: return ".placeholder";
    case BLOB_DATA: break;
    }
    return "";
}

int blob_path(char *out, size_t cap, const char *root, const char *id, enum blob_file f)
{
    if (!blob_id_valid(id, id ? strlen(id) : 0))
        return BP_EBADID;
    return fsu_shard_path(out, cap, root, "blob", id, suffix_of(f));
}

int blob_archive_path(char *out, size_t cap, const char *root, const char *id, enum blob_file f)
{
    if (!blob_id_valid(id, id ? strlen(id) : 0) || f == BLOB_PLACEHOLDER)
        return BP_EBADID;
    return fsu_shard_path(out, cap, root, ARCHIVE_DIR, id, suffix_of(f));
}

int blob_stage_path(char *out, size_t cap, const char *root, const char *sk, bool cookie)
{
    if (!blob_safe_key_valid(sk, sk ? strlen(sk) : 0))
        return BP_EBADID;
    return fsu_shard_path(out, cap, root, "blobstage", sk, cookie ? ".cookie" : "");
}

/* ---- I/O ------------------------------------------------------------------------ */

int blob_init(const char *root)
{
    char path[FSU_PATH_MAX];
    static const char *const dirs[] = {"blob/x", "blobstage/x", ARCHIVE_DIR "/x"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int n = snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        if (n < 0 || (size_t)n >= sizeof path)
            return BP_ETOOBIG;
        int rc = fsu_mkdirs_for(path);
        if (rc < 0)
            return rc;
    }
    /* Rewritten at every start, as the reference does. */
    int n = snprintf(path, sizeof path, "%s/blob/placeholder.txt", root);
    if (n < 0 || (size_t)n >= sizeof path)
        return BP_ETOOBIG;
    struct buf cur = BUF_INIT;
    int rc = fsu_read(path, 64, &cur);
    if (rc != 0 || cur.len != 12 || memcmp(cur.data, "PLACEHOLDER\n", 12) != 0)
        rc = fsu_write_atomic(path, "PLACEHOLDER\n", 12, false);
    buf_free(&cur);
    return rc;
}

int blob_size(const char *root, const char *id, uint64_t *size, struct buf *reason)
{
    char path[FSU_PATH_MAX];
    *size = 0;
    int rc = blob_path(path, sizeof path, root, id, BLOB_DATA);
    if (rc < 0)
        return rc;
    rc = fsu_size(path, size);
    if (rc != BP_ENOENT)
        return rc;
    *size = 0;
    if (blob_path(path, sizeof path, root, id, BLOB_PLACEHOLDER) < 0)
        return BP_ENOENT;
    struct buf text = BUF_INIT;
    /* An empty placeholder counts as none (the reference tests its text). */
    if (fsu_read(path, BLOB_PLACEHOLDER_MAX, &text) == 0 && text.len > 0) {
        if (reason)
            buf_append(reason, text.data, text.len);
        buf_free(&text);
        return BP_EDELETED;
    }
    buf_free(&text);
    return BP_ENOENT;
}

bool blob_exists(const char *root, const char *id)
{
    char path[FSU_PATH_MAX];
    uint64_t size;
    return blob_path(path, sizeof path, root, id, BLOB_DATA) == 0 && fsu_size(path, &size) == 0;
}

int blob_meta_read(const char *root, const char *id, struct buf *out)
{
    char path[FSU_PATH_MAX];
    int rc = blob_path(path, sizeof path, root, id, BLOB_META);
    return rc < 0 ? rc : fsu_read(path, BLOB_META_MAX, out);
}

int blob_meta_append(const char *root, const char *id, const char *line, size_t len, bool sync)
{
    char path[FSU_PATH_MAX];
    int rc = blob_path(path, sizeof path, root, id, BLOB_META);
    if (rc < 0)
        return rc;
    if (len && line[len - 1] == '\n')
        return fsu_append(path, line, len, sync);
    /* One write, so the line and its newline land together. */
    struct buf b = BUF_INIT;
    buf_append(&b, line, len);
    buf_appendc(&b, '\n');
    rc = fsu_append(path, b.data, b.len, sync);
    buf_free(&b);
    return rc;
}

int blob_activity_touch(const char *root, const char *id, long long now_ms)
{
    char path[FSU_PATH_MAX];
    if (!blob_exists(root, id))
        return BP_ENOENT;
    int rc = blob_path(path, sizeof path, root, id, BLOB_ACTIVITY);
    if (rc < 0)
        return rc;
    /* A download is three GETs, and eviction counts in days: one write a
     * minute per blob is plenty. */
    long long prev;
    if (fsu_mtime_ms(path, &prev) == 0 && prev <= now_ms && now_ms - prev < BLOB_ACTIVITY_MIN_MS)
        return 0;
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", now_ms);
    return fsu_write_atomic(path, text, (size_t)n, false);
}

int blob_stage_size(const char *root, const char *sk, uint64_t *size)
{
    char path[FSU_PATH_MAX];
    int rc = blob_stage_path(path, sizeof path, root, sk, false);
    return rc < 0 ? rc : fsu_size(path, size);
}

int blob_stage_append(const char *root, const char *sk, const void *data, size_t len, bool sync)
{
    char path[FSU_PATH_MAX];
    int rc = blob_stage_path(path, sizeof path, root, sk, false);
    return rc < 0 ? rc : fsu_append(path, data, len, sync);
}

int blob_stage_cancel(const char *root, const char *sk)
{
    char path[FSU_PATH_MAX];
    int rc = blob_stage_path(path, sizeof path, root, sk, false);
    return rc < 0 ? rc : fsu_unlink(path);
}

/* rename() that fails with BP_EEXIST instead of replacing to. */
static int move_noreplace(const char *from, const char *to)
{
    int rc = fsu_mkdirs_for(to);
    if (rc < 0)
        return rc;
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return bp_err_from_errno(errno);
    /* No RENAME_NOREPLACE here: all callers run on the loop thread, so the
     * check and the rename cannot interleave with another commit. */
    if (fsu_exists(to))
        return BP_EEXIST;
    return fsu_move(from, to);
}

int blob_commit(const char *root, const char *sk, const char *id, const char *owner, bool sync)
{
    char stage[FSU_PATH_MAX], dst[FSU_PATH_MAX], meta[FSU_PATH_MAX], cookie[FSU_PATH_MAX];
    int rc;
    if ((rc = blob_stage_path(stage, sizeof stage, root, sk, false)) < 0 ||
        (rc = blob_stage_path(cookie, sizeof cookie, root, sk, true)) < 0 ||
        (rc = blob_path(dst, sizeof dst, root, id, BLOB_DATA)) < 0 ||
        (rc = blob_path(meta, sizeof meta, root, id, BLOB_META)) < 0)
        return rc;
    if (owner) {
        /* it goes into JSON unescaped: base64 characters only */
        if (strlen(owner) != BLOB_SAFE_KEY_LEN)
            return BP_EINVAL;
        for (const char *q = owner; *q; q++)
            if (!b64_char(*q) && *q != '/')
                return BP_EINVAL;
    }
    if (fsu_exists(dst))
        return BP_EEXIST;
    uint64_t staged;
    if ((rc = fsu_size(stage, &staged)) < 0)
        return rc;
    if (sync) {
        /* The bytes were appended without fsync; make them durable before
         * the rename makes them visible as a finished blob. */
        int fd = open(stage, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return bp_err_from_errno(errno);
        int e = fsync(fd) < 0 ? errno : 0;
        close(fd);
        if (e)
            return bp_err_from_errno(e);
    }
    /* A metadata log without a blob is left over (a crash, old bugs): it must
     * not hand its owners to the new blob. */
    if (owner) {
        char line[80];
        int n = snprintf(line, sizeof line, "{\"owners\":[\"%s\"]}\n", owner);
        if ((rc = fsu_write_atomic(meta, line, (size_t)n, sync)) < 0)
            return rc;
    } else if (fsu_unlink(meta) == 0) {
        /* removed a stray log */
    }
    rc = move_noreplace(stage, dst);
    if (rc < 0) {
        if (owner)
            fsu_unlink(meta);
        return rc;
    }
    fsu_unlink(cookie);
    return 0;
}

int blob_cookie_new(const char *root, const char *sk, char out[BLOB_COOKIE_LEN + 1])
{
    char path[FSU_PATH_MAX];
    int rc = blob_stage_path(path, sizeof path, root, sk, true);
    if (rc < 0)
        return rc;
    uint8_t raw[BLOB_COOKIE_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, BLOB_COOKIE_LEN + 1, raw, sizeof raw);
    rc = fsu_write_atomic(path, out, BLOB_COOKIE_LEN, false);
    if (rc < 0)
        out[0] = '\0';
    return rc;
}

int blob_cookie_check(const char *root, const char *sk, const char *cookie, size_t len, long long now_ms)
{
    char path[FSU_PATH_MAX];
    if (blob_stage_path(path, sizeof path, root, sk, true) < 0)
        return BP_EFORBIDDEN;
    struct buf stored = BUF_INIT;
    long long mtime;
    int rc = BP_EFORBIDDEN;
    if (fsu_read(path, 256, &stored) == 0 && fsu_mtime_ms(path, &mtime) == 0 &&
        mtime >= now_ms - BLOB_COOKIE_TTL_MS && stored.len > 0 && stored.len == len &&
        sodium_memcmp(stored.data, cookie, len) == 0)
        rc = 0;
    buf_free(&stored);
    return rc;
}

/* Moves from -> to if from exists; if it does not, removes a stale to (an
 * archive must not combine a new blob with an older archive's metadata). */
static int move_or_clear(const char *from, const char *to)
{
    int rc = fsu_move(from, to);
    if (rc == BP_ENOENT) {
        if (!fsu_exists(from))
            fsu_unlink(to);
        return 0;
    }
    return rc;
}

int blob_archive(const char *root, const char *id, const char *reason)
{
    char from[FSU_PATH_MAX], to[FSU_PATH_MAX];
    int rc;
    if ((rc = blob_path(from, sizeof from, root, id, BLOB_DATA)) < 0 ||
        (rc = blob_archive_path(to, sizeof to, root, id, BLOB_DATA)) < 0)
        return rc;
    uint64_t size;
    if ((rc = fsu_size(from, &size)) < 0)
        return rc;
    if ((rc = fsu_move(from, to)) < 0)
        return rc;
    static const enum blob_file extra[] = {BLOB_META, BLOB_ACTIVITY};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        if (blob_path(from, sizeof from, root, id, extra[i]) < 0 ||
            blob_archive_path(to, sizeof to, root, id, extra[i]) < 0)
            continue;
        /* The blob itself is archived: a metadata move that fails leaves a
         * lone log that the next commit of this id clears. */
        move_or_clear(from, to);
    }
    if (reason && *reason) {
        if ((rc = blob_path(to, sizeof to, root, id, BLOB_PLACEHOLDER)) < 0)
            return rc;
        rc = fsu_write_atomic(to, reason, strlen(reason), false);
    }
    return rc;
}

int blob_restore(const char *root, const char *id)
{
    char from[FSU_PATH_MAX], to[FSU_PATH_MAX];
    int rc;
    if ((rc = blob_archive_path(from, sizeof from, root, id, BLOB_DATA)) < 0 ||
        (rc = blob_path(to, sizeof to, root, id, BLOB_DATA)) < 0)
        return rc;
    if (fsu_exists(to))
        return BP_EEXIST;
    uint64_t size;
    if ((rc = fsu_size(from, &size)) < 0)
        return rc;
    if ((rc = move_noreplace(from, to)) < 0)
        return rc;
    static const enum blob_file extra[] = {BLOB_META, BLOB_ACTIVITY};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        if (blob_archive_path(from, sizeof from, root, id, extra[i]) < 0 ||
            blob_path(to, sizeof to, root, id, extra[i]) < 0)
            continue;
        move_or_clear(from, to);
    }
    if (blob_path(to, sizeof to, root, id, BLOB_PLACEHOLDER) == 0)
        fsu_unlink(to);
    return 0;
}

/* ---- abandoned stages ------------------------------------------------------------- */

struct stale_walk {
    long long before_ms;
    size_t max, found;
    bool more;
    struct buf *out;
};

/* Whether name[0..len) is a stage ("<sk>") or cookie ("<sk>.cookie") file
 * name; anything else (temporary files, strays) is left alone. */
static bool stage_name_valid(const char *name, size_t len, bool *cookie)
{
    *cookie = len == BLOB_SAFE_KEY_LEN + 7 && memcmp(name + BLOB_SAFE_KEY_LEN, ".cookie", 7) == 0;
    return blob_safe_key_valid(name, *cookie ? BLOB_SAFE_KEY_LEN : len);
}

static void stale_entry(void *ud, int shard_fd, const char *name)
{
    struct stale_walk *w = ud;
    size_t len = strlen(name);
    bool cookie;
    struct stat st;
    if (w->more || !stage_name_valid(name, len, &cookie) ||
        fstatat(shard_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        fsu_ts_ms(&st.st_mtim) >= w->before_ms)
        return;
    if (w->found == w->max) {
        w->more = true;
        return;
    }
    buf_append(w->out, name, len);
    buf_appendc(w->out, '\n');
    w->found++;
}

int blob_stage_stale(const char *root, long long before_ms, size_t max, struct buf *out, bool *more)
{
    char dir[FSU_PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%s/blobstage", root);
    *more = false;
    if (n < 0 || (size_t)n >= sizeof dir)
        return BP_ETOOBIG;
    struct stale_walk w = {.before_ms = before_ms, .max = max, .out = out};
    int rc = fsu_walk_shards(dir, stale_entry, &w);
    *more = w.more;
    return rc == BP_ENOENT ? 0 : rc;
}

int blob_stage_sweep(const char *root, const char *name, size_t len, long long before_ms)
{
    bool cookie;
    char sk[BLOB_SAFE_KEY_LEN + 1], path[FSU_PATH_MAX];
    long long mtime;
    if (!stage_name_valid(name, len, &cookie))
        return BP_EBADID;
    memcpy(sk, name, BLOB_SAFE_KEY_LEN);
    sk[BLOB_SAFE_KEY_LEN] = '\0';
    int rc = blob_stage_path(path, sizeof path, root, sk, cookie);
    if (rc == 0)
        rc = fsu_mtime_ms(path, &mtime);
    if (rc == 0 && mtime >= before_ms)
        return 0; /* written since the walk */
    if (rc == 0)
        rc = fsu_unlink(path);
    return rc == 0 ? 1 : rc == BP_ENOENT ? 0 : rc;
}
