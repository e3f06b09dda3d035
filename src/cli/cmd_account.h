/* cmd_account.h: `blindpad register` and `blindpad login` (register.c,
 * login.c), on libblindpad's account.h. */
#ifndef BLINDPAD_CLI_CMD_ACCOUNT_H
#define BLINDPAD_CLI_CMD_ACCOUNT_H

#include <blindpad/account.h>

#include "cli/cli.h"

int cmd_register(struct cli *cli, int argc, char **argv);
int cmd_login(struct cli *cli, int argc, char **argv);
extern const char cli_usage_register[], cli_usage_login[];

/* login.c: shared by both commands. Parses "[--server URL] USERNAME" (the
 * global --server is already in cli->server), asks the password, runs
 * bp_account_register (reg) or bp_account_login, saves the session, prints
 * the result. Returns an exit code. */
int cli_account_run(struct cli *cli, int argc, char **argv, bool reg);

/* Writes the session file for an account (format of cli_session in cli.h,
 * kind=account, plus username= and userHash=; edPublic/edPrivate are the
 * account's keys, so `upload --owned` owns files by the account). */
int cli_account_session_save(const struct bp_account *a);

#endif
