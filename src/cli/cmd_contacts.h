/* cmd_contacts.h: `blindpad contacts [list|add|accept|decline|rm]`
 * (contacts.c), on libblindpad's contacts.h. */
#ifndef BLINDPAD_CLI_CMD_CONTACTS_H
#define BLINDPAD_CLI_CMD_CONTACTS_H

#include "cli/cli.h"

int cmd_contacts(struct cli *cli, int argc, char **argv);
extern const char cli_usage_contacts[];

#endif
