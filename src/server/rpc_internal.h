/* rpc_internal.h: what an RPC command module sees (rpc.c owns the transport:
 * envelopes, sessions, cookies, signatures; SERVER-API.md §1).
 *
 * A module exports a table of commands, terminated by {NULL}, listed in
 * rpc.c's g_tables. rpc.c finds a command by name and kind (anonymous
 * commands only in anonymous form, signed ones only after the signature
 * verified), then calls fn(ctx, arg) on the loop thread.
 *
 * Replies: fn must answer exactly once (except DESTROY), through the
 * rpc_reply_* helpers, either before it returns or later. To answer later,
 * take rpc_ctx_keep(ctx) (a heap copy that holds a reference on the user) and
 * give it back with rpc_ctx_drop() after replying; a reply to a user who is
 * gone is dropped silently.
 *
 * arg is borrowed for the call (json_incref it to keep it). It can be any
 * JSON value: validate its type before use (Q9/Q10: every shape gets a reply,
 * none crashes). */
#ifndef BP_RPC_INTERNAL_H
#define BP_RPC_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

struct server;
struct user;

enum rpc_kind {
    RPC_ANON,        /* [COMMAND, arg] */
    RPC_SIGNED,      /* [sig, key, cookie, COMMAND, arg], signature verified */
    RPC_COOKIE_ONLY, /* [null, key, cookie, COMMAND, arg]: valid cookie, no signature (UPLOAD) */
};

struct rpc_ctx {
    struct server *srv;
    struct user *u;
    const char *txid;    /* the request's txid, serialised as JSON */
    const char *cookie;  /* the fresh cookie for a signed reply; NULL for anonymous calls */
    const char *key;     /* the caller's public key (verified for RPC_SIGNED); NULL if anonymous */
};

typedef void (*rpc_fn)(const struct rpc_ctx *c, const json_t *arg);

struct rpc_cmd {
    const char *name;
    rpc_fn fn;
    enum rpc_kind kind;
};

/* [txid,"ERROR",err] with err a string. */
void rpc_reply_error(const struct rpc_ctx *c, const char *err);
/* [txid,"ERROR",<err_json>] with err_json any serialised JSON value (GET_FILE_SIZE's
 * {"code":"ENOENT","reason":...}). */
void rpc_reply_error_json(const struct rpc_ctx *c, const char *err_json);
/* Anonymous success: [txid,null,<value_json>,null]. */
void rpc_reply_anon(const struct rpc_ctx *c, const char *value_json);
/* Signed success: [txid,cookie] when values_json is NULL, else
 * [txid,cookie,<values_json>]; values_json may hold several comma-separated
 * values, which is how an array result is flattened (GET_LIMIT: "52428800,\"\",\"\""). */
void rpc_reply_signed(const struct rpc_ctx *c, const char *values_json);

/* Keeping a context past the handler's return (see above). */
struct rpc_ctx *rpc_ctx_keep(const struct rpc_ctx *c);
void rpc_ctx_drop(struct rpc_ctx *c);

/* Ends key's RPC session now: its cookie stops working (EXPIRE_SESSION, REMOVE_PINS). */
void rpc_session_end(struct server *srv, const char *key);

/* Module tables (terminated by {NULL}). */
extern const struct rpc_cmd files_rpc_cmds[];  /* files.c: uploads */
extern const struct rpc_cmd pins_rpc_cmds[];   /* pins.c: pins, quotas, limits */
extern const struct rpc_cmd admin_rpc_cmds[];  /* admin.c: ADMIN, ADD_FIRST_ADMIN */

#endif
