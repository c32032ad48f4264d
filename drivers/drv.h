/*
 * drv.h - what every hosted driver has in common.
 *
 * Shape of a driver.  Each back end (tap, afpacket, pcap, replay) has one
 * constructor of the same form:
 *
 *   enum drv_err drv_XXX_open(const struct drv_XXX_config *cfg,
 *                             struct pkt_pool *pool, struct exec_loop *loop,
 *                             struct ng_iface **out);
 *
 * It opens the device, fills and registers a struct ng_iface (so the
 * interface has an index and a name in the graph), and adds the driver's
 * receive poller to loop.  A NULL loop leaves the poller unattached: the
 * caller then drives receive itself through drv_poller(ifp) (unit tests and
 * single-shot tools do that).  A zeroed config is a sensible default for
 * every field but the device name.  cfg is read during the call only.
 *
 * pool supplies every receive buffer; it must outlive the interface.  The
 * driver keeps no packet across polls: what it receives it hands on at once.
 *
 * Receive, NAPI style: the poller's poll(ctx, budget) takes at most budget
 * frames from the device, hands each to ng_iface_input (which consumes it)
 * or drops and counts it, and returns how many frames it took.  When the
 * pool is empty it stops early and leaves the frame on the device (whose own
 * queue then overflows and counts the loss).  Its wait_handle is the device's file
 * descriptor (level triggered: readable while frames are pending), so an idle
 * EXEC_BLOCKING loop sleeps in the kernel; an EXEC_BUSY_POLL loop just calls
 * poll again.  Devices that are always ready (pcap file, replay) use -1.
 *
 * Send: ifp->ops->xmit(ifp, p) consumes p, always.  It sends the frame at
 * p's data start (the Ethernet header) or drops it and counts the drop in
 * ifp->stats.tx_drops.  A checksum-partial packet is finished by the device
 * when ifp->tx_csum_offload is true, and in software by the driver's xmit
 * otherwise (so a partial packet never leaves unfinished, whoever called
 * xmit).  A PKT_GSO_TCPV4 packet (netgraph/pkt.h) reaches xmit only on an
 * interface whose driver set ifp->gso_max (TSO); the device cuts it.
 *
 * Close: drv_close(ifp) removes the poller from its loop, unregisters the
 * interface, closes the device and frees everything the driver allocated.
 * Call it from the loop's thread or when the loop is not running.
 */
#ifndef SPIN_DRV_H
#define SPIN_DRV_H

#include <stdbool.h>
#include <stdint.h>

struct ng_iface;
struct exec_poller;

enum drv_err {
	DRV_OK = 0,
	DRV_EINVAL,     /* bad configuration */
	DRV_ENODEV,     /* no such device or file */
	DRV_EPERM,      /* needs privileges (CAP_NET_ADMIN / CAP_NET_RAW) */
	DRV_ENOMEM,
	DRV_EIO,        /* the device or file refused an operation */
	DRV_EEXIST,     /* the interface name is taken in the graph */
};

const char *drv_strerror(enum drv_err e);

/* The receive poller of an interface opened by a drv_*_open. */
struct exec_poller *drv_poller(struct ng_iface *ifp);

/* Closes an interface opened by a drv_*_open (see above).  NULL is fine. */
void drv_close(struct ng_iface *ifp);

#endif
