/* link.c: parsing and making CryptPad links, and deriving their keys
 * (blindpad/link.h, CRYPTO.md §1).
 *
 * Derivations (pw = UTF-8 password bytes, empty when none; v2 only):
 *   v2 doc edit   H1 = SHA-512(pw || seed18); sign = ed25519(H1[0..32]);
 *                 secondaryKey = SHA-512(signSecret64)[0..32]; viewSeed = H1[32..64]
 *   v2 doc view   H2 = SHA-512(pw || viewSeed32); channel = H2[0..16];
 *                 cryptKey = H2[16..48]; secondarySign = ed25519(H2[32..64])
 *   v2 file       H = SHA-512(pw || seed18); blob id = H[0..24]; cryptKey = H[24..56]
 *   v1 doc edit   H = SHA-512(seed18); sign = ed25519(H[0..32]); cryptKey = H[32..64]
 *   v1 doc view   cryptKey = the key itself; v1 file: cryptKey = the key itself
 *   v0            cryptKey = SHA-512(key18)[0..32] (chainpad-crypto parseKey); unsigned
 *
 * The parser is a pure function over a bounded copy of the input (no I/O, no
 * global state) so that it can be fuzzed (fuzz/fuzz_link.c). */
#include "blindpad/link.h"

#include <sodium.h>
#include <string.h>

#include "blindpad/crypto.h"
#include "common/utf8.h"

#define LINK_MAX 4096 /* longer input is not a link we make or read */
#define PARTS_MAX 64

static int fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return BP_ELINK;
}

static struct bp_link *link_alloc(void)
{
    if (sodium_init() < 0)
        return NULL;
    struct bp_link *l = sodium_malloc(sizeof *l);
    if (l)
        memset(l, 0, sizeof *l);
    return l;
}

void bp_link_free(struct bp_link *link)
{
    if (link)
        sodium_free(link); /* sodium_free wipes */
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Copies an application name (URL type or app in a hash). Only
 * [A-Za-z0-9_.-] is accepted (CryptPad's app names are lower-case words), so a
 * name can always be put back into a URL. */
static int copy_name(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* The password bytes that go before a seed, or none. */
static int pw_check(const char *password, size_t *len)
{
    *len = password ? strlen(password) : 0;
    if (*len > 1024)
        return BP_EINVAL;
    if (*len && !utf8_valid(password, *len))
        return BP_EINVAL;
    return 0;
}

/* h = SHA-512(pw || seed) */
static void superseed_hash(uint8_t h[64], const char *pw, size_t pwlen, const uint8_t *seed, size_t n)
{
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    if (pwlen)
        crypto_hash_sha512_update(&st, (const uint8_t *)pw, pwlen);
    crypto_hash_sha512_update(&st, seed, n);
    crypto_hash_sha512_final(&st, h);
    sodium_memzero(&st, sizeof st);
}

/* v2 document view derivation from the 32-byte view seed. */
static void derive_v2_view(struct bp_link *l, const uint8_t view_seed[32], const char *pw, size_t pwlen)
{
    uint8_t h[64];
    superseed_hash(h, pw, pwlen, view_seed, 32);
    bp_crypto_hex_encode(h, 16, l->channel);
    bp_crypto_b64_encode(h, 16, BP_B64_URL, l->chan_id, sizeof l->chan_id, NULL);
    memcpy(l->crypt_key, h + 16, 32);
    crypto_sign_seed_keypair(l->secondary_validate_key, l->secondary_sign_key, h + 32);
    l->has_secondary_sign = true;
    bp_crypto_b64_encode(view_seed, 32, BP_B64_URL, l->view_key_str, sizeof l->view_key_str, NULL);
    l->has_keys = true;
    sodium_memzero(h, sizeof h);
}

/* v2 document edit derivation from the 18-byte seed. */
static void derive_v2_edit(struct bp_link *l, const uint8_t seed[18], const char *pw, size_t pwlen)
{
    uint8_t h[64], s2[64];
    superseed_hash(h, pw, pwlen, seed, 18);
    crypto_sign_seed_keypair(l->validate_key, l->sign_key, h);
    l->has_sign_key = true;
    crypto_hash_sha512(s2, l->sign_key, 64);
    memcpy(l->secondary_key, s2, 32);
    l->has_secondary_key = true;
    bp_crypto_b64_encode(seed, 18, BP_B64_URL, l->edit_key_str, sizeof l->edit_key_str, NULL);
    derive_v2_view(l, h + 32, pw, pwlen);
    l->mode = BP_LINK_EDIT;
    sodium_memzero(h, sizeof h);
    sodium_memzero(s2, sizeof s2);
}

static void derive_v2_file(struct bp_link *l, const uint8_t seed[18], const char *pw, size_t pwlen)
{
    uint8_t h[64];
    superseed_hash(h, pw, pwlen, seed, 18);
    bp_crypto_hex_encode(h, 24, l->channel);
    bp_crypto_b64_encode(h, 24, BP_B64_URL, l->chan_id, sizeof l->chan_id, NULL);
    memcpy(l->crypt_key, h + 24, 32);
    bp_crypto_b64_encode(seed, 18, BP_B64_URL, l->file_key_str, sizeof l->file_key_str, NULL);
    l->has_keys = true;
    sodium_memzero(h, sizeof h);
}

static void derive_v1_edit(struct bp_link *l, const uint8_t seed[18])
{
    uint8_t h[64];
    crypto_hash_sha512(h, seed, 18);
    crypto_sign_seed_keypair(l->validate_key, l->sign_key, h);
    l->has_sign_key = true;
    memcpy(l->crypt_key, h + 32, 32);
    bp_crypto_b64_encode(seed, 18, BP_B64_STD, l->edit_key_str, sizeof l->edit_key_str, NULL);
    bp_crypto_b64_encode(l->crypt_key, 32, BP_B64_URL, l->view_key_str, sizeof l->view_key_str, NULL);
    l->mode = BP_LINK_EDIT;
    l->has_keys = true;
    sodium_memzero(h, sizeof h);
}

/* Decodes a key element into exactly want bytes; the text must be exactly
 * `chars` long when chars != 0 (CryptPad's length checks). */
static int key_elem(const char *s, size_t chars, uint8_t *out, size_t want)
{
    size_t n = strlen(s), got = 0;
    if (chars && n != chars)
        return -1;
    uint8_t tmp[64];
    if (want > sizeof tmp || bp_crypto_b64_decode(s, n, tmp, sizeof tmp, &got) != 0 || got != want) {
        sodium_memzero(tmp, sizeof tmp);
        return -1;
    }
    memcpy(out, tmp, want);
    sodium_memzero(tmp, sizeof tmp);
    return 0;
}

static void parse_options(struct bp_link *l, char **parts, size_t n, size_t from)
{
    for (size_t i = from; i < n; i++) {
        if (strcmp(parts[i], "p") == 0)
            l->password_flag = true;
        else if (strcmp(parts[i], "embed") == 0)
            l->embed = true;
        else if (strcmp(parts[i], "present") == 0)
            l->present = true;
        else if (strlen(parts[i]) == 86 && !l->has_owner_key &&
                 key_elem(parts[i], 86, l->owner_key, 64) == 0)
            l->has_owner_key = true; /* ownerKey: burn after reading (getOwnerKey: any 86 chars) */
        /* hash=, auditor=, newpad=, login=: they never change keys */
    }
}

/* Parses hash into l (already zeroed, type set). s is a writable copy. */
static int parse_into(struct bp_link *l, char *s, const char *password, const char **why)
{
    size_t pwlen;
    if (pw_check(password, &pwlen))
        return BP_EINVAL;
    int family = 0; /* 1 doc, 2 file; 0 = guess (bare hash) */
    if (l->type[0]) {
        if (!strcmp(l->type, "file") || !strcmp(l->type, "media"))
            family = 2;
        else if (!strcmp(l->type, "user") || !strcmp(l->type, "invite"))
            return fail(why, "user and invitation links carry no document keys");
        else
            family = 1;
    }
    size_t slen = strlen(s);
    if (slen == 0)
        return fail(why, "the link has no '#' part: it names an application, not a document");

    /* Version 0: <32 hex channel><24 chars of base64 key>, no leading '/'. */
    if (s[0] != '/' && family != 2) {
        if (slen < 56)
            return fail(why, "not a link: a hash starts with '/' (or is an old 56-character hash)");
        if (!is_lower_hex(s, 32))
            return fail(why, "old-style link: the first 32 characters must be a hex channel id");
        char key[25];
        memcpy(key, s + 32, 24);
        key[24] = '\0';
        uint8_t seed[18], h[64];
        if (key_elem(key, 24, seed, 18))
            return fail(why, "old-style link: the key is not 24 characters of base64");
        crypto_hash_sha512(h, seed, 18);
        memcpy(l->crypt_key, h, 32);
        sodium_memzero(h, sizeof h);
        sodium_memzero(seed, sizeof seed);
        memcpy(l->channel, s, 32);
        l->channel[32] = '\0';
        memcpy(l->edit_key_str, key, 25);
        l->version = 0;
        l->kind = BP_LINK_DOC;
        l->mode = BP_LINK_NONE;
        l->has_keys = true;
        return 0;
    }
    if (s[0] != '/')
        return fail(why, "not a link: a file hash starts with '/'");

    /* Collapse repeated '/', then split. parts[0] is the empty string before
     * the leading '/'. */
    char *parts[PARTS_MAX];
    size_t np = 0;
    {
        char *w = s;
        for (char *r = s; *r; r++)
            if (!(*r == '/' && w > s && w[-1] == '/'))
                *w++ = *r;
        *w = '\0';
        char *p = s;
        for (;;) {
            if (np == PARTS_MAX)
                return fail(why, "not a link: too many '/' elements");
            parts[np++] = p;
            char *slash = strchr(p, '/');
            if (!slash)
                break;
            *slash = '\0';
            p = slash + 1;
        }
    }
    if (np < 2 || parts[1][0] == '\0')
        return fail(why, "not a link: no version after '#/'");
    const char *ver = parts[1];
    if (!strcmp(ver, "4"))
        return fail(why, "a version 4 link holds options for a document that does not exist yet, no keys");
    if (strcmp(ver, "1") && strcmp(ver, "2") && strcmp(ver, "3"))
        return fail(why, "unknown link version (this library reads versions 0 to 3)");
    l->version = ver[0] - '0';
#define PART(i) ((i) < np ? parts[i] : "")

    if (family == 0) { /* bare hash: guess the family from its shape */
        if (l->version == 1)
            family = (!strcmp(PART(2), "edit") || !strcmp(PART(2), "view")) ? 1 : 2;
        else
            family = (!strcmp(PART(2), "file") || !strcmp(PART(2), "media")) ? 2 : 1;
    }
    l->kind = family == 1 ? BP_LINK_DOC : BP_LINK_FILE;

    if (family == 1) {
        size_t key_at = 4; /* v1 /1/<mode>/<chan>/<key>, v2 /2/<app>/<mode>/<key> */
        const char *mode = l->version == 1 ? PART(2) : PART(3);
        if (l->version != 1 && copy_name(l->app, sizeof l->app, PART(2), strlen(PART(2))))
            return fail(why, "the application name in the link is too long or has odd characters");
        if (!strcmp(mode, "edit"))
            l->mode = BP_LINK_EDIT;
        else if (!strcmp(mode, "view"))
            l->mode = BP_LINK_VIEW;
        else
            return fail(why, "the link is neither an edit nor a view link");
        parse_options(l, parts, np, key_at + 1);
        const char *key = PART(key_at);
        if (l->version == 3) {
            if (strlen(key) != 32 || !is_lower_hex(key, 32))
                return fail(why, "safe link: the channel id must be 32 hex characters");
            memcpy(l->channel, key, 33);
            return 0; /* no keys: they come from the user's drive */
        }
        if (l->version == 1) {
            uint8_t chan[16];
            if (key_elem(PART(3), 0, chan, 16))
                return fail(why, "the channel part of the link is damaged (expected 16 bytes of base64)");
            bp_crypto_hex_encode(chan, 16, l->channel);
            bp_crypto_b64_encode(chan, 16, BP_B64_URL, l->chan_id, sizeof l->chan_id, NULL);
            if (l->mode == BP_LINK_EDIT) {
                uint8_t seed[18];
                if (key_elem(key, 24, seed, 18))
                    return fail(why, "the key in the link is damaged or truncated (expected 24 characters)");
                derive_v1_edit(l, seed);
                sodium_memzero(seed, sizeof seed);
            } else {
                if (key_elem(key, 0, l->crypt_key, 32))
                    return fail(why, "the key in the link is damaged or truncated (expected 32 bytes)");
                bp_crypto_b64_encode(l->crypt_key, 32, BP_B64_URL, l->view_key_str, sizeof l->view_key_str,
                                     NULL);
                l->has_keys = true;
            }
            return 0;
        }
        /* version 2 */
        l->has_password = pwlen > 0;
        if (l->mode == BP_LINK_EDIT) {
            uint8_t seed[18];
            if (key_elem(key, 24, seed, 18))
                return fail(why, "the key in the link is damaged or truncated (expected 24 characters)");
            derive_v2_edit(l, seed, password, pwlen);
            sodium_memzero(seed, sizeof seed);
        } else {
            uint8_t vseed[32];
            if (key_elem(key, 0, vseed, 32))
                return fail(why, "the key in the link is damaged or truncated (expected 43 characters)");
            derive_v2_view(l, vseed, password, pwlen);
            sodium_memzero(vseed, sizeof vseed);
        }
        return 0;
    }

    /* files */
    l->mode = BP_LINK_NONE;
    if (l->version == 1) {
        parse_options(l, parts, np, 4);
        uint8_t chan[24];
        if (key_elem(PART(2), 0, chan, 24))
            return fail(why, "the file id in the link is damaged (expected 24 bytes of base64)");
        bp_crypto_hex_encode(chan, 24, l->channel);
        bp_crypto_b64_encode(chan, 24, BP_B64_URL, l->chan_id, sizeof l->chan_id, NULL);
        if (key_elem(PART(3), 0, l->crypt_key, 32))
            return fail(why, "the key in the file link is damaged or truncated (expected 32 bytes)");
        bp_crypto_b64_encode(l->crypt_key, 32, BP_B64_STD, l->file_key_str, sizeof l->file_key_str, NULL);
        l->has_keys = true;
        return 0;
    }
    if (copy_name(l->app, sizeof l->app, PART(2), strlen(PART(2))))
        return fail(why, "the application name in the link is too long or has odd characters");
    parse_options(l, parts, np, 4);
    if (l->version == 3) {
        const char *id = PART(3);
        if (strlen(id) != 48 || !is_lower_hex(id, 48))
            return fail(why, "file safe link: the file id must be 48 hex characters");
        memcpy(l->channel, id, 49);
        return 0;
    }
    uint8_t seed[18];
    if (key_elem(PART(3), 24, seed, 18))
        return fail(why, "the key in the file link is damaged or truncated (expected 24 characters)");
    l->has_password = pwlen > 0;
    derive_v2_file(l, seed, password, pwlen);
    sodium_memzero(seed, sizeof seed);
    return 0;
#undef PART
}

/* Common tail of the two parse entry points: s is a writable copy of the hash. */
static int parse_common(const char *type, size_t type_len, char *s, const char *password,
                        struct bp_link **out, const char **why)
{
    struct bp_link *l = link_alloc();
    if (!l)
        return BP_ENOMEM;
    int rc = copy_name(l->type, sizeof l->type, type, type_len)
                 ? fail(why, "the application name in the link is too long or has odd characters")
                 : parse_into(l, s, password, why);
    if (rc) {
        bp_link_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int bp_link_parse_hash(const char *type, const char *hash, const char *password, struct bp_link **out,
                       const char **why)
{
    if (out)
        *out = NULL;
    if (why)
        *why = NULL;
    if (!type || !hash || !out)
        return BP_EINVAL;
    size_t n = strnlen(hash, LINK_MAX + 1);
    if (n > LINK_MAX)
        return fail(why, "not a link: too long");
    char s[LINK_MAX + 2];
    memcpy(s, hash, n);
    s[n] = '\0';
    int rc = parse_common(type, strlen(type), s, password, out, why);
    sodium_memzero(s, sizeof s);
    return rc;
}

int bp_link_parse(const char *link, const char *password, struct bp_link **out, const char **why)
{
    if (out)
        *out = NULL;
    if (why)
        *why = NULL;
    if (!link || !out)
        return BP_EINVAL;
    size_t n = strnlen(link, LINK_MAX + 1);
    if (n > LINK_MAX)
        return fail(why, "not a link: too long");
    char s[LINK_MAX + 2];
    memcpy(s, link, n);
    s[n] = '\0';
    /* Trim surrounding white space (copy and paste). */
    char *b = s, *e = s + n;
    while (b < e && (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';

    const char *type = "";
    size_t type_len = 0;
    char *hash;
    char *hashmark = strchr(b, '#');
    if (!strncmp(b, "https://", 8) || !strncmp(b, "http://", 7)) {
        /* parsePadUrl: type = the first path segment after the host. */
        char *p = strchr(b, ':') + 3;
        char *host_end = strchr(p, '/');
        if (!host_end || (hashmark && host_end > hashmark))
            return fail(why, "the link has no application path (expected https://host/<app>/#...)");
        if (!hashmark)
            return fail(why, "the link has no '#' part: it names an application, not a document");
        type = host_end + 1;
        while (type[type_len] && type[type_len] != '/' && type[type_len] != '#' && type[type_len] != '?')
            type_len++;
        hash = hashmark + 1;
    } else if (b[0] == '/' && hashmark && b[1] != '/') {
        /* relative href "/<type>/#<hash>" */
        type = b + 1;
        while (type[type_len] && type[type_len] != '/' && type[type_len] != '#' && type[type_len] != '?')
            type_len++;
        hash = hashmark + 1;
    } else if (b[0] == '#') {
        hash = b + 1;
    } else if (!hashmark) {
        hash = b; /* bare hash */
    } else {
        return fail(why, "not a link (expected https://host/<app>/#/2/...)");
    }
    if (type_len == 0 && type[0] == '#')
        return fail(why, "the link has no application path (expected https://host/<app>/#...)");
    int rc = parse_common(type, type_len, hash, password, out, why);
    sodium_memzero(s, sizeof s);
    return rc;
}

int bp_link_make_from_seed(const char *app, const uint8_t seed[18], const char *password,
                           struct bp_link **out)
{
    size_t pwlen;
    if (out)
        *out = NULL;
    if (!app || !seed || !out || !app[0] || strchr(app, '/') || strchr(app, '#'))
        return BP_EINVAL;
    if (pw_check(password, &pwlen))
        return BP_EINVAL;
    struct bp_link *l = link_alloc();
    if (!l)
        return BP_ENOMEM;
    if (copy_name(l->type, sizeof l->type, app, strlen(app)) ||
        copy_name(l->app, sizeof l->app, app, strlen(app))) {
        bp_link_free(l);
        return BP_EINVAL;
    }
    l->version = 2;
    l->has_password = l->password_flag = pwlen > 0;
    if (!strcmp(app, "file") || !strcmp(app, "media")) {
        l->kind = BP_LINK_FILE;
        derive_v2_file(l, seed, password, pwlen);
    } else {
        l->kind = BP_LINK_DOC;
        derive_v2_edit(l, seed, password, pwlen);
    }
    *out = l;
    return 0;
}

int bp_link_make(const char *app, const char *password, struct bp_link **out)
{
    if (sodium_init() < 0)
        return BP_ESYS;
    uint8_t seed[18];
    randombytes_buf(seed, sizeof seed);
    int rc = bp_link_make_from_seed(app, seed, password, out);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int bp_link_make_v1(const char *type, const uint8_t channel[16], const uint8_t seed[18],
                    struct bp_link **out)
{
    if (out)
        *out = NULL;
    if (!type || !channel || !seed || !out || strchr(type, '/') || strchr(type, '#'))
        return BP_EINVAL;
    struct bp_link *l = link_alloc();
    if (!l)
        return BP_ENOMEM;
    if (copy_name(l->type, sizeof l->type, type, strlen(type))) {
        bp_link_free(l);
        return BP_EINVAL;
    }
    l->version = 1;
    l->kind = BP_LINK_DOC;
    bp_crypto_hex_encode(channel, 16, l->channel);
    bp_crypto_b64_encode(channel, 16, BP_B64_URL, l->chan_id, sizeof l->chan_id, NULL);
    derive_v1_edit(l, seed);
    *out = l;
    return 0;
}

int bp_link_make_view(const struct bp_link *link, struct bp_link **out)
{
    if (out)
        *out = NULL;
    if (!link || !out || link->kind != BP_LINK_DOC || !link->has_keys ||
        (link->version != 1 && link->version != 2))
        return BP_EINVAL;
    struct bp_link *l = link_alloc();
    if (!l)
        return BP_ENOMEM;
    memcpy(l, link, sizeof *l);
    l->mode = BP_LINK_VIEW;
    l->has_sign_key = l->has_secondary_key = false;
    sodium_memzero(l->sign_key, sizeof l->sign_key);
    sodium_memzero(l->validate_key, sizeof l->validate_key);
    sodium_memzero(l->secondary_key, sizeof l->secondary_key);
    sodium_memzero(l->edit_key_str, sizeof l->edit_key_str);
    *out = l;
    return 0;
}

/* Appends s to out at *pos; -1 when it does not fit (NUL included). */
static int put(char *out, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + n + 1 > cap)
        return -1;
    memcpy(out + *pos, s, n + 1);
    *pos += n;
    return 0;
}

/* Appends s with every '/' turned into '-' (b64RemoveSlashes). */
static int put_esc(char *out, size_t cap, size_t *pos, const char *s)
{
    size_t start = *pos;
    if (put(out, cap, pos, s))
        return -1;
    for (size_t i = start; i < *pos; i++)
        if (out[i] == '/')
            out[i] = '-';
    return 0;
}

int bp_link_hash(const struct bp_link *l, enum bp_link_mode mode, char *out, size_t cap)
{
    if (!l || !out || !cap)
        return BP_EINVAL;
    out[0] = '\0';
    if (!l->has_keys || l->version == 3)
        return BP_EINVAL;
    size_t pos = 0;
    int bad = 0;
    const char *type = l->type[0] ? l->type : l->app[0] ? l->app : l->kind == BP_LINK_FILE ? "file" : "pad";
    if (l->version == 0) {
        bad |= put(out, cap, &pos, l->channel) | put(out, cap, &pos, l->edit_key_str);
    } else if (l->kind == BP_LINK_FILE) {
        if (l->version == 1) {
            bad |= put(out, cap, &pos, "/1/") | put(out, cap, &pos, l->chan_id) | put(out, cap, &pos, "/") |
                   put_esc(out, cap, &pos, l->file_key_str) | put(out, cap, &pos, "/");
        } else {
            bad |= put(out, cap, &pos, "/2/") | put(out, cap, &pos, type) | put(out, cap, &pos, "/") |
                   put(out, cap, &pos, l->file_key_str) | put(out, cap, &pos, "/");
            if (l->has_password)
                bad |= put(out, cap, &pos, "p/");
        }
    } else {
        if (mode == BP_LINK_EDIT && !l->edit_key_str[0])
            return BP_EINVAL;
        if (mode != BP_LINK_EDIT && mode != BP_LINK_VIEW)
            return BP_EINVAL;
        const char *key = mode == BP_LINK_EDIT ? l->edit_key_str : l->view_key_str;
        const char *m = mode == BP_LINK_EDIT ? "edit/" : "view/";
        if (l->version == 1) {
            bad |= put(out, cap, &pos, "/1/") | put(out, cap, &pos, m) | put(out, cap, &pos, l->chan_id) |
                   put(out, cap, &pos, "/") | put_esc(out, cap, &pos, key) | put(out, cap, &pos, "/");
        } else {
            bad |= put(out, cap, &pos, "/2/") | put(out, cap, &pos, type) | put(out, cap, &pos, "/") |
                   put(out, cap, &pos, m) | put_esc(out, cap, &pos, key) | put(out, cap, &pos, "/");
            if (l->has_password)
                bad |= put(out, cap, &pos, "p/");
        }
    }
    if (bad) {
        out[0] = '\0';
        return BP_ETOOBIG;
    }
    return 0;
}

int bp_link_burn_url(const struct bp_link *l, const char *origin, const uint8_t owner_sk[64],
                     char *out, size_t cap)
{
    if (!l || !owner_sk || l->kind != BP_LINK_DOC || (l->version != 1 && l->version != 2))
        return BP_EINVAL;
    char view[BP_LINK_HASH_MAX + 600];
    int rc = bp_link_url(l, origin, BP_LINK_VIEW, view, sizeof view);
    if (rc)
        return rc;
    /* Hash.getHash: the key's elements, then the owner key, then "p/". */
    size_t vl = strlen(view);
    size_t keep = l->has_password ? vl - 2 : vl; /* before "p/" */
    char sk[90];
    bp_crypto_b64_encode(owner_sk, 64, BP_B64_URL, sk, sizeof sk, NULL);
    size_t pos = 0;
    int bad = 0;
    if (keep + 1 > cap) {
        bad = 1;
    } else {
        memcpy(out, view, keep);
        out[keep] = '\0';
        pos = keep;
        bad = put(out, cap, &pos, sk) || put(out, cap, &pos, "/") ||
              (l->has_password && put(out, cap, &pos, "p/"));
    }
    sodium_memzero(sk, sizeof sk);
    if (bad) {
        sodium_memzero(out, cap);
        out[0] = '\0';
        return BP_ETOOBIG;
    }
    return 0;
}

int bp_link_url(const struct bp_link *l, const char *origin, enum bp_link_mode mode, char *out, size_t cap)
{
    char hash[BP_LINK_HASH_MAX];
    if (!l || !origin || !out || !cap)
        return BP_EINVAL;
    int rc = bp_link_hash(l, mode, hash, sizeof hash);
    if (rc)
        return rc;
    const char *type = l->type[0] ? l->type : l->app[0] ? l->app : l->kind == BP_LINK_FILE ? "file" : "pad";
    size_t pos = 0;
    if (put(out, cap, &pos, origin) || put(out, cap, &pos, "/") || put(out, cap, &pos, type) ||
        put(out, cap, &pos, "/#") || put(out, cap, &pos, hash)) {
        out[0] = '\0';
        return BP_ETOOBIG;
    }
    return 0;
}

int bp_link_blob_path(const char *id, char *out, size_t cap)
{
    if (!id || !out || strlen(id) < 2 || !is_lower_hex(id, strlen(id)))
        return BP_EINVAL;
    size_t pos = 0;
    char pre[3] = {id[0], id[1], '\0'};
    if (put(out, cap, &pos, "/blob/") || put(out, cap, &pos, pre) || put(out, cap, &pos, "/") ||
        put(out, cap, &pos, id))
        return BP_ETOOBIG;
    return 0;
}

int bp_link_form_keys(const struct bp_link *l, uint8_t form_private[32], uint8_t form_public[32])
{
    if (!l || !form_private || !form_public || !l->has_secondary_key)
        return BP_EINVAL;
    char sec[45];
    bp_crypto_b64_encode(l->secondary_key, 32, BP_B64_STD, sec, sizeof sec, NULL);
    memcpy(form_private, sec, 32); /* the ASCII text, not the decoded bytes (§1.7) */
    sodium_memzero(sec, sizeof sec);
    crypto_scalarmult_base(form_public, form_private);
    return 0;
}

int bp_link_form_auditor_hash(const struct bp_link *l, char *out, size_t cap)
{
    uint8_t priv[32], pub[32];
    char key[45], priv_b64[45];
    if (!out || !cap)
        return BP_EINVAL;
    int rc = bp_link_form_keys(l, priv, pub);
    if (rc)
        return rc;
    bp_crypto_b64_encode(l->crypt_key, 32, BP_B64_STD, key, sizeof key, NULL);
    bp_crypto_b64_encode(priv, 32, BP_B64_STD, priv_b64, sizeof priv_b64, NULL);
    size_t pos = 0;
    rc = (put(out, cap, &pos, "/1/view/") || put(out, cap, &pos, l->chan_id) || put(out, cap, &pos, "/") ||
          put_esc(out, cap, &pos, key) || put(out, cap, &pos, "/auditor=") ||
          put_esc(out, cap, &pos, priv_b64) || put(out, cap, &pos, "/"))
             ? BP_ETOOBIG
             : 0;
    sodium_memzero(priv, sizeof priv);
    sodium_memzero(key, sizeof key);
    sodium_memzero(priv_b64, sizeof priv_b64);
    if (rc)
        out[0] = '\0';
    return rc;
}
