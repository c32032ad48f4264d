/*
 * ether_input.c - Ethernet II receive: validation, 802.1Q, address filter
 * (contract in ether.h).
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/ether/ether.h"
#include "protocols/ether/ether_internal.h"

/* Takes one 802.1Q tag out of the frame: the 12 address bytes move forward
 * over it, so the Ethernet header is contiguous and untagged afterwards.
 * Returns the drop reason, or 0 on success.  The packet may be replaced by
 * a private copy (pkt_unshare) when its data is shared. */
static unsigned vlan_strip(struct pkt **pp)
{
	if (!pkt_contig(*pp, ETHER_HDR_LEN + ETHER_VLAN_LEN))
		return NG_DROP_SHORT;
	if (!pkt_unshare(pp))
		return NG_DROP_NO_BUFFERS;
	struct pkt *p = *pp;
	uint8_t *d = pkt_data(p);
	const struct ether_vlan_tag *tag = (const void *)(d + 2 * ETHER_ADDR_LEN);
	uint16_t inner = ether_get16(tag->type);
	if (inner == ETHER_TYPE_VLAN || inner == ETHER_TYPE_QINQ)
		return ETHER_DROP_VLAN_NESTED;
	p->vlan_tci = ether_get16(tag->tci);
	memmove(d + ETHER_VLAN_LEN, d, 2 * ETHER_ADDR_LEN);
	pkt_pull(p, ETHER_VLAN_LEN);
	p->flags |= PKT_F_VLAN;
	if (p->csum == PKT_CSUM_PARTIAL && p->csum_start >= ETHER_HDR_LEN + ETHER_VLAN_LEN)
		p->csum_start -= ETHER_VLAN_LEN;
	return 0;
}

/* The Link_PacketArrived handler.  Consumes p: raises Ether_PacketArrived
 * with it or drops it with a reason. */
void ether_input(void *closure, struct pkt *p)
{
	(void)closure;
	unsigned reason;
	ng_enter(&ether_node, p);
	p->flags &= (uint8_t)~(PKT_F_BCAST | PKT_F_MCAST | PKT_F_OTHERHOST | PKT_F_VLAN);

	if (!pkt_contig(p, ETHER_HDR_LEN)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	const struct ether_hdr *eh = (const void *)pkt_data(p);
	uint16_t type = ether_get16(eh->type);
	if (type == ETHER_TYPE_VLAN) {
		reason = vlan_strip(&p);
		if (reason)
			goto bad;
		eh = (const void *)pkt_data(p);
		type = ether_get16(eh->type);
	} else if (type == ETHER_TYPE_QINQ) {
		reason = ETHER_DROP_VLAN_NESTED;
		goto bad;
	}
	if (type < ETHER_TYPE_MIN) {
		reason = ETHER_DROP_NOT_ETHER_II;
		goto bad;
	}
	if (ether_is_group(eh->src)) {
		reason = ETHER_DROP_BAD_SRC;
		goto bad;
	}

	const struct ng_iface *ifp = ng_iface_get(p->ifindex);
	if (!ifp) {
		reason = NG_DROP_NO_IFACE;
		goto bad;
	}
	const struct ether_ifstate *s = &ether_if[p->ifindex];
	if (ether_addr_eq(eh->dst, ifp->mac)) {
		/* The common case: nothing to mark. */
	} else if (ether_is_bcast(eh->dst)) {
		p->flags |= PKT_F_BCAST;
	} else if (ether_is_group(eh->dst)) {
		if (!ether_group_ok(s, eh->dst) &&
		    !atomic_load_explicit(&s->promisc, memory_order_relaxed)) {
			reason = ETHER_DROP_MCAST_FILTERED;
			goto bad;
		}
		p->flags |= PKT_F_MCAST;
	} else if (atomic_load_explicit(&s->promisc, memory_order_relaxed)) {
		p->flags |= PKT_F_OTHERHOST;
	} else {
		reason = ETHER_DROP_OTHER_HOST;
		goto bad;
	}

	pkt_set_l2(p);
	p->l2_len = ETHER_HDR_LEN;
	Ether_PacketArrived_raise(p);
	ng_leave(&ether_node);
	return;
bad:
	ng_drop(&p, &ether_node, reason);
	ng_leave(&ether_node);
}
