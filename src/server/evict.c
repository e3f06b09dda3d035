/* evict.c: eviction of inactive data (SERVER-API.md §4.12).
 *
 * One run, in steps. "T_x" is now minus x days.
 *   1. Purge: archived files (data/archive/{datastore,blob,pins}) whose ctime
 *      (the time they were moved there) is older than T_archive are deleted.
 *   2. Documents: every 32-hex channel in datastore/ (log and metadata log)
 *      and every 48-hex blob in blob/ (the blob, its .activity and metadata
 *      files) is recorded with its activity time, the newest mtime or atime
 *      of its files (reads count, as the reference's second check does).
 *   3. Accounts: every pin log is reduced (storage/pinlog.h). An account is
 *      active if its last pin-log time is newer than T_account (any time when
 *      account retention is 0 = unset), or if one of its pinned documents is
 *      active. Active accounts, every account when account retention is 0,
 *      and premium accounts (a limit entry) keep their pinned documents; the
 *      pin logs of the others are archived.
 *   4. Every document that is older than T_inactive and pinned by no kept
 *      account is archived with reason INACTIVE (hk_archive_channel,
 *      files_blob_archive), unless, checked again right before: the channel
 *      has members or queued writes now, its files changed since the scan,
 *      or it was pinned since the run started (pins_watch). The admin broadcast channel (33
 *      chars) and anything that is not a lowercase-hex id is never touched;
 *      login blocks are never evicted.
 *
 * Deviations from the reference: the "active" and "pinned" sets are exact
 * (a sorted array of binary ids with an activity time and flags, 32 bytes
 * per document, binary search) instead of two Bloom filters (2^24 entries,
 * 1e-4 false positives: a false positive there keeps a document forever,
 * here nothing is kept by chance); the activity time includes atime in the
 * first check (the reference looks at mtime first and then at the newest of
 * atime/ctime/mtime against the archive retention time, which we do not do:
 * ctime changes on any rename or chmod and cannot be set back); archived data
 * is purged by the same run (the reference has a separate manual script).
 *
 * Threads: the disk walks (steps 1-3) run on libuv's thread pool, a few shard
 * directories per job, so the loop is never blocked for long; the archive
 * moves of step 4 touch server state and run on the loop, 64 per slice, each
 * slice queued as an empty job so other events run in between. Between two
 * jobs the run checks srv->stopping and gives up if the server is stopping.
 * Only the job in flight touches the run's data; the loop reads it in the
 * after-work callback. */
#include "server/evict.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "server/files.h"
#include "server/pins.h"
#include "server/server.h"
#include "storage/fsutil.h"
#include "storage/pinlog.h"

#define DAY_MS 86400000LL
#define DIRS_PER_JOB 8
#define ACTIONS_PER_SLICE 64

enum ev_kind { K_CHAN = 0, K_BLOB = 1 };
enum { F_EXISTS = 1, F_PINNED = 2 };

/* One document: 32 bytes. */
struct ev_doc {
    uint8_t id[24];     /* binary id: 16 bytes for channels (zero padded), 24 for blobs */
    uint32_t t;         /* activity time, seconds since the epoch */
    uint8_t kind;
    uint8_t flags;
};

struct ev_acct {
    char safe[65];      /* safe key (file name without .ndjson) */
    struct timespec mtime;
    off_t size;
};

enum ev_step { S_PURGE, S_CHAN, S_BLOB, S_PINS, S_APPLY, S_DONE };

struct ev_dir {
    char *path;         /* from xmalloc */
    int kind;           /* purge: 0 datastore, 1 blob, 2 pins */
};

struct ev_run {
    uv_work_t work;
    struct server *srv;
    struct evict_params p;
    evict_done_fn done;
    void *arg;
    long long t_inactive, t_archive, t_account; /* ms */
    long long started;
    char chan_dir[FSU_PATH_MAX], blob_dir[FSU_PATH_MAX], pins_dir[FSU_PATH_MAX];
    char arch[3][FSU_PATH_MAX];                 /* archive: datastore, blob, pins */
    enum ev_step step;
    bool listed;                                /* the step's directories are listed */
    struct ev_dir *dirs;
    size_t ndirs, cursor;
    struct ev_doc *docs;
    size_t ndocs, capdocs;
    char **premium;                             /* safe keys with a limit entry, sorted */
    size_t npremium;
    struct ev_acct *accts;                      /* pin logs to archive */
    size_t naccts, capaccts;
    size_t apply_acct, apply_doc;
    /* report */
    unsigned long purged_chan, purged_blob, purged_acct;
    unsigned long total_chan, active_chan, total_blob, active_blob, total_acct, active_acct;
    unsigned long archived_chan, archived_blob, archived_acct, skipped;
};

/* ---- helpers ------------------------------------------------------------- */

static long long activity_ms(const struct stat *st)
{
    long long m = fsu_ts_ms(&st->st_mtim), a = fsu_ts_ms(&st->st_atim);
    return m > a ? m : a;
}

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void hex_to_bin(const char *s, size_t n, uint8_t out[24])
{
    memset(out, 0, 24);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned hi = s[2 * i] <= '9' ? (unsigned)(s[2 * i] - '0') : (unsigned)(s[2 * i] - 'a' + 10);
        unsigned lo = s[2 * i + 1] <= '9' ? (unsigned)(s[2 * i + 1] - '0') : (unsigned)(s[2 * i + 1] - 'a' + 10);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
}

static void bin_to_hex(const uint8_t *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static void add_doc(struct ev_run *r, int kind, const char *hex, size_t n, long long t_ms, uint8_t flags)
{
    if (r->ndocs == r->capdocs) {
        r->capdocs = r->capdocs ? r->capdocs * 2 : 1024;
        r->docs = xrealloc(r->docs, r->capdocs * sizeof *r->docs);
    }
    struct ev_doc *d = &r->docs[r->ndocs++];
    hex_to_bin(hex, n, d->id);
    d->t = t_ms > 0 ? (uint32_t)(t_ms / 1000) : 0;
    d->kind = (uint8_t)kind;
    d->flags = flags;
}

static int cmp_doc(const void *a, const void *b)
{
    const struct ev_doc *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return memcmp(x->id, y->id, sizeof x->id);
}

static struct ev_doc *find_doc(struct ev_run *r, int kind, const char *hex, size_t n)
{
    struct ev_doc key;
    hex_to_bin(hex, n, key.id);
    key.kind = (uint8_t)kind;
    return r->ndocs ? bsearch(&key, r->docs, r->ndocs, sizeof *r->docs, cmp_doc) : NULL;
}

/* The document a pinned id names, if it is one we track. */
static struct ev_doc *pinned_doc(struct ev_run *r, const char *id, size_t n)
{
    if (n == 32 && lower_hex(id, n))
        return find_doc(r, K_CHAN, id, n);
    if (n == 48 && lower_hex(id, n))
        return find_doc(r, K_BLOB, id, n);
    return NULL;
}

static void free_dirs(struct ev_run *r)
{
    for (size_t i = 0; i < r->ndirs; i++)
        free(r->dirs[i].path);
    free(r->dirs);
    r->dirs = NULL;
    r->ndirs = r->cursor = 0;
    r->listed = false;
}

/* Appends the sub-directories of dir (the shards) to the step's list. */
static void list_shards(struct ev_run *r, const char *dir, int kind)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            LOG_WARN("evict: cannot list %s: %s", dir, strerror(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        r->dirs = xrealloc(r->dirs, (r->ndirs + 1) * sizeof *r->dirs);
        struct buf b = BUF_INIT;
        buf_appendf(&b, "%s/%s", dir, e->d_name);
        r->dirs[r->ndirs].path = buf_steal(&b, NULL);
        r->dirs[r->ndirs].kind = kind;
        r->ndirs++;
    }
    closedir(d);
}

/* ---- worker steps ---------------------------------------------------------- */

static void purge_dir(struct ev_run *r, const struct ev_dir *dir)
{
    DIR *d = opendir(dir->path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (fsu_ts_ms(&st.st_ctim) >= r->t_archive)
            continue;
        size_t n = strlen(e->d_name);
        if (!r->p.dry_run && unlinkat(dirfd(d), e->d_name, 0) < 0) {
            LOG_WARN("evict: cannot delete %s/%s: %s", dir->path, e->d_name, strerror(errno));
            continue;
        }
        if (dir->kind == 0 && ends_with(e->d_name, n, ".ndjson") && !ends_with(e->d_name, n, ".metadata.ndjson"))
            r->purged_chan++;
        else if (dir->kind == 1 && n == 48)
            r->purged_blob++;
        else if (dir->kind == 2 && ends_with(e->d_name, n, ".ndjson"))
            r->purged_acct++;
    }
    closedir(d);
}

static void scan_chan_dir(struct ev_run *r, const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        bool log = n == 32 + 7 && ends_with(e->d_name, n, ".ndjson");
        bool meta = n == 32 + 16 && ends_with(e->d_name, n, ".metadata.ndjson");
        if ((!log && !meta) || !lower_hex(e->d_name, 32))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        add_doc(r, K_CHAN, e->d_name, 32, activity_ms(&st), F_EXISTS);
    }
    closedir(d);
}

static void scan_blob_dir(struct ev_run *r, const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        bool blob = n == 48;
        bool extra = (n == 48 + 9 && ends_with(e->d_name, n, ".activity")) ||
                     (n == 48 + 16 && ends_with(e->d_name, n, ".metadata.ndjson"));
        if ((!blob && !extra) || !lower_hex(e->d_name, 48))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        add_doc(r, K_BLOB, e->d_name, 48, activity_ms(&st), blob ? F_EXISTS : 0);
    }
    closedir(d);
}

/* Sorts the documents and merges the entries of one id (newest time, flags or'ed). */
static void sort_docs(struct ev_run *r)
{
    if (r->ndocs)
        qsort(r->docs, r->ndocs, sizeof *r->docs, cmp_doc);
    size_t w = 0;
    for (size_t i = 0; i < r->ndocs; i++) {
        if (w > 0 && cmp_doc(&r->docs[w - 1], &r->docs[i]) == 0) {
            if (r->docs[i].t > r->docs[w - 1].t)
                r->docs[w - 1].t = r->docs[i].t;
            r->docs[w - 1].flags |= r->docs[i].flags;
            continue;
        }
        r->docs[w++] = r->docs[i];
    }
    r->ndocs = w;
    uint32_t tin = (uint32_t)(r->t_inactive / 1000);
    for (size_t i = 0; i < r->ndocs; i++) {
        const struct ev_doc *d = &r->docs[i];
        if (!(d->flags & F_EXISTS))
            continue;
        bool active = d->t >= tin;
        if (d->kind == K_CHAN) {
            r->total_chan++;
            r->active_chan += active;
        } else {
            r->total_blob++;
            r->active_blob += active;
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_pins_dir(struct ev_run *r, const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    uint32_t tin = (uint32_t)(r->t_inactive / 1000);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 7 || n - 7 > 64 || !ends_with(e->d_name, n, ".ndjson"))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        struct buf fp = BUF_INIT;
        buf_appendf(&fp, "%s/%s", path, e->d_name);
        struct pinlog pl;
        pinlog_init(&pl);
        int rc = pins_load_file(fp.data, &pl);
        buf_free(&fp);
        if (rc < 0) {
            pinlog_free(&pl);
            continue;
        }
        r->total_acct++;
        char safe[65];
        memcpy(safe, e->d_name, n - 7);
        safe[n - 7] = '\0';
        bool active = pl.latest && (r->p.account_days == 0 || pl.latest > r->t_account);
        for (const struct pinlog_id *pi = pl.set; pi && !active; pi = pi->hh.next) {
            const struct ev_doc *doc = pinned_doc(r, pi->id, pi->len);
            active = doc && doc->t >= tin;
        }
        const char *sp = safe;
        bool keep = active || r->p.account_days == 0 ||
                    (r->npremium && bsearch(&sp, r->premium, r->npremium, sizeof *r->premium, cmp_str));
        r->active_acct += active;
        if (keep) {
            for (const struct pinlog_id *pi = pl.set; pi; pi = pi->hh.next) {
                struct ev_doc *doc = pinned_doc(r, pi->id, pi->len);
                if (doc)
                    doc->flags |= F_PINNED;
            }
        } else {
            if (r->naccts == r->capaccts) {
                r->capaccts = r->capaccts ? r->capaccts * 2 : 64;
                r->accts = xrealloc(r->accts, r->capaccts * sizeof *r->accts);
            }
            struct ev_acct *a = &r->accts[r->naccts++];
            memcpy(a->safe, safe, sizeof safe);
            a->mtime = st.st_mtim;
            a->size = st.st_size;
        }
        pinlog_free(&pl);
    }
    closedir(d);
}

/* One job: list the step's shards, or walk the next few. */
static void run_step(uv_work_t *w)
{
    struct ev_run *r = w->data;
    if (!r->listed) {
        switch (r->step) {
        case S_PURGE:
            for (int k = 0; k < 3; k++)
                list_shards(r, r->arch[k], k);
            break;
        case S_CHAN:
            list_shards(r, r->chan_dir, 0);
            break;
        case S_BLOB:
            list_shards(r, r->blob_dir, 0);
            break;
        case S_PINS:
            list_shards(r, r->pins_dir, 0);
            break;
        default:
            break;
        }
        r->listed = true;
        if (r->step == S_BLOB && r->ndirs == 0)
            sort_docs(r);
        return;
    }
    for (size_t k = 0; k < DIRS_PER_JOB && r->cursor < r->ndirs; k++, r->cursor++) {
        const struct ev_dir *dir = &r->dirs[r->cursor];
        switch (r->step) {
        case S_PURGE: purge_dir(r, dir); break;
        case S_CHAN: scan_chan_dir(r, dir->path); break;
        case S_BLOB: scan_blob_dir(r, dir->path); break;
        case S_PINS: scan_pins_dir(r, dir->path); break;
        default: break;
        }
    }
    if (r->cursor >= r->ndirs && r->step == S_BLOB)
        sort_docs(r);
}

static void no_work(uv_work_t *w)
{
}

/* ---- loop side ---------------------------------------------------------------- */

static void after_step(uv_work_t *w, int status);

static void queue(struct ev_run *r, uv_work_cb fn)
{
    r->srv->pending_work++;
    uv_queue_work(r->srv->loop, &r->work, fn, after_step);
}

static json_t *make_report(struct ev_run *r)
{
    json_t *rep = json_object();
#define NUM(k, v) json_object_set_new(rep, k, json_integer((json_int_t)(v)))
    NUM("archivedChannelsRemoved", r->purged_chan);
    NUM("archivedAccountsRemoved", r->purged_acct);
    NUM("archivedBlobsRemoved", r->purged_blob);
    NUM("totalChannels", r->total_chan);
    NUM("activeChannels", r->active_chan);
    NUM("totalBlobs", r->total_blob);
    NUM("activeBlobs", r->active_blob);
    NUM("totalAccounts", r->total_acct);
    NUM("activeAccounts", r->active_acct);
    NUM("channelsArchived", r->archived_chan);
    NUM("blobsArchived", r->archived_blob);
    NUM("accountsArchived", r->archived_acct);
    NUM("skippedRecentlyUsed", r->skipped);
    NUM("documentIndexBytes", r->capdocs * sizeof *r->docs);
    NUM("launchTime", r->started);
    NUM("runningTime", server_now_ms() - r->started);
#undef NUM
    if (r->p.dry_run)
        json_object_set_new(rep, "dryRun", json_true());
    return rep;
}

static void finish(struct ev_run *r, const char *err)
{
    struct server *srv = r->srv;
    pins_watch(srv, false);
    json_t *rep = err ? NULL : make_report(r);
    if (rep)
        LOG_INFO("evict: %lu channels, %lu blobs, %lu pin logs archived; %lu channels, %lu blobs, %lu pin logs "
                 "purged from the archive (%lld ms)",
                 r->archived_chan, r->archived_blob, r->archived_acct, r->purged_chan, r->purged_blob,
                 r->purged_acct, server_now_ms() - r->started);
    r->done(srv, r->arg, rep, err);
    free_dirs(r);
    free(r->docs);
    for (size_t i = 0; i < r->npremium; i++)
        free(r->premium[i]);
    free(r->premium);
    free(r->accts);
    free(r);
}

/* Newest activity (ms) of a document's files now, or -1 if none exists. */
static long long doc_activity_now(struct ev_run *r, const struct ev_doc *d, const char *hex)
{
    static const char *const chan_sfx[] = {".ndjson", ".metadata.ndjson"};
    static const char *const blob_sfx[] = {"", ".activity", ".metadata.ndjson"};
    const char *const *sfx = d->kind == K_CHAN ? chan_sfx : blob_sfx;
    size_t n = d->kind == K_CHAN ? 2 : 3;
    long long best = -1;
    for (size_t i = 0; i < n; i++) {
        char path[FSU_PATH_MAX];
        struct stat st;
        if (fsu_shard_path(path, sizeof path, r->srv->cfg.data, d->kind == K_CHAN ? "datastore" : "blob", hex,
                           sfx[i]) == 0 &&
            stat(path, &st) == 0) {
            long long a = activity_ms(&st);
            if (a > best)
                best = a;
        }
    }
    return best;
}

/* Archives what step 4 decided, ACTIONS_PER_SLICE at a time. Returns true when all is done. */
static bool apply_slice(struct ev_run *r)
{
    struct server *srv = r->srv;
    unsigned actions = 0;
    while (r->apply_acct < r->naccts && actions < ACTIONS_PER_SLICE) {
        struct ev_acct *a = &r->accts[r->apply_acct++];
        char from[FSU_PATH_MAX], to[FSU_PATH_MAX];
        struct stat st;
        if (pins_log_path(srv, a->safe, from, sizeof from) < 0 || pins_archive_path(srv, a->safe, to, sizeof to) < 0)
            continue;
        if (stat(from, &st) < 0 || st.st_size != a->size || st.st_mtim.tv_sec != a->mtime.tv_sec ||
            st.st_mtim.tv_nsec != a->mtime.tv_nsec) {
            r->skipped++; /* pinned or unpinned since the scan: active */
            continue;
        }
        actions++;
        if (!r->p.dry_run) {
            int rc = fsu_move(from, to);
            if (rc < 0) {
                LOG_WARN("evict: cannot archive the pin log %s: %s", from, bp_strerror(rc));
                continue;
            }
            char unsafe[65];
            size_t n = strlen(a->safe);
            for (size_t i = 0; i <= n; i++)
                unsafe[i] = a->safe[i] == '-' ? '/' : a->safe[i];
            pins_forget(srv, unsafe);
            pins_forget(srv, a->safe);
        }
        r->archived_acct++;
    }
    long long tin = r->t_inactive;
    while (r->apply_doc < r->ndocs && actions < ACTIONS_PER_SLICE) {
        const struct ev_doc *d = &r->docs[r->apply_doc++];
        if (!(d->flags & F_EXISTS) || (d->flags & F_PINNED) || (long long)d->t * 1000 >= tin)
            continue;
        size_t idlen = d->kind == K_CHAN ? 32 : 48;
        char hex[49];
        bin_to_hex(d->id, idlen / 2, hex);
        struct channel *ch = d->kind == K_CHAN ? nf_channel_find(srv, hex) : NULL;
        bool busy = ch && (ch->nmembers > 0 || ch->q_head);
        if (busy || pins_watched(srv, hex, idlen) || doc_activity_now(r, d, hex) >= tin) {
            r->skipped++;
            continue;
        }
        actions++;
        if (r->p.dry_run) {
            if (d->kind == K_CHAN)
                r->archived_chan++;
            else
                r->archived_blob++;
            continue;
        }
        int rc = d->kind == K_CHAN ? hk_archive_channel(srv, hex, "INACTIVE") : files_blob_archive(srv, hex, "INACTIVE");
        if (rc < 0) {
            if (rc != BP_ENOENT)
                LOG_WARN("evict: cannot archive %s: %s", hex, bp_strerror(rc));
            continue;
        }
        if (d->kind == K_CHAN)
            r->archived_chan++;
        else
            r->archived_blob++;
    }
    return r->apply_acct >= r->naccts && r->apply_doc >= r->ndocs;
}

static void after_step(uv_work_t *w, int status)
{
    struct ev_run *r = w->data;
    r->srv->pending_work--;
    if (status != 0 || r->srv->stopping) {
        finish(r, status != 0 ? "ECANCELED" : "ESHUTDOWN");
        return;
    }
    if (r->step == S_APPLY) {
        if (apply_slice(r)) {
            r->step = S_DONE;
            finish(r, NULL);
            return;
        }
        queue(r, no_work);
        return;
    }
    if (r->listed && r->cursor >= r->ndirs) {
        free_dirs(r);
        r->step++;
        if (r->step == S_APPLY) {
            queue(r, no_work);
            return;
        }
    }
    queue(r, run_step);
}

int evict_start(struct server *srv, const struct evict_params *p, evict_done_fn done, void *arg)
{
    if (p->inactive_days == 0)
        return BP_EINVAL;
    struct ev_run *r = xcalloc(1, sizeof *r);
    r->srv = srv;
    r->p = *p;
    r->done = done;
    r->arg = arg;
    r->work.data = r;
    r->started = server_now_ms();
    r->t_inactive = p->now_ms - (long long)p->inactive_days * DAY_MS;
    r->t_archive = p->now_ms - (long long)p->archive_days * DAY_MS;
    r->t_account = p->now_ms - (long long)p->account_days * DAY_MS;
    const char *root = srv->cfg.data;
    if (snprintf(r->chan_dir, sizeof r->chan_dir, "%s/datastore", root) >= (int)sizeof r->chan_dir ||
        snprintf(r->blob_dir, sizeof r->blob_dir, "%s/blob", root) >= (int)sizeof r->blob_dir ||
        snprintf(r->pins_dir, sizeof r->pins_dir, "%s", pins_dir(srv)) >= (int)sizeof r->pins_dir ||
        snprintf(r->arch[0], sizeof r->arch[0], "%s/data/archive/datastore", root) >= (int)sizeof r->arch[0] ||
        snprintf(r->arch[1], sizeof r->arch[1], "%s/data/archive/blob", root) >= (int)sizeof r->arch[1] ||
        snprintf(r->arch[2], sizeof r->arch[2], "%s", pins_archive_dir(srv)) >= (int)sizeof r->arch[2]) {
        free(r);
        return BP_ETOOBIG;
    }
    /* Premium accounts keep their documents: their safe keys, sorted. */
    const char *k;
    json_t *v;
    json_object_foreach(srv->settings.limits, k, v) {
        r->premium = xrealloc(r->premium, (r->npremium + 1) * sizeof *r->premium);
        char *s = xstrdup(k);
        for (char *q = s; *q; q++)
            if (*q == '/')
                *q = '-';
        r->premium[r->npremium++] = s;
    }
    if (r->npremium)
        qsort(r->premium, r->npremium, sizeof *r->premium, cmp_str);
    pins_watch(srv, true);
    r->step = S_PURGE;
    queue(r, run_step);
    return 0;
}
