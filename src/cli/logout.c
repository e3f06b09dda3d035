/* logout.c: `blindpad logout`: wipes the session file (overwrite, sync, unlink). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>

#include <blindpad/err.h>

#include "cli/cli.h"

const char cli_usage_logout[] =
    "usage: blindpad logout\n"
    "\n"
    "Wipes the session file ($XDG_CONFIG_HOME/blindpad/session, else\n"
    "~/.config/blindpad/session): its bytes are overwritten with zeros and synced\n"
    "before it is unlinked. An anonymous identity made by `upload --owned` is lost\n"
    "with it: files it owns can no longer be deleted by you.\n";

int cmd_logout(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cli_usage_logout);
        return cli_usage_error(cli, cli_usage_logout, "unknown option");
    }
    if (optind != argc)
        return cli_usage_error(cli, cli_usage_logout, "logout takes no arguments");
    char path[PATH_MAX] = "";
    cli_session_path(path, sizeof path);
    int rc = cli_session_wipe();
    if (rc && rc != BP_ENOENT)
        return cli_fail(cli, CLI_LOCAL, "cannot remove %s: %s", path, bp_strerror(rc));
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:b, s:s}", "ok", 1, "removed", rc == 0, "path", path));
    else if (rc == BP_ENOENT)
        cli_note(cli, "no session (%s does not exist)", path);
    else
        cli_note(cli, "session wiped (%s)", path);
    return CLI_OK;
}
