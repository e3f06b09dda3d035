/* whoami.c: `blindpad whoami`: the identity in the session file (public part only). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <blindpad/err.h>
#include <blindpad/mailbox.h>

#include "cli/cli.h"
#include "cli/cmd_drive.h"
#include "cli/cmd_mail.h"

const char cli_usage_whoami[] =
    "usage: blindpad whoami\n"
    "\n"
    "Prints the session's kind (anonymous: made by `upload --owned`), its server and\n"
    "its public signing key (edPublic, the key that owns your files). Exit status 2\n"
    "when there is no session.\n"
    "\n"
    "For an account (`blindpad login`) it also prints your contact address, the one\n"
    "others pass to `blindpad mail send`: <server>/#/mailbox/<channel>/<curve key>\n"
    "(your notifications mailbox, made if your drive has none, and your public curve\n"
    "key; nothing secret). It is read from your drive, so it needs the server.\n";

int cmd_whoami(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cli_usage_whoami);
        return cli_usage_error(cli, cli_usage_whoami, "unknown option");
    }
    if (optind != argc)
        return cli_usage_error(cli, cli_usage_whoami, "whoami takes no arguments");
    char path[PATH_MAX] = "";
    cli_session_path(path, sizeof path);
    struct cli_session *s;
    int rc = cli_session_load(cli, &s);
    if (rc == BP_EFORBIDDEN)
        return CLI_LOCAL;
    if (rc == BP_ENOENT)
        return cli_fail(cli, CLI_NOTFOUND, "no session (%s does not exist)", path);
    if (rc)
        return cli_fail(cli, CLI_LOCAL, "%s: %s; `blindpad logout` removes it", path,
                        bp_strerror(rc));
    /* An account's contact address comes from its drive. Failures are notes:
     * the rest of whoami works offline. (A copy of cli without --json, so
     * that a failure does not print a JSON error on stdout.) */
    char address[BP_MAILBOX_ADDR_MAX] = "";
    if (strcmp(s->kind, "account") == 0) {
        struct cli quiet = *cli;
        quiet.json = false;
        struct cli_account_session as;
        struct bp_drive *d = NULL;
        if (cli_drive_session(&quiet, &as) == 0) {
            if (cli_drive_open(&quiet, &as, &d) == 0) {
                int e = cli_mail_address(&quiet, d, address, sizeof address);
                if (e) {
                    address[0] = '\0';
                    cli_note(cli, "no contact address: %s",
                             bp_drive_error(d)[0] ? bp_drive_error(d) : bp_strerror(e));
                }
            }
            bp_drive_free(d);
            cli_drive_session_free(&as);
        }
    }
    if (cli->json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:s}", "ok", 1, "kind", s->kind, "server",
                              s->server, "edPublic", s->ed_public, "path", path);
        if (j && address[0])
            json_object_set_new(j, "address", json_string(address));
        cli_json_out(j);
    } else {
        printf("%s identity on %s\nedPublic: %s\nsession:  %s\n", s->kind, s->server,
               s->ed_public, path);
        if (address[0])
            printf("address:  %s\n", address);
    }
    cli_session_free(s);
    return CLI_OK;
}
