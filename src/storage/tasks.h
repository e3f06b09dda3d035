/* tasks.h: scheduled tasks (SERVER-API.md §4.8, NETFLUX.md §5.6) in
 * CryptPad's layout, so that a CryptPad data directory's pending tasks run
 * here and ours run there:
 *
 *   <root>/data/tasks/<dayStartMs>/<id>.ndjson     one line: [timeMs,"EXPIRE","<chan>"]\n
 *
 * dayStartMs = timeMs - timeMs % 86400000 (a UTC day); id = base64 (standard
 * alphabet, padded) of the SHA-512 of the file's bytes (the line and its
 * '\n'), with '/' replaced by '-'. The only command is EXPIRE (archive the
 * channel with the placeholder reason EXPIRED).
 *
 * The storage part (tasks_write, tasks_run) takes a root directory and is
 * usable without a server; tasks_add_expire and tasks_tick are the server's
 * glue (they keep the schedule in memory: see tasks.c).
 *
 * Threads: loop thread (small files, plain system calls). */
#ifndef BP_TASKS_H
#define BP_TASKS_H

#include <stddef.h>

#include "common/buf.h"

struct server;

#define TASKS_DAY_MS 86400000LL
#define TASKS_SCAN_MS (5 * 60 * 1000) /* the reference runs its tasks every 5 minutes */

/* The bytes of a task file: "[time,\"command\",\"arg\"]\n" (arg is JSON-escaped). */
void tasks_line(struct buf *out, long long time_ms, const char *command, const char *arg);
/* "<root>/data/tasks/<day>/<id>.ndjson" for that line. BP_ETOOBIG if it does not fit. */
int tasks_path(char *out, size_t cap, const char *root, long long time_ms, const char *line, size_t len);
/* Writes the task file (the same task twice is the same file). 0 or a bp_err. */
int tasks_write(const char *root, long long time_ms, const char *command, const char *arg);

/* Called for each due task; returns 0 when the task is done (its file is then
 * removed), or a bp_err to log (the file is removed too: the reference does
 * not retry a task whose command failed). */
typedef int (*tasks_run_fn)(void *ud, const char *command, const char *arg);

/* Runs every task whose time is <= now_ms, in the day directories older than
 * tomorrow (as the reference lists them); removes empty day directories.
 * Files that are not valid tasks are left in place and logged. *next_due gets
 * the earliest time of a task left (LLONG_MAX if none is known; a future day
 * directory counts as its day start). Returns the number of tasks run, or a
 * bp_err if the tasks directory cannot be read (a missing one is 0 tasks). */
int tasks_run(const char *root, long long now_ms, tasks_run_fn run, void *ud, long long *next_due);

/* Server glue. tasks_add_expire writes the EXPIRE task of a channel created
 * with metadata.expire (absolute ms) and remembers its time. tasks_tick is
 * cheap enough to call every few seconds: it scans the tasks directory only
 * when a remembered task is due or TASKS_SCAN_MS has passed since the last
 * scan (the reference's period; the first scan TASKS_SCAN_MS after the first
 * call, as the reference), and archives each expired channel through
 * hk_archive_channel(srv, chan, "EXPIRED"). */
int tasks_add_expire(struct server *srv, long long time_ms, const char *chan);
void tasks_tick(struct server *srv);

#endif
