/*
 * udp.h - UDP over IPv4 (RFC 768, RFC 1122 4.1).
 *
 * Synopsis.  The udp node installs its input on IP_PacketArrived with the
 * declarative guard protocol == 17 (ip header offset 9, width 1).  Input
 * checks the UDP length against the IP payload, verifies the checksum with
 * the pseudo-header (a PKT_CSUM_PARTIAL or PKT_CSUM_VERIFIED packet is
 * accepted without summing; a zero checksum field means "none sent"), pulls
 * the IP header and raises UDP_PacketArrived with the data start at the UDP
 * header (p->l3_off marks the IP header, p->l4_off the UDP header).
 *
 * Port demux.  A service installs on UDP_PacketArrived with a guard on the
 * destination port, built by udp_port_term (header offset 2, width 2).  The
 * dispatcher compiles all port guards into one demux, so 1 or 5,000 bound
 * ports cost about the same.  When no binding takes a datagram, the
 * event's default handler sends ICMP port unreachable through icmp_error_at
 * (which applies RFC 1122's rules: nothing for broadcast destinations) and
 * counts the drop as `port_unreach` on the udp node.
 *
 * Ownership.  A UDP_PacketArrived handler consumes its packet (netgraph/
 * graph.h).  It finds the sender in the headers that are still in front of
 * the data: udp_peer() reads them.
 *
 * Send.  udp_send(p, ifindex, src, sport, dst, dport) sends p's data (the
 * data start is the first payload byte) as one datagram and consumes p,
 * always.  It raises UDP_SendPacket, whose primary handler pushes the UDP
 * header in p's headroom (no copy: a service may answer in the request's
 * own buffer), writes the full checksum in software (the packet leaves with
 * csum NONE, whatever state it arrived in), and hands the datagram to
 * ip_output.  ifindex 0 lets the route choose the interface; src 0 takes
 * the egress interface's address.  Failures are counted drops on the udp
 * node (`too_big`, `no_src`, `no_buffers`) or on the ip node.
 *
 * Addresses and ports in this API are host order.
 *
 * Cost (one core, 16-byte payload): input ~15 ns plus the checksum when not
 * offloaded (~1 ns per 16 bytes); send ~20 ns plus ip_output.
 *
 * Concurrency: per-packet functions take no lock and allocate nothing.
 */
#ifndef SPIN_UDP_H
#define SPIN_UDP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/udp/udp_wire.h"

/* Drop reasons of the udp node (names and texts in udp_drop.def). */
enum udp_drop {
	UDP_DROP__BASE = NG_DROP_COMMON - 1,
#define NG_DROP_X(id, name, text) UDP_DROP_##id,
#include "protocols/udp/udp_drop.def"
#undef NG_DROP_X
	UDP_DROP__END
};

extern const struct spin_module udp_module;  /* "udp" */
extern const struct ng_node udp_node;        /* "udp" */
extern const struct spin_interface udp_interface; /* "udp" 1.0: the two events */

/* A valid datagram for one of our addresses: data start at the UDP header.
 * Guard on the destination port with udp_port_term. */
SPIN_EVENT_DECLARE_VOID(UDP_PacketArrived, (struct pkt *, p))

/* Send a datagram: p's data is the payload.  Primary handler: the udp
 * node's output (see above).  An extension may interpose (DISP_FIRST to
 * observe, DISP_CANCEL to replace); whoever runs last consumes p. */
SPIN_EVENT_DECLARE_VOID(UDP_SendPacket, (struct pkt *, p), (uint16_t, ifindex),
			(uint32_t, src), (uint16_t, sport), (uint32_t, dst), (uint16_t, dport))

static inline void udp_send(struct pkt *p, uint16_t ifindex, uint32_t src, uint16_t sport,
			    uint32_t dst, uint16_t dport)
{
	UDP_SendPacket_raise(p, ifindex, src, sport, dst, dport);
}

/* The declarative guard term "destination port == port". */
static inline struct disp_term udp_port_term(uint16_t port)
{
	return (struct disp_term)DISP_HDR_EQ(UDP_OFF_DPORT, 2, port);
}

/* Who sent a datagram, read from a UDP_PacketArrived packet (data start at
 * the UDP header, l3_off at the IP header).  Borrows p. */
struct udp_peer {
	uint32_t src, dst;      /* IP source (the peer) and destination (us) */
	uint16_t sport, dport;
	uint16_t len;           /* UDP length, header included */
	uint16_t ifindex;
};
void udp_peer(const struct pkt *p, struct udp_peer *out);

/* Sum of the pseudo-header (src, dst, protocol 17, len), folded, not
 * inverted: add it to the sum over the UDP header and payload. */
uint32_t udp_pseudo_sum(uint32_t src, uint32_t dst, uint16_t len);

#endif
