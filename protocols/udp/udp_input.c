/*
 * udp_input.c - datagrams up: IP_PacketArrived (protocol 17) ->
 * UDP_PacketArrived (guard: destination port) -> a service, or port
 * unreachable.
 *
 * Every way out of udp_input either raises UDP_PacketArrived (which
 * consumes the packet) or drops it on the udp node with a reason.
 */
#include "protocols/udp/udp.h"
#include "protocols/udp/udp_private.h"

#include "kernel/sal/sal.h"
#include "protocols/icmp/icmp.h"
#include "protocols/ip/ip.h"

uint32_t udp_pseudo_sum(uint32_t src, uint32_t dst, uint16_t len)
{
	uint8_t ph[12];

	ip_put32(ph, src);
	ip_put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = IP_PROTO_UDP;
	ip_put16(ph + 10, len);
	return csum_add(0, ph, sizeof ph);
}

/* The handler on IP_PacketArrived: consumes p.  Data start at the IPv4
 * header, which IP validated and made contiguous; the packet is trimmed to
 * the IP total length, so the IP payload is everything after the header. */
void udp_input(void *closure, struct pkt *p)
{
	(void)closure;
	const struct ip_hdr *ih;
	const struct udp_hdr *uh;
	unsigned ihl;
	uint32_t payload, src, dst;
	uint16_t ulen;
	unsigned reason;

	ng_enter(&udp_node, p);
	ih = (const struct ip_hdr *)pkt_data(p);
	ihl = ip_hdr_len(ih);
	if (!pkt_contig(p, ihl + UDP_HDR_LEN)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	ih = (const struct ip_hdr *)pkt_data(p);
	src = ip_src(ih);
	dst = ip_dst(ih);
	payload = pkt_len(p) - ihl;
	uh = (const struct udp_hdr *)(pkt_data(p) + ihl);
	ulen = ip_get16(uh->len);
	if (ulen < UDP_HDR_LEN) {
		reason = UDP_DROP_BAD_LEN;
		goto bad;
	}
	if (ulen != payload) {
		reason = UDP_DROP_LEN_MISMATCH;
		goto bad;
	}
	pkt_pull(p, ihl);
	pkt_set_l4(p);
	/* A partial packet comes from a local sender (a veth or TAP peer)
	 * whose device would have finished the sum: nothing to verify.  A zero
	 * field means the sender computed none (RFC 768). */
	if (p->csum == PKT_CSUM_NONE && (uh->csum[0] | uh->csum[1])) {
		uint32_t sum = pkt_csum_partial(p, 0, ulen, udp_pseudo_sum(src, dst, ulen));

		if (csum_fold(sum) != 0) {
			reason = NG_DROP_BAD_CSUM;
			goto bad;
		}
	}
	UDP_PacketArrived_raise(p);
	ng_leave(&udp_node);
	return;
bad:
	ng_drop(&p, &udp_node, reason);
	ng_leave(&udp_node);
}

/* UDP_PacketArrived's default handler: no service took the datagram.
 * icmp_error_at sends port unreachable when RFC 1122 allows it (not for a
 * broadcast or multicast destination) and counts the drop as
 * `port_unreach` on the udp node either way. */
void udp_unreach(struct pkt *p)
{
	icmp_error_at(&p, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, &udp_node,
		      UDP_DROP_PORT_UNREACH);
}

void udp_peer(const struct pkt *p, struct udp_peer *out)
{
	const struct ip_hdr *ih = (const struct ip_hdr *)(p->buf + p->l3_off);
	const struct udp_hdr *uh = (const struct udp_hdr *)(p->buf + p->l4_off);

	out->src = ip_src(ih);
	out->dst = ip_dst(ih);
	out->sport = ip_get16(uh->sport);
	out->dport = ip_get16(uh->dport);
	out->len = ip_get16(uh->len);
	out->ifindex = p->ifindex;
}
