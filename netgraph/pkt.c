/*
 * pkt.c - the packet buffer: segments, sharing, geometry, checksums.
 *
 * Sharing model (see pkt_pool.h for the slot layout):
 *   - refcnt of a header counts the chains that hold it.  A chain holds one
 *     reference on every segment it reaches, so pkt_ref and pkt_free walk
 *     the chain.  A header's geometry (off, len, next) may change only while
 *     its refcnt is 1.
 *   - A header's data may be used by other headers too (pkt_clone makes an
 *     indirect header on the same data).  The data slot's user count says
 *     how many; the data may be written only while it is 1.
 * Every operation that would change shared geometry first swaps in a
 * private header (one slot, no copy); every one that would write shared data
 * either fails (push, put: documented in pkt.h) or copies (unshare, contig).
 * Allocations happen before the first change, so a failing call leaves the
 * packet as it was.
 */
#include "netgraph/pkt.h"
#include "netgraph/pkt_pool.h"

#include "kernel/sal/sal.h"

/* --- slots and headers ------------------------------------------------------ */
static inline _Atomic uint32_t *sref_of(struct pkt_pool *pool, uint32_t i)
{
	return &pool->slots[i].sref;
}

/* Drops amt from slot i's reference word and frees the slot at zero.  When
 * the word equals amt nobody else can hold a reference to gain one from, so
 * the common case needs no locked instruction. */
static void slot_unref(struct pkt_pool *pool, uint32_t i, uint32_t amt)
{
	_Atomic uint32_t *r = sref_of(pool, i);
	if (atomic_load_explicit(r, memory_order_acquire) == amt) {
		atomic_store_explicit(r, 0, memory_order_relaxed);
		pkt_pool_put(pool, i);
		return;
	}
	if (atomic_fetch_sub_explicit(r, amt, memory_order_acq_rel) == amt)
		pkt_pool_put(pool, i);
}

static void hdr_reset(struct pkt *h, struct pkt_pool *pool, uint8_t *buf)
{
	h->buf = buf;
	h->cap = pool->stride;
	h->off = PKT_HEADROOM;
	h->len = 0;
	atomic_store_explicit(&h->refcnt, 1, memory_order_relaxed);
	h->next = NULL;
	h->pool = pool;
	h->pkt_len = 0;
	h->ifindex = 0;
	h->csum = PKT_CSUM_NONE;
	h->flags = 0;
	h->csum_start = 0;
	h->csum_offset = 0;
	h->gso_size = 0;
	h->gso_type = 0;
	h->l2_len = 0;
	h->l2_off = h->l3_off = h->l4_off = -1;
	h->rx_tsc = 0;
	h->id = 0;
	h->drop_reason = 0;
	h->user = 0;
	h->qnext = NULL;
}

/* A new direct segment: its own header on its own data. */
static struct pkt *seg_new(struct pkt_pool *pool)
{
	uint32_t i = pkt_pool_get(pool);
	if (i == PKT_SLOT_NONE)
		return NULL;
	atomic_store_explicit(sref_of(pool, i), PKT_SREF_HDR | 1u, memory_order_relaxed);
	struct pkt *h = &pool->slots[i].hdr;
	hdr_reset(h, pool, pool->mem + (size_t)i * pool->stride);
	return h;
}

/* A new header on s's data with s's geometry; the caller owns it and decides
 * what its next link holds a reference to.  NULL if the pool is empty. */
static struct pkt *seg_indirect(const struct pkt *s)
{
	struct pkt_pool *pool = s->pool;
	uint32_t k = pkt_pool_get(pool);
	if (k == PKT_SLOT_NONE)
		return NULL;
	atomic_store_explicit(sref_of(pool, k), PKT_SREF_HDR, memory_order_relaxed);
	atomic_fetch_add_explicit(sref_of(pool, pkt_data_index(pool, s)), 1,
				  memory_order_relaxed);
	struct pkt *h = &pool->slots[k].hdr;
	hdr_reset(h, pool, s->buf);
	h->off = s->off;
	h->len = s->len;
	h->next = s->next;
	return h;
}

/* Drops one reference to the header s alone (not its successors). */
static void seg_release(struct pkt *s)
{
	if (atomic_load_explicit(&s->refcnt, memory_order_acquire) != 1 &&
	    atomic_fetch_sub_explicit(&s->refcnt, 1, memory_order_acq_rel) != 1)
		return;
	struct pkt_pool *pool = s->pool;
	uint32_t j = pkt_slot_index(pool, s);
	uint32_t i = pkt_data_index(pool, s);
	if (i == j) {
		slot_unref(pool, j, PKT_SREF_HDR | 1u);
	} else {
		slot_unref(pool, j, PKT_SREF_HDR);
		slot_unref(pool, i, 1);
	}
}

static inline bool hdr_private(const struct pkt *s)
{
	return atomic_load_explicit(&s->refcnt, memory_order_acquire) == 1;
}

static inline bool data_private(const struct pkt *s)
{
	uint32_t r = atomic_load_explicit(sref_of(s->pool, pkt_data_index(s->pool, s)),
					  memory_order_acquire);
	return (r & PKT_SREF_DATA_MASK) == 1;
}

bool pkt_seg_writable(const struct pkt *s)
{
	return hdr_private(s) && data_private(s);
}

bool pkt_is_shared(const struct pkt *p)
{
	for (const struct pkt *s = p; s; s = s->next)
		if (!pkt_seg_writable(s))
			return true;
	return false;
}

/* Packet metadata: everything from pkt_len up to (not including) qnext. */
static void meta_copy(struct pkt *dst, const struct pkt *src)
{
	memcpy(&dst->pkt_len, &src->pkt_len,
	       offsetof(struct pkt, qnext) - offsetof(struct pkt, pkt_len));
}

/* --- allocation and freeing --------------------------------------------------- */
struct pkt *pkt_alloc(struct pkt_pool *pool)
{
	struct pkt *p = seg_new(pool);
	if (p)
		p->id = pkt_pool_next_id();
	return p;
}

/* Room a fresh segment offers for data, keeping PKT_TAILROOM at its end. */
static uint32_t seg_room(const struct pkt *s)
{
	uint32_t end = s->cap - PKT_TAILROOM;
	return end > s->off + s->len ? end - s->off - s->len : 0;
}

/* Appends n bytes from src, adding segments from pool as needed.  False if
 * the pool ran dry (p then holds a prefix; the caller frees it). */
static bool append_bytes(struct pkt *p, struct pkt_pool *pool, const uint8_t *src, size_t n)
{
	struct pkt *last = p;
	while (last->next)
		last = last->next;
	while (n) {
		uint32_t room = seg_room(last);
		if (room == 0) {
			struct pkt *s = seg_new(pool);
			if (!s)
				return false;
			s->off = 0;
			last->next = s;
			last = s;
			continue;
		}
		uint32_t k = n < room ? (uint32_t)n : room;
		memcpy(last->buf + last->off + last->len, src, k);
		last->len += k;
		p->pkt_len += k;
		src += k;
		n -= k;
	}
	return true;
}

struct pkt *pkt_from_bytes(struct pkt_pool *pool, const void *data, size_t n)
{
	struct pkt *p = pkt_alloc(pool);
	if (!p)
		return NULL;
	if (!append_bytes(p, pool, data, n)) {
		pkt_free(p);
		return NULL;
	}
	return p;
}

void pkt_free(struct pkt *p)
{
	while (p) {
		struct pkt *next = p->next;
		seg_release(p);
		p = next;
	}
}

struct pkt *pkt_ref(struct pkt *p)
{
	for (struct pkt *s = p; s; s = s->next)
		atomic_fetch_add_explicit(&s->refcnt, 1, memory_order_relaxed);
	return p;
}

struct pkt *pkt_clone(struct pkt *p)
{
	struct pkt *c = seg_indirect(p);
	if (!c)
		return NULL;
	meta_copy(c, p);
	c->id = pkt_pool_next_id();
	for (struct pkt *s = p->next; s; s = s->next)
		atomic_fetch_add_explicit(&s->refcnt, 1, memory_order_relaxed);
	return c;
}

bool pkt_unshare(struct pkt **pp)
{
	struct pkt *p = *pp;
	/* First pass: a spare direct segment for every shared one, each tagged
	 * with the position it replaces. */
	struct pkt *spares = NULL, **tail = &spares;
	uint32_t pos = 0;
	for (struct pkt *s = p; s; s = s->next, pos++) {
		if (pkt_seg_writable(s))
			continue;
		struct pkt *c = seg_new(s->pool);
		if (!c) {
			while (spares) {
				struct pkt *n = spares->qnext;
				seg_release(spares);
				spares = n;
			}
			return false;
		}
		c->user = pos;
		*tail = c;
		tail = &c->qnext;
	}
	if (!spares)
		return true;

	/* Second pass: swap them in.  A segment writable in the first pass
	 * stays writable (nobody else can gain a reference to it). */
	struct pkt *prev = NULL;
	pos = 0;
	for (struct pkt *s = p; s; pos++) {
		struct pkt *next = s->next;
		if (spares && spares->user == pos) {
			struct pkt *c = spares;
			spares = c->qnext;
			c->qnext = NULL;
			c->user = 0;
			c->off = s->off;
			c->len = s->len;
			memcpy(c->buf + c->off, s->buf + s->off, s->len);
			c->next = next;
			if (prev) {
				prev->next = c;
			} else {
				meta_copy(c, s);
				c->qnext = s->qnext;
				*pp = c;
			}
			seg_release(s);
			s = c;
		}
		prev = s;
		s = next;
	}
	return true;
}

struct pkt *pkt_copy(const struct pkt *p, struct pkt_pool *pool)
{
	struct pkt *c = seg_new(pool);
	if (!c)
		return NULL;
	if (p->off + PKT_TAILROOM < c->cap)
		c->off = p->off;
	meta_copy(c, p);
	c->pkt_len = 0;
	c->id = pkt_pool_next_id();
	int32_t shift = (int32_t)c->off - (int32_t)p->off;
	if (c->l2_off >= 0)
		c->l2_off += shift;
	if (c->l3_off >= 0)
		c->l3_off += shift;
	if (c->l4_off >= 0)
		c->l4_off += shift;
	for (const struct pkt *s = p; s; s = s->next) {
		if (!append_bytes(c, pool, s->buf + s->off, s->len)) {
			pkt_free(c);
			return NULL;
		}
	}
	return c;
}

/* --- geometry ------------------------------------------------------------------- */
uint32_t pkt_tailroom(const struct pkt *p)
{
	while (p->next)
		p = p->next;
	return p->cap - p->off - p->len;
}

int pkt_segments(const struct pkt *p)
{
	int n = 0;
	for (; p; p = p->next)
		n++;
	return n;
}

uint8_t *pkt_push(struct pkt *p, uint32_t n)
{
	if (p->off < n || !pkt_seg_writable(p))
		return NULL;
	p->off -= n;
	p->len += n;
	p->pkt_len += n;
	return p->buf + p->off;
}

uint8_t *pkt_put(struct pkt *p, uint32_t n)
{
	struct pkt *last = p;
	while (last->next)
		last = last->next;
	if (last->cap - last->off - last->len < n || !pkt_seg_writable(last))
		return NULL;
	uint8_t *d = last->buf + last->off + last->len;
	last->len += n;
	p->pkt_len += n;
	return d;
}

/* Consumes n bytes from the front of the segments after the first, which
 * has already given all it had.  Whole segments are unlinked and released;
 * a partly consumed one is shortened in place, or through repl (a private
 * header on it) when its header is shared. */
static void eat_following(struct pkt *p, uint32_t n, struct pkt *repl)
{
	while (n) {
		struct pkt *s = p->next;
		/* s may be shared: only its refcount is touched, never its
		 * next link, which other chains may still follow. */
		if (s->len <= n) {
			n -= s->len;
			p->next = s->next;
			seg_release(s);
			continue;
		}
		if (repl) {
			/* repl was made from s: it took over s's next link,
			 * and with it the reference this chain holds there. */
			p->next = repl;
			seg_release(s);
			s = repl;
		}
		s->off += n;
		s->len -= n;
		n = 0;
	}
}

/* Finds the segment after the first in which byte n (counted after the
 * first segment) falls; NULL if none. */
static struct pkt *partial_after(const struct pkt *p, uint32_t n)
{
	for (struct pkt *s = p->next; s; s = s->next) {
		if (s->len > n)
			return s;
		n -= s->len;
	}
	return NULL;
}

bool pkt_pull(struct pkt *p, uint32_t n)
{
	if (n > p->pkt_len)
		return false;
	uint32_t k = n < p->len ? n : p->len;
	uint32_t rest = n - k;
	struct pkt *repl = NULL;
	if (rest) {
		struct pkt *s = partial_after(p, rest);
		if (s && !hdr_private(s) && !(repl = seg_indirect(s)))
			return false;
	}
	p->off += k;
	p->len -= k;
	if (rest)
		eat_following(p, rest, repl);
	p->pkt_len -= n;
	return true;
}

bool pkt_trim(struct pkt *p, uint32_t n)
{
	if (n > p->pkt_len)
		return false;
	if (n == p->pkt_len)
		return true;
	struct pkt *s = p, *prev = NULL;
	uint32_t left = n;
	while (left > s->len) {
		left -= s->len;
		prev = s;
		s = s->next;
	}
	/* s keeps `left` bytes; everything after it goes. */
	if (!hdr_private(s)) {
		struct pkt *r = prev ? seg_indirect(s) : NULL;
		if (!r)
			return false;
		struct pkt *tail = s->next;
		r->next = NULL;
		prev->next = r;
		seg_release(s);
		pkt_free(tail);
		s = r;
	} else {
		pkt_free(s->next);
		s->next = NULL;
	}
	s->len = left;
	p->pkt_len = n;
	return true;
}

bool pkt_contig(struct pkt *p, uint32_t n)
{
	if (p->len >= n)
		return true;
	if (n > p->pkt_len || p->off + n > p->cap || !hdr_private(p))
		return false;
	uint32_t need = n - p->len;
	struct pkt *repl = NULL;
	struct pkt *s = partial_after(p, need);
	if (s && !hdr_private(s) && !(repl = seg_indirect(s)))
		return false;
	if (!data_private(p)) {
		/* The first segment's data is shared with a clone: give this
		 * header private data at the same offset, so the layer offsets
		 * stay valid. */
		struct pkt_pool *pool = p->pool;
		uint32_t k = pkt_pool_get(pool);
		if (k == PKT_SLOT_NONE) {
			if (repl)
				pkt_free(repl);
			return false;
		}
		atomic_store_explicit(sref_of(pool, k), 1, memory_order_relaxed);
		uint8_t *buf = pool->mem + (size_t)k * pool->stride;
		memcpy(buf + p->off, p->buf + p->off, p->len);
		uint32_t old = pkt_data_index(pool, p);
		p->buf = buf;
		slot_unref(pool, old, 1);
	}
	uint8_t *dst = p->buf + p->off + p->len;
	uint32_t left = need;
	for (struct pkt *t = p->next; left; t = t->next) {
		uint32_t k = t->len < left ? t->len : left;
		memcpy(dst, t->buf + t->off, k);
		dst += k;
		left -= k;
	}
	/* The bytes now live in the first segment; take them off the others
	 * (repl, if made, was made before this and still matches s). */
	p->len += need;
	eat_following(p, need, repl);
	return true;
}

bool pkt_copy_out(const struct pkt *p, uint32_t off, void *dst, uint32_t n)
{
	if ((uint64_t)off + n > p->pkt_len)
		return false;
	uint8_t *d = dst;
	for (const struct pkt *s = p; n; s = s->next) {
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint32_t k = s->len - off < n ? s->len - off : n;
		memcpy(d, s->buf + s->off + off, k);
		d += k;
		n -= k;
		off = 0;
	}
	return true;
}

bool pkt_copy_in(struct pkt *p, uint32_t off, const void *src, uint32_t n)
{
	if ((uint64_t)off + n > p->pkt_len)
		return false;
	const uint8_t *d = src;
	for (struct pkt *s = p; n; s = s->next) {
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint32_t k = s->len - off < n ? s->len - off : n;
		memcpy(s->buf + s->off + off, d, k);
		d += k;
		n -= k;
		off = 0;
	}
	return true;
}

bool pkt_chain(struct pkt *p, struct pkt **tailp)
{
	struct pkt *tail = *tailp;
	*tailp = NULL;
	if (!tail)
		return true;
	struct pkt *last = p, *prev = NULL;
	while (last->next) {
		prev = last;
		last = last->next;
	}
	if (!hdr_private(last)) {
		/* The last segment is shared, so its next link is too: link
		 * through a private header on it.  (A shared first segment
		 * means the caller broke the contract: pkt_ref'd packets are
		 * read-only.) */
		struct pkt *r = prev ? seg_indirect(last) : NULL;
		if (!r) {
			SAL_LOG_ONCE(SAL_LOG_ERR, "pkt_chain: out of buffers; tail dropped");
			pkt_free(tail);
			return false;
		}
		prev->next = r;
		seg_release(last);
		last = r;
	}
	uint32_t add = tail->pkt_len;
	tail->pkt_len = 0;
	last->next = tail;
	p->pkt_len += add;
	return true;
}

/* --- checksums -------------------------------------------------------------------
 * Sums are kept as the numeric value of big-endian 16-bit words (what a
 * header shows on the wire), whatever the host's byte order.  The loop adds
 * native 64-bit words with end-around carry (the ones'-complement sum does
 * not care about word size or byte order) and swaps once at the end. */
static uint32_t fold16(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint32_t)s;
}

static uint32_t raw_sum(const uint8_t *d, size_t n)
{
	uint64_t acc = 0, w;
	while (n >= 8) {
		memcpy(&w, d, 8);
		acc += w;
		acc += acc < w;
		d += 8;
		n -= 8;
	}
	while (n >= 2) {
		uint16_t h;
		memcpy(&h, d, 2);
		acc += h;
		acc += acc < h;
		d += 2;
		n -= 2;
	}
	if (n) {
		uint16_t h = 0;
		memcpy(&h, d, 1);
		acc += h;
		acc += acc < h;
	}
	uint32_t s = fold16(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = ((s & 0xff) << 8) | (s >> 8);
#endif
	return s;
}

uint32_t csum_add(uint32_t sum, const void *data, size_t n)
{
	return fold16((uint64_t)sum + raw_sum(data, n));
}

uint16_t csum_fold(uint32_t sum)
{
	return (uint16_t)~fold16(sum);
}

uint32_t pkt_csum_partial(const struct pkt *p, uint32_t off, uint32_t n, uint32_t sum)
{
	uint64_t acc = sum;
	bool odd = false;
	for (const struct pkt *s = p; s && n; s = s->next) {
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint32_t k = s->len - off < n ? s->len - off : n;
		uint32_t part = raw_sum(s->buf + s->off + off, k);
		/* A piece that starts at an odd position of the range has its
		 * bytes in the other halves of the 16-bit words. */
		if (odd)
			part = ((part & 0xff) << 8) | (part >> 8);
		acc += part;
		odd ^= k & 1;
		n -= k;
		off = 0;
	}
	return fold16(acc);
}

bool pkt_csum_complete(struct pkt *p)
{
	if (p->csum != PKT_CSUM_PARTIAL)
		return true;
	uint32_t start = p->csum_start, at = start + p->csum_offset;
	if (start > p->pkt_len || at + 2 > p->pkt_len)
		return false;
	if (pkt_is_shared(p))
		SAL_LOG_ONCE(SAL_LOG_ERR, "pkt_csum_complete: writing into a shared packet "
					  "(call pkt_unshare first)");
	uint16_t v = csum_fold(pkt_csum_partial(p, start, p->pkt_len - start, 0));
	/* As on the wire for UDP, a computed zero is sent as all ones (the
	 * same value in ones' complement, so TCP is unaffected). */
	if (v == 0)
		v = 0xffff;
	uint8_t be[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	pkt_copy_in(p, at, be, 2);
	p->csum = PKT_CSUM_NONE;
	return true;
}

/* --- invariants ------------------------------------------------------------------- */
const char *pkt_check(const struct pkt *p)
{
	if (!p)
		return "null packet";
	uint64_t sum = 0;
	int n = 0;
	for (const struct pkt *s = p; s; s = s->next) {
		const struct pkt_pool *pool = s->pool;
		if (!pool)
			return "segment without a pool";
		if ((size_t)((const uint8_t *)s - (const uint8_t *)pool->slots) >= pool->slots_bytes)
			return "header outside its pool";
		if (s->buf < pool->mem || s->buf >= pool->mem + pool->mem_bytes ||
		    (size_t)(s->buf - pool->mem) % pool->stride)
			return "buf is not a data area of its pool";
		if (s->cap != pool->stride)
			return "cap is not the pool stride";
		if ((uint64_t)s->off + s->len > s->cap)
			return "off + len > cap";
		if (atomic_load_explicit(&s->refcnt, memory_order_relaxed) == 0)
			return "segment with refcnt 0 in a chain";
		uint32_t r = atomic_load_explicit(&pool->slots[pkt_slot_index(pool, s)].sref,
						  memory_order_relaxed);
		if (!(r & PKT_SREF_HDR))
			return "header of a free slot";
		uint32_t d = atomic_load_explicit(&pool->slots[pkt_data_index(pool, s)].sref,
						  memory_order_relaxed);
		if (!(d & PKT_SREF_DATA_MASK))
			return "data of a slot with no data users";
		if (s != p && s->pkt_len != 0)
			return "pkt_len set on a later segment";
		sum += s->len;
		if (++n > 1 << 20)
			return "chain too long (loop?)";
	}
	if (sum != p->pkt_len)
		return "pkt_len != sum of segment lengths";
	if (p->l2_off < -1 || p->l3_off < -1 || p->l4_off < -1 ||
	    p->l2_off > (int32_t)p->cap || p->l3_off > (int32_t)p->cap ||
	    p->l4_off > (int32_t)p->cap)
		return "layer offset outside the first buffer";
	if (p->csum > PKT_CSUM_PARTIAL)
		return "bad csum state";
	return NULL;
}
