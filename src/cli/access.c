/* access.c: `blindpad access LINK [restrict on|off | allow KEY... | deny KEY...]`:
 * a document's access list (SET_METADATA RESTRICT_ACCESS / ADD_ALLOWED /
 * RM_ALLOWED, signed with the session's key, which must be an owner's).
 * When restricted, only the owners and the allowed keys can open the
 * document: the server checks the keys the connection authenticated with
 * (SERVER-API §1.7), so a reader must have a session with one of them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/err.h>

#include "cli/cmd_meta.h"

const char cli_usage_access[] =
    "usage: blindpad access LINK [--password]\n"
    "       blindpad access LINK restrict on|off\n"
    "       blindpad access LINK allow KEY...\n"
    "       blindpad access LINK deny KEY...\n"
    "\n"
    "Shows whether a document's access is restricted and its access list. When it is\n"
    "restricted, only its owners and the keys on the list can open it (with a session\n"
    "holding one of those keys), even with the link. Changes need an owner's session\n"
    "and the edit link.\n"
    "\n"
    "  restrict on|off   turn the restriction on or off (the list is kept)\n"
    "  allow KEY...      add KEY to the access list (owners are always allowed)\n"
    "  deny KEY...       take KEY off the access list\n"
    "  --password        the link's password ($BLINDPAD_PASSWORD or asked)\n"
    "\n"
    "KEY is a public signing key (44 characters of base64, as `blindpad whoami`\n"
    "prints it), or \"me\". Files: the list is kept, but downloads are not checked by\n"
    "the server. With --json:\n"
    "{\"ok\":true,\"channel\":...,\"restricted\":bool,\"allowed\":[...],\"owners\":[...]}.\n";

static int show(struct cli *cli, struct cli_meta_ctx *ctx, const struct bp_meta *m)
{
    const char *me = ctx->sess ? ctx->sess->ed_public : NULL;
    if (cli->json) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:b, s:o, s:o, s:o, s:b}", "ok", 1, "channel",
                              ctx->link->channel, "kind", ctx->what, "restricted",
                              (int)m->restricted, "allowed",
                              cli_meta_list_json(m->allowed, m->n_allowed), "owners",
                              cli_meta_list_json(m->owners, m->n_owners), "you",
                              me ? json_string(me) : json_null(), "you_may_open",
                              (int)(!m->rejected && bp_meta_may_open(m, me)));
        if (m->rejected)
            json_object_set_new(o, "rejected", json_true());
        cli_json_out(o);
        return CLI_OK;
    }
    printf("restricted: %s\n", m->restricted ? "on" : "off");
    if (m->rejected) {
        printf("you are not on the access list; the owners and allowed keys are:\n");
    } else {
        printf("owners (always allowed):%s\n", m->n_owners ? "" : " none");
        for (size_t i = 0; i < m->n_owners; i++)
            printf("  %s%s\n", m->owners[i], me && !strcmp(m->owners[i], me) ? "  (you)" : "");
        printf("allowed:%s\n", m->n_allowed ? "" : " none");
    }
    for (size_t i = 0; i < m->n_allowed; i++)
        printf("  %s%s\n", m->allowed[i], me && !strcmp(m->allowed[i], me) ? "  (you)" : "");
    if (!m->restricted && m->n_allowed)
        cli_note(cli, "the list applies only while access is restricted (`access LINK restrict on`)");
    return CLI_OK;
}

int cmd_access(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"password", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool want_pw = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': want_pw = true; break;
        case 'h': return cli_help(cli_usage_access);
        default: return cli_usage_error(cli, cli_usage_access, "unknown option");
        }
    }
    int nargs = argc - optind;
    if (nargs < 1)
        return cli_usage_error(cli, cli_usage_access, "access takes a LINK");
    const char *link = argv[optind];
    const char *verb = nargs > 1 ? argv[optind + 1] : "show";
    char **args = argv + optind + 2;
    int nk = nargs > 2 ? nargs - 2 : 0;
    bool flag = false;
    enum bp_meta_cmd cmd = 0;
    if (!strcmp(verb, "show")) {
        if (nk)
            return cli_usage_error(cli, cli_usage_access, "`access LINK show` takes nothing more");
    } else if (!strcmp(verb, "restrict")) {
        if (nk != 1 || (strcmp(args[0], "on") && strcmp(args[0], "off")))
            return cli_usage_error(cli, cli_usage_access, "`restrict` takes on or off");
        flag = !strcmp(args[0], "on");
        cmd = BP_META_RESTRICT_ACCESS;
    } else if (!strcmp(verb, "allow")) {
        cmd = BP_META_ADD_ALLOWED;
    } else if (!strcmp(verb, "deny")) {
        cmd = BP_META_RM_ALLOWED;
    } else {
        return cli_usage_error(cli, cli_usage_access, "`%s`: expected restrict, allow or deny",
                               verb);
    }
    struct cli_meta_ctx ctx;
    struct bp_meta *m = NULL;
    const char **keys = NULL;
    int rc = cli_meta_open(cli, link, want_pw, cmd != 0, &ctx);
    if (rc)
        goto out;
    if (!cmd) {
        if (!(rc = cli_meta_get(cli, &ctx, &m)))
            rc = show(cli, &ctx, m);
        goto out;
    }
    if (cmd == BP_META_RESTRICT_ACCESS) {
        rc = cli_meta_set(cli, &ctx, cmd, NULL, 0, flag, &m);
    } else {
        keys = calloc((size_t)nk + 1, sizeof *keys);
        if (!keys) {
            rc = cli_fail(cli, CLI_LOCAL, "out of memory");
            goto out;
        }
        if ((rc = cli_meta_keys(cli, &ctx, cli_usage_access, args, nk, keys)))
            goto out;
        rc = cli_meta_set(cli, &ctx, cmd, keys, (size_t)nk, false, &m);
        /* The server skips owners (always allowed) and keys already listed
         * without saying so: tell the user. */
        for (int i = 0; !rc && cmd == BP_META_ADD_ALLOWED && i < nk; i++)
            if (bp_meta_is_owner(m, keys[i]))
                cli_note(cli, "%s is an owner: owners are always allowed", keys[i]);
    }
    if (!rc)
        rc = show(cli, &ctx, m);
out:
    free(keys);
    bp_meta_free(m);
    cli_meta_close(&ctx);
    return rc;
}
