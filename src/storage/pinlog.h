/* pinlog.h: the pin-log reducer and the canonical pin-set hash (SERVER-API.md
 * §4.6, §2.3 GET_HASH). Pure: no I/O, no server state, so the RPC handlers
 * (pins.c), the eviction worker (evict.c) and the unit tests share one set of
 * rules.
 *
 * A pin log is one JSON array per line:
 *     ["PIN",["<id>",...],<ms>]
 *     ["UNPIN",["<id>",...],<ms>]
 *     ["RESET",["<id>",...],<ms>]
 * Lines that are empty, do not parse, are not arrays, have an unknown command
 * or a non-array list are skipped. Element 2, when it is a number, sets
 * `first` (the first such time) and `latest` (the last one).
 *
 * Tags (PIN and RESET only): an id "base#type" pins base, except type
 * "block", which pins nothing and is remembered as the account's block id;
 * type "drive" is also remembered as the drive channel. UNPIN removes
 * everything from the first '#' on. Ids that are not strings, or whose base
 * is empty, are ignored.
 *
 * Threads: a struct pinlog belongs to one thread at a time. */
#ifndef BP_PINLOG_H
#define BP_PINLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uthash.h>

#define PINLOG_HASH_LEN 88 /* base64 of a SHA-512 digest */

struct pinlog_id {
    UT_hash_handle hh;
    size_t len;
    char id[];          /* NUL-terminated, len bytes */
};

struct pinlog {
    struct pinlog_id *set;  /* the pinned ids (uthash, owned) */
    long long first;        /* first numeric time, 0 if none */
    long long latest;       /* last numeric time, 0 if none */
    char *block;            /* last "#block" id seen (xmalloc) or NULL */
    char *drive;            /* last "#drive" id seen (xmalloc) or NULL */
    unsigned long lines;    /* lines fed */
    unsigned long bad;      /* lines skipped as malformed */
};

enum pinlog_cmd { PINLOG_PIN, PINLOG_UNPIN, PINLOG_RESET };

void pinlog_init(struct pinlog *p);
void pinlog_free(struct pinlog *p);
size_t pinlog_count(const struct pinlog *p);
bool pinlog_has(const struct pinlog *p, const char *id, size_t len);
/* Adds id as it is (no tag rules; empty ids are ignored). */
void pinlog_add(struct pinlog *p, const char *id, size_t len);

/* Feeds one line (without its '\n'). Returns 0 if applied (or empty), or
 * BP_EPROTO if it was skipped as malformed (counted in p->bad). */
int pinlog_feed(struct pinlog *p, const char *line, size_t len);
/* Applies one command with its list (a JSON array; anything else is
 * ignored) by the rules above. The RPC handlers use it to update their cache
 * exactly as the disk reducer would (Q5). */
void pinlog_apply(struct pinlog *p, enum pinlog_cmd cmd, const json_t *ids);

/* The tag rules for one id. Returns the length of the id to pin (base) or 0
 * when nothing is pinned (a "#block" entry, an empty base). *tag is set to
 * the part after '#' or NULL. For UNPIN (pin false) the base is returned for
 * every tag. */
size_t pinlog_clean(const char *id, size_t len, bool pin, const char **tag);

/* Compares two UTF-8 strings in UTF-16 code-unit order (JavaScript's default
 * Array.prototype.sort). Invalid UTF-8 bytes compare as themselves. */
int pinlog_utf16_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* The pinned ids, sorted in UTF-16 order. Returns the count; *out is an
 * array (caller frees it, not the strings, which belong to p). */
size_t pinlog_sorted(const struct pinlog *p, const struct pinlog_id ***out);

/* GET_HASH: base64(SHA-512(JSON.stringify(sorted unique ids))), NUL-terminated. */
void pinlog_hash(const struct pinlog *p, char out[PINLOG_HASH_LEN + 1]);
/* The same hash for an arbitrary list of strings (duplicates removed). */
void pinlog_hash_list(const char *const *ids, size_t n, char out[PINLOG_HASH_LEN + 1]);

#endif
