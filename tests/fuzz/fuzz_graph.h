/*
 * fuzz_graph.h - the small world every protocol fuzz target runs in.
 *
 * One run loop on the fuzzing thread, one packet pool, the named built-in
 * modules started in order, and up to FZ_MAX_IFS fake Ethernet interfaces.
 * Interface N is "fzN" with MAC 02:00:00:00:N:02 and, when asked, the
 * address 198.18.N.2/24 and a static ARP entry for its peer 198.18.N.1 at
 * 02:00:00:00:N:01.  A fake interface's xmit checks the packet invariants
 * (a broken one traps) and frees the packet: whatever spin sends is
 * consumed, so after each input only buffers that a layer legitimately
 * holds (ARP queues, reassembly) may be outstanding.
 */
#ifndef SPIN_FUZZ_GRAPH_H
#define SPIN_FUZZ_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/exec/exec.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_IFS 2

struct fz_world {
	struct pkt_pool *pool;
	struct exec_loop *loop;
	struct ng_iface ifs[FZ_MAX_IFS];
	unsigned nifs;
	/* Sees every packet a fake interface sends, before it is freed. */
	void (*tap)(const struct pkt *p);
};
extern struct fz_world fz;

/* Starts the world once (later calls do nothing): mods is NULL-terminated. */
void fz_start(const char *pool_name, uint32_t nbufs, const char *const *mods);
/* Adds the next fake interface; with_addr gives it 198.18.N.2/24 and with_peer
 * a static ARP entry for 198.18.N.1. */
struct ng_iface *fz_iface(uint32_t mtu, bool with_addr, bool with_peer);
/* Hands a copy of frame to ifp's input, then runs one loop turn.  Returns
 * the packet before input (so a caller may set its checksum state through
 * prep), or false when the pool is empty. */
bool fz_input(struct ng_iface *ifp, const void *frame, size_t n,
	      void (*prep)(struct pkt *p, void *arg), void *arg);
/* Packets ARP holds while it resolves next hops. */
uint64_t fz_arp_queued(void);
/* Traps unless the buffers outstanding equal what layers legitimately hold. */
void fz_assert_outstanding(uint64_t held);

#endif
