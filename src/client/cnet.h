/* cnet.h: internals of the client connection shared by ws.c, nfc.c,
 * rpcc.c, httpc.c and conn.c (not installed). The pure parsers here (no
 * I/O) are what fuzz/fuzz_client_frames.c and the unit tests drive.
 *
 * Limits: every length that comes from the wire is checked before it is
 * stored: URL parts (CNET_HOST_MAX, CNET_PATH_MAX), HTTP header lines and
 * counts (BP_HTTP_MAX_*), bodies (max_body), WebSocket messages
 * (BP_CONN_MAX_FRAME, enforced by wslay), netflux ids (<= 64 chars). */
#ifndef BP_CLIENT_CNET_H
#define BP_CLIENT_CNET_H

#include <http_parser.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <blindpad/client.h>
#include <blindpad/http.h>

#include "common/buf.h"

#define CNET_HOST_MAX 255
#define CNET_PATH_MAX 2048
#define CNET_ID_MAX 64 /* longest netflux id / channel id we keep in fixed buffers */

/* ---- URLs (url.c) ---- */

struct cnet_url {
    bool ws;                        /* ws:// or wss:// (else http:// or https://) */
    bool tls;                       /* https:// or wss:// (default port 443) */
    char host[CNET_HOST_MAX + 1];   /* without brackets for IPv6 literals */
    char port[6];
    char hostport[CNET_HOST_MAX + 9]; /* as sent in Host: */
    char path[CNET_PATH_MAX + 1];   /* path + query, starts with '/' */
};

/* Parses http://, https://, ws:// and wss:// URLs. An empty path becomes "/"
 * (callers may substitute their default). Pure. */
int cnet_url_parse(const char *url, struct cnet_url *u);

/* ---- TCP connect with name resolution (url.c) ---- */

struct cnet_tcp;
struct cnet_tls;
typedef void (*cnet_connect_cb)(struct cnet_tcp *t, int status);

/* Embedded in its owner. The owner must keep it alive until
 * cnet_tcp_close()'s callback has run.
 *
 * With TLS (cnet_tcp_connect_url on an https/wss URL) the connection is a
 * cnet_tls (tls.h) between the socket and the owner: the connect callback
 * runs once the handshake is done and the certificate verified, and
 * cnet_tcp_read_start/cnet_tcp_write carry plaintext; the owner's callbacks
 * see the same arguments as with plain TCP (the stream is &t->tcp, whose
 * data is t). Without TLS those two are uv_read_start/uv_write. */
struct cnet_tcp {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    cnet_connect_cb cb;
    void (*closed_cb)(struct cnet_tcp *t);
    bool gai_busy, tcp_init, closing, closed;
    void *owner;
    /* TLS (NULL/false for plain TCP) */
    bool tls_wanted, tls_eof;
    struct cnet_tls *tls;               /* owned; freed when the handle is closed */
    char *cbuf;                         /* ciphertext read buffer (malloc'd, same life) */
    uv_alloc_cb alloc_cb;               /* the owner's, for plaintext */
    uv_read_cb read_cb;
    char host[CNET_HOST_MAX + 1];       /* the name the certificate must carry */
    char errmsg[400];                   /* why the connection failed ("" if not TLS) */
};
/* Resolves host:port and connects; cb(t, 0) once connected, cb(t, <0 uv
 * error>) otherwise. */
int cnet_tcp_connect(struct cnet_tcp *t, uv_loop_t *loop, const char *host, const char *port,
                     cnet_connect_cb cb, void *owner);
/* The same for u's host and port, with TLS when u->tls (extra trusted CAs
 * from the PEM file named by $BLINDPAD_CA_FILE, if set). A TLS failure
 * reaches cb as UV_EPROTO with the reason in cnet_tcp_strerror(). */
int cnet_tcp_connect_url(struct cnet_tcp *t, uv_loop_t *loop, const struct cnet_url *u,
                         cnet_connect_cb cb, void *owner);
/* Reads (plaintext with TLS); the callbacks' contract is libuv's. */
int cnet_tcp_read_start(struct cnet_tcp *t, uv_alloc_cb alloc_cb, uv_read_cb read_cb);
/* Writes (encrypted with TLS; the buffers may be reused as soon as this
 * returns when TLS is on, else only after cb). cb(req, status) as uv_write's;
 * req->data is left to the owner. Returns 0 or a uv error. */
int cnet_tcp_write(struct cnet_tcp *t, uv_write_t *req, const uv_buf_t *bufs, unsigned nbufs,
                   uv_write_cb cb);
/* Text for a failure status from this connection: the TLS reason when there
 * is one, else uv_strerror(status). */
const char *cnet_tcp_strerror(const struct cnet_tcp *t, int status);
/* Cancels/ closes; closed_cb runs once everything is released. */
void cnet_tcp_close(struct cnet_tcp *t, void (*closed_cb)(struct cnet_tcp *t));

/* ---- HTTP response parsing (httpc.c) ---- */

/* Incremental response parser around http_parser (HTTP_RESPONSE mode). */
struct cnet_hresp {
    http_parser hp;
    http_parser_settings hs;
    struct bp_http_resp *r;    /* being filled (owned until taken) */
    struct buf field, value;   /* current header */
    bool in_value;
    bool head_only;            /* HEAD: no body whatever Content-Length says */
    bool headers_done, done, upgrade;
    size_t max_body;
    size_t head_bytes;
    int err;                   /* first error (BP_ETOOBIG, BP_EPROTO, BP_ENOMEM) */
};
void cnet_hresp_init(struct cnet_hresp *p, bool head_only, size_t max_body);
/* Feeds bytes. Returns the number consumed (less than n after an upgrade
 * response: the rest belongs to the new protocol), or a negative bp_err. */
long cnet_hresp_feed(struct cnet_hresp *p, const char *data, size_t n);
/* Signals EOF (a response without Content-Length ends there). Returns 0 if a
 * complete response is available, else BP_EPROTO. */
int cnet_hresp_eof(struct cnet_hresp *p);
/* Takes the response (caller frees with bp_http_resp_free). */
struct bp_http_resp *cnet_hresp_take(struct cnet_hresp *p);
void cnet_hresp_free(struct cnet_hresp *p);
/* One-shot: parses a complete response held in data[0..n). Pure. */
int cnet_http_parse_response(const char *data, size_t n, bool head_only, size_t max_body,
                             struct bp_http_resp **out);

/* ---- Netflux frames (nfc.c) ---- */

enum nfc_kind {
    NFC_REPLY,   /* [seq,"ACK"] [seq,"JACK",chan] [seq,"ERROR",code?,detail?] */
    NFC_IDENT,   /* [0,"","IDENT",id] */
    NFC_PING,    /* [0,"","PING",t] */
    NFC_JOIN,    /* [0,user,"JOIN",chan] */
    NFC_LEAVE,   /* [0,user,"LEAVE",chan] */
    NFC_MSG,     /* [0,sender,"MSG",target,content,(time|priority)?] */
    NFC_OTHER,   /* a well-formed array we do not use */
};

struct nfc_frame {
    enum nfc_kind kind;
    json_t *root;          /* owned; nfc_frame_free */
    uint64_t seq;          /* NFC_REPLY: the seq (0 if not a non-negative integer) */
    const char *type;      /* "ACK", "JACK", "ERROR", "IDENT", "JOIN", ... */
    const char *sender;    /* events: element 1 */
    const char *target;    /* JOIN/LEAVE/MSG: element 3; JACK: the channel; IDENT: the id */
    const char *code;      /* ERROR: element 2 as a string (NULL when absent or not a string) */
    json_t *content;       /* MSG: element 4 (borrowed from root) */
    json_t *extra;         /* MSG: element 5 (borrowed) or NULL; PING: the time */
};

/* Parses one WebSocket message. BP_EPROTO if it is not a JSON array of the
 * Netflux shape (element 0 a number or string, element 1 ...). Pure. */
int nfc_parse(const char *p, size_t n, struct nfc_frame *f);
void nfc_frame_free(struct nfc_frame *f);

/* What a history keeper direct message (the MSG content string) is. */
enum nfc_hk_kind {
    NFC_HK_ARRAY,   /* array with a string element 0: an RPC reply or a history message */
    NFC_HK_END,     /* {"state":1,"channel":c,"txid"?} */
    NFC_HK_ERROR,   /* {"error":..., "channel"?, "txid"?} */
    NFC_HK_META,    /* an object with "channel" and no state/error */
    NFC_HK_OTHER,
};
struct nfc_hk {
    enum nfc_hk_kind kind;
    json_t *root;          /* owned */
    const char *txid;      /* string txid (element 0 or "txid"), or NULL */
    const char *channel;   /* "channel" (objects) or element 3 (history messages) */
    const char *error;     /* NFC_HK_ERROR: the error as a string (NULL if not one) */
};
int nfc_hk_parse(const char *p, size_t n, struct nfc_hk *h);
void nfc_hk_free(struct nfc_hk *h);

/* A history message [txid,sender,"MSG",chan,content,time] -> m (borrowed
 * from arr). BP_EPROTO on another shape. Pure. */
int nfc_hist_msg(json_t *arr, struct bp_hist_msg *m);

/* ---- RPC envelopes (rpcc.c) ---- */

/* Builds the history-keeper payload [txid,[cmd,arg]] or
 * [txid,[sig,pk,cookie,cmd,arg]] (the string that goes into MSG element 3).
 * arg_json NULL = null; it is parsed and re-serialised like JSON.stringify.
 * key NULL = anonymous. cookie NULL = null. Returns 0, BP_EINVAL. */
int rpcc_build(struct buf *out, const char *txid, const struct bp_sign_key *key,
               const char *cookie, const char *cmd, const char *arg_json);

/* Decodes an RPC reply array (already parsed). On success *values (malloc'd)
 * gets the JSON values array and, for signed replies, *cookie (malloc'd or
 * NULL) the new cookie when element 1 holds a '|'. On [txid,"ERROR",e]
 * returns BP_ESERVER with *err (malloc'd) = e as text. BP_EPROTO otherwise. */
int rpcc_reply(json_t *arr, bool is_signed, char **values, char **cookie, char **err);

/* Random lowercase hex string of n chars (n+1 bytes written). */
void cnet_randhex(char *out, size_t n);

#endif
