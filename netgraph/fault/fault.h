/*
 * fault.h - the fault-injection node: loss, duplication, reordering, delay
 * and corruption on any packet edge, by rate and seed, deterministic.
 *
 * Model.  A fault node is a named object with a configuration and its own
 * pseudo-random sequence.  Packets enter it with fault_input (consumed);
 * the ones that survive leave through its output function, now or later.
 * Two ways to put one on an edge:
 *
 *   1. On an event (fault_attach): the node is bound to Link_PacketArrived
 *      (FAULT_LINK_RX: frames as they come off an interface, before ether)
 *      or Link_SendPacket (FAULT_LINK_TX: frames about to go to the
 *      driver), for one interface or all.  The fault module installs one
 *      binding per event, DISP_FIRST | DISP_CANCEL, whose procedural guard
 *      passes a packet when a node is attached for its interface.  The
 *      handler takes the packet (CANCEL: nothing after it runs) and feeds
 *      the node; what the node lets through is raised again on the same
 *      event with PKT_F_FAULTED set.  The guard lets such a packet pass
 *      (and clears the flag), so the re-raise reaches the bindings that
 *      follow exactly as if the node were not there.  Detaching releases
 *      whatever the node still holds.
 *   2. Around any send path (fault_set_output + fault_input): a module
 *      that owns an edge calls fault_input where it would pass the packet
 *      on, and gives the node the function that passes it on.
 *
 * Decisions.  For every packet the node draws five numbers from its
 * splitmix64 sequence, in this order, whatever the rates: loss, corruption,
 * duplication, delay, reordering; a corrupted packet draws one more for the
 * bit to flip.  A rate is in parts per million.  So the same seed, the same
 * configuration and the same packets give the same decisions, and setting
 * a configuration (fault_set) restarts the sequence at its seed.
 *   loss:     the packet is dropped (drop reason "loss" on node "fault").
 *   corrupt:  one bit of one byte at or after corrupt_off (from the data
 *             start) is flipped; the packet is made private first, and a
 *             partial checksum (PKT_CSUM_PARTIAL) is finished before the
 *             flip, so the checksum no longer matches, as on a wire.  A
 *             GSO packet, whose pieces' checksums the device computes from
 *             the bytes as it finds them, is dropped instead (reason
 *             "corrupt_gso"; it still counts as corrupted).
 *   dup:      a copy (pkt_copy from the packet's pool) follows the
 *             original, through the same delay decision.
 *   delay:    the packet (and its copy) is held for delay_ns on an exec
 *             timer.  Delayed packets keep their order among themselves.
 *   reorder:  the packet is held until reorder_gap later packets have
 *             gone out (they overtake it), or reorder_max_ns passed.
 * A node holds at most FAULT_QUEUE_MAX delayed and FAULT_QUEUE_MAX
 * reordered packets; beyond that a packet is dropped as "queue_full".
 *
 * Threads.  fault_input, the timers and the output run on the run loop
 * that carries the packets (timers are armed on exec_current()).
 * fault_set may be called from any thread at any time: the configuration
 * is published with RCU and the loop picks it up at its next packet.
 * fault_attach / fault_detach / fault_free belong on the loop's thread or
 * run while the loop is stopped.  Nothing on the packet path allocates
 * from the heap or locks (held packets sit in rings made by fault_new).
 *
 * The spin command's `ctl fault` maps to:
 *   spin ctl fault NAME              fault_find + fault_format
 *   spin ctl fault NAME SPEC         fault_find + fault_parse + fault_set
 *   (a node named in the config:     fault_new + fault_attach)
 * with SPEC as fault_parse reads it, e.g.
 *   "loss=1% dup=0.5% delay=10%@20ms reorder=5%/3 corrupt=0.1%@14 seed=7"
 */
#ifndef SPIN_NG_FAULT_H
#define SPIN_NG_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netgraph/graph.h"
#include "netgraph/pkt.h"

#define FAULT_PPM 1000000u       /* a rate of 100% */
#define FAULT_QUEUE_MAX 256
#define FAULT_MAX_NODES 16
#define FAULT_NAMESIZ 16

extern const struct spin_module fault_module;   /* "fault" */
extern const struct ng_node fault_ng_node;      /* "fault": every instance counts here */

enum fault_drop {
	FAULT_DROP_LOSS = NG_DROP_COMMON,   /* "loss": dropped on purpose */
	FAULT_DROP_QUEUE_FULL,              /* "queue_full": too many held */
	FAULT_DROP_FLUSHED,                 /* "flushed": held when the node was freed */
	FAULT_DROP_CORRUPT_GSO,             /* "corrupt_gso": a GSO packet drawn for corruption */
};

struct fault_config {
	uint32_t loss_ppm, corrupt_ppm, dup_ppm, delay_ppm, reorder_ppm;
	uint64_t delay_ns;          /* hold time of a delayed packet */
	uint32_t reorder_gap;       /* packets that overtake a held one; 0 means 1 */
	uint64_t reorder_max_ns;    /* a held packet leaves anyway; 0 means 100 ms */
	uint32_t corrupt_off;       /* first byte corruption may touch */
	uint64_t seed;
};

struct fault_stats {
	uint64_t seen, passed;      /* in, and out through the output */
	uint64_t lost, corrupted, duplicated, delayed, reordered;
	uint64_t queue_full;        /* dropped: a queue was full */
	uint64_t dup_failed;        /* no buffer for a copy */
};

enum fault_err {
	FAULT_OK = 0,
	FAULT_EINVAL,   /* a rate above FAULT_PPM, a bad spec, a bad point */
	FAULT_EEXIST,   /* name taken; node already attached */
	FAULT_ENOMEM,
	FAULT_ENOENT,   /* not attached */
	FAULT_EFULL,    /* FAULT_MAX_NODES nodes */
};
const char *fault_strerror(int err);

struct fault_node;

/* Makes a node; *err (may be NULL) says why when NULL is returned.
 * Control path. */
struct fault_node *fault_new(const char *name, const struct fault_config *c, int *err);
/* Detaches f if attached, drops what it holds ("flushed"), frees it. */
void fault_free(struct fault_node *f);
struct fault_node *fault_find(const char *name);
unsigned fault_count(void);
struct fault_node *fault_at(unsigned i);
const char *fault_name(const struct fault_node *f);

/* Replaces the configuration and restarts the random sequence at c->seed.
 * Any thread.  A configuration of all-zero rates passes every packet. */
int fault_set(struct fault_node *f, const struct fault_config *c);
void fault_get(const struct fault_node *f, struct fault_config *out);

/* Reads a SPEC into *c, changing only the keys it names:
 *   loss=R corrupt=R[@OFF] dup=R delay=R[@TIME] reorder=R[/GAP[@TIME]]
 *   seed=N off
 * R is a percentage ("1%", "0.25%") or parts per million ("250ppm");
 * TIME is "20ms", "500us", "1s" or nanoseconds; "off" zeroes every rate.
 * On error writes one line to err and returns FAULT_EINVAL. */
int fault_parse(const char *spec, struct fault_config *c, char *err, size_t errlen);
/* "name: loss=1% ... seed=7 | seen=.. passed=.. lost=.. ..." as sal_snprintf. */
int fault_format(const struct fault_node *f, char *buf, size_t size);

/* --- on an event ------------------------------------------------------------ */
enum fault_point {
	FAULT_LINK_RX = 1,      /* Link_PacketArrived */
	FAULT_LINK_TX,          /* Link_SendPacket */
};
/* Puts f on the point for interface ifindex (0: every interface without a
 * node of its own).  One attachment per node; one node per (point,
 * ifindex). */
int fault_attach(struct fault_node *f, enum fault_point at, uint16_t ifindex);
/* Releases what f holds through its output, then takes f off its point. */
int fault_detach(struct fault_node *f);

/* --- on any edge --------------------------------------------------------------- */
typedef void (*fault_out_fn)(void *ctx, struct pkt *p);
/* The function survivors go to (it consumes them).  Not for an attached
 * node. */
int fault_set_output(struct fault_node *f, fault_out_fn out, void *ctx);
/* Consumes p: passes, holds, duplicates, corrupts or drops it. */
void fault_input(struct fault_node *f, struct pkt *p);
/* Sends everything held out now, in order (delayed, then reordered). */
void fault_release(struct fault_node *f);
/* Packets held now. */
unsigned fault_held(const struct fault_node *f);

void fault_stats_get(const struct fault_node *f, struct fault_stats *out);
void fault_stats_clear(struct fault_node *f);

#endif
