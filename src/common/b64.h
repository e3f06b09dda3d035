/* b64.h: a guard for base64 text from the wire.
 *
 * libsodium 1.0.18's sodium_base642bin() (Debian 12) accepts every byte
 * >= 0x80 as if it were a base64 character (checked: all 128 high bytes pass
 * in "AAA?"), so two different strings can decode to the same key or
 * signature. Every decoder of wire text calls b64_chars_ok() first. */
#ifndef BP_B64_H
#define BP_B64_H

#include <stdbool.h>
#include <stddef.h>

/* True if every byte of s[0..n) is in the standard alphabet [A-Za-z0-9+/=],
 * or, with url_safe, in [A-Za-z0-9-_=]. */
bool b64_chars_ok(const char *s, size_t n, bool url_safe);

#endif
