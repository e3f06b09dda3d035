/* ls.c: `blindpad ls [PATH]`: the folders, documents and files of the
 * logged-in account's drive (blindpad/drive.h), as the web client shows
 * them. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <blindpad/err.h>

#include "cli/cmd_drive.h"

const char cli_usage_ls[] =
    "usage: blindpad ls [--trash] [PATH]\n"
    "\n"
    "Lists a folder of your drive (the account of `blindpad login`): the root, or\n"
    "PATH (\"Folder/Sub\"). Folders first (ending in '/'), then documents and files:\n"
    "type, title and link. --trash lists the trash. --json prints an array of\n"
    "{name, kind, title, type, href, channel, ...}.\n";

int cmd_ls(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, {"trash", no_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
    bool trash = false;
    int c;
    while ((c = getopt_long(argc, argv, "ht", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cli_usage_ls);
        if (c == 't')
            trash = true;
        else
            return cli_usage_error(cli, cli_usage_ls, "unknown option");
    }
    if (argc - optind > 1)
        return cli_usage_error(cli, cli_usage_ls, "ls takes at most one PATH");
    const char *path = optind < argc ? argv[optind] : "";
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
    json_t *list = NULL;
    int e = bp_drive_list(d, path, trash, &list);
    if (e) {
        rc = cli_fail(cli, cli_exit_for(e), "%s",
                      bp_drive_error(d)[0] ? bp_drive_error(d) : bp_strerror(e));
    } else if (cli->json) {
        cli_json_out(json_incref(list));
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(list, i, it) {
            const char *kind = json_string_value(json_object_get(it, "kind"));
            const char *name = json_string_value(json_object_get(it, "name"));
            /* titles may come from documents others edit: no controls to the terminal */
            if (!name)
                name = "";
            if (kind && strcmp(kind, "folder") == 0) {
                printf("%-8s ", "folder");
                cli_write_safe(stdout, name, strlen(name));
                fputs("/\n", stdout);
                continue;
            }
            const char *href = json_string_value(json_object_get(it, "href"));
            if (!href || !*href)
                href = json_string_value(json_object_get(it, "roHref"));
            printf("%-8s ", json_string_value(json_object_get(it, "type")));
            cli_write_safe(stdout, name, strlen(name));
            printf("\t%s%s\n", href && *href == '/' ? cli->server : "", href ? href : "");
        }
    }
    json_decref(list);
    bp_drive_free(d);
    cli_drive_session_free(&as);
    return rc;
}
