/* tls.h: TLS for the client connection (internal, not installed).
 *
 * A cnet_tls is one client-side OpenSSL session between two memory BIOs,
 * with no socket and no I/O of its own: the caller feeds it the ciphertext it
 * read from the network (cnet_tls_feed), takes the ciphertext it must send
 * (cnet_tls_out_take), writes plaintext into it (cnet_tls_write) and reads
 * plaintext out (cnet_tls_read). url.c drives it from libuv's reads and
 * writes (cnet_tcp with TLS); the unit test drives it against an in-process
 * OpenSSL server.
 *
 * Security settings (cnet_tls_ctx_new): TLS 1.2 minimum, the peer's
 * certificate is always verified against the system trust store
 * (SSL_CTX_set_default_verify_paths, which honours SSL_CERT_FILE and
 * SSL_CERT_DIR) plus an optional extra PEM bundle, and the certificate must
 * name the host (DNS name, or IP address for an IP literal). There is no way
 * to turn verification off. SNI is sent for host names (not for IP literals).
 *
 * Errors: functions return 0 / a length, BP_EAGAIN (needs more input), or a
 * negative bp_err (BP_EPROTO for every TLS failure, BP_ENOMEM, BP_EINVAL);
 * cnet_tls_errmsg() then says what went wrong in one sentence, e.g.
 * "certificate for example.org is not trusted: hostname mismatch". */
#ifndef BP_CLIENT_TLS_H
#define BP_CLIENT_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct cnet_tls;

/* A client SSL_CTX with the settings above. ca_file (NULL or "": none) is an
 * extra PEM bundle of trusted certificates, added to the system store.
 * *out is the caller's (SSL_CTX_free). BP_ECONFIG when ca_file cannot be
 * loaded, BP_ENOMEM; errmsg (may be NULL) says why. */
int cnet_tls_ctx_new(const char *ca_file, SSL_CTX **out, char *errmsg, size_t errmsg_len);

/* A session to host (a DNS name or an IP literal, without brackets) using
 * ctx (referenced, so the caller may free its own reference). *out is freed
 * with cnet_tls_free. BP_EINVAL, BP_ENOMEM. */
int cnet_tls_new(SSL_CTX *ctx, const char *host, struct cnet_tls **out);
void cnet_tls_free(struct cnet_tls *t);

/* Advances the handshake: 0 once it is complete (certificate verified),
 * BP_EAGAIN while it needs more input (send cnet_tls_out_take's bytes first),
 * BP_EPROTO when it failed (cnet_tls_errmsg). Call it first to produce the
 * ClientHello, then after every feed until it returns 0. */
int cnet_tls_handshake(struct cnet_tls *t);
bool cnet_tls_established(const struct cnet_tls *t);

/* Ciphertext from the network. Copies it (memory BIO): never blocks. */
int cnet_tls_feed(struct cnet_tls *t, const void *p, size_t n);

/* Plaintext out: > 0 bytes read into p, BP_EAGAIN when nothing is available
 * yet, 0 when the peer closed the session (close_notify), BP_EPROTO on a TLS
 * error. Only after the handshake. */
long cnet_tls_read(struct cnet_tls *t, void *p, size_t n);

/* Plaintext in: encrypts all n bytes (the ciphertext waits for
 * cnet_tls_out_take). Only after the handshake. 0, BP_EPROTO. */
int cnet_tls_write(struct cnet_tls *t, const void *p, size_t n);

/* Ciphertext waiting to be sent, and taking it (up to n bytes into p;
 * returns how many). */
size_t cnet_tls_out_pending(const struct cnet_tls *t);
size_t cnet_tls_out_take(struct cnet_tls *t, void *p, size_t n);

/* The last error as a sentence ("" if none). */
const char *cnet_tls_errmsg(const struct cnet_tls *t);
/* The certificate verification result (X509_V_OK when verified or not yet
 * checked). */
long cnet_tls_verify_result(const struct cnet_tls *t);

#endif
