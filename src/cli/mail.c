/* mail.c: `blindpad mail send ADDRESS [TEXT|-]` and `blindpad mail read
 * [--all] [--delete]`: messages between accounts through CryptPad's
 * mailboxes (blindpad/mailbox.h has the formats; docs/client/mailbox.md the
 * choices). Both need a logged-in account (`blindpad login`): the curve keys
 * that seal and open letters live in its drive, like the notifications
 * mailbox's channel. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <blindpad/client.h>
#include <blindpad/err.h>
#include <blindpad/mailbox.h>

#include "cli/cmd_drive.h"
#include "cli/cmd_mail.h"

const char cli_usage_mail[] =
    "usage: blindpad mail send ADDRESS [TEXT|-]\n"
    "       blindpad mail read [--all] [--delete]\n"
    "\n"
    "Messages between accounts, end-to-end encrypted (CryptPad's mailbox format: a\n"
    "letter sealed with your account's curve key for the recipient's key; the server\n"
    "stores it without knowing who sent it). Needs `blindpad login`.\n"
    "\n"
    "  send ADDRESS [TEXT|-]  sends TEXT (or standard input, when TEXT is '-' or\n"
    "                         absent; one trailing newline is dropped) to ADDRESS: a\n"
    "                         contact address as `blindpad whoami` prints it\n"
    "                         (http://host/#/mailbox/<channel>/<key>), or CryptPad's\n"
    "                         user data as JSON ({\"notifications\",\"curvePublic\"}).\n"
    "  read                   lists the messages of your notifications mailbox that\n"
    "                         are not dismissed: time, sender (display name and curve\n"
    "                         key; the key is proven by the letter, the name is only\n"
    "                         claimed), text. Letters that do not open or that claim\n"
    "                         another sender are listed as REFUSED.\n"
    "    --all                also the messages already dismissed\n"
    "    --delete             then dismisses what was listed (the web client stops\n"
    "                         showing them too) and deletes them from the server\n"
    "                         (all but the newest, which the web client resumes from)\n"
    "\n"
    "--json prints {ok, hash, ...} for send and {ok, mailbox, messages: [{hash,\n"
    "time, status, author, displayName, type, text, content, dismissed}], deleted}\n"
    "for read. The web client shows blindpad's messages in its notifications as\n"
    "\"BLINDPAD_MESSAGE - {...}\".\n";

int cli_mail_address(struct cli *cli, struct bp_drive *d, char *out, size_t cap)
{
    size_t len;
    return bp_mailbox_account_address(d, cli->server, out, cap, &len);
}

/* Reads standard input (at most BP_MAILBOX_MAX_TEXT + 1 bytes) into *out. */
static int read_stdin(struct cli *cli, char **out, size_t *len)
{
    size_t cap = BP_MAILBOX_MAX_TEXT + 2, n = 0;
    char *b = malloc(cap);
    if (!b)
        return cli_fail(cli, CLI_LOCAL, "out of memory");
    if (isatty(0))
        cli_note(cli, "type the message, then Ctrl-D on a new line");
    size_t r;
    while (n + 1 < cap && (r = fread(b + n, 1, cap - 1 - n, stdin)) > 0)
        n += r;
    if (ferror(stdin)) {
        free(b);
        return cli_fail(cli, CLI_LOCAL, "cannot read standard input");
    }
    if (n && b[n - 1] == '\n')
        n--;
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

static int mail_send(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cli_usage_mail);
        return cli_usage_error(cli, cli_usage_mail, "unknown option");
    }
    int nargs = argc - optind;
    if (nargs < 1 || nargs > 2)
        return cli_usage_error(cli, cli_usage_mail, "mail send takes ADDRESS and an optional TEXT");
    struct bp_mailbox_addr to;
    const char *why = NULL;
    if (bp_mailbox_addr_parse(argv[optind], &to, &why))
        return cli_fail(cli, CLI_USAGE, "%s is not a contact address: %s; ask the recipient for "
                                        "the address `blindpad whoami` prints",
                        argv[optind], why ? why : "unknown format");
    char *text = NULL;
    size_t tlen = 0;
    if (nargs == 2 && strcmp(argv[optind + 1], "-") != 0) {
        tlen = strlen(argv[optind + 1]);
        text = strdup(argv[optind + 1]);
        if (!text)
            return cli_fail(cli, CLI_LOCAL, "out of memory");
    } else {
        int rc = read_stdin(cli, &text, &tlen);
        if (rc)
            return rc;
    }
    if (tlen > BP_MAILBOX_MAX_TEXT) {
        free(text);
        return cli_fail(cli, CLI_USAGE, "the message is longer than %u bytes: send a link to a "
                                        "document instead", BP_MAILBOX_MAX_TEXT);
    }
    struct cli_account_session as;
    int rc = cli_drive_session(cli, &as);
    if (rc) {
        free(text);
        return rc;
    }
    struct bp_drive *d = NULL;
    rc = cli_drive_open(cli, &as, &d);
    unsigned char *sk = sodium_malloc(32);
    unsigned char pk[32];
    char *plain = NULL, *ct = NULL;
    json_t *user = NULL;
    struct bp_client *other = NULL;
    char mine[33];
    int e = 0;
    if (rc)
        goto out;
    if (!sk) {
        rc = cli_fail(cli, CLI_LOCAL, "out of memory");
        goto out;
    }
    e = bp_mailbox_account_keys(d, sk, pk);
    if (e) {
        rc = cli_fail(cli, CLI_INTEGRITY, "your drive has no curve key pair (curvePrivate, "
                                          "curvePublic): log in once with the web client");
        goto out;
    }
    /* Our own mailbox first, so that the user data we send says where to answer. */
    e = bp_mailbox_account_init(d, mine, NULL);
    if (e)
        cli_note(cli, "your own mailbox is not ready (%s): the recipient cannot answer",
                 bp_drive_error(d)[0] ? bp_drive_error(d) : bp_strerror(e));
    e = bp_mailbox_account_user(d, &user);
    size_t plen = 0, clen = 0;
    if (!e)
        e = bp_mailbox_make_text(text, tlen, user, &plain, &plen);
    if (e == BP_EINVAL) {
        rc = cli_fail(cli, CLI_USAGE, "the message is not UTF-8 text (or holds NUL bytes)");
        goto out;
    }
    if (!e)
        e = bp_mailbox_seal(sk, to.curve_public, plain, plen, &ct, &clen);
    if (e) {
        rc = cli_fail(cli, cli_exit_for(e), "cannot seal the message: %s", bp_strerror(e));
        goto out;
    }
    struct bp_client *cl = bp_drive_client(d);
    const char *where = cli->server;
    if (to.origin[0] && strcmp(to.origin, cli->server) != 0) {
        char err[256] = "";
        where = to.origin;
        e = bp_client_open(to.origin, NULL, &other, err, sizeof err);
        if (e) {
            rc = cli_fail_net(cli, to.origin, err);
            goto out;
        }
        cl = other;
    }
    char hash[65];
    e = bp_mailbox_send(cl, to.channel, ct, hash);
    if (e == BP_ENET || e == BP_ETIMEOUT) {
        rc = cli_fail_net(cli, where, bp_client_error(cl));
        goto out;
    }
    if (e) {
        rc = cli_fail(cli, cli_exit_for(e), "%s refused the message: %s", where,
                      bp_client_error(cl)[0] ? bp_client_error(cl) : bp_strerror(e));
        goto out;
    }
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "hash", hash, "server", where,
                               "channel", to.channel));
    else
        printf("sent (message %.16s...)\n", hash);
out:
    bp_client_free(other);
    json_decref(user);
    free(ct);
    if (plain)
        sodium_memzero(plain, plen);
    free(plain);
    if (text)
        sodium_memzero(text, tlen);
    free(text);
    sodium_free(sk);
    bp_drive_free(d);
    cli_drive_session_free(&as);
    return rc;
}

struct listing {
    json_t *msgs;
    size_t refused;
};

static const char *status_name(int s)
{
    switch (s) {
    case 0: return "ok";
    case BP_EDECRYPT: return "tampered";
    case BP_ESIG: return "forged-sender";
    case BP_ETOOBIG: return "too-large";
    default: return "not-a-letter";
    }
}

static const char *status_text(int s)
{
    switch (s) {
    case BP_EDECRYPT: return "does not open with your key: changed after it was sealed, or not sealed for you";
    case BP_ESIG: return "claims another sender than the key that sealed it";
    case BP_ETOOBIG: return "too large to open";
    default: return "not a mailbox letter";
    }
}

static int collect(const struct bp_mailbox_msg *m, void *ud)
{
    struct listing *l = ud;
    json_t *o = json_pack("{s:s, s:I, s:s, s:b}", "hash", m->hash, "time", (json_int_t)m->time, "status",
                          status_name(m->status), "dismissed", m->dismissed);
    if (!o)
        return 1;
    if (m->status)
        json_object_set_new(o, "error", json_string(status_text(m->status)));
    if (m->author[0])
        json_object_set_new(o, "author", json_string(m->author));
    if (m->display_name)
        json_object_set_new(o, "displayName", json_string(m->display_name));
    if (m->type[0])
        json_object_set_new(o, "type", json_string(m->type));
    if (m->text)
        json_object_set_new(o, "text", json_string(m->text));
    if (m->json && json_object_get(m->json, "content"))
        json_object_set(o, "content", json_object_get(m->json, "content"));
    if (m->status)
        l->refused++;
    return json_array_append_new(l->msgs, o) ? 1 : 0;
}

static void print_msg(json_t *o)
{
    const char *s = json_string_value(json_object_get(o, "status"));
    json_int_t t = json_integer_value(json_object_get(o, "time"));
    char when[32] = "(no time)";
    if (t > 0) {
        time_t tt = (time_t)(t / 1000);
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&tt, &tm));
    }
    const char *hash = json_string_value(json_object_get(o, "hash"));
    const char *dis = json_is_true(json_object_get(o, "dismissed")) ? " (dismissed)" : "";
    if (strcmp(s, "ok") != 0) {
        printf("%s  REFUSED%s: %s (message %.16s...)\n", when, dis,
               json_string_value(json_object_get(o, "error")), hash);
        if (json_object_get(o, "author"))
            printf("    sealed by %s\n", json_string_value(json_object_get(o, "author")));
        return;
    }
    /* The name and the text are the sender's: anyone with the address can
     * send a letter, so nothing of it reaches the terminal as a control. */
    const char *name = json_string_value(json_object_get(o, "displayName"));
    printf("%s  from ", when);
    if (name) {
        cli_write_safe(stdout, name, strlen(name));
        fputc(' ', stdout);
    }
    printf("<%s>%s\n", json_string_value(json_object_get(o, "author")), dis);
    const char *text = json_string_value(json_object_get(o, "text"));
    if (text) {
        /* indent every line */
        for (const char *p = text; *p;) {
            size_t n = strcspn(p, "\n");
            fputs("    ", stdout);
            cli_write_safe(stdout, p, n);
            fputc('\n', stdout);
            p += n;
            if (*p == '\n')
                p++;
        }
        if (!*text)
            printf("    \n");
    } else {
        char *c = json_dumps(json_object_get(o, "content"), JSON_COMPACT | JSON_ENCODE_ANY);
        const char *type = json_string_value(json_object_get(o, "type"));
        fputs("    [", stdout);
        cli_write_safe(stdout, type ? type : "", type ? strlen(type) : 0);
        printf("] %s\n", c ? c : ""); /* json_dumps escapes every control character */
        free(c);
    }
}

static int mail_read(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"delete", no_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    bool all = false, del = false;
    int c;
    while ((c = getopt_long(argc, argv, "had", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cli_usage_mail);
        if (c == 'a')
            all = true;
        else if (c == 'd')
            del = true;
        else
            return cli_usage_error(cli, cli_usage_mail, "unknown option");
    }
    if (optind != argc)
        return cli_usage_error(cli, cli_usage_mail, "mail read takes no arguments");
    struct cli_account_session as;
    int rc = cli_drive_session(cli, &as);
    if (rc)
        return rc;
    struct bp_drive *d = NULL;
    rc = cli_drive_open(cli, &as, &d);
    struct listing l = {json_array(), 0};
    char chan[33];
    bool created = false;
    int e;
    if (rc)
        goto out;
    e = bp_mailbox_account_init(d, chan, &created);
    if (e) {
        rc = cli_fail_drive(cli, d, e, "cannot open your mailbox");
        goto out;
    }
    if (created)
        cli_note(cli, "your drive had no mailbox: made one (`blindpad whoami` prints its address)");
    e = bp_mailbox_account_read(d, all, collect, &l);
    if (e) {
        rc = cli_fail_drive(cli, d, e, "cannot read your mailbox");
        goto out;
    }
    size_t n = json_array_size(l.msgs);
    int trim_err = 0;
    bool deleted = false;
    if (del && n) {
        const char *newest = json_string_value(json_object_get(json_array_get(l.msgs, n - 1), "hash"));
        e = bp_mailbox_account_dismiss(d, newest, true, &trim_err);
        if (e) {
            rc = cli_fail_drive(cli, d, e, "cannot dismiss the messages");
            goto out;
        }
        deleted = true;
    }
    if (cli->json) {
        json_t *j = json_pack("{s:b, s:s, s:O, s:I}", "ok", 1, "mailbox", chan, "messages", l.msgs,
                              "deleted", (json_int_t)(deleted ? n : 0));
        if (j && deleted)
            json_object_set_new(j, "removedFromServer", json_boolean(trim_err == 0));
        cli_json_out(j);
    } else {
        size_t i;
        json_t *o;
        json_array_foreach(l.msgs, i, o) print_msg(o);
        if (!n)
            printf(all ? "no messages.\n" : "no new messages.\n");
    }
    if (l.refused)
        cli_note(cli, "%zu message%s refused (listed as REFUSED): not sealed for you, changed on the "
                      "way, or claiming someone else's name", l.refused, l.refused == 1 ? "" : "s");
    if (deleted && trim_err)
        cli_note(cli, "dismissed %zu message%s (hidden here and in the web client) but not removed "
                      "from the server: %s", n, n == 1 ? "" : "s",
                 bp_drive_error(d)[0] ? bp_drive_error(d) : bp_strerror(trim_err));
    else if (deleted)
        cli_note(cli, "deleted %zu message%s", n, n == 1 ? "" : "s");
out:
    json_decref(l.msgs);
    bp_drive_free(d);
    cli_drive_session_free(&as);
    return rc;
}

int cmd_mail(struct cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(cli, cli_usage_mail, "mail needs a subcommand: send or read");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(cli_usage_mail);
    optind = 1; /* argv[1] becomes the subcommand's argv[0] */
    if (strcmp(sub, "send") == 0)
        return mail_send(cli, argc - 1, argv + 1);
    if (strcmp(sub, "read") == 0)
        return mail_read(cli, argc - 1, argv + 1);
    return cli_usage_error(cli, cli_usage_mail, "unknown mail subcommand %s (send or read)", sub);
}
