/* contacts.c: contacts as CryptPad's web client keeps them
 * (blindpad/contacts.h has the protocol and what each call does).
 *
 * Stored format, in the account's drive (the user object, "proxy"):
 *   friends         = {<curvePublic b64>: <user data>, "me": <own data>}
 *                     user data: {channel, displayName, profile, edPublic,
 *                     curvePublic, notifications, avatar, badge, uid} (the
 *                     web client may add lastKnownHash; kept as is)
 *   friends_pending = {<curvePublic b64>: {time: ms, channel: <their
 *                     notifications channel>, curvePublic}}
 * Letters go through mailbox.c (sealed with the account's curve key). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindpad/client.h>
#include <blindpad/contacts.h>
#include <blindpad/crypto.h>
#include <blindpad/drive.h>
#include <blindpad/err.h>
#include <blindpad/mailbox.h>

#include "common/clock.h"

static bool hex32(const char *s)
{
    return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* A 32-byte key in the padded 44-character base64 the drive keys friends
 * by (another spelling of the same key would be another entry). */
static bool key32(const char *s, unsigned char out[32])
{
    unsigned char tmp[32];
    return s && strlen(s) == 44 && bp_crypto_b64_key(s, out ? out : tmp, 32) == 0;
}

/* The account's own curvePublic as the drive holds it, or NULL. */
static const char *my_curve(struct bp_drive *d)
{
    const char *k = json_string_value(json_object_get(bp_drive_doc(d), "curvePublic"));
    return key32(k, NULL) ? k : NULL;
}

json_t *bp_contacts_user_copy(const json_t *user, bool want_channel, int *err, const char **why)
{
    static const struct {
        const char *name;
        size_t max;
    } opt[] = {{"displayName", BP_CONTACTS_NAME_MAX}, {"profile", 256}, {"avatar", 1024},
               {"badge", 256}, {"uid", 64}};
    const char *reason = NULL;
    *err = BP_EPROTO;
    if (!json_is_object(user))
        reason = "no user data";
    const char *curve = json_string_value(json_object_get(user, "curvePublic"));
    const char *notif = json_string_value(json_object_get(user, "notifications"));
    const char *chan = json_string_value(json_object_get(user, "channel"));
    const char *ed = json_string_value(json_object_get(user, "edPublic"));
    if (!reason && !key32(curve, NULL))
        reason = "no curvePublic key";
    if (!reason && !hex32(notif))
        reason = "no mailbox (notifications) to answer to";
    if (!reason && want_channel && !hex32(chan))
        reason = "no chat channel";
    if (!reason && ed && !key32(ed, NULL))
        reason = "a malformed edPublic key";
    if (reason) {
        if (why)
            *why = reason;
        return NULL;
    }
    json_t *c = json_object();
    *err = BP_ENOMEM;
    if (!c)
        return NULL;
    int bad = json_object_set_new(c, "curvePublic", json_string(curve)) |
              json_object_set_new(c, "notifications", json_string(notif));
    if (hex32(chan))
        bad |= json_object_set_new(c, "channel", json_string(chan));
    if (ed)
        bad |= json_object_set_new(c, "edPublic", json_string(ed));
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        const char *v = json_string_value(json_object_get(user, opt[i].name));
        if (v && json_string_length(json_object_get(user, opt[i].name)) <= opt[i].max)
            bad |= json_object_set_new(c, opt[i].name, json_string(v));
    }
    if (bad) {
        json_decref(c);
        return NULL;
    }
    *err = 0;
    return c;
}

/* doc[key] as an object, made (empty) if missing or not an object. */
static json_t *child(struct bp_drive *d, const char *key)
{
    json_t *doc = bp_drive_doc(d), *o = json_object_get(doc, key);
    if (json_is_object(o))
        return o;
    o = json_object();
    if (!o || json_object_set_new(doc, key, o))
        return NULL;
    return o;
}


/* Seals {type, content} for their key and writes it to their mailbox, as
 * the web client's Mailbox.sendTo: content.user (the account's user data
 * without channel) is added when content has none. Consumes content. */
static int send_letter(struct bp_drive *d, const char *type, json_t *content, const char *to_channel,
                       const unsigned char to_curve[32])
{
    int e = 0;
    if (!content)
        return BP_ENOMEM;
    if (!json_object_get(content, "user")) {
        json_t *user = NULL;
        e = bp_mailbox_account_user(d, &user);
        if (!e && json_object_set_new(content, "user", user))
            e = BP_ENOMEM;
    }
    json_t *letter = e ? NULL : json_pack("{s:s, s:o}", "type", type, "content", content);
    if (e || !letter) {
        if (!e)
            e = BP_ENOMEM; /* json_pack's "o" consumed content */
        else
            json_decref(content);
        return e;
    }
    char *plain = json_dumps(letter, JSON_COMPACT);
    json_decref(letter);
    unsigned char *sk = sodium_malloc(32);
    unsigned char pk[32];
    char *ct = NULL;
    size_t clen = 0;
    if (!plain || !sk)
        e = BP_ENOMEM;
    if (!e)
        e = bp_mailbox_account_keys(d, sk, pk);
    if (!e)
        e = bp_mailbox_seal(sk, to_curve, plain, strlen(plain), &ct, &clen);
    if (!e)
        e = bp_mailbox_send(bp_drive_client(d), to_channel, ct, NULL);
    if (plain)
        sodium_memzero(plain, strlen(plain));
    free(plain);
    free(ct);
    sodium_free(sk);
    return e;
}

int bp_contacts_list(struct bp_drive *d, json_t **friends, json_t **pending)
{
    json_t *doc = bp_drive_doc(d), *f = json_object(), *p = pending ? json_object() : NULL;
    *friends = NULL;
    if (pending)
        *pending = NULL;
    if (!f || (pending && !p)) {
        json_decref(f);
        json_decref(p);
        return BP_ENOMEM;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(doc, "friends"), k, v) {
        if (strcmp(k, "me") != 0 && json_is_object(v))
            json_object_set(f, k, v);
    }
    if (p)
        json_object_foreach(json_object_get(doc, "friends_pending"), k, v) {
            if (json_is_object(v))
                json_object_set(p, k, v);
        }
    *friends = f;
    if (pending)
        *pending = p;
    return 0;
}

int bp_contacts_request(struct bp_drive *d, const struct bp_mailbox_addr *to)
{
    const char *me = my_curve(d);
    if (!me)
        return BP_ECORRUPT;
    char key[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(key, sizeof key, to->curve_public, 32, sodium_base64_VARIANT_ORIGINAL);
    if (strcmp(key, me) == 0)
        return BP_EINVAL;
    char mine[33];
    int e = bp_mailbox_account_init(d, mine, NULL); /* the answer comes there */
    /* Answers already waiting are applied (or dropped as answering nothing)
     * first: an old decline from them must not be taken for the answer to
     * this request. */
    if (!e)
        e = bp_contacts_sync(d, NULL);
    if (e)
        return e;
    json_t *friends = child(d, "friends"), *pending = child(d, "friends_pending");
    if (!friends || !pending)
        return BP_ENOMEM;
    if (json_object_get(friends, key) || json_object_get(pending, key))
        return BP_EEXIST;
    json_t *user = NULL;
    e = bp_mailbox_account_user(d, &user);
    if (e)
        return e;
    /* The chat channel we propose: 16 random bytes in hex, Hash.createChannelId. */
    unsigned char rnd[16];
    char chan[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(chan, sizeof chan, rnd, sizeof rnd);
    json_t *rec = json_pack("{s:I, s:s, s:s}", "time", (json_int_t)clock_wall_ms(), "channel", to->channel,
                            "curvePublic", key);
    if (json_object_set_new(user, "channel", json_string(chan)) || !rec ||
        json_object_set_new(pending, key, rec)) {
        json_decref(user);
        return BP_ENOMEM;
    }
    /* Pending first, as the web client: an answer that comes before the
     * drive is written would otherwise find no request to match. */
    e = bp_drive_save(d);
    if (!e)
        e = send_letter(d, BP_CONTACTS_REQUEST, json_pack("{s:o}", "user", user), to->channel, to->curve_public);
    else
        json_decref(user);
    if (e) {
        json_object_del(child(d, "friends_pending"), key);
        bp_drive_save(d); /* best effort: the request did not go out */
    }
    return e;
}

/* friends[key] = user (a copy made by bp_contacts_user_copy), pending entry
 * dropped, drive written, chat channel pinned. Consumes user. */
static int add_friend(struct bp_drive *d, const char *key, json_t *user)
{
    json_t *friends = child(d, "friends"), *pending = child(d, "friends_pending");
    if (!friends || !pending) {
        json_decref(user);
        return BP_ENOMEM;
    }
    const char *chan = json_string_value(json_object_get(user, "channel"));
    char ch[33] = "";
    if (chan)
        memcpy(ch, chan, 33);
    if (json_object_set_new(friends, key, user))
        return BP_ENOMEM;
    json_object_del(pending, key);
    int e = bp_drive_save(d);
    if (!e && ch[0])
        e = bp_drive_pin(d, ch);
    return e;
}

int bp_contacts_answer(struct bp_drive *d, const struct bp_mailbox_msg *m, bool accept)
{
    unsigned char their[32];
    if (!m || m->status != 0 || strcmp(m->type, BP_CONTACTS_REQUEST) != 0 || !key32(m->author, their))
        return BP_EINVAL;
    int e;
    json_t *user = bp_contacts_user_copy(json_object_get(json_object_get(m->json, "content"), "user"), true, &e,
                                         NULL);
    if (!user)
        return e;
    char to[33];
    memcpy(to, json_string_value(json_object_get(user, "notifications")), 33);
    if (accept) {
        /* A contact already known keeps its channel (Messaging.acceptFriendRequest). */
        json_t *known = json_object_get(child(d, "friends"), m->author);
        const char *kc = json_string_value(json_object_get(known, "channel"));
        if (hex32(kc))
            json_object_set_new(user, "channel", json_string(kc));
        json_t *mine = NULL;
        e = bp_mailbox_account_user(d, &mine);
        if (!e && json_object_set(mine, "channel", json_object_get(user, "channel")))
            e = BP_ENOMEM;
        if (!e)
            e = send_letter(d, BP_CONTACTS_ACCEPT, json_pack("{s:o}", "user", mine), to, their);
        else
            json_decref(mine);
        if (!e)
            e = add_friend(d, m->author, user);
        else
            json_decref(user);
    } else {
        json_decref(user);
        e = send_letter(d, BP_CONTACTS_DECLINE, json_object(), to, their);
    }
    if (!e)
        e = bp_mailbox_account_dismiss_one(d, m->hash);
    return e;
}

int bp_contacts_remove(struct bp_drive *d, const char *curve_public, int *letter_err)
{
    json_t *friends = child(d, "friends"), *pending = child(d, "friends_pending");
    if (letter_err)
        *letter_err = 0;
    if (!friends || !pending)
        return BP_ENOMEM;
    json_t *f = json_object_get(friends, curve_public);
    unsigned char their[32];
    if (!curve_public || strcmp(curve_public, "me") == 0 || !json_is_object(f) || !key32(curve_public, their))
        return BP_ENOENT;
    const char *notif = json_string_value(json_object_get(f, "notifications"));
    const char *me = my_curve(d);
    int le = BP_ENOENT; /* no mailbox to tell */
    if (hex32(notif) && me) {
        char to[33];
        memcpy(to, notif, 33);
        le = send_letter(d, BP_CONTACTS_UNFRIEND, json_pack("{s:s}", "curvePublic", me), to, their);
    }
    if (letter_err)
        *letter_err = le;
    json_object_del(friends, curve_public);
    json_object_del(pending, curve_public);
    return bp_drive_save(d);
}

/* ---- applying answers ---- */

struct pending_letters {
    json_t *list; /* [{hash, author, type, json}] of the letters that opened */
    int err;
};

static int collect(const struct bp_mailbox_msg *m, void *ud)
{
    struct pending_letters *p = ud;
    if (m->status != 0 || !m->json)
        return 0;
    if (strcmp(m->type, BP_CONTACTS_REQUEST) && strcmp(m->type, BP_CONTACTS_ACCEPT) &&
        strcmp(m->type, BP_CONTACTS_DECLINE) && strcmp(m->type, BP_CONTACTS_UNFRIEND))
        return 0;
    json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "hash", m->hash, "author", m->author, "type", m->type, "json",
                          m->json);
    if (!o || json_array_append_new(p->list, o)) {
        p->err = BP_ENOMEM;
        return 1;
    }
    return 0;
}

int bp_contacts_sync(struct bp_drive *d, struct bp_contacts_sync *out)
{
    struct bp_contacts_sync r = {0};
    struct pending_letters p = {json_array(), 0};
    if (!p.list)
        return BP_ENOMEM;
    int e = bp_mailbox_account_read(d, false, collect, &p);
    if (!e)
        e = p.err;
    size_t i;
    json_t *o;
    json_array_foreach(p.list, i, o) {
        if (e)
            break;
        const char *hash = json_string_value(json_object_get(o, "hash"));
        const char *author = json_string_value(json_object_get(o, "author"));
        const char *type = json_string_value(json_object_get(o, "type"));
        json_t *content = json_object_get(json_object_get(o, "json"), "content");
        json_t *friends = child(d, "friends"), *pending = child(d, "friends_pending");
        if (!friends || !pending) {
            e = BP_ENOMEM;
            break;
        }
        bool is_pending = json_object_get(pending, author) != NULL;
        bool is_friend = strcmp(author, "me") != 0 && json_is_object(json_object_get(friends, author));
        if (strcmp(type, BP_CONTACTS_ACCEPT) == 0 && is_pending) {
            json_t *u = json_object_get(content, "user");
            int ue;
            json_t *user = bp_contacts_user_copy(u ? u : content, true, &ue, NULL);
            if (!user || strcmp(json_string_value(json_object_get(user, "curvePublic")), author) != 0) {
                json_decref(user);
                continue; /* malformed: left in the mailbox, the request stays pending */
            }
            e = add_friend(d, author, user);
            if (!e)
                r.accepted++;
        } else if (strcmp(type, BP_CONTACTS_ACCEPT) == 0 && is_friend) {
            /* Crossed requests: each side accepted the other's and proposed
             * its own channel. Both keep the smaller one, so they converge. */
            json_t *u = json_object_get(content, "user");
            const char *theirs = json_string_value(json_object_get(u ? u : content, "channel"));
            json_t *f = json_object_get(friends, author);
            const char *cur = json_string_value(json_object_get(f, "channel"));
            if (hex32(theirs) && (!hex32(cur) || strcmp(theirs, cur) < 0)) {
                char ch[33];
                memcpy(ch, theirs, 33);
                if (json_object_set_new(f, "channel", json_string(ch))) {
                    e = BP_ENOMEM;
                    break;
                }
                e = bp_drive_save(d);
                if (!e)
                    e = bp_drive_pin(d, ch);
            }
        } else if (strcmp(type, BP_CONTACTS_DECLINE) == 0 && is_pending) {
            json_object_del(pending, author);
            e = bp_drive_save(d);
            if (!e)
                r.declined++;
        } else if (strcmp(type, BP_CONTACTS_UNFRIEND) == 0 && (is_friend || is_pending)) {
            json_object_del(friends, author);
            json_object_del(pending, author);
            e = bp_drive_save(d);
            if (!e)
                r.removed++;
        } else if (strcmp(type, BP_CONTACTS_REQUEST) == 0) {
            if (!is_friend && !is_pending) {
                r.requests++;
                continue; /* for the user to answer */
            }
            struct bp_mailbox_msg m = {.status = 0, .json = json_object_get(o, "json")};
            snprintf(m.hash, sizeof m.hash, "%s", hash);
            snprintf(m.author, sizeof m.author, "%s", author);
            snprintf(m.type, sizeof m.type, "%s", type);
            e = bp_contacts_answer(d, &m, true); /* dismisses it */
            if (e == BP_EPROTO) {
                e = 0; /* malformed: left alone */
                continue;
            }
            if (!e)
                r.crossed++;
            continue;
        } else if (strcmp(type, BP_CONTACTS_UNFRIEND) == 0) {
            continue; /* from someone who is not a contact: left for the user */
        }
        /* else: an answer to a request we no longer have (or an accept from
         * a contact whose channel we keep): consumed, dismissed below. */
        if (!e)
            e = bp_mailbox_account_dismiss_one(d, hash);
    }
    json_decref(p.list);
    if (out)
        *out = r;
    return e;
}
