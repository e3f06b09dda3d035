/* cmd_mail.h: `blindpad mail send|read` (mail.c), on libblindpad's
 * mailbox.h, and the contact address `blindpad whoami` prints. */
#ifndef BLINDPAD_CLI_CMD_MAIL_H
#define BLINDPAD_CLI_CMD_MAIL_H

#include <stddef.h>

#include <blindpad/drive.h>

#include "cli/cli.h"

int cmd_mail(struct cli *cli, int argc, char **argv);
extern const char cli_usage_mail[];

/* The account's contact address (creates its mailbox if the drive has
 * none). 0 or a bp_err; the drive's error text is in bp_drive_error(d). */
int cli_mail_address(struct cli *cli, struct bp_drive *d, char *out, size_t cap);

#endif
