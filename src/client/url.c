/* url.c: URL parsing and TCP connect (name resolution + uv_tcp_connect) for
 * the client connection (see cnet.h), and the glue that puts a TLS session
 * (tls.h) between the socket and the connection's owner for https/wss.
 *
 * TLS data flow: libuv reads ciphertext into t->cbuf -> cnet_tls_feed ->
 * (handshake, or) cnet_tls_read into the owner's buffer -> the owner's read
 * callback. The owner's writes go through cnet_tls_write, and whatever
 * ciphertext the session has produced is sent with one uv_write per call
 * (struct tls_wr, which holds a copy of the bytes until libuv is done). */
#include "client/cnet.h"
#include "client/tls.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

void cnet_randhex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[64];
    size_t done = 0;
    while (done < n) {
        size_t k = (n - done + 1) / 2;
        if (k > sizeof(b))
            k = sizeof(b);
        randombytes_buf(b, k);
        for (size_t i = 0; i < k * 2 && done < n; i++)
            out[done++] = hex[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    }
    out[n] = '\0';
}

int cnet_url_parse(const char *url, struct cnet_url *u)
{
    memset(u, 0, sizeof(*u));
    if (!url)
        return BP_EINVAL;
    const char *p;
    const char *dport;
    if (strncasecmp(url, "ws://", 5) == 0) {
        u->ws = true;
        p = url + 5;
        dport = "80";
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
        dport = "80";
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        u->ws = u->tls = true;
        p = url + 6;
        dport = "443";
    } else if (strncasecmp(url, "https://", 8) == 0) {
        u->tls = true;
        p = url + 8;
        dport = "443";
    } else {
        return BP_EINVAL;
    }
    size_t alen = strcspn(p, "/?#");
    const char *rest = p + alen;
    if (alen == 0 || memchr(p, '@', alen)) /* no userinfo: nothing here would use it */
        return BP_EINVAL;
    const char *host = p, *port = NULL;
    size_t hlen, plen = 0;
    if (*p == '[') {
        const char *e = memchr(p, ']', alen);
        if (!e)
            return BP_EINVAL;
        host = p + 1;
        hlen = (size_t)(e - host);
        if (e + 1 < p + alen) {
            if (e[1] != ':')
                return BP_EINVAL;
            port = e + 2;
            plen = (size_t)(p + alen - port);
        }
    } else {
        const char *c = memchr(p, ':', alen);
        hlen = c ? (size_t)(c - p) : alen;
        if (c) {
            port = c + 1;
            plen = (size_t)(p + alen - port);
        }
    }
    if (hlen == 0 || hlen > CNET_HOST_MAX)
        return BP_EINVAL;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '%' || ch == '\\')
            return BP_EINVAL;
    }
    memcpy(u->host, host, hlen);
    if (port) {
        if (plen == 0 || plen > 5)
            return BP_EINVAL;
        unsigned long v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return BP_EINVAL;
            v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (v == 0 || v > 65535)
            return BP_EINVAL;
        snprintf(u->port, sizeof(u->port), "%lu", v);
    } else {
        snprintf(u->port, sizeof(u->port), "%s", dport);
    }
    if (alen > sizeof(u->hostport) - 1)
        return BP_EINVAL;
    memcpy(u->hostport, p, alen);
    size_t rlen = strcspn(rest, "#");
    if (rlen > CNET_PATH_MAX - 1)
        return BP_EINVAL;
    for (size_t i = 0; i < rlen; i++) {
        unsigned char ch = (unsigned char)rest[i];
        if (ch <= ' ' || ch == 0x7f)
            return BP_EINVAL; /* would break the request line */
    }
    if (rlen == 0 || rest[0] != '/') {
        u->path[0] = '/';
        memcpy(u->path + 1, rest, rlen);
    } else {
        memcpy(u->path, rest, rlen);
    }
    return 0;
}

/* ---- TCP connect ---- */

static void tls_start(struct cnet_tcp *t);

static void tcp_closed(uv_handle_t *h)
{
    struct cnet_tcp *t = h->data;
    t->tcp_init = false;
    cnet_tls_free(t->tls);
    t->tls = NULL;
    free(t->cbuf);
    t->cbuf = NULL;
    if (!t->gai_busy && !t->closed) {
        t->closed = true;
        if (t->closed_cb)
            t->closed_cb(t);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct cnet_tcp *t = req->data;
    if (t->closing)
        return;
    if (status == 0)
        uv_tcp_nodelay(&t->tcp, 1);
    if (status == 0 && t->tls_wanted) {
        tls_start(t);
        return;
    }
    t->cb(t, status);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct cnet_tcp *t = req->data;
    t->gai_busy = false;
    if (t->closing) {
        if (res)
            uv_freeaddrinfo(res);
        if (!t->tcp_init && !t->closed) {
            t->closed = true;
            if (t->closed_cb)
                t->closed_cb(t);
        }
        return;
    }
    if (status < 0) {
        t->cb(t, status);
        return;
    }
    int r = uv_tcp_init(t->loop, &t->tcp);
    if (r == 0) {
        t->tcp_init = true;
        t->tcp.data = t;
        t->creq.data = t;
        r = uv_tcp_connect(&t->creq, &t->tcp, res->ai_addr, on_connect);
    }
    uv_freeaddrinfo(res);
    if (r < 0)
        t->cb(t, r);
}

int cnet_tcp_connect(struct cnet_tcp *t, uv_loop_t *loop, const char *host, const char *port,
                     cnet_connect_cb cb, void *owner)
{
    memset(t, 0, sizeof(*t));
    t->loop = loop;
    t->cb = cb;
    t->owner = owner;
    t->gai.data = t;
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int r = uv_getaddrinfo(loop, &t->gai, on_resolved, host, port, &hints);
    if (r < 0)
        return r;
    t->gai_busy = true;
    return 0;
}

void cnet_tcp_close(struct cnet_tcp *t, void (*closed_cb)(struct cnet_tcp *t))
{
    if (t->closing)
        return;
    t->closing = true;
    t->closed_cb = closed_cb;
    if (t->gai_busy)
        uv_cancel((uv_req_t *)&t->gai);
    if (t->tcp_init) {
        uv_close((uv_handle_t *)&t->tcp, tcp_closed);
        return;
    }
    if (!t->gai_busy) {
        t->closed = true;
        if (closed_cb)
            closed_cb(t);
    }
}

int cnet_tcp_connect_url(struct cnet_tcp *t, uv_loop_t *loop, const struct cnet_url *u,
                         cnet_connect_cb cb, void *owner)
{
    int r = cnet_tcp_connect(t, loop, u->host, u->port, cb, owner);
    if (r == 0 && u->tls) {
        t->tls_wanted = true;
        snprintf(t->host, sizeof(t->host), "%s", u->host);
    }
    return r;
}

const char *cnet_tcp_strerror(const struct cnet_tcp *t, int status)
{
    return t->errmsg[0] ? t->errmsg : uv_strerror(status);
}

/* ---- TLS glue ---- */

#define TLS_CBUF 65536

struct tls_wr {
    uv_write_t w;          /* first: tls_written gets &w */
    uv_write_t *owner_req; /* completed with our status; NULL for our own flushes */
    uv_write_cb cb;
    char data[];
};

static void tls_written(uv_write_t *w, int status)
{
    struct tls_wr *wr = (struct tls_wr *)w;
    if (wr->owner_req)
        wr->cb(wr->owner_req, status);
    free(wr);
}

/* Sends the ciphertext the session has produced. With owner_req, cb runs
 * once it is written (even when there was nothing to send). */
static int tls_flush(struct cnet_tcp *t, uv_write_t *owner_req, uv_write_cb cb)
{
    size_t n = cnet_tls_out_pending(t->tls);
    if (n == 0 && !owner_req)
        return 0;
    if (n > UINT_MAX)
        return UV_ENOBUFS;
    struct tls_wr *wr = malloc(sizeof(*wr) + n);
    if (!wr)
        return UV_ENOMEM;
    wr->owner_req = owner_req;
    wr->cb = cb;
    size_t k = cnet_tls_out_take(t->tls, wr->data, n);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)k);
    int r = uv_write(&wr->w, (uv_stream_t *)&t->tcp, &b, 1, tls_written);
    if (r < 0)
        free(wr);
    return r;
}

static void tls_fail_connect(struct cnet_tcp *t, int status)
{
    uv_read_stop((uv_stream_t *)&t->tcp);
    t->cb(t, status);
}

/* Decrypts what is available into the owner's buffers. */
static void tls_drain(struct cnet_tcp *t)
{
    uv_stream_t *s = (uv_stream_t *)&t->tcp;
    while (!t->closing && t->read_cb && !t->tls_eof) {
        uv_buf_t b = uv_buf_init(NULL, 0);
        t->alloc_cb((uv_handle_t *)&t->tcp, TLS_CBUF, &b);
        if (!b.base || !b.len) {
            t->read_cb(s, UV_ENOBUFS, &b);
            return;
        }
        long n = cnet_tls_read(t->tls, b.base, b.len);
        if (n == BP_EAGAIN) {
            t->read_cb(s, 0, &b); /* gives the buffer back, as libuv does */
            break;
        }
        if (n > 0) {
            t->read_cb(s, n, &b);
            continue;
        }
        t->tls_eof = true;
        if (n < 0)
            snprintf(t->errmsg, sizeof(t->errmsg), "%s", cnet_tls_errmsg(t->tls));
        t->read_cb(s, n == 0 ? UV_EOF : UV_EPROTO, &b);
        return;
    }
    if (!t->closing)
        tls_flush(t, NULL, NULL); /* e.g. an answer to a key update */
}

static void tls_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    struct cnet_tcp *t = h->data;
    *b = uv_buf_init(t->cbuf, TLS_CBUF);
}

static void tls_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct cnet_tcp *t = s->data;
    if (t->closing || nread == 0 || t->tls_eof)
        return;
    bool up = cnet_tls_established(t->tls);
    if (nread < 0) {
        if (!up) {
            if (nread == UV_EOF)
                snprintf(t->errmsg, sizeof(t->errmsg),
                         "%s closed the connection during the TLS handshake (is it a TLS port?)",
                         t->host);
            else
                snprintf(t->errmsg, sizeof(t->errmsg), "connection error during the TLS handshake "
                         "with %s: %s", t->host, uv_strerror((int)nread));
            tls_fail_connect(t, nread == UV_EOF ? UV_EPROTO : (int)nread);
            return;
        }
        /* The end of the TCP stream without close_notify is passed on as
         * EOF: every response we read is framed (Content-Length, chunked,
         * WebSocket frames), so a truncation is still seen by the owner. */
        t->tls_eof = true;
        if (t->read_cb) {
            uv_buf_t e = uv_buf_init(NULL, 0);
            t->read_cb(s, nread, &e);
        }
        return;
    }
    if (cnet_tls_feed(t->tls, b->base, (size_t)nread) < 0) {
        snprintf(t->errmsg, sizeof(t->errmsg), "out of memory");
        if (up) {
            t->tls_eof = true;
            if (t->read_cb) {
                uv_buf_t e = uv_buf_init(NULL, 0);
                t->read_cb(s, UV_ENOMEM, &e);
            }
        } else {
            tls_fail_connect(t, UV_ENOMEM);
        }
        return;
    }
    if (!up) {
        int r = cnet_tls_handshake(t->tls);
        int w = tls_flush(t, NULL, NULL);
        if (r == BP_EAGAIN && w == 0)
            return;
        if (r < 0 || w < 0) {
            snprintf(t->errmsg, sizeof(t->errmsg), "%s",
                     r < 0 ? cnet_tls_errmsg(t->tls) : uv_strerror(w));
            tls_fail_connect(t, r < 0 ? UV_EPROTO : w);
            return;
        }
        t->cb(t, 0); /* the owner starts reading and sends its request */
        if (t->closing)
            return;
    }
    tls_drain(t);
}

/* The client SSL_CTX, shared by every connection of the process. Loading the
 * system trust store (SSL_CTX_set_default_verify_paths parses the whole
 * bundle, ~150 certificates) costs ~27 ms, which per connection would
 * dominate a chunked upload over https (one request per 4 MiB). The context
 * is immutable once made (OpenSSL shares it between threads by reference
 * count); it is remade when $BLINDPAD_CA_FILE changes, and a failure is not
 * cached. The one process-wide object of libblindpad. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *ctx_shared;
static char *ctx_ca; /* the BLINDPAD_CA_FILE it was made with (NULL: unset) */

static int shared_ctx(SSL_CTX **out, char *errmsg, size_t errmsg_len)
{
    const char *ca = getenv("BLINDPAD_CA_FILE");
    if (ca && !*ca)
        ca = NULL;
    int r = 0;
    pthread_mutex_lock(&ctx_lock);
    if (!ctx_shared || (ca ? !ctx_ca || strcmp(ca, ctx_ca) : ctx_ca != NULL)) {
        SSL_CTX *n = NULL;
        char *copy = ca ? strdup(ca) : NULL;
        r = ca && !copy ? BP_ENOMEM : cnet_tls_ctx_new(ca, &n, errmsg, errmsg_len);
        if (r == 0) {
            SSL_CTX_free(ctx_shared); /* sessions still using it hold their own reference */
            free(ctx_ca);
            ctx_shared = n;
            ctx_ca = copy;
        } else {
            free(copy);
        }
    }
    if (r == 0) {
        SSL_CTX_up_ref(ctx_shared);
        *out = ctx_shared;
    }
    pthread_mutex_unlock(&ctx_lock);
    return r;
}

static void tls_start(struct cnet_tcp *t)
{
    SSL_CTX *ctx = NULL;
    int r = shared_ctx(&ctx, t->errmsg, sizeof(t->errmsg));
    if (r == 0) {
        r = cnet_tls_new(ctx, t->host, &t->tls);
        SSL_CTX_free(ctx); /* the session keeps its own reference */
        if (r)
            snprintf(t->errmsg, sizeof(t->errmsg), "cannot set up TLS for %s", t->host);
    }
    if (r == 0) {
        t->cbuf = malloc(TLS_CBUF);
        if (!t->cbuf) {
            snprintf(t->errmsg, sizeof(t->errmsg), "out of memory");
            r = BP_ENOMEM;
        }
    }
    if (r) {
        t->cb(t, r == BP_ENOMEM ? UV_ENOMEM : UV_EPROTO);
        return;
    }
    int ur = uv_read_start((uv_stream_t *)&t->tcp, tls_alloc, tls_on_read);
    if (ur == 0) {
        r = cnet_tls_handshake(t->tls); /* the ClientHello */
        if (r != BP_EAGAIN) {
            snprintf(t->errmsg, sizeof(t->errmsg), "%s", cnet_tls_errmsg(t->tls));
            ur = UV_EPROTO;
        } else {
            ur = tls_flush(t, NULL, NULL);
        }
    }
    if (ur < 0)
        tls_fail_connect(t, ur);
}

int cnet_tcp_read_start(struct cnet_tcp *t, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
{
    if (!t->tls)
        return uv_read_start((uv_stream_t *)&t->tcp, alloc_cb, read_cb);
    /* Already reading ciphertext since the handshake; plaintext that came
     * with the handshake's last flight (none with HTTP: the server speaks
     * second) is delivered with the next read. */
    t->alloc_cb = alloc_cb;
    t->read_cb = read_cb;
    return 0;
}

int cnet_tcp_write(struct cnet_tcp *t, uv_write_t *req, const uv_buf_t *bufs, unsigned nbufs,
                   uv_write_cb cb)
{
    if (!t->tls)
        return uv_write(req, (uv_stream_t *)&t->tcp, bufs, nbufs, cb);
    if (!cnet_tls_established(t->tls) || t->closing)
        return UV_ENOTCONN;
    for (unsigned i = 0; i < nbufs; i++)
        if (cnet_tls_write(t->tls, bufs[i].base, bufs[i].len) < 0) {
            snprintf(t->errmsg, sizeof(t->errmsg), "%s", cnet_tls_errmsg(t->tls));
            return UV_EPROTO;
        }
    return tls_flush(t, req, cb);
}
