/* drive.c: an account's CryptDrive (blindpad/drive.h). The drive is a
 * chainpad-listmap document; this file edits its "drive" member the way
 * CryptPad's user-object-setter.js does (pushData + add to root, pushToTrash,
 * delete) and keeps the account's pin list in step (async-store.js: the drive
 * channel + every filesData channel; GET_HASH, RESET on a mismatch). */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindpad/account.h>
#include <blindpad/chainpad.h>
#include <blindpad/client.h>
#include <blindpad/drive.h>
#include <blindpad/err.h>
#include <blindpad/http.h>
#include <blindpad/link.h>
#include <blindpad/login.h>
#include <blindpad/pad.h>

#include "common/clock.h"

struct bp_drive {
    struct bp_pad *pad;
    json_t *doc;          /* the whole listmap object (our copy) */
    unsigned char pk[32];
    unsigned char *sk;    /* 64 bytes, sodium_malloc'd */
    char channel[49];
    char err[256];
};

#define SAY(...) (errmsg && errmsg_len ? (void)snprintf(errmsg, errmsg_len, __VA_ARGS__) : (void)0)

static json_t *obj_member(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o)) {
        o = json_object();
        if (!o || json_object_set_new(parent, key, o))
            return NULL;
    }
    return o;
}

int bp_drive_open(const char *server, const char *user_hash, const unsigned char ed_pk[32],
                  const unsigned char ed_sk[64], unsigned timeout_ms, struct bp_drive **out,
                  char *errmsg, size_t errmsg_len)
{
    *out = NULL;
    if (!server || !user_hash || !ed_pk || !ed_sk)
        return BP_EINVAL;
    struct bp_drive *d = calloc(1, sizeof *d);
    if (!d)
        return BP_ENOMEM;
    d->sk = sodium_malloc(64);
    if (!d->sk) {
        free(d);
        return BP_ENOMEM;
    }
    memcpy(d->sk, ed_sk, 64);
    memcpy(d->pk, ed_pk, 32);
    struct bp_link *l = NULL;
    const char *why = NULL;
    int e = bp_link_parse_hash("drive", user_hash, NULL, &l, &why);
    if (e) {
        SAY("the drive hash does not parse: %s", why ? why : bp_strerror(e));
        bp_drive_free(d);
        return e;
    }
    snprintf(d->channel, sizeof d->channel, "%s", l->channel);
    struct bp_pad_open_opts oo = {.must_exist = true, .engine_flags = BP_CHAINPAD_LISTMAP,
                                  .timeout_ms = timeout_ms};
    e = bp_pad_open_url(server, l, &oo, &d->pad, errmsg, errmsg_len);
    bp_link_free(l);
    if (!e) {
        e = bp_pad_json(d->pad, &d->doc);
        if (e == BP_ENOENT || (!e && !json_is_object(d->doc))) {
            SAY("the account's drive is empty or not an object");
            e = BP_ECORRUPT;
        }
    }
    json_t *drv = e ? NULL : obj_member(d->doc, "drive");
    if (!e && (!drv || !obj_member(drv, "root") || !obj_member(drv, "filesData") ||
               !obj_member(drv, "trash") || !obj_member(drv, "sharedFolders")))
        e = BP_ENOMEM;
    if (e) {
        bp_drive_free(d);
        return e;
    }
    *out = d;
    return 0;
}

void bp_drive_free(struct bp_drive *d)
{
    if (!d)
        return;
    bp_pad_free(d->pad);
    json_decref(d->doc); /* holds account secrets in jansson's heap (pad.h's API) */
    sodium_free(d->sk);
    free(d);
}

const char *bp_drive_error(const struct bp_drive *d) { return d->err; }
const char *bp_drive_channel(const struct bp_drive *d) { return d->channel; }
json_t *bp_drive_doc(struct bp_drive *d) { return d->doc; }
struct bp_client *bp_drive_client(struct bp_drive *d) { return bp_pad_client(d->pad); }

static json_t *drive_of(struct bp_drive *d) { return json_object_get(d->doc, "drive"); }

static json_t *files_data(struct bp_drive *d)
{
    return json_object_get(drive_of(d), "filesData");
}

/* filesData entry of a numeric id (borrowed) or NULL. */
static json_t *entry_of(struct bp_drive *d, json_t *idv)
{
    char k[32];
    if (json_is_integer(idv))
        snprintf(k, sizeof k, "%lld", (long long)json_integer_value(idv));
    else if (json_is_real(idv))
        snprintf(k, sizeof k, "%.0f", json_real_value(idv));
    else if (json_is_string(idv))
        snprintf(k, sizeof k, "%s", json_string_value(idv));
    else
        return NULL;
    return json_object_get(files_data(d), k);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The folder at path under root (borrowed), NULL if none. */
static json_t *folder_at(struct bp_drive *d, const char *path)
{
    json_t *f = json_object_get(drive_of(d), "root");
    char buf[1024];
    if (!path || snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return path ? NULL : f;
    for (char *save = NULL, *p = strtok_r(buf, "/", &save); p && f; p = strtok_r(NULL, "/", &save)) {
        f = json_object_get(f, p);
        if (!json_is_object(f))
            return NULL;
    }
    return f;
}

static json_t *item_json(struct bp_drive *d, const char *key, json_t *v)
{
    if (json_is_object(v))
        return json_pack("{s:s, s:s}", "name", key, "kind", "folder");
    json_t *e = entry_of(d, v);
    const char *href = str(e, "href"), *ro = str(e, "roHref");
    const char *h = *href ? href : ro;
    char type[32] = "";
    if (h[0] == '/')
        snprintf(type, sizeof type, "%.*s", (int)strcspn(h + 1, "/"), h + 1);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "name",
                          *str(e, "title") ? str(e, "title") : key, "key", key, "kind",
                          strcmp(type, "file") == 0 ? "file" : "pad", "title", str(e, "title"),
                          "type", type, "href", href, "channel", str(e, "channel"), "id", v);
    if (o && *ro)
        json_object_set_new(o, "roHref", json_string(ro));
    if (o && json_object_get(e, "atime"))
        json_object_set(o, "atime", json_object_get(e, "atime"));
    if (o && json_object_get(e, "ctime"))
        json_object_set(o, "ctime", json_object_get(e, "ctime"));
    return o;
}

int bp_drive_list(struct bp_drive *d, const char *path, bool trash, json_t **out)
{
    *out = NULL;
    json_t *arr = json_array(), *files = json_array();
    if (!arr || !files) {
        json_decref(arr);
        json_decref(files);
        return BP_ENOMEM;
    }
    const char *key;
    json_t *v;
    if (trash) {
        json_object_foreach(json_object_get(drive_of(d), "trash"), key, v) {
            size_t i;
            json_t *t;
            json_array_foreach(v, i, t) {
                json_t *it = item_json(d, key, json_object_get(t, "element"));
                if (it && json_object_get(t, "path"))
                    json_object_set(it, "path", json_object_get(t, "path"));
                json_array_append_new(json_is_object(json_object_get(t, "element")) ? arr : files, it);
            }
        }
    } else {
        json_t *f = folder_at(d, path);
        if (!f) {
            json_decref(arr);
            json_decref(files);
            snprintf(d->err, sizeof d->err, "no folder %s in the drive", path);
            return BP_ENOENT;
        }
        json_object_foreach(f, key, v) {
            if (!json_is_object(v) && !entry_of(d, v))
                continue; /* dangling id: the web client hides it too */
            json_array_append_new(json_is_object(v) ? arr : files, item_json(d, key, v));
        }
    }
    json_array_extend(arr, files);
    json_decref(files);
    *out = arr;
    return 0;
}

/* ---- pins ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool hex_id(const char *s)
{
    size_t n = strlen(s);
    if (n != 32 && n != 48)
        return false;
    return strspn(s, "0123456789abcdef") == n;
}

/* The channel of a hash or href (profile, todo, avatar), in out; "" if it
 * does not parse. */
static void channel_of(const char *type, const char *hash, char out[49])
{
    struct bp_link *l = NULL;
    const char *why = NULL;
    out[0] = '\0';
    if (!hash || !*hash)
        return;
    int e = type ? bp_link_parse_hash(type, hash, NULL, &l, &why) : bp_link_parse(hash, NULL, &l, &why);
    if (!e && hex_id(l->channel))
        snprintf(out, 49, "%s", l->channel);
    bp_link_free(l);
}

/* The pinned set is async-store.js's getUserChannelList: the drive, every
 * filesData channel, the profile (and its avatar), the todo, the contacts'
 * chat channels, the mailboxes (not the 33-char broadcast one) and the
 * calendars. Forgetting any of them would make bp_drive_sync_pins RESET
 * them away. */
int bp_drive_channels(struct bp_drive *d, json_t **out)
{
    *out = NULL;
    json_t *fd = files_data(d);
    json_t *groups[3] = {json_object_get(d->doc, "friends"), json_object_get(d->doc, "mailboxes"),
                         json_object_get(d->doc, "calendars")};
    size_t cap = json_object_size(fd) + 4, n = 0;
    for (int g = 0; g < 3; g++)
        cap += json_object_size(groups[g]);
    const char **v = malloc(cap * sizeof *v);
    if (!v)
        return BP_ENOMEM;
    v[n++] = d->channel;
    const char *key;
    json_t *e;
    json_object_foreach(fd, key, e) {
        const char *c = str(e, "channel");
        if (hex_id(c))
            v[n++] = c;
    }
    for (int g = 0; g < 3; g++)
        json_object_foreach(groups[g], key, e) {
            const char *c = str(e, "channel");
            if (hex_id(c) && !(g == 0 && strcmp(key, "me") == 0))
                v[n++] = c;
        }
    json_t *profile = json_object_get(d->doc, "profile");
    char pchan[49], achan[49], tchan[49];
    channel_of("profile", str(profile, "edit"), pchan);
    channel_of(NULL, str(profile, "avatar"), achan);
    channel_of("todo", str(d->doc, "todo"), tchan);
    if (*pchan)
        v[n++] = pchan;
    if (*achan)
        v[n++] = achan;
    if (*tchan)
        v[n++] = tchan;
    qsort(v, n, sizeof *v, cmp_str);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
            json_array_append_new(arr, json_string(v[i]));
    free(v);
    if (!arr)
        return BP_ENOMEM;
    *out = arr;
    return 0;
}

int bp_drive_pin_hash(struct bp_drive *d, char out[96])
{
    json_t *arr;
    int e = bp_drive_channels(d, &arr);
    if (e)
        return e;
    char *s = json_dumps(arr, JSON_COMPACT); /* hex ids: same text as JSON.stringify */
    json_decref(arr);
    if (!s)
        return BP_ENOMEM;
    unsigned char h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, (const unsigned char *)s, strlen(s));
    free(s);
    sodium_bin2base64(out, 96, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

int bp_drive_rpc(struct bp_drive *d, const char *cmd, const char *arg_json, char **reply)
{
    struct bp_sign_key key = {.pk = d->pk, .sk = d->sk};
    char *r = NULL;
    struct bp_client *cl = bp_pad_client(d->pad);
    int e = bp_client_rpc(cl, &key, cmd, arg_json, &r);
    if (e)
        snprintf(d->err, sizeof d->err, "%s: %s", cmd,
                 bp_client_error(cl)[0] ? bp_client_error(cl) : bp_strerror(e));
    if (reply)
        *reply = r;
    else
        free(r);
    return e;
}

int bp_drive_sync_pins(struct bp_drive *d, int *reset)
{
    if (reset)
        *reset = 0;
    char want[96];
    int e = bp_drive_pin_hash(d, want);
    if (e)
        return e;
    char *r = NULL;
    e = bp_drive_rpc(d, "GET_HASH", "null", &r);
    if (e)
        return e;
    json_t *j = json_loads(r, 0, NULL);
    free(r);
    const char *have = json_string_value(json_array_get(j, 0));
    bool same = have && strcmp(have, want) == 0;
    json_decref(j);
    if (same)
        return 0;
    json_t *arr;
    e = bp_drive_channels(d, &arr);
    if (e)
        return e;
    char *list = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!list)
        return BP_ENOMEM;
    e = bp_drive_rpc(d, "RESET", list, NULL);
    free(list);
    if (!e && reset)
        *reset = 1;
    return e;
}

static int pin_one(struct bp_drive *d, const char *cmd, const char *chan)
{
    char arg[80];
    snprintf(arg, sizeof arg, "[\"%s\"]", chan); /* chan is checked hex */
    return bp_drive_rpc(d, cmd, arg, NULL);
}

int bp_drive_pin(struct bp_drive *d, const char *chan)
{
    if (!chan || !hex_id(chan))
        return BP_EINVAL;
    int e = pin_one(d, "PIN", chan);
    return e ? e : bp_drive_sync_pins(d, NULL);
}

/* ---- edits ---- */

static int save(struct bp_drive *d)
{
    int e = bp_pad_write_json(d->pad, d->doc);
    if (e)
        snprintf(d->err, sizeof d->err, "cannot write the drive: %s",
                 bp_pad_error(d->pad)[0] ? bp_pad_error(d->pad) : bp_strerror(e));
    return e;
}

int bp_drive_save(struct bp_drive *d) { return save(d); }


/* The relative href ("/code/#/2/...") of a full URL or of an href. */
static const char *relative(const char *link)
{
    const char *p = strstr(link, "://");
    if (!p)
        return link;
    p = strchr(p + 3, '/');
    return p ? p : "";
}

static json_t *find_by_channel(struct bp_drive *d, const char *chan)
{
    const char *key;
    json_t *e;
    json_object_foreach(files_data(d), key, e) {
        if (strcmp(str(e, "channel"), chan) == 0)
            return e;
    }
    return NULL;
}

int bp_drive_add(struct bp_drive *d, const char *link, const char *title, const char *owner)
{
    struct bp_link *l = NULL;
    const char *why = NULL;
    int e = bp_link_parse(link, NULL, &l, &why);
    if (e) {
        snprintf(d->err, sizeof d->err, "not a link: %s", why ? why : bp_strerror(e));
        return e;
    }
    char chan[49];
    snprintf(chan, sizeof chan, "%s", l->channel);
    bool view = l->mode == BP_LINK_VIEW;
    bp_link_free(l);
    if (!hex_id(chan))
        return BP_EINVAL;
    if (find_by_channel(d, chan))
        return 0;
    int64_t t = clock_wall_ms();
    json_t *ent = json_pack("{s:s, s:s, s:I, s:I, s:s}", view ? "roHref" : "href", relative(link),
                            "title", title ? title : "", "atime", (json_int_t)t, "ctime",
                            (json_int_t)t, "channel", chan);
    if (ent && owner && *owner)
        json_object_set_new(ent, "owners", json_pack("[s]", owner));
    /* Util.createRandomInteger: [0, 2^53) ; the root key: Hash.createChannelId (32 hex) */
    uint64_t r;
    randombytes_buf(&r, sizeof r);
    long long id = (long long)(r & ((1ull << 53) - 1));
    char idk[32], rk[33];
    unsigned char rb[16];
    randombytes_buf(rb, sizeof rb);
    sodium_bin2hex(rk, sizeof rk, rb, sizeof rb);
    snprintf(idk, sizeof idk, "%lld", id);
    json_t *root = json_object_get(drive_of(d), "root");
    if (!ent || json_object_set_new(files_data(d), idk, ent) ||
        json_object_set_new(root, rk, json_integer(id)))
        return BP_ENOMEM;
    e = save(d);
    if (!e)
        e = pin_one(d, "PIN", chan);
    if (!e)
        e = bp_drive_sync_pins(d, NULL);
    return e;
}

struct match {
    json_t *parent;
    char key[128];
    json_t *path; /* ["root", ...] */
};

static void search(struct bp_drive *d, json_t *folder, json_t *path, const char *name,
                   const char *chan, struct match *m, int *n, bool recurse)
{
    const char *key;
    json_t *v;
    json_object_foreach(folder, key, v) {
        bool hit = strcmp(key, name ? name : "") == 0;
        if (!json_is_object(v)) {
            json_t *e = entry_of(d, v);
            if (name && strcmp(str(e, "title"), name) == 0)
                hit = true;
            if (chan && strcmp(str(e, "channel"), chan) == 0)
                hit = true;
        }
        if (hit) {
            if (*n == 0) {
                m->parent = folder;
                snprintf(m->key, sizeof m->key, "%s", key);
                m->path = json_deep_copy(path);
            }
            (*n)++;
        }
        if (recurse && json_is_object(v)) {
            json_t *p = json_deep_copy(path);
            json_array_append_new(p, json_string(key));
            search(d, v, p, name, chan, m, n, true);
            json_decref(p);
        }
    }
}

int bp_drive_remove(struct bp_drive *d, const char *what, bool to_trash, char *channel_out,
                    size_t channel_cap)
{
    if (channel_out && channel_cap)
        channel_out[0] = '\0';
    struct match m = {0};
    int n = 0;
    json_t *root = json_object_get(drive_of(d), "root");
    json_t *path = json_pack("[s]", "root");
    if (strchr(what, '#')) { /* a link */
        struct bp_link *l = NULL;
        const char *why = NULL;
        if (bp_link_parse(what, NULL, &l, &why) == 0) {
            search(d, root, path, NULL, l->channel, &m, &n, true);
            bp_link_free(l);
        }
    } else if (hex_id(what)) {
        search(d, root, path, NULL, what, &m, &n, true);
    } else if (strchr(what, '/')) { /* Folder/name */
        char dir[1024];
        const char *slash = strrchr(what, '/');
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - what), what);
        json_t *f = folder_at(d, dir);
        if (f) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", dir);
            for (char *s = NULL, *p = strtok_r(buf, "/", &s); p; p = strtok_r(NULL, "/", &s))
                json_array_append_new(path, json_string(p));
            search(d, f, path, slash + 1, NULL, &m, &n, false);
        }
    } else {
        search(d, root, path, what, NULL, &m, &n, true);
    }
    json_decref(path);
    if (n != 1) {
        json_decref(m.path);
        if (n)
            snprintf(d->err, sizeof d->err, "%d items match %s: name it by its link or path", n,
                     what);
        else
            snprintf(d->err, sizeof d->err, "nothing in the drive matches %s", what);
        return n ? BP_EINVAL : BP_ENOENT;
    }
    json_t *el = json_incref(json_object_get(m.parent, m.key));
    char chan[49] = "";
    json_t *e = json_is_object(el) ? NULL : entry_of(d, el);
    if (e)
        snprintf(chan, sizeof chan, "%s", str(e, "channel"));
    if (!to_trash && json_is_object(el)) {
        json_decref(el);
        json_decref(m.path);
        snprintf(d->err, sizeof d->err, "%s is a folder: move it to the trash instead", what);
        return BP_EINVAL;
    }
    json_object_del(m.parent, m.key);
    int rc = 0;
    if (to_trash) {
        /* pushToTrash(name, element, path): trash[name] = [{element, path}] */
        json_t *trash = json_object_get(drive_of(d), "trash");
        json_t *arr = json_object_get(trash, m.key);
        if (!json_is_array(arr)) {
            arr = json_array();
            json_object_set_new(trash, m.key, arr);
        }
        json_array_append_new(arr, json_pack("{s:O, s:O}", "element", el, "path", m.path));
    } else if (e) {
        char idk[32];
        snprintf(idk, sizeof idk, "%lld", (long long)json_integer_value(el));
        json_object_del(files_data(d), idk);
    }
    json_decref(el);
    json_decref(m.path);
    rc = save(d);
    if (!rc && !to_trash && hex_id(chan) && !find_by_channel(d, chan))
        rc = pin_one(d, "UNPIN", chan);
    if (!rc)
        rc = bp_drive_sync_pins(d, NULL);
    if (channel_out && channel_cap)
        snprintf(channel_out, channel_cap, "%s", chan);
    return rc;
}

/* ---- password change (cryptpad-common.js changeUserPassword) ---- */

/* GET url: 1 if a block is there (or 401), 0 if not, <0 on error. */
static int block_exists(const char *url, unsigned timeout_ms, char *errmsg, size_t errmsg_len)
{
    struct bp_http_req req = {.method = "GET", .url = url, .max_body = BP_LOGIN_BLOCK_MAX,
                              .timeout_ms = timeout_ms};
    struct bp_http_resp *r = NULL;
    char em[256] = "";
    int e = bp_http_fetch(&req, &r, em, sizeof em);
    if (e) {
        SAY("cannot fetch the login block: %s", em[0] ? em : bp_strerror(e));
        return e;
    }
    int st = r->status;
    bp_http_resp_free(r);
    return st == 404 ? 0 : 1;
}

int bp_drive_change_password(const char *server, const char *username, const char *old_pw,
                             const char *new_pw, unsigned timeout_ms, char *new_user_hash,
                             size_t hash_cap, char *errmsg, size_t errmsg_len)
{
    if (!server || !username || !old_pw || !new_pw)
        return BP_EINVAL;
    size_t chars = 0;
    for (const char *s = new_pw; *s; s++)
        chars += ((unsigned char)*s & 0xC0) != 0x80;
    if (chars < BP_ACCOUNT_MIN_PASSWORD) {
        SAY("the new password must have at least %u characters", BP_ACCOUNT_MIN_PASSWORD);
        return BP_EINVAL;
    }
    struct bp_account *a = NULL;
    struct bp_login_keys *ok = NULL, *nk = NULL;
    struct bp_drive *old = NULL, *nd = NULL;
    struct bp_pad *np = NULL;
    char *content = NULL, *wb = NULL, *params = NULL, *result = NULL;
    unsigned char *block = NULL;
    char nurl[700], proof[300], new_hash[BP_LINK_HASH_MAX], old_chan[49];
    size_t n;
    int e = bp_account_login(server, username, old_pw, NULL, &a, errmsg, errmsg_len);
    if (e)
        return e;
    if (a->legacy) {
        SAY("this is a legacy account (no login block): change its password in the web client");
        e = BP_EINVAL;
        goto done;
    }
    if ((e = bp_login_derive(username, old_pw, NULL, &ok)) ||
        (e = bp_login_derive(username, new_pw, NULL, &nk)))
        goto done;
    if ((e = bp_login_block_url(server, nk->block_public, nurl, sizeof nurl, &n)))
        goto done;
    e = block_exists(nurl, timeout_ms, errmsg, errmsg_len);
    if (e < 0)
        goto done;
    if (e == 1) {
        SAY("an account with that user name and the new password already exists");
        e = BP_EEXIST;
        goto done;
    }
    /* copy the drive to a new one owned by the account (Crypt.get + Crypt.put) */
    if ((e = bp_drive_open(server, a->user_hash, a->ed_pk, a->ed_sk, timeout_ms, &old, errmsg,
                           errmsg_len)))
        goto done;
    snprintf(old_chan, sizeof old_chan, "%s", old->channel);
    const char *owners[1] = {a->ed_public};
    struct bp_pad_create_opts co = {.owners = owners, .n_owners = 1,
                                    .engine_flags = BP_CHAINPAD_LISTMAP, .timeout_ms = timeout_ms};
    if ((e = bp_pad_create_url(server, "drive", &co, &np, errmsg, errmsg_len)))
        goto done;
    if ((e = bp_link_hash(bp_pad_link(np), BP_LINK_EDIT, new_hash, sizeof new_hash)))
        goto done;
    if ((e = bp_pad_write_json(np, old->doc))) {
        SAY("cannot write the new drive: %s", bp_pad_error(np));
        goto done;
    }
    bp_pad_free(np);
    np = NULL;
    /* the new block, with the proof that we hold the old one */
    size_t cap = 4096, clen, blen, wlen;
    content = malloc(cap);
    block = malloc(cap + BP_LOGIN_BLOCK_OVERHEAD);
    wb = malloc(2 * cap);
    params = malloc(2 * cap + 32);
    if (!content || !block || !wb || !params) {
        e = BP_ENOMEM;
        goto done;
    }
    if ((e = bp_login_block_content(new_hash, a->ed_public, content, cap, &clen)) ||
        (e = bp_login_block_encrypt(nk->block_key, content, clen, NULL, block,
                                    cap + BP_LOGIN_BLOCK_OVERHEAD, &blen)) ||
        (e = bp_login_registration_proof(ok, proof, sizeof proof, &n)) ||
        (e = bp_login_write_block_content(nk, block, blen, 1, proof, wb, 2 * cap, &wlen)))
        goto done;
    snprintf(params, 2 * cap + 32, "{\"content\":%s}", wb);
    struct bp_sign_key nsk = {.pk = nk->block_public, .sk = nk->block_secret};
    char em[256] = "";
    if ((e = bp_http_auth(server, &nsk, "WRITE_BLOCK", params, &result, em, sizeof em))) {
        SAY("the server refused the new login block: %s", em[0] ? em : bp_strerror(e));
        goto done;
    }
    free(result);
    result = NULL;
    if (block_exists(nurl, timeout_ms, errmsg, errmsg_len) != 1) {
        SAY("the server does not return the new login block");
        e = BP_ESERVER;
        goto done;
    }
    /* pins: the new drive in, the old one out */
    if ((e = bp_drive_open(server, new_hash, a->ed_pk, a->ed_sk, timeout_ms, &nd, errmsg,
                           errmsg_len)) ||
        (e = pin_one(nd, "PIN", nd->channel)) || (e = pin_one(nd, "UNPIN", old_chan)) ||
        (e = bp_drive_sync_pins(nd, NULL))) {
        if (nd)
            SAY("%s", nd->err);
        goto done;
    }
    /* the old block: PASSWORD_CHANGE (login with the old password says so) */
    snprintf(params, 2 * cap + 32, "{\"edPublic\":\"%s\",\"reason\":\"PASSWORD_CHANGE\"}",
             a->ed_public);
    struct bp_sign_key osk = {.pk = ok->block_public, .sk = ok->block_secret};
    if ((e = bp_http_auth(server, &osk, "REMOVE_BLOCK", params, &result, em, sizeof em))) {
        SAY("the new password works, but the old block could not be removed: %s",
            em[0] ? em : bp_strerror(e));
        goto done;
    }
    /* the old drive copy is owned by the account: delete it, as the web client does */
    snprintf(params, 2 * cap + 32, "{\"channel\":\"%s\"}", old_chan);
    (void)bp_drive_rpc(nd, "REMOVE_OWNED_CHANNEL", params, NULL); /* best effort: an old
                                                                   * drive not owned stays */
    if (new_user_hash && hash_cap)
        snprintf(new_user_hash, hash_cap, "%s", new_hash);
    e = 0;
done:
    free(result);
    free(params);
    free(wb);
    free(block);
    if (content) {
        sodium_memzero(content, 4096);
        free(content);
    }
    sodium_memzero(new_hash, sizeof new_hash);
    bp_pad_free(np);
    bp_drive_free(old);
    bp_drive_free(nd);
    bp_login_keys_free(ok);
    bp_login_keys_free(nk);
    bp_account_free(a);
    return e;
}
