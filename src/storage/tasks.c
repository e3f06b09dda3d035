/* tasks.c: scheduled tasks (see tasks.h for the file format).
 *
 * SCHEDULE IN MEMORY. The reference lists the whole tasks directory every 5
 * minutes, the first time 5 minutes after it starts. tasks_tick() does the
 * same, and also scans as soon as the earliest task it knows of is due: tasks_run() reports the earliest time left, and
 * tasks_add_expire() lowers it when a new task is written. Between scans a
 * tick costs two comparisons. Tasks that another process writes into the
 * directory (a CryptPad instance sharing the data, an admin) are found by the
 * periodic scan.
 *
 * The state is kept here, per process, for the one server of the process
 * (struct server has no slot for it; a second server resets it).
 */
#include "storage/tasks.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/rawjson.h"
#include "server/server.h"
#include "storage/fsutil.h"

#define TASK_FILE_MAX (64 * 1024) /* a task file is one short line */

void tasks_line(struct buf *out, long long time_ms, const char *command, const char *arg)
{
    buf_appendf(out, "[%lld,", time_ms);
    jsonw_cstr(out, command);
    buf_appendc(out, ',');
    jsonw_cstr(out, arg);
    buf_appends(out, "]\n");
}

/* JavaScript's d - d % MODULUS (% truncates toward zero in both languages). */
static long long day_start(long long t)
{
    return t - t % TASKS_DAY_MS;
}

int tasks_path(char *out, size_t cap, const char *root, long long time_ms, const char *line, size_t len)
{
    uint8_t h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, (const unsigned char *)line, len);
    char id[sodium_base64_ENCODED_LEN(crypto_hash_sha512_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(id, sizeof id, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    for (char *p = id; *p; p++)
        if (*p == '/')
            *p = '-';
    int n = snprintf(out, cap, "%s/data/tasks/%lld/%s.ndjson", root, day_start(time_ms), id);
    return n < 0 || (size_t)n >= cap ? BP_ETOOBIG : 0;
}

int tasks_write(const char *root, long long time_ms, const char *command, const char *arg)
{
    struct buf line = BUF_INIT;
    tasks_line(&line, time_ms, command, arg);
    char path[FSU_PATH_MAX];
    int rc = tasks_path(path, sizeof path, root, time_ms, line.data, line.len);
    if (rc == 0)
        rc = fsu_write_atomic(path, line.data, line.len, true);
    buf_free(&line);
    return rc;
}

/* The names in dir (without "." and ".."), from xmalloc; NULL if it cannot be read. */
static char **list_dir(const char *dir, size_t *n, int *err)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        *err = errno;
        return NULL;
    }
    size_t cap = 16;
    char **names = xmalloc(cap * sizeof *names);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*n == cap) {
            cap *= 2;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Runs one task file if due. Returns 1 if it ran, 0 if not (yet). */
static int run_file(const char *path, long long now_ms, tasks_run_fn run, void *ud, long long *next_due)
{
    struct buf b = BUF_INIT;
    int rc = fsu_read(path, TASK_FILE_MAX, &b);
    if (rc < 0) {
        if (rc != BP_ENOENT)
            LOG_WARN("tasks: cannot read %s: %s", path, bp_strerror(rc));
        buf_free(&b);
        return 0;
    }
    json_t *task = rawjson_load(b.data, b.len);
    buf_free(&b);
    const json_t *jt = json_array_get(task, 0), *jc = json_array_get(task, 1);
    if (!json_is_array(task) || json_array_size(task) < 2 || !json_is_number(jt) || !json_is_string(jc)) {
        /* The reference leaves such files for an admin to look at. */
        LOG_WARN("tasks: %s is not a task; left in place", path);
        json_decref(task);
        return 0;
    }
    long long t = (long long)json_number_value(jt);
    if (t > now_ms) {
        if (t < *next_due)
            *next_due = t;
        json_decref(task);
        return 0;
    }
    const json_t *ja = json_array_get(task, 2);
    rc = run(ud, json_string_value(jc), json_is_string(ja) ? json_string_value(ja) : "");
    if (rc < 0)
        LOG_WARN("tasks: %s (%s) failed: %s; removing it", path, json_string_value(jc), bp_strerror(rc));
    json_decref(task);
    if (unlink(path) != 0 && errno != ENOENT)
        LOG_WARN("tasks: cannot remove %s: %s", path, strerror(errno));
    return 1;
}

int tasks_run(const char *root, long long now_ms, tasks_run_fn run, void *ud, long long *next_due)
{
    *next_due = LLONG_MAX;
    char dir[FSU_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/data/tasks", root) >= (int)sizeof dir)
        return BP_ETOOBIG;
    size_t ndays;
    int err = 0;
    char **days = list_dir(dir, &ndays, &err);
    if (!days)
        return err == ENOENT ? 0 : bp_err_from_errno(err);
    long long window = day_start(now_ms + TASKS_DAY_MS); /* the start of tomorrow */
    int ran = 0;
    for (size_t i = 0; i < ndays; i++) {
        /* Day directories at or after tomorrow hold nothing due (the
         * reference skips them too). Other names (the old two-character
         * layout) are always looked at, as the reference does. */
        if (all_digits(days[i]) && strlen(days[i]) < 18) {
            long long t = atoll(days[i]);
            if (t >= window) {
                if (t < *next_due)
                    *next_due = t;
                continue;
            }
        }
        char sub[FSU_PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, days[i]) >= (int)sizeof sub)
            continue;
        struct stat st;
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        size_t nfiles;
        char **files = list_dir(sub, &nfiles, &err);
        if (!files) {
            LOG_WARN("tasks: cannot list %s: %s", sub, strerror(err));
            continue;
        }
        for (size_t j = 0; j < nfiles; j++) {
            char path[FSU_PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", sub, files[j]) >= (int)sizeof path)
                continue;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            ran += run_file(path, now_ms, run, ud, next_due);
        }
        free_list(files, nfiles);
        if (rmdir(sub) == 0)
            LOG_DEBUG("tasks: removed the empty directory %s", sub);
    }
    free_list(days, ndays);
    return ran;
}

/* ---- server glue --------------------------------------------------------- */

static struct {
    const struct server *srv;
    long long last_scan; /* ms; 0 = never */
    long long next_due;  /* earliest known task time; LLONG_MAX if none */
} g_sched;

static void sched_for(const struct server *srv)
{
    if (g_sched.srv != srv) {
        g_sched.srv = srv;
        g_sched.last_scan = 0;
        g_sched.next_due = LLONG_MAX;
    }
}

/* now + 100 months (the reference's "UI limit" for writing a task; it adds
 * months in local time, we do in UTC). */
static long long max_expire(long long now_ms)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mon += 100;
    return (long long)timegm(&tm) * 1000 + now_ms % 1000;
}

int tasks_add_expire(struct server *srv, long long time_ms, const char *chan)
{
    sched_for(srv);
    if (time_ms <= 0 || time_ms >= max_expire(server_now_ms()))
        return 0; /* no task: the history keeper still refuses the channel once expired */
    int rc = tasks_write(srv->cfg.data, time_ms, "EXPIRE", chan);
    if (rc < 0) {
        /* As the reference: logged, the channel is created anyway; reads and
         * writes are still refused after the time, and an access more than a
         * day late archives it. */
        LOG_ERROR("tasks: cannot write the EXPIRE task of %s (%lld): %s", chan, time_ms, bp_strerror(rc));
        return rc;
    }
    if (time_ms < g_sched.next_due)
        g_sched.next_due = time_ms;
    return 0;
}

static int run_task(void *ud, const char *command, const char *arg)
{
    struct server *srv = ud;
    if (strcmp(command, "EXPIRE") != 0)
        return BP_EINVAL;
    if (!store_id_valid(arg, strlen(arg)))
        return BP_EBADID;
    int rc = hk_archive_channel(srv, arg, "EXPIRED");
    if (rc == 0)
        LOG_INFO("tasks: channel %s expired: archived", arg);
    return rc == BP_ENOENT ? 0 : rc; /* already gone (owner, admin) */
}

void tasks_tick(struct server *srv)
{
    sched_for(srv);
    long long now = server_now_ms();
    if (!g_sched.last_scan)
        g_sched.last_scan = now; /* the first scan comes TASKS_SCAN_MS after start, as the reference's setInterval */
    if (now < g_sched.next_due && now - g_sched.last_scan < TASKS_SCAN_MS)
        return;
    g_sched.last_scan = now;
    long long next;
    int rc = tasks_run(srv->cfg.data, now, run_task, srv, &next);
    if (rc < 0)
        LOG_WARN("tasks: cannot read the tasks directory: %s", bp_strerror(rc));
    g_sched.next_due = next;
}
