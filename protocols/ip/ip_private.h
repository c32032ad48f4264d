/*
 * ip_private.h - private to protocols/ip: state shared by input, output,
 * reassembly, routing and control.
 */
#ifndef SPIN_IP_PRIVATE_H
#define SPIN_IP_PRIVATE_H

#include <stdatomic.h>

#include "protocols/ip/ip.h"

/* The current configuration: a control call writes it field by field with
 * relaxed stores; the packet path reads single fields, each of which is
 * valid on its own. */
struct ip_cfg_live {
	_Atomic bool forwarding;
	_Atomic uint8_t default_ttl;
	_Atomic uint32_t reass_timeout_ms;
	_Atomic uint32_t reass_mem_max;
	_Atomic uint32_t reass_src_max;
	_Atomic uint32_t reass_min_frag;
};
extern struct ip_cfg_live ip_cfg;
#define IP_CFG(f) atomic_load_explicit(&ip_cfg.f, memory_order_relaxed)

/* Counters that are not drops.  Written by the packet loop only (plain
 * relaxed load/store pairs: no locked instruction), read by anyone. */
struct ip_counters {
	_Atomic uint64_t rx, delivered, forwarded, tx, frag_created, frags_rx, reassembled;
	_Atomic uint64_t gso_tx, gso_sw_segs;
};
extern struct ip_counters ip_ctr;
static inline void ip_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

uint64_t ip_now(void);

/* Input: the header is validated, contiguous, the packet trimmed to its
 * total length, data start at the header.  Consumes p. */
void ip_deliver(struct pkt *p);
void ip_forward(struct pkt *p);

/* Reassembly: takes a fragment addressed to us; returns the whole datagram
 * when this fragment completed it (data start at its rewritten header), or
 * NULL when the fragment was kept or dropped (counted). */
struct pkt *ip_reass(struct pkt *p);
uint32_t ip_reass_bytes(void);
uint32_t ip_reass_frags(void);

/* Output of a packet whose complete IP header is at the data start, routed
 * already: fragments it when longer than mtu (or, with DF, drops it with
 * frag_needed and returns IP_OUT_MSGSIZE; icmp_frag says whether to send
 * the ICMP error back, as forwarding does), then hands each piece to ARP.
 * Consumes p. */
int ip_send_routed(struct pkt *p, uint16_t ifindex, uint32_t nexthop, uint32_t mtu,
		   bool icmp_frag);
/* The route to dst resolved to an interface, next hop and MTU; false when
 * there is none. */
struct ip_nexthop {
	uint16_t ifindex;
	uint32_t nexthop;
	uint32_t mtu;
	uint32_t src;       /* route's preferred source, or 0 */
};
bool ip_route_resolve(uint32_t dst, uint16_t ifindex_hint, struct ip_nexthop *out);

/* Finishes a PKT_CSUM_PARTIAL packet whose data start is its IP header
 * (csum_start counts from an Ethernet header before it).  False if the
 * offsets are outside the packet or no buffer was left to unshare it;
 * *pp may be replaced by a private copy. */
bool ip_csum_finish(struct pkt **pp);

void ip_reass_start(void);
void ip_reass_stop(void);

#endif
