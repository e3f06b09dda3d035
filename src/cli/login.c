/* login.c: `blindpad login USERNAME`, and what register and login share:
 * asking the password, calling libblindpad, writing the session file.
 *
 * The session file gets kind=account, the server, the account's edPublic /
 * edPrivate (read from the drive, so `upload --owned` owns files by the
 * account, as the web client does), username= and userHash= (the drive's
 * edit hash: a secret, like edPrivate). session.c's reader ignores the keys
 * it does not know. Written like session.c does: a 0600 O_EXCL temporary in
 * the 0700 directory, synced, renamed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blindpad/crypto.h>
#include <blindpad/err.h>

#include "cli/cmd_account.h"

const char cli_usage_login[] =
    "usage: blindpad login [--server URL] USERNAME\n"
    "\n"
    "Logs in to an account (made here with `blindpad register` or in CryptPad's web\n"
    "client): finds the login block from the user name and password, opens the\n"
    "account's drive and keeps the account's keys in the session file (mode 0600;\n"
    "`blindpad logout` wipes it). The password comes from $BLINDPAD_PASSWORD, or is\n"
    "asked on the terminal. Exit status 3 for a wrong password or user name, 2 for a\n"
    "deleted account.\n";

int cmd_login(struct cli *cli, int argc, char **argv)
{
    return cli_account_run(cli, argc, argv, false);
}

static int mkdir_700(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return BP_ETOOBIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return BP_EIO;
        *p = '/';
    }
    return 0;
}

int cli_account_session_save(const struct bp_account *a)
{
    enum { MAX = 8192 };
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    int rc = cli_session_path(path, sizeof path);
    if (rc)
        return rc;
    rc = mkdir_700(path); /* every parent of the file */
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    char *text = sodium_malloc(MAX);
    char *sk = sodium_malloc(100);
    if (!text || !sk) {
        if (text)
            sodium_free(text);
        if (sk)
            sodium_free(sk);
        return BP_ENOMEM;
    }
    size_t len;
    bp_crypto_b64_encode(a->ed_sk, 64, BP_B64_STD, sk, 100, &len);
    int n = snprintf(text, MAX,
                     "# blindpad session: secret, keep it 0600 (`blindpad logout` wipes it)\n"
                     "version=1\nkind=account\nserver=%s\nusername=%s\nuserHash=%s\n"
                     "edPublic=%s\nedPrivate=%s\ncurvePublic=%s\n",
                     a->server, a->username, a->user_hash, a->ed_public, sk, a->curve_public);
    sodium_free(sk);
    rc = BP_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        if (n > 0 && n < MAX && fchmod(fd, 0600) == 0 && write(fd, text, (size_t)n) == n &&
            fsync(fd) == 0)
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

int cli_account_run(struct cli *cli, int argc, char **argv, bool reg)
{
    const char *usage = reg ? cli_usage_register : cli_usage_login;
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(usage);
        return cli_usage_error(cli, usage, "unknown option");
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, usage, "%s takes one USERNAME", reg ? "register" : "login");
    const char *username = argv[optind];
    if (!*username)
        return cli_usage_error(cli, usage, "the user name is empty");
    char *pw = NULL;
    int rc = cli_password(cli, "Password: ", &pw);
    if (rc)
        return rc;
    if (reg && !getenv("BLINDPAD_PASSWORD")) { /* typed: ask twice */
        char *again = NULL;
        rc = cli_password(cli, "Password again: ", &again);
        if (rc) {
            sodium_free(pw);
            return rc;
        }
        bool same = strcmp(pw, again) == 0;
        sodium_free(again);
        if (!same) {
            sodium_free(pw);
            return cli_fail(cli, CLI_USAGE, "the passwords differ; nothing was created");
        }
    }
    struct bp_account *a = NULL;
    char err[512] = "";
    int e = reg ? bp_account_register(cli->server, username, pw, NULL, &a, err, sizeof err)
                : bp_account_login(cli->server, username, pw, NULL, &a, err, sizeof err);
    sodium_free(pw);
    if (e) {
        const char *what = err[0] ? err : bp_strerror(e);
        switch (e) {
        case BP_ENET:
        case BP_ETIMEOUT:
        case BP_ECLOSED:
            return cli_fail_net(cli, cli->server, what);
        case BP_EAUTH:
            return cli_fail(cli, CLI_AUTH, "wrong password or user name");
        case BP_EEXIST:
            return cli_fail(cli, CLI_SERVER, "%s: `blindpad login %s` if it is yours", what,
                            username);
        case BP_EDELETED:
            if (!reg && strcmp(what, "PASSWORD_CHANGE") == 0)
                return cli_fail(cli, CLI_NOTFOUND,
                                "this password was changed: log in with the new password");
            if (!reg)
                return cli_fail(cli, CLI_NOTFOUND, "this account was deleted (%s)", what);
            return cli_fail(cli, CLI_NOTFOUND, "%s", what);
        case BP_EINVAL:
            return cli_fail(cli, CLI_USAGE, "%s", what);
        default:
            return cli_fail(cli, cli_exit_for(e), "%s failed: %s", reg ? "registration" : "login",
                            what);
        }
    }
    e = cli_account_session_save(a);
    if (e) {
        char path[PATH_MAX] = "";
        cli_session_path(path, sizeof path);
        bp_account_free(a);
        return cli_fail(cli, CLI_LOCAL, "cannot write the session file %s: %s", path,
                        bp_strerror(e));
    }
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:s, s:s, s:b}", "ok", 1, "username", a->username,
                               "server", a->server, "edPublic", a->ed_public, "legacy",
                               a->legacy != 0));
    else
        printf("%s %s on %s\nedPublic: %s\n", reg ? "registered" : "logged in as", a->username,
               a->server, a->ed_public);
    bp_account_free(a);
    return CLI_OK;
}
