/*
 * ether_output.c - Ethernet II send: the primary handler of
 * Ether_SendPacket (contract in ether.h).
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/ether/ether.h"
#include "protocols/ether/ether_internal.h"

/* Room for n header bytes in front of p: a shared first segment (a clone
 * for multicast) is made private first.  NULL when there is no headroom or
 * no buffer; *reason says which. */
static uint8_t *push_room(struct pkt **pp, uint32_t n, unsigned *reason)
{
	uint8_t *h = pkt_push(*pp, n);
	if (h)
		return h;
	if (pkt_is_shared(*pp)) {
		if (!pkt_unshare(pp)) {
			*reason = NG_DROP_NO_BUFFERS;
			return NULL;
		}
		h = pkt_push(*pp, n);
		if (h)
			return h;
	}
	*reason = ETHER_DROP_NO_HEADROOM;
	return NULL;
}

void ether_output(void *closure, struct pkt *p, struct ether_addr dst, uint16_t type)
{
	(void)closure;
	unsigned reason = 0;
	ng_enter_tx(&ether_node, p);
	const struct ng_iface *ifp = ng_iface_get(p->ifindex);
	if (!ifp) {
		reason = NG_DROP_NO_IFACE;
		goto bad;
	}
	bool tagged = (p->flags & PKT_F_VLAN) != 0;
	uint32_t hlen = ETHER_HDR_LEN + (tagged ? ETHER_VLAN_LEN : 0);
	uint8_t *h = push_room(&p, hlen, &reason);
	if (!h)
		goto bad;
	memcpy(h, dst.b, ETHER_ADDR_LEN);
	memcpy(h + ETHER_ADDR_LEN, ifp->mac, ETHER_ADDR_LEN);
	if (tagged) {
		struct ether_vlan_tag *tag = (void *)(h + 2 * ETHER_ADDR_LEN);
		ether_put16(tag->tpid, ETHER_TYPE_VLAN);
		ether_put16(tag->tci, p->vlan_tci);
		ether_put16(tag->type, type);
		if (p->csum == PKT_CSUM_PARTIAL)
			p->csum_start += ETHER_VLAN_LEN;
	} else {
		ether_put16(h + ETHER_OFF_TYPE, type);
	}
	pkt_set_l2(p);
	p->l2_len = (uint8_t)hlen;
	ng_leave(&ether_node);
	ng_iface_send(p);
	return;
bad:
	ng_drop(&p, &ether_node, reason);
	ng_leave(&ether_node);
}
