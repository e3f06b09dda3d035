/* main.c: `blindpad <command> [options]`: the command table, the global
 * options and `blindpad help [command]`.
 *
 * Global options are accepted anywhere before a "--" (before or after the
 * command name): --server URL, --json, --no-progress, -q/--quiet, -h/--help,
 * --version. They are taken out of argv here; the subcommand parses the rest
 * with getopt_long. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_pad.h"
#include "cli/cmd_account.h"
#include "cli/cmd_drive.h"
#include "cli/cmd_contacts.h"
#include "cli/cmd_mail.h"
#include "cli/cmd_meta.h"

#define BLINDPAD_CLI_VERSION "0.1.0"

static const struct cli_cmd commands[] = {
    {"upload", "encrypt a file and upload it; prints its link", cli_usage_upload, cmd_upload},
    {"download", "download a file link and decrypt it", cli_usage_download, cmd_download},
    {"new", "create a code, markdown or slide document; prints its link", cli_usage_new, cmd_new},
    {"cat", "print a document's text", cli_usage_cat, cmd_cat},
    {"append", "append text to a document", cli_usage_append, cmd_append},
    {"edit", "edit a document's text in $EDITOR", cli_usage_edit, cmd_edit},
    {"watch", "print a document's text and every change, live", cli_usage_watch, cmd_watch},
    {"share", "print a link to share (read-only with --view)", cli_usage_share, cmd_share},
    {"link-info", "show what a link points to (no secrets unless --show-keys)",
     cli_usage_link_info, cmd_link_info},
    {"register", "create an account (user name + password)", cli_usage_register, cmd_register},
    {"login", "log in to an account; keeps its keys in the session file", cli_usage_login,
     cmd_login},
    {"whoami", "show the identity kept in the session file", cli_usage_whoami, cmd_whoami},
    {"logout", "wipe the session file", cli_usage_logout, cmd_logout},
    {"ls", "list your drive's folders, documents and files", cli_usage_ls, cmd_ls},
    {"rm", "move a drive item to the trash (or remove/destroy it)", cli_usage_rm, cmd_rm},
    {"passwd", "change an account's password", cli_usage_passwd, cmd_passwd},
    {"mail", "send a message to an account, or read yours", cli_usage_mail, cmd_mail},
    {"contacts", "list your contacts; add, accept, decline or remove one", cli_usage_contacts,
     cmd_contacts},
    {"owners", "list or change who owns a document or file", cli_usage_owners, cmd_owners},
    {"access", "show or restrict who can open a document", cli_usage_access, cmd_access},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void main_usage(FILE *f)
{
    fprintf(f, "usage: blindpad [--server URL] [--json] <command> [options]\n\n"
               "blindpad: end-to-end encrypted files and documents on a CryptPad-compatible\n"
               "server. Keys stay in the link's fragment (after '#') and never reach the server.\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  help       this text, or `blindpad help <command>`\n\n"
               "global options:\n"
               "  --server URL    server for commands without a link (default $BLINDPAD_SERVER,\n"
               "                  else " CLI_DEFAULT_SERVER "); a link names its own server\n"
               "  --json          machine-readable output on stdout\n"
               "  --no-progress   no progress bars (they are only drawn on a terminal)\n"
               "  -q, --quiet     no notes on stderr (errors are still printed)\n"
               "  --version       print the version\n\n"
               "exit status: 0 ok, 1 usage, 2 not found or deleted, 3 wrong password or link,\n"
               "4 network, 5 server refused, 6 local file problem, 7 data modified or truncated\n"
               "(see man blindpad).\n");
}

static const struct cli_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(struct cli *cli, const char *name)
{
    return cli_fail(cli, CLI_USAGE, "unknown command `%s`; see `blindpad help`", name);
}

static int cmd_help(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stdout);
        return CLI_OK;
    }
    const struct cli_cmd *c = find_command(argv[1]);
    if (!c)
        return unknown_command(cli, argv[1]);
    return cli_help(c->usage);
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    if (sodium_init() < 0) {
        fprintf(stderr, "blindpad: libsodium failed to initialise\n");
        return CLI_LOCAL;
    }
    cli.progress = isatty(2);
    const char *server = getenv("BLINDPAD_SERVER");
    if (server && *server)
        cli.server_given = true;
    else
        server = CLI_DEFAULT_SERVER;

    /* Take the global options out of argv (up to "--"), keep the rest in order. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return CLI_LOCAL;
    int n = 0;
    bool help = false, dashdash = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash) {
            rest[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = true;
            rest[n++] = argv[i];
        } else if (strcmp(a, "--json") == 0) {
            cli.json = true;
        } else if (strcmp(a, "--no-progress") == 0) {
            cli.progress = false;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            cli.quiet = true;
        } else if (strcmp(a, "--version") == 0) {
            printf("blindpad " BLINDPAD_CLI_VERSION "\n");
            free(rest);
            return CLI_OK;
        } else if (strcmp(a, "--server") == 0) {
            if (i + 1 >= argc) {
                free(rest);
                return cli_fail(&cli, CLI_USAGE, "--server needs a URL (e.g. --server %s)",
                                CLI_DEFAULT_SERVER);
            }
            server = argv[++i];
            cli.server_given = true;
        } else if (strncmp(a, "--server=", 9) == 0) {
            server = a + 9;
            cli.server_given = true;
        } else if ((strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) && n == 0) {
            help = true; /* before the command: the general help */
        } else {
            rest[n++] = argv[i];
        }
    }
    rest[n] = NULL;

    int rc = cli_set_origin(&cli, server, cli.server, sizeof cli.server);
    if (rc) {
        free(rest);
        return rc;
    }
    if (n == 0) {
        main_usage(help ? stdout : stderr);
        free(rest);
        return help ? CLI_OK : CLI_USAGE;
    }
    if (help) { /* blindpad --help upload */
        const struct cli_cmd *c = find_command(rest[0]);
        rc = c ? cli_help(c->usage) : unknown_command(&cli, rest[0]);
        free(rest);
        return rc;
    }
    cli_signals_install();
    if (strcmp(rest[0], "help") == 0) {
        rc = cmd_help(&cli, n, rest);
    } else {
        const struct cli_cmd *c = find_command(rest[0]);
        if (!c) {
            rc = unknown_command(&cli, rest[0]);
        } else {
            optind = 1; /* rest[0] is the command name, as argv[0] for getopt */
            rc = c->run(&cli, n, rest);
        }
    }
    free(rest);
    fflush(stdout);
    if (ferror(stdout) && rc == CLI_OK) {
        fprintf(stderr, "blindpad: cannot write to standard output\n");
        rc = CLI_LOCAL;
    }
    return rc;
}
