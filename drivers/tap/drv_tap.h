/*
 * drv_tap.h - TAP device driver (Linux /dev/net/tun, IFF_TAP, vnet header).
 *
 * The TAP is a wire whose other end is the Linux stack: Linux sees the TAP
 * interface (ifname) as an Ethernet device, spin is the machine at the far
 * end with its own MAC.  The file is opened with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR and checksum offload on (TUNSETOFFLOAD TUN_F_CSUM; with tso
 * also TUN_F_TSO4 | TUN_F_TSO6, otherwise frames are never larger than the
 * MTU):
 *   receive: a frame Linux sent with its checksum unfinished comes with
 *     NEEDS_CSUM and becomes PKT_CSUM_PARTIAL (csum_start, csum_offset);
 *     DATA_VALID becomes PKT_CSUM_VERIFIED.
 *   send: a PKT_CSUM_PARTIAL packet goes out with NEEDS_CSUM and Linux
 *     finishes (or, delivering locally, trusts) it; tx_csum_offload is true.
 *     With sw_csum set, the driver finishes checksums itself and Linux
 *     verifies every frame (tests use this to prove the sums right).
 *   gso: the sending half of tso below: GSO packets out (Linux delivers
 *     them whole or cuts them), frames that fit the MTU in.
 *   tso: the interface gets gso_max and a pool of large buffers (netgraph/
 *     iface.h).  A PKT_GSO_TCPV4 packet goes out as one write with the
 *     vnet header's GSO fields and Linux cuts it (tx_gso); Linux hands
 *     over its TCP super-segments (its TSO sends, GRO-coalesced frames) of
 *     up to 64 KiB, read into a pool buffer plus a large buffer chained
 *     behind it, and they arrive with gso_type/gso_size set (rx_gso).
 *
 * Receive cost: one read() per frame, straight into a pool buffer (the vnet
 * header lands in a stack struct; frames longer than the buffer continue in
 * a large buffer with tso, otherwise they spill into a per-device overflow
 * area and are copied into chained buffers).
 * Send cost: one writev() per frame over the packet's segments, no copy.
 *
 * The TAP is created if absent, or attached to if it exists (ip tuntap add
 * ... mode tap); open it in the network namespace it should live in.  A
 * TAP that spin created vanishes when it is closed.
 */
#ifndef SPIN_DRV_TAP_H
#define SPIN_DRV_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/drv.h"

struct pkt_pool;
struct exec_loop;
struct ng_iface;

struct drv_tap_config {
	const char *ifname;   /* Linux name of the TAP (required) */
	const char *name;     /* spin's name for it; NULL: ifname */
	uint8_t mac[6];       /* spin's MAC; all zero: random, locally administered */
	uint32_t mtu;         /* 0: the TAP's MTU */
	bool sw_csum;         /* finish checksums in software, no TX offload */
	bool tso;             /* segmentation offloads both ways (not with sw_csum) */
	bool gso;             /* the sending half of tso alone (not with sw_csum) */
};

enum drv_err drv_tap_open(const struct drv_tap_config *cfg, struct pkt_pool *pool,
			  struct exec_loop *loop, struct ng_iface **out);

/* Driver counters beyond struct ng_iface_stats. */
struct drv_tap_stats {
	uint64_t rx_csum_partial, rx_csum_verified, rx_bad_vnet, rx_nobuf, rx_spill;
	uint64_t tx_csum_offloaded, tx_csum_sw;
	uint64_t tx_bad_gso;  /* GSO packets refused (not partial, bad header) */
};
void drv_tap_stats(const struct ng_iface *ifp, struct drv_tap_stats *out);

#endif
