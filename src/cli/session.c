/* session.c: the session file (format at cli_session in cli.h).
 *
 * Written atomically: a temporary file created O_EXCL with mode 0600 in the
 * 0700 directory, synced, renamed over the old one. Read only if the file is
 * ours and not readable by group or others (like ssh with its keys). Wiped by
 * overwriting its bytes with zeros, syncing and unlinking. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blindpad/crypto.h>
#include <blindpad/err.h>

#include "cli/cli.h"

#define SESSION_MAX 8192

static int config_dir(char *out, size_t cap)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    int n;
    if (x && x[0] == '/') {
        n = snprintf(out, cap, "%s/blindpad", x);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return BP_ENOENT;
        n = snprintf(out, cap, "%s/.config/blindpad", home);
    }
    return n < 0 || (size_t)n >= cap ? BP_ETOOBIG : 0;
}

int cli_session_path(char *out, size_t cap)
{
    char dir[PATH_MAX];
    int rc = config_dir(dir, sizeof dir);
    if (rc)
        return rc;
    size_t n = strlen(dir);
    if (n + sizeof "/session" > cap)
        return BP_ETOOBIG;
    memcpy(out, dir, n);
    memcpy(out + n, "/session", sizeof "/session");
    return 0;
}

void cli_session_free(struct cli_session *s)
{
    if (!s)
        return;
    sodium_free(s->sk);
    sodium_memzero(s, sizeof *s);
    free(s);
}

static struct cli_session *session_alloc(void)
{
    struct cli_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->sk = sodium_malloc(64);
    if (!s->sk) {
        free(s);
        return NULL;
    }
    return s;
}

/* Copies the value of "key=" from a line into out. */
static bool take(const char *line, size_t len, const char *key, char *out, size_t cap)
{
    size_t k = strlen(key);
    if (len <= k || memcmp(line, key, k) != 0 || line[k] != '=')
        return false;
    size_t v = len - k - 1;
    if (v + 1 > cap)
        return false;
    memcpy(out, line + k + 1, v);
    out[v] = '\0';
    return true;
}

int cli_session_load(struct cli *cli, struct cli_session **out)
{
    *out = NULL;
    char path[PATH_MAX];
    if (cli_session_path(path, sizeof path))
        return BP_ENOENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? BP_ENOENT : BP_EIO;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return BP_EIO;
    }
    if ((st.st_mode & 077) || st.st_uid != geteuid()) {
        close(fd);
        cli_fail(cli, CLI_LOCAL,
                 "%s is readable by others (mode %03o): it holds a secret key; run `chmod 600 %s` "
                 "if that was you, otherwise `blindpad logout`",
                 path, (unsigned)(st.st_mode & 0777), path);
        return BP_EFORBIDDEN;
    }
    char *text = sodium_malloc(SESSION_MAX);
    struct cli_session *s = session_alloc();
    if (!text || !s) {
        sodium_free(text);
        cli_session_free(s);
        close(fd);
        return BP_ENOMEM;
    }
    size_t n = 0;
    ssize_t r;
    while (n + 1 < SESSION_MAX && (r = read(fd, text + n, SESSION_MAX - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    text[n] = '\0';
    char *sk_b64 = sodium_malloc(128);
    bool have_sk = false, have_pk = false;
    int rc = sk_b64 ? 0 : BP_ENOMEM;
    for (char *line = text; rc == 0 && *line;) {
        size_t len = strcspn(line, "\n");
        if (take(line, len, "kind", s->kind, sizeof s->kind) ||
            take(line, len, "server", s->server, sizeof s->server)) {
        } else if (take(line, len, "edPublic", s->ed_public, sizeof s->ed_public)) {
            have_pk = bp_crypto_b64_key(s->ed_public, s->pk, 32) == 0;
        } else if (take(line, len, "edPrivate", sk_b64, 128)) {
            have_sk = bp_crypto_b64_key(sk_b64, s->sk, 64) == 0;
        }
        line += len;
        if (*line == '\n')
            line++;
    }
    sodium_free(sk_b64);
    sodium_free(text);
    if (rc == 0 && (!have_pk || !have_sk || !s->kind[0]))
        rc = BP_ECORRUPT;
    if (rc == 0) { /* the secret key must match the public key */
        unsigned char pk[32];
        bp_crypto_sign_sk_to_pk(s->sk, pk);
        if (sodium_memcmp(pk, s->pk, 32) != 0)
            rc = BP_ECORRUPT;
    }
    if (rc) {
        cli_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    if (strlen(dir) >= sizeof tmp)
        return BP_ETOOBIG;
    strcpy(tmp, dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return BP_EIO;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return BP_EIO;
    return 0;
}

static int session_save(const struct cli_session *s)
{
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 16];
    if (config_dir(dir, sizeof dir) || cli_session_path(path, sizeof path))
        return BP_ENOENT;
    int rc = mkdir_p(dir);
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    char *text = sodium_malloc(SESSION_MAX);
    if (!text)
        return BP_ENOMEM;
    char sk_b64[100];
    size_t sk_len = 0;
    bp_crypto_b64_encode(s->sk, 64, BP_B64_STD, sk_b64, sizeof sk_b64, &sk_len);
    int n = snprintf(text, SESSION_MAX,
                     "# blindpad session: secret, keep it 0600 (`blindpad logout` wipes it)\n"
                     "version=1\nkind=%s\nserver=%s\nedPublic=%s\nedPrivate=%s\n",
                     s->kind, s->server, s->ed_public, sk_b64);
    sodium_memzero(sk_b64, sizeof sk_b64);
    rc = BP_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        if (n > 0 && n < SESSION_MAX && fchmod(fd, 0600) == 0 &&
            write(fd, text, (size_t)n) == n && fsync(fd) == 0)
            rc = 0;
        close(fd);
        if (rc == 0 && rename(tmp, path) < 0)
            rc = BP_EIO;
        if (rc)
            unlink(tmp);
    }
    sodium_free(text);
    return rc;
}

int cli_session_create_anonymous(struct cli *cli, const char *server, struct cli_session **out)
{
    *out = NULL;
    struct cli_session *s = session_alloc();
    if (!s)
        return BP_ENOMEM;
    snprintf(s->kind, sizeof s->kind, "anonymous");
    snprintf(s->server, sizeof s->server, "%s", server);
    crypto_sign_keypair(s->pk, s->sk);
    size_t len;
    bp_crypto_b64_encode(s->pk, 32, BP_B64_STD, s->ed_public, sizeof s->ed_public, &len);
    int rc = session_save(s);
    if (rc) {
        char path[PATH_MAX] = "";
        cli_session_path(path, sizeof path);
        cli_fail(cli, CLI_LOCAL, "cannot write the session file %s: %s", path, bp_strerror(rc));
        cli_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cli_session_wipe(void)
{
    char path[PATH_MAX];
    if (cli_session_path(path, sizeof path))
        return BP_ENOENT;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return BP_ENOENT;
        /* Not writable (or a symlink): still remove the name. */
        return unlink(path) == 0 ? 0 : BP_EIO;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        static const unsigned char zeros[4096];
        off_t left = st.st_size;
        while (left > 0) {
            size_t k = left > (off_t)sizeof zeros ? sizeof zeros : (size_t)left;
            ssize_t w = write(fd, zeros, k);
            if (w <= 0) {
                rc = BP_EIO;
                break;
            }
            left -= w;
        }
        if (fsync(fd) < 0)
            rc = BP_EIO;
    }
    close(fd);
    if (unlink(path) < 0)
        rc = BP_EIO;
    return rc;
}
