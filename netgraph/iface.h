/*
 * iface.h - network interfaces: where drivers meet the graph.
 *
 * A driver fills a struct ng_iface (name, MAC, MTU, ops, its private state)
 * and registers it.  On receive it hands each frame to ng_iface_input, which
 * counts it and raises Link.PacketArrived (netgraph/graph.h) with the
 * frame's first byte (the Ethernet header) as the current data start.  On
 * send, the Link.SendPacket event's primary handler calls ops->xmit of the
 * interface named by p->ifindex.
 *
 * Ownership: ng_iface_input consumes its packet; ops->xmit consumes its
 * packet always (sends it, queues it, or drops and counts it).
 */
#ifndef SPIN_NG_IFACE_H
#define SPIN_NG_IFACE_H

#include <stdbool.h>
#include <stdint.h>

struct pkt;
struct pkt_pool;
struct exec_loop;

#define NG_IFNAMSIZ 16
#define NG_IF_MAX 64

struct ng_iface;

struct ng_iface_ops {
	/* Sends or queues p; consumes it.  Returns 0, or -1 when it was dropped
	 * (already counted in tx_drops). */
	int (*xmit)(struct ng_iface *ifp, struct pkt *p);
	/* Pushes queued frames to the device (end of a batch); may be NULL. */
	void (*flush)(struct ng_iface *ifp);
	/* Stops the device and frees the driver's state; may be NULL. */
	void (*close)(struct ng_iface *ifp);
};

struct ng_iface_stats {
	uint64_t rx_packets, rx_bytes, rx_drops;
	uint64_t tx_packets, tx_bytes, tx_drops;
	/* With TSO (gso_max): coalesced frames received (counted in
	 * rx_packets too) and GSO packets handed to the device to cut. */
	uint64_t rx_gso, tx_gso;
};

struct ng_iface {
	char name[NG_IFNAMSIZ];
	uint16_t index;          /* set by ng_iface_register, from 1 */
	uint8_t mac[6];
	uint32_t mtu;
	bool tx_csum_offload;    /* device completes PKT_CSUM_PARTIAL on send */
	/* TSO: nonzero when the device cuts PKT_GSO_TCPV4 packets (netgraph/
	 * pkt.h) of up to gso_max bytes from the IP header on.  The driver
	 * then also delivers coalesced frames up to that size, and gso_pool
	 * holds large buffers (PKT_BUF_GSO) for both directions; it belongs
	 * to the driver and lives as long as the interface.  Implies
	 * tx_csum_offload. */
	uint32_t gso_max;
	struct pkt_pool *gso_pool;
	const struct ng_iface_ops *ops;
	void *drv;               /* driver state */
	struct pkt_pool *pool;   /* receive buffers */
	struct ng_iface_stats stats;
	const char *driver;      /* "tap", "afpacket", "pcap", "replay" */
};

/* Registers ifp and gives it an index; -1 if the table is full or the name
 * is taken. */
int ng_iface_register(struct ng_iface *ifp);
void ng_iface_unregister(struct ng_iface *ifp);
struct ng_iface *ng_iface_get(uint16_t index);
struct ng_iface *ng_iface_find(const char *name);

/* A frame arrived on ifp: count it, stamp ifindex, raise Link.PacketArrived.
 * Consumes p. */
void ng_iface_input(struct ng_iface *ifp, struct pkt *p);
/* The same for n frames of one poll: one link-node bracket (and one pair
 * of cycle-counter reads) for the batch, then one raise per frame, in
 * order.  Consumes every v[i] and clears it. */
void ng_iface_input_batch(struct ng_iface *ifp, struct pkt **v, unsigned n);
/* Sends p out of interface p->ifindex through Link.SendPacket.  Consumes p.
 * The primary handler completes a PKT_CSUM_PARTIAL checksum first (after
 * pkt_unshare) when the interface lacks tx_csum_offload, and drops on the
 * link node with a reason: no_iface, iface_down, no_buffers, bad_csum. */
void ng_iface_send(struct pkt *p);

#endif
