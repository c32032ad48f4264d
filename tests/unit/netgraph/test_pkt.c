/* Unit tests of the packet buffer and the buffer pools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/sal/sal.h"
#include "netgraph/pkt.h"
#include "tests/unit/netgraph/ng_test.h"

static struct pkt_pool *pool;    /* standard 2048-byte buffers */
static struct pkt_pool *small;   /* 64-byte buffers: forces chains */

static int setup(void **state)
{
	(void)state;
	pool = pkt_pool_new("test", 256, PKT_BUF_DEFAULT);
	small = pkt_pool_new("small", 256, 64);
	return pool && small ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	uint64_t a = pkt_pool_free(pool), b = pkt_pool_free(small);
	return a || b ? -1 : 0;
}

static void fill(uint8_t *d, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(seed + i * 7);
}

static void assert_bytes(const struct pkt *p, const uint8_t *want, uint32_t n)
{
	uint8_t got[4096];
	assert_int_equal(pkt_len(p), n);
	assert_true(pkt_copy_out(p, 0, got, n));
	assert_memory_equal(got, want, n);
}

/* --- a fresh packet and one segment's geometry ------------------------------ */
static void test_alloc_geometry(void **state)
{
	(void)state;
	struct pkt *p = pkt_alloc(pool);
	assert_non_null(p);
	assert_int_equal(pkt_len(p), 0);
	assert_int_equal(pkt_headroom(p), PKT_HEADROOM);
	assert_true(pkt_tailroom(p) >= PKT_BUF_DEFAULT + PKT_TAILROOM);
	assert_int_equal(p->l2_off, -1);
	assert_int_equal(pkt_segments(p), 1);
	NG_ASSERT_PKT_OK(p);

	uint8_t *d = pkt_put(p, 100);
	assert_non_null(d);
	fill(d, 100, 1);
	uint8_t *h = pkt_push(p, 14);
	assert_ptr_equal(h, pkt_data(p));
	assert_int_equal(pkt_len(p), 114);
	assert_int_equal(pkt_headroom(p), PKT_HEADROOM - 14);
	pkt_set_l2(p);
	assert_true(pkt_pull(p, 14));
	assert_int_equal(pkt_len(p), 100);
	assert_ptr_equal(p->buf + p->l2_off + 14, pkt_data(p));
	assert_false(pkt_pull(p, 101));
	assert_true(pkt_trim(p, 60));
	assert_int_equal(pkt_len(p), 60);
	assert_false(pkt_trim(p, 61));
	NG_ASSERT_PKT_OK(p);
	pkt_free(p);
	NG_ASSERT_NO_LEAKS();
}

/* --- push and put fail without modifying the packet ---------------------------- */
static void test_push_put_fail_unchanged(void **state)
{
	(void)state;
	uint8_t data[50];
	fill(data, sizeof(data), 3);
	struct pkt *p = pkt_from_bytes(pool, data, sizeof(data));
	assert_non_null(pkt_push(p, PKT_HEADROOM - 10));
	struct pkt before = *p;
	assert_null(pkt_push(p, 11));
	assert_int_equal(p->off, before.off);
	assert_int_equal(p->len, before.len);
	assert_int_equal(p->pkt_len, before.pkt_len);
	uint32_t tr = pkt_tailroom(p);
	assert_null(pkt_put(p, tr + 1));
	assert_int_equal(p->len, before.len);
	assert_non_null(pkt_put(p, tr));
	assert_int_equal(pkt_tailroom(p), 0);
	assert_true(pkt_pull(p, PKT_HEADROOM - 10));
	assert_true(pkt_trim(p, sizeof(data)));
	assert_bytes(p, data, sizeof(data));
	pkt_free(p);
	NG_ASSERT_NO_LEAKS();
}

/* --- chains: from_bytes, pull, contig, trim, copy_out across segments ------------- */
static void test_chain_ops(void **state)
{
	(void)state;
	uint8_t data[600];
	fill(data, sizeof(data), 9);
	struct pkt *p = pkt_from_bytes(small, data, sizeof(data));
	assert_non_null(p);
	assert_true(pkt_segments(p) >= 3);
	NG_ASSERT_PKT_OK(p);
	assert_bytes(p, data, sizeof(data));

	uint8_t mid[100];
	assert_true(pkt_copy_out(p, 250, mid, 100));
	assert_memory_equal(mid, data + 250, 100);
	assert_false(pkt_copy_out(p, 550, mid, 51));

	/* Pull across two segment boundaries. */
	uint32_t first = p->len;
	assert_true(pkt_pull(p, first + 70));
	NG_ASSERT_PKT_OK(p);
	assert_bytes(p, data + first + 70, (uint32_t)sizeof(data) - first - 70);

	/* Contig 150 bytes: more than a small segment holds after the front
	 * of the first; fails (does not fit), packet unchanged. */
	uint32_t segs = (uint32_t)pkt_segments(p);
	assert_false(pkt_contig(p, 200));
	assert_int_equal(pkt_segments(p), segs);
	NG_ASSERT_PKT_OK(p);
	pkt_free(p);

	/* A big first buffer: contig pulls bytes from the small tail. */
	p = pkt_from_bytes(pool, data, 20);
	struct pkt *t = pkt_from_bytes(small, data + 20, sizeof(data) - 20);
	assert_true(pkt_chain(p, &t));
	assert_null(t);
	assert_int_equal(pkt_len(p), sizeof(data));
	NG_ASSERT_PKT_OK(p);
	assert_true(pkt_contig(p, 20));     /* already there */
	assert_true(pkt_contig(p, 333));
	assert_true(p->len >= 333);
	assert_memory_equal(pkt_data(p), data, 333);
	NG_ASSERT_PKT_OK(p);
	assert_bytes(p, data, sizeof(data));
	assert_false(pkt_contig(p, sizeof(data) + 1));
	assert_true(pkt_contig(p, sizeof(data)));
	assert_int_equal(pkt_segments(p), 1);
	pkt_free(p);

	/* Trim in the middle of a later segment, then to a boundary, then 0. */
	p = pkt_from_bytes(small, data, sizeof(data));
	assert_true(pkt_trim(p, 301));
	NG_ASSERT_PKT_OK(p);
	assert_bytes(p, data, 301);
	assert_true(pkt_trim(p, p->len));
	assert_int_equal(pkt_segments(p), 1);
	assert_true(pkt_trim(p, 0));
	assert_int_equal(pkt_len(p), 0);
	NG_ASSERT_PKT_OK(p);
	pkt_free(p);
	NG_ASSERT_NO_LEAKS();
}

/* --- sharing: ref, clone, unshare ------------------------------------------------------ */
static void test_ref_clone_unshare(void **state)
{
	(void)state;
	uint8_t data[200];
	fill(data, sizeof(data), 5);

	/* pkt_ref: two owners, each frees once. */
	struct pkt *p = pkt_from_bytes(pool, data, sizeof(data));
	pkt_ref(p);
	assert_false(pkt_seg_writable(p));
	assert_null(pkt_push(p, 4));
	pkt_free(p);
	assert_true(pkt_seg_writable(p));
	pkt_free(p);
	NG_ASSERT_NO_LEAKS();

	/* pkt_clone: a private header on shared data. */
	p = pkt_from_bytes(pool, data, sizeof(data));
	p->ifindex = 7;
	pkt_set_l2(p);
	struct pkt *c = pkt_clone(p);
	assert_non_null(c);
	assert_ptr_not_equal(c, p);
	assert_ptr_equal(pkt_data(c), pkt_data(p));
	assert_int_equal(c->ifindex, 7);
	assert_int_equal(c->l2_off, p->l2_off);
	assert_true(pkt_is_shared(p));
	assert_true(pkt_is_shared(c));
	assert_null(pkt_push(c, 14));          /* would write shared bytes */
	assert_true(pkt_pull(c, 10));          /* geometry is the clone's own */
	assert_int_equal(pkt_len(p), 200);
	assert_true(pkt_unshare(&c));
	assert_false(pkt_is_shared(c));
	assert_false(pkt_is_shared(p));        /* p's data has one user again */
	uint8_t *h = pkt_push(c, 14);
	assert_non_null(h);
	memset(h, 0xee, 14);
	pkt_data(c)[20] = 0x55;
	assert_bytes(p, data, sizeof(data));   /* the original did not move */
	NG_ASSERT_PKT_OK(c);
	NG_ASSERT_PKT_OK(p);
	pkt_free(p);
	pkt_free(c);
	NG_ASSERT_NO_LEAKS();

	/* Freeing the original first leaves the clone sole user of the data. */
	p = pkt_from_bytes(pool, data, sizeof(data));
	c = pkt_clone(p);
	pkt_free(p);
	assert_false(pkt_is_shared(c));
	assert_bytes(c, data, sizeof(data));
	pkt_free(c);
	NG_ASSERT_NO_LEAKS();

	/* A chain: the clone shares every segment; changing its geometry
	 * (pull across segments, trim, contig) leaves the original intact. */
	p = pkt_from_bytes(small, data, sizeof(data));
	c = pkt_clone(p);
	assert_true(pkt_pull(c, p->len + 5));
	NG_ASSERT_PKT_OK(c);
	assert_bytes(c, data + p->len + 5, (uint32_t)sizeof(data) - p->len - 5);
	assert_true(pkt_trim(c, 77));
	assert_bytes(c, data + p->len + 5, 77);
	assert_true(pkt_contig(c, 40));
	assert_memory_equal(pkt_data(c), data + p->len + 5, 40);
	assert_bytes(p, data, sizeof(data));
	NG_ASSERT_PKT_OK(p);
	NG_ASSERT_PKT_OK(c);
	/* Unshare copies what is still shared; both stay whole. */
	struct pkt *c2 = pkt_clone(p);
	assert_true(pkt_unshare(&c2));
	assert_false(pkt_is_shared(c2));
	assert_bytes(c2, data, sizeof(data));
	pkt_free(c);
	pkt_free(p);
	assert_bytes(c2, data, sizeof(data));
	pkt_free(c2);
	NG_ASSERT_NO_LEAKS();

	/* pkt_ref'd chain unshared by one owner: the other keeps the old one. */
	p = pkt_from_bytes(small, data, sizeof(data));
	struct pkt *q = pkt_ref(p);
	assert_true(pkt_unshare(&q));
	assert_ptr_not_equal(q, p);
	assert_non_null(pkt_push(q, 2));
	assert_bytes(p, data, sizeof(data));
	pkt_free(p);
	pkt_free(q);
	NG_ASSERT_NO_LEAKS();
}

static void test_copy(void **state)
{
	(void)state;
	uint8_t data[300];
	fill(data, sizeof(data), 11);
	struct pkt *p = pkt_from_bytes(small, data, sizeof(data));
	assert_true(pkt_pull(p, 3));
	pkt_set_l3(p);
	p->csum = PKT_CSUM_VERIFIED;
	struct pkt *c = pkt_copy(p, pool);
	assert_non_null(c);
	assert_int_equal(pkt_segments(c), 1);
	assert_int_equal(c->csum, PKT_CSUM_VERIFIED);
	assert_ptr_equal(c->buf + c->l3_off, pkt_data(c));
	assert_bytes(c, data + 3, sizeof(data) - 3);
	assert_false(pkt_is_shared(c));
	NG_ASSERT_PKT_OK(c);
	pkt_free(p);
	pkt_free(c);
	NG_ASSERT_NO_LEAKS();
}

/* --- checksums ----------------------------------------------------------------------------- */
/* The reference: big-endian words summed one at a time. */
static uint32_t ref_sum(const uint8_t *d, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? d[i] : (uint32_t)d[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void test_csum_vectors(void **state)
{
	(void)state;
	/* RFC 1071, section 3: the sum of these bytes is ddf2. */
	static const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(csum_add(0, rfc, sizeof(rfc)), 0xddf2);
	assert_int_equal(csum_fold(0xddf2), 0x220d);
	/* An IPv4 header with its checksum (b861) in place sums to ffff. */
	static const uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
				     0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01,
				     0xc0, 0xa8, 0x00, 0xc7};
	assert_int_equal(csum_add(0, ip, sizeof(ip)), 0xffff);
	assert_int_equal(csum_fold(csum_add(0, ip, sizeof(ip))), 0);
	uint8_t z[20];
	memcpy(z, ip, 20);
	z[10] = z[11] = 0;
	assert_int_equal(csum_fold(csum_add(0, z, 20)), 0xb861);

	/* Odd lengths, odd starts and every split across segments agree with
	 * the reference. */
	uint8_t data[700];
	fill(data, sizeof(data), 0x3d);
	for (size_t n = 0; n < 40; n++)
		assert_int_equal(csum_add(0, data + 1, n), ref_sum(data + 1, n, 0));
	assert_int_equal(csum_add(0x1234, data, 501), ref_sum(data, 501, 0x1234));
	struct pkt *p = pkt_from_bytes(small, data, sizeof(data));
	assert_true(pkt_pull(p, 3));   /* first segment now odd */
	for (uint32_t off = 0; off < 20; off++)
		for (uint32_t n = 0; n + off <= 690; n += 37)
			assert_int_equal(pkt_csum_partial(p, off, n, 0),
					 ref_sum(data + 3 + off, n, 0));
	pkt_free(p);
	NG_ASSERT_NO_LEAKS();
}

/* An Ethernet + IPv4 + UDP frame with a correct checksum in ref[] and the
 * partial form (pseudo-header sum in the field) in part[]. */
static size_t make_udp(uint8_t *ref, uint8_t *part, size_t payload)
{
	size_t ulen = 8 + payload, n = 14 + 20 + ulen;
	memset(ref, 0, n);
	ref[12] = 0x08;
	ref[14] = 0x45;
	ref[14 + 9] = 17;
	const uint8_t src[4] = {198, 18, 0, 1}, dst[4] = {198, 18, 0, 2};
	memcpy(ref + 26, src, 4);
	memcpy(ref + 30, dst, 4);
	uint8_t *u = ref + 34;
	u[0] = 0x30, u[1] = 0x39, u[2] = 0x00, u[3] = 0x35;
	u[4] = (uint8_t)(ulen >> 8), u[5] = (uint8_t)ulen;
	fill(u + 8, payload, 0x71);
	uint8_t ph[12] = {0};
	memcpy(ph, src, 4);
	memcpy(ph + 4, dst, 4);
	ph[9] = 17;
	ph[10] = (uint8_t)(ulen >> 8), ph[11] = (uint8_t)ulen;
	uint32_t pseudo = ref_sum(ph, 12, 0);
	uint16_t c = (uint16_t)~ref_sum(u, ulen, pseudo);
	if (c == 0)
		c = 0xffff;
	memcpy(part, ref, n);
	part[34 + 6] = (uint8_t)(pseudo >> 8), part[34 + 7] = (uint8_t)pseudo;
	u[6] = (uint8_t)(c >> 8), u[7] = (uint8_t)c;
	return n;
}

static void test_csum_complete(void **state)
{
	(void)state;
	uint8_t ref[1600], part[1600];
	for (size_t payload = 0; payload < 300; payload += 61) {
		size_t n = make_udp(ref, part, payload);
		struct pkt_pool *pools[2] = {pool, small};
		for (int k = 0; k < 2; k++) {
			struct pkt *p = pkt_from_bytes(pools[k], part, n);
			p->csum = PKT_CSUM_PARTIAL;
			p->csum_start = 34;
			p->csum_offset = 6;
			assert_true(pkt_csum_complete(p));
			assert_int_equal(p->csum, PKT_CSUM_NONE);
			assert_bytes(p, ref, (uint32_t)n);
			/* Verifying the finished datagram: the sum with the
			 * pseudo-header is all ones. */
			pkt_free(p);
		}
	}
	/* Offsets outside the packet are refused, nothing written. */
	size_t n = make_udp(ref, part, 10);
	struct pkt *p = pkt_from_bytes(pool, part, n);
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_start = (uint16_t)n;
	p->csum_offset = 6;
	assert_false(pkt_csum_complete(p));
	assert_int_equal(p->csum, PKT_CSUM_PARTIAL);
	assert_bytes(p, part, (uint32_t)n);
	p->csum = PKT_CSUM_NONE;
	assert_true(pkt_csum_complete(p));   /* nothing to do */
	pkt_free(p);
	NG_ASSERT_NO_LEAKS();
}

/* --- pools: exhaustion, leak accounting, threads ----------------------------------------------- */
static void test_pool_exhaustion(void **state)
{
	(void)state;
	struct pkt_pool *tiny = pkt_pool_new("tiny", 4, 128);
	struct pkt *v[5];
	for (int i = 0; i < 4; i++)
		assert_non_null(v[i] = pkt_alloc(tiny));
	assert_null(pkt_alloc(tiny));
	struct pkt_pool_stats st;
	pkt_pool_stats(tiny, &st);
	assert_int_equal(st.allocs, 4);
	assert_int_equal(st.alloc_fails, 1);
	assert_int_equal(st.outstanding, 4);
	assert_int_equal(st.capacity, 4);
	pkt_free(v[3]);
	/* A chain that cannot be finished gives back what it took. */
	uint8_t big[1000] = {0};
	assert_null(pkt_from_bytes(tiny, big, sizeof(big)));
	pkt_pool_stats(tiny, &st);
	assert_int_equal(st.outstanding, 3);
	/* A clone needs a header slot too. */
	v[3] = pkt_alloc(tiny);
	assert_null(pkt_clone(v[0]));
	assert_null(pkt_copy(v[0], tiny));
	for (int i = 0; i < 4; i++)
		pkt_free(v[i]);
	pkt_pool_stats(tiny, &st);
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(pkt_pool_free(tiny), 0);
	NG_ASSERT_NO_LEAKS();
}

static void test_leak_accounting(void **state)
{
	(void)state;
	struct pkt_pool *lp = pkt_pool_new("leaky", 8, 128);
	struct pkt *p = pkt_alloc(lp);
	struct pkt *c = pkt_clone(p);
	assert_int_equal(pkt_pools_outstanding(), 2);
	pkt_free(p);
	assert_int_equal(pkt_pools_outstanding(), 2);  /* c holds p's data */
	/* Freeing a pool with a packet out reports it and keeps counting. */
	assert_int_equal(pkt_pool_free(lp), 2);
	assert_int_equal(pkt_pools_outstanding(), 2);
	pkt_free(c);
	NG_ASSERT_NO_LEAKS();
}

#define THR_ITERS 20000
static struct pkt *handoff[THR_ITERS];
static _Atomic int handoff_n;

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < THR_ITERS; i++) {
		struct pkt *p;
		while (!(p = pkt_alloc(pool)))
			sal_yield();
		*pkt_put(p, 1) = (uint8_t)i;
		handoff[i] = p;
		atomic_store_explicit(&handoff_n, i + 1, memory_order_release);
	}
	pkt_pools_thread_exit();
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < THR_ITERS; i++) {
		while (atomic_load_explicit(&handoff_n, memory_order_acquire) <= i)
			sal_cpu_relax();
		assert_int_equal(pkt_data(handoff[i])[0], (uint8_t)i);
		pkt_free(handoff[i]);
	}
	pkt_pools_thread_exit();
	return NULL;
}

static void *churn(void *arg)
{
	(void)arg;
	struct pkt *v[40];
	for (int r = 0; r < 2000; r++) {
		int n = 0;
		while (n < 40 && (v[n] = pkt_alloc(small)))
			n++;
		for (int i = 0; i < n; i++)
			pkt_free(v[i]);
	}
	pkt_pools_thread_exit();
	return NULL;
}

static void test_pool_threads(void **state)
{
	(void)state;
	/* Allocated on one thread, freed on another: the slots travel
	 * through the shared list in batches. */
	atomic_store(&handoff_n, 0);
	struct sal_thread *a = sal_thread_start("prod", producer, NULL);
	struct sal_thread *b = sal_thread_start("cons", consumer, NULL);
	sal_thread_join(a);
	sal_thread_join(b);
	/* Four threads competing for a small pool. */
	struct sal_thread *t[4];
	for (int i = 0; i < 4; i++)
		t[i] = sal_thread_start("churn", churn, NULL);
	for (int i = 0; i < 4; i++)
		sal_thread_join(t[i]);
	struct pkt_pool_stats st;
	pkt_pool_stats(small, &st);
	assert_int_equal(st.outstanding, 0);
	/* Every buffer is still reachable: the whole pool can be taken. */
	struct pkt *v[256];
	for (int i = 0; i < 256; i++)
		assert_non_null(v[i] = pkt_alloc(small));
	assert_null(pkt_alloc(small));
	for (int i = 0; i < 256; i++)
		pkt_free(v[i]);
	NG_ASSERT_NO_LEAKS();
}

int main(void)
{
	sal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_geometry),
		cmocka_unit_test(test_push_put_fail_unchanged),
		cmocka_unit_test(test_chain_ops),
		cmocka_unit_test(test_ref_clone_unshare),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_csum_vectors),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_leak_accounting),
		cmocka_unit_test(test_pool_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
