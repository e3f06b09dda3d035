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
 * Only what the Netflux core needs is here so far: COOKIE, DESTROY and
 * IS_NEW_CHANNEL. The other commands of §2 answer as the reference does for
 * a command it does not know.
 */
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/msg.h"
#include "protocol/rawjson.h"
#include "server/server.h"

#define SESSION_IDLE_MS (300 * 1000) /* sessions idle this long are dropped */

struct session {
    char key[45];          /* edPublic (unsafe form, 44 chars) */
    char token[24];        /* hex token, the last part of the cookie */
    uint64_t atime;        /* uv_now() of the last use */
    UT_hash_handle hh;
};

typedef void (*rpc_fn)(struct server *srv, struct user *u, const char *txid, const char *cookie,
                       const json_t *arg);

struct rpc_cmd {
    const char *name;
    rpc_fn fn;
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
    return pidlen == strlen(srv->rpc_pid) && memcmp(p1 + 1, srv->rpc_pid, pidlen) == 0 &&
           strcmp(p2 + 1, s->token) == 0;
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

void rpc_free(struct server *srv)
{
    struct session *s, *tmp;
    HASH_ITER(hh, srv->sessions, s, tmp) {
        HASH_DEL(srv->sessions, s);
        free(s);
    }
}

/* ---- commands ---------------------------------------------------------- */

static void anon_is_new_channel(struct server *srv, struct user *u, const char *txid, const char *cookie,
                                const json_t *arg)
{
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

static void signed_cookie(struct server *srv, struct user *u, const char *txid, const char *cookie,
                          const json_t *arg)
{
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[%s,", txid);
    jsonw_cstr(&b, cookie);
    buf_appendc(&b, ']');
    reply_raw(srv, u, &b);
    buf_free(&b);
}

static const struct rpc_cmd g_anon[] = {
    {"IS_NEW_CHANNEL", anon_is_new_channel},
};

static const struct rpc_cmd g_signed[] = {
    {"COOKIE", signed_cookie},
    {"DESTROY", NULL}, /* handled before dispatch: removes the key, no reply */
};

static const struct rpc_cmd *find_cmd(const struct rpc_cmd *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
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
            j->cmd->fn(srv, j->u, j->txid, cookie.data, j->arg);
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
        const struct rpc_cmd *cmd = find_cmd(g_anon, sizeof g_anon / sizeof g_anon[0], json_string_value(c0));
        if (cmd) {
            cmd->fn(srv, u, txid, NULL, json_array_get(req, 1));
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
    const struct rpc_cmd *cmd = find_cmd(g_signed, sizeof g_signed / sizeof g_signed[0], cmdname);
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
