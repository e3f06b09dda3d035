/* Unit tests: src/storage/blob.c. Ids, safe keys and paths; staging, commit
 * (owned, unowned, never over a live blob), cancel; upload cookies (rotation,
 * constant-time compare, 5-minute expiry by mtime); archive and restore;
 * the sweep of abandoned stages.
 * (Range headers and validators: protocol/httputil.c, test_httputil.c.) */
#include "test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "storage/blob.h"
#include "storage/fsutil.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "abcdef0123456789abcdef0123456789abcdef0123456789"
#define KEY "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcd=" /* 43: too short */
#define KEY44 "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcde="
#define SK44 "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+-abcde="

static char g_root[256];

static int setup(void **state)
{
    snprintf(g_root, sizeof g_root, "/tmp/bp-blob-test-XXXXXX");
    assert_non_null(mkdtemp(g_root));
    assert_int_equal(blob_init(g_root), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void read_file(const char *path, struct buf *b)
{
    buf_reset(b);
    assert_int_equal(fsu_read(path, 1 << 20, b), 0);
}

static void rel(char *out, size_t cap, const char *rest)
{
    snprintf(out, cap, "%s/%s", g_root, rest);
}

static void test_ids_and_paths(void **state)
{
    assert_true(blob_id_valid(ID, 48));
    assert_false(blob_id_valid(ID, 47));
    assert_false(blob_id_valid("0123456789ABCDEF0123456789abcdef0123456789abcdef", 48)); /* upper case */
    assert_false(blob_id_valid("0123456789abcdef0123456789abcdef0123456789abcdeg", 48));
    assert_false(blob_id_valid("../456789abcdef0123456789abcdef0123456789abcdef", 48));
    assert_false(blob_id_valid(NULL, 0));

    char sk[BLOB_SAFE_KEY_LEN + 1];
    assert_int_equal(blob_safe_key(KEY44, 44, sk), 0);
    assert_string_equal(sk, SK44);
    assert_true(blob_safe_key_valid(sk, 44));
    assert_false(blob_safe_key_valid(KEY44, 44)); /* '/' is not allowed in a safe key */
    assert_int_equal(blob_safe_key(KEY, 43, sk), BP_EBADID);
    assert_int_equal(blob_safe_key("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abc.e=", 44, sk), BP_EBADID);

    char p[512], want[512];
    assert_int_equal(blob_path(p, sizeof p, "/r", ID, BLOB_DATA), 0);
    assert_string_equal(p, "/r/blob/01/" ID);
    assert_int_equal(blob_path(p, sizeof p, "/r", ID, BLOB_META), 0);
    assert_string_equal(p, "/r/blob/01/" ID ".metadata.ndjson");
    assert_int_equal(blob_path(p, sizeof p, "/r", ID, BLOB_ACTIVITY), 0);
    assert_string_equal(p, "/r/blob/01/" ID ".activity");
    assert_int_equal(blob_path(p, sizeof p, "/r", ID, BLOB_PLACEHOLDER), 0);
    assert_string_equal(p, "/r/blob/01/" ID ".placeholder");
    assert_int_equal(blob_archive_path(p, sizeof p, "/r", ID, BLOB_META), 0);
    assert_string_equal(p, "/r/data/archive/blob/01/" ID ".metadata.ndjson");
    assert_int_equal(blob_archive_path(p, sizeof p, "/r", ID, BLOB_PLACEHOLDER), BP_EBADID);
    assert_int_equal(blob_stage_path(p, sizeof p, "/r", SK44, false), 0);
    assert_string_equal(p, "/r/blobstage/Ab/" SK44);
    assert_int_equal(blob_stage_path(p, sizeof p, "/r", SK44, true), 0);
    assert_string_equal(p, "/r/blobstage/Ab/" SK44 ".cookie");
    assert_int_equal(blob_stage_path(p, sizeof p, "/r", KEY44, false), BP_EBADID);
    assert_int_equal(blob_path(p, sizeof p, "/r", "x/../y", BLOB_DATA), BP_EBADID);
    assert_int_equal(blob_path(p, 20, "/r", ID, BLOB_DATA), BP_ETOOBIG);

    /* blob_init: the directories and the checkup page's placeholder.txt */
    struct buf b = BUF_INIT;
    rel(want, sizeof want, "blob/placeholder.txt");
    read_file(want, &b);
    assert_string_equal(b.data, "PLACEHOLDER\n");
    rel(want, sizeof want, "blobstage");
    assert_true(fsu_exists(want));
    rel(want, sizeof want, "data/archive/blob");
    assert_true(fsu_exists(want));
    buf_free(&b);
}

static void test_stage_commit_cancel(void **state)
{
    char p[512];
    struct buf b = BUF_INIT;
    uint64_t size = 7;
    /* nothing staged */
    assert_int_equal(blob_stage_size(g_root, SK44, &size), BP_ENOENT);
    assert_int_equal(blob_stage_cancel(g_root, SK44), BP_ENOENT);
    assert_int_equal(blob_commit(g_root, SK44, ID, NULL, false), BP_ENOENT);
    assert_false(blob_exists(g_root, ID));
    /* two chunks, then commit */
    assert_int_equal(blob_stage_append(g_root, SK44, "hello ", 6, false), 0);
    assert_int_equal(blob_stage_append(g_root, SK44, "world", 5, true), 0);
    assert_int_equal(blob_stage_size(g_root, SK44, &size), 0);
    assert_int_equal(size, 11);
    char cookie[BLOB_COOKIE_LEN + 1];
    assert_int_equal(blob_cookie_new(g_root, SK44, cookie), 0);
    /* a stray metadata log of the target id must not survive an unowned commit */
    assert_int_equal(blob_meta_append(g_root, ID, "{\"owners\":[\"someone\"]}", 22, false), 0);
    assert_int_equal(blob_commit(g_root, SK44, ID, NULL, true), 0);
    assert_int_equal(blob_size(g_root, ID, &size, NULL), 0);
    assert_int_equal(size, 11);
    blob_path(p, sizeof p, g_root, ID, BLOB_DATA);
    read_file(p, &b);
    assert_string_equal(b.data, "hello world");
    blob_path(p, sizeof p, g_root, ID, BLOB_META);
    assert_false(fsu_exists(p));
    assert_int_equal(blob_stage_size(g_root, SK44, &size), BP_ENOENT);
    blob_stage_path(p, sizeof p, g_root, SK44, true);
    assert_false(fsu_exists(p)); /* the cookie went with the commit */

    /* never over a live blob; the stage stays for another id */
    assert_int_equal(blob_stage_append(g_root, SK44, "again", 5, false), 0);
    assert_int_equal(blob_commit(g_root, SK44, ID, NULL, false), BP_EEXIST);
    assert_int_equal(blob_commit(g_root, SK44, ID, KEY44, false), BP_EEXIST);
    blob_path(p, sizeof p, g_root, ID, BLOB_DATA);
    read_file(p, &b);
    assert_string_equal(b.data, "hello world");
    blob_path(p, sizeof p, g_root, ID, BLOB_META);
    assert_false(fsu_exists(p)); /* EEXIST wrote no owners */

    /* owned: metadata first, one line */
    assert_int_equal(blob_commit(g_root, SK44, ID2, "bad\"key", false), BP_EINVAL);
    assert_int_equal(blob_commit(g_root, SK44, ID2, KEY44, false), 0);
    assert_int_equal(blob_meta_read(g_root, ID2, &b), 0);
    blob_path(p, sizeof p, g_root, ID2, BLOB_META);
    read_file(p, &b);
    assert_string_equal(b.data, "{\"owners\":[\"" KEY44 "\"]}\n");
    /* Q17: later metadata lines go to the blob's own log */
    assert_int_equal(blob_meta_append(g_root, ID2, "[\"ADD_OWNERS\",[\"x\"],1]", 22, false), 0);
    read_file(p, &b);
    assert_string_equal(b.data, "{\"owners\":[\"" KEY44 "\"]}\n[\"ADD_OWNERS\",[\"x\"],1]\n");

    /* owned commit of an empty stage slot: ENOENT, and no metadata left behind */
    const char *id3 = "ffffffffffffffffffffffffffffffffffffffffffffffff";
    assert_int_equal(blob_commit(g_root, SK44, id3, KEY44, false), BP_ENOENT);
    blob_path(p, sizeof p, g_root, id3, BLOB_META);
    assert_false(fsu_exists(p));

    /* cancel */
    assert_int_equal(blob_stage_append(g_root, SK44, "x", 1, false), 0);
    assert_int_equal(blob_stage_cancel(g_root, SK44), 0);
    assert_int_equal(blob_stage_size(g_root, SK44, &size), BP_ENOENT);
    assert_int_equal(blob_stage_cancel(g_root, SK44), BP_ENOENT);
    /* bad keys and ids never reach the disk */
    assert_int_equal(blob_stage_append(g_root, "../../etc/passwd", "x", 1, false), BP_EBADID);
    assert_int_equal(blob_commit(g_root, SK44, "../x", NULL, false), BP_EBADID);
    buf_free(&b);
}

static void set_mtime_ago(const char *path, long long ms_ago)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long t = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ms_ago;
    struct timespec ts[2] = {{.tv_sec = t / 1000, .tv_nsec = (t % 1000) * 1000000},
                             {.tv_sec = t / 1000, .tv_nsec = (t % 1000) * 1000000}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static long long now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void test_cookies(void **state)
{
    char c1[BLOB_COOKIE_LEN + 1], c2[BLOB_COOKIE_LEN + 1], p[512];
    /* none yet */
    assert_int_equal(blob_cookie_check(g_root, SK44, "00000000000000000000000000000000", 32, now_ms()),
                     BP_EFORBIDDEN);
    assert_int_equal(blob_cookie_new(g_root, SK44, c1), 0);
    assert_int_equal(strlen(c1), 32);
    for (int i = 0; i < 32; i++)
        assert_true((c1[i] >= '0' && c1[i] <= '9') || (c1[i] >= 'a' && c1[i] <= 'f'));
    assert_int_equal(blob_cookie_check(g_root, SK44, c1, 32, now_ms()), 0);
    /* wrong length, wrong bytes */
    assert_int_equal(blob_cookie_check(g_root, SK44, c1, 31, now_ms()), BP_EFORBIDDEN);
    assert_int_equal(blob_cookie_check(g_root, SK44, "", 0, now_ms()), BP_EFORBIDDEN);
    char bad[33];
    memcpy(bad, c1, 33);
    bad[31] = bad[31] == '0' ? '1' : '0';
    assert_int_equal(blob_cookie_check(g_root, SK44, bad, 32, now_ms()), BP_EFORBIDDEN);
    /* rotation: the old one stops working */
    assert_int_equal(blob_cookie_new(g_root, SK44, c2), 0);
    assert_string_not_equal(c1, c2);
    assert_int_equal(blob_cookie_check(g_root, SK44, c1, 32, now_ms()), BP_EFORBIDDEN);
    assert_int_equal(blob_cookie_check(g_root, SK44, c2, 32, now_ms()), 0);
    /* expiry by the file's mtime: 4:50 old is fine, 5:10 is not */
    blob_stage_path(p, sizeof p, g_root, SK44, true);
    set_mtime_ago(p, 290 * 1000);
    assert_int_equal(blob_cookie_check(g_root, SK44, c2, 32, now_ms()), 0);
    set_mtime_ago(p, 310 * 1000);
    assert_int_equal(blob_cookie_check(g_root, SK44, c2, 32, now_ms()), BP_EFORBIDDEN);
    /* a fresh cookie is fresh again */
    assert_int_equal(blob_cookie_new(g_root, SK44, c1), 0);
    assert_int_equal(blob_cookie_check(g_root, SK44, c1, 32, now_ms()), 0);
    /* a bad key is refused, not a path */
    assert_int_equal(blob_cookie_check(g_root, "../x", c1, 32, now_ms()), BP_EFORBIDDEN);
    assert_int_equal(blob_cookie_new(g_root, "../x", c1), BP_EBADID);
}

static void test_archive_restore(void **state)
{
    char p[512], a[512];
    struct buf b = BUF_INIT;
    uint64_t size;
    assert_int_equal(blob_archive(g_root, ID, "R"), BP_ENOENT);
    assert_int_equal(blob_activity_touch(g_root, ID, 5), BP_ENOENT); /* no lone activity files */
    blob_path(p, sizeof p, g_root, ID, BLOB_ACTIVITY);
    assert_false(fsu_exists(p));

    assert_int_equal(blob_stage_append(g_root, SK44, "v1", 2, false), 0);
    assert_int_equal(blob_commit(g_root, SK44, ID, KEY44, false), 0);
    assert_int_equal(blob_activity_touch(g_root, ID, 1234), 0);
    read_file(p, &b);
    assert_string_equal(b.data, "1234");
    /* at most one write a minute (by the file's mtime) */
    assert_int_equal(blob_activity_touch(g_root, ID, now_ms()), 0);
    read_file(p, &b);
    assert_string_equal(b.data, "1234"); /* written just now */
    set_mtime_ago(p, 120 * 1000);
    long long t = now_ms();
    char want[32];
    assert_int_equal(blob_activity_touch(g_root, ID, t), 0);
    snprintf(want, sizeof want, "%lld", t);
    read_file(p, &b);
    assert_string_equal(b.data, want);
    assert_int_equal(blob_activity_touch(g_root, ID, t + 1000), 0);
    read_file(p, &b);
    assert_string_equal(b.data, want);
    assert_int_equal(blob_activity_touch(g_root, ID, t + 61000), 0);
    snprintf(want, sizeof want, "%lld", t + 61000);
    read_file(p, &b);
    assert_string_equal(b.data, want);

    assert_int_equal(blob_archive(g_root, ID, "MYREASON"), 0);
    assert_false(blob_exists(g_root, ID));
    struct buf reason = BUF_INIT;
    assert_int_equal(blob_size(g_root, ID, &size, &reason), BP_EDELETED);
    assert_int_equal(size, 0);
    assert_string_equal(reason.data, "MYREASON");
    blob_archive_path(a, sizeof a, g_root, ID, BLOB_DATA);
    read_file(a, &b);
    assert_string_equal(b.data, "v1");
    blob_archive_path(a, sizeof a, g_root, ID, BLOB_META);
    assert_true(fsu_exists(a));
    blob_archive_path(a, sizeof a, g_root, ID, BLOB_ACTIVITY);
    assert_true(fsu_exists(a));
    blob_path(p, sizeof p, g_root, ID, BLOB_META);
    assert_false(fsu_exists(p));
    assert_int_equal(blob_meta_read(g_root, ID, &b), BP_ENOENT);

    /* restore: refused over a live blob */
    assert_int_equal(blob_stage_append(g_root, SK44, "live", 4, false), 0);
    assert_int_equal(blob_commit(g_root, SK44, ID, NULL, false), 0);
    assert_int_equal(blob_restore(g_root, ID), BP_EEXIST);
    blob_path(p, sizeof p, g_root, ID, BLOB_DATA);
    read_file(p, &b);
    assert_string_equal(b.data, "live");
    /* archiving again overwrites the earlier archive, metadata included
     * (this blob has none, so the old archived log goes) */
    assert_int_equal(blob_archive(g_root, ID, NULL), 0);
    blob_archive_path(a, sizeof a, g_root, ID, BLOB_DATA);
    read_file(a, &b);
    assert_string_equal(b.data, "live");
    blob_archive_path(a, sizeof a, g_root, ID, BLOB_META);
    assert_false(fsu_exists(a));
    blob_archive_path(a, sizeof a, g_root, ID, BLOB_ACTIVITY);
    assert_false(fsu_exists(a));
    /* no reason: the earlier placeholder is still there */
    buf_reset(&reason);
    assert_int_equal(blob_size(g_root, ID, &size, &reason), BP_EDELETED);

    /* restore: back, placeholder gone */
    assert_int_equal(blob_restore(g_root, ID), 0);
    assert_int_equal(blob_size(g_root, ID, &size, NULL), 0);
    assert_int_equal(size, 4);
    blob_path(p, sizeof p, g_root, ID, BLOB_PLACEHOLDER);
    assert_false(fsu_exists(p));
    assert_int_equal(blob_restore(g_root, ID), BP_EEXIST);
    assert_int_equal(blob_restore(g_root, ID2), BP_ENOENT);

    /* an empty placeholder counts as none */
    assert_int_equal(blob_archive(g_root, ID, NULL), 0);
    assert_int_equal(fsu_write_atomic(p, "", 0, false), 0);
    assert_int_equal(blob_size(g_root, ID, &size, NULL), BP_ENOENT);
    buf_free(&b);
    buf_free(&reason);
}

/* fsu_walk_shards: every entry of every shard, nothing else. */
static void collect(void *ud, int shard_fd, const char *name)
{
    struct buf *b = ud;
    struct stat st;
    assert_int_equal(fstatat(shard_fd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
    buf_appends(b, name);
    buf_appendc(b, ';');
}

static void test_walk_shards(void **state)
{
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/walk", g_root);
    struct buf b = BUF_INIT;
    assert_int_equal(fsu_walk_shards(dir, collect, &b), BP_ENOENT);
    const char *files[] = {"ab/abc1", "ab/abc2", "cd/cde", ".hidden/x", "ef/.tmp-1"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        assert_int_equal(fsu_write_atomic(p, "x", 1, false), 0);
    }
    snprintf(p, sizeof p, "%s/plainfile", dir); /* not a shard */
    assert_int_equal(fsu_write_atomic(p, "x", 1, false), 0);
    snprintf(p, sizeof p, "%s/link", dir);      /* a symlinked shard is not followed */
    assert_int_equal(symlink(".hidden", p), 0);
    assert_int_equal(fsu_walk_shards(dir, collect, &b), 0);
    buf_appendc(&b, '\0');
    /* order is readdir's: check membership and count */
    assert_non_null(strstr(b.data, "abc1;"));
    assert_non_null(strstr(b.data, "abc2;"));
    assert_non_null(strstr(b.data, "cde;"));
    assert_non_null(strstr(b.data, ".tmp-1;")); /* entries are all passed: callers filter */
    assert_null(strstr(b.data, "x;"));
    int n = 0;
    for (const char *q = b.data; *q; q++)
        n += *q == ';';
    assert_int_equal(n, 4);
    buf_free(&b);
}

/* Abandoned stages: the walk lists stage and cookie files older than the
 * cutoff (and nothing else), stops at max, and the sweep removes only what is
 * still old when it runs. */
static void test_stage_sweep(void **state)
{
    (void)state;
    static const char *const SK_B = "BbCdEfGhIjKlMnOpQrStUvWxYz0123456789+-abcde=";
    static const char *const SK_C = "CbCdEfGhIjKlMnOpQrStUvWxYz0123456789+-abcde=";
    char p[FSU_PATH_MAX], cookie[BLOB_COOKIE_LEN + 1];
    struct buf b = BUF_INIT;
    bool more = true;
    long long now = (long long)time(NULL) * 1000;

    /* nothing staged: nothing listed */
    assert_int_equal(blob_stage_stale(g_root, now + 1000, 10, &b, &more), 0);
    assert_int_equal(b.len, 0);
    assert_false(more);

    /* SK44: stage and cookie two hours old; SK_B: an old stage, a fresh cookie;
     * SK_C: fresh; plus a stray file in a shard that must be left alone */
    assert_int_equal(blob_stage_append(g_root, SK44, "abandoned", 9, false), 0);
    assert_int_equal(blob_cookie_new(g_root, SK44, cookie), 0);
    blob_stage_path(p, sizeof p, g_root, SK44, false);
    set_mtime_ago(p, 7200 * 1000);
    blob_stage_path(p, sizeof p, g_root, SK44, true);
    set_mtime_ago(p, 7200 * 1000);
    assert_int_equal(blob_stage_append(g_root, SK_B, "old", 3, false), 0);
    blob_stage_path(p, sizeof p, g_root, SK_B, false);
    set_mtime_ago(p, 7200 * 1000);
    assert_int_equal(blob_cookie_new(g_root, SK_B, cookie), 0);
    assert_int_equal(blob_stage_append(g_root, SK_C, "new", 3, false), 0);
    char stray[FSU_PATH_MAX];
    snprintf(stray, sizeof stray, "%s/blobstage/Ab/notes.txt", g_root);
    assert_int_equal(fsu_write_atomic(stray, "x", 1, false), 0);
    set_mtime_ago(stray, 7200 * 1000);

    long long cutoff = now - 3600 * 1000;
    assert_int_equal(blob_stage_stale(g_root, cutoff, 10, &b, &more), 0);
    assert_false(more);
    buf_appendc(&b, '\0');
    char want[128];
    snprintf(want, sizeof want, "%s\n", SK44);
    assert_non_null(strstr(b.data, want));
    snprintf(want, sizeof want, "%s.cookie\n", SK44);
    assert_non_null(strstr(b.data, want));
    snprintf(want, sizeof want, "%s\n", SK_B);
    assert_non_null(strstr(b.data, want));
    assert_null(strstr(b.data, SK_C));
    snprintf(want, sizeof want, "%s.cookie", SK_B);
    assert_null(strstr(b.data, want)); /* fresh */
    assert_null(strstr(b.data, "notes"));
    assert_int_equal(b.len - 1, 3 * (BLOB_SAFE_KEY_LEN + 1) + 7);

    /* at most max: the rest is flagged */
    buf_free(&b);
    assert_int_equal(blob_stage_stale(g_root, cutoff, 2, &b, &more), 0);
    assert_true(more);
    int lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    assert_int_equal(lines, 2);
    buf_free(&b);

    /* the sweep, one file at a time: only what is still old goes; a file
     * written after the walk (SK_C, swept with a cutoff before its write)
     * stays; a second sweep of a removed file is a no-op */
    snprintf(want, sizeof want, "%s.cookie", SK44);
    assert_int_equal(blob_stage_sweep(g_root, SK44, BLOB_SAFE_KEY_LEN, cutoff), 1);
    assert_int_equal(blob_stage_sweep(g_root, want, strlen(want), cutoff), 1);
    assert_int_equal(blob_stage_sweep(g_root, SK44, BLOB_SAFE_KEY_LEN, cutoff), 0);
    uint64_t size;
    assert_int_equal(blob_stage_size(g_root, SK44, &size), BP_ENOENT);
    blob_stage_path(p, sizeof p, g_root, SK44, true);
    assert_false(fsu_exists(p));
    assert_int_equal(blob_stage_sweep(g_root, SK_B, BLOB_SAFE_KEY_LEN, cutoff), 1);
    assert_int_equal(blob_stage_size(g_root, SK_B, &size), BP_ENOENT);
    snprintf(want, sizeof want, "%s.cookie", SK_B);
    assert_int_equal(blob_stage_sweep(g_root, want, strlen(want), cutoff), 0);
    blob_stage_path(p, sizeof p, g_root, SK_B, true);
    assert_true(fsu_exists(p));
    assert_int_equal(blob_stage_sweep(g_root, SK_C, BLOB_SAFE_KEY_LEN, cutoff), 0);
    assert_int_equal(blob_stage_size(g_root, SK_C, &size), 0);
    assert_int_equal(size, 3);
    assert_true(fsu_exists(stray));
    /* names that are not stage files are refused and nothing is touched */
    assert_int_equal(blob_stage_sweep(g_root, "bad/key", 7, cutoff), BP_EBADID);
    assert_int_equal(blob_stage_sweep(g_root, "notes.txt", 9, now + 1000), BP_EBADID);
    snprintf(want, sizeof want, "%s.tmp", SK_C);
    assert_int_equal(blob_stage_sweep(g_root, want, strlen(want), now + 1000), BP_EBADID);
    assert_int_equal(blob_stage_size(g_root, SK_C, &size), 0);

    /* no blobstage directory at all: an empty list, not an error */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/blobstage'", g_root);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(blob_stage_stale(g_root, now, 10, &b, &more), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_commit_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
