/*
 * icmp.h - ICMP for IPv4 (RFC 792, RFC 1122 3.2.2, RFC 1812 4.3): echo
 * reply, and the error messages other layers ask for through icmp_error.
 *
 * Graph: the icmp node installs its input on IP_PacketArrived with the guard
 * protocol == 1.  Input pulls the IP header, checks the ICMP checksum and
 * raises ICMP_PacketArrived with the data start at the ICMP header
 * (p->l3_off still marks the IP header, p->l4_off the ICMP header); guards
 * read the type (offset 0, width 1) and code (offset 1).  The icmp module
 * itself installs the echo responder there with the guard type == 8.  When
 * no binding takes a message, the default handler counts it (`error_rx` for
 * an error, `type_ignored` otherwise) and frees it.
 *
 * Errors: icmp_error is the one entry other layers call (UDP for a closed
 * port, IP for TTL expiry, an unknown protocol, DF packets too big for the
 * next hop, reassembly timeouts).  It applies RFC 1122 3.2.2 (never about
 * an ICMP error, a broadcast or multicast destination, a non-first
 * fragment, or a source that is not one host) and the token-bucket rate
 * limit, builds the error in a new buffer (the offending IP header and as
 * much of its data as keeps the error within 576 bytes, RFC 1812 4.3.2.3),
 * sends it through ip_output, and consumes the offending packet.
 *
 * Echo: the reply reuses the request's buffer (type and checksum rewritten
 * in place, an incremental update; the IP header rebuilt in the same
 * headroom), so a reply costs no allocation unless it must be fragmented.
 * Requests to a broadcast or multicast address are ignored (counted
 * `echo_bcast`).
 *
 * Concurrency: the rate limiter and the counters belong to the run loop
 * that handles packets (one loop in this issue); no lock, no allocation.
 */
#ifndef SPIN_ICMP_H
#define SPIN_ICMP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/icmp/icmp_wire.h"

/* Drop reasons of the icmp node (names in icmp_drop.def). */
enum icmp_drop {
	ICMP_DROP__BASE = NG_DROP_COMMON - 1,
#define NG_DROP_X(id, name, text) ICMP_DROP_##id,
#include "protocols/icmp/icmp_drop.def"
#undef NG_DROP_X
	ICMP_DROP__END
};

extern const struct spin_module icmp_module;   /* "icmp" */
extern const struct ng_node icmp_node;         /* "icmp" */

/* A valid ICMP message arrived: data start at the ICMP header.  A handler
 * consumes p (netgraph/graph.h ownership rules). */
SPIN_EVENT_DECLARE_VOID(ICMP_PacketArrived, (struct pkt *, p))

/* Sends an ICMP error of (type, code) about the packet *pp, when the rules
 * above allow, and consumes *pp: it is freed and counted on the icmp node,
 * under `err_sent` when an error went out or under the reason that
 * suppressed it.  info fills the header's "rest" word: the next-hop MTU for
 * ICMP_UNREACH_FRAG_NEEDED, the pointer (top byte) for a parameter problem,
 * 0 otherwise.
 *
 * Where the offending IP header is: p->l3_off must mark it, in the first
 * segment; the data start may be anywhere at or after it (a UDP handler
 * calls this with the data start at its UDP header).  Never call it with a
 * shared first segment that other owners still read: the data start is
 * moved back to the IP header.
 *
 * Cost: one buffer allocation and a copy of at most 548 bytes for an error
 * that is sent; a few compares for one that is suppressed. */
void icmp_error(struct pkt **pp, uint8_t type, uint8_t code, uint32_t info);

/* As icmp_error, but the offending packet is dropped on `node` under the
 * caller's own `reason` (so IP counts `ttl_exceeded` on the ip node);
 * whether an error was sent or why not is counted in struct icmp_stats. */
void icmp_error_at(struct pkt **pp, uint8_t type, uint8_t code, uint32_t info,
		   const struct ng_node *node, unsigned reason);

/* --- control ------------------------------------------------------------------ */
struct icmp_config {
	/* Errors: a token bucket of `err_burst` tokens refilled at
	 * `err_rate` per second; 0 rate means unlimited. */
	uint32_t err_rate, err_burst;
	/* Echo replies: the same; default unlimited. */
	uint32_t echo_rate, echo_burst;
	bool echo_enabled;          /* answer echo requests (default true) */
};
/* Defaults: errors 1000/s with a burst of 50, echo unlimited. */
void icmp_config_get(struct icmp_config *out);
void icmp_config_set(const struct icmp_config *c);

struct icmp_stats {
	uint64_t rx, echo_rx, echo_tx, err_rx;
	uint64_t err_tx;            /* errors sent */
	uint64_t err_suppressed;    /* by RFC 1122 rules (details: node reasons) */
	uint64_t rate_limited;      /* errors and replies held back by the limit */
	uint64_t tx_fail;           /* ip_output refused (no route, no buffers) */
};
void icmp_stats_get(struct icmp_stats *out, bool clear);

/* Clock for the rate limiter, replaceable by tests (NULL: sal_now_ns). */
void icmp_set_clock(uint64_t (*now_ns)(void));

#endif
