/* url.c: URL parsing and TCP connect (name resolution + uv_tcp_connect) for
 * the client connection (see cnet.h). */
#include "client/cnet.h"

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
    } else {
        return BP_EINVAL; /* wss://, https:// and anything else */
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

static void tcp_closed(uv_handle_t *h)
{
    struct cnet_tcp *t = h->data;
    t->tcp_init = false;
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
