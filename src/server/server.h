/* server.h: the state of one blindpad-server process, shared by the modules
 * that act on it: nf.c (Netflux routing: users, channels, JOIN/LEAVE/MSG,
 * keepalive), hk.c (the history keeper: history requests, the write path),
 * rpc.c (RPC over the history keeper), health.c (HTTP /health).
 *
 * Threads: all of this lives on the loop thread. Work sent to libuv's thread
 * pool (signature checks, fsync batches) carries its own inputs and results
 * and touches server state only in its after-work callback, on the loop.
 *
 * Lifetimes: a struct user lives while its connection is open, plus as long
 * as queued work holds a reference (u->refs); u->conn is NULL once the
 * connection is gone, and sends to it are dropped. A struct channel lives
 * while it has members or queued writes (ch->refs); when the last member
 * leaves it leaves the channel table at once (a later LEAVE gets ENOENT) and
 * is freed when the last reference goes. */
#ifndef BP_SERVER_H
#define BP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "common/buf.h"
#include "protocol/msg.h"
#include "server/config.h"
#include "server/net.h"
#include "server/settings.h"
#include "storage/store.h"

#define NF_ID_LEN 32       /* user ids: 16 random bytes in hex */
#define HK_ID_LEN 16       /* history keeper id: 8 random bytes in hex */
#define NF_CHAN_MAX 256    /* longest channel name accepted (real ids are <= 49) */
#define HK_HIGH_WATER ((size_t)512 << 10) /* history streams pause above this much queued output (must be > NET_LOW_WATER) */

struct membership {
    struct user *u;
    struct channel *ch;
    struct membership *uprev, *unext; /* the user's channels (utlist, user->chans) */
    struct membership *cprev, *cnext; /* the channel's members, join order (channel->members) */
};

struct authkey {
    char key[45];      /* 44-char base64 ed25519 public key */
    UT_hash_handle hh;
};

struct hstream;

struct user {
    char id[NF_ID_LEN + 1];
    struct server *srv;
    struct conn *conn;          /* NULL once disconnected */
    unsigned refs;              /* 1 for the connection + 1 per queued operation */
    struct membership *chans;   /* channels joined */
    uint64_t last_seen;         /* uv_now() of the last data frame */
    bool ping_out;              /* a server PING is outstanding */
    struct authkey *keys;       /* keys authenticated by signed RPCs (uthash) */
    struct hstream *streams;    /* history streams waiting for output room */
    UT_hash_handle hh;          /* srv->users */
};

struct pending;

struct channel {
    char *name;                 /* from xmalloc, NUL-terminated */
    size_t name_len;
    struct server *srv;
    unsigned refs;              /* 1 while in srv->channels + 1 per queued write */
    bool live;                  /* in srv->channels */
    bool deleted;               /* removed by its owner: queued writes are refused */
    bool drain_mark;            /* scratch flag of verify_after() */
    struct membership *members;
    unsigned nmembers;
    json_t *meta;               /* reduced metadata (valid per meta_valid), or NULL */
    bool meta_loaded;
    bool has_vkey;              /* meta has a usable validateKey */
    uint8_t vkey[32];
    bool has_last_cp;           /* duplicate-checkpoint suppression (NETFLUX.md §3.9) */
    char last_cp[MSG_CP_ID_MAX + 1];
    struct pending *q_head, *q_tail; /* writes in arrival order */
    UT_hash_handle hh;          /* srv->channels */
};

/* A channel write on its way: verified (maybe off the loop), appended, made
 * durable, then relayed and acknowledged, in arrival order per channel. */
struct pending {
    struct server *srv;
    struct channel *ch;         /* reference */
    struct user *u;             /* reference (the sender) */
    json_t *seq;                /* the request's seq (reference) */
    json_t *frame;              /* the request array (reference) */
    const char *content;        /* frame[3], borrowed */
    size_t clen;
    bool needs_verify;          /* decided on arrival from the metadata then in force */
    bool verified;              /* verification finished */
    int verify_rc;              /* 0 or BP_ESIG */
    uint8_t vkey[32];           /* copy for the worker thread */
    bool wpm;                   /* written by WRITE_PRIVATE_MESSAGE (sender null) */
    char *wpm_txid;             /* its RPC txid, for the reply (from xmalloc) */
    long long time;             /* the stored timestamp */
    struct pending *next;       /* channel queue, then the durability queue */
    struct sbuf *out;           /* the relayed frame once committed */
};

struct session;
struct files_state;
struct auth_state;
struct pins_state;
struct admin_state;
struct web_state;

/* A self-destructing channel that lost its last member: archived at
 * deadline unless someone joins again (NETFLUX.md §4.5). */
struct doomed {
    char id[33];
    uint64_t deadline;          /* uv_now() ms */
    struct doomed *next;
};

#define SELFDESTRUCT_MS 30000

struct server {
    uv_loop_t *loop;
    struct config cfg;
    struct net *net;             /* the main origin's listener (--listen) */
    struct net *net_sandbox;     /* the sandbox origin's listener, or NULL */
    struct store *store;
    struct settings settings;    /* instance settings: config, then decrees (settings.h) */
    /* Per-module state, each owned by its module (created by X_init, freed by X_free). */
    struct files_state *files;
    struct auth_state *auth;
    struct pins_state *pins;
    struct admin_state *admin;
    struct web_state *web;
    char hk_id[HK_ID_LEN + 1];
    struct user *users;          /* uthash by id */
    struct channel *channels;    /* uthash by name */
    struct session *sessions;    /* RPC sessions by public key (rpc.c) */
    uv_timer_t keepalive;        /* pings and the inactivity drop */
    uv_timer_t sync_timer;       /* group commit */
    uv_timer_t housekeeping;     /* sessions expiry, store probe */
    bool sync_busy;              /* a sync batch is on the thread pool */
    struct pending *dur_head, *dur_tail;   /* written, waiting for the next batch */
    struct pending *sync_head;             /* in the batch being fsynced */
    uv_work_t sync_work;
    struct store_sync *sync_batch;
    unsigned pending_work;       /* thread-pool jobs in flight */
    struct pending **vq;         /* messages waiting for a signature check job (xmalloc) */
    size_t vq_len, vq_cap;
    unsigned vjobs;              /* signature check jobs in flight */
    unsigned vjobs_max;          /* at most this many at once: two per CPU */
    bool stopping;
    uint64_t msgs_stored, msgs_relayed;
    char rpc_pid[24];            /* the pid part of RPC cookies */
    struct doomed *doomed;       /* self-destructing channels waiting (singly linked) */
};

/* server.c */
int server_init(struct server *srv, uv_loop_t *loop, const struct config *cfg);
void server_stop(struct server *srv, void (*done)(void *), void *arg);
void server_free(struct server *srv);
long long server_now_ms(void);

/* nf.c: Netflux */
void nf_selfdestruct_sweep(struct server *srv, bool all);
void nf_on_open(void *ud, struct conn *c);
void nf_on_message(void *ud, struct conn *c, const char *data, size_t len, int binary);
void nf_on_close(void *ud, struct conn *c, const char *reason);
void nf_on_drain(void *ud, struct conn *c);
void nf_keepalive_tick(uv_timer_t *t);
/* Sends a text frame to u if it is still connected. Takes the buffer's bytes. */
void nf_send(struct user *u, struct buf *frame);
void nf_send_sbuf(struct user *u, struct sbuf *s);
void nf_send_error(struct user *u, const json_t *seq, const char *code, const char *detail_json);
void nf_send_ack(struct user *u, const json_t *seq);
void user_unref(struct user *u);
void channel_unref(struct channel *ch);
struct channel *nf_channel_find(struct server *srv, const char *name);
/* Finds or creates (without members) the in-memory channel. */
struct channel *nf_channel_get(struct server *srv, const char *name, size_t len);
bool nf_is_member(const struct channel *ch, const struct user *u);
/* Removes u from ch (sends no LEAVE) and closes ch if it became empty. */
void nf_kick(struct channel *ch, struct user *u);
/* Drops a channel from memory without LEAVE frames (deleted channels). */
void nf_channel_drop(struct channel *ch);
/* Reads and reduces a 32-char channel's metadata from disk (metadata log, or
 * the log's legacy first line). Returns a new reference, or NULL when there
 * is none usable (meta_valid()). */
json_t *nf_meta_read(struct server *srv, const char *id);
/* Loads (once) the channel's metadata; returns it or NULL. */
const json_t *nf_channel_meta(struct channel *ch);
void nf_channel_set_meta(struct channel *ch, json_t *meta);
/* True if one of the keys u authenticated with (signed RPCs) is an owner or allowed in meta. */
bool nf_user_has_allowed_key(const struct user *u, const json_t *meta);

/* hk.c: history keeper */
void hk_on_direct(struct server *srv, struct user *u, const json_t *seq, const char *payload, size_t len);
/* The write path of a channel MSG (string content, storable channel). */
void hk_channel_write(struct server *srv, struct user *u, struct channel *ch, const json_t *seq,
                      json_t *frame);
/* WRITE_PRIVATE_MESSAGE: stores [0,null,"MSG",chan,content,time] through the
 * same pipeline and replies to txid with the time. Takes content's reference. */
void hk_private_write(struct server *srv, struct user *u, struct channel *ch, const char *txid, json_t *content);
void hk_pump_streams(struct user *u);
void hk_stream_free_all(struct user *u);
void hk_sync_kick(struct server *srv);
void hk_shutdown(struct server *srv);
/* Archives a channel (admin, expiry, eviction, owner deletion): moves its logs
 * to the archive, writes the placeholder reason (none if reason is NULL),
 * sends {"error":"EDELETED","message":reason,"channel":id} to its members and
 * drops it from memory. BP_ENOENT if there is nothing to archive. */
int hk_archive_channel(struct server *srv, const char *id, const char *reason);
/* The same, calling archived(arg) once the logs have moved and before the
 * members are told (REMOVE_OWNED_CHANNEL replies "OK" there, as the
 * reference does). */
int hk_archive_channel_then(struct server *srv, const char *id, const char *reason, void (*archived)(void *arg),
                            void *arg);
/* Restores an archived channel (admin) and reloads its metadata if it is in
 * memory. BP_EEXIST if a live log or metadata log exists, BP_ENOENT if
 * nothing is archived. */
int hk_restore_channel(struct server *srv, const char *id);
/* Called when a read or write finds channel id expired (meta borrowed):
 * archives it with the reason EXPIRED (no notice) when it is more than a day
 * past its expiry, i.e. its EXPIRE task did not run (NETFLUX.md §4.4). */
void hk_expired_access(struct server *srv, const char *id, const json_t *meta);
/* Sends an HK notice {..} to a user: [0,HK,"MSG",U,"<json>"]. */
void hk_send_notice(struct server *srv, struct user *u, const char *json_body);

/* rpc.c */
void rpc_handle(struct server *srv, struct user *u, const json_t *seq, const char *payload, size_t len,
                json_t *root);
void rpc_sessions_expire(struct server *srv);
void rpc_free(struct server *srv);

/* health.c: GET /health (called by the router, web.c) */
void health_on_http(void *ud, const struct http_req *req, struct http_resp *resp);

#endif
