/*
 * arp_internal.h - private to protocols/arp: the cache entry and the
 * functions the input, cache and control files share.
 *
 * The cache is a fixed array of entries chained into a hash on
 * (ifindex, ip); free entries sit on a stack.  Everything is touched only
 * by the run loop's thread (arp.h), so nothing here is atomic.
 */
#ifndef SPIN_ARP_INTERNAL_H
#define SPIN_ARP_INTERNAL_H

#include "kernel/exec/exec.h"
#include "protocols/arp/arp.h"

struct arp_entry {
	uint32_t ip;
	uint16_t ifindex;
	uint8_t state;          /* enum arp_state */
	uint8_t probes;         /* requests sent in this state */
	struct ether_addr mac;
	uint16_t nq;            /* packets in the pending queue */
	uint32_t hnext;         /* next in the hash chain: index + 1, 0 ends */
	struct pkt *qhead, *qtail;      /* pending queue, linked by qnext */
	uint64_t changed_ns;    /* last state change */
	uint64_t probe_ns;      /* last request sent (STALE refresh) */
	struct exec_timer timer;
};

extern struct arp_config arp_cfg;
extern struct arp_stats arp_st;

/* Finds the entry for (ifindex, ip), or NULL. */
struct arp_entry *arp_entry_find(uint16_t ifindex, uint32_t ip);
/* Records what a packet said about ip's hardware address: refreshes an
 * existing entry, or makes one when create (the packet was addressed to
 * us).  confirmed: a reply to us, which proves the neighbour reachable. */
void arp_learn(uint16_t ifindex, uint32_t ip, const uint8_t *mac, bool create,
	       bool confirmed);
/* Builds and sends a request (to dst, or broadcast when dst is NULL) for
 * tip from sip; gratuitous when sip == tip.  0 or an arp_err. */
int arp_tx_request(uint16_t ifindex, uint32_t sip, uint32_t tip, const uint8_t *dst);
/* Cancels every timer and frees every entry (module fini). */
void arp_cache_reset(void);

void arp_input(void *closure, struct pkt *p);

#endif
