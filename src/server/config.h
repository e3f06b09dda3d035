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
    /* The HTTP side (SERVER-API.md §3). */
    char origin[512];          /* httpUnsafeOrigin; "" = http://localhost:<port> */
    char sandbox_origin[512];  /* httpSafeOrigin; "" = the origin with port+1 */
    int sandbox_port;          /* second listener for the sandbox origin; -1 = port+1 when
                                  sandbox_origin is derived, else none; 0 = none */
    char web_root[4096];       /* CryptPad client tree (www/, customize.dist/, ...); "" = none */
    size_t max_http_body;      /* largest plain HTTP request body (uploads post ~175 KB chunks) */
    /* Accounts, quotas, uploads (§5); decrees override these at run time. */
    char admin_keys[4096];     /* comma-separated edPublic keys */
    unsigned long long default_storage_limit; /* bytes per user (52428800) */
    unsigned long long max_upload_size;       /* bytes (20971520) */
    unsigned long long premium_upload_size;   /* bytes; 0 = none ("false") */
    int restrict_registration;                /* 0/1 */
    unsigned otp_session_hours;               /* MFA session lifetime (168) */
    unsigned upload_stage_max_age;            /* s; stages untouched this long are removed (86400; 0 = never) */
    /* Eviction of inactive data (§4.12), off by default as in the reference. */
    int eviction;                             /* 0/1: run it daily */
    unsigned inactive_days;                   /* 90 */
    unsigned archive_retention_days;          /* 90 */
    unsigned account_retention_days;          /* 0 = keep inactive accounts */
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
