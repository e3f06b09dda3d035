/* contacts.c: `blindpad contacts [list]`, `contacts add ADDRESS`,
 * `contacts accept|decline WHO`, `contacts rm WHO`: contacts ("friends")
 * kept in the account's drive as CryptPad's web client keeps them, the
 * requests and answers going through the mailboxes (libblindpad's
 * contacts.h has the protocol). Needs a logged-in account. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindpad/client.h>
#include <blindpad/contacts.h>
#include <blindpad/err.h>
#include <blindpad/mailbox.h>

#include "cli/cmd_contacts.h"
#include "cli/cmd_drive.h"

const char cli_usage_contacts[] =
    "usage: blindpad contacts [list]\n"
    "       blindpad contacts add ADDRESS\n"
    "       blindpad contacts accept|decline WHO\n"
    "       blindpad contacts rm WHO\n"
    "\n"
    "Your contacts (\"friends\" in CryptPad), kept in your drive as the web client\n"
    "keeps them: a contact request and its answer are letters sealed with your\n"
    "account's curve key (see `blindpad mail`). Needs `blindpad login`.\n"
    "\n"
    "  list (default)  first applies the answers waiting in your mailbox (requests\n"
    "                  accepted or declined, contacts who removed you), then lists\n"
    "                  your contacts, the requests you sent that wait for an\n"
    "                  answer, and the requests you received\n"
    "  add ADDRESS     asks the owner of ADDRESS (a contact address as `blindpad\n"
    "                  whoami` prints it) to become your contact\n"
    "  accept WHO      accepts a request you received, decline WHO declines it\n"
    "  rm WHO          removes a contact, and tells them\n"
    "\n"
    "WHO is the start of a curve key (as listed, at least 4 characters), a display\n"
    "name, or the start of a request's id. A display name is only claimed by its\n"
    "sender; the key is proven by the letter.\n"
    "\n"
    "--json: list prints {ok, applied: {accepted, declined, removed, crossed},\n"
    "contacts: [{curvePublic, displayName, edPublic, notifications, channel}],\n"
    "pending: [{curvePublic, time}], requests: [{hash, curvePublic, displayName,\n"
    "time}]}; add prints {ok, curvePublic, mailbox}, accept and decline {ok,\n"
    "curvePublic}, rm {ok, curvePublic, told}.\n";

/* The friend requests waiting in the mailbox: [{hash, author, time, name,
 * json}] (copies: the messages are borrowed during the read only). */
static int collect_requests(const struct bp_mailbox_msg *m, void *ud)
{
    json_t *list = ud;
    if (m->status != 0 || strcmp(m->type, BP_CONTACTS_REQUEST) != 0 || !m->json)
        return 0;
    json_t *o = json_pack("{s:s, s:s, s:I, s:O}", "hash", m->hash, "author", m->author, "time",
                          (json_int_t)m->time, "json", m->json);
    if (o && m->display_name)
        json_object_set_new(o, "name", json_string(m->display_name));
    return !o || json_array_append_new(list, o);
}

struct acct {
    struct cli_account_session as;
    bool has_session; /* as is to be freed */
    struct bp_drive *d;
};

/* Opens the drive and the mailbox (made if missing). */
static int acct_open(struct cli *cli, struct acct *a)
{
    memset(a, 0, sizeof *a);
    int rc = cli_drive_session(cli, &a->as);
    if (rc)
        return rc;
    a->has_session = true;
    rc = cli_drive_open(cli, &a->as, &a->d);
    if (rc)
        return rc;
    char chan[33];
    bool created = false;
    int e = bp_mailbox_account_init(a->d, chan, &created);
    if (e)
        return cli_fail_drive(cli, a->d, e, "cannot open your mailbox");
    if (created)
        cli_note(cli, "your drive had no mailbox: made one (`blindpad whoami` prints its address)");
    return 0;
}

static void acct_close(struct acct *a)
{
    bp_drive_free(a->d);
    if (a->has_session)
        cli_drive_session_free(&a->as);
}

static void print_safe(const char *s)
{
    if (s)
        cli_write_safe(stdout, s, strlen(s));
}

static void print_time(json_int_t t)
{
    char when[32] = "(no time)";
    if (t > 0) {
        time_t tt = (time_t)(t / 1000);
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&tt, &tm));
    }
    fputs(when, stdout);
}

static int contacts_list(struct cli *cli)
{
    struct acct a;
    json_t *friends = NULL, *pending = NULL, *reqs = json_array();
    int rc = acct_open(cli, &a);
    if (!rc && !reqs)
        rc = cli_fail(cli, CLI_LOCAL, "out of memory");
    if (rc)
        goto out;
    struct bp_contacts_sync s;
    int e = bp_contacts_sync(a.d, &s);
    if (e) {
        rc = cli_fail_drive(cli, a.d, e, "cannot apply the answers in your mailbox");
        goto out;
    }
    e = bp_contacts_list(a.d, &friends, &pending);
    if (!e)
        e = bp_mailbox_account_read(a.d, false, collect_requests, reqs);
    if (e) {
        rc = cli_fail_drive(cli, a.d, e, "cannot read your contacts");
        goto out;
    }
    if (cli->json) {
        json_t *c = json_array(), *p = json_array(), *r = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(friends, k, v) json_array_append(c, v);
        json_object_foreach(pending, k, v)
            json_array_append_new(p, json_pack("{s:s, s:O?}", "curvePublic", k, "time", json_object_get(v, "time")));
        size_t i;
        json_array_foreach(reqs, i, v)
            json_array_append_new(r, json_pack("{s:O, s:O, s:O?, s:O}", "hash", json_object_get(v, "hash"),
                                               "curvePublic", json_object_get(v, "author"), "displayName",
                                               json_object_get(v, "name"), "time", json_object_get(v, "time")));
        cli_json_out(json_pack("{s:b, s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o}", "ok", 1, "applied", "accepted",
                               (json_int_t)s.accepted, "declined", (json_int_t)s.declined, "removed",
                               (json_int_t)s.removed, "crossed", (json_int_t)s.crossed, "contacts", c, "pending",
                               p, "requests", r));
        goto out;
    }
    if (s.accepted || s.crossed)
        cli_note(cli, "%u new contact%s (requests accepted)", s.accepted + s.crossed,
                 s.accepted + s.crossed == 1 ? "" : "s");
    if (s.declined)
        cli_note(cli, "%u of your requests declined", s.declined);
    if (s.removed)
        cli_note(cli, "%u contact%s removed you", s.removed, s.removed == 1 ? "" : "s");
    const char *k;
    json_t *v;
    if (!json_object_size(friends))
        printf("no contacts yet: `blindpad contacts add ADDRESS` asks someone (their `blindpad whoami`).\n");
    json_object_foreach(friends, k, v) {
        const char *name = json_string_value(json_object_get(v, "displayName"));
        printf("%s  ", k);
        print_safe(name && *name ? name : "(no name)");
        fputc('\n', stdout);
    }
    json_object_foreach(pending, k, v) {
        printf("%s  (request sent ", k);
        print_time(json_integer_value(json_object_get(v, "time")));
        printf(", no answer yet)\n");
    }
    size_t i;
    json_array_foreach(reqs, i, v) {
        printf("%s  ", json_string_value(json_object_get(v, "author")));
        const char *name = json_string_value(json_object_get(v, "name"));
        print_safe(name && *name ? name : "(no name)");
        printf("  asks to be your contact (");
        print_time(json_integer_value(json_object_get(v, "time")));
        printf("): `blindpad contacts accept|decline %.8s`\n", json_string_value(json_object_get(v, "author")));
    }
out:
    json_decref(friends);
    json_decref(pending);
    json_decref(reqs);
    acct_close(&a);
    return rc;
}

/* Does WHO name this (key, name, hash)? */
static bool who_matches(const char *who, const char *key, const char *name, const char *hash)
{
    size_t n = strlen(who);
    return (n >= 4 && key && strncmp(key, who, n) == 0) || (name && strcmp(name, who) == 0) ||
           (n >= 8 && hash && strncmp(hash, who, n) == 0);
}

static int contacts_answer(struct cli *cli, const char *who, bool accept)
{
    struct acct a;
    json_t *reqs = json_array(), *pick = NULL;
    int rc = acct_open(cli, &a);
    if (!rc && !reqs)
        rc = cli_fail(cli, CLI_LOCAL, "out of memory");
    if (rc)
        goto out;
    int e = bp_mailbox_account_read(a.d, false, collect_requests, reqs);
    if (e) {
        rc = cli_fail_drive(cli, a.d, e, "cannot read your mailbox");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(reqs, i, v) {
        const char *key = json_string_value(json_object_get(v, "author"));
        if (!who_matches(who, key, json_string_value(json_object_get(v, "name")),
                         json_string_value(json_object_get(v, "hash"))))
            continue;
        if (pick && strcmp(json_string_value(json_object_get(pick, "author")), key) != 0) {
            rc = cli_fail(cli, CLI_USAGE, "%s names requests from more than one key: give more of the key "
                                          "(`blindpad contacts` lists them)", who);
            goto out;
        }
        pick = v; /* the newest request of that key */
    }
    if (!pick) {
        rc = cli_fail(cli, CLI_NOTFOUND, "no contact request from %s waits in your mailbox "
                                         "(`blindpad contacts` lists them)", who);
        goto out;
    }
    const char *key = json_string_value(json_object_get(pick, "author"));
    struct bp_mailbox_msg m = {.status = 0, .json = json_object_get(pick, "json")};
    snprintf(m.hash, sizeof m.hash, "%s", json_string_value(json_object_get(pick, "hash")));
    snprintf(m.author, sizeof m.author, "%s", key);
    snprintf(m.type, sizeof m.type, "%s", BP_CONTACTS_REQUEST);
    e = bp_contacts_answer(a.d, &m, accept);
    if (e == BP_EPROTO) {
        rc = cli_fail(cli, CLI_INTEGRITY, "that request is malformed (no mailbox or chat channel to answer "
                                          "to): it cannot be answered");
        goto out;
    }
    if (e) {
        rc = cli_fail_drive(cli, a.d, e, accept ? "cannot accept the request" : "cannot decline the request");
        goto out;
    }
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s}", "ok", 1, "curvePublic", key));
    else
        printf("%s %s\n", accept ? "accepted: now a contact:" : "declined:", key);
out:
    json_decref(reqs);
    acct_close(&a);
    return rc;
}

static int contacts_add(struct cli *cli, const char *addr)
{
    struct bp_mailbox_addr to;
    const char *why = NULL;
    if (bp_mailbox_addr_parse(addr, &to, &why))
        return cli_fail(cli, CLI_USAGE, "%s is not a contact address: %s; ask for the address "
                                        "`blindpad whoami` prints", addr, why ? why : "unknown format");
    if (to.origin[0] && strcmp(to.origin, cli->server) != 0)
        return cli_fail(cli, CLI_USAGE, "%s is an address on %s; contacts must be on the same server as "
                                        "your account (%s)", addr, to.origin, cli->server);
    struct acct a;
    int rc = acct_open(cli, &a);
    if (rc)
        goto out;
    int e = bp_contacts_request(a.d, &to);
    if (e == BP_EEXIST) {
        rc = cli_fail(cli, CLI_USAGE, "already a contact, or a request to them waits for an answer "
                                      "(`blindpad contacts`)");
        goto out;
    }
    if (e == BP_EINVAL) {
        rc = cli_fail(cli, CLI_USAGE, "that is your own address");
        goto out;
    }
    if (e) {
        rc = cli_fail_drive(cli, a.d, e, "cannot send the request");
        goto out;
    }
    char key[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(key, sizeof key, to.curve_public, 32, sodium_base64_VARIANT_ORIGINAL);
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:s}", "ok", 1, "curvePublic", key, "mailbox", to.channel));
    else
        printf("request sent; `blindpad contacts` shows when it is answered.\n");
out:
    acct_close(&a);
    return rc;
}

static int contacts_rm(struct cli *cli, const char *who)
{
    struct acct a;
    json_t *friends = NULL;
    char key[64] = "";
    int rc = acct_open(cli, &a);
    if (rc)
        goto out;
    int e = bp_contacts_list(a.d, &friends, NULL);
    if (e) {
        rc = cli_fail_drive(cli, a.d, e, "cannot read your contacts");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(friends, k, v) {
        if (!who_matches(who, k, json_string_value(json_object_get(v, "displayName")), NULL))
            continue;
        if (key[0]) {
            rc = cli_fail(cli, CLI_USAGE, "%s names more than one contact: give more of the key", who);
            goto out;
        }
        snprintf(key, sizeof key, "%s", k);
    }
    if (!key[0]) {
        rc = cli_fail(cli, CLI_NOTFOUND, "%s is not one of your contacts (`blindpad contacts` lists them)", who);
        goto out;
    }
    int letter = 0;
    e = bp_contacts_remove(a.d, key, &letter);
    if (e) {
        rc = cli_fail_drive(cli, a.d, e, "cannot remove the contact");
        goto out;
    }
    if (letter)
        cli_note(cli, "removed, but they could not be told (%s): they still list you", bp_strerror(letter));
    if (cli->json)
        cli_json_out(json_pack("{s:b, s:s, s:b}", "ok", 1, "curvePublic", key, "told", letter == 0));
    else
        printf("removed: %s\n", key);
out:
    json_decref(friends);
    acct_close(&a);
    return rc;
}

int cmd_contacts(struct cli *cli, int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "list";
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(cli_usage_contacts);
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return cli_help(cli_usage_contacts);
    int nargs = argc >= 2 ? argc - 2 : 0;
    if (strcmp(sub, "list") == 0) {
        if (nargs)
            return cli_usage_error(cli, cli_usage_contacts, "contacts list takes no arguments");
        return contacts_list(cli);
    }
    if (strcmp(sub, "add") == 0 || strcmp(sub, "accept") == 0 || strcmp(sub, "decline") == 0 ||
        strcmp(sub, "rm") == 0) {
        if (nargs != 1)
            return cli_usage_error(cli, cli_usage_contacts, "contacts %s takes one argument", sub);
        const char *arg = argv[2];
        if (strcmp(sub, "add") == 0)
            return contacts_add(cli, arg);
        if (strcmp(sub, "rm") == 0)
            return contacts_rm(cli, arg);
        return contacts_answer(cli, arg, strcmp(sub, "accept") == 0);
    }
    return cli_usage_error(cli, cli_usage_contacts, "unknown contacts subcommand %s (list, add, accept, "
                                                    "decline or rm)", sub);
}
