/* store.c: append-only channel logs in CryptPad's file layout.
 *
 * FILE FORMAT (ID.ndjson). UTF-8 text, one JSON value per line, each line
 * terminated by '\n'. A message line is
 *
 *     [0,"<sender netflux id>"|null,"MSG","<ID>","<content>",<timeMs>]\n
 *
 * serialised like JavaScript's JSON.stringify. The first line of an old log
 * may be a metadata object {...} ("legacy metadata"): it is not a message.
 *
 * VALIDITY AND RECOVERY. A line is complete when its '\n' is on disk. Appends
 * write a whole line with one write(2) on an O_APPEND descriptor; if the write
 * is short or fails, the file is truncated back to its previous size so a
 * failed append leaves nothing behind. A crash (kill -9, power loss) can
 * still leave a torn last line without '\n': store_chan_open() finds it and
 * cuts the file back to just after the last '\n' before anything else is
 * appended. A complete line that does not parse is kept on disk but never
 * sent to a client (the reference skips such lines too).
 *
 * INDEX. Each cached channel keeps, built by one scan of its log:
 *   - size and line count;
 *   - checkpoints (offset, line number) from the oldest "retained" one on
 *     (NETFLUX.md §3.4: the last two plus any in the last 100 lines); older
 *     ones can never become retained again because appends only move the
 *     window forward;
 *   - a hash table from a keyed 64-bit digest of each message's hash (its
 *     first 64 characters) to the line's offset, for the messages at or after
 *     the oldest retained checkpoint (all of them when there are fewer than
 *     two). Digests can collide, so a hit is confirmed by reading the line.
 * 16 bytes per indexed message; checkpoints move the window so in a pad only
 * the last hundred or so messages are indexed.
 *
 * DURABILITY. See enum store_fsync and docs/STORAGE.md. Directories created
 * for new files are fsynced in the same batch as the files.
 */
#include "storage/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <uthash.h>
#include <utlist.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/msg.h"
#include "protocol/rawjson.h"

#define RETAIN_LINES 100 /* checkpoints within this many last lines are retained */

struct ht_entry {
    uint64_t fp;  /* keyed digest of the message hash; 0 = empty slot */
    uint64_t off; /* offset of the line */
};

struct store_chan {
    char id[50];             /* the channel id (NUL-terminated) */
    unsigned refs;           /* references handed out by store_chan_open() */
    bool detached;           /* archived while referenced: out of the table, freed on last release */
    int fd;                  /* O_RDWR|O_APPEND log descriptor, or -1 */
    bool exists;             /* the log file exists */
    bool dirty;              /* written since the last sync batch */
    uint64_t size;           /* bytes of complete lines */
    uint64_t lines;          /* number of complete lines */
    json_t *legacy;          /* legacy metadata first line, or NULL (owned) */
    uint64_t legacy_end;     /* offset after the legacy line, 0 if none */
    struct { uint64_t off, line; } *cps; /* checkpoints, oldest first (from xmalloc) */
    size_t ncp, cpcap;
    struct ht_entry *ht;     /* open-addressing table, power-of-two size (from xcalloc) */
    size_t htcap, htlen;
    uint64_t ht_floor;       /* entries below this offset are stale */
    uint64_t *bad;           /* offsets of lines that do not parse, ascending */
    size_t nbad, badcap;
    UT_hash_handle hh;       /* store->chans by id */
    struct store_chan *lru_prev, *lru_next; /* store->lru, least recently used first */
    struct store_chan *dirty_next;          /* store->dirty list */
};

struct store {
    char *root;              /* root directory */
    char *datastore;         /* <root>/datastore */
    char *archive;           /* <root>/data/archive/datastore */
    struct store_config cfg;
    struct store_io io;
    struct store_chan *chans;   /* uthash by id */
    struct store_chan *lru;     /* utlist, doubly linked, oldest first */
    struct store_chan *dirty;   /* singly linked */
    char **dirty_dirs;          /* directories created since the last batch */
    size_t ndirty_dirs;
    unsigned nchans, open_files;
    uint8_t fp_key[crypto_shorthash_KEYBYTES];
    struct store_health health;
};

struct store_sync {
    int (*fsync)(int fd); /* the store's io.fsync (fault injection reaches batches too) */
    int *fds;    /* dup()ed descriptors to fsync, closed by the batch */
    size_t n;
    int err;     /* first error (bp_err), set by store_sync_run */
    int err_errno;
};

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static ssize_t real_write(int fd, const void *b, size_t n) { return write(fd, b, n); }
static int real_fsync(int fd) { return fsync(fd); }
static int real_ftruncate(int fd, off_t len) { return ftruncate(fd, len); }
static int real_open(const char *p, int flags, mode_t mode) { return open(p, flags, mode); }

static void mark_failed(struct store *s, int err, const char *what, const char *path)
{
    if (s->health.writable) {
        s->health.writable = false;
        s->health.since_ms = now_ms();
        LOG_ERROR("STORE NOT WRITABLE: %s %s failed: %s; writes are refused until the disk "
                  "recovers, reads go on", what, path, bp_strerror(err));
    } else {
        LOG_WARN("store: %s %s failed: %s", what, path, bp_strerror(err));
    }
    s->health.last_error = err;
}

static void mark_ok(struct store *s)
{
    if (!s->health.writable) {
        s->health.writable = true;
        s->health.since_ms = now_ms();
        LOG_WARN("store: writable again");
    }
}

bool store_id_valid(const char *id, size_t len)
{
    if (len < 32 || len > 49)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '=' || c == '-'))
            return false;
    }
    return true;
}

/* mkdir -p, remembering newly created directories for the next sync batch. */
static int mkdirs(struct store *s, const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return BP_EINVAL;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(tmp, 0777) == 0) {
            char *parent = xstrdup(tmp);
            char *slash = strrchr(parent, '/');
            if (slash && slash != parent)
                *slash = '\0';
            s->dirty_dirs = xrealloc(s->dirty_dirs, (s->ndirty_dirs + 1) * sizeof *s->dirty_dirs);
            s->dirty_dirs[s->ndirty_dirs++] = parent;
        } else if (errno != EEXIST) {
            return bp_err_from_errno(errno);
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    return 0;
}

/* snprintf for paths; a path that does not fit is cut (ids are bounded, so
 * only an absurdly long --data root can get there, and open() then fails). */
static void pathf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* Writes all of p[0..len) to fd. Returns 0 or a bp_err; *done gets the bytes
 * written (so that a failed append can be cut back). A write that makes no
 * progress counts as a full disk. */
static int write_all(struct store *s, int fd, const char *p, size_t len, size_t *done)
{
    *done = 0;
    while (*done < len) {
        ssize_t w = s->io.write(fd, p + *done, len - *done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return bp_err_from_errno(w < 0 ? errno : ENOSPC);
        *done += (size_t)w;
    }
    return 0;
}

static void chan_path(const struct store *s, char *out, size_t cap, const char *id, const char *suffix)
{
    pathf(out, cap, "%s/%.2s/%s%s", s->datastore, id, id, suffix);
}

int store_new(struct store **out, const struct store_config *cfg)
{
    struct store *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.max_open_files)
        s->cfg.max_open_files = 1024;
    if (!s->cfg.max_cached)
        s->cfg.max_cached = 4096;
    if (!s->cfg.max_line)
        s->cfg.max_line = (size_t)128 << 20;
    if (!s->cfg.max_meta_bytes)
        s->cfg.max_meta_bytes = (size_t)16 << 20;
    s->io.write = cfg->io && cfg->io->write ? cfg->io->write : real_write;
    s->io.fsync = cfg->io && cfg->io->fsync ? cfg->io->fsync : real_fsync;
    s->io.ftruncate = cfg->io && cfg->io->ftruncate ? cfg->io->ftruncate : real_ftruncate;
    s->io.open = cfg->io && cfg->io->open ? cfg->io->open : real_open;
    s->root = xstrdup(cfg->root);
    struct buf b = BUF_INIT;
    buf_appendf(&b, "%s/datastore", cfg->root);
    s->datastore = buf_steal(&b, NULL);
    buf_appendf(&b, "%s/data/archive/datastore", cfg->root);
    s->archive = buf_steal(&b, NULL);
    s->health.writable = true;
    s->health.since_ms = now_ms();
    crypto_shorthash_keygen(s->fp_key);
    int rc = mkdirs(s, s->datastore);
    if (rc < 0 && rc != BP_EROFS) {
        LOG_ERROR("store: cannot create %s: %s", s->datastore, bp_strerror(rc));
        store_free(s);
        *out = NULL;
        return rc;
    }
    if (rc < 0)
        mark_failed(s, rc, "mkdir", s->datastore);
    *out = s;
    return 0;
}

static void chan_close_fd(struct store *s, struct store_chan *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        s->open_files--;
    }
}

static void chan_free(struct store *s, struct store_chan *c)
{
    chan_close_fd(s, c);
    json_decref(c->legacy);
    free(c->cps);
    free(c->ht);
    free(c->bad);
    free(c);
}

void store_free(struct store *s)
{
    if (!s)
        return;
    struct store_chan *c, *tmp;
    HASH_ITER(hh, s->chans, c, tmp) {
        HASH_DEL(s->chans, c);
        chan_free(s, c);
    }
    for (size_t i = 0; i < s->ndirty_dirs; i++)
        free(s->dirty_dirs[i]);
    free(s->dirty_dirs);
    free(s->root);
    free(s->datastore);
    free(s->archive);
    free(s);
}

/* ---- index ---------------------------------------------------------- */

static uint64_t digest(const struct store *s, const char *hash, size_t n)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)hash, n, s->fp_key);
    uint64_t fp;
    memcpy(&fp, out, sizeof fp);
    return fp ? fp : 1;
}

static void ht_put(struct store_chan *c, uint64_t fp, uint64_t off)
{
    if ((c->htlen + 1) * 2 > c->htcap) {
        size_t ncap = c->htcap ? c->htcap * 2 : 64;
        struct ht_entry *nt = xcalloc(ncap, sizeof *nt);
        size_t nlen = 0;
        for (size_t i = 0; i < c->htcap; i++) {
            struct ht_entry e = c->ht[i];
            if (!e.fp || e.off < c->ht_floor)
                continue;
            size_t j = e.fp & (ncap - 1);
            while (nt[j].fp)
                j = (j + 1) & (ncap - 1);
            nt[j] = e;
            nlen++;
        }
        free(c->ht);
        c->ht = nt;
        c->htcap = ncap;
        c->htlen = nlen;
    }
    size_t j = fp & (c->htcap - 1);
    while (c->ht[j].fp)
        j = (j + 1) & (c->htcap - 1);
    c->ht[j].fp = fp;
    c->ht[j].off = off;
    c->htlen++;
}

/* The oldest retained checkpoint: returns the number of retained checkpoints
 * and sets *first to the index in c->cps of the oldest one. */
static size_t retained(const struct store_chan *c, size_t *first)
{
    size_t i = c->ncp;
    while (i > 0 && (c->ncp - i < 2 || c->cps[i - 1].line + RETAIN_LINES > c->lines))
        i--;
    /* cps[i..] are retained: the last two, and those whose line > lines - 100. */
    *first = i;
    return c->ncp - i;
}

/* Drops checkpoints and index entries that can no longer be retained. */
static void prune(struct store_chan *c)
{
    size_t first;
    if (retained(c, &first) < 2)
        return;
    if (first > 0) {
        memmove(c->cps, c->cps + first, (c->ncp - first) * sizeof *c->cps);
        c->ncp -= first;
    }
    uint64_t floor = c->cps[0].off;
    if (floor <= c->ht_floor)
        return;
    c->ht_floor = floor;
    /* Rebuild when at least half of the table may be stale (amortised O(1)). */
    size_t live = 0;
    for (size_t i = 0; i < c->htcap; i++)
        if (c->ht[i].fp && c->ht[i].off >= floor)
            live++;
    if (live * 2 > c->htlen)
        return;
    struct ht_entry *old = c->ht;
    size_t oldcap = c->htcap;
    c->ht = NULL;
    c->htcap = c->htlen = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].fp && old[i].off >= floor)
            ht_put(c, old[i].fp, old[i].off);
    free(old);
}

static void index_message(struct store *s, struct store_chan *c, uint64_t off, const char *content,
                          size_t clen)
{
    size_t pre, idl;
    const char *id;
    if (msg_checkpoint(content, clen, &pre, &id, &idl)) {
        if (c->ncp == c->cpcap) {
            c->cpcap = c->cpcap ? c->cpcap * 2 : 8;
            c->cps = xrealloc(c->cps, c->cpcap * sizeof *c->cps);
        }
        c->cps[c->ncp].off = off;
        c->cps[c->ncp].line = c->lines; /* 1-based: lines already counts this one */
        c->ncp++;
    }
    ht_put(c, digest(s, content, msg_hash_len(content, clen)), off);
}

/* Parses one stored line; returns the content string (borrowed from *root,
 * which the caller decrefs) or NULL. *is_obj is set for an object line. */
static const char *line_content(const char *line, size_t len, json_t **root, size_t *clen, bool *is_obj)
{
    *is_obj = false;
    *root = rawjson_load(line, len);
    if (!*root)
        return NULL;
    if (json_is_object(*root)) {
        *is_obj = true;
        return NULL;
    }
    json_t *content = json_array_get(*root, 4);
    if (!json_is_string(content))
        return NULL;
    *clen = json_string_length(content);
    return json_string_value(content);
}

static void add_bad(struct store_chan *c, uint64_t off)
{
    if (c->nbad == c->badcap) {
        c->badcap = c->badcap ? c->badcap * 2 : 4;
        c->bad = xrealloc(c->bad, c->badcap * sizeof *c->bad);
    }
    c->bad[c->nbad++] = off;
}

/* Reads the whole log once: recovers a torn tail and builds the index. */
static int chan_build(struct store *s, struct store_chan *c)
{
    struct stat st;
    if (fstat(c->fd, &st) != 0)
        return bp_err_from_errno(errno);
    uint64_t fsize = (uint64_t)st.st_size;
    c->size = fsize; /* provisional, for the iterator */
    struct store_iter it;
    store_iter_init(&it, s, c, 0);
    const char *line;
    size_t len;
    uint64_t off;
    int rc;
    c->size = 0;
    c->lines = 0;
    while ((rc = store_iter_next(&it, &line, &len, &off)) == 1) {
        c->lines++;
        c->size = off + len + 1;
        json_t *root;
        size_t clen = 0;
        bool is_obj;
        const char *content = line_content(line, len, &root, &clen, &is_obj);
        if (!root) {
            add_bad(c, off);
        } else if (is_obj) {
            if (c->lines == 1) {
                c->legacy = root;
                c->legacy_end = off + len + 1;
                root = NULL;
            } else {
                add_bad(c, off);
            }
        } else if (!json_is_array(root)) {
            add_bad(c, off);
        } else if (content) {
            index_message(s, c, off, content, clen);
            if ((c->lines & 1023) == 0)
                prune(c);
        }
        json_decref(root);
    }
    store_iter_done(&it);
    if (rc < 0)
        return rc;
    prune(c);
    if (c->size < fsize) {
        /* A torn last line (no '\n'): a write that a crash interrupted. */
        char path[4096];
        chan_path(s, path, sizeof path, c->id, ".ndjson");
        LOG_WARN("store: %s: cutting a torn last line (%llu bytes)", path,
                 (unsigned long long)(fsize - c->size));
        if (s->io.ftruncate(c->fd, (off_t)c->size) != 0) {
            int err = bp_err_from_errno(errno);
            mark_failed(s, err, "truncate", path);
            return err;
        }
    }
    return 0;
}

static void lru_touch(struct store *s, struct store_chan *c)
{
    DL_DELETE2(s->lru, c, lru_prev, lru_next);
    DL_APPEND2(s->lru, c, lru_prev, lru_next);
}

/* Keeps open descriptors and cached channels within bounds. */
static void enforce_limits(struct store *s, struct store_chan *keep)
{
    struct store_chan *c, *tmp;
    DL_FOREACH_SAFE2(s->lru, c, tmp, lru_next) {
        if (s->open_files <= s->cfg.max_open_files && s->nchans <= s->cfg.max_cached)
            break;
        if (c == keep)
            continue;
        if (s->open_files > s->cfg.max_open_files && !c->dirty)
            chan_close_fd(s, c);
        if (s->nchans > s->cfg.max_cached && c->refs == 0 && !c->dirty) {
            HASH_DEL(s->chans, c);
            DL_DELETE2(s->lru, c, lru_prev, lru_next);
            s->nchans--;
            chan_free(s, c);
        }
    }
}

/* Makes sure c->fd is open (it may have been closed to bound descriptors). */
static int chan_fd(struct store *s, struct store_chan *c, bool create)
{
    if (c->fd >= 0)
        return 0;
    if (c->detached)
        return BP_ENOENT; /* its path may name another file now (archive, rewrite) */
    char path[4096];
    chan_path(s, path, sizeof path, c->id, ".ndjson");
    int flags = O_RDWR | O_APPEND | O_CLOEXEC;
    int fd = s->io.open(path, flags, 0666);
    if (fd < 0 && (errno == EROFS || errno == EACCES))
        fd = open(path, O_RDONLY | O_CLOEXEC); /* reads go on on a read-only disk */
    if (fd < 0 && errno == ENOENT && create) {
        char dir[4096];
        pathf(dir, sizeof dir, "%s/%.2s", s->datastore, c->id);
        int rc = mkdirs(s, dir);
        if (rc < 0)
            return rc;
        fd = s->io.open(path, flags | O_CREAT, 0666);
        if (fd >= 0) {
            s->dirty_dirs = xrealloc(s->dirty_dirs, (s->ndirty_dirs + 1) * sizeof *s->dirty_dirs);
            s->dirty_dirs[s->ndirty_dirs++] = xstrdup(dir);
        }
    }
    if (fd < 0)
        return bp_err_from_errno(errno);
    c->fd = fd;
    c->exists = true;
    s->open_files++;
    enforce_limits(s, c);
    return 0;
}

int store_chan_open(struct store *s, const char *id, struct store_chan **out)
{
    *out = NULL;
    size_t n = strlen(id);
    if (!store_id_valid(id, n))
        return BP_EBADID;
    struct store_chan *c;
    HASH_FIND(hh, s->chans, id, n, c);
    if (c) {
        c->refs++;
        lru_touch(s, c);
        *out = c;
        return 0;
    }
    c = xcalloc(1, sizeof *c);
    memcpy(c->id, id, n + 1);
    c->fd = -1;
    int rc = chan_fd(s, c, false);
    if (rc == BP_ENOENT) {
        rc = 0; /* no log yet: an empty channel */
    } else if (rc == 0) {
        rc = chan_build(s, c);
    }
    if (rc < 0) {
        chan_free(s, c);
        return rc;
    }
    c->refs = 1;
    HASH_ADD(hh, s->chans, id, n, c);
    DL_APPEND2(s->lru, c, lru_prev, lru_next);
    s->nchans++;
    enforce_limits(s, c);
    *out = c;
    return 0;
}

void store_chan_release(struct store *s, struct store_chan *c)
{
    if (!c)
        return;
    c->refs--;
    if (c->detached) {
        if (!c->refs)
            chan_free(s, c);
        return;
    }
    enforce_limits(s, NULL);
}

/* Takes c out of the cache (its file is going away): freed now if nobody
 * holds it, else on its last release (readers keep their descriptor). */
static void chan_detach(struct store *s, struct store_chan *c)
{
    /* Readers keep reading the file they started on: make sure they hold its
     * descriptor before its name goes away. */
    if (c->refs && c->fd < 0 && c->exists)
        (void)chan_fd(s, c, false);
    HASH_DEL(s->chans, c);
    DL_DELETE2(s->lru, c, lru_prev, lru_next);
    if (c->dirty) {
        struct store_chan **pp = &s->dirty;
        while (*pp && *pp != c)
            pp = &(*pp)->dirty_next;
        if (*pp)
            *pp = c->dirty_next;
        c->dirty = false;
    }
    s->nchans--;
    if (c->refs)
        c->detached = true;
    else
        chan_free(s, c);
}

int store_clear(struct store *s, struct store_chan *c)
{
    if (!c->exists)
        return 0;
    int rc = chan_fd(s, c, false);
    uint64_t keep = c->legacy_end;
    if (rc == 0 && s->io.ftruncate(c->fd, (off_t)keep) != 0)
        rc = bp_err_from_errno(errno);
    if (rc < 0) {
        char path[4096];
        chan_path(s, path, sizeof path, c->id, ".ndjson");
        mark_failed(s, rc, "truncate", path);
        return rc;
    }
    c->size = keep;
    c->lines = keep ? 1 : 0;
    c->ncp = 0;
    free(c->ht);
    c->ht = NULL;
    c->htcap = c->htlen = 0;
    c->ht_floor = 0;
    c->nbad = 0;
    char path[4096];
    chan_path(s, path, sizeof path, c->id, ".ndjson.offset");
    unlink(path);
    if (s->cfg.fsync != STORE_FSYNC_NONE && !c->dirty) {
        c->dirty = true;
        c->dirty_next = s->dirty;
        s->dirty = c;
    }
    return 0;
}

const char *store_chan_id(const struct store_chan *c) { return c->id; }
bool store_chan_exists(const struct store_chan *c) { return c->exists; }
uint64_t store_chan_size(const struct store_chan *c) { return c->size; }
uint64_t store_chan_lines(const struct store_chan *c) { return c->lines; }
const json_t *store_chan_legacy_meta(const struct store_chan *c) { return c->legacy; }
uint64_t store_chan_legacy_end(const struct store_chan *c) { return c->legacy_end; }

bool store_chan_line_bad(const struct store_chan *c, uint64_t off)
{
    size_t lo = 0, hi = c->nbad;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->bad[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nbad && c->bad[lo] == off;
}

int store_append(struct store *s, struct store_chan *c, const char *line, size_t len,
                 const char *content, size_t clen)
{
    char path[4096];
    int rc = chan_fd(s, c, true);
    if (rc < 0) {
        chan_path(s, path, sizeof path, c->id, ".ndjson");
        s->health.write_errors++;
        mark_failed(s, rc, "open", path);
        return rc;
    }
    size_t done;
    rc = write_all(s, c->fd, line, len, &done);
    if (rc == 0 && s->cfg.fsync == STORE_FSYNC_ALWAYS && s->io.fsync(c->fd) != 0) {
        rc = bp_err_from_errno(errno);
        s->health.fsync_errors++;
    }
    if (rc < 0) {
        chan_path(s, path, sizeof path, c->id, ".ndjson");
        s->health.write_errors++;
        mark_failed(s, rc, "append to", path);
        if (done > 0 && s->io.ftruncate(c->fd, (off_t)c->size) != 0)
            LOG_ERROR("store: %s: cannot cut a failed append back (%s); the torn line will be cut "
                      "when the log is next opened", path, strerror(errno));
        return rc;
    }
    uint64_t off = c->size;
    c->size += len;
    c->lines++;
    index_message(s, c, off, content, clen);
    if (content && clen >= 3 && content[0] == 'c')
        prune(c);
    if (s->cfg.fsync == STORE_FSYNC_GROUP && !c->dirty) {
        c->dirty = true;
        c->dirty_next = s->dirty;
        s->dirty = c;
    }
    mark_ok(s);
    return 0;
}

/* Reads the line at off and checks that its message hash is hash. */
static bool line_has_hash(struct store *s, struct store_chan *c, uint64_t off, const char *hash,
                          size_t hlen)
{
    struct store_iter it;
    store_iter_init(&it, s, c, off);
    const char *line;
    size_t len;
    uint64_t loff;
    bool ok = false;
    if (store_iter_next(&it, &line, &len, &loff) == 1) {
        json_t *root;
        size_t clen = 0;
        bool is_obj;
        const char *content = line_content(line, len, &root, &clen, &is_obj);
        if (content) {
            size_t n = msg_hash_len(content, clen);
            ok = n == hlen && memcmp(content, hash, n) == 0;
        }
        json_decref(root);
    }
    store_iter_done(&it);
    return ok;
}

int store_history_start(struct store *s, struct store_chan *c, const char *lkh, size_t lkh_len,
                        uint64_t *off)
{
    size_t first;
    size_t nr = retained(c, &first);
    uint64_t floor = nr >= 2 ? c->cps[first].off : 0;
    if (!lkh) {
        *off = floor;
        return 0;
    }
    if (!c->htcap)
        return BP_ENOENT;
    uint64_t fp = digest(s, lkh, lkh_len);
    /* Confirm candidates; with duplicate hashes the latest occurrence wins, as
     * in the reference's index rebuilt from disk. */
    uint64_t best = 0;
    bool found = false;
    for (size_t j = fp & (c->htcap - 1); c->ht[j].fp; j = (j + 1) & (c->htcap - 1)) {
        uint64_t o = c->ht[j].off;
        if (c->ht[j].fp != fp || o < floor || (found && o <= best))
            continue;
        if (line_has_hash(s, c, o, lkh, lkh_len)) {
            best = o;
            found = true;
        }
    }
    if (!found)
        return BP_ENOENT;
    *off = best;
    return 0;
}

/* ---- reading --------------------------------------------------------- */

void store_iter_init(struct store_iter *it, struct store *s, struct store_chan *c, uint64_t from)
{
    memset(it, 0, sizeof *it);
    it->s = s;
    it->c = c;
    it->pos = from;
    it->end = c->size;
}

int store_iter_next(struct store_iter *it, const char **line, size_t *len, uint64_t *off)
{
    for (;;) {
        char *base = it->buf.data ? it->buf.data + it->start : NULL;
        size_t avail = it->buf.len - it->start;
        char *nl = avail ? memchr(base, '\n', avail) : NULL;
        if (nl) {
            *line = base;
            *len = (size_t)(nl - base);
            *off = it->pos;
            it->pos += *len + 1;
            it->start += *len + 1;
            return 1;
        }
        uint64_t file_pos = it->pos + avail; /* offset of the next byte to read */
        if (file_pos >= it->end)
            return 0; /* the rest (if any) is a torn line: ignored */
        if (avail > it->s->cfg.max_line) {
            LOG_WARN("store: %s: a line is longer than %zu bytes; stopping there", it->c->id,
                     it->s->cfg.max_line);
            return BP_ETOOBIG;
        }
        /* Compact, then read the next chunk. */
        if (it->start) {
            memmove(it->buf.data, base, avail);
            it->buf.len = avail;
            it->start = 0;
        }
        size_t want = 256 * 1024;
        if (want > it->end - file_pos)
            want = (size_t)(it->end - file_pos);
        buf_reserve(&it->buf, want);
        int rc = 0;
        if (it->c->fd < 0 && (rc = chan_fd(it->s, it->c, false)) < 0)
            return rc;
        ssize_t r = pread(it->c->fd, it->buf.data + it->buf.len, want, (off_t)file_pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bp_err_from_errno(errno);
        if (r == 0)
            return 0;
        it->buf.len += (size_t)r;
    }
}

void store_iter_done(struct store_iter *it)
{
    buf_free(&it->buf);
}

/* ---- metadata, placeholders, archive ------------------------------- */

static int read_file(const char *path, size_t max, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bp_err_from_errno(errno);
    int rc = 0;
    for (;;) {
        buf_reserve(out, 64 * 1024);
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = bp_err_from_errno(errno);
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        out->data[out->len] = '\0';
        if (out->len > max) {
            rc = BP_ETOOBIG;
            break;
        }
    }
    close(fd);
    return rc;
}

int store_sizes(struct store *s, const char *id, uint64_t *log_size, uint64_t *meta_size)
{
    char path[4096];
    struct stat st;
    *log_size = *meta_size = 0;
    chan_path(s, path, sizeof path, id, ".ndjson");
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        *log_size = (uint64_t)st.st_size;
    chan_path(s, path, sizeof path, id, ".metadata.ndjson");
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        *meta_size = (uint64_t)st.st_size;
    return 0;
}

int store_meta_read(struct store *s, const char *id, struct buf *out)
{
    if (!store_id_valid(id, strlen(id)))
        return BP_EBADID;
    char path[4096];
    chan_path(s, path, sizeof path, id, ".metadata.ndjson");
    return read_file(path, s->cfg.max_meta_bytes, out);
}

int store_meta_append(struct store *s, const char *id, const char *line, size_t len)
{
    if (!store_id_valid(id, strlen(id)))
        return BP_EBADID;
    char dir[4096], path[4096];
    pathf(dir, sizeof dir, "%s/%.2s", s->datastore, id);
    chan_path(s, path, sizeof path, id, ".metadata.ndjson");
    int rc = mkdirs(s, dir);
    int fd = rc < 0 ? -1 : s->io.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = rc < 0 ? rc : bp_err_from_errno(errno);
        s->health.write_errors++;
        mark_failed(s, rc, "open", path);
        return rc;
    }
    struct stat st;
    off_t before = fstat(fd, &st) == 0 ? st.st_size : -1;
    size_t done;
    rc = write_all(s, fd, line, len, &done);
    /* Metadata decides who may write: it is always fsynced before it is used
     * (unless fsync is off altogether), whatever the policy for messages. */
    if (rc == 0 && s->cfg.fsync != STORE_FSYNC_NONE && s->io.fsync(fd) != 0) {
        rc = bp_err_from_errno(errno);
        s->health.fsync_errors++;
    }
    if (rc < 0) {
        s->health.write_errors++;
        mark_failed(s, rc, "append to", path);
        if (done > 0 && before >= 0)
            (void)s->io.ftruncate(fd, before);
    } else {
        mark_ok(s);
    }
    close(fd);
    return rc;
}

int store_placeholder(struct store *s, const char *id, struct buf *reason)
{
    if (!store_id_valid(id, strlen(id)))
        return BP_EBADID;
    char path[4096];
    chan_path(s, path, sizeof path, id, ".ndjson.placeholder");
    return read_file(path, 64 * 1024, reason);
}

int store_archive(struct store *s, const char *id, const char *reason)
{
    size_t n = strlen(id);
    if (!store_id_valid(id, n))
        return BP_EBADID;
    struct store_chan *c;
    HASH_FIND(hh, s->chans, id, n, c);
    if (c)
        chan_detach(s, c);
    char adir[4096], from[4096], to[4096];
    pathf(adir, sizeof adir, "%s/%.2s", s->archive, id);
    int rc = mkdirs(s, adir);
    if (rc < 0)
        return rc;
    static const char *const suffixes[] = {".ndjson", ".metadata.ndjson"};
    int moved = 0;
    for (int i = 0; i < 2; i++) {
        chan_path(s, from, sizeof from, id, suffixes[i]);
        pathf(to, sizeof to, "%s/%s%s", adir, id, suffixes[i]);
        if (rename(from, to) == 0) {
            moved++;
        } else if (errno != ENOENT) {
            rc = bp_err_from_errno(errno);
            LOG_ERROR("store: archive %s: %s", from, strerror(errno));
            return rc;
        }
    }
    chan_path(s, from, sizeof from, id, ".ndjson.offset");
    unlink(from);
    if (!moved)
        return BP_ENOENT;
    if (reason) {
        chan_path(s, from, sizeof from, id, ".ndjson.placeholder");
        int fd = open(from, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd >= 0) {
            ssize_t w = write(fd, reason, strlen(reason));
            (void)w;
            close(fd);
        }
    }
    return 0;
}

int store_restore(struct store *s, const char *id)
{
    size_t n = strlen(id);
    if (!store_id_valid(id, n))
        return BP_EBADID;
    static const char *const suffixes[] = {".ndjson", ".metadata.ndjson"};
    char from[4096], to[4096], dir[4096];
    bool archived = false;
    for (int i = 0; i < 2; i++) {
        chan_path(s, to, sizeof to, id, suffixes[i]);
        if (access(to, F_OK) == 0)
            return BP_EEXIST;
        pathf(from, sizeof from, "%s/%.2s/%s%s", s->archive, id, id, suffixes[i]);
        archived |= access(from, F_OK) == 0;
    }
    if (!archived)
        return BP_ENOENT;
    pathf(dir, sizeof dir, "%s/%.2s", s->datastore, id);
    int rc = mkdirs(s, dir);
    if (rc < 0)
        return rc;
    /* A cached entry describes the channel as it was without its files. */
    struct store_chan *c;
    HASH_FIND(hh, s->chans, id, n, c);
    if (c)
        chan_detach(s, c);
    /* Metadata first: a crash in between leaves a channel with its metadata
     * and no messages yet, never messages without their validateKey. */
    for (int i = 1; i >= 0; i--) {
        pathf(from, sizeof from, "%s/%.2s/%s%s", s->archive, id, id, suffixes[i]);
        chan_path(s, to, sizeof to, id, suffixes[i]);
        if (rename(from, to) != 0 && errno != ENOENT) {
            rc = bp_err_from_errno(errno);
            LOG_ERROR("store: restore %s: %s", from, strerror(errno));
            return rc;
        }
    }
    chan_path(s, to, sizeof to, id, ".ndjson.placeholder");
    unlink(to);
    return 0;
}

/* ---- rewrites (trim, line deletion) ------------------------------------
 *
 * CRASH SAFETY. The live files are never written in place: every new
 * content goes to a temporary file that is fsynced and then renamed over the
 * live name, so each file is always either wholly old or wholly new. Order:
 *
 *   1. <id>.ndjson.temp   <- the kept lines; fsync.
 *   2. archive copies     <- the current log and metadata log, each written
 *                            to "<archive path>.tmp", fsynced, renamed.
 *   3. <id>.metadata.ndjson <- one line, the reduced metadata (temp + fsync
 *                            + rename).
 *   4. <id>.ndjson.temp -> <id>.ndjson (rename); fsync the directory.
 *
 * A crash before 3 leaves the live channel untouched (plus a stale .temp,
 * truncated by the next rewrite, and maybe a fresh archive copy). A crash
 * between 3 and 4 leaves the full log with a one-line metadata log whose
 * object is the reduction of the old one: the same metadata, and since it is
 * an object line it also supersedes a legacy first line of the log. The
 * metadata is replaced before the log for that reason: the other order could
 * lose a legacy channel's only metadata (its first log line) to a crash.
 * With --fsync none the fsyncs are skipped, as everywhere else. */

static int fsync_path_dir(struct store *s, const char *path)
{
    if (s->cfg.fsync == STORE_FSYNC_NONE)
        return 0;
    char dir[4096];
    pathf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return bp_err_from_errno(errno);
    int rc = s->io.fsync(fd) == 0 ? 0 : bp_err_from_errno(errno);
    close(fd);
    return rc;
}

/* Writes data to path through "<path>.tmp": fsync, rename. */
static int replace_file(struct store *s, const char *path, const char *data, size_t len)
{
    char tmp[4096];
    pathf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = s->io.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return bp_err_from_errno(errno);
    size_t done;
    int rc = write_all(s, fd, data, len, &done);
    if (rc == 0 && s->cfg.fsync != STORE_FSYNC_NONE && s->io.fsync(fd) != 0)
        rc = bp_err_from_errno(errno);
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = bp_err_from_errno(errno);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* Copies from to to (through "<to>.tmp"). 0 when from does not exist. */
static int copy_file(struct store *s, const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 0 : bp_err_from_errno(errno);
    char tmp[4096];
    pathf(tmp, sizeof tmp, "%s.tmp", to);
    int out = s->io.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (out < 0) {
        int rc = bp_err_from_errno(errno);
        close(in);
        return rc;
    }
    int rc = 0;
    char *buf = xmalloc(256 * 1024);
    for (;;) {
        ssize_t r = read(in, buf, 256 * 1024);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = bp_err_from_errno(errno);
            break;
        }
        if (r == 0)
            break;
        size_t done;
        if ((rc = write_all(s, out, buf, (size_t)r, &done)) < 0)
            break;
    }
    free(buf);
    close(in);
    if (rc == 0 && s->cfg.fsync != STORE_FSYNC_NONE && s->io.fsync(out) != 0)
        rc = bp_err_from_errno(errno);
    close(out);
    if (rc == 0 && rename(tmp, to) != 0)
        rc = bp_err_from_errno(errno);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* The message hash of a parsed line: true if it is hash[0..hlen). */
static bool content_has_hash(const char *content, size_t clen, const char *hash, size_t hlen)
{
    if (!content)
        return false;
    size_t n = msg_hash_len(content, clen);
    return n == hlen && memcmp(content, hash, n) == 0;
}

/* The common case without decoding the line: element 4 is a string with no
 * escape (base64 content), so its bytes are its value. Returns false when
 * the line needs a real parse; else *hit tells whether its hash is hash. */
static bool fast_hash(const char *line, size_t len, const char *hash, size_t hlen, bool *hit)
{
    struct rawjson_span el[6];
    int n = rawjson_array(line, len, el, 6);
    if (n < 5)
        return false;
    const char *v = line + el[4].off;
    size_t vl = el[4].len;
    if (vl < 2 || v[0] != '"' || memchr(v, '\\', vl))
        return false;
    *hit = content_has_hash(v + 1, vl - 2, hash, hlen);
    return true;
}

static int rewrite(struct store *s, const char *id, bool trim, const char *hash, size_t hlen,
                   store_line_check check, void *ud, const char *meta_json, size_t meta_len)
{
    if (!store_id_valid(id, strlen(id)))
        return BP_EBADID;
    struct store_chan *c;
    int rc = store_chan_open(s, id, &c);
    if (rc < 0)
        return rc;
    if (!c->exists) {
        store_chan_release(s, c);
        return BP_ENOENT;
    }
    char log[4096], temp[4096], meta[4096], alog[4096], ameta[4096], adir[4096];
    chan_path(s, log, sizeof log, id, ".ndjson");
    chan_path(s, temp, sizeof temp, id, ".ndjson.temp");
    chan_path(s, meta, sizeof meta, id, ".metadata.ndjson");
    pathf(adir, sizeof adir, "%s/%.2s", s->archive, id);
    pathf(alog, sizeof alog, "%s/%s.ndjson", adir, id);
    pathf(ameta, sizeof ameta, "%s/%s.metadata.ndjson", adir, id);
    const char *what = "write", *where = temp;
    int fd = s->io.open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = bp_err_from_errno(errno);
        goto fail;
    }
    /* 1. The kept lines. */
    struct store_iter it;
    store_iter_init(&it, s, c, 0);
    const char *line;
    size_t len;
    uint64_t off;
    bool found = false, refused = false;
    int wrc = 0;
    struct buf out = BUF_INIT;
    while (!refused && (rc = store_iter_next(&it, &line, &len, &off)) == 1) {
        bool keep;
        if (found) {
            keep = true; /* everything after the target, as it is */
        } else if (off == 0 && c->legacy) {
            keep = false;
        } else if (trim && fast_hash(line, len, hash, hlen, &keep)) {
            found = keep; /* lines before the target go whatever they hold */
        } else {
            json_t *root;
            size_t clen = 0;
            bool is_obj;
            const char *content = line_content(line, len, &root, &clen, &is_obj);
            bool hit = content_has_hash(content, clen, hash, hlen);
            if (trim) {
                keep = found = hit;
            } else if (hit) {
                refused = check && !check(ud, content, clen);
                found = !refused;
                keep = false;
            } else {
                keep = root != NULL; /* lines that do not parse are dropped */
            }
            json_decref(root);
        }
        if (keep) {
            buf_append(&out, line, len);
            buf_appendc(&out, '\n');
            if (out.len >= 256 * 1024) {
                size_t done;
                if ((wrc = write_all(s, fd, out.data, out.len, &done)) < 0)
                    break;
                buf_reset(&out);
            }
        }
    }
    store_iter_done(&it);
    bool read_err = rc < 0;
    if (wrc < 0)
        rc = wrc;
    else if (rc == 1)
        rc = 0; /* stopped at a refused line */
    if (rc == 0 && out.len) {
        size_t done;
        rc = write_all(s, fd, out.data, out.len, &done);
    }
    buf_free(&out);
    if (rc < 0 && read_err && wrc == 0) {
        close(fd);
        unlink(temp);
        LOG_WARN("store: rewriting %s: reading: %s", log, bp_strerror(rc));
        store_chan_release(s, c);
        return rc;
    } else if (rc < 0) {
        what = "write";
    } else if (!found) {
        rc = BP_ENOENT;
    } else if (s->cfg.fsync != STORE_FSYNC_NONE && s->io.fsync(fd) != 0) {
        rc = bp_err_from_errno(errno);
        what = "fsync";
    }
    close(fd);
    fd = -1;
    if (rc < 0)
        goto fail;
    /* 2. The archive copies (overwriting an older archive of this id). */
    what = "archive copy of";
    where = log;
    if ((rc = mkdirs(s, adir)) < 0 || (rc = copy_file(s, log, alog)) < 0)
        goto fail;
    where = meta;
    if ((rc = copy_file(s, meta, ameta)) < 0 || (rc = fsync_path_dir(s, alog)) < 0)
        goto fail;
    /* 3. The metadata log becomes one line. */
    what = "replace";
    char *ml = xmalloc(meta_len + 2);
    memcpy(ml, meta_json, meta_len);
    ml[meta_len] = '\n';
    rc = replace_file(s, meta, ml, meta_len + 1);
    free(ml);
    if (rc < 0)
        goto fail;
    /* 4. The log. Cached state describes the old file: readers that hold it
     * keep their descriptor; the next open indexes the new one. */
    chan_detach(s, c);
    what = "rename over";
    where = log;
    if (rename(temp, log) != 0) {
        rc = bp_err_from_errno(errno);
        goto fail;
    }
    if ((rc = fsync_path_dir(s, log)) < 0) {
        what = "fsync the directory of";
        goto fail;
    }
    char offp[4096];
    chan_path(s, offp, sizeof offp, id, ".ndjson.offset");
    unlink(offp);
    store_chan_release(s, c);
    mark_ok(s);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(temp);
    if (rc != BP_ENOENT) {
        s->health.write_errors++;
        mark_failed(s, rc, what, where);
    }
    store_chan_release(s, c);
    return rc;
}

int store_trim(struct store *s, const char *id, const char *hash, size_t hlen, const char *meta_json,
               size_t meta_len)
{
    return rewrite(s, id, true, hash, hlen, NULL, NULL, meta_json, meta_len);
}

int store_delete_line(struct store *s, const char *id, const char *hash, size_t hlen, store_line_check check,
                      void *ud, const char *meta_json, size_t meta_len)
{
    return rewrite(s, id, false, hash, hlen, check, ud, meta_json, meta_len);
}

/* ---- group commit --------------------------------------------------- */

struct store_sync *store_sync_begin(struct store *s)
{
    if (!s->dirty && !s->ndirty_dirs)
        return NULL;
    struct store_sync *b = xcalloc(1, sizeof *b);
    b->fsync = s->io.fsync;
    size_t cap = s->ndirty_dirs + 16;
    b->fds = xmalloc(cap * sizeof *b->fds);
    for (struct store_chan *c = s->dirty, *next; c; c = next) {
        next = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        if (c->fd < 0)
            continue;
        if (b->n == cap) {
            cap *= 2;
            b->fds = xrealloc(b->fds, cap * sizeof *b->fds);
        }
        int fd = dup(c->fd);
        if (fd >= 0)
            b->fds[b->n++] = fd;
    }
    s->dirty = NULL;
    for (size_t i = 0; i < s->ndirty_dirs; i++) {
        if (b->n == cap) {
            cap *= 2;
            b->fds = xrealloc(b->fds, cap * sizeof *b->fds);
        }
        int fd = open(s->dirty_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            b->fds[b->n++] = fd;
        free(s->dirty_dirs[i]);
    }
    s->ndirty_dirs = 0;
    if (s->cfg.fsync == STORE_FSYNC_NONE) {
        for (size_t i = 0; i < b->n; i++)
            close(b->fds[i]);
        b->n = 0;
    }
    return b;
}

/* Runs on a worker thread: only the batch is touched. */
void store_sync_run(struct store_sync *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->fsync(b->fds[i]) != 0 && !b->err) {
            b->err_errno = errno;
            b->err = bp_err_from_errno(errno);
        }
        close(b->fds[i]);
    }
    b->n = 0;
}

int store_sync_end(struct store *s, struct store_sync *b)
{
    int rc = b->err;
    if (rc < 0) {
        s->health.fsync_errors++;
        mark_failed(s, rc, "fsync in", s->datastore);
    }
    free(b->fds);
    free(b);
    return rc;
}

int store_probe(struct store *s)
{
    /* Probe where channels are written: the datastore directory itself. */
    char path[4096];
    pathf(path, sizeof path, "%s/.blindpad-probe", s->datastore);
    int rc = mkdirs(s, s->datastore);
    int fd = rc < 0 ? -1 : s->io.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return rc < 0 ? rc : bp_err_from_errno(errno);
    static const char probe[] = "probe\n";
    ssize_t w = s->io.write(fd, probe, sizeof probe - 1);
    if (w != (ssize_t)(sizeof probe - 1))
        rc = bp_err_from_errno(w < 0 ? errno : ENOSPC);
    else if (s->io.fsync(fd) != 0)
        rc = bp_err_from_errno(errno);
    close(fd);
    unlink(path);
    if (rc == 0)
        mark_ok(s);
    return rc;
}

void store_health(const struct store *s, struct store_health *h)
{
    *h = s->health;
    h->open_files = s->open_files;
    h->cached = s->nchans;
}

enum store_fsync store_fsync_mode(const struct store *s)
{
    return s->cfg.fsync;
}
