/*
 * drv_afpacket.h - AF_PACKET driver on an existing Linux interface (a veth
 * end, a NIC): spin takes the interface over from the Linux stack.
 *
 * Two modes:
 *   DRV_AFP_LATENCY (default): TPACKET_V2 receive ring, mmapped.  The kernel
 *     hands each frame over as soon as it is written to its slot, so the
 *     poller (and a blocked loop, woken through the socket) sees it at once.
 *     PACKET_VNET_HDR is on, so each frame comes with a virtio-net header
 *     that says exactly where an unfinished checksum starts and where it
 *     goes (csum_start, csum_offset); the ring status bits
 *     TP_STATUS_CSUMNOTREADY / TP_STATUS_CSUM_VALID say the same coarser.
 *     Send goes through a second, send-only socket outside the loop's wait
 *     set: single-buffer frames in sendmmsg batches, a chained one with its
 *     own sendmsg (vnet header + the packet's segments, no copy), with
 *     PACKET_QDISC_BYPASS unless tso or gso is on; a partial checksum goes
 *     to Linux with NEEDS_CSUM and tx_csum_offload is true (sw_csum turns
 *     that off).
 *   DRV_AFP_CAPTURE: TPACKET_V3 receive ring.  V3 hands a whole block to user
 *     space only when the block is full or its timeout (>= 1 ms) expires: a
 *     frame can wait that long, so this mode is for capture and throughput,
 *     NOT for latency.  V3 carries no vnet header: TP_STATUS_CSUMNOTREADY
 *     frames have their checksum located by parsing the frame
 *     (drv_csum_locate: IPv4/IPv6, TCP offset 16, UDP offset 6), and
 *     checksums are finished in software on send (tx_csum_offload false).
 *
 * Receive cost: one copy per frame from the ring slot into a pool buffer
 * (the ring is the kernel's memory, not a pool, so it cannot be lent to the
 * graph).  A frame tagged by VLAN acceleration gets its tag put back.
 *
 * Keeping Linux quiet (unless no_quiet): before the socket binds, the
 * interface loses its IPv4 addresses, gets IPv6 disabled and arp_ignore 8,
 * so Linux never answers beside spin.  PACKET_IGNORE_OUTGOING keeps spin's
 * own transmissions out of its receive ring.  promisc adds a promiscuous
 * membership (needed on real NICs for frames to other MACs; veth delivers
 * everything anyway).  The interface is not brought up: that stays the
 * caller's (ip link set IF up).
 *
 * Frames larger than a ring slot (GSO super-frames from a veth peer with TSO
 * on) are dropped and counted as truncated; turn TSO/GSO off on the peer,
 * raise frame_size, or turn tso on.
 *
 * gso (LATENCY mode): the sending half of tso below, with standard ring
 * slots: spin sends GSO packets and Linux cuts them, in the device if it
 * has TSO, in software (validate_xmit_skb) if not, as it cuts its own
 * TCP's; frames are sent through the device's queue path for that (the
 * qdisc bypass drops a frame that needs cutting).  Receiving is as without.
 *
 * tso (LATENCY mode): the interface gets gso_max and a pool of large
 * buffers (netgraph/iface.h).  Ring slots hold 64 KiB frames (240 slots,
 * 15 to a 1 MiB block, unless ring_frames/frame_size say otherwise), so a
 * veth peer's TSO sends and GRO-coalesced frames arrive whole, with the
 * vnet header's GSO fields (rx_gso); each is copied into one large buffer.
 * A PKT_GSO_TCPV4 packet is sent with one sendmsg whose vnet header asks
 * Linux to cut it (tx_gso); the packet socket's send path (packet_snd)
 * accepts that on every kernel with PACKET_VNET_HDR.  The TX ring is not
 * used.
 */
#ifndef SPIN_DRV_AFPACKET_H
#define SPIN_DRV_AFPACKET_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/drv.h"

struct pkt_pool;
struct exec_loop;
struct ng_iface;

enum drv_afp_mode { DRV_AFP_LATENCY = 0, DRV_AFP_CAPTURE };

struct drv_afp_config {
	const char *ifname;        /* Linux interface (required) */
	const char *name;          /* spin's name; NULL: ifname */
	enum drv_afp_mode mode;
	uint32_t ring_frames;      /* LATENCY: ring slots; 0: 1024 */
	uint32_t frame_size;       /* LATENCY: bytes per slot; 0: fits the MTU */
	uint32_t block_size;       /* CAPTURE: bytes per V3 block; 0: 1 MiB */
	uint32_t blocks;           /* CAPTURE: 0: 8 */
	uint32_t block_timeout_ms; /* CAPTURE: 0 or less than 1: 1 */
	bool promisc;
	bool no_quiet;             /* leave the interface's Linux config alone */
	bool sw_csum;              /* finish checksums in software on send */
	bool tso;                  /* LATENCY only, not with sw_csum: segmentation
				    * offloads both ways (see above) */
	bool gso;                  /* the sending half of tso alone (see above) */
};

enum drv_err drv_afp_open(const struct drv_afp_config *cfg, struct pkt_pool *pool,
			  struct exec_loop *loop, struct ng_iface **out);

struct drv_afp_stats {
	uint64_t rx_csum_partial, rx_csum_verified, rx_csum_unlocated;
	uint64_t rx_truncated, rx_nobuf, rx_vlan;
	uint64_t tx_csum_offloaded, tx_csum_sw;
	uint64_t tx_bad_gso;       /* GSO packets refused (not partial, bad header) */
	uint64_t tx_batches;       /* sendmmsg calls (frames queued by afp_xmit) */
	uint64_t ring_drops;       /* frames the kernel dropped: ring full */
};
/* Also reads the kernel's counters (PACKET_STATISTICS, which resets them;
 * the driver accumulates). */
void drv_afp_stats(struct ng_iface *ifp, struct drv_afp_stats *out);

#endif
