/* whoami.c: `blindpad whoami`: the identity in the session file (public part only). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>

#include <blindpad/err.h>

#include "cli/cli.h"

const char cli_usage_whoami[] =
    "usage: blindpad whoami\n"
    "\n"
    "Prints the session's kind (anonymous: made by `upload --owned`), its server and\n"
    "its public signing key (edPublic, the key that owns your files). Exit status 2\n"
    "when there is no session.\n";

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
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:s, s:s, s:s}", "ok", 1, "kind", s->kind, "server",
                               s->server, "edPublic", s->ed_public, "path", path));
    else
        printf("%s identity on %s\nedPublic: %s\nsession:  %s\n", s->kind, s->server,
               s->ed_public, path);
    cli_session_free(s);
    return CLI_OK;
}
