/*
 * drv_util.h - helpers shared by the hosted drivers (private to drivers/).
 *
 * Every driver's state starts with a struct drv_base, and ifp->drv points
 * at it, so drv_poller and drv_close work on any of them.
 */
#ifndef SPIN_DRV_UTIL_H
#define SPIN_DRV_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#include "drivers/drv.h"
#include "kernel/exec/exec.h"
#include "netgraph/iface.h"

struct pkt;

struct drv_base {
	struct ng_iface ifp;
	struct exec_poller poller;
	struct exec_loop *loop;     /* the poller is on it, or NULL */
	bool registered;
};

/* Fills the name fields: spin's name is name if given, else devname. */
enum drv_err drv_base_name(struct drv_base *b, const char *name, const char *devname);
/* Registers the interface and adds the poller to loop (if any). */
enum drv_err drv_base_attach(struct drv_base *b, struct exec_loop *loop);
/* Undoes drv_base_attach; safe on a base that was never attached. */
void drv_base_detach(struct drv_base *b);

/* errno to enum drv_err. */
enum drv_err drv_errno(int err);

/* --- virtio-net header (TAP and AF_PACKET with PACKET_VNET_HDR) ----------- */
/* Sets p's checksum and GSO state from the header that came with it:
 * NEEDS_CSUM -> PKT_CSUM_PARTIAL with csum_start/csum_offset (both from the
 * frame start), DATA_VALID -> PKT_CSUM_VERIFIED, otherwise NONE; a GSO type
 * (a frame the host coalesced: TCPV4, TCPV6, UDP_L4, the ECN bit ignored)
 * -> gso_type and gso_size.  Returns false (p left without checksum or GSO
 * state) when the header is inconsistent with the frame: the checksum field
 * would lie past its end, a GSO type we do not know (UFO), or a GSO frame
 * with gso_size 0.  The fields are in host byte order (legacy virtio, the
 * TAP and packet-socket default). */
bool drv_vnet_to_pkt(const struct virtio_net_hdr *h, struct pkt *p);
/* Fills h for sending p (data start at the L2 header): NEEDS_CSUM when p is
 * checksum partial (Linux then finishes it); for a PKT_GSO_TCPV4 packet
 * longer than one piece also GSO_TCPV4, gso_size and hdr_len (the bytes up
 * to the end of the TCP header), so Linux cuts it.  False when p claims GSO
 * but is not a partial TCP checksum with a readable TCP header: the caller
 * drops it. */
bool drv_vnet_from_pkt(const struct pkt *p, struct virtio_net_hdr *h);

/* Where the L4 checksum of a frame starts and where its result goes, found
 * by parsing Ethernet (with up to two VLAN tags), IPv4 or IPv6 (with the
 * common extension headers) and the L4 protocol: TCP puts its checksum at
 * 16, UDP at 6.  For devices that say "checksum not ready" without saying
 * where (TPACKET_V3, PACKET_AUXDATA).  false when the frame is not TCP or UDP
 * over IP, or is too short. */
bool drv_csum_locate(const uint8_t *frame, uint32_t len, uint16_t *start, uint16_t *offset);

/* Finishes a checksum-partial packet in software before a device without
 * offload sends it.  Copies shared data first.  false: out of buffers, or
 * the offsets are bad (the caller drops the packet). */
bool drv_csum_finish(struct pkt **pp);

/* The send-side counters drv_tx_prepare keeps; each driver's stats hold
 * fields of these names. */
struct drv_tx_counts {
	uint64_t *csum_sw, *csum_offloaded, *bad_gso;
};

/* What every vnet-header driver does to a frame before it sends it:
 * finishes a partial checksum in software when sw_csum (the device will
 * not), and, when vh is not NULL, fills the vnet header (counting GSO
 * packets in ifp's tx_gso).  false when the frame cannot be sent; *pp,
 * which the checksum may have replaced, is still the caller's to drop. */
bool drv_tx_prepare(struct ng_iface *ifp, struct pkt **pp, bool sw_csum,
		    struct virtio_net_hdr *vh, const struct drv_tx_counts *c);

/* The end of every xmit: counts p as sent (its pkt_len in tx_bytes) or as
 * dropped, frees it, and returns what ops->xmit returns (0 sent, -1
 * dropped).  Consumes p. */
int drv_xmit_done(struct ng_iface *ifp, struct pkt *p, bool sent);

/* --- TSO ----------------------------------------------------------------------- */
/* Buffers in a driver's GSO pool (PKT_BUF_GSO each, about 64 KiB): enough
 * for the super-segments in flight on send and the coalesced frames the
 * graph holds (TCP receive queues) at once. */
#define DRV_GSO_BUFS 256
/* The largest IP datagram a TSO device is given (ng_iface.gso_max). */
#define DRV_GSO_MAX 65535u
/* Creates the interface's GSO pool ("IFNAME.gso") and sets gso_max; the
 * driver frees it on close with drv_gso_fini (which keeps it instead when
 * some layer still holds a buffer of it).  Control path. */
enum drv_err drv_gso_init(struct ng_iface *ifp);
void drv_gso_fini(struct ng_iface *ifp);

/* --- Linux network devices ------------------------------------------------ */
int drv_netdev_index(const char *ifname);          /* 0 if none */
int drv_netdev_mac(const char *ifname, uint8_t mac[6]);
int drv_netdev_mtu(const char *ifname, uint32_t *mtu);
/* Keeps Linux from speaking on an interface spin owns: removes its IPv4
 * addresses, disables IPv6 on it, and makes it never answer ARP.  Returns 0
 * or a negative errno of the first step that failed. */
int drv_netdev_quiet(const char *ifname);
/* A random locally administered unicast MAC (02:xx:...). */
void drv_random_mac(uint8_t mac[6]);

#endif
