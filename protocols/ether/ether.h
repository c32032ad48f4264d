/*
 * ether.h - the Ethernet layer: Ethernet II in and out, 802.1Q, and the
 * address filter of each interface.
 *
 * Input.  Ether installs one unguarded handler on Link_PacketArrived
 * (netgraph/graph.h).  For each frame it
 *   - checks the header is there (drop "short"), the type field is an
 *     EtherType (drop "not_ether_ii") and the source is not a group
 *     address (drop "bad_src");
 *   - strips one 802.1Q tag: the tag's 4 bytes are taken out of the frame
 *     (the addresses move forward), the tag control word is kept in
 *     p->vlan_tci and PKT_F_VLAN is set.  Every VLAN id is accepted; a
 *     second tag (802.1ad) is dropped ("vlan_nested").  A PKT_CSUM_PARTIAL
 *     csum_start moves with the data;
 *   - filters on the destination: the interface's own address and
 *     broadcast pass; a multicast address passes if the interface joined
 *     its group (ether_mcast_join) or is all-multicast; anything else is
 *     dropped ("other_host", "mcast_filtered") unless the interface is
 *     promiscuous, in which case it passes with PKT_F_OTHERHOST set
 *     (upper layers decide; IP drops or forwards them).  PKT_F_BCAST /
 *     PKT_F_MCAST say how a frame was addressed;
 *   - sets p->l2_off and p->l2_len (always ETHER_HDR_LEN, the tag being
 *     gone) and raises Ether_PacketArrived(p) with the data start at the
 *     Ethernet header.
 * Upper layers install on Ether_PacketArrived with a declarative guard on
 * the EtherType:
 *     static const struct disp_term ip_terms[] = {
 *             DISP_HDR_EQ(ETHER_OFF_TYPE, 2, ETHER_TYPE_IPV4)};
 * and the handler that takes the packet consumes it and pulls p->l2_len
 * bytes itself.  A frame no binding takes is dropped on the ether node as
 * "no_handler" (an unknown EtherType).
 *
 * Output.  Ether_SendPacket(p, dst, type) prepends the Ethernet header (the
 * source is the interface's address; p->ifindex names the interface) and
 * hands the frame to ng_iface_send.  The data start is the payload (the
 * L3 header).  If p carries PKT_F_VLAN (e.g. a reply built in the buffer
 * of a tagged request) a tag with p->vlan_tci is inserted.  Frames are not
 * padded to 60 bytes (the host back ends do not need it).  A
 * PKT_CSUM_PARTIAL packet's csum_start/csum_offset count from the start of
 * an untagged Ethernet header; ether adds 4 when it inserts a tag.
 * ether_send() is the convenient form.  Consumes p always.
 *
 * Cost: input is about a dozen loads and compares on the common path (own
 * unicast address, no tag); output is one pkt_push and 14 byte stores.
 * Neither allocates or locks.
 *
 * Filter state (promiscuity, joined groups) is per interface, read
 * lock-free by the packet path and changed by control calls from any
 * thread.
 */
#ifndef SPIN_ETHER_H
#define SPIN_ETHER_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/ether/ether_wire.h"

extern const struct spin_module ether_module;  /* "ether" */
extern const struct ng_node ether_node;        /* "ether" */

enum ether_drop {
	ETHER_DROP__BASE = NG_DROP_COMMON - 1,
#define NG_DROP_X(id, name, text) ETHER_DROP_##id,
#include "protocols/ether/ether_drop.def"
#undef NG_DROP_X
	ETHER_DROP__END
};

/* A frame for this host arrived; data start at the Ethernet header. */
SPIN_EVENT_DECLARE_VOID(Ether_PacketArrived, (struct pkt *, p))
/* Send p (data start at the payload) to dst with EtherType type out of
 * interface p->ifindex.  Consumes p. */
SPIN_EVENT_DECLARE_VOID(Ether_SendPacket, (struct pkt *, p), (struct ether_addr, dst),
			(uint16_t, type))

static inline void ether_send(struct pkt *p, uint16_t ifindex, struct ether_addr dst,
			      uint16_t type)
{
	p->ifindex = ifindex;
	Ether_SendPacket_raise(p, dst, type);
}

/* --- control path ---------------------------------------------------------- */
enum ether_err {
	ETHER_OK = 0,
	ETHER_EINVAL,   /* bad ifindex, or not a multicast address */
	ETHER_EFULL,    /* ETHER_MCAST_MAX groups joined already */
	ETHER_ENOENT,   /* group not joined */
};
#define ETHER_MCAST_MAX 16      /* groups per interface */

/* Joins a multicast group on ifindex; joins are counted, so two joins need
 * two leaves. */
int ether_mcast_join(uint16_t ifindex, struct ether_addr group);
int ether_mcast_leave(uint16_t ifindex, struct ether_addr group);
bool ether_mcast_joined(uint16_t ifindex, struct ether_addr group);
/* Receive every multicast frame on ifindex. */
int ether_set_allmulti(uint16_t ifindex, bool on);
/* Receive frames for other stations too (marked PKT_F_OTHERHOST). */
int ether_set_promisc(uint16_t ifindex, bool on);
bool ether_promisc(uint16_t ifindex);
/* Forgets every filter setting of ifindex (the interface went away). */
void ether_iface_reset(uint16_t ifindex);
const char *ether_strerror(int err);

#endif
