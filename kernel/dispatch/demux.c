/*
 * demux.c - compiles the declarative guards of an event's bindings into one
 * decision tree, and walks it on a raise.
 *
 * Every term accepts an interval of a field's (masked) value: equality is
 * [v, v], a prefix is [v with low bits clear, v with low bits set].  A node
 * tests one field: the one the most bindings still unchecked on this path
 * test.  The field's value space is cut into elementary segments at every
 * interval boundary; each segment leads to the child built from the
 * bindings that accept the whole segment plus the bindings that do not test
 * the field at all.  A field that cannot be read (past the header's end)
 * leads to the child of only the latter.  A leaf is reached when no binding
 * left has an unchecked field, and holds those bindings in run order.
 *
 * Children are shared: a (set of bindings, fields checked) pair is built
 * once (memoized), so replicated bindings cost one subtree, not one per
 * parent segment.
 *
 * A node finds its child by
 *   LINEAR  scan of at most 8 segment starts,
 *   HASH    open addressing over point keys, when every segment that does
 *           not lead to the "no binding of this field" child is one value
 *           (the common case: ports, protocol numbers, EtherTypes),
 *   BSEARCH binary search over the segment starts otherwise.
 * Raise cost: one subject call, then per level one field load, a mask and
 * the search (a hash probe is about 3 ns), whatever the number of bindings.
 *
 * Bounded size: the full tree can grow exponentially when many bindings
 * each test different fields (every binding that does not test a node's
 * field is replicated below it).  Past a budget the compiler retries
 * splitting only on fields that a quarter of a node's bindings test, and
 * marks the leaves below as `check` leaves whose bindings' terms are
 * re-evaluated one by one; the last resort is one such leaf.  Each step
 * gives the same answers; only the cost changes.
 */
#include <stdalign.h>

#include "kernel/dispatch/disp_internal.h"

#include "kernel/sal/sal.h"

enum { DN_LEAF, DN_LINEAR, DN_HASH, DN_BSEARCH };

struct dnode {
	uint8_t kind;
	uint8_t fkind;
	uint8_t width;
	uint32_t offset;
	uint64_t mask;
	uint32_t n;                  /* segments, or hash slots (power of two) */
	uint32_t shift;              /* hash: 64 - log2(n) */
	const struct dnode *absent;  /* field unreadable */
	const struct dnode *dflt;    /* hash: key not among the points */
	const uint64_t *keys;
	const struct dnode *const *child;
	struct disp_leaf leaf;
};

#define DN_LINEAR_MAX 8
#define DN_HASH_MUL 0x9E3779B97F4A7C15ull
/* Set elements plus segments built, summed, per attempt: beyond this the
 * compiler falls back to a coarser tier (it takes many bindings testing
 * many different fields to get there). */
size_t disp_demux_budget = 2u << 20;

/* --- fields and terms ------------------------------------------------------ */
static uint64_t width_max(unsigned w)
{
	return w >= 8 ? UINT64_MAX : (1ull << (8 * w)) - 1;
}

static uint64_t eff_mask(const struct disp_field *f)
{
	return f->mask ? f->mask & width_max(f->width) : width_max(f->width);
}

bool disp_term_valid(const struct disp_term *t)
{
	const struct disp_field *f = &t->field;
	if (f->kind != DISP_FIELD_HDR && f->kind != DISP_FIELD_ARG)
		return false;
	if (f->width != 1 && f->width != 2 && f->width != 4 && f->width != 8)
		return false;
	switch (t->match) {
	case DISP_MATCH_EQ:
		return true;
	case DISP_MATCH_RANGE:
		return t->lo <= t->hi;
	case DISP_MATCH_PREFIX:
		return t->plen <= 8 * f->width;
	default:
		return false;
	}
}

void disp_term_interval(const struct disp_term *t, uint64_t *lo, uint64_t *hi)
{
	uint64_t m = eff_mask(&t->field);
	switch (t->match) {
	case DISP_MATCH_EQ:
		*lo = *hi = t->lo;
		break;
	case DISP_MATCH_RANGE:
		*lo = t->lo;
		*hi = t->hi;
		break;
	default: {
		unsigned bits = 8u * t->field.width, low = bits - t->plen;
		uint64_t lowmask = low >= 64 ? UINT64_MAX : (1ull << low) - 1;
		*lo = (t->lo & ~lowmask) & width_max(t->field.width);
		*hi = (t->lo | lowmask) & width_max(t->field.width);
		break;
	}
	}
	/* The value compared is masked: an interval beyond the mask's reach
	 * simply never matches, as the reference evaluator agrees. */
	(void)m;
}

static inline uint64_t load_be(const uint8_t *p, unsigned w)
{
	switch (w) {
	case 1:
		return p[0];
	case 2: {
		uint16_t v;
		memcpy(&v, p, 2);
		return __builtin_bswap16(v);
	}
	case 4: {
		uint32_t v;
		memcpy(&v, p, 4);
		return __builtin_bswap32(v);
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return __builtin_bswap64(v);
	}
	}
}

static inline uint64_t load_host(const uint8_t *p, unsigned w)
{
	switch (w) {
	case 1:
		return p[0];
	case 2: {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

static inline bool read_raw(uint8_t kind, uint8_t width, uint32_t offset, const uint8_t *hdr,
			    size_t len, const void *arg, uint64_t *v)
{
	if (kind == DISP_FIELD_HDR) {
		if (!hdr || (size_t)offset + width > len)
			return false;
		*v = load_be(hdr + offset, width);
		return true;
	}
	if (!arg)
		return false;
	*v = load_host((const uint8_t *)arg + offset, width);
	return true;
}

bool disp_field_read(const struct disp_field *f, const void *hdr, size_t len, const void *arg,
		     uint64_t *v)
{
	if (!read_raw(f->kind, f->width, f->offset, hdr, len, arg, v))
		return false;
	*v &= eff_mask(f);
	return true;
}

bool disp_terms_match(const struct disp_term *terms, unsigned n, const void *hdr, size_t len,
		      const void *arg)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t v, lo, hi;
		if (!disp_field_read(&terms[i].field, hdr, len, arg, &v))
			return false;
		disp_term_interval(&terms[i], &lo, &hi);
		if (v < lo || v > hi)
			return false;
	}
	return true;
}

/* --- the walk (raise path) ----------------------------------------------- */
const struct disp_leaf *disp_select(const struct disp_table *t, const void *arg0)
{
	const struct dnode *n = t->demux;
	const uint8_t *hdr = NULL;
	size_t len = 0;
	if ((t->flags & DISP_T_HDR) && t->subject)
		hdr = t->subject(arg0, &len);
	while (n->kind != DN_LEAF) {
		uint64_t v;
		if (!read_raw(n->fkind, n->width, n->offset, hdr, len, arg0, &v)) {
			n = n->absent;
			continue;
		}
		v &= n->mask;
		if (n->kind == DN_HASH) {
			uint32_t i = (uint32_t)((v * DN_HASH_MUL) >> n->shift);
			const struct dnode *c;
			for (;;) {
				c = n->child[i];
				if (!c) {
					c = n->dflt;
					break;
				}
				if (n->keys[i] == v)
					break;
				i = (i + 1) & (n->n - 1);
			}
			n = c;
		} else if (n->kind == DN_LINEAR) {
			uint32_t i = 0;
			while (i + 1 < n->n && v >= n->keys[i + 1])
				i++;
			n = n->child[i];
		} else {
			/* The last start <= v (keys[0] is 0). */
			uint32_t lo = 0, hi = n->n;
			while (hi - lo > 1) {
				uint32_t mid = (lo + hi) / 2;
				if (n->keys[mid] <= v)
					lo = mid;
				else
					hi = mid;
			}
			n = n->child[lo];
		}
	}
	return &n->leaf;
}

_Atomic unsigned long disp_demux_tiers[3];

bool disp_leaf_check(const struct disp_table *t, const struct disp_binding *b, const void *arg0)
{
	const void *hdr = NULL;
	size_t len = 0;
	if ((t->flags & DISP_T_HDR) && t->subject)
		hdr = t->subject(arg0, &len);
	return disp_terms_match(b->terms, b->nterms, hdr, len, arg0);
}

/* --- compilation (control path) -------------------------------------------- */
struct cons {
	uint32_t fid;
	uint64_t lo, hi;
};

struct bcons {
	uint64_t fmask;          /* fields this binding tests */
	uint32_t nc;
	bool never;              /* contradictory terms: matches nothing */
	struct cons c[DISP_MAX_TERMS];
};

struct memo_ent {
	uint64_t hash, used;
	uint32_t n;
	uint32_t *set;
	const struct dnode *node;
};

struct bctx {
	struct disp_arena *a;
	struct disp_table *t;
	struct bcons *bc;
	struct disp_field fields[64];
	unsigned nf;
	struct memo_ent *memo;
	size_t memo_cap, memo_n;
	size_t budget;
	int tier;                /* 0: full tree; 1: split on common fields only */
	int err;
};

static uint64_t set_hash(const uint32_t *set, uint32_t n, uint64_t used)
{
	uint64_t h = 1469598103934665603ull ^ used;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ set[i]) * 1099511628211ull;
	return h ^ n;
}

static bool memo_grow(struct bctx *c)
{
	size_t cap = c->memo_cap ? c->memo_cap * 2 : 256;
	struct memo_ent *m = sal_calloc(cap, sizeof(*m));
	if (!m)
		return false;
	for (size_t i = 0; i < c->memo_cap; i++) {
		if (!c->memo[i].node)
			continue;
		size_t j = c->memo[i].hash & (cap - 1);
		while (m[j].node)
			j = (j + 1) & (cap - 1);
		m[j] = c->memo[i];
	}
	sal_free(c->memo);
	c->memo = m;
	c->memo_cap = cap;
	return true;
}

static struct memo_ent *memo_find(struct bctx *c, const uint32_t *set, uint32_t n, uint64_t used,
				  uint64_t h)
{
	if (!c->memo_cap)
		return NULL;
	for (size_t j = h & (c->memo_cap - 1);; j = (j + 1) & (c->memo_cap - 1)) {
		struct memo_ent *e = &c->memo[j];
		if (!e->node)
			return NULL;
		if (e->hash == h && e->used == used && e->n == n &&
		    (n == 0 || memcmp(e->set, set, n * sizeof(*set)) == 0))
			return e;
	}
}

static bool memo_add(struct bctx *c, const uint32_t *set, uint32_t n, uint64_t used, uint64_t h,
		     const struct dnode *node)
{
	if ((c->memo_n + 1) * 2 > c->memo_cap && !memo_grow(c))
		return false;
	uint32_t *copy = NULL;
	if (n) {
		copy = disp_arena_alloc(c->a, n * sizeof(*copy), alignof(uint32_t));
		if (!copy)
			return false;
		memcpy(copy, set, n * sizeof(*copy));
	}
	size_t j = h & (c->memo_cap - 1);
	while (c->memo[j].node)
		j = (j + 1) & (c->memo_cap - 1);
	c->memo[j] = (struct memo_ent){.hash = h, .used = used, .n = n, .set = copy, .node = node};
	c->memo_n++;
	return true;
}

static const struct cons *find_cons(const struct bcons *b, uint32_t fid)
{
	for (uint32_t i = 0; i < b->nc; i++)
		if (b->c[i].fid == fid)
			return &b->c[i];
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* An in-place sort of a small-to-medium u64 array (heap sort: no libc). */
static void sort_u64(uint64_t *v, size_t n)
{
	if (n < 2)
		return;
	for (size_t start = n / 2; start-- > 0;) {
		size_t root = start;
		for (;;) {
			size_t ch = 2 * root + 1;
			if (ch >= n)
				break;
			if (ch + 1 < n && cmp_u64(&v[ch], &v[ch + 1]) < 0)
				ch++;
			if (cmp_u64(&v[root], &v[ch]) >= 0)
				break;
			uint64_t tmp = v[root];
			v[root] = v[ch];
			v[ch] = tmp;
			root = ch;
		}
	}
	for (size_t end = n - 1; end > 0; end--) {
		uint64_t tmp = v[0];
		v[0] = v[end];
		v[end] = tmp;
		size_t root = 0;
		for (;;) {
			size_t ch = 2 * root + 1;
			if (ch >= end)
				break;
			if (ch + 1 < end && cmp_u64(&v[ch], &v[ch + 1]) < 0)
				ch++;
			if (cmp_u64(&v[root], &v[ch]) >= 0)
				break;
			tmp = v[root];
			v[root] = v[ch];
			v[ch] = tmp;
			root = ch;
		}
	}
}

static const struct dnode *make_leaf(struct bctx *c, const uint32_t *set, uint32_t n,
				     bool check)
{
	struct dnode *d = disp_arena_alloc(c->a, sizeof(*d), alignof(struct dnode));
	if (!d)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->kind = DN_LEAF;
	d->leaf.n = n;
	d->leaf.check = check;
	if (n) {
		struct disp_binding **b = disp_arena_alloc(c->a, n * sizeof(*b), alignof(void *));
		if (!b)
			return NULL;
		for (uint32_t i = 0; i < n; i++)
			b[i] = c->t->b[set[i]];
		d->leaf.b = b;
	}
	return d;
}

static uint32_t seg_index(const uint64_t *starts, uint32_t m, uint64_t v)
{
	uint32_t lo = 0, hi = m;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (starts[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static const struct dnode *build(struct bctx *c, const uint32_t *set, uint32_t n, uint64_t used);

/* The node for one field f over set; the recursive heart of the compiler. */
static const struct dnode *build_split(struct bctx *c, const uint32_t *set, uint32_t n,
				       uint64_t used, uint32_t f)
{
	const struct dnode *res = NULL;
	uint64_t nused = used | (1ull << f);
	uint64_t fmax = eff_mask(&c->fields[f]);
	uint32_t nt = 0, nu = 0;
	uint32_t *u = sal_alloc((n + 1) * sizeof(*u));
	uint32_t *tidx = sal_alloc((n + 1) * sizeof(*tidx));
	uint64_t *starts = sal_alloc((2 * (size_t)n + 1) * sizeof(*starts));
	uint32_t *cnt = NULL, *off = NULL, *mem = NULL, *segset = NULL;
	const struct dnode **child = NULL;
	if (!u || !tidx || !starts)
		goto nomem;

	size_t ns = 0;
	starts[ns++] = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct cons *k = find_cons(&c->bc[set[i]], f);
		if (!k) {
			u[nu++] = set[i];
			continue;
		}
		tidx[nt++] = set[i];
		starts[ns++] = k->lo;
		if (k->hi < fmax)
			starts[ns++] = k->hi + 1;
	}
	sort_u64(starts, ns);
	uint32_t m = 0;
	for (size_t i = 0; i < ns; i++)
		if (m == 0 || starts[m - 1] != starts[i])
			starts[m++] = starts[i];

	/* Which T bindings cover each segment, as compressed rows. */
	cnt = sal_calloc(m + 1, sizeof(*cnt));
	off = sal_calloc(m + 1, sizeof(*off));
	if (!cnt || !off)
		goto nomem;
	size_t total = 0;
	for (uint32_t i = 0; i < nt; i++) {
		const struct cons *k = find_cons(&c->bc[tidx[i]], f);
		uint32_t s0 = seg_index(starts, m, k->lo), s1 = seg_index(starts, m, k->hi);
		for (uint32_t s = s0; s <= s1; s++)
			cnt[s]++;
		total += s1 - s0 + 1;
	}
	if (total + m > c->budget)
		goto toobig;
	c->budget -= total + m;
	for (uint32_t s = 0; s < m; s++)
		off[s + 1] = off[s] + cnt[s];
	mem = sal_alloc((total + 1) * sizeof(*mem));
	segset = sal_alloc(((size_t)n + 1) * sizeof(*segset));
	child = sal_alloc((m + 1) * sizeof(*child));
	if (!mem || !segset || !child)
		goto nomem;
	memset(cnt, 0, (m + 1) * sizeof(*cnt));
	for (uint32_t i = 0; i < nt; i++) {
		const struct cons *k = find_cons(&c->bc[tidx[i]], f);
		uint32_t s0 = seg_index(starts, m, k->lo), s1 = seg_index(starts, m, k->hi);
		for (uint32_t s = s0; s <= s1; s++)
			mem[off[s] + cnt[s]++] = tidx[i];
	}

	const struct dnode *unode = build(c, u, nu, nused);
	if (!unode)
		goto fail;
	for (uint32_t s = 0; s < m; s++) {
		/* Merge the covering T bindings with U, both in run order. */
		uint32_t a = 0, b = 0, k = 0;
		const uint32_t *tv = mem + off[s];
		while (a < nu || b < cnt[s]) {
			if (b >= cnt[s] || (a < nu && u[a] < tv[b]))
				segset[k++] = u[a++];
			else
				segset[k++] = tv[b++];
		}
		child[s] = cnt[s] ? build(c, segset, k, nused) : unode;
		if (!child[s])
			goto fail;
	}

	/* Merge neighbouring segments that lead to the same child. */
	uint32_t mm = 0;
	for (uint32_t s = 0; s < m; s++) {
		if (mm && child[mm - 1] == child[s])
			continue;
		starts[mm] = starts[s];
		child[mm] = child[s];
		mm++;
	}

	struct dnode *d = disp_arena_alloc(c->a, sizeof(*d), alignof(struct dnode));
	if (!d)
		goto nomem;
	memset(d, 0, sizeof(*d));
	d->fkind = c->fields[f].kind;
	d->width = c->fields[f].width;
	d->offset = c->fields[f].offset;
	d->mask = fmax;
	d->absent = unode;
	d->dflt = unode;

	bool points = true;
	uint32_t npoints = 0;
	for (uint32_t s = 0; s < mm; s++) {
		if (child[s] == unode)
			continue;
		uint64_t end = s + 1 < mm ? starts[s + 1] - 1 : fmax;
		if (end != starts[s]) {
			points = false;
			break;
		}
		npoints++;
	}
	if (mm <= DN_LINEAR_MAX) {
		d->kind = DN_LINEAR;
	} else if (points) {
		d->kind = DN_HASH;
		uint32_t slots = 4, lg = 2;
		while (slots < 2 * npoints) {
			slots *= 2;
			lg++;
		}
		d->n = slots;
		d->shift = 64 - lg;
		uint64_t *keys = disp_arena_alloc(c->a, slots * sizeof(*keys), alignof(uint64_t));
		const struct dnode **ch =
		    disp_arena_alloc(c->a, slots * sizeof(*ch), alignof(void *));
		if (!keys || !ch)
			goto nomem;
		memset(keys, 0, slots * sizeof(*keys));
		memset(ch, 0, slots * sizeof(*ch));
		for (uint32_t s = 0; s < mm; s++) {
			if (child[s] == unode)
				continue;
			uint32_t i = (uint32_t)((starts[s] * DN_HASH_MUL) >> d->shift);
			while (ch[i])
				i = (i + 1) & (slots - 1);
			keys[i] = starts[s];
			ch[i] = child[s];
		}
		d->keys = keys;
		d->child = ch;
		res = d;
		goto out;
	} else {
		d->kind = DN_BSEARCH;
	}
	d->n = mm;
	uint64_t *keys = disp_arena_alloc(c->a, mm * sizeof(*keys), alignof(uint64_t));
	const struct dnode **ch = disp_arena_alloc(c->a, mm * sizeof(*ch), alignof(void *));
	if (!keys || !ch)
		goto nomem;
	memcpy(keys, starts, mm * sizeof(*keys));
	memcpy(ch, child, mm * sizeof(*ch));
	d->keys = keys;
	d->child = ch;
	res = d;
	goto out;

toobig:
nomem:
	c->err = DISP_ENOMEM;
fail:
	res = NULL;
out:
	sal_free(u);
	sal_free(tidx);
	sal_free(starts);
	sal_free(cnt);
	sal_free(off);
	sal_free(mem);
	sal_free(segset);
	sal_free(child);
	return res;
}

static const struct dnode *build(struct bctx *c, const uint32_t *set, uint32_t n, uint64_t used)
{
	/* Only the checked fields that someone here tests matter: sets that
	 * differ in others share one subtree. */
	uint64_t tested = 0;
	for (uint32_t i = 0; i < n; i++)
		tested |= c->bc[set[i]].fmask;
	used &= tested;
	uint64_t h = set_hash(set, n, used);
	struct memo_ent *e = memo_find(c, set, n, used, h);
	if (e)
		return e->node;
	if (n > c->budget) {
		c->err = DISP_ENOMEM;
		return NULL;
	}
	c->budget -= n;

	/* The field that the most bindings here still have to check. */
	uint32_t count[64] = {0};
	for (uint32_t i = 0; i < n; i++) {
		const struct bcons *b = &c->bc[set[i]];
		for (uint32_t k = 0; k < b->nc; k++)
			if (!(used & (1ull << b->c[k].fid)))
				count[b->c[k].fid]++;
	}
	uint32_t best = 64, bestn = 0;
	for (uint32_t f = 0; f < c->nf; f++) {
		if (count[f] > bestn) {
			bestn = count[f];
			best = f;
		}
	}
	const struct dnode *node;
	if (best == 64)
		node = make_leaf(c, set, n, false);
	else if (c->tier > 0 && bestn * 4 < n)
		node = make_leaf(c, set, n, true);  /* few test it: check linearly */
	else
		node = build_split(c, set, n, used, best);
	if (!node) {
		if (!c->err)
			c->err = DISP_ENOMEM;
		return NULL;
	}
	if (!memo_add(c, set, n, used, h, node)) {
		c->err = DISP_ENOMEM;
		return NULL;
	}
	return node;
}

static bool field_eq(const struct disp_field *a, const struct disp_field *b)
{
	return a->kind == b->kind && a->width == b->width && a->offset == b->offset &&
	       eff_mask(a) == eff_mask(b);
}

int disp_demux_build(struct disp_table *t, struct disp_arena *a)
{
	struct bctx c = {.a = a, .t = t};
	int err = DISP_OK;
	uint32_t *all = NULL;
	bool any = false;
	t->flags = 0;
	c.bc = sal_calloc(t->nb + 1, sizeof(*c.bc));
	all = sal_alloc((t->nb + 1) * sizeof(*all));
	if (!c.bc || !all) {
		err = DISP_ENOMEM;
		goto out;
	}

	/* Normalize: one interval per field per binding (terms on the same
	 * field intersect). */
	uint32_t nall = 0;
	for (uint32_t i = 0; i < t->nb; i++) {
		const struct disp_binding *b = t->b[i];
		struct bcons *bc = &c.bc[i];
		for (unsigned k = 0; k < b->nterms; k++) {
			const struct disp_term *term = &b->terms[k];
			uint32_t f;
			for (f = 0; f < c.nf; f++)
				if (field_eq(&c.fields[f], &term->field))
					break;
			if (f == c.nf) {
				if (c.nf == 64) {
					err = DISP_EINVAL;
					goto out;
				}
				c.fields[c.nf++] = term->field;
			}
			if (term->field.kind == DISP_FIELD_HDR)
				t->flags |= DISP_T_HDR;
			uint64_t lo, hi;
			disp_term_interval(term, &lo, &hi);
			if (hi > eff_mask(&term->field))
				hi = eff_mask(&term->field);
			struct cons *k0 = NULL;
			for (uint32_t j = 0; j < bc->nc; j++)
				if (bc->c[j].fid == f)
					k0 = &bc->c[j];
			if (!k0) {
				k0 = &bc->c[bc->nc++];
				*k0 = (struct cons){.fid = f, .lo = 0, .hi = UINT64_MAX};
			}
			if (lo > k0->lo)
				k0->lo = lo;
			if (hi < k0->hi)
				k0->hi = hi;
			if (k0->lo > k0->hi)
				bc->never = true;
			bc->fmask |= 1ull << f;
			any = true;
		}
		if (!bc->never)
			all[nall++] = i;
	}

	/* Tiers: the full tree; if that outgrows its budget, a tree that
	 * splits only on fields a quarter of a node's bindings test, leaving
	 * the rest to linear checks in the leaves; last, one linear leaf. */
	const struct dnode *root = NULL;
	for (int tier = 0; tier < 3 && !root; tier++) {
		struct disp_arena *ta = disp_arena_new();
		if (!ta) {
			err = DISP_ENOMEM;
			goto out;
		}
		sal_free(c.memo);
		c.memo = NULL;
		c.memo_cap = c.memo_n = 0;
		c.a = ta;
		c.err = DISP_OK;
		c.budget = disp_demux_budget;
		c.tier = tier;
		if (!any)
			root = make_leaf(&c, all, nall, false);
		else if (tier < 2)
			root = build(&c, all, nall, 0);
		else
			root = make_leaf(&c, all, nall, true);
		if (root) {
			disp_arena_adopt(a, ta);
			atomic_fetch_add_explicit(&disp_demux_tiers[tier], 1, memory_order_relaxed);
		}
		else
			disp_arena_free(ta);
	}
	if (!root) {
		err = DISP_ENOMEM;
		goto out;
	}
	if (root->kind == DN_LEAF) {
		t->root_leaf = &root->leaf;
		t->demux = NULL;
	} else {
		t->root_leaf = NULL;
		t->demux = root;
	}
out:
	sal_free(c.bc);
	sal_free(c.memo);
	sal_free(all);
	return err;
}
