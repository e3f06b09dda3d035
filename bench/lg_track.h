/* lg_track.h: in-flight message table keyed by the message "hash".
 *
 * The hash of a Netflux message is the first 64 characters of its content
 * (NETFLUX.md §3.9). The sender adds a record with its CLOCK_MONOTONIC send
 * time and the number of members expected to receive it; every receiver looks
 * the content up and takes its latency from the record. A record is released
 * once it is ACKed (or refused) and every expected receipt has arrived, so
 * the table only holds messages still in flight.
 *
 * Memory is fixed at track_init(): a slab of records with a free list, and an
 * open-addressing index (linear probing, backward-shift deletion, so there
 * are no tombstones) twice the slab size. Records keep their id for their
 * whole life, so other tables may hold ids. */
#ifndef LG_TRACK_H
#define LG_TRACK_H

#include <stddef.h>
#include <stdint.h>

#define TRACK_KEY 64
#define TRACK_NONE UINT32_MAX

struct track_rec {
    char key[TRACK_KEY];   /* the message hash (first 64 content bytes) */
    uint64_t t_send;       /* uv_hrtime() when the frame was handed to the socket */
    uint32_t hash;         /* hash of key, kept for deletion */
    uint32_t remaining;    /* receipts still expected */
    uint32_t next_free;    /* free-list link while unused */
    uint8_t keylen;        /* bytes used in key */
    uint8_t acked;         /* 1 once the sender got ACK or ERROR */
    uint8_t phase;         /* scenario-defined (S5: 0 before the stall, 1 during) */
    uint8_t tag;           /* scenario-defined (S4: 1 = deliberately bad signature) */
    uint32_t expect;       /* receipts expected when it was sent */
    uint8_t in_use;
};

struct track {
    struct track_rec *rec;  /* cap records, from xcalloc */
    uint32_t *index;        /* index_mask + 1 slots of (record id + 1), 0 = empty */
    uint32_t index_mask;
    uint32_t cap;           /* records */
    uint32_t used;          /* records in use */
    uint32_t free_head;     /* first free record or TRACK_NONE */
};

void track_init(struct track *t, uint32_t cap);
void track_free(struct track *t);
/* Adds a record; returns its id, or TRACK_NONE if the table is full or the
 * key is already present (a hash collision the caller must not send). */
uint32_t track_add(struct track *t, const char *key, size_t keylen, uint64_t t_send);
/* Returns the id of the record whose key is key[0..keylen), or TRACK_NONE. */
uint32_t track_find(const struct track *t, const char *key, size_t keylen);
void track_del(struct track *t, uint32_t id);

#endif
