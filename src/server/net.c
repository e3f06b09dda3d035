/* net.c: the connection layer (see net.h): libuv TCP, HTTP/1.1 through
 * http_parser, WebSocket (RFC 6455) through wslay.
 *
 * Per-connection state machine
 * ----------------------------
 *
 *            accept: TCP_NODELAY, reading, idle timer (http_timer)
 *               |
 *               v
 *      +-----------------+   valid upgrade: 101 queued,   +-----------------+
 *      |    CONN_HTTP    |---- wslay created, on_open() -->|     CONN_WS     |
 *      | http_parser,    |       (http_request_done)       | wslay parses    |
 *      | keep-alive,     |                                 | input; on_msg() |
 *      | file bodies     |                                 |                 |
 *      +-----------------+                                 +-----------------+
 *        | 400/413/431, "Connection: close" (after the       | conn_close(), peer's close
 *        | file body, if any), EOF with a response still     | frame, wslay's 1002/1007/1009,
 *        | queued (http_error, http_respond, file_done,      | net_shutdown() 1001 (ws_close)
 *        | conn_eof)                                         |
 *        v                                                   v
 *      +-----------------------------------------------------------------+
 *      | CONN_CLOSING (conn_enter_closing): no new output; the queue,    |
 *      | whose last item is the response or the close frame, is flushed; |
 *      | input still goes to wslay (only to see the peer's close frame), |
 *      | or, when wslay cannot read any more, we shutdown(SHUT_WR) and   |
 *      | discard input until EOF. A 2 s timer bounds this state (HTTP:   |
 *      | once the queue is written; until then the stall limit).         |
 *      +-----------------------------------------------------------------+
 *        | queue empty and (peer's close frame or EOF), or the timer fires
 *        v (conn_maybe_finish, on_conn_timer)
 *      CONN_CLOSED (conn_finish): uv_close() on the socket and the timer
 *        | both close callbacks ran (on_conn_handle_close)
 *        v
 *      on_close() if on_open() was called, then conn_free()
 *
 * conn_abort(), a socket error, SEND_BUFFER_FULL, EOF on an open WebSocket,
 * an HTTP time limit, a failed file read and net_shutdown() on a plain HTTP
 * connection (open or closing) go straight to CONN_CLOSED from any state.
 *
 * Inside CONN_HTTP a connection waits for one of three things, each with its
 * own limit (net_config; http_timer() arms the one timer accordingly):
 *   idle     no request begun: http_idle_ms from accept or from the moment
 *            the previous response was written;
 *   request  from the first byte of a request (hp_on_message_begin): its
 *            head within http_head_ms, head and body within
 *            http_request_ms. Reading more bytes never moves these
 *            deadlines, so a peer that trickles a request one byte at a
 *            time (slowloris) is dropped when they pass; its memory is
 *            bounded by max_http_header and max_http_body;
 *   response output queued or a file body pending: http_stall_ms, pushed
 *            back each time a write completes or, when it fires, if
 *            libuv's write queue shrank meanwhile (the peer is reading,
 *            slowly: a write of NET_FILE_QUEUE bytes may take long).
 * Reading is paused while a response is queued (read_paused), so a peer
 * that pipelines requests without reading answers holds at most the answers
 * to one read's worth (NET_READ_BUF) of requests.
 *
 * File bodies (struct file_out): http_request_done() queues the head, then
 * file_read_next() reads NET_FILE_CHUNK bytes with uv_fs_read() on the
 * thread pool into an out_item, which on_file_read() queues; the next read
 * starts only while less than NET_FILE_QUEUE bytes are queued, so a download
 * holds at most NET_FILE_QUEUE + NET_FILE_CHUNK bytes, whatever the file
 * size. While a body is pending, input is stashed, not parsed (pipelined
 * answers must follow the body); file_done() parses it once the last chunk
 * is queued. If the conn closes during a read, the read's callback frees the
 * chunk and closes the file (file_detach()).
 *
 * The reason given to on_close() is the first cause seen:
 *   SOCKET_CLOSED     the peer's close frame, or EOF
 *   SOCKET_ERROR      a read/write error; a frame wslay or net rejected
 *                     (close 1002, 1007 or 1009 was sent)
 *   SEND_BUFFER_FULL  conn_send() went over max_output
 *   SERVER_SHUTDOWN   net_shutdown() (close 1001 was sent)
 *   <reason>          conn_close(c, code, reason), or "CLOSED" if reason is NULL/""
 *   <reason>          conn_abort(c, reason), or "ABORTED"
 *
 * Invariants:
 *  1. on_close() is called once per on_open(), from the libuv close callback,
 *     never from inside a net_* or conn_* call made by the application. So a
 *     conn_send() that drops a connection in the middle of a broadcast loop
 *     does not re-enter the application.
 *  2. Memory of a conn is freed only once libuv closed both of its handles.
 *  3. Once a close frame has been queued nothing is queued after it:
 *     conn_send() is refused in every state but CONN_WS.
 *  4. on_message() is called only in CONN_WS, so not after conn_close().
 *
 * Output queue and frame encoding
 * -------------------------------
 * Each conn has one FIFO of struct out_item; c->pending counts the bytes
 * queued and not yet reported written by libuv. Everything goes through it:
 * HTTP responses, data frames and wslay's control frames, so their order on
 * the wire is the order in which they were queued.
 *
 * Data frames are NOT queued through wslay_event_queue_msg(): wslay copies
 * every payload into its own buffer and hands it back through a send callback,
 * which for a broadcast to N connections means N copies of the same message.
 * Instead net encodes the 2-10 byte header of server frames itself (they are
 * unmasked, final, opcode 1; RFC 6455 §5.2) into the item and keeps a
 * reference on the caller's sbuf, so header and payload go out as two
 * uv_buf_t. wslay thus only produces control frames (pong, close); its send
 * callback copies their few bytes into the same FIFO.
 *
 * Writes are batched like Redis's handleClientsWithPendingWrites(): queuing
 * only puts the conn on net->flush; a uv_prepare handle, which runs once per
 * loop iteration just before the loop blocks, then writes each listed queue
 * with one uv_write() of up to NET_WRITE_BUFS buffers (one writev). At most
 * one write per conn is in flight; its callback releases the items and
 * starts the next batch.
 *
 * Ownership: net owns the conns; a conn owns its items, its wslay context and
 * its HTTP request state; an item owns one reference on its sbuf. Reads land
 * in one buffer per net (n->rbuf), consumed before the read callback returns.
 *
 * Limits: the request head is capped by max_http_header (both counted here
 * before buffering and by http_parser's own byte count), the body by
 * max_http_body (Content-Length checked before reading it), a WebSocket
 * message by max_message (wslay checks each frame's declared length before it
 * allocates), and the output by max_output. */
#include "server/net.h"

#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <http_parser.h>
#include <nettle/sha1.h>
#include <sodium.h>
#include <wslay/wslay.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "server/net_internal.h"

#define NET_BACKLOG 1024
#define NET_READ_BUF (64 * 1024)    /* bytes read per read callback */
#define NET_WRITE_BUFS 1024         /* uv_buf_t per uv_write (IOV_MAX on Linux) */
#define NET_CLOSE_TIMEOUT_MS 2000   /* CONN_CLOSING lasts at most this long */
#define NET_FILE_QUEUE (2 * NET_FILE_CHUNK) /* a file's next chunk is read below this much queued */

/* Used when a net_config field is 0. */
#define NET_DEFAULT_MAX_MESSAGE (100u << 20) /* the reference's ws maxPayload */
#define NET_DEFAULT_MAX_OUTPUT (16u << 20)
#define NET_DEFAULT_MAX_HTTP_HEADER (16u << 10)
#define NET_DEFAULT_MAX_HTTP_BODY (1u << 20)
#define NET_DEFAULT_MAX_CONNS 10000u
#define NET_DEFAULT_HTTP_IDLE_MS 30000
#define NET_DEFAULT_HTTP_HEAD_MS 30000
#define NET_DEFAULT_HTTP_REQUEST_MS 120000
#define NET_DEFAULT_HTTP_STALL_MS 60000

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define CONTAINER_OF(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

/* An intrusive doubly-linked list; an unlisted element links to itself. */
struct link {
    struct link *prev, *next;
};

static void link_init(struct link *l) { l->prev = l->next = l; }
static bool link_empty(const struct link *l) { return l->next == l; }

static void link_push(struct link *head, struct link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

static void link_del(struct link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    link_init(l);
}

/* One entry of a conn's output FIFO: an optional frame header, then payload. */
struct out_item {
    struct out_item *next;
    struct sbuf *sb;             /* referenced payload (conn_send_sbuf), or NULL */
    const char *data;            /* the payload: sb->data or bytes[] */
    size_t len;                  /* payload bytes */
    uint8_t hlen;                /* bytes used in hdr; 0 for pre-framed bytes */
    uint8_t hdr[NET_WS_HDR_MAX]; /* server frame header encoded by net */
    char bytes[];                /* copied payload: conn_send, HTTP, control frames */
};

enum conn_state { CONN_HTTP, CONN_WS, CONN_CLOSING, CONN_CLOSED };

/* Where the client's byte stream is relative to frame boundaries. wslay does
 * all the parsing and checking; this only reads each frame header's length
 * fields, to know when the stream is between frames so that wslay's context
 * can be freed and made again on the next byte. */
struct ws_track {
    uint64_t left;           /* payload bytes of the current frame still to come */
    uint8_t hdr[14];         /* header bytes collected so far */
    uint8_t have;            /* how many */
    bool fragmented;         /* inside a fragmented data message (FIN not seen) */
    uint64_t text;           /* ring of started data messages: bit set = sent as text */
    uint8_t head, count;     /* ring position and length (at most 64) */
};

/* The request being parsed; reset at each message begin, freed on upgrade. */
struct http_in {
    struct buf url;          /* request target as sent */
    struct buf hdrs;         /* "name\0value\0" per header, names lower-cased */
    size_t *offs;            /* 2 offsets (name, value) into hdrs per header; xmalloc */
    size_t n_hdrs, cap_hdrs; /* headers in offs, and room for */
    struct buf body;         /* plain request body, at most body_max */
    size_t body_max;         /* this request's body limit: max_http_body, or what
                                cb.body_limit answered once the head was complete */
    size_t head;             /* head bytes seen so far, against max_http_header */
    int last;                /* previous header callback: 0 none, 1 field, 2 value */
    int status;              /* error to answer (413, 431) set by a callback, or 0 */
    bool keep_alive;         /* http_should_keep_alive() at message end */
    bool upgrade;            /* http_parser saw Connection: upgrade + Upgrade */
    bool started;            /* between the request's first byte and its end */
    bool head_done;          /* its head is complete (the body may follow) */
    uint64_t t0;             /* uv_now() at its first byte: the head and request deadlines */
    unsigned method;         /* enum http_method */
};

/* HTTP-phase state: allocated at accept, freed at the upgrade, so that an
 * open WebSocket does not carry it (S3: RSS per idle connection). */
struct http_state {
    http_parser parser;
    struct http_in req;
    struct buf stash;        /* input that arrived while a file body was being sent
                                (pipelined requests); parsed once it is out. At most
                                one read (NET_READ_BUF): reading is paused meanwhile */
};

/* A file body being sent (http_resp.file_fd). The chunks are read with
 * uv_fs_read() on libuv's thread pool into out_items, which then join the
 * conn's FIFO like any output; the next read starts only while less than
 * NET_FILE_QUEUE bytes are queued (file_read_next(), called after writes).
 * A read in flight cannot be cancelled: if the conn goes meanwhile,
 * file_detach() sets c to NULL and the read's callback frees everything. */
struct file_out {
    uv_fs_t req;             /* the read in flight; req.data = this */
    struct conn *c;          /* the conn, or NULL once it is gone */
    int fd;                  /* owned: closed when the body is out or the conn gone */
    uint64_t off;            /* file offset of the next read */
    uint64_t left;           /* bytes still to read */
    struct out_item *item;   /* the chunk being read into (owned while reading) */
    bool reading;            /* a read is in flight */
    bool keep_alive;         /* the request allowed keep-alive */
};

/* Memory per idle WebSocket connection is kept small (issue 3, S3): the
 * write and shutdown requests are allocated only while in flight, the HTTP
 * state only before the upgrade, and wslay's context (about 8.8 KB, most of
 * it buffers) only while a frame is being received (see ws_track()). */
struct conn {
    uv_tcp_t tcp;            /* the socket; data = this */
    uv_timer_t timer;        /* HTTP idle timeout, then the closing timeout */
    uv_write_t *wreq;        /* the one write in flight (xmalloc), or NULL */
    struct net *net;
    struct link link;        /* in net->conns until freed */
    struct link flush_link;  /* in net->flush while output waits for on_flush */
    enum conn_state state;
    unsigned handles;        /* of tcp and timer, how many are not closed yet */
    bool opened;             /* on_open() was called, so on_close() is owed */
    bool peer_done;          /* the peer sent its close frame or EOF */
    bool shut_wr;            /* uv_shutdown() issued */
    bool in_wslay;           /* inside wslay_event_recv(): do not call wslay_event_send() */
    bool ws_failed;          /* wslay_event_recv() failed: wslay is not used again */
    bool read_paused;        /* HTTP: reading stopped until the response is written */
    bool drain_armed;        /* pending reached NET_LOW_WATER; on_drain() owed */

    struct out_item *out_head, *out_tail; /* the output FIFO, owned */
    size_t inflight_items;   /* items at the head that the write in flight covers */
    size_t inflight_bytes;   /* their bytes */
    size_t pending;          /* bytes of all items in the FIFO */
    size_t stall_q;          /* HTTP stall timer: libuv's write queue size when armed
                                (SIZE_MAX: no write in flight then) */

    struct http_state *http; /* CONN_HTTP only; owned */
    struct file_out *fout;   /* CONN_HTTP: the file body being sent, or NULL; owned */

    wslay_event_context_ptr ws; /* CONN_WS: owned; NULL while no frame is in progress */
    struct ws_track trk;     /* frame boundaries of the input, to know when ws can go */
    const char *in_p;        /* input that ws_recv_cb hands to wslay */
    size_t in_len;

    void *data;              /* conn_set_data() */
    char peer[INET6_ADDRSTRLEN];
    const char *reason;      /* for on_close(), a literal (see net.h); the first cause wins */
};

struct net {
    uv_loop_t *loop;
    struct net_config cfg;   /* limits with defaults applied; host points at host */
    char *host;              /* xstrdup */
    struct net_callbacks cb;
    uv_tcp_t listener;       /* valid once listen_inited */
    uv_prepare_t flusher;    /* runs on_flush before the loop blocks */
    struct link conns;       /* every accepted conn until freed */
    struct link flush;       /* conns with output waiting for on_flush */
    size_t n_conns;
    unsigned handles;        /* listener, flusher, refused sockets not yet closed */
    int port;                /* bound port, after net_listen() */
    bool listen_inited, listener_closing, flusher_closing;
    bool shutting_down;      /* net_shutdown() was called */
    uint64_t refused_logged; /* uv_now() of the last "refusing" log line */
    bool free_pending;       /* net_free() was called; free when handles hit 0 */
    void (*done)(void *arg); /* net_shutdown()'s callback, called once */
    void *done_arg;
    char rbuf[NET_READ_BUF]; /* shared read buffer (reads are consumed at once) */
};

static void on_flush(uv_prepare_t *h);
static void on_write(uv_write_t *req, int status);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_finish(struct conn *c);
static void conn_maybe_finish(struct conn *c);
static void ws_pump(struct conn *c);
static bool ws_track_pop(struct ws_track *t);
static void http_timer(struct conn *c);
static void file_read_next(struct conn *c);

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

static char ascii_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

/* Trims blanks around s[0..*len); returns the new start. */
static const char *trim(const char *s, size_t *len)
{
    size_t n = *len;
    while (n && is_ows(*s)) {
        s++;
        n--;
    }
    while (n && is_ows(s[n - 1]))
        n--;
    *len = n;
    return s;
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

/* True if the comma-separated list s holds tok (case-insensitive). */
static bool list_has_token(const char *s, const char *tok)
{
    while (*s) {
        size_t n = strcspn(s, ",");
        size_t tl = n;
        const char *t = trim(s, &tl);
        if (eq_nocase(t, tl, tok))
            return true;
        s += n;
        if (*s == ',')
            s++;
    }
    return false;
}

/* RFC 7230 tchar: what a subprotocol token may contain. */
static bool is_tchar(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static void set_reason(struct conn *c, const char *reason)
{
    if (!c->reason && reason && *reason)
        c->reason = reason;
}

/* ---------------------------------------------------------------------- */
/* WebSocket pure helpers                                                  */

size_t net__ws_frame_header(uint8_t out[NET_WS_HDR_MAX], unsigned opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80u | (opcode & 0x0fu)); /* FIN, RSV 0 */
    if (len < 126) {
        out[1] = (uint8_t)len; /* MASK bit 0: server frames are not masked */
        return 2;
    }
    if (len <= 0xffffu) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int net__ws_accept(const char *key, size_t key_len, char out[NET_WS_ACCEPT_LEN])
{
    unsigned char raw[16];
    size_t raw_len = 0;
    const char *end = NULL;
    out[0] = '\0';
    key = trim(key, &key_len);
    /* A 16-byte nonce is exactly 24 base64 characters; checking the length
     * first also bounds what sodium reads. */
    if (key_len != 24 || !b64_chars_ok(key, key_len, false) ||
        sodium_base642bin(raw, sizeof raw, key, key_len, NULL, &raw_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        raw_len != 16 || end != key + key_len)
        return BP_EPROTO;

    struct sha1_ctx sha;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&sha);
    sha1_update(&sha, key_len, (const uint8_t *)key);
    sha1_update(&sha, sizeof WS_GUID - 1, (const uint8_t *)WS_GUID);
    sha1_digest(&sha, sizeof digest, digest);
    sodium_bin2base64(out, NET_WS_ACCEPT_LEN, digest, sizeof digest,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

static bool ws_code_valid(uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* ---------------------------------------------------------------------- */
/* Output queue                                                            */

/* Returns an item with room for inline_len payload bytes in bytes[]. */
static struct out_item *item_new(size_t inline_len)
{
    struct out_item *it = xmalloc(sizeof *it + inline_len);
    it->next = NULL;
    it->sb = NULL;
    it->data = it->bytes;
    it->len = inline_len;
    it->hlen = 0;
    return it;
}

static void item_free(struct out_item *it)
{
    sbuf_unref(it->sb);
    free(it);
}

/* Returns true if hlen + len more bytes fit under max_output, or if nothing
 * is queued: the cap bounds a backlog, and one message (itself bounded by the
 * message size limits) must always get through to a reader that keeps up.
 * Otherwise drops c (on_close: SEND_BUFFER_FULL) and returns false. Checked
 * before the item is allocated. */
static bool conn_room(struct conn *c, size_t hlen, size_t len)
{
    size_t cap = c->net->cfg.max_output;
    if (c->pending == 0 || (len <= cap && hlen <= cap - len && c->pending <= cap - len - hlen))
        return true;
    LOG_DEBUG("net: %s: output over %zu bytes, dropping", c->peer, cap);
    conn_abort(c, "SEND_BUFFER_FULL");
    return false;
}

/* Lists c for on_flush() unless a write is already in flight (its callback
 * continues) or c is listed already. */
static void conn_schedule_flush(struct conn *c)
{
    struct net *n = c->net;
    if (c->state == CONN_CLOSED || c->inflight_items || !c->out_head ||
        !link_empty(&c->flush_link))
        return;
    if (link_empty(&n->flush))
        uv_prepare_start(&n->flusher, on_flush);
    link_push(&n->flush, &c->flush_link);
}

/* Appends it (now owned by c) to the output FIFO. */
static void conn_push(struct conn *c, struct out_item *it)
{
    if (c->out_tail)
        c->out_tail->next = it;
    else
        c->out_head = it;
    c->out_tail = it;
    c->pending += it->hlen + it->len;
    if (c->pending >= NET_LOW_WATER)
        c->drain_armed = true;
    conn_schedule_flush(c);
}

/* Queues a copy of pre-framed bytes (HTTP, control frames) without a cap. */
static void conn_push_bytes(struct conn *c, const void *p, size_t len)
{
    struct out_item *it = item_new(len);
    memcpy(it->bytes, p, len);
    conn_push(c, it);
}

/* Frees the first n items of the FIFO, which hold bytes bytes. */
static void conn_release(struct conn *c, size_t n, size_t bytes)
{
    for (size_t i = 0; i < n; i++) {
        struct out_item *it = c->out_head;
        c->out_head = it->next;
        item_free(it);
    }
    if (!c->out_head)
        c->out_tail = NULL;
    c->pending -= bytes;
}

/* After output was written: on_drain(); for HTTP, the next chunk of a file
 * body and the stall timer pushed back (the peer took bytes); when the FIFO
 * is empty and no file body is pending, resume an HTTP conn's reading or
 * finish a closing conn. Returns false if c is closed or must not be written
 * to now. */
static bool conn_after_write(struct conn *c)
{
    struct net *n = c->net;
    if (c->drain_armed && c->pending < NET_LOW_WATER) {
        c->drain_armed = false;
        if (c->state == CONN_WS && n->cb.on_drain) {
            n->cb.on_drain(n->cb.ud, c);
            if (c->state == CONN_CLOSED)
                return false;
        }
    }
    file_read_next(c);
    if (c->state == CONN_CLOSED)
        return false;
    if (c->out_head) {
        http_timer(c);
        return true;
    }
    if (c->state == CONN_HTTP && c->read_paused && !c->fout) {
        c->read_paused = false;
        /* A pipelined request's bytes waited for us, not for the peer. */
        if (c->http->req.started)
            c->http->req.t0 = uv_now(n->loop);
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
            conn_finish(c);
            return false;
        }
    }
    http_timer(c);
    conn_maybe_finish(c);
    return false;
}

/* Fills bufs from the head of the FIFO, skipping skip bytes of the first
 * item. Returns the number of buffers; *items and *bytes get how many items
 * they cover and the full size of those items. */
static unsigned conn_bufs(struct conn *c, uv_buf_t *bufs, size_t skip, size_t *items, size_t *bytes)
{
    unsigned nb = 0;
    *items = *bytes = 0;
    for (struct out_item *it = c->out_head; it && nb + 2 <= NET_WRITE_BUFS; it = it->next) {
        /* uv_buf_t is set by hand: uv_buf_init() takes an unsigned int length. */
        const char *parts[2] = {(const char *)it->hdr, it->data};
        size_t lens[2] = {it->hlen, it->len};
        for (int k = 0; k < 2; k++) {
            size_t off = skip < lens[k] ? skip : lens[k];
            skip -= off;
            if (lens[k] - off) {
                bufs[nb].base = (char *)parts[k] + off;
                bufs[nb++].len = lens[k] - off;
            }
        }
        (*items)++;
        *bytes += it->hlen + it->len;
    }
    return nb;
}

/* Writes the FIFO. First with uv_try_write() (a plain writev): when the
 * socket takes everything, as it does for a reader that keeps up, there is
 * no write request, no callback and no epoll_ctl() (libuv re-arms epoll
 * after every queued write). What the socket does not take goes out with
 * one uv_write(); at most one is in flight, and nothing else is written
 * until its callback. */
static void conn_write_start(struct conn *c)
{
    uv_buf_t bufs[NET_WRITE_BUFS];
    while (c->state != CONN_CLOSED && !c->inflight_items && c->out_head) {
        size_t items, bytes;
        unsigned nb = conn_bufs(c, bufs, 0, &items, &bytes);
        int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
        if (w < 0 && w != UV_EAGAIN) {
            LOG_DEBUG("net: %s: write: %s", c->peer, uv_strerror(w));
            set_reason(c, "SOCKET_ERROR");
            conn_finish(c);
            return;
        }
        size_t done = w > 0 ? (size_t)w : 0;
        if (done == bytes) {
            conn_release(c, items, bytes);
            if (!conn_after_write(c))
                return;
            continue;
        }
        /* Release the items written whole; write the rest with a request. */
        size_t rel = 0, rel_bytes = 0;
        for (struct out_item *it = c->out_head; it && done >= (size_t)it->hlen + it->len; it = it->next) {
            done -= it->hlen + it->len;
            rel++;
            rel_bytes += it->hlen + it->len;
        }
        conn_release(c, rel, rel_bytes);
        if (rel) {
            /* Progress: keep a file body's queue full while the rest is written. */
            file_read_next(c);
            if (c->state == CONN_CLOSED)
                return;
            http_timer(c);
        }
        nb = conn_bufs(c, bufs, done, &items, &bytes);
        c->wreq = xmalloc(sizeof *c->wreq);
        c->wreq->data = c;
        int rc = uv_write(c->wreq, (uv_stream_t *)&c->tcp, bufs, nb, on_write);
        if (rc < 0) {
            free(c->wreq);
            c->wreq = NULL;
            set_reason(c, "SOCKET_ERROR");
            conn_finish(c);
            return;
        }
        c->inflight_items = items;
        c->inflight_bytes = bytes;
        return;
    }
}

static void on_flush(uv_prepare_t *h)
{
    struct net *n = h->data;
    while (!link_empty(&n->flush)) {
        struct link *l = n->flush.next;
        link_del(l);
        conn_write_start(CONTAINER_OF(l, struct conn, flush_link));
    }
    uv_prepare_stop(h);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    free(req);
    c->wreq = NULL;
    conn_release(c, c->inflight_items, c->inflight_bytes);
    c->inflight_items = c->inflight_bytes = 0;
    if (c->state == CONN_CLOSED) /* also UV_ECANCELED: closed under the write */
        return;
    if (status < 0) {
        LOG_DEBUG("net: %s: write: %s", c->peer, uv_strerror(status));
        set_reason(c, "SOCKET_ERROR");
        conn_finish(c);
        return;
    }
    if (conn_after_write(c))
        conn_write_start(c);
}

/* ---------------------------------------------------------------------- */
/* Closing                                                                 */

static void on_conn_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    /* HTTP output stall: a write in flight completes only once all its
     * buffers (up to NET_FILE_QUEUE bytes) are out, which a slow but steady
     * reader may take longer than the limit to do; what counts is that libuv's
     * queue shrank since the timer was armed. */
    if (c->http && c->wreq && (c->state == CONN_HTTP || c->state == CONN_CLOSING)) {
        size_t q = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
        if (q < c->stall_q) {
            c->stall_q = q;
            uv_timer_start(&c->timer, on_conn_timer, c->net->cfg.http_stall_ms, 0);
            return;
        }
    }
    /* CONN_HTTP: a time limit passed; CONN_CLOSING: the peer did not finish in time. */
    conn_finish(c);
}

static void conn_enter_closing(struct conn *c, const char *reason)
{
    set_reason(c, reason);
    c->state = CONN_CLOSING;
    if (c->http)
        http_timer(c); /* the response may be large: stall limit until it is out */
    else
        uv_timer_start(&c->timer, on_conn_timer, NET_CLOSE_TIMEOUT_MS, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    free(req);
    if (status < 0 && c->state != CONN_CLOSED)
        conn_finish(c);
}

/* In CONN_CLOSING, once the FIFO is written: close at once if the peer is done.
 * If wslay still reads, wait for the peer's close frame (or EOF, or the timer).
 * Otherwise (HTTP, or a close forced by a protocol error) half-close, so the
 * peer sees EOF after our last bytes, and wait for its EOF: closing with
 * unread input would send a RST that can destroy the response in flight. */
static void conn_maybe_finish(struct conn *c)
{
    if (c->state != CONN_CLOSING || c->in_wslay || c->out_head)
        return;
    if (c->peer_done) {
        conn_finish(c);
        return;
    }
    if (c->ws && !c->ws_failed && wslay_event_get_read_enabled(c->ws))
        return;
    if (!c->shut_wr) {
        c->shut_wr = true;
        uv_shutdown_t *sreq = xmalloc(sizeof *sreq);
        sreq->data = c;
        if (uv_shutdown(sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
            free(sreq);
            conn_finish(c);
        }
    }
}

static void net_maybe_done(struct net *n);
static void net_handle_closed(struct net *n);

static void http_in_free(struct http_in *r)
{
    buf_free(&r->url);
    buf_free(&r->hdrs);
    buf_free(&r->body);
    free(r->offs);
    r->offs = NULL;
    r->n_hdrs = r->cap_hdrs = 0;
}

static void http_state_free(struct conn *c)
{
    if (!c->http)
        return;
    http_in_free(&c->http->req);
    buf_free(&c->http->stash);
    free(c->http);
    c->http = NULL;
}

static void file_free(struct file_out *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->item)
        item_free(f->item);
    free(f);
}

/* Drops c's file body (the conn is closing). A read in flight keeps the
 * struct alive: its callback sees f->c == NULL and frees it. */
static void file_detach(struct conn *c)
{
    struct file_out *f = c->fout;
    if (!f)
        return;
    c->fout = NULL;
    if (f->reading)
        f->c = NULL;
    else
        file_free(f);
}

static void conn_free(struct conn *c)
{
    struct net *n = c->net;
    while (c->out_head) {
        struct out_item *it = c->out_head;
        c->out_head = it->next;
        item_free(it);
    }
    wslay_event_context_free(c->ws);
    http_state_free(c);
    link_del(&c->flush_link);
    link_del(&c->link);
    n->n_conns--;
    free(c);
}

static void on_conn_handle_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles)
        return;
    struct net *n = c->net;
    if (c->opened && n->cb.on_close)
        n->cb.on_close(n->cb.ud, c, c->reason ? c->reason : "SOCKET_CLOSED");
    conn_free(c);
    net_maybe_done(n);
}

/* Closes both handles; on_close() and the free follow in the close callback. */
static void conn_finish(struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    c->state = CONN_CLOSED;
    file_detach(c);
    link_del(&c->flush_link);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_close);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_close);
}

/* ---------------------------------------------------------------------- */
/* WebSocket                                                               */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *ud)
{
    struct conn *c = ud;
    if (c->state == CONN_CLOSED || c->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in_p, n);
    c->in_p += n;
    c->in_len -= n;
    return (ssize_t)n;
}

/* wslay hands over control frames only (see the top of the file). */
static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                          int flags, void *ud)
{
    struct conn *c = ud;
    if (c->state == CONN_CLOSED || !conn_room(c, 0, len)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    conn_push_bytes(c, data, len);
    return (ssize_t)len;
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    struct conn *c = ud;
    struct net *n = c->net;
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME: {
        /* Text frames reach wslay relabelled binary (see ws_track()). */
        bool text = ws_track_pop(&c->trk) || arg->opcode == WSLAY_TEXT_FRAME;
        if (c->state != CONN_WS)
            return; /* closing: messages are no longer delivered */
        const char *msg = arg->msg ? (const char *)arg->msg : "";
        if (text && !utf8_valid(msg, arg->msg_length)) {
            wslay_event_queue_close(ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, NULL, 0);
            wslay_event_shutdown_read(ctx);
            conn_enter_closing(c, "SOCKET_ERROR");
            return;
        }
        if (n->cb.on_message)
            n->cb.on_message(n->cb.ud, c, msg, arg->msg_length, !text);
        return;
    }
    case WSLAY_CONNECTION_CLOSE:
        /* wslay queued the reply (or had sent ours). */
        c->peer_done = true;
        if (c->state == CONN_WS)
            conn_enter_closing(c, "SOCKET_CLOSED");
        return;
    default:
        return; /* ping (wslay queued the pong) or pong */
    }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_msg_recv_callback = ws_on_msg,
};

/* Makes wslay's context for c if it has none (see struct ws_track). */
static void ws_ensure(struct conn *c)
{
    if (c->ws)
        return;
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
        LOG_ERROR("net: out of memory in wslay");
        abort(); /* the server's OOM policy, see xmalloc.h */
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, c->net->cfg.max_message);
}

/* Follows frame boundaries over p[0..len): only the first byte and the length
 * fields of each header are read (RFC 6455 §5.2); wslay validates everything.
 *
 * It also takes text frames away from wslay's UTF-8 check, a byte-at-a-time
 * state machine that was most of wslay's cost: the first frame of a text
 * message is relabelled binary (opcode 1 -> 2, in our own read buffer, before
 * wslay reads it), and the ring records which started messages were text, in
 * order; ws_on_msg() pops it and checks those with utf8_valid() (8 ASCII bytes
 * at a time). Returns the bytes followed: it stops before a message start when
 * the ring is full, so the caller feeds wslay in slices. */
static size_t ws_track(struct ws_track *t, uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (t->left) {
            size_t n = t->left < len - i ? (size_t)t->left : len - i;
            t->left -= n;
            i += n;
            continue;
        }
        if (t->have == 0) {
            unsigned op = p[i] & 0x0f;
            if (op == 1 || op == 2) { /* a new data message */
                if (t->count == 64)
                    return i;
                uint64_t bit = 1ull << ((t->head + t->count) & 63);
                if (op == 1) {
                    t->text |= bit;
                    p[i] = (uint8_t)((p[i] & 0xf0) | 2);
                } else {
                    t->text &= ~bit;
                }
                t->count++;
            }
        }
        t->hdr[t->have++] = p[i++];
        if (t->have < 2)
            continue;
        uint8_t l7 = t->hdr[1] & 0x7f;
        size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((t->hdr[1] & 0x80) ? 4 : 0);
        if (t->have < need)
            continue;
        uint64_t plen = l7;
        if (l7 == 126) {
            plen = (uint64_t)t->hdr[2] << 8 | t->hdr[3];
        } else if (l7 == 127) {
            plen = 0;
            for (int k = 0; k < 8; k++)
                plen = plen << 8 | t->hdr[2 + k];
        }
        if ((t->hdr[0] & 0x0f) < 8) /* a data or continuation frame */
            t->fragmented = !(t->hdr[0] & 0x80);
        t->left = plen;
        t->have = 0;
    }
    return i;
}

/* Pops the kind of the oldest started message: true if it was sent as text. */
static bool ws_track_pop(struct ws_track *t)
{
    if (!t->count)
        return false;
    bool text = (t->text >> t->head) & 1;
    t->head = (uint8_t)((t->head + 1) & 63);
    t->count--;
    return text;
}

/* Frees wslay's context while the stream is between frames and wslay holds
 * nothing: an idle connection then costs no wslay memory at all. */
static void ws_maybe_release(struct conn *c)
{
    struct ws_track *t = &c->trk;
    if (c->state != CONN_WS || !c->ws || c->in_wslay || c->ws_failed || t->have || t->left ||
        t->fragmented || wslay_event_want_write(c->ws) || wslay_event_get_queued_msg_count(c->ws) ||
        !wslay_event_get_read_enabled(c->ws))
        return;
    wslay_event_context_free(c->ws);
    c->ws = NULL;
}

/* Moves the control frames wslay queued into the FIFO. */
static void ws_pump(struct conn *c)
{
    if (!c->ws || c->ws_failed || c->in_wslay || c->state == CONN_CLOSED)
        return;
    if (wslay_event_want_write(c->ws))
        wslay_event_send(c->ws); /* ws_send_cb cannot block; failure means dropped */
}

/* wslay_event_recv() failed: a frame-level protocol error (bad length
 * encoding, long or fragmented control frame). wslay would answer with an empty
 * close frame and must not be called again, so net sends 1002 itself. */
static void ws_fail(struct conn *c)
{
    static const uint8_t close_1002[4] = {0x88, 0x02, 0x03, 0xea};
    c->ws_failed = true;
    if (wslay_event_get_close_sent(c->ws)) {
        c->peer_done = true; /* our close is out; stop waiting for the reply */
        return;
    }
    if (!conn_room(c, 0, sizeof close_1002))
        return;
    conn_push_bytes(c, close_1002, sizeof close_1002);
    if (c->state == CONN_WS)
        conn_enter_closing(c, "SOCKET_ERROR");
}

static void ws_feed(struct conn *c, const char *p, size_t len);

/* Feeds WebSocket input to wslay in slices of at most 64 message starts (the
 * ring of ws_track()). p is our read buffer: ws_track() writes to it. */
static void ws_input(struct conn *c, char *p, size_t len)
{
    while (len && c->state != CONN_CLOSED) {
        ws_ensure(c);
        size_t n = ws_track(&c->trk, (uint8_t *)p, len);
        if (n == 0) {
            /* 64 messages started and none delivered: wslay gave up on the
             * stream; nothing more is read from it. */
            c->ws_failed = true;
            conn_finish(c);
            return;
        }
        ws_feed(c, p, n);
        p += n;
        len -= n;
        if (c->state != CONN_WS && !(c->ws && !c->ws_failed && wslay_event_get_read_enabled(c->ws)))
            return;
    }
}

/* Feeds WebSocket bytes to wslay, which calls ws_on_msg() per message. */
static void ws_feed(struct conn *c, const char *p, size_t len)
{
    ws_ensure(c);
    c->in_p = p;
    c->in_len = len;
    c->in_wslay = true;
    int rv = wslay_event_recv(c->ws);
    c->in_wslay = false;
    c->in_p = NULL;
    c->in_len = 0;
    if (c->state == CONN_CLOSED)
        return;
    if (rv < 0)
        ws_fail(c);
    else if (c->state == CONN_WS && !wslay_event_get_read_enabled(c->ws))
        conn_enter_closing(c, "SOCKET_ERROR"); /* wslay queued 1002, 1007 or 1009 */
    ws_pump(c);
    ws_maybe_release(c);
    conn_maybe_finish(c);
}

/* Starts the close handshake of an open WebSocket. label is for on_close(). */
static void ws_close(struct conn *c, uint16_t code, const char *reason, const char *label)
{
    if (c->state != CONN_WS)
        return;
    if (!ws_code_valid(code))
        code = WSLAY_CODE_NORMAL_CLOSURE;
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 123) { /* a control frame's payload is 125 bytes with the code */
        rlen = 123;
        while (rlen && ((unsigned char)reason[rlen] & 0xc0) == 0x80)
            rlen--; /* do not cut a UTF-8 sequence */
    }
    if (rlen && !utf8_valid(reason, rlen))
        rlen = 0;
    conn_enter_closing(c, label);
    ws_ensure(c);
    /* WSLAY_ERR_NO_MORE_MSG: wslay already queued a close; it goes out instead. */
    wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, rlen);
    ws_pump(c);
    conn_maybe_finish(c);
}

/* ---------------------------------------------------------------------- */
/* HTTP                                                                    */

static const char *http_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

/* Appends a response head announcing a body of body_len bytes. A 304 has
 * no Content-Length: it would describe the 200 body (RFC 9110 §8.6). */
static void http_head(struct buf *b, int status, const char *ctype, const struct buf *extra,
                      uint64_t body_len, bool keep_alive)
{
    buf_appendf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status, http_reason(status), ctype);
    if (status != 304)
        buf_appendf(b, "Content-Length: %llu\r\n", (unsigned long long)body_len);
    buf_appendf(b, "Connection: %s\r\n", keep_alive ? "keep-alive" : "close");
    if (extra && extra->len)
        buf_append(b, extra->data, extra->len);
    buf_append(b, "\r\n", 2);
}

/* Queues a response. body may be NULL when no body is sent (HEAD, 304): the
 * head still announces body_len. Without keep_alive the conn then closes. */
static void http_respond(struct conn *c, int status, const char *ctype, const struct buf *extra,
                         const char *body, uint64_t body_len, bool keep_alive)
{
    struct buf b = BUF_INIT;
    http_head(&b, status, ctype, extra, body_len, keep_alive);
    if (c->http->req.method != HTTP_HEAD && status != 304 && body && body_len)
        buf_append(&b, body, (size_t)body_len);
    conn_push_bytes(c, b.data, b.len);
    buf_free(&b);
    if (!keep_alive) {
        conn_enter_closing(c, NULL);
        conn_maybe_finish(c);
    }
}

/* Answers a bad request with status and closes; the rest of the input is
 * discarded. */
static void http_error(struct conn *c, int status)
{
    struct buf body = BUF_INIT;
    buf_appendf(&body, "%s\n", http_reason(status));
    http_respond(c, status, "text/plain", NULL, body.data, body.len, false);
    buf_free(&body);
}

static void http_in_reset(struct http_in *r)
{
    buf_reset(&r->url);
    buf_reset(&r->hdrs);
    buf_reset(&r->body);
    r->n_hdrs = 0;
    r->head = 0;
    r->last = 0;
    r->status = 0;
    r->keep_alive = false;
    r->upgrade = false;
    r->started = false;
    r->head_done = false;
    r->t0 = 0;
    r->method = HTTP_GET;
}

/* Counts n more head bytes; false (431) once over max_http_header. */
static bool http_head_add(struct conn *c, size_t n)
{
    c->http->req.head += n;
    if (c->http->req.head > c->net->cfg.max_http_header) {
        c->http->req.status = 431;
        return false;
    }
    return true;
}

static int hp_on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    struct http_in *r = &c->http->req;
    http_in_reset(r);
    http_head_add(c, 16); /* method, spaces, version and line ends */
    /* The request's clock starts at its first byte; later bytes do not reset it. */
    r->started = true;
    r->t0 = uv_now(c->net->loop);
    http_timer(c);
    return 0;
}

static int hp_on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (!http_head_add(c, len))
        return -1;
    buf_append(&c->http->req.url, at, len);
    return 0;
}

static int hp_on_header_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct http_in *r = &c->http->req;
    if (!http_head_add(c, len + (r->last != 1 ? 4 : 0))) /* ": " and CRLF */
        return -1;
    if (r->last != 1) { /* a new header (a field may arrive in pieces) */
        if (r->last == 2)
            buf_appendc(&r->hdrs, '\0');
        if (r->n_hdrs == r->cap_hdrs) {
            r->cap_hdrs = r->cap_hdrs ? r->cap_hdrs * 2 : 16;
            r->offs = xrealloc(r->offs, r->cap_hdrs * 2 * sizeof *r->offs);
        }
        r->offs[2 * r->n_hdrs] = r->hdrs.len;
        r->offs[2 * r->n_hdrs + 1] = SIZE_MAX;
        r->n_hdrs++;
        r->last = 1;
    }
    buf_reserve(&r->hdrs, len);
    for (size_t i = 0; i < len; i++)
        buf_appendc(&r->hdrs, ascii_lower(at[i]));
    return 0;
}

static int hp_on_header_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct http_in *r = &c->http->req;
    if (r->last == 0)
        return 0;
    if (!http_head_add(c, len))
        return -1;
    if (r->last == 1) {
        buf_appendc(&r->hdrs, '\0');
        r->offs[2 * (r->n_hdrs - 1) + 1] = r->hdrs.len;
        r->last = 2;
    }
    buf_append(&r->hdrs, at, len);
    return 0;
}

static void http_req_view(struct conn *c, struct http_req *req, struct http_header **hv,
                          char **path);

static int hp_on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    struct http_in *r = &c->http->req;
    if (r->last == 1) { /* the last field got no value callback */
        buf_appendc(&r->hdrs, '\0');
        r->offs[2 * (r->n_hdrs - 1) + 1] = r->hdrs.len;
        r->last = 2;
    }
    if (r->last == 2)
        buf_appendc(&r->hdrs, '\0');
    r->last = 0;
    r->body_max = c->net->cfg.max_http_body;
    if (c->net->cb.body_limit && p->method != HTTP_GET && p->method != HTTP_HEAD) {
        struct http_header *hv;
        char *path;
        struct http_req head;
        http_req_view(c, &head, &hv, &path);
        size_t lim = c->net->cb.body_limit(c->net->cb.ud, &head);
        free(hv);
        free(path);
        if (lim)
            r->body_max = lim;
    }
    if (p->content_length != ULLONG_MAX && p->content_length > r->body_max) {
        r->status = 413;
        return -1;
    }
    /* A declared length is reserved at once: no realloc copies of large bodies. */
    if (p->content_length != ULLONG_MAX && p->content_length)
        buf_reserve(&r->body, (size_t)p->content_length);
    r->head_done = true;
    http_timer(c); /* the body has until the request deadline */
    return 0;
}

static int hp_on_body(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct http_in *r = &c->http->req;
    if (len > r->body_max - r->body.len) { /* chunked bodies */
        r->status = 413;
        return -1;
    }
    buf_append(&r->body, at, len);
    return 0;
}

/* Pauses the parser so http_input() handles one request at a time and knows
 * where it ended (for an upgrade, where the WebSocket stream starts). */
static int hp_on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    c->http->req.keep_alive = http_should_keep_alive(p) != 0;
    c->http->req.upgrade = p->upgrade != 0;
    c->http->req.method = p->method;
    c->http->req.started = false;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings hp_settings = {
    .on_message_begin = hp_on_message_begin,
    .on_url = hp_on_url,
    .on_header_field = hp_on_header_field,
    .on_header_value = hp_on_header_value,
    .on_headers_complete = hp_on_headers_complete,
    .on_body = hp_on_body,
    .on_message_complete = hp_on_message_complete,
};

static const char *hdr_name(const struct http_in *r, size_t i) { return r->hdrs.data + r->offs[2 * i]; }
static const char *hdr_value(const struct http_in *r, size_t i) { return r->hdrs.data + r->offs[2 * i + 1]; }

/* The first header called name (lower case), or NULL. */
static const char *hdr_get(const struct http_in *r, const char *name)
{
    for (size_t i = 0; i < r->n_hdrs; i++)
        if (!strcmp(hdr_name(r, i), name))
            return hdr_value(r, i);
    return NULL;
}

/* The request as on_http()/body_limit() see it. *hv and *path are xmalloc'd
 * (caller frees); everything else is borrowed from c->http->req. The method
 * is the parser's (set at the head; http_request_done() runs after it). */
static void http_req_view(struct conn *c, struct http_req *req, struct http_header **hv, char **path)
{
    struct http_in *r = &c->http->req;
    *hv = xmalloc((r->n_hdrs ? r->n_hdrs : 1) * sizeof **hv);
    for (size_t i = 0; i < r->n_hdrs; i++) {
        (*hv)[i].name = hdr_name(r, i);
        (*hv)[i].value = hdr_value(r, i);
    }
    buf_reserve(&r->url, 0); /* url.data and body.data are never NULL below */
    buf_reserve(&r->body, 0);
    *path = xstrndup(r->url.data, strcspn(r->url.data, "?#"));
    *req = (struct http_req){
        .method = http_method_str((enum http_method)c->http->parser.method),
        .url = r->url.data,
        .path = *path,
        .headers = *hv,
        .n_headers = r->n_hdrs,
        .body = r->body.data,
        .body_len = r->body.len,
        .peer = c->peer,
    };
}

/* Checks the upgrade request (RFC 6455 §4.2.1), answers 101 and switches c
 * to CONN_WS; or answers 400. */
static void ws_handshake(struct conn *c)
{
    struct net *n = c->net;
    struct http_in *r = &c->http->req;
    const char *key = hdr_get(r, "sec-websocket-key");
    const char *version = hdr_get(r, "sec-websocket-version");
    const char *protos = hdr_get(r, "sec-websocket-protocol");
    char accept[NET_WS_ACCEPT_LEN];
    bool conn_upgrade = false;
    for (size_t i = 0; i < r->n_hdrs; i++)
        if (!strcmp(hdr_name(r, i), "connection") && list_has_token(hdr_value(r, i), "upgrade"))
            conn_upgrade = true;
    size_t vlen = version ? strlen(version) : 0;
    if (version)
        version = trim(version, &vlen);
    if (r->method != HTTP_GET || c->http->parser.http_major != 1 || c->http->parser.http_minor < 1 ||
        !conn_upgrade || !version || vlen != 2 || memcmp(version, "13", 2) != 0 || !key ||
        net__ws_accept(key, strlen(key), accept) != 0) {
        http_error(c, 400);
        return;
    }
    /* Like the ws library: echo the first protocol offered. */
    const char *proto = NULL;
    size_t plen = 0;
    if (protos) {
        plen = strcspn(protos, ",");
        proto = trim(protos, &plen);
        for (size_t i = 0; i < plen; i++)
            if (!is_tchar(proto[i]))
                plen = 0;
        if (!plen) {
            http_error(c, 400);
            return;
        }
    }

    struct buf b = BUF_INIT;
    buf_appendf(&b,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                accept);
    if (proto)
        buf_appendf(&b, "Sec-WebSocket-Protocol: %.*s\r\n", (int)plen, proto);
    buf_append(&b, "\r\n", 2);
    conn_push_bytes(c, b.data, b.len);
    buf_free(&b);

    /* The HTTP parser is done with this conn. http_input() returns right
     * after this without touching it again. */
    http_state_free(c);
    uv_timer_stop(&c->timer);
    c->state = CONN_WS;
    c->opened = true;
    if (n->cb.on_open)
        n->cb.on_open(n->cb.ud, c);
}

/* Arms c's timer for what an HTTP conn is waiting for (the limits of
 * net_config, see the top of the file): the peer to take queued output or a
 * file body (http_stall_ms, pushed back by each write that completes), the
 * rest of a request (a deadline counted from its first byte), or the next
 * request (http_idle_ms). Closing: the stall limit while output is queued,
 * then NET_CLOSE_TIMEOUT_MS. Input never pushes a deadline back. WebSocket
 * conns are left alone. */
static void http_timer(struct conn *c)
{
    struct net *n = c->net;
    uint64_t ms;
    if (!c->http || (c->state != CONN_HTTP && c->state != CONN_CLOSING))
        return;
    c->stall_q = c->wreq ? uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) : SIZE_MAX;
    if (c->state == CONN_CLOSING) {
        ms = c->out_head ? n->cfg.http_stall_ms : NET_CLOSE_TIMEOUT_MS;
    } else if (c->out_head || c->fout) {
        ms = n->cfg.http_stall_ms;
    } else if (c->http->req.started) {
        const struct http_in *r = &c->http->req;
        uint64_t limit = r->head_done ? n->cfg.http_request_ms : n->cfg.http_head_ms;
        uint64_t spent = uv_now(n->loop) - r->t0;
        ms = spent < limit ? limit - spent : 1;
    } else {
        ms = n->cfg.http_idle_ms;
    }
    uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

/* Parses what arrived while a file body was being sent (see http_state). */
static void http_replay(struct conn *c)
{
    if (!c->http || !c->http->stash.len)
        return;
    size_t len;
    char *p = buf_steal(&c->http->stash, &len);
    net__conn_input(c, p, len); /* may start another file body, which stashes the rest */
    free(p);
}

/* The last chunk of c's file body is queued: the response is complete. */
static void file_done(struct conn *c)
{
    struct file_out *f = c->fout;
    bool keep = f->keep_alive;
    c->fout = NULL;
    file_free(f);
    if (keep)
        http_replay(c);
    if (c->state != CONN_HTTP || c->fout)
        return;
    if (!keep || c->peer_done) {
        conn_enter_closing(c, NULL); /* closes once the FIFO is written */
        conn_maybe_finish(c);
        return;
    }
    http_timer(c);
}

static void on_file_read(uv_fs_t *req)
{
    struct file_out *f = req->data;
    ssize_t got = req->result;
    uv_fs_req_cleanup(req);
    f->reading = false;
    struct conn *c = f->c;
    if (!c) { /* the conn went while we read */
        file_free(f);
        return;
    }
    assert(c->state == CONN_HTTP && c->fout == f);
    if (got <= 0) {
        /* The head announced file_len bytes: all we can do is close. */
        LOG_WARN("net: %s: reading a file body: %s", c->peer,
                 got < 0 ? uv_strerror((int)got) : "the file is shorter than announced");
        conn_finish(c);
        return;
    }
    struct out_item *it = f->item;
    f->item = NULL;
    it->len = (size_t)got;
    f->off += (uint64_t)got;
    f->left -= (uint64_t)got;
    conn_push(c, it);
    http_timer(c);
    if (f->left)
        file_read_next(c);
    else
        file_done(c);
}

/* Starts reading the next chunk of c's file body if there is one, none is
 * in flight and less than NET_FILE_QUEUE bytes are queued. Called when the
 * body starts, after each chunk and after each write. */
static void file_read_next(struct conn *c)
{
    struct file_out *f = c->fout;
    if (!f || f->reading || !f->left || c->pending >= NET_FILE_QUEUE || c->state != CONN_HTTP)
        return;
    size_t want = f->left < NET_FILE_CHUNK ? (size_t)f->left : NET_FILE_CHUNK;
    f->item = item_new(want);
    uv_buf_t b;
    b.base = f->item->bytes;
    b.len = want;
    int rc = f->off <= (uint64_t)INT64_MAX
                 ? uv_fs_read(c->net->loop, &f->req, f->fd, &b, 1, (int64_t)f->off, on_file_read)
                 : UV_EINVAL;
    if (rc < 0) {
        LOG_WARN("net: %s: reading a file body: %s", c->peer, uv_strerror(rc));
        conn_finish(c); /* frees f and its item */
        return;
    }
    f->reading = true;
}

/* Queues the head of a file response and starts its body (struct file_out).
 * Takes resp->file_fd. */
static void file_start(struct conn *c, const struct http_resp *resp, const char *ctype, bool keep_alive)
{
    struct buf b = BUF_INIT;
    http_head(&b, resp->status, ctype, &resp->headers, resp->file_len, keep_alive);
    conn_push_bytes(c, b.data, b.len);
    buf_free(&b);
    struct file_out *f = xcalloc(1, sizeof *f);
    f->req.data = f;
    f->c = c;
    f->fd = resp->file_fd;
    f->off = resp->file_off;
    f->left = resp->file_len;
    f->keep_alive = keep_alive;
    c->fout = f;
    file_read_next(c);
}

/* Handles the request the parser just paused after. */
static void http_request_done(struct conn *c)
{
    struct net *n = c->net;
    struct http_in *r = &c->http->req;

    const char *up = hdr_get(r, "upgrade");
    if (up && list_has_token(up, "websocket")) {
        ws_handshake(c);
        return;
    }

    struct http_header *hv;
    char *path;
    struct http_req req;
    http_req_view(c, &req, &hv, &path);
    struct http_resp resp = {.status = 404, .content_type = "text/plain",
                             .headers = BUF_INIT, .body = BUF_INIT, .file_fd = -1};
    if (n->cb.on_http)
        n->cb.on_http(n->cb.ud, &req, &resp);
    else
        buf_appends(&resp.body, "Not Found\n");
    if (resp.status < 100 || resp.status > 999 || resp.status == 101) {
        resp.status = 500;
        buf_reset(&resp.body);
        if (resp.file_fd >= 0)
            close(resp.file_fd);
        resp.file_fd = -1;
    }
    /* A non-WebSocket Upgrade is not performed; close rather than guess what
     * the client sends next. */
    bool keep = r->keep_alive && !r->upgrade;
    const char *ctype = resp.content_type ? resp.content_type : "text/plain";
    if (resp.file_fd < 0) {
        http_respond(c, resp.status, ctype, &resp.headers, resp.body.data, resp.body.len, keep);
    } else if (r->method == HTTP_HEAD || resp.status == 204 || resp.status == 304 || !resp.file_len) {
        close(resp.file_fd); /* the head only (HEAD: Content-Length = file_len) */
        http_respond(c, resp.status, ctype, &resp.headers, NULL,
                     resp.status == 204 ? 0 : resp.file_len, keep);
    } else {
        file_start(c, &resp, ctype, keep);
    }
    http_timer(c);
    buf_free(&resp.headers);
    buf_free(&resp.body);
    free(path);
    free(hv);
}

/* Parses HTTP bytes; returns how many were used. Stops after each request
 * (the parser pauses); the caller calls again with the rest. */
static size_t http_input(struct conn *c, const char *p, size_t len)
{
    size_t used = http_parser_execute(&c->http->parser, &hp_settings, p, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->http->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->http->parser, 0);
        http_request_done(c);
        return used;
    }
    if (e != HPE_OK) {
        int status = c->http->req.status ? c->http->req.status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
        LOG_DEBUG("net: %s: HTTP %d (%s)", c->peer, status, http_errno_name(e));
        http_error(c, status);
        return len;
    }
    return used;
}

/* ---------------------------------------------------------------------- */
/* Input and reading                                                       */

/* ws_input() writes to its input (see ws_track()): bytes that are not in our
 * read buffer (tests, fuzzing) are copied there first. */
static void ws_input_any(struct conn *c, const char *p, size_t len)
{
    struct net *n = c->net;
    if (p >= n->rbuf && len <= sizeof n->rbuf && p + len <= n->rbuf + sizeof n->rbuf) {
        ws_input(c, n->rbuf + (p - n->rbuf), len);
        return;
    }
    while (len && c->state != CONN_CLOSED) {
        size_t k = len < sizeof n->rbuf ? len : sizeof n->rbuf;
        memmove(n->rbuf, p, k);
        ws_input(c, n->rbuf, k);
        p += k;
        len -= k;
    }
}

void net__conn_input(struct conn *c, const char *p, size_t len)
{
    while (len > 0) {
        switch (c->state) {
        case CONN_HTTP: {
            if (c->fout) {
                /* Pipelined input while a file body goes out: its answers
                 * must follow the body, so it waits (file_done()). Reading is
                 * paused meanwhile, so this is at most one read. */
                if (len > 2 * NET_READ_BUF - c->http->stash.len) {
                    conn_finish(c);
                    return;
                }
                buf_append(&c->http->stash, p, len);
                return;
            }
            size_t used = http_input(c, p, len);
            if (used == 0 && c->state == CONN_HTTP)
                return; /* cannot happen with http_parser; do not spin */
            p += used;
            len -= used;
            break;
        }
        case CONN_WS:
            ws_input_any(c, p, len);
            return;
        case CONN_CLOSING:
            /* Only to see the peer's answer to our close frame. */
            if (c->ws && !c->ws_failed && wslay_event_get_read_enabled(c->ws))
                ws_input_any(c, p, len);
            return;
        case CONN_CLOSED:
            return;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;
    buf->base = c->net->rbuf;
    buf->len = sizeof c->net->rbuf;
}

static void conn_eof(struct conn *c)
{
    c->peer_done = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    switch (c->state) {
    case CONN_HTTP:
        if (c->fout)
            return; /* the file body goes on; file_done() closes (peer_done) */
        if (!c->out_head) {
            conn_finish(c);
            return;
        }
        conn_enter_closing(c, NULL); /* write the response, then close */
        return;
    case CONN_WS:
        set_reason(c, "SOCKET_CLOSED");
        conn_finish(c);
        return;
    case CONN_CLOSING:
        conn_maybe_finish(c);
        return;
    case CONN_CLOSED:
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (nread > 0) {
        net__conn_input(c, buf->base, (size_t)nread);
        /* HTTP back-pressure: read the next requests once the answers are out. */
        if (c->state == CONN_HTTP && (c->out_head || c->fout) && !c->read_paused) {
            uv_read_stop(s);
            c->read_paused = true;
        }
        return;
    }
    if (nread == 0)
        return; /* EAGAIN */
    if (nread == UV_EOF) {
        conn_eof(c);
        return;
    }
    LOG_DEBUG("net: %s: read: %s", c->peer, uv_strerror((int)nread));
    set_reason(c, "SOCKET_ERROR");
    conn_finish(c);
}

/* ---------------------------------------------------------------------- */
/* Accepting                                                               */

static struct conn *conn_new(struct net *n)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->net = n;
    link_init(&c->flush_link);
    link_push(&n->conns, &c->link);
    n->n_conns++;
    uv_tcp_init(n->loop, &c->tcp); /* only fails for bad flags */
    uv_timer_init(n->loop, &c->timer);
    c->handles = 2;
    c->tcp.data = c->timer.data = c;
    c->http = xcalloc(1, sizeof *c->http);
    http_parser_init(&c->http->parser, HTTP_REQUEST);
    c->http->parser.data = c;
    c->state = CONN_HTTP;
    memcpy(c->peer, "?", 2);
    return c;
}

static void conn_set_peer(struct conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
        if (!strncmp(c->peer, "::ffff:", 7) && strchr(c->peer + 7, '.'))
            memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1); /* v4-mapped */
    }
}

static void on_net_handle_close(uv_handle_t *h)
{
    net_handle_closed(h->data);
}

static void on_refused_close(uv_handle_t *h)
{
    struct net *n = h->data;
    free(h);
    net_handle_closed(n);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct net *n = server->data;
    if (status < 0) {
        LOG_WARN("net: accept: %s", uv_strerror(status));
        return;
    }
    if (n->n_conns >= n->cfg.max_conns) {
        /* Accept to take it off the backlog, then close at once. */
        uv_tcp_t *t = xmalloc(sizeof *t);
        uv_tcp_init(n->loop, t);
        t->data = n;
        n->handles++;
        uv_accept(server, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, on_refused_close);
        if (uv_now(n->loop) - n->refused_logged >= 1000) { /* at most 1 line/s */
            n->refused_logged = uv_now(n->loop);
            LOG_WARN("net: max_conns (%u) reached, refusing connections", n->cfg.max_conns);
        }
        return;
    }
    struct conn *c = conn_new(n);
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        conn_set_peer(c);
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (rc < 0) {
        LOG_WARN("net: accept: %s", uv_strerror(rc));
        conn_finish(c);
        return;
    }
    http_timer(c); /* idle until the first request's first byte */
}

struct conn *net__conn_new_unconnected(struct net *n)
{
    struct conn *c = conn_new(n);
    memcpy(c->peer, "0.0.0.0", 8);
    return c;
}

/* ---------------------------------------------------------------------- */
/* The listener                                                            */

int net_new(struct net **out, uv_loop_t *loop, const struct net_config *cfg,
            const struct net_callbacks *cb)
{
    *out = NULL;
    if (!loop || !cfg || !cb || !cfg->host || cfg->port < 0 || cfg->port > 65535)
        return BP_EINVAL;
    struct net *n = xcalloc(1, sizeof *n);
    n->loop = loop;
    n->cfg = *cfg;
    n->host = xstrdup(cfg->host);
    n->cfg.host = n->host;
    if (!n->cfg.max_message)
        n->cfg.max_message = NET_DEFAULT_MAX_MESSAGE;
    if (!n->cfg.max_output)
        n->cfg.max_output = NET_DEFAULT_MAX_OUTPUT;
    if (!n->cfg.max_http_header)
        n->cfg.max_http_header = NET_DEFAULT_MAX_HTTP_HEADER;
    if (!n->cfg.max_http_body)
        n->cfg.max_http_body = NET_DEFAULT_MAX_HTTP_BODY;
    if (!n->cfg.max_conns)
        n->cfg.max_conns = NET_DEFAULT_MAX_CONNS;
    if (!n->cfg.http_idle_ms)
        n->cfg.http_idle_ms = NET_DEFAULT_HTTP_IDLE_MS;
    if (!n->cfg.http_head_ms)
        n->cfg.http_head_ms = NET_DEFAULT_HTTP_HEAD_MS;
    if (!n->cfg.http_request_ms)
        n->cfg.http_request_ms = NET_DEFAULT_HTTP_REQUEST_MS;
    if (!n->cfg.http_stall_ms)
        n->cfg.http_stall_ms = NET_DEFAULT_HTTP_STALL_MS;
    n->cb = *cb;
    link_init(&n->conns);
    link_init(&n->flush);
    uv_prepare_init(loop, &n->flusher);
    n->flusher.data = n;
    n->handles = 1;
    /* http_parser's own limit counts every byte of the head, blanks included.
     * It is process-wide: the last net created sets it (one per process in
     * practice); the count in http_head_add() still holds per net. */
    http_parser_set_max_header_size(n->cfg.max_http_header > UINT32_MAX
                                        ? UINT32_MAX
                                        : (uint32_t)n->cfg.max_http_header);
    *out = n;
    return 0;
}

static int listen_error(int uverr)
{
    switch (uverr) {
    case UV_EADDRINUSE: return BP_EEXIST;
    case UV_EACCES: return BP_EFORBIDDEN;
    case UV_EADDRNOTAVAIL:
    case UV_EAFNOSUPPORT: return BP_ECONFIG;
    }
    return BP_ESYS;
}

int net_listen(struct net *n)
{
    if (n->listen_inited || n->shutting_down)
        return BP_EINVAL;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    const char *host = !strcmp(n->host, "localhost") ? "127.0.0.1" : n->host;
    if (uv_ip4_addr(host, n->cfg.port, &addr.in4) != 0 &&
        uv_ip6_addr(host, n->cfg.port, &addr.in6) != 0) {
        LOG_ERROR("net: cannot parse listen address \"%s\"", n->host);
        return BP_ECONFIG;
    }
    int rc = uv_tcp_init(n->loop, &n->listener);
    if (rc < 0)
        return BP_ESYS;
    n->listener.data = n;
    n->listen_inited = true;
    n->handles++;
    rc = uv_tcp_bind(&n->listener, &addr.sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&n->listener, NET_BACKLOG, on_connection);
    if (rc == 0) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        rc = uv_tcp_getsockname(&n->listener, (struct sockaddr *)&ss, &len);
        if (rc == 0)
            n->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    }
    if (rc < 0) {
        LOG_ERROR("net: cannot listen on %s port %d: %s", n->host, n->cfg.port, uv_strerror(rc));
        n->listener_closing = true;
        uv_close((uv_handle_t *)&n->listener, on_net_handle_close);
        return listen_error(rc);
    }
    LOG_INFO("net: listening on %s port %d", n->host, n->port);
    return 0;
}

int net_port(const struct net *n)
{
    return n->port;
}

size_t net_conn_count(const struct net *n)
{
    return n->n_conns;
}

/* Calls done() once shutting down and every conn and handle is closed. */
static void net_maybe_done(struct net *n)
{
    if (!n->shutting_down || n->n_conns)
        return;
    if (!n->flusher_closing) {
        n->flusher_closing = true;
        uv_close((uv_handle_t *)&n->flusher, on_net_handle_close);
        return;
    }
    if (n->handles || !n->done)
        return;
    void (*done)(void *) = n->done;
    n->done = NULL;
    done(n->done_arg); /* may call net_free(): n is not touched after */
}

static void net_free_now(struct net *n)
{
    free(n->host);
    free(n);
}

static void net_handle_closed(struct net *n)
{
    n->handles--;
    if (n->free_pending) {
        if (!n->handles)
            net_free_now(n);
        return;
    }
    net_maybe_done(n);
}

void net_shutdown(struct net *n, void (*done)(void *arg), void *arg)
{
    if (n->shutting_down)
        return;
    n->shutting_down = true;
    n->done = done;
    n->done_arg = arg;
    if (n->listen_inited && !n->listener_closing) {
        n->listener_closing = true;
        uv_close((uv_handle_t *)&n->listener, on_net_handle_close);
    }
    /* conn_finish() does not unlink; conns leave the list in their close cb. */
    for (struct link *l = n->conns.next; l != &n->conns; l = l->next) {
        struct conn *c = CONTAINER_OF(l, struct conn, link);
        if (c->state == CONN_HTTP || (c->state == CONN_CLOSING && c->http))
            conn_finish(c); /* plain HTTP, closing or not: at once (a closing one
                               could otherwise wait for a slow reader) */
        else if (c->state == CONN_WS)
            ws_close(c, WSLAY_CODE_GOING_AWAY, NULL, "SERVER_SHUTDOWN");
        /* A closing WebSocket ends by its own 2 s timer at the latest. */
    }
    net_maybe_done(n);
}

void net_free(struct net *n)
{
    if (!n)
        return;
    /* Only after net_shutdown()'s done(), or when nothing was accepted. */
    assert(n->n_conns == 0);
    if (!n->flusher_closing) {
        n->flusher_closing = true;
        uv_close((uv_handle_t *)&n->flusher, on_net_handle_close);
    }
    if (n->listen_inited && !n->listener_closing) {
        n->listener_closing = true;
        uv_close((uv_handle_t *)&n->listener, on_net_handle_close);
    }
    n->done = NULL;
    if (n->handles) {
        n->free_pending = true; /* freed by the last close callback */
        return;
    }
    net_free_now(n);
}

/* ---------------------------------------------------------------------- */
/* Connections                                                             */

int conn_send(struct conn *c, const char *data, size_t len)
{
    if (c->state != CONN_WS)
        return BP_ECLOSED;
    uint8_t hdr[NET_WS_HDR_MAX];
    size_t hlen = net__ws_frame_header(hdr, WSLAY_TEXT_FRAME, len);
    if (!conn_room(c, hlen, len))
        return BP_ETOOBIG;
    struct out_item *it = item_new(len);
    if (len)
        memcpy(it->bytes, data, len);
    memcpy(it->hdr, hdr, hlen);
    it->hlen = (uint8_t)hlen;
    conn_push(c, it);
    return 0;
}

int conn_send_sbuf(struct conn *c, struct sbuf *s)
{
    if (c->state != CONN_WS)
        return BP_ECLOSED;
    uint8_t hdr[NET_WS_HDR_MAX];
    size_t hlen = net__ws_frame_header(hdr, WSLAY_TEXT_FRAME, s->len);
    if (!conn_room(c, hlen, s->len))
        return BP_ETOOBIG;
    struct out_item *it = item_new(0);
    it->sb = sbuf_ref(s); /* no copy: many conns may point at one sbuf */
    it->data = s->data;
    it->len = s->len;
    memcpy(it->hdr, hdr, hlen);
    it->hlen = (uint8_t)hlen;
    conn_push(c, it);
    return 0;
}

size_t conn_pending(const struct conn *c)
{
    return c->pending;
}

void conn_close(struct conn *c, uint16_t code, const char *reason)
{
    ws_close(c, code, reason, reason && *reason ? reason : "CLOSED");
}

void conn_abort(struct conn *c, const char *reason)
{
    if (c->state == CONN_CLOSED)
        return;
    set_reason(c, reason && *reason ? reason : "ABORTED");
    conn_finish(c);
}

void conn_set_data(struct conn *c, void *data)
{
    c->data = data;
}

void *conn_data(const struct conn *c)
{
    return c->data;
}

const char *conn_peer(const struct conn *c)
{
    return c->peer;
}
