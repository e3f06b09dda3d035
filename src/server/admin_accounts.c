/* admin_accounts.c: the ADMIN commands about accounts and people (see
 * admin_accounts.h; SERVER-API.md §2.10, §4.7, §4.10).
 *
 * FILES (under the data root, CryptPad's layout with its defaults: base
 * ./data, archivePath ./data/archive):
 *
 *   data/invitations/<id[0:2]>/<id>     an invitation: {"alias":..,"email":..,
 *                                       "createdBy":"<admin edPublic>","time":ms}
 *                                       (alias/email only when given). id = 32
 *                                       lowercase hex chars (16 random bytes).
 *                                       WRITE_BLOCK with inviteToken = id uses
 *                                       it once (auth.c) and deletes it.
 *   data/users/<k[0:2]>/<k>             a known user, k = its URL-safe edPublic:
 *                                       {"edPublic","block","alias","email","name",
 *                                       "type":"manual"|"invite:<id>","createdBy",
 *                                       "time"} (auth.c writes the invite ones and
 *                                       moves "block" on a password change)
 *   data/support/<k[0:2]>/<k>           a moderator: {"name","edPublic","curvePublic",
 *                                       "mailbox","profile","createdBy","time"}; the
 *                                       file names are /api/config's moderatorKeys
 *   data/archive/accounts/<k>           an account archive report (not sharded):
 *                                       {"key":"<k>","channels":[ids],"blobs":[ids],
 *                                       "blockId":"<block key>"?,"reason":..?}
 *   data/archive/mfa/<xx>/<b>.json      the archived MFA settings of the account's
 *                                       block (auth_mfa_archive; ours, see below)
 *   data/logo                           the logo uploaded by an admin (raw bytes);
 *                                       its type is the SET_LOGO_MIME decree
 *
 * Records are written whole (fsu_write_atomic; invitations create-only) and
 * are at most RECORD_WRITE_MAX bytes, so that auth.c (which reads them with
 * a 64 KiB limit) always can. Listing them (GET_ALL_*) runs on the thread
 * pool; everything else is a few small files on the loop.
 *
 * ACCOUNT ARCHIVAL (the reference's lib/archive-account.js, run there in a
 * worker thread): the account's pin set is read; each pinned blob whose
 * owners include the key, and each pinned channel whose only owner is the
 * key, is archived with the placeholder "MODERATION_ACCOUNT:<reason>"
 * (members of a channel get EDELETED); then the pin log is archived, the
 * login block (args.block, else the pin log's "#block" entry) is archived
 * with the same placeholder, its MFA settings are archived, and the report
 * is written. The documents are handled SLICE at a time, each slice queued
 * as an empty thread-pool job so the loop serves others in between.
 * RESTORE_ACCOUNT replays the report backwards and deletes it. One archival
 * or restoration per account at a time (EBUSY).
 *
 * Deviations (also in docs/notes/pins-admin.md): keys are accepted in either
 * form (and "[user@host/KEY]") and canonicalised, file names always use the
 * URL-safe form; the block's MFA file is archived and restored (the
 * reference deletes it, so a restored account lost its second factor); a
 * second archival of an archived account merges into the existing report
 * (the reference overwrites it with empty lists, losing what RESTORE needs);
 * a pin log is not restored over a live one (the reference would overwrite
 * a pin log the user started since); UPLOAD_LOGO takes image types only and
 * REMOVE_LOGO also refreshes the cache key. */
#include "server/admin_accounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/meta.h"
#include "server/admin.h"
#include "server/auth.h"
#include "server/decree.h"
#include "server/files.h"
#include "server/pins.h"
#include "server/rpc_internal.h"
#include "server/server.h"
#include "storage/block.h"
#include "storage/fsutil.h"
#include "storage/pinlog.h"

#define RECORD_READ_MAX ((size_t)64 << 10)  /* a record larger than this is listed as an error */
#define RECORD_WRITE_MAX ((size_t)16 << 10) /* E_TOO_LONG above */
#define FIELD_MAX 300                       /* UPDATE_KNOWN_USER: a value's length (reference) */
#define REPORT_MAX ((size_t)64 << 20)       /* an account report larger than this is refused */
#define LOGO_MAX ((size_t)200 * 1024)       /* decoded logo (reference MAX_LOGO_SIZE) */
#define LOGO_URL_MAX (LOGO_MAX * 4 / 3 + 24) /* the reference's check on the data URL */
#define SLICE 64                            /* documents archived or restored per loop turn */

struct acct_job;

struct admin_accounts {
    struct acct_job *jobs; /* archivals and restorations under way (not owned: each frees itself) */
};

/* ---- small helpers ------------------------------------------------------------- */

static const json_t *arg1(const json_t *data)
{
    return json_array_get(data, 1);
}

static bool truthy(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_number(v))
        return json_number_value(v) != 0;
    return true;
}

static const char *code(int rc)
{
    switch (rc) {
    case BP_ENOENT: return "ENOENT";
    case BP_EEXIST: return "EEXIST";
    case BP_ENOSPC: return "ENOSPC";
    case BP_EROFS: return "EROFS";
    case BP_EBADID:
    case BP_EINVAL: return "EINVAL";
    case BP_ETOOBIG: return "E_TOO_LONG";
    default: return "EIO";
    }
}

/* A user id as a JSON value (44-char key in either form, "[user@host/KEY]")
 * to its standard and URL-safe forms. */
static bool canon_key(const json_t *v, char unsafe[45], char safe[45])
{
    if (!json_is_string(v) ||
        decree_canon_key(json_string_value(v), json_string_length(v), unsafe, NULL) < 0 ||
        !decree_valid_public_key(unsafe, 44))
        return false;
    for (size_t i = 0; i <= 44; i++)
        safe[i] = unsafe[i] == '/' ? '-' : unsafe[i];
    return true;
}

static bool sync_writes(const struct server *srv)
{
    return srv->cfg.fsync != STORE_FSYNC_NONE;
}

/* Writes a record (JSON object) whole; create-only when excl. */
static int record_write(struct server *srv, const char *path, const json_t *rec, bool excl)
{
    size_t n;
    char *s = jsonw_dump(rec, &n);
    int rc = n > RECORD_WRITE_MAX ? BP_ETOOBIG
             : excl              ? fsu_write_excl(path, s, n, sync_writes(srv))
                                 : fsu_write_atomic(path, s, n, sync_writes(srv));
    free(s);
    return rc;
}

/* Reads a JSON file: 0 with *out, BP_ENOENT, BP_ECORRUPT or another error. */
static int read_json(const char *path, size_t max, json_t **out)
{
    struct buf b = BUF_INIT;
    *out = NULL;
    int rc = fsu_read(path, max, &b);
    if (rc == 0 && !(*out = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY, NULL)))
        rc = BP_ECORRUPT;
    buf_free(&b);
    return rc;
}

/* Sets dst[k] to src[k] when src has it (JSON.stringify drops undefined). */
static void copy_field(json_t *dst, const json_t *src, const char *k)
{
    json_t *v = json_object_get(src, k);
    if (v)
        json_object_set(dst, k, v);
}

static int record_path(const struct server *srv, const char *dir, const char *id, char *out, size_t cap)
{
    return fsu_shard_path(out, cap, srv->cfg.data, dir, id, "");
}

/* ---- listing records (thread pool) ------------------------------------------------ */

struct list_job {
    uv_work_t work;
    struct server *srv;
    struct rpc_ctx *ctx;
    char dir[FSU_PATH_MAX];
    bool unescape;   /* moderators: names are keys, listed in the standard form */
    json_t *result;  /* built by the worker (not shared) */
    const char *err; /* static */
};

static void list_file(struct list_job *j, int dfd, const char *name)
{
    size_t n = strlen(name);
    /* temporary files of fsu_write_atomic and anything that is not an id */
    if (name[0] == '.' || strstr(name, ".tmp-") || !fsu_id_ok(name, n))
        return;
    json_t *v = NULL;
    const char *err = NULL;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        err = errno == ENOENT ? NULL : "EIO"; /* deleted meanwhile: not listed */
        if (!err)
            return;
    } else {
        struct buf b = BUF_INIT;
        char tmp[4096];
        ssize_t r;
        while ((r = read(fd, tmp, sizeof tmp)) > 0 && b.len <= RECORD_READ_MAX)
            buf_append(&b, tmp, (size_t)r);
        close(fd);
        if (r < 0)
            err = "EIO";
        else if (b.len > RECORD_READ_MAX)
            err = "E_TOO_LONG";
        else if (!(v = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY, NULL)))
            err = "EINVAL";
        buf_free(&b);
    }
    if (!v)
        v = json_pack("{s:s}", "error", err);
    char key[201];
    snprintf(key, sizeof key, "%s", name);
    if (j->unescape)
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '/';
    json_object_set_new(j->result, key, v);
}

static void list_entry(void *ud, int shard_fd, const char *name)
{
    list_file(ud, shard_fd, name);
}

static void list_run(uv_work_t *w)
{
    struct list_job *j = w->data;
    j->result = json_object();
    int rc = fsu_walk_shards(j->dir, list_entry, j);
    if (rc < 0 && rc != BP_ENOENT)
        j->err = "EIO";
}

static void list_after(uv_work_t *w, int status)
{
    struct list_job *j = w->data;
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

/* Replies with {name: record} for data/<dir>/<xx>/<name>. */
static void list_records(const struct rpc_ctx *c, const char *dir, bool unescape)
{
    struct list_job *j = xcalloc(1, sizeof *j);
    if (snprintf(j->dir, sizeof j->dir, "%s/%s", c->srv->cfg.data, dir) >= (int)sizeof j->dir) {
        free(j);
        rpc_reply_error(c, "EINVAL");
        return;
    }
    j->srv = c->srv;
    j->ctx = rpc_ctx_keep(c);
    j->unescape = unescape;
    j->work.data = j;
    j->srv->pending_work++;
    uv_queue_work(j->srv->loop, &j->work, list_run, list_after);
}

/* ---- invitations ----------------------------------------------------------------- */

static void a_get_all_invitations(const struct rpc_ctx *c, const json_t *data)
{
    list_records(c, "data/invitations", false);
}

/* ["CREATE_INVITATION", {alias, email}] -> the new id */
static void a_create_invitation(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data);
    if (!json_is_object(a)) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    json_t *rec = json_object();
    copy_field(rec, a, "alias");
    copy_field(rec, a, "email");
    json_object_set_new(rec, "createdBy", json_string(c->key));
    json_object_set_new(rec, "time", json_integer(server_now_ms()));
    uint8_t raw[16];
    char id[33], p[FSU_PATH_MAX];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(id, sizeof id, raw, sizeof raw);
    int rc = record_path(c->srv, "data/invitations", id, p, sizeof p);
    if (rc == 0)
        rc = record_write(c->srv, p, rec, true);
    json_decref(rec);
    if (rc < 0) {
        LOG_WARN("admin: cannot create an invitation: %s", bp_strerror(rc));
        rpc_reply_error(c, code(rc));
        return;
    }
    LOG_INFO("admin: invitation %s created by %s", id, c->key);
    admin_reply(c, json_string(id));
}

/* ["DELETE_INVITATION", id] -> true (also when there was none) */
static void a_delete_invitation(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *v = arg1(data);
    char p[FSU_PATH_MAX];
    if (!json_is_string(v) || record_path(c->srv, "data/invitations", json_string_value(v), p, sizeof p) < 0) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    int rc = fsu_unlink(p);
    if (rc < 0 && rc != BP_ENOENT) {
        rpc_reply_error(c, code(rc));
        return;
    }
    if (rc == 0)
        LOG_INFO("admin: invitation %s deleted", json_string_value(v));
    admin_reply(c, json_true());
}

/* ---- known users ----------------------------------------------------------------- */

static void a_get_all_users(const struct rpc_ctx *c, const json_t *data)
{
    list_records(c, "data/users", false);
}

/* ["ADD_KNOWN_USER", {edPublic, block, alias, email, name}] -> nothing */
static void a_add_known_user(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data);
    char key[45], safe[45], p[FSU_PATH_MAX];
    if (!json_is_object(a) || !canon_key(json_object_get(a, "edPublic"), key, safe) ||
        record_path(c->srv, "data/users", safe, p, sizeof p) < 0) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    json_t *rec = json_pack("{s:s}", "edPublic", key);
    copy_field(rec, a, "block");
    copy_field(rec, a, "alias");
    copy_field(rec, a, "email");
    copy_field(rec, a, "name");
    json_object_set_new(rec, "type", json_string("manual"));
    json_object_set_new(rec, "createdBy", json_string(c->key));
    json_object_set_new(rec, "time", json_integer(server_now_ms()));
    int rc = record_write(c->srv, p, rec, false);
    json_decref(rec);
    if (rc < 0) {
        rpc_reply_error(c, code(rc));
        return;
    }
    LOG_INFO("admin: known user %s added by %s", key, c->key);
    admin_reply(c, NULL);
}

/* Removes the record of data's key under dir (a missing one is fine). Fills
 * key; returns 1 if a record was removed, 0 if there was none, or -1 after
 * replying with the error. */
static int record_delete(const struct rpc_ctx *c, const json_t *data, const char *dir, char key[45])
{
    char safe[45], p[FSU_PATH_MAX];
    if (!canon_key(arg1(data), key, safe) || record_path(c->srv, dir, safe, p, sizeof p) < 0) {
        rpc_reply_error(c, "EINVAL");
        return -1;
    }
    int rc = fsu_unlink(p);
    if (rc < 0 && rc != BP_ENOENT) {
        rpc_reply_error(c, code(rc));
        return -1;
    }
    return rc == 0;
}

/* ["DELETE_KNOWN_USER", key] -> true (also when there was none) */
static void a_delete_known_user(const struct rpc_ctx *c, const json_t *data)
{
    char key[45];
    int rc = record_delete(c, data, "data/users", key);
    if (rc < 0)
        return;
    if (rc == 1)
        LOG_INFO("admin: known user %s deleted", key);
    admin_reply(c, json_true());
}

/* A change's length as the reference measures it (String(value).length):
 * UTF-16 units of a string; other values by their JSON text. */
static size_t change_length(const json_t *v)
{
    if (json_is_string(v)) {
        const unsigned char *s = (const unsigned char *)json_string_value(v);
        size_t n = json_string_length(v), units = 0;
        for (size_t i = 0; i < n; i++)
            if ((s[i] & 0xC0) != 0x80)
                units += (s[i] >= 0xF0) ? 2 : 1;
        return units;
    }
    size_t n = 0;
    free(jsonw_dump(v, &n));
    return n;
}

/* ["UPDATE_KNOWN_USER", {edPublic, changes}] -> nothing. A false value
 * deletes the field; nothing at all when the user is not known (reference). */
static void a_update_known_user(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data);
    char key[45], safe[45], p[FSU_PATH_MAX];
    if (!json_is_object(a) || !canon_key(json_object_get(a, "edPublic"), key, safe) ||
        record_path(c->srv, "data/users", safe, p, sizeof p) < 0) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    json_t *rec = NULL;
    int rc = read_json(p, RECORD_READ_MAX, &rec);
    if (rc == BP_ENOENT) {
        admin_reply(c, NULL);
        return;
    }
    const json_t *changes = json_object_get(a, "changes");
    if (rc < 0 || !json_is_object(rec) || (changes && !json_is_object(changes) && !json_is_null(changes))) {
        json_decref(rec);
        rpc_reply_error(c, rc < 0 && rc != BP_ECORRUPT ? code(rc) : "EINVAL");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)changes, k, v) {
        if (json_is_false(v)) {
            json_object_del(rec, k);
        } else if (change_length(v) > FIELD_MAX) {
            json_decref(rec);
            rpc_reply_error(c, "E_TOO_LONG");
            return;
        } else {
            json_object_set(rec, k, v);
        }
    }
    rc = record_write(c->srv, p, rec, false);
    json_decref(rec);
    if (rc < 0) {
        rpc_reply_error(c, code(rc));
        return;
    }
    LOG_INFO("admin: known user %s updated", key);
    admin_reply(c, NULL);
}

/* ---- moderators -------------------------------------------------------------------- */

static bool moderator_listed(const struct server *srv, const char *key)
{
    size_t i;
    json_t *m;
    json_array_foreach(srv->settings.moderators, i, m) {
        if (json_is_string(m) && strcmp(json_string_value(m), key) == 0)
            return true;
    }
    return false;
}

static void a_get_moderators(const struct rpc_ctx *c, const json_t *data)
{
    list_records(c, "data/support", true);
}

/* ["ADD_MODERATOR", {name, edPublic, curvePublic, mailbox, profile}] -> nothing */
static void a_add_moderator(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data);
    char key[45], safe[45], p[FSU_PATH_MAX];
    if (!json_is_object(a) || !canon_key(json_object_get(a, "edPublic"), key, safe) ||
        record_path(c->srv, "data/support", safe, p, sizeof p) < 0) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    json_t *rec = json_object();
    copy_field(rec, a, "name");
    json_object_set_new(rec, "edPublic", json_string(key));
    copy_field(rec, a, "curvePublic");
    copy_field(rec, a, "mailbox");
    copy_field(rec, a, "profile");
    json_object_set_new(rec, "createdBy", json_string(c->key));
    json_object_set_new(rec, "time", json_integer(server_now_ms()));
    int rc = record_write(c->srv, p, rec, false);
    json_decref(rec);
    if (rc < 0) {
        rpc_reply_error(c, code(rc));
        return;
    }
    if (!moderator_listed(c->srv, key))
        json_array_append_new(c->srv->settings.moderators, json_string(key));
    LOG_INFO("admin: moderator %s added by %s", key, c->key);
    admin_reply(c, NULL);
}

/* ["REMOVE_MODERATOR", key] -> true (also when there was none) */
static void a_remove_moderator(const struct rpc_ctx *c, const json_t *data)
{
    char key[45];
    if (record_delete(c, data, "data/support", key) < 0)
        return;
    json_t *list = c->srv->settings.moderators;
    for (size_t i = json_array_size(list); i-- > 0;) {
        const char *m = json_string_value(json_array_get(list, i));
        if (m && strcmp(m, key) == 0)
            json_array_remove(list, i);
    }
    LOG_INFO("admin: moderator %s removed", key);
    admin_reply(c, json_true());
}

/* The reference's Moderators.getKeysSync at start: every file name under
 * data/support/<xx>/ that is a key. */
static void moderator_entry(void *ud, int shard_fd, const char *fname)
{
    struct server *srv = ud;
    json_t *name = json_string(fname);
    char key[45], safe[45];
    if (name && canon_key(name, key, safe) && !moderator_listed(srv, key))
        json_array_append_new(srv->settings.moderators, json_string(key));
    json_decref(name);
}

static void moderators_load(struct server *srv)
{
    char dir[FSU_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/data/support", srv->cfg.data) >= (int)sizeof dir)
        return;
    fsu_walk_shards(dir, moderator_entry, srv);
    if (json_array_size(srv->settings.moderators))
        LOG_INFO("admin: %zu moderator(s)", json_array_size(srv->settings.moderators));
}

/* ["ARCHIVE_SUPPORT"]: archives every document the support key pins (reason
 * DISABLE_SUPPORT) -> nothing. */
static void a_archive_support(const struct rpc_ctx *c, const json_t *data)
{
    struct server *srv = c->srv;
    const char *k = settings_support_pin_key(srv);
    char key[45], safe[45];
    json_t *jk = json_string(k);
    bool ok = jk && canon_key(jk, key, safe);
    json_decref(jk);
    if (!ok) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    int err;
    const struct pinlog *pl = pins_get(srv, key, &err);
    if (!pl) {
        rpc_reply_error(c, code(err));
        return;
    }
    /* Copied: archiving may touch the pin cache. */
    const struct pinlog_id **ids;
    size_t n = pinlog_sorted(pl, &ids);
    char **copy = xcalloc(n + 1, sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = xstrndup(ids[i]->id, ids[i]->len);
    free(ids);
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        done += admin_archive_document(srv, copy[i], "DISABLE_SUPPORT") == 0;
        free(copy[i]);
    }
    free(copy);
    LOG_INFO("admin: support disabled by %s: %zu of %zu document(s) archived", c->key, done, n);
    admin_reply(c, NULL);
}

/* ---- DISABLE_MFA ------------------------------------------------------------------- */

/* ["DISABLE_MFA", blockKey] -> {success:true}; MFA_ERROR when the block has
 * no MFA settings (or they cannot be deleted), as the reference. */
static void a_disable_mfa(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *v = arg1(data);
    if (!json_is_string(v) || json_string_length(v) != 44) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    int rc = auth_mfa_revoke(c->srv, json_string_value(v));
    if (rc < 0) {
        rpc_reply_error(c, rc == BP_EBADID ? "EINVAL" : "MFA_ERROR");
        return;
    }
    admin_reply(c, json_pack("{s:b}", "success", 1));
}

/* ---- account archival ------------------------------------------------------------- */

struct acct_job {
    uv_work_t work;
    struct server *srv;
    struct rpc_ctx *ctx;
    struct acct_job *next;   /* admin_accounts.jobs */
    bool restore;
    char key[45], safe[45];  /* the account's edPublic, both forms */
    char **ids;              /* documents to archive / restore (owned) */
    size_t nids, pos;
    char *placeholder;       /* archive: "MODERATION_ACCOUNT:<reason>" */
    json_t *reason;          /* archive: args.reason as given, or NULL */
    char *block;             /* the block key, or NULL */
    json_t *channels, *blobs; /* archive: what was archived */
    json_t *errors;          /* restore: ids that could not be restored */
};

static struct admin_accounts *state(struct server *srv)
{
    return *admin_accounts_slot(srv);
}

static int report_path(const struct server *srv, const char *safe, char *out, size_t cap)
{
    if (!fsu_id_ok(safe, strlen(safe)))
        return BP_EBADID;
    return snprintf(out, cap, "%s/data/archive/accounts/%s", srv->cfg.data, safe) < (int)cap ? 0 : BP_ETOOBIG;
}

static void job_free(struct acct_job *j)
{
    struct admin_accounts *st = state(j->srv);
    for (struct acct_job **pp = &st->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    for (size_t i = 0; i < j->nids; i++)
        free(j->ids[i]);
    free(j->ids);
    free(j->placeholder);
    free(j->block);
    json_decref(j->reason);
    json_decref(j->channels);
    json_decref(j->blobs);
    json_decref(j->errors);
    rpc_ctx_drop(j->ctx);
    free(j);
}

static bool job_busy(struct server *srv, const char *safe)
{
    for (struct acct_job *j = state(srv)->jobs; j; j = j->next)
        if (strcmp(j->safe, safe) == 0)
            return true;
    return false;
}

static void job_add_id(struct acct_job *j, const char *id, size_t len)
{
    j->ids = xrealloc(j->ids, (j->nids + 1) * sizeof *j->ids);
    j->ids[j->nids++] = xstrndup(id, len);
}

static bool list_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static bool owners_include(const json_t *meta, const char *key)
{
    const json_t *owners = json_object_get(meta, "owners");
    return json_is_array(owners) && list_has(owners, key);
}

/* One pinned document of an account being archived. */
static void archive_one(struct acct_job *j, const char *id)
{
    struct server *srv = j->srv;
    size_t n = strlen(id);
    int rc;
    if (n == 48) {
        json_t *m = files_blob_meta(srv, id);
        bool own = owners_include(m, j->key);
        json_decref(m);
        if (!own)
            return;
        if ((rc = files_blob_archive(srv, id, j->placeholder)) == 0)
            json_array_append_new(j->blobs, json_string(id));
    } else {
        struct channel *ch = nf_channel_find(srv, id);
        json_t *m = ch ? json_incref((json_t *)nf_channel_meta(ch)) : nf_meta_read(srv, id);
        const json_t *owners = json_object_get(m, "owners");
        /* Only the documents this account alone owns (Core.hasOwners/isOwner). */
        bool only = json_is_array(owners) && json_array_size(owners) == 1 && owners_include(m, j->key);
        json_decref(m);
        if (!only)
            return;
        if ((rc = hk_archive_channel(srv, id, j->placeholder)) == 0)
            json_array_append_new(j->channels, json_string(id));
    }
    if (rc < 0)
        LOG_WARN("admin: account %s: cannot archive %s: %s", j->safe, id, bp_strerror(rc));
}

static void restore_one(struct acct_job *j, const char *id)
{
    size_t n = strlen(id);
    int rc = n == 32 && store_id_valid(id, n)        ? hk_restore_channel(j->srv, id)
             : n == 48 && files_blob_id_valid(id, n) ? files_blob_restore(j->srv, id)
                                                     : BP_EBADID;
    if (rc < 0) {
        LOG_WARN("admin: account %s: cannot restore %s: %s", j->safe, id, bp_strerror(rc));
        json_array_append_new(j->errors, json_string(id));
    }
}

/* Appends the strings of from missing in to. */
static void merge_ids(json_t *to, const json_t *from)
{
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v) {
        if (json_is_string(v) && !list_has(to, json_string_value(v)))
            json_array_append(to, v);
    }
}

static void archive_finish(struct acct_job *j)
{
    struct server *srv = j->srv;
    char live[FSU_PATH_MAX], arch[FSU_PATH_MAX];
    int rc = pins_log_path(srv, j->key, live, sizeof live);
    if (rc == 0)
        rc = pins_archive_path(srv, j->key, arch, sizeof arch);
    if (rc == 0)
        rc = fsu_move(live, arch);
    if (rc < 0 && rc != BP_ENOENT)
        LOG_WARN("admin: account %s: cannot archive the pin log: %s", j->safe, bp_strerror(rc));
    pins_forget(srv, j->key);
    if (j->block) {
        rc = auth_block_archive(srv, j->block, j->placeholder);
        if (rc < 0) {
            /* As the reference: the report then has no blockId. */
            LOG_WARN("admin: account %s: cannot archive block %s: %s", j->safe, j->block, bp_strerror(rc));
            free(j->block);
            j->block = NULL;
        } else if ((rc = auth_mfa_archive(srv, j->block)) < 0 && rc != BP_ENOENT) {
            LOG_WARN("admin: account %s: cannot archive the MFA settings: %s", j->safe, bp_strerror(rc));
        }
    }
    /* The report, merged with the one of an earlier archival not yet restored. */
    json_t *old = NULL;
    if (report_path(srv, j->safe, arch, sizeof arch) == 0 && read_json(arch, REPORT_MAX, &old) == 0 &&
        json_is_object(old)) {
        json_t *ch = json_array(), *bl = json_array();
        merge_ids(ch, json_object_get(old, "channels"));
        merge_ids(ch, j->channels);
        merge_ids(bl, json_object_get(old, "blobs"));
        merge_ids(bl, j->blobs);
        json_decref(j->channels);
        json_decref(j->blobs);
        j->channels = ch;
        j->blobs = bl;
        const char *ob = json_string_value(json_object_get(old, "blockId"));
        if (!j->block && ob)
            j->block = xstrdup(ob);
        if (!j->reason && json_object_get(old, "reason"))
            j->reason = json_incref(json_object_get(old, "reason"));
    }
    json_decref(old);
    json_t *rep = json_pack("{s:s,s:O,s:O}", "key", j->safe, "channels", j->channels, "blobs", j->blobs);
    if (j->block)
        json_object_set_new(rep, "blockId", json_string(j->block));
    if (j->reason)
        json_object_set(rep, "reason", j->reason);
    size_t n;
    char *s = jsonw_dump(rep, &n);
    json_decref(rep);
    rc = report_path(srv, j->safe, arch, sizeof arch);
    if (rc == 0)
        rc = fsu_write_atomic(arch, s, n, sync_writes(srv));
    free(s);
    LOG_INFO("admin: account %s archived: %zu channel(s), %zu blob(s), block %s%s%s", j->safe,
             json_array_size(j->channels), json_array_size(j->blobs), j->block ? j->block : "(none)",
             rc < 0 ? "; report not written: " : "", rc < 0 ? bp_strerror(rc) : "");
    if (rc < 0)
        rpc_reply_error(j->ctx, code(rc));
    else
        admin_reply(j->ctx, json_pack("{s:b}", "state", 1));
}

static void restore_finish(struct acct_job *j)
{
    struct server *srv = j->srv;
    char live[FSU_PATH_MAX], arch[FSU_PATH_MAX];
    int rc = pins_log_path(srv, j->key, live, sizeof live);
    if (rc == 0)
        rc = pins_archive_path(srv, j->key, arch, sizeof arch);
    if (rc == 0 && fsu_exists(live))
        rc = BP_EEXIST; /* the user pinned again since: that log is kept */
    if (rc == 0)
        rc = fsu_move(arch, live);
    if (rc < 0)
        LOG_WARN("admin: account %s: pin log not restored: %s", j->safe, bp_strerror(rc));
    pins_forget(srv, j->key);
    if (j->block) {
        rc = auth_block_restore(srv, j->block);
        if (rc < 0)
            LOG_WARN("admin: account %s: block %s not restored: %s", j->safe, j->block, bp_strerror(rc));
        else if ((rc = auth_mfa_restore(srv, j->block)) < 0 && rc != BP_ENOENT)
            LOG_WARN("admin: account %s: MFA settings not restored: %s", j->safe, bp_strerror(rc));
    }
    if (report_path(srv, j->safe, arch, sizeof arch) == 0 && (rc = fsu_unlink(arch)) < 0)
        LOG_WARN("admin: account %s: cannot delete the report: %s", j->safe, bp_strerror(rc));
    LOG_INFO("admin: account %s restored (%zu error(s))", j->safe, json_array_size(j->errors));
    admin_reply(j->ctx, json_pack("{s:b,s:O}", "state", 1, "errors", j->errors));
}

static void no_work(uv_work_t *w)
{
}

static void job_step(uv_work_t *w, int status);

static void job_queue(struct acct_job *j)
{
    j->srv->pending_work++;
    uv_queue_work(j->srv->loop, &j->work, no_work, job_step);
}

/* One slice of documents, then the rest is queued; the last steps run when
 * the documents are done (or the server is stopping: the account is then
 * archived or restored without its remaining documents, and the report says
 * which ones were done). */
static void job_step(uv_work_t *w, int status)
{
    struct acct_job *j = w->data;
    j->srv->pending_work--;
    bool stop = status != 0 || j->srv->stopping;
    for (size_t k = 0; !stop && k < SLICE && j->pos < j->nids; k++, j->pos++) {
        if (j->restore)
            restore_one(j, j->ids[j->pos]);
        else
            archive_one(j, j->ids[j->pos]);
    }
    if (!stop && j->pos < j->nids) {
        job_queue(j);
        return;
    }
    if (j->restore) {
        for (; j->pos < j->nids; j->pos++)
            json_array_append_new(j->errors, json_string(j->ids[j->pos]));
        restore_finish(j);
    } else {
        archive_finish(j);
    }
    job_free(j);
}

static struct acct_job *job_new(const struct rpc_ctx *c, const char *key, const char *safe, bool restore)
{
    struct acct_job *j = xcalloc(1, sizeof *j);
    j->srv = c->srv;
    j->ctx = rpc_ctx_keep(c);
    j->restore = restore;
    memcpy(j->key, key, 45);
    memcpy(j->safe, safe, 45);
    j->work.data = j;
    j->channels = json_array();
    j->blobs = json_array();
    j->errors = json_array();
    struct admin_accounts *st = state(c->srv);
    j->next = st->jobs;
    st->jobs = j;
    return j;
}

/* The account key of {key, ...}, or NULL after replying. */
static const json_t *account_args(const struct rpc_ctx *c, const json_t *data, char key[45], char safe[45])
{
    const json_t *a = arg1(data);
    if (!json_is_object(a) || !canon_key(json_object_get(a, "key"), key, safe) || !fsu_id_ok(safe, 44)) {
        rpc_reply_error(c, "EINVAL");
        return NULL;
    }
    if (job_busy(c->srv, safe)) {
        rpc_reply_error(c, "EBUSY");
        return NULL;
    }
    return a;
}

/* ["ARCHIVE_ACCOUNT", {key, block?, reason?}] -> {state:true} */
static void a_archive_account(const struct rpc_ctx *c, const json_t *data)
{
    char key[45], safe[45], bsafe[BLOCK_KEY_LEN + 1];
    const json_t *a = account_args(c, data, key, safe);
    if (!a)
        return;
    const json_t *block = json_object_get(a, "block");
    if (truthy(block) &&
        (!json_is_string(block) || !block_safe_key(json_string_value(block), json_string_length(block), bsafe))) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    int err;
    const struct pinlog *pl = pins_get(c->srv, key, &err);
    if (!pl) {
        rpc_reply_error(c, code(err));
        return;
    }
    struct acct_job *j = job_new(c, key, safe, false);
    for (const struct pinlog_id *e = pl->set; e; e = e->hh.next)
        if ((e->len == 32 && store_id_valid(e->id, e->len)) || (e->len == 48 && files_blob_id_valid(e->id, e->len)))
            job_add_id(j, e->id, e->len);
    if (truthy(block))
        j->block = xstrdup(json_string_value(block));
    else if (pl->block && block_safe_key(pl->block, strlen(pl->block), bsafe))
        j->block = xstrdup(pl->block);
    const json_t *reason = json_object_get(a, "reason");
    if (reason)
        j->reason = json_incref((json_t *)reason);
    struct buf ph = BUF_INIT;
    /* `MODERATION_ACCOUNT:${reason}`; a reason that is not a string is left out. */
    buf_appendf(&ph, "MODERATION_ACCOUNT:%s", json_is_string(reason) ? json_string_value(reason) : "");
    j->placeholder = xstrndup(ph.data, ph.len);
    buf_free(&ph);
    LOG_INFO("admin: archiving account %s (%zu pinned document(s)) by %s", safe, j->nids, c->key);
    job_queue(j);
}

/* ["RESTORE_ACCOUNT", {key}] -> {state:true, errors:[ids not restored]} */
static void a_restore_account(const struct rpc_ctx *c, const json_t *data)
{
    char key[45], safe[45], p[FSU_PATH_MAX];
    if (!account_args(c, data, key, safe))
        return;
    json_t *rep = NULL;
    int rc = report_path(c->srv, safe, p, sizeof p);
    if (rc == 0)
        rc = read_json(p, REPORT_MAX, &rep);
    if (rc < 0 || !json_is_object(rep)) {
        json_decref(rep);
        rpc_reply_error(c, rc < 0 && rc != BP_ECORRUPT ? code(rc) : "EINVAL");
        return;
    }
    struct acct_job *j = job_new(c, key, safe, true);
    static const char *const lists[] = {"channels", "blobs"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(rep, lists[l]), i, v) {
            if (json_is_string(v))
                job_add_id(j, json_string_value(v), json_string_length(v));
        }
    }
    const json_t *b = json_object_get(rep, "blockId");
    if (json_is_string(b))
        j->block = xstrdup(json_string_value(b));
    json_decref(rep);
    LOG_INFO("admin: restoring account %s (%zu document(s)) by %s", safe, j->nids, c->key);
    job_queue(j);
}

/* ["GET_ACCOUNT_ARCHIVE_STATUS", {key}] -> the report, or ENOENT */
static void a_account_archive_status(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data);
    char key[45], safe[45], p[FSU_PATH_MAX];
    if (!json_is_object(a) || !canon_key(json_object_get(a, "key"), key, safe) ||
        report_path(c->srv, safe, p, sizeof p) < 0) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    json_t *rep = NULL;
    int rc = read_json(p, REPORT_MAX, &rep);
    if (rc < 0) {
        rpc_reply_error(c, rc == BP_ECORRUPT ? "EINVAL" : code(rc));
        return;
    }
    admin_reply(c, rep);
}

/* ---- logo ---------------------------------------------------------------------------- */

int admin_logo_path(const struct server *srv, char *out, size_t cap)
{
    return snprintf(out, cap, "%s/data/logo", srv->cfg.data) < (int)cap ? 0 : BP_ETOOBIG;
}

const char *admin_logo_mime(const char *mime)
{
    static const char *const types[] = {
        "image/svg+xml", "image/png", "image/jpeg", "image/gif", "image/webp",
        "image/avif", "image/apng", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon",
    };
    for (size_t i = 0; mime && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(mime, types[i]) == 0)
            return types[i];
    return NULL;
}

/* ["UPLOAD_LOGO", {dataURL: "data:<mime>;base64,<bytes>"}] -> true */
static void a_upload_logo(const struct rpc_ctx *c, const json_t *data)
{
    const json_t *a = arg1(data);
    if (!json_is_object(a)) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    const json_t *u = json_object_get(a, "dataURL");
    if (!truthy(u) || (json_is_string(u) && json_string_length(u) > LOGO_URL_MAX)) {
        rpc_reply_error(c, "E_TOO_LARGE"); /* the reference's answer to a missing one too */
        return;
    }
    if (!json_is_string(u)) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    const char *s = json_string_value(u);
    size_t len = json_string_length(u);
    const char *comma = memchr(s, ',', len);
    const char *colon = comma ? memchr(s, ':', (size_t)(comma - s)) : NULL;
    const char *semi = colon ? memchr(colon, ';', (size_t)(comma - colon)) : NULL;
    char mime[65];
    const char *type = NULL;
    if (semi && semi - colon - 1 > 0 && semi - colon - 1 < (ptrdiff_t)sizeof mime) {
        memcpy(mime, colon + 1, (size_t)(semi - colon - 1));
        mime[semi - colon - 1] = '\0';
        type = admin_logo_mime(mime);
    }
    if (!type) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    /* The base64 runs to the next ',' (the reference takes split(',')[1]). */
    const char *b64 = comma + 1, *end = memchr(b64, ',', len - (size_t)(b64 - s));
    size_t blen = (size_t)((end ? end : s + len) - b64);
    uint8_t *bytes = xmalloc(blen / 4 * 3 + 3);
    size_t n = 0;
    if (!b64_chars_ok(b64, blen, false) ||
        (sodium_base642bin(bytes, blen / 4 * 3 + 3, b64, blen, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 &&
         sodium_base642bin(bytes, blen / 4 * 3 + 3, b64, blen, NULL, &n, NULL,
                           sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) ||
        n == 0) {
        free(bytes);
        rpc_reply_error(c, "EINVAL");
        return;
    }
    if (n > LOGO_MAX) {
        free(bytes);
        rpc_reply_error(c, "E_TOO_LARGE");
        return;
    }
    char p[FSU_PATH_MAX];
    int rc = admin_logo_path(c->srv, p, sizeof p);
    if (rc == 0)
        rc = fsu_write_atomic(p, bytes, n, sync_writes(c->srv));
    free(bytes);
    if (rc < 0) {
        LOG_WARN("admin: cannot store the logo: %s", bp_strerror(rc));
        rpc_reply_error(c, code(rc));
        return;
    }
    json_t *args = json_pack("[s]", type);
    const char *err;
    rc = admin_decree(c->srv, "SET_LOGO_MIME", args, c->key, &err);
    json_decref(args);
    if (rc < 0) {
        rpc_reply_error(c, err);
        return;
    }
    c->srv->settings.fresh_key = server_now_ms();
    LOG_INFO("admin: logo uploaded by %s (%zu bytes, %s)", c->key, n, type);
    admin_reply(c, json_true());
}

/* ["REMOVE_LOGO"] -> nothing; ENOENT when there is no uploaded logo. */
static void a_remove_logo(const struct rpc_ctx *c, const json_t *data)
{
    char p[FSU_PATH_MAX];
    int rc = admin_logo_path(c->srv, p, sizeof p);
    if (rc == 0)
        rc = fsu_unlink(p);
    if (rc < 0) {
        rpc_reply_error(c, code(rc));
        return;
    }
    /* /api/logo?<urlArgs> is cached for a year: a new key shows the default. */
    c->srv->settings.fresh_key = server_now_ms();
    LOG_INFO("admin: logo removed by %s", c->key);
    admin_reply(c, NULL);
}

/* ---- module ----------------------------------------------------------------------------- */

const struct admin_cmd admin_accounts_cmds[] = {
    {"GET_ALL_INVITATIONS", a_get_all_invitations},
    {"CREATE_INVITATION", a_create_invitation},
    {"DELETE_INVITATION", a_delete_invitation},
    {"GET_ALL_USERS", a_get_all_users},
    {"ADD_KNOWN_USER", a_add_known_user},
    {"DELETE_KNOWN_USER", a_delete_known_user},
    {"UPDATE_KNOWN_USER", a_update_known_user},
    {"GET_MODERATORS", a_get_moderators},
    {"ADD_MODERATOR", a_add_moderator},
    {"REMOVE_MODERATOR", a_remove_moderator},
    {"ARCHIVE_SUPPORT", a_archive_support},
    {"DISABLE_MFA", a_disable_mfa},
    {"ARCHIVE_ACCOUNT", a_archive_account},
    {"RESTORE_ACCOUNT", a_restore_account},
    {"GET_ACCOUNT_ARCHIVE_STATUS", a_account_archive_status},
    {"UPLOAD_LOGO", a_upload_logo},
    {"REMOVE_LOGO", a_remove_logo},
    {NULL, NULL},
};

int admin_accounts_init(struct server *srv)
{
    *admin_accounts_slot(srv) = xcalloc(1, sizeof(struct admin_accounts));
    moderators_load(srv);
    return 0;
}

void admin_accounts_free(struct server *srv)
{
    struct admin_accounts **slot = admin_accounts_slot(srv);
    /* Jobs hold pending_work, so the loop has run them all by now. */
    free(*slot);
    *slot = NULL;
}
