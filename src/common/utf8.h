/* utf8.h: UTF-8 validation for WebSocket text frames (RFC 6455 §8.1 requires
 * closing with 1007 on invalid UTF-8). Pure function, fuzzable. */
#ifndef BP_UTF8_H
#define BP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if p[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
bool utf8_valid(const void *p, size_t n);

#endif
