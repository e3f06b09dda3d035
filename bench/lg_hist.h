/* lg_hist.h: fixed-size log-linear latency histogram (values in nanoseconds).
 *
 * Each power of two is split into 128 linear sub-buckets, so a reported
 * percentile is within 0.8% of the true sample; min, max, count and sum are
 * exact. No allocation after hist_init(): hist_add() is a few instructions,
 * cheap enough to call once per delivered message. */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count;           /* samples added */
    uint64_t min, max;        /* exact extremes (min is UINT64_MAX while empty) */
    double sum;               /* exact sum, for the mean */
    uint32_t *b;              /* HIST_BUCKETS counters, from xcalloc; freed by hist_free() */
};

void hist_init(struct hist *h);
void hist_free(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* Adds every sample of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* Value at quantile q in [0,1] (0 when empty); q = 1 returns the exact max. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
