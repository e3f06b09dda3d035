/* Unit tests: src/protocol (msg, meta, rawjson), with the signed-message
 * vectors produced by CryptPad's own chainpad-crypto (shared/vectors/signed.json). */
#include "test.h"

#include <sodium.h>
#include <string.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "protocol/meta.h"
#include "protocol/msg.h"
#include "protocol/rawjson.h"
#include "vectors.h"

static void test_signed_vectors(void **state)
{
    json_t *v = load_vectors("signed.json");
    assert_non_null(v);
    json_t *cases = json_object_get(v, "cases");
    assert_true(json_array_size(cases) >= 4);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *vk = json_string_value(json_object_get(c, "validateKey"));
        const char *msg = json_string_value(json_object_get(c, "message"));
        const char *hash = json_string_value(json_object_get(c, "message_hash"));
        uint8_t key[32];
        assert_int_equal(msg_key32(vk, strlen(vk), key), 0);
        assert_int_equal(msg_verify(key, msg, strlen(msg)), 0);
        /* message_hash is the hash of the message as stored: with the
         * checkpoint prefix when there is one. */
        json_t *cpv = json_object_get(c, "checkpoint");
        const char *stored = cpv ? json_string_value(json_object_get(cpv, "message")) : msg;
        assert_int_equal(msg_hash_len(stored, strlen(stored)), strlen(hash));
        assert_memory_equal(stored, hash, strlen(hash));
        /* The signature is the first 64 bytes of the decoded message. */
        uint8_t bin[8192];
        size_t n;
        assert_int_equal(msg_b64decode(msg, strlen(msg), bin, sizeof bin, &n), 0);
        char hex[129];
        sodium_bin2hex(hex, sizeof hex, bin, 64);
        assert_string_equal(hex, json_string_value(json_object_get(c, "signature_hex")));
        json_t *cp = json_object_get(c, "checkpoint");
        if (cp) {
            const char *cmsg = json_string_value(json_object_get(cp, "message"));
            const char *id = json_string_value(json_object_get(cp, "id"));
            size_t pre, idl;
            const char *idp;
            assert_true(msg_checkpoint(cmsg, strlen(cmsg), &pre, &idp, &idl));
            assert_int_equal(idl, strlen(id));
            assert_memory_equal(idp, id, idl);
            assert_int_equal(msg_verify(key, cmsg, strlen(cmsg)), 0);
        }
        /* Another key must not verify it. */
        key[0] ^= 1;
        assert_int_equal(msg_verify(key, msg, strlen(msg)), BP_ESIG);
    }
    json_t *neg = json_object_get(v, "negative_cases");
    assert_true(json_array_size(neg) >= 1);
    json_array_foreach(neg, i, c) {
        const char *vk = json_string_value(json_object_get(c, "validateKey"));
        const char *msg = json_string_value(json_object_get(c, "message"));
        uint8_t key[32];
        assert_int_equal(msg_key32(vk, strlen(vk), key), 0);
        assert_int_equal(msg_verify(key, msg, strlen(msg)), BP_ESIG);
    }
    json_decref(v);
}

static void test_verify_garbage(void **state)
{
    uint8_t key[32] = {0};
    assert_int_equal(msg_verify(key, "not-a-signed-message", 20), BP_ESIG);
    assert_int_equal(msg_verify(key, "", 0), BP_ESIG);
    assert_int_equal(msg_verify(key, "cp|", 3), BP_ESIG);
    assert_int_equal(msg_verify(key, "QUFB", 4), BP_ESIG); /* too short for a signature */
    /* A real signature, checked without its padding too. */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    uint8_t sm[64 + 5];
    unsigned long long smlen;
    crypto_sign(sm, &smlen, (const uint8_t *)"hello", 5, sk);
    char b64[200];
    sodium_bin2base64(b64, sizeof b64, sm, smlen, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(msg_verify(pk, b64, strlen(b64)), 0);
    size_t n = strlen(b64);
    while (b64[n - 1] == '=')
        b64[--n] = '\0';
    assert_int_equal(msg_verify(pk, b64, n), 0);
    b64[3] = '*';
    assert_int_equal(msg_verify(pk, b64, n), BP_ESIG);
}

static void test_b64decode(void **state)
{
    uint8_t bin[200], out[200];
    char b64[300];
    for (size_t n = 0; n < 120; n++) {
        randombytes_buf(bin, n);
        for (int variant = 0; variant < 2; variant++) {
            sodium_bin2base64(b64, sizeof b64, bin, n,
                              variant ? sodium_base64_VARIANT_ORIGINAL_NO_PADDING : sodium_base64_VARIANT_ORIGINAL);
            size_t got = 999;
            assert_int_equal(msg_b64decode(b64, strlen(b64), out, sizeof out, &got), 0);
            assert_int_equal(got, n);
            assert_memory_equal(out, bin, n);
            if (n >= 2) /* an output buffer one byte short is refused, not overrun */
                assert_int_equal(msg_b64decode(b64, strlen(b64), out, n - 1, &got), BP_ETOOBIG);
        }
    }
    const char *bad[] = {"a", "ab=c", "ab c", "====", "abc*", " QUJD", "QUJD ", "QU=D", "Q===", "QUJDR",
                         "QUJDQU\n=", "QU\nD", "\tQUJD", "QUJD\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t got;
        assert_int_not_equal(msg_b64decode(bad[i], strlen(bad[i]), out, sizeof out, &got), 0);
    }
}

static void test_hash_and_checkpoint(void **state)
{
    char s[100];
    memset(s, 'a', sizeof s);
    assert_int_equal(msg_hash_len(s, 100), 64);
    assert_int_equal(msg_hash_len(s, 10), 10);
    /* 63 ASCII then a 4-byte character (two UTF-16 units): cut before it. */
    memcpy(s + 63, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(msg_hash_len(s, 67), 63);
    /* a 2-byte character counts as one unit: now the 4-byte one fits */
    memcpy(s, "\xc3\xa9", 2);
    assert_int_equal(msg_hash_len(s, 100), 67);
    size_t pre, idl;
    const char *id;
    assert_true(msg_checkpoint("cp|abc=|xyz", 11, &pre, &id, &idl));
    assert_int_equal(pre, 8);
    assert_int_equal(idl, 4);
    assert_true(msg_checkpoint("cp|xyz", 6, &pre, &id, &idl));
    assert_int_equal(pre, 3);
    assert_int_equal(idl, 0);
    assert_true(msg_checkpoint("cp|a$|xyz", 9, &pre, &id, &idl));
    assert_int_equal(pre, 3);
    assert_false(msg_checkpoint("cq|a|b", 6, &pre, &id, &idl));
    uint8_t key[32];
    assert_int_equal(msg_key32("abc", 3, key), BP_EINVAL);
    assert_int_equal(msg_key32("AAAAAAAAAAAAAAAAAAAAAA==", 24, key), BP_EINVAL); /* 16 bytes */
    assert_int_equal(msg_key32("fwWwRPSMgYuZaeBvSXv7su0CByBVuTnmpAvnLD56N6I=", 44, key), 0);
}

static void test_rawjson(void **state)
{
    const char *s = "[\"tx\",[\"sig\",\"pub\",null,\"COOKIE\",\"\"]]";
    struct rawjson_span top[4], el[8];
    assert_int_equal(rawjson_array(s, strlen(s), top, 4), 2);
    assert_int_equal(rawjson_array(s + top[1].off, top[1].len, el, 8), 5);
    const char *inner = s + top[1].off;
    assert_memory_equal(inner + el[2].off, "null", 4);
    size_t from = el[2].off, to = el[4].off + el[4].len;
    assert_int_equal(to - from, strlen("null,\"COOKIE\",\"\""));
    const char *t = " [ 1 , {\"a\":[1,\"]\"]} , \"x\\\"]\" ] ";
    assert_int_equal(rawjson_array(t, strlen(t), el, 8), 3);
    assert_memory_equal(t + el[1].off, "{\"a\":[1,\"]\"]}", el[1].len);
    assert_memory_equal(t + el[2].off, "\"x\\\"]\"", el[2].len);
    assert_int_equal(rawjson_array("[]", 2, el, 8), 0);
    assert_int_equal(rawjson_array("[1,", 3, el, 8), BP_EPROTO);
    assert_int_equal(rawjson_array("{}", 2, el, 8), BP_EPROTO);
    assert_int_equal(rawjson_array("[\"abc", 5, el, 8), BP_EPROTO);
    assert_int_equal(rawjson_array("", 0, el, 8), BP_EPROTO);
}

static void check_frame_same(const char *s)
{
    json_t *a = rawjson_load(s, strlen(s)), *b = rawjson_load_frame(s, strlen(s));
    assert_true(!a == !b);
    if (a)
        assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

static void test_frame_fast_path(void **state)
{
    char big[2048], frame[2300];
    memset(big, 'A', 600);
    big[600] = '\0';
    const char *fmts[] = {
        "[1,\"MSG\",\"abcdef0123456789abcdef0123456789\",\"%s\"]",
        "[1,\"MSG\",\"abcdef0123456789abcdef0123456789\",\"%s\",\"x\",{\"a\":[1,2]}]",
        "[ 1 , \"MSG\" , \"%s\" ]",
        "[1,\"MSG\",\"c\",\"%s\\n\"]",    /* an escape: the slow path */
        "[1,\"MSG\",\"c\",\"%s\"",          /* truncated */
        "{\"a\":\"%s\"}",                     /* not an array */
        "[1,\"MSG\",\"c\",\"%s\"]garbage",  /* trailing bytes */
        "[1,\"MSG\",\"c\",\"%s\",]",        /* trailing comma */
    };
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(frame, sizeof frame, fmts[i], big);
        check_frame_same(frame);
    }
    /* The 8-byte scans: an escape, an escaped quote, a control byte or the
     * closing quote at every offset around a word boundary. */
    const char *inserts[] = {"\\\"", "\\\\", "\\n", "\t", "\""};
    for (size_t ins = 0; ins < sizeof inserts / sizeof inserts[0]; ins++)
        for (size_t at = 280; at < 300; at++) {
            memset(big, 'B', 600);
            size_t k = strlen(inserts[ins]);
            memcpy(big + at, inserts[ins], k);
            big[600] = '\0';
            snprintf(frame, sizeof frame, fmts[1], big);
            check_frame_same(frame);
            struct rawjson_span el[8];
            int cnt = rawjson_array(frame, strlen(frame), el, 8);
            if (ins == 4) { /* an early closing quote: no longer an array */
                assert_int_equal(cnt, BP_EPROTO);
            } else {
                assert_int_equal(cnt, 6);
                assert_int_equal(el[3].len, 602);
            }
        }
    memset(big, 'A', 600);
    big[600] = '\0';
    json_t *v = rawjson_load_frame(frame, 0);
    assert_null(v);
    /* A control character inside the long string is invalid JSON either way. */
    snprintf(frame, sizeof frame, fmts[0], big);
    frame[100] = '\t';
    check_frame_same(frame);
    assert_null(rawjson_load_frame(frame, strlen(frame)));
    /* Invalid UTF-8 inside it. */
    snprintf(frame, sizeof frame, fmts[0], big);
    frame[100] = (char)0xff;
    assert_null(rawjson_load_frame(frame, strlen(frame)));
    /* The value is the bytes between the quotes. */
    snprintf(frame, sizeof frame, fmts[0], big);
    v = rawjson_load_frame(frame, strlen(frame));
    assert_int_equal(json_string_length(json_array_get(v, 3)), 600);
    json_decref(v);
}

#define K1 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define K2 "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="
#define K3 "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC="

static void test_meta_reduce(void **state)
{
    const char *log = "{\"validateKey\":\"x\",\"owners\":[\"" K1 "\"],\"channel\":\"0123456789abcdef0123456789abcdef\",\"created\":1}\n"
                      "[\"RESTRICT_ACCESS\",[true],2]\n"
                      "[\"ADD_ALLOWED\",[\"" K2 "\",\"" K1 "\",\"short\"],3]\n"
                      "not json\n"
                      "{\"ignored\":true}\n"
                      "[\"NO_SUCH_COMMAND\",[],4]\n";
    json_t *m = meta_reduce(log, strlen(log), NULL);
    assert_non_null(m);
    assert_true(meta_valid(m));
    assert_true(meta_restricted(m));
    assert_true(meta_allows(m, K1));
    assert_true(meta_allows(m, K2));
    assert_false(meta_allows(m, K3));
    assert_int_equal(json_array_size(json_object_get(m, "allowed")), 1); /* owner and short key left out */
    assert_null(json_object_get(m, "ignored"));
    char *s = jsonw_dump(m, NULL);
    assert_string_equal(s, "{\"validateKey\":\"x\",\"owners\":[\"" K1 "\"],\"channel\":\"0123456789abcdef0123456789abcdef\","
                           "\"created\":1,\"restricted\":true,\"allowed\":[\"" K2 "\"]}");
    free(s);
    json_decref(m);
    /* Legacy first line of the channel log, used when there is no metadata log. */
    json_t *legacy = json_loads("{\"channel\":\"0123456789abcdef0123456789abcdef\",\"validateKey\":\"k\"}", 0, NULL);
    m = meta_reduce(NULL, 0, legacy);
    assert_non_null(m);
    assert_string_equal(meta_validate_key(m), "k");
    json_decref(m);
    /* ... but not when the metadata log starts with an object. */
    const char *log2 = "{\"channel\":\"0123456789abcdef0123456789abcdef\",\"validateKey\":\"new\"}\n";
    m = meta_reduce(log2, strlen(log2), legacy);
    assert_string_equal(meta_validate_key(m), "new");
    json_decref(m);
    json_decref(legacy);
    assert_null(meta_reduce(NULL, 0, NULL));
    m = meta_reduce("{\"channel\":\"short\"}\n", 20, NULL);
    assert_false(meta_valid(m));
    json_decref(m);
}

static void test_meta_apply(void **state)
{
    json_t *m = json_loads("{\"channel\":\"0123456789abcdef0123456789abcdef\",\"owners\":[\"" K1 "\"]}", 0, NULL);
    const char *err;
    json_t *v = json_loads("[\"" K2 "\"]", 0, NULL);
    assert_int_equal(meta_apply(m, "ADD_OWNERS", v, &err), 1);
    assert_int_equal(meta_apply(m, "ADD_OWNERS", v, &err), 0);
    assert_true(meta_is_owner(m, K2));
    json_t *t = json_loads("[true]", 0, NULL);
    assert_int_equal(meta_apply(m, "RESTRICT_ACCESS", t, &err), 1);
    assert_int_equal(meta_apply(m, "RESTRICT_ACCESS", t, &err), 0);
    assert_non_null(json_object_get(m, "allowed"));
    json_t *bad = json_loads("[\"yes\"]", 0, NULL);
    assert_int_equal(meta_apply(m, "RESTRICT_ACCESS", bad, &err), -1);
    assert_string_equal(err, "INVALID_STATE");
    json_t *k3 = json_loads("[\"" K3 "\",\"" K1 "\"]", 0, NULL);
    assert_int_equal(meta_apply(m, "RESET_ALLOWED", k3, &err), 1); /* the intended behaviour, not Q3's */
    assert_int_equal(json_array_size(json_object_get(m, "allowed")), 1);
    assert_true(meta_allows(m, K3));
    assert_int_equal(meta_apply(m, "ADD_OWNERS", json_object_get(m, "channel"), &err), -1);
    assert_string_equal(err, "METADATA_INVALID_OWNERS");
    json_t *both = json_loads("[\"" K1 "\",\"" K2 "\"]", 0, NULL);
    assert_int_equal(meta_apply(m, "RM_OWNERS", both, &err), 1);
    assert_false(meta_restricted(m)); /* no owners left: unrestricted */
    assert_int_equal(meta_apply(m, "UPDATE_EXPIRATION", both, &err), -1);
    assert_string_equal(err, "E_NOT_IMPLEMENTED");
    assert_int_equal(meta_apply(m, "BOGUS", both, &err), -1);
    assert_string_equal(err, "UNSUPPORTED_COMMAND");
    json_t *mb = json_loads("{\"" K3 "\":\"box\"}", 0, NULL);
    assert_int_equal(meta_apply(m, "ADD_MAILBOX", mb, &err), 0); /* K3 is not an owner */
    json_decref(mb);
    json_decref(both);
    json_decref(k3);
    json_decref(bad);
    json_decref(t);
    json_decref(v);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_vectors), cmocka_unit_test(test_verify_garbage),
        cmocka_unit_test(test_hash_and_checkpoint), cmocka_unit_test(test_rawjson),
        cmocka_unit_test(test_b64decode),
        cmocka_unit_test(test_frame_fast_path),
        cmocka_unit_test(test_meta_reduce), cmocka_unit_test(test_meta_apply),
    };
    return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
