/*
 * udp_output.c - datagrams down: UDP_SendPacket (primary: udp_output) ->
 * IP_SendPacket.
 *
 * The UDP header goes into the packet's headroom, so a service that answers
 * in the request's buffer sends with no copy and no allocation.  The
 * checksum is always finished here in software: at this layer the frame's
 * start (where csum_start would count from) is not known yet, and for the
 * small datagrams this appliance answers the sum costs a few nanoseconds.
 */
#include "protocols/udp/udp.h"
#include "protocols/udp/udp_private.h"

#include "kernel/sal/sal.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"

/* The address of ours whose subnet holds ip, and its interface; 0 when
 * none does. */
static uint32_t onlink_any(uint32_t ip, uint16_t *ifindex)
{
	struct inet_ifaddr all[32];
	unsigned n = inet_addr_list(0, all, NG_ARRAY_LEN(all));

	if (n > NG_ARRAY_LEN(all))
		n = NG_ARRAY_LEN(all);
	for (unsigned i = 0; i < n; i++)
		if ((ip & ip_mask(all[i].plen)) == (all[i].addr & ip_mask(all[i].plen))) {
			*ifindex = all[i].ifindex;
			return all[i].addr;
		}
	return 0;
}

uint32_t udp_src_select(uint16_t *ifindex, uint32_t dst)
{
	struct inet_ifaddr a;
	const struct ip_route *r;
	uint32_t hop;

	if (*ifindex) {
		if (inet_addr_onlink(*ifindex, dst, &a) || inet_addr_primary(*ifindex, &a))
			return a.addr;
		return 0;
	}
	r = ip_route_lookup(dst);
	if (!r)
		return onlink_any(dst, ifindex);   /* a connected subnet */
	if (r->src)
		return r->src;
	hop = r->gateway ? r->gateway : dst;
	if (r->ifindex) {
		uint16_t oif = r->ifindex;
		return udp_src_select(&oif, hop);
	}
	/* A gateway route without an interface leaves by the interface whose
	 * subnet holds the gateway; IP finds it again, so ifindex stays 0. */
	uint16_t oif = 0;
	return onlink_any(hop, &oif);
}

void udp_output(void *closure, struct pkt *p, uint16_t ifindex, uint32_t src, uint16_t sport,
		uint32_t dst, uint16_t dport)
{
	(void)closure;
	struct udp_hdr *uh;
	uint32_t ulen = pkt_len(p) + UDP_HDR_LEN;
	unsigned reason;
	uint16_t c;

	ng_enter_tx(&udp_node, p);
	if (ulen > UDP_MAX_PAYLOAD + UDP_HDR_LEN) {
		reason = UDP_DROP_TOO_BIG;
		goto bad;
	}
	if (!src && !(src = udp_src_select(&ifindex, dst))) {
		reason = UDP_DROP_NO_SRC;
		goto bad;
	}
	/* A clone (trace, multicast) shares its first segment: writing the
	 * header needs private bytes.  Costs one walk when nothing is shared. */
	if (pkt_is_shared(p) && !pkt_unshare(&p)) {
		reason = NG_DROP_NO_BUFFERS;
		goto bad;
	}
	uh = (struct udp_hdr *)pkt_push(p, UDP_HDR_LEN);
	if (!uh) {
		reason = NG_DROP_NO_BUFFERS;
		goto bad;
	}
	pkt_set_l4(p);
	ip_put16(uh->sport, sport);
	ip_put16(uh->dport, dport);
	ip_put16(uh->len, (uint16_t)ulen);
	uh->csum[0] = uh->csum[1] = 0;
	c = csum_fold(pkt_csum_partial(p, 0, ulen, udp_pseudo_sum(src, dst, (uint16_t)ulen)));
	/* Zero on the wire means "no checksum"; the same value in ones'
	 * complement is all ones. */
	if (c == 0)
		c = 0xffff;
	ip_put16(uh->csum, c);
	p->csum = PKT_CSUM_NONE;

	struct ip_send_opts o = {.src = src, .ifindex = ifindex};
	ng_leave(&udp_node);
	IP_SendPacket_raise(p, dst, IP_PROTO_UDP, &o);
	return;
bad:
	ng_drop(&p, &udp_node, reason);
	ng_leave(&udp_node);
}
