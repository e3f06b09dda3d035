/* passwd.c: `blindpad passwd USERNAME`: changes an account's password the
 * way CryptPad's settings page does (bp_drive_change_password), then logs in
 * with the new one and saves the session. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/account.h>
#include <blindpad/err.h>

#include "cli/cmd_account.h"
#include "cli/cmd_drive.h"

const char cli_usage_passwd[] =
    "usage: blindpad passwd USERNAME\n"
    "\n"
    "Changes the password of an account: copies the drive, writes a new login block\n"
    "(with the proof that you had the old one), removes the old block (a login with\n"
    "the old password then says that it was changed) and logs in with the new\n"
    "password. The passwords come from $BLINDPAD_PASSWORD and $BLINDPAD_NEW_PASSWORD,\n"
    "or are asked on the terminal. Exit status 3 for a wrong old password, 5 if the\n"
    "new credentials already belong to an account.\n";

int cmd_passwd(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cli_usage_passwd);
        return cli_usage_error(cli, cli_usage_passwd, "unknown option");
    }
    if (argc - optind != 1 || !*argv[optind])
        return cli_usage_error(cli, cli_usage_passwd, "passwd takes one USERNAME");
    const char *username = argv[optind];
    char *old = NULL, *nw = NULL;
    int rc = cli_password(cli, "Current password: ", &old);
    if (rc)
        return rc;
    const char *env = getenv("BLINDPAD_NEW_PASSWORD");
    if (env) {
        size_t n = strlen(env);
        nw = sodium_malloc(n + 1);
        if (!nw) {
            sodium_free(old);
            return cli_fail(cli, CLI_LOCAL, "out of memory");
        }
        memcpy(nw, env, n + 1);
    } else {
        /* cli_password reads $BLINDPAD_PASSWORD first: ask the terminal */
        unsetenv("BLINDPAD_PASSWORD");
        char *again = NULL;
        if ((rc = cli_password(cli, "New password: ", &nw)) ||
            (rc = cli_password(cli, "New password again: ", &again))) {
            sodium_free(old);
            sodium_free(nw);
            return rc;
        }
        bool same = strcmp(nw, again) == 0;
        sodium_free(again);
        if (!same) {
            sodium_free(old);
            sodium_free(nw);
            return cli_fail(cli, CLI_USAGE, "the new passwords differ; nothing was changed");
        }
    }
    char err[512] = "";
    int e = bp_drive_change_password(cli->server, username, old, nw, 0, NULL, 0, err, sizeof err);
    sodium_free(old);
    if (e) {
        sodium_free(nw);
        const char *what = err[0] ? err : bp_strerror(e);
        switch (e) {
        case BP_ENET:
        case BP_ETIMEOUT:
            return cli_fail_net(cli, cli->server, what);
        case BP_EAUTH:
            return cli_fail(cli, CLI_AUTH, "wrong password or user name");
        case BP_EEXIST:
            return cli_fail(cli, CLI_SERVER, "%s", what);
        case BP_EINVAL:
            return cli_fail(cli, CLI_USAGE, "%s", what);
        case BP_EDELETED:
            return cli_fail(cli, CLI_NOTFOUND, "this account was deleted or its password "
                                               "already changed (%s)", what);
        default:
            return cli_fail(cli, cli_exit_for(e), "password change failed: %s", what);
        }
    }
    struct bp_account *a = NULL;
    e = bp_account_login(cli->server, username, nw, NULL, &a, err, sizeof err);
    sodium_free(nw);
    if (e)
        return cli_fail(cli, cli_exit_for(e), "the password was changed, but the login with the "
                                              "new one failed: %s", err[0] ? err : bp_strerror(e));
    e = cli_account_session_save(a);
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:s}", "ok", 1, "username", a->username, "edPublic",
                               a->ed_public));
    else
        printf("password changed for %s; logged in with the new password\n", a->username);
    bp_account_free(a);
    if (e)
        cli_note(cli, "cannot write the session file: %s", bp_strerror(e));
    return CLI_OK;
}
