/* cmd_meta.h: `blindpad owners` (owners.c) and `blindpad access` (access.c),
 * on blindpad/meta.h, and the helper they share (in owners.c). */
#ifndef BLINDPAD_CLI_CMD_META_H
#define BLINDPAD_CLI_CMD_META_H

#include <stdbool.h>

#include <blindpad/client.h>
#include <blindpad/link.h>
#include <blindpad/meta.h>

#include "cli/cli.h"

int cmd_owners(struct cli *cli, int argc, char **argv);
int cmd_access(struct cli *cli, int argc, char **argv);
extern const char cli_usage_owners[], cli_usage_access[];

/* A link opened for its metadata: the channel, the connection and, when
 * there is one for the link's server, the session's identity. */
struct cli_meta_ctx {
    struct bp_link *link;
    const char *what;            /* "document" or "file" (for messages) */
    char origin[CLI_ORIGIN_MAX];
    struct cli_session *sess;    /* NULL: no session for this server */
    struct bp_sign_key key;      /* sess's keys (pk/sk NULL without a session) */
    struct bp_client *cl;
};

/* Parses LINK (asking for its password when it has "p/" or want_pw), loads
 * the session (required when for_change: then it must be for the link's
 * server, and a document link must be an edit link), connects. Returns 0 or
 * an exit code after printing why; free with cli_meta_close either way. */
int cli_meta_open(struct cli *cli, const char *arg, bool want_pw, bool for_change,
                  struct cli_meta_ctx *ctx);
void cli_meta_close(struct cli_meta_ctx *ctx);
/* bp_meta_get with the session's key (if any); 0 or an exit code. */
int cli_meta_get(struct cli *cli, struct cli_meta_ctx *ctx, struct bp_meta **out);
/* bp_meta_set; 0 or an exit code after printing why ("you are not an owner"). */
int cli_meta_set(struct cli *cli, struct cli_meta_ctx *ctx, enum bp_meta_cmd cmd,
                 const char *const *keys, size_t n_keys, bool flag, struct bp_meta **out);
/* KEY arguments: "me" is the session's key; others must be valid edPublic
 * keys. Fills keys[] (pointers into argv or ctx). 0 or an exit code. */
int cli_meta_keys(struct cli *cli, struct cli_meta_ctx *ctx, const char *usage, char **args,
                  int n, const char **keys);
/* A JSON array of strings. */
json_t *cli_meta_list_json(char *const *l, size_t n);

#endif
