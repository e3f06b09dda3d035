/* crypto.c: CryptPad's message formats over libsodium (see blindpad/crypto.h
 * and CRYPTO.md §0-§5, §8).
 *
 * Formats implemented here (all text is ASCII base64 unless said otherwise):
 *   symmetric (§2)  b64(nonce 24) "|" b64(secretbox(plain, nonce, key))
 *   signed (§3)     ["cp|" b64(SHA-512(plain)[0..8]) "|"] b64(sig64 || symmetric)
 *                   the signature covers the ASCII bytes of the symmetric text
 *   mailbox (§5.1)  b64([sig64 ||] n2 || ephPub || box(letter, n2, theirPub, ephPriv))
 *                   letter = n1 || senderPub || box(plain, n1, theirPub, senderPriv)
 *   team (§5.3)     a signed mailbox letter to the team curve key
 *   RPC (§8.2)      [b64(detached(JSON [cookie,cmd,args])), edPublic, cookie, cmd, args]
 *
 * Temporary plaintext and key copies are wiped before they are freed. */
#include "blindpad/crypto.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonw.h"
#include "common/utf8.h"

/* Every public entry point that touches libsodium's RNG or sodium_malloc
 * calls this; sodium_init() is idempotent and thread-safe. */
static int ensure_sodium(void)
{
    return sodium_init() < 0 ? BP_ESYS : 0;
}

/* Writes s[0..n) plus a NUL into out, snprintf-style (see the header). */
static int put_text(const char *s, size_t n, char *out, size_t cap, size_t *out_len)
{
    if (out_len)
        *out_len = n;
    if (!out || cap < n + 1)
        return BP_ETOOBIG;
    memmove(out, s, n);
    out[n] = '\0';
    return 0;
}

/* ---- base64 and hex ---- */

/* Standard padded base64 of in[0..n) into out (cap >= BP_B64_LEN(n)+1). */
static size_t b64_std(const uint8_t *in, size_t n, char *out)
{
    sodium_bin2base64(out, BP_B64_LEN(n) + 1, in, n, sodium_base64_VARIANT_ORIGINAL);
    return BP_B64_LEN(n);
}

int bp_crypto_b64_encode(const uint8_t *in, size_t n, enum bp_b64 flavour, char *out, size_t cap,
                         size_t *out_len)
{
    size_t full = BP_B64_LEN(n), len = full;
    if (flavour == BP_B64_URL) /* the padding goes away */
        len -= (3 - n % 3) % 3;
    if (out_len)
        *out_len = len;
    if ((!in && n) || (flavour != BP_B64_STD && flavour != BP_B64_URL && flavour != BP_B64_ESC))
        return BP_EINVAL;
    if (!out || cap < len + 1)
        return BP_ETOOBIG;
    char *tmp = cap >= full + 1 ? out : malloc(full + 1);
    if (!tmp)
        return BP_ENOMEM;
    b64_std(in, n, tmp);
    for (size_t i = 0; i < len; i++)
        out[i] = (flavour != BP_B64_STD && tmp[i] == '/') ? '-' : tmp[i];
    out[len] = '\0';
    if (tmp != out)
        free(tmp);
    return 0;
}

/* Strict standard base64 (padded, canonical) straight from s. */
static int b64_decode_std(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    const char *end = NULL;
    size_t len = 0;
    if (n % 4)
        return BP_EINVAL;
    /* libsodium's decoder maps some bytes >= 0x80 onto the alphabet (found by
     * fuzz_link): check the characters ourselves first. */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '='))
            return BP_EINVAL;
    }
    if (n / 4 * 3 > cap + 2) /* +2: padding may make it fit */
        return BP_ETOOBIG;
    if (sodium_base642bin(out, cap, s, n, NULL, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + n)
        return n / 4 * 3 > cap ? BP_ETOOBIG : BP_EINVAL;
    *out_len = len;
    return 0;
}

int bp_crypto_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t olen = 0;
    if (out_len)
        *out_len = 0;
    if (!s || !out)
        return BP_EINVAL;
    /* CryptPad's decoder: '-' -> '/', then '=' until a multiple of 4. */
    size_t padded = (n + 3) / 4 * 4;
    if (n % 4 == 1)
        return BP_EINVAL; /* 6 bits cannot make a byte */
    if (n == 0)
        return 0;
    char stackbuf[512] = {0};
    char *tmp = padded <= sizeof stackbuf ? stackbuf : malloc(padded);
    if (!tmp)
        return BP_ENOMEM;
    for (size_t i = 0; i < n; i++)
        tmp[i] = s[i] == '-' ? '/' : s[i];
    for (size_t i = n; i < padded; i++)
        tmp[i] = '=';
    int rc = b64_decode_std(tmp, padded, out, cap, &olen);
    if (tmp != stackbuf)
        free(tmp);
    if (rc == 0 && out_len)
        *out_len = olen;
    return rc;
}

int bp_crypto_b64_key(const char *s, uint8_t *out, size_t want)
{
    uint8_t tmp[128];
    size_t len = 0;
    if (!s || want > sizeof tmp)
        return BP_EINVAL;
    int rc = bp_crypto_b64_decode(s, strlen(s), tmp, sizeof tmp, &len);
    if (rc == 0 && len != want)
        rc = BP_EINVAL;
    if (rc == 0)
        memcpy(out, tmp, want);
    sodium_memzero(tmp, sizeof tmp);
    return rc == BP_ETOOBIG ? BP_EINVAL : rc;
}

void bp_crypto_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int bp_crypto_hex_decode(const char *s, size_t n, uint8_t *out, size_t want)
{
    if (!s || n != 2 * want)
        return BP_EINVAL;
    for (size_t i = 0; i < want; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return BP_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* ---- §2 symmetric ---- */

int bp_crypto_encrypt(const uint8_t key[32], const void *plain, size_t n, const uint8_t *nonce,
                      char *out, size_t cap, size_t *out_len)
{
    size_t need = BP_CRYPTO_SYM_LEN(n);
    if (out_len)
        *out_len = need;
    if (!key || (!plain && n))
        return BP_EINVAL;
    if (n > SIZE_MAX / 2 - 64)
        return BP_ETOOBIG;
    if (!out || cap < need + 1)
        return BP_ETOOBIG;
    int rc = ensure_sodium();
    if (rc)
        return rc;
    uint8_t nb[BP_CRYPTO_NONCEBYTES];
    if (nonce)
        memcpy(nb, nonce, sizeof nb);
    else
        randombytes_buf(nb, sizeof nb);
    uint8_t *box = malloc(n + crypto_secretbox_MACBYTES);
    if (!box)
        return BP_ENOMEM;
    crypto_secretbox_easy(box, plain, n, nb, key);
    size_t pos = b64_std(nb, sizeof nb, out);
    out[pos++] = '|';
    pos += b64_std(box, n + crypto_secretbox_MACBYTES, out + pos);
    out[pos] = '\0';
    free(box);
    return 0;
}

int bp_crypto_decrypt(const uint8_t key[32], const char *msg, size_t n, char *out, size_t cap,
                      size_t *out_len)
{
    if (out_len)
        *out_len = 0;
    if (!key || !msg || !out)
        return BP_EINVAL;
    /* Exactly two parts, as String.split('|') + length check in the JS. */
    const char *bar = memchr(msg, '|', n);
    if (!bar || memchr(bar + 1, '|', n - (size_t)(bar - msg) - 1))
        return BP_EPROTO;
    uint8_t nonce[BP_CRYPTO_NONCEBYTES + 3];
    size_t nlen = 0;
    if (b64_decode_std(msg, (size_t)(bar - msg), nonce, sizeof nonce, &nlen) || nlen != BP_CRYPTO_NONCEBYTES)
        return BP_EPROTO;
    const char *b = bar + 1;
    size_t blen_txt = n - (size_t)(b - msg);
    size_t bcap = blen_txt / 4 * 3;
    if (bcap < crypto_secretbox_MACBYTES)
        return BP_EPROTO;
    uint8_t *box = malloc(bcap);
    if (!box)
        return BP_ENOMEM;
    size_t blen = 0;
    int rc = b64_decode_std(b, blen_txt, box, bcap, &blen);
    if (rc || blen < crypto_secretbox_MACBYTES) {
        free(box);
        return rc == BP_ENOMEM ? rc : BP_EPROTO;
    }
    size_t plen = blen - crypto_secretbox_MACBYTES;
    if (cap < plen + 1) {
        free(box);
        if (out_len)
            *out_len = plen;
        return BP_ETOOBIG;
    }
    if (crypto_secretbox_open_easy((uint8_t *)out, box, blen, nonce, key) != 0) {
        free(box);
        return BP_EDECRYPT;
    }
    free(box);
    if (!utf8_valid(out, plen)) { /* encodeUTF8 throws in the JS */
        sodium_memzero(out, plen);
        return BP_EPROTO;
    }
    out[plen] = '\0';
    if (out_len)
        *out_len = plen;
    return 0;
}

/* ---- §3 signed ---- */

size_t bp_crypto_cp_prefix_len(const char *msg, size_t n)
{
    if (!msg || n < 3 || memcmp(msg, "cp|", 3) != 0)
        return 0;
    /* ([A-Za-z0-9+/=]{0,20}\|)? */
    for (size_t i = 3; i < n && i <= 3 + 20; i++) {
        char c = msg[i];
        if (c == '|')
            return i + 1;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '='))
            break;
    }
    return 3;
}

void bp_crypto_msg_hash(const char *msg, size_t n, char out[BP_CRYPTO_HASH_LEN + 1])
{
    size_t k = n < BP_CRYPTO_HASH_LEN ? n : BP_CRYPTO_HASH_LEN;
    memcpy(out, msg, k);
    out[k] = '\0';
}

int bp_crypto_sign_encrypt(const uint8_t crypt_key[32], const uint8_t sign_key[64], const void *plain,
                           size_t n, int flags, const uint8_t *nonce, char *out, size_t cap,
                           size_t *out_len)
{
    if (!crypt_key || !sign_key || (!plain && n))
        return BP_EINVAL;
    if (n > SIZE_MAX / 4 - 256)
        return BP_ETOOBIG;
    bool cp = (flags & BP_CRYPTO_CP_AUTO) && n >= 2 && memcmp(plain, "[4", 2) == 0;
    size_t inner_max = BP_CRYPTO_SYM_LEN(n);
    size_t need = (cp ? 16 : 0) + BP_B64_LEN(64 + inner_max);
    if (out_len)
        *out_len = need;
    if (!out || cap < need + 1)
        return BP_ETOOBIG;
    /* signed = sig(64) || inner text; build inner right after the room for the signature */
    uint8_t *sm = malloc(64 + inner_max + 1);
    if (!sm)
        return BP_ENOMEM;
    size_t ilen = 0;
    int rc = bp_crypto_encrypt(crypt_key, plain, n, nonce, (char *)sm + 64, inner_max + 1, &ilen);
    if (rc) {
        free(sm);
        return rc;
    }
    size_t smlen = 64 + ilen;
    crypto_sign_detached(sm, NULL, sm + 64, ilen, sign_key); /* sig || inner, as crypto_sign */
    size_t pos = 0;
    if (cp) {
        uint8_t h[crypto_hash_sha512_BYTES];
        crypto_hash_sha512(h, plain, n);
        memcpy(out, "cp|", 3);
        pos = 3 + b64_std(h, 8, out + 3);
        out[pos++] = '|';
    }
    pos += b64_std(sm, smlen, out + pos);
    out[pos] = '\0';
    free(sm);
    if (out_len)
        *out_len = pos;
    return 0;
}

int bp_crypto_sign_decrypt(const uint8_t crypt_key[32], const uint8_t *validate_key, const char *msg,
                           size_t n, char *out, size_t cap, size_t *out_len)
{
    if (out_len)
        *out_len = 0;
    if (!crypt_key || !msg || !out)
        return BP_EINVAL;
    size_t skip = bp_crypto_cp_prefix_len(msg, n);
    msg += skip;
    n -= skip;
    size_t bcap = n / 4 * 3;
    if (bcap < 64)
        return BP_EPROTO;
    uint8_t *sm = malloc(bcap);
    if (!sm)
        return BP_ENOMEM;
    size_t smlen = 0;
    int rc = b64_decode_std(msg, n, sm, bcap, &smlen);
    if (rc || smlen < 64) {
        free(sm);
        return BP_EPROTO;
    }
    if (validate_key && crypto_sign_verify_detached(sm, sm + 64, smlen - 64, validate_key) != 0) {
        free(sm);
        return BP_ESIG;
    }
    rc = bp_crypto_decrypt(crypt_key, (const char *)sm + 64, smlen - 64, out, cap, out_len);
    free(sm);
    return rc;
}

/* ---- §4 ed25519 helpers ---- */

int bp_crypto_sign_seed_keypair(const uint8_t seed[32], uint8_t sk[64], uint8_t pk[32])
{
    int rc = ensure_sodium();
    if (rc)
        return rc;
    crypto_sign_seed_keypair(pk, sk, seed);
    return 0;
}

void bp_crypto_sign_sk_to_pk(const uint8_t sk[64], uint8_t pk[32])
{
    crypto_sign_ed25519_sk_to_pk(pk, sk);
}

int bp_crypto_sign_detached_b64(const uint8_t sk[64], const void *msg, size_t n, char out[89])
{
    if (!sk || (!msg && n) || !out)
        return BP_EINVAL;
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, msg, n, sk);
    b64_std(sig, sizeof sig, out);
    return 0;
}

int bp_crypto_verify_detached_b64(const uint8_t pk[32], const void *msg, size_t n, const char *sig_b64)
{
    uint8_t sig[64];
    if (!pk || (!msg && n) || bp_crypto_b64_key(sig_b64, sig, sizeof sig) != 0)
        return BP_EINVAL;
    return crypto_sign_verify_detached(sig, msg, n, pk) == 0 ? 0 : BP_ESIG;
}

int bp_crypto_sign_combined_b64(const uint8_t sk[64], const void *msg, size_t n, char *out, size_t cap,
                                size_t *out_len)
{
    size_t need = BP_B64_LEN(64 + n);
    if (out_len)
        *out_len = need;
    if (!sk || (!msg && n))
        return BP_EINVAL;
    if (!out || cap < need + 1)
        return BP_ETOOBIG;
    uint8_t *sm = malloc(64 + n);
    if (!sm)
        return BP_ENOMEM;
    unsigned long long smlen = 0;
    crypto_sign(sm, &smlen, msg, n, sk);
    b64_std(sm, (size_t)smlen, out);
    free(sm);
    return 0;
}

/* ---- §5.2 curve ---- */

static const char CURVE_SALT[] = "CryptPad.signingKeyGenerationSalt";

int bp_crypto_curve_derive(const uint8_t their_public[32], const uint8_t my_private[32],
                           uint8_t crypt_key[32], uint8_t sign_key[64], uint8_t validate_key[32])
{
    int rc = ensure_sodium();
    if (rc)
        return rc;
    uint8_t buf[sizeof CURVE_SALT - 1 + crypto_box_BEFORENMBYTES];
    uint8_t h[crypto_hash_sha512_BYTES];
    memcpy(buf, CURVE_SALT, sizeof CURVE_SALT - 1);
    /* libsodium refuses small-order public keys (tweetnacl does not): honest keys never are. */
    if (crypto_box_beforenm(buf + sizeof CURVE_SALT - 1, their_public, my_private) != 0)
        return BP_EINVAL;
    crypto_hash_sha512(h, buf, sizeof buf);
    crypto_sign_seed_keypair(validate_key, sign_key, h);
    memcpy(crypt_key, h + 32, 32);
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(h, sizeof h);
    return 0;
}

int bp_crypto_curve_public(const uint8_t secret[32], uint8_t pub[32])
{
    int rc = ensure_sodium();
    if (rc)
        return rc;
    return crypto_scalarmult_base(pub, secret) == 0 ? 0 : BP_EINVAL;
}

/* ---- §5.1 mailbox, §5.3 team ---- */

/* out = nonce || my_public || box(m, nonce, their_public, my_private); out has
 * 24 + 32 + 16 + n bytes. */
static int asym_seal(const uint8_t *m, size_t n, const uint8_t nonce[24], const uint8_t their_public[32],
                     const uint8_t my_private[32], const uint8_t my_public[32], uint8_t *out)
{
    memcpy(out, nonce, 24);
    memcpy(out + 24, my_public, 32);
    return crypto_box_easy(out + 56, m, n, nonce, their_public, my_private) == 0 ? 0 : BP_EINVAL;
}

/* Opens nonce || sender || box into out (n - 72 bytes); sender gets the key. */
static int asym_open(const uint8_t *in, size_t n, const uint8_t my_private[32], uint8_t *out,
                     uint8_t sender[32])
{
    if (n < 24 + 32 + crypto_box_MACBYTES)
        return BP_EPROTO;
    memcpy(sender, in + 24, 32);
    if (crypto_box_open_easy(out, in + 56, n - 56, in, sender, my_private) != 0)
        return BP_EDECRYPT;
    return 0;
}

int bp_crypto_mailbox_encrypt(const uint8_t my_private[32], const uint8_t my_public[32],
                              const uint8_t their_public[32], const uint8_t *sign_key, const void *plain,
                              size_t n, const uint8_t *rng, char *out, size_t cap, size_t *out_len)
{
    if (!my_private || !my_public || !their_public || (!plain && n))
        return BP_EINVAL;
    if (n > SIZE_MAX / 2 - 512)
        return BP_ETOOBIG;
    size_t letter_len = 72 + n, sealed_len = 72 + letter_len, total = (sign_key ? 64 : 0) + sealed_len;
    size_t need = BP_B64_LEN(total);
    if (out_len)
        *out_len = need;
    if (!out || cap < need + 1)
        return BP_ETOOBIG;
    int rc = ensure_sodium();
    if (rc)
        return rc;
    uint8_t r[80]; /* n1, ephemeral secret, n2: the order the JS draws them */
    if (rng)
        memcpy(r, rng, sizeof r);
    else
        randombytes_buf(r, sizeof r);
    uint8_t eph_pub[32];
    uint8_t *letter = malloc(letter_len), *sm = malloc(total);
    if (!letter || !sm) {
        free(letter);
        free(sm);
        return BP_ENOMEM;
    }
    uint8_t *sealed = sm + (sign_key ? 64 : 0);
    rc = asym_seal(plain, n, r, their_public, my_private, my_public, letter);
    if (!rc)
        rc = crypto_scalarmult_base(eph_pub, r + 24) == 0 ? 0 : BP_EINVAL;
    if (!rc)
        rc = asym_seal(letter, letter_len, r + 56, their_public, r + 24, eph_pub, sealed);
    if (!rc && sign_key) /* combined form: sig || sealed */
        crypto_sign_detached(sm, NULL, sealed, sealed_len, sign_key);
    if (!rc)
        b64_std(sm, total, out);
    sodium_memzero(r, sizeof r);
    free(letter);
    free(sm);
    return rc;
}

int bp_crypto_mailbox_decrypt(const uint8_t my_private[32], const uint8_t *validate_key, const char *msg,
                              size_t n, char *out, size_t cap, size_t *out_len, uint8_t author[32])
{
    if (out_len)
        *out_len = 0;
    if (!my_private || !msg || !out)
        return BP_EINVAL;
    size_t bcap = n / 4 * 3;
    uint8_t *all = malloc(bcap ? bcap : 1);
    if (!all)
        return BP_ENOMEM;
    size_t alen = 0, letter_len, plen;
    uint8_t *letter = NULL, eph[32], sender[32];
    const uint8_t *sealed = all;
    int rc = b64_decode_std(msg, n, all, bcap, &alen);
    if (rc) {
        rc = BP_EPROTO;
        goto done;
    }
    if (validate_key) {
        if (alen < 64) {
            rc = BP_EPROTO;
            goto done;
        }
        if (crypto_sign_verify_detached(all, all + 64, alen - 64, validate_key) != 0) {
            rc = BP_ESIG;
            goto done;
        }
        sealed += 64;
        alen -= 64;
    }
    if (alen < 144) {
        rc = BP_EPROTO;
        goto done;
    }
    letter_len = alen - 72;
    plen = letter_len - 72;
    if (cap < plen + 1) {
        if (out_len)
            *out_len = plen;
        rc = BP_ETOOBIG;
        goto done;
    }
    letter = malloc(letter_len);
    if (!letter) {
        rc = BP_ENOMEM;
        goto done;
    }
    rc = asym_open(sealed, alen, my_private, letter, eph);
    if (!rc)
        rc = asym_open(letter, letter_len, my_private, (uint8_t *)out, sender);
    if (!rc && !utf8_valid(out, plen))
        rc = BP_EPROTO;
    if (rc) {
        sodium_memzero(out, plen < cap ? plen : cap);
        goto done;
    }
    out[plen] = '\0';
    if (out_len)
        *out_len = plen;
    if (author)
        memcpy(author, sender, 32);
done:
    if (letter) {
        sodium_memzero(letter, letter_len);
        free(letter);
    }
    free(all);
    return rc;
}

int bp_crypto_team_keys(const char *seed1, struct bp_team_keys *out)
{
    if (!seed1 || !out)
        return BP_EINVAL;
    int rc = ensure_sodium();
    if (rc)
        return rc;
    uint8_t seed[96], h[64], g[64];
    size_t slen = 0;
    rc = bp_crypto_b64_decode(seed1, strlen(seed1), seed, sizeof seed, &slen);
    if (rc || slen < 18) /* Team.deriveMemberKeys: INVALID_SEED */
        return BP_EINVAL;
    crypto_hash_sha512(h, seed, slen);
    crypto_sign_seed_keypair(out->team_ed_pk, out->team_ed_sk, h);
    crypto_hash_sha512(g, h + 32, 32);
    memcpy(out->team_curve_sk, g, 32);
    crypto_scalarmult_base(out->team_curve_pk, out->team_curve_sk);
    bp_crypto_hex_encode(g + 32, 16, out->channel);
    bp_crypto_b64_encode(h + 32, 32, BP_B64_ESC, out->view_key_str, sizeof out->view_key_str, NULL);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(h, sizeof h);
    sodium_memzero(g, sizeof g);
    return 0;
}

/* ---- §8 ---- */

int bp_crypto_rpc_envelope(const uint8_t ed_sk[64], const char *cookie, const char *command,
                           const char *args_json, size_t args_len, char *out, size_t cap,
                           size_t *out_len)
{
    if (out_len)
        *out_len = 0;
    if (!ed_sk || !command || !args_json || !utf8_valid(command, strlen(command)) ||
        (cookie && !utf8_valid(cookie, strlen(cookie))))
        return BP_EINVAL;
    /* The signed bytes: JSON.stringify([cookie, command, args]). */
    struct buf tail = BUF_INIT, all = BUF_INIT;
    if (cookie)
        jsonw_cstr(&tail, cookie);
    else
        buf_appends(&tail, "null");
    buf_appendc(&tail, ',');
    jsonw_cstr(&tail, command);
    buf_appendc(&tail, ',');
    buf_append(&tail, args_json, args_len);

    struct buf signed_json = BUF_INIT;
    buf_appendc(&signed_json, '[');
    buf_append(&signed_json, tail.data, tail.len);
    buf_appendc(&signed_json, ']');
    char sig[89], pub[45];
    uint8_t pk[32];
    bp_crypto_sign_detached_b64(ed_sk, signed_json.data, signed_json.len, sig);
    crypto_sign_ed25519_sk_to_pk(pk, ed_sk);
    b64_std(pk, 32, pub);

    buf_appends(&all, "[\"");
    buf_appends(&all, sig);
    buf_appends(&all, "\",\"");
    buf_appends(&all, pub);
    buf_appends(&all, "\",");
    buf_append(&all, tail.data, tail.len);
    buf_appendc(&all, ']');
    int rc = put_text(all.data, all.len, out, cap, out_len);
    buf_free(&tail);
    buf_free(&signed_json);
    buf_free(&all);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int bp_crypto_hash_channel_list(const char *const *ids, size_t n, char out[89])
{
    if ((!ids && n) || !out || n > SIZE_MAX / sizeof(char *))
        return BP_EINVAL;
    const char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return BP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i] || !utf8_valid(ids[i], strlen(ids[i]))) {
            free(sorted);
            return BP_EINVAL;
        }
        sorted[i] = ids[i];
    }
    /* JS sorts by UTF-16 code units; channel ids are ASCII, where strcmp agrees. */
    qsort(sorted, n, sizeof *sorted, cmp_str);
    struct buf json = BUF_INIT;
    buf_appendc(&json, '[');
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(sorted[i], sorted[i - 1]) == 0)
            continue;
        if (k++)
            buf_appendc(&json, ',');
        jsonw_cstr(&json, sorted[i]);
    }
    buf_appendc(&json, ']');
    uint8_t h[64];
    crypto_hash_sha512(h, (const uint8_t *)json.data, json.len);
    b64_std(h, sizeof h, out);
    buf_free(&json);
    free(sorted);
    return 0;
}

int bp_crypto_channel_from_key(const char *key_b64, char out[33])
{
    uint8_t k[64];
    size_t len = 0;
    if (!key_b64 || !out || bp_crypto_b64_decode(key_b64, strlen(key_b64), k, sizeof k, &len) || len < 16)
        return BP_EINVAL;
    bp_crypto_hex_encode(k, 16, out);
    return 0;
}

int bp_crypto_public_key_string(const char *origin, const char *name, const char *ed_public_b64,
                                char *out, size_t cap, size_t *out_len)
{
    if (out_len)
        *out_len = 0;
    if (!origin || !name || !ed_public_b64)
        return BP_EINVAL;
    uint8_t pk[32];
    if (bp_crypto_b64_key(ed_public_b64, pk, sizeof pk))
        return BP_EINVAL;
    const char *host = origin;
    if (strncmp(host, "https://", 8) == 0)
        host += 8;
    else if (strncmp(host, "http://", 7) == 0)
        host += 7;
    struct buf b = BUF_INIT;
    buf_appendc(&b, '[');
    buf_appends(&b, name);
    buf_appendc(&b, '@');
    buf_appends(&b, host);
    buf_appendc(&b, '/');
    for (const char *p = ed_public_b64; *p; p++)
        buf_appendc(&b, *p == '/' ? '-' : *p);
    buf_appendc(&b, ']');
    int rc = put_text(b.data, b.len, out, cap, out_len);
    buf_free(&b);
    return rc;
}
