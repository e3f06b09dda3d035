/* login.c: CryptPad's login derivation and login blocks (CRYPTO.md §7; the
 * formats are summarised in include/blindpad/login.h).
 *
 * Two string encodings matter here and neither is plain UTF-8 handling:
 *  - the username is lower-cased as JavaScript's toLowerCase() does: glibc's
 *    Unicode simple case mapping (towlower_l in the C.UTF-8 locale, a locale
 *    object of our own, so no global state) plus the two language-neutral
 *    rules of SpecialCasing.txt that JS applies: U+0130 -> "i\u0307", and
 *    capital sigma -> final sigma at the end of a word;
 *  - scrypt-async turns the password and the salt into bytes one UTF-16 code
 *    unit at a time, so a character above U+FFFF is encoded as its two
 *    surrogates, 3 bytes each (ed a0 bd ed b4 91 for U+1F511). */
#include "blindpad/login.h"

#include <jansson.h>
#include <locale.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "blindpad/err.h"
#include "common/buf.h"
#include "common/jsonw.h"
#include "common/utf8.h"

/* ------------------------------------------------------------ UTF-8 helpers */

/* Decodes one code point of already validated UTF-8 at s[*i], advancing *i. */
static uint32_t u8_next(const unsigned char *s, size_t *i)
{
    uint32_t c = s[*i];
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n == 1) {
        *i += 1;
        return c;
    }
    c &= 0x3F >> (n - 1);
    for (size_t k = 1; k < n; k++)
        c = (c << 6) | (s[*i + k] & 0x3F);
    *i += n;
    return c;
}

/* Appends cp as UTF-8 (also encodes surrogates as 3 bytes: scrypt-async). */
static bool u8_put(unsigned char *out, size_t cap, size_t *len, uint32_t cp)
{
    unsigned char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (unsigned char)(0xC0 | (cp >> 6));
        t[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (unsigned char)(0xE0 | (cp >> 12));
        t[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (unsigned char)(0xF0 | (cp >> 18));
        t[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (*len + n > cap) {
        *len += n; /* keep counting: the caller reports the size needed */
        return false;
    }
    memcpy(out + *len, t, n);
    *len += n;
    return true;
}

/* Case_Ignorable (Unicode DerivedCoreProperties), restricted to what can
 * sit between letters in a name: apostrophes, dots, modifier letters and
 * combining marks. Only used for the final-sigma context. */
static bool case_ignorable(uint32_t c)
{
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0x5E: case 0x60: case 0xA8: case 0xAD:
    case 0xAF: case 0xB4: case 0xB7: case 0xB8: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027:
        return true;
    }
    return (c >= 0x2B0 && c <= 0x36F) || (c >= 0x483 && c <= 0x489) ||
           (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) ||
           (c >= 0x200B && c <= 0x200F) || (c >= 0x20D0 && c <= 0x20FF) ||
           (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xFE20 && c <= 0xFE2F);
}

static bool cased(uint32_t c, locale_t loc)
{
    wint_t w = (wint_t)c;
    return iswupper_l(w, loc) || iswlower_l(w, loc) || towlower_l(w, loc) != w ||
           towupper_l(w, loc) != w;
}

/* Final_Sigma: a cased letter before (skipping case-ignorables) and none after. */
static bool final_sigma(const uint32_t *cp, size_t n, size_t i, locale_t loc)
{
    size_t j = i;
    bool before = false;
    while (j-- > 0) {
        if (case_ignorable(cp[j]))
            continue;
        before = cased(cp[j], loc);
        break;
    }
    if (!before)
        return false;
    for (j = i + 1; j < n; j++) {
        if (case_ignorable(cp[j]))
            continue;
        return !cased(cp[j], loc);
    }
    return true;
}

int bp_login_lowercase(const char *in, char *out, size_t cap, size_t *outlen)
{
    if (!in || !outlen)
        return BP_EINVAL;
    size_t n = strlen(in);
    if (!utf8_valid(in, n))
        return BP_EINVAL;
    uint32_t *cp = malloc((n + 1) * sizeof *cp);
    if (!cp)
        return BP_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n;)
        cp[m++] = u8_next((const unsigned char *)in, &i);
    locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!loc) {
        free(cp);
        return BP_ESYS;
    }
    size_t len = 0;
    bool fits = true;
    unsigned char *o = (unsigned char *)out;
    size_t room = out && cap ? cap - 1 : 0; /* keep one byte for the NUL */
    for (size_t i = 0; i < m; i++) {
        uint32_t c = cp[i];
        if (c == 0x130) { /* SpecialCasing: LATIN CAPITAL LETTER I WITH DOT ABOVE */
            fits &= u8_put(o, room, &len, 0x69);
            fits &= u8_put(o, room, &len, 0x307);
            continue;
        }
        if (c == 0x3A3)
            c = final_sigma(cp, m, i, loc) ? 0x3C2 : 0x3C3;
        else
            c = (uint32_t)towlower_l((wint_t)c, loc);
        fits &= u8_put(o, room, &len, c);
    }
    freelocale(loc);
    free(cp);
    if (!fits || !out || len + 1 > cap) {
        *outlen = len + 1;
        return BP_ETOOBIG;
    }
    out[len] = '\0';
    *outlen = len;
    return 0;
}

int bp_login_scrypt_encode(const char *in, unsigned char *out, size_t cap, size_t *outlen)
{
    if (!in || !outlen)
        return BP_EINVAL;
    size_t n = strlen(in);
    if (!utf8_valid(in, n))
        return BP_EINVAL;
    size_t len = 0;
    bool fits = true;
    for (size_t i = 0; i < n;) {
        uint32_t c = u8_next((const unsigned char *)in, &i);
        if (c >= 0x10000) { /* one UTF-16 code unit at a time */
            c -= 0x10000;
            fits &= u8_put(out, out ? cap : 0, &len, 0xD800 + (c >> 10));
            fits &= u8_put(out, out ? cap : 0, &len, 0xDC00 + (c & 0x3FF));
        } else {
            fits &= u8_put(out, out ? cap : 0, &len, c);
        }
    }
    *outlen = len;
    return fits ? 0 : BP_ETOOBIG;
}

/* ---------------------------------------------------------------- derive */

/* Encodes s for scrypt into a new malloc'd buffer. */
static int scrypt_bytes(const char *s, unsigned char **out, size_t *len)
{
    size_t cap = strlen(s) * 3 / 2 + 1; /* 4 UTF-8 bytes become 6 at most */
    *out = malloc(cap);
    if (!*out)
        return BP_ENOMEM;
    int rc = bp_login_scrypt_encode(s, *out, cap, len);
    if (rc) {
        sodium_memzero(*out, cap);
        free(*out);
        *out = NULL;
    }
    return rc;
}

int bp_login_scrypt(const char *username, const char *password, const char *login_salt,
                    unsigned char out[BP_LOGIN_BYTES])
{
    if (!username || !password || !out || !*username || !*password)
        return BP_EINVAL;
    if (!login_salt)
        login_salt = "";
    size_t ulen = strlen(username), slen = strlen(login_salt);
    size_t cap = ulen * 3 / 2 + 2 + slen + 1; /* lower-casing grows by 1.5x at most */
    char *salt = malloc(cap);
    if (!salt)
        return BP_ENOMEM;
    size_t n;
    int rc = bp_login_lowercase(username, salt, cap, &n);
    if (rc == 0 && !utf8_valid(login_salt, slen))
        rc = BP_EINVAL;
    unsigned char *pw = NULL, *sb = NULL;
    size_t pwlen = 0, sblen = 0;
    if (rc == 0) {
        memcpy(salt + n, login_salt, slen + 1);
        rc = scrypt_bytes(salt, &sb, &sblen);
    }
    if (rc == 0)
        rc = scrypt_bytes(password, &pw, &pwlen);
    if (rc == 0 && crypto_pwhash_scryptsalsa208sha256_ll(pw, pwlen, sb, sblen, BP_LOGIN_SCRYPT_N,
                                                         BP_LOGIN_SCRYPT_R, BP_LOGIN_SCRYPT_P,
                                                         out, BP_LOGIN_BYTES) != 0)
        rc = BP_ENOMEM;
    if (pw) {
        sodium_memzero(pw, pwlen);
        free(pw);
    }
    free(sb);
    sodium_memzero(salt, cap);
    free(salt);
    return rc;
}

int bp_login_keys_from_bytes(const unsigned char bytes[BP_LOGIN_BYTES], struct bp_login_keys **out)
{
    if (!bytes || !out)
        return BP_EINVAL;
    *out = NULL;
    if (sodium_init() < 0) /* sodium_malloc needs it; idempotent */
        return BP_ESYS;
    struct bp_login_keys *k = sodium_malloc(sizeof *k);
    if (!k)
        return BP_ENOMEM;
    memcpy(k->bytes, bytes, BP_LOGIN_BYTES);
    memcpy(k->encryption_seed, bytes, 18);
    memcpy(k->channel_seed, bytes + 18, 16);
    /* nacl.box.keyPair.fromSecretKey keeps the 32 bytes as the secret key. */
    memcpy(k->curve_secret, bytes + 34, 32);
    crypto_scalarmult_base(k->curve_public, k->curve_secret);
    crypto_sign_seed_keypair(k->ed_public, k->ed_secret, bytes + 66);
    /* Block.genkeys(64 bytes): sign seed, then the symmetric key. */
    crypto_sign_seed_keypair(k->block_public, k->block_secret, bytes + 98);
    memcpy(k->block_key, bytes + 130, 32);
    *out = k;
    return 0;
}

int bp_login_derive(const char *username, const char *password, const char *login_salt,
                    struct bp_login_keys **out)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return BP_ESYS;
    unsigned char *bytes = sodium_malloc(BP_LOGIN_BYTES);
    if (!bytes)
        return BP_ENOMEM;
    int rc = bp_login_scrypt(username, password, login_salt, bytes);
    if (rc == 0)
        rc = bp_login_keys_from_bytes(bytes, out);
    sodium_free(bytes);
    return rc;
}

void bp_login_keys_free(struct bp_login_keys *k)
{
    sodium_free(k); /* wipes */
}

/* ------------------------------------------------------------- encodings */

/* b64 (padded); then "-" for "/" (esc64) if esc, and no padding if strip. */
static void b64(char *out, size_t cap, const unsigned char *p, size_t n, bool esc, bool strip)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    for (char *c = out; *c; c++)
        if (esc && *c == '/')
            *c = '-';
    if (strip) {
        size_t l = strlen(out);
        while (l > 0 && out[l - 1] == '=')
            out[--l] = '\0';
    }
}

/* Copies b (a string) to out; BP_ETOOBIG with the size needed otherwise. */
static int put_buf(struct buf *b, char *out, size_t cap, size_t *outlen)
{
    int rc = 0;
    if (!out || b->len + 1 > cap) {
        *outlen = b->len + 1;
        rc = BP_ETOOBIG;
    } else {
        memcpy(out, b->data ? b->data : "", b->len + 1);
        *outlen = b->len;
    }
    buf_free(b);
    return rc;
}

int bp_login_legacy(const struct bp_login_keys *k, struct bp_login_legacy *out)
{
    if (!k || !out)
        return BP_EINVAL;
    char chan[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
    b64(chan, sizeof chan, k->channel_seed, 16, true, true);
    b64(out->edit_key_str, sizeof out->edit_key_str, k->encryption_seed, 18, true, false);
    snprintf(out->user_hash, sizeof out->user_hash, "/1/edit/%s/%s/", chan, out->edit_key_str);
    /* chainpad-crypto createEditCryptor(seed): H = SHA-512(seed); sign from
     * H[0..32]; cryptKey = H[32..64]; viewKeyStr = urlb64(cryptKey). */
    unsigned char h[64];
    crypto_hash_sha512(h, k->encryption_seed, 18);
    crypto_sign_seed_keypair(out->sign_public, out->sign_secret, h);
    memcpy(out->crypt_key, h + 32, 32);
    sodium_memzero(h, sizeof h);
    char view[45]; /* padded form first, then stripped to 43 chars */
    b64(view, sizeof view, out->crypt_key, 32, true, true);
    memcpy(out->view_key_str, view, sizeof out->view_key_str);
    return 0;
}

int bp_login_block_url(const char *origin, const unsigned char block_public[32], char *out,
                       size_t cap, size_t *outlen)
{
    if (!origin || !block_public || !outlen)
        return BP_EINVAL;
    char id[45];
    b64(id, sizeof id, block_public, 32, true, false);
    struct buf b = BUF_INIT;
    buf_appendf(&b, "%s/block/%.2s/%s", origin, id, id);
    return put_buf(&b, out, cap, outlen);
}

int bp_login_block_hash(const char *origin, const struct bp_login_keys *k, char *out, size_t cap,
                        size_t *outlen)
{
    if (!origin || !k || !outlen)
        return BP_EINVAL;
    char id[45], key[45];
    b64(id, sizeof id, k->block_public, 32, true, false);
    b64(key, sizeof key, k->block_key, 32, true, false);
    struct buf b = BUF_INIT;
    buf_appendf(&b, "%s/block/%.2s/%s#%s", origin, id, id, key);
    sodium_memzero(key, sizeof key);
    int rc = put_buf(&b, out, cap, outlen);
    return rc;
}

int bp_login_block_hash_parse(const char *hash, char *url, size_t cap, unsigned char block_key[32])
{
    if (!hash || !url || !block_key)
        return BP_EINVAL;
    const char *sharp = strchr(hash, '#');
    if (!sharp || strchr(sharp + 1, '#')) /* JS: split('#') must give 2 parts */
        return BP_ELINK;
    size_t ulen = (size_t)(sharp - hash);
    if (ulen + 1 > cap)
        return BP_ETOOBIG;
    char key[45];
    size_t klen = strlen(sharp + 1);
    if (klen != 44)
        return BP_ELINK;
    memcpy(key, sharp + 1, 45);
    for (char *c = key; *c; c++)
        if (*c == '-')
            *c = '/';
    size_t n;
    int rc = sodium_base642bin(block_key, 32, key, 44, NULL, &n, NULL,
                               sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
    if (rc != 0 || n != 32)
        return BP_ELINK;
    memcpy(url, hash, ulen);
    url[ulen] = '\0';
    return 0;
}

/* ----------------------------------------------------------------- block */

int bp_login_block_content(const char *user_hash, const char *ed_public, char *out, size_t cap,
                           size_t *outlen)
{
    if (!user_hash || !ed_public || !outlen || !utf8_valid(user_hash, strlen(user_hash)) ||
        !utf8_valid(ed_public, strlen(ed_public)))
        return BP_EINVAL;
    struct buf b = BUF_INIT;
    buf_appends(&b, "{\"User_hash\":");
    jsonw_cstr(&b, user_hash);
    buf_appends(&b, ",\"edPublic\":");
    jsonw_cstr(&b, ed_public);
    buf_appendc(&b, '}');
    return put_buf(&b, out, cap, outlen);
}

int bp_login_block_encrypt(const unsigned char block_key[32], const char *content, size_t len,
                           const unsigned char *nonce, unsigned char *out, size_t cap,
                           size_t *outlen)
{
    if (!block_key || (!content && len) || !out || !outlen)
        return BP_EINVAL;
    if (len > BP_LOGIN_BLOCK_MAX - BP_LOGIN_BLOCK_OVERHEAD)
        return BP_ETOOBIG;
    if (cap < len + BP_LOGIN_BLOCK_OVERHEAD) {
        *outlen = len + BP_LOGIN_BLOCK_OVERHEAD;
        return BP_ETOOBIG;
    }
    out[0] = 0; /* version */
    if (nonce)
        memcpy(out + 1, nonce, crypto_secretbox_NONCEBYTES);
    else
        randombytes_buf(out + 1, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + 1 + crypto_secretbox_NONCEBYTES,
                          (const unsigned char *)(content ? content : ""), len, out + 1,
                          block_key);
    *outlen = len + BP_LOGIN_BLOCK_OVERHEAD;
    return 0;
}

int bp_login_block_decrypt(const unsigned char block_key[32], const unsigned char *block,
                           size_t len, char *out, size_t cap, size_t *outlen)
{
    if (!block_key || (!block && len) || !out || !outlen)
        return BP_EINVAL;
    if (len < BP_LOGIN_BLOCK_OVERHEAD)
        return BP_EPROTO;
    if (len > BP_LOGIN_BLOCK_MAX)
        return BP_ETOOBIG;
    size_t n = len - BP_LOGIN_BLOCK_OVERHEAD;
    if (cap < n + 1) {
        *outlen = n + 1;
        return BP_ETOOBIG;
    }
    const unsigned char *nonce = block + 1, *box = block + 1 + crypto_secretbox_NONCEBYTES;
    if (crypto_secretbox_open_easy((unsigned char *)out, box, len - 1 - crypto_secretbox_NONCEBYTES,
                                   nonce, block_key) != 0)
        return BP_EDECRYPT;
    out[n] = '\0';
    /* Block.decrypt: JSON.parse(encodeUTF8(plaintext)) must succeed. */
    json_error_t je;
    json_t *v = utf8_valid(out, n) ? json_loadb(out, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je)
                                   : NULL;
    if (!v) {
        sodium_memzero(out, n);
        return BP_EPROTO;
    }
    json_decref(v);
    *outlen = n;
    return 0;
}

static int copy_field(json_t *o, const char *name, char *out, size_t cap)
{
    json_t *s = json_object_get(o, name);
    if (!json_is_string(s))
        return BP_EPROTO;
    size_t n = json_string_length(s);
    if (memchr(json_string_value(s), 0, n))
        return BP_EPROTO;
    if (n + 1 > cap)
        return BP_ETOOBIG;
    memcpy(out, json_string_value(s), n + 1);
    return 0;
}

int bp_login_block_parse(const char *json, size_t len, char *user_hash, size_t hash_cap,
                         char *ed_public, size_t ed_cap)
{
    if (!json || !user_hash || !ed_public)
        return BP_EINVAL;
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_ALLOW_NUL, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return BP_EPROTO;
    }
    int rc = copy_field(o, "User_hash", user_hash, hash_cap);
    if (rc == 0)
        rc = copy_field(o, "edPublic", ed_public, ed_cap);
    json_decref(o);
    return rc;
}

int bp_login_block_sign(const struct bp_login_keys *k, const unsigned char *block, size_t len,
                        unsigned char sig[64])
{
    if (!k || (!block && len) || !sig)
        return BP_EINVAL;
    unsigned char h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, block ? block : (const unsigned char *)"", len);
    crypto_sign_detached(sig, NULL, h, sizeof h, k->block_secret);
    return 0;
}

int bp_login_registration_proof(const struct bp_login_keys *old_keys, char *out, size_t cap,
                                size_t *outlen)
{
    if (!old_keys || !outlen)
        return BP_EINVAL;
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, old_keys->block_public, 32, old_keys->block_secret);
    char pub[45], s64[89];
    b64(pub, sizeof pub, old_keys->block_public, 32, false, false);
    b64(s64, sizeof s64, sig, 64, false, false);
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[\"%s\",\"%s\"]", pub, s64);
    return put_buf(&b, out, cap, outlen);
}

int bp_login_write_block_content(const struct bp_login_keys *k, const unsigned char *block,
                                 size_t len, int has_password, const char *proof, char *out,
                                 size_t cap, size_t *outlen)
{
    if (!k || (!block && len) || !outlen || has_password < -1 || has_password > 1 ||
        (proof && !utf8_valid(proof, strlen(proof))))
        return BP_EINVAL;
    if (len > BP_LOGIN_BLOCK_MAX)
        return BP_ETOOBIG;
    unsigned char sig[64];
    bp_login_block_sign(k, block, len, sig);
    char pub[45], s64[89];
    b64(pub, sizeof pub, k->block_public, 32, false, false);
    b64(s64, sizeof s64, sig, 64, false, false);
    size_t clen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *c64 = malloc(clen);
    if (!c64)
        return BP_ENOMEM;
    sodium_bin2base64(c64, clen, block ? block : (const unsigned char *)"", len,
                      sodium_base64_VARIANT_ORIGINAL);
    struct buf b = BUF_INIT;
    buf_appendf(&b, "{\"publicKey\":\"%s\",\"signature\":\"%s\",\"ciphertext\":\"%s\"", pub, s64,
                c64);
    free(c64);
    if (has_password >= 0)
        buf_appends(&b, has_password ? ",\"hasPassword\":true" : ",\"hasPassword\":false");
    if (proof) {
        buf_appends(&b, ",\"registrationProof\":");
        jsonw_cstr(&b, proof);
    }
    buf_appendc(&b, '}');
    return put_buf(&b, out, cap, outlen);
}
