/* cmd_append.c: `blindpad append LINK [TEXT | -]`: appends text to a text
 * document (on the latest content: concurrent writers are merged). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/err.h>
#include <blindpad/pad.h>

#include "cli/cli.h"
#include "cli/cmd_pad.h"

const char cli_usage_append[] =
    "usage: blindpad append LINK [TEXT | -] [--no-newline] [--password]\n"
    "\n"
    "Appends TEXT (or standard input, with `-` or no TEXT) to a code, markdown or\n"
    "slide document. TEXT gets a trailing newline unless it has one or --no-newline.\n"
    "\n"
    "  -n, --no-newline  append TEXT exactly as given\n"
    "  --password        the link's password ($BLINDPAD_PASSWORD or asked)\n";

/* After a write: wait a little for a concurrent writer's message that could
 * still beat ours, so that the change is in before we exit. */
#define SETTLE_MS 300

int cmd_append(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"no-newline", no_argument, NULL, 'n'},
                                         {"password", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool nonl = false, want_pw = false;
    int c;
    while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
        switch (c) {
        case 'n': nonl = true; break;
        case 'p': want_pw = true; break;
        case 'h': return cli_help(cli_usage_append);
        default: return cli_usage_error(cli, cli_usage_append, "unknown option");
        }
    }
    int nargs = argc - optind;
    if (nargs < 1 || nargs > 2)
        return cli_usage_error(cli, cli_usage_append, "append takes a LINK and an optional TEXT");
    char *text = NULL;
    size_t tl = 0;
    int rc;
    bool from_stdin = nargs == 1 || strcmp(argv[optind + 1], "-") == 0;
    if (from_stdin) {
        if ((rc = cli_read_stdin(cli, &text, &tl)))
            return rc;
    } else {
        const char *a = argv[optind + 1];
        tl = strlen(a);
        text = malloc(tl + 2);
        if (!text)
            return cli_fail(cli, CLI_LOCAL, "out of memory");
        memcpy(text, a, tl);
        if (!nonl && (tl == 0 || a[tl - 1] != '\n'))
            text[tl++] = '\n';
        text[tl] = '\0';
    }
    struct bp_pad *pad = NULL;
    if ((rc = cli_pad_open(cli, argv[optind], want_pw, &pad))) {
        free(text);
        return rc;
    }
    int e = bp_pad_append(pad, text, tl);
    for (int i = 0; !e && i < SETTLE_MS / 100; i++) {
        int r = bp_pad_poll(pad, 100);
        if (r < 0)
            e = r;
    }
    if (e < 0) {
        rc = cli_pad_fail(cli, pad, "cannot append", e);
    } else if (cli->json) {
        char head[65];
        bp_pad_head(pad, head);
        cli_json_out(json_pack("{s:b, s:I, s:s, s:s}", "ok", 1, "appended", (json_int_t)tl, "head",
                               head, "lastKnownHash", bp_pad_last_hash(pad)));
    }
    free(text);
    bp_pad_free(pad);
    return rc;
}
