/* lg_track.c: in-flight message table (see lg_track.h). */
#include "lg_track.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

static uint32_t key_hash(const char *k, size_t n)
{
    /* FNV-1a over 8-byte words, then a final avalanche: keys are random
     * base64, but a bench must not degrade on unlucky inputs either. */
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

void track_init(struct track *t, uint32_t cap)
{
    uint32_t slots = 16;
    while (slots < cap * 2u)
        slots *= 2;
    t->rec = xcalloc(cap, sizeof(*t->rec));
    t->index = xcalloc(slots, sizeof(*t->index));
    t->index_mask = slots - 1;
    t->cap = cap;
    t->used = 0;
    for (uint32_t i = 0; i < cap; i++)
        t->rec[i].next_free = i + 1 < cap ? i + 1 : TRACK_NONE;
    t->free_head = cap ? 0 : TRACK_NONE;
}

void track_free(struct track *t)
{
    free(t->rec);
    free(t->index);
    memset(t, 0, sizeof(*t));
}

static uint32_t find_slot(const struct track *t, const char *key, size_t keylen, uint32_t h)
{
    for (uint32_t s = h & t->index_mask;; s = (s + 1) & t->index_mask) {
        uint32_t v = t->index[s];
        if (!v)
            return s;
        const struct track_rec *r = &t->rec[v - 1];
        if (r->hash == h && r->keylen == keylen && memcmp(r->key, key, keylen) == 0)
            return s;
    }
}

uint32_t track_add(struct track *t, const char *key, size_t keylen, uint64_t t_send)
{
    if (t->free_head == TRACK_NONE)
        return TRACK_NONE;
    if (keylen > TRACK_KEY)
        keylen = TRACK_KEY;
    uint32_t h = key_hash(key, keylen);
    uint32_t s = find_slot(t, key, keylen, h);
    if (t->index[s])
        return TRACK_NONE;
    uint32_t id = t->free_head;
    struct track_rec *r = &t->rec[id];
    t->free_head = r->next_free;
    memcpy(r->key, key, keylen);
    r->keylen = (uint8_t)keylen;
    r->hash = h;
    r->t_send = t_send;
    r->remaining = 0;
    r->acked = 0;
    r->phase = 0;
    r->tag = 0;
    r->expect = 0;
    r->in_use = 1;
    t->index[s] = id + 1;
    t->used++;
    return id;
}

uint32_t track_find(const struct track *t, const char *key, size_t keylen)
{
    if (keylen > TRACK_KEY)
        keylen = TRACK_KEY;
    uint32_t s = find_slot(t, key, keylen, key_hash(key, keylen));
    return t->index[s] ? t->index[s] - 1 : TRACK_NONE;
}

void track_del(struct track *t, uint32_t id)
{
    struct track_rec *r = &t->rec[id];
    if (!r->in_use)
        return;
    uint32_t m = t->index_mask;
    uint32_t i = r->hash & m;
    while (t->index[i] != id + 1)
        i = (i + 1) & m;
    t->index[i] = 0;
    /* Backward-shift: pull later entries of the probe run into the hole
     * unless their home slot lies cyclically in (i, j]. */
    for (uint32_t j = (i + 1) & m; t->index[j]; j = (j + 1) & m) {
        uint32_t k = t->rec[t->index[j] - 1].hash & m;
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            t->index[i] = t->index[j];
            t->index[j] = 0;
            i = j;
        }
    }
    r->in_use = 0;
    r->next_free = t->free_head;
    t->free_head = id;
    t->used--;
}
