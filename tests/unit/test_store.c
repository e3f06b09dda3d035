/* Unit tests: src/storage/store.c. Recovery of a torn tail, the index and the
 * history start rule of NETFLUX.md §3.4, the LRU bounds, and the disk
 * failures of issue 2 (ENOSPC, EROFS, EIO on write and fsync) injected through
 * struct store_io. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "storage/store.h"

#define CH "0123456789abcdef0123456789abcdef"

static char g_root[256];

/* Fault injection: fail the Nth call (1-based) of write or fsync with errno. */
static int g_write_fail_at, g_write_calls, g_write_errno, g_write_short;
static int g_fsync_fail_at, g_fsync_calls, g_fsync_errno;

static ssize_t fault_write(int fd, const void *b, size_t n)
{
    g_write_calls++;
    if (g_write_fail_at && g_write_calls >= g_write_fail_at) {
        if (g_write_short && n > 1) {
            g_write_short = 0;
            return write(fd, b, n / 2); /* a short write, then the error */
        }
        errno = g_write_errno;
        return -1;
    }
    return write(fd, b, n);
}

static int fault_fsync(int fd)
{
    g_fsync_calls++;
    if (g_fsync_fail_at && g_fsync_calls >= g_fsync_fail_at) {
        errno = g_fsync_errno;
        return -1;
    }
    return fsync(fd);
}

static const struct store_io g_fault_io = {.write = fault_write, .fsync = fault_fsync};

static int setup(void **state)
{
    snprintf(g_root, sizeof g_root, "/tmp/bp-store-test-XXXXXX");
    assert_non_null(mkdtemp(g_root));
    g_write_fail_at = g_write_calls = g_write_short = 0;
    g_fsync_fail_at = g_fsync_calls = 0;
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    return system(cmd);
}

static struct store *open_store(enum store_fsync mode, unsigned max_open, unsigned max_cached)
{
    struct store_config cfg = {.root = g_root, .fsync = mode, .max_open_files = max_open,
                               .max_cached = max_cached, .io = &g_fault_io};
    struct store *s;
    assert_int_equal(store_new(&s, &cfg), 0);
    return s;
}

static void append_msg(struct store *s, struct store_chan *c, const char *content, int expect)
{
    char line[512];
    int n = snprintf(line, sizeof line, "[0,\"u\",\"MSG\",\"%s\",\"%s\",1]\n", store_chan_id(c), content);
    assert_int_equal(store_append(s, c, line, (size_t)n, content, strlen(content)), expect);
}

static void log_path(char *out, size_t cap, const char *id)
{
    snprintf(out, cap, "%s/datastore/%.2s/%s.ndjson", g_root, id, id);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The content of the line at off. */
static void line_at(struct store *s, struct store_chan *c, uint64_t off, char *out, size_t cap)
{
    struct store_iter it;
    store_iter_init(&it, s, c, off);
    const char *line;
    size_t len;
    uint64_t o;
    assert_int_equal(store_iter_next(&it, &line, &len, &o), 1);
    assert_int_equal(o, off);
    /* [0,"u","MSG","<id>","<content>",1] */
    const char *q = strstr(line, CH "\",\"") + strlen(CH) + 3;
    const char *e = memchr(q, '"', (size_t)(line + len - q));
    snprintf(out, cap, "%.*s", (int)(e - q), q);
    store_iter_done(&it);
}

static void test_append_and_reopen(void **state)
{
    struct store *s = open_store(STORE_FSYNC_GROUP, 16, 16);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_false(store_chan_exists(c));
    for (int i = 0; i < 10; i++) {
        char m[32];
        snprintf(m, sizeof m, "msg-%d", i);
        append_msg(s, c, m, 0);
    }
    assert_true(store_chan_exists(c));
    assert_int_equal(store_chan_lines(c), 10);
    uint64_t size = store_chan_size(c);
    struct store_sync *b = store_sync_begin(s);
    assert_non_null(b);
    store_sync_run(b);
    assert_int_equal(store_sync_end(s, b), 0);
    assert_null(store_sync_begin(s)); /* nothing dirty any more */
    store_chan_release(s, c);
    store_free(s);
    s = open_store(STORE_FSYNC_GROUP, 16, 16);
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_int_equal(store_chan_lines(c), 10);
    assert_int_equal(store_chan_size(c), size);
    uint64_t off;
    assert_int_equal(store_history_start(s, c, "msg-3", 5, &off), 0);
    char got[64];
    line_at(s, c, off, got, sizeof got);
    assert_string_equal(got, "msg-3");
    assert_int_equal(store_history_start(s, c, "nope", 4, &off), BP_ENOENT);
    assert_int_equal(store_history_start(s, c, NULL, 0, &off), 0);
    assert_int_equal(off, 0); /* no checkpoints: everything */
    store_chan_release(s, c);
    store_free(s);
    assert_false(store_id_valid("short", 5));
    assert_false(store_id_valid("0123456789abcdef0123456789abcde/", 32));
    assert_true(store_id_valid("0123456789abcdef0123456789abcdef0123456789abcdef", 48));
}

static void test_torn_tail_and_bad_lines(void **state)
{
    struct store *s = open_store(STORE_FSYNC_NONE, 16, 16);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "one", 0);
    append_msg(s, c, "two", 0);
    store_chan_release(s, c);
    store_free(s);
    char path[512];
    log_path(path, sizeof path, CH);
    off_t good = file_size(path);
    /* A legacy metadata line can only be first; put garbage and a torn line at the end. */
    FILE *f = fopen(path, "a");
    fputs("this is not json\n[0,\"u\",\"MSG\",\"" CH "\",\"thr", f);
    fclose(f);
    s = open_store(STORE_FSYNC_NONE, 16, 16);
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_int_equal(store_chan_lines(c), 3);
    assert_true(store_chan_line_bad(c, (uint64_t)good));
    assert_false(store_chan_line_bad(c, 0));
    /* the torn line is gone from the file */
    assert_int_equal(file_size(path), good + (off_t)strlen("this is not json\n"));
    append_msg(s, c, "three", 0);
    uint64_t off;
    assert_int_equal(store_history_start(s, c, "three", 5, &off), 0);
    store_chan_release(s, c);
    store_free(s);
}

static void test_legacy_metadata_line(void **state)
{
    char dir[512], path[512];
    snprintf(dir, sizeof dir, "%s/datastore/01", g_root);
    mkdir(dir, 0777);
    char d2[512];
    snprintf(d2, sizeof d2, "%s/datastore", g_root);
    mkdir(d2, 0777);
    mkdir(dir, 0777);
    log_path(path, sizeof path, CH);
    FILE *f = fopen(path, "w");
    fputs("{\"channel\":\"" CH "\",\"validateKey\":\"k\"}\n[0,\"u\",\"MSG\",\"" CH "\",\"m1\",5]\n", f);
    fclose(f);
    struct store *s = open_store(STORE_FSYNC_NONE, 16, 16);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_non_null(store_chan_legacy_meta(c));
    assert_int_equal(store_chan_lines(c), 2);
    assert_true(store_chan_legacy_end(c) > 0);
    uint64_t off;
    assert_int_equal(store_history_start(s, c, "m1", 2, &off), 0);
    assert_int_equal(off, store_chan_legacy_end(c));
    store_chan_release(s, c);
    store_free(s);
}

/* The 135-line channel of NETFLUX.md §3.4: m1..m5, cp1, m6..m125, cp2,
 * m126..m128, cp3, m129, m130, cp4, m131 (checkpoints on lines 6, 127, 131, 134). */
static void build_135(struct store *s, struct store_chan *c)
{
    char m[32];
    for (int i = 1; i <= 131; i++) {
        if (i == 6) append_msg(s, c, "cp|AAAA|cp1", 0);
        if (i == 126) append_msg(s, c, "cp|BBBB|cp2", 0);
        if (i == 129) append_msg(s, c, "cp|CCCC|cp3", 0);
        if (i == 131) append_msg(s, c, "cp|DDDD|cp4", 0);
        snprintf(m, sizeof m, "m%d", i);
        append_msg(s, c, m, 0);
    }
}

static void check_checkpoint_rule(struct store *s, struct store_chan *c)
{
    char got[64];
    uint64_t off;
    assert_int_equal(store_chan_lines(c), 135);
    assert_int_equal(store_history_start(s, c, NULL, 0, &off), 0);
    line_at(s, c, off, got, sizeof got);
    assert_string_equal(got, "cp|BBBB|cp2"); /* the oldest retained checkpoint */
    assert_int_equal(store_history_start(s, c, "m130", 4, &off), 0);
    line_at(s, c, off, got, sizeof got);
    assert_string_equal(got, "m130");
    assert_int_equal(store_history_start(s, c, "cp|DDDD|cp4", 11, &off), 0);
    line_at(s, c, off, got, sizeof got);
    assert_string_equal(got, "cp|DDDD|cp4");
    assert_int_equal(store_history_start(s, c, "m100", 4, &off), BP_ENOENT); /* before cp2: EUNKNOWN */
    assert_int_equal(store_history_start(s, c, "m127", 4, &off), 0); /* after cp2: accepted */
    line_at(s, c, off, got, sizeof got);
    assert_string_equal(got, "m127");
    assert_int_equal(store_history_start(s, c, "m131", 4, &off), 0);
}

static void test_checkpoint_rule(void **state)
{
    struct store *s = open_store(STORE_FSYNC_NONE, 16, 16);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    build_135(s, c);
    check_checkpoint_rule(s, c); /* index built by appends */
    store_chan_release(s, c);
    store_free(s);
    s = open_store(STORE_FSYNC_NONE, 16, 16);
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    check_checkpoint_rule(s, c); /* index rebuilt from disk: the same answers */
    store_chan_release(s, c);
    store_free(s);
}

static void test_lru_bounds(void **state)
{
    struct store *s = open_store(STORE_FSYNC_NONE, 4, 3);
    char ids[20][33];
    for (int i = 0; i < 20; i++) {
        snprintf(ids[i], sizeof ids[i], "%02d23456789abcdef0123456789abcdef", i);
        struct store_chan *c;
        assert_int_equal(store_chan_open(s, ids[i], &c), 0);
        append_msg(s, c, "x", 0);
        store_chan_release(s, c);
        struct store_health h;
        store_health(s, &h);
        assert_true(h.open_files <= 4);
        assert_true(h.cached <= 3);
    }
    for (int i = 0; i < 20; i++) {
        struct store_chan *c;
        assert_int_equal(store_chan_open(s, ids[i], &c), 0);
        assert_int_equal(store_chan_lines(c), 1);
        append_msg(s, c, "y", 0);
        assert_int_equal(store_chan_lines(c), 2);
        store_chan_release(s, c);
    }
    store_free(s);
}

static void test_enospc_then_recovery(void **state)
{
    struct store *s = open_store(STORE_FSYNC_NONE, 16, 16);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "kept-1", 0);
    char path[512];
    log_path(path, sizeof path, CH);
    off_t before = file_size(path);
    /* A short write and then ENOSPC: nothing of it may stay in the log. */
    g_write_fail_at = g_write_calls + 1;
    g_write_errno = ENOSPC;
    g_write_short = 1;
    append_msg(s, c, "lost", BP_ENOSPC);
    assert_int_equal(file_size(path), before);
    assert_int_equal(store_chan_lines(c), 1);
    struct store_health h;
    store_health(s, &h);
    assert_false(h.writable);
    assert_int_equal(h.last_error, BP_ENOSPC);
    assert_int_equal(h.write_errors, 1);
    /* Reads go on. */
    uint64_t off;
    assert_int_equal(store_history_start(s, c, "kept-1", 6, &off), 0);
    /* EROFS and EIO are reported as such. */
    g_write_errno = EROFS;
    append_msg(s, c, "lost", BP_EROFS);
    g_write_errno = EIO;
    append_msg(s, c, "lost", BP_EIO);
    assert_int_equal(store_probe(s), BP_EIO);
    /* The disk recovers: the probe and the next append succeed. */
    g_write_fail_at = 0;
    assert_int_equal(store_probe(s), 0);
    store_health(s, &h);
    assert_true(h.writable);
    append_msg(s, c, "kept-2", 0);
    assert_int_equal(store_chan_lines(c), 2);
    store_chan_release(s, c);
    store_free(s);
    /* Reopened: exactly the two acknowledged messages. */
    s = open_store(STORE_FSYNC_NONE, 16, 16);
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_int_equal(store_chan_lines(c), 2);
    assert_int_equal(store_history_start(s, c, "lost", 4, &off), BP_ENOENT);
    store_chan_release(s, c);
    store_free(s);
}

static void test_fsync_failures(void **state)
{
    struct store *s = open_store(STORE_FSYNC_ALWAYS, 16, 16);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "a", 0);
    g_fsync_fail_at = g_fsync_calls + 1;
    g_fsync_errno = EIO;
    append_msg(s, c, "b", BP_EIO); /* fsync=always: the append itself fails */
    assert_int_equal(store_chan_lines(c), 1);
    g_fsync_fail_at = 0;
    store_chan_release(s, c);
    store_free(s);
    /* Group commit: the batch reports the failure. */
    s = open_store(STORE_FSYNC_GROUP, 16, 16);
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "c", 0);
    struct store_sync *b = store_sync_begin(s);
    assert_non_null(b);
    g_fsync_fail_at = g_fsync_calls + 1;
    g_fsync_errno = EIO;
    store_sync_run(b);
    assert_int_equal(store_sync_end(s, b), BP_EIO);
    struct store_health h;
    store_health(s, &h);
    assert_false(h.writable);
    assert_int_equal(h.fsync_errors, 1);
    g_fsync_fail_at = 0;
    store_chan_release(s, c);
    store_free(s);
}

static void test_metadata_and_archive(void **state)
{
    struct store *s = open_store(STORE_FSYNC_GROUP, 16, 16);
    struct buf b = BUF_INIT;
    assert_int_equal(store_meta_read(s, CH, &b), BP_ENOENT);
    const char *line = "{\"channel\":\"" CH "\",\"created\":1}\n";
    assert_int_equal(store_meta_append(s, CH, line, strlen(line)), 0);
    assert_int_equal(store_meta_read(s, CH, &b), 0);
    assert_string_equal(b.data, line);
    buf_reset(&b);
    g_write_fail_at = g_write_calls + 1;
    g_write_errno = ENOSPC;
    assert_int_equal(store_meta_append(s, CH, line, strlen(line)), BP_ENOSPC);
    g_write_fail_at = 0;
    assert_int_equal(store_meta_read(s, CH, &b), 0);
    assert_string_equal(b.data, line); /* unchanged */
    buf_reset(&b);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "m", 0);
    store_chan_release(s, c);
    assert_int_equal(store_placeholder(s, CH, &b), BP_ENOENT);
    assert_int_equal(store_archive(s, CH, "my-reason"), 0);
    assert_int_equal(store_placeholder(s, CH, &b), 0);
    assert_string_equal(b.data, "my-reason");
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_false(store_chan_exists(c));
    store_chan_release(s, c);
    char path[512];
    snprintf(path, sizeof path, "%s/data/archive/datastore/01/" CH ".ndjson", g_root);
    assert_true(file_size(path) > 0);
    buf_free(&b);
    store_free(s);
}


static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void read_whole(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

#define LINE(c) "[0,\"u\",\"MSG\",\"" CH "\",\"" c "\",1]\n"

static void test_trim(void **state)
{
    struct store *s = open_store(STORE_FSYNC_GROUP, 16, 16);
    const char *m1 = "{\"channel\":\"" CH "\",\"created\":1,\"owners\":[\"k\"]}\n";
    const char *m2 = "[\"ADD_OWNERS\",[\"k2\"],2]\n";
    assert_int_equal(store_meta_append(s, CH, m1, strlen(m1)), 0);
    assert_int_equal(store_meta_append(s, CH, m2, strlen(m2)), 0);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "m1", 0);
    append_msg(s, c, "cp|AAAA|m2", 0);
    append_msg(s, c, "m3", 0);
    append_msg(s, c, "m4", 0);
    /* c stays held: a reader in the middle of a history answer. */
    const char *meta = "{\"channel\":\"" CH "\",\"owners\":[\"k\",\"k2\"]}";
    assert_int_equal(store_trim(s, CH, "nope", 4, meta, strlen(meta)), BP_ENOENT);
    assert_int_equal(store_trim(s, CH, "cp|AAAA|m2", 10, meta, strlen(meta)), 0);
    char path[512], got[4096];
    log_path(path, sizeof path, CH);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("cp|AAAA|m2") LINE("m3") LINE("m4"));
    snprintf(path, sizeof path, "%s/datastore/01/" CH ".metadata.ndjson", g_root);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, "{\"channel\":\"" CH "\",\"owners\":[\"k\",\"k2\"]}\n");
    snprintf(path, sizeof path, "%s/data/archive/datastore/01/" CH ".ndjson", g_root);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("m1") LINE("cp|AAAA|m2") LINE("m3") LINE("m4"));
    snprintf(path, sizeof path, "%s/data/archive/datastore/01/" CH ".metadata.ndjson", g_root);
    read_whole(path, got, sizeof got);
    char want[512];
    snprintf(want, sizeof want, "%s%s", m1, m2);
    assert_string_equal(got, want);
    snprintf(path, sizeof path, "%s/datastore/01/" CH ".ndjson.temp", g_root);
    assert_int_equal(file_size(path), -1);
    /* The old holder still reads the old file; a new open sees the new one. */
    char content[64];
    line_at(s, c, 0, content, sizeof content);
    assert_string_equal(content, "m1");
    struct store_chan *c2;
    assert_int_equal(store_chan_open(s, CH, &c2), 0);
    assert_ptr_not_equal(c, c2);
    assert_int_equal(store_chan_lines(c2), 3);
    line_at(s, c2, 0, content, sizeof content);
    assert_string_equal(content, "cp|AAAA|m2");
    uint64_t off;
    assert_int_equal(store_history_start(s, c2, "m4", 2, &off), 0);
    append_msg(s, c2, "m5", 0); /* appends go on in the new file */
    store_chan_release(s, c);
    store_chan_release(s, c2);
    /* Trimming again overwrites the archive copy. */
    assert_int_equal(store_trim(s, CH, "m4", 2, meta, strlen(meta)), 0);
    snprintf(path, sizeof path, "%s/data/archive/datastore/01/" CH ".ndjson", g_root);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("cp|AAAA|m2") LINE("m3") LINE("m4") LINE("m5"));
    log_path(path, sizeof path, CH);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("m4") LINE("m5"));
    /* No log at all: ENOENT. */
    assert_int_equal(store_trim(s, "ff23456789abcdef0123456789abcdef", "m", 1, meta, strlen(meta)), BP_ENOENT);
    store_free(s);
}

static void test_trim_legacy_and_hash_prefix(void **state)
{
    struct store *s = open_store(STORE_FSYNC_ALWAYS, 16, 16);
    char path[512], got[8192];
    log_path(path, sizeof path, CH);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/datastore/01", g_root);
    mkdir(dir, 0777);
    /* A legacy metadata first line, and a message longer than 64 chars whose
     * hash is its first 64. */
    const char *long_c = "0123456789012345678901234567890123456789012345678901234567890123-tail";
    char log[4096];
    snprintf(log, sizeof log, "{\"channel\":\"" CH "\",\"owners\":[\"k\"]}\n" LINE("a") "not json\n"
             "[0,\"u\",\"MSG\",\"" CH "\",\"%s\",1]\n" LINE("b"), long_c);
    write_file(path, log);
    const char *meta = "{\"channel\":\"" CH "\",\"owners\":[\"k\"]}";
    assert_int_equal(store_trim(s, CH, long_c, strlen(long_c), meta, strlen(meta)), BP_ENOENT);
    assert_int_equal(store_trim(s, CH, long_c, 64, meta, strlen(meta)), 0);
    read_whole(path, got, sizeof got);
    char want[4096];
    snprintf(want, sizeof want, "[0,\"u\",\"MSG\",\"" CH "\",\"%s\",1]\n" LINE("b"), long_c);
    assert_string_equal(got, want);
    /* The legacy line's metadata now lives in the metadata log. */
    snprintf(path, sizeof path, "%s/datastore/01/" CH ".metadata.ndjson", g_root);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, "{\"channel\":\"" CH "\",\"owners\":[\"k\"]}\n");
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_null(store_chan_legacy_meta(c));
    store_chan_release(s, c);
    store_free(s);
}

static bool refuse_all(void *ud, const char *content, size_t clen)
{
    (*(int *)ud)++;
    return false;
}

static bool allow_b(void *ud, const char *content, size_t clen)
{
    (*(int *)ud)++;
    return clen == 1 && content[0] == 'b';
}

static void test_delete_line(void **state)
{
    struct store *s = open_store(STORE_FSYNC_GROUP, 16, 16);
    char path[512], got[4096], dir[512];
    log_path(path, sizeof path, CH);
    snprintf(dir, sizeof dir, "%s/datastore/01", g_root);
    mkdir(dir, 0777);
    write_file(path, LINE("a") "garbage\n" LINE("b") LINE("c") "garbage2\n" LINE("b"));
    const char *meta = "{\"channel\":\"" CH "\",\"deleteLines\":true}";
    int calls = 0;
    assert_int_equal(store_delete_line(s, CH, "b", 1, refuse_all, &calls, meta, strlen(meta)), BP_ENOENT);
    assert_int_equal(calls, 1); /* only the first match is considered */
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("a") "garbage\n" LINE("b") LINE("c") "garbage2\n" LINE("b"));
    snprintf(dir, sizeof dir, "%s/datastore/01/" CH ".metadata.ndjson", g_root);
    assert_int_equal(file_size(dir), -1); /* nothing replaced */
    assert_int_equal(store_delete_line(s, CH, "zz", 2, NULL, NULL, meta, strlen(meta)), BP_ENOENT);
    calls = 0;
    assert_int_equal(store_delete_line(s, CH, "b", 1, allow_b, &calls, meta, strlen(meta)), 0);
    assert_int_equal(calls, 1);
    /* The first "b" is gone, the unparsable line before it too; everything
     * after it stays as it was. */
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("a") LINE("c") "garbage2\n" LINE("b"));
    read_whole(dir, got, sizeof got);
    assert_string_equal(got, "{\"channel\":\"" CH "\",\"deleteLines\":true}\n");
    snprintf(path, sizeof path, "%s/data/archive/datastore/01/" CH ".ndjson", g_root);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("a") "garbage\n" LINE("b") LINE("c") "garbage2\n" LINE("b"));
    store_free(s);
}

static void test_rewrite_failure_leaves_channel(void **state)
{
    struct store *s = open_store(STORE_FSYNC_GROUP, 16, 16);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "m1", 0);
    append_msg(s, c, "m2", 0);
    store_chan_release(s, c);
    const char *meta = "{\"channel\":\"" CH "\"}";
    g_fsync_fail_at = g_fsync_calls + 1;
    g_fsync_errno = EIO;
    assert_int_equal(store_trim(s, CH, "m2", 2, meta, strlen(meta)), BP_EIO);
    g_fsync_fail_at = 0;
    char path[512], got[4096];
    log_path(path, sizeof path, CH);
    read_whole(path, got, sizeof got);
    assert_string_equal(got, LINE("m1") LINE("m2"));
    snprintf(path, sizeof path, "%s/datastore/01/" CH ".ndjson.temp", g_root);
    assert_int_equal(file_size(path), -1);
    struct store_health h;
    store_health(s, &h);
    assert_false(h.writable);
    assert_int_equal(store_probe(s), 0);
    assert_int_equal(store_trim(s, CH, "m2", 2, meta, strlen(meta)), 0);
    store_health(s, &h);
    assert_true(h.writable);
    store_free(s);
}

static void test_archive_and_restore(void **state)
{
    struct store *s = open_store(STORE_FSYNC_GROUP, 16, 16);
    struct buf b = BUF_INIT;
    assert_int_equal(store_archive(s, CH, "R"), BP_ENOENT); /* nothing to archive */
    assert_int_equal(store_placeholder(s, CH, &b), BP_ENOENT);
    assert_int_equal(store_restore(s, CH), BP_ENOENT);
    const char *line = "{\"channel\":\"" CH "\",\"created\":1}\n";
    assert_int_equal(store_meta_append(s, CH, line, strlen(line)), 0);
    struct store_chan *c;
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    append_msg(s, c, "m1", 0);
    store_chan_release(s, c);
    assert_int_equal(store_restore(s, CH), BP_EEXIST);
    assert_int_equal(store_archive(s, CH, "R"), 0);
    assert_int_equal(store_archive(s, CH, "R2"), BP_ENOENT);
    assert_int_equal(store_placeholder(s, CH, &b), 0);
    assert_string_equal(b.data, "R");
    buf_reset(&b);
    /* The store caches the channel as empty meanwhile. */
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_false(store_chan_exists(c));
    store_chan_release(s, c);
    assert_int_equal(store_restore(s, CH), 0);
    assert_int_equal(store_placeholder(s, CH, &b), BP_ENOENT);
    assert_int_equal(store_meta_read(s, CH, &b), 0);
    assert_string_equal(b.data, line);
    assert_int_equal(store_chan_open(s, CH, &c), 0);
    assert_true(store_chan_exists(c));
    assert_int_equal(store_chan_lines(c), 1);
    store_chan_release(s, c);
    assert_int_equal(store_restore(s, CH), BP_EEXIST);
    buf_free(&b);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_and_bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_metadata_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc_then_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_and_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim_legacy_and_hash_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_failure_leaves_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_and_restore, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
