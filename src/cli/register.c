/* register.c: `blindpad register [--server URL] USERNAME`: a new CryptPad
 * account (blindpad/account.h), usable from the web client too. */
#include "cli/cmd_account.h"

const char cli_usage_register[] =
    "usage: blindpad register [--server URL] USERNAME\n"
    "\n"
    "Creates an account on the server, as CryptPad's /register/ page does: a new\n"
    "drive owned by fresh account keys and a login block found from the user name\n"
    "and password. The password comes from $BLINDPAD_PASSWORD, or is asked on the\n"
    "terminal (at least 8 characters). Then you are logged in: the session file\n"
    "keeps the account's keys (`blindpad whoami`, `blindpad logout`).\n"
    "Exit status 5 if the name is taken (same name and password), 2 if an account\n"
    "with these credentials was deleted, 1 for a password that is too short.\n";

int cmd_register(struct cli *cli, int argc, char **argv)
{
    return cli_account_run(cli, argc, argv, true);
}
