/* test_client_richtext.c: bp_richtext_to_text (blindpad/richtext.h): the
 * rich text app's hyperjson (as CryptPad's JS stores it, chainpad.json's
 * sample) rendered as plain text. */
#include "test.h"

#include <string.h>

#include <blindpad/err.h>
#include <blindpad/richtext.h>

#include "vectors.h"

/* Renders the hyperjson in json_text and compares with want. */
static void check(const char *json_text, const char *want)
{
    json_error_t jerr;
    json_t *doc = json_loads(json_text, 0, &jerr);
    assert_non_null(doc);
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(bp_richtext_to_text(doc, &out, &n), 0);
    assert_int_equal(n, strlen(out));
    if (strcmp(out, want) != 0)
        fprintf(stderr, "got  [%s]\nwant [%s]\n", out, want);
    assert_string_equal(out, want);
    free(out);
    json_decref(doc);
}

#define BODY(kids) "[\"BODY\",{\"class\":\"cke_editable\"}," kids ",{\"metadata\":{\"title\":\"T\"}}]"

/* The rich text sample of chainpad.json, made by CryptPad's JS. */
static void test_vector(void **state)
{
    json_t *v = load_vectors("chainpad.json");
    assert_non_null(v);
    size_t i, j;
    json_t *c, *s;
    int found = 0;
    json_array_foreach (json_object_get(v, "cases"), i, c) {
        json_array_foreach (json_object_get(c, "samples"), j, s) {
            const char *vj = json_string_value(json_object_get(s, "value_as_json"));
            if (!vj || strncmp(vj, "[\"BODY\"", 7) != 0)
                continue;
            json_t *doc = json_loads(vj, 0, NULL);
            assert_non_null(doc);
            char *out = NULL;
            size_t n;
            assert_int_equal(bp_richtext_to_text(doc, &out, &n), 0);
            /* the sample is <p>Hello <strong>world</strong></p> */
            assert_string_equal(out, "Hello world\n");
            free(out);
            json_decref(doc);
            found++;
        }
    }
    assert_true(found >= 1);
    json_decref(v);
}

static void test_blocks(void **state)
{
    check(BODY("[]"), "");
    check(BODY("[[\"P\",{},[\"one\"]],[\"P\",{},[\"two\"]]]"), "one\ntwo\n");
    check(BODY("[[\"H1\",{},[\"Title\"]],[\"DIV\",{},[[\"DIV\",{},[\"nested\"]]]],\"tail\"]"),
          "Title\nnested\ntail\n");
    /* <br>: a break at once; two of them leave an empty line */
    check(BODY("[[\"P\",{},[\"a\",[\"BR\",{},[]],\"b\",[\"BR\",{},[]],[\"BR\",{},[]],\"c\"]]]"),
          "a\nb\n\nc\n");
    /* empty paragraphs do not pile up empty lines */
    check(BODY("[[\"P\",{},[\"x\"]],[\"P\",{},[]],[\"P\",{},[]],[\"P\",{},[\"y\"]]]"), "x\ny\n");
    /* &nbsp; (U+00A0) becomes a space; other UTF-8 is kept */
    check(BODY("[[\"P\",{},[\"a\\u00a0\\u00a0b \\u00e9\\u4e2d\"]]]"), "a  b \xc3\xa9\xe4\xb8\xad\n");
    check(BODY("[[\"P\",{},[\"x\"]],[\"HR\",{},[]],[\"P\",{},[\"y\"]]]"), "x\n---\ny\n");
    /* no terminal escapes or NULs from a writer: control bytes are dropped */
    check(BODY("[[\"P\",{},[\"a\\u001b[31mred\\u0007\\u007f\\tb\"]]]"), "a[31mred\tb\n");
    /* scripts, styles and the metadata wrapper carry no text */
    check(BODY("[[\"STYLE\",{},[\"p{}\"]],[\"P\",{},[\"t\"]],[\"SCRIPT\",{},[\"x()\"]]]"), "t\n");
}

static void test_lists_tables(void **state)
{
    check(BODY("[[\"UL\",{},[[\"LI\",{},[\"a\"]],[\"LI\",{},[[\"P\",{},[\"b\"]]]]]]]"), "- a\n- b\n");
    check(BODY("[[\"OL\",{},[[\"LI\",{},[\"a\"]],[\"LI\",{},[]],[\"LI\",{},[\"c\"]]]]]"),
          "1. a\n3. c\n");
    check(BODY("[[\"UL\",{},[[\"LI\",{},[\"a\",[\"UL\",{},[[\"LI\",{},[\"a1\"]]]]]]]]]"),
          "- a\n  - a1\n");
    check(BODY("[[\"TABLE\",{},[[\"TBODY\",{},[[\"TR\",{},[[\"TD\",{},[\"1\"]],[\"TD\",{},[\"2\"]]]],"
               "[\"TR\",{},[[\"TH\",{},[\"3\"]],[\"TD\",{},[\"4\"]]]]]]]]]"),
          "1\t2\n3\t4\n");
}

static void test_bad(void **state)
{
    char *out = (char *)1;
    size_t n;
    json_t *j = json_loads("{\"content\":\"x\"}", 0, NULL);
    assert_int_equal(bp_richtext_to_text(j, &out, &n), BP_EPROTO);
    assert_null(out);
    json_decref(j);
    j = json_loads("[\"BODY\",{},\"notarray\"]", 0, NULL);
    assert_int_equal(bp_richtext_to_text(j, &out, &n), BP_EPROTO);
    json_decref(j);
    /* odd nodes inside are skipped, not fatal */
    check(BODY("[1,null,{\"a\":1},[2,{},[\"x\"]],[\"P\",{},\"y\"],\"z\"]"), "z\n");
    /* a document nested deeper than the limit is refused, not a stack overflow */
    json_t *deep = json_array();
    json_t *cur = deep;
    json_array_append_new(cur, json_string("BODY"));
    json_array_append_new(cur, json_object());
    for (int d = 0; d < BP_RICHTEXT_MAX_DEPTH + 10; d++) {
        json_t *kids = json_array(), *el = json_array();
        json_array_append_new(cur, kids);
        json_array_append_new(el, json_string("DIV"));
        json_array_append_new(el, json_object());
        json_array_append_new(kids, el);
        cur = el;
    }
    json_array_append_new(cur, json_array());
    assert_int_equal(bp_richtext_to_text(deep, &out, &n), BP_ETOOBIG);
    json_decref(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_lists_tables),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
