/* config.h: blindpad-server settings, from built-in defaults, then an INI
 * file (--config FILE), then command-line flags, later ones winning. */
#ifndef BP_CONFIG_H
#define BP_CONFIG_H

#include <stddef.h>

#include "storage/store.h"

struct config {
    char host[256];            /* listen address */
    int port;                  /* listen port */
    char data[4096];           /* CryptPad root directory: datastore/, data/... */
    enum store_fsync fsync;    /* always | group | none */
    unsigned fsync_interval;   /* group commit: ms to wait before a batch (0 = at once) */
    size_t max_message;        /* largest WebSocket message, bytes */
    size_t max_output;         /* per-connection queued output cap, bytes */
    unsigned max_conns;
    unsigned max_open_files;
    unsigned max_cached;
    unsigned ping_interval;    /* ms idle before a server PING */
    unsigned idle_timeout;     /* ms idle before a drop */
    unsigned keepalive_tick;   /* ms between keepalive scans */
    int log_level;
};

/* Fills defaults. */
void config_defaults(struct config *c);
/* Parses argv (and the --config file it names). Returns 0, 1 when --help or
 * --version was printed (exit 0), or BP_ECONFIG after printing why. */
int config_parse(struct config *c, int argc, char **argv);
/* Sets one option by its long name ("listen", "fsync", ...). Returns 0 or
 * BP_ECONFIG with a message in err. */
int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen);
void config_usage(const char *prog);

#endif
