/*
 * test_fault.c - the fault-injection node: each fault kind, determinism
 * (same seed, same decisions), run-time changes, the text form used by
 * spin ctl, and the node on the link events of a fake interface.  Every
 * test ends with no buffer outstanding.
 */
#include "l2_test.h"
#include "netgraph/fault/fault.h"

#define N 200

/* Packets leaving a node through fault_set_output land here. */
static struct pkt *outq[4 * N];
static unsigned nout;

static void out_fn(void *ctx, struct pkt *p)
{
	(void)ctx;
	if (nout < NG_ARRAY_LEN(outq))
		outq[nout++] = p;
	else
		pkt_free(p);
}

static void clear_out(void)
{
	for (unsigned i = 0; i < nout; i++)
		pkt_free(outq[i]);
	nout = 0;
}

/* A 64-byte packet whose first four bytes number it. */
static struct pkt *numbered(uint32_t i)
{
	uint8_t b[64];
	for (unsigned k = 0; k < sizeof b; k++)
		b[k] = (uint8_t)(k * 7);
	put32(b, i);
	struct pkt *p = pkt_from_bytes(pool, b, sizeof b);
	assert_non_null(p);
	return p;
}

static uint32_t number_of(const struct pkt *p)
{
	uint8_t b[4];
	assert_true(pkt_copy_out(p, 0, b, 4));
	return get32(b);
}

static struct fault_node *make(const char *name, const struct fault_config *c)
{
	int err = -1;
	struct fault_node *f = fault_new(name, c, &err);
	assert_non_null(f);
	assert_int_equal(err, FAULT_OK);
	assert_int_equal(fault_set_output(f, out_fn, NULL), FAULT_OK);
	return f;
}

static int f_setup(void **state)
{
	static const char *const mods[] = {"fault"};
	l2_setup(state);
	start_modules(mods, 1);
	nout = 0;
	return 0;
}

static int f_teardown(void **state)
{
	clear_out();
	while (fault_count())
		fault_free(fault_at(0));
	return l2_teardown(state);
}

/* Feeds N numbered packets, releases what is held, and returns a digest
 * of what came out: numbers in order and a sum over the bytes. */
static uint64_t run_digest(struct fault_node *f, uint32_t *order, unsigned *n)
{
	for (uint32_t i = 0; i < N; i++)
		fault_input(f, numbered(i));
	fault_release(f);
	uint64_t h = 1469598103934665603ull;
	for (unsigned i = 0; i < nout; i++) {
		uint8_t b[64];
		assert_true(pkt_copy_out(outq[i], 0, b, 64));
		for (unsigned k = 0; k < 64; k++)
			h = (h ^ b[k]) * 1099511628211ull;
		if (order)
			order[i] = number_of(outq[i]);
	}
	*n = nout;
	clear_out();
	return h;
}

static const struct fault_config MIX = {
	.loss_ppm = 100000, .corrupt_ppm = 100000, .dup_ppm = 100000,
	.delay_ppm = 100000, .reorder_ppm = 100000, .delay_ns = 1000000000,
	.reorder_gap = 2, .seed = 42,
};

static void same_seed_same_decisions(void **state)
{
	(void)state;
	struct fault_node *a = make("a", &MIX), *b = make("b", &MIX);
	uint32_t oa[4 * N], ob[4 * N];
	unsigned na, nb;
	uint64_t ha = run_digest(a, oa, &na), hb = run_digest(b, ob, &nb);
	assert_int_equal(na, nb);
	assert_int_equal(ha, hb);
	assert_memory_equal(oa, ob, na * sizeof oa[0]);
	struct fault_stats sa, sb;
	fault_stats_get(a, &sa);
	fault_stats_get(b, &sb);
	assert_memory_equal(&sa, &sb, sizeof sa);
	assert_true(sa.lost > 0 && sa.corrupted > 0 && sa.duplicated > 0 && sa.delayed > 0 &&
		    sa.reordered > 0);
	assert_int_equal(sa.seen, N);
	assert_int_equal(sa.passed, N - sa.lost + sa.duplicated);

	/* Setting the configuration again restarts the sequence. */
	assert_int_equal(fault_set(a, &MIX), FAULT_OK);
	unsigned n2;
	assert_int_equal(run_digest(a, NULL, &n2), ha);
	/* Another seed decides differently. */
	struct fault_config c = MIX;
	c.seed = 43;
	assert_int_equal(fault_set(b, &c), FAULT_OK);
	assert_true(run_digest(b, NULL, &nb) != ha);
}

static void loss(void **state)
{
	(void)state;
	struct fault_config c = {.loss_ppm = FAULT_PPM};
	struct fault_node *f = make("loss", &c);
	uint64_t before = drops("fault", FAULT_DROP_LOSS);
	for (uint32_t i = 0; i < 10; i++)
		fault_input(f, numbered(i));
	assert_int_equal(nout, 0);
	assert_int_equal(drops("fault", FAULT_DROP_LOSS), before + 10);
	/* Half, roughly, at 50%. */
	c.loss_ppm = FAULT_PPM / 2;
	c.seed = 1;
	fault_set(f, &c);
	for (uint32_t i = 0; i < 1000; i++)
		fault_input(f, numbered(i));
	assert_true(nout > 400 && nout < 600);
	/* Off passes everything, in order. */
	clear_out();
	c = (struct fault_config){0};
	fault_set(f, &c);
	for (uint32_t i = 0; i < 10; i++)
		fault_input(f, numbered(i));
	assert_int_equal(nout, 10);
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(number_of(outq[i]), i);
}

static void duplication(void **state)
{
	(void)state;
	struct fault_config c = {.dup_ppm = FAULT_PPM};
	struct fault_node *f = make("dup", &c);
	for (uint32_t i = 0; i < 5; i++)
		fault_input(f, numbered(i));
	assert_int_equal(nout, 10);
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(number_of(outq[i]), i / 2);
		assert_int_equal(pkt_len(outq[i]), 64);
		assert_false(pkt_is_shared(outq[i]));
	}
}

static void corruption(void **state)
{
	(void)state;
	struct fault_config c = {.corrupt_ppm = FAULT_PPM, .corrupt_off = 14, .seed = 9};
	struct fault_node *f = make("corrupt", &c);
	/* A clone shares data with the original: the original must not change. */
	struct pkt *orig = numbered(7);
	fault_input(f, pkt_clone(orig));
	for (uint32_t i = 0; i < 50; i++)
		fault_input(f, numbered(i));
	assert_int_equal(nout, 51);
	for (unsigned i = 0; i < nout; i++) {
		uint8_t b[64], want[64];
		assert_true(pkt_copy_out(outq[i], 0, b, 64));
		assert_true(pkt_copy_out(orig, 0, want, 64));
		put32(want, i == 0 ? 7 : i - 1);
		unsigned bits = 0, first = 64;
		for (unsigned k = 0; k < 64; k++) {
			bits += (unsigned)__builtin_popcount(b[k] ^ want[k]);
			if (b[k] != want[k] && first == 64)
				first = k;
		}
		assert_int_equal(bits, 1);
		assert_true(first >= 14);
	}
	uint8_t b[64];
	pkt_copy_out(orig, 0, b, 64);
	assert_int_equal(get32(b), 7);
	assert_int_equal(b[20], (uint8_t)(20 * 7));
	pkt_free(orig);
}

/* An Ethernet + IPv4 + TCP frame with 10 bytes of data and a partial
 * checksum (the pseudo-header sum in the field), as TCP sends them. */
static struct pkt *tcp_partial(void)
{
	uint8_t b[64] = {0};
	b[12] = 0x08;
	b[14] = 0x45;
	b[17] = 50;                             /* IP total length */
	b[23] = 6;
	memcpy(b + 26, (uint8_t[]){198, 18, 0, 1, 198, 18, 0, 2}, 8);
	b[46] = 0x50;                           /* TCP header length 20 */
	for (unsigned k = 54; k < 64; k++)
		b[k] = (uint8_t)k;
	uint8_t ph[12] = {198, 18, 0, 1, 198, 18, 0, 2, 0, 6, 0, 30};
	uint16_t seed = (uint16_t)~csum_fold(csum_add(0, ph, sizeof ph));
	b[50] = (uint8_t)(seed >> 8);
	b[51] = (uint8_t)seed;
	struct pkt *p = pkt_from_bytes(pool, b, sizeof b);
	assert_non_null(p);
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 16;
	return p;
}

/* The TCP checksum of such a frame verifies (folds to 0). */
static bool tcp_sum_ok(const struct pkt *p)
{
	uint8_t b[64];
	assert_true(pkt_copy_out(p, 0, b, 64));
	uint8_t ph[12] = {198, 18, 0, 1, 198, 18, 0, 2, 0, 6, 0, 30};
	return csum_fold(csum_add(csum_add(0, ph, sizeof ph), b + 34, 30)) == 0;
}

/* Corrupting a packet whose checksum the device would finish must still
 * leave a wrong checksum; a GSO packet is dropped instead. */
static void corruption_partial(void **state)
{
	(void)state;
	struct fault_config c = {.corrupt_ppm = FAULT_PPM, .corrupt_off = 34, .seed = 3};
	struct fault_node *f = make("corruptp", &c);
	struct pkt *ref = tcp_partial();
	assert_true(pkt_csum_complete(ref));
	assert_true(tcp_sum_ok(ref));          /* the frame itself is right */
	pkt_free(ref);
	for (unsigned i = 0; i < 20; i++)
		fault_input(f, tcp_partial());
	assert_int_equal(nout, 20);
	for (unsigned i = 0; i < nout; i++) {
		assert_int_equal(outq[i]->csum, PKT_CSUM_NONE);
		assert_false(tcp_sum_ok(outq[i]));
	}
	clear_out();
	struct pkt *g = tcp_partial();
	g->gso_type = PKT_GSO_TCPV4;
	g->gso_size = 5;
	fault_input(f, g);
	assert_int_equal(nout, 0);
	struct fault_stats st;
	fault_stats_get(f, &st);
	assert_int_equal(st.corrupted, 21);
	fault_free(f);
}

static bool all_out(void) { return nout == 5; }

static void delay(void **state)
{
	(void)state;
	struct fault_config c = {.delay_ppm = FAULT_PPM, .delay_ns = 20000000};
	struct fault_node *f = make("delay", &c);
	uint64_t t0 = sal_now_ns();
	for (uint32_t i = 0; i < 5; i++)
		fault_input(f, numbered(i));
	assert_int_equal(nout, 0);
	assert_int_equal(fault_held(f), 5);
	assert_true(run_until(all_out));
	/* Held at least the delay (a lower bound, so not a timing assertion). */
	assert_true(sal_now_ns() - t0 >= 20000000);
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(number_of(outq[i]), i);
	assert_int_equal(fault_held(f), 0);
}

static void reordering(void **state)
{
	(void)state;
	struct fault_config hold = {.reorder_ppm = FAULT_PPM, .reorder_gap = 2};
	struct fault_config pass = {0};
	struct fault_node *f = make("reorder", &hold);
	fault_input(f, numbered(0));            /* held for two packets */
	assert_int_equal(fault_set(f, &pass), FAULT_OK);
	for (uint32_t i = 1; i <= 3; i++)
		fault_input(f, numbered(i));
	assert_int_equal(nout, 4);
	static const uint32_t want[] = {1, 2, 0, 3};
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(number_of(outq[i]), want[i]);
	clear_out();
	/* Nothing follows: the held packet leaves after reorder_max_ns. */
	hold.reorder_max_ns = 5000000;
	fault_set(f, &hold);
	fault_input(f, numbered(9));
	assert_int_equal(nout, 0);
	uint64_t end = sal_now_ns() + 2000000000ull;
	while (nout == 0 && sal_now_ns() < end)
		exec_loop_run_once(loop, 1000000);
	assert_int_equal(nout, 1);
	assert_int_equal(number_of(outq[0]), 9);
	/* The queue of held packets is bounded. */
	clear_out();
	hold.reorder_max_ns = 1000000000;
	fault_set(f, &hold);
	uint64_t before = drops("fault", FAULT_DROP_QUEUE_FULL);
	for (uint32_t i = 0; i < FAULT_QUEUE_MAX + 3; i++)
		fault_input(f, numbered(i));
	assert_int_equal(fault_held(f), FAULT_QUEUE_MAX);
	assert_int_equal(drops("fault", FAULT_DROP_QUEUE_FULL), before + 3);
	/* Freeing the node drops what it holds. */
	before = drops("fault", FAULT_DROP_FLUSHED);
	fault_free(f);
	assert_int_equal(drops("fault", FAULT_DROP_FLUSHED), before + FAULT_QUEUE_MAX);
}

static void text_form(void **state)
{
	(void)state;
	struct fault_config c = {0};
	char err[128] = "";
	assert_int_equal(fault_parse("loss=1% dup=0.5% delay=10%@20ms reorder=5%/3@2ms "
				     "corrupt=250ppm@14 seed=7", &c, err, sizeof err), FAULT_OK);
	assert_int_equal(c.loss_ppm, 10000);
	assert_int_equal(c.dup_ppm, 5000);
	assert_int_equal(c.delay_ppm, 100000);
	assert_int_equal(c.delay_ns, 20000000);
	assert_int_equal(c.reorder_ppm, 50000);
	assert_int_equal(c.reorder_gap, 3);
	assert_int_equal(c.reorder_max_ns, 2000000);
	assert_int_equal(c.corrupt_ppm, 250);
	assert_int_equal(c.corrupt_off, 14);
	assert_int_equal(c.seed, 7);
	struct fault_config keep = c;
	assert_int_equal(fault_parse("loss=101%", &c, err, sizeof err), FAULT_EINVAL);
	assert_int_equal(fault_parse("loss=1% bogus=2", &c, err, sizeof err), FAULT_EINVAL);
	assert_non_null(strstr(err, "bogus=2"));
	assert_int_equal(fault_parse("delay=1%@", &c, err, sizeof err), FAULT_EINVAL);
	assert_memory_equal(&c, &keep, sizeof c);       /* unchanged on error */
	assert_int_equal(fault_parse("off seed=8", &c, err, sizeof err), FAULT_OK);
	assert_int_equal(c.loss_ppm + c.dup_ppm + c.delay_ppm + c.reorder_ppm + c.corrupt_ppm, 0);
	assert_int_equal(c.delay_ns, 20000000);

	assert_int_equal(fault_parse("loss=1.5%", &c, err, sizeof err), FAULT_OK);
	struct fault_node *f = make("ctl0", &c);
	assert_ptr_equal(fault_find("ctl0"), f);
	assert_null(fault_find("nope"));
	int e;
	assert_null(fault_new("ctl0", &c, &e));
	assert_int_equal(e, FAULT_EEXIST);
	char buf[512];
	int n = fault_format(f, buf, sizeof buf);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	assert_non_null(strstr(buf, "ctl0: loss=1.5000%"));
	assert_non_null(strstr(buf, "seed=8"));
	assert_int_equal(fault_format(f, NULL, 0), n);
}

/* On the link events of the fake interface. */
static void on_link_rx(void **state)
{
	(void)state;
	struct fault_config c = {.loss_ppm = FAULT_PPM};
	int e;
	struct fault_node *f = fault_new("rx", &c, &e);
	assert_non_null(f);
	assert_int_equal(fault_attach(f, FAULT_LINK_RX, fake.index), FAULT_OK);
	assert_int_equal(fault_attach(f, FAULT_LINK_RX, fake.index), FAULT_EEXIST);
	assert_int_equal(fault_set_output(f, out_fn, NULL), FAULT_EEXIST);
	uint8_t fr[128];
	size_t n = eth_frame(fr, US_MAC, PEER_MAC, TEST_TYPE, "hello", 5);
	inject(fr, n);
	assert_int_equal(nrx, 0);
	/* Pass-through: each frame reaches ether exactly once. */
	fault_set(f, &(struct fault_config){0});
	inject(fr, n);
	inject(fr, n);
	assert_int_equal(nrx, 2);
	assert_false(rx[0]->flags & PKT_F_FAULTED);
	/* Duplication on receive. */
	fault_set(f, &(struct fault_config){.dup_ppm = FAULT_PPM});
	inject(fr, n);
	assert_int_equal(nrx, 4);
	/* Detached: untouched. */
	assert_int_equal(fault_detach(f), FAULT_OK);
	assert_int_equal(fault_detach(f), FAULT_ENOENT);
	inject(fr, n);
	assert_int_equal(nrx, 5);
	fault_free(f);
}

static void on_link_tx(void **state)
{
	(void)state;
	struct fault_config c = {.delay_ppm = FAULT_PPM, .delay_ns = 1000000000};
	int e;
	struct fault_node *f = fault_new("tx", &c, &e);
	assert_int_equal(fault_attach(f, FAULT_LINK_TX, 0), FAULT_OK);   /* every interface */
	ether_send(pkt_from_bytes(pool, "abc", 3), fake.index, ETHER_BCAST, TEST_TYPE);
	ether_send(pkt_from_bytes(pool, "def", 3), fake.index, ETHER_BCAST, TEST_TYPE);
	assert_int_equal(ncap, 0);
	assert_int_equal(fault_held(f), 2);
	/* Detaching releases what was held, in order. */
	assert_int_equal(fault_detach(f), FAULT_OK);
	assert_int_equal(ncap, 2);
	assert_memory_equal(pkt_data(cap[0]) + 14, "abc", 3);
	assert_memory_equal(pkt_data(cap[1]) + 14, "def", 3);
	/* Duplication on send. */
	fault_set(f, &(struct fault_config){.dup_ppm = FAULT_PPM});
	assert_int_equal(fault_attach(f, FAULT_LINK_TX, fake.index), FAULT_OK);
	ether_send(pkt_from_bytes(pool, "ghi", 3), fake.index, ETHER_BCAST, TEST_TYPE);
	assert_int_equal(ncap, 4);
	assert_memory_equal(pkt_data(cap[3]) + 14, "ghi", 3);
	fault_free(f);
	ether_send(pkt_from_bytes(pool, "jkl", 3), fake.index, ETHER_BCAST, TEST_TYPE);
	assert_int_equal(ncap, 5);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, f_setup, f_teardown)
	const struct CMUnitTest tests[] = {
		T(same_seed_same_decisions),
		T(loss),
		T(duplication),
		T(corruption),
		T(corruption_partial),
		T(delay),
		T(reordering),
		T(text_form),
		T(on_link_rx),
		T(on_link_tx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
