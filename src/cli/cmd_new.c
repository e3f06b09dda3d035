/* cmd_new.c: `blindpad new code|markdown|slide [TEXT|-]`: creates a document
 * the way CryptPad's code/slide apps do (metadata at creation: validateKey,
 * owners, expire; first message = the JSON document) and prints its link. */
#include <ctype.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/crypto.h>
#include <blindpad/err.h>
#include <blindpad/link.h>
#include <blindpad/pad.h>

#include "cli/cli.h"
#include "cli/cmd_pad.h"
#include "cli/cmd_drive.h"

const char cli_usage_new[] =
    "usage: blindpad new code|markdown|slide [TEXT | -] [--password] [--expire DURATION]\n"
    "                    [--owned|--unowned] [--burn] [--title TITLE] [--mode MODE]\n"
    "\n"
    "Creates an encrypted document on the server (--server) and prints its edit link.\n"
    "`markdown` is a code pad in markdown mode (CryptPad's default for new code pads).\n"
    "The initial text is TEXT, or standard input with `-`, else empty.\n"
    "\n"
    "  --password      protect the link with a password ($BLINDPAD_PASSWORD or asked)\n"
    "  --expire D      the server deletes the document after D: N[smhdw] (e.g. 1d, 12h)\n"
    "  --owned         owned by your identity (the session's; one is created if needed);\n"
    "                  the default when logged in to an account, as in CryptPad\n"
    "  --unowned       owned by nobody (nobody can delete it; it expires when unpinned)\n"
    "  --burn          print a burn-after-reading link instead of the edit link: a\n"
    "                  read-only link whose first reader deletes the document (the edit\n"
    "                  link goes to stderr; both are in --json as burnLink and link)\n"
    "  --title T       the document's title (default \"Code - <date>\")\n"
    "  --mode M        code pads: the highlight mode (gfm, javascript, python, ...)\n"
    "\n"
    "With --json: {\"ok\":true,\"link\":...,\"view\":...,\"channel\":...[,\"burnLink\":...]}.\n";

/* "90", "90s", "15m", "12h", "1d", "2w" -> seconds; 0 on error. */
static unsigned long long parse_duration(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || v == 0 || v > 100ull * 365 * 86400)
        return 0;
    unsigned long long mul = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 's': mul = 1; break;
        case 'm': mul = 60; break;
        case 'h': mul = 3600; break;
        case 'd': mul = 86400; break;
        case 'w': mul = 7 * 86400; break;
        default: return 0;
        }
        if (end[1])
            return 0;
    }
    return v * mul;
}

int cmd_new(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"password", no_argument, NULL, 'p'}, {"expire", required_argument, NULL, 'e'},
        {"owned", no_argument, NULL, 'O'},    {"title", required_argument, NULL, 't'},
        {"burn", no_argument, NULL, 'B'},      {"unowned", no_argument, NULL, 'U'},
        {"mode", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bool want_pw = false, owned = false, unowned = false, burn = false;
    const char *expire = NULL, *title = NULL, *mode = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': want_pw = true; break;
        case 'e': expire = optarg; break;
        case 'O': owned = true; break;
        case 'B': burn = true; break;
        case 'U': unowned = true; break;
        case 't': title = optarg; break;
        case 'm': mode = optarg; break;
        case 'h': return cli_help(cli_usage_new);
        default: return cli_usage_error(cli, cli_usage_new, "unknown option");
        }
    }
    int nargs = argc - optind;
    if (nargs < 1 || nargs > 2)
        return cli_usage_error(cli, cli_usage_new, "new takes an app and an optional TEXT");
    const char *kind = argv[optind];
    const char *app;
    if (!strcmp(kind, "code")) {
        app = "code";
    } else if (!strcmp(kind, "markdown") || !strcmp(kind, "md")) {
        app = "code";
        if (mode && strcmp(mode, "gfm") && strcmp(mode, "markdown"))
            return cli_usage_error(cli, cli_usage_new, "markdown pads have mode gfm");
        mode = "gfm";
    } else if (!strcmp(kind, "slide")) {
        app = "slide";
    } else {
        return cli_usage_error(cli, cli_usage_new, "`%s`: blindpad can create code, markdown or "
                                                   "slide documents", kind);
    }
    if (mode && !strcmp(mode, "markdown"))
        mode = "gfm";
    struct bp_pad_create_opts co = {.highlight_mode = mode, .title = title};
    if (expire && !(co.expire_seconds = parse_duration(expire)))
        return cli_usage_error(cli, cli_usage_new, "--expire %s: expected N[smhdw], e.g. 1d", expire);
    char *text = NULL, *pw = NULL;
    size_t tl = 0;
    struct cli_session *sess = NULL;
    struct bp_pad *pad = NULL;
    unsigned char *bar_sk = NULL; /* burn after reading: the key the link carries */
    int rc = CLI_OK;
    if (nargs == 2 && strcmp(argv[optind + 1], "-") == 0) {
        if ((rc = cli_read_stdin(cli, &text, &tl)))
            goto out;
    } else if (nargs == 2) {
        text = strdup(argv[optind + 1]);
        if (!text) {
            rc = cli_fail(cli, CLI_LOCAL, "out of memory");
            goto out;
        }
        tl = strlen(text);
    }
    if (text && strlen(text) != tl) {
        rc = cli_fail(cli, CLI_USAGE, "the text contains a NUL byte");
        goto out;
    }
    co.text = text;
    if (want_pw) {
        if ((rc = cli_password(cli, "Password for the new document: ", &pw)))
            goto out;
        co.password = pw;
    }
    const char *owners[2];
    char bar_pk64[64] = "";
    if (owned && unowned) {
        rc = cli_usage_error(cli, cli_usage_new, "--owned and --unowned exclude each other");
        goto out;
    }
    if (!owned && !unowned) { /* logged in to an account here: its documents are its own */
        struct cli_session *peek = NULL;
        if (cli_session_load(cli, &peek) == 0 && strcmp(peek->kind, "account") == 0 &&
            strcmp(peek->server, cli->server) == 0)
            owned = true;
        cli_session_free(peek);
    }
    if (owned) {
        int e = cli_session_load(cli, &sess);
        if (e == BP_EFORBIDDEN) {
            rc = CLI_LOCAL;
            goto out;
        }
        if (e == 0 && strcmp(sess->server, cli->server) != 0) {
            rc = cli_fail(cli, CLI_USAGE, "your session is for %s, not %s: use --server %s",
                          sess->server, cli->server, sess->server);
            goto out;
        }
        if (e && e != BP_ENOENT) {
            rc = cli_fail(cli, CLI_LOCAL, "the session file is unreadable (%s)", bp_strerror(e));
            goto out;
        }
        if (!sess) {
            if (cli_session_create_anonymous(cli, cli->server, &sess)) {
                rc = CLI_LOCAL;
                goto out;
            }
            cli_note(cli, "created an anonymous identity in the session file: it owns this "
                          "document");
        }
        owners[co.n_owners++] = sess->ed_public;
        co.owners = owners;
    }
    if (burn) { /* the reader's key is an owner from the start (share.js adds it later) */
        unsigned char pk[32];
        if (!(bar_sk = sodium_malloc(64))) {
            rc = cli_fail(cli, CLI_LOCAL, "out of memory");
            goto out;
        }
        crypto_sign_keypair(pk, bar_sk);
        bp_crypto_b64_encode(pk, 32, BP_B64_STD, bar_pk64, sizeof bar_pk64, NULL);
        owners[co.n_owners++] = bar_pk64;
        co.owners = owners;
    }
    char err[512] = "";
    int e = bp_pad_create_url(cli->server, app, &co, &pad, err, sizeof err);
    if (e == BP_ENET || e == BP_ETIMEOUT) {
        rc = cli_fail_net(cli, cli->server, err);
        goto out;
    }
    if (e) {
        rc = err[0] ? cli_fail(cli, cli_exit_for(e), "cannot create the document: %s (%s)",
                               bp_strerror(e), err)
                    : cli_fail(cli, cli_exit_for(e), "cannot create the document: %s",
                               bp_strerror(e));
        goto out;
    }
    char url[CLI_ORIGIN_MAX + BP_LINK_HASH_MAX + 48], view[CLI_ORIGIN_MAX + BP_LINK_HASH_MAX + 48];
    bp_link_url(bp_pad_link(pad), cli->server, BP_LINK_EDIT, url, sizeof url);
    bp_link_url(bp_pad_link(pad), cli->server, BP_LINK_VIEW, view, sizeof view);
    cli_drive_add(cli, url, title, owned ? sess->ed_public : NULL); /* logged in: to the drive */
    char bar[sizeof view + 128] = "";
    if (burn && bp_link_burn_url(bp_pad_link(pad), cli->server, bar_sk, bar, sizeof bar)) {
        rc = cli_fail(cli, CLI_LOCAL, "cannot make the burn-after-reading link");
        goto out;
    }
    if (cli->json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:s, s:b}", "ok", 1, "link", url, "view", view,
                              "channel", bp_pad_link(pad)->channel, "app", app, "owned", (int)owned);
        if (j && burn)
            json_object_set_new(j, "burnLink", json_string(bar));
        cli_json_out(j);
    } else if (burn) {
        cli_note(cli, "the edit link (keep it to change or delete the document): %s", url);
        printf("%s\n", bar);
    } else {
        printf("%s\n", url);
    }
out:
    bp_pad_free(pad);
    sodium_free(bar_sk);
    cli_session_free(sess);
    free(text);
    sodium_free(pw);
    return rc;
}
