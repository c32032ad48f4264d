/*
 * ip.h - IPv4 (RFC 791, RFC 1122, RFC 1812): input validation, local
 * delivery, reassembly, routing, output with fragmentation, forwarding.
 *
 * Graph:
 *   Ether_PacketArrived --[ethertype == 0x0800]--> ip input
 *     validate -> ours?  reassemble if a fragment -> IP_PacketArrived
 *              -> not ours, forwarding on -> TTL, route, MTU -> output
 *   IP_SendPacket (primary: ip_output) -> route, source, fragment
 *     -> arp_output (protocols/arp/arp.h) -> Ether -> Link
 *
 * IP_PacketArrived(p): data start at the IPv4 header, which is valid and
 * contiguous in the first segment with its options; p->l3_off marks it;
 * the packet is trimmed to the header's total length (link padding gone);
 * a reassembled datagram arrives whole (a chain of segments, its header
 * rewritten with no fragment bits).  Upper layers install with a guard on
 * the protocol field (DISP_HDR_EQ(IP_OFF_PROTO, 1, proto)); the handler
 * consumes p and pulls the header itself (ip_hdr_len of it).  When nobody
 * takes a packet the default handler sends protocol unreachable (icmp) and
 * counts `no_proto`.
 *
 * IP_SendPacket(p, dst, proto, opt): data start at the transport header;
 * IP pushes its header into the headroom, routes, fills the source, and
 * fragments when the packet is larger than the egress MTU.  Consumes p.
 * Returns IP_OUT_OK when the packet (or all its fragments) went to the
 * link layer (ARP may still queue it), or why not (the packet is then
 * dropped and counted on the ip node); IP_OUT_MSGSIZE is the local
 * sender's "fragmentation needed" for DF packets.  A PKT_CSUM_PARTIAL
 * packet is completed before it is fragmented.  A PKT_GSO_TCPV4 packet
 * (netgraph/pkt.h) is never fragmented: it goes down whole to a TSO
 * interface, or is cut into TCP segments here (ip_output.c).
 *
 * Addresses are host-order uint32_t (IP_ADDR(198,18,0,1)).
 *
 * Concurrency: input, output and reassembly run on the packet run loop
 * (one loop owns the reassembly slots in this issue); routes and config
 * are control-path calls from any thread, published RCU-style, so the
 * packet path never locks and never allocates from the heap.
 */
#ifndef SPIN_IP_H
#define SPIN_IP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/ip/ip_wire.h"

#define ETHERTYPE_IPV4 0x0800u

/* Drop reasons of the ip node (names in ip_drop.def). */
enum ip_drop {
	IP_DROP__BASE = NG_DROP_COMMON - 1,
#define NG_DROP_X(id, name, text) IP_DROP_##id,
#include "protocols/ip/ip_drop.def"
#undef NG_DROP_X
	IP_DROP__END
};

extern const struct spin_module ip_module;   /* "ip" */
extern const struct ng_node ip_node;         /* "ip" */

/* Control-path results. */
enum ip_err { IP_OK = 0, IP_EINVAL, IP_ENOMEM, IP_EEXIST, IP_ENOENT };
const char *ip_strerror(int err);

/* Output results (data path: informational, the drop is already counted). */
enum ip_out {
	IP_OUT_OK = 0,
	IP_OUT_NOROUTE,     /* no route, or the route's interface is gone */
	IP_OUT_NOSRC,       /* the egress interface has no address */
	IP_OUT_MSGSIZE,     /* DF set and larger than the egress MTU */
	IP_OUT_NOBUFS,      /* out of buffers (fragmenting, pushing) */
	IP_OUT_INVAL,       /* too long for IPv4, or a bad argument */
};

/* Options of one send; NULL means all defaults. */
struct ip_send_opts {
	uint32_t src;       /* 0: the egress interface's address */
	uint8_t ttl;        /* 0: the configured default (64) */
	uint8_t tos;
	bool df;            /* set Don't Fragment: too big -> IP_OUT_MSGSIZE */
	uint16_t ifindex;   /* nonzero: send out of this interface, next hop
			     * = dst unless a route there says otherwise
			     * (limited broadcast, replies on-link) */
	uint16_t id;        /* identification; 0: the next from the counter */
};

SPIN_EVENT_DECLARE_VOID(IP_PacketArrived, (struct pkt *, p))
SPIN_EVENT_DECLARE(IP_SendPacket, int, (struct pkt *, p), (uint32_t, dst), (uint8_t, proto),
		   (const struct ip_send_opts *, opt))

/* The primary handler of IP_SendPacket, callable directly by code that does
 * not need interposition.  Consumes *pp; returns enum ip_out. */
int ip_output(struct pkt **pp, uint32_t dst, uint8_t proto, const struct ip_send_opts *opt);

/* --- routing -------------------------------------------------------------------
 * Longest-prefix match over a sorted prefix table published RCU-style.
 * A route with gateway 0 is on-link (the destination is the next hop).
 * The default gateway is the route 0.0.0.0/0.  Connected subnets need no
 * route: output also consults the subnets of the interfaces' addresses
 * (protocols/inet), which win when their prefix is at least as long. */
struct ip_route {
	uint32_t prefix;    /* host order, no bits past plen */
	uint8_t plen;       /* 0..32 */
	uint8_t flags;      /* reserved, 0 */
	uint16_t ifindex;   /* egress interface (required for on-link routes;
			     * 0 with a gateway: the interface whose subnet
			     * holds the gateway) */
	uint32_t gateway;   /* next hop, or 0 for on-link */
	uint32_t src;       /* preferred source, 0: the interface's address */
	uint32_t mtu;       /* path MTU for this route, 0: the interface's */
};
int ip_route_add(const struct ip_route *r);
int ip_route_del(uint32_t prefix, unsigned plen);
/* Replaces the whole table in one publish (reload). */
int ip_route_replace_all(const struct ip_route *r, unsigned n);
void ip_route_flush(void);
/* Copies up to max routes, longest prefix first; returns how many exist. */
unsigned ip_route_list(struct ip_route *out, unsigned max);
/* Packet path: the best route for dst or NULL.  The pointer stays valid
 * until the calling run loop's next quiescent state (the end of the current
 * packet's processing). */
const struct ip_route *ip_route_lookup(uint32_t dst);

/* --- configuration -------------------------------------------------------------- */
struct ip_config {
	bool forwarding;            /* route packets not addressed to us */
	uint8_t default_ttl;        /* 64 */
	uint32_t reass_timeout_ms;  /* 30000 */
	uint32_t reass_mem_max;     /* bytes of buffers held, all sources */
	uint32_t reass_src_max;     /* bytes of buffers held for one source */
	uint32_t reass_min_frag;    /* smallest payload of a non-last fragment */
};
/* Defaults: forwarding off, TTL 64, 30 s, 4 MiB total, 1 MiB per source,
 * 32-byte minimum fragment. */
void ip_config_get(struct ip_config *out);
int ip_config_set(const struct ip_config *c);

/* Statistics that are not drops (drops are the node's reasons). */
struct ip_stats {
	uint64_t rx, delivered, forwarded, tx, frag_created, frags_rx;
	uint64_t reassembled, reass_held;  /* reass_held: fragments held now */
	uint64_t reass_bytes;              /* buffer bytes held now */
	uint64_t gso_tx;                   /* GSO packets handed down whole (TSO) */
	uint64_t gso_sw_segs;              /* segments cut in software from GSO packets */
};
void ip_stats_get(struct ip_stats *out, bool clear);

/* --- reassembly control (tests, spin ctl) ---------------------------------------- */
#define IP_REASS_SLOTS 64           /* datagrams being reassembled at once */
#define IP_REASS_MAX_FRAGS 128      /* fragments held per datagram */
/* Expires every datagram older than the timeout as of now_ns (the periodic
 * timer calls it); returns how many expired. */
unsigned ip_reass_expire(uint64_t now_ns);
/* Drops everything held (module stop, tests). */
void ip_reass_flush(void);
/* Clock for reassembly timeouts, replaceable by tests (NULL: sal_now_ns). */
void ip_set_clock(uint64_t (*now_ns)(void));

/* Header helpers shared with icmp. */
/* The header checksum over hlen bytes at h (result to store, not inverted
 * twice: a valid header sums to 0). */
uint16_t ip_hdr_csum(const void *h, unsigned hlen);
/* RFC 1624 incremental update of a stored checksum when a 16-bit word
 * changes from old to new. */
static inline uint16_t ip_csum_update16(uint16_t csum, uint16_t old, uint16_t new_)
{
	uint32_t s = (uint16_t)~csum + (uint16_t)~old + (uint32_t)new_;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#endif
