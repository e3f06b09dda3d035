/* pins.h: per-user pin logs, quotas and limits (SERVER-API.md §2.3, §2.4, §4.6,
 * §5). pins/<safeKey[0:2]>/<safeKey>.ndjson under the pin directory (see
 * pins.c for which one), archived to data/archive/pins/.
 * RPC: pins_rpc_cmds (rpc_internal.h). */
#ifndef BP_PINS_H
#define BP_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct pinlog;

int pins_init(struct server *srv);
void pins_free(struct server *srv);
/* Drops cached pin sets idle for a while; called by housekeeping. */
void pins_tick(struct server *srv);
/* The storage key's usage in bytes (GET_TOTAL_SIZE, §5), shared quotas included. */
int pins_usage(struct server *srv, const char *key, uint64_t *bytes);
/* Free space: limit - usage (0 if over). */
int pins_free_space(struct server *srv, const char *key, uint64_t *bytes);

/* ---- for the admin module and eviction (loop thread unless noted) ---- */

/* The reduced pin set of key (unsafe form), from the cache or the disk.
 * Borrowed: valid until the next pins_* call. NULL and *err on a read error. */
const struct pinlog *pins_get(struct server *srv, const char *key, int *err);
/* Forgets the cached set of key (its log was moved or removed). */
void pins_forget(struct server *srv, const char *key);
/* The directories in use: the live pin logs and their archive. */
const char *pins_dir(const struct server *srv);
const char *pins_archive_dir(const struct server *srv);
/* The paths of key's (unsafe or safe form) pin log and its archived copy. */
int pins_log_path(const struct server *srv, const char *key, char *out, size_t cap);
int pins_archive_path(const struct server *srv, const char *key, char *out, size_t cap);
/* Reads and reduces a pin log file into p (initialised by the caller).
 * Any thread: no server state. Returns 0, BP_ENOENT or another bp_err. */
int pins_load_file(const char *path, struct pinlog *p);
/* While an eviction runs, the ids pinned meanwhile are remembered so that it
 * does not archive them (the scan read the pin logs before). */
void pins_watch(struct server *srv, bool on);
bool pins_watched(const struct server *srv, const char *id, size_t len);

#endif
