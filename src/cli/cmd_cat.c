/* cmd_cat.c: `blindpad cat LINK`: prints a document's text (code, markdown,
 * slide: the "content" of the JSON document) or, with --raw or for other
 * apps, the whole JSON document. Also the helpers shared by the document
 * subcommands (cmd_pad.h). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/err.h>
#include <blindpad/link.h>
#include <blindpad/pad.h>
#include <blindpad/richtext.h>

#include "cli/cli.h"
#include "cli/cmd_pad.h"

const char cli_usage_cat[] =
    "usage: blindpad cat LINK [--raw] [--password] [--burn]\n"
    "\n"
    "Prints the current text of a document (code and markdown pads, slides; rich\n"
    "text documents as plain text: paragraphs on their own lines, list items with\n"
    "\"- \" or \"N. \", table cells separated by tabs). Other documents (kanban,\n"
    "forms, ...) are printed as their JSON document.\n"
    "\n"
    "  --raw           print the whole JSON document as stored (rich text: hyperjson)\n"
    "  --password      the link's password ($BLINDPAD_PASSWORD or asked); asked anyway\n"
    "                  when the link has /p/\n"
    "  --burn          read a burn-after-reading link: the document is printed, then\n"
    "                  deleted from the server (without --burn such a link is refused)\n"
    "\n"
    "With --json: {\"ok\":true,\"text\":...,\"app\":...,\"head\":...,\"hash\":...}.\n";

int cli_pad_fail(struct cli *cli, struct bp_pad *pad, const char *what, int err)
{
    const char *d = pad ? bp_pad_error(pad) : "";
    switch (err) {
    case BP_ENOENT:
        return cli_fail(cli, CLI_NOTFOUND, "%s: nothing at this link (never created, or wrong "
                                           "password)", what);
    case BP_EDELETED:
        return cli_fail(cli, CLI_NOTFOUND, "%s: the document was deleted", what);
    case BP_EEXPIRED:
        return cli_fail(cli, CLI_NOTFOUND, "%s: the document has expired", what);
    case BP_EFORBIDDEN:
        return cli_fail(cli, CLI_AUTH, "%s: not allowed (%s)", what,
                        d && *d ? d : "a read-only link, or a restricted document");
    case BP_EPROTO:
        return cli_fail(cli, CLI_USAGE, "%s: %s", what,
                        d && *d ? d : "this document is not a text document");
    default:
        if (d && *d)
            return cli_fail(cli, cli_exit_for(err), "%s: %s (%s)", what, bp_strerror(err), d);
        return cli_fail(cli, cli_exit_for(err), "%s: %s", what, bp_strerror(err));
    }
}

int cli_pad_open(struct cli *cli, const char *arg, bool want_pw, struct bp_pad **out)
{
    *out = NULL;
    struct bp_link *l = NULL;
    const char *why = NULL;
    char *pw = NULL;
    int rc = CLI_OK;
    int e = bp_link_parse(arg, NULL, &l, &why);
    if (e)
        return e == BP_ELINK ? cli_fail(cli, CLI_AUTH, "not a link blindpad can open: %s",
                                        why ? why : "unknown format")
                             : cli_fail(cli, cli_exit_for(e), "%s", bp_strerror(e));
    if (l->kind != BP_LINK_DOC) {
        rc = cli_fail(cli, CLI_USAGE, "this is a file link: use `blindpad download`");
        goto out;
    }
    if (!l->has_keys) {
        rc = cli_fail(cli, CLI_AUTH, "this link carries no key (a v3 \"safe\" link): ask for "
                                     "the full link");
        goto out;
    }
    if (l->password_flag || want_pw) {
        if ((rc = cli_password(cli, "Password for this link: ", &pw)))
            goto out;
        bp_link_free(l);
        l = NULL;
        if ((e = bp_link_parse(arg, pw, &l, &why))) {
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
    struct bp_pad_open_opts oo = {.must_exist = true};
    /* A session for this server authenticates the connection, so that a
     * restricted document that allows its key opens (as a logged-in web
     * client's connection is). A session file that will not load is left
     * alone here (cli_session_load has said why). */
    struct cli_session *sess = NULL;
    struct bp_sign_key key;
    if (cli_session_load(cli, &sess) == 0 && strcmp(sess->server, origin) == 0) {
        key.pk = sess->pk;
        key.sk = sess->sk;
        oo.auth_key = &key;
    }
    char err[512] = "";
    e = bp_pad_open_url(origin, l, &oo, out, err, sizeof err);
    cli_session_free(sess);
    if (e == BP_ENET || e == BP_ETIMEOUT)
        rc = cli_fail_net(cli, origin, err);
    else if (e == BP_EFORBIDDEN && strstr(err, "ERESTRICTED"))
        rc = cli_fail(cli, CLI_AUTH, "cannot open the document: not allowed: its access is "
                                     "restricted and %s; ask an owner to run `blindpad access "
                                     "LINK allow KEY` with your key (`blindpad whoami`)",
                      oo.auth_key ? "your key is not on its access list" : "you have no session");
    else if (e)
        rc = cli_pad_fail(cli, NULL, "cannot open the document", e);
out:
    bp_link_free(l);
    sodium_free(pw);
    return rc;
}

int cli_read_stdin(struct cli *cli, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    if (!b)
        return cli_fail(cli, CLI_LOCAL, "out of memory");
    size_t k;
    while ((k = fread(b + n, 1, cap - n - 1, stdin)) > 0) {
        n += k;
        if (cap - n - 1 == 0) {
            char *nb = cap > (256u << 20) ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return cli_fail(cli, CLI_LOCAL, "standard input is too large");
            }
            b = nb;
            cap *= 2;
        }
    }
    if (ferror(stdin)) {
        free(b);
        return cli_fail(cli, CLI_LOCAL, "cannot read standard input");
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return CLI_OK;
}

int cmd_cat(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"raw", no_argument, NULL, 'r'},
                                         {"password", no_argument, NULL, 'p'},
                                         {"burn", no_argument, NULL, 'B'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool raw = false, want_pw = false, burn = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': raw = true; break;
        case 'p': want_pw = true; break;
        case 'B': burn = true; break;
        case 'h': return cli_help(cli_usage_cat);
        default: return cli_usage_error(cli, cli_usage_cat, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_cat, "cat takes one LINK");
    /* A burn-after-reading link: reading it deletes the document, so it is
     * read only when asked for (CryptPad's web client asks first too). */
    struct bp_link *pl0 = NULL;
    const char *why = NULL;
    if (bp_link_parse(argv[optind], NULL, &pl0, &why) == 0 && pl0->has_owner_key && !burn) {
        bp_link_free(pl0);
        return cli_fail(cli, CLI_USAGE, "this is a burn-after-reading link: reading it deletes "
                                        "the document; rerun with --burn to read it");
    }
    bp_link_free(pl0);
    struct bp_pad *pad = NULL;
    int rc = cli_pad_open(cli, argv[optind], want_pw, &pad);
    if (rc)
        return rc;
    char *s = NULL;
    size_t n = 0;
    int e = raw ? BP_EPROTO : bp_pad_text(pad, &s, &n);
    bool is_text = e == 0;
    const struct bp_link *pl = bp_pad_link(pad);
    const char *app = pl->type[0] ? pl->type : pl->app;
    if (e == BP_EPROTO && !raw && strcmp(app, "pad") == 0) {
        /* a rich text document: its text, as copied out of the editor */
        json_t *doc = NULL;
        e = bp_pad_json(pad, &doc);
        if (e == 0) {
            e = bp_richtext_to_text(doc, &s, &n);
            json_decref(doc);
        }
        is_text = e == 0;
        if (e == BP_EPROTO || e == BP_ETOOBIG)
            e = BP_EPROTO; /* not hyperjson after all: print the document */
    }
    if (e == BP_EPROTO)
        e = bp_pad_content(pad, &s, &n);
    if (e) {
        rc = cli_pad_fail(cli, pad, "cannot read the document", e);
        goto out;
    }
    if (cli->json) {
        char head[65], hash[65];
        bp_pad_head(pad, head);
        bp_pad_content_hash(pad, hash);
        const struct bp_link *l = bp_pad_link(pad);
        cli_json_out(json_pack("{s:b, s:s%, s:s, s:b, s:s, s:s, s:s}", "ok", 1,
                               is_text ? "text" : "document", s, n, "app",
                               l->type[0] ? l->type : l->app, "text_document", is_text, "head", head,
                               "hash", hash, "lastKnownHash", bp_pad_last_hash(pad)));
    } else {
        cli_write_text(stdout, s, n);
    }
    if (bp_pad_link(pad)->has_owner_key) { /* burn it, as the web client does once shown */
        fflush(stdout);
        struct bp_sign_key bk = {.pk = bp_pad_link(pad)->owner_key + 32,
                                 .sk = bp_pad_link(pad)->owner_key};
        char arg[96], *reply = NULL; /* pinpad.js: {channel, reason: undefined} */
        snprintf(arg, sizeof arg, "{\"channel\":\"%s\"}", bp_pad_link(pad)->channel);
        e = bp_client_rpc(bp_pad_client(pad), &bk, "REMOVE_OWNED_CHANNEL", arg, &reply);
        free(reply);
        if (e)
            rc = cli_fail(cli, cli_exit_for(e), "the document was shown but could not be "
                          "deleted (%s: %s); its owners can still delete it",
                          bp_strerror(e), bp_client_error(bp_pad_client(pad)));
        else
            cli_note(cli, "burn after reading: the document is now deleted from the server");
    }
out:
    free(s);
    bp_pad_free(pad);
    return rc;
}
