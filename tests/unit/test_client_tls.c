/* test_client_tls.c: the client's TLS state machine (src/client/tls.h)
 * against an in-process OpenSSL server over memory BIOs, and the libuv glue
 * (bp_http_fetch on https://) against a forked OpenSSL server on a loopback
 * socket.
 *
 * Certificates are made here at run time with the OpenSSL API (P-256,
 * self-signed, SAN "DNS:localhost, IP:127.0.0.1"), written to a temporary
 * PEM file that is passed as the extra CA bundle; nothing in the system
 * store can vouch for them, which is what the "untrusted" cases rely on. */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blindpad/http.h>

#include "client/tls.h"
#include "common/err.h"

struct cert {
    EVP_PKEY *key;
    X509 *x;
    char pem[64]; /* the certificate as a PEM file (the "CA bundle") */
};

static struct cert good, other, expired;

/* A self-signed certificate for CN=cn with subjectAltName san, valid from
 * now+from_s to now+to_s seconds. */
static void make_cert(struct cert *c, const char *cn, const char *san, long from_s, long to_s)
{
    c->key = EVP_EC_gen("P-256");
    assert_non_null(c->key);
    c->x = X509_new();
    assert_non_null(c->x);
    X509_set_version(c->x, 2);
    unsigned char serial[8];
    for (size_t i = 0; i < sizeof(serial); i++)
        serial[i] = (unsigned char)(rand() & 0x7f);
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c->x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(c->x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(c->x), to_s);
    X509_set_pubkey(c->x, c->key);
    X509_NAME *name = X509_get_subject_name(c->x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c->x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, c->x, c->x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    assert_non_null(ext);
    X509_add_ext(c->x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(c->x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(c->x, c->key, EVP_sha256()) > 0);
    snprintf(c->pem, sizeof(c->pem), "/tmp/bp-tls-test-XXXXXX");
    int fd = mkstemp(c->pem);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, c->x), 1);
    fclose(f);
}

static void free_cert(struct cert *c)
{
    unlink(c->pem);
    X509_free(c->x);
    EVP_PKEY_free(c->key);
}

static int group_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid());
    make_cert(&good, "localhost", "DNS:localhost,IP:127.0.0.1", 0, 3600);
    make_cert(&other, "localhost", "DNS:localhost,IP:127.0.0.1", 0, 3600);
    make_cert(&expired, "localhost", "DNS:localhost,IP:127.0.0.1", -7200, -3600);
    return 0;
}

static int group_teardown(void **state)
{
    free_cert(&good);
    free_cert(&other);
    free_cert(&expired);
    return 0;
}

/* ---- an in-process server over memory BIOs ---- */

struct srv {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out; /* owned by ssl */
    char sni[256];
};

static int on_sni(SSL *ssl, int *al, void *arg)
{
    struct srv *s = arg;
    const char *n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(s->sni, sizeof(s->sni), "%s", n ? n : "");
    return SSL_TLSEXT_ERR_OK;
}

static void srv_init(struct srv *s, const struct cert *c, int max_version)
{
    memset(s, 0, sizeof(*s));
    s->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(s->ctx);
    assert_int_equal(SSL_CTX_use_certificate(s->ctx, c->x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, c->key), 1);
    if (max_version)
        SSL_CTX_set_max_proto_version(s->ctx, max_version);
    SSL_CTX_set_tlsext_servername_callback(s->ctx, on_sni);
    SSL_CTX_set_tlsext_servername_arg(s->ctx, s);
    s->ssl = SSL_new(s->ctx);
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(s->in, -1);
    SSL_set_bio(s->ssl, s->in, s->out);
    SSL_set_accept_state(s->ssl);
}

static void srv_free(struct srv *s)
{
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
}

/* Moves the bytes both ways until neither side has anything to send. */
static void shuttle(struct cnet_tls *c, struct srv *s)
{
    char buf[16384];
    for (int round = 0; round < 1000; round++) {
        bool moved = false;
        size_t n;
        while ((n = cnet_tls_out_take(c, buf, sizeof(buf))) > 0) {
            BIO_write(s->in, buf, (int)n);
            moved = true;
        }
        if (!SSL_is_init_finished(s->ssl)) {
            ERR_clear_error();
            SSL_do_handshake(s->ssl);
        }
        int k;
        while ((k = BIO_read(s->out, buf, sizeof(buf))) > 0) {
            assert_int_equal(cnet_tls_feed(c, buf, (size_t)k), 0);
            moved = true;
        }
        if (!moved)
            return;
        if (!cnet_tls_established(c) && cnet_tls_handshake(c) == BP_EPROTO) {
            /* the alert the client sends goes to the server anyway */
            while ((n = cnet_tls_out_take(c, buf, sizeof(buf))) > 0)
                BIO_write(s->in, buf, (int)n);
            return;
        }
    }
    fail_msg("the handshake does not converge");
}

/* Runs a handshake of a new client session (ca_file, host) against s.
 * Returns cnet_tls_handshake's final result; *out gets the session. */
static int handshake(const char *ca_file, const char *host, struct srv *s, struct cnet_tls **out)
{
    SSL_CTX *ctx = NULL;
    char err[256];
    assert_int_equal(cnet_tls_ctx_new(ca_file, &ctx, err, sizeof(err)), 0);
    assert_int_equal(cnet_tls_new(ctx, host, out), 0);
    SSL_CTX_free(ctx);
    int r = cnet_tls_handshake(*out);
    assert_int_equal(r, BP_EAGAIN); /* the ClientHello is waiting */
    assert_true(cnet_tls_out_pending(*out) > 0);
    shuttle(*out, s);
    return cnet_tls_handshake(*out);
}

static void test_ctx(void **state)
{
    SSL_CTX *ctx = NULL;
    char err[256] = "";
    assert_int_equal(cnet_tls_ctx_new(NULL, &ctx, err, sizeof(err)), 0);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    assert_int_equal(SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER, SSL_VERIFY_PEER);
    SSL_CTX_free(ctx);
    assert_int_equal(cnet_tls_ctx_new("/nonexistent/ca.pem", &ctx, err, sizeof(err)), BP_ECONFIG);
    assert_null(ctx);
    assert_non_null(strstr(err, "cannot load the CA bundle /nonexistent/ca.pem"));
    struct cnet_tls *t = NULL;
    assert_int_equal(cnet_tls_new(NULL, "h", &t), BP_EINVAL);
}

static void test_roundtrip(void **state)
{
    struct srv s;
    srv_init(&s, &good, 0);
    struct cnet_tls *c = NULL;
    assert_int_equal(handshake(good.pem, "localhost", &s, &c), 0);
    assert_true(cnet_tls_established(c));
    assert_int_equal(cnet_tls_verify_result(c), X509_V_OK);
    assert_string_equal(s.sni, "localhost");
    assert_int_equal(SSL_version(s.ssl), TLS1_3_VERSION);

    /* client -> server */
    char buf[65536];
    assert_int_equal(cnet_tls_read(c, buf, sizeof(buf)), BP_EAGAIN);
    assert_int_equal(cnet_tls_write(c, "GET / HTTP/1.1\r\n\r\n", 18), 0);
    size_t n;
    while ((n = cnet_tls_out_take(c, buf, sizeof(buf))) > 0)
        BIO_write(s.in, buf, (int)n);
    int k = SSL_read(s.ssl, buf, sizeof(buf));
    assert_int_equal(k, 18);
    assert_memory_equal(buf, "GET / HTTP/1.1\r\n\r\n", 18);

    /* server -> client: 200 KB, many records, read back in pieces */
    size_t total = 200000;
    unsigned char *big = malloc(total), *got = malloc(total);
    for (size_t i = 0; i < total; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(SSL_write(s.ssl, big, (int)total), (int)total);
    while ((k = BIO_read(s.out, buf, 1000)) > 0) /* arrives in odd-sized reads */
        assert_int_equal(cnet_tls_feed(c, buf, (size_t)k), 0);
    size_t have = 0;
    long r;
    while ((r = cnet_tls_read(c, got + have, 3000)) > 0)
        have += (size_t)r;
    assert_int_equal(r, BP_EAGAIN);
    assert_int_equal(have, total);
    assert_memory_equal(got, big, total);
    free(big);
    free(got);

    /* close_notify: read says 0 */
    SSL_shutdown(s.ssl);
    while ((k = BIO_read(s.out, buf, sizeof(buf))) > 0)
        assert_int_equal(cnet_tls_feed(c, buf, (size_t)k), 0);
    assert_int_equal(cnet_tls_read(c, buf, sizeof(buf)), 0);
    cnet_tls_free(c);
    srv_free(&s);
}

static void test_tls12(void **state)
{
    /* A TLS 1.2-only server is fine (the minimum)... */
    struct srv s;
    srv_init(&s, &good, TLS1_2_VERSION);
    struct cnet_tls *c = NULL;
    assert_int_equal(handshake(good.pem, "localhost", &s, &c), 0);
    assert_int_equal(SSL_version(s.ssl), TLS1_2_VERSION);
    cnet_tls_free(c);
    srv_free(&s);
    /* ...a TLS 1.1 one is not. */
    srv_init(&s, &good, TLS1_1_VERSION);
    SSL_set_security_level(s.ssl, 0);
    assert_int_equal(handshake(good.pem, "localhost", &s, &c), BP_EPROTO);
    assert_false(cnet_tls_established(c));
    assert_non_null(strstr(cnet_tls_errmsg(c), "TLS handshake with localhost failed"));
    cnet_tls_free(c);
    srv_free(&s);
}

static void test_ip_literal(void **state)
{
    struct srv s;
    srv_init(&s, &good, 0);
    struct cnet_tls *c = NULL;
    assert_int_equal(handshake(good.pem, "127.0.0.1", &s, &c), 0);
    assert_string_equal(s.sni, ""); /* no SNI for an address */
    cnet_tls_free(c);
    srv_free(&s);
    srv_init(&s, &good, 0);
    assert_int_equal(handshake(good.pem, "127.0.0.2", &s, &c), BP_EPROTO);
    assert_int_equal(cnet_tls_verify_result(c), X509_V_ERR_IP_ADDRESS_MISMATCH);
    assert_non_null(strstr(cnet_tls_errmsg(c), "certificate for 127.0.0.2 is not trusted"));
    cnet_tls_free(c);
    srv_free(&s);
}

static void test_hostname_mismatch(void **state)
{
    struct srv s;
    srv_init(&s, &good, 0);
    struct cnet_tls *c = NULL;
    assert_int_equal(handshake(good.pem, "example.org", &s, &c), BP_EPROTO);
    assert_false(cnet_tls_established(c));
    assert_int_equal(cnet_tls_verify_result(c), X509_V_ERR_HOSTNAME_MISMATCH);
    assert_non_null(
        strstr(cnet_tls_errmsg(c), "certificate for example.org is not trusted: hostname mismatch"));
    assert_string_equal(s.sni, "example.org");
    /* nothing can be sent or read on a failed session */
    char b[16];
    assert_int_equal(cnet_tls_write(c, "x", 1), BP_EINVAL);
    assert_int_equal(cnet_tls_read(c, b, sizeof(b)), BP_EINVAL);
    cnet_tls_free(c);
    srv_free(&s);
}

static void test_untrusted(void **state)
{
    struct srv s;
    struct cnet_tls *c = NULL;
    /* only the system store: a self-signed certificate is refused */
    srv_init(&s, &good, 0);
    assert_int_equal(handshake(NULL, "localhost", &s, &c), BP_EPROTO);
    assert_int_equal(cnet_tls_verify_result(c), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    assert_non_null(strstr(cnet_tls_errmsg(c), "certificate for localhost is not trusted: "));
    assert_non_null(strstr(cnet_tls_errmsg(c), "BLINDPAD_CA_FILE"));
    cnet_tls_free(c);
    srv_free(&s);
    /* another CA (same name, other key) does not vouch for it either */
    srv_init(&s, &good, 0);
    assert_int_equal(handshake(other.pem, "localhost", &s, &c), BP_EPROTO);
    assert_int_not_equal(cnet_tls_verify_result(c), X509_V_OK);
    assert_non_null(strstr(cnet_tls_errmsg(c), "is not trusted"));
    cnet_tls_free(c);
    srv_free(&s);
    /* trusted but expired */
    srv_init(&s, &expired, 0);
    assert_int_equal(handshake(expired.pem, "localhost", &s, &c), BP_EPROTO);
    assert_int_equal(cnet_tls_verify_result(c), X509_V_ERR_CERT_HAS_EXPIRED);
    assert_non_null(strstr(cnet_tls_errmsg(c), "certificate has expired"));
    cnet_tls_free(c);
    srv_free(&s);
}

static void test_not_tls(void **state)
{
    SSL_CTX *ctx = NULL;
    struct cnet_tls *c = NULL;
    assert_int_equal(cnet_tls_ctx_new(NULL, &ctx, NULL, 0), 0);
    assert_int_equal(cnet_tls_new(ctx, "localhost", &c), 0);
    SSL_CTX_free(ctx);
    assert_int_equal(cnet_tls_handshake(c), BP_EAGAIN);
    const char *plain = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(cnet_tls_feed(c, plain, strlen(plain)), 0);
    assert_int_equal(cnet_tls_handshake(c), BP_EPROTO);
    assert_non_null(strstr(cnet_tls_errmsg(c), "TLS handshake with localhost failed"));
    cnet_tls_free(c);
}

/* ---- the libuv glue: bp_http_fetch over https against a forked server ---- */

#define BODY_LEN 300000

/* Serves `conns` connections, one at a time: reads the request head,
 * answers 200 with BODY_LEN bytes, closes the session cleanly. */
static pid_t https_server(const struct cert *c, int *port, int conns)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(fd);
        return pid;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, c->x);
    SSL_CTX_use_PrivateKey(ctx, c->key);
    static char body[BODY_LEN];
    for (size_t i = 0; i < BODY_LEN; i++)
        body[i] = (char)('a' + i % 26);
    for (int i = 0; i < conns; i++) {
        int cfd = accept(fd, NULL, NULL);
        if (cfd < 0)
            _exit(1);
        SSL *ssl = SSL_new(ctx);
        SSL_set_fd(ssl, cfd);
        if (SSL_accept(ssl) == 1) {
            char req[4096];
            size_t have = 0;
            int k;
            while (have < sizeof(req) - 1 && (k = SSL_read(ssl, req + have, (int)(sizeof(req) - 1 - have))) > 0) {
                have += (size_t)k;
                req[have] = '\0';
                if (strstr(req, "\r\n\r\n"))
                    break;
            }
            char head[128];
            int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                              BODY_LEN);
            SSL_write(ssl, head, hl);
            SSL_write(ssl, body, BODY_LEN);
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        close(cfd);
    }
    _exit(0);
}

/* Answers one connection with a plain HTTP 400, as a server without TLS
 * does to a ClientHello. */
static pid_t plain_server(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(fd);
        return pid;
    }
    int cfd = accept(fd, NULL, NULL);
    char b[512];
    if (cfd >= 0 && read(cfd, b, sizeof(b)) > 0) {
        const char *r = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (write(cfd, r, strlen(r)) < 0)
            _exit(1);
    }
    _exit(0);
}

static void test_http_fetch(void **state)
{
    int port;
    pid_t pid = https_server(&good, &port, 3);
    char url[64], err[512] = "";
    struct bp_http_resp *resp = NULL;
    struct bp_http_req req = {.method = "GET", .url = url, .max_body = 1 << 20};

    /* trusted through BLINDPAD_CA_FILE */
    setenv("BLINDPAD_CA_FILE", good.pem, 1);
    snprintf(url, sizeof(url), "https://localhost:%d/x", port);
    assert_int_equal(bp_http_fetch(&req, &resp, err, sizeof(err)), 0);
    assert_int_equal(resp->status, 200);
    assert_int_equal(resp->body_len, BODY_LEN);
    for (size_t i = 0; i < BODY_LEN; i++)
        if (resp->body[i] != (uint8_t)('a' + i % 26))
            fail_msg("body differs at %zu", i);
    bp_http_resp_free(resp);
    resp = NULL;

    /* the name in the URL must be in the certificate */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", port);
    assert_int_equal(bp_http_fetch(&req, &resp, err, sizeof(err)), 0);
    bp_http_resp_free(resp);
    resp = NULL;

    /* without the CA: refused, with the reason */
    unsetenv("BLINDPAD_CA_FILE");
    snprintf(url, sizeof(url), "https://localhost:%d/x", port);
    assert_int_equal(bp_http_fetch(&req, &resp, err, sizeof(err)), BP_ENET);
    assert_null(resp);
    assert_non_null(strstr(err, "certificate for localhost is not trusted"));
    waitpid(pid, NULL, 0);

    /* a plain HTTP server on an https:// URL */
    pid = plain_server(&port);
    snprintf(url, sizeof(url), "https://localhost:%d/x", port);
    assert_int_equal(bp_http_fetch(&req, &resp, err, sizeof(err)), BP_ENET);
    assert_non_null(strstr(err, "TLS handshake with localhost failed"));
    waitpid(pid, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_tls12),
        cmocka_unit_test(test_ip_literal),
        cmocka_unit_test(test_hostname_mismatch),
        cmocka_unit_test(test_untrusted),
        cmocka_unit_test(test_not_tls),
        cmocka_unit_test(test_http_fetch),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
