/* pad.c: CryptPad documents over a connection (blindpad/pad.h): what
 * chainpad-netflux does in JS (CHAINPAD.md §7), plus the code-pad content
 * convention (§6).
 *
 * Reading (§7.1): JOIN, GET_HISTORY (no lastKnownHash: the server starts at
 * the last checkpoint), each message through feed_wire(): server hash kept
 * as lastKnownHash, decrypt (v1/v2: signed messages, verified with the
 * link's validateKey or, for view links, the metadata's; v0: plain
 * secretbox), strip "^\d+:", hand the plaintext to the engine. Live messages
 * that arrive while the history is loading are queued and fed after it.
 *
 * Writing (§7.2, §5.3-§5.5): sync_out() asks the engine for the message to
 * send (a patch, or the checkpoint that is due), encrypts + signs it (the
 * "cp|id|" prefix for checkpoints is added by bp_crypto_sign_encrypt with
 * BP_CRYPTO_CP_AUTO), sends it, and after the ACK applies it. A message that
 * lost the fork rule leaves rebased work in the engine, which the next round
 * sends; the loop ends when the engine has nothing left to send. An
 * "enoent" answer (the channel left server memory) makes it rejoin, catch up
 * from lastKnownHash and send the same message again, once.
 *
 * Memory: struct bp_pad is malloc'd; its link copy is sodium_malloc'd (keys)
 * and wiped by sodium_free. Decrypted plaintexts are wiped before free. */
#include <blindpad/pad.h>

#include <blindpad/chainpad.h>
#include <blindpad/crypto.h>
#include <blindpad/sortify.h>

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAD_MAX_ROUNDS 256 /* sends per write before giving up (each one is an ACKed message) */

struct queued {
    char *s;
    size_t n;
};

struct bp_pad {
    struct bp_client *cl;
    bool own_client;
    struct bp_link *link; /* sodium_malloc'd copy */
    bp_chainpad *cp;
    char app[32];         /* "code", "slide", "pad", ... */
    char channel[49];
    char last_hash[65];
    uint8_t vk[32];
    bool have_vk;
    bool joined;
    unsigned engine_flags;
    bool loading;
    struct queued *queue;
    size_t nqueue, capqueue;
    int gone;             /* 0, or BP_EDELETED / BP_EEXPIRED announced by the server */
    char *meta;           /* metadata JSON text or NULL */
    char err[256];
    struct bp_pad_stats stats;
};

/* ---- helpers ---- */

static void set_err(struct bp_pad *p, int r)
{
    if (!r) {
        p->err[0] = '\0';
        return;
    }
    const char *d = p->cl ? bp_client_error(p->cl) : "";
    snprintf(p->err, sizeof p->err, "%s", d && *d ? d : bp_strerror(r));
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void wipe_free(char *s, size_t n)
{
    if (s) {
        sodium_memzero(s, n);
        free(s);
    }
}

/* The error a HK error string means. */
static int hk_error(const char *e)
{
    if (!e)
        return BP_ESERVER;
    if (!strcmp(e, "EDELETED"))
        return BP_EDELETED;
    if (!strcmp(e, "EEXPIRED"))
        return BP_EEXPIRED;
    if (!strcmp(e, "ERESTRICTED"))
        return BP_EFORBIDDEN;
    return BP_ESERVER;
}

/* ---- reading ---- */

/* One channel message (history line or live). Returns 1 if the
 * authoritative content changed, 0 otherwise. Undecryptable / foreign
 * messages are skipped (counted), as chainpad-netflux does. */
static int feed_wire(struct bp_pad *p, const char *wire, size_t n)
{
    p->stats.messages++;
    if (n >= 64) {
        memcpy(p->last_hash, wire, 64);
        p->last_hash[64] = '\0';
    }
    char *plain = malloc(n + 1);
    if (!plain)
        return BP_ENOMEM;
    size_t pl = 0;
    int r;
    if (p->link->version == 0) {
        size_t cpl = bp_crypto_cp_prefix_len(wire, n);
        r = bp_crypto_decrypt(p->link->crypt_key, wire + cpl, n - cpl, plain, n + 1, &pl);
    } else {
        r = bp_crypto_sign_decrypt(p->link->crypt_key, p->have_vk ? p->vk : NULL, wire, n, plain, n + 1,
                                   &pl);
    }
    if (r) {
        p->stats.skipped++;
        free(plain);
        return 0;
    }
    /* chainpad-netflux's unBencode: a legacy "^\d+:" length prefix */
    size_t off = 0;
    while (off < pl && isdigit((unsigned char)plain[off]))
        off++;
    off = off > 0 && off < pl && plain[off] == ':' ? off + 1 : 0;
    char before[65], after[65];
    bp_chainpad_head(p->cp, before);
    int st = bp_chainpad_receive(p->cp, plain + off, pl - off);
    wipe_free(plain, n + 1);
    if (st < 0 || st == BP_CHAINPAD_REJECTED || st == BP_CHAINPAD_UNPARSABLE)
        p->stats.skipped++;
    bp_chainpad_head(p->cp, after);
    if (strcmp(before, after) != 0) {
        p->stats.changes++;
        return 1;
    }
    return 0;
}

static int queue_push(struct bp_pad *p, const char *s, size_t n)
{
    if (p->nqueue == p->capqueue) {
        size_t cap = p->capqueue ? p->capqueue * 2 : 8;
        struct queued *q = realloc(p->queue, cap * sizeof *q);
        if (!q)
            return BP_ENOMEM;
        p->queue = q;
        p->capqueue = cap;
    }
    char *d = dupn(s, n);
    if (!d)
        return BP_ENOMEM;
    p->queue[p->nqueue++] = (struct queued){d, n};
    return 0;
}

static void queue_flush(struct bp_pad *p)
{
    for (size_t i = 0; i < p->nqueue; i++) {
        feed_wire(p, p->queue[i].s, p->queue[i].n);
        free(p->queue[i].s);
    }
    p->nqueue = 0;
}

/* A direct message from the history keeper: {"error":"EDELETED","channel":…}
 * and the like (NETFLUX §3). */
static int hk_notice(struct bp_pad *p, const char *s, size_t n)
{
    if (n == 0 || s[0] != '{')
        return 0;
    json_t *j = json_loadb(s, n, 0, NULL);
    if (!j)
        return 0;
    const char *chan = json_string_value(json_object_get(j, "channel"));
    const char *e = json_string_value(json_object_get(j, "error"));
    int r = 0;
    if (chan && e && !strcmp(chan, p->channel)) {
        if (!strcmp(e, "EDELETED") || !strcmp(e, "ECLEARED") || !strcmp(e, "EEXPIRED")) {
            p->gone = !strcmp(e, "EEXPIRED") ? BP_EEXPIRED : BP_EDELETED;
            snprintf(p->err, sizeof p->err, "%s", e);
            r = p->gone;
        }
    }
    json_decref(j);
    return r;
}

int bp_pad_on_message(struct bp_pad *p, const struct bp_nf_msg *m)
{
    if (!p || !m || !m->content)
        return BP_EINVAL;
    if (m->direct)
        return hk_notice(p, m->content, m->content_len);
    if (!m->target || strcmp(m->target, p->channel) != 0 || !m->content_is_string)
        return 0;
    if (p->loading)
        return queue_push(p, m->content, m->content_len);
    return feed_wire(p, m->content, m->content_len);
}

static int hist_meta(const char *json, size_t len, void *ud)
{
    struct bp_pad *p = ud;
    char *d = dupn(json, len);
    if (!d)
        return 1;
    free(p->meta);
    p->meta = d;
    json_t *j = json_loadb(json, len, 0, NULL);
    const char *vk = j ? json_string_value(json_object_get(j, "validateKey")) : NULL;
    /* A view link learns the validateKey here (chainpad-netflux does the same);
     * an edit link keeps its own: a server that sends another one cannot make
     * us accept messages signed by someone else. */
    if (vk && !p->link->has_sign_key && bp_crypto_b64_key(vk, p->vk, 32) == 0)
        p->have_vk = true;
    json_decref(j);
    return 0;
}

static int hist_msg(const struct bp_hist_msg *m, void *ud)
{
    struct bp_pad *p = ud;
    if (!m->content_is_string || strcmp(m->channel, p->channel) != 0)
        return 0;
    return feed_wire(p, m->content, m->content_len) < 0 ? 1 : 0;
}

/* JOIN + GET_HISTORY (from lastKnownHash when `resume`), then the queue. */
static int load(struct bp_pad *p, const char *metadata_json, bool resume)
{
    int r = bp_client_join(p->cl, p->channel, NULL, 0, NULL);
    if (r) {
        set_err(p, r);
        return r == BP_ESERVER ? hk_error(bp_client_error(p->cl)) : r;
    }
    p->joined = true;
    struct bp_history_opts ho = {.metadata_json = metadata_json};
    if (resume && p->last_hash[0])
        ho.last_known_hash = p->last_hash;
    p->loading = true;
    r = bp_client_history(p->cl, p->channel, &ho, hist_meta, hist_msg, p);
    if (r == BP_ESERVER && !strcmp(bp_client_error(p->cl), "EUNKNOWN") && ho.last_known_hash) {
        /* our hash is older than the server keeps: start again from scratch */
        bp_chainpad *fresh = NULL;
        r = bp_chainpad_new(&fresh, p->engine_flags);
        if (!r) {
            bp_chainpad_free(p->cp);
            p->cp = fresh;
            ho.last_known_hash = NULL;
            r = bp_client_history(p->cl, p->channel, &ho, hist_meta, hist_msg, p);
        }
    }
    p->loading = false;
    if (r) {
        set_err(p, r);
        return r == BP_ESERVER ? hk_error(bp_client_error(p->cl)) : r;
    }
    queue_flush(p);
    return 0;
}

/* ---- lifecycle ---- */

static void own_client_msg(const struct bp_nf_msg *m, void *ud)
{
    bp_pad_on_message(ud, m);
}

static int pad_alloc(const struct bp_link *link, unsigned engine_flags, struct bp_pad **out)
{
    *out = NULL;
    struct bp_pad *p = calloc(1, sizeof *p);
    if (!p)
        return BP_ENOMEM;
    p->link = sodium_malloc(sizeof *p->link);
    if (!p->link) {
        free(p);
        return BP_ENOMEM;
    }
    memcpy(p->link, link, sizeof *p->link);
    snprintf(p->channel, sizeof p->channel, "%s", link->channel);
    snprintf(p->app, sizeof p->app, "%s", link->type[0] ? link->type : link->app[0] ? link->app : "pad");
    if (link->has_sign_key) {
        memcpy(p->vk, link->validate_key, 32);
        p->have_vk = true;
    }
    p->engine_flags = engine_flags | BP_CHAINPAD_JSON;
    int r = bp_chainpad_new(&p->cp, p->engine_flags);
    if (r) {
        sodium_free(p->link);
        free(p);
        return r;
    }
    *out = p;
    return 0;
}

void bp_pad_free(struct bp_pad *p)
{
    if (!p)
        return;
    if (p->joined && p->cl && !p->own_client)
        bp_client_leave(p->cl, p->channel);
    if (p->own_client)
        bp_client_free(p->cl);
    for (size_t i = 0; i < p->nqueue; i++)
        free(p->queue[i].s);
    free(p->queue);
    bp_chainpad_free(p->cp);
    free(p->meta);
    sodium_free(p->link);
    free(p);
}

/* The creation metadata: {"validateKey":…[,"owners":[…]][,"expire":s]} or NULL. */
static int make_metadata(const struct bp_link *link, const struct bp_pad_create_opts *o, char **out)
{
    *out = NULL;
    if (!link->has_sign_key)
        return 0;
    char vk[BP_B64_LEN(32) + 1];
    size_t vl;
    int r = bp_crypto_b64_encode(link->validate_key, 32, BP_B64_STD, vk, sizeof vk, &vl);
    if (r)
        return r;
    json_t *j = json_object();
    if (!j)
        return BP_ENOMEM;
    json_object_set_new(j, "validateKey", json_string(vk));
    if (o && o->n_owners) {
        json_t *a = json_array();
        for (size_t i = 0; i < o->n_owners; i++) {
            if (!o->owners[i] || bp_crypto_b64_key(o->owners[i], (uint8_t[32]){0}, 32) != 0) {
                json_decref(a);
                json_decref(j);
                return BP_EINVAL;
            }
            json_array_append_new(a, json_string(o->owners[i]));
        }
        json_object_set_new(j, "owners", a);
    }
    if (o && o->expire_seconds)
        json_object_set_new(j, "expire", json_integer((json_int_t)o->expire_seconds));
    *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return *out ? 0 : BP_ENOMEM;
}

static int is_new_channel(struct bp_pad *p, bool *is_new, bool *deleted)
{
    char arg[64];
    snprintf(arg, sizeof arg, "\"%s\"", p->channel);
    char *reply = NULL;
    int r = bp_client_rpc(p->cl, NULL, "IS_NEW_CHANNEL", arg, &reply);
    if (r) {
        set_err(p, r);
        return r;
    }
    json_t *j = json_loads(reply, 0, NULL);
    free(reply);
    json_t *v = json_is_array(j) ? json_array_get(j, 0) : NULL;
    if (!json_is_object(v)) {
        json_decref(j);
        return BP_EPROTO;
    }
    *is_new = json_is_true(json_object_get(v, "isNew"));
    *deleted = json_is_string(json_object_get(v, "reason"));
    json_decref(j);
    return 0;
}

static int open_on(struct bp_pad *p, const struct bp_pad_open_opts *opts)
{
    const struct bp_link *l = p->link;
    if (opts && opts->auth_key) {
        /* Any signed RPC authenticates the connection for its key; the
         * JOIN of a restricted channel checks those keys. */
        char *reply = NULL;
        int r = bp_client_rpc(p->cl, opts->auth_key, "COOKIE", NULL, &reply);
        free(reply);
        if (r) {
            set_err(p, r);
            return r;
        }
    }
    if (opts && opts->must_exist) {
        bool is_new = false, deleted = false;
        int r = is_new_channel(p, &is_new, &deleted);
        if (r)
            return r;
        if (is_new) {
            snprintf(p->err, sizeof p->err, "%s",
                     deleted ? "the document was deleted" : "no document at this link (or wrong password)");
            return deleted ? BP_EDELETED : BP_ENOENT;
        }
    }
    char *meta = NULL;
    int r = make_metadata(l, NULL, &meta);
    if (r)
        return r;
    r = load(p, meta, false);
    free(meta);
    return r;
}

static int check_link(const struct bp_link *link)
{
    if (!link || link->kind != BP_LINK_DOC || !link->has_keys)
        return BP_EINVAL;
    return 0;
}

/* The end of the bp_pad_open / _create calls: on failure the pad's error
 * text goes to errmsg (may be NULL) and the pad is freed; on success it is
 * handed over. */
static int pad_done(struct bp_pad *p, int r, struct bp_pad **out, char *errmsg, size_t errmsg_len)
{
    if (r) {
        if (errmsg && errmsg_len && p->err[0])
            snprintf(errmsg, errmsg_len, "%s", p->err);
        bp_pad_free(p);
        return r;
    }
    *out = p;
    return 0;
}

int bp_pad_open(struct bp_client *cl, const struct bp_link *link, const struct bp_pad_open_opts *opts,
                struct bp_pad **out)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!cl || check_link(link))
        return BP_EINVAL;
    struct bp_pad *p;
    int r = pad_alloc(link, opts ? opts->engine_flags : 0, &p);
    if (r)
        return r;
    p->cl = cl;
    r = open_on(p, opts);
    return pad_done(p, r, out, NULL, 0);
}

static int own_connect(struct bp_pad *p, const char *url, unsigned timeout_ms, char *errmsg,
                       size_t errmsg_len)
{
    struct bp_client_opts co = {.timeout_ms = timeout_ms, .on_message = own_client_msg, .ud = p};
    int r = bp_client_open(url, &co, &p->cl, errmsg, errmsg_len);
    if (!r)
        p->own_client = true;
    return r;
}

int bp_pad_open_url(const char *url, const struct bp_link *link, const struct bp_pad_open_opts *opts,
                    struct bp_pad **out, char *errmsg, size_t errmsg_len)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!url || check_link(link))
        return BP_EINVAL;
    struct bp_pad *p;
    int r = pad_alloc(link, opts ? opts->engine_flags : 0, &p);
    if (r)
        return r;
    r = own_connect(p, url, opts ? opts->timeout_ms : 0, errmsg, errmsg_len);
    if (!r)
        r = open_on(p, opts);
    return pad_done(p, r, out, errmsg, errmsg_len);
}

/* ---- accessors ---- */

const struct bp_link *bp_pad_link(const struct bp_pad *p) { return p->link; }
struct bp_client *bp_pad_client(struct bp_pad *p) { return p->cl; }
const char *bp_pad_error(const struct bp_pad *p) { return p->err; }
const char *bp_pad_last_hash(const struct bp_pad *p) { return p->last_hash; }
const char *bp_pad_metadata(const struct bp_pad *p) { return p->meta ? p->meta : ""; }
void bp_pad_head(const struct bp_pad *p, char out[65]) { bp_chainpad_head(p->cp, out); }
void bp_pad_content_hash(const struct bp_pad *p, char out[65]) { bp_chainpad_content_hash(p->cp, out); }
void bp_pad_stats(const struct bp_pad *p, struct bp_pad_stats *out) { *out = p->stats; }

int bp_pad_content(const struct bp_pad *p, char **out, size_t *outlen)
{
    if (!p || !out)
        return BP_EINVAL;
    return bp_chainpad_content(p->cp, out, outlen);
}

int bp_pad_json(const struct bp_pad *p, json_t **out)
{
    if (!p || !out)
        return BP_EINVAL;
    *out = NULL;
    char *s;
    size_t n;
    int r = bp_chainpad_content(p->cp, &s, &n);
    if (r)
        return r;
    bool empty = n == 0;
    free(s);
    if (empty)
        return BP_ENOENT;
    r = bp_chainpad_get_json(p->cp, out);
    return r == BP_EINVAL ? BP_EPROTO : r;
}

/* The "content" string of a text document s (JSON); "" for an empty document. */
static int text_of(const char *s, size_t n, char **out, size_t *outlen)
{
    if (n == 0) {
        *out = dupn("", 0);
        if (outlen)
            *outlen = 0;
        return *out ? 0 : BP_ENOMEM;
    }
    json_t *j = json_loadb(s, n, JSON_ALLOW_NUL, NULL);
    json_t *c = json_object_get(j, "content");
    if (!json_is_string(c)) {
        json_decref(j);
        return BP_EPROTO;
    }
    *out = dupn(json_string_value(c), json_string_length(c));
    if (outlen)
        *outlen = json_string_length(c);
    json_decref(j);
    return *out ? 0 : BP_ENOMEM;
}

int bp_pad_text(const struct bp_pad *p, char **out, size_t *outlen)
{
    if (!p || !out)
        return BP_EINVAL;
    *out = NULL;
    char *s;
    size_t n;
    int r = bp_chainpad_content(p->cp, &s, &n);
    if (r)
        return r;
    r = text_of(s, n, out, outlen);
    free(s);
    return r;
}

/* ---- writing ---- */

/* Encrypts (and signs) plain and sends it; rejoins once on "enoent". */
static int send_plain(struct bp_pad *p, const char *plain, size_t n)
{
    size_t cap = BP_CRYPTO_SIGNED_LEN(n) + 32;
    char *wire = malloc(cap);
    if (!wire)
        return BP_ENOMEM;
    size_t wl = 0;
    int r;
    if (p->link->has_sign_key) {
        r = bp_crypto_sign_encrypt(p->link->crypt_key, p->link->sign_key, plain, n, BP_CRYPTO_CP_AUTO, NULL,
                                   wire, cap, &wl);
    } else if (p->link->version == 0) { /* legacy unsigned documents */
        size_t pre = 0;
        if (n >= 2 && plain[0] == '[' && plain[1] == '4') {
            char id[13];
            bp_chainpad_checkpoint_id(plain, n, id);
            pre = (size_t)snprintf(wire, cap, "cp|%s|", id);
        }
        r = bp_crypto_encrypt(p->link->crypt_key, plain, n, NULL, wire + pre, cap - pre, &wl);
        wl += pre;
    } else {
        snprintf(p->err, sizeof p->err, "this is a read-only (view) link");
        free(wire);
        return BP_EFORBIDDEN;
    }
    if (r) {
        free(wire);
        return r;
    }
    for (int attempt = 0;; attempt++) {
        r = bp_client_send(p->cl, p->channel, wire, wl);
        if (r == BP_ESERVER && attempt == 0 && !strcmp(bp_client_error(p->cl), "enoent")) {
            /* the channel left the server's memory: rejoin, catch up, send again */
            r = load(p, NULL, true);
            if (!r)
                continue;
        }
        break;
    }
    if (!r && wl >= 64) {
        memcpy(p->last_hash, wire, 64);
        p->last_hash[64] = '\0';
    }
    if (r && !p->err[0])
        set_err(p, r);
    free(wire);
    return r;
}

/* Sends what the engine has to send until nothing is left (§5.3-§5.5). */
static int sync_out(struct bp_pad *p)
{
    for (int round = 0; round < PAD_MAX_ROUNDS; round++) {
        if (p->gone)
            return p->gone;
        char *msg = NULL;
        size_t len = 0;
        int is_cp = 0;
        int r = bp_chainpad_make_message(p->cp, &msg, &len, &is_cp);
        if (r)
            return r;
        if (!msg)
            return 0;
        p->err[0] = '\0';
        r = send_plain(p, msg, len);
        free(msg);
        if (r) {
            bp_chainpad_nack(p->cp);
            return r;
        }
        char before[65], after[65];
        bp_chainpad_head(p->cp, before);
        int st = bp_chainpad_ack(p->cp);
        p->stats.sent++;
        if (is_cp)
            p->stats.checkpoints++;
        if (st == BP_CHAINPAD_FORK)
            p->stats.resent++;
        bp_chainpad_head(p->cp, after);
        if (strcmp(before, after) != 0)
            p->stats.changes++;
    }
    snprintf(p->err, sizeof p->err, "the change did not settle after %d sends", PAD_MAX_ROUNDS);
    return BP_ETIMEOUT;
}

int bp_pad_poll(struct bp_pad *p, unsigned timeout_ms)
{
    if (!p)
        return BP_EINVAL;
    unsigned long before = p->stats.changes;
    int r = bp_client_poll(p->cl, timeout_ms);
    if (r)
        return r;
    if (p->gone)
        return p->gone;
    /* work that lost a race after its write returned is sent again here */
    if (p->link->has_sign_key || p->link->version == 0) {
        r = sync_out(p);
        if (r)
            return r;
    }
    return p->stats.changes != before ? 1 : 0;
}

static int write_content(struct bp_pad *p, const char *s, size_t n)
{
    if (p->gone)
        return p->gone;
    if (!p->link->has_sign_key && p->link->version != 0) {
        snprintf(p->err, sizeof p->err, "this is a read-only (view) link");
        return BP_EFORBIDDEN;
    }
    int r = bp_chainpad_set_content(p->cp, s, n);
    if (r)
        return r;
    r = sync_out(p);
    if (r)
        return r;
    /* messages that arrived with our ACKs may have beaten ours: settle */
    r = bp_client_poll(p->cl, 0);
    if (r)
        return r;
    return sync_out(p);
}

int bp_pad_write_json(struct bp_pad *p, const json_t *value)
{
    if (!p || !value)
        return BP_EINVAL;
    char *s;
    size_t n;
    int r = bp_sortify(value, &s, &n);
    if (r)
        return r;
    r = write_content(p, s, n);
    free(s);
    return r;
}

static void default_title(const char *app, char *out, size_t cap)
{
    const char *name = !strcmp(app, "code") ? "Code" : !strcmp(app, "slide") ? "Slide"
                                                       : !strcmp(app, "pad") ? "Rich text" : app;
    time_t t = time(NULL);
    struct tm tm;
    char date[32] = "";
    if (localtime_r(&t, &tm))
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
    snprintf(out, cap, "%s - %s", name, date);
}

/* A new text document of app (code/slide) holding text. */
static json_t *new_text_doc(const char *app, const char *text, size_t n, const char *mode,
                            const char *title)
{
    char t[128];
    if (!title) {
        default_title(app, t, sizeof t);
        title = t;
    }
    json_t *c = json_stringn(text, n);
    if (!c)
        return NULL;
    json_t *meta = json_pack("{s:s, s:s, s:s}", "defaultTitle", title, "title", title, "type", app);
    json_t *doc = json_pack("{s:o, s:o}", "content", c, "metadata", meta);
    if (doc && !strcmp(app, "code")) {
        json_object_set_new(doc, "authormarks", json_object());
        json_object_set_new(doc, "highlightMode", json_string(mode ? mode : "gfm"));
    }
    return doc;
}

static bool is_text_app(const char *app)
{
    return !strcmp(app, "code") || !strcmp(app, "slide");
}

/* Code pads keep "\n" only (CodeMirror's getValue; CHAINPAD §6.1). */
static char *crlf_to_lf(const char *s, size_t n, size_t *outn)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            continue;
        d[k++] = s[i];
    }
    d[k] = '\0';
    *outn = k;
    return d;
}

static int set_text(struct bp_pad *p, const char *text, size_t n, const char *mode, const char *title)
{
    size_t tn;
    char *t = crlf_to_lf(text, n, &tn);
    if (!t)
        return BP_ENOMEM;
    char *cur;
    size_t cn;
    int r = bp_chainpad_user_content(p->cp, &cur, &cn);
    if (r) {
        free(t);
        return r;
    }
    json_t *doc = NULL;
    if (cn == 0) {
        if (!is_text_app(p->app)) {
            snprintf(p->err, sizeof p->err, "a new %s document has no text to write", p->app);
            r = BP_EPROTO;
        } else if (!(doc = new_text_doc(p->app, t, tn, mode, title))) {
            r = BP_EINVAL; /* not UTF-8 */
        }
    } else {
        doc = json_loadb(cur, cn, JSON_ALLOW_NUL, NULL);
        json_t *c = json_stringn(t, tn);
        if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "content"))) {
            snprintf(p->err, sizeof p->err, "this %s document is not a text pad", p->app);
            r = BP_EPROTO;
        } else if (!c) {
            r = BP_EINVAL;
        } else {
            json_object_set(doc, "content", c);
        }
        json_decref(c);
    }
    free(cur);
    free(t);
    if (!r)
        r = bp_pad_write_json(p, doc);
    json_decref(doc);
    return r;
}

int bp_pad_write(struct bp_pad *p, const char *text, size_t len)
{
    if (!p || (!text && len))
        return BP_EINVAL;
    return set_text(p, text ? text : "", len, NULL, NULL);
}

int bp_pad_append(struct bp_pad *p, const char *suffix, size_t len)
{
    if (!p || (!suffix && len))
        return BP_EINVAL;
    /* catch up first so that the append lands after what others wrote */
    int r = bp_client_poll(p->cl, 0);
    if (r)
        return r;
    char *cur;
    size_t cn;
    r = bp_chainpad_user_content(p->cp, &cur, &cn);
    if (r)
        return r;
    char *old = NULL;
    size_t on = 0;
    r = text_of(cur, cn, &old, &on);
    free(cur);
    if (r) {
        snprintf(p->err, sizeof p->err, "this %s document is not a text pad", p->app);
        return r;
    }
    char *t = malloc(on + len + 1);
    if (!t) {
        free(old);
        return BP_ENOMEM;
    }
    memcpy(t, old, on);
    if (len)
        memcpy(t + on, suffix, len);
    free(old);
    r = set_text(p, t, on + len, NULL, NULL);
    free(t);
    return r;
}

/* ---- creating ---- */

static int create_on(struct bp_pad *p, const struct bp_pad_create_opts *o)
{
    char *meta = NULL;
    int r = make_metadata(p->link, o, &meta);
    if (r)
        return r;
    r = load(p, meta, false);
    free(meta);
    if (r)
        return r;
    if (p->stats.messages) { /* 2^144 bits of fresh key: never happens unless the RNG is broken */
        snprintf(p->err, sizeof p->err, "the new channel already has messages");
        return BP_EEXIST;
    }
    if (!is_text_app(p->app))
        return 0;
    const char *text = o && o->text ? o->text : "";
    return set_text(p, text, strlen(text), o ? o->highlight_mode : NULL, o ? o->title : NULL);
}

static int create_link(const char *app, const struct bp_pad_create_opts *o, struct bp_link **l)
{
    if (!app || !*app || !strcmp(app, "file") || !strcmp(app, "media"))
        return BP_EINVAL;
    return bp_link_make(app, o ? o->password : NULL, l);
}

/* A pad object for a new document of app (fresh link); not yet on the server. */
static int create_alloc(const char *app, const struct bp_pad_create_opts *o, struct bp_pad **p)
{
    struct bp_link *l = NULL;
    int r = create_link(app, o, &l);
    if (r)
        return r;
    r = pad_alloc(l, o ? o->engine_flags : 0, p);
    bp_link_free(l);
    return r;
}

int bp_pad_create(struct bp_client *cl, const char *app, const struct bp_pad_create_opts *o,
                  struct bp_pad **out)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!cl)
        return BP_EINVAL;
    struct bp_pad *p;
    int r = create_alloc(app, o, &p);
    if (r)
        return r;
    p->cl = cl;
    r = create_on(p, o);
    return pad_done(p, r, out, NULL, 0);
}

int bp_pad_create_url(const char *url, const char *app, const struct bp_pad_create_opts *o,
                      struct bp_pad **out, char *errmsg, size_t errmsg_len)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!url)
        return BP_EINVAL;
    struct bp_pad *p;
    int r = create_alloc(app, o, &p);
    if (r)
        return r;
    r = own_connect(p, url, o ? o->timeout_ms : 0, errmsg, errmsg_len);
    if (!r)
        r = create_on(p, o);
    return pad_done(p, r, out, errmsg, errmsg_len);
}
