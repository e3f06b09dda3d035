/* Unit tests: src/storage/pinlog.c, the pin-log reducer and GET_HASH
 * (SERVER-API.md §4.6, §2.3, Appendix A.4). */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "storage/pinlog.h"

#define A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define D32 "dddddddddddddddddddddddddddddddd"
#define E32 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define BLOCK "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="

static void feed(struct pinlog *p, const char *line)
{
    pinlog_feed(p, line, strlen(line));
}

static void test_empty_hash(void **state)
{
    struct pinlog p;
    pinlog_init(&p);
    char h[PINLOG_HASH_LEN + 1];
    pinlog_hash(&p, h);
    assert_string_equal(h, "slspTLTetp6gCkw88xE5BIAbYBXllWvQGahXCx/h1gQOlE7zze4W0KRlA8puZZol8hz5zt3BPzUqPJgTjBXWrw==");
    pinlog_hash_list(NULL, 0, h);
    assert_string_equal(h, "slspTLTetp6gCkw88xE5BIAbYBXllWvQGahXCx/h1gQOlE7zze4W0KRlA8puZZol8hz5zt3BPzUqPJgTjBXWrw==");
    pinlog_free(&p);
}

/* Appendix A.4: after RESET [a, "d#drive", "B…=#block"] the reduced set is
 * {a, d} and its hash is the one the reference returned after a reload. */
static void test_a4_tags(void **state)
{
    struct pinlog p;
    pinlog_init(&p);
    feed(&p, "[\"RESET\",[\"" A32 "\",\"" D32 "#drive\",\"" BLOCK "#block\"],1795401696095]");
    assert_int_equal(pinlog_count(&p), 2);
    assert_true(pinlog_has(&p, A32, 32));
    assert_true(pinlog_has(&p, D32, 32));
    assert_false(pinlog_has(&p, BLOCK, 44));
    assert_string_equal(p.block, BLOCK);
    assert_string_equal(p.drive, D32);
    char h[PINLOG_HASH_LEN + 1];
    pinlog_hash(&p, h);
    assert_string_equal(h, "UvoQc2fF6OAHQIGrIeBULE4rlOqRdA65t0QH0MC/4mBWoi8t+QXvs7EhO0xPfXHPNQT4iHgaoqodRlZECA/XfA==");
    const char *ids[] = {D32, A32, A32};
    char h2[PINLOG_HASH_LEN + 1];
    pinlog_hash_list(ids, 3, h2);
    assert_string_equal(h, h2);
    pinlog_free(&p);
}

/* The A.2 transcript's log: PIN [a,d], UNPIN [d], RESET [a,e]. */
static void test_a2_log(void **state)
{
    struct pinlog p;
    pinlog_init(&p);
    feed(&p, "[\"PIN\",[\"" A32 "\",\"" D32 "\"],1795401696032]");
    assert_int_equal(pinlog_count(&p), 2);
    feed(&p, "[\"UNPIN\",[\"" D32 "\"],1795401696074]");
    assert_int_equal(pinlog_count(&p), 1);
    assert_false(pinlog_has(&p, D32, 32));
    feed(&p, "[\"RESET\",[\"" A32 "\",\"" E32 "\"],1795401696095]");
    assert_int_equal(pinlog_count(&p), 2);
    assert_true(pinlog_has(&p, E32, 32));
    assert_int_equal(p.first, 1795401696032LL);
    assert_int_equal(p.latest, 1795401696095LL);
    assert_int_equal(p.lines, 3);
    assert_int_equal(p.bad, 0);
    pinlog_free(&p);
}

static void test_unpin_strips_tags(void **state)
{
    struct pinlog p;
    pinlog_init(&p);
    feed(&p, "[\"PIN\",[\"" A32 "#drive\",\"" D32 "#other\",\"" E32 "\"],1]");
    assert_int_equal(pinlog_count(&p), 3);
    assert_true(pinlog_has(&p, D32, 32));
    /* UNPIN removes everything from '#' on, whatever the tag */
    feed(&p, "[\"UNPIN\",[\"" A32 "#x\",\"" D32 "#block\"],2]");
    assert_int_equal(pinlog_count(&p), 1);
    assert_true(pinlog_has(&p, E32, 32));
    /* a #block entry pins nothing, even in PIN */
    feed(&p, "[\"PIN\",[\"" BLOCK "#block\"],3]");
    assert_int_equal(pinlog_count(&p), 1);
    assert_string_equal(p.block, BLOCK);
    pinlog_free(&p);
}

static void test_bad_lines(void **state)
{
    struct pinlog p;
    pinlog_init(&p);
    feed(&p, "[\"PIN\",[\"" A32 "\"],5]");
    const char *bad[] = {
        "not json", "{\"PIN\":1}", "42", "[\"PIN\"", "[\"NOPE\",[\"" D32 "\"],6]", "[\"PIN\",\"" D32 "\",7]",
        "[\"RESET\",null,8]", "[1,[\"" D32 "\"]]", "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pinlog_feed(&p, bad[i], strlen(bad[i])), BP_EPROTO);
    assert_int_equal(p.bad, sizeof bad / sizeof bad[0]);
    /* nothing above changed the set (a bad RESET does not clear it) */
    assert_int_equal(pinlog_count(&p), 1);
    assert_true(pinlog_has(&p, A32, 32));
    /* empty lines are fine; non-string ids are ignored; the time of a line
     * with an unknown command still counts (the reference reads it first) */
    assert_int_equal(pinlog_feed(&p, "", 0), 0);
    feed(&p, "[\"PIN\",[null,1,{},\"\",\"#drive\",\"" D32 "\"],9]");
    assert_int_equal(pinlog_count(&p), 2);
    assert_int_equal(p.first, 5);
    assert_int_equal(p.latest, 9);
    /* RESET then behaves as PIN too (a no-op) */
    feed(&p, "[\"RESET\",[\"" E32 "\",\"" E32 "\"],10]");
    assert_int_equal(pinlog_count(&p), 1);
    pinlog_free(&p);
}

/* The cache path: pinlog_apply gives the same set as the disk reducer. */
static void test_apply_matches_feed(void **state)
{
    struct pinlog a, b;
    pinlog_init(&a);
    pinlog_init(&b);
    json_t *list = json_pack("[s,s,s]", A32, D32 "#drive", BLOCK "#block");
    pinlog_apply(&a, PINLOG_RESET, list);
    feed(&b, "[\"RESET\",[\"" A32 "\",\"" D32 "#drive\",\"" BLOCK "#block\"],1]");
    char ha[PINLOG_HASH_LEN + 1], hb[PINLOG_HASH_LEN + 1];
    pinlog_hash(&a, ha);
    pinlog_hash(&b, hb);
    assert_string_equal(ha, hb);
    json_decref(list);
    pinlog_free(&a);
    pinlog_free(&b);
}

/* JS sorts by UTF-16 code units: U+1F600 (D83D DE00) comes before U+FF01,
 * although its UTF-8 bytes (F0 ..) sort after EF BC 81. */
static void test_utf16_order(void **state)
{
    const char *emoji = "\xF0\x9F\x98\x80", *fullwidth = "\xEF\xBC\x81";
    assert_true(pinlog_utf16_cmp(emoji, 4, fullwidth, 3) < 0);
    assert_true(memcmp(emoji, fullwidth, 3) > 0);
    assert_true(pinlog_utf16_cmp("a", 1, "ab", 2) < 0);
    assert_true(pinlog_utf16_cmp("B", 1, "a", 1) < 0);
    assert_int_equal(pinlog_utf16_cmp("x\xC3\xA9", 3, "x\xC3\xA9", 3), 0);
    struct pinlog p;
    pinlog_init(&p);
    pinlog_add(&p, fullwidth, 3);
    pinlog_add(&p, emoji, 4);
    pinlog_add(&p, "z", 1);
    const struct pinlog_id **ids;
    size_t n = pinlog_sorted(&p, &ids);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0]->id, "z");
    assert_string_equal(ids[1]->id, emoji);
    assert_string_equal(ids[2]->id, fullwidth);
    free(ids);
    /* the hash is of the compact JSON of that order: ["z","😀","！"] */
    const char *json = "[\"z\",\"\xF0\x9F\x98\x80\",\"\xEF\xBC\x81\"]";
    unsigned char d[64];
    crypto_hash_sha512(d, (const unsigned char *)json, strlen(json));
    char want[PINLOG_HASH_LEN + 1], got[PINLOG_HASH_LEN + 1];
    sodium_bin2base64(want, sizeof want, d, sizeof d, sodium_base64_VARIANT_ORIGINAL);
    pinlog_hash(&p, got);
    assert_string_equal(got, want);
    pinlog_free(&p);
}

static void test_clean(void **state)
{
    const char *tag;
    assert_int_equal(pinlog_clean(A32, 32, true, &tag), 32);
    assert_null(tag);
    assert_int_equal(pinlog_clean(A32 "#drive", 38, true, &tag), 32);
    assert_string_equal(tag, "drive");
    assert_int_equal(pinlog_clean(BLOCK "#block", 50, true, &tag), 0);
    assert_int_equal(pinlog_clean(BLOCK "#block", 50, false, &tag), 44);
    assert_int_equal(pinlog_clean("x#a#b", 5, true, &tag), 1);
    assert_string_equal(tag, "a#b");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_hash),
        cmocka_unit_test(test_a4_tags),
        cmocka_unit_test(test_a2_log),
        cmocka_unit_test(test_unpin_strips_tags),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_apply_matches_feed),
        cmocka_unit_test(test_utf16_order),
        cmocka_unit_test(test_clean),
    };
    return cmocka_run_group_tests_name("pins", tests, NULL, NULL);
}
