/*
 * arp_cache.c - the neighbour cache, its timers and pending queues, and
 * arp_send (contract in arp.h).
 */
#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/arp/arp.h"
#include "protocols/arp/arp_internal.h"
#include "protocols/arp/arp_wire.h"
#include "protocols/ether/ether.h"
#include "protocols/inet/inet.h"

#define ARP_HASH_BITS 10
#define ARP_HASH_SIZE (1u << ARP_HASH_BITS)
_Static_assert(ARP_CACHE_MAX <= 65535, "entry counts fit 16 bits");

struct arp_config arp_cfg = {
	.reachable_ns = 30000000000ull,
	.stale_ns = 60000000000ull,
	.retrans_ns = 1000000000ull,
	.max_probes = 3,
	.queue_max = 4,
};
struct arp_stats arp_st;

static struct arp_entry arp_tab[ARP_CACHE_MAX];
static uint32_t arp_hash[ARP_HASH_SIZE];        /* index + 1, 0: empty */
static uint32_t arp_free_stack[ARP_CACHE_MAX];
static uint32_t arp_nfree;
static bool arp_ready;

static inline uint32_t hash_of(uint16_t ifindex, uint32_t ip)
{
	return ((ip ^ ((uint32_t)ifindex << 16)) * 2654435761u) >> (32 - ARP_HASH_BITS);
}

static void cache_setup(void)
{
	if (arp_ready)
		return;
	for (uint32_t i = 0; i < ARP_CACHE_MAX; i++)
		arp_free_stack[i] = ARP_CACHE_MAX - 1 - i;
	arp_nfree = ARP_CACHE_MAX;
	arp_ready = true;
}

struct arp_entry *arp_entry_find(uint16_t ifindex, uint32_t ip)
{
	for (uint32_t i = arp_hash[hash_of(ifindex, ip)]; i; i = arp_tab[i - 1].hnext) {
		struct arp_entry *e = &arp_tab[i - 1];
		if (e->ip == ip && e->ifindex == ifindex)
			return e;
	}
	return NULL;
}

/* The loop timers go on: the caller's.  Without one (a control call made
 * before any loop ran) the entry keeps its state until a packet touches it
 * on a loop; that is logged once. */
static void entry_arm(struct arp_entry *e, uint64_t delay_ns)
{
	struct exec_loop *l = exec_current();
	if (!l) {
		SAL_LOG_ONCE(SAL_LOG_WARN, "arp: no run loop on this thread; cache timer not armed");
		return;
	}
	exec_timer_arm(l, &e->timer, delay_ns);
}

static void entry_set_state(struct arp_entry *e, enum arp_state s, uint64_t delay_ns)
{
	e->state = (uint8_t)s;
	e->probes = 0;
	e->probe_ns = 0;
	e->changed_ns = sal_now_ns();
	if (s == ARP_S_STATIC)
		exec_timer_cancel(&e->timer);
	else
		entry_arm(e, delay_ns);
}

static void entry_timer(struct exec_timer *t, void *arg);

static struct arp_entry *entry_new(uint16_t ifindex, uint32_t ip);

/* Drops every waiting packet of e with reason. */
static void queue_drop(struct arp_entry *e, unsigned reason)
{
	while (e->qhead) {
		struct pkt *p = e->qhead;
		e->qhead = p->qnext;
		p->qnext = NULL;
		ng_drop(&p, &arp_node, reason);
	}
	e->qtail = NULL;
	e->nq = 0;
}

/* Sends every waiting packet of e to its (now known) address, in order. */
static void queue_flush(struct arp_entry *e)
{
	struct pkt *p = e->qhead;
	e->qhead = e->qtail = NULL;
	e->nq = 0;
	while (p) {
		struct pkt *next = p->qnext;
		p->qnext = NULL;
		arp_st.sent_from_queue++;
		ether_send(p, e->ifindex, e->mac, ETHER_TYPE_IPV4);
		p = next;
	}
}

static void entry_free(struct arp_entry *e)
{
	queue_drop(e, ARP_DROP_FLUSHED);
	exec_timer_cancel(&e->timer);
	uint32_t idx = (uint32_t)(e - arp_tab) + 1;
	uint32_t *link = &arp_hash[hash_of(e->ifindex, e->ip)];
	while (*link && *link != idx)
		link = &arp_tab[*link - 1].hnext;
	if (*link)
		*link = e->hnext;
	e->state = ARP_S_FREE;
	e->hnext = 0;
	arp_free_stack[arp_nfree++] = idx - 1;
}

/* The oldest STALE entry, the only kind worth evicting. */
static struct arp_entry *entry_victim(void)
{
	struct arp_entry *v = NULL;
	for (uint32_t i = 0; i < ARP_CACHE_MAX; i++) {
		struct arp_entry *e = &arp_tab[i];
		if (e->state == ARP_S_STALE && (!v || e->changed_ns < v->changed_ns))
			v = e;
	}
	return v;
}

/* A new FREE-state entry hashed under (ifindex, ip), evicting the oldest
 * STALE entry when the table is full; NULL when nothing can be evicted.
 * The caller sets its state. */
static struct arp_entry *entry_new(uint16_t ifindex, uint32_t ip)
{
	cache_setup();
	if (arp_nfree == 0) {
		struct arp_entry *v = entry_victim();
		if (!v)
			return NULL;
		entry_free(v);
	}
	uint32_t i = arp_free_stack[--arp_nfree];
	struct arp_entry *e = &arp_tab[i];
	*e = (struct arp_entry){.ip = ip, .ifindex = ifindex};
	exec_timer_init(&e->timer, entry_timer, e);
	uint32_t h = hash_of(ifindex, ip);
	e->hnext = arp_hash[h];
	arp_hash[h] = i + 1;
	return e;
}

/* The address ARP asks from for a target on ifindex: the one whose subnet
 * holds it, else the interface's first. */
static bool source_for(uint16_t ifindex, uint32_t tip, uint32_t *sip)
{
	struct inet_ifaddr a;
	if (!inet_addr_onlink(ifindex, tip, &a) && !inet_addr_primary(ifindex, &a))
		return false;
	*sip = a.addr;
	return true;
}

int arp_tx_request(uint16_t ifindex, uint32_t sip, uint32_t tip, const uint8_t *dst)
{
	struct ng_iface *ifp = ng_iface_get(ifindex);
	if (!ifp)
		return ARP_EINVAL;
	struct pkt *p = ifp->pool ? pkt_alloc(ifp->pool) : NULL;
	if (!p) {
		arp_st.tx_no_buffer++;
		return ARP_ENOBUFS;
	}
	struct arp_hdr *h = (void *)pkt_put(p, ARP_LEN);
	ether_put16(h->htype, ARP_HTYPE_ETHER);
	ether_put16(h->ptype, ETHER_TYPE_IPV4);
	h->hlen = ETHER_ADDR_LEN;
	h->plen = 4;
	ether_put16(h->op, ARP_OP_REQUEST);
	memcpy(h->sha, ifp->mac, ETHER_ADDR_LEN);
	for (int k = 0; k < 4; k++) {
		h->spa[k] = (uint8_t)(sip >> (24 - 8 * k));
		h->tpa[k] = (uint8_t)(tip >> (24 - 8 * k));
	}
	memset(h->tha, 0, ETHER_ADDR_LEN);
	pkt_set_l3(p);
	if (sip == tip)
		arp_st.gratuitous_tx++;
	else
		arp_st.requests_tx++;
	ether_send(p, ifindex, dst ? ether_addr_from(dst) : ETHER_BCAST, ETHER_TYPE_ARP);
	return ARP_OK;
}

/* Asks for e's address (broadcast, or unicast to refresh a known one). */
static int entry_probe(struct arp_entry *e, bool unicast)
{
	uint32_t sip;
	if (!source_for(e->ifindex, e->ip, &sip))
		return ARP_EINVAL;
	e->probes++;
	e->probe_ns = sal_now_ns();
	return arp_tx_request(e->ifindex, sip, e->ip, unicast ? e->mac.b : NULL);
}

static void entry_timer(struct exec_timer *t, void *arg)
{
	(void)t;
	struct arp_entry *e = arg;
	switch (e->state) {
	case ARP_S_INCOMPLETE:
		if (e->probes < arp_cfg.max_probes) {
			entry_probe(e, false);
			entry_arm(e, arp_cfg.retrans_ns);
		} else {
			queue_drop(e, ARP_DROP_NO_REPLY);
			entry_free(e);
		}
		break;
	case ARP_S_REACHABLE:
		entry_set_state(e, ARP_S_STALE, arp_cfg.stale_ns);
		break;
	case ARP_S_STALE:
		arp_st.expired++;
		entry_free(e);
		break;
	default:
		break;
	}
}

/* Appends p to e's pending queue; the oldest goes when it is full. */
static void queue_add(struct arp_entry *e, struct pkt *p)
{
	if (e->nq >= arp_cfg.queue_max) {
		struct pkt *old = e->qhead;
		e->qhead = old->qnext;
		if (!e->qhead)
			e->qtail = NULL;
		old->qnext = NULL;
		e->nq--;
		ng_drop(&old, &arp_node, ARP_DROP_QUEUE_FULL);
	}
	p->qnext = NULL;
	if (e->qtail)
		e->qtail->qnext = p;
	else
		e->qhead = p;
	e->qtail = p;
	e->nq++;
	arp_st.queued++;
}

void arp_send(struct pkt *p, uint16_t ifindex, uint32_t nexthop)
{
	struct ether_addr mac;
	unsigned reason;
	ng_enter_tx(&arp_node, p);
	p->ifindex = ifindex;
	if (nexthop == 0xffffffffu || inet_addr_is_bcast(ifindex, nexthop)) {
		mac = ETHER_BCAST;
		goto send;
	}
	if ((nexthop >> 28) == 0xe) {
		mac = ether_mcast_ipv4(nexthop);
		goto send;
	}
	struct arp_entry *e = arp_entry_find(ifindex, nexthop);
	if (e) {
		switch (e->state) {
		case ARP_S_STALE:
			if (sal_now_ns() - e->probe_ns >= arp_cfg.retrans_ns)
				entry_probe(e, true);
			/* fall through */
		case ARP_S_REACHABLE:
		case ARP_S_STATIC:
			mac = e->mac;
			goto send;
		case ARP_S_INCOMPLETE:
			queue_add(e, p);
			ng_leave(&arp_node);
			return;
		}
	}
	uint32_t sip;
	if (!source_for(ifindex, nexthop, &sip)) {
		reason = ARP_DROP_NO_ADDR;
		goto bad;
	}
	e = entry_new(ifindex, nexthop);
	if (!e) {
		reason = ARP_DROP_TABLE_FULL;
		goto bad;
	}
	entry_set_state(e, ARP_S_INCOMPLETE, arp_cfg.retrans_ns);
	queue_add(e, p);
	entry_probe(e, false);
	ng_leave(&arp_node);
	return;
send:
	ng_leave(&arp_node);
	ether_send(p, ifindex, mac, ETHER_TYPE_IPV4);
	return;
bad:
	ng_drop(&p, &arp_node, reason);
	ng_leave(&arp_node);
}

bool arp_lookup(uint16_t ifindex, uint32_t ip, struct ether_addr *mac)
{
	struct arp_entry *e = arp_entry_find(ifindex, ip);
	if (!e || e->state == ARP_S_INCOMPLETE)
		return false;
	if (mac)
		*mac = e->mac;
	return true;
}

void arp_learn(uint16_t ifindex, uint32_t ip, const uint8_t *mac, bool create, bool confirmed)
{
	struct arp_entry *e = arp_entry_find(ifindex, ip);
	if (!e) {
		if (!create || !(e = entry_new(ifindex, ip)))
			return;
		e->mac = ether_addr_from(mac);
		if (confirmed)
			entry_set_state(e, ARP_S_REACHABLE, arp_cfg.reachable_ns);
		else
			entry_set_state(e, ARP_S_STALE, arp_cfg.stale_ns);
		return;
	}
	switch (e->state) {
	case ARP_S_STATIC:
		return;
	case ARP_S_INCOMPLETE:
		e->mac = ether_addr_from(mac);
		entry_set_state(e, ARP_S_REACHABLE, arp_cfg.reachable_ns);
		arp_st.resolved++;
		queue_flush(e);
		return;
	default:
		break;
	}
	bool moved = !ether_addr_eq(e->mac.b, mac);
	e->mac = ether_addr_from(mac);
	if (confirmed)
		entry_set_state(e, ARP_S_REACHABLE, arp_cfg.reachable_ns);
	else if (moved)
		entry_set_state(e, ARP_S_STALE, arp_cfg.stale_ns);
}

void arp_cache_reset(void)
{
	cache_setup();
	for (uint32_t i = 0; i < ARP_CACHE_MAX; i++)
		if (arp_tab[i].state != ARP_S_FREE)
			entry_free(&arp_tab[i]);
}

/* --- control calls on the cache ------------------------------------------------ */
int arp_static_add(uint16_t ifindex, uint32_t ip, struct ether_addr mac)
{
	if (ifindex == 0 || ifindex > NG_IF_MAX || ip == 0 || ether_is_group(mac.b))
		return ARP_EINVAL;
	struct arp_entry *e = arp_entry_find(ifindex, ip);
	if (!e && !(e = entry_new(ifindex, ip)))
		return ARP_EFULL;
	e->mac = mac;
	entry_set_state(e, ARP_S_STATIC, 0);
	queue_flush(e);
	return ARP_OK;
}

int arp_delete(uint16_t ifindex, uint32_t ip)
{
	struct arp_entry *e = arp_entry_find(ifindex, ip);
	if (!e)
		return ARP_ENOENT;
	entry_free(e);
	return ARP_OK;
}

void arp_flush(uint16_t ifindex, bool with_static)
{
	for (uint32_t i = 0; i < ARP_CACHE_MAX; i++) {
		struct arp_entry *e = &arp_tab[i];
		if (e->state == ARP_S_FREE || (ifindex && e->ifindex != ifindex))
			continue;
		if (e->state == ARP_S_STATIC && !with_static)
			continue;
		entry_free(e);
	}
}

int arp_request(uint16_t ifindex, uint32_t ip)
{
	uint32_t sip;
	if (!source_for(ifindex, ip, &sip))
		return ARP_EINVAL;
	return arp_tx_request(ifindex, sip, ip, NULL);
}

unsigned arp_list(struct arp_entry_info *out, unsigned max)
{
	unsigned n = 0;
	uint64_t now = sal_now_ns();
	for (uint32_t i = 0; i < ARP_CACHE_MAX; i++) {
		const struct arp_entry *e = &arp_tab[i];
		if (e->state == ARP_S_FREE)
			continue;
		if (out && n < max)
			out[n] = (struct arp_entry_info){
				.ifindex = e->ifindex,
				.ip = e->ip,
				.mac = e->state == ARP_S_INCOMPLETE ? (struct ether_addr){{0}}
								    : e->mac,
				.state = (enum arp_state)e->state,
				.queued = e->nq,
				.probes = e->probes,
				.age_ns = now - e->changed_ns,
			};
		n++;
	}
	return n;
}
