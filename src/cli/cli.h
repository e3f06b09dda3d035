/* cli.h: internals of the `blindpad` command-line tool (src/cli/).
 *
 * One file per subcommand (upload.c, download.c, ...), each exporting one
 * cmd_<name>() handler; main.c holds the command table and the global
 * options; util.c the shared helpers (errors and exit codes, progress bars,
 * passwords, origins); session.c the session file.
 *
 * Conventions: handlers return an exit code (enum cli_exit), never a bp_err.
 * Every failure goes through cli_fail(), which prints one line to stderr
 * ("blindpad: <what happened>: <what to do>") and, with --json, a JSON object
 * {"ok":false,"exit":N,"error":"..."} on stdout, so scripts get both. */
#ifndef BLINDPAD_CLI_H
#define BLINDPAD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* The exit codes (documented in man/blindpad.1, EXIT STATUS). */
enum cli_exit {
    CLI_OK = 0,
    CLI_USAGE = 1,     /* bad command line */
    CLI_NOTFOUND = 2,  /* nothing at that link: deleted, expired, or never there */
    CLI_AUTH = 3,      /* wrong password or link (does not parse, does not decrypt) */
    CLI_NET = 4,       /* cannot reach the server, connection lost, timeout */
    CLI_SERVER = 5,    /* the server refused (quota, too large, error reply) */
    CLI_LOCAL = 6,     /* local file problem (exists, cannot read/write, disk full) */
    CLI_INTEGRITY = 7, /* the data does not verify: modified on the server, or truncated */
    CLI_INTERRUPTED = 130,
};

#define CLI_DEFAULT_SERVER "http://127.0.0.1:3000"
#define CLI_ORIGIN_MAX 512

struct cli {
    char server[CLI_ORIGIN_MAX]; /* origin, no trailing '/' (--server, BLINDPAD_SERVER, default) */
    bool server_given;           /* --server or BLINDPAD_SERVER was set */
    bool json;                   /* --json: machine output on stdout */
    bool progress;               /* progress bars (stderr is a terminal, no --no-progress) */
    bool quiet;                  /* -q: no notes on stderr (errors still printed) */
};

struct cli_cmd {
    const char *name;
    const char *summary; /* one line for `blindpad help` */
    const char *usage;   /* the full help of `blindpad help <name>` */
    int (*run)(struct cli *cli, int argc, char **argv);
};

/* ---- subcommands (one file each) ---- */
int cmd_upload(struct cli *cli, int argc, char **argv);
int cmd_download(struct cli *cli, int argc, char **argv);
int cmd_share(struct cli *cli, int argc, char **argv);
int cmd_link_info(struct cli *cli, int argc, char **argv);
int cmd_logout(struct cli *cli, int argc, char **argv);
int cmd_whoami(struct cli *cli, int argc, char **argv);

extern const char cli_usage_upload[], cli_usage_download[], cli_usage_share[],
    cli_usage_link_info[], cli_usage_logout[], cli_usage_whoami[];

/* ---- util.c ---- */

/* Prints the error (see the top of this file) and returns code. */
int cli_fail(struct cli *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note on stderr (not with -q). */
void cli_note(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code a library error means. */
int cli_exit_for(int bp_err);
/* "cannot reach <origin>: is blindpad-server running? (make run)" + detail. */
int cli_fail_net(struct cli *cli, const char *origin, const char *detail);
/* Prints j (compact, key order kept) and a newline on stdout; frees j. */
void cli_json_out(json_t *j);
/* Usage error for cmd: prints the message and the command's usage line. */
int cli_usage_error(struct cli *cli, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints usage to stdout, returns 0. */
int cli_help(const char *usage);
/* Writes text that others wrote (documents, letters, names) for a human:
 * C0 control bytes other than tab and newline, DEL and C1 controls become
 * '?', so that a writer cannot send escape sequences to the terminal. */
void cli_write_safe(FILE *f, const char *s, size_t n);
/* cli_write_safe() when f is a terminal, the bytes as they are otherwise
 * (a pipe or a file gets the document exactly). */
void cli_write_text(FILE *f, const char *s, size_t n);

/* The origin ("http://host:port") of a full URL link into out; returns false
 * for a bare hash or a relative link (then the caller uses --server). */
bool cli_link_origin(const char *link, char *out, size_t cap);
/* Normalises and checks a server URL into an origin (scheme://host[:port],
 * no path, no trailing '/'). Only http:// is supported. Returns 0 or an exit
 * code after printing why. */
int cli_set_origin(struct cli *cli, const char *url, char *out, size_t cap);

/* A password: $BLINDPAD_PASSWORD if set, else asked on the terminal (no
 * echo). *out is sodium_malloc'd (sodium_free it). Returns 0 or an exit code. */
int cli_password(struct cli *cli, const char *prompt, char **out);

/* SIGINT/SIGTERM set a flag the long loops check (upload cancels cleanly,
 * download keeps its .part file). */
void cli_signals_install(void);
bool cli_interrupted(void);

/* Progress bar on stderr, only when cli->progress. */
struct cli_progress {
    bool on;
    const char *label;
    uint64_t total, done, base; /* base: bytes already there when resuming */
    double t0, last;
};
void cli_progress_start(struct cli *cli, struct cli_progress *p, const char *label, uint64_t total,
                        uint64_t base);
void cli_progress_add(struct cli_progress *p, uint64_t n);
void cli_progress_end(struct cli_progress *p, bool ok);
double cli_now(void);

/* A human size ("12.3 MB") into buf. */
const char *cli_human(uint64_t n, char *buf, size_t cap);
/* A MIME type guessed from the file name's extension; never NULL. */
const char *cli_guess_type(const char *name);

/* ---- session.c ---- */

/* The session file: $XDG_CONFIG_HOME/blindpad/session or
 * ~/.config/blindpad/session, mode 0600, in a 0700 directory. Format (text,
 * one "key=value" per line; no JSON so that the secret never passes through
 * an allocator that does not wipe):
 *   # blindpad session: secret, keep it 0600
 *   version=1
 *   kind=anonymous            (an identity made by `upload --owned`; accounts later)
 *   server=http://127.0.0.1:3000
 *   edPublic=<b64 32 bytes>
 *   edPrivate=<b64 64 bytes>  (tweetnacl layout: seed || public key)
 * The private key is decoded into sodium_malloc'd memory. */
struct cli_session {
    char kind[32];
    char server[CLI_ORIGIN_MAX];
    char ed_public[64];  /* b64 */
    unsigned char pk[32];
    unsigned char *sk;   /* 64 bytes, sodium_malloc'd */
};

int cli_session_path(char *out, size_t cap);
/* 0 and *out, or BP_ENOENT (no session), BP_EFORBIDDEN (mode too open; the
 * message was printed), BP_ECORRUPT, BP_EIO. */
int cli_session_load(struct cli *cli, struct cli_session **out);
/* A new anonymous identity for server, saved. */
int cli_session_create_anonymous(struct cli *cli, const char *server, struct cli_session **out);
void cli_session_free(struct cli_session *s);
/* Overwrites the file with zeros, syncs it and unlinks it. 0, BP_ENOENT, BP_EIO. */
int cli_session_wipe(void);

#endif
