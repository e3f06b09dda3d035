/* rm.c: `blindpad rm PATH|LINK`: moves an item of the drive to the trash
 * (as the web client's "Move to trash"), or with --forever takes it out of
 * the drive and unpins it; --destroy also deletes an owned document or file
 * on the server (REMOVE_OWNED_CHANNEL). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <blindpad/err.h>

#include "cli/cmd_drive.h"

const char cli_usage_rm[] =
    "usage: blindpad rm [--forever | --destroy] PATH|LINK\n"
    "\n"
    "Moves an item of your drive to the trash. PATH is a title or \"Folder/title\"\n"
    "(as `blindpad ls` shows it); LINK a document or file link, or its channel id.\n"
    "  --forever   remove it from the drive (not to the trash) and unpin it\n"
    "  --destroy   --forever, and delete it on the server if your account owns it\n"
    "Exit status 2 if nothing matches, 1 if several items match.\n";

int cmd_rm(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"forever", no_argument, NULL, 'f'},
                                         {"destroy", no_argument, NULL, 'D'},
                                         {NULL, 0, NULL, 0}};
    bool forever = false, destroy = false;
    int c;
    while ((c = getopt_long(argc, argv, "hf", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cli_usage_rm);
        if (c == 'f')
            forever = true;
        else if (c == 'D')
            destroy = forever = true;
        else
            return cli_usage_error(cli, cli_usage_rm, "unknown option");
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_rm, "rm takes one PATH or LINK");
    const char *what = argv[optind];
    struct cli_account_session as;
    int rc = cli_drive_session(cli, &as);
    if (rc)
        return rc;
    struct bp_drive *d = NULL;
    rc = cli_drive_open(cli, &as, &d);
    if (rc) {
        cli_drive_session_free(&as);
        return rc;
    }
    char chan[64] = "";
    int e = bp_drive_remove(d, what, !forever, chan, sizeof chan);
    if (e) {
        rc = cli_fail(cli, e == BP_EINVAL ? CLI_USAGE : cli_exit_for(e), "%s",
                      bp_drive_error(d)[0] ? bp_drive_error(d) : bp_strerror(e));
        goto out;
    }
    bool destroyed = false;
    if (destroy && chan[0]) {
        char arg[128];
        snprintf(arg, sizeof arg, "{\"channel\":\"%s\"}", chan);
        e = bp_drive_rpc(d, "REMOVE_OWNED_CHANNEL", arg, NULL);
        if (e) {
            rc = cli_fail(cli, CLI_SERVER, "removed from your drive, but not deleted on the "
                                           "server: %s", bp_drive_error(d));
            goto out;
        }
        destroyed = true;
    }
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "channel", chan, "where",
                               forever ? "removed" : "trash", "destroyed", destroyed));
    else
        printf("%s %s\n", destroyed ? "destroyed" : forever ? "removed" : "moved to the trash:",
               what);
out:
    bp_drive_free(d);
    cli_drive_session_free(&as);
    return rc;
}
