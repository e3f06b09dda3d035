/* decree.h: admin decrees (SERVER-API.md §2.10, §4.9): the commands that
 * change the instance settings, applied one at a time, and replayed from
 * decree.ndjson at start.
 *
 * File format (decree.ndjson, append-only, one JSON array per line):
 *     [COMMAND, args, author, timeMs]\n
 * author is the admin's edPublic, "" for ADD_FIRST_ADMIN and the install
 * token, or a tag ("INTERNAL", "server"). A line that does not parse or whose
 * command fails is logged and skipped; the next lines still apply.
 *
 * Pure: decree_apply() changes only the struct settings it is given (no I/O,
 * no server), so replay and every command are unit-testable. */
#ifndef BP_DECREE_H
#define BP_DECREE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct settings;

/* Applies [name, args] to st. Returns 1 if something changed (the caller then
 * appends the decree), 0 if it was valid but changed nothing, or -1 with *err
 * set to the reference's error string (INVALID_ARGS, INVALID_KEY, ENOENT,
 * CANT_REMOVE_LAST_ADMIN, CANT_REMOVE_CONFIG, DECREE_UNSUPPORTED_COMMAND).
 * config_admins is the configured admin list (comma-separated), whose keys
 * RM_ADMIN_KEY may not remove. */
int decree_apply(struct settings *st, const char *config_admins, const char *name, const json_t *args,
                 const char **err);

/* Replays a decree file's bytes over st. Returns the number of lines applied
 * (changed or not); *bad counts the lines skipped (logged). */
size_t decree_replay(struct settings *st, const char *config_admins, const char *data, size_t len,
                     size_t *bad);

/* User id canonicalisation (the reference's Keys.canonicalize): a 44-char key
 * in either form, "[user@host/KEY-with-dashes]" or a legacy
 * "https://host/user/#/1/user/KEY" URL, to the unsafe edPublic. Returns 0 and
 * fills out, or -1. If name is not NULL it receives the user name of the
 * bracketed and URL forms (xmalloc, caller frees) or NULL. */
int decree_canon_key(const char *in, size_t len, char out[45], char **name);

/* True for a 44-char standard base64 string that decodes to 32 bytes. */
bool decree_valid_public_key(const char *s, size_t len);

/* True if key is in the comma-separated list (after canonicalisation). */
bool decree_key_in_list(const char *list, const char *key);

#endif
