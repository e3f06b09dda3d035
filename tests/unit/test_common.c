/* Unit tests: src/common (jsonw, utf8, buf). */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "server/decree.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/utf8.h"

static void check_real(double v, const char *want)
{
    struct buf b = BUF_INIT;
    jsonw_real(&b, v);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

/* Expected strings are what node prints for JSON.stringify(v). */
static void test_jsonw_numbers(void **state)
{
    check_real(0.1, "0.1");
    check_real(2.0, "2");
    check_real(-0.0, "0");
    check_real(1e21, "1e+21");
    check_real(1e20, "100000000000000000000");
    check_real(1.5e-7, "1.5e-7");
    check_real(0.000001, "0.000001");
    check_real(123.456, "123.456");
    check_real(-2.5, "-2.5");
    check_real(1.7976931348623157e308, "1.7976931348623157e+308");
    check_real(5e-324, "5e-324");
    check_real(NAN, "null");
    check_real(1.0 / 3.0, "0.3333333333333333");
}

static void test_jsonw_strings(void **state)
{
    struct buf b = BUF_INIT;
    const char s[] = "a\"b\\c/d\n\t\x01\x1f\xc3\xa9\xe2\x80\xa8";
    jsonw_str(&b, s, sizeof s - 1);
    /* JSON.stringify: lower-case \u escapes, '/' and non-ASCII (U+2028 too) verbatim */
    assert_string_equal(b.data, "\"a\\\"b\\\\c/d\\n\\t\\u0001\\u001f\xc3\xa9\xe2\x80\xa8\"");
    buf_reset(&b);
    jsonw_str(&b, "x\0y", 3);
    assert_string_equal(b.data, "\"x\\u0000y\"");
    buf_free(&b);
}

/* The byte-at-a-time escaping that jsonw_str's word-at-a-time scan must match. */
static void naive_escape(struct buf *b, const char *s, size_t n)
{
    buf_appendc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') buf_appends(b, "\\\"");
        else if (c == '\\') buf_appends(b, "\\\\");
        else if (c == '\n') buf_appends(b, "\\n");
        else if (c == '\r') buf_appends(b, "\\r");
        else if (c == '\t') buf_appends(b, "\\t");
        else if (c == '\b') buf_appends(b, "\\b");
        else if (c == '\f') buf_appends(b, "\\f");
        else if (c < 0x20) buf_appendf(b, "\\u%04x", c);
        else buf_appendc(b, (char)c);
    }
    buf_appendc(b, '"');
}

static void test_jsonw_strings_random(void **state)
{
    static const char alphabet[] = {'a', 'Z', '"', '\\', '\x01', '\x1f', ' ', '\n', (char)0xc3, (char)0xa9, '/', '+'};
    char s[64];
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 41);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly plain bytes, so that whole 8-byte words get skipped */
            s[i] = (seed >> 16) % 4 ? 'q' : alphabet[(seed >> 8) % sizeof alphabet];
        }
        struct buf a = BUF_INIT, b = BUF_INIT;
        jsonw_str(&a, s, n);
        naive_escape(&b, s, n);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        buf_free(&a);
        buf_free(&b);
    }
}

static void test_jsonw_values(void **state)
{
    json_t *v = json_loads("{\"b\":1,\"a\":[true,false,null,\"s\",1.5,-3],\"c\":{}}", 0, NULL);
    assert_non_null(v);
    size_t len;
    char *s = jsonw_dump(v, &len);
    /* insertion order kept, compact */
    assert_string_equal(s, "{\"b\":1,\"a\":[true,false,null,\"s\",1.5,-3],\"c\":{}}");
    assert_int_equal(len, strlen(s));
    free(s);
    json_decref(v);
}

static void test_utf8(void **state)
{
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid("hello", 5));
    assert_true(utf8_valid("\xc3\xa9", 2));
    assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_true(utf8_valid("\xef\xbf\xbf", 3));
    assert_false(utf8_valid("\xc3", 1));            /* truncated */
    assert_false(utf8_valid("\xc0\xaf", 2));        /* overlong */
    assert_false(utf8_valid("\xe0\x80\xaf", 3));    /* overlong */
    assert_false(utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(utf8_valid("\xff", 1));
    assert_false(utf8_valid("a\x80", 2));
    assert_false(utf8_valid("\xe2\x28\xa1", 3));
    /* invalid bytes after, inside and across 8-byte ASCII words */
    assert_true(utf8_valid("abcdefghijklmnop\xc3\xa9", 18));
    assert_false(utf8_valid("abcdefghijklmnop\xc3", 17));
    assert_false(utf8_valid("abcdefg\xffhijklmnop", 17));
    assert_true(utf8_valid("abcdefg\xc3\xa9ijklmnop", 17));
    assert_false(utf8_valid("abcdefg\xc3ijklmnop", 17));
}

static void test_buf_sbuf(void **state)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < 1000; i++)
        buf_appendf(&b, "%d,", i);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data, "0,1,2,", 6);
    struct sbuf *s = sbuf_from_buf(&b);
    assert_int_equal(b.len, 0);
    assert_memory_equal(s->data, "0,1,2,", 6);
    struct sbuf *t = sbuf_ref(s);
    assert_ptr_equal(s, t);
    assert_int_equal(s->refs, 2);
    sbuf_unref(t);
    sbuf_unref(s);
    buf_free(&b);
}

/* libsodium 1.0.18 decodes high bytes as base64: the guard must refuse them,
 * and so must the decoders that use it. */
static void test_b64_guard(void **state)
{
    assert_true(b64_chars_ok("AAAA+/==", 8, false));
    assert_false(b64_chars_ok("AAAA-_==", 8, false));
    assert_true(b64_chars_ok("AAAA-_==", 8, true));
    assert_false(b64_chars_ok("AAA\xc0", 4, false));
    assert_false(b64_chars_ok("AA A", 4, false));
    char key[45];
    memset(key, 'A', 43);
    key[43] = '=';
    key[44] = '\0';
    assert_true(decree_valid_public_key(key, 44));
    key[10] = (char)0xfe;
    assert_false(decree_valid_public_key(key, 44));
}

static void test_strerror(void **state)
{
    for (int e = 0; e >= BP_ESYS; e--)
        assert_true(strlen(bp_strerror(e)) > 0);
    assert_string_equal(bp_strerror(-9999), "unknown error");
    assert_int_equal(bp_err_from_errno(28 /* ENOSPC */), BP_ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonw_numbers), cmocka_unit_test(test_jsonw_strings),
        cmocka_unit_test(test_jsonw_strings_random),
        cmocka_unit_test(test_jsonw_values),  cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_buf_sbuf),      cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_b64_guard),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
