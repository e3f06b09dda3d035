/* cmd_pad.h: the document subcommands (cmd_cat.c, cmd_new.c, cmd_append.c,
 * cmd_edit.c, cmd_watch.c) and their shared helper (in cmd_cat.c). To be
 * merged into cli.h by its owner. */
#ifndef BLINDPAD_CLI_CMD_PAD_H
#define BLINDPAD_CLI_CMD_PAD_H

#include <stdbool.h>

#include <blindpad/pad.h>

#include "cli/cli.h"

int cmd_cat(struct cli *cli, int argc, char **argv);
int cmd_new(struct cli *cli, int argc, char **argv);
int cmd_append(struct cli *cli, int argc, char **argv);
int cmd_edit(struct cli *cli, int argc, char **argv);
int cmd_watch(struct cli *cli, int argc, char **argv);
extern const char cli_usage_cat[], cli_usage_new[], cli_usage_append[], cli_usage_edit[],
    cli_usage_watch[];

/* Parses a document link (asking for the password when it has "p/" or
 * want_pw), connects to its server (the link's origin, else --server) and
 * opens the pad (must exist). Returns 0 and *out, or an exit code after
 * printing why. */
int cli_pad_open(struct cli *cli, const char *arg, bool want_pw, struct bp_pad **out);
/* Prints the error of a failed pad call and returns the exit code. */
int cli_pad_fail(struct cli *cli, struct bp_pad *pad, const char *what, int err);
/* Reads all of stdin into a malloc'd buffer (NUL-terminated). 0 or an exit code. */
int cli_read_stdin(struct cli *cli, char **out, size_t *len);

#endif
