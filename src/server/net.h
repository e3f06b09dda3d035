/* net.h: the connection layer. libuv TCP, HTTP/1.1 with http_parser, and
 * WebSocket (RFC 6455) with wslay. Only net.c calls libuv's stream API and
 * wslay; the Netflux layer above sees whole messages and connections.
 *
 * Threads: everything here runs on the loop thread.
 *
 * Ownership: net owns every struct conn. A conn is valid from on_open() until
 * on_close() returns; after that net frees it. The app may hang its own state
 * on a conn with conn_set_data() and must drop it in on_close().
 *
 * Back-pressure: each connection has an output cap (net_config.max_output).
 * conn_send() past the cap does not queue: it drops the connection (the
 * reason given to on_close() is "SEND_BUFFER_FULL") and returns BP_ETOOBIG.
 * on_drain() fires when the queued output falls below NET_LOW_WATER after
 * having been above it, so a history stream can pause and resume. */
#ifndef BP_NET_H
#define BP_NET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"

#define NET_LOW_WATER (128u << 10) /* on_drain() threshold, bytes */
#define NET_FILE_CHUNK (256u << 10) /* file bodies are read and queued in pieces of this size */

struct net;
struct conn;

/* A plain (non-upgrade) HTTP request, valid during on_http() only. */
struct http_header {
    const char *name;   /* lower-cased */
    const char *value;
};

struct http_req {
    const char *method;          /* "GET", "HEAD", "POST", ... */
    const char *url;             /* as sent: path and query */
    const char *path;            /* url without the query, not decoded */
    const struct http_header *headers;
    size_t n_headers;
    const char *body;            /* request body (bounded by max_http_body) */
    size_t body_len;
    const char *peer;            /* remote address, "1.2.3.4" or "::1" */
};

/* The response to fill in on_http(). net sends it after on_http() returns,
 * adds Content-Length (not for 304) and Connection, and frees body.
 *
 * A file body: set file_fd to an open descriptor (net takes ownership and
 * closes it, whatever happens) and file_off/file_len to the byte range to
 * send; body is then ignored. net streams the range in chunks of
 * NET_FILE_CHUNK read on libuv's thread pool, reading the next one only when
 * the socket has taken the previous ones, so a download costs at most
 * NET_FILE_CHUNK * 3 bytes of memory whatever the file size. For HEAD, 204
 * and 304 only the headers go out (HEAD: Content-Length = file_len). If the
 * file turns out shorter than file_len while it is sent, the connection is
 * closed (the peer sees a truncated body, never wrong bytes). */
struct http_resp {
    int status;                  /* default 404 */
    const char *content_type;    /* static string; default "text/plain" */
    struct buf headers;          /* extra header lines, each "Name: value\r\n" */
    struct buf body;
    int file_fd;                 /* -1 (default): the body is `body` */
    uint64_t file_off, file_len;
};

struct net_config {
    const char *host;            /* listen address, "127.0.0.1" or "::1" */
    int port;
    size_t max_message;          /* largest WebSocket message accepted; above: close 1009 */
    size_t max_output;           /* per-connection queued output cap; above: drop */
    size_t max_http_header;      /* total bytes of a request's head; above: 431 */
    size_t max_http_body;        /* largest plain HTTP request body; above: 413 */
    unsigned max_conns;          /* connections beyond this are refused (closed at accept) */
    /* HTTP time limits in ms (0 = the default in brackets). None of them is
     * reset by reading bytes, so trickling input buys no time. */
    unsigned http_idle_ms;       /* keep-alive: from accept or the end of a response to
                                    the next request's first byte [30000] */
    unsigned http_head_ms;       /* from a request's first byte to the end of its head [30000] */
    unsigned http_request_ms;    /* from a request's first byte to the end of its body [120000] */
    unsigned http_stall_ms;      /* a response the peer takes no bytes of for this long is
                                    dropped [60000] */
};

struct net_callbacks {
    void *ud;
    /* A WebSocket connection is open (handshake sent). */
    void (*on_open)(void *ud, struct conn *c);
    /* One complete message (text frames are valid UTF-8). data is borrowed for
     * the call only. binary is 1 for a binary message. */
    void (*on_message)(void *ud, struct conn *c, const char *data, size_t len, int binary);
    /* The connection is closed, for whatever reason; called once per on_open. */
    void (*on_close)(void *ud, struct conn *c, const char *reason);
    /* Queued output went below NET_LOW_WATER. May be NULL. */
    void (*on_drain)(void *ud, struct conn *c);
    /* A plain HTTP request. May be NULL (every request then gets 404). */
    void (*on_http)(void *ud, const struct http_req *req, struct http_resp *resp);
    /* Once a request's head is complete (not for GET/HEAD): the largest body
     * to accept for it, or 0 for max_http_body. req has no body yet. Lets a
     * route take a larger body only from an authenticated sender (the binary
     * /upload-blob). May be NULL. */
    size_t (*body_limit)(void *ud, const struct http_req *req);
};

/* Creates the listener state; nothing is bound yet. Returns 0 or a bp_err. */
int net_new(struct net **out, uv_loop_t *loop, const struct net_config *cfg,
            const struct net_callbacks *cb);
/* Binds and listens. Returns 0, or a bp_err (the address is in use, ...). */
int net_listen(struct net *n);
/* The port actually bound (useful with port 0). */
int net_port(const struct net *n);
/* Stops accepting, sends a close frame (1001 going away) to every WebSocket
 * and closes plain HTTP connections. When the last handle is closed, done()
 * is called; then net_free() may be called. */
void net_shutdown(struct net *n, void (*done)(void *arg), void *arg);
void net_free(struct net *n);
size_t net_conn_count(const struct net *n);

/* Queues one text message (copied, or referenced for sbuf). Returns 0,
 * BP_ECLOSED if the connection is closing, or BP_ETOOBIG if the output cap was
 * hit (the connection is then being dropped). */
int conn_send(struct conn *c, const char *data, size_t len);
int conn_send_sbuf(struct conn *c, struct sbuf *s);
/* Bytes queued but not yet written to the socket. */
size_t conn_pending(const struct conn *c);
/* Starts the close handshake with code and reason (reason may be NULL), then
 * closes the socket; on_close() follows. Safe to call more than once.
 * reason (here and in conn_abort) is kept by pointer until on_close(): pass a
 * string literal. */
void conn_close(struct conn *c, uint16_t code, const char *reason);
/* Closes the TCP socket at once, without a close frame. */
void conn_abort(struct conn *c, const char *reason);
void conn_set_data(struct conn *c, void *data);
void *conn_data(const struct conn *c);
const char *conn_peer(const struct conn *c);

#endif
