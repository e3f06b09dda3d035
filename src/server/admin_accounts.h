/* admin_accounts.h: the ADMIN commands about accounts and people (SERVER-API.md
 * §2.10, §4.7, §4.10): invitations, known users, moderators, DISABLE_MFA,
 * account archival (ARCHIVE_ACCOUNT, RESTORE_ACCOUNT,
 * GET_ACCOUNT_ARCHIVE_STATUS), ARCHIVE_SUPPORT and the logo (UPLOAD_LOGO,
 * REMOVE_LOGO). admin.c checks the caller is an admin and dispatches here;
 * the file formats are at the top of admin_accounts.c.
 *
 * Internal to the admin module (admin.c, admin_accounts.c). Loop thread. */
#ifndef BP_ADMIN_ACCOUNTS_H
#define BP_ADMIN_ACCOUNTS_H

#include <jansson.h>

struct server;
struct rpc_ctx;
struct admin_accounts;

/* One ADMIN command: data is the whole ADMIN argument [COMMAND, ...]. */
typedef void (*admin_cmd_fn)(const struct rpc_ctx *c, const json_t *data);
struct admin_cmd {
    const char *name;
    admin_cmd_fn fn;
};
/* Terminated by {NULL, NULL}. */
extern const struct admin_cmd admin_accounts_cmds[];

/* Called by admin_init() after the decrees: loads the moderators' keys from
 * data/support into settings.moderators (/api/config moderatorKeys). */
int admin_accounts_init(struct server *srv);
/* Called by admin_free(). Jobs still running keep their own memory. */
void admin_accounts_free(struct server *srv);

/* ---- provided by admin.c -------------------------------------------------- */

/* Where admin_accounts.c keeps its state (inside admin.c's state). */
struct admin_accounts **admin_accounts_slot(struct server *srv);
/* Replies with v (reference taken over; NULL = no value); an array is
 * flattened into the reply, as the reference's callback values are. */
void admin_reply(const struct rpc_ctx *c, json_t *v);
/* Applies a decree and appends it to decree.ndjson if it changed something.
 * 0, or -1 with *err (a reply string). */
int admin_decree(struct server *srv, const char *name, const json_t *args, const char *author, const char **err);
/* Archives a 32-char channel or 48-char blob with the placeholder
 * "MODERATION_PAD:<reason>". 0 or a bp_err. */
int admin_archive_document(struct server *srv, const char *id, const char *reason);

#endif
