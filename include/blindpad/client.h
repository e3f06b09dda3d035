/* blindpad/client.h: a client connection to a CryptPad-compatible server:
 * WebSocket (ws:// only) + Netflux + the history keeper + RPC.
 *
 * Two layers:
 *   - bp_conn_*: asynchronous, on the caller's libuv loop. Every request takes
 *     a callback that is called exactly once (success, server error, timeout,
 *     or the connection closing), never from inside the call that queued it.
 *   - bp_client_*: a blocking facade for command-line tools. It owns a
 *     private uv loop and runs it inside each call until that call is done.
 *
 * Errors (blindpad/err.h):
 *   BP_ENET      cannot connect, or the connection dropped;
 *   BP_ESERVER   the server answered with an error; its text (the Netflux
 *                error code, the RPC error, the history keeper's "error"
 *                field) is passed as `detail` / kept by bp_client_error();
 *   BP_ETIMEOUT  no answer within the timeout (default 30 s per request;
 *                the reference client has none);
 *   BP_EPROTO    the peer is not speaking WebSocket/Netflux correctly (also
 *                an HTTP answer other than 101 to the upgrade request);
 *   BP_ECANCELED a history callback asked to stop, or bp_conn_free() was
 *                called with requests pending.
 *
 * wss:// and https:// (default port 443) use TLS (OpenSSL, TLS 1.2 minimum):
 * the certificate is verified against the system trust store plus the PEM
 * file named by $BLINDPAD_CA_FILE, and must carry the URL's host name (or IP
 * address); a failure is BP_ENET with the reason in the error text
 * ("certificate for HOST is not trusted: ..."). Verification cannot be
 * turned off.
 *
 * Ownership: strings passed to callbacks are borrowed and valid only during
 * the callback. Secret keys are never kept beyond a request: a signed RPC
 * copies the 64-byte secret key into sodium_malloc'd memory for the request's
 * lifetime (it may have to re-sign after NO_COOKIE) and sodium_free's it when
 * the request completes. No global state: several connections and clients
 * may coexist; one connection is used from one thread (its loop's). */
#ifndef BLINDPAD_CLIENT_H
#define BLINDPAD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <blindpad/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_CONN_TIMEOUT_DEFAULT 30000 /* ms per request */
#define BP_CONN_MAX_FRAME (128u << 20) /* largest WebSocket message accepted */

/* An ed25519 key pair for signed RPCs (tweetnacl layout: sk = seed || pk). */
struct bp_sign_key {
    const uint8_t *pk; /* 32 bytes */
    const uint8_t *sk; /* 64 bytes, caller-owned (ideally sodium_malloc'd) */
};

/* A channel or direct message delivered live (not from history). */
struct bp_nf_msg {
    const char *sender;  /* netflux id of the sender (the HK for HK notices) */
    const char *target;  /* channel id, or our own id for a direct message */
    const char *content; /* the string content, or the JSON text of a non-string one */
    size_t content_len;
    bool content_is_string;
    bool direct;         /* target is our id (direct message or HK notice) */
    int64_t time;        /* server timestamp (ms), 0 when absent */
};

/* One stored message from GET_HISTORY. */
struct bp_hist_msg {
    const char *sender;  /* netflux id, or "" when stored with null */
    const char *channel;
    const char *content; /* as bp_nf_msg */
    size_t content_len;
    bool content_is_string;
    int64_t time;
};

struct bp_conn;

struct bp_conn_events {
    /* IDENT received and the history keeper found (err 0), or the connection
     * could not be opened (err < 0; bp_conn_errmsg() says why). on_close
     * is not called when on_open reported an error. */
    void (*on_open)(struct bp_conn *c, int err, void *ud);
    void (*on_message)(struct bp_conn *c, const struct bp_nf_msg *m, void *ud);
    void (*on_join)(struct bp_conn *c, const char *chan, const char *user, void *ud);
    void (*on_leave)(struct bp_conn *c, const char *chan, const char *user, void *ud);
    /* The open connection ended (err BP_ENET, BP_EPROTO, BP_ETIMEOUT for 60 s of
     * silence). Every pending request has already been failed with err. Not
     * called after bp_conn_free(). */
    void (*on_close)(struct bp_conn *c, int err, void *ud);
};

struct bp_conn_opts {
    unsigned timeout_ms;   /* per request; 0 = BP_CONN_TIMEOUT_DEFAULT */
    bool no_hk_probe;      /* don't join the 34-zero channel at open to learn the HK id */
};

/* Starts connecting to url (ws://host[:port][/path] or http://... which is
 * turned into ws:// with path /cryptpad_websocket when no path is given;
 * wss:// and https:// the same over TLS).
 * events and ud are kept (events by copy). opts may be NULL. On success *out
 * is the connection (free it with bp_conn_free) and events->on_open follows.
 * Returns BP_EINVAL (bad URL), BP_ENOMEM. */
int bp_conn_new(uv_loop_t *loop, const char *url, const struct bp_conn_opts *opts,
                const struct bp_conn_events *events, void *ud, struct bp_conn **out);

/* Closes the connection (if open), fails pending requests with BP_ECANCELED
 * and releases everything once libuv has closed the handles. c must not be
 * used afterwards. Safe from inside a callback. */
void bp_conn_free(struct bp_conn *c);

/* Text about the last connection-level error ("" when none). */
const char *bp_conn_errmsg(const struct bp_conn *c);
/* Our netflux id (32 hex) and the history keeper's (16 hex); "" if unknown. */
const char *bp_conn_id(const struct bp_conn *c);
const char *bp_conn_hk(const struct bp_conn *c);
/* How many times a signed RPC got NO_COOKIE and was retried (diagnostics). */
unsigned bp_conn_cookie_retries(const struct bp_conn *c);

/* Completion of LEAVE / MSG. detail: the server's error code on BP_ESERVER
 * (e.g. "enoent", "NOT_IN_CHAN"; "ERROR" for a bare [seq,"ERROR"]). */
typedef void (*bp_conn_done_cb)(struct bp_conn *c, int err, const char *detail, void *ud);
/* Completion of JOIN: chan is the joined channel (as named by the JACK),
 * members the other users already in it, oldest first (not us, not the HK). */
typedef void (*bp_conn_join_cb)(struct bp_conn *c, int err, const char *chan,
                                const char *const *members, size_t n_members,
                                const char *detail, void *ud);
/* Completion of an RPC. reply_json: the JSON array of the reply's values
 * (anonymous: [value]; signed: what follows the cookie, e.g. [] for COOKIE
 * and [limit,plan,note] for GET_LIMIT). On BP_ESERVER detail is the error
 * (a string, or the JSON text of a non-string error). */
typedef void (*bp_conn_rpc_cb)(struct bp_conn *c, int err, const char *reply_json,
                               const char *detail, void *ud);

/* [seq,"JOIN",chan]. chan NULL or "" lets the server pick a name. An EJOINED
 * answer is treated like a JACK (as netflux-websocket does). */
int bp_conn_join(struct bp_conn *c, const char *chan, bp_conn_join_cb cb, void *ud);
int bp_conn_leave(struct bp_conn *c, const char *chan, bp_conn_done_cb cb, void *ud);
/* [seq,"MSG",target,content]: target is a channel or a user id; content is
 * sent as a JSON string (len bytes, valid UTF-8; BP_EINVAL otherwise). */
int bp_conn_send(struct bp_conn *c, const char *target, const char *content, size_t len,
                 bp_conn_done_cb cb, void *ud);

struct bp_history_opts {
    const char *last_known_hash; /* 64-char hash to resume from, or NULL */
    bool from_start;             /* lastKnownHash = -1 (whole log) */
    const char *metadata_json;   /* JSON object used if this request creates the channel */
};

struct bp_history_cbs {
    /* The channel's metadata object (JSON text). Return nonzero to stop. */
    int (*on_meta)(const char *json, size_t len, void *ud);
    /* One stored message. Return nonzero to stop (the request then ends
     * with BP_ECANCELED). */
    int (*on_msg)(const struct bp_hist_msg *m, void *ud);
    /* Called once: 0 after the end marker; BP_ESERVER with detail the
     * history keeper's error ("EUNKNOWN", "EDELETED", "ERESTRICTED", ...). */
    void (*on_done)(struct bp_conn *c, int err, const char *detail, void *ud);
};

/* GET_HISTORY for chan (you normally JOIN first: only a member's request
 * creates a channel). The timeout applies between frames, not to the total. */
int bp_conn_history(struct bp_conn *c, const char *chan, const struct bp_history_opts *opts,
                    const struct bp_history_cbs *cbs, void *ud);

/* An RPC through the history keeper. key NULL = anonymous [cmd,arg];
 * otherwise signed [sig,pk,cookie,cmd,arg] with the connection's cookie for
 * that key (fetched with COOKIE first when there is none; on NO_COOKIE a
 * COOKIE is sent and the request re-signed and resent once, under a new
 * txid). arg_json: the argument as JSON text (NULL = null); it is
 * re-serialised the way JSON.stringify would before signing. */
int bp_conn_rpc(struct bp_conn *c, const struct bp_sign_key *key, const char *cmd,
                const char *arg_json, bp_conn_rpc_cb cb, void *ud);

/* ---- blocking facade --------------------------------------------------- */

struct bp_client;

struct bp_client_opts {
    unsigned timeout_ms; /* per request (also for the connect); 0 = default */
    /* Live messages, JOIN/LEAVE events; called from inside any bp_client_*
     * call that runs the loop (and from bp_client_poll). May be NULL. */
    void (*on_message)(const struct bp_nf_msg *m, void *ud);
    void (*on_join)(const char *chan, const char *user, void *ud);
    void (*on_leave)(const char *chan, const char *user, void *ud);
    void *ud;
};

/* Connects and waits for IDENT and the HK id. On error *out is NULL and, if
 * errmsg is not NULL, a description is copied there (errmsg_len bytes). */
int bp_client_open(const char *url, const struct bp_client_opts *opts, struct bp_client **out,
                   char *errmsg, size_t errmsg_len);
void bp_client_free(struct bp_client *cl);
/* Text of the last error of a bp_client_* call (the server's error string
 * after BP_ESERVER); "" when the last call succeeded. Valid until the next call. */
const char *bp_client_error(const struct bp_client *cl);
const char *bp_client_id(const struct bp_client *cl);
const char *bp_client_hk(const struct bp_client *cl);
/* The underlying connection (for bp_conn_* calls on the private loop). */
struct bp_conn *bp_client_conn(struct bp_client *cl);

/* Joins chan. If chan_out is not NULL the channel name (chan, or the one the
 * server picked) is copied there (64 bytes suffice for any real id). If
 * n_members is not NULL it gets the number of other members. */
int bp_client_join(struct bp_client *cl, const char *chan, char *chan_out, size_t chan_out_len,
                   size_t *n_members);
int bp_client_leave(struct bp_client *cl, const char *chan);
int bp_client_send(struct bp_client *cl, const char *target, const char *content, size_t len);
/* GET_HISTORY; on_meta may be NULL; on_msg is called per message. */
int bp_client_history(struct bp_client *cl, const char *chan, const struct bp_history_opts *opts,
                      int (*on_meta)(const char *json, size_t len, void *ud),
                      int (*on_msg)(const struct bp_hist_msg *m, void *ud), void *ud);
/* RPC; *reply_json (malloc'd, caller frees) gets the values array. */
int bp_client_rpc(struct bp_client *cl, const struct bp_sign_key *key, const char *cmd,
                  const char *arg_json, char **reply_json);
/* Runs the loop for up to timeout_ms (delivering live messages). Returns 0,
 * or BP_ENET once the connection has dropped. */
int bp_client_poll(struct bp_client *cl, unsigned timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
