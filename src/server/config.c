/* config.c: defaults, INI file (libinih) and flags (see config.h). Every
 * option can be given either way: "--max-message 1048576" on the command line
 * or "max-message = 1048576" in the file (sections are ignored). */
#include "server/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

struct option_doc {
    const char *name;
    const char *arg;
    const char *help;
};

static const struct option_doc g_options[] = {
    {"listen", "HOST:PORT", "address to listen on (default 127.0.0.1:3000; [::1]:3000 for IPv6)"},
    {"data", "DIR", "data directory, laid out like a CryptPad install (datastore/, data/archive/);\n"
                    "                         pointing it at a CryptPad root serves its channels (default ./data)"},
    {"fsync", "MODE", "durability of channel writes: 'always' (fsync each write before it is relayed),\n"
                      "                         'group' (default: writes relayed after a shared fsync), 'none'"},
    {"fsync-interval", "MS", "group commit: wait this long to gather writes into one fsync (default 0)"},
    {"max-message", "BYTES", "largest WebSocket message; larger ones close the connection with 1009\n"
                             "                         (default 104857600, as the reference)"},
    {"max-output", "BYTES", "output queued for one connection before it is dropped as too slow (default 16777216)"},
    {"max-conns", "N", "simultaneous connections (default 100000)"},
    {"max-open-files", "N", "channel log files kept open (default 1024)"},
    {"max-cached", "N", "channel indexes kept in memory when unused (default 4096)"},
    {"ping-interval", "MS", "idle time before the server sends a PING (default 15000)"},
    {"idle-timeout", "MS", "idle time before a connection is dropped (default 60000)"},
    {"keepalive-tick", "MS", "how often idle connections are checked (default 5000)"},
    {"log-level", "LEVEL", "error, warn, info (default) or debug"},
    {"origin", "URL", "the main origin users type (httpUnsafeOrigin; default http://localhost:PORT)"},
    {"sandbox-origin", "URL", "the sandbox origin for app iframes (httpSafeOrigin; default: origin, port+1)"},
    {"sandbox-port", "PORT", "also listen here for the sandbox origin (default PORT+1 when\n"
                             "                         --sandbox-origin is not given; 0 = do not)"},
    {"web-root", "DIR", "CryptPad client tree to serve (www/, customize.dist/, src/common/); default none"},
    {"max-http-body", "BYTES", "largest HTTP request body (default 1048576)"},
    {"admin-keys", "KEYS", "comma-separated edPublic keys of the administrators"},
    {"default-storage-limit", "BYTES", "storage quota per user (default 52428800)"},
    {"max-upload-size", "BYTES", "largest file upload (default 20971520)"},
    {"premium-upload-size", "BYTES", "largest upload for users with a plan (default 0: none)"},
    {"upload-stage-max-age", "S", "an upload left unfinished this long is removed (default 86400;\n"
                                  "                         0 = never, as the reference)"},
    {"restrict-registration", "0|1", "refuse new accounts without an invitation (default 0)"},
    {"otp-session-hours", "H", "lifetime of a two-factor login session (default 168)"},
    {"eviction", "0|1", "archive inactive unpinned data once a day (default 0, as the reference)"},
    {"inactive-days", "N", "eviction: documents untouched this long are inactive (default 90)"},
    {"archive-retention-days", "N", "eviction: archives older than this are deleted (default 90)"},
    {"account-retention-days", "N", "eviction: inactive accounts' pins are archived after this\n"
                                    "                         (default 0: accounts are kept)"},
    {"config", "FILE", "read options from an INI file (name = value lines); flags given later win"},
};

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->host, "127.0.0.1");
    c->port = 3000;
    strcpy(c->data, "./data");
    c->fsync = STORE_FSYNC_GROUP;
    c->fsync_interval = 0;
    c->max_message = 104857600;
    c->max_output = (size_t)16 << 20;
    c->max_conns = 100000;
    c->max_open_files = 1024;
    c->max_cached = 4096;
    c->ping_interval = 15000;
    c->idle_timeout = 60000;
    c->keepalive_tick = 5000;
    c->log_level = LOG_LEVEL_INFO;
    c->sandbox_port = -1;
    c->max_http_body = (size_t)1 << 20;
    c->default_storage_limit = 52428800;
    c->max_upload_size = 20971520;
    c->otp_session_hours = 168;
    c->upload_stage_max_age = 86400;
    c->inactive_days = 90;
    c->archive_retention_days = 90;
}

/* Copies an origin without its trailing slashes; it must be http(s)://. */
static int set_origin(char *dst, size_t cap, const char *v)
{
    size_t len = strlen(v);
    while (len && v[len - 1] == '/')
        len--;
    if (len >= cap || (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
        strcspn(v, " \t\r\n\"'<>") < len)
        return -1;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return 0;
}

void config_usage(const char *prog)
{
    printf("usage: %s [options]\n\n"
           "blindpad-server: a zero-knowledge collaboration server that speaks CryptPad's\n"
           "Netflux protocol. It stores and relays only ciphertext.\n\noptions:\n",
           prog);
    for (size_t i = 0; i < sizeof g_options / sizeof g_options[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", g_options[i].name, g_options[i].arg);
        printf("  %-22s %s\n", left, g_options[i].help);
    }
    printf("  %-22s %s\n  %-22s %s\n", "--help", "print this help", "--version", "print the version");
}

static int parse_num(const char *v, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n > max)
        return -1;
    *out = n;
    return 0;
}

int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen)
{
    unsigned long long n;
    if (strcmp(name, "listen") == 0) {
        const char *colon = strrchr(value, ':');
        if (!colon || parse_num(colon + 1, 65535, &n) != 0)
            goto bad;
        const char *h = value;
        size_t hl = (size_t)(colon - value);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        if (hl == 0 || hl >= sizeof c->host)
            goto bad;
        memcpy(c->host, h, hl);
        c->host[hl] = '\0';
        c->port = (int)n;
    } else if (strcmp(name, "data") == 0) {
        if (!*value || strlen(value) >= sizeof c->data - 64)
            goto bad;
        strcpy(c->data, value);
    } else if (strcmp(name, "fsync") == 0) {
        if (strcmp(value, "always") == 0)
            c->fsync = STORE_FSYNC_ALWAYS;
        else if (strcmp(value, "group") == 0)
            c->fsync = STORE_FSYNC_GROUP;
        else if (strcmp(value, "none") == 0)
            c->fsync = STORE_FSYNC_NONE;
        else
            goto bad;
    } else if (strcmp(name, "log-level") == 0) {
        int l = log_level_parse(value);
        if (l < 0)
            goto bad;
        c->log_level = l;
    } else if (strcmp(name, "origin") == 0) {
        if (set_origin(c->origin, sizeof c->origin, value) != 0)
            goto bad;
    } else if (strcmp(name, "sandbox-origin") == 0) {
        if (set_origin(c->sandbox_origin, sizeof c->sandbox_origin, value) != 0)
            goto bad;
    } else if (strcmp(name, "web-root") == 0) {
        if (strlen(value) >= sizeof c->web_root - 64)
            goto bad;
        strcpy(c->web_root, value);
    } else if (strcmp(name, "admin-keys") == 0) {
        if (strlen(value) >= sizeof c->admin_keys)
            goto bad;
        strcpy(c->admin_keys, value);
    } else if (strcmp(name, "sandbox-port") == 0) {
        if (parse_num(value, 65535, &n) != 0)
            goto bad;
        c->sandbox_port = (int)n;
    } else {
        static const struct {
            const char *name;
            size_t off;
            int is_size; /* 0 unsigned, 1 size_t, 2 unsigned long long, 3 int */
            unsigned long long min, max;
        } nums[] = {
            {"fsync-interval", offsetof(struct config, fsync_interval), 0, 0, 10000},
            {"max-message", offsetof(struct config, max_message), 1, 1024, (unsigned long long)1 << 32},
            {"max-output", offsetof(struct config, max_output), 1, 65536, (unsigned long long)1 << 34},
            {"max-conns", offsetof(struct config, max_conns), 0, 1, 10000000},
            {"max-open-files", offsetof(struct config, max_open_files), 0, 4, 1000000},
            {"max-cached", offsetof(struct config, max_cached), 0, 1, 10000000},
            {"ping-interval", offsetof(struct config, ping_interval), 0, 10, 3600000},
            {"idle-timeout", offsetof(struct config, idle_timeout), 0, 10, 3600000},
            {"keepalive-tick", offsetof(struct config, keepalive_tick), 0, 10, 600000},
            {"max-http-body", offsetof(struct config, max_http_body), 1, 4096, (unsigned long long)1 << 30},
            {"default-storage-limit", offsetof(struct config, default_storage_limit), 2, 0, (unsigned long long)1 << 50},
            {"max-upload-size", offsetof(struct config, max_upload_size), 2, 1, (unsigned long long)1 << 50},
            {"premium-upload-size", offsetof(struct config, premium_upload_size), 2, 0, (unsigned long long)1 << 50},
            {"upload-stage-max-age", offsetof(struct config, upload_stage_max_age), 0, 0, 100000000},
            {"restrict-registration", offsetof(struct config, restrict_registration), 3, 0, 1},
            {"otp-session-hours", offsetof(struct config, otp_session_hours), 0, 1, 100000},
            {"eviction", offsetof(struct config, eviction), 3, 0, 1},
            {"inactive-days", offsetof(struct config, inactive_days), 0, 1, 100000},
            {"archive-retention-days", offsetof(struct config, archive_retention_days), 0, 0, 100000},
            {"account-retention-days", offsetof(struct config, account_retention_days), 0, 0, 100000},
        };
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
            if (strcmp(name, nums[i].name) != 0)
                continue;
            if (parse_num(value, nums[i].max, &n) != 0 || n < nums[i].min)
                goto bad;
            if (nums[i].is_size == 1)
                *(size_t *)((char *)c + nums[i].off) = (size_t)n;
            else if (nums[i].is_size == 2)
                *(unsigned long long *)((char *)c + nums[i].off) = n;
            else if (nums[i].is_size == 3)
                *(int *)((char *)c + nums[i].off) = (int)n;
            else
                *(unsigned *)((char *)c + nums[i].off) = (unsigned)n;
            return 0;
        }
        snprintf(err, errlen, "unknown option '%s' (see --help)", name);
        return BP_ECONFIG;
    }
    return 0;
bad:
    snprintf(err, errlen, "bad value '%s' for option '%s' (see --help)", value, name);
    return BP_ECONFIG;
}

struct ini_ctx {
    struct config *c;
    char err[512];
    int rc;
};

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    if (strcmp(name, "config") == 0)
        return 1;
    if (config_set(ctx->c, name, value, ctx->err, sizeof ctx->err) != 0) {
        ctx->rc = BP_ECONFIG;
        return 0;
    }
    return 1;
}

int config_parse(struct config *c, int argc, char **argv)
{
    char err[512];
    /* The config file first, so that flags override it whatever their order. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *file = NULL;
        if (strcmp(a, "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(a, "--config=", 9) == 0)
            file = a + 9;
        if (!file)
            continue;
        struct ini_ctx ctx = {.c = c};
        int line = ini_parse(file, ini_cb, &ctx);
        if (line < 0) {
            fprintf(stderr, "blindpad-server: cannot read config file %s\n", file);
            return BP_ECONFIG;
        }
        if (ctx.rc || line > 0) {
            fprintf(stderr, "blindpad-server: %s:%d: %s\n", file, line, ctx.rc ? ctx.err : "syntax error");
            return BP_ECONFIG;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_usage(argv[0]);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("blindpad-server 0.1.0\n");
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "blindpad-server: unexpected argument '%s' (see --help)\n", a);
            return BP_ECONFIG;
        }
        char name[64];
        const char *value;
        const char *eq = strchr(a + 2, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a + 2);
            if (i + 1 >= argc) {
                fprintf(stderr, "blindpad-server: option --%s needs a value (see --help)\n", name);
                return BP_ECONFIG;
            }
            value = argv[++i];
        }
        if (strcmp(name, "config") == 0)
            continue;
        if (config_set(c, name, value, err, sizeof err) != 0) {
            fprintf(stderr, "blindpad-server: %s\n", err);
            return BP_ECONFIG;
        }
    }
    return 0;
}
