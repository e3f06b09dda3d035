/* Unit tests: src/storage/tasks.c. The task file's name and bytes against
 * the reference (SERVER-API.md Appendix A, NETFLUX.md §5.1), and the runner:
 * due tasks run and disappear, future ones stay, empty day directories go,
 * files that are not tasks are left alone. */
#include "test.h"

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "storage/tasks.h"

#define DAY TASKS_DAY_MS

static char g_root[256];

static int setup(void **state)
{
    snprintf(g_root, sizeof g_root, "/tmp/bp-tasks-test-XXXXXX");
    assert_non_null(mkdtemp(g_root));
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    return system(cmd);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Two tasks observed on the reference: the same bytes give the same name. */
static void test_reference_names(void **state)
{
    struct buf line = BUF_INIT;
    tasks_line(&line, 1795405346764LL, "EXPIRE", "223af1087bc71902ece95b6a287f9c3f");
    assert_string_equal(line.data, "[1795405346764,\"EXPIRE\",\"223af1087bc71902ece95b6a287f9c3f\"]\n");
    char path[1024];
    assert_int_equal(tasks_path(path, sizeof path, "/r", 1795405346764LL, line.data, line.len), 0);
    assert_string_equal(path, "/r/data/tasks/1795392000000/"
                              "ce-T9DWN47x8POY9itlarCpAOUn1rmVVkNpjcFFFtW+sMhBpSor-EcgnuXY-4usCM7izO+-+Q1zyfgr1gkUWIQ=="
                              ".ndjson");
    buf_reset(&line);
    tasks_line(&line, 1795401809765LL, "EXPIRE", "af0c4333d69f6020b52d847467494eb9");
    assert_int_equal(tasks_path(path, sizeof path, "/r", 1795401809765LL, line.data, line.len), 0);
    assert_string_equal(path, "/r/data/tasks/1795392000000/"
                              "lQQHTNUS2mQdN-wGAIh2TsOMZ2-wUWC7jECAERhz2LI-595AZrheNz+k2rzyrhNfyf0Axwo7QrmN9RVfXdhnRg=="
                              ".ndjson");
    assert_int_equal(tasks_path(path, 20, "/r", 1795401809765LL, line.data, line.len), BP_ETOOBIG);
    buf_free(&line);
}

struct ran {
    int n;
    char args[8][64];
    int rc;
};

static int record(void *ud, const char *command, const char *arg)
{
    struct ran *r = ud;
    assert_string_equal(command, "EXPIRE");
    snprintf(r->args[r->n++], sizeof r->args[0], "%s", arg);
    return r->rc;
}

static void test_write_and_run(void **state)
{
    long long now = 1795405346764LL; /* a fixed clock */
    long long today = now - now % DAY;
    long long next = 0;
    struct ran r = {0};
    /* No tasks directory at all. */
    assert_int_equal(tasks_run(g_root, now, record, &r, &next), 0);
    assert_true(next == LLONG_MAX);
    assert_int_equal(tasks_write(g_root, now - 1000, "EXPIRE", "aaaa"), 0);       /* due */
    assert_int_equal(tasks_write(g_root, now - 3 * DAY, "EXPIRE", "bbbb"), 0);    /* long due */
    assert_int_equal(tasks_write(g_root, now + 60000, "EXPIRE", "cccc"), 0);      /* later today */
    assert_int_equal(tasks_write(g_root, now + 2 * DAY, "EXPIRE", "dddd"), 0);    /* a future day */
    assert_int_equal(tasks_write(g_root, now + 60000, "EXPIRE", "cccc"), 0);      /* the same task again */
    char junk[512];
    snprintf(junk, sizeof junk, "%s/data/tasks/%lld/junk.ndjson", g_root, today);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("not a task\n", f);
    fclose(f);
    assert_int_equal(tasks_run(g_root, now, record, &r, &next), 2);
    assert_int_equal(r.n, 2);
    assert_true((strcmp(r.args[0], "aaaa") == 0 && strcmp(r.args[1], "bbbb") == 0) ||
                (strcmp(r.args[0], "bbbb") == 0 && strcmp(r.args[1], "aaaa") == 0));
    assert_true(next == now + 60000); /* the earliest left: later today */
    assert_true(exists(junk));         /* left for an admin */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data/tasks/%lld", g_root, today - 3 * DAY);
    assert_false(exists(dir)); /* emptied and removed */
    /* Nothing more is due until then. */
    r.n = 0;
    assert_int_equal(tasks_run(g_root, now + 59999, record, &r, &next), 0);
    assert_int_equal(r.n, 0);
    /* Later the same day: cccc runs; dddd is in a day directory after
     * tomorrow's start, which counts as its time. */
    assert_int_equal(tasks_run(g_root, now + 60000, record, &r, &next), 1);
    assert_string_equal(r.args[0], "cccc");
    long long dday = now + 2 * DAY;
    assert_true(next == dday - dday % DAY);
    /* A failing task is removed as well (the reference does not retry). */
    r.n = 0;
    r.rc = BP_EIO;
    assert_int_equal(tasks_run(g_root, now + 3 * DAY, record, &r, &next), 1);
    assert_string_equal(r.args[0], "dddd");
    assert_int_equal(tasks_run(g_root, now + 3 * DAY, record, &r, &next), 0);
    assert_true(next == LLONG_MAX);
    assert_true(exists(junk));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_names),
        cmocka_unit_test_setup_teardown(test_write_and_run, setup, teardown),
    };
    return cmocka_run_group_tests_name("tasks", tests, NULL, NULL);
}
