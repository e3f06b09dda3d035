/* Unit tests: src/protocol/httputil.c (pure HTTP helpers). Expected values
 * for the JavaScript-compatible ones (JSON pretty printing, CSP, dates)
 * are what node prints for the reference's own expressions. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "protocol/httputil.h"

static int decode(const char *in, char out[HTTPU_PATH_MAX + 1])
{
    size_t n = 0;
    int rc = httpu_path_decode(in, strlen(in), out, &n);
    if (rc == 0)
        assert_int_equal(n, strlen(out));
    return rc;
}

static void test_path_ok(void **state)
{
    char out[HTTPU_PATH_MAX + 1];
    static const char *const cases[][2] = {
        {"/", "/"},
        {"/pad/", "/pad/"},
        {"/pad", "/pad"},
        {"/pad/inner.html", "/pad/inner.html"},
        {"//pad///inner.html", "/pad/inner.html"},
        {"/a%20b/c%2Ed", "/a b/c.d"},
        {"/caf%C3%A9", "/caf\xc3\xa9"},
        {"/x...", "/x..."},
        {"/.../", NULL}, /* hidden: starts with '.' */
        {"/a/b..c/", "/a/b..c/"},
        {"/%7e", "/~"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cases[i][1]) {
            assert_int_equal(decode(cases[i][0], out), BP_ENOENT);
            continue;
        }
        assert_int_equal(decode(cases[i][0], out), 0);
        assert_string_equal(out, cases[i][1]);
    }
}

static void test_path_refused(void **state)
{
    char out[HTTPU_PATH_MAX + 1];
    static const char *const bad[] = {
        "", "pad/", "*", "http://x/y", "/..", "/../etc/passwd", "/a/../b", "/a/..", "/.", "/a/./b",
        "/%2e%2e/x", "/%2E%2e/", "/.%2e/", "/a%2fb", "/a%2F..%2Fb", "/a\\b", "/a%5cb", "/a%00b",
        "/a%0ab", "/a\x01", "/a%7f", "/a%", "/a%2", "/a%zz", "/a%%41",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = decode(bad[i], out);
        if (rc != BP_EPROTO)
            fail_msg("\"%s\": %d", bad[i], rc);
    }
    /* NUL inside the given length */
    size_t n;
    assert_int_equal(httpu_path_decode("/a\0b", 4, out, &n), BP_EPROTO);
    /* hidden files: 404, not 400 */
    assert_int_equal(decode("/.git/config", out), BP_ENOENT);
    assert_int_equal(decode("/a/.htaccess", out), BP_ENOENT);
    assert_int_equal(decode("/a/%2ehidden", out), BP_ENOENT);
    /* but a traversal after a hidden segment is still 400 */
    assert_int_equal(decode("/.x/../y", out), BP_EPROTO);
    /* length */
    char *longp = malloc(HTTPU_PATH_MAX + 10);
    longp[0] = '/';
    memset(longp + 1, 'a', HTTPU_PATH_MAX + 5);
    longp[HTTPU_PATH_MAX + 6] = '\0';
    assert_int_equal(decode(longp, out), BP_ETOOBIG);
    longp[HTTPU_PATH_MAX] = '\0'; /* exactly HTTPU_PATH_MAX */
    assert_int_equal(decode(longp, out), 0);
    free(longp);
}

static void range_ok(const char *v, uint64_t size, uint64_t off, uint64_t len)
{
    uint64_t o, l;
    int rc = httpu_range_parse(v, size, &o, &l);
    if (rc != 0 || o != off || l != len)
        fail_msg("\"%s\" /%llu: rc %d off %llu len %llu", v, (unsigned long long)size, rc,
                 (unsigned long long)o, (unsigned long long)l);
}

static void range_rc(const char *v, uint64_t size, int want)
{
    uint64_t o, l;
    int rc = httpu_range_parse(v, size, &o, &l);
    if (rc != want)
        fail_msg("\"%s\" /%llu: rc %d, want %d", v, (unsigned long long)size, rc, want);
}

static void test_range(void **state)
{
    range_ok("bytes=0-1", 24, 0, 2);            /* the blob's length prefix */
    range_ok("bytes=2-13", 24, 2, 12);          /* its metadata */
    range_ok("bytes=2-1000", 24, 2, 22);        /* clamped */
    range_ok("bytes=5-", 24, 5, 19);
    range_ok("bytes=-4", 24, 20, 4);            /* suffix */
    range_ok("bytes=-100", 24, 0, 24);          /* suffix longer than the file */
    range_ok("bytes=23-23", 24, 23, 1);
    range_ok(" Bytes = 1 - 2 ", 24, 1, 2);
    range_ok("bytes=0-9223372036854775807", 10, 0, 10);
    range_rc("bytes=24-", 24, BP_ETOOBIG);      /* start past the end */
    range_rc("bytes=30-40", 24, BP_ETOOBIG);
    range_rc("bytes=-0", 24, BP_ETOOBIG);
    range_rc("bytes=0-1", 0, BP_ETOOBIG);       /* empty file */
    range_rc("bytes=-5", 0, BP_ETOOBIG);
    range_rc("bytes=5-2", 24, BP_EINVAL);       /* invalid: ignored, 200 */
    range_rc("bytes=-", 24, BP_EINVAL);
    range_rc("bytes=", 24, BP_EINVAL);
    range_rc("bytes=a-b", 24, BP_EINVAL);
    range_rc("bytes=0-1,3-4", 24, BP_EINVAL);   /* several: served whole */
    range_rc("bytes=1-2x", 24, BP_EINVAL);
    range_rc("items=0-1", 24, BP_EINVAL);
    range_rc("bytes 0-1", 24, BP_EINVAL);
    range_rc("bytes=+1-2", 24, BP_EINVAL);
    range_rc("bytes=9223372036854775808-", 24, BP_EINVAL); /* over 2^63 - 1 */
    range_rc("bytes=99999999999999999999999-", 24, BP_EINVAL);
    range_rc("", 24, BP_EINVAL);
}

static void test_mime(void **state)
{
    assert_string_equal(httpu_mime("/pad/inner.html"), "text/html; charset=UTF-8");
    assert_string_equal(httpu_mime("/common/x.js"), "application/javascript; charset=UTF-8");
    assert_string_equal(httpu_mime("a.CSS"), "text/css; charset=UTF-8");
    assert_string_equal(httpu_mime("/x/y.wasm"), "application/wasm");
    assert_string_equal(httpu_mime("logo.svg"), "image/svg+xml");
    assert_string_equal(httpu_mime("f.woff2"), "font/woff2");
    assert_string_equal(httpu_mime("f.woff"), "font/woff");
    assert_string_equal(httpu_mime("x.json"), "application/json; charset=UTF-8");
    assert_string_equal(httpu_mime("noext"), "application/octet-stream");
    assert_string_equal(httpu_mime("/dir.js/noext"), "application/octet-stream");
    assert_string_equal(httpu_mime(".js"), "application/octet-stream"); /* a dot file, no extension */
    assert_string_equal(httpu_mime("x.jss"), "application/octet-stream");
    assert_string_equal(httpu_mime("x.j"), "application/octet-stream");
    assert_string_equal(httpu_mime("x."), "application/octet-stream");
    assert_string_equal(httpu_mime("x.ndjson"), "application/octet-stream");
}

static void test_versioned(void **state)
{
    assert_true(httpu_url_versioned("/common/x.js?ver=2026.2.2-1"));
    assert_true(httpu_url_versioned("/x.js?a=1&ver=1"));
    assert_true(httpu_url_versioned("/x.js?ver=1&b=2"));    /* [^/]+ runs to the end */
    assert_true(httpu_url_versioned("/a?ver=/x?ver=2"));    /* the second one matches */
    assert_false(httpu_url_versioned("/x.js?ver="));
    assert_false(httpu_url_versioned("/x.js?ver=1/2"));
    assert_false(httpu_url_versioned("/x.js"));
    assert_false(httpu_url_versioned("/x.js?xver=1"));
    assert_false(httpu_url_versioned("/ver=1"));
    assert_false(httpu_url_versioned(""));
}

static void test_csp_kind(void **state)
{
    assert_int_equal(httpu_csp_kind("/pad/inner.html"), HTTPU_CSP_STANDARD);
    assert_int_equal(httpu_csp_kind("/sheet/inner.html"), HTTPU_CSP_OFFICE);
    assert_int_equal(httpu_csp_kind("/sheet/inner.html?ver=1"), HTTPU_CSP_OFFICE);
    assert_int_equal(httpu_csp_kind("/doc/inner.html"), HTTPU_CSP_OFFICE);
    assert_int_equal(httpu_csp_kind("/presentation/inner.html"), HTTPU_CSP_OFFICE);
    assert_int_equal(httpu_csp_kind("/unsafeiframe/inner.html"), HTTPU_CSP_OFFICE);
    assert_int_equal(httpu_csp_kind("/common/onlyoffice/v7/web-apps/x.html"), HTTPU_CSP_OFFICE);
    assert_int_equal(httpu_csp_kind("/common/onlyoffice/dist/v7/sdkjs/common/spell/spell/spell.js"),
                     HTTPU_CSP_OFFICE);
    assert_int_equal(httpu_csp_kind("/common/onlyoffice/dist/v7/sdkjs/common/spell/spell/spellXjs"),
                     HTTPU_CSP_OFFICE); /* '.' is any character in the reference's regex */
    assert_int_equal(httpu_csp_kind("/common/onlyoffice/dist/v7/sdkjs/common/spell/spell/other.js"),
                     HTTPU_CSP_STANDARD);
    assert_int_equal(httpu_csp_kind("/common/onlyoffice/x.js"), HTTPU_CSP_STANDARD);
    assert_int_equal(httpu_csp_kind("/x/sheet/inner.html"), HTTPU_CSP_STANDARD);
    assert_int_equal(httpu_csp_kind("/api/config"), HTTPU_CSP_NONE);
    assert_int_equal(httpu_csp_kind("/api/config?cb=1"), HTTPU_CSP_NONE);
    assert_int_equal(httpu_csp_kind("/api/broadcast?x"), HTTPU_CSP_NONE);
    assert_int_equal(httpu_csp_kind("/api/configX"), HTTPU_CSP_NONE); /* no anchor after it */
    assert_int_equal(httpu_csp_kind("/api/instance"), HTTPU_CSP_STANDARD);
    assert_true(httpu_url_office_fonts("/common/onlyoffice/dist/v7/fonts/001"));
    assert_false(httpu_url_office_fonts("/common/onlyoffice/dist/fonts/001"));
    assert_false(httpu_url_office_fonts("/common/onlyoffice/v7/fonts/001"));
}

static void check_csp(const struct httpu_origins *o, bool office, const char *want)
{
    struct buf b = BUF_INIT;
    httpu_csp(&b, o, office);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_csp(void **state)
{
    /* The exact string observed from the reference (SERVER-API.md A.5). */
    struct httpu_origins o = {"http://localhost:3000", "http://localhost:3001", NULL, false};
    check_csp(&o, false,
              "default-src 'none'; style-src 'unsafe-inline' 'self' http://localhost:3000; font-src 'self' "
              "data: http://localhost:3000; child-src http://localhost:3000; frame-src 'self' blob: "
              "http://localhost:3001; connect-src 'self' blob: http://localhost:3000 http://localhost:3001 "
              "ws://localhost:3000; img-src 'self' data: blob: http://localhost:3000; media-src blob:; "
              "frame-ancestors 'self' http://localhost:3000; worker-src 'self'; script-src 'self' "
              "resource: http://localhost:3000");
    /* Node: Default.padContentSecurity({httpUnsafeOrigin:'https://a.b', httpSafeOrigin:'https://a.b',
     * accounts_api:'https://acc', enableEmbedding:true, protocol:'https:'}) */
    struct httpu_origins o2 = {"https://a.b", "https://a.b", "https://acc", true};
    check_csp(&o2, true,
              "default-src 'none'; style-src 'unsafe-inline' 'self' https://a.b; font-src 'self' data: "
              "https://a.b; child-src https://a.b; frame-src 'self' blob: ; connect-src 'self' blob: "
              "https://a.b https://acc wss://a.b; img-src 'self' data: blob: https://a.b; media-src blob:; "
              "frame-ancestors 'self' https: vector:; worker-src 'self'; script-src 'self' 'unsafe-eval' "
              "'unsafe-inline' resource: https://a.b");
}

static void test_origin_port(void **state)
{
    char out[128];
    assert_int_equal(httpu_origin_with_port("http://localhost:3000", 3001, out, sizeof out), 0);
    assert_string_equal(out, "http://localhost:3001");
    assert_int_equal(httpu_origin_with_port("https://pad.example", 3001, out, sizeof out), 0);
    assert_string_equal(out, "https://pad.example:3001");
    assert_int_equal(httpu_origin_with_port("https://pad.example:8443", 443, out, sizeof out), 0);
    assert_string_equal(out, "https://pad.example");
    assert_int_equal(httpu_origin_with_port("http://[::1]:3000", 3001, out, sizeof out), 0);
    assert_string_equal(out, "http://[::1]:3001");
    assert_int_equal(httpu_origin_with_port("ftp://x", 1, out, sizeof out), BP_EINVAL);
    assert_int_equal(httpu_origin_with_port("http://", 1, out, sizeof out), BP_EINVAL);
    assert_int_equal(httpu_origin_with_port("http://x/path", 1, out, sizeof out), BP_EINVAL);
    assert_int_equal(httpu_origin_with_port("http://x:", 1, out, sizeof out), BP_EINVAL);
    assert_int_equal(httpu_origin_with_port("http://x", 0, out, sizeof out), BP_EINVAL);
    assert_int_equal(httpu_origin_with_port("http://x", 70000, out, sizeof out), BP_EINVAL);
    assert_int_equal(httpu_origin_with_port("http://[::1", 1, out, sizeof out), BP_EINVAL);
    assert_int_equal(httpu_origin_with_port("http://long.example", 3001, out, 10), BP_EINVAL);
}

static void test_gzip(void **state)
{
    assert_true(httpu_accepts_gzip("gzip, deflate, br"));
    assert_true(httpu_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
    assert_true(httpu_accepts_gzip("x-gzip"));
    assert_true(httpu_accepts_gzip("*"));
    assert_true(httpu_accepts_gzip("gzip;q=0.001"));
    assert_false(httpu_accepts_gzip("gzip;q=0"));
    assert_false(httpu_accepts_gzip("gzip; q=0.000, *"));   /* refused explicitly wins over * */
    assert_false(httpu_accepts_gzip("deflate, br"));
    assert_false(httpu_accepts_gzip("identity"));
    assert_false(httpu_accepts_gzip("*;q=0"));
    assert_false(httpu_accepts_gzip(""));
    assert_false(httpu_accepts_gzip("gzipx"));
    assert_false(httpu_accepts_gzip(",,;"));
}

static void test_dates_etags(void **state)
{
    char d[HTTPU_DATE_LEN], e[HTTPU_ETAG_MAX];
    httpu_http_date(d, 784111777);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    httpu_http_date(d, 0);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    httpu_http_date(d, 253402300799LL);
    assert_string_equal(d, "Fri, 31 Dec 9999 23:59:59 GMT");
    int64_t t;
    assert_int_equal(httpu_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(httpu_http_date_parse("Thu, 29 Feb 2024 23:59:59 GMT", &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(httpu_http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", &t), BP_EINVAL);
    assert_int_equal(httpu_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), BP_EINVAL);
    assert_int_equal(httpu_http_date_parse("Sun, 06 Xyz 1994 08:49:37 GMT", &t), BP_EINVAL);
    assert_int_equal(httpu_http_date_parse("Sun, 06 Nov 1994 25:49:37 GMT", &t), BP_EINVAL);
    assert_int_equal(httpu_http_date_parse("", &t), BP_EINVAL);
    httpu_etag(e, 0x1234, 0x18bcfe56800LL);
    assert_string_equal(e, "W/\"1234-18bcfe56800\"");

    const char *lm = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_false(httpu_not_modified(NULL, NULL, NULL, e, 784111777));
    assert_true(httpu_not_modified(e, NULL, NULL, e, 784111777));
    assert_true(httpu_not_modified("\"x\", \"1234-18bcfe56800\"", NULL, NULL, e, 784111777)); /* weak compare */
    assert_true(httpu_not_modified("*", NULL, NULL, e, 784111777));
    assert_false(httpu_not_modified("\"other\"", lm, NULL, e, 784111777)); /* If-None-Match decides */
    assert_true(httpu_not_modified(NULL, lm, NULL, e, 784111777));
    assert_true(httpu_not_modified(NULL, lm, NULL, e, 784111776));
    assert_false(httpu_not_modified(NULL, lm, NULL, e, 784111778));  /* modified after */
    assert_false(httpu_not_modified(NULL, "garbage", NULL, e, 0));
    assert_false(httpu_not_modified(e, NULL, "max-age=0, no-cache", e, 784111777));
    assert_true(httpu_not_modified(e, NULL, "max-age=0", e, 784111777));
}

static void test_json_pretty(void **state)
{
    json_error_t err;
    json_t *v = json_loads("{\"a\":1,\"b\":[],\"c\":{},\"d\":[1,\"x\",{\"e\":null}],\"f\":\"t\\u00e9\\n\","
                           "\"g\":true,\"h\":0.5}",
                           0, &err);
    assert_non_null(v);
    struct buf b = BUF_INIT;
    httpu_json_pretty(&b, v);
    /* node: JSON.stringify({a:1,b:[],c:{},d:[1,"x",{e:null}],f:"t\u00e9\n",g:true,h:0.5}, null, "\t") */
    assert_string_equal(b.data, "{\n\t\"a\": 1,\n\t\"b\": [],\n\t\"c\": {},\n\t\"d\": [\n\t\t1,\n\t\t\"x\",\n\t\t{\n"
                                "\t\t\t\"e\": null\n\t\t}\n\t],\n\t\"f\": \"t\xc3\xa9\\n\",\n\t\"g\": true,\n"
                                "\t\"h\": 0.5\n}");
    json_decref(v);
    buf_reset(&b);
    v = json_string("s");
    httpu_json_pretty(&b, v);
    assert_string_equal(b.data, "\"s\"");
    json_decref(v);
    /* deep nesting is cut, not a stack overflow */
    json_t *deep = json_array();
    for (int i = 0; i < 200; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, deep);
        deep = outer;
    }
    buf_reset(&b);
    httpu_json_pretty(&b, deep);
    assert_non_null(strstr(b.data, "null"));
    json_decref(deep);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_ok),     cmocka_unit_test(test_path_refused), cmocka_unit_test(test_range),
        cmocka_unit_test(test_mime),        cmocka_unit_test(test_versioned),    cmocka_unit_test(test_csp_kind),
        cmocka_unit_test(test_csp),         cmocka_unit_test(test_origin_port),  cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_dates_etags), cmocka_unit_test(test_json_pretty),
    };
    return cmocka_run_group_tests_name("httputil", tests, NULL, NULL);
}
