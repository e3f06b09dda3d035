/* rpc.c: RPC over the history keeper (SERVER-API.md §1).
 *
 * Payload: [txid, request]. The request is either anonymous, [COMMAND, arg]
 * with COMMAND in the anonymous table, or signed,
 * [sigB64, edPublicB64, cookie, COMMAND, arg], where sig is an ed25519
 * detached signature over the bytes of [cookie,COMMAND,arg] exactly as the
 * client serialised them. We take those bytes from the raw payload
 * (rawjson.h) rather than re-serialising, so what is verified is what was
 * sent. Signatures are checked on the thread pool.
 *
 * Checks, in the reference's order (§1.4): request not an array ->
 * INVALID_ARG_FORMAT; anonymous table; session touch; cookie (NO_COOKIE unless
 * COMMAND is COOKIE); public key a string; signed table + signature
 * (INVALID_SIGNATURE_OR_PUBLIC_KEY); anything else INVALID_RPC_CALL. Unlike
 * the reference, every malformed request gets an error reply (Q10).
 *
 * A verified signed RPC adds its key to the connection's authenticated set,
 * which restricted channels check (§1.7); DESTROY removes it (no reply).
 *
 * The channel-side commands live here (g_core): COOKIE, DESTROY,
 * EXPIRE_SESSION, IS_NEW_CHANNEL, GET_METADATA, GET_FILE_SIZE,
 * GET_DELETED_PADS, GET_MULTIPLE_FILE_SIZE, WRITE_PRIVATE_MESSAGE,
 * DELETE_MAILBOX_MESSAGE, SET_METADATA, REMOVE_OWNED_CHANNEL,
 * CLEAR_OWNED_CHANNEL, TRIM_HISTORY. Uploads, pins and admin commands come
 * from their modules' tables (g_tables).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <utlist.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/meta.h"
#include "protocol/msg.h"
#include "protocol/rawjson.h"
#include "server/files.h"
#include "server/rpc_internal.h"
#include "server/server.h"

#define SESSION_IDLE_MS (300 * 1000) /* sessions idle this long are dropped */
#define COOKIE_MAX_AGE_MS (300 * 1000 + 5000) /* 300 s after its 5 s-rounded time (Q1) */

struct session {
    char key[45];          /* edPublic (unsafe form, 44 chars) */
    char token[24];        /* hex token, the last part of the cookie */
    uint64_t atime;        /* uv_now() of the last use */
    UT_hash_handle hh;
};

/* ---- replies ----------------------------------------------------------- */

static void reply_raw(struct server *srv, struct user *u, struct buf *body)
{
    hk_send_notice(srv, u, body->data);
    buf_reset(body);
}

static void reply_error(struct server *srv, struct user *u, const char *txid, const char *err)
{
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%s,\"ERROR\",", txid);
    jsonw_cstr(&b, err);
    buf_appendc(&b, ']');
    reply_raw(srv, u, &b);
    buf_free(&b);
}

/* Anonymous success: [txid,null,value,null] */
static void reply_anon(struct server *srv, struct user *u, const char *txid, const char *value_json)
{
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%s,null,%s,null]", txid, value_json);
    reply_raw(srv, u, &b);
    buf_free(&b);
}

void rpc_reply_error(const struct rpc_ctx *c, const char *err)
{
    reply_error(c->srv, c->u, c->txid, err);
}

void rpc_reply_error_json(const struct rpc_ctx *c, const char *err_json)
{
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%s,\"ERROR\",%s]", c->txid, err_json);
    reply_raw(c->srv, c->u, &b);
    buf_free(&b);
}

void rpc_reply_anon(const struct rpc_ctx *c, const char *value_json)
{
    reply_anon(c->srv, c->u, c->txid, value_json);
}

struct rpc_ctx *rpc_ctx_keep(const struct rpc_ctx *c)
{
    struct rpc_ctx *k = xcalloc(1, sizeof *k);
    k->srv = c->srv;
    k->u = c->u;
    c->u->refs++;
    k->txid = xstrdup(c->txid);
    k->cookie = c->cookie ? xstrdup(c->cookie) : NULL;
    k->key = c->key ? xstrdup(c->key) : NULL;
    return k;
}

void rpc_ctx_drop(struct rpc_ctx *c)
{
    if (!c)
        return;
    user_unref(c->u);
    free((char *)c->txid);
    free((char *)c->cookie);
    free((char *)c->key);
    free(c);
}

/* ---- sessions and cookies ---------------------------------------------- */

static struct session *session_touch(struct server *srv, const char *key)
{
    struct session *s;
    HASH_FIND_STR(srv->sessions, key, s);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        snprintf(s->key, sizeof s->key, "%s", key);
        uint8_t raw[7];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(s->token, sizeof s->token, raw, sizeof raw);
        HASH_ADD_STR(srv->sessions, key, s);
    }
    s->atime = uv_now(srv->loop);
    return s;
}

static void make_cookie(struct server *srv, const struct session *s, struct buf *out)
{
    long long t = server_now_ms();
    buf_appendf(out, "%lld|%s|%s", t - t % 5000, srv->rpc_pid, s->token);
}

static bool cookie_valid(struct server *srv, const struct session *s, const json_t *cookie)
{
    if (!s || !json_is_string(cookie))
        return false;
    const char *c = json_string_value(cookie);
    const char *p1 = strchr(c, '|');
    const char *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
    if (!p1 || !p2 || strchr(p2 + 1, '|'))
        return false;
    size_t pidlen = (size_t)(p2 - p1 - 1);
    if (!(pidlen == strlen(srv->rpc_pid) && memcmp(p1 + 1, srv->rpc_pid, pidlen) == 0 &&
          strcmp(p2 + 1, s->token) == 0))
        return false;
    /* Q1: the age check the reference means to do (its Date parsing makes it
     * a no-op). A cookie is good for COOKIE_MAX_AGE_MS after the reply that
     * carried it; every reply carries a fresh one, so only a request replayed
     * later than that, or a client idle that long (which recovers with one
     * COOKIE round trip, §1.11), is refused. */
    long long t = 0;
    for (const char *d = c; d < p1; d++) {
        if (*d < '0' || *d > '9' || t > 1000000000000000LL)
            return false;
        t = t * 10 + (*d - '0');
    }
    long long now = server_now_ms();
    return p1 > c && t <= now + 5000 && now - t <= COOKIE_MAX_AGE_MS;
}

void rpc_sessions_expire(struct server *srv)
{
    uint64_t now = uv_now(srv->loop);
    struct session *s, *tmp;
    HASH_ITER(hh, srv->sessions, s, tmp) {
        if (now - s->atime > SESSION_IDLE_MS) {
            HASH_DEL(srv->sessions, s);
            free(s);
        }
    }
}

void rpc_session_end(struct server *srv, const char *key)
{
    struct session *s;
    HASH_FIND_STR(srv->sessions, key, s);
    if (s) {
        HASH_DEL(srv->sessions, s);
        free(s);
    }
}

void rpc_free(struct server *srv)
{
    struct session *s, *tmp;
    HASH_ITER(hh, srv->sessions, s, tmp) {
        HASH_DEL(srv->sessions, s);
        free(s);
    }
}

/* ---- commands ---------------------------------------------------------- */

static void anon_is_new_channel(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    struct user *u = c->u;
    const char *txid = c->txid;
    if (!json_is_string(arg) || (json_string_length(arg) != 32 && json_string_length(arg) != 33)) {
        reply_error(srv, u, txid, "INVALID_CHAN");
        return;
    }
    const char *id = json_string_value(arg);
    bool is_new = true;
    struct store_chan *sc = NULL;
    if (store_id_valid(id, json_string_length(arg)) && store_chan_open(srv->store, id, &sc) == 0) {
        uint64_t msgs = store_chan_lines(sc) - (store_chan_legacy_meta(sc) ? 1 : 0);
        is_new = !store_chan_exists(sc) || msgs == 0;
        bool missing = !store_chan_exists(sc);
        store_chan_release(srv->store, sc);
        struct buf reason = BUF_INIT;
        if (missing && store_placeholder(srv->store, id, &reason) == 0) {
            struct buf v = BUF_INIT;
            buf_appends(&v, "{\"isNew\":true,\"reason\":");
            jsonw_str(&v, reason.data ? reason.data : "", reason.len);
            buf_appendc(&v, '}');
            reply_anon(srv, u, txid, v.data);
            buf_free(&v);
            buf_free(&reason);
            return;
        }
        buf_free(&reason);
    }
    reply_anon(srv, u, txid, is_new ? "{\"isNew\":true}" : "{\"isNew\":false}");
}

/* Signed success: [txid,cookie] or [txid,cookie,values]. */
void rpc_reply_signed(const struct rpc_ctx *c, const char *value_json)
{
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%s,", c->txid);
    jsonw_cstr(&b, c->cookie);
    if (value_json) {
        buf_appendc(&b, ',');
        buf_appends(&b, value_json);
    }
    buf_appendc(&b, ']');
    reply_raw(c->srv, c->u, &b);
    buf_free(&b);
}

static void signed_cookie(const struct rpc_ctx *c, const json_t *arg)
{
    rpc_reply_signed(c, NULL);
}

/* A copy of a 32-char channel's metadata (in memory if it is open). */
static json_t *load_meta(struct server *srv, const char *id)
{
    struct channel *ch = nf_channel_find(srv, id);
    if (!ch)
        return nf_meta_read(srv, id);
    const json_t *m = nf_channel_meta(ch);
    return m ? json_deep_copy(m) : NULL;
}

static bool is_chan32(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) == 32 && store_id_valid(json_string_value(v), 32);
}

/* The reference's Core.isValidId: 32, 33 or 48 chars of [A-Za-z0-9=+-]. */
static bool is_valid_id(const json_t *v)
{
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    return (n == 32 || n == 33 || n == 48) && store_id_valid(json_string_value(v), n);
}

/* {"restricted":true,"allowed":[...owners,...allowed],"rejected":true}: what
 * a stranger learns of a restricted channel (whom to ask). */
static json_t *rejected_meta(const json_t *m)
{
    json_t *allowed = json_array();
    if (json_is_array(json_object_get(m, "owners")))
        json_array_extend(allowed, json_object_get(m, "owners"));
    if (json_is_array(json_object_get(m, "allowed")))
        json_array_extend(allowed, json_object_get(m, "allowed"));
    return json_pack("{s:b,s:o,s:b}", "restricted", 1, "allowed", allowed, "rejected", 1);
}

/* GET_METADATA (§2.2). Every invalid id is INVALID_CHAN: the reference's
 * isValidId already includes the length, so its INVALID_CHAN_LENGTH branch
 * is unreachable. */
static void anon_get_metadata(const struct rpc_ctx *c, const json_t *arg)
{
    if (!is_valid_id(arg)) {
        reply_error(c->srv, c->u, c->txid, "INVALID_CHAN");
        return;
    }
    const char *id = json_string_value(arg);
    size_t len = json_string_length(arg);
    json_t *m;
    if (len == 33) {
        /* The admin broadcast channel: made-up metadata, owners = the admins. */
        m = json_pack("{s:s,s:I,s:O}", "channel", id, "creation", (json_int_t)server_now_ms(), "owners",
                      c->srv->settings.admins);
    } else if (len == 48) {
        if (!files_blob_id_valid(id, len)) {
            reply_error(c->srv, c->u, c->txid, "INVALID_ID");
            return;
        }
        m = files_blob_meta(c->srv, id); /* {} when it has none, deleted included */
    } else {
        m = load_meta(c->srv, id);
        if (!m) {
            struct buf reason = BUF_INIT;
            if (store_placeholder(c->srv->store, id, &reason) == 0)
                reply_error(c->srv, c->u, c->txid, reason.data ? reason.data : "");
            else
                reply_anon(c->srv, c->u, c->txid, "{}");
            buf_free(&reason);
            return;
        }
    }
    if (!m)
        m = json_object();
    if (meta_restricted(m) && !nf_user_has_allowed_key(c->u, m)) {
        json_t *r = rejected_meta(m);
        json_decref(m);
        m = r;
    }
    char *s = jsonw_dump(m, NULL);
    reply_anon(c->srv, c->u, c->txid, s);
    free(s);
    json_decref(m);
}

/* GET_DELETED_PADS [ids] (§2.2): the ids whose size is exactly 0; ids that
 * give an error (bad id, deleted blob with a placeholder) are left out. */
static void anon_get_deleted_pads(const struct rpc_ctx *c, const json_t *arg)
{
    if (!json_is_array(arg)) {
        rpc_reply_error(c, "INVALID_LIST");
        return;
    }
    struct buf out = BUF_INIT;
    buf_appendc(&out, '[');
    bool first = true;
    size_t i;
    const json_t *v;
    json_array_foreach(arg, i, v) {
        uint64_t size = 0;
        if (!json_is_string(v) ||
            files_id_size(c->srv, json_string_value(v), json_string_length(v), &size, NULL) < 0 || size)
            continue;
        if (!first)
            buf_appendc(&out, ',');
        first = false;
        jsonw_value(&out, v);
    }
    buf_appendc(&out, ']');
    rpc_reply_anon(c, out.data);
    buf_free(&out);
}

/* GET_MULTIPLE_FILE_SIZE [ids] (§2.2, Q2: unreachable in the reference,
 * implemented as intended): {id: size}, an error counting as 0. Entries that
 * are not strings are left out (the reference would key them by String(v)). */
static void anon_get_multiple_file_size(const struct rpc_ctx *c, const json_t *arg)
{
    if (!json_is_array(arg)) {
        rpc_reply_error(c, "INVALID_LIST");
        return;
    }
    json_t *sizes = json_object();
    size_t i;
    const json_t *v;
    json_array_foreach(arg, i, v) {
        uint64_t size = 0;
        if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v)))
            continue;
        if (files_id_size(c->srv, json_string_value(v), json_string_length(v), &size, NULL) < 0)
            size = 0;
        json_object_set_new(sizes, json_string_value(v), json_integer((json_int_t)size));
    }
    char *s = jsonw_dump(sizes, NULL);
    rpc_reply_anon(c, s);
    free(s);
    json_decref(sizes);
}

static void anon_get_file_size(const struct rpc_ctx *c, const json_t *arg)
{
    if (!json_is_string(arg)) {
        rpc_reply_error(c, "INVALID_CHAN");
        return;
    }
    const char *id = json_string_value(arg);
    size_t len = json_string_length(arg);
    uint64_t size = 0;
    struct buf reason = BUF_INIT;
    int rc = files_id_size(c->srv, id, len, &size, &reason);
    if (rc == BP_EDELETED) {
        struct buf e = BUF_INIT;
        buf_appends(&e, "{\"code\":\"ENOENT\",\"reason\":");
        jsonw_str(&e, reason.data ? reason.data : "", reason.len);
        buf_appendc(&e, '}');
        rpc_reply_error_json(c, e.data);
        buf_free(&e);
    } else if (rc == BP_EBADID) {
        /* 48-char ids that are not lowercase hex: the blob layer's error. */
        rpc_reply_error(c, len == 48 && store_id_valid(id, len) ? "INVALID_ID" : "INVALID_CHAN");
    } else {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)size);
        rpc_reply_anon(c, v);
    }
    buf_free(&reason);
}

/* True if one of the keys u authenticated with is an admin key. */
static bool user_is_admin(const struct server *srv, const struct user *u)
{
    struct authkey *k, *tmp;
    HASH_ITER(hh, u->keys, k, tmp) if (settings_is_admin(srv, k->key)) return true;
    return false;
}

/* WRITE_PRIVATE_MESSAGE [channel, content] (§2.2, §2.9). 32-char channels,
 * and the 33-char admin broadcast channel, which only a connection
 * authenticated with an admin key may write (its message then goes to every
 * connected user: hk.c). It creates the log of an unknown channel (Q16). */
static void anon_write_private_message(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    const json_t *jchan = json_array_get(arg, 0), *content = json_array_get(arg, 1);
    if (!json_is_array(arg)) {
        reply_error(srv, c->u, c->txid, "INVALID_ARGS");
        return;
    }
    if (!json_is_string(content) || json_string_length(content) == 0) {
        reply_error(srv, c->u, c->txid, "INVALID_MESSAGE");
        return;
    }
    size_t len = json_is_string(jchan) ? json_string_length(jchan) : 0;
    if ((len != 32 && len != 33) || !store_id_valid(json_string_value(jchan), len)) {
        reply_error(srv, c->u, c->txid, "INVALID_CHAN");
        return;
    }
    const char *id = json_string_value(jchan);
    if (len == 33 && !user_is_admin(srv, c->u)) {
        reply_error(srv, c->u, c->txid, "INSUFFICIENT_PERMISSIONS");
        return;
    }
    struct channel *ch = nf_channel_get(srv, id, len);
    ch->refs++; /* ch may leave the table below (expiry) */
    const json_t *meta = nf_channel_meta(ch);
    if (meta && meta_restricted(meta) && !nf_user_has_allowed_key(c->u, meta)) {
        reply_error(srv, c->u, c->txid, "INSUFFICIENT_PERMISSIONS");
    } else if (meta && meta_expire(meta) && meta_expire(meta) < server_now_ms()) {
        reply_error(srv, c->u, c->txid, "EEXPIRED");
        hk_expired_access(srv, id, meta);
    } else {
        hk_private_write(srv, c->u, ch, c->txid, json_incref((json_t *)content));
    }
    if (ch->live && !ch->nmembers)
        nf_channel_drop(ch); /* queued writes keep it alive until they are stored */
    channel_unref(ch);
}

/* Owner checks shared by the channel-management commands. Returns the
 * metadata (caller decrefs) or NULL after replying with the error. */
static json_t *owned_meta(const struct rpc_ctx *c, const char *id)
{
    json_t *m = load_meta(c->srv, id);
    if (!m || !json_is_array(json_object_get(m, "owners"))) {
        reply_error(c->srv, c->u, c->txid, "E_NO_OWNERS");
        json_decref(m);
        return NULL;
    }
    if (!meta_is_owner(m, c->key)) {
        reply_error(c->srv, c->u, c->txid, "INSUFFICIENT_PERMISSIONS");
        json_decref(m);
        return NULL;
    }
    return m;
}

static void notify_members(struct channel *ch, const char *body)
{
    struct membership *m;
    DL_FOREACH2(ch->members, m, cnext) hk_send_notice(ch->srv, m->u, body);
}

#define REASON_MAX 1024 /* a deletion reason is a short word; it is stored as the placeholder */

static void removed_reply(void *arg)
{
    rpc_reply_signed(arg, "\"OK\"");
}

/* REMOVE_OWNED_CHANNEL {channel, reason?} (§2.5): a channel (32) or a blob
 * (48) owned by the caller goes to the archive, with a placeholder. The
 * reference queues deletions one at a time per user; ours run to the end on
 * the loop thread, which serialises them anyway. */
static void signed_remove_owned_channel(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    const json_t *jchan = json_is_object(arg) ? json_object_get(arg, "channel") : NULL;
    const json_t *jreason = json_is_object(arg) ? json_object_get(arg, "reason") : NULL;
    size_t len = json_is_string(jchan) ? json_string_length(jchan) : 0;
    if (!is_valid_id(jchan) || len == 33 ||
        (json_is_string(jreason) && json_string_length(jreason) > REASON_MAX)) {
        reply_error(srv, c->u, c->txid, "INVALID_ARGUMENTS");
        return;
    }
    const char *id = json_string_value(jchan);
    /* reason || 'ARCHIVE_OWNED': a non-string reason is ignored. */
    const char *reason = json_is_string(jreason) && json_string_length(jreason) &&
                                 !memchr(json_string_value(jreason), '\0', json_string_length(jreason))
                             ? json_string_value(jreason)
                             : "ARCHIVE_OWNED";
    if (len == 48) {
        json_t *m = files_blob_id_valid(id, len) ? files_blob_meta(srv, id) : NULL;
        bool owner = m && meta_is_owner(m, c->key);
        json_decref(m);
        if (!owner) {
            reply_error(srv, c->u, c->txid, "INSUFFICIENT_PERMISSIONS");
            return;
        }
        int rc = files_blob_archive(srv, id, reason);
        if (rc < 0)
            reply_error(srv, c->u, c->txid, rc == BP_ENOENT ? "ENOENT" : bp_strerror(rc));
        else
            rpc_reply_signed(c, "\"OK\"");
        return;
    }
    uint64_t size = 0;
    files_id_size(srv, id, len, &size, NULL);
    if (!size) {
        reply_error(srv, c->u, c->txid, "ENOENT");
        return;
    }
    json_t *m = owned_meta(c, id);
    if (!m)
        return;
    json_decref(m);
    /* Reply "OK", then tell the members (EDELETED) and drop the channel. */
    int rc = hk_archive_channel_then(srv, id, reason, removed_reply, (void *)c);
    if (rc < 0)
        reply_error(srv, c->u, c->txid, rc == BP_ENOENT ? "ENOENT" : bp_strerror(rc));
}

/* Counts UTF-16 code units, as JavaScript's length does. */
static size_t utf16_units(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch & 0xC0) != 0x80)
            units += ch >= 0xF0 ? 2 : 1;
    }
    return units;
}

/* TRIM_HISTORY {channel, hash} (§2.5): keeps the history from the message
 * whose hash is hash on; the metadata log becomes one line; copies of both
 * go to the archive (store_trim). Members are not told (as the reference). */
static void signed_trim_history(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    const json_t *jchan = json_is_object(arg) ? json_object_get(arg, "channel") : NULL;
    const json_t *jhash = json_is_object(arg) ? json_object_get(arg, "hash") : NULL;
    if (!json_is_string(jchan) || !json_is_string(jhash) ||
        utf16_units(json_string_value(jhash), json_string_length(jhash)) != 64) {
        rpc_reply_error(c, "INVALID_ARGS");
        return;
    }
    if (!is_chan32(jchan)) {
        /* 33 (admin) and 48 (blob) ids have no trimmable history of ours. */
        rpc_reply_error(c, "INVALID_CHAN");
        return;
    }
    const char *id = json_string_value(jchan);
    json_t *m = owned_meta(c, id);
    if (!m)
        return;
    size_t ml;
    char *ms = jsonw_dump(m, &ml);
    json_decref(m);
    int rc = store_trim(srv->store, id, json_string_value(jhash), json_string_length(jhash), ms, ml);
    free(ms);
    if (rc == BP_ENOENT)
        rpc_reply_error(c, "HASH_NOT_FOUND");
    else if (rc < 0)
        rpc_reply_error(c, bp_strerror(rc));
    else
        rpc_reply_signed(c, "\"OK\"");
}

/* DELETE_MAILBOX_MESSAGE {channel, hash, proof} (§2.2): proof =
 * "<b64 nonce>|<b64 box>", box = crypto_box(hash, nonce, server curve
 * public key, sender curve secret key). The sender's curve public key is in
 * the message itself: content = base64(signature(64) | nonce(24) |
 * senderCurvePublic(32) | ...). */
#define PROOF_MAX 4096 /* a real proof is ~140 chars: 24-byte nonce, 80-byte box */

struct proof {
    const struct server *srv;
    uint8_t nonce[24];
    size_t nonce_len;
    uint8_t *box;
    size_t box_len;
    const char *hash;
    size_t hash_len;
};

/* Strict standard base64 (padding required), as tweetnacl-util's decodeBase64. */
static int b64_strict(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    const char *end;
    if (!b64_chars_ok(s, n, false) ||
        sodium_base642bin(out, cap, s, n, NULL, out_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + n)
        return BP_EINVAL;
    return 0;
}

static bool proof_allows(void *ud, const char *content, size_t clen)
{
    const struct proof *p = ud;
    if (p->nonce_len != crypto_box_NONCEBYTES || p->box_len < crypto_box_MACBYTES ||
        p->box_len - crypto_box_MACBYTES != p->hash_len)
        return false;
    size_t cap = clen / 4 * 3 + 3, n = 0;
    uint8_t *raw = xmalloc(cap);
    bool ok = msg_b64decode(content, clen, raw, cap, &n) == 0 && n >= 64 + 56;
    if (ok) {
        uint8_t *m = xmalloc(p->hash_len + 1);
        const uint8_t *sender = raw + 64 + 24;
        ok = crypto_box_open_easy(m, p->box, p->box_len, p->nonce, sender, p->srv->settings.curve_sk) == 0 &&
             memcmp(m, p->hash, p->hash_len) == 0;
        free(m);
    }
    free(raw);
    return ok;
}

static void anon_delete_mailbox_message(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    const json_t *jchan = json_object_get(arg, "channel"), *jhash = json_object_get(arg, "hash");
    const json_t *jproof = json_object_get(arg, "proof");
    struct proof p = {.srv = srv};
    const char *ps = json_is_string(jproof) ? json_string_value(jproof) : NULL;
    size_t pl = ps ? json_string_length(jproof) : 0;
    const char *bar = ps ? memchr(ps, '|', pl) : NULL;
    if (!json_is_object(arg) || !bar || pl > PROOF_MAX) {
        rpc_reply_error(c, "EINVAL");
        return;
    }
    const char *box = bar + 1;
    const char *bar2 = memchr(box, '|', pl - (size_t)(box - ps));
    size_t box_chars = bar2 ? (size_t)(bar2 - box) : pl - (size_t)(box - ps);
    uint8_t nonce_raw[PROOF_MAX];
    p.box = xmalloc(PROOF_MAX);
    if (b64_strict(ps, (size_t)(bar - ps), nonce_raw, sizeof nonce_raw, &p.nonce_len) < 0 ||
        b64_strict(box, box_chars, p.box, PROOF_MAX, &p.box_len) < 0 || !is_valid_id(jchan)) {
        free(p.box);
        rpc_reply_error(c, "EINVAL");
        return;
    }
    if (p.nonce_len == sizeof p.nonce)
        memcpy(p.nonce, nonce_raw, sizeof p.nonce);
    const char *id = json_string_value(jchan);
    json_t *m = is_chan32(jchan) ? load_meta(srv, id) : NULL;
    const json_t *dl = json_object_get(m, "deleteLines");
    bool allowed = dl && !json_is_false(dl) && !json_is_null(dl) &&
                   !(json_is_number(dl) && json_number_value(dl) == 0) &&
                   !(json_is_string(dl) && json_string_length(dl) == 0);
    if (!allowed) {
        json_decref(m);
        free(p.box);
        rpc_reply_error(c, "EFORBIDDEN");
        return;
    }
    int rc = BP_ENOENT;
    if (json_is_string(jhash)) {
        p.hash = json_string_value(jhash);
        p.hash_len = json_string_length(jhash);
        size_t ml;
        char *ms = jsonw_dump(m, &ml);
        rc = store_delete_line(srv->store, id, p.hash, p.hash_len, proof_allows, &p, ms, ml);
        free(ms);
    }
    json_decref(m);
    free(p.box);
    if (rc == BP_ENOENT)
        rpc_reply_error(c, "HASH_NOT_FOUND");
    else if (rc < 0)
        rpc_reply_error(c, bp_strerror(rc));
    else
        rpc_reply_anon(c, "null");
}

static void signed_clear_owned_channel(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    if (!is_chan32(arg)) {
        reply_error(srv, c->u, c->txid, "INVALID_ARGUMENTS");
        return;
    }
    const char *id = json_string_value(arg);
    json_t *m = owned_meta(c, id);
    if (!m)
        return;
    json_decref(m);
    struct store_chan *sc = NULL;
    int rc = store_chan_open(srv->store, id, &sc);
    if (rc == 0)
        rc = store_clear(srv->store, sc);
    store_chan_release(srv->store, sc);
    if (rc < 0) {
        reply_error(srv, c->u, c->txid, bp_strerror(rc));
        return;
    }
    rpc_reply_signed(c, NULL);
    struct channel *ch = nf_channel_find(srv, id);
    if (ch) {
        ch->has_last_cp = false;
        struct buf b = BUF_INIT;
        buf_appends(&b, "{\"error\":\"ECLEARED\",\"channel\":");
        jsonw_cstr(&b, id);
        buf_appendc(&b, '}');
        notify_members(ch, b.data);
        buf_free(&b);
    }
}

static void signed_expire_session(const struct rpc_ctx *c, const json_t *arg)
{
    rpc_session_end(c->srv, c->key);
    /* The reply's cookie has an empty token (observed): "<t>|<pid>|". */
    long long t = server_now_ms();
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%s,\"%lld|%s|\",\"OK\"]", c->txid, t - t % 5000, c->srv->rpc_pid);
    reply_raw(c->srv, c->u, &b);
    buf_free(&b);
}

static const char *const g_meta_commands[] = {
    "ADD_OWNERS", "RM_OWNERS", "RESET_OWNERS", "ADD_PENDING_OWNERS", "RM_PENDING_OWNERS",
    "RESTRICT_ACCESS", "ADD_ALLOWED", "RM_ALLOWED", "RESET_ALLOWED", "ADD_MAILBOX", "RM_MAILBOX",
    "ALLOW_LINE_DELETION", "UPDATE_EXPIRATION",
};

static void signed_set_metadata(const struct rpc_ctx *c, const json_t *arg)
{
    struct server *srv = c->srv;
    const json_t *jchan = json_object_get(arg, "channel"), *jcmd = json_object_get(arg, "command");
    const json_t *value = json_object_get(arg, "value");
    if (!json_is_object(arg) || !is_valid_id(jchan)) {
        reply_error(srv, c->u, c->txid, "INVALID_CHAN");
        return;
    }
    if (!json_is_string(jcmd)) {
        reply_error(srv, c->u, c->txid, "INVALID_COMMAND");
        return;
    }
    const char *cmd = json_string_value(jcmd);
    bool known = false;
    for (size_t i = 0; i < sizeof g_meta_commands / sizeof g_meta_commands[0]; i++)
        known |= strcmp(cmd, g_meta_commands[i]) == 0;
    if (!known) {
        reply_error(srv, c->u, c->txid, "UNSUPPORTED_COMMAND");
        return;
    }
    const char *id = json_string_value(jchan);
    size_t idlen = json_string_length(jchan);
    bool blob = idlen == 48;
    if (idlen == 33) {
        /* The admin channel's metadata is made up (owners = the admins);
         * the reference would write a metadata log for it. */
        reply_error(srv, c->u, c->txid, "INVALID_CHAN");
        return;
    }
    if (blob && !files_blob_id_valid(id, idlen)) {
        reply_error(srv, c->u, c->txid, "INVALID_ID");
        return;
    }
    /* Blob metadata is read from, and appended to, the blob's own log (Q17). */
    json_t *m = blob ? files_blob_meta(srv, id) : load_meta(srv, id);
    if (!m || !json_is_array(json_object_get(m, "owners"))) {
        reply_error(srv, c->u, c->txid, "E_NO_OWNERS");
        json_decref(m);
        return;
    }
    bool owner = meta_is_owner(m, c->key);
    const json_t *pending = json_object_get(m, "pending_owners");
    bool is_pending = false;
    size_t i;
    json_t *k;
    json_array_foreach(pending, i, k) is_pending |= json_is_string(k) && strcmp(json_string_value(k), c->key) == 0;
    if (!owner) {
        bool self_only = json_is_array(value) && json_array_size(value) == 1 &&
                         json_is_string(json_array_get(value, 0)) &&
                         strcmp(json_string_value(json_array_get(value, 0)), c->key) == 0;
        if (!is_pending || !self_only || (strcmp(cmd, "ADD_OWNERS") != 0 && strcmp(cmd, "RM_PENDING_OWNERS") != 0)) {
            reply_error(srv, c->u, c->txid, "INSUFFICIENT_PERMISSIONS");
            json_decref(m);
            return;
        }
    }
    const char *err;
    int changed = meta_apply(m, cmd, value, &err);
    if (changed < 0) {
        char e[96];
        snprintf(e, sizeof e, "Error: %s", err);
        reply_error(srv, c->u, c->txid, e);
        json_decref(m);
        return;
    }
    char *ms = jsonw_dump(m, NULL);
    if (changed) {
        struct buf line = BUF_INIT;
        buf_appendc(&line, '[');
        jsonw_cstr(&line, cmd);
        buf_appendc(&line, ',');
        jsonw_value(&line, value);
        buf_appendf(&line, ",%lld]\n", server_now_ms());
        int rc = blob ? files_blob_meta_append(srv, id, line.data, line.len)
                      : store_meta_append(srv->store, id, line.data, line.len);
        buf_free(&line);
        if (rc < 0) {
            reply_error(srv, c->u, c->txid, bp_strerror(rc));
            free(ms);
            json_decref(m);
            return;
        }
    }
    rpc_reply_signed(c, ms);
    struct channel *ch = blob ? NULL : nf_channel_find(srv, id);
    if (ch && changed) {
        nf_channel_set_meta(ch, json_incref(m));
        if (!meta_restricted(m)) {
            /* The reference sends the serialised metadata serialised again. */
            struct buf b = BUF_INIT;
            jsonw_cstr(&b, ms);
            notify_members(ch, b.data);
            buf_free(&b);
        } else {
            struct buf b = BUF_INIT;
            buf_appends(&b, "{\"error\":\"ERESTRICTED\",\"channel\":");
            jsonw_cstr(&b, id);
            buf_appendc(&b, '}');
            struct membership *mm, *tmp;
            ch->refs++;
            DL_FOREACH_SAFE2(ch->members, mm, tmp, cnext) {
                if (nf_user_has_allowed_key(mm->u, m)) {
                    hk_send_notice(srv, mm->u, ms);
                } else {
                    hk_send_notice(srv, mm->u, b.data);
                    nf_kick(ch, mm->u);
                }
            }
            channel_unref(ch);
            buf_free(&b);
        }
    }
    free(ms);
    json_decref(m);
}

static const struct rpc_cmd g_core[] = {
    {"IS_NEW_CHANNEL", anon_is_new_channel, RPC_ANON},
    {"GET_METADATA", anon_get_metadata, RPC_ANON},
    {"GET_FILE_SIZE", anon_get_file_size, RPC_ANON},
    {"WRITE_PRIVATE_MESSAGE", anon_write_private_message, RPC_ANON},
    {"DELETE_MAILBOX_MESSAGE", anon_delete_mailbox_message, RPC_ANON},
    {"GET_DELETED_PADS", anon_get_deleted_pads, RPC_ANON},
    {"GET_MULTIPLE_FILE_SIZE", anon_get_multiple_file_size, RPC_ANON},
    {"COOKIE", signed_cookie, RPC_SIGNED},
    {"DESTROY", NULL, RPC_SIGNED}, /* handled before dispatch: removes the key, no reply */
    {"EXPIRE_SESSION", signed_expire_session, RPC_SIGNED},
    {"SET_METADATA", signed_set_metadata, RPC_SIGNED},
    {"REMOVE_OWNED_CHANNEL", signed_remove_owned_channel, RPC_SIGNED},
    {"CLEAR_OWNED_CHANNEL", signed_clear_owned_channel, RPC_SIGNED},
    {"TRIM_HISTORY", signed_trim_history, RPC_SIGNED},
    {NULL, NULL, RPC_ANON},
};

/* Every command table; a name appears in one table only. */
static const struct rpc_cmd *const g_tables[] = {g_core, files_rpc_cmds, pins_rpc_cmds, admin_rpc_cmds};

static const struct rpc_cmd *find_cmd(enum rpc_kind kind, const char *name)
{
    for (size_t t = 0; t < sizeof g_tables / sizeof g_tables[0]; t++)
        for (const struct rpc_cmd *c = g_tables[t]; c->name; c++)
            if (c->kind == kind && strcmp(c->name, name) == 0)
                return c;
    return NULL;
}

/* ---- signed requests: verification on the thread pool --------------------- */

struct rpc_job {
    struct server *srv;
    struct user *u;             /* reference */
    char *txid;                 /* serialised txid */
    char key[45];
    uint8_t pk[32];
    uint8_t sig[64];
    bool key_ok;
    char *signed_bytes;         /* "[cookie,COMMAND,arg]" as received */
    size_t signed_len;
    json_t *arg;                /* reference */
    const struct rpc_cmd *cmd;
    int rc;
    uv_work_t work;
};

static void job_verify(uv_work_t *w)
{
    struct rpc_job *j = w->data;
    j->rc = j->key_ok && crypto_sign_verify_detached(j->sig, (const unsigned char *)j->signed_bytes,
                                                     j->signed_len, j->pk) == 0
                ? 0
                : BP_ESIG;
}

static void job_after(uv_work_t *w, int status)
{
    struct rpc_job *j = w->data;
    struct server *srv = j->srv;
    srv->pending_work--;
    if (j->u->conn) {
        if (status != 0 || j->rc != 0) {
            reply_error(srv, j->u, j->txid, "INVALID_SIGNATURE_OR_PUBLIC_KEY");
        } else if (strcmp(j->cmd->name, "DESTROY") == 0) {
            struct authkey *k;
            HASH_FIND_STR(j->u->keys, j->key, k);
            if (k) {
                HASH_DEL(j->u->keys, k);
                free(k);
            }
        } else {
            struct authkey *k;
            HASH_FIND_STR(j->u->keys, j->key, k);
            if (!k) {
                k = xcalloc(1, sizeof *k);
                memcpy(k->key, j->key, sizeof k->key);
                HASH_ADD_STR(j->u->keys, key, k);
            }
            struct session *s = session_touch(srv, j->key);
            struct buf cookie = BUF_INIT;
            make_cookie(srv, s, &cookie);
            struct rpc_ctx ctx = {.srv = srv, .u = j->u, .txid = j->txid, .cookie = cookie.data, .key = j->key};
            j->cmd->fn(&ctx, j->arg);
            buf_free(&cookie);
        }
    }
    user_unref(j->u);
    free(j->txid);
    free(j->signed_bytes);
    json_decref(j->arg);
    free(j);
}

void rpc_handle(struct server *srv, struct user *u, const json_t *seq, const char *payload, size_t len,
                json_t *root)
{
    nf_send_ack(u, seq);
    char *txid = jsonw_dump(json_array_get(root, 0), NULL);
    const json_t *req = json_array_get(root, 1);
    if (json_array_size(root) < 2) {
        reply_error(srv, u, txid, "INSUFFICIENT_ARGS");
        goto out;
    }
    if (!json_is_array(req)) {
        reply_error(srv, u, txid, "INVALID_ARG_FORMAT");
        goto out;
    }
    size_t n = json_array_size(req);
    const json_t *c0 = json_array_get(req, 0);
    if (n == 2 && json_is_string(c0)) {
        const struct rpc_cmd *cmd = find_cmd(RPC_ANON, json_string_value(c0));
        if (cmd) {
            struct rpc_ctx ctx = {.srv = srv, .u = u, .txid = txid};
            cmd->fn(&ctx, json_array_get(req, 1));
            goto out;
        }
    }
    const json_t *jsig = json_array_get(req, 0), *jpub = json_array_get(req, 1);
    const json_t *cookie = json_array_get(req, 2), *jcmd = json_array_get(req, 3);
    struct session *s = NULL;
    if (json_is_string(jpub) && json_string_length(jpub) > 0 && json_string_length(jpub) <= 44)
        s = session_touch(srv, json_string_value(jpub));
    const char *cmdname = json_is_string(jcmd) ? json_string_value(jcmd) : "";
    if (!cookie_valid(srv, s, cookie) && strcmp(cmdname, "COOKIE") != 0) {
        reply_error(srv, u, txid, "NO_COOKIE");
        goto out;
    }
    if (!json_is_string(jpub)) {
        reply_error(srv, u, txid, "INVALID_MESSAGE_OR_PUBLIC_KEY");
        goto out;
    }
    const struct rpc_cmd *cmd = find_cmd(RPC_COOKIE_ONLY, cmdname);
    if (cmd) {
        /* UPLOAD: a valid cookie is enough; the connection is not
         * authenticated by it (§1.4 step 7). */
        struct session *cs = session_touch(srv, json_string_value(jpub));
        struct buf ck = BUF_INIT;
        make_cookie(srv, cs, &ck);
        struct rpc_ctx ctx = {.srv = srv, .u = u, .txid = txid, .cookie = ck.data, .key = json_string_value(jpub)};
        cmd->fn(&ctx, json_array_get(req, 4));
        buf_free(&ck);
        goto out;
    }
    cmd = find_cmd(RPC_SIGNED, cmdname);
    if (!cmd) {
        reply_error(srv, u, txid, "INVALID_RPC_CALL");
        goto out;
    }
    /* The signed bytes: "[" + raw text of elements 2..4 of the request + "]". */
    struct rawjson_span top[2], el[5];
    if (rawjson_array(payload, len, top, 2) < 2 ||
        rawjson_array(payload + top[1].off, top[1].len, el, 5) != 5) {
        reply_error(srv, u, txid, "INVALID_SIGNATURE_OR_PUBLIC_KEY");
        goto out;
    }
    struct rpc_job *j = xcalloc(1, sizeof *j);
    j->srv = srv;
    j->u = u;
    u->refs++;
    j->txid = txid;
    txid = NULL;
    j->cmd = cmd;
    j->arg = json_incref(json_array_get(req, 4));
    snprintf(j->key, sizeof j->key, "%s", json_string_value(jpub));
    size_t siglen = 0;
    j->key_ok = msg_key32(json_string_value(jpub), json_string_length(jpub), j->pk) == 0 &&
                json_is_string(jsig) &&
                msg_b64decode(json_string_value(jsig), json_string_length(jsig), j->sig, sizeof j->sig,
                              &siglen) == 0 &&
                siglen == 64;
    const char *inner = payload + top[1].off;
    size_t from = el[2].off, to = el[4].off + el[4].len;
    j->signed_len = to - from + 2;
    j->signed_bytes = xmalloc(j->signed_len + 1);
    j->signed_bytes[0] = '[';
    memcpy(j->signed_bytes + 1, inner + from, to - from);
    j->signed_bytes[j->signed_len - 1] = ']';
    j->signed_bytes[j->signed_len] = '\0';
    /* The payload reached us as a JSON string inside the frame; jansson has
     * unescaped it, so these are the bytes the client signed. */
    j->work.data = j;
    srv->pending_work++;
    uv_queue_work(srv->loop, &j->work, job_verify, job_after);
out:
    free(txid);
}
