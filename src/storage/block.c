/* block.c: login blocks on disk; the layout is documented in block.h. */
#include "storage/block.h"

#include <string.h>

#include "common/err.h"
#include "storage/fsutil.h"

bool block_safe_key(const char *key, size_t len, char out[BLOCK_KEY_LEN + 1])
{
    if (len != BLOCK_KEY_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '=' || c == '-' || c == '/';
        if (!ok)
            return false;
        out[i] = c == '/' ? '-' : c;
    }
    out[len] = '\0';
    return true;
}

void block_unsafe_key(const char *safe, char out[BLOCK_KEY_LEN + 1])
{
    for (size_t i = 0; i < BLOCK_KEY_LEN; i++)
        out[i] = safe[i] == '-' ? '/' : safe[i];
    out[BLOCK_KEY_LEN] = '\0';
}

int block_path(char *out, size_t cap, const char *root, const char *safe, enum block_file which)
{
    char chk[BLOCK_KEY_LEN + 1];
    if (!block_safe_key(safe, strlen(safe), chk) || strchr(safe, '/'))
        return BP_EBADID;
    switch (which) {
    case BLOCK_LIVE:
        return fsu_shard_path(out, cap, root, "block", safe, "");
    case BLOCK_PLACEHOLDER:
        return fsu_shard_path(out, cap, root, "block", safe, ".placeholder");
    case BLOCK_ARCHIVED:
        return fsu_shard_path(out, cap, root, "data/archive/block", safe, "");
    }
    return BP_EINVAL;
}

bool block_exists(const char *root, const char *safe)
{
    char p[FSU_PATH_MAX];
    uint64_t size;
    return block_path(p, sizeof p, root, safe, BLOCK_LIVE) == 0 && fsu_size(p, &size) == 0;
}

int block_write(const char *root, const char *safe, const void *data, size_t len)
{
    char live[FSU_PATH_MAX], arch[FSU_PATH_MAX], ph[FSU_PATH_MAX];
    int rc;
    if ((rc = block_path(live, sizeof live, root, safe, BLOCK_LIVE)) < 0 ||
        (rc = block_path(arch, sizeof arch, root, safe, BLOCK_ARCHIVED)) < 0 ||
        (rc = block_path(ph, sizeof ph, root, safe, BLOCK_PLACEHOLDER)) < 0)
        return rc;
    struct buf old = BUF_INIT;
    rc = fsu_read(live, BLOCK_MAX_SIZE * 16, &old);
    if (rc == 0) {
        /* Copy rather than move, so the live name never goes missing. As in
         * the reference, a failed archive does not stop the write. */
        if (fsu_write_atomic(arch, old.data, old.len, true) == 0)
            (void)fsu_write_atomic(ph, "PASSWORD_CHANGE", 15, true);
    } else if (rc == BP_ETOOBIG) {
        /* An oversized legacy block: move it (no copy in memory). */
        if (fsu_move(live, arch) == 0)
            (void)fsu_write_atomic(ph, "PASSWORD_CHANGE", 15, true);
    }
    buf_free(&old);
    return fsu_write_atomic(live, data, len, true);
}

int block_archive(const char *root, const char *safe, const char *reason, size_t reason_len)
{
    char live[FSU_PATH_MAX], arch[FSU_PATH_MAX], ph[FSU_PATH_MAX];
    int rc;
    if ((rc = block_path(live, sizeof live, root, safe, BLOCK_LIVE)) < 0 ||
        (rc = block_path(arch, sizeof arch, root, safe, BLOCK_ARCHIVED)) < 0 ||
        (rc = block_path(ph, sizeof ph, root, safe, BLOCK_PLACEHOLDER)) < 0)
        return rc;
    uint64_t size;
    if ((rc = fsu_size(live, &size)) < 0)
        return rc;
    if ((rc = fsu_move(live, arch)) < 0)
        return rc;
    if (reason)
        (void)fsu_write_atomic(ph, reason, reason_len, true);
    return 0;
}

int block_restore(const char *root, const char *safe)
{
    char live[FSU_PATH_MAX], arch[FSU_PATH_MAX], ph[FSU_PATH_MAX];
    int rc;
    if ((rc = block_path(live, sizeof live, root, safe, BLOCK_LIVE)) < 0 ||
        (rc = block_path(arch, sizeof arch, root, safe, BLOCK_ARCHIVED)) < 0 ||
        (rc = block_path(ph, sizeof ph, root, safe, BLOCK_PLACEHOLDER)) < 0)
        return rc;
    if (fsu_exists(live))
        return BP_EEXIST;
    uint64_t size;
    if ((rc = fsu_size(arch, &size)) < 0)
        return rc;
    if ((rc = fsu_move(arch, live)) < 0)
        return rc;
    (void)fsu_unlink(ph);
    return 0;
}

int block_read_placeholder(const char *root, const char *safe, struct buf *out)
{
    char ph[FSU_PATH_MAX];
    int rc = block_path(ph, sizeof ph, root, safe, BLOCK_PLACEHOLDER);
    if (rc < 0)
        return rc;
    return fsu_read(ph, BLOCK_PLACEHOLDER_MAX, out);
}
