/* owners.c: `blindpad owners LINK [add|remove|accept] [KEY...]`: who owns a
 * document or a file (SET_METADATA ADD_OWNERS / RM_OWNERS /
 * ADD_PENDING_OWNERS / RM_PENDING_OWNERS, signed with the session's key),
 * and the helpers `access` shares (cmd_meta.h). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/err.h>

#include "cli/cmd_meta.h"

const char cli_usage_owners[] =
    "usage: blindpad owners LINK [--password]\n"
    "       blindpad owners LINK add [--pending] KEY...\n"
    "       blindpad owners LINK remove [--force] KEY...\n"
    "       blindpad owners LINK accept\n"
    "\n"
    "Lists the owners of a document or a file (their public keys; \"(you)\" marks the\n"
    "session's), and the pending owners (offered ownership, not accepted yet). Owners\n"
    "can delete the document, change its owners and its access list (`blindpad access`).\n"
    "\n"
    "  add KEY...      make KEY an owner (you must be an owner); with --pending, offer\n"
    "                  it: KEY becomes an owner when it runs `owners LINK accept`\n"
    "  remove KEY...   remove an owner or a pending owner (--force to remove the last\n"
    "                  owner: then nobody can ever delete or manage it)\n"
    "  accept          accept a pending ownership offered to you\n"
    "  --password      the link's password ($BLINDPAD_PASSWORD or asked); asked anyway\n"
    "                  when the link has /p/\n"
    "\n"
    "KEY is a public signing key (edPublic: 44 characters of base64, as `blindpad\n"
    "whoami` prints it), or \"me\" for the session's. Changes need the edit link of a\n"
    "document (a view link can only list). With --json:\n"
    "{\"ok\":true,\"channel\":...,\"owners\":[...],\"pending_owners\":[...],\"you\":KEY|null,\n"
    " \"you_own\":bool}.\n";

/* ---- shared with access.c ---- */

void cli_meta_close(struct cli_meta_ctx *ctx)
{
    bp_client_free(ctx->cl);
    cli_session_free(ctx->sess);
    bp_link_free(ctx->link);
    memset(ctx, 0, sizeof *ctx);
}

int cli_meta_open(struct cli *cli, const char *arg, bool want_pw, bool for_change,
                  struct cli_meta_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    const char *why = NULL;
    char *pw = NULL;
    int rc = CLI_OK;
    int e = bp_link_parse(arg, NULL, &ctx->link, &why);
    if (e)
        return e == BP_ELINK ? cli_fail(cli, CLI_AUTH, "not a link blindpad can open: %s",
                                        why ? why : "unknown format")
                             : cli_fail(cli, cli_exit_for(e), "%s", bp_strerror(e));
    ctx->what = ctx->link->kind == BP_LINK_FILE ? "file" : "document";
    /* The password changes the channel (v2 links), so it is needed even
     * though no content is decrypted. v3 "safe" links carry the channel. */
    if (ctx->link->has_keys && (ctx->link->password_flag || want_pw)) {
        if ((rc = cli_password(cli, "Password for this link: ", &pw)))
            return rc;
        bp_link_free(ctx->link);
        ctx->link = NULL;
        e = bp_link_parse(arg, pw, &ctx->link, &why);
        sodium_free(pw);
        if (e)
            return cli_fail(cli, cli_exit_for(e), "%s", why ? why : bp_strerror(e));
    }
    if (for_change && ctx->link->kind == BP_LINK_DOC && ctx->link->mode == BP_LINK_VIEW)
        return cli_fail(cli, CLI_USAGE, "this is a view (read-only) link: changing the owners "
                                        "or the access list needs the edit link");
    if (cli_link_origin(arg, ctx->origin, sizeof ctx->origin)) {
        if ((rc = cli_set_origin(cli, ctx->origin, ctx->origin, sizeof ctx->origin)))
            return rc;
    } else {
        snprintf(ctx->origin, sizeof ctx->origin, "%s", cli->server);
    }
    e = cli_session_load(cli, &ctx->sess);
    if (e == BP_EFORBIDDEN)
        return CLI_LOCAL;
    if (e && e != BP_ENOENT)
        return cli_fail(cli, CLI_LOCAL, "the session file is unreadable (%s); `blindpad logout` "
                                        "removes it", bp_strerror(e));
    if (ctx->sess && strcmp(ctx->sess->server, ctx->origin) != 0) {
        if (for_change) {
            rc = cli_fail(cli, CLI_AUTH, "your session is for %s, but this %s is on %s: log in "
                                         "there first", ctx->sess->server, ctx->what, ctx->origin);
            return rc;
        }
        cli_session_free(ctx->sess); /* listing: an identity of another server means nothing */
        ctx->sess = NULL;
    }
    if (!ctx->sess && for_change)
        return cli_fail(cli, CLI_AUTH, "no session: only an owner can change this; log in "
                                       "(`blindpad login`) with the owning account");
    if (ctx->sess) {
        ctx->key.pk = ctx->sess->pk;
        ctx->key.sk = ctx->sess->sk;
    }
    char err[512] = "";
    e = bp_client_open(ctx->origin, NULL, &ctx->cl, err, sizeof err);
    if (e == BP_ENET || e == BP_ETIMEOUT)
        return cli_fail_net(cli, ctx->origin, err);
    if (e)
        return cli_fail(cli, cli_exit_for(e), "cannot connect to %s: %s", ctx->origin,
                        err[0] ? err : bp_strerror(e));
    return CLI_OK;
}

int cli_meta_get(struct cli *cli, struct cli_meta_ctx *ctx, struct bp_meta **out)
{
    int e = bp_meta_get(ctx->cl, ctx->sess ? &ctx->key : NULL, ctx->link->channel, out);
    const char *d = bp_client_error(ctx->cl);
    switch (e) {
    case 0: return CLI_OK;
    case BP_ENOENT:
        return cli_fail(cli, CLI_NOTFOUND, "nothing at this link (never created, deleted, or a "
                                           "wrong password)");
    case BP_EDELETED:
        return cli_fail(cli, CLI_NOTFOUND, "the %s was deleted (%s)", ctx->what, d);
    case BP_ENET:
    case BP_ETIMEOUT: return cli_fail_net(cli, ctx->origin, d);
    default:
        return cli_fail(cli, cli_exit_for(e), "cannot read the %s's metadata: %s%s%s%s", ctx->what,
                        bp_strerror(e), *d ? " (" : "", d, *d ? ")" : "");
    }
}

int cli_meta_set(struct cli *cli, struct cli_meta_ctx *ctx, enum bp_meta_cmd cmd,
                 const char *const *keys, size_t n_keys, bool flag, struct bp_meta **out)
{
    struct bp_meta_change ch = {.cmd = cmd, .keys = keys, .n_keys = n_keys, .flag = flag};
    int e = bp_meta_set(ctx->cl, &ctx->key, ctx->link->channel, &ch, out);
    if (!e)
        return CLI_OK;
    const char *d = bp_client_error(ctx->cl);
    if (e == BP_EFORBIDDEN && !strcmp(d, "E_NO_OWNERS"))
        return cli_fail(cli, cli_exit_for(e), "this %s has no owners (or does not exist): nobody "
                                              "can change its owners or access list", ctx->what);
    if (e == BP_EFORBIDDEN)
        return cli_fail(cli, cli_exit_for(e), "you are not an owner of this %s: ask one of its "
                                              "owners (`blindpad owners LINK` lists them; your key "
                                              "is %s)", ctx->what, ctx->sess->ed_public);
    if (e == BP_ENET || e == BP_ETIMEOUT)
        return cli_fail_net(cli, ctx->origin, d);
    return cli_fail(cli, e == BP_EINVAL ? CLI_SERVER : cli_exit_for(e), "%s refused: %s%s%s%s",
                    bp_meta_cmd_name(cmd), bp_strerror(e), *d ? " (" : "", d, *d ? ")" : "");
}

int cli_meta_keys(struct cli *cli, struct cli_meta_ctx *ctx, const char *usage, char **args,
                  int n, const char **keys)
{
    if (n < 1)
        return cli_usage_error(cli, usage, "give at least one KEY (or \"me\")");
    for (int i = 0; i < n; i++) {
        if (!strcmp(args[i], "me")) {
            if (!ctx->sess)
                return cli_fail(cli, CLI_USAGE, "\"me\": there is no session");
            keys[i] = ctx->sess->ed_public;
        } else if (bp_meta_key_valid(args[i])) {
            keys[i] = args[i];
        } else {
            return cli_usage_error(cli, usage, "`%s` is not a public key: expected 44 characters "
                                               "of base64 (as `blindpad whoami` prints) or \"me\"",
                                   args[i]);
        }
    }
    return CLI_OK;
}

json_t *cli_meta_list_json(char *const *l, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(l[i]));
    return a;
}

/* ---- owners ---- */

static void print_keys(const char *title, char *const *l, size_t n, const char *me)
{
    printf("%s:%s\n", title, n ? "" : " none");
    for (size_t i = 0; i < n; i++)
        printf("  %s%s\n", l[i], me && !strcmp(l[i], me) ? "  (you)" : "");
}

static int show(struct cli *cli, struct cli_meta_ctx *ctx, const struct bp_meta *m)
{
    const char *me = ctx->sess ? ctx->sess->ed_public : NULL;
    if (cli->json) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:o, s:o, s:o, s:b}", "ok", 1, "channel",
                              ctx->link->channel, "kind", ctx->what, "owners",
                              cli_meta_list_json(m->owners, m->n_owners), "pending_owners",
                              cli_meta_list_json(m->pending_owners, m->n_pending), "you",
                              me ? json_string(me) : json_null(), "you_own",
                              (int)bp_meta_is_owner(m, me));
        if (m->rejected) {
            json_object_set_new(o, "rejected", json_true());
            json_object_set_new(o, "allowed", cli_meta_list_json(m->allowed, m->n_allowed));
        }
        cli_json_out(o);
        return CLI_OK;
    }
    if (m->rejected) {
        printf("this %s is restricted and you are not on its access list; its owners and allowed\n"
               "keys together are:\n", ctx->what);
        print_keys("owners or allowed", m->allowed, m->n_allowed, me);
        return CLI_OK;
    }
    print_keys("owners", m->owners, m->n_owners, me);
    if (m->n_pending)
        print_keys("pending owners", m->pending_owners, m->n_pending, me);
    if (!m->n_owners)
        cli_note(cli, "nobody owns this %s: it cannot be deleted, nor its access restricted",
                 ctx->what);
    return CLI_OK;
}

int cmd_owners(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"password", no_argument, NULL, 'p'},
                                         {"pending", no_argument, NULL, 'P'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool want_pw = false, pending = false, force = false;
    int c;
    while ((c = getopt_long(argc, argv, "hf", opts, NULL)) != -1) {
        switch (c) {
        case 'p': want_pw = true; break;
        case 'P': pending = true; break;
        case 'f': force = true; break;
        case 'h': return cli_help(cli_usage_owners);
        default: return cli_usage_error(cli, cli_usage_owners, "unknown option");
        }
    }
    int nargs = argc - optind;
    if (nargs < 1)
        return cli_usage_error(cli, cli_usage_owners, "owners takes a LINK");
    const char *link = argv[optind];
    const char *verb = nargs > 1 ? argv[optind + 1] : "list";
    char **args = argv + optind + 2;
    int nk = nargs > 2 ? nargs - 2 : 0;
    bool change = strcmp(verb, "list") != 0;
    if (strcmp(verb, "list") && strcmp(verb, "add") && strcmp(verb, "remove") &&
        strcmp(verb, "rm") && strcmp(verb, "accept"))
        return cli_usage_error(cli, cli_usage_owners, "`%s`: expected add, remove or accept", verb);
    if ((!strcmp(verb, "list") || !strcmp(verb, "accept")) && nk)
        return cli_usage_error(cli, cli_usage_owners, "`owners LINK %s` takes no KEY", verb);
    if (pending && strcmp(verb, "add"))
        return cli_usage_error(cli, cli_usage_owners, "--pending goes with `add`");

    struct cli_meta_ctx ctx;
    struct bp_meta *m = NULL;
    const char **keys = NULL;
    int rc = cli_meta_open(cli, link, want_pw, change, &ctx);
    if (rc)
        goto out;
    if (!change) {
        if (!(rc = cli_meta_get(cli, &ctx, &m)))
            rc = show(cli, &ctx, m);
        goto out;
    }
    const char *me = ctx.sess->ed_public;
    if (!strcmp(verb, "accept")) {
        /* As CryptPad's "accept ownership": become an owner, then leave the
         * pending list (the server lets a pending owner do exactly these two
         * for its own key). */
        if ((rc = cli_meta_get(cli, &ctx, &m)))
            goto out;
        if (!bp_meta_is_pending(m, me) && !bp_meta_is_owner(m, me)) {
            rc = cli_fail(cli, CLI_USAGE, "nobody offered you ownership of this %s (your key is "
                                          "%s)", ctx.what, me);
            goto out;
        }
        const char *mine[1] = {me};
        bool owner = bp_meta_is_owner(m, me);
        bp_meta_free(m);
        m = NULL;
        if (!owner && (rc = cli_meta_set(cli, &ctx, BP_META_ADD_OWNERS, mine, 1, false, &m)))
            goto out;
        bp_meta_free(m);
        m = NULL;
        if ((rc = cli_meta_set(cli, &ctx, BP_META_RM_PENDING_OWNERS, mine, 1, false, &m)))
            goto out;
        rc = show(cli, &ctx, m);
        goto out;
    }
    keys = calloc((size_t)nk + 1, sizeof *keys);
    if (!keys) {
        rc = cli_fail(cli, CLI_LOCAL, "out of memory");
        goto out;
    }
    if ((rc = cli_meta_keys(cli, &ctx, cli_usage_owners, args, nk, keys)))
        goto out;
    if (!strcmp(verb, "add")) {
        rc = cli_meta_set(cli, &ctx, pending ? BP_META_ADD_PENDING_OWNERS : BP_META_ADD_OWNERS,
                          keys, (size_t)nk, false, &m);
        if (!rc)
            rc = show(cli, &ctx, m);
        goto out;
    }
    /* remove: an owner goes with RM_OWNERS, a pending one with
     * RM_PENDING_OWNERS; anything else is a mistake worth saying. */
    if ((rc = cli_meta_get(cli, &ctx, &m)))
        goto out;
    if (!bp_meta_is_owner(m, me)) {
        rc = cli_fail(cli, CLI_SERVER, "you are not an owner of this %s: ask one of its owners "
                                       "(your key is %s)", ctx.what, me);
        goto out;
    }
    size_t n_own = 0, left = m->n_owners;
    for (int i = 0; i < nk; i++) {
        if (bp_meta_is_owner(m, keys[i])) {
            bool dup = false;
            for (int j = 0; j < i; j++)
                dup |= !strcmp(keys[j], keys[i]);
            if (!dup) {
                n_own++;
                left--;
            }
        } else if (!bp_meta_is_pending(m, keys[i])) {
            rc = cli_fail(cli, CLI_NOTFOUND, "%s is not an owner of this %s", keys[i], ctx.what);
            goto out;
        }
    }
    if (n_own && left == 0 && !force) {
        rc = cli_fail(cli, CLI_USAGE, "this would leave the %s without owners: nobody could "
                                      "delete it or change its access any more (--force to do it)",
                      ctx.what);
        goto out;
    }
    const char **own = calloc((size_t)nk + 1, sizeof *own), **pend = calloc((size_t)nk + 1, sizeof *pend);
    size_t no = 0, np = 0;
    if (!own || !pend) {
        free(own);
        free(pend);
        rc = cli_fail(cli, CLI_LOCAL, "out of memory");
        goto out;
    }
    for (int i = 0; i < nk; i++) {
        if (bp_meta_is_owner(m, keys[i]))
            own[no++] = keys[i];
        else
            pend[np++] = keys[i];
    }
    bp_meta_free(m);
    m = NULL;
    /* Pending first: after RM_OWNERS of ourselves we could not do it. */
    if (np)
        rc = cli_meta_set(cli, &ctx, BP_META_RM_PENDING_OWNERS, pend, np, false, &m);
    if (!rc && no) {
        bp_meta_free(m);
        m = NULL;
        rc = cli_meta_set(cli, &ctx, BP_META_RM_OWNERS, own, no, false, &m);
    }
    free(own);
    free(pend);
    if (!rc)
        rc = show(cli, &ctx, m);
out:
    free(keys);
    bp_meta_free(m);
    cli_meta_close(&ctx);
    return rc;
}
