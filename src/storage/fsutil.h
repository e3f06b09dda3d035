/* fsutil.h: the small-file operations shared by the stores other than the
 * channel log (blobs, login blocks, pin logs, tasks, decrees, challenges),
 * in CryptPad's sharded layout (SERVER-API.md §4.1): every id lives in a
 * sub-directory named after its first two characters.
 *
 * Threads: plain blocking system calls. They are small files on the loop
 * thread, like the channel store's appends; large blob bodies are streamed
 * by net.c and never read whole.
 *
 * Errors: 0 or a bp_err (errno mapped by bp_err_from_errno: ENOENT ->
 * BP_ENOENT, ENOSPC -> BP_ENOSPC, EROFS/EACCES -> BP_EROFS, ...). Every
 * function that writes leaves either the old or the new content on a crash,
 * never a mix, except fsu_append (one line is appended with one write(); a
 * torn tail is cut by the readers). */
#ifndef BP_FSUTIL_H
#define BP_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"

#define FSU_PATH_MAX 4096

/* out = "<root>/<dir>/<id[0:2]>/<id><suffix>" (dir may be "" for none).
 * id must be 2..200 chars of [A-Za-z0-9+=_-] (no '/', no '.'): anything else
 * is BP_EBADID, so a wire value can never name a path outside the store.
 * BP_ETOOBIG if it does not fit in cap. */
int fsu_shard_path(char *out, size_t cap, const char *root, const char *dir, const char *id,
                   const char *suffix);
/* True if id passes fsu_shard_path's character and length rule. */
bool fsu_id_ok(const char *id, size_t len);
/* mkdir -p of path's parent directory (mode 0777 before umask, as the reference). */
int fsu_mkdirs_for(const char *path);
/* Reads the whole file into out (appended). BP_ENOENT if missing, BP_ETOOBIG
 * if it is larger than max (nothing read then). */
int fsu_read(const char *path, size_t max, struct buf *out);
/* Replaces the file's content: writes "<path>.tmp-<random>", fsyncs it when
 * sync, renames it over path. Creates the parent directories. */
int fsu_write_atomic(const char *path, const void *data, size_t len, bool sync);
/* Creates path with this content; BP_EEXIST if it exists. Creates the parents. */
int fsu_write_excl(const char *path, const void *data, size_t len, bool sync);
/* Appends with O_APPEND in one write(), then fsyncs when sync. On a short or
 * failed write the file is cut back to its old size. Creates the parents. */
int fsu_append(const char *path, const void *data, size_t len, bool sync);
/* rename(from, to) after creating to's parent directories; replaces to. */
int fsu_move(const char *from, const char *to);
int fsu_size(const char *path, uint64_t *size);
/* Modification time in ms since the epoch. */
int fsu_mtime_ms(const char *path, long long *ms);
/* A stat time (st_mtim, ...) in milliseconds since the epoch. */
static inline long long fsu_ts_ms(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}
bool fsu_exists(const char *path);
/* unlink(); BP_ENOENT if it was not there. */
int fsu_unlink(const char *path);

/* Calls fn for every entry of every shard of a sharded directory, the
 * layout CryptPad uses everywhere (dir/<shard>/<name>): shards whose name
 * starts with '.' and the "." and ".." entries are skipped, symlinked shards
 * are not followed. fn gets the shard's directory fd (valid during the call,
 * for openat/fstatat/unlinkat) and the entry's name. Returns 0, BP_ENOENT
 * if dir does not exist, or another bp_err if it cannot be read. */
typedef void (*fsu_shard_fn)(void *ud, int shard_fd, const char *name);
int fsu_walk_shards(const char *dir, fsu_shard_fn fn, void *ud);

#endif
