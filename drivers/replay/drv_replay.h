/*
 * drv_replay.h - in-memory replay device: a pcap file played into the graph
 * exactly `loops` times at full speed, with no I/O after open.
 *
 * At open the file is read once through libpcap into one contiguous arena
 * (every frame's bytes back to back) and an index of (offset, length).
 * Each poll hands up to budget frames to ng_iface_input, in file order,
 * wrapping to the first frame at the end of the file until the file has
 * been played `loops` times; then it returns 0 forever (drv_replay_done).
 * loops must be at least 1: "forever" is not offered, every run is bounded.
 *
 * Buffers: each frame is copied from the arena into a buffer from the pool
 * (pkt_from_bytes: one pool allocation and one memcpy of the frame, about
 * 20-60 ns for 64-1500 bytes).  Lending arena memory to the graph instead
 * would save the copy but make every packet shared and read-only, and make
 * each free a special case; the copy keeps packets ordinary.  When the pool
 * is empty the poll stops early and the same frame is retried next time, so
 * a small pool slows the replay but never loses or reorders a frame.
 *
 * The poller's wait handle is -1: the device is always ready, so it keeps
 * its loop busy until done.  xmit is a sink: it counts the packet as sent
 * (tx_packets, tx_bytes) and frees it, so a replay interface can also be
 * the output of a benchmark graph.  Checksum state of replayed frames is
 * PKT_CSUM_NONE (a capture holds finished checksums).
 */
#ifndef SPIN_DRV_REPLAY_H
#define SPIN_DRV_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/drv.h"

struct pkt_pool;
struct exec_loop;
struct ng_iface;

struct drv_replay_config {
	const char *name;      /* spin's name for the interface (required) */
	const char *path;      /* pcap file, Ethernet link type (required) */
	uint64_t loops;        /* times to play the file; at least 1 */
	uint8_t mac[6];        /* spin's MAC; all zero: random */
};

enum drv_err drv_replay_open(const struct drv_replay_config *cfg, struct pkt_pool *pool,
			     struct exec_loop *loop, struct ng_iface **out);

/* True when the file has been played `loops` times. */
bool drv_replay_done(const struct ng_iface *ifp);

struct drv_replay_stats {
	uint64_t frames_per_loop;  /* frames in the file */
	uint64_t bytes_per_loop;
	uint64_t fed;              /* frames handed to the graph so far */
	uint64_t loops_done;       /* complete passes over the file */
	uint64_t nobuf;            /* polls cut short by an empty pool */
};
void drv_replay_stats(const struct ng_iface *ifp, struct drv_replay_stats *out);

#endif
