/*
 * ip_route.c - the IPv4 routing table: longest-prefix match over an
 * immutable, RCU-published sorted prefix table.
 *
 * Layout of one published table: routes sorted by (prefix length, prefix),
 * with start[L]..start[L+1] the routes of length L and `lens` a bitmask of
 * the lengths present.  A lookup walks the present lengths from the longest
 * down and binary-searches each: at most 33 searches, in practice the
 * handful of lengths a table uses (a host route, a /24, the default), so
 * about 20 ns for a small table and log2(n) compares per length for a large
 * one.  Lookups take no lock and write nothing shared.
 *
 * Writers (control path) copy the table, change the copy, publish it with
 * rcu_publish and free the old one after a grace period.  They serialize on
 * one mutex.  Replacing the whole table (a reload) is one publish, so a
 * packet sees the old routes or the new ones, never a mix.
 */
#include "protocols/ip/ip.h"
#include "protocols/ip/ip_private.h"

#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"

struct ip_rtab {
	struct rcu_head rcu;
	uint32_t n;
	uint64_t lens;             /* bit L set: some route has length L */
	uint32_t start[34];        /* routes of length L: [start[L], start[L+1]) */
	struct ip_route r[];
};

static struct ip_rtab ip_rtab_empty;
static struct ip_rtab *_Atomic ip_rtab = &ip_rtab_empty;
static struct sal_mutex *rt_lock;
static _Atomic int rt_lock_once;

static void rt_lock_take(void)
{
	if (atomic_load_explicit(&rt_lock_once, memory_order_acquire) != 2) {
		int expect = 0;
		if (atomic_compare_exchange_strong(&rt_lock_once, &expect, 1)) {
			rt_lock = sal_mutex_new();
			atomic_store_explicit(&rt_lock_once, 2, memory_order_release);
		}
		while (atomic_load_explicit(&rt_lock_once, memory_order_acquire) != 2)
			sal_cpu_relax();
	}
	sal_mutex_lock(rt_lock);
}

static void rt_lock_drop(void) { sal_mutex_unlock(rt_lock); }

static int route_cmp(const struct ip_route *a, const struct ip_route *b)
{
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return 0;
}

/* Insertion sort: tables are built on the control path and are small
 * enough (thousands at most) that simplicity wins. */
static void routes_sort(struct ip_route *r, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		struct ip_route x = r[i];
		uint32_t j = i;
		while (j > 0 && route_cmp(&r[j - 1], &x) > 0) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

static struct ip_rtab *rtab_build(const struct ip_route *r, uint32_t n)
{
	struct ip_rtab *t = sal_calloc(1, sizeof(*t) + (size_t)n * sizeof(t->r[0]));
	if (!t)
		return NULL;
	if (n)
		memcpy(t->r, r, (size_t)n * sizeof(t->r[0]));
	t->n = n;
	routes_sort(t->r, n);
	uint32_t i = 0;
	for (unsigned L = 0; L <= 32; L++) {
		t->start[L] = i;
		while (i < n && t->r[i].plen == L)
			i++;
		if (t->start[L] != i)
			t->lens |= 1ull << L;
	}
	t->start[33] = n;
	return t;
}

static void rtab_free_cb(struct rcu_head *h)
{
	sal_free((struct ip_rtab *)((char *)h - offsetof(struct ip_rtab, rcu)));
}

/* Publishes t and retires the old table; called with rt_lock held. */
static void rtab_publish(struct ip_rtab *t)
{
	struct ip_rtab *old = atomic_load_explicit(&ip_rtab, memory_order_relaxed);
	rcu_publish(ip_rtab, t);
	if (old == &ip_rtab_empty)
		return;
	if (rcu_thread_is_online()) {
		rcu_call(&old->rcu, rtab_free_cb);
	} else {
		rcu_synchronize();
		sal_free(old);
	}
}

static int route_check(const struct ip_route *r)
{
	if (r->plen > 32)
		return IP_EINVAL;
	if (r->prefix & ~ip_mask(r->plen))
		return IP_EINVAL;
	if (r->ifindex == 0 && r->gateway == 0)
		return IP_EINVAL;
	return IP_OK;
}

const struct ip_route *ip_route_lookup(uint32_t dst)
{
	const struct ip_rtab *t = rcu_deref(ip_rtab);
	uint64_t lens = t->lens;
	while (lens) {
		unsigned L = 63u - (unsigned)__builtin_clzll(lens);
		lens &= ~(1ull << L);
		uint32_t key = dst & ip_mask(L);
		uint32_t lo = t->start[L], hi = t->start[L + 1];
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			uint32_t p = t->r[mid].prefix;
			if (p == key)
				return &t->r[mid];
			if (p < key)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}

int ip_route_add(const struct ip_route *r)
{
	int err = route_check(r);
	if (err)
		return err;
	rt_lock_take();
	struct ip_rtab *cur = atomic_load_explicit(&ip_rtab, memory_order_relaxed);
	for (uint32_t i = 0; i < cur->n; i++) {
		if (cur->r[i].plen == r->plen && cur->r[i].prefix == r->prefix) {
			rt_lock_drop();
			return IP_EEXIST;
		}
	}
	struct ip_rtab *t = sal_calloc(1, sizeof(*t) + (size_t)(cur->n + 1) * sizeof(t->r[0]));
	if (!t) {
		rt_lock_drop();
		return IP_ENOMEM;
	}
	struct ip_route *tmp = t->r;
	if (cur->n)
		memcpy(tmp, cur->r, (size_t)cur->n * sizeof(tmp[0]));
	tmp[cur->n] = *r;
	struct ip_rtab *nt = rtab_build(tmp, cur->n + 1);
	sal_free(t);
	if (!nt) {
		rt_lock_drop();
		return IP_ENOMEM;
	}
	rtab_publish(nt);
	rt_lock_drop();
	return IP_OK;
}

int ip_route_del(uint32_t prefix, unsigned plen)
{
	if (plen > 32)
		return IP_EINVAL;
	rt_lock_take();
	struct ip_rtab *cur = atomic_load_explicit(&ip_rtab, memory_order_relaxed);
	uint32_t at = UINT32_MAX;
	for (uint32_t i = 0; i < cur->n; i++)
		if (cur->r[i].plen == plen && cur->r[i].prefix == (prefix & ip_mask(plen)))
			at = i;
	if (at == UINT32_MAX) {
		rt_lock_drop();
		return IP_ENOENT;
	}
	struct ip_rtab *t = sal_calloc(1, sizeof(*t) + (size_t)cur->n * sizeof(t->r[0]));
	if (!t) {
		rt_lock_drop();
		return IP_ENOMEM;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < cur->n; i++)
		if (i != at)
			t->r[n++] = cur->r[i];
	struct ip_rtab *nt = rtab_build(t->r, n);
	sal_free(t);
	if (!nt) {
		rt_lock_drop();
		return IP_ENOMEM;
	}
	rtab_publish(nt);
	rt_lock_drop();
	return IP_OK;
}

int ip_route_replace_all(const struct ip_route *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int err = route_check(&r[i]);
		if (err)
			return err;
		for (unsigned j = 0; j < i; j++)
			if (r[j].plen == r[i].plen && r[j].prefix == r[i].prefix)
				return IP_EEXIST;
	}
	struct ip_rtab *nt = rtab_build(r, n);
	if (!nt)
		return IP_ENOMEM;
	rt_lock_take();
	rtab_publish(nt);
	rt_lock_drop();
	return IP_OK;
}

void ip_route_flush(void)
{
	rt_lock_take();
	rtab_publish(&ip_rtab_empty);
	rt_lock_drop();
}

unsigned ip_route_list(struct ip_route *out, unsigned max)
{
	rt_lock_take();
	const struct ip_rtab *t = atomic_load_explicit(&ip_rtab, memory_order_relaxed);
	unsigned n = t->n;
	/* Longest prefixes first, the order a reader expects. */
	for (unsigned i = 0; i < n && i < max; i++)
		out[i] = t->r[n - 1 - i];
	rt_lock_drop();
	return n;
}
