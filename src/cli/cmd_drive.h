/* cmd_drive.h: `blindpad ls`, `rm`, `passwd` (ls.c, rm.c, passwd.c) and the
 * drive helpers they and upload/new share (drive_cli.c), on blindpad/drive.h. */
#ifndef BLINDPAD_CLI_CMD_DRIVE_H
#define BLINDPAD_CLI_CMD_DRIVE_H

#include <blindpad/drive.h>

#include "cli/cli.h"

int cmd_ls(struct cli *cli, int argc, char **argv);
int cmd_rm(struct cli *cli, int argc, char **argv);
int cmd_passwd(struct cli *cli, int argc, char **argv);
extern const char cli_usage_ls[], cli_usage_rm[], cli_usage_passwd[];

/* The logged-in account of the session file (kind=account): its user name
 * and drive hash (userHash=, a secret). */
struct cli_account_session {
    struct cli_session *s; /* keys, server */
    char username[256];
    char user_hash[160];
};
/* 0, or an exit code after printing why (not logged in, other server...). */
int cli_drive_session(struct cli *cli, struct cli_account_session *out);
void cli_drive_session_free(struct cli_account_session *as);
/* Opens the session's drive; 0 or an exit code after printing why. */
int cli_drive_open(struct cli *cli, struct cli_account_session *as, struct bp_drive **out);
/* Prints "what: why" for bp_err e of an operation on drive d (d may be
 * NULL): the drive's error text, else its connection's, else
 * bp_strerror(e); a network failure as cli_fail_net. Returns the exit code. */
int cli_fail_drive(struct cli *cli, struct bp_drive *d, int e, const char *what);
/* After `upload`/`new`: when the session is an account on cli->server, adds
 * link to its drive (root) and pins it; otherwise does nothing. Failures are
 * notes on stderr (the upload itself worked). title NULL: "<type> - date";
 * owner: the edPublic that owns it, or NULL. */
void cli_drive_add(struct cli *cli, const char *link, const char *title, const char *owner);

#endif
