/* share.c: `blindpad share LINK [--view]`: the link to give to someone.
 *
 * Without --view: the link as CryptPad rebuilds it (Hash.getHashes; only
 * the "p/" option kept). With --view: the read-only link of a document
 * (same channel and encryption key, the signing key left out). A file link
 * has no read-only form: it is printed as it is. Nothing goes over the
 * network. A password-protected document link needs its password to derive
 * the view link (the keys depend on it). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include <blindpad/err.h>
#include <blindpad/link.h>

#include "cli/cli.h"

const char cli_usage_share[] =
    "usage: blindpad share LINK [--view] [--password]\n"
    "\n"
    "Prints the link to share. With --view, the read-only link of a document (the\n"
    "receiver can read but not change it). Works offline. A file link has no\n"
    "read-only form and is printed as it is.\n"
    "\n"
    "  --view          the read-only (view) link\n"
    "  --password      the link's password ($BLINDPAD_PASSWORD or asked); needed for\n"
    "                  --view when the link has /p/\n";

int cmd_share(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"view", no_argument, NULL, 'v'}, {"password", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool view = false, want_pw = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'v': view = true; break;
        case 'p': want_pw = true; break;
        case 'h': return cli_help(cli_usage_share);
        default: return cli_usage_error(cli, cli_usage_share, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_share, "share takes one LINK");
    const char *arg = argv[optind];
    struct bp_link *l = NULL, *v = NULL;
    const char *why = NULL;
    char *pw = NULL;
    int rc = CLI_OK;
    int e = bp_link_parse(arg, NULL, &l, &why);
    if (e) {
        rc = e == BP_ELINK ? cli_fail(cli, CLI_AUTH, "not a link blindpad can open: %s",
                                      why ? why : "unknown format")
                           : cli_fail(cli, cli_exit_for(e), "%s", bp_strerror(e));
        goto out;
    }
    if (!l->has_keys || l->version == 0) {
        rc = cli_fail(cli, CLI_USAGE, "this link (v%d%s) cannot be rebuilt; share it as it is",
                      l->version, l->has_keys ? "" : ", no keys");
        goto out;
    }
    if (view && l->kind == BP_LINK_DOC && (l->password_flag || want_pw)) {
        if ((rc = cli_password(cli, "Password for this link: ", &pw)))
            goto out;
        bp_link_free(l);
        l = NULL;
        e = bp_link_parse(arg, pw, &l, &why);
        if (e) {
            rc = cli_fail(cli, cli_exit_for(e), "%s", why ? why : bp_strerror(e));
            goto out;
        }
    }
    char origin[CLI_ORIGIN_MAX];
    if (cli_link_origin(arg, origin, sizeof origin)) {
        if ((rc = cli_set_origin(cli, origin, origin, sizeof origin)))
            goto out;
    } else {
        snprintf(origin, sizeof origin, "%s", cli->server);
    }
    enum bp_link_mode mode = BP_LINK_NONE;
    const struct bp_link *out_link = l;
    if (l->kind == BP_LINK_DOC) {
        mode = l->mode == BP_LINK_VIEW ? BP_LINK_VIEW : BP_LINK_EDIT;
        if (view) {
            e = bp_link_make_view(l, &v);
            if (e) {
                rc = cli_fail(cli, cli_exit_for(e), "cannot make a view link: %s", bp_strerror(e));
                goto out;
            }
            out_link = v;
            mode = BP_LINK_VIEW;
        }
    } else if (view) {
        cli_note(cli, "a file link has no read-only form: this link only lets people download");
    }
    char url[CLI_ORIGIN_MAX + BP_LINK_HASH_MAX + 48];
    e = bp_link_url(out_link, origin, mode, url, sizeof url);
    if (e) {
        rc = cli_fail(cli, cli_exit_for(e), "cannot rebuild the link: %s", bp_strerror(e));
        goto out;
    }
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "link", url, "mode",
                               mode == BP_LINK_VIEW ? "view" : mode == BP_LINK_EDIT ? "edit" : "file",
                               "password", (int)out_link->password_flag));
    else
        printf("%s\n", url);
out:
    bp_link_free(l);
    bp_link_free(v);
    sodium_free(pw);
    return rc;
}
