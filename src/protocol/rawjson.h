/* rawjson.h: byte positions of the elements of a JSON array, without
 * decoding them. Used where the exact bytes a client sent matter: the RPC
 * signature is over the raw text of part of the envelope (SERVER-API.md §1.5),
 * and stored lines are re-sent with only element 0 replaced.
 *
 * The scanner assumes text that jansson has already accepted as JSON; on
 * anything else it fails cleanly (BP_EPROTO), never reads out of bounds. */
#ifndef BP_RAWJSON_H
#define BP_RAWJSON_H

#include <jansson.h>
#include <stddef.h>

struct rawjson_span {
    size_t off; /* first byte of the element */
    size_t len; /* bytes of the element (no surrounding whitespace) */
};

/* s[0..n) must hold one JSON array (leading/trailing whitespace allowed).
 * Fills up to max spans and returns the number of elements (which may be
 * larger than max), or BP_EPROTO. */
int rawjson_array(const char *s, size_t n, struct rawjson_span *out, size_t max);

/* Parses JSON text like JavaScript's JSON.parse would accept it. jansson
 * refuses escaped lone surrogates ("\ud800"), which JavaScript strings may
 * hold and the reference stores; such escapes are read as U+FFFD instead.
 * Returns a new value or NULL. */
json_t *rawjson_load(const char *s, size_t n);

/* Parses a JSON array as rawjson_load() does, faster when one element is a
 * long string without escapes (a Netflux MSG frame's base64 content): that
 * string's bytes are taken as they are (they are exactly its value) and
 * jansson parses only the rest of the frame. s must be valid UTF-8 (the
 * caller checks WebSocket text; binary frames are checked here). Same result
 * as rawjson_load() for every input. */
json_t *rawjson_load_frame(const char *s, size_t n);

#endif
