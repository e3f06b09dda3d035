/* pins.c: pin logs, quotas and limits (SERVER-API.md §2.3, §2.4, §4.6, §5).
 *
 * Where: the live logs are in <data>/data/pins/ (CryptPad's config.example
 * pinPath, which the reference data in tests/data/refstore also uses), or in
 * <data>/pins/ (the reference's code default) when only that one exists, so
 * both kinds of CryptPad data directory keep their pins. Archived logs go to
 * <data>/data/archive/pins/. The file format and the reduction rules are in
 * storage/pinlog.h.
 *
 * Cache: the reduced set of each key that used a pin command, in memory, in
 * the disk reducer's form (tags applied: Q5), so GET_HASH right after a
 * RESET already matches the client's hash. Dropped after 5 minutes idle
 * (pins_tick), like the reference's session cache.
 *
 * Writes: one line per change, appended with fsu_append; fsynced unless
 * --fsync none (pin changes are rare, so group commit is not worth it here).
 * A change is written before the cache is updated and before the reply, so
 * a reply means the line is on disk. A log whose last line was torn by a
 * crash gets a '\n' first, so the new line stays readable.
 *
 * Quotas (§5): PIN refuses with E_OVER_LIMIT when the size of the newly
 * pinned ids is above limit - usage (so nothing is written); RESET never
 * checks (Q6); the support pin key (SET_SUPPORT_KEYS) is never checked.
 * Usage is the sum of files_id_size() over the unique pinned ids, merged
 * with the pin sets of the limit entry's `users` (shared quotas).
 *
 * Deviations: non-string entries of PIN/UNPIN lists are dropped (the
 * reducer ignores them anyway); a non-array list gets INVALID_PIN_LIST instead
 * of crashing (Q9); REMOVE_PINS of a key that has no pin log answers "OK". */
#include "server/pins.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "server/decree.h"
#include "server/files.h"
#include "server/rpc_internal.h"
#include "server/server.h"
#include "storage/fsutil.h"
#include "storage/pinlog.h"

#define PINS_IDLE_MS (300 * 1000) /* cached sets idle this long are dropped */
#define PINS_KEY_MAX 64           /* longest key accepted for a file name */

struct pin_cache {
    char key[PINS_KEY_MAX + 1];   /* unsafe form */
    struct pinlog pl;
    uint64_t atime;               /* uv_now() of the last use */
    UT_hash_handle hh;
};

struct pins_state {
    char dir[FSU_PATH_MAX];       /* live pin logs */
    char archive[FSU_PATH_MAX];   /* archived pin logs */
    struct pin_cache *cache;      /* by unsafe key (uthash) */
    bool watching;                /* an eviction runs: remember new pins */
    struct pinlog watched;
};

/* ---- paths ----------------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The safe form of key ('/' -> '-'); BP_EBADID if it cannot name a file. */
static int safe_key(const char *key, char out[PINS_KEY_MAX + 1])
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > PINS_KEY_MAX)
        return BP_EBADID;
    for (size_t i = 0; i < n; i++)
        out[i] = key[i] == '/' ? '-' : key[i];
    out[n] = '\0';
    return fsu_id_ok(out, n) ? 0 : BP_EBADID;
}

const char *pins_dir(const struct server *srv)
{
    return srv->pins->dir;
}

const char *pins_archive_dir(const struct server *srv)
{
    return srv->pins->archive;
}

int pins_log_path(const struct server *srv, const char *key, char *out, size_t cap)
{
    char sk[PINS_KEY_MAX + 1];
    int rc = safe_key(key, sk);
    return rc < 0 ? rc : fsu_shard_path(out, cap, srv->pins->dir, "", sk, ".ndjson");
}

int pins_archive_path(const struct server *srv, const char *key, char *out, size_t cap)
{
    char sk[PINS_KEY_MAX + 1];
    int rc = safe_key(key, sk);
    return rc < 0 ? rc : fsu_shard_path(out, cap, srv->pins->archive, "", sk, ".ndjson");
}

/* ---- loading ------------------------------------------------------------------- */

int pins_load_file(const char *path, struct pinlog *p)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return bp_err_from_errno(errno);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        pinlog_feed(p, line, len);
    }
    int rc = ferror(f) ? BP_EIO : 0;
    free(line);
    fclose(f);
    return rc;
}

static struct pin_cache *cache_get(struct server *srv, const char *key, int *err)
{
    struct pins_state *ps = srv->pins;
    struct pin_cache *c;
    *err = 0;
    HASH_FIND_STR(ps->cache, key, c);
    if (c) {
        c->atime = uv_now(srv->loop);
        return c;
    }
    char path[FSU_PATH_MAX];
    int rc = pins_log_path(srv, key, path, sizeof path);
    if (rc < 0) {
        *err = rc;
        return NULL;
    }
    c = xcalloc(1, sizeof *c);
    snprintf(c->key, sizeof c->key, "%s", key);
    pinlog_init(&c->pl);
    rc = pins_load_file(path, &c->pl);
    if (rc < 0 && rc != BP_ENOENT) {
        LOG_ERROR("pins: cannot read %s: %s", path, bp_strerror(rc));
        pinlog_free(&c->pl);
        free(c);
        *err = rc;
        return NULL;
    }
    if (c->pl.bad)
        LOG_WARN("pins: %s: %lu malformed line(s) skipped", path, c->pl.bad);
    c->atime = uv_now(srv->loop);
    HASH_ADD_STR(ps->cache, key, c);
    return c;
}

const struct pinlog *pins_get(struct server *srv, const char *key, int *err)
{
    struct pin_cache *c = cache_get(srv, key, err);
    return c ? &c->pl : NULL;
}

void pins_forget(struct server *srv, const char *key)
{
    struct pin_cache *c;
    HASH_FIND_STR(srv->pins->cache, key, c);
    if (c) {
        HASH_DEL(srv->pins->cache, c);
        pinlog_free(&c->pl);
        free(c);
    }
}

/* Appends "[cmd,<list>,now]\n" to key's log and notes the time in p. */
static int append_line(struct server *srv, const char *key, const char *cmd, const json_t *list, struct pinlog *p)
{
    char path[FSU_PATH_MAX];
    int rc = pins_log_path(srv, key, path, sizeof path);
    if (rc < 0)
        return rc;
    struct buf b = BUF_INIT;
    /* A torn last line (a crash mid-append) must not swallow this one. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        char last = '\n';
        if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
            buf_appendc(&b, '\n');
        close(fd);
    }
    buf_appends(&b, "[");
    jsonw_cstr(&b, cmd);
    buf_appendc(&b, ',');
    jsonw_value(&b, list);
    long long now = server_now_ms();
    buf_appendf(&b, ",%lld]\n", now);
    rc = fsu_append(path, b.data, b.len, srv->cfg.fsync != STORE_FSYNC_NONE);
    if (rc < 0) {
        LOG_ERROR("pins: cannot append to %s: %s", path, bp_strerror(rc));
    } else {
        if (!p->first)
            p->first = now;
        p->latest = now;
    }
    buf_free(&b);
    return rc;
}

/* ---- usage ------------------------------------------------------------------------ */

/* The size of id[0..len) as GET_FILE_SIZE counts it; 0 for anything that
 * is not a document id. The copy makes it a C string (the store wants one). */
static uint64_t id_size(struct server *srv, const char *id, size_t len)
{
    char tmp[64];
    uint64_t sz = 0;
    if (len != 32 && len != 33 && len != 48)
        return 0;
    memcpy(tmp, id, len);
    tmp[len] = '\0';
    if (files_id_size(srv, tmp, len, &sz, NULL) < 0)
        return 0;
    return sz;
}

static uint64_t set_size(struct server *srv, const struct pinlog *p)
{
    uint64_t total = 0;
    for (const struct pinlog_id *e = p->set; e; e = e->hh.next)
        total += id_size(srv, e->id, e->len);
    return total;
}

int pins_usage(struct server *srv, const char *key, uint64_t *bytes)
{
    *bytes = 0;
    int err;
    struct pin_cache *mine = cache_get(srv, key, &err);
    if (!mine)
        return err;
    const json_t *users = json_object_get(json_object_get(srv->settings.limits, key), "users");
    if (!json_is_array(users) || json_array_size(users) < 2) {
        *bytes = set_size(srv, &mine->pl);
        return 0;
    }
    /* A shared quota: the union of the users' pin sets. */
    struct pinlog uni;
    pinlog_init(&uni);
    for (const struct pinlog_id *e = mine->pl.set; e; e = e->hh.next)
        pinlog_add(&uni, e->id, e->len);
    size_t i;
    const json_t *u;
    json_array_foreach(users, i, u) {
        char k[45];
        if (!json_is_string(u) || decree_canon_key(json_string_value(u), json_string_length(u), k, NULL) < 0 ||
            strcmp(k, key) == 0)
            continue;
        const struct pinlog *other = pins_get(srv, k, &err);
        if (!other)
            continue; /* a broken user does not count */
        for (const struct pinlog_id *e = other->set; e; e = e->hh.next)
            pinlog_add(&uni, e->id, e->len);
    }
    *bytes = set_size(srv, &uni);
    pinlog_free(&uni);
    return 0;
}

/* limit - usage, signed (negative when over). */
static int free_signed(struct server *srv, const char *key, long long *out)
{
    unsigned long long limit;
    const char *plan, *note;
    settings_limit(srv, key, &limit, &plan, &note);
    uint64_t used;
    int rc = pins_usage(srv, key, &used);
    if (rc < 0)
        return rc;
    *out = (long long)limit - (long long)used;
    return 0;
}

int pins_free_space(struct server *srv, const char *key, uint64_t *bytes)
{
    long long f = 0;
    int rc = free_signed(srv, key, &f);
    *bytes = f > 0 ? (uint64_t)f : 0;
    return rc;
}

/* ---- eviction watch ---------------------------------------------------------------- */

void pins_watch(struct server *srv, bool on)
{
    struct pins_state *ps = srv->pins;
    pinlog_free(&ps->watched);
    pinlog_init(&ps->watched);
    ps->watching = on;
}

bool pins_watched(const struct server *srv, const char *id, size_t len)
{
    return srv->pins->watching && pinlog_has(&srv->pins->watched, id, len);
}

static void watch_add(struct server *srv, const json_t *list)
{
    if (srv->pins->watching)
        pinlog_apply(&srv->pins->watched, PINLOG_PIN, list);
}

/* ---- commands ----------------------------------------------------------------------- */

static void reply_err(const struct rpc_ctx *c, int rc)
{
    rpc_reply_error(c, bp_strerror(rc));
}

static void cmd_pin(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    if (!json_is_array(arg)) {
        rpc_reply_error(c, "INVALID_PIN_LIST");
        return;
    }
    int err;
    struct pin_cache *pc = cache_get(srv, c->key, &err);
    if (!pc) {
        reply_err(c, err);
        return;
    }
    /* The entries that change something, once each. */
    json_t *fresh = json_array();
    struct pinlog seen;
    pinlog_init(&seen);
    uint64_t add = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arg, i, v) {
        if (!json_is_string(v))
            continue;
        const char *id = json_string_value(v), *tag;
        size_t len = json_string_length(v);
        size_t base = pinlog_clean(id, len, true, &tag);
        if (base == 0) {
            /* "<block>#block": new only if it names another block */
            size_t blen = tag ? (size_t)(tag - 1 - id) : 0;
            if (tag && blen && (!pc->pl.block || strlen(pc->pl.block) != blen || memcmp(pc->pl.block, id, blen)) &&
                !pinlog_has(&seen, id, len)) {
                pinlog_add(&seen, id, len);
                json_array_append(fresh, (json_t *)v);
            }
            continue;
        }
        if (pinlog_has(&pc->pl, id, base) || pinlog_has(&seen, id, base))
            continue;
        pinlog_add(&seen, id, base);
        json_array_append(fresh, (json_t *)v);
        add += id_size(srv, id, base);
    }
    pinlog_free(&seen);
    if (json_array_size(fresh) == 0) {
        json_decref(fresh);
        rpc_reply_signed(c, NULL);
        return;
    }
    if (strcmp(c->key, settings_support_pin_key(srv)) != 0) {
        long long avail;
        int rc = free_signed(srv, c->key, &avail);
        if (rc < 0) {
            json_decref(fresh);
            reply_err(c, rc);
            return;
        }
        if ((long long)add > avail) {
            json_decref(fresh);
            rpc_reply_error(c, "E_OVER_LIMIT");
            return;
        }
        /* usage may have loaded other sets: pc stays valid (entries never move) */
    }
    int rc = append_line(srv, c->key, "PIN", fresh, &pc->pl);
    if (rc < 0) {
        json_decref(fresh);
        reply_err(c, rc);
        return;
    }
    pinlog_apply(&pc->pl, PINLOG_PIN, fresh);
    watch_add(srv, fresh);
    json_decref(fresh);
    rpc_reply_signed(c, NULL);
}

static void cmd_unpin(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    if (!json_is_array(arg)) {
        rpc_reply_error(c, "INVALID_PIN_LIST");
        return;
    }
    int err;
    struct pin_cache *pc = cache_get(srv, c->key, &err);
    if (!pc) {
        reply_err(c, err);
        return;
    }
    json_t *gone = json_array();
    struct pinlog seen;
    pinlog_init(&seen);
    size_t i;
    const json_t *v;
    json_array_foreach(arg, i, v) {
        if (!json_is_string(v))
            continue;
        const char *id = json_string_value(v), *tag;
        size_t base = pinlog_clean(id, json_string_length(v), false, &tag);
        if (!base || !pinlog_has(&pc->pl, id, base) || pinlog_has(&seen, id, base))
            continue;
        pinlog_add(&seen, id, base);
        json_array_append(gone, (json_t *)v);
    }
    pinlog_free(&seen);
    if (json_array_size(gone) > 0) {
        int rc = append_line(srv, c->key, "UNPIN", gone, &pc->pl);
        if (rc < 0) {
            json_decref(gone);
            reply_err(c, rc);
            return;
        }
        pinlog_apply(&pc->pl, PINLOG_UNPIN, gone);
    }
    json_decref(gone);
    rpc_reply_signed(c, NULL);
}

static void cmd_reset(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    if (!json_is_array(arg)) {
        rpc_reply_error(c, "INVALID_PIN_LIST");
        return;
    }
    if (json_array_size(arg) == 0) {
        rpc_reply_signed(c, NULL); /* a no-op, as observed: the pins stay */
        return;
    }
    int err;
    struct pin_cache *pc = cache_get(srv, c->key, &err);
    if (!pc) {
        reply_err(c, err);
        return;
    }
    /* Never checks the quota (Q6): the client resets after registering
     * and migrating, whatever the size. The list is written as given. */
    int rc = append_line(srv, c->key, "RESET", arg, &pc->pl);
    if (rc < 0) {
        reply_err(c, rc);
        return;
    }
    pinlog_apply(&pc->pl, PINLOG_RESET, arg);
    watch_add(srv, arg);
    rpc_reply_signed(c, NULL);
}

static void cmd_get_hash(const struct rpc_ctx *c, const json_t *arg)
{
    int err;
    const struct pinlog *p = pins_get(c->srv, c->key, &err);
    if (!p) {
        reply_err(c, err);
        return;
    }
    char h[PINLOG_HASH_LEN + 1], v[PINLOG_HASH_LEN + 3];
    pinlog_hash(p, h);
    snprintf(v, sizeof v, "\"%s\"", h);
    rpc_reply_signed(c, v);
}

static void cmd_get_total_size(const struct rpc_ctx *c, const json_t *arg)
{
    uint64_t used;
    int rc = pins_usage(c->srv, c->key, &used);
    if (rc < 0) {
        reply_err(c, rc);
        return;
    }
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long)used);
    rpc_reply_signed(c, v);
}

static void reply_limit(const struct rpc_ctx *c, const char *key)
{
    unsigned long long limit;
    const char *plan, *note;
    settings_limit(c->srv, key, &limit, &plan, &note);
    struct buf b = BUF_INIT;
    buf_appendf(&b, "%llu,", limit);
    jsonw_cstr(&b, plan);
    buf_appendc(&b, ',');
    jsonw_cstr(&b, note);
    rpc_reply_signed(c, b.data);
    buf_free(&b);
}

static void cmd_get_limit(const struct rpc_ctx *c, const json_t *arg)
{
    reply_limit(c, c->key);
}

/* No accounts_api: nothing to refresh. Looked up by the unsafe key (Q4). */
static void cmd_update_limits(const struct rpc_ctx *c, const json_t *arg)
{
    reply_limit(c, c->key);
}

static void cmd_remove_pins(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    char from[FSU_PATH_MAX], to[FSU_PATH_MAX];
    int rc = pins_log_path(srv, c->key, from, sizeof from);
    if (rc == 0)
        rc = pins_archive_path(srv, c->key, to, sizeof to);
    if (rc == 0)
        rc = fsu_move(from, to);
    if (rc < 0 && rc != BP_ENOENT) {
        reply_err(c, rc);
        return;
    }
    LOG_INFO("pins: pin log of %s archived by its owner", c->key);
    pins_forget(srv, c->key);
    rpc_session_end(srv, c->key);
    /* The session is gone: the reply's cookie has an empty token, as after
     * EXPIRE_SESSION. */
    long long t = server_now_ms();
    char cookie[64];
    snprintf(cookie, sizeof cookie, "%lld|%s|", t - t % 5000, srv->rpc_pid);
    struct rpc_ctx c2 = *c;
    c2.cookie = cookie;
    rpc_reply_signed(&c2, "\"OK\"");
}

static void cmd_trim_pins(const struct rpc_ctx *c, const json_t *arg)
{
    rpc_reply_error(c, "NOT_IMPLEMENTED");
}

static void anon_is_premium(const struct rpc_ctx *c, const json_t *arg)
{
    bool p = json_is_string(arg) && settings_is_premium(c->srv, json_string_value(arg));
    rpc_reply_anon(c, p ? "true" : "false");
}

static void anon_is_channel_pinned(const struct rpc_ctx *c, const json_t *arg)
{
    rpc_reply_anon(c, "true"); /* deprecated; always true in the reference */
}

const struct rpc_cmd pins_rpc_cmds[] = {
    {"PIN", cmd_pin, RPC_SIGNED},
    {"UNPIN", cmd_unpin, RPC_SIGNED},
    {"RESET", cmd_reset, RPC_SIGNED},
    {"GET_HASH", cmd_get_hash, RPC_SIGNED},
    {"GET_TOTAL_SIZE", cmd_get_total_size, RPC_SIGNED},
    {"GET_LIMIT", cmd_get_limit, RPC_SIGNED},
    {"UPDATE_LIMITS", cmd_update_limits, RPC_SIGNED},
    {"REMOVE_PINS", cmd_remove_pins, RPC_SIGNED},
    {"TRIM_PINS", cmd_trim_pins, RPC_SIGNED},
    {"IS_PREMIUM", anon_is_premium, RPC_ANON},
    {"IS_CHANNEL_PINNED", anon_is_channel_pinned, RPC_ANON},
    {NULL, NULL, RPC_ANON},
};

/* ---- life cycle ----------------------------------------------------------------------- */

int pins_init(struct server *srv)
{
    struct pins_state *ps = xcalloc(1, sizeof *ps);
    const char *root = srv->cfg.data;
    char cfg_dir[FSU_PATH_MAX], code_dir[FSU_PATH_MAX];
    if (snprintf(cfg_dir, sizeof cfg_dir, "%s/data/pins", root) >= (int)sizeof cfg_dir ||
        snprintf(code_dir, sizeof code_dir, "%s/pins", root) >= (int)sizeof code_dir ||
        snprintf(ps->dir, sizeof ps->dir, "%s", !is_dir(cfg_dir) && is_dir(code_dir) ? code_dir : cfg_dir) >=
            (int)sizeof ps->dir ||
        snprintf(ps->archive, sizeof ps->archive, "%s/data/archive/pins", root) >= (int)sizeof ps->archive) {
        free(ps);
        return BP_ETOOBIG;
    }
    pinlog_init(&ps->watched);
    srv->pins = ps;
    return 0;
}

void pins_free(struct server *srv)
{
    struct pins_state *ps = srv->pins;
    if (!ps)
        return;
    struct pin_cache *c, *tmp;
    HASH_ITER(hh, ps->cache, c, tmp) {
        HASH_DEL(ps->cache, c);
        pinlog_free(&c->pl);
        free(c);
    }
    pinlog_free(&ps->watched);
    free(ps);
    srv->pins = NULL;
}

void pins_tick(struct server *srv)
{
    struct pins_state *ps = srv->pins;
    if (!ps)
        return;
    uint64_t now = uv_now(srv->loop);
    struct pin_cache *c, *tmp;
    HASH_ITER(hh, ps->cache, c, tmp) {
        if (now - c->atime > PINS_IDLE_MS) {
            HASH_DEL(ps->cache, c);
            pinlog_free(&c->pl);
            free(c);
        }
    }
}
