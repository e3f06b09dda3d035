/* Unit tests: src/protocol/totp.c. Base32 against the RFC 4648 §10 vectors,
 * HOTP against RFC 4226 Appendix D, TOTP against RFC 6238 Appendix B (SHA-1),
 * and the ±1-step code check. */
#include "test.h"

#include <string.h>

#include "protocol/totp.h"

static const char RFC_SECRET[] = "12345678901234567890"; /* RFC 4226 / 6238 SHA-1 key */

static void test_base32_rfc4648(void **state)
{
    static const struct {
        const char *plain, *enc, *padded;
    } v[] = {
        {"", "", ""},
        {"f", "MY", "MY======"},
        {"fo", "MZXQ", "MZXQ===="},
        {"foo", "MZXW6", "MZXW6==="},
        {"foob", "MZXW6YQ", "MZXW6YQ="},
        {"fooba", "MZXW6YTB", "MZXW6YTB"},
        {"foobar", "MZXW6YTBOI", "MZXW6YTBOI======"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char enc[32];
        size_t n = totp_base32_encode((const uint8_t *)v[i].plain, strlen(v[i].plain), enc);
        assert_int_equal(n, strlen(v[i].enc));
        assert_string_equal(enc, v[i].enc);
        uint8_t out[16];
        size_t olen;
        assert_int_equal(totp_base32_decode(v[i].padded, strlen(v[i].padded), out, sizeof out, &olen), 0);
        assert_int_equal(olen, strlen(v[i].plain));
        assert_memory_equal(out, v[i].plain, olen);
        assert_int_equal(totp_base32_decode(v[i].enc, strlen(v[i].enc), out, sizeof out, &olen), 0);
        assert_int_equal(olen, strlen(v[i].plain));
    }
    /* lower case is accepted */
    uint8_t out[16];
    size_t olen;
    assert_int_equal(totp_base32_decode("mzxw6ytboi", 10, out, sizeof out, &olen), 0);
    assert_memory_equal(out, "foobar", 6);
}

static void test_base32_rejects(void **state)
{
    uint8_t out[32];
    size_t olen;
    assert_int_equal(totp_base32_decode("MZXW1", 5, out, sizeof out, &olen), -1);   /* '1' not in the alphabet */
    assert_int_equal(totp_base32_decode("MZXW 6", 6, out, sizeof out, &olen), -1);
    assert_int_equal(totp_base32_decode("MY", 2, out, sizeof out, &olen), 0);       /* "f" */
    assert_int_equal(totp_base32_decode("MZ", 2, out, sizeof out, &olen), -1);      /* "f" + stray bits */
    assert_int_equal(totp_base32_decode("M3", 2, out, sizeof out, &olen), -1);      /* non-zero left-over bits */
    assert_int_equal(totp_base32_decode("M", 1, out, sizeof out, &olen), -1);       /* 5 bits: not a byte */
    assert_int_equal(totp_base32_decode("MZXW6YTBOI", 10, out, 5, &olen), -1);      /* over cap */
    /* The RFC secret round-trips through its well-known base32 form. */
    char enc[40];
    totp_base32_encode((const uint8_t *)RFC_SECRET, 20, enc);
    assert_string_equal(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_int_equal(totp_base32_decode(enc, 32, out, sizeof out, &olen), 0);
    assert_int_equal(olen, TOTP_SECRET_BYTES);
    assert_memory_equal(out, RFC_SECRET, 20);
}

static void test_hotp_rfc4226(void **state)
{
    static const long want[] = {755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489};
    for (uint64_t c = 0; c < 10; c++)
        assert_int_equal(totp_hotp((const uint8_t *)RFC_SECRET, 20, c, 6), want[c]);
    assert_int_equal(totp_hotp((const uint8_t *)RFC_SECRET, 20, 0, 0), -1);
    assert_int_equal(totp_hotp((const uint8_t *)RFC_SECRET, 20, 0, 10), -1);
}

static void test_totp_rfc6238(void **state)
{
    static const struct {
        long long t;
        long code;
    } v[] = {
        {59, 94287082}, {1111111109, 7081804}, {1111111111, 14050471},
        {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(totp_hotp((const uint8_t *)RFC_SECRET, 20, (uint64_t)(v[i].t / TOTP_STEP), 8), v[i].code);
}

static void code_at(long long t, char out[7])
{
    long v = totp_hotp((const uint8_t *)RFC_SECRET, 20, (uint64_t)(t / TOTP_STEP), 6);
    for (int i = 5; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[6] = '\0';
}

static void test_check_window(void **state)
{
    const uint8_t *k = (const uint8_t *)RFC_SECRET;
    long long now = 1234567890;
    char c[7];
    code_at(now, c);
    assert_true(totp_check(k, 20, c, 6, now));
    code_at(now - 30, c);
    assert_true(totp_check(k, 20, c, 6, now));
    code_at(now + 30, c);
    assert_true(totp_check(k, 20, c, 6, now));
    code_at(now - 60, c);
    assert_false(totp_check(k, 20, c, 6, now));
    code_at(now + 60, c);
    assert_false(totp_check(k, 20, c, 6, now));
    /* RFC 6238's 1111111109 step, 6 digits: 081804 (leading zero kept). */
    assert_true(totp_check(k, 20, "081804", 6, 1111111109));
    assert_false(totp_check(k, 20, "81804", 5, 1111111109));
    assert_false(totp_check(k, 20, "081805", 6, 1111111109));
}

static void test_code_format(void **state)
{
    assert_true(totp_code_format_ok("000000", 6));
    assert_true(totp_code_format_ok("123456", 6));
    assert_false(totp_code_format_ok("12345", 5));
    assert_false(totp_code_format_ok("1234567", 7));
    assert_false(totp_code_format_ok("12345a", 6));
    assert_false(totp_code_format_ok("12 456", 6));
    assert_false(totp_code_format_ok("-12345", 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base32_rfc4648), cmocka_unit_test(test_base32_rejects),
        cmocka_unit_test(test_hotp_rfc4226),   cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_check_window),   cmocka_unit_test(test_code_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
