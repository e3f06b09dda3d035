/* Unit tests: src/server/config.c (flags, INI file, errors). */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "server/config.h"

static int parse(struct config *c, int argc, const char **argv)
{
    config_defaults(c);
    return config_parse(c, argc, (char **)argv);
}

static void test_defaults(void **state)
{
    struct config c;
    const char *argv[] = {"blindpad-server"};
    assert_int_equal(parse(&c, 1, argv), 0);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 3000);
    assert_string_equal(c.data, "./data");
    assert_int_equal(c.fsync, STORE_FSYNC_GROUP);
    assert_int_equal(c.max_message, 104857600);
    assert_int_equal(c.idle_timeout, 60000);
    assert_int_equal(c.ping_interval, 15000);
    assert_int_equal(c.upload_stage_max_age, 86400);
}

static void test_flags(void **state)
{
    struct config c;
    const char *argv[] = {"s", "--listen", "[::1]:4000", "--data", "/tmp/x", "--fsync=none",
                          "--max-message", "2048", "--log-level", "debug", "--idle-timeout", "3000"};
    assert_int_equal(parse(&c, 12, argv), 0);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.port, 4000);
    assert_string_equal(c.data, "/tmp/x");
    assert_int_equal(c.fsync, STORE_FSYNC_NONE);
    assert_int_equal(c.max_message, 2048);
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(c.idle_timeout, 3000);
    const char *never[] = {"s", "--upload-stage-max-age", "0"};
    assert_int_equal(parse(&c, 3, never), 0);
    assert_int_equal(c.upload_stage_max_age, 0);
}

static void test_bad_values(void **state)
{
    struct config c;
    const char *bad[][3] = {
        {"s", "--listen", "nohost"},  {"s", "--listen", "h:70000"}, {"s", "--fsync", "sometimes"},
        {"s", "--max-message", "-1"}, {"s", "--max-message", "12x"}, {"s", "--bogus", "1"},
        {"s", "--max-message", "10"}, /* below the minimum */
        {"s", "--upload-stage-max-age", "-5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(&c, 3, bad[i]), BP_ECONFIG);
    const char *missing[] = {"s", "--data"};
    assert_int_equal(parse(&c, 2, missing), BP_ECONFIG);
    const char *stray[] = {"s", "data"};
    assert_int_equal(parse(&c, 2, stray), BP_ECONFIG);
}

static void test_ini_then_flags(void **state)
{
    char path[] = "/tmp/bp-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("; blindpad\n[server]\nlisten = 127.0.0.1:5000\nfsync = always\nmax-conns = 10\n", f);
    fclose(f);
    struct config c;
    /* The flag after the file wins; the file's other values stay. */
    const char *argv[] = {"s", "--listen", "127.0.0.1:6000", "--config", path};
    assert_int_equal(parse(&c, 5, argv), 0);
    assert_int_equal(c.port, 6000);
    assert_int_equal(c.fsync, STORE_FSYNC_ALWAYS);
    assert_int_equal(c.max_conns, 10);
    f = fopen(path, "w");
    fputs("fsync = maybe\n", f);
    fclose(f);
    const char *argv2[] = {"s", "--config", path};
    assert_int_equal(parse(&c, 3, argv2), BP_ECONFIG);
    unlink(path);
    const char *argv3[] = {"s", "--config", "/nonexistent/blindpad.ini"};
    assert_int_equal(parse(&c, 3, argv3), BP_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_values), cmocka_unit_test(test_ini_then_flags),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
