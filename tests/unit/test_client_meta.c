/* Unit tests: the pure parts of src/client/meta.c: parsing metadata objects
 * as the server sends them (SERVER-API §2.2, §4.3: full, rejected stand-in,
 * empty, wrong member types), key validation, and the SET_METADATA argument
 * for every command (including what must be refused before sending). */
#include "test.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/meta.h"

#define K1 "a57OaW7fFkFbJsGJwh6xPU0b0M6Sv8N4OvRx4uLG3dM="
#define K2 "uGOjqzXVUK3ORSmT6xo4n0u46FKkIsuLnWQyDRtmWhY="
#define CHAN "0123456789abcdef0123456789abcdef"
#define BLOB "0123456789abcdef0123456789abcdef0123456789abcdef"

static struct bp_meta *parse(const char *s)
{
    struct bp_meta *m = NULL;
    assert_int_equal(bp_meta_parse(s, strlen(s), &m), 0);
    assert_non_null(m);
    return m;
}

static void test_parse_full(void **state)
{
    (void)state;
    struct bp_meta *m = parse("{\"channel\":\"" CHAN "\",\"validateKey\":\"x\",\"owners\":[\"" K1
                              "\"],\"pending_owners\":[\"" K2 "\"],\"restricted\":true,"
                              "\"allowed\":[\"" K2 "\",7,null],\"created\":1700000000000,"
                              "\"expire\":1700000086400000}");
    assert_int_equal(m->n_owners, 1);
    assert_string_equal(m->owners[0], K1);
    assert_int_equal(m->n_pending, 1);
    assert_string_equal(m->pending_owners[0], K2);
    assert_int_equal(m->n_allowed, 1); /* non-strings skipped */
    assert_true(m->restricted);
    assert_false(m->rejected);
    assert_false(m->empty);
    assert_true(m->created == 1700000000000LL);
    assert_true(m->expire == 1700000086400000LL);
    assert_true(bp_meta_is_owner(m, K1));
    assert_false(bp_meta_is_owner(m, K2));
    assert_true(bp_meta_is_pending(m, K2));
    assert_true(bp_meta_may_open(m, K1));
    assert_true(bp_meta_may_open(m, K2));
    assert_false(bp_meta_may_open(m, "nobody"));
    assert_false(bp_meta_may_open(m, NULL));
    assert_non_null(strstr(m->json, "validateKey"));
    bp_meta_free(m);
}

static void test_parse_rejected_and_empty(void **state)
{
    (void)state;
    /* What a connection that is not allowed gets (§2.2). */
    struct bp_meta *m = parse("{\"restricted\":true,\"allowed\":[\"" K1 "\",\"" K2 "\"],"
                              "\"rejected\":true}");
    assert_true(m->rejected);
    assert_true(m->restricted);
    assert_int_equal(m->n_owners, 0);
    assert_int_equal(m->n_allowed, 2);
    bp_meta_free(m);

    m = parse("{}");
    assert_true(m->empty);
    assert_false(m->restricted);
    assert_true(bp_meta_may_open(m, NULL)); /* not restricted: anyone */
    assert_int_equal(m->n_owners, 0);
    bp_meta_free(m);

    /* Wrong member types are ignored, as the JS client's checks do. */
    m = parse("{\"owners\":\"" K1 "\",\"restricted\":\"yes\",\"allowed\":{},\"expire\":\"1d\"}");
    assert_int_equal(m->n_owners, 0);
    assert_false(m->restricted);
    assert_int_equal(m->n_allowed, 0);
    assert_true(m->expire == 0);
    bp_meta_free(m);
}

static void test_parse_bad(void **state)
{
    (void)state;
    struct bp_meta *m = (struct bp_meta *)1;
    const char *bad[] = {"", "[]", "null", "\"owners\"", "{\"owners\":[", "{} {}", "42"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bp_meta_parse(bad[i], strlen(bad[i]), &m), BP_EPROTO);
        assert_null(m);
    }
    assert_int_equal(bp_meta_parse(NULL, 0, &m), BP_EINVAL);
    assert_int_equal(bp_meta_parse("{}", 2, NULL), BP_EINVAL);
    assert_int_equal(bp_meta_parse("{}", BP_META_MAX_JSON + 1, &m), BP_ETOOBIG);

    /* A list longer than BP_META_MAX_KEYS is refused, not allocated. */
    size_t n = BP_META_MAX_KEYS + 1, cap = 16 + n * 4;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t k = (size_t)snprintf(big, cap, "{\"owners\":[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(big + k, cap - k, "%s1", i ? "," : "");
    k += (size_t)snprintf(big + k, cap - k, "]}");
    assert_int_equal(bp_meta_parse(big, k, &m), BP_ETOOBIG);
    assert_null(m);
    free(big);
    bp_meta_free(NULL);
}

static void test_keys(void **state)
{
    (void)state;
    assert_true(bp_meta_key_valid(K1));
    assert_true(bp_meta_key_valid(K2));
    assert_false(bp_meta_key_valid(NULL));
    assert_false(bp_meta_key_valid(""));
    assert_false(bp_meta_key_valid("me"));
    /* url-safe alphabet, missing padding, too long, bad padding */
    assert_false(bp_meta_key_valid("a57OaW7fFkFbJsGJwh6xPU0b0M6Sv8N4OvRx4uLG3dM_"));
    assert_false(bp_meta_key_valid("a57OaW7fFkFbJsGJwh6xPU0b0M6Sv8N4OvRx4uLG3dM"));
    assert_false(bp_meta_key_valid(K1 "="));
    assert_false(bp_meta_key_valid("a57OaW7fFkFbJsGJwh6xPU0b0M6Sv8N4OvRx4uLG3d=="));
    uint8_t pk[32];
    for (int i = 0; i < 32; i++)
        pk[i] = (uint8_t)(i * 7);
    char s[BP_META_KEY_LEN + 1];
    bp_meta_key_of(pk, s);
    assert_int_equal(strlen(s), 44);
    assert_true(bp_meta_key_valid(s));
    uint8_t back[32];
    size_t bl = 0;
    assert_int_equal(sodium_base642bin(back, 32, s, 44, NULL, &bl, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    assert_memory_equal(back, pk, 32);
}

static void expect_json(const char *chan, const struct bp_meta_change *ch, const char *want)
{
    char *s = NULL;
    assert_int_equal(bp_meta_change_json(chan, ch, &s), 0);
    assert_string_equal(s, want);
    free(s);
}

static void test_change_json(void **state)
{
    (void)state;
    const char *two[] = {K1, K2};
    struct bp_meta_change ch = {.cmd = BP_META_ADD_OWNERS, .keys = two, .n_keys = 2};
    expect_json(CHAN, &ch, "{\"channel\":\"" CHAN "\",\"command\":\"ADD_OWNERS\",\"value\":[\"" K1
                           "\",\"" K2 "\"]}");
    ch.cmd = BP_META_RM_ALLOWED;
    ch.n_keys = 1;
    expect_json(BLOB, &ch, "{\"channel\":\"" BLOB "\",\"command\":\"RM_ALLOWED\",\"value\":[\"" K1
                           "\"]}");
    struct bp_meta_change r = {.cmd = BP_META_RESTRICT_ACCESS, .flag = true};
    expect_json(CHAN, &r, "{\"channel\":\"" CHAN "\",\"command\":\"RESTRICT_ACCESS\",\"value\":[true]}");
    r.flag = false;
    expect_json(CHAN, &r, "{\"channel\":\"" CHAN "\",\"command\":\"RESTRICT_ACCESS\",\"value\":[false]}");

    static const struct { enum bp_meta_cmd c; const char *n; } names[] = {
        {BP_META_ADD_OWNERS, "ADD_OWNERS"}, {BP_META_RM_OWNERS, "RM_OWNERS"},
        {BP_META_RESET_OWNERS, "RESET_OWNERS"}, {BP_META_ADD_PENDING_OWNERS, "ADD_PENDING_OWNERS"},
        {BP_META_RM_PENDING_OWNERS, "RM_PENDING_OWNERS"}, {BP_META_ADD_ALLOWED, "ADD_ALLOWED"},
        {BP_META_RM_ALLOWED, "RM_ALLOWED"}, {BP_META_RESTRICT_ACCESS, "RESTRICT_ACCESS"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(bp_meta_cmd_name(names[i].c), names[i].n);
    assert_null(bp_meta_cmd_name((enum bp_meta_cmd)0));
    assert_null(bp_meta_cmd_name((enum bp_meta_cmd)99));
}

static void test_change_refused(void **state)
{
    (void)state;
    char *s = (char *)1;
    const char *one[] = {K1};
    const char *bad[] = {K1, "not-a-key"};
    struct bp_meta_change ch = {.cmd = BP_META_ADD_OWNERS, .keys = one, .n_keys = 1};
    /* bad channel ids: length, upper case, non-hex */
    const char *chans[] = {NULL, "", "0123", CHAN "0", "0123456789ABCDEF0123456789abcdef",
                           "0123456789abcdef0123456789abcdeg"};
    for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
        assert_int_equal(bp_meta_change_json(chans[i], &ch, &s), BP_EINVAL);
        assert_null(s);
    }
    struct bp_meta_change b = {.cmd = BP_META_ADD_ALLOWED, .keys = bad, .n_keys = 2};
    assert_int_equal(bp_meta_change_json(CHAN, &b, &s), BP_EINVAL);
    struct bp_meta_change none = {.cmd = BP_META_RESET_OWNERS, .keys = NULL, .n_keys = 0};
    assert_int_equal(bp_meta_change_json(CHAN, &none, &s), BP_EINVAL);
    struct bp_meta_change unk = {.cmd = (enum bp_meta_cmd)42, .keys = one, .n_keys = 1};
    assert_int_equal(bp_meta_change_json(CHAN, &unk, &s), BP_EINVAL);
    assert_int_equal(bp_meta_change_json(CHAN, NULL, &s), BP_EINVAL);
    assert_int_equal(bp_meta_change_json(CHAN, &ch, NULL), BP_EINVAL);
    /* the network calls check their arguments before touching the client */
    struct bp_meta *m = (struct bp_meta *)1;
    assert_int_equal(bp_meta_get(NULL, NULL, CHAN, &m), BP_EINVAL);
    assert_null(m);
    assert_int_equal(bp_meta_set(NULL, NULL, CHAN, &ch, NULL), BP_EINVAL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_rejected_and_empty),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_change_json),
        cmocka_unit_test(test_change_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
