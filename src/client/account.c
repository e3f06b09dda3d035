/* account.c: registration and login (blindpad/account.h has the steps).
 *
 * The drive document a registration writes is the chainpad-listmap object
 * that common-login.js's modernLoginRegister puts in an empty proxy:
 *   {"curvePrivate","curvePublic","cryptpad.username","edPrivate","edPublic",
 *    "login_name","version":11}
 * (json.sortify orders the keys; the channel is created with owners
 * [edPublic], like loadUserObject). The web client fills in the rest of the
 * drive (mailboxes, filesData, ...) the first time it loads it. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/account.h>
#include <blindpad/chainpad.h>
#include <blindpad/client.h>
#include <blindpad/crypto.h>
#include <blindpad/err.h>
#include <blindpad/http.h>
#include <blindpad/link.h>
#include <blindpad/login.h>
#include <blindpad/pad.h>

#define SAY(...)                                          \
    do {                                                  \
        if (errmsg && errmsg_len)                         \
            snprintf(errmsg, errmsg_len, __VA_ARGS__);    \
    } while (0)

void bp_account_free(struct bp_account *a)
{
    if (a)
        sodium_free(a); /* wipes */
}

static int account_alloc(const char *server, const char *username, struct bp_account **out)
{
    if (sodium_init() < 0)
        return BP_ESYS;
    struct bp_account *a = sodium_malloc(sizeof *a);
    if (!a)
        return BP_ENOMEM;
    sodium_memzero(a, sizeof *a);
    if ((size_t)snprintf(a->server, sizeof a->server, "%s", server) >= sizeof a->server ||
        (size_t)snprintf(a->username, sizeof a->username, "%s", username) >= sizeof a->username) {
        sodium_free(a);
        return BP_EINVAL;
    }
    *out = a;
    return 0;
}

/* Number of characters (code points) of a UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

enum block_state { BLOCK_FOUND, BLOCK_NONE, BLOCK_DELETED };

/* GET the block. On BLOCK_FOUND *resp holds it (caller frees); on
 * BLOCK_DELETED reason gets the server's reason. */
static int block_get(const char *url, enum block_state *st, struct bp_http_resp **resp,
                     char *reason, size_t reason_len, char *errmsg, size_t errmsg_len)
{
    *resp = NULL;
    struct bp_http_req req = {.method = "GET", .url = url, .max_body = BP_LOGIN_BLOCK_MAX};
    struct bp_http_resp *r = NULL;
    char em[256] = "";
    int e = bp_http_fetch(&req, &r, em, sizeof em);
    if (e) {
        SAY("cannot fetch the login block: %s", em[0] ? em : bp_strerror(e));
        return e;
    }
    if (r->status == 200) {
        *st = BLOCK_FOUND;
        *resp = r;
        return 0;
    }
    if (r->status == 404) {
        *st = BLOCK_NONE;
        json_t *j = json_loadb((const char *)r->body, r->body_len, 0, NULL);
        json_t *why = j ? json_object_get(j, "reason") : NULL;
        if (why && !json_is_null(why)) {
            *st = BLOCK_DELETED;
            snprintf(reason, reason_len, "%s", json_is_string(why) ? json_string_value(why) : "deleted");
        }
        json_decref(j);
        bp_http_resp_free(r);
        return 0;
    }
    if (r->status == 401) /* 2FA or SSO: not supported here */
        SAY("this account needs a second factor (2FA/SSO), which blindpad does not support yet");
    else
        SAY("GET %s: HTTP %d", url, r->status);
    bp_http_resp_free(r);
    return BP_ESERVER;
}

/* Login and registration both start here: the credentials' keys (*k,
 * caller frees), the block's URL (into a->block_url) and what the server
 * has there (*st; *resp for BLOCK_FOUND, reason for BLOCK_DELETED). */
static int block_lookup(const char *server, const char *username, const char *password,
                        const struct bp_account_opts *opts, struct bp_account *a,
                        struct bp_login_keys **k, enum block_state *st, struct bp_http_resp **resp,
                        char *reason, size_t reason_len, char *errmsg, size_t errmsg_len)
{
    int e = bp_login_derive(username, password, opts ? opts->login_salt : NULL, k);
    if (e)
        return e;
    size_t n;
    e = bp_login_block_url(server, (*k)->block_public, a->block_url, sizeof a->block_url, &n);
    if (e)
        return e;
    return block_get(a->block_url, st, resp, reason, reason_len, errmsg, errmsg_len);
}

/* Is the legacy drive (no block) of these credentials empty? 1 yes, 0 no, <0 error. */
static int legacy_drive(const char *server, const struct bp_login_keys *k, unsigned timeout,
                        struct bp_pad **pad_out, char *errmsg, size_t errmsg_len)
{
    struct bp_link *l = NULL;
    int e = bp_link_make_v1("drive", k->channel_seed, k->encryption_seed, &l);
    if (e)
        return e;
    struct bp_pad_open_opts oo = {.must_exist = true, .engine_flags = BP_CHAINPAD_LISTMAP,
                                  .timeout_ms = timeout};
    struct bp_pad *p = NULL;
    e = bp_pad_open_url(server, l, &oo, &p, errmsg, errmsg_len);
    bp_link_free(l);
    if (e == BP_ENOENT || e == BP_EDELETED || e == BP_EEXPIRED)
        return 1;
    if (e)
        return e;
    if (pad_out)
        *pad_out = p;
    else
        bp_pad_free(p);
    return 0;
}

static int b64(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t len;
    return bp_crypto_b64_encode(in, n, BP_B64_STD, out, cap, &len);
}

/* Reads the account keys from an open drive into a; checks edPublic against
 * want (NULL: no check). */
static int read_drive(struct bp_pad *p, struct bp_account *a, const char *want,
                      char *errmsg, size_t errmsg_len)
{
    json_t *doc = NULL;
    int e = bp_pad_json(p, &doc);
    if (e) {
        SAY("the account's drive is empty or unreadable");
        return e == BP_ENOENT ? BP_ECORRUPT : e;
    }
    const char *edp = json_string_value(json_object_get(doc, "edPublic"));
    const char *eds = json_string_value(json_object_get(doc, "edPrivate"));
    const char *cvp = json_string_value(json_object_get(doc, "curvePublic"));
    const char *cvs = json_string_value(json_object_get(doc, "curvePrivate"));
    e = BP_ECORRUPT;
    if (!edp || !eds || bp_crypto_b64_key(edp, a->ed_pk, 32) || bp_crypto_b64_key(eds, a->ed_sk, 64)) {
        SAY("the account's drive has no signing keys (edPublic/edPrivate)");
    } else if (want && strcmp(want, edp) != 0) {
        SAY("the account's drive does not match its login block (edPublic differs)");
    } else {
        unsigned char pk[32];
        bp_crypto_sign_sk_to_pk(a->ed_sk, pk);
        if (sodium_memcmp(pk, a->ed_pk, 32) != 0) {
            SAY("the account's edPrivate does not match its edPublic");
        } else {
            snprintf(a->ed_public, sizeof a->ed_public, "%s", edp);
            if (cvp && cvs && bp_crypto_b64_key(cvs, a->curve_sk, 32) == 0)
                snprintf(a->curve_public, sizeof a->curve_public, "%s", cvp);
            const char *ln = json_string_value(json_object_get(doc, "login_name"));
            if (ln && *ln)
                snprintf(a->username, sizeof a->username, "%s", ln);
            e = 0;
        }
    }
    json_decref(doc);
    return e;
}

int bp_account_login(const char *server, const char *username, const char *password,
                     const struct bp_account_opts *opts, struct bp_account **out, char *errmsg,
                     size_t errmsg_len)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!server || !username || !password || !*username)
        return BP_EINVAL;
    struct bp_account *a = NULL;
    int e = account_alloc(server, username, &a);
    if (e)
        return e;
    unsigned timeout = opts ? opts->timeout_ms : 0;
    struct bp_login_keys *k = NULL;
    struct bp_http_resp *r = NULL;
    struct bp_link *l = NULL;
    struct bp_pad *p = NULL;
    char *json = NULL;
    char edp[64] = "";
    enum block_state st;
    char reason[128] = "";
    e = block_lookup(server, username, password, opts, a, &k, &st, &r, reason, sizeof reason,
                     errmsg, errmsg_len);
    if (e)
        goto done;
    if (st == BLOCK_DELETED) {
        SAY("%s", reason);
        e = BP_EDELETED;
        goto done;
    }
    if (st == BLOCK_NONE) { /* a legacy account, or wrong credentials */
        a->block_url[0] = '\0';
        e = legacy_drive(server, k, timeout, &p, errmsg, errmsg_len);
        if (e == 1) {
            SAY("wrong password or user name");
            e = BP_EAUTH;
        }
        if (e)
            goto done;
        struct bp_login_legacy lg;
        bp_login_legacy(k, &lg);
        snprintf(a->user_hash, sizeof a->user_hash, "%s", lg.user_hash);
        sodium_memzero(&lg, sizeof lg);
        a->legacy = 1;
        e = read_drive(p, a, NULL, errmsg, errmsg_len);
        goto done;
    }
    json = sodium_malloc(r->body_len + 1);
    if (!json) {
        e = BP_ENOMEM;
        goto done;
    }
    size_t n;
    e = bp_login_block_decrypt(k->block_key, r->body, r->body_len, json, r->body_len + 1, &n);
    if (e) { /* the block key comes from the password: a block that does not open is damaged */
        SAY("the login block does not decrypt (%s)", bp_strerror(e));
        e = e == BP_EDECRYPT ? BP_EAUTH : BP_ECORRUPT;
        goto done;
    }
    e = bp_login_block_parse(json, n, a->user_hash, sizeof a->user_hash, edp, sizeof edp);
    if (e) {
        SAY("the login block has no User_hash/edPublic");
        e = BP_ECORRUPT;
        goto done;
    }
    const char *why = NULL;
    e = bp_link_parse_hash("drive", a->user_hash, NULL, &l, &why);
    if (e) {
        SAY("the login block's drive hash does not parse: %s", why ? why : bp_strerror(e));
        e = BP_ECORRUPT;
        goto done;
    }
    struct bp_pad_open_opts oo = {.must_exist = true, .engine_flags = BP_CHAINPAD_LISTMAP,
                                  .timeout_ms = timeout};
    e = bp_pad_open_url(server, l, &oo, &p, errmsg, errmsg_len);
    if (e == BP_ENOENT) {
        SAY("the account's drive is missing on the server");
        e = BP_ECORRUPT;
    }
    if (e)
        goto done;
    e = read_drive(p, a, edp, errmsg, errmsg_len);
done:
    if (json)
        sodium_free(json);
    bp_pad_free(p);
    bp_link_free(l);
    bp_http_resp_free(r);
    bp_login_keys_free(k);
    if (e) {
        bp_account_free(a);
        return e;
    }
    *out = a;
    return 0;
}

int bp_account_register(const char *server, const char *username, const char *password,
                        const struct bp_account_opts *opts, struct bp_account **out,
                        char *errmsg, size_t errmsg_len)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!server || !username || !password || !*username)
        return BP_EINVAL;
    if (utf8_chars(password) < BP_ACCOUNT_MIN_PASSWORD) {
        SAY("the password must have at least %u characters", BP_ACCOUNT_MIN_PASSWORD);
        return BP_EINVAL;
    }
    struct bp_account *a = NULL;
    int e = account_alloc(server, username, &a);
    if (e)
        return e;
    unsigned timeout = opts ? opts->timeout_ms : 0;
    struct bp_login_keys *k = NULL, *acc = NULL;
    struct bp_http_resp *r = NULL;
    struct bp_pad *p = NULL;
    json_t *doc = NULL;
    unsigned char *rnd = NULL, *block = NULL;
    char *content = NULL, *wb = NULL, *params = NULL, *result = NULL, *secret_b64 = NULL;
    enum block_state st;
    char reason[128] = "";
    e = block_lookup(server, username, password, opts, a, &k, &st, &r, reason, sizeof reason,
                     errmsg, errmsg_len);
    if (e)
        goto done;
    if (st == BLOCK_FOUND) {
        SAY("an account with that user name and password already exists");
        e = BP_EEXIST;
        goto done;
    }
    if (st == BLOCK_DELETED) {
        SAY("an account with these credentials was deleted (%s); choose another user name or "
            "password", reason);
        e = BP_EDELETED;
        goto done;
    }
    /* common-login.js also refuses credentials whose legacy drive exists */
    e = legacy_drive(server, k, timeout, NULL, errmsg, errmsg_len);
    if (e == 0) {
        SAY("an account with that user name and password already exists");
        e = BP_EEXIST;
    }
    if (e < 0)
        goto done;

    /* account keys: allocateBytes on random bytes, ed + curve kept */
    rnd = sodium_malloc(BP_LOGIN_BYTES);
    secret_b64 = sodium_malloc(128);
    if (!rnd || !secret_b64) {
        e = BP_ENOMEM;
        goto done;
    }
    randombytes_buf(rnd, BP_LOGIN_BYTES);
    e = bp_login_keys_from_bytes(rnd, &acc);
    if (e)
        goto done;
    memcpy(a->ed_pk, acc->ed_public, 32);
    memcpy(a->ed_sk, acc->ed_secret, 64);
    memcpy(a->curve_sk, acc->curve_secret, 32);
    b64(a->ed_pk, 32, a->ed_public, sizeof a->ed_public);
    b64(acc->curve_public, 32, a->curve_public, sizeof a->curve_public);

    /* the drive */
    const char *owners[1] = {a->ed_public};
    struct bp_pad_create_opts co = {.owners = owners, .n_owners = 1,
                                    .engine_flags = BP_CHAINPAD_LISTMAP, .timeout_ms = timeout};
    e = bp_pad_create_url(server, "drive", &co, &p, errmsg, errmsg_len);
    if (e)
        goto done;
    e = bp_link_hash(bp_pad_link(p), BP_LINK_EDIT, a->user_hash, sizeof a->user_hash);
    if (e)
        goto done;
    doc = json_object();
    if (!doc) {
        e = BP_ENOMEM;
        goto done;
    }
    b64(a->ed_sk, 64, secret_b64, 128);
    json_object_set_new(doc, "edPrivate", json_string(secret_b64));
    json_object_set_new(doc, "edPublic", json_string(a->ed_public));
    b64(a->curve_sk, 32, secret_b64, 128);
    json_object_set_new(doc, "curvePrivate", json_string(secret_b64));
    json_object_set_new(doc, "curvePublic", json_string(a->curve_public));
    json_object_set_new(doc, "login_name", json_string(username));
    json_object_set_new(doc, "cryptpad.username", json_string(username));
    json_object_set_new(doc, "version", json_integer(11));
    e = bp_pad_write_json(p, doc);
    if (e) {
        SAY("cannot write the new drive: %s", bp_pad_error(p)[0] ? bp_pad_error(p) : bp_strerror(e));
        goto done;
    }

    /* the block */
    size_t cap = 4096, clen, blen, wlen;
    content = malloc(cap);
    block = malloc(cap + BP_LOGIN_BLOCK_OVERHEAD);
    wb = malloc(2 * cap);
    params = malloc(2 * cap + 32);
    if (!content || !block || !wb || !params) {
        e = BP_ENOMEM;
        goto done;
    }
    e = bp_login_block_content(a->user_hash, a->ed_public, content, cap, &clen);
    if (!e)
        e = bp_login_block_encrypt(k->block_key, content, clen, NULL, block,
                                   cap + BP_LOGIN_BLOCK_OVERHEAD, &blen);
    if (!e)
        e = bp_login_write_block_content(k, block, blen, 1, NULL, wb, 2 * cap, &wlen);
    if (e)
        goto done;
    snprintf(params, 2 * cap + 32, "{\"content\":%s}", wb);
    struct bp_sign_key sk = {.pk = k->block_public, .sk = k->block_secret};
    char em[256] = "";
    e = bp_http_auth(server, &sk, "WRITE_BLOCK", params, &result, em, sizeof em);
    if (e) {
        SAY("the server refused the login block: %s", em[0] ? em : bp_strerror(e));
        goto done;
    }
    /* check it, as the web client does */
    bp_http_resp_free(r);
    r = NULL;
    e = block_get(a->block_url, &st, &r, reason, sizeof reason, errmsg, errmsg_len);
    if (e)
        goto done;
    if (st != BLOCK_FOUND || r->body_len != blen || memcmp(r->body, block, blen) != 0) {
        SAY("the server does not return the login block it accepted");
        e = BP_ESERVER;
        goto done;
    }
done:
    free(result);
    free(params);
    if (wb)
        free(wb);
    free(block);
    if (content) {
        sodium_memzero(content, 4096);
        free(content);
    }
    json_decref(doc); /* holds secrets in jansson's heap: unavoidable with its API */
    bp_pad_free(p);
    bp_http_resp_free(r);
    if (secret_b64)
        sodium_free(secret_b64);
    if (rnd)
        sodium_free(rnd);
    bp_login_keys_free(acc);
    bp_login_keys_free(k);
    if (e) {
        bp_account_free(a);
        return e;
    }
    *out = a;
    return 0;
}
