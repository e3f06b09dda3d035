/* meta.h: channel metadata, reduced from its log (NETFLUX.md §5.3,
 * SERVER-API.md §2.6 and §4.3). Pure: works on bytes and jansson values.
 *
 * Metadata log format (ID.metadata.ndjson), one JSON value per line:
 *   line 1: the initial object {"channel":..., "created":..., ...}
 *   later:  amendments [COMMAND, value, timeMs], applied in order.
 * Reduction starts from nothing; the first object among the first two lines
 * fed becomes the state; later objects are ignored; arrays are commands;
 * lines that do not parse or whose command fails are skipped. The channel
 * log's legacy first line (an object) is fed first, but only when the
 * dedicated log is missing or does not start with an object. */
#ifndef BP_META_H
#define BP_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Reduces a metadata log. legacy is the channel log's first line when it is
 * an object (else NULL). Returns a new object (caller json_decref()s it), or
 * NULL when there is no metadata at all. */
json_t *meta_reduce(const char *log, size_t len, const json_t *legacy);

/* Applies one amendment command (name, value) to meta in place.
 * Returns 1 if meta changed, 0 if not, or -1 with *err set to a static error
 * string such as "INVALID_STATE" or "UNSUPPORTED_COMMAND". */
int meta_apply(json_t *meta, const char *command, const json_t *value, const char **err);

/* True if meta is usable by the history keeper: an object whose "channel"
 * is a 32-character string. */
bool meta_valid(const json_t *meta);

/* Convenience readers; NULL/false when absent or of the wrong type. */
const char *meta_validate_key(const json_t *meta);
bool meta_restricted(const json_t *meta);
/* "expire" as absolute ms, or 0 when absent. */
long long meta_expire(const json_t *meta);
/* True if key (44-char base64) is in owners or allowed. */
bool meta_allows(const json_t *meta, const char *key);
bool meta_is_owner(const json_t *meta, const char *key);

#endif
