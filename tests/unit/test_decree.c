/* Unit tests: src/server/decree.c, admin decrees applied to struct settings,
 * their replay from decree.ndjson (SERVER-API.md §4.9, §2.10), and user id
 * canonicalisation (§5). */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "server/config.h"
#include "server/decree.h"
#include "server/settings.h"

#define K1 "VzeS4vP1DF+tXGuq1i50DKYuBL+09Yqy8kGxoUKRzhA="
#define K1_DASHED "VzeS4vP1DF+tXGuq1i50DKYuBL+09Yqy8kGxoUKRzhA="
#define K2 "Tdz6+fE9N9XXBY93rW5qeNa/k27yd40c0vq7EJyt7jA="
#define K2_DASHED "Tdz6+fE9N9XXBY93rW5qeNa-k27yd40c0vq7EJyt7jA="

static struct settings g_st;
static struct config g_cfg;

static int setup(void **state)
{
    config_defaults(&g_cfg);
    settings_init_from(&g_st, &g_cfg);
    return 0;
}

static int teardown(void **state)
{
    settings_free_struct(&g_st);
    return 0;
}

/* Applies a decree given as JSON text [name, args]; returns decree_apply's result. */
static int apply(const char *json, const char **err)
{
    json_t *d = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(d);
    const char *e = NULL;
    int rc = decree_apply(&g_st, g_cfg.admin_keys, json_string_value(json_array_get(d, 0)), json_array_get(d, 1), &e);
    if (err)
        *err = e;
    json_decref(d);
    return rc;
}

static void test_canon_key(void **state)
{
    char k[45];
    char *name = NULL;
    assert_int_equal(decree_canon_key(K2, 44, k, NULL), 0);
    assert_string_equal(k, K2);
    assert_int_equal(decree_canon_key(K2_DASHED, 44, k, NULL), 0);
    assert_string_equal(k, K2);
    const char *bracket = "[alice smith@cryptpad.example:3000/" K2_DASHED "]";
    assert_int_equal(decree_canon_key(bracket, strlen(bracket), k, &name), 0);
    assert_string_equal(k, K2);
    assert_string_equal(name, "alice smith");
    free(name);
    /* the last '@' splits user and domain */
    const char *two_at = "[a@b@host/" K2_DASHED "]";
    assert_int_equal(decree_canon_key(two_at, strlen(two_at), k, &name), 0);
    assert_string_equal(name, "a@b");
    free(name);
    const char *legacy = "https://cryptpad.example/user/#/1/bob/" K2_DASHED;
    assert_int_equal(decree_canon_key(legacy, strlen(legacy), k, &name), 0);
    assert_string_equal(k, K2);
    assert_string_equal(name, "bob");
    free(name);
    const char *bad[] = {
        "",
        "short",
        "[nobody/" K2_DASHED "]",                     /* no '@' */
        "[@host/" K2_DASHED "]",                      /* empty user */
        "[user@/" K2_DASHED "]",                      /* empty domain */
        "[user@host/" K2 "]",                         /* '/' inside the key */
        "[user@host " K2_DASHED "]",                  /* no '/' before the key */
        "ftp://host/user/#/1/bob/" K2_DASHED,
        "https://host/user/#/1//" K2_DASHED,          /* empty user */
        "https://host/user/#/2/bob/" K2_DASHED,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(decree_canon_key(bad[i], strlen(bad[i]), k, NULL), -1);
    assert_true(decree_valid_public_key(K2, 44));
    assert_false(decree_valid_public_key(K2_DASHED, 44));
    assert_true(decree_key_in_list(" x , [me@host/" K2_DASHED "]", K2));
    assert_false(decree_key_in_list(K1, K2));
}

static void test_admins(void **state)
{
    const char *err;
    assert_int_equal(apply("[\"ADD_ADMIN_KEY\",[\"" K1 "\"]]", &err), 1);
    assert_int_equal(apply("[\"ADD_ADMIN_KEY\",[\"" K1 "\"]]", &err), 0); /* nothing to change */
    assert_int_equal(apply("[\"ADD_ADMIN_KEY\",[\"[me@host/" K2_DASHED "]\"]]", &err), 1);
    assert_int_equal(json_array_size(g_st.admins), 2);
    assert_string_equal(json_string_value(json_array_get(g_st.admins, 1)), K2);
    assert_string_equal(json_string_value(json_array_get(g_st.admins_data, 1)), "[me@host/" K2_DASHED "]");
    assert_int_equal(apply("[\"ADD_ADMIN_KEY\",[\"nope\"]]", &err), -1);
    assert_string_equal(err, "INVALID_KEY");
    assert_int_equal(apply("[\"ADD_ADMIN_KEY\",[]]", &err), -1);
    assert_string_equal(err, "INVALID_ARGS");
    assert_int_equal(apply("[\"RM_ADMIN_KEY\",[\"" K2_DASHED "\"]]", &err), 1);
    assert_int_equal(json_array_size(g_st.admins), 1);
    assert_int_equal(json_array_size(g_st.admins_data), 1);
    assert_int_equal(apply("[\"RM_ADMIN_KEY\",[\"" K2 "\"]]", &err), 0);
    assert_int_equal(apply("[\"RM_ADMIN_KEY\",[\"" K1 "\"]]", &err), -1);
    assert_string_equal(err, "CANT_REMOVE_LAST_ADMIN");
}

static void test_config_admin_not_removable(void **state)
{
    settings_free_struct(&g_st);
    strcpy(g_cfg.admin_keys, "[conf@host/" K2_DASHED "], " K1);
    settings_init_from(&g_st, &g_cfg);
    assert_int_equal(json_array_size(g_st.admins), 2);
    const char *err;
    assert_int_equal(apply("[\"RM_ADMIN_KEY\",[\"" K2 "\"]]", &err), -1);
    assert_string_equal(err, "CANT_REMOVE_CONFIG");
}

static void test_settings_fields(void **state)
{
    const char *err;
    assert_int_equal(apply("[\"UPDATE_DEFAULT_STORAGE\",[104857600]]", &err), 1);
    assert_int_equal(g_st.default_limit, 104857600);
    assert_int_equal(apply("[\"UPDATE_DEFAULT_STORAGE\",[104857600]]", &err), 0);
    assert_int_equal(apply("[\"UPDATE_DEFAULT_STORAGE\",[1.5]]", &err), -1);
    assert_int_equal(apply("[\"UPDATE_DEFAULT_STORAGE\",[-1]]", &err), -1);
    assert_int_equal(apply("[\"UPDATE_DEFAULT_STORAGE\",\"x\"]", &err), -1);
    assert_string_equal(err, "INVALID_ARGS");
    assert_int_equal(apply("[\"SET_MAX_UPLOAD_SIZE\",[1000.0]]", &err), 1); /* integral reals are integers in JS */
    assert_int_equal(g_st.max_upload, 1000);
    assert_int_equal(apply("[\"SET_PREMIUM_UPLOAD_SIZE\",[5000]]", &err), 1);
    assert_int_equal(g_st.premium_upload, 5000);
    assert_int_equal(apply("[\"SET_INACTIVE_TIME\",[30]]", &err), 1);
    assert_int_equal(apply("[\"SET_ARCHIVE_RETENTION_TIME\",[0]]", &err), 1);
    assert_int_equal(apply("[\"SET_ACCOUNT_RETENTION_TIME\",[365]]", &err), 1);
    assert_int_equal(g_st.inactive_days, 30);
    assert_int_equal(g_st.archive_retention_days, 0);
    assert_int_equal(g_st.account_retention_days, 365);
    assert_false(g_st.restrict_registration);
    assert_int_equal(apply("[\"RESTRICT_REGISTRATION\",[true]]", &err), 1);
    assert_true(g_st.restrict_registration);
    assert_int_equal(apply("[\"RESTRICT_REGISTRATION\",[\"yes\"]]", &err), -1);
    assert_false(g_st.eviction);
    assert_int_equal(apply("[\"DISABLE_INTEGRATED_EVICTION\",[false]]", &err), 1);
    assert_true(g_st.eviction);
    assert_int_equal(apply("[\"DISABLE_INTEGRATED_EVICTION\",[false]]", &err), 0);
    assert_int_equal(apply("[\"ENABLE_EMBEDDING\",[true]]", &err), 1);
    assert_true(g_st.enable_embedding);
    assert_int_equal(apply("[\"SET_LAST_BROADCAST_HASH\",[\"abc\"]]", &err), 1);
    assert_string_equal(g_st.last_broadcast_hash, "abc");
    assert_int_equal(apply("[\"ADD_INSTALL_TOKEN\",[\"0123\"]]", &err), 1);
    assert_string_equal(g_st.install_token, "0123");
    assert_int_equal(apply("[\"PROOFS_MIGRATED\",1]", &err), 1);
    assert_int_equal(apply("[\"PROOFS_MIGRATED\",[1]]", &err), -1);
}

static void test_quota(void **state)
{
    const char *err;
    assert_int_equal(apply("[\"SET_QUOTA\",[\"[u@h/" K2_DASHED "]\",{\"limit\":2048,\"plan\":\"buddy\",\"note\":\"n\"}]]", &err), 1);
    json_t *l = json_object_get(g_st.limits, K2);
    assert_non_null(l);
    assert_int_equal(json_integer_value(json_object_get(l, "limit")), 2048);
    assert_string_equal(json_string_value(json_object_get(l, "origin")), "decree");
    /* invalid limit objects: a missing field, an extra one, users not an array */
    assert_int_equal(apply("[\"SET_QUOTA\",[\"" K1 "\",{\"limit\":1,\"plan\":\"\"}]]", &err), -1);
    assert_int_equal(apply("[\"SET_QUOTA\",[\"" K1 "\",{\"limit\":1,\"plan\":\"\",\"note\":\"\",\"x\":1}]]", &err), -1);
    assert_int_equal(apply("[\"SET_QUOTA\",[\"" K1 "\",{\"limit\":1,\"plan\":\"\",\"note\":\"\",\"users\":1}]]", &err), -1);
    assert_int_equal(apply("[\"SET_QUOTA\",[\"bad\",{\"limit\":1,\"plan\":\"\",\"note\":\"\"}]]", &err), -1);
    assert_string_equal(err, "INVALID_ARGS");
    assert_int_equal(apply("[\"RM_QUOTA\",[\"" K1 "\"]]", &err), -1);
    assert_string_equal(err, "ENOENT");
    assert_int_equal(apply("[\"RM_QUOTA\",[\"" K2_DASHED "\"]]", &err), 1);
    assert_null(json_object_get(g_st.limits, K2));
}

static void test_texts_and_extras(void **state)
{
    const char *err;
    assert_int_equal(apply("[\"SET_INSTANCE_NAME\",[\"My pad\"]]", &err), 1);
    assert_int_equal(apply("[\"SET_INSTANCE_NAME\",[{\"fr\":\"Mon pad\",\"default\":\"My pad\"}]]", &err), 1);
    assert_int_equal(apply("[\"SET_INSTANCE_NAME\",[{\"fr\":\"Mon pad\"}]]", &err), 0);
    assert_int_equal(apply("[\"SET_INSTANCE_NAME\",[42]]", &err), 0); /* neither string nor object: ignored */
    json_t *name = json_object_get(g_st.instance, "name");
    assert_string_equal(json_string_value(json_object_get(name, "default")), "My pad");
    assert_string_equal(json_string_value(json_object_get(name, "fr")), "Mon pad");
    assert_int_equal(apply("[\"SET_INSTANCE_JURISDICTION\",[\"France\"]]", &err), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(g_st.instance, "location"), "default")),
                        "France");
    assert_int_equal(apply("[\"SET_ADMIN_EMAIL\",[\"admin@example.org\"]]", &err), 1);
    assert_string_equal(json_string_value(json_object_get(g_st.config_extra, "adminEmail")), "admin@example.org");
    assert_int_equal(apply("[\"SET_SUPPORT_MAILBOX\",[\"not a key\"]]", &err), -1);
    assert_int_equal(apply("[\"SET_SUPPORT_KEYS\",[\"" K1 "\",\"" K2 "\"]]", &err), 1);
    assert_string_equal(json_string_value(json_object_get(g_st.extra, "supportPinKey")), K2);
    assert_string_equal(json_string_value(json_object_get(g_st.config_extra, "supportMailboxKey")), K1);
    assert_int_equal(apply("[\"SET_SURVEY_URL\",[\"https://survey\"]]", &err), 1);
    assert_int_equal(apply("[\"SET_MAINTENANCE\",[{\"start\":1,\"end\":2}]]", &err), 1);
    assert_int_equal(apply("[\"SET_MAINTENANCE\",[{\"start\":1}]]", &err), -1);
    assert_non_null(json_object_get(g_st.broadcast_extra, "maintenance"));
    assert_int_equal(apply("[\"CONSENT_TO_CONTACT\",[true]]", &err), 1);
    assert_true(json_is_true(json_object_get(g_st.extra, "consentToContact")));
    assert_int_equal(apply("[\"LIST_MY_INSTANCE\",[true]]", &err), 1);
    assert_true(json_is_true(json_object_get(g_st.config_extra, "listMyInstance")));
    assert_int_equal(apply("[\"SET_PROFILING_WINDOW\",[0]]", &err), -1);
    assert_int_equal(apply("[\"DISABLE_APPS\",[\"sheet\",\"code\"]]", &err), 1);
    assert_int_equal(apply("[\"DISABLE_APPS\",[\"sheet\",\"code\"]]", &err), 0);
    assert_int_equal(apply("[\"SET_ACCENT_COLOR\",[\"#ff0073\"]]", &err), 1);
    assert_string_equal(json_string_value(json_object_get(g_st.instance, "color")), "#ff0073");
    assert_int_equal(apply("[\"NO_SUCH_DECREE\",[1]]", &err), -1);
    assert_string_equal(err, "DECREE_UNSUPPORTED_COMMAND");
}

/* Replay: bad lines are skipped, the rest applies in order. */
static void test_replay(void **state)
{
    const char *log =
        "[\"ADD_INSTALL_TOKEN\",[\"" "ab" "\"],\"\",1795401664339]\n"
        "[\"ADD_ADMIN_KEY\",[\"" K1 "\"],\"\",1795401664340]\n"
        "this is not json\n"
        "{\"an\":\"object\"}\n"
        "\n"
        "[\"NO_SUCH_DECREE\",[1],\"" K1 "\",1795401664341]\n"
        "[\"SET_QUOTA\",[\"" K2 "\",{\"limit\":5,\"plan\":\"p\",\"note\":\"\"}],\"" K1 "\",1795401664342]\n"
        "[\"UPDATE_DEFAULT_STORAGE\",[1000],\"" K1 "\",1795401664343]\n"
        "[\"UPDATE_DEFAULT_STORAGE\",[2000],\"" K1 "\",1795401664344]\n"
        "[\"RESTRICT_REGISTRATION\",[true],\"" K1 "\",1795401664345]\n"
        "[\"RM_QUOTA\",[\"" K2 "\"],\"" K1 "\",1795401664346]\n"
        "[\"SET_QUOTA\",[\"" K2 "\",{\"limit\":7,\"plan\":\"p\",\"note\":\"\"}],\"" K1 "\",1795401664347]\n"
        "[\"SET_INSTANCE_NAME\",[\"torn"; /* a torn last line */
    size_t bad = 0;
    size_t n = decree_replay(&g_st, g_cfg.admin_keys, log, strlen(log), &bad);
    assert_int_equal(n, 8);
    assert_int_equal(bad, 4);
    assert_string_equal(g_st.install_token, "ab");
    assert_int_equal(json_array_size(g_st.admins), 1);
    assert_int_equal(g_st.default_limit, 2000);
    assert_true(g_st.restrict_registration);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g_st.limits, K2), "limit")), 7);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_canon_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_admin_not_removable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_texts_and_extras, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
    };
    return cmocka_run_group_tests_name("decree", tests, NULL, NULL);
}
