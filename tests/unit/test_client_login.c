/* Unit tests: src/client/login.c (CRYPTO.md §7).
 *
 * Every case of ../shared/vectors/login.json (lower-casing, scrypt-async's
 * byte encoding, the 192 scrypt bytes, every field of allocateBytes, the
 * block hash, the legacy drive hash and keys) and of login-block.json (block
 * content, block bytes, WRITE_BLOCK signature and content, URL, hash,
 * registrationProof), read at run time; then bad blocks and hashes. */
#include "test.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/err.h"
#include "blindpad/login.h"
#include "vectors.h"

static json_t *L, *B; /* login.json, login-block.json */

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("field %s missing", k);
    return json_string_value(v);
}

static void assert_hex(const unsigned char *p, size_t n, const char *want)
{
    char *h = malloc(2 * n + 1);
    sodium_bin2hex(h, 2 * n + 1, p, n);
    assert_string_equal(h, want);
    free(h);
}

static void assert_b64(const unsigned char *p, size_t n, const char *want)
{
    char *h = malloc(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(h, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), p, n,
                      sodium_base64_VARIANT_ORIGINAL);
    assert_string_equal(h, want);
    free(h);
}

static unsigned char *hex(const char *h, size_t *len)
{
    size_t n = strlen(h) / 2;
    unsigned char *p = malloc(n + 1);
    assert_int_equal(sodium_hex2bin(p, n + 1, h, strlen(h), NULL, len, NULL), 0);
    assert_int_equal(*len, n);
    return p;
}

/* The origin the vectors used: the block hash up to "/block/". */
static char *origin_of(const char *block_hash)
{
    const char *p = strstr(block_hash, "/block/");
    assert_non_null(p);
    return strndup(block_hash, (size_t)(p - block_hash));
}

static json_t *login_case(const char *name)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(L, "cases"), i, c)
        if (strcmp(str(c, "name"), name) == 0)
            return c;
    fail_msg("no login case %s", name);
    return NULL;
}

/* Keys of a login case from its scrypt output (no second scrypt run). */
static struct bp_login_keys *keys_of(const char *name)
{
    size_t n;
    unsigned char *b = hex(str(json_object_get(login_case(name), "scrypt"), "output_hex"), &n);
    assert_int_equal(n, BP_LOGIN_BYTES);
    struct bp_login_keys *k;
    assert_int_equal(bp_login_keys_from_bytes(b, &k), 0);
    free(b);
    return k;
}

/* ---- login.json ---- */

static void test_login_encodings(void **state)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(L, "cases"), i, c) {
        json_t *s = json_object_get(c, "scrypt");
        char low[256];
        size_t n;
        assert_int_equal(bp_login_lowercase(str(c, "username_typed"), low, sizeof low, &n), 0);
        assert_string_equal(low, str(c, "username"));
        assert_int_equal(n, strlen(low));
        char salt[512];
        snprintf(salt, sizeof salt, "%s%s", low, str(c, "loginSalt"));
        assert_string_equal(salt, str(s, "salt"));
        unsigned char buf[512];
        assert_int_equal(bp_login_scrypt_encode(str(c, "password"), buf, sizeof buf, &n), 0);
        assert_hex(buf, n, str(s, "password_bytes_hex"));
        assert_int_equal(bp_login_scrypt_encode(salt, buf, sizeof buf, &n), 0);
        assert_hex(buf, n, str(s, "salt_bytes_hex"));
        /* the standard UTF-8 form differs exactly when there is a non-BMP character */
        const char *pw = str(c, "password");
        assert_hex((const unsigned char *)pw, strlen(pw), str(s, "password_standard_utf8_hex"));
        /* the parameters are the library's */
        assert_int_equal(json_integer_value(json_object_get(s, "N")), BP_LOGIN_SCRYPT_N);
        assert_int_equal(1 << json_integer_value(json_object_get(s, "logN")), BP_LOGIN_SCRYPT_N);
        assert_int_equal(json_integer_value(json_object_get(s, "r")), BP_LOGIN_SCRYPT_R);
        assert_int_equal(json_integer_value(json_object_get(s, "p")), BP_LOGIN_SCRYPT_P);
        assert_int_equal(json_integer_value(json_object_get(s, "dkLen")), BP_LOGIN_BYTES);
    }
}

static void test_login_derive(void **state)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(L, "cases"), i, c) {
        json_t *a = json_object_get(c, "allocated"), *bk = json_object_get(a, "blockKeys");
        const char *salt = str(c, "loginSalt");
        struct bp_login_keys *k;
        /* the username as typed: derive lower-cases it */
        assert_int_equal(bp_login_derive(str(c, "username_typed"), str(c, "password"),
                                         *salt ? salt : NULL, &k), 0);
        assert_hex(k->bytes, BP_LOGIN_BYTES, str(json_object_get(c, "scrypt"), "output_hex"));
        assert_hex(k->encryption_seed, 18, str(a, "encryptionSeed_hex"));
        assert_hex(k->channel_seed, 16, str(a, "channelHex"));
        assert_b64(k->curve_secret, 32, str(a, "curvePrivate"));
        assert_b64(k->curve_public, 32, str(a, "curvePublic"));
        assert_hex(k->ed_secret, 32, str(a, "edSeed_hex")); /* secret = seed || public */
        assert_b64(k->ed_secret, 64, str(a, "edPrivate"));
        assert_b64(k->ed_public, 32, str(a, "edPublic"));
        assert_hex(k->block_secret, 32, str(bk, "sign_seed_hex"));
        assert_b64(k->block_secret, 64, str(bk, "sign_secretKey_b64"));
        assert_b64(k->block_public, 32, str(bk, "sign_publicKey_b64"));
        assert_hex(k->block_key, 32, str(bk, "symmetric_hex"));
        char *origin = origin_of(str(a, "blockHash"));
        char out[256];
        size_t n;
        assert_int_equal(bp_login_block_hash(origin, k, out, sizeof out, &n), 0);
        assert_string_equal(out, str(a, "blockHash"));
        assert_int_equal(bp_login_block_hash(origin, k, out, 20, &n), BP_ETOOBIG);
        assert_int_equal(n, strlen(str(a, "blockHash")) + 1);
        /* ... and back */
        unsigned char key[32];
        char url[256];
        assert_int_equal(bp_login_block_hash_parse(str(a, "blockHash"), url, sizeof url, key), 0);
        assert_memory_equal(key, k->block_key, 32);
        char url2[256];
        assert_int_equal(bp_login_block_url(origin, k->block_public, url2, sizeof url2, &n), 0);
        assert_string_equal(url, url2);
        free(origin);
        /* legacy drive */
        struct bp_login_legacy lg;
        json_t *lk = json_object_get(a, "legacy_keys");
        assert_int_equal(bp_login_legacy(k, &lg), 0);
        assert_string_equal(lg.user_hash, str(a, "legacy_userHash"));
        assert_string_equal(lg.edit_key_str, str(lk, "editKeyStr"));
        assert_string_equal(lg.view_key_str, str(lk, "viewKeyStr"));
        assert_b64(lg.sign_secret, 64, str(lk, "signKey"));
        assert_b64(lg.sign_public, 32, str(lk, "validateKey"));
        assert_hex(lg.crypt_key, 32, str(lk, "cryptKey_hex"));
        assert_b64(lg.crypt_key, 32, str(lk, "cryptKey_b64"));
        sodium_memzero(&lg, sizeof lg);
        bp_login_keys_free(k);
    }
}

/* Unicode lower-casing beyond the vectors: the expected strings are what
 * node 20's "...".toLowerCase() returns. */
static void test_lowercase_js_rules(void **state)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"ALICE", "alice"},
        {"\xc4\xb0stanbul", "i\xcc\x87stanbul"},                /* İ -> i + U+0307 */
        {"\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\xbf\xce\xb4\xce\xbf\xcf\x82"}, /* ΟΔΟΣ -> οδος */
        {"\xce\xa3", "\xcf\x83"},                               /* lone Σ -> σ */
        {"\xce\xa3\xce\x91", "\xcf\x83\xce\xb1"},               /* ΣΑ -> σα */
        {"\xce\x91\xce\xa3 \xce\x92", "\xce\xb1\xcf\x82 \xce\xb2"}, /* ΑΣ Β -> ας β */
        {"\xce\x91\xce\xa3'\xce\x92", "\xce\xb1\xcf\x83'\xce\xb2"}, /* apostrophe is case-ignorable */
        {"\xf0\x90\x90\x80", "\xf0\x90\x90\xa8"},               /* Deseret U+10400 -> U+10428 */
        {"\xe2\x84\xaa", "k"},                                  /* Kelvin sign */
        {"\xe1\xba\x9e", "\xc3\x9f"},                           /* ẞ -> ß */
        {"\xd0\x90\xd0\x91", "\xd0\xb0\xd0\xb1"},               /* АБ -> аб */
        {"\xc8\xba", "\xe2\xb1\xa5"},                           /* U+023A -> U+2C65 (grows) */
        {"\xf0\x9f\x94\x91", "\xf0\x9f\x94\x91"},               /* emoji unchanged */
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char out[64];
        size_t n;
        assert_int_equal(bp_login_lowercase(v[i].in, out, sizeof out, &n), 0);
        assert_string_equal(out, v[i].out);
    }
    char out[4];
    size_t n;
    assert_int_equal(bp_login_lowercase("\xc3", out, sizeof out, &n), BP_EINVAL);
    assert_int_equal(bp_login_lowercase("ABCDEF", out, sizeof out, &n), BP_ETOOBIG);
    assert_int_equal(n, 7);
    unsigned char b[8];
    assert_int_equal(bp_login_scrypt_encode("\xed\xa0\x80", b, sizeof b, &n), BP_EINVAL);
    assert_int_equal(bp_login_scrypt_encode("\xf0\x9f\x94\x91\xf0\x9f\x94\x91", b, sizeof b, &n),
                     BP_ETOOBIG);
    assert_int_equal(n, 12);
}

static void test_derive_rejects(void **state)
{
    struct bp_login_keys *k = (void *)1;
    assert_int_equal(bp_login_derive("", "password", NULL, &k), BP_EINVAL);
    assert_null(k);
    assert_int_equal(bp_login_derive("alice", "", NULL, &k), BP_EINVAL);
    assert_int_equal(bp_login_derive(NULL, "x", NULL, &k), BP_EINVAL);
    assert_int_equal(bp_login_derive("al\xffice", "password", NULL, &k), BP_EINVAL);
    assert_int_equal(bp_login_derive("alice", "pass\xc3", NULL, &k), BP_EINVAL);
    assert_int_equal(bp_login_derive("alice", "password", "\xc3", &k), BP_EINVAL);
    assert_int_equal(bp_login_derive("alice", "password", NULL, NULL), BP_EINVAL);
    bp_login_keys_free(NULL);
}

/* ---- login-block.json ---- */

static void test_blocks(void **state)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(B, "cases"), i, c) {
        struct bp_login_keys *k = keys_of(str(c, "login_case"));
        assert_hex(k->block_secret, 32, str(c, "block_sign_seed_hex"));
        assert_b64(k->block_public, 32, str(c, "block_publicKey"));
        assert_hex(k->block_key, 32, str(c, "block_symmetric_hex"));
        json_t *rpc = json_object_get(c, "keysToRPCFormat");
        assert_b64(k->block_secret, 64, str(rpc, "edPrivate"));
        assert_b64(k->block_public, 32, str(rpc, "edPublic"));
        /* content JSON */
        json_t *ct = json_object_get(c, "content");
        char content[512];
        size_t clen;
        assert_int_equal(bp_login_block_content(str(ct, "User_hash"), str(ct, "edPublic"), content,
                                                sizeof content, &clen), 0);
        assert_string_equal(content, str(c, "content_json"));
        /* the block, with the vector's nonce */
        size_t nn;
        unsigned char *nonce = hex(str(c, "nonce_hex"), &nn);
        assert_int_equal(nn, 24);
        assert_string_equal(str(c, "nonce_hex"),
                            json_string_value(json_array_get(json_object_get(c, "rng_hex"), 0)));
        unsigned char block[1024];
        size_t blen;
        assert_int_equal(bp_login_block_encrypt(k->block_key, content, clen, nonce, block, 10,
                                                &blen), BP_ETOOBIG);
        assert_int_equal(blen, clen + BP_LOGIN_BLOCK_OVERHEAD);
        assert_int_equal(bp_login_block_encrypt(k->block_key, content, clen, nonce, block,
                                                sizeof block, &blen), 0);
        assert_hex(block, blen, str(c, "block_hex"));
        assert_b64(block, blen, str(c, "ciphertext_b64"));
        free(nonce);
        /* signature over SHA-512(block) */
        unsigned char h[64], sig[64];
        crypto_hash_sha512(h, block, blen);
        assert_hex(h, 64, str(c, "signed_digest_hex"));
        assert_int_equal(bp_login_block_sign(k, block, blen, sig), 0);
        assert_b64(sig, 64, str(c, "signature_b64"));
        /* URL and hash */
        char *origin = origin_of(str(c, "block_url"));
        char url[256];
        size_t n;
        assert_int_equal(bp_login_block_url(origin, k->block_public, url, sizeof url, &n), 0);
        assert_string_equal(url, str(c, "block_url"));
        assert_int_equal(bp_login_block_hash(origin, k, url, sizeof url, &n), 0);
        assert_string_equal(url, str(c, "block_hash"));
        free(origin);
        /* registrationProof from the old block keys */
        json_t *old = json_object_get(c, "old_login_case");
        char proof[256];
        const char *pp = NULL;
        if (old) {
            struct bp_login_keys *ok = keys_of(json_string_value(old));
            assert_int_equal(bp_login_registration_proof(ok, proof, sizeof proof, &n), 0);
            assert_string_equal(proof, str(c, "registrationProof"));
            pp = proof;
            bp_login_keys_free(ok);
        }
        /* WRITE_BLOCK content: the server's view of it */
        char wb[2048];
        assert_int_equal(bp_login_write_block_content(k, block, blen, old ? -1 : 1, pp, wb,
                                                      sizeof wb, &n), 0);
        json_error_t je;
        json_t *w = json_loads(wb, 0, &je);
        assert_non_null(w);
        assert_string_equal(str(w, "publicKey"), str(c, "block_publicKey"));
        assert_string_equal(str(w, "signature"), str(c, "signature_b64"));
        assert_string_equal(str(w, "ciphertext"), str(c, "ciphertext_b64"));
        if (old) {
            assert_string_equal(str(w, "registrationProof"), str(c, "registrationProof"));
            assert_null(json_object_get(w, "hasPassword"));
        } else {
            assert_true(json_is_true(json_object_get(w, "hasPassword")));
            assert_null(json_object_get(w, "registrationProof"));
        }
        /* key order as CryptPad writes it */
        const char *order[] = {"publicKey", "signature", "ciphertext",
                               old ? "registrationProof" : "hasPassword"};
        const char *key;
        json_t *val;
        size_t j = 0;
        json_object_foreach(w, key, val)
            assert_string_equal(key, order[j++]);
        assert_int_equal(j, 4);
        json_decref(w);
        /* the block decrypts back to the content */
        char plain[512];
        assert_int_equal(bp_login_block_decrypt(k->block_key, block, blen, plain, sizeof plain,
                                                &n), 0);
        assert_string_equal(plain, str(c, "content_json"));
        char uh[128], ed[64];
        assert_int_equal(bp_login_block_parse(plain, n, uh, sizeof uh, ed, sizeof ed), 0);
        assert_string_equal(uh, str(ct, "User_hash"));
        assert_string_equal(ed, str(ct, "edPublic"));
        bp_login_keys_free(k);
    }
}

static void test_bad_blocks(void **state)
{
    json_t *c = json_array_get(json_object_get(B, "cases"), 0);
    struct bp_login_keys *k = keys_of(str(c, "login_case"));
    size_t blen;
    unsigned char *block = hex(str(c, "block_hex"), &blen);
    char out[512];
    size_t n;
    /* every byte but the ignored version byte is covered */
    for (size_t i = 1; i < blen; i++) {
        block[i] ^= 0x80;
        assert_int_equal(bp_login_block_decrypt(k->block_key, block, blen, out, sizeof out, &n),
                         BP_EDECRYPT);
        block[i] ^= 0x80;
    }
    block[0] = 7; /* JS ignores the version */
    assert_int_equal(bp_login_block_decrypt(k->block_key, block, blen, out, sizeof out, &n), 0);
    for (size_t cut = 0; cut < blen; cut++) {
        int rc = bp_login_block_decrypt(k->block_key, block, cut, out, sizeof out, &n);
        assert_int_equal(rc, cut < BP_LOGIN_BLOCK_OVERHEAD ? BP_EPROTO : BP_EDECRYPT);
    }
    assert_int_equal(bp_login_block_decrypt(k->block_key, block, blen, out, 10, &n), BP_ETOOBIG);
    /* wrong key: another account's block key */
    struct bp_login_keys *o = keys_of("uppercase-username");
    assert_int_equal(bp_login_block_decrypt(o->block_key, block, blen, out, sizeof out, &n),
                     BP_EDECRYPT);
    /* a block that opens but is not JSON, or lacks the fields */
    const char *bad[] = {"not json", "[1]", "{\"User_hash\":1,\"edPublic\":\"x\"}", "{}"};
    for (size_t i = 0; i < 4; i++) {
        unsigned char b2[256];
        size_t l2;
        assert_int_equal(bp_login_block_encrypt(k->block_key, bad[i], strlen(bad[i]), NULL, b2,
                                                sizeof b2, &l2), 0);
        int rc = bp_login_block_decrypt(k->block_key, b2, l2, out, sizeof out, &n);
        if (i == 0) {
            assert_int_equal(rc, BP_EPROTO);
            continue;
        }
        assert_int_equal(rc, 0);
        char uh[64], ed[64];
        assert_int_equal(bp_login_block_parse(out, n, uh, sizeof uh, ed, sizeof ed), BP_EPROTO);
    }
    /* random nonces differ; both open */
    unsigned char b1[128], b2[128];
    size_t l1, l2;
    assert_int_equal(bp_login_block_encrypt(k->block_key, "{}", 2, NULL, b1, sizeof b1, &l1), 0);
    assert_int_equal(bp_login_block_encrypt(k->block_key, "{}", 2, NULL, b2, sizeof b2, &l2), 0);
    assert_memory_not_equal(b1, b2, l1);
    assert_int_equal(bp_login_block_decrypt(k->block_key, b2, l2, out, sizeof out, &n), 0);
    assert_string_equal(out, "{}");
    /* parse: field too long for the caller's buffer; extra keys ignored */
    const char *j = "{\"x\":1,\"User_hash\":\"/2/drive/edit/abc/\",\"edPublic\":\"E\"}";
    char uh[8], ed[8];
    assert_int_equal(bp_login_block_parse(j, strlen(j), uh, sizeof uh, ed, sizeof ed), BP_ETOOBIG);
    char uh2[64];
    assert_int_equal(bp_login_block_parse(j, strlen(j), uh2, sizeof uh2, ed, sizeof ed), 0);
    assert_string_equal(uh2, "/2/drive/edit/abc/");
    /* block hashes that are not */
    unsigned char key[32];
    char url[128];
    assert_int_equal(bp_login_block_hash_parse("https://x/block/ab/cd", url, sizeof url, key),
                     BP_ELINK);
    assert_int_equal(bp_login_block_hash_parse("https://x/block/ab/cd#abc", url, sizeof url, key),
                     BP_ELINK);
    assert_int_equal(bp_login_block_hash_parse("a#b#c", url, sizeof url, key), BP_ELINK);
    assert_int_equal(bp_login_block_hash_parse(
                         "u#3uFvTro8SP0gynYshIPgpV0jGMM+U248tuw2llHIR-8!", url, sizeof url, key),
                     BP_ELINK);
    assert_int_equal(bp_login_block_hash_parse(
                         "u#3uFvTro8SP0gynYshIPgpV0jGMM+U248tuw2llHIR-8=", url, 1, key),
                     BP_ETOOBIG);
    /* write-block content: bad has_password, too small a buffer */
    char wb[16];
    assert_int_equal(bp_login_write_block_content(k, block, blen, 2, NULL, wb, sizeof wb, &n),
                     BP_EINVAL);
    assert_int_equal(bp_login_write_block_content(k, block, blen, 0, NULL, wb, sizeof wb, &n),
                     BP_ETOOBIG);
    char *wb2 = malloc(n);
    size_t n2;
    assert_int_equal(bp_login_write_block_content(k, block, blen, 0, NULL, wb2, n, &n2), 0);
    assert_int_equal(n2 + 1, n);
    assert_non_null(strstr(wb2, ",\"hasPassword\":false}"));
    free(wb2);
    bp_login_keys_free(o);
    bp_login_keys_free(k);
    free(block);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    L = load_vectors("login.json");
    B = load_vectors("login-block.json");
    if (!L || !B)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_encodings), cmocka_unit_test(test_login_derive),
        cmocka_unit_test(test_lowercase_js_rules), cmocka_unit_test(test_derive_rejects),
        cmocka_unit_test(test_blocks),          cmocka_unit_test(test_bad_blocks),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(L);
    json_decref(B);
    return rc;
}
