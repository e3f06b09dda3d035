/* Unit tests: src/client/crypto.c against ../shared/vectors: symmetric.json,
 * signed.json, curve.json, mailbox.json, team.json and misc.json (every case,
 * negative ones included), plus base64/hex edge cases, tampering in each
 * format (refused with the named error) and undersized output buffers. */
#include "test.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/crypto.h"
#include "vectors.h"

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static size_t hex_bytes(const char *hex, uint8_t *out, size_t cap)
{
    assert_non_null(hex);
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    assert_int_equal(bp_crypto_hex_decode(hex, 2 * n, out, n), 0);
    return n;
}

static void key_b64(const char *b64, uint8_t *out, size_t n)
{
    assert_non_null(b64);
    assert_int_equal(bp_crypto_b64_key(b64, out, n), 0);
}

static void assert_b64(const uint8_t *bin, size_t n, const char *want)
{
    char got[256];
    assert_non_null(want);
    assert_int_equal(bp_crypto_b64_encode(bin, n, BP_B64_STD, got, sizeof got, NULL), 0);
    assert_string_equal(got, want);
}

/* Concatenates a case's rng_hex strings. */
static size_t rng_bytes(json_t *c, uint8_t *out, size_t cap)
{
    size_t i, total = 0;
    json_t *h;
    json_array_foreach(json_object_get(c, "rng_hex"), i, h) total += hex_bytes(json_string_value(h), out + total, cap - total);
    return total;
}

/* A copy of s with the character at i replaced by c. */
static char *tamper(const char *s, size_t i, char c)
{
    char *t = strdup(s);
    assert_non_null(t);
    t[i] = c;
    return t;
}

/* ---- base64 / hex ---- */

static void test_b64(void **state)
{
    const uint8_t bytes[] = {0xfb, 0xff, 0xbf, 0x00, 0x01};
    char out[16];
    size_t n;
    assert_int_equal(bp_crypto_b64_encode(bytes, 5, BP_B64_STD, out, sizeof out, &n), 0);
    assert_string_equal(out, "+/+/AAE=");
    assert_int_equal(bp_crypto_b64_encode(bytes, 5, BP_B64_URL, out, sizeof out, &n), 0);
    assert_string_equal(out, "+-+-AAE");
    assert_int_equal(n, 7);
    assert_int_equal(bp_crypto_b64_encode(bytes, 5, BP_B64_ESC, out, sizeof out, &n), 0);
    assert_string_equal(out, "+-+-AAE=");
    /* exact fit for the unpadded form, too small otherwise */
    assert_int_equal(bp_crypto_b64_encode(bytes, 5, BP_B64_URL, out, 8, &n), 0);
    assert_int_equal(bp_crypto_b64_encode(bytes, 5, BP_B64_STD, out, 8, &n), BP_ETOOBIG);
    assert_int_equal(n, 8);
    uint8_t dec[8];
    const char *forms[] = {"+/+/AAE=", "+-+-AAE", "+-+-AAE=", "+/+/AAE"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(bp_crypto_b64_decode(forms[i], strlen(forms[i]), dec, sizeof dec, &n), 0);
        assert_int_equal(n, 5);
        assert_memory_equal(dec, bytes, 5);
    }
    assert_int_equal(bp_crypto_b64_decode("AAF=", 4, dec, sizeof dec, &n), BP_EINVAL); /* trailing bits */
    assert_int_equal(bp_crypto_b64_decode("A", 1, dec, sizeof dec, &n), BP_EINVAL);
    assert_int_equal(bp_crypto_b64_decode("A!AA", 4, dec, sizeof dec, &n), BP_EINVAL);
    assert_int_equal(bp_crypto_b64_decode("AA\x8c\xbc", 4, dec, sizeof dec, &n), BP_EINVAL); /* high bytes */
    assert_int_equal(bp_crypto_b64_decode("AA==AA==", 8, dec, sizeof dec, &n), BP_EINVAL);
    assert_int_equal(bp_crypto_b64_decode("AAAAAAAA", 8, dec, 2, &n), BP_ETOOBIG);
    assert_int_equal(bp_crypto_b64_decode("", 0, dec, sizeof dec, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(bp_crypto_b64_key("AAAA", dec, 2), BP_EINVAL);
    assert_int_equal(bp_crypto_hex_decode("0g", 2, dec, 1), BP_EINVAL);
    assert_int_equal(bp_crypto_hex_decode("0", 1, dec, 1), BP_EINVAL);
    assert_int_equal(bp_crypto_hex_decode("aF", 2, dec, 1), 0);
    assert_int_equal(dec[0], 0xaf);
}

/* ---- §2 symmetric.json ---- */

static void test_symmetric(void **state)
{
    json_t *v = load_vectors("symmetric.json");
    assert_non_null(v);
    size_t i, count = 0;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        uint8_t key[32], nonce[24];
        hex_bytes(str(c, "key_hex"), key, 32);
        hex_bytes(str(c, "nonce_hex"), nonce, 24);
        const char *plain = str(c, "plaintext"), *want = str(c, "ciphertext");
        size_t plen = strlen(plain), len;
        char *out = malloc(BP_CRYPTO_SYM_LEN(plen) + 1);
        assert_int_equal(bp_crypto_encrypt(key, plain, plen, nonce, out, BP_CRYPTO_SYM_LEN(plen) + 1, &len), 0);
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
        /* the box itself */
        uint8_t box[4096];
        size_t blen;
        const char *bar = strchr(want, '|');
        assert_int_equal(bp_crypto_b64_decode(bar + 1, strlen(bar + 1), box, sizeof box, &blen), 0);
        assert_int_equal(blen, json_integer_value(json_object_get(c, "box_length")));
        char boxhex[8200];
        bp_crypto_hex_encode(box, blen, boxhex);
        assert_string_equal(boxhex, str(c, "box_hex"));
        /* decrypt */
        char *pt = malloc(strlen(want) + 1);
        assert_int_equal(bp_crypto_decrypt(key, want, strlen(want), pt, strlen(want) + 1, &len), 0);
        assert_int_equal(len, plen);
        assert_memory_equal(pt, plain, plen);
        assert_int_equal(pt[len], '\0');
        /* too small an output buffer: the size is reported */
        if (plen > 0) {
            assert_int_equal(bp_crypto_decrypt(key, want, strlen(want), pt, plen, &len), BP_ETOOBIG);
            assert_int_equal(len, plen);
        }
        assert_int_equal(bp_crypto_encrypt(key, plain, plen, nonce, out, 10, &len), BP_ETOOBIG);
        /* random nonce: different text, same plaintext */
        char *out2 = malloc(BP_CRYPTO_SYM_LEN(plen) + 1);
        assert_int_equal(bp_crypto_encrypt(key, plain, plen, NULL, out2, BP_CRYPTO_SYM_LEN(plen) + 1, &len), 0);
        assert_string_not_equal(out2, want);
        assert_int_equal(bp_crypto_decrypt(key, out2, len, pt, strlen(want) + 1, &len), 0);
        assert_memory_equal(pt, plain, plen);
        free(out2);
        free(out);
        free(pt);
        count++;
    }
    assert_int_equal(count, 5);
    json_array_foreach(json_object_get(v, "negative_cases"), i, c) {
        uint8_t key[32];
        hex_bytes(str(c, "key_hex"), key, 32);
        const char *msg = str(c, "ciphertext");
        char pt[256];
        size_t len = 99;
        assert_int_equal(bp_crypto_decrypt(key, msg, strlen(msg), pt, sizeof pt, &len), BP_EDECRYPT);
        assert_int_equal(len, 0);
        count++;
    }
    assert_int_equal(count, 7);
    /* malformed messages */
    uint8_t key[32] = {0};
    char pt[256];
    size_t len;
    const char *bad[] = {"", "abc", "AAAA|AAAA|AAAA", "hKBBtqz+zfa31i3G31+Q6mhkLPduwrLz|", "hKBB|AAAAAAAAAAAAAAAAAAAAAA==",
                         "hKBBtqz+zfa31i3G31+Q6mhkLPduwrLz|AAAA", "hKBBtqz+zfa31i3G31+Q6mhkLPduwrLz|!!!!AAAAAAAAAAAAAAAAAAAA"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_int_equal(bp_crypto_decrypt(key, bad[k], strlen(bad[k]), pt, sizeof pt, &len), BP_EPROTO);
    /* invalid UTF-8 inside a valid box is refused (the JS throws) */
    char msg[128];
    assert_int_equal(bp_crypto_encrypt(key, "\xc3\x28", 2, NULL, msg, sizeof msg, &len), 0);
    assert_int_equal(bp_crypto_decrypt(key, msg, len, pt, sizeof pt, &len), BP_EPROTO);
    json_decref(v);
}

/* ---- §3 signed.json ---- */

static void test_signed(void **state)
{
    json_t *v = load_vectors("signed.json");
    assert_non_null(v);
    size_t i, count = 0;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        uint8_t ck[32], nonce[24], sk[64], pk[32], pk2[32];
        hex_bytes(str(c, "cryptKey_hex"), ck, 32);
        hex_bytes(str(c, "nonce_hex"), nonce, 24);
        key_b64(str(c, "signKey"), sk, 64);
        key_b64(str(c, "validateKey"), pk, 32);
        bp_crypto_sign_sk_to_pk(sk, pk2);
        assert_memory_equal(pk, pk2, 32);
        const char *plain = str(c, "plaintext"), *msg = str(c, "message");
        size_t plen = strlen(plain), len, cap = BP_CRYPTO_SIGNED_LEN(plen) + 1;
        char *out = malloc(cap), *pt = malloc(cap + 64);
        /* inner layer */
        assert_int_equal(bp_crypto_encrypt(ck, plain, plen, nonce, out, cap, &len), 0);
        assert_string_equal(out, str(c, "inner_ciphertext"));
        /* signed, without the checkpoint prefix */
        assert_int_equal(bp_crypto_sign_encrypt(ck, sk, plain, plen, 0, nonce, out, cap, &len), 0);
        assert_string_equal(out, msg);
        assert_int_equal(len, strlen(msg));
        uint8_t raw[1024];
        size_t rlen;
        assert_int_equal(bp_crypto_b64_decode(msg, strlen(msg), raw, sizeof raw, &rlen), 0);
        char sighex[129];
        bp_crypto_hex_encode(raw, 64, sighex);
        assert_string_equal(sighex, str(c, "signature_hex"));
        /* the wire form, as chainpad-netflux sends it */
        json_t *cp = json_object_get(c, "checkpoint");
        const char *wire = cp ? str(cp, "message") : msg;
        assert_int_equal(bp_crypto_sign_encrypt(ck, sk, plain, plen, BP_CRYPTO_CP_AUTO, nonce, out, cap, &len), 0);
        assert_string_equal(out, wire);
        if (cp) {
            assert_int_equal(bp_crypto_cp_prefix_len(wire, strlen(wire)), 4 + strlen(str(cp, "id")));
            assert_memory_equal(wire + 3, str(cp, "id"), strlen(str(cp, "id")));
        }
        char h[BP_CRYPTO_HASH_LEN + 1];
        bp_crypto_msg_hash(wire, strlen(wire), h);
        assert_string_equal(h, str(c, "message_hash"));
        /* reading: verified, unverified, and the cp form */
        const char *forms[] = {msg, wire};
        for (int f = 0; f < 2; f++) {
            assert_int_equal(bp_crypto_sign_decrypt(ck, pk, forms[f], strlen(forms[f]), pt, cap + 64, &len), 0);
            assert_int_equal(len, plen);
            assert_memory_equal(pt, plain, plen);
            assert_int_equal(bp_crypto_sign_decrypt(ck, NULL, forms[f], strlen(forms[f]), pt, cap + 64, &len), 0);
            assert_memory_equal(pt, plain, plen);
        }
        /* another key does not verify it; a tampered inner box does not open */
        uint8_t other[32];
        memcpy(other, pk, 32);
        other[0] ^= 1;
        assert_int_equal(bp_crypto_sign_decrypt(ck, other, msg, strlen(msg), pt, cap + 64, &len), BP_ESIG);
        uint8_t ck2[32];
        memcpy(ck2, ck, 32);
        ck2[31] ^= 0x80;
        assert_int_equal(bp_crypto_sign_decrypt(ck2, pk, msg, strlen(msg), pt, cap + 64, &len), BP_EDECRYPT);
        free(out);
        free(pt);
        count++;
    }
    assert_int_equal(count, 4);
    json_array_foreach(json_object_get(v, "negative_cases"), i, c) {
        uint8_t ck[32], pk[32];
        hex_bytes(str(c, "cryptKey_hex"), ck, 32);
        key_b64(str(c, "validateKey"), pk, 32);
        const char *msg = str(c, "message");
        char pt[1024];
        size_t len;
        assert_int_equal(bp_crypto_sign_decrypt(ck, pk, msg, strlen(msg), pt, sizeof pt, &len), BP_ESIG);
        /* chainpad-crypto does not check history-keeper messages: without a key it opens */
        assert_int_equal(bp_crypto_sign_decrypt(ck, NULL, msg, strlen(msg), pt, sizeof pt, &len), 0);
        count++;
    }
    assert_int_equal(count, 5);
    uint8_t ck[32] = {0};
    char pt[64];
    size_t len;
    assert_int_equal(bp_crypto_sign_decrypt(ck, NULL, "cp|", 3, pt, sizeof pt, &len), BP_EPROTO);
    assert_int_equal(bp_crypto_sign_decrypt(ck, NULL, "AAAA", 4, pt, sizeof pt, &len), BP_EPROTO);
    assert_int_equal(bp_crypto_cp_prefix_len("cp|abc", 6), 3);
    assert_int_equal(bp_crypto_cp_prefix_len("cp|abc|x", 8), 7);
    assert_int_equal(bp_crypto_cp_prefix_len("cp|a-c|x", 8), 3);
    assert_int_equal(bp_crypto_cp_prefix_len("xx|abc|x", 8), 0);
    json_decref(v);
}

/* ---- §5.2 curve.json ---- */

static void test_curve(void **state)
{
    json_t *v = load_vectors("curve.json");
    assert_non_null(v);
    size_t i, count = 0;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], pub[32];
        key_b64(str(c, "alice_curvePrivate"), a_sk, 32);
        key_b64(str(c, "alice_curvePublic"), a_pk, 32);
        key_b64(str(c, "bob_curvePrivate"), b_sk, 32);
        key_b64(str(c, "bob_curvePublic"), b_pk, 32);
        assert_int_equal(bp_crypto_curve_public(a_sk, pub), 0);
        assert_memory_equal(pub, a_pk, 32);
        assert_int_equal(bp_crypto_curve_public(b_sk, pub), 0);
        assert_memory_equal(pub, b_pk, 32);
        uint8_t ck[2][32], sk[2][64], vk[2][32];
        assert_int_equal(bp_crypto_curve_derive(b_pk, a_sk, ck[0], sk[0], vk[0]), 0);
        assert_int_equal(bp_crypto_curve_derive(a_pk, b_sk, ck[1], sk[1], vk[1]), 0);
        json_t *d = json_object_get(c, "derived");
        for (int s = 0; s < 2; s++) {
            assert_b64(ck[s], 32, str(d, "cryptKey"));
            assert_b64(sk[s], 64, str(d, "signKey"));
            assert_b64(vk[s], 32, str(d, "validateKey"));
        }
        assert_string_equal(str(c, "salt"), "CryptPad.signingKeyGenerationSalt");
        uint8_t nonce[24];
        hex_bytes(str(c, "nonce_hex"), nonce, 24);
        const char *plain = str(c, "plaintext"), *msg = str(c, "message");
        size_t plen = strlen(plain), len, cap = BP_CRYPTO_SIGNED_LEN(plen) + 1;
        char *out = malloc(cap);
        assert_int_equal(bp_crypto_encrypt(ck[0], plain, plen, nonce, out, cap, &len), 0);
        assert_string_equal(out, str(c, "inner_ciphertext"));
        assert_int_equal(bp_crypto_sign_encrypt(ck[0], sk[0], plain, plen, 0, nonce, out, cap, &len), 0);
        assert_string_equal(out, msg);
        uint8_t raw[1024];
        size_t rlen;
        char sighex[129];
        assert_int_equal(bp_crypto_b64_decode(msg, strlen(msg), raw, sizeof raw, &rlen), 0);
        bp_crypto_hex_encode(raw, 64, sighex);
        assert_string_equal(sighex, str(c, "signature_hex"));
        /* Bob reads it (CryptPad does not check the signature; we can) */
        assert_int_equal(bp_crypto_sign_decrypt(ck[1], NULL, msg, strlen(msg), out, cap, &len), 0);
        assert_int_equal(len, plen);
        assert_memory_equal(out, plain, plen);
        assert_int_equal(bp_crypto_sign_decrypt(ck[1], vk[1], msg, strlen(msg), out, cap, &len), 0);
        free(out);
        count++;
    }
    assert_int_equal(count, 3);
    json_decref(v);
}

/* ---- §5.1 mailbox.json ---- */

static void test_mailbox(void **state)
{
    json_t *v = load_vectors("mailbox.json");
    assert_non_null(v);
    size_t i, count = 0;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        uint8_t s_sk[32], s_pk[32], r_sk[32], r_pk[32], pub[32], sign[64], vk[32], rng[80];
        key_b64(str(c, "sender_curvePrivate"), s_sk, 32);
        key_b64(str(c, "sender_curvePublic"), s_pk, 32);
        key_b64(str(c, "recipient_curvePrivate"), r_sk, 32);
        key_b64(str(c, "recipient_curvePublic"), r_pk, 32);
        bool is_signed = str(c, "signingKey") != NULL;
        if (is_signed) {
            key_b64(str(c, "signingKey"), sign, 64);
            key_b64(str(c, "validateKey"), vk, 32);
        }
        assert_int_equal(rng_bytes(c, rng, sizeof rng), 80);
        /* the rng layout the JS draws: n1, ephemeral secret, n2 */
        uint8_t n1[24], eph[32], ephpub[32], n2[24];
        hex_bytes(str(c, "inner_nonce_hex"), n1, 24);
        hex_bytes(str(c, "ephemeral_curvePrivate_hex"), eph, 32);
        hex_bytes(str(c, "ephemeral_curvePublic_hex"), ephpub, 32);
        hex_bytes(str(c, "outer_nonce_hex"), n2, 24);
        assert_memory_equal(rng, n1, 24);
        assert_memory_equal(rng + 24, eph, 32);
        assert_memory_equal(rng + 56, n2, 24);
        assert_int_equal(bp_crypto_curve_public(eph, pub), 0);
        assert_memory_equal(pub, ephpub, 32);

        const char *plain = str(c, "plaintext"), *want = str(c, "ciphertext");
        size_t plen = strlen(plain), len, cap = BP_CRYPTO_MAILBOX_LEN(plen) + 1;
        char *out = malloc(cap);
        assert_int_equal(bp_crypto_mailbox_encrypt(s_sk, s_pk, r_pk, is_signed ? sign : NULL, plain, plen, rng, out,
                                                   cap, &len),
                         0);
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
        char h[BP_CRYPTO_HASH_LEN + 1];
        bp_crypto_msg_hash(want, strlen(want), h);
        assert_string_equal(h, str(c, "message_hash"));
        /* the signature and the inner letter */
        uint8_t raw[2048];
        size_t rlen;
        assert_int_equal(bp_crypto_b64_decode(want, strlen(want), raw, sizeof raw, &rlen), 0);
        if (is_signed) {
            char sighex[129];
            bp_crypto_hex_encode(raw, 64, sighex);
            assert_string_equal(sighex, str(c, "signature_hex"));
        }
        const uint8_t *sealed = raw + (is_signed ? 64 : 0);
        uint8_t letter[2048];
        size_t llen = hex_bytes(str(c, "inner_letter_hex"), letter, sizeof letter);
        uint8_t opened[2048];
        assert_int_equal(crypto_box_open_easy(opened, sealed + 56, rlen - (is_signed ? 64 : 0) - 56, n2, ephpub, r_sk), 0);
        assert_memory_equal(opened, letter, llen);

        /* the recipient opens it */
        uint8_t author[32];
        json_t *dec = json_object_get(c, "decrypted");
        char *pt = malloc(strlen(want) + 1);
        assert_int_equal(bp_crypto_mailbox_decrypt(r_sk, is_signed ? vk : NULL, want, strlen(want), pt,
                                                   strlen(want) + 1, &len, author),
                         0);
        assert_string_equal(pt, str(dec, "content"));
        assert_b64(author, 32, str(dec, "author"));
        /* tampering: the outer box, the signature, the wrong recipient */
        char *t = tamper(want, (is_signed ? 100 : 80), want[is_signed ? 100 : 80] == 'A' ? 'B' : 'A');
        int rc = bp_crypto_mailbox_decrypt(r_sk, is_signed ? vk : NULL, t, strlen(t), pt, strlen(want) + 1, &len, NULL);
        assert_int_equal(rc, is_signed ? BP_ESIG : BP_EDECRYPT);
        if (is_signed) /* without checking the signature the box itself is refused */
            assert_int_equal(bp_crypto_mailbox_decrypt(r_sk, NULL, t, strlen(t), pt, strlen(want) + 1, &len, NULL),
                             BP_EDECRYPT);
        free(t);
        assert_int_equal(bp_crypto_mailbox_decrypt(s_sk, is_signed ? vk : NULL, want, strlen(want), pt,
                                                   strlen(want) + 1, &len, NULL),
                         BP_EDECRYPT);
        if (is_signed) {
            vk[3] ^= 4;
            assert_int_equal(bp_crypto_mailbox_decrypt(r_sk, vk, want, strlen(want), pt, strlen(want) + 1, &len, NULL),
                             BP_ESIG);
        }
        /* fresh randomness round-trips */
        assert_int_equal(bp_crypto_mailbox_encrypt(s_sk, s_pk, r_pk, NULL, plain, plen, NULL, out, cap, &len), 0);
        assert_string_not_equal(out, want);
        assert_int_equal(bp_crypto_mailbox_decrypt(r_sk, NULL, out, len, pt, strlen(want) + 1, &len, author), 0);
        assert_string_equal(pt, plain);
        assert_memory_equal(author, s_pk, 32);
        free(pt);
        free(out);
        count++;
    }
    assert_int_equal(count, 3);
    char pt[64];
    size_t len;
    uint8_t k[32] = {1};
    assert_int_equal(bp_crypto_mailbox_decrypt(k, NULL, "AAAA", 4, pt, sizeof pt, &len, NULL), BP_EPROTO);
    assert_int_equal(bp_crypto_mailbox_decrypt(k, NULL, "!", 1, pt, sizeof pt, &len, NULL), BP_EPROTO);
    json_decref(v);
}

/* ---- §5.3 team.json ---- */

static void test_team(void **state)
{
    json_t *v = load_vectors("team.json");
    assert_non_null(v);
    size_t i, count = 0;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        /* the seed is b64 of the scripted 18 bytes, '/' kept as '-' would be */
        uint8_t s1[18];
        hex_bytes(str(c, "seed1_rng_hex"), s1, 18);
        char s1b64[32];
        assert_int_equal(bp_crypto_b64_encode(s1, 18, BP_B64_STD, s1b64, sizeof s1b64, NULL), 0);
        assert_string_equal(s1b64, str(c, "seed1"));
        struct bp_team_keys tk;
        assert_int_equal(bp_crypto_team_keys(str(c, "seed1"), &tk), 0);
        json_t *m = json_object_get(c, "member_keys"), *g = json_object_get(c, "guest_keys");
        assert_b64(tk.team_ed_sk, 64, str(m, "teamEdPrivate"));
        assert_b64(tk.team_ed_pk, 32, str(m, "teamEdPublic"));
        assert_string_equal(tk.channel, str(m, "channel"));
        assert_string_equal(tk.channel, str(g, "channel"));
        assert_b64(tk.team_curve_pk, 32, str(g, "teamCurvePublic"));
        assert_b64(tk.team_curve_sk, 32, str(g, "teamCurvePrivate"));
        assert_string_equal(tk.view_key_str, str(m, "viewKeyStr"));
        assert_string_equal(tk.view_key_str, str(g, "viewKeyStr"));

        uint8_t my_sk[32], my_pk[32], pub[32], rng[80];
        key_b64(str(c, "my_curvePrivate"), my_sk, 32);
        key_b64(str(c, "my_curvePublic"), my_pk, 32);
        assert_int_equal(bp_crypto_curve_public(my_sk, pub), 0);
        assert_memory_equal(pub, my_pk, 32);
        assert_int_equal(rng_bytes(c, rng, sizeof rng), 80);
        const char *plain = str(c, "plaintext"), *want = str(c, "ciphertext");
        size_t plen = strlen(plain), len, cap = BP_CRYPTO_MAILBOX_LEN(plen) + 1;
        char *out = malloc(cap);
        assert_int_equal(
            bp_crypto_mailbox_encrypt(my_sk, my_pk, tk.team_curve_pk, tk.team_ed_sk, plain, plen, rng, out, cap, &len), 0);
        assert_string_equal(out, want);
        uint8_t author[32];
        json_t *dec = json_object_get(c, "decrypted");
        assert_int_equal(bp_crypto_mailbox_decrypt(tk.team_curve_sk, tk.team_ed_pk, want, strlen(want), out, cap, &len,
                                                   author),
                         0);
        assert_string_equal(out, str(dec, "content"));
        assert_b64(author, 32, str(dec, "author"));
        /* a message not signed by the team key is refused */
        uint8_t other_sk[64], other_pk[32], seed[32] = {7};
        bp_crypto_sign_seed_keypair(seed, other_sk, other_pk);
        assert_int_equal(
            bp_crypto_mailbox_encrypt(my_sk, my_pk, tk.team_curve_pk, other_sk, plain, plen, NULL, out, cap, &len), 0);
        char *pt = malloc(cap);
        assert_int_equal(bp_crypto_mailbox_decrypt(tk.team_curve_sk, tk.team_ed_pk, out, len, pt, cap, &len, NULL),
                         BP_ESIG);
        free(pt);
        free(out);
        sodium_memzero(&tk, sizeof tk);
        count++;
    }
    assert_int_equal(count, 2);
    struct bp_team_keys tk;
    assert_int_equal(bp_crypto_team_keys("AAAA", &tk), BP_EINVAL); /* < 18 bytes */
    json_decref(v);
}

/* ---- §8 misc.json ---- */

static json_t *misc_case(json_t *v, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) if (!strcmp(str(c, "name"), name)) return c;
    fail_msg("misc.json has no case %s", name);
    return NULL;
}

static void test_misc(void **state)
{
    json_t *v = load_vectors("misc.json");
    assert_non_null(v);
    assert_int_equal(json_array_size(json_object_get(v, "cases")), 9);
    json_t *c;
    size_t i;
    json_t *e;

    /* hashChannelList: from a shuffled list with a duplicate */
    c = misc_case(v, "hashChannelList");
    json_t *ids = json_object_get(c, "input_sorted_unique");
    size_t n = json_array_size(ids);
    const char *list[8];
    for (i = 0; i < n; i++)
        list[i] = json_string_value(json_array_get(ids, n - 1 - i));
    list[n] = list[0];
    char h[89];
    assert_int_equal(bp_crypto_hash_channel_list(list, n + 1, h), 0);
    assert_string_equal(h, str(c, "output"));

    /* hexToBase64 / base64ToHex */
    c = misc_case(v, "hexToBase64");
    json_array_foreach(json_object_get(c, "cases"), i, e) {
        uint8_t b[32];
        const char *hex = str(e, "hex");
        size_t bn = strlen(hex) / 2, len;
        assert_int_equal(bp_crypto_hex_decode(hex, strlen(hex), b, bn), 0);
        char out[64];
        assert_int_equal(bp_crypto_b64_encode(b, bn, BP_B64_URL, out, sizeof out, &len), 0);
        assert_string_equal(out, str(e, "hexToBase64"));
        uint8_t back[32];
        assert_int_equal(bp_crypto_b64_decode(out, len, back, sizeof back, &len), 0);
        char hex2[65];
        bp_crypto_hex_encode(back, len, hex2);
        assert_string_equal(hex2, str(e, "base64ToHex_roundtrip"));
    }

    c = misc_case(v, "getChannelIdFromKey");
    char chan[33];
    assert_int_equal(bp_crypto_channel_from_key(str(c, "input"), chan), 0);
    assert_string_equal(chan, str(c, "output"));

    c = misc_case(v, "getBlobPathFromHex"); /* covered by test_client_link too */
    assert_true(strstr(str(c, "output"), str(c, "input")) != NULL);

    c = misc_case(v, "publicSigningKeyString");
    json_t *in = json_object_get(c, "input");
    char ks[256];
    size_t len;
    assert_int_equal(bp_crypto_public_key_string(json_string_value(json_array_get(in, 0)),
                                                 json_string_value(json_array_get(in, 1)),
                                                 json_string_value(json_array_get(in, 2)), ks, sizeof ks, &len),
                     0);
    assert_string_equal(ks, str(c, "output"));
    assert_int_equal(bp_crypto_public_key_string("https://x", "a", "nope", ks, sizeof ks, &len), BP_EINVAL);

    c = misc_case(v, "getSignPublicFromPrivate");
    uint8_t sk[64], pk[32];
    key_b64(str(c, "input"), sk, 64);
    bp_crypto_sign_sk_to_pk(sk, pk);
    assert_b64(pk, 32, str(c, "output"));

    /* the authenticated RPC envelope */
    c = misc_case(v, "rpc-signature");
    key_b64(str(c, "edPrivate"), sk, 64);
    json_t *arr = json_object_get(c, "signed_array");
    char *args = json_dumps(json_array_get(arr, 2), JSON_COMPACT);
    char env[1024];
    assert_int_equal(bp_crypto_rpc_envelope(sk, json_string_value(json_array_get(arr, 0)),
                                            json_string_value(json_array_get(arr, 1)), args, strlen(args), env,
                                            sizeof env, &len),
                     0);
    free(args);
    char *wire = json_dumps(json_object_get(c, "wire_data"), JSON_COMPACT);
    assert_string_equal(env, wire);
    assert_int_equal(len, strlen(wire));
    assert_int_equal(bp_crypto_rpc_envelope(sk, "c", "PIN", "[]", 2, env, 10, &len), BP_ETOOBIG);
    free(wire);
    /* the signature alone, over the given JSON, verifies with edPublic */
    key_b64(str(c, "edPublic"), pk, 32);
    const char *sj = str(c, "signed_json");
    char sig[89];
    assert_int_equal(bp_crypto_sign_detached_b64(sk, sj, strlen(sj), sig), 0);
    assert_string_equal(sig, str(c, "signature"));
    assert_int_equal(bp_crypto_verify_detached_b64(pk, sj, strlen(sj), sig), 0);
    assert_int_equal(bp_crypto_verify_detached_b64(pk, sj, strlen(sj) - 1, sig), BP_ESIG);
    /* null cookie (the first COOKIE call) */
    assert_int_equal(bp_crypto_rpc_envelope(sk, NULL, "COOKIE", "\"\"", 2, env, sizeof env, &len), 0);
    assert_true(strstr(env, ",null,\"COOKIE\",\"\"]") != NULL);
    char *sigend = strchr(env + 2, '"');
    *sigend = '\0';
    assert_int_equal(bp_crypto_verify_detached_b64(pk, "[null,\"COOKIE\",\"\"]", 18, env + 2), 0);

    c = misc_case(v, "upload-chunk-signature");
    key_b64(str(c, "edPrivate"), sk, 64);
    const char *cookie = str(c, "cookie");
    char comb[256];
    assert_int_equal(bp_crypto_sign_combined_b64(sk, cookie, strlen(cookie), comb, sizeof comb, &len), 0);
    assert_string_equal(comb, str(c, "sig"));

    c = misc_case(v, "server-command-signature");
    key_b64(str(c, "edPrivate"), sk, 64);
    const char *scj = str(c, "signed_json");
    char *dumped = json_dumps(json_object_get(c, "signed_object"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(dumped, scj); /* the vector's own consistency */
    free(dumped);
    assert_int_equal(bp_crypto_sign_detached_b64(sk, scj, strlen(scj), sig), 0);
    assert_string_equal(sig, str(c, "sig"));
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64),     cmocka_unit_test(test_symmetric), cmocka_unit_test(test_signed),
        cmocka_unit_test(test_curve),   cmocka_unit_test(test_mailbox),   cmocka_unit_test(test_team),
        cmocka_unit_test(test_misc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
