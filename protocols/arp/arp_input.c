/*
 * arp_input.c - ARP receive: validation, cache merge, answers (contract in
 * arp.h).  The one handler leaves through `bad` for every drop.
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/arp/arp.h"
#include "protocols/arp/arp_internal.h"
#include "protocols/arp/arp_wire.h"
#include "protocols/ether/ether.h"
#include "protocols/inet/inet.h"

static inline uint32_t get32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* Turns the request in p around into our reply and sends it: the buffer
 * is reused, so an answer costs no allocation.  Consumes p. */
static void answer(struct pkt *p, const struct ng_iface *ifp)
{
	if (!pkt_unshare(&p)) {
		ng_drop(&p, &arp_node, NG_DROP_NO_BUFFERS);
		return;
	}
	pkt_trim(p, ARP_LEN);   /* the Ethernet padding goes */
	struct arp_hdr *h = (void *)pkt_data(p);
	uint8_t asker_ip[4];
	struct ether_addr asker = ether_addr_from(h->sha);
	memcpy(asker_ip, h->spa, 4);
	ether_put16(h->op, ARP_OP_REPLY);
	memcpy(h->spa, h->tpa, 4);
	memcpy(h->sha, ifp->mac, ETHER_ADDR_LEN);
	memcpy(h->tpa, asker_ip, 4);
	memcpy(h->tha, asker.b, ETHER_ADDR_LEN);
	arp_st.replies_tx++;
	ether_send(p, ifp->index, asker, ETHER_TYPE_ARP);
}

/* The Ether_PacketArrived handler for EtherType 0x0806.  Data start at the
 * Ethernet header.  Consumes p. */
void arp_input(void *closure, struct pkt *p)
{
	(void)closure;
	unsigned reason;
	ng_enter(&arp_node, p);
	if (!pkt_pull(p, p->l2_len) || !pkt_contig(p, ARP_FIXED_LEN)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	pkt_set_l3(p);
	const struct arp_hdr *h = (const void *)pkt_data(p);
	if (ether_get16(h->htype) != ARP_HTYPE_ETHER) {
		reason = ARP_DROP_BAD_HTYPE;
		goto bad;
	}
	if (ether_get16(h->ptype) != ETHER_TYPE_IPV4) {
		reason = ARP_DROP_BAD_PTYPE;
		goto bad;
	}
	if (h->hlen != ETHER_ADDR_LEN || h->plen != 4) {
		reason = ARP_DROP_BAD_LEN;
		goto bad;
	}
	if (!pkt_contig(p, ARP_LEN)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	h = (const void *)pkt_data(p);
	uint16_t op = ether_get16(h->op);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
		reason = ARP_DROP_BAD_OP;
		goto bad;
	}
	if (ether_is_group(h->sha) || ether_is_zero(h->sha)) {
		reason = ARP_DROP_BAD_SHA;
		goto bad;
	}
	uint32_t spa = get32(h->spa), tpa = get32(h->tpa);
	if (spa == 0xffffffffu || (spa >> 28) == 0xe) {
		reason = ARP_DROP_BAD_SPA;
		goto bad;
	}
	uint16_t ifindex = p->ifindex;
	const struct ng_iface *ifp = ng_iface_get(ifindex);
	if (!ifp) {
		reason = NG_DROP_NO_IFACE;
		goto bad;
	}
	if (spa != 0 && inet_addr_is_local(ifindex, spa)) {
		SAL_LOG_ONCE(SAL_LOG_WARN,
			     "arp: %s: station %02x:%02x:%02x:%02x:%02x:%02x claims our address "
			     "%u.%u.%u.%u", ifp->name, h->sha[0], h->sha[1], h->sha[2], h->sha[3],
			     h->sha[4], h->sha[5], spa >> 24, (spa >> 16) & 0xff, (spa >> 8) & 0xff,
			     spa & 0xff);
		reason = ARP_DROP_CONFLICT;
		goto bad;
	}
	bool for_us = inet_addr_is_local(ifindex, tpa);
	if (spa == tpa)
		arp_st.gratuitous_rx++;
	/* A probe (sender 0.0.0.0, RFC 5227) teaches nothing. */
	if (spa != 0)
		arp_learn(ifindex, spa, h->sha, for_us, for_us && op == ARP_OP_REPLY);

	if (op == ARP_OP_REQUEST) {
		arp_st.requests_rx++;
		if (for_us) {
			answer(p, ifp);
			ng_leave(&arp_node);
			return;
		}
	} else {
		arp_st.replies_rx++;
	}
	if (!for_us)
		arp_st.ignored_rx++;
	pkt_free(p);
	ng_leave(&arp_node);
	return;
bad:
	ng_drop(&p, &arp_node, reason);
	ng_leave(&arp_node);
}
