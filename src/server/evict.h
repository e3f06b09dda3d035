/* evict.h: eviction of inactive data and deletion of old archives
 * (SERVER-API.md §4.12). Started by the ADMIN command EVICT_INACTIVE (our
 * extension) or by the daily schedule when integrated eviction is on; see
 * evict.c for the algorithm and how it stays off the loop. */
#ifndef BP_EVICT_H
#define BP_EVICT_H

#include <jansson.h>
#include <stdbool.h>

struct server;

struct evict_params {
    long long now_ms;           /* the run's reference time */
    unsigned inactive_days;     /* documents untouched this long are inactive (0: refuse) */
    unsigned archive_days;      /* archived data older than this is deleted */
    unsigned account_days;      /* pin logs untouched this long are archived; 0 = keep accounts */
    bool dry_run;               /* count only: nothing is archived or deleted */
};

/* Called on the loop when the run ends: report (owned by the callee) is the
 * reference's report object plus our counters; err is NULL or a reason. */
typedef void (*evict_done_fn)(struct server *srv, void *arg, json_t *report, const char *err);

/* Starts a run. Returns 0 (done will be called once), BP_EINVAL when
 * inactive_days is 0 (nothing can be inactive: NO_INACTIVE_TIME). The caller
 * makes sure only one run is active. */
int evict_start(struct server *srv, const struct evict_params *p, evict_done_fn done, void *arg);

#endif
