/*
 * ip_reass.c - IPv4 reassembly (RFC 791 3.2, RFC 815) with the defences of
 * RFC 1858 and the overlap rule of RFC 5722.
 *
 * State: IP_REASS_SLOTS preallocated slots, one per datagram being
 * reassembled, keyed by (source, destination, identification, protocol).
 * A slot holds its fragments as the packets that carried them, linked
 * through p->qnext in offset order, each still starting at its own IP
 * header.  Nothing is allocated and nothing is copied: completion chains
 * the fragments' buffers (pkt_chain) behind the first one and rewrites the
 * first header.
 *
 * Rules, each a counted drop on the ip node:
 *   - a non-last fragment whose payload is not a multiple of 8 (frag_bad_len)
 *     or below reass_min_frag, or a fragment at offset 8 of a TCP datagram,
 *     which can only be there to rewrite the TCP flags (RFC 1858)
 *     (frag_tiny);
 *   - a fragment ending past 65535 bytes of datagram (frag_oversize): the
 *     whole datagram is dropped, and the slot remembers it (`dead`) so later
 *     fragments of it go too (reass_dead), until the timeout;
 *   - an exact duplicate (same offset, same length) is dropped alone
 *     (frag_dup); any other overlap drops the whole datagram (frag_overlap),
 *     as RFC 5722 requires for IPv6: overlaps only come from attacks;
 *   - fragments disagreeing on the end (two different last fragments, data
 *     past the last one): the whole datagram (frag_bad_end);
 *   - memory: buffer bytes held (segment capacities, what the pool really
 *     lost) over all slots at most reass_mem_max (reass_mem_limit), per
 *     source at most reass_src_max (reass_src_limit), at most
 *     IP_REASS_MAX_FRAGS fragments per datagram (reass_mem_limit).  A limit
 *     drops the arriving fragment only; its datagram then times out.
 *   - slots: when every slot is busy (after expiring old ones), the oldest
 *     datagram of the source holding the most slots is evicted for the
 *     newcomer, unless the newcomer is that source, whose fragment is then
 *     dropped (both reass_no_slot).  A flood from one source so never
 *     locks others out of reassembly for the 30-second timeout.
 *   - timeout: reass_timeout_ms after the first fragment arrived, the
 *     datagram is dropped (reass_timeout); if fragment zero was there, ICMP
 *     time exceeded (code 1, RFC 792) goes to the source.
 *
 * Cost: a fragment costs a scan of the slots (64 key compares) and a walk of
 * its datagram's fragment list; completion costs one pkt_chain per
 * fragment and one header checksum.
 *
 * Threads: the slots belong to the run loop that carries the packets; the
 * expiry timer is armed on that loop (exec_current()) when the first slot
 * fills.  ip_reass_expire and ip_reass_flush are for that loop too (or for
 * tests and shutdown, when no loop runs).
 */
#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "protocols/icmp/icmp.h"
#include "protocols/ip/ip.h"
#include "protocols/ip/ip_private.h"

struct reass_slot {
	bool used;
	bool dead;                 /* dropped; swallow the rest until timeout */
	bool have_last;
	uint8_t proto;
	uint16_t id;
	uint16_t nfrags;
	uint32_t src, dst;
	uint32_t end;              /* payload length, known once have_last */
	uint32_t got;              /* payload bytes held (no overlaps) */
	uint32_t bytes;            /* buffer bytes held */
	uint64_t born_ns;
	struct pkt *frags;         /* by offset, through qnext */
};

static struct reass_slot slots[IP_REASS_SLOTS];
static uint32_t reass_bytes_total;
static uint32_t reass_frags_total;
static unsigned slots_used;
static struct exec_timer reass_timer;
static bool reass_timer_ready;
static struct exec_loop *reass_loop;

#define REASS_TICK_NS 1000000000ull

static uint32_t truesize(const struct pkt *p)
{
	uint32_t n = 0;
	for (; p; p = p->next)
		n += p->cap;
	return n;
}

static uint32_t frag_offset(const struct pkt *p)
{
	return ip_frag_off((const struct ip_hdr *)pkt_data(p));
}

static uint32_t frag_payload(const struct pkt *p)
{
	return pkt_len(p) - ip_hdr_len((const struct ip_hdr *)pkt_data(p));
}

uint32_t ip_reass_bytes(void) { return reass_bytes_total; }
uint32_t ip_reass_frags(void) { return reass_frags_total; }

/* Frees every fragment of s with reason and empties the slot; keeps it
 * (dead) when `dead`, so the rest of the datagram is swallowed. */
static void slot_drop(struct reass_slot *s, unsigned reason, bool dead)
{
	struct pkt *f = s->frags;
	while (f) {
		struct pkt *n = f->qnext;
		f->qnext = NULL;
		ng_drop(&f, &ip_node, reason);
		f = n;
	}
	reass_bytes_total -= s->bytes;
	reass_frags_total -= s->nfrags;
	s->frags = NULL;
	s->bytes = s->got = s->end = 0;
	s->nfrags = 0;
	s->have_last = false;
	if (dead) {
		s->dead = true;
	} else {
		s->used = false;
		s->dead = false;
		slots_used--;
	}
}

/* Timeout of slot s: time exceeded about fragment zero when it is here
 * (RFC 792; icmp_error_at drops it under reass_timeout), the rest counted
 * under the same reason. */
static void slot_expire(struct reass_slot *s)
{
	if (!s->dead && s->frags && frag_offset(s->frags) == 0) {
		struct pkt *first = s->frags;
		s->frags = first->qnext;
		first->qnext = NULL;
		reass_bytes_total -= truesize(first);
		s->bytes -= truesize(first);
		reass_frags_total--;
		s->nfrags--;
		icmp_error_at(&first, ICMP_TIME_EXCEEDED, ICMP_TIMXCEED_REASS, 0, &ip_node,
			      IP_DROP_REASS_TIMEOUT);
	}
	slot_drop(s, IP_DROP_REASS_TIMEOUT, false);
}

unsigned ip_reass_expire(uint64_t now_ns)
{
	uint64_t tmo = (uint64_t)IP_CFG(reass_timeout_ms) * 1000000ull;
	unsigned n = 0;
	for (unsigned i = 0; i < IP_REASS_SLOTS && slots_used; i++) {
		struct reass_slot *s = &slots[i];
		if (s->used && now_ns - s->born_ns >= tmo) {
			slot_expire(s);
			n++;
		}
	}
	return n;
}

void ip_reass_flush(void)
{
	for (unsigned i = 0; i < IP_REASS_SLOTS; i++)
		if (slots[i].used)
			slot_drop(&slots[i], IP_DROP_REASS_TIMEOUT, false);
}

static void reass_tick(struct exec_timer *t, void *arg)
{
	(void)arg;
	ip_reass_expire(ip_now());
	if (slots_used && reass_loop)
		exec_timer_arm(reass_loop, t, REASS_TICK_NS);
}

static void timer_kick(void)
{
	struct exec_loop *l = exec_current();
	if (!l || !reass_timer_ready || exec_timer_armed(&reass_timer))
		return;
	reass_loop = l;
	exec_timer_arm(l, &reass_timer, REASS_TICK_NS);
}

void ip_reass_start(void)
{
	exec_timer_init(&reass_timer, reass_tick, NULL);
	reass_timer_ready = true;
}

void ip_reass_stop(void)
{
	if (reass_timer_ready && exec_timer_armed(&reass_timer))
		exec_timer_cancel(&reass_timer);
	reass_timer_ready = false;
	ip_reass_flush();
}

static uint32_t source_bytes(uint32_t src)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < IP_REASS_SLOTS; i++)
		if (slots[i].used && slots[i].src == src)
			n += slots[i].bytes;
	return n;
}

/* Every slot is busy: makes room for a datagram from src by evicting the
 * oldest datagram of the source that holds the most slots, unless that
 * source is src itself (a flooder then only competes with itself, and
 * every other source still gets a slot).  Returns the freed slot or NULL.
 * Cost: 64 x 64 compares (about 2 us), paid only when every slot is busy. */
static struct reass_slot *evict_for(uint32_t src)
{
	struct reass_slot *victim = NULL;
	unsigned most = 0;
	for (unsigned i = 0; i < IP_REASS_SLOTS; i++) {
		struct reass_slot *c = &slots[i];
		unsigned n = 0;
		for (unsigned j = 0; j < IP_REASS_SLOTS; j++)
			n += slots[j].src == c->src;
		if (n > most || (n == most && c->born_ns < victim->born_ns)) {
			most = n;
			victim = c;
		}
	}
	if (!victim || victim->src == src)
		return NULL;
	slot_drop(victim, IP_DROP_REASS_NO_SLOT, false);
	return victim;
}

/* Joins the fragments of s into one packet and rewrites its header.
 * Returns it, or NULL when it was dropped (counted). */
static struct pkt *slot_complete(struct reass_slot *s)
{
	struct pkt *head = s->frags;
	struct pkt *rest = head->qnext;
	head->qnext = NULL;
	s->frags = rest;
	uint32_t end = s->end;
	reass_bytes_total -= truesize(head);
	s->bytes -= truesize(head);
	reass_frags_total--;
	s->nfrags--;
	unsigned hlen = ip_hdr_len((const struct ip_hdr *)pkt_data(head));
	if (hlen + end > IP_MAX_LEN) {
		ng_drop(&head, &ip_node, IP_DROP_FRAG_OVERSIZE);
		slot_drop(s, IP_DROP_FRAG_OVERSIZE, true);
		return NULL;
	}
	if (!pkt_seg_writable(head) && !pkt_unshare(&head)) {
		ng_drop(&head, &ip_node, NG_DROP_NO_BUFFERS);
		slot_drop(s, NG_DROP_NO_BUFFERS, false);
		return NULL;
	}
	while (s->frags) {
		struct pkt *f = s->frags;
		s->frags = f->qnext;
		f->qnext = NULL;
		reass_bytes_total -= truesize(f);
		s->bytes -= truesize(f);
		reass_frags_total--;
		s->nfrags--;
		pkt_pull(f, ip_hdr_len((const struct ip_hdr *)pkt_data(f)));
		if (!pkt_chain(head, &f)) {
			ng_drop(&head, &ip_node, NG_DROP_NO_BUFFERS);
			slot_drop(s, NG_DROP_NO_BUFFERS, false);
			return NULL;
		}
	}
	slot_drop(s, IP_DROP_REASS_TIMEOUT, false);   /* empty by now: frees the slot */
	struct ip_hdr *h = (void *)pkt_data(head);
	ip_put16(h->tot_len, (uint16_t)(hlen + end));
	ip_put16(h->frag, (uint16_t)(ip_frag_word(h) & IP_FRAG_DF));
	ip_put16(h->csum, 0);
	ip_put16(h->csum, ip_hdr_csum(h, hlen));
	/* A device's checksum verdict covered one frame, not the datagram. */
	head->csum = PKT_CSUM_NONE;
	return head;
}

struct pkt *ip_reass(struct pkt *p)
{
	const struct ip_hdr *h = (const void *)pkt_data(p);
	unsigned hlen = ip_hdr_len(h);
	uint16_t fw = ip_frag_word(h);
	bool mf = (fw & IP_FRAG_MF) != 0;
	uint32_t off = ip_frag_off(h);
	uint32_t len = pkt_len(p) - hlen;
	uint32_t src = ip_src(h), dst = ip_dst(h);
	uint16_t id = ip_get16(h->id);
	uint8_t proto = h->proto;
	uint64_t now = ip_now();
	unsigned reason;

	if (mf && (len % 8) != 0) {
		reason = IP_DROP_FRAG_BAD_LEN;
		goto drop;
	}
	if ((mf && len < IP_CFG(reass_min_frag)) || (off == 8 && proto == IP_PROTO_TCP)) {
		reason = IP_DROP_FRAG_TINY;
		goto drop;
	}

	struct reass_slot *s = NULL, *free_slot = NULL;
	uint64_t tmo = (uint64_t)IP_CFG(reass_timeout_ms) * 1000000ull;
	for (unsigned i = 0; i < IP_REASS_SLOTS; i++) {
		struct reass_slot *c = &slots[i];
		if (c->used && now - c->born_ns >= tmo)
			slot_expire(c);
		if (!c->used) {
			if (!free_slot)
				free_slot = c;
			continue;
		}
		if (c->id == id && c->src == src && c->dst == dst && c->proto == proto) {
			s = c;
			break;
		}
	}
	if (s && s->dead) {
		reason = IP_DROP_REASS_DEAD;
		goto drop;
	}
	if (hlen + off + len > IP_MAX_LEN) {
		if (s) {
			slot_drop(s, IP_DROP_FRAG_OVERSIZE, true);
		} else if (free_slot) {
			/* Remember the datagram so its other fragments go too. */
			*free_slot = (struct reass_slot){.used = true, .dead = true, .src = src,
							 .dst = dst, .id = id, .proto = proto,
							 .born_ns = now};
			slots_used++;
			timer_kick();
		}
		reason = IP_DROP_FRAG_OVERSIZE;
		goto drop;
	}
	if (!s && !free_slot) {
		free_slot = evict_for(src);
		if (!free_slot) {
			reason = IP_DROP_REASS_NO_SLOT;
			goto drop;
		}
	}
	uint32_t ts = truesize(p);
	if (reass_bytes_total + ts > IP_CFG(reass_mem_max) ||
	    (s && s->nfrags >= IP_REASS_MAX_FRAGS)) {
		reason = IP_DROP_REASS_MEM_LIMIT;
		goto drop;
	}
	if (source_bytes(src) + ts > IP_CFG(reass_src_max)) {
		reason = IP_DROP_REASS_SRC_LIMIT;
		goto drop;
	}
	if (!s) {
		s = free_slot;
		*s = (struct reass_slot){.used = true, .src = src, .dst = dst, .id = id,
					 .proto = proto, .born_ns = now};
		slots_used++;
		timer_kick();
	}

	/* Where the datagram ends. */
	if (!mf) {
		if ((s->have_last && s->end != off + len)) {
			slot_drop(s, IP_DROP_FRAG_BAD_END, true);
			reason = IP_DROP_FRAG_BAD_END;
			goto drop;
		}
		struct pkt *last = s->frags;
		while (last && last->qnext)
			last = last->qnext;
		if (last && frag_offset(last) + frag_payload(last) > off + len) {
			slot_drop(s, IP_DROP_FRAG_BAD_END, true);
			reason = IP_DROP_FRAG_BAD_END;
			goto drop;
		}
	} else if (s->have_last && off + len > s->end) {
		slot_drop(s, IP_DROP_FRAG_BAD_END, true);
		reason = IP_DROP_FRAG_BAD_END;
		goto drop;
	}

	/* Find the place in offset order; any overlap but an exact
	 * duplicate kills the datagram. */
	struct pkt **link = &s->frags;
	while (*link && frag_offset(*link) < off)
		link = &(*link)->qnext;
	struct pkt *next = *link;
	if (next && frag_offset(next) == off && frag_payload(next) == len) {
		reason = IP_DROP_FRAG_DUP;
		goto drop_keep_slot;
	}
	struct pkt *prev = NULL;
	if (link != &s->frags)
		prev = (struct pkt *)((char *)link - offsetof(struct pkt, qnext));
	if ((prev && frag_offset(prev) + frag_payload(prev) > off) ||
	    (next && off + len > frag_offset(next)) || (next && frag_offset(next) == off)) {
		slot_drop(s, IP_DROP_FRAG_OVERLAP, true);
		reason = IP_DROP_FRAG_OVERLAP;
		goto drop;
	}

	p->qnext = next;
	*link = p;
	s->nfrags++;
	s->bytes += ts;
	s->got += len;
	reass_bytes_total += ts;
	reass_frags_total++;
	if (!mf) {
		s->have_last = true;
		s->end = off + len;
	}
	if (s->have_last && s->got == s->end)
		return slot_complete(s);
	return NULL;

drop_keep_slot:
drop:
	ng_drop(&p, &ip_node, reason);
	return NULL;
}
