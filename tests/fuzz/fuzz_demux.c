/*
 * fuzz_demux.c - differential fuzzing of the guard compiler.
 *
 * The input describes up to 24 bindings (options and one to three
 * declarative terms each: field offset, width, mask, match kind, bounds)
 * followed by a header.  Every binding is installed on one event; one raise
 * records which handlers ran and in what order.  The reference is computed
 * independently: walk the bindings in run order (FIRST, plain, LAST, each in
 * install order), keep those whose terms pass disp_terms_match, stop after a
 * CANCEL.  Any difference, crash or leak is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/sal/sal.h"

SPIN_EVENT_DECLARE_VOID(Fuzz_Demux, (const uint8_t *, hdr))

struct subj {
	const uint8_t *data;
	size_t len;
};
static struct subj cur;

static const void *fuzz_subject(const void *arg0, size_t *len)
{
	(void)arg0;
	*len = cur.len;
	return cur.data;
}

SPIN_EVENT_DEFINE(Fuzz_Demux, .owner = SPIN_KERNEL, .subject = fuzz_subject);

#define MAXB 24
static int ran[MAXB], nran;

static void on_raise(void *closure, const uint8_t *hdr)
{
	(void)hdr;
	if (nran < MAXB)
		ran[nran++] = (int)(intptr_t)closure;
}

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct reader *r, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8;
		if (r->n) {
			v |= *r->p++;
			r->n--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		sal_init();
		init = true;
	}
	struct reader r = {data, size};
	unsigned nb = (unsigned)(take(&r, 1) % MAXB) + 1;
	struct disp_term terms[MAXB][3];
	unsigned nterms[MAXB], opts[MAXB];
	struct disp_binding *b[MAXB];
	static const uint8_t widths[] = {1, 2, 4, 8};

	for (unsigned i = 0; i < nb; i++) {
		unsigned o = (unsigned)take(&r, 1);
		opts[i] = (o & 1 ? DISP_FIRST : 0) | (o & 2 && !(o & 1) ? DISP_LAST : 0) |
			  ((o & 0x1c) == 0x1c ? DISP_CANCEL : 0);
		nterms[i] = (unsigned)(o >> 5) % 4;   /* 0..3 terms; 0 = unguarded */
		for (unsigned k = 0; k < nterms[i]; k++) {
			struct disp_term *t = &terms[i][k];
			memset(t, 0, sizeof *t);
			unsigned d = (unsigned)take(&r, 1);
			t->field.kind = DISP_FIELD_HDR;
			t->field.width = widths[d & 3];
			t->field.offset = (d >> 2) & 15;
			unsigned w = t->field.width * 8u;
			uint64_t all = w == 64 ? ~0ull : (1ull << w) - 1;
			if (d & 0x40)
				t->field.mask = take(&r, 8) & all;
			t->match = (uint8_t)(1 + take(&r, 1) % 3);
			t->lo = take(&r, t->field.width) & all;
			t->hi = take(&r, t->field.width) & all;
			if (t->match == DISP_MATCH_EQ)
				t->hi = t->lo;
			if (t->match == DISP_MATCH_RANGE && t->hi < t->lo) {
				uint64_t x = t->lo;
				t->lo = t->hi;
				t->hi = x;
			}
			if (t->match == DISP_MATCH_PREFIX)
				t->plen = (uint8_t)(take(&r, 1) % (w + 1));
		}
	}
	/* What is left is the header the raise looks at. */
	cur.data = r.p;
	cur.len = r.n;

	int installed = 0;
	for (unsigned i = 0; i < nb; i++) {
		struct Fuzz_Demux_spec s = {.handler = on_raise,
					    .closure = (void *)(intptr_t)i,
					    .terms = nterms[i] ? terms[i] : NULL,
					    .nterms = nterms[i],
					    .options = opts[i]};
		int err = Fuzz_Demux_install(SPIN_KERNEL, &s, &b[i]);
		if (err != DISP_OK) {
			/* A term the dispatcher rejects is fine; nothing else is. */
			if (err != DISP_EINVAL)
				abort();
			b[i] = NULL;
			continue;
		}
		installed++;
	}

	nran = 0;
	Fuzz_Demux_raise(r.p);

	int want[MAXB], nwant = 0;
	bool cancelled = false;
	for (int group = 0; group < 3 && !cancelled; group++) {
		for (unsigned i = 0; i < nb && !cancelled; i++) {
			if (!b[i])
				continue;
			int g = opts[i] & DISP_FIRST ? 0 : opts[i] & DISP_LAST ? 2 : 1;
			if (g != group)
				continue;
			if (!disp_terms_match(terms[i], nterms[i], cur.data, cur.len, NULL))
				continue;
			want[nwant++] = (int)i;
			if (opts[i] & DISP_CANCEL)
				cancelled = true;
		}
	}
	if (nwant != nran)
		abort();
	for (int i = 0; i < nwant; i++)
		if (want[i] != ran[i])
			abort();

	for (unsigned i = 0; i < nb; i++)
		if (b[i] && disp_uninstall(b[i]) != DISP_OK)
			abort();
	disp_quiesce();
	if (disp_live_bindings() != 0)
		abort();
	(void)installed;
	return 0;
}
