/* jsonw.h: JSON output that is byte-identical to JavaScript's JSON.stringify.
 *
 * CryptPad's clients and server serialise with JSON.stringify, and some bytes
 * we send are compared or hashed by clients (stored lines, metadata). jansson's
 * own dumper differs in small ways (\u escapes in upper case, %.17g reals), so
 * every frame we send and every line we store is written through here:
 *   - strings: escape '"', '\\', \b \f \n \r \t, other controls as \u00xx
 *     (lower-case hex); everything else, '/' and non-ASCII included, verbatim;
 *   - numbers: integers as decimal; reals in the shortest form that reads back
 *     to the same double, formatted by ECMAScript's Number::toString rules
 *     (1e+21, 1.5e-7, 0.000001); NaN and infinities as null;
 *   - objects in jansson's order, which is insertion order, as in JS. */
#ifndef BP_JSONW_H
#define BP_JSONW_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"

/* Appends s[0..n) as a JSON string literal, quotes included. s must be valid
 * UTF-8 (every string that came through jansson is). */
void jsonw_str(struct buf *b, const char *s, size_t n);
void jsonw_cstr(struct buf *b, const char *s);
/* Appends v serialised compactly; NULL appends "null". */
void jsonw_value(struct buf *b, const json_t *v);
void jsonw_int(struct buf *b, long long v);
void jsonw_real(struct buf *b, double v);
/* Returns v serialised as a new string (caller frees). */
char *jsonw_dump(const json_t *v, size_t *len);

#endif
