/* drive_cli.c: the account session and the drive, shared by ls, rm and the
 * upload/new hook (cmd_drive.h). The session file's username=/userHash=
 * lines (written by login.c) are read here: cli_session_load ignores them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <blindpad/client.h>
#include <blindpad/err.h>

#include "cli/cmd_drive.h"

#define SESSION_TEXT_MAX 8192

/* Reads key= from the session file into out (sodium_malloc'd scratch). */
static int session_value(const char *key, char *out, size_t cap)
{
    char path[PATH_MAX];
    if (cli_session_path(path, sizeof path))
        return BP_ENOENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? BP_ENOENT : BP_EIO;
    char *text = sodium_malloc(SESSION_TEXT_MAX);
    if (!text) {
        close(fd);
        return BP_ENOMEM;
    }
    size_t n = 0;
    ssize_t r;
    while (n + 1 < SESSION_TEXT_MAX && (r = read(fd, text + n, SESSION_TEXT_MAX - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    text[n] = '\0';
    int rc = BP_ENOENT;
    size_t k = strlen(key);
    for (char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > k && memcmp(line, key, k) == 0 && line[k] == '=') {
            size_t v = len - k - 1;
            rc = v + 1 > cap ? BP_ETOOBIG : 0;
            if (!rc) {
                memcpy(out, line + k + 1, v);
                out[v] = '\0';
            }
            break;
        }
        line += len;
        if (*line == '\n')
            line++;
    }
    sodium_free(text);
    return rc;
}

int cli_drive_session(struct cli *cli, struct cli_account_session *out)
{
    memset(out, 0, sizeof *out);
    int e = cli_session_load(cli, &out->s);
    if (e == BP_EFORBIDDEN)
        return CLI_LOCAL;
    if (e == BP_ENOENT)
        return cli_fail(cli, CLI_USAGE, "not logged in: `blindpad login USERNAME` first");
    if (e)
        return cli_fail(cli, CLI_LOCAL, "the session file is unreadable (%s); `blindpad logout` "
                                        "and log in again", bp_strerror(e));
    if (strcmp(out->s->kind, "account") != 0 ||
        session_value("userHash", out->user_hash, sizeof out->user_hash) ||
        session_value("username", out->username, sizeof out->username)) {
        cli_drive_session_free(out);
        return cli_fail(cli, CLI_USAGE, "the session is not an account's (it has no drive): "
                                        "`blindpad login USERNAME` first");
    }
    if (cli->server_given && strcmp(out->s->server, cli->server) != 0) {
        int rc = cli_fail(cli, CLI_USAGE, "your session is for %s, not %s: use --server %s",
                          out->s->server, cli->server, out->s->server);
        cli_drive_session_free(out);
        return rc;
    }
    snprintf(cli->server, sizeof cli->server, "%s", out->s->server);
    return 0;
}

void cli_drive_session_free(struct cli_account_session *as)
{
    cli_session_free(as->s);
    sodium_memzero(as, sizeof *as);
}

int cli_fail_drive(struct cli *cli, struct bp_drive *d, int e, const char *what)
{
    const char *t = d ? bp_drive_error(d) : "";
    if (!t[0] && d)
        t = bp_client_error(bp_drive_client(d));
    if (!t[0])
        t = bp_strerror(e);
    if (e == BP_ENET || e == BP_ETIMEOUT)
        return cli_fail_net(cli, cli->server, t);
    return cli_fail(cli, cli_exit_for(e), "%s: %s", what, t);
}

int cli_drive_open(struct cli *cli, struct cli_account_session *as, struct bp_drive **out)
{
    char err[512] = "";
    int e = bp_drive_open(cli->server, as->user_hash, as->s->pk, as->s->sk, 0, out, err,
                          sizeof err);
    if (e == BP_ENET || e == BP_ETIMEOUT)
        return cli_fail_net(cli, cli->server, err);
    if (e)
        return cli_fail(cli, cli_exit_for(e), "cannot open your drive: %s",
                        err[0] ? err : bp_strerror(e));
    return 0;
}

void cli_drive_add(struct cli *cli, const char *link, const char *title, const char *owner)
{
    struct cli_session *s = NULL;
    char user_hash[160];
    if (cli_session_load(cli, &s))
        return;
    bool mine = strcmp(s->kind, "account") == 0 && strcmp(s->server, cli->server) == 0 &&
                session_value("userHash", user_hash, sizeof user_hash) == 0;
    if (!mine) {
        cli_session_free(s);
        return;
    }
    char def[96];
    if (!title || !*title) {
        const char *p = strstr(link, "://");
        p = p ? strchr(p + 3, '/') : link;
        time_t t = time(NULL);
        struct tm tm;
        char day[32];
        strftime(day, sizeof day, "%Y-%m-%d", localtime_r(&t, &tm));
        snprintf(def, sizeof def, "%.*s - %s", p && *p == '/' ? (int)strcspn(p + 1, "/") : 0,
                 p && *p == '/' ? p + 1 : "", day);
        if (def[0] >= 'a' && def[0] <= 'z')
            def[0] = (char)(def[0] - 'a' + 'A');
        title = def;
    }
    struct bp_drive *d = NULL;
    char err[512] = "";
    int e = bp_drive_open(cli->server, user_hash, s->pk, s->sk, 0, &d, err, sizeof err);
    if (!e)
        e = bp_drive_add(d, link, title, owner);
    if (e)
        cli_note(cli, "not added to your drive: %s",
                 d && bp_drive_error(d)[0] ? bp_drive_error(d) : err[0] ? err : bp_strerror(e));
    bp_drive_free(d);
    sodium_memzero(user_hash, sizeof user_hash);
    cli_session_free(s);
}
