/* tls.c: client TLS as a state machine over two memory BIOs (see tls.h).
 *
 * Ownership: a cnet_tls owns its SSL, which owns both BIOs (SSL_set_bio) and
 * holds a reference to the SSL_CTX. Nothing here does I/O or keeps global
 * state; OpenSSL's error queue is per thread and is cleared before each call
 * that reads it. */
#include "client/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cnet.h"
#include "common/err.h"

struct cnet_tls {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the network (owned by ssl) */
    BIO *wbio; /* ciphertext to send (owned by ssl) */
    bool established;
    bool failed; /* sticky: after a failure every call repeats it */
    char host[CNET_HOST_MAX + 1];
    char err[384];
};

static void set_err(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
    if (buf && len)
        snprintf(buf, len, fmt, a ? a : "", b ? b : "");
}

/* The reason of the most recent OpenSSL error, or dflt. A system error
 * (a CA file that cannot be opened) is told as errno's text. */
static const char *ossl_reason(const char *dflt)
{
    unsigned long e;
    for (int i = 0; (e = ERR_peek_error()) != 0 && i < 16; i++) {
        if (ERR_SYSTEM_ERROR(e))
            return strerror(ERR_GET_REASON(e));
        ERR_get_error(); /* the queue is ours: cleared before every call */
        if (!ERR_peek_error()) {
            const char *r = ERR_reason_error_string(e);
            return r ? r : dflt;
        }
    }
    return dflt;
}

int cnet_tls_ctx_new(const char *ca_file, SSL_CTX **out, char *errmsg, size_t errmsg_len)
{
    *out = NULL;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        set_err(errmsg, errmsg_len, "cannot set up TLS: %s%s", ossl_reason("out of memory"), NULL);
        return BP_ENOMEM;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        set_err(errmsg, errmsg_len, "cannot set up TLS: %s%s", ossl_reason("no TLS 1.2"), NULL);
        SSL_CTX_free(ctx);
        return BP_ECONFIG;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* The system store may be missing (a minimal container): that is not an
     * error by itself, the handshake will then say the issuer is unknown. */
    SSL_CTX_set_default_verify_paths(ctx);
    ERR_clear_error();
    if (ca_file && *ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        set_err(errmsg, errmsg_len, "cannot load the CA bundle %s: %s", ca_file,
                ossl_reason("not a PEM certificate file"));
        SSL_CTX_free(ctx);
        return BP_ECONFIG;
    }
    /* Requests are HTTP/1.1 (and the WebSocket upgrade needs it). */
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    *out = ctx;
    return 0;
}

static bool is_ip_literal(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int cnet_tls_new(SSL_CTX *ctx, const char *host, struct cnet_tls **out)
{
    *out = NULL;
    if (!ctx || !host || !*host || strlen(host) > CNET_HOST_MAX)
        return BP_EINVAL;
    struct cnet_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return BP_ENOMEM;
    memcpy(t->host, host, strlen(host) + 1);
    ERR_clear_error();
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        return BP_ENOMEM;
    }
    /* An empty read BIO means "no more yet", not end of stream: the end of
     * the TCP stream is the caller's business. */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    int ok;
    if (is_ip_literal(host)) {
        /* RFC 6066: no SNI for addresses; the certificate needs an IP SAN. */
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
    } else {
        ok = SSL_set1_host(t->ssl, host) && SSL_set_tlsext_host_name(t->ssl, host);
        /* A wildcard may stand for one label only, never for part of one. */
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    if (!ok) {
        cnet_tls_free(t);
        return BP_EINVAL;
    }
    SSL_set_connect_state(t->ssl);
    *out = t;
    return 0;
}

void cnet_tls_free(struct cnet_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

bool cnet_tls_established(const struct cnet_tls *t) { return t->established; }
const char *cnet_tls_errmsg(const struct cnet_tls *t) { return t->err; }
long cnet_tls_verify_result(const struct cnet_tls *t) { return SSL_get_verify_result(t->ssl); }

static void verify_error(struct cnet_tls *t, long v)
{
    const char *why = X509_verify_cert_error_string(v);
    const char *hint = "";
    switch (v) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        hint = " (for a private CA, set BLINDPAD_CA_FILE to its PEM certificate)";
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        hint = " (the certificate is for another name)";
        break;
    default:
        break;
    }
    snprintf(t->err, sizeof(t->err), "certificate for %s is not trusted: %s%s", t->host,
             why ? why : "verification failed", hint);
}

/* After a failed SSL_* call: BP_EAGAIN for "needs more input", else the
 * error in t->err and BP_EPROTO. */
static int ssl_fail(struct cnet_tls *t, int ret, const char *what)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return BP_EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(t->err, sizeof(t->err), "%s closed the TLS session", t->host);
        return 0;
    }
    long v = SSL_get_verify_result(t->ssl);
    if (!t->established && v != X509_V_OK) {
        verify_error(t, v);
    } else {
        const char *r = ossl_reason("protocol error");
        snprintf(t->err, sizeof(t->err), "TLS %s with %s failed: %s%s", what, t->host, r,
                 strstr(r, "wrong version number") ? " (is it an https:// server?)" : "");
    }
    return BP_EPROTO;
}

int cnet_tls_handshake(struct cnet_tls *t)
{
    if (t->established)
        return 0;
    if (t->failed)
        return BP_EPROTO;
    ERR_clear_error();
    int ret = SSL_do_handshake(t->ssl);
    if (ret == 1) {
        t->established = true;
        return 0;
    }
    int r = ssl_fail(t, ret, "handshake");
    if (r == 0) /* close_notify during the handshake */
        snprintf(t->err, sizeof(t->err), "%s closed the connection during the TLS handshake",
                 t->host);
    if (r != BP_EAGAIN) {
        t->failed = true;
        r = BP_EPROTO;
    }
    return r;
}

int cnet_tls_feed(struct cnet_tls *t, const void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t w = 0;
        if (BIO_write_ex(t->rbio, (const char *)p + done, n - done, &w) != 1 || w == 0)
            return BP_ENOMEM;
        done += w;
    }
    return 0;
}

long cnet_tls_read(struct cnet_tls *t, void *p, size_t n)
{
    if (!t->established)
        return BP_EINVAL;
    if (t->failed)
        return BP_EPROTO;
    if (n == 0)
        return BP_EAGAIN;
    ERR_clear_error();
    size_t got = 0;
    int ret = SSL_read_ex(t->ssl, p, n, &got);
    if (ret == 1)
        return (long)got;
    int r = ssl_fail(t, ret, "read");
    if (r == BP_EPROTO)
        t->failed = true;
    return r;
}

int cnet_tls_write(struct cnet_tls *t, const void *p, size_t n)
{
    if (!t->established)
        return BP_EINVAL;
    if (t->failed)
        return BP_EPROTO;
    size_t done = 0;
    while (done < n) {
        ERR_clear_error();
        size_t w = 0;
        int ret = SSL_write_ex(t->ssl, (const char *)p + done, n - done, &w);
        if (ret != 1) {
            /* A memory BIO never asks to wait, and a closed session cannot
             * be written to: every failure is final. */
            if (ssl_fail(t, ret, "write") != BP_EPROTO)
                snprintf(t->err, sizeof(t->err), "TLS write to %s failed", t->host);
            t->failed = true;
            return BP_EPROTO;
        }
        done += w;
    }
    return 0;
}

size_t cnet_tls_out_pending(const struct cnet_tls *t) { return BIO_ctrl_pending(t->wbio); }

size_t cnet_tls_out_take(struct cnet_tls *t, void *p, size_t n)
{
    size_t got = 0;
    if (n == 0 || BIO_read_ex(t->wbio, p, n, &got) != 1)
        return 0;
    return got;
}
