/* admin.c: decrees, the first-admin install token, the ADMIN command and
 * eviction scheduling (SERVER-API.md §2.2 ADD_FIRST_ADMIN, §2.10, §4.9,
 * §4.12).
 *
 * Decrees: <data>/data/decrees/decree.ndjson (CryptPad's config.example
 * decreePath, as in the reference data of tests/data/refstore), or
 * <data>/data/decree.ndjson (the reference's code default) when only that
 * one exists. Replayed over the settings at start (decree.c has the format
 * and what each decree changes); ADMIN_DECREE appends
 * [name,args,adminKey,time] when a decree changed something. A write error
 * after the change is reported to the admin; the change then lives until the
 * next restart, as in the reference.
 *
 * Install token: on a start with no admin and no token, a 64-hex token is
 * created and stored as ADD_INSTALL_TOKEN; while there is no admin, every
 * start logs "<origin>/install/#<token>". ADD_FIRST_ADMIN with that token
 * adds the first admin (ADD_ADMIN_KEY decree, author "").
 *
 * ADMIN replies: the reference's callback value is flattened into the reply
 * when it is an array ([txid,cookie,...values]), else appended as one value;
 * nothing for no value. Errors are [txid,"ERROR",code]. Disk walks
 * (DISK_USAGE, REGISTERED_USERS, GET_LAST_CHANNEL_TIME) run on the thread
 * pool and reply from there.
 *
 * Our extension: ["EVICT_INACTIVE", {dryRun?}] runs the eviction now and
 * replies with its report (evict.c); "EBUSY" while one runs.
 *
 * The commands about accounts and people (invitations, known users,
 * moderators, DISABLE_MFA, account archival, ARCHIVE_SUPPORT, the logo) are
 * in admin_accounts.c, looked up after this file's table. */
#include "server/admin.h"
#include "server/admin_accounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "server/auth.h"
#include "server/decree.h"
#include "server/evict.h"
#include "server/files.h"
#include "server/pins.h"
#include "server/rpc_internal.h"
#include "server/server.h"
#include "storage/fsutil.h"
#include "storage/pinlog.h"

#define DECREE_FILE_MAX ((size_t)64 << 20) /* a decree log larger than this is refused at start */
#define DAY_MS 86400000LL

struct admin_state {
    char decree_path[FSU_PATH_MAX];
    bool evicting;                 /* an eviction run is active */
    struct rpc_ctx *evict_ctx;     /* the admin waiting for its report, or NULL */
    struct admin_accounts *accounts; /* admin_accounts.c's state (owned) */
};

struct admin_accounts **admin_accounts_slot(struct server *srv)
{
    return &srv->admin->accounts;
}

/* ---- decrees -------------------------------------------------------------------- */

static int decree_write(struct server *srv, const char *name, const json_t *args, const char *author)
{
    struct buf b = BUF_INIT;
    buf_appendc(&b, '[');
    jsonw_cstr(&b, name);
    buf_appendc(&b, ',');
    jsonw_value(&b, args);
    buf_appendc(&b, ',');
    jsonw_cstr(&b, author);
    buf_appendf(&b, ",%lld]\n", server_now_ms());
    int rc = fsu_append(srv->admin->decree_path, b.data, b.len, srv->cfg.fsync != STORE_FSYNC_NONE);
    if (rc < 0)
        LOG_ERROR("admin: cannot append to %s: %s", srv->admin->decree_path, bp_strerror(rc));
    buf_free(&b);
    return rc;
}

/* Applies a decree and appends it if it changed something. Returns 0 or
 * -1 with *err (a reply string). */
int admin_decree(struct server *srv, const char *name, const json_t *args, const char *author, const char **err)
{
    int changed = decree_apply(&srv->settings, srv->cfg.admin_keys, name, args, err);
    if (changed < 0)
        return -1;
    if (changed == 0)
        return 0;
    LOG_INFO("admin: decree %s by %s", name, *author ? author : "(install)");
    int rc = decree_write(srv, name, args, author);
    if (rc < 0) {
        *err = bp_strerror(rc);
        return -1;
    }
    return 0;
}

static void origin(const struct server *srv, struct buf *out)
{
    if (srv->cfg.origin[0])
        buf_appends(out, srv->cfg.origin);
    else
        buf_appendf(out, "http://localhost:%d", srv->net ? net_port(srv->net) : srv->cfg.port);
}

int admin_init(struct server *srv)
{
    struct admin_state *as = xcalloc(1, sizeof *as);
    srv->admin = as;
    const char *root = srv->cfg.data;
    char legacy[FSU_PATH_MAX];
    if (snprintf(as->decree_path, sizeof as->decree_path, "%s/data/decrees/decree.ndjson", root) >=
            (int)sizeof as->decree_path ||
        snprintf(legacy, sizeof legacy, "%s/data/decree.ndjson", root) >= (int)sizeof legacy)
        return BP_ETOOBIG;
    if (!fsu_exists(as->decree_path) && fsu_exists(legacy))
        memcpy(as->decree_path, legacy, strlen(legacy) + 1);
    struct buf b = BUF_INIT;
    int rc = fsu_read(as->decree_path, DECREE_FILE_MAX, &b);
    if (rc < 0 && rc != BP_ENOENT) {
        LOG_ERROR("admin: cannot read %s: %s", as->decree_path, bp_strerror(rc));
        buf_free(&b);
        return rc;
    }
    if (rc == 0) {
        size_t bad = 0;
        size_t n = decree_replay(&srv->settings, srv->cfg.admin_keys, b.data ? b.data : "", b.len, &bad);
        LOG_INFO("admin: %zu decree(s) replayed from %s%s", n, as->decree_path, bad ? " (some skipped)" : "");
    }
    buf_free(&b);
    if (json_array_size(srv->settings.admins) == 0) {
        if (!srv->settings.install_token[0]) {
            uint8_t raw[32];
            char token[65];
            randombytes_buf(raw, sizeof raw);
            sodium_bin2hex(token, sizeof token, raw, sizeof raw);
            json_t *args = json_pack("[s]", token);
            const char *err;
            if (admin_decree(srv, "ADD_INSTALL_TOKEN", args, "", &err) < 0)
                LOG_ERROR("admin: cannot store the install token: %s", err);
            json_decref(args);
        }
        if (srv->settings.install_token[0]) {
            struct buf u = BUF_INIT;
            origin(srv, &u);
            LOG_WARN("admin: no administrator yet. Create the first admin account and customize your instance by "
                     "visiting %s/install/#%s",
                     u.data, srv->settings.install_token);
            buf_free(&u);
        }
    }
    return admin_accounts_init(srv);
}

/* ---- replies ---------------------------------------------------------------------- */

/* Replies with v (a reference taken over; NULL = no value), flattening arrays. */
void admin_reply(const struct rpc_ctx *c, json_t *v)
{
    if (!v) {
        rpc_reply_signed(c, NULL);
        return;
    }
    struct buf b = BUF_INIT;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (i)
                buf_appendc(&b, ',');
            jsonw_value(&b, e);
        }
    } else {
        jsonw_value(&b, v);
    }
    rpc_reply_signed(c, b.len ? b.data : NULL);
    buf_free(&b);
    json_decref(v);
}

static const char *err_code(int rc)
{
    switch (rc) {
    case BP_ENOENT: return "ENOENT";
    case BP_EEXIST: return "EEXIST";
    case BP_EBADID: return "INVALID_ID";
    default: return bp_strerror(rc);
    }
}

/* ---- argument shapes --------------------------------------------------------------- */

static const json_t *arg1(const json_t *data)
{
    return json_array_get(data, 1);
}

/* The reference's isValidKey: a 44-char string. */
static const char *key_arg(const json_t *data)
{
    const json_t *k = arg1(data);
    return json_is_string(k) && json_string_length(k) == 44 ? json_string_value(k) : NULL;
}

static void unsafe_key(const char *k, char out[45])
{
    for (size_t i = 0; i < 44; i++)
        out[i] = k[i] == '-' ? '/' : k[i];
    out[44] = '\0';
}

/* Core.isValidId: 32, 33 or 48 chars of [A-Za-z0-9=+-]. */
static const char *doc_id_arg(const json_t *data)
{
    const json_t *v = arg1(data);
    if (!json_is_string(v))
        return NULL;
    size_t n = json_string_length(v);
    if (n != 32 && n != 33 && n != 48)
        return NULL;
    const char *s = json_string_value(v);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '=' ||
              ch == '+' || ch == '-'))
            return NULL;
    }
    return s;
}

/* "id" or {id, reason}: the archive commands' argument. */
static const char *id_reason(const json_t *data, const char **reason)
{
    const json_t *a = arg1(data), *id = a;
    *reason = NULL;
    if (json_is_object(a)) {
        id = json_object_get(a, "id");
        if (json_is_string(json_object_get(a, "reason")))
            *reason = json_string_value(json_object_get(a, "reason"));
    }
    if (!json_is_string(id) || json_string_length(id) < 32)
        return NULL;
    return json_string_value(id);
}

static bool path_exists(const char *root, const char *dir, const char *id, const char *suffix)
{
    char p[FSU_PATH_MAX];
    return fsu_shard_path(p, sizeof p, root, dir, id, suffix) == 0 && fsu_exists(p);
}

static json_t *read_text(const char *root, const char *dir, const char *id, const char *suffix)
{
    char p[FSU_PATH_MAX];
    struct buf b = BUF_INIT;
    json_t *r = NULL;
    if (fsu_shard_path(p, sizeof p, root, dir, id, suffix) == 0 && fsu_read(p, 64 * 1024, &b) == 0)
        r = json_stringn_nocheck(b.data ? b.data : "", b.len);
    buf_free(&b);
    return r;
}

/* ---- thread-pool jobs ------------------------------------------------------------------ */

enum job_kind { JOB_DISK_USAGE, JOB_REGISTERED_USERS, JOB_LAST_CHANNEL_TIME };

struct admin_job {
    uv_work_t work;
    struct server *srv;
    struct rpc_ctx *ctx;
    enum job_kind kind;
    char paths[6][FSU_PATH_MAX];
    json_t *result;      /* built by the worker (a fresh object, not shared) */
    const char *err;     /* static string */
};

/* Sum of the sizes of the regular files under the directory fd (closed). */
static uint64_t du_fd(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            total += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode) && depth < 16) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub >= 0)
                total += du_fd(sub, depth + 1);
        }
    }
    closedir(d);
    return total;
}

static uint64_t du(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? 0 : du_fd(fd, 0);
}

static void count_user(void *ud, int shard_fd, const char *name)
{
    size_t n = strlen(name);
    if (name[0] != '.' && !(n > 12 && strcmp(name + n - 12, ".placeholder") == 0))
        ++*(unsigned long *)ud;
}

static void job_registered_users(struct admin_job *j)
{
    unsigned long users = 0;
    int rc = fsu_walk_shards(j->paths[0], count_user, &users);
    j->err = rc == 0 || rc == BP_ENOENT ? NULL : "EIO";
    j->result = json_pack("{s:I}", "users", (json_int_t)users);
}

static void job_last_channel_time(struct admin_job *j)
{
    FILE *f = fopen(j->paths[0], "re");
    if (!f) {
        j->err = errno == ENOENT ? "ENOENT" : "EIO";
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    double latest = 0;
    bool have = false;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *l = json_loadb(line, (size_t)n, JSON_DISABLE_EOF_CHECK, NULL);
        const json_t *t = json_array_get(l, json_array_size(l) - 1);
        if (json_is_number(t) && json_number_value(t) != 0) {
            latest = json_number_value(t);
            have = true;
        }
        json_decref(l);
    }
    free(line);
    fclose(f);
    j->result = have ? json_integer((json_int_t)latest) : NULL;
}

static void job_run(uv_work_t *w)
{
    struct admin_job *j = w->data;
    switch (j->kind) {
    case JOB_DISK_USAGE:
        j->result = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "total", (json_int_t)du(j->paths[0]), "pin",
                              (json_int_t)du(j->paths[1]), "blob", (json_int_t)du(j->paths[2]), "blobstage",
                              (json_int_t)du(j->paths[3]), "block", (json_int_t)du(j->paths[4]), "datastore",
                              (json_int_t)du(j->paths[5]));
        break;
    case JOB_REGISTERED_USERS:
        job_registered_users(j);
        break;
    case JOB_LAST_CHANNEL_TIME:
        job_last_channel_time(j);
        break;
    }
}

static void job_after(uv_work_t *w, int status)
{
    struct admin_job *j = w->data;
    j->srv->pending_work--;
    if (status != 0)
        rpc_reply_error(j->ctx, "ECANCELED");
    else if (j->err)
        rpc_reply_error(j->ctx, j->err);
    else
        admin_reply(j->ctx, j->result), j->result = NULL;
    json_decref(j->result);
    rpc_ctx_drop(j->ctx);
    free(j);
}

static struct admin_job *job_new(const struct rpc_ctx *c, enum job_kind kind)
{
    struct admin_job *j = xcalloc(1, sizeof *j);
    j->srv = c->srv;
    j->ctx = rpc_ctx_keep(c);
    j->kind = kind;
    j->work.data = j;
    return j;
}

static void job_queue(struct admin_job *j)
{
    j->srv->pending_work++;
    uv_queue_work(j->srv->loop, &j->work, job_run, job_after);
}

/* ---- ADMIN commands -------------------------------------------------------------------- */

typedef void (*admin_fn)(const struct rpc_ctx *c, const json_t *data);

static void a_active_sessions(const struct rpc_ctx *c, const json_t *data)
{
    struct peer {
        char *ip;
        UT_hash_handle hh;
    } *peers = NULL, *p, *tmp;
    unsigned long total = 0;
    for (struct user *u = c->srv->users; u; u = u->hh.next) {
        if (!u->conn)
            continue;
        total++;
        const char *ip = conn_peer(u->conn);
        ip = ip ? ip : "";
        HASH_FIND_STR(peers, ip, p);
        if (!p) {
            p = xcalloc(1, sizeof *p);
            p->ip = xstrdup(ip);
            HASH_ADD_KEYPTR(hh, peers, p->ip, strlen(p->ip), p);
        }
    }
    unsigned long unique = HASH_COUNT(peers);
    HASH_ITER(hh, peers, p, tmp) {
        HASH_DEL(peers, p);
        free(p->ip);
        free(p);
    }
    admin_reply(c, json_pack("[I,I]", (json_int_t)total, (json_int_t)unique));
}

static void a_active_pads(const struct rpc_ctx *c, const json_t *data)
{
    admin_reply(c, json_integer((json_int_t)HASH_COUNT(c->srv->channels)));
}

static void a_registered_users(const struct rpc_ctx *c, const json_t *data)
{
    struct admin_job *j = job_new(c, JOB_REGISTERED_USERS);
    snprintf(j->paths[0], sizeof j->paths[0], "%s", pins_dir(c->srv));
    job_queue(j);
}

static void a_disk_usage(const struct rpc_ctx *c, const json_t *data)
{
    struct admin_job *j = job_new(c, JOB_DISK_USAGE);
    const char *root = c->srv->cfg.data;
    static const char *const sub[] = {"", NULL, "/blob", "/blobstage", "/block", "/datastore"};
    int bad = 0;
    for (int i = 0; i < 6; i++) {
        if (i == 1)
            bad |= snprintf(j->paths[i], sizeof j->paths[i], "%s", pins_dir(c->srv)) >= (int)sizeof j->paths[i];
        else
            bad |= snprintf(j->paths[i], sizeof j->paths[i], "%s%s", root, sub[i]) >= (int)sizeof j->paths[i];
    }
    if (bad) {
        rpc_ctx_drop(j->ctx);
        free(j);
        rpc_reply_error(c, "EINVAL");
        return;
    }
    job_queue(j);
}

static void a_flush_cache(const struct rpc_ctx *c, const json_t *data)
{
    c->srv->settings.fresh_key = server_now_ms();
    LOG_INFO("admin: cache flushed (fresh key %lld)", c->srv->settings.fresh_key);
    admin_reply(c, json_true());
}

static void a_shutdown(const struct rpc_ctx *c, const json_t *data)
{
    rpc_reply_error(c, "E_NOT_IMPLEMENTED");
}

static void a_not_implemented(const struct rpc_ctx *c, const json_t *data)
{
    rpc_reply_error(c, "NOT_IMPLEMENTED");
}

static void a_fd_count(const struct rpc_ctx *c, const json_t *data)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        rpc_reply_error(c, "ENOENT");
        return;
    }
    unsigned long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    admin_reply(c, json_integer((json_int_t)n));
}

static void a_fd_limit(const struct rpc_ctx *c, const json_t *data)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    admin_reply(c, json_integer(rl.rlim_cur == RLIM_INFINITY ? -1 : (json_int_t)rl.rlim_cur));
}

static long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    long long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lld %lld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static void a_cache_stats(const struct rpc_ctx *c, const json_t *data)
{
    unsigned long metas = 0, meta_size = 0;
    for (struct channel *ch = c->srv->channels; ch; ch = ch->hh.next) {
        if (!ch->meta)
            continue;
        metas++;
        size_t n = 0;
        char *s = jsonw_dump(ch->meta, &n);
        free(s);
        meta_size += n;
    }
    struct store_health h;
    store_health(c->srv->store, &h);
    admin_reply(c, json_pack("{s:I,s:I,s:I,s:I,s:{s:I}}", "metadata", (json_int_t)metas, "metaSize",
                             (json_int_t)meta_size, "channel", (json_int_t)h.cached, "channelSize", (json_int_t)0,
                             "memoryUsage", "rss", (json_int_t)rss_bytes()));
}

static void a_is_user_online(const struct rpc_ctx *c, const json_t *data)
{
    const char *k = key_arg(data);
    if (!k) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    char key[45];
    unsafe_key(k, key);
    bool online = false;
    for (struct user *u = c->srv->users; u && !online; u = u->hh.next) {
        struct authkey *ak;
        HASH_FIND_STR(u->keys, key, ak);
        online = ak != NULL && u->conn != NULL;
    }
    admin_reply(c, json_boolean(online));
}

static void a_user_quota(const struct rpc_ctx *c, const json_t *data)
{
    const char *k = key_arg(data);
    if (!k) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    char key[45];
    unsafe_key(k, key);
    unsigned long long limit;
    const char *plan, *note;
    settings_limit(c->srv, key, &limit, &plan, &note);
    admin_reply(c, json_pack("[I,s,s]", (json_int_t)limit, plan, note));
}

static void a_user_total_size(const struct rpc_ctx *c, const json_t *data)
{
    const char *k = key_arg(data);
    if (!k) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    char key[45];
    unsafe_key(k, key);
    uint64_t used;
    int rc = pins_usage(c->srv, key, &used);
    if (rc < 0) {
        rpc_reply_error(c, err_code(rc));
        return;
    }
    admin_reply(c, json_integer((json_int_t)used));
}

/* The pin set of the key argument, or NULL after replying. */
static const struct pinlog *pins_of(const struct rpc_ctx *c, const json_t *data)
{
    const char *k = key_arg(data);
    if (!k) {
        rpc_reply_error(c, "EINVAL");
        return NULL;
    }
    char key[45];
    unsafe_key(k, key);
    int err;
    const struct pinlog *p = pins_get(c->srv, key, &err);
    if (!p)
        rpc_reply_error(c, err_code(err));
    return p;
}

static void a_user_storage_stats(const struct rpc_ctx *c, const json_t *data)
{
    const struct pinlog *p = pins_of(c, data);
    if (!p)
        return;
    unsigned long chans = 0, files = 0;
    for (const struct pinlog_id *e = p->set; e; e = e->hh.next) {
        chans += e->len == 32;
        files += e->len == 48;
    }
    admin_reply(c, json_pack("{s:I,s:I}", "channels", (json_int_t)chans, "files", (json_int_t)files));
}

static void a_pin_list(const struct rpc_ctx *c, const json_t *data)
{
    const struct pinlog *p = pins_of(c, data);
    if (!p)
        return;
    const struct pinlog_id **ids;
    size_t n = pinlog_sorted(p, &ids);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_stringn(ids[i]->id, ids[i]->len));
    free(ids);
    admin_reply(c, arr);
}

static void a_pin_activity(const struct rpc_ctx *c, const json_t *data)
{
    const struct pinlog *p = pins_of(c, data);
    if (!p)
        return;
    json_t *o = json_object();
    if (p->first)
        json_object_set_new(o, "first", json_integer(p->first));
    if (p->latest)
        json_object_set_new(o, "latest", json_integer(p->latest));
    admin_reply(c, o);
}

static void a_pin_log_status(const struct rpc_ctx *c, const json_t *data)
{
    const char *k = key_arg(data);
    if (!k) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    char live[FSU_PATH_MAX], arch[FSU_PATH_MAX];
    if (pins_log_path(c->srv, k, live, sizeof live) < 0 || pins_archive_path(c->srv, k, arch, sizeof arch) < 0) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    admin_reply(c, json_pack("{s:b,s:b}", "live", fsu_exists(live), "archived", fsu_exists(arch)));
}

static void a_metadata_history(const struct rpc_ctx *c, const json_t *data)
{
    const char *id = doc_id_arg(data);
    if (!id) {
        rpc_reply_error(c, "INVALID_CHAN");
        return;
    }
    struct buf b = BUF_INIT;
    int rc = store_meta_read(c->srv->store, id, &b);
    if (rc < 0 && rc != BP_ENOENT) {
        buf_free(&b);
        rpc_reply_error(c, err_code(rc));
        return;
    }
    json_t *lines = json_array();
    const char *p = b.data, *end = b.data + b.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *l = n ? json_loadb(p, n, JSON_DECODE_ANY, NULL) : NULL;
        if (l)
            json_array_append_new(lines, l);
        p += n + 1;
    }
    buf_free(&b);
    admin_reply(c, lines);
}

static void a_stored_metadata(const struct rpc_ctx *c, const json_t *data)
{
    const char *id = doc_id_arg(data);
    if (!id) {
        rpc_reply_error(c, "INVALID_CHAN");
        return;
    }
    size_t n = strlen(id);
    json_t *m = NULL;
    if (n == 32)
        m = nf_meta_read(c->srv, id);
    else if (n == 48 && files_blob_id_valid(id, n))
        m = files_blob_meta(c->srv, id);
    admin_reply(c, m ? m : json_object());
}

static void a_document_size(const struct rpc_ctx *c, const json_t *data)
{
    const char *id = doc_id_arg(data);
    if (!id) {
        rpc_reply_error(c, "INVALID_CHAN");
        return;
    }
    uint64_t size = 0;
    int rc = files_id_size(c->srv, id, strlen(id), &size, NULL);
    if (rc < 0) {
        rpc_reply_error(c, rc == BP_EDELETED ? "ENOENT" : err_code(rc));
        return;
    }
    admin_reply(c, json_integer((json_int_t)size));
}

static void a_last_channel_time(const struct rpc_ctx *c, const json_t *data)
{
    const char *id = doc_id_arg(data);
    if (!id) {
        rpc_reply_error(c, "INVALID_CHAN");
        return;
    }
    struct admin_job *j = job_new(c, JOB_LAST_CHANNEL_TIME);
    if (fsu_shard_path(j->paths[0], sizeof j->paths[0], c->srv->cfg.data, "datastore", id, ".ndjson") < 0) {
        rpc_ctx_drop(j->ctx);
        free(j);
        rpc_reply_error(c, "INVALID_CHAN");
        return;
    }
    job_queue(j);
}

static void a_document_status(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *v = arg1(data);
    if (!json_is_string(v)) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    const char *id = json_string_value(v), *root = c->srv->cfg.data;
    size_t n = json_string_length(v);
    json_t *r = json_object();
    if (n == 44) {
        char k[45];
        for (size_t i = 0; i < 44; i++)
            k[i] = id[i] == '/' ? '-' : id[i];
        k[44] = '\0';
        if (!fsu_id_ok(k, 44)) {
            json_decref(r);
            rpc_reply_error(c, "EINVAL");
            return;
        }
        json_object_set_new(r, "live", json_boolean(path_exists(root, "block", k, "")));
        json_object_set_new(r, "archived", json_boolean(path_exists(root, "data/archive/block", k, "")));
        json_t *ph = read_text(root, "block", k, ".placeholder");
        if (ph)
            json_object_set_new(r, "placeholder", ph);
        json_t *mfa = read_text(root, "data/mfa", k, ".json");
        if (!mfa) {
            json_object_set_new(r, "totp", json_string("DISABLED"));
        } else {
            json_t *parsed = json_loads(json_string_value(mfa), 0, NULL);
            json_t *t = json_pack("{s:b}", "enabled", 1);
            const char *contact = json_string_value(json_object_get(parsed, "contact"));
            if (contact)
                json_object_set_new(t, "recovery", json_stringn(contact, strcspn(contact, ":")));
            json_object_set_new(r, "totp", t);
            json_decref(parsed);
            json_decref(mfa);
        }
    } else if (n == 48 || n == 32) {
        if (!fsu_id_ok(id, n)) {
            json_decref(r);
            rpc_reply_error(c, "EINVAL");
            return;
        }
        bool blob = n == 48;
        const char *sfx = blob ? "" : ".ndjson";
        json_object_set_new(r, "live", json_boolean(path_exists(root, blob ? "blob" : "datastore", id, sfx)));
        json_object_set_new(r, "archived",
                            json_boolean(path_exists(root, blob ? "data/archive/blob" : "data/archive/datastore", id, sfx)));
        json_t *ph = read_text(root, blob ? "blob" : "datastore", id, blob ? ".placeholder" : ".ndjson.placeholder");
        if (ph)
            json_object_set_new(r, "placeholder", ph);
    } else {
        json_decref(r);
        rpc_reply_error(c, "EINVAL");
        return;
    }
    admin_reply(c, r);
}

/* Archives one document for an admin; 0 or a bp_err. */
int admin_archive_document(struct server *srv, const char *id, const char *reason)
{
    struct buf why = BUF_INIT;
    buf_appendf(&why, "MODERATION_PAD:%s", reason ? reason : "");
    size_t n = strlen(id);
    int rc = BP_EBADID;
    if (n == 32 && store_id_valid(id, n))
        rc = hk_archive_channel(srv, id, why.data);
    else if (n == 48 && files_blob_id_valid(id, n))
        rc = files_blob_archive(srv, id, why.data);
    LOG_INFO("admin: archive %s (%s): %s", id, why.data, rc < 0 ? bp_strerror(rc) : "done");
    buf_free(&why);
    return rc;
}

static void a_archive_document(const struct rpc_ctx *c, const json_t *data)
{
    const char *reason, *id = id_reason(data, &reason);
    if (!id) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    size_t n = strlen(id);
    if (n != 32 && n != 48) {
        rpc_reply_error(c, "INVALID_ID_LENGTH");
        return;
    }
    int rc = admin_archive_document(c->srv, id, reason);
    if (rc < 0)
        rpc_reply_error(c, err_code(rc));
    else
        admin_reply(c, NULL);
}

static void a_archive_documents(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data), *list = json_object_get(a, "list");
    const char *reason = json_string_value(json_object_get(a, "reason"));
    if (!json_is_array(list)) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    json_t *failed = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *id = json_string_value(v);
        int rc = id && strlen(id) >= 32 ? admin_archive_document(c->srv, id, reason) : BP_EINVAL;
        if (rc < 0 && rc != BP_ENOENT)
            json_array_append(failed, v);
    }
    admin_reply(c, json_pack("{s:b,s:o}", "state", 1, "failed", failed));
}

static void a_restore_document(const struct rpc_ctx *c, const json_t *data)
{
    const char *reason, *id = id_reason(data, &reason);
    if (!id) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    size_t n = strlen(id);
    int rc;
    if (n == 32)
        rc = store_id_valid(id, n) ? hk_restore_channel(c->srv, id) : BP_EBADID;
    else if (n == 48)
        rc = files_blob_id_valid(id, n) ? files_blob_restore(c->srv, id) : BP_EBADID;
    else {
        rpc_reply_error(c, "INVALID_ID_LENGTH");
        return;
    }
    LOG_INFO("admin: restore %s: %s", id, rc < 0 ? bp_strerror(rc) : "done");
    if (rc < 0)
        rpc_reply_error(c, err_code(rc));
    else
        admin_reply(c, NULL);
}

/* REMOVE_DOCUMENT: archived (members told, placeholder written when there is
 * a reason), then the archived copy deleted. */
static void a_remove_document(const struct rpc_ctx *c, const json_t *data)
{
    const char *reason, *id = id_reason(data, &reason);
    if (!id) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    size_t n = strlen(id);
    if (n != 32 && n != 48) {
        rpc_reply_error(c, "INVALID_ID_LENGTH");
        return;
    }
    struct buf why = BUF_INIT;
    if (json_is_object(arg1(data)))
        buf_appendf(&why, "MODERATION_DESTROY:%s", reason ? reason : "");
    struct server *srv = c->srv;
    const char *root = srv->cfg.data;
    int rc;
    if (n == 32) {
        rc = store_id_valid(id, n) ? hk_archive_channel(srv, id, why.len ? why.data : NULL) : BP_EBADID;
        if (rc == 0) {
            static const char *const sfx[] = {".ndjson", ".metadata.ndjson"};
            for (int i = 0; i < 2; i++) {
                char p[FSU_PATH_MAX];
                if (fsu_shard_path(p, sizeof p, root, "data/archive/datastore", id, sfx[i]) == 0)
                    fsu_unlink(p);
            }
        }
    } else {
        rc = files_blob_id_valid(id, n) ? files_blob_archive(srv, id, why.len ? why.data : "MODERATION_DESTROY")
                                        : BP_EBADID;
        if (rc == 0) {
            static const char *const sfx[] = {"", ".metadata.ndjson", ".activity"};
            for (int i = 0; i < 3; i++) {
                char p[FSU_PATH_MAX];
                if (fsu_shard_path(p, sizeof p, root, "data/archive/blob", id, sfx[i]) == 0)
                    fsu_unlink(p);
            }
        }
    }
    LOG_INFO("admin: remove %s: %s", id, rc < 0 ? bp_strerror(rc) : "done");
    buf_free(&why);
    if (rc < 0)
        rpc_reply_error(c, err_code(rc));
    else
        admin_reply(c, NULL);
}

/* The {key} argument of the block commands: the 44-char key, or NULL after
 * replying with the reference's error. */
static const json_t *block_arg(const struct rpc_ctx *c, const json_t *data, const json_t **obj)
{
    const json_t *a = arg1(data);
    if (!a || json_is_null(a) || json_is_false(a)) {
        rpc_reply_error(c, "INVALID_ARGS");
        return NULL;
    }
    const json_t *k = json_object_get(a, "key");
    if (!json_is_string(k) || json_string_length(k) != 44) {
        rpc_reply_error(c, "EINVAL");
        return NULL;
    }
    *obj = a;
    return k;
}

static void a_archive_block(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = NULL, *k = block_arg(c, data, &a);
    if (!k)
        return;
    const char *reason = json_string_value(json_object_get(a, "reason"));
    struct buf why = BUF_INIT;
    buf_appendf(&why, "MODERATION_BLOCK:%s", reason ? reason : "");
    int rc = auth_block_archive(c->srv, json_string_value(k), why.data);
    LOG_INFO("admin: archive block %s: %s", json_string_value(k), rc < 0 ? bp_strerror(rc) : "done");
    buf_free(&why);
    if (rc < 0)
        rpc_reply_error(c, err_code(rc));
    else
        admin_reply(c, NULL);
}

static void a_restore_block(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = NULL, *k = block_arg(c, data, &a);
    if (!k)
        return;
    int rc = auth_block_restore(c->srv, json_string_value(k));
    LOG_INFO("admin: restore block %s: %s", json_string_value(k), rc < 0 ? bp_strerror(rc) : "done");
    if (rc < 0)
        rpc_reply_error(c, err_code(rc));
    else
        admin_reply(c, NULL);
}

static void a_cached_channel_noop(const struct rpc_ctx *c, const json_t *data)
{
    /* CLEAR_CACHED_CHANNEL_INDEX/METADATA: our caches follow every write, so
     * there is nothing stale to drop. */
    const json_t *v = arg1(data);
    if (!json_is_string(v) || json_string_length(v) < 32) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    admin_reply(c, NULL);
}

/* GET_CACHED_CHANNEL_INDEX: the reference answers with its in-memory index
 * of the channel ({cpIndex, offsetByHash, offsets, size, line}) or ENOENT
 * when it has none. Ours is the store's index of a channel in use (one with
 * members): {size: bytes of complete lines, line: lines}; ENOENT for a
 * channel nobody is in, whose index we do not load just to show it. */
static void a_cached_channel_index(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *v = arg1(data);
    if (!json_is_string(v) || json_string_length(v) < 32) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    const char *id = json_string_value(v);
    struct store_chan *sc = NULL;
    if (!store_id_valid(id, json_string_length(v)) || !nf_channel_find(c->srv, id) ||
        store_chan_open(c->srv->store, id, &sc) < 0) {
        rpc_reply_error(c, "ENOENT");
        return;
    }
    json_t *o = NULL;
    if (store_chan_exists(sc))
        o = json_pack("{s:I,s:I}", "size", (json_int_t)store_chan_size(sc), "line", (json_int_t)store_chan_lines(sc));
    store_chan_release(c->srv->store, sc);
    if (o)
        admin_reply(c, o);
    else
        rpc_reply_error(c, "ENOENT");
}

static void a_cached_channel_metadata(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *v = arg1(data);
    if (!json_is_string(v) || json_string_length(v) < 32) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    struct channel *ch = nf_channel_find(c->srv, json_string_value(v));
    if (!ch || !ch->meta) {
        rpc_reply_error(c, "ENOENT");
        return;
    }
    admin_reply(c, json_deep_copy(ch->meta));
}

static void a_admin_decree(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *value = arg1(data);
    if (!json_is_array(value)) {
        rpc_reply_error(c, "INVALID_DECREE");
        return;
    }
    const char *err;
    if (admin_decree(c->srv, json_string_value(json_array_get(value, 0)), json_array_get(value, 1), c->key, &err) < 0)
        rpc_reply_error(c, err);
    else
        admin_reply(c, NULL);
}

static void a_change_color(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data);
    if (!json_is_object(a)) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    json_t *args = json_pack("[O]", json_object_get(a, "color") ? json_object_get(a, "color") : json_null());
    const char *err;
    int rc = admin_decree(c->srv, "SET_ACCENT_COLOR", args, c->key, &err);
    json_decref(args);
    if (rc < 0) {
        rpc_reply_error(c, err);
        return;
    }
    c->srv->settings.fresh_key = server_now_ms();
    admin_reply(c, json_true());
}

static json_t *admins_data(const struct server *srv)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(srv->settings.admins_data, i, v) {
        const char *s = json_string_value(v);
        char key[45];
        char *name = NULL;
        if (!s || decree_canon_key(s, strlen(s), key, &name) < 0)
            continue;
        json_t *o = json_pack("{s:s}", "edPublic", key);
        if (strlen(s) == 44)
            json_object_set_new(o, "first", json_true());
        json_object_set_new(o, "hardcoded", json_boolean(decree_key_in_list(srv->cfg.admin_keys, key)));
        if (name)
            json_object_set_new(o, "name", json_string(name));
        free(name);
        json_array_append_new(out, o);
    }
    return out;
}

static void a_instance_status(const struct rpc_ctx *c, const json_t *data)
{
    const struct settings *st = &c->srv->settings;
    json_t *o = json_object();
#define COPY(from, k, dflt)                                                   \
    do {                                                                      \
        json_t *x_ = json_object_get((from), (k)), *d_ = (dflt);              \
        if (x_) {                                                             \
            json_object_set((o), (k), x_);                                    \
            json_decref(d_);                                                  \
        } else if (d_) {                                                      \
            json_object_set_new((o), (k), d_);                                \
        }                                                                     \
    } while (0)
    COPY(st->config_extra, "appsToDisable", NULL);
    json_object_set_new(o, "restrictRegistration", json_boolean(st->restrict_registration));
    COPY(st->config_extra, "restrictSsoRegistration", NULL);
    COPY(st->extra, "dontStoreSSOUsers", NULL);
    COPY(st->extra, "dontStoreInvitedUsers", NULL);
    json_object_set_new(o, "enableEmbedding", json_boolean(st->enable_embedding));
    json_object_set_new(o, "launchTime", json_integer(st->launch_time));
    json_object_set_new(o, "currentTime", json_integer(server_now_ms()));
    json_object_set_new(o, "inactiveTime", json_integer(st->inactive_days));
    if (st->account_retention_days)
        json_object_set_new(o, "accountRetentionTime", json_integer(st->account_retention_days));
    json_object_set_new(o, "archiveRetentionTime", json_integer(st->archive_retention_days));
    json_object_set_new(o, "defaultStorageLimit", json_integer((json_int_t)st->default_limit));
    json_object_set_new(o, "lastEviction", json_integer(st->last_eviction));
    json_object_set(o, "evictionReport", st->eviction_report);
    json_object_set_new(o, "disableIntegratedEviction", json_boolean(!st->eviction));
    COPY(st->extra, "disableIntegratedTasks", json_false());
    COPY(st->extra, "enableProfiling", json_false());
    COPY(st->extra, "profilingWindow", json_integer(10000));
    json_object_set_new(o, "maxUploadSize", json_integer((json_int_t)st->max_upload));
    if (st->premium_upload)
        json_object_set_new(o, "premiumUploadSize", json_integer((json_int_t)st->premium_upload));
    COPY(st->extra, "consentToContact", json_false());
    COPY(st->config_extra, "listMyInstance", json_false());
    COPY(st->extra, "provideAggregateStatistics", json_false());
    COPY(st->config_extra, "removeDonateButton", json_false());
    COPY(st->extra, "blockDailyCheck", json_false());
    COPY(st->extra, "instancePurpose", NULL);
    json_object_set(o, "instanceDescription", json_object_get(st->instance, "description"));
    json_object_set(o, "instanceJurisdiction", json_object_get(st->instance, "location"));
    json_object_set(o, "instanceName", json_object_get(st->instance, "name"));
    json_object_set(o, "instanceNotice", json_object_get(st->instance, "notice"));
    COPY(st->config_extra, "enforceMFA", NULL);
    json_object_set_new(o, "admins", admins_data(c->srv));
#undef COPY
    admin_reply(c, o);
}

static void a_get_limits(const struct rpc_ctx *c, const json_t *data)
{
    admin_reply(c, json_deep_copy(c->srv->settings.limits));
}

static void a_set_last_eviction(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *t = arg1(data);
    if (!json_is_number(t)) {
        rpc_reply_error(c, "INVALID_ARGS");
        return;
    }
    c->srv->settings.last_eviction = (long long)json_number_value(t);
    LOG_INFO("admin: last eviction time set to %lld by %s", c->srv->settings.last_eviction, c->key);
    admin_reply(c, NULL);
}

static void a_worker_profiles(const struct rpc_ctx *c, const json_t *data)
{
    admin_reply(c, json_object()); /* no worker processes here */
}

/* ---- eviction ----------------------------------------------------------------------------- */

static void evict_done(struct server *srv, void *arg, json_t *report, const char *err)
{
    struct admin_state *as = srv->admin;
    as->evicting = false;
    if (report) {
        json_decref(srv->settings.eviction_report);
        srv->settings.eviction_report = json_incref(report);
    } else {
        LOG_WARN("evict: stopped: %s", err ? err : "?");
    }
    if (as->evict_ctx) {
        if (report)
            admin_reply(as->evict_ctx, json_incref(report));
        else
            rpc_reply_error(as->evict_ctx, err ? err : "EIO");
        rpc_ctx_drop(as->evict_ctx);
        as->evict_ctx = NULL;
    }
    json_decref(report);
}

static int evict_begin(struct server *srv, bool dry_run)
{
    const struct settings *st = &srv->settings;
    struct evict_params p = {
        .now_ms = server_now_ms(),
        .inactive_days = st->inactive_days,
        .archive_days = st->archive_retention_days,
        .account_days = st->account_retention_days,
        .dry_run = dry_run,
    };
    int rc = evict_start(srv, &p, evict_done, NULL);
    if (rc == 0) {
        srv->admin->evicting = true;
        srv->settings.last_eviction = p.now_ms;
        LOG_INFO("evict: started (inactive %u days, archive retention %u days, account retention %u days%s)",
                 p.inactive_days, p.archive_days, p.account_days, dry_run ? ", dry run" : "");
    }
    return rc;
}

static void a_evict_inactive(const struct rpc_ctx *c, const json_t *data)
{
    struct admin_state *as = c->srv->admin;
    if (as->evicting) {
        rpc_reply_error(c, "EBUSY");
        return;
    }
    bool dry = json_is_true(json_object_get(arg1(data), "dryRun"));
    int rc = evict_begin(c->srv, dry);
    if (rc < 0) {
        rpc_reply_error(c, rc == BP_EINVAL ? "NO_INACTIVE_TIME" : err_code(rc));
        return;
    }
    as->evict_ctx = rpc_ctx_keep(c);
}

void admin_tick(struct server *srv)
{
    struct admin_state *as = srv->admin;
    if (!as || as->evicting || !srv->settings.eviction || srv->stopping)
        return;
    /* At most once a day; the first run a day after start (the reference). */
    if (server_now_ms() - srv->settings.last_eviction < DAY_MS)
        return;
    if (evict_begin(srv, false) < 0)
        srv->settings.last_eviction = server_now_ms(); /* NO_INACTIVE_TIME: try again tomorrow */
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    admin_fn fn;
} g_admin[] = {
    {"ACTIVE_SESSIONS", a_active_sessions},
    {"ACTIVE_PADS", a_active_pads},
    {"REGISTERED_USERS", a_registered_users},
    {"DISK_USAGE", a_disk_usage},
    {"FLUSH_CACHE", a_flush_cache},
    {"SHUTDOWN", a_shutdown},
    {"GET_FILE_DESCRIPTOR_COUNT", a_fd_count},
    {"GET_FILE_DESCRIPTOR_LIMIT", a_fd_limit},
    {"GET_CACHE_STATS", a_cache_stats},
    {"GET_PIN_ACTIVITY", a_pin_activity},
    {"IS_USER_ONLINE", a_is_user_online},
    {"GET_USER_QUOTA", a_user_quota},
    {"GET_USER_STORAGE_STATS", a_user_storage_stats},
    {"GET_PIN_LOG_STATUS", a_pin_log_status},
    {"GET_METADATA_HISTORY", a_metadata_history},
    {"GET_STORED_METADATA", a_stored_metadata},
    {"GET_DOCUMENT_SIZE", a_document_size},
    {"GET_LAST_CHANNEL_TIME", a_last_channel_time},
    {"GET_DOCUMENT_STATUS", a_document_status},
    {"GET_PIN_LIST", a_pin_list},
    {"GET_PIN_HISTORY", a_not_implemented},
    {"ARCHIVE_OWNED_DOCUMENTS", a_not_implemented},
    {"ARCHIVE_BLOCK", a_archive_block},
    {"RESTORE_ARCHIVED_BLOCK", a_restore_block},
    {"ARCHIVE_DOCUMENT", a_archive_document},
    {"ARCHIVE_DOCUMENTS", a_archive_documents},
    {"RESTORE_ARCHIVED_DOCUMENT", a_restore_document},
    {"CLEAR_CACHED_CHANNEL_INDEX", a_cached_channel_noop},
    {"CLEAR_CACHED_CHANNEL_METADATA", a_cached_channel_noop},
    {"GET_CACHED_CHANNEL_METADATA", a_cached_channel_metadata},
    {"GET_CACHED_CHANNEL_INDEX", a_cached_channel_index},
    {"ADMIN_DECREE", a_admin_decree},
    {"INSTANCE_STATUS", a_instance_status},
    {"GET_LIMITS", a_get_limits},
    {"SET_LAST_EVICTION", a_set_last_eviction},
    {"GET_WORKER_PROFILES", a_worker_profiles},
    {"GET_USER_TOTAL_SIZE", a_user_total_size},
    {"REMOVE_DOCUMENT", a_remove_document},
    {"CHANGE_COLOR", a_change_color},
    {"EVICT_INACTIVE", a_evict_inactive},
};

static void signed_admin(const struct rpc_ctx *c, const json_t *arg)
{
    if (!settings_is_admin(c->srv, c->key)) {
        rpc_reply_error(c, "FORBIDDEN");
        return;
    }
    const char *name = json_string_value(json_array_get(arg, 0));
    if (name)
        for (size_t i = 0; i < sizeof g_admin / sizeof g_admin[0]; i++)
            if (strcmp(name, g_admin[i].name) == 0) {
                g_admin[i].fn(c, arg);
                return;
            }
    if (name)
        for (const struct admin_cmd *a = admin_accounts_cmds; a->name; a++)
            if (strcmp(name, a->name) == 0) {
                a->fn(c, arg);
                return;
            }
    rpc_reply_error(c, "UNHANDLED_ADMIN_COMMAND");
}

/* ADD_FIRST_ADMIN {token, edPublic}: checks in the reference's order. */
static void anon_add_first_admin(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    if (!srv->settings.install_token[0]) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    const json_t *token = json_object_get(arg, "token"), *ed = json_object_get(arg, "edPublic");
    bool tok_set = token && !json_is_null(token) && !json_is_false(token) &&
                   !(json_is_string(token) && json_string_length(token) == 0);
    bool ed_set = ed && !json_is_null(ed) && !json_is_false(ed) && !(json_is_string(ed) && json_string_length(ed) == 0);
    if (!tok_set || !ed_set) {
        rpc_reply_error(c, "MISSING_ARGS");
        return;
    }
    if (!json_is_string(token) || json_string_length(token) != 64 || !json_is_string(ed) ||
        json_string_length(ed) != 44) {
        rpc_reply_error(c, "INVALID_ARGS");
        return;
    }
    if (strlen(srv->settings.install_token) != 64 ||
        sodium_memcmp(json_string_value(token), srv->settings.install_token, 64) != 0) {
        rpc_reply_error(c, "FORBIDDEN");
        return;
    }
    if (json_array_size(srv->settings.admins) > 0) {
        rpc_reply_error(c, "EEXISTS");
        return;
    }
    json_t *args = json_pack("[O]", ed);
    const char *err;
    int rc = admin_decree(srv, "ADD_ADMIN_KEY", args, "", &err);
    json_decref(args);
    if (rc < 0) {
        rpc_reply_error(c, err);
        return;
    }
    srv->settings.fresh_key = server_now_ms();
    LOG_INFO("admin: first administrator added: %s", json_string_value(ed));
    rpc_reply_anon(c, "null");
}

const struct rpc_cmd admin_rpc_cmds[] = {
    {"ADMIN", signed_admin, RPC_SIGNED},
    {"ADD_FIRST_ADMIN", anon_add_first_admin, RPC_ANON},
    {NULL, NULL, RPC_ANON},
};

void admin_free(struct server *srv)
{
    struct admin_state *as = srv->admin;
    if (!as)
        return;
    rpc_ctx_drop(as->evict_ctx);
    admin_accounts_free(srv);
    free(as);
    srv->admin = NULL;
}
