/* blindpad/sortify.h: json.sortify, the canonical serializer of every
 * CryptPad JSON document (CHAINPAD.md §6.2).
 *
 * sortify(v) = JSON.stringify of v with every object's keys re-ordered:
 * keys matching ^(0|[1-9][0-9]*)$ first in ascending numeric order, then the
 * others in ascending UTF-16 code unit order (JavaScript's default sort).
 * Arrays keep their order; output is compact; strings are escaped and
 * numbers printed exactly like JSON.stringify (integers beyond 2^53 are
 * printed as the double JavaScript would have read). */
#ifndef BLINDPAD_SORTIFY_H
#define BLINDPAD_SORTIFY_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* *out gets sortify(v) as a malloc'd NUL-terminated string (caller frees).
 * Returns 0, BP_EINVAL (v NULL or nested deeper than 10000) or BP_ENOMEM. */
int bp_sortify(const json_t *v, char **out, size_t *outlen);

/* Parses JSON text (jansson, any value) and sortifies it. BP_EINVAL if the
 * text is not JSON. */
int bp_sortify_text(const char *json, size_t len, char **out, size_t *outlen);

/* Compares two UTF-8 strings in UTF-16 code unit order (JS default sort);
 * returns <0, 0 or >0. */
int bp_sortify_keycmp(const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
