/* mailbox.c: CryptPad's mailboxes (blindpad/mailbox.h has the formats and
 * what they prove).
 *
 * Stored format of the account's mailbox in the drive (the web client's
 * src/worker/modules/mailbox.js initializeMailboxes):
 *   proxy.mailboxes.notifications = {"channel": <32 hex>,
 *                                    "lastKnownHash": <64 chars or "">,
 *                                    "viewed": [<64-char hashes>]}
 * A message is shown by the web client when its hash is after
 * lastKnownHash in the channel's history and not in viewed. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/client.h>
#include <blindpad/crypto.h>
#include <blindpad/drive.h>
#include <blindpad/err.h>
#include <blindpad/mailbox.h>

#include "common/buf.h"
#include "common/jsonw.h"

#define ADDR_PATH "/#/mailbox/"

static bool hex32(const char *s, size_t n)
{
    return n == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* ---- addresses ---- */

static int addr_from_json(const char *s, struct bp_mailbox_addr *out, const char **why)
{
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
    const char *chan = json_string_value(json_object_get(j, "notifications"));
    const char *curve = json_string_value(json_object_get(j, "curvePublic"));
    int e = 0;
    if (!json_is_object(j)) {
        *why = "not a JSON object";
        e = BP_EINVAL;
    } else if (!chan || !hex32(chan, strlen(chan))) {
        *why = "no \"notifications\" mailbox channel (32 hex characters)";
        e = BP_EINVAL;
    } else if (!curve || bp_crypto_b64_key(curve, out->curve_public, 32) != 0) {
        *why = "no \"curvePublic\" key (base64 of 32 bytes)";
        e = BP_EINVAL;
    } else {
        out->origin[0] = '\0';
        memcpy(out->channel, chan, 33);
    }
    json_decref(j);
    return e;
}

int bp_mailbox_addr_parse(const char *s, struct bp_mailbox_addr *out, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    if (!s || !out)
        return BP_EINVAL;
    memset(out, 0, sizeof *out);
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s == '{')
        return addr_from_json(s, out, why);
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
        n--;
    const char *scheme = strstr(s, "://");
    const char *p = scheme ? strstr(scheme + 3, ADDR_PATH) : NULL;
    if (!scheme || !p || p > s + n) {
        *why = "not a contact address (http://host/#/mailbox/<channel>/<key>)";
        return BP_EINVAL;
    }
    size_t olen = (size_t)(p - s);
    if (olen >= sizeof out->origin || memchr(scheme + 3, '/', (size_t)(p - scheme - 3)) ||
        p == scheme + 3) {
        *why = "the address's server part is not an origin";
        return BP_EINVAL;
    }
    const char *chan = p + strlen(ADDR_PATH);
    const char *slash = memchr(chan, '/', (size_t)(s + n - chan));
    if (!slash || !hex32(chan, (size_t)(slash - chan))) {
        *why = "the mailbox channel is not 32 hex characters";
        return BP_EINVAL;
    }
    const char *key = slash + 1;
    size_t klen = (size_t)(s + n - key);
    if (klen && key[klen - 1] == '/')
        klen--;
    char kbuf[64];
    size_t got = 0;
    if (klen == 0 || klen >= sizeof kbuf) {
        *why = "the curve key is missing or too long";
        return BP_EINVAL;
    }
    memcpy(kbuf, key, klen);
    kbuf[klen] = '\0';
    if (bp_crypto_b64_decode(kbuf, klen, out->curve_public, 32, &got) != 0 || got != 32) {
        *why = "the curve key is not base64 of 32 bytes";
        return BP_EINVAL;
    }
    memcpy(out->origin, s, olen);
    out->origin[olen] = '\0';
    memcpy(out->channel, chan, 32);
    out->channel[32] = '\0';
    return 0;
}

int bp_mailbox_addr_format(const struct bp_mailbox_addr *a, char *out, size_t cap, size_t *out_len)
{
    if (!a || !a->origin[0] || !hex32(a->channel, strlen(a->channel)) || !out_len)
        return BP_EINVAL;
    char key[64];
    size_t klen;
    int e = bp_crypto_b64_encode(a->curve_public, 32, BP_B64_URL, key, sizeof key, &klen);
    if (e)
        return e;
    int n = snprintf(NULL, 0, "%s" ADDR_PATH "%s/%s", a->origin, a->channel, key);
    *out_len = (size_t)n;
    if ((size_t)n + 1 > cap)
        return BP_ETOOBIG;
    snprintf(out, cap, "%s" ADDR_PATH "%s/%s", a->origin, a->channel, key);
    return 0;
}

/* ---- letters ---- */

int bp_mailbox_make_text(const char *text, size_t n, const json_t *user, char **out, size_t *out_len)
{
    *out = NULL;
    if (!text)
        return BP_EINVAL;
    if (n > BP_MAILBOX_MAX_TEXT)
        return BP_ETOOBIG;
    if (memchr(text, '\0', n))
        return BP_EINVAL;
    json_t *t = json_stringn(text, n); /* NULL when not UTF-8 */
    if (!t)
        return BP_EINVAL;
    json_t *content = json_object();
    json_t *msg = json_object();
    if (!content || !msg || json_object_set_new(content, "text", t) ||
        (user && json_object_set(content, "user", (json_t *)user)) ||
        json_object_set_new(msg, "type", json_string(BP_MAILBOX_TYPE_TEXT)) ||
        json_object_set_new(msg, "content", content)) {
        json_decref(content);
        json_decref(msg);
        return BP_ENOMEM;
    }
    size_t len = 0;
    *out = jsonw_dump(msg, &len); /* JSON.stringify's bytes */
    json_decref(msg);
    if (out_len)
        *out_len = len;
    return *out ? 0 : BP_ENOMEM;
}

int bp_mailbox_seal(const unsigned char my_sk[32], const unsigned char their_public[32], const char *plain,
                    size_t n, char **out, size_t *out_len)
{
    *out = NULL;
    if (n > BP_MAILBOX_MAX_MSG)
        return BP_ETOOBIG;
    unsigned char my_pk[32];
    int e = bp_crypto_curve_public(my_sk, my_pk);
    if (e)
        return e;
    size_t cap = BP_CRYPTO_MAILBOX_LEN(n) + 1, len = 0;
    char *ct = malloc(cap);
    if (!ct)
        return BP_ENOMEM;
    e = bp_crypto_mailbox_encrypt(my_sk, my_pk, their_public, NULL, plain, n, NULL, ct, cap, &len);
    if (e) {
        free(ct);
        return e;
    }
    *out = ct;
    if (out_len)
        *out_len = len;
    return 0;
}

void bp_mailbox_msg_clear(struct bp_mailbox_msg *m)
{
    if (!m)
        return;
    json_decref(m->json);
    memset(m, 0, sizeof *m);
}

/* The curvePublic a message claims to come from (mailbox-handlers.js:
 * content.user.curvePublic, else content.curvePublic), or NULL. */
static const char *claimed_curve(json_t *msg)
{
    json_t *content = json_object_get(msg, "content");
    const char *c = json_string_value(json_object_get(json_object_get(content, "user"), "curvePublic"));
    return c ? c : json_string_value(json_object_get(content, "curvePublic"));
}

int bp_mailbox_open(const unsigned char my_sk[32], const char *ct, size_t n, int64_t time,
                    struct bp_mailbox_msg *out)
{
    if (!my_sk || !ct || !out)
        return BP_EINVAL;
    memset(out, 0, sizeof *out);
    out->time = time;
    bp_crypto_msg_hash(ct, n, out->hash);
    if (n > BP_MAILBOX_MAX_MSG) {
        out->status = BP_ETOOBIG;
        return 0;
    }
    char *pt = malloc(n + 1);
    if (!pt)
        return BP_ENOMEM;
    size_t len = 0;
    unsigned char author[32];
    int e = bp_crypto_mailbox_decrypt(my_sk, NULL, ct, n, pt, n + 1, &len, author);
    if (e) {
        free(pt);
        out->status = e == BP_ENOMEM ? BP_ENOMEM : (e == BP_EDECRYPT ? BP_EDECRYPT : BP_EPROTO);
        return e == BP_ENOMEM ? e : 0;
    }
    size_t alen;
    bp_crypto_b64_encode(author, 32, BP_B64_STD, out->author, sizeof out->author, &alen);
    json_t *j = json_loadb(pt, len, JSON_REJECT_DUPLICATES, NULL);
    free(pt);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type) {
        json_decref(j);
        out->status = BP_EPROTO;
        return 0;
    }
    out->json = j;
    snprintf(out->type, sizeof out->type, "%s", type);
    json_t *content = json_object_get(j, "content");
    out->display_name = json_string_value(json_object_get(json_object_get(content, "user"), "displayName"));
    if (strcmp(type, BP_MAILBOX_TYPE_TEXT) == 0)
        out->text = json_string_value(json_object_get(content, "text"));
    /* A claimed sender must be the key that sealed it, unless we sealed it
     * (the web client posts its own notices to its own mailbox). */
    const char *claim = claimed_curve(j);
    unsigned char ck[32], my_pk[32];
    if (claim && (bp_crypto_b64_key(claim, ck, 32) != 0 || sodium_memcmp(ck, author, 32) != 0) &&
        !(bp_crypto_curve_public(my_sk, my_pk) == 0 && sodium_memcmp(my_pk, author, 32) == 0))
        out->status = BP_ESIG;
    return 0;
}

/* ---- network ---- */

int bp_mailbox_send(struct bp_client *cl, const char *channel, const char *ciphertext, char hash_out[65])
{
    if (!cl || !channel || !ciphertext || !hex32(channel, strlen(channel)))
        return BP_EINVAL;
    size_t n = strlen(ciphertext);
    if (n < 64 || n > BP_MAILBOX_MAX_MSG)
        return BP_EINVAL;
    struct buf arg = BUF_INIT;
    buf_appendc(&arg, '[');
    jsonw_cstr(&arg, channel);
    buf_appendc(&arg, ',');
    jsonw_str(&arg, ciphertext, n);
    buf_appendc(&arg, ']');
    buf_appendc(&arg, '\0');
    int e = bp_client_rpc(cl, NULL, "WRITE_PRIVATE_MESSAGE", arg.data, NULL);
    buf_free(&arg);
    if (!e && hash_out)
        bp_crypto_msg_hash(ciphertext, n, hash_out);
    return e;
}

/* The raw history of a mailbox: calls on_raw per string message. */
struct raw_read {
    int (*on_raw)(const struct bp_hist_msg *m, void *ud);
    void *ud;
};

static int raw_msg(const struct bp_hist_msg *m, void *ud)
{
    struct raw_read *r = ud;
    if (!m->content_is_string)
        return 0; /* not a letter (no such thing is stored by WRITE_PRIVATE_MESSAGE) */
    return r->on_raw(m, r->ud);
}

static int read_raw(struct bp_client *cl, const char *channel, const char *owner,
                    int (*on_raw)(const struct bp_hist_msg *m, void *ud), void *ud)
{
    if (!cl || !channel || !hex32(channel, strlen(channel)))
        return BP_EINVAL;
    char meta[128] = "";
    if (owner) {
        unsigned char k[32];
        if (bp_crypto_b64_key(owner, k, 32) != 0 || strlen(owner) > 60)
            return BP_EINVAL;
        snprintf(meta, sizeof meta, "{\"owners\":[\"%s\"]}", owner); /* checked b64 */
    }
    int e = bp_client_join(cl, channel, NULL, 0, NULL);
    if (e)
        return e;
    struct bp_history_opts ho = {.metadata_json = owner ? meta : NULL};
    struct raw_read r = {on_raw, ud};
    e = bp_client_history(cl, channel, &ho, NULL, raw_msg, &r);
    int l = bp_client_leave(cl, channel);
    return e ? e : (l == BP_ENET ? l : 0);
}

struct open_read {
    const unsigned char *sk;
    bp_mailbox_cb cb;
    void *ud;
    /* account reads: what is dismissed */
    const char *last_known;
    json_t *viewed;
    bool past_last;  /* lastKnownHash seen (the messages after it are new) */
    bool all;
    int err;
};

static bool in_viewed(json_t *viewed, const char *hash)
{
    size_t i;
    json_t *v;
    json_array_foreach(viewed, i, v) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, hash) == 0)
            return true;
    }
    return false;
}

static int open_msg(const struct bp_hist_msg *hm, void *ud)
{
    struct open_read *o = ud;
    struct bp_mailbox_msg m;
    int e = bp_mailbox_open(o->sk, hm->content, hm->content_len, hm->time, &m);
    if (e) {
        o->err = e;
        return 1;
    }
    bool before = o->last_known && *o->last_known && !o->past_last;
    if (o->last_known && *o->last_known && strcmp(m.hash, o->last_known) == 0)
        o->past_last = true; /* this one included */
    m.dismissed = before || in_viewed(o->viewed, m.hash);
    int stop = 0;
    if (o->all || !m.dismissed)
        stop = o->cb(&m, o->ud);
    bp_mailbox_msg_clear(&m);
    return stop;
}

int bp_mailbox_read(struct bp_client *cl, const char *channel, const unsigned char my_sk[32],
                    const char *owner_ed_public, bp_mailbox_cb cb, void *ud)
{
    if (!my_sk || !cb)
        return BP_EINVAL;
    struct open_read o = {.sk = my_sk, .cb = cb, .ud = ud, .all = true};
    int e = read_raw(cl, channel, owner_ed_public, open_msg, &o);
    return o.err ? o.err : e;
}

/* ---- the account's mailbox ---- */

static json_t *notif_box(struct bp_drive *d)
{
    return json_object_get(json_object_get(bp_drive_doc(d), "mailboxes"), "notifications");
}

/* The notifications mailbox's channel (32 hex), or NULL when the drive has
 * none (or a malformed one). Borrowed from the drive document. */
static const char *notif_channel(struct bp_drive *d)
{
    const char *c = json_string_value(json_object_get(notif_box(d), "channel"));
    return c && hex32(c, strlen(c)) ? c : NULL;
}

static const char *doc_str(struct bp_drive *d, const char *k)
{
    return json_string_value(json_object_get(bp_drive_doc(d), k));
}

int bp_mailbox_account_keys(struct bp_drive *d, unsigned char curve_sk[32], unsigned char curve_pk[32])
{
    const char *sk = doc_str(d, "curvePrivate"), *pk = doc_str(d, "curvePublic");
    unsigned char derived[32];
    if (!sk || !pk || bp_crypto_b64_key(sk, curve_sk, 32) != 0 ||
        bp_crypto_b64_key(pk, curve_pk, 32) != 0 || bp_crypto_curve_public(curve_sk, derived) != 0 ||
        sodium_memcmp(derived, curve_pk, 32) != 0) {
        sodium_memzero(curve_sk, 32);
        return BP_ECORRUPT;
    }
    return 0;
}

static int ignore_msg(const struct bp_hist_msg *m, void *ud)
{
    (void)m;
    (void)ud;
    return 0;
}

int bp_mailbox_account_init(struct bp_drive *d, char channel[33], bool *created)
{
    if (created)
        *created = false;
    const char *c = notif_channel(d);
    if (c) {
        memcpy(channel, c, 33);
        return 0;
    }
    const char *ed = doc_str(d, "edPublic");
    unsigned char k[32];
    if (!ed || bp_crypto_b64_key(ed, k, 32) != 0)
        return BP_ECORRUPT;
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd); /* Hash.createChannelId */
    char chan[33];
    sodium_bin2hex(chan, sizeof chan, rnd, sizeof rnd);
    /* Create it owned by the account, as chainpad-netflux does when the web
     * client first opens the mailbox (owners: [edPublic]). */
    int e = read_raw(bp_drive_client(d), chan, ed, ignore_msg, NULL);
    if (e)
        return e;
    json_t *doc = bp_drive_doc(d);
    json_t *boxes = json_object_get(doc, "mailboxes");
    if (!json_is_object(boxes)) {
        boxes = json_object();
        if (!boxes || json_object_set_new(doc, "mailboxes", boxes))
            return BP_ENOMEM;
    }
    json_t *nb = json_pack("{s:s, s:s, s:[]}", "channel", chan, "lastKnownHash", "", "viewed");
    if (!nb || json_object_set_new(boxes, "notifications", nb))
        return BP_ENOMEM;
    e = bp_drive_save(d);
    if (!e)
        e = bp_drive_pin(d, chan);
    if (e)
        return e;
    memcpy(channel, chan, 33);
    if (created)
        *created = true;
    return 0;
}

int bp_mailbox_account_user(struct bp_drive *d, json_t **out)
{
    *out = NULL;
    json_t *doc = bp_drive_doc(d);
    json_t *profile = json_object_get(doc, "profile");
    json_t *u = json_object();
    if (!u)
        return BP_ENOMEM;
    struct {
        const char *name;
        json_t *v;
    } f[] = {
        {"displayName", json_object_get(doc, "cryptpad.username")},
        {"profile", json_object_get(profile, "view")},
        {"edPublic", json_object_get(doc, "edPublic")},
        {"curvePublic", json_object_get(doc, "curvePublic")},
        {"notifications", json_object_get(notif_box(d), "channel")},
        {"avatar", json_object_get(profile, "avatar")},
        {"badge", json_object_get(profile, "badge")},
        {"uid", json_object_get(doc, "uid")},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v && !json_is_null(f[i].v) && json_object_set(u, f[i].name, f[i].v)) {
            json_decref(u);
            return BP_ENOMEM;
        }
    *out = u;
    return 0;
}

int bp_mailbox_account_address(struct bp_drive *d, const char *origin, char *out, size_t cap,
                               size_t *out_len)
{
    struct bp_mailbox_addr a = {0};
    if (!origin || strlen(origin) >= sizeof a.origin)
        return BP_EINVAL;
    unsigned char sk[32];
    int e = bp_mailbox_account_keys(d, sk, a.curve_public);
    sodium_memzero(sk, sizeof sk);
    if (!e)
        e = bp_mailbox_account_init(d, a.channel, NULL);
    if (e)
        return e;
    snprintf(a.origin, sizeof a.origin, "%s", origin);
    size_t n = strlen(a.origin);
    while (n && a.origin[n - 1] == '/')
        a.origin[--n] = '\0';
    return bp_mailbox_addr_format(&a, out, cap, out_len);
}

int bp_mailbox_account_read(struct bp_drive *d, bool all, bp_mailbox_cb cb, void *ud)
{
    json_t *box = notif_box(d);
    const char *chan = notif_channel(d);
    if (!chan)
        return BP_ENOENT;
    unsigned char *sk = sodium_malloc(32);
    unsigned char pk[32];
    if (!sk)
        return BP_ENOMEM;
    int e = bp_mailbox_account_keys(d, sk, pk);
    if (!e) {
        struct open_read o = {.sk = sk, .cb = cb, .ud = ud, .all = all,
                              .last_known = json_string_value(json_object_get(box, "lastKnownHash")),
                              .viewed = json_object_get(box, "viewed")};
        char ch[33];
        memcpy(ch, chan, 33); /* the drive may change under the callbacks */
        e = read_raw(bp_drive_client(d), ch, doc_str(d, "edPublic"), open_msg, &o);
        if (o.err)
            e = o.err;
    }
    sodium_free(sk);
    return e;
}

struct hashes {
    json_t *list; /* the channel's message hashes, oldest first */
};

static int collect_hash(const struct bp_hist_msg *m, void *ud)
{
    struct hashes *h = ud;
    char hash[BP_CRYPTO_HASH_LEN + 1];
    bp_crypto_msg_hash(m->content, m->content_len, hash);
    return json_array_append_new(h->list, json_string(hash)) ? 1 : 0;
}

int bp_mailbox_account_dismiss(struct bp_drive *d, const char *upto_hash, bool trim, int *trim_err)
{
    if (trim_err)
        *trim_err = 0;
    json_t *box = notif_box(d);
    const char *c = notif_channel(d);
    if (!upto_hash || strlen(upto_hash) != BP_CRYPTO_HASH_LEN)
        return BP_EINVAL;
    if (!c)
        return BP_ENOENT;
    char chan[33];
    memcpy(chan, c, 33);
    struct hashes h = {json_array()};
    if (!h.list)
        return BP_ENOMEM;
    int e = read_raw(bp_drive_client(d), chan, NULL, collect_hash, &h);
    size_t at = (size_t)-1, i;
    json_t *v;
    json_array_foreach(h.list, i, v) {
        if (strcmp(json_string_value(v), upto_hash) == 0)
            at = i;
    }
    if (!e && at == (size_t)-1)
        e = BP_ENOENT;
    if (e) {
        json_decref(h.list);
        return e;
    }
    /* viewed keeps only the hashes after upto_hash */
    json_t *viewed = json_array();
    json_t *old = json_object_get(box, "viewed");
    json_array_foreach(old, i, v) {
        bool before = false;
        for (size_t k = 0; k <= at && !before; k++)
            before = json_equal(v, json_array_get(h.list, k));
        if (!before)
            json_array_append(viewed, v);
    }
    json_decref(h.list);
    if (!viewed || json_object_set_new(box, "viewed", viewed) ||
        json_object_set_new(box, "lastKnownHash", json_string(upto_hash)))
        return BP_ENOMEM;
    e = bp_drive_save(d);
    if (e || !trim)
        return e;
    struct buf arg = BUF_INIT;
    buf_appends(&arg, "{\"channel\":");
    jsonw_cstr(&arg, chan);
    buf_appends(&arg, ",\"hash\":");
    jsonw_cstr(&arg, upto_hash);
    buf_appends(&arg, "}");
    buf_appendc(&arg, '\0');
    int t = bp_drive_rpc(d, "TRIM_HISTORY", arg.data, NULL);
    buf_free(&arg);
    if (trim_err)
        *trim_err = t;
    return 0;
}

int bp_mailbox_account_dismiss_one(struct bp_drive *d, const char *hash)
{
    json_t *box = notif_box(d);
    if (!hash || strlen(hash) != BP_CRYPTO_HASH_LEN)
        return BP_EINVAL;
    if (!notif_channel(d))
        return BP_ENOENT;
    json_t *viewed = json_object_get(box, "viewed");
    if (!json_is_array(viewed)) {
        viewed = json_array();
        if (!viewed || json_object_set_new(box, "viewed", viewed))
            return BP_ENOMEM;
    }
    size_t i;
    json_t *v;
    json_array_foreach(viewed, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), hash) == 0)
            return 0;
    }
    if (json_array_append_new(viewed, json_string(hash)))
        return BP_ENOMEM;
    return bp_drive_save(d);
}
