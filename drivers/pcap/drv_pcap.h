/*
 * drv_pcap.h - pcap driver through libpcap: frames in from a capture file
 * (or a live interface), frames out to a capture file (or the live
 * interface).
 *
 * File mode: in_path is read with pcap_open_offline (link type Ethernet
 * only); out_path is written with pcap_dump_open with the input's snaplen and
 * timestamp precision (65535 and microseconds without an input).  With the
 * default DRV_PCAP_TS_INPUT, a frame sent is stamped with the timestamp of
 * the input frame being processed (the last one read), so a pass-through or
 * a reflector that answers within the receive call writes a file that is
 * byte-identical to its input (for classic pcap input in host byte order;
 * pcapng or byte-swapped input gives the same records in a host-order pcap).
 * DRV_PCAP_TS_NOW stamps with the wall clock.  The file poller has wait
 * handle -1 (a file is always ready) and returns 0 once the file is
 * exhausted (drv_pcap_eof).
 *
 * Live mode (live_ifname instead of in_path): pcap_create + immediate mode,
 * non-blocking, direction "in" (spin never reads its own frames); the wait
 * handle is pcap_get_selectable_fd; send is pcap_inject (out_path ignored).
 * This is the portable capture path, slower than drivers/afpacket; checksum
 * state is unknown to libpcap, so received frames are PKT_CSUM_NONE
 * (a veth peer's unfinished checksums will fail verification: use
 * afpacket for live traffic from Linux sockets).
 *
 * Costs: one copy per frame on receive (libpcap's buffer to a pool buffer);
 * on send one pcap_dump (buffered stdio write) or pcap_inject, plus a copy
 * into a linear buffer when the packet is chained.  A partial checksum is
 * finished in software before it is written (tx_csum_offload false): a file
 * holds frames as they would be on a wire.  With neither out_path nor a live
 * interface, xmit drops (counted in tx_drops).
 */
#ifndef SPIN_DRV_PCAP_H
#define SPIN_DRV_PCAP_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/drv.h"

struct pkt_pool;
struct exec_loop;
struct ng_iface;

enum drv_pcap_ts { DRV_PCAP_TS_INPUT = 0, DRV_PCAP_TS_NOW };

struct drv_pcap_config {
	const char *name;         /* spin's name for the interface (required) */
	const char *in_path;      /* capture file to read, or NULL */
	const char *out_path;     /* capture file to write, or NULL */
	const char *live_ifname;  /* live capture instead of in_path, or NULL */
	bool promisc;             /* live mode */
	enum drv_pcap_ts ts;
	uint8_t mac[6];           /* spin's MAC; all zero: the live interface's, else random */
};

enum drv_err drv_pcap_open(const struct drv_pcap_config *cfg, struct pkt_pool *pool,
			   struct exec_loop *loop, struct ng_iface **out);

/* True once every frame of the input file has been handed on (also true
 * when there is no input file; never true in live mode). */
bool drv_pcap_eof(const struct ng_iface *ifp);

struct drv_pcap_stats {
	uint64_t rx_frames, rx_nobuf, rx_skipped;  /* skipped: truncated records */
	uint64_t tx_written, tx_csum_sw;
};
void drv_pcap_stats(const struct ng_iface *ifp, struct drv_pcap_stats *out);

#endif
