/* lg_conn.h: one Netflux client connection (libuv TCP + wslay client).
 *
 * Life cycle:  conn_new -> conn_connect -> CONNECTING -> HANDSHAKE (HTTP
 * upgrade sent, waiting for 101 and a correct Sec-WebSocket-Accept) ->
 * WAIT_IDENT -> OPEN (IDENT received: ops->on_ident) -> CLOSING -> freed.
 *
 * ops->on_close() is called exactly once for every conn on which
 * conn_connect() was called, from the libuv close callback, just before the
 * conn is freed; c->err says why (0 = closed by us). The connection answers
 * the server's [0,"","PING",t] with [0,"","PONG",t] by itself (like
 * netflux-websocket), learns the HK id from JOIN lists, and reports its own
 * JOIN after conn_join() through ops->on_joined(). Every other frame goes to
 * ops->on_frame(), already scanned (lg_nf.h).
 *
 * Reads share one static buffer (single thread, consumed synchronously);
 * writes go through a per-conn output buffer flushed with one uv_try_write()
 * and, if that is partial, one uv_write() at a time. */
#ifndef LG_CONN_H
#define LG_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "common/buf.h"
#include "lg.h"
#include "lg_nf.h"

enum conn_state { CS_CONNECTING, CS_HANDSHAKE, CS_WAIT_IDENT, CS_OPEN, CS_CLOSING };

/* Errors of our own, below libuv's range. */
enum {
    LG_EHANDSHAKE = -20001,  /* no 101, or a wrong Sec-WebSocket-Accept */
    LG_EWS = -20002,         /* wslay reported a framing error */
    LG_ECLOSEFRAME = -20003, /* the server sent a WebSocket close frame */
    LG_EPROTO = -20004,      /* Netflux-level surprise (e.g. JOIN refused) */
};

const char *lg_strerror(int err);

struct conn;

struct conn_ops {
    void (*on_ident)(struct conn *c);
    void (*on_joined)(struct conn *c);
    void (*on_frame)(struct conn *c, const struct nf_frame *f);
    void (*on_close)(struct conn *c);
};

struct conn {
    uv_tcp_t tcp;               /* tcp.data points back to this conn */
    uv_connect_t creq;
    uv_write_t wreq;
    struct conn *prev, *next;   /* lg->conns list */
    struct lg *lg;
    const struct conn_ops *ops;
    wslay_event_context_ptr ws; /* NULL until the handshake succeeded */
    enum conn_state state;
    int err;                    /* reason of the close (0, uv error, LG_E*) */
    bool joining, joined;       /* conn_join() sent / own JOIN received */
    bool reading;               /* false after conn_stop_reading() */
    char id[33];                /* our netflux id */
    char hk[17];                /* history keeper id, from the JOIN list */
    char chan[50];              /* channel passed to conn_join() */
    uint64_t seq;               /* last request seq used */
    uint64_t join_seq;
    uint64_t t_start;           /* uv_hrtime() at conn_connect() */
    uint64_t t_ident, t_join_sent, t_joined;
    uint64_t now;               /* uv_hrtime() at the start of the current read callback */
    unsigned lport;             /* our local TCP port */
    uint32_t idx;               /* scenario's index of this conn */
    uint32_t group;             /* scenario's channel index */

    /* I/O internals */
    const uint8_t *in;          /* bytes being fed to wslay (borrowed) */
    size_t in_len;
    struct buf hs;              /* handshake response so far */
    uint64_t rx_payload_left;   /* frame tracker (ws_recv): payload bytes left in the current frame */
    uint8_t rx_hdr[14];         /* frame tracker: header bytes of the next frame so far */
    uint8_t rx_hdr_len;
    char ws_key[32];            /* our Sec-WebSocket-Key */
    struct buf out;             /* bytes not yet handed to the kernel */
    struct buf busy;            /* bytes owned by the uv_write in flight */
    bool writing;

    /* scenario-owned fields */
    uint64_t *ring;             /* (seq << 32 | track id) by seq (fan-out); from xcalloc, freed on close */
    uint32_t ring_mask;
    uint32_t outstanding;       /* requests awaiting ACK */
    uint64_t n_recv;            /* scenario counter */
    uint64_t t_mark;            /* scenario timestamp */
    uint64_t aux;               /* scenario value (e.g. a txid or a seq) */
    int phase;                  /* scenario state */
};

/* Allocates a conn (not connected yet). */
struct conn *conn_new(struct lg *lg, const struct conn_ops *ops, uint32_t idx);
/* Starts the TCP connect to lg->o.addr. Whatever happens, on_close() follows
 * eventually. */
void conn_connect(struct conn *c);
/* Closes the TCP connection (no WebSocket close frame: the server sees the
 * socket go away); safe to call twice and from any callback. */
void conn_close(struct conn *c, int err);
/* Queues one text message and flushes. Returns 0, or -1 if the conn is not
 * open (nothing is sent). */
int conn_send(struct conn *c, const char *p, size_t n);
int conn_sendf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends [seq,"JOIN",chan]; the own JOIN later triggers ops->on_joined(). */
void conn_join(struct conn *c, const char *chan);
/* Stops reading from the socket for good; the TCP connection stays open. */
void conn_stop_reading(struct conn *c);
/* Bytes queued in user space and not yet accepted by the kernel. */
size_t conn_out_pending(const struct conn *c);

#endif
