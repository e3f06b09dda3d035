/* totp.h: time-based one-time passwords as CryptPad's two-factor login uses
 * them (SERVER-API.md §3.7 TOTP_*): RFC 4648 base32 secrets, HOTP (RFC 4226)
 * and TOTP (RFC 6238) with HMAC-SHA1, 30-second steps, 6 digits, and a code
 * check that accepts the previous, current and next step (the reference's
 * notp `window: 1`).
 *
 * Pure functions: no I/O, no clock (the caller passes the time), so they can
 * be unit-tested against the RFC vectors and fuzzed. HMAC-SHA1 comes from
 * OpenSSL's libcrypto (libsodium has no SHA-1). */
#ifndef BP_TOTP_H
#define BP_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_STEP 30           /* seconds per time step */
#define TOTP_DIGITS 6
#define TOTP_SECRET_BYTES 20   /* the only secret size accepted (160 bits, RFC 4226 §4) */

/* Decodes RFC 4648 base32 (A-Z, 2-7; lower case accepted; decoding stops at
 * the first '='). Writes at most cap bytes to out and the decoded length to
 * *outlen. Returns 0, or -1 for a character outside the alphabet, a length
 * that is not a whole number of bytes plus zero bits, or output over cap. */
int totp_base32_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *outlen);
/* Encodes n bytes as upper-case base32 without padding into out, which must
 * have room for (n * 8 + 4) / 5 + 1 chars. Returns the length written. */
size_t totp_base32_encode(const uint8_t *in, size_t n, char *out);

/* HOTP value for counter: the RFC 4226 dynamic truncation, modulo 10^digits
 * (digits 1..9). Returns the number, or -1 if HMAC fails. */
long totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits);
/* True for exactly TOTP_DIGITS ASCII digits (the reference's isValidOTP). */
bool totp_code_format_ok(const char *code, size_t len);
/* True if code (6 digits) is the TOTP for key at unix time now_s, or one step
 * before or after it. The comparison does not stop at the first differing
 * digit. */
bool totp_check(const uint8_t *key, size_t keylen, const char *code, size_t codelen, int64_t now_s);

#endif
