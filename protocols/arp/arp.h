/*
 * arp.h - ARP for IPv4 over Ethernet (RFC 826): resolution for IP output,
 * answers for our addresses, the neighbour cache.
 *
 * Input.  ARP installs on Ether_PacketArrived with the guard
 * EtherType == 0x0806.  A packet is dropped by reason when it is short, its
 * hardware or protocol type or lengths are wrong, its operation unknown, or
 * its sender address is a group address; one that claims an address of
 * ours is dropped as "addr_conflict" (logged once).  Otherwise ARP merges
 * the sender into the cache (RFC 826: an existing entry is refreshed; a new
 * one is made only when the packet is addressed to one of our addresses)
 * and answers a request for one of the receiving interface's addresses
 * (protocols/inet/inet.h) in the request's own buffer.
 *
 * Cache.  One entry per (interface, IPv4 address):
 *   INCOMPLETE  a request was sent; packets wait in the entry's pending
 *               queue (at most queue_max; on overflow the oldest is dropped
 *               as "queue_full").  The request is repeated every
 *               retrans_ns, max_probes times in all; then the queue is
 *               dropped as "no_reply" and the entry freed.
 *   REACHABLE   the address answered within reachable_ns.  Then STALE.
 *   STALE       still used to send; the first use sends a unicast request
 *               (again at most once per retrans_ns), whose reply makes the
 *               entry REACHABLE.  Unconfirmed for stale_ns: freed.
 *   STATIC      configured; never expires, never overwritten by packets.
 * Entries learned from a request addressed to us start STALE (the sender
 * is probably there, but we have not asked), as Linux does.
 * The cache has ARP_CACHE_MAX entries; when full, a new next hop takes the
 * oldest STALE entry or, failing that, its packet is dropped
 * ("table_full").
 *
 * Gratuitous ARP: a request with sender = target = our address, to
 * broadcast, for every address of an interface when the module starts and
 * whenever an address is added (Inet_AddrAdded), and on arp_announce().
 *
 * Threads.  All cache state belongs to the run loop that carries the
 * packets (timers are armed on exec_current()).  arp_send, the input path
 * and the control calls below must run on that loop's thread, or before it
 * runs; spin ctl reaches them with exec_defer.  Nothing here locks or
 * allocates from the heap: entries are a fixed array, queued packets are
 * linked through p->qnext.
 */
#ifndef SPIN_ARP_H
#define SPIN_ARP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/ether/ether_wire.h"

extern const struct spin_module arp_module;   /* "arp"; needs "ether" started */
extern const struct ng_node arp_node;         /* "arp" */

enum arp_drop {
	ARP_DROP__BASE = NG_DROP_COMMON - 1,
#define NG_DROP_X(id, name, text) ARP_DROP_##id,
#include "protocols/arp/arp_drop.def"
#undef NG_DROP_X
	ARP_DROP__END
};

#define ARP_CACHE_MAX 512
#define ARP_QUEUE_LIMIT 64      /* upper bound for queue_max */

/* --- the packet path ---------------------------------------------------------
 * Sends p, whose data start is an IPv4 header, to the next hop nexthop
 * (host order) out of interface ifindex: at once when the next hop's
 * address is known, else after resolution (p waits in the pending queue).
 * The limited broadcast, the directed broadcasts of ifindex's subnets and
 * multicast groups map to their Ethernet addresses without asking.
 * Consumes p always (sent, queued, or dropped on the arp node with a
 * reason).  Cost: one hash lookup (about 20 ns) when the address is known. */
void arp_send(struct pkt *p, uint16_t ifindex, uint32_t nexthop);

/* Looks the address up without sending anything: true and *mac when a
 * usable entry (REACHABLE, STALE or STATIC) exists. */
bool arp_lookup(uint16_t ifindex, uint32_t ip, struct ether_addr *mac);

/* --- control path ---------------------------------------------------------------- */
enum arp_err {
	ARP_OK = 0,
	ARP_EINVAL,     /* bad ifindex, zero or group address, bad config */
	ARP_EFULL,      /* cache full of entries that cannot be evicted */
	ARP_ENOENT,     /* no such entry */
	ARP_ENOBUFS,    /* no packet buffer for the request */
};
const char *arp_strerror(int err);

enum arp_state {
	ARP_S_FREE = 0,
	ARP_S_INCOMPLETE,
	ARP_S_REACHABLE,
	ARP_S_STALE,
	ARP_S_STATIC,
};
const char *arp_state_name(enum arp_state s);   /* "incomplete", ... */

struct arp_config {
	uint64_t reachable_ns;  /* default 30 s */
	uint64_t stale_ns;      /* default 60 s */
	uint64_t retrans_ns;    /* default 1 s */
	uint32_t max_probes;    /* requests per resolution; default 3 */
	uint32_t queue_max;     /* pending packets per next hop; default 4 */
};
void arp_config_get(struct arp_config *out);
/* Applies to timers armed from now on.  ARP_EINVAL for a zero interval or
 * count, or queue_max above ARP_QUEUE_LIMIT. */
int arp_config_set(const struct arp_config *c);

/* A static entry: replaces any learned one (its waiting packets are sent). */
int arp_static_add(uint16_t ifindex, uint32_t ip, struct ether_addr mac);
/* Deletes any entry, static or learned; waiting packets are dropped as
 * "flushed". */
int arp_delete(uint16_t ifindex, uint32_t ip);
/* Deletes every learned entry of ifindex (every interface when 0); static
 * ones stay unless with_static. */
void arp_flush(uint16_t ifindex, bool with_static);

/* Sends a gratuitous ARP for every IPv4 address of ifindex; returns how
 * many were sent, or -ARP_ENOBUFS / -ARP_EINVAL. */
int arp_announce(uint16_t ifindex);
/* Sends one request for ip from ifindex (as a resolution does). */
int arp_request(uint16_t ifindex, uint32_t ip);

struct arp_entry_info {
	uint16_t ifindex;
	uint32_t ip;
	struct ether_addr mac;   /* zero while INCOMPLETE */
	enum arp_state state;
	uint32_t queued;         /* packets waiting */
	uint32_t probes;         /* requests sent for the current state */
	uint64_t age_ns;         /* since the entry last changed state */
};
/* Copies up to max entries; returns how many exist. */
unsigned arp_list(struct arp_entry_info *out, unsigned max);
/* One line per entry ("198.18.0.2 02:00:00:00:00:02 eth0 reachable 3s"),
 * as sal_snprintf returns. */
int arp_format(char *buf, size_t size);

struct arp_stats {
	uint64_t requests_rx, replies_rx, requests_tx, replies_tx;
	uint64_t gratuitous_tx, gratuitous_rx;
	uint64_t ignored_rx;     /* well-formed but neither for us nor cached */
	uint64_t resolved;       /* INCOMPLETE -> REACHABLE */
	uint64_t queued, sent_from_queue;
	uint64_t expired;        /* STALE entries freed */
	uint64_t tx_no_buffer;   /* requests not sent: pool empty */
};
void arp_stats_get(struct arp_stats *out);
void arp_stats_clear(void);

#endif
