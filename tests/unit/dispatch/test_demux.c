/*
 * Unit tests of guards: procedural and declarative, and the compiled demux
 * checked against the reference evaluator (disp_terms_match applied to
 * every binding in run order) over random guard sets and random packets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/dispatch/disp_internal.h"
#include "kernel/dispatch/dispatch.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"

SPIN_MODULE(demux_mod, .name = "test_demux", .version = SPIN_VERSION(1, 0));

struct msg {
	const uint8_t *hdr;
	size_t len;
	uint32_t tag;
	uint16_t kind;
	int ran[6000];
	int n;
};

static const void *msg_subject(const void *arg0, size_t *len)
{
	const struct msg *m = arg0;
	*len = m->len;
	return m->hdr;
}

SPIN_EVENT_DECLARE(T_Demux, int, (struct msg *, m))
SPIN_EVENT_DEFINE(T_Demux, .owner = &demux_mod, .default_result = -1, .subject = msg_subject);

static int h_rec(void *c, struct msg *m)
{
	if (m->n < 6000)
		m->ran[m->n++] = (int)(intptr_t)c;
	return (int)(intptr_t)c;
}

static bool g_tag_odd(void *c, struct msg *m)
{
	(void)c;
	return m->tag & 1;
}

static int teardown_leaks(void **state)
{
	(void)state;
	disp_quiesce();
	assert_int_equal(disp_live_bindings(), 0);
	return 0;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* The reference: what a linear evaluation of each binding's terms (and
 * procedural guard) in run order would run. */
struct model {
	int n;
	unsigned opts[6000];
	unsigned nterms[6000];
	struct disp_term terms[6000][4];
	bool pguard[6000];
	struct disp_binding *b[6000];
};

static int model_expect(const struct model *md, struct msg *m, int *out)
{
	int k = 0;
	for (unsigned g = 0; g < 3; g++) {
		for (int i = 0; i < md->n; i++) {
			unsigned grp = (md->opts[i] & DISP_FIRST) ? 0 : (md->opts[i] & DISP_LAST) ? 2 : 1;
			if (grp != g)
				continue;
			if (!disp_terms_match(md->terms[i], md->nterms[i], m->hdr, m->len, m))
				continue;
			if (md->pguard[i] && !(m->tag & 1))
				continue;
			out[k++] = i;
			if (md->opts[i] & DISP_CANCEL)
				return k;
		}
	}
	return k;
}

static void install_model(struct model *md)
{
	struct disp_txn *tx = disp_txn_begin();
	for (int i = 0; i < md->n; i++) {
		struct T_Demux_spec s = {.handler = h_rec, .closure = (void *)(intptr_t)i,
					 .terms = md->terms[i], .nterms = md->nterms[i],
					 .guard = md->pguard[i] ? g_tag_odd : NULL,
					 .options = md->opts[i]};
		assert_int_equal(T_Demux_create(&demux_mod, &s, &md->b[i]), DISP_OK);
		assert_int_equal(disp_txn_add(tx, md->b[i]), DISP_OK);
	}
	assert_int_equal(disp_txn_commit(tx), DISP_OK);
}

static void uninstall_model(struct model *md)
{
	struct disp_txn *tx = disp_txn_begin();
	for (int i = 0; i < md->n; i++)
		assert_int_equal(disp_txn_remove(tx, md->b[i]), DISP_OK);
	assert_int_equal(disp_txn_commit(tx), DISP_OK);
}

static void check_msg(const struct model *md, struct msg *m)
{
	static int want[6000];
	int nw = model_expect(md, m, want);
	m->n = 0;
	int r = T_Demux_raise(m);
#ifdef DEMUX_DEBUG
	if (m->n != nw) {
		char buf[256];
		print_message("len %zu hdr %p tag %u kind %u bytes:", m->len, (void *)m->hdr, m->tag, m->kind);
		for (int i = 0; m->hdr && i < 16; i++) print_message(" %02x", m->hdr[i]);
		print_message("\ngot:");
		for (int i = 0; i < m->n; i++) print_message(" %d", m->ran[i]);
		print_message("\nwant:");
		for (int i = 0; i < nw; i++) print_message(" %d", want[i]);
		print_message("\n");
		for (int i = 0; i < md->n; i++) {
			disp_guard_format(md->b[i], buf, sizeof buf);
			print_message("b%d opts %u %s\n", i, md->opts[i], buf);
		}
	}
#endif
	assert_int_equal(m->n, nw);
	for (int i = 0; i < nw; i++)
		assert_int_equal(m->ran[i], want[i]);
	assert_int_equal(r, nw ? want[nw - 1] : -1);
}

/* A random term over a handful of fields whose values are drawn from small
 * sets, so that matches, overlaps and misses all happen often. */
static void random_term(struct disp_term *t)
{
	static const struct {
		uint8_t kind, width;
		uint32_t offset;
	} fields[] = {
	    {DISP_FIELD_HDR, 1, 0}, {DISP_FIELD_HDR, 2, 2}, {DISP_FIELD_HDR, 4, 4},
	    {DISP_FIELD_HDR, 2, 10}, {DISP_FIELD_HDR, 8, 8}, {DISP_FIELD_ARG, 4, 16},
	    {DISP_FIELD_ARG, 2, 20},
	};
	unsigned f = (unsigned)(rnd() % 7);
	memset(t, 0, sizeof(*t));
	t->field.kind = fields[f].kind;
	t->field.width = fields[f].width;
	t->field.offset = fields[f].offset;
	unsigned bits = 8u * t->field.width;
	uint64_t vmax = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
	if (rnd() % 4 == 0)
		t->field.mask = (rnd() % 2) ? 0x0f : 0xf0f0f0f0f0f0f0f0ull;
	/* Values mostly from 0..7 so that packets hit them. */
	uint64_t v = rnd() % 8, w = rnd() % 8;
	if (rnd() % 8 == 0)
		v = rnd() & vmax;
	switch (rnd() % 3) {
	case 0:
		t->match = DISP_MATCH_EQ;
		t->lo = t->hi = v;
		break;
	case 1:
		t->match = DISP_MATCH_RANGE;
		t->lo = v < w ? v : w;
		t->hi = v < w ? w : v;
		break;
	default:
		t->match = DISP_MATCH_PREFIX;
		t->plen = (uint8_t)(bits - (rnd() % 4));
		t->lo = v;
		break;
	}
}

static void random_model(struct model *md, int n)
{
	md->n = n;
	for (int i = 0; i < n; i++) {
		unsigned r = (unsigned)(rnd() % 10);
		md->opts[i] = r == 0 ? DISP_FIRST : r == 1 ? DISP_LAST : 0;
		if (rnd() % 16 == 0)
			md->opts[i] |= DISP_CANCEL;
		md->nterms[i] = (unsigned)(rnd() % 4);
		for (unsigned k = 0; k < md->nterms[i]; k++)
			random_term(&md->terms[i][k]);
		md->pguard[i] = rnd() % 8 == 0;
	}
}

static void random_msg(struct msg *m, uint8_t *buf)
{
	for (int i = 0; i < 16; i++)
		buf[i] = (rnd() % 3) ? (uint8_t)(rnd() % 8) : (uint8_t)rnd();
	m->hdr = rnd() % 16 ? buf : NULL;
	m->len = (size_t)(rnd() % 17);
	m->tag = (uint32_t)(rnd() % 10);
	m->kind = (uint16_t)(rnd() % 8);
}

static struct model md;

static void test_demux_random_vs_linear(void **state)
{
	(void)state;
	static const int sizes[] = {1, 2, 5, 20, 50, 200, 1000};
	rng_state = 0x5eed1234abcdull;
	for (unsigned round = 0; round < 60; round++) {
		int n = sizes[round % 7];
		random_model(&md, n);
		install_model(&md);
		struct msg m;
		uint8_t buf[16];
		for (int k = 0; k < 400; k++) {
			random_msg(&m, buf);
			check_msg(&md, &m);
		}
		uninstall_model(&md);
	}
	print_message("# demux compilations by tier: %lu %lu %lu\n", disp_demux_tiers[0],
		      disp_demux_tiers[1], disp_demux_tiers[2]);
}

/* Tiny budgets force the coarser tiers: same answers. */
static void test_demux_fallback_tiers(void **state)
{
	(void)state;
	size_t saved = disp_demux_budget;
	unsigned long t1 = disp_demux_tiers[1], t2 = disp_demux_tiers[2];
	rng_state = 0xfa11bac4ull;
	for (unsigned round = 0; round < 20; round++) {
		disp_demux_budget = round % 2 ? 4 : 200;
		random_model(&md, 30);
		install_model(&md);
		struct msg m;
		uint8_t buf[16];
		for (int k = 0; k < 300; k++) {
			random_msg(&m, buf);
			check_msg(&md, &m);
		}
		uninstall_model(&md);
	}
	disp_demux_budget = saved;
	assert_true(disp_demux_tiers[1] > t1);
	assert_true(disp_demux_tiers[2] > t2);
}

/* 1, 50 and 5,000 guards on one header field (a UDP destination port). */
static void test_demux_port_guards(void **state)
{
	(void)state;
	static const int sizes[] = {1, 50, 5000};
	for (unsigned s = 0; s < 3; s++) {
		md.n = sizes[s];
		for (int i = 0; i < md.n; i++) {
			md.opts[i] = 0;
			md.nterms[i] = 1;
			md.pguard[i] = false;
			md.terms[i][0] = (struct disp_term)DISP_HDR_EQ(2, 2, 1000 + 7 * i);
		}
		install_model(&md);
		uint8_t udp[8] = {0};
		struct msg m = {.hdr = udp, .len = 8};
		for (int port = 990; port < 1000 + 7 * md.n + 10; port++) {
			udp[2] = (uint8_t)(port >> 8);
			udp[3] = (uint8_t)port;
			m.n = 0;
			int r = T_Demux_raise(&m);
			bool hit = port >= 1000 && (port - 1000) % 7 == 0 && (port - 1000) / 7 < md.n;
			assert_int_equal(m.n, hit ? 1 : 0);
			assert_int_equal(r, hit ? (port - 1000) / 7 : -1);
		}
		/* The field past the header's end: the term fails. */
		udp[2] = 1000 >> 8;
		udp[3] = 1000 & 0xff;
		m.len = 3;
		m.n = 0;
		assert_int_equal(T_Demux_raise(&m), -1);
		m.len = 4;
		assert_int_equal(T_Demux_raise(&m), 0);
		uninstall_model(&md);
	}
}

/* Ranges, prefixes, masks and two fields together, with exact cases. */
static void test_demux_ranges_prefixes_masks(void **state)
{
	(void)state;
	struct disp_binding *b[6];
	static const struct disp_term t0[] = {DISP_HDR_RANGE(2, 2, 100, 199)};
	static const struct disp_term t1[] = {DISP_HDR_PREFIX(4, 4, 0xC6120000u, 15)};
	static const struct disp_term t2[] = {DISP_HDR_EQ_MASK(0, 1, 0xf0, 0x40),
					      DISP_HDR_RANGE(2, 2, 150, 160)};
	static const struct disp_term t3[] = {DISP_ARG_EQ(struct msg, kind, 3),
					      DISP_HDR_PREFIX(4, 4, 0xC6130000u, 16)};
	static const struct disp_term t4[] = {DISP_ARG_RANGE(struct msg, tag, 5, 9)};
	/* Two terms on one field intersect: [120,130]. */
	static const struct disp_term t5[] = {DISP_HDR_RANGE(2, 2, 100, 130),
					      DISP_HDR_RANGE(2, 2, 120, 140)};
	const struct disp_term *ts[] = {t0, t1, t2, t3, t4, t5};
	unsigned ns[] = {1, 1, 2, 2, 1, 2};
	for (int i = 0; i < 6; i++) {
		struct T_Demux_spec s = {.handler = h_rec, .closure = (void *)(intptr_t)i,
					 .terms = ts[i], .nterms = ns[i]};
		assert_int_equal(T_Demux_install(&demux_mod, &s, &b[i]), DISP_OK);
	}
	uint8_t h[8] = {0x45, 0, 0, 155, 198, 18, 1, 2};
	struct msg m = {.hdr = h, .len = 8, .tag = 1, .kind = 3};
	m.n = 0;
	T_Demux_raise(&m);
	/* port 155: t0, t2 (version nibble 4); 198.18.1.2 in 198.18/15: t1 */
	assert_int_equal(m.n, 3);
	assert_int_equal(m.ran[0], 0);
	assert_int_equal(m.ran[1], 1);
	assert_int_equal(m.ran[2], 2);
	h[0] = 0x65;  /* mask 0xf0 no longer 0x40 */
	h[3] = 125;   /* in t5's intersection */
	h[5] = 19;    /* 198.19.1.2: t1 (/15) and t3 (/16, kind 3) */
	m.tag = 7;    /* t4 */
	m.n = 0;
	T_Demux_raise(&m);
	assert_int_equal(m.n, 5);
	int want[] = {0, 1, 3, 4, 5};
	for (int i = 0; i < 5; i++)
		assert_int_equal(m.ran[i], want[i]);
	m.kind = 2;
	m.len = 7;    /* the address field now ends past the header */
	m.n = 0;
	T_Demux_raise(&m);
	assert_int_equal(m.n, 3);  /* t0, t4, t5 */
	for (int i = 0; i < 6; i++)
		assert_int_equal(disp_uninstall(b[i]), DISP_OK);
}

/* Declarative and procedural guards on one binding: both must pass. */
static void test_declarative_and_procedural(void **state)
{
	(void)state;
	static const struct disp_term t[] = {DISP_HDR_EQ(0, 1, 9)};
	struct disp_binding *b;
	struct T_Demux_spec s = {.handler = h_rec, .closure = (void *)4, .terms = t, .nterms = 1,
				 .guard = g_tag_odd};
	assert_int_equal(T_Demux_install(&demux_mod, &s, &b), DISP_OK);
	uint8_t h[1] = {9};
	struct msg m = {.hdr = h, .len = 1, .tag = 1};
	assert_int_equal(T_Demux_raise(&m), 4);
	m.tag = 2;
	assert_int_equal(T_Demux_raise(&m), -1);
	m.tag = 3;
	h[0] = 8;
	assert_int_equal(T_Demux_raise(&m), -1);
	/* No subject header at all: header terms fail. */
	m.hdr = NULL;
	h[0] = 9;
	assert_int_equal(T_Demux_raise(&m), -1);
	assert_int_equal(disp_uninstall(b), DISP_OK);
}

/* The reference evaluator itself, on hand-made cases. */
static void test_terms_match_reference(void **state)
{
	(void)state;
	uint8_t h[8] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};
	struct disp_term t = DISP_HDR_EQ(0, 2, 0x1234);
	assert_true(disp_terms_match(&t, 1, h, 8, NULL));
	assert_false(disp_terms_match(&t, 1, h, 1, NULL));
	t = (struct disp_term)DISP_HDR_EQ(0, 8, 0x123456789abcdef0ull);
	assert_true(disp_terms_match(&t, 1, h, 8, NULL));
	assert_false(disp_terms_match(&t, 1, h, 7, NULL));
	t = (struct disp_term)DISP_HDR_PREFIX(0, 4, 0x12345000, 20);
	assert_true(disp_terms_match(&t, 1, h, 8, NULL));
	t = (struct disp_term)DISP_HDR_PREFIX(0, 4, 0x12346000, 20);
	assert_false(disp_terms_match(&t, 1, h, 8, NULL));
	t = (struct disp_term)DISP_HDR_PREFIX(0, 4, 0, 0);  /* /0 matches anything */
	assert_true(disp_terms_match(&t, 1, h, 8, NULL));
	t = (struct disp_term)DISP_HDR_EQ_MASK(1, 1, 0x0f, 4);
	assert_true(disp_terms_match(&t, 1, h, 8, NULL));
	uint32_t arg[2] = {5, 0x01020304};
	t = (struct disp_term){.field = {.kind = DISP_FIELD_ARG, .width = 4, .offset = 4},
			       .match = DISP_MATCH_RANGE, .lo = 0x01020300, .hi = 0x010203ff};
	assert_true(disp_terms_match(&t, 1, NULL, 0, arg));
}

int main(void)
{
	sal_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_terms_match_reference, teardown_leaks),
	    cmocka_unit_test_teardown(test_declarative_and_procedural, teardown_leaks),
	    cmocka_unit_test_teardown(test_demux_port_guards, teardown_leaks),
	    cmocka_unit_test_teardown(test_demux_ranges_prefixes_masks, teardown_leaks),
	    cmocka_unit_test_teardown(test_demux_random_vs_linear, teardown_leaks),
	    cmocka_unit_test_teardown(test_demux_fallback_tiers, teardown_leaks),
	};
	return cmocka_run_group_tests_name("demux", tests, NULL, NULL);
}
