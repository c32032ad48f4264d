/*
 * pool.c - packet buffer pools.
 *
 * Memory: the data areas and the slot records are physical pages from the
 * VM services' PhysAddr (kernel/vm/vm.h), allocated when the pool is made:
 * contiguous, zeroed and pinned (Reclaim never takes nor nominates them),
 * reached through the direct map, which never faults.  So the per-packet
 * path sees one flat array as before, and its first touches of a buffer do
 * not fault either (zeroing committed every page).  The VM is started with
 * its default sizes if nobody started it (vm_start_default).  Nothing is
 * allocated afterwards.
 *
 * Free slots live in two places.  Each thread that touches a pool has a
 * private cache of up to PKT_CACHE_MAX slot indices inside the pool (found by
 * a small per-thread number, so no lookup and no lock); behind the caches is
 * a shared lock-free stack of batches of up to PKT_BATCH slots.  A thread
 * allocates from its cache and refills it with one batch (one
 * compare-and-swap); it frees into its cache and, when that is full, pushes
 * one batch back (one compare-and-swap).  The stack word carries a tag that
 * changes on every update, so a pop that read a stale head fails its
 * compare-and-swap instead of corrupting the list (ABA).
 *
 * Cost: an allocation or a free is a few loads and stores in the thread's own
 * cache line; every PKT_BATCH of them adds one compare-and-swap on the shared
 * stack.  Threads beyond PKT_MAX_THREADS run uncached (one compare-and-swap
 * per packet, and a shared counter).
 *
 * Leak accounting: every slot taken is counted as an allocation and every slot
 * returned as a free, in counters owned by the thread that did it; a pool's
 * outstanding count is their difference summed over threads.
 */
#include "netgraph/pkt.h"
#include "netgraph/pkt_pool.h"

#include "kernel/sal/sal.h"
#include "kernel/vm/vm.h"

/* --- per-thread number ---------------------------------------------------- */
static _Atomic uint64_t tid_map;
static _Thread_local int tl_tid = -2;  /* -2: not asked yet; -1: none free */
static _Thread_local uint64_t tl_seq;

static int thread_slot(void)
{
	int t = tl_tid;
	if (__builtin_expect(t != -2, 1))
		return t;
	uint64_t m = atomic_load_explicit(&tid_map, memory_order_relaxed);
	for (;;) {
		if (m == UINT64_MAX) {
			tl_tid = -1;
			return -1;
		}
		int bit = __builtin_ctzll(~m);
		if (atomic_compare_exchange_weak_explicit(&tid_map, &m, m | (1ull << bit),
							  memory_order_acq_rel,
							  memory_order_relaxed)) {
			tl_tid = bit;
			return bit;
		}
	}
}

uint64_t pkt_pool_next_id(void)
{
	int t = thread_slot();
	return ((uint64_t)(t + 2) << 48) | ++tl_seq;
}

static inline void bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* --- registry (control path; a spin lock keeps start-up order simple) ----- */
static atomic_flag reg_lock = ATOMIC_FLAG_INIT;
static struct pkt_pool *reg_head;

static void reg_acquire(void)
{
	while (atomic_flag_test_and_set_explicit(&reg_lock, memory_order_acquire))
		sal_cpu_relax();
}

static void reg_release(void)
{
	atomic_flag_clear_explicit(&reg_lock, memory_order_release);
}

/* --- shared stack of batches ---------------------------------------------- */
static void stack_push(struct pkt_pool *pool, uint32_t first, uint32_t n)
{
	pool->slots[first].batch_n = n;
	uint64_t old = atomic_load_explicit(&pool->head, memory_order_acquire);
	uint64_t nw;
	do {
		atomic_store_explicit(&pool->slots[first].batch_next, (uint32_t)old,
				      memory_order_relaxed);
		nw = (((old >> 32) + 1) << 32) | (uint64_t)(first + 1);
	} while (!atomic_compare_exchange_weak_explicit(&pool->head, &old, nw,
							memory_order_release,
							memory_order_acquire));
}

static uint32_t stack_pop(struct pkt_pool *pool)
{
	uint64_t old = atomic_load_explicit(&pool->head, memory_order_acquire);
	uint64_t nw;
	do {
		if ((uint32_t)old == 0)
			return PKT_SLOT_NONE;
		uint32_t h = (uint32_t)old - 1;
		uint32_t nx = atomic_load_explicit(&pool->slots[h].batch_next,
						   memory_order_relaxed);
		nw = (((old >> 32) + 1) << 32) | nx;
	} while (!atomic_compare_exchange_weak_explicit(&pool->head, &old, nw,
							memory_order_acquire,
							memory_order_acquire));
	return (uint32_t)old - 1;
}

/* Links idx[0..n) into one batch and pushes it. */
static void push_indices(struct pkt_pool *pool, const uint32_t *idx, uint32_t n)
{
	for (uint32_t k = 0; k + 1 < n; k++)
		pool->slots[idx[k]].link = idx[k + 1];
	stack_push(pool, idx[0], n);
}

static bool cache_refill(struct pkt_pool *pool, struct pkt_cache *c)
{
	uint32_t h = stack_pop(pool);
	if (h == PKT_SLOT_NONE)
		return false;
	uint32_t n = pool->slots[h].batch_n;
	for (uint32_t k = 0; k < n; k++) {
		c->idx[c->n++] = h;
		h = pool->slots[h].link;
	}
	return true;
}

uint32_t pkt_pool_get(struct pkt_pool *pool)
{
	int t = thread_slot();
	if (__builtin_expect(t >= 0, 1)) {
		struct pkt_cache *c = &pool->cache[t];
		if (c->n == 0 && !cache_refill(pool, c)) {
			bump(&c->fails);
			return PKT_SLOT_NONE;
		}
		bump(&c->allocs);
		return c->idx[--c->n];
	}
	uint32_t h = stack_pop(pool);
	if (h == PKT_SLOT_NONE) {
		atomic_fetch_add_explicit(&pool->shared_fails, 1, memory_order_relaxed);
		return PKT_SLOT_NONE;
	}
	uint32_t n = pool->slots[h].batch_n;
	if (n > 1)
		stack_push(pool, pool->slots[h].link, n - 1);
	atomic_fetch_add_explicit(&pool->shared_allocs, 1, memory_order_relaxed);
	return h;
}

void pkt_pool_put(struct pkt_pool *pool, uint32_t i)
{
	int t = thread_slot();
	if (__builtin_expect(t >= 0, 1)) {
		struct pkt_cache *c = &pool->cache[t];
		if (c->n == PKT_CACHE_MAX) {
			c->n -= PKT_BATCH;
			push_indices(pool, &c->idx[c->n], PKT_BATCH);
		}
		c->idx[c->n++] = i;
		bump(&c->frees);
		return;
	}
	stack_push(pool, i, 1);
	atomic_fetch_add_explicit(&pool->shared_frees, 1, memory_order_relaxed);
}

/* --- control path ----------------------------------------------------------- */
/* bytes (rounded up to pages) of contiguous pinned zeroed frames, or NULL. */
static void *pool_pages(size_t bytes)
{
	size_t n = (bytes + VM_PAGE - 1) / VM_PAGE;
	if (vm_start_default() != VM_OK)
		return NULL;
	phys_page_t *pages = sal_alloc(n * sizeof *pages);
	if (!pages)
		return NULL;
	void *p = NULL;
	if (phys_alloc(n, PHYS_CONTIG | PHYS_ZERO | PHYS_PINNED, pages) == VM_OK)
		p = phys_kaddr(pages[0]);
	sal_free(pages);
	return p;
}

static void pool_pages_free(void *p, size_t bytes)
{
	size_t n = (bytes + VM_PAGE - 1) / VM_PAGE;
	phys_page_t *pages = sal_alloc(n * sizeof *pages);
	if (!p || !pages)
		sal_panic("pkt: cannot give a pool's pages back");
	phys_page_t first = (phys_page_t)(((uint8_t *)p - (uint8_t *)phys_kaddr(0)) / VM_PAGE);
	for (size_t i = 0; i < n; i++)
		pages[i] = first + (phys_page_t)i;
	phys_free(pages, n);
	sal_free(pages);
}

struct pkt_pool *pkt_pool_new(const char *name, uint32_t nbufs, uint32_t buf_size)
{
	if (nbufs == 0 || nbufs >= (1u << 24) || buf_size == 0 || buf_size > 65536)
		return NULL;
	struct pkt_pool *pool = sal_alloc_aligned(64, sizeof(*pool));
	if (!pool)
		return NULL;
	memset(pool, 0, sizeof(*pool));
	sal_snprintf(pool->name, sizeof(pool->name), "%s", name ? name : "pool");
	pool->nbufs = nbufs;
	pool->buf_size = buf_size;
	pool->stride = (PKT_HEADROOM + buf_size + PKT_TAILROOM + 63u) & ~63u;
	pool->mem_bytes = (size_t)nbufs * pool->stride;
	pool->slots_bytes = (size_t)nbufs * sizeof(struct pkt_slot);
	pool->mem = pool_pages(pool->mem_bytes);
	pool->slots = pool_pages(pool->slots_bytes);
	if (!pool->mem || !pool->slots) {
		if (pool->mem)
			pool_pages_free(pool->mem, pool->mem_bytes);
		if (pool->slots)
			pool_pages_free(pool->slots, pool->slots_bytes);
		sal_free(pool);
		return NULL;
	}
	/* Pages come zeroed: every sref is 0 (free).  Push from the top so the
	 * first allocations get the lowest slots, which keeps dumps readable. */
	uint32_t idx[PKT_BATCH];
	for (uint32_t top = nbufs; top > 0;) {
		uint32_t n = top < PKT_BATCH ? top : PKT_BATCH;
		for (uint32_t k = 0; k < n; k++)
			idx[k] = top - n + k;
		push_indices(pool, idx, n);
		top -= n;
	}
	reg_acquire();
	pool->reg_next = reg_head;
	reg_head = pool;
	reg_release();
	return pool;
}

void pkt_pool_stats(const struct pkt_pool *pool, struct pkt_pool_stats *out)
{
	uint64_t a = atomic_load_explicit(&pool->shared_allocs, memory_order_relaxed);
	uint64_t f = atomic_load_explicit(&pool->shared_frees, memory_order_relaxed);
	uint64_t x = atomic_load_explicit(&pool->shared_fails, memory_order_relaxed);
	for (int t = 0; t < PKT_MAX_THREADS; t++) {
		a += atomic_load_explicit(&pool->cache[t].allocs, memory_order_relaxed);
		f += atomic_load_explicit(&pool->cache[t].frees, memory_order_relaxed);
		x += atomic_load_explicit(&pool->cache[t].fails, memory_order_relaxed);
	}
	out->allocs = a;
	out->frees = f;
	out->alloc_fails = x;
	out->outstanding = a - f;
	out->capacity = pool->nbufs;
	out->buf_size = pool->buf_size;
}

const char *pkt_pool_name(const struct pkt_pool *pool)
{
	return pool->name;
}

uint64_t pkt_pools_outstanding(void)
{
	uint64_t sum = 0;
	struct pkt_pool_stats st;
	reg_acquire();
	for (struct pkt_pool *p = reg_head; p; p = p->reg_next) {
		pkt_pool_stats(p, &st);
		sum += st.outstanding;
	}
	reg_release();
	return sum;
}

void pkt_pools_report(void)
{
	struct pkt_pool_stats st;
	reg_acquire();
	for (struct pkt_pool *p = reg_head; p; p = p->reg_next) {
		pkt_pool_stats(p, &st);
		if (st.outstanding)
			sal_log(SAL_LOG_WARN, "pkt: pool %s%s: %llu buffers outstanding",
				p->name, p->dead ? " (freed)" : "",
				(unsigned long long)st.outstanding);
	}
	reg_release();
}

uint64_t pkt_pool_free(struct pkt_pool *pool)
{
	if (!pool)
		return 0;
	struct pkt_pool_stats st;
	pkt_pool_stats(pool, &st);
	if (st.outstanding) {
		unsigned shown = 0;
		for (uint32_t i = 0; i < pool->nbufs && shown < 16; i++) {
			uint32_t r = atomic_load_explicit(&pool->slots[i].sref, memory_order_relaxed);
			if (!r)
				continue;
			const struct pkt *h = &pool->slots[i].hdr;
			sal_log(SAL_LOG_ERR, "pkt: pool %s leaks slot %u (sref %#x len %u id %#llx)",
				pool->name, i, r, h->len, (unsigned long long)h->id);
			shown++;
		}
		sal_log(SAL_LOG_ERR, "pkt: pool %s freed with %llu buffers outstanding",
			pool->name, (unsigned long long)st.outstanding);
		/* The memory stays mapped and the pool stays counted, so the leak
		 * keeps showing in pkt_pools_outstanding. */
		pool->dead = true;
		return st.outstanding;
	}
	reg_acquire();
	for (struct pkt_pool **pp = &reg_head; *pp; pp = &(*pp)->reg_next) {
		if (*pp == pool) {
			*pp = pool->reg_next;
			break;
		}
	}
	reg_release();
	pool_pages_free(pool->mem, pool->mem_bytes);
	pool_pages_free(pool->slots, pool->slots_bytes);
	sal_free(pool);
	return 0;
}

void pkt_pools_thread_exit(void)
{
	int t = tl_tid;
	if (t < 0)
		return;
	reg_acquire();
	for (struct pkt_pool *p = reg_head; p; p = p->reg_next) {
		struct pkt_cache *c = &p->cache[t];
		if (c->n) {
			push_indices(p, c->idx, c->n);
			c->n = 0;
		}
	}
	reg_release();
	atomic_fetch_and_explicit(&tid_map, ~(1ull << t), memory_order_release);
	tl_tid = -2;
}
