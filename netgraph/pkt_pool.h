/*
 * pkt_pool.h - private to netgraph/pkt.c and netgraph/pool.c: how a pool
 * lays out its buffers and how segments find their slot.
 *
 * A pool is nbufs slots.  Slot i is a data area of `stride` bytes at
 * mem + i * stride (the segment's buf) and a slot record in a parallel array
 * holding the segment header (struct pkt) and the slot's reference word.
 *
 * A header is direct when its buf is its own slot's data area, indirect when
 * it points at another slot's data (pkt_clone, and the copy-on-write paths
 * that give a shared segment a private header).  Data and header always come
 * from the same pool.
 *
 * The slot reference word `sref` is (header alive << 16) | data users:
 *   - bit 16 counts the slot's own header while some chain holds it
 *     (its refcnt is above zero);
 *   - the low 16 bits count the headers whose buf is this slot's data.
 * A fresh packet's first slot holds 0x10001.  The slot goes back to the free
 * list when the word reaches zero.  A segment's data is shared when its data
 * slot has more than one data user; its geometry (off, len, next) is shared
 * when its refcnt is above one.
 */
#ifndef SPIN_PKT_POOL_H
#define SPIN_PKT_POOL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "netgraph/pkt.h"

#define PKT_SREF_HDR 0x10000u
#define PKT_SREF_DATA_MASK 0xffffu
#define PKT_SLOT_NONE UINT32_MAX

/* Per-thread cache geometry: a thread keeps up to PKT_CACHE_MAX free slots
 * of each pool and moves them to and from the shared list PKT_BATCH at a
 * time, so the shared list sees one compare-and-swap per PKT_BATCH
 * packets. */
#define PKT_BATCH 32
#define PKT_CACHE_MAX (2 * PKT_BATCH)
#define PKT_MAX_THREADS 64

struct pkt_slot {
	struct pkt hdr;                /* first: a header pointer is a slot pointer */
	_Atomic uint32_t sref;
	uint32_t link;                 /* next slot within a free batch */
	_Atomic uint32_t batch_next;   /* next batch on the shared stack (+1, 0 ends) */
	uint32_t batch_n;              /* slots in the batch this one heads */
} __attribute__((aligned(64)));

struct pkt_cache {
	uint32_t n;
	uint32_t idx[PKT_CACHE_MAX];
	/* Written only by the owning thread (relaxed load + store, no locked
	 * instruction); read by anyone for the statistics. */
	_Atomic uint64_t allocs, frees, fails;
} __attribute__((aligned(64)));

struct pkt_pool {
	char name[32];
	uint8_t *mem;                  /* data areas */
	size_t mem_bytes;
	struct pkt_slot *slots;
	size_t slots_bytes;
	uint32_t nbufs;
	uint32_t stride;               /* bytes per data area = segment cap */
	uint32_t buf_size;             /* asked-for data capacity */

	/* Shared free list: a stack of batches.  The word is
	 * (tag << 32) | (head slot + 1); the tag, bumped on every change,
	 * defeats ABA. */
	alignas(64) _Atomic uint64_t head;

	/* Threads without a cache slot (more than PKT_MAX_THREADS) count here. */
	alignas(64) _Atomic uint64_t shared_allocs, shared_frees, shared_fails;

	struct pkt_cache cache[PKT_MAX_THREADS];

	struct pkt_pool *reg_next;     /* registry of every pool */
	bool dead;                     /* freed with leaks: kept, still counted */
};

static inline struct pkt_slot *pkt_slot_of(const struct pkt *h)
{
	return (struct pkt_slot *)(uintptr_t)h;
}

static inline uint32_t pkt_slot_index(const struct pkt_pool *pool, const struct pkt *h)
{
	return (uint32_t)(pkt_slot_of(h) - pool->slots);
}

/* The slot whose data area the segment's buf is. */
static inline uint32_t pkt_data_index(const struct pkt_pool *pool, const struct pkt *h)
{
	return (uint32_t)((size_t)(h->buf - pool->mem) / pool->stride);
}

/* Takes a free slot (PKT_SLOT_NONE when the pool is empty) and counts it.
 * Lock-free; the slot's sref is left for the caller to set. */
uint32_t pkt_pool_get(struct pkt_pool *pool);
/* Returns slot i to the free list and counts it.  Lock-free. */
void pkt_pool_put(struct pkt_pool *pool, uint32_t i);
/* The calling thread's trace-id sequence. */
uint64_t pkt_pool_next_id(void);

#endif
