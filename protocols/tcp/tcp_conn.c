/*
 * tcp_conn.c - connection blocks and their tables, initial sequence
 * numbers (RFC 6528) and SYN cookies.
 *
 * Blocks: max_conns of them, allocated once at module start and kept on a
 * free list, so opening a connection on the packet path costs a pop.  A
 * block is in use from tcp_conn_alloc until tcp_conn_release; a block that
 * is released while some frame of the stack still uses it (an input that
 * called a handler which aborted the connection) is marked dead and goes
 * back to the free list when the outermost user leaves (TCP_UNBUSY).
 *
 * Tables: established and half-open connections (every state but LISTEN)
 * are found by their 4-tuple in one open hash table (chained through
 * hnext), sized at twice max_conns and seeded at start so that an attacker
 * cannot aim segments at one bucket.  Listeners live in a small table by
 * port: a listener needs state (its SYN queue count, limits, options) that
 * TCP itself must consult before any app code runs, and a miss in both
 * tables must become a RST, so TCP keeps the demux instead of handing it to
 * dispatcher port guards.  An extension that wants a port's raw segments
 * still has TCP_PacketArrived with a port guard.
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"
#include "protocols/ip/ip_wire.h"

struct tcp_globals tcp_g;

/* --- SipHash-2-4 (Aumasson and Bernstein), keyed with tcp_g.key ------------ */
static inline uint64_t rotl64(uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

#define SIP_ROUND()                                                            \
	do {                                                                   \
		v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);  \
		v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                       \
		v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                       \
		v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);  \
	} while (0)

static uint64_t load_le64(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static uint64_t siphash(const uint8_t key[16], const uint8_t *m, unsigned n)
{
	uint64_t k0 = load_le64(key, 8), k1 = load_le64(key + 8, 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	unsigned i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w = load_le64(m + i, 8);
		v3 ^= w;
		SIP_ROUND();
		SIP_ROUND();
		v0 ^= w;
	}
	uint64_t last = ((uint64_t)n << 56) | load_le64(m + i, n - i);
	v3 ^= last;
	SIP_ROUND();
	SIP_ROUND();
	v0 ^= last;
	v2 ^= 0xff;
	SIP_ROUND();
	SIP_ROUND();
	SIP_ROUND();
	SIP_ROUND();
	return v0 ^ v1 ^ v2 ^ v3;
}

/* The 4-tuple with a domain byte and up to two extra words, hashed. */
static uint64_t tuple_hash(uint8_t domain, uint32_t laddr, uint16_t lport, uint32_t raddr,
			   uint16_t rport, uint32_t x, uint32_t y)
{
	uint8_t m[21];

	m[0] = domain;
	ip_put32(m + 1, laddr);
	ip_put16(m + 5, lport);
	ip_put32(m + 7, raddr);
	ip_put16(m + 11, rport);
	ip_put32(m + 13, x);
	ip_put32(m + 17, y);
	return siphash(tcp_g.key, m, sizeof m);
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond timer, so
 * sequence spaces of successive incarnations of one 4-tuple advance with
 * time while other 4-tuples' ISNs stay unguessable. */
uint32_t tcp_isn(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	uint32_t m = (uint32_t)(tcp_now() / 4000u);

	return m + (uint32_t)tuple_hash(1, laddr, lport, raddr, rport, 0, 0);
}

/* RFC 7323 section 5.4 suggests a per-connection random offset for
 * TSval; keyed on the 4-tuple it can be recomputed for a SYN cookie. */
uint32_t tcp_ts_offset(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	return (uint32_t)tuple_hash(2, laddr, lport, raddr, rport, 0, 0);
}

/* --- SYN cookies -------------------------------------------------------------------
 * The cookie is our ISN for a SYN we keep no state for:
 *   bits 31..27  t mod 32, where t counts 64-second periods
 *   bits 26..24  index into tcp_cookie_mss of the MSS the peer offered
 *   bits 23..0   siphash(4-tuple, t, peer ISN) mod 2^24
 * The ACK that completes the handshake carries cookie + 1; a cookie is
 * valid for the period it was made in and the one after (64 to 128 s).
 * Window scale and SACK-permitted ride in the low bits of our TSval when
 * the peer sent timestamps (see tcp_input.c); without them they are lost,
 * as with Linux's cookies. */
const uint16_t tcp_cookie_mss[8] = {216, 536, 1200, 1360, 1400, 1440, 1460, 8960};

static uint32_t cookie_period(void)
{
	return (uint32_t)(tcp_now() / (64ull * 1000000000ull));
}

static uint32_t cookie_for(const struct tcp_seg *s, uint32_t t, unsigned mss_idx)
{
	uint32_t h = (uint32_t)tuple_hash(3, s->dst, s->dport, s->src, s->sport, t, s->seq);

	return ((t & 0x1fu) << 27) | ((uint32_t)(mss_idx & 7u) << 24) | (h & 0xffffffu);
}

uint32_t tcp_cookie_make(const struct tcp_seg *s, unsigned mss_idx)
{
	return cookie_for(s, cookie_period(), mss_idx);
}

/* s is the ACK: the SYN's sequence number was s->seq - 1. */
int tcp_cookie_check(const struct tcp_seg *s, uint32_t cookie)
{
	uint32_t now = cookie_period();
	struct tcp_seg syn = *s;
	unsigned idx = (cookie >> 24) & 7u;

	syn.seq = s->seq - 1;
	for (uint32_t back = 0; back < 2; back++) {
		uint32_t t = now - back;
		if ((t & 0x1fu) != cookie >> 27)
			continue;
		if (cookie_for(&syn, t, idx) == cookie)
			return (int)idx;
	}
	return -1;
}

/* --- blocks ------------------------------------------------------------------------ */
static uint32_t hash_seed;

static inline uint32_t tuple_bucket(uint32_t laddr, uint16_t lport, uint32_t raddr,
				    uint16_t rport)
{
	uint64_t x = ((uint64_t)raddr << 32 | laddr) ^ ((uint64_t)rport << 16 | lport) ^ hash_seed;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x & tcp_g.hmask;
}

int tcp_conn_pool_init(uint32_t n)
{
	uint32_t hsize = 64;

	while (hsize < 2 * n)
		hsize <<= 1;
	tcp_g.blocks = sal_calloc(n, sizeof *tcp_g.blocks);
	tcp_g.hash = sal_calloc(hsize, sizeof *tcp_g.hash);
	if (!tcp_g.blocks || !tcp_g.hash) {
		sal_free(tcp_g.blocks);
		sal_free(tcp_g.hash);
		tcp_g.blocks = NULL;
		tcp_g.hash = NULL;
		return TCP_ENOMEM;
	}
	tcp_g.nblocks = n;
	tcp_g.hmask = hsize - 1;
	tcp_g.free = NULL;
	for (uint32_t i = n; i-- > 0;) {
		tcp_g.blocks[i].hnext = tcp_g.free;
		tcp_g.free = &tcp_g.blocks[i];
	}
	tcp_g.all = NULL;
	tcp_g.live = 0;
	sal_random_bytes(tcp_g.key, sizeof tcp_g.key);
	sal_random_bytes(&hash_seed, sizeof hash_seed);
	sal_random_bytes(&tcp_g.next_eport, sizeof tcp_g.next_eport);
	return TCP_OK;
}

void tcp_conn_pool_fini(void)
{
	sal_free(tcp_g.blocks);
	sal_free(tcp_g.hash);
	tcp_g.blocks = NULL;
	tcp_g.hash = NULL;
	tcp_g.free = NULL;
	tcp_g.nblocks = 0;
}

void tcp_conn_init(struct tcp_conn *c)
{
	const struct tcp_config *cf = &tcp_g.cfg;

	c->rto_ms = cf->rto_initial_ms;
	c->mss = 536;
	c->rcvbuf = cf->rcvbuf;
	c->opts.sndbuf = cf->sndbuf;
	c->opts.rcvbuf = cf->rcvbuf;
	c->rcvbuf_max = cf->rcvbuf;
	c->cc = cf->cc == TCP_CC_CUBIC ? TCP_CC_CUBIC : TCP_CC_NEWRENO;
	c->ssthresh = 0xffffffffu;
	exec_timer_init(&c->timer, NULL, c);
}

void tcp_conn_opts_fill(struct tcp_conn *c)
{
	const struct tcp_config *cf = &tcp_g.cfg;
	struct tcp_conn_opts *o = &c->opts;

	if (!o->sndbuf)
		o->sndbuf = cf->sndbuf;
	if (!o->rcvbuf)
		o->rcvbuf = cf->rcvbuf;
	if (!o->rcvbuf_max)
		o->rcvbuf_max = cf->rcvbuf_max;
	if (o->cc == TCP_CC_DEFAULT)
		o->cc = cf->cc != TCP_CC_DEFAULT ? cf->cc : TCP_CC_NEWRENO;
	c->rcvbuf = o->rcvbuf;
	c->rcvbuf_max = o->manual_recv || o->rcvbuf_max < o->rcvbuf ? o->rcvbuf : o->rcvbuf_max;
	c->cc = o->cc;
	tcp_cc_init(c);
}

struct tcp_conn *tcp_conn_alloc(void)
{
	struct tcp_conn *c = tcp_g.free;

	if (!c)
		return NULL;
	tcp_g.free = c->hnext;
	memset(c, 0, sizeof *c);
	tcp_conn_init(c);
	c->anext = tcp_g.all;
	if (tcp_g.all)
		tcp_g.all->aprev = c;
	tcp_g.all = c;
	tcp_g.live++;
	return c;
}

static void hash_del(struct tcp_conn *c)
{
	struct tcp_conn **pp = &tcp_g.hash[tuple_bucket(c->laddr, c->lport, c->raddr, c->rport)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->in_hash = false;
	c->hnext = NULL;
}

void tcp_conn_hash_add(struct tcp_conn *c)
{
	uint32_t b = tuple_bucket(c->laddr, c->lport, c->raddr, c->rport);

	c->hnext = tcp_g.hash[b];
	tcp_g.hash[b] = c;
	c->in_hash = true;
}

struct tcp_conn *tcp_conn_lookup(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	if (!tcp_g.hash)
		return NULL;
	for (struct tcp_conn *c = tcp_g.hash[tuple_bucket(laddr, lport, raddr, rport)]; c;
	     c = c->hnext)
		if (c->lport == lport && c->rport == rport && c->raddr == raddr &&
		    c->laddr == laddr && !c->dead)
			return c;
	return NULL;
}

struct tcp_listener *tcp_listener_lookup(uint32_t addr, uint16_t port)
{
	struct tcp_listener *any = NULL;

	for (struct tcp_listener *l = tcp_g.lhash[port & 0xffu]; l; l = l->next) {
		if (l->port != port)
			continue;
		if (l->addr == addr)
			return l;
		if (l->addr == 0)
			any = l;
	}
	return any;
}

void tcp_sq_free(struct tcp_conn *c)
{
	struct pkt *p = c->sq_head;

	while (p) {
		struct pkt *n = p->qnext;
		p->qnext = NULL;
		pkt_free(p);
		p = n;
	}
	c->sq_head = c->sq_tail = c->sq_cur = NULL;
	c->sq_bytes = 0;
	c->sq_cur_off = 0;
}

void tcp_ooo_free(struct tcp_conn *c)
{
	struct pkt *p = c->ooo;

	while (p) {
		struct pkt *n = p->qnext;
		p->qnext = NULL;
		pkt_free(p);
		p = n;
	}
	c->ooo = NULL;
	tcp_g.ooo_bytes -= c->ooo_bytes;
	c->ooo_bytes = 0;
}

static void half_done(struct tcp_conn *c)
{
	if (c->counted_half) {
		c->counted_half = false;
		if (c->listener)
			c->listener->nhalf--;
	}
}

void tcp_set_state(struct tcp_conn *c, enum tcp_state s)
{
	bool was = c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
	bool is = s == TCP_ESTABLISHED || s == TCP_CLOSE_WAIT;

	if (c->state == TCP_SYN_RECEIVED && s != TCP_SYN_RECEIVED)
		half_done(c);
	if (is && !was)
		c->counted_estab = true;
	else if (was && !is)
		c->counted_estab = false;
	c->state = (uint8_t)s;
}

void tcp_conn_release(struct tcp_conn *c)
{
	if (c->busy) {
		c->dead = true;
		return;
	}
	half_done(c);
	tcp_ack_forget(c);
	if (c->counted_listener && c->listener)
		c->listener->nconns--;
	tcp_timers_clear_all(c);
	tcp_sq_free(c);
	tcp_ooo_free(c);
	if (c->in_hash)
		hash_del(c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		tcp_g.all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	c->state = TCP_CLOSED;
	c->hnext = tcp_g.free;
	tcp_g.free = c;
	tcp_g.live--;
}

void tcp_conn_done(struct tcp_conn *c, enum tcp_reason why)
{
	tcp_set_state(c, TCP_CLOSED);
	tcp_timers_clear_all(c);
	tcp_sq_free(c);
	tcp_ooo_free(c);
	if (c->app_owned) {
		c->app_owned = false;
		if (c->counted_listener && c->listener) {
			c->listener->nconns--;
			c->counted_listener = false;
		}
		if (c->h.closed) {
			TCP_BUSY(c);
			c->h.closed(c->ctx, c, why);
			c->busy--;
		}
	}
	tcp_conn_release(c);
}

/* Both directions are done; the block lingers for 2 MSL so that stray
 * segments of this incarnation find it (RFC 9293 3.6.1).  The app's part
 * ends here. */
void tcp_enter_timewait(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_TIME_WAIT);
	tcp_timers_clear_all(c);
	tcp_sq_free(c);
	tcp_ooo_free(c);
	tcp_timer_set(c, TCP_T_2MSL, (uint64_t)tcp_g.cfg.timewait_ms * 1000000u);
	if (c->app_owned) {
		c->app_owned = false;
		if (c->counted_listener && c->listener) {
			c->listener->nconns--;
			c->counted_listener = false;
		}
		if (c->h.closed) {
			TCP_BUSY(c);
			c->h.closed(c->ctx, c, TCP_R_CLOSED);
			c->busy--;
		}
	}
}
