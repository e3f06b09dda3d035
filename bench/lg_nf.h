/* lg_nf.h: a zero-copy scanner for the top-level Netflux array.
 *
 * The load generator only needs to know where each top-level element of a
 * frame starts and ends (seq, sender, command, target, content): it never
 * needs to build a tree. nf_scan() records up to NF_MAX_EL elements as slices
 * of the input; strings are returned WITHOUT their quotes and still escaped
 * (an HK payload such as "{\"state\":1,...}" stays escaped), nested arrays and
 * objects are skipped as one element. Pure function, no allocation. */
#ifndef LG_NF_H
#define LG_NF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NF_MAX_EL 8

enum nf_type { NF_NUM = 1, NF_STR, NF_LIT, NF_ARR, NF_OBJ };

struct nf_el {
    const char *p;    /* first byte (after the opening quote for strings) */
    uint32_t len;     /* bytes (closing quote excluded) */
    uint8_t type;     /* enum nf_type */
};

struct nf_frame {
    unsigned n;                      /* elements recorded (at most NF_MAX_EL) */
    unsigned total;                  /* elements in the array */
    struct nf_el el[NF_MAX_EL];
};

/* Scans p[0..n) as one JSON array. Returns 0, or -1 if it is not a
 * well-delimited array (the contents of numbers and literals are not
 * validated: the server is trusted to send JSON). */
int nf_scan(const char *p, size_t n, struct nf_frame *f);

/* True if element i exists, is a string and equals s exactly (raw bytes). */
bool nf_streq(const struct nf_frame *f, unsigned i, const char *s);
/* True if element i is a string of length len. */
bool nf_strlen_is(const struct nf_frame *f, unsigned i, size_t len);
/* Element i as a non-negative integer, or -1 if it is not one. */
int64_t nf_uint(const struct nf_frame *f, unsigned i);
/* True if element i is a string starting with prefix (raw, escaped bytes). */
bool nf_strpre(const struct nf_frame *f, unsigned i, const char *prefix);

#endif
