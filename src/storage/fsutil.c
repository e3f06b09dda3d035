/* fsutil.c: see fsutil.h. */
#include "storage/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

bool fsu_id_ok(const char *id, size_t len)
{
    if (len < 2 || len > 200)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '+' || ch == '=' || ch == '-' || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

int fsu_shard_path(char *out, size_t cap, const char *root, const char *dir, const char *id,
                   const char *suffix)
{
    if (!fsu_id_ok(id, strlen(id)))
        return BP_EBADID;
    int n = snprintf(out, cap, "%s%s%s/%.2s/%s%s", root, *dir ? "/" : "", dir, id, id, suffix ? suffix : "");
    if (n < 0 || (size_t)n >= cap)
        return BP_ETOOBIG;
    return 0;
}

int fsu_mkdirs_for(const char *path)
{
    char tmp[FSU_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof tmp)
        return BP_ETOOBIG;
    memcpy(tmp, path, len + 1);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return 0;
    *slash = '\0';
    struct stat st;
    if (stat(tmp, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : BP_EIO;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
            return bp_err_from_errno(errno);
        *p = '/';
    }
    if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
        return bp_err_from_errno(errno);
    return 0;
}

int fsu_read(const char *path, size_t max, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bp_err_from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return bp_err_from_errno(e);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return BP_ENOENT;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return BP_ETOOBIG;
    }
    size_t start = out->len;
    buf_reserve(out, (size_t)st.st_size + 1);
    for (;;) {
        if (out->len - start > max) {
            out->len = start;
            out->data[start] = '\0';
            close(fd);
            return BP_ETOOBIG;
        }
        buf_reserve(out, 4096);
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            out->len = start;
            out->data[start] = '\0';
            close(fd);
            return bp_err_from_errno(e);
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
    }
    out->data[out->len] = '\0';
    close(fd);
    if (out->len - start > max) {
        out->len = start;
        out->data[start] = '\0';
        return BP_ETOOBIG;
    }
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return bp_err_from_errno(errno);
        if (w == 0)
            return BP_EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fsu_write_atomic(const char *path, const void *data, size_t len, bool sync)
{
    int rc = fsu_mkdirs_for(path);
    if (rc < 0)
        return rc;
    char tmp[FSU_PATH_MAX];
    uint8_t r[6];
    char hex[13];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, hex);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return BP_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return bp_err_from_errno(errno);
    rc = write_all(fd, data, len);
    if (rc == 0 && sync && fsync(fd) < 0)
        rc = bp_err_from_errno(errno);
    if (close(fd) < 0 && rc == 0)
        rc = bp_err_from_errno(errno);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = bp_err_from_errno(errno);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int fsu_write_excl(const char *path, const void *data, size_t len, bool sync)
{
    int rc = fsu_mkdirs_for(path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return bp_err_from_errno(errno);
    rc = write_all(fd, data, len);
    if (rc == 0 && sync && fsync(fd) < 0)
        rc = bp_err_from_errno(errno);
    if (close(fd) < 0 && rc == 0)
        rc = bp_err_from_errno(errno);
    if (rc < 0)
        unlink(path); /* half a file must not block a retry */
    return rc;
}

int fsu_append(const char *path, const void *data, size_t len, bool sync)
{
    int rc = fsu_mkdirs_for(path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        return bp_err_from_errno(errno);
    struct stat st;
    off_t old = fstat(fd, &st) == 0 ? st.st_size : -1;
    rc = write_all(fd, data, len);
    if (rc == 0 && sync && fsync(fd) < 0)
        rc = bp_err_from_errno(errno);
    if (rc < 0 && old >= 0 && ftruncate(fd, old) < 0) {
        /* The torn tail stays; readers skip a line that does not parse. */
    }
    close(fd);
    return rc;
}

int fsu_move(const char *from, const char *to)
{
    int rc = fsu_mkdirs_for(to);
    if (rc < 0)
        return rc;
    if (rename(from, to) < 0)
        return bp_err_from_errno(errno);
    return 0;
}

int fsu_size(const char *path, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return bp_err_from_errno(errno);
    if (!S_ISREG(st.st_mode))
        return BP_ENOENT;
    *size = (uint64_t)st.st_size;
    return 0;
}

int fsu_mtime_ms(const char *path, long long *ms)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return bp_err_from_errno(errno);
    *ms = fsu_ts_ms(&st.st_mtim);
    return 0;
}

bool fsu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int fsu_unlink(const char *path)
{
    if (unlink(path) < 0)
        return bp_err_from_errno(errno);
    return 0;
}

int fsu_walk_shards(const char *dir, fsu_shard_fn fn, void *ud)
{
    DIR *d = opendir(dir);
    if (!d)
        return bp_err_from_errno(errno);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *s = fd >= 0 ? fdopendir(fd) : NULL;
        if (!s) { /* a file, a symlink, or gone meanwhile: not a shard */
            if (fd >= 0)
                close(fd);
            continue;
        }
        struct dirent *f;
        while ((f = readdir(s)))
            if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0)
                fn(ud, dirfd(s), f->d_name);
        closedir(s);
    }
    closedir(d);
    return 0;
}
