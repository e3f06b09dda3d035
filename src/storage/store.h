/* store.h: the channel store, in CryptPad's on-disk layout (NETFLUX.md §5,
 * docs/STORAGE.md), so that a CryptPad data directory is served unchanged.
 *
 *   <root>/datastore/<id[0:2]>/<id>.ndjson              channel log
 *   <root>/datastore/<id[0:2]>/<id>.metadata.ndjson     metadata log
 *   <root>/datastore/<id[0:2]>/<id>.ndjson.placeholder  why a channel is gone
 *   <root>/data/archive/datastore/<id[0:2]>/...         archived logs
 *
 * Threads: every function runs on the loop thread, except store_sync_run()
 * which runs on a worker and touches only its batch.
 *
 * Ownership: the store owns every struct store_chan. store_chan_open() hands
 * out a reference; store_chan_release() gives it back. Unreferenced channels
 * stay cached (index and file descriptor) in LRU order within the configured
 * bounds. */
#ifndef BP_STORE_H
#define BP_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

enum store_fsync {
    STORE_FSYNC_ALWAYS, /* fsync inside every append, before it returns */
    STORE_FSYNC_GROUP,  /* appends are written at once and fsynced in batches (store_sync_*) */
    STORE_FSYNC_NONE,   /* never fsync (what the reference does) */
};

/* The system calls that can fail on a bad disk, replaceable so that tests can
 * inject ENOSPC, EROFS or EIO at the Nth call. NULL members use the real one. */
struct store_io {
    ssize_t (*write)(int fd, const void *buf, size_t n);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*open)(const char *path, int flags, mode_t mode);
};

struct store_config {
    const char *root;          /* CryptPad root directory (created if missing) */
    enum store_fsync fsync;
    unsigned max_open_files;   /* log file descriptors kept open; default 1024 */
    unsigned max_cached;       /* unreferenced channel indexes kept; default 4096 */
    size_t max_line;           /* longest log line read back; default 128 MiB */
    size_t max_meta_bytes;     /* largest metadata log read; default 16 MiB */
    const struct store_io *io; /* NULL: the real system calls */
};

struct store;
struct store_chan;

struct store_health {
    bool writable;         /* false after a failed write/fsync, until one succeeds */
    int last_error;        /* bp_err of the last failure, 0 if none */
    long long since_ms;    /* when writable last changed (ms since the epoch) */
    uint64_t write_errors; /* failed appends since start */
    uint64_t fsync_errors; /* failed fsyncs since start */
    unsigned open_files;
    unsigned cached;
};

int store_new(struct store **out, const struct store_config *cfg);
void store_free(struct store *s);

/* True for ids the file store accepts: 32-49 chars of [A-Za-z0-9+=-]. */
bool store_id_valid(const char *id, size_t len);

/* Returns a reference to channel id (which must be valid), reading its log
 * and building its index on first use. A channel without a log is returned
 * too (store_chan_exists() false); appending creates the file. A torn last
 * line (no '\n') is cut off here. Returns 0 or a bp_err (then *out is NULL). */
int store_chan_open(struct store *s, const char *id, struct store_chan **out);
void store_chan_release(struct store *s, struct store_chan *c);

const char *store_chan_id(const struct store_chan *c);
bool store_chan_exists(const struct store_chan *c);
/* Bytes of complete lines in the log. */
uint64_t store_chan_size(const struct store_chan *c);
uint64_t store_chan_lines(const struct store_chan *c);
/* The log's first line when it is a (legacy) metadata object, else NULL.
 * Owned by the channel. store_chan_legacy_end() is the offset just after it. */
const json_t *store_chan_legacy_meta(const struct store_chan *c);
uint64_t store_chan_legacy_end(const struct store_chan *c);
/* True if the line starting at off did not parse when the log was indexed
 * (such lines are never sent). */
bool store_chan_line_bad(const struct store_chan *c, uint64_t off);

/* Appends one line (it must end with '\n') whose message content is
 * content[0..clen) (used for the index: hash and checkpoint). On any failure
 * the log is cut back to its previous size, nothing is indexed, the store is
 * marked not writable, and a bp_err is returned. */
int store_append(struct store *s, struct store_chan *c, const char *line, size_t len,
                 const char *content, size_t clen);

/* Where GET_HISTORY starts (NETFLUX.md §3.4, the "recommendation for a C
 * server"). lkh NULL means no lastKnownHash. Returns 0 and *off, or BP_ENOENT
 * when lkh is not accepted (the EUNKNOWN answer). */
int store_history_start(struct store *s, struct store_chan *c, const char *lkh, size_t lkh_len,
                        uint64_t *off);

/* Reads whole lines from off. */
struct store_iter {
    struct store *s;
    struct store_chan *c;
    uint64_t pos;  /* file offset of buf[0] */
    uint64_t end;  /* stop here (the channel size when the iteration began) */
    struct buf buf;
    size_t start;  /* first unconsumed byte in buf */
};
void store_iter_init(struct store_iter *it, struct store *s, struct store_chan *c, uint64_t from);
/* Returns 1 with the next line (without '\n', borrowed until the next call)
 * and its offset, 0 at the end, or a bp_err. */
int store_iter_next(struct store_iter *it, const char **line, size_t *len, uint64_t *off);
void store_iter_done(struct store_iter *it);

/* Sizes of the log and the metadata log from stat() (missing files: 0), without
 * opening or indexing the channel: what quotas and GET_FILE_SIZE count. */
int store_sizes(struct store *s, const char *id, uint64_t *log_size, uint64_t *meta_size);

/* Metadata log: read it whole (BP_ENOENT if missing), or append a line
 * (which must end with '\n'). */
int store_meta_read(struct store *s, const char *id, struct buf *out);
int store_meta_append(struct store *s, const char *id, const char *line, size_t len);
/* Reads the placeholder's reason. Returns 0, or BP_ENOENT if there is none. */
int store_placeholder(struct store *s, const char *id, struct buf *reason);
/* Moves the logs to the archive; writes a placeholder with reason unless reason
 * is NULL. Holders of the channel keep reading what they had. BP_ENOENT (and
 * no placeholder) when the channel has neither a log nor a metadata log. */
int store_archive(struct store *s, const char *id, const char *reason);
/* Empties a channel log (CLEAR_OWNED_CHANNEL): keeps only a legacy metadata
 * first line. The metadata log stays. */
int store_clear(struct store *s, struct store_chan *c);

/* Moves an archived channel back (admin restore, SERVER-API.md §4.7) and
 * removes its placeholder. BP_EEXIST if the channel has a live log or
 * metadata log, BP_ENOENT if nothing is archived under id. */
int store_restore(struct store *s, const char *id);

/* Rewriting a log (SERVER-API.md §2.5 TRIM_HISTORY, §2.2
 * DELETE_MAILBOX_MESSAGE). Both are exclusive per channel: they run to the
 * end on the loop thread, so no append can interleave with them (appends
 * also run on the loop thread), and they leave the store's cached index of
 * the channel behind (readers that hold it keep reading the old file).
 *
 * Each one: copies the log and the metadata log to the archive (overwriting
 * an older archive of the same id), writes the kept lines to
 * <id>.ndjson.temp, replaces the metadata log by the single line meta_json
 * (the reduced metadata the caller computed), renames the temp file over the
 * log, and removes the .offset hint. A legacy metadata first line is dropped
 * from the log (meta_json supersedes it). The order of the renames is
 * crash-safe; see store.c.
 *
 * store_trim() keeps the lines from the first message whose hash (its first
 * 64 characters, msg_hash_len) is hash[0..hlen), to the end.
 * store_delete_line() removes the first message whose hash is hash, if
 * check(ud, content, clen) allows it (NULL: always); lines before it that do
 * not parse are dropped too (as the reference does).
 * Both return 0, BP_ENOENT when there is no log, no such message, or check
 * refused, or a bp_err of the disk (then nothing live has changed, unless the
 * metadata replacement succeeded and the log rename failed: both states are
 * consistent). */
int store_trim(struct store *s, const char *id, const char *hash, size_t hlen, const char *meta_json,
               size_t meta_len);
typedef bool (*store_line_check)(void *ud, const char *content, size_t clen);
int store_delete_line(struct store *s, const char *id, const char *hash, size_t hlen, store_line_check check,
                      void *ud, const char *meta_json, size_t meta_len);

/* Group commit. store_sync_begin() (loop thread) takes the files written since
 * the last batch, or returns NULL if there are none; store_sync_run() (any
 * thread) fsyncs them; store_sync_end() (loop thread) frees the batch and
 * returns 0 or the first error, marking the store not writable on error. */
struct store_sync;
struct store_sync *store_sync_begin(struct store *s);
void store_sync_run(struct store_sync *b);
int store_sync_end(struct store *s, struct store_sync *b);

/* Tries a small write+fsync in <root>/datastore to find out whether a store that
 * is marked not writable has recovered (disk freed, remounted). Returns 0 if
 * writable. */
int store_probe(struct store *s);
void store_health(const struct store *s, struct store_health *h);
enum store_fsync store_fsync_mode(const struct store *s);

#endif
