/* cmd_watch.c: `blindpad watch LINK`: prints a document's text, then the new
 * text each time it changes, until interrupted (or --count / --timeout). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindpad/err.h>
#include <blindpad/pad.h>

#include "cli/cli.h"
#include "cli/cmd_pad.h"

const char cli_usage_watch[] =
    "usage: blindpad watch LINK [--count N] [--timeout SECONDS] [--password]\n"
    "\n"
    "Prints the document's text, then the whole new text every time someone changes\n"
    "it (a line \"--- <time> <head>\" on stderr before each version). Stops on ^C,\n"
    "after N changes, or after SECONDS. With --json: one JSON object per version\n"
    "{\"text\":...,\"head\":...,\"hash\":...} per line.\n"
    "\n"
    "  --count N       stop after N changes\n"
    "  --timeout S     stop after S seconds\n"
    "  --password      the link's password ($BLINDPAD_PASSWORD or asked)\n";

static int show(struct cli *cli, struct bp_pad *pad)
{
    char *s = NULL;
    size_t n = 0;
    int e = bp_pad_text(pad, &s, &n);
    if (e == BP_EPROTO)
        e = bp_pad_content(pad, &s, &n);
    if (e)
        return e;
    char head[65], hash[65];
    bp_pad_head(pad, head);
    bp_pad_content_hash(pad, hash);
    if (cli->json) {
        cli_json_out(json_pack("{s:s%, s:s, s:s, s:s}", "text", s, n, "head", head, "hash", hash,
                               "lastKnownHash", bp_pad_last_hash(pad)));
    } else {
        char ts[32];
        time_t t = time(NULL);
        struct tm tm;
        strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&t, &tm));
        if (!cli->quiet)
            fprintf(stderr, "--- %s %.12s\n", ts, head);
        cli_write_text(stdout, s, n);
        if (n && s[n - 1] != '\n')
            fputc('\n', stdout);
    }
    fflush(stdout);
    free(s);
    return 0;
}

int cmd_watch(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"password", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool want_pw = false;
    long count = -1;
    double timeout = -1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            count = strtol(optarg, &end, 10);
            if (*end || count < 1)
                return cli_usage_error(cli, cli_usage_watch, "--count needs a positive number");
            break;
        case 't':
            timeout = strtod(optarg, &end);
            if (*end || timeout <= 0)
                return cli_usage_error(cli, cli_usage_watch, "--timeout needs seconds");
            break;
        case 'p': want_pw = true; break;
        case 'h': return cli_help(cli_usage_watch);
        default: return cli_usage_error(cli, cli_usage_watch, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_watch, "watch takes one LINK");
    struct bp_pad *pad = NULL;
    int rc = cli_pad_open(cli, argv[optind], want_pw, &pad);
    if (rc)
        return rc;
    int e = show(cli, pad);
    double t0 = cli_now();
    long seen = 0;
    while (!e && !cli_interrupted() && (count < 0 || seen < count) &&
           (timeout < 0 || cli_now() - t0 < timeout)) {
        int r = bp_pad_poll(pad, 200);
        if (r < 0)
            e = r;
        else if (r > 0) {
            seen++;
            e = show(cli, pad);
        }
    }
    if (e)
        rc = cli_pad_fail(cli, pad, "stopped watching", e);
    else if (cli_interrupted())
        rc = CLI_OK;
    bp_pad_free(pad);
    return rc;
}
