/*
 * ether_internal.h - private to protocols/ether: the filter state of each
 * interface, shared by the input path and the control calls.
 *
 * Each joined group is one atomic word: bit 63 says the slot is used and
 * bits 0..47 hold the address (ether_addr_u64), so the packet path reads a
 * slot with one load and never sees half an address.  Join counts are
 * touched only under the control mutex.
 */
#ifndef SPIN_ETHER_INTERNAL_H
#define SPIN_ETHER_INTERNAL_H

#include <stdatomic.h>

#include "netgraph/iface.h"
#include "protocols/ether/ether.h"

#define ETHER_SLOT_USED (1ull << 63)

struct ether_ifstate {
	_Atomic bool promisc;
	_Atomic bool allmulti;
	_Atomic uint64_t group[ETHER_MCAST_MAX];
	uint32_t refs[ETHER_MCAST_MAX];         /* control side only */
};

extern struct ether_ifstate ether_if[NG_IF_MAX + 1];

/* Whether ifindex accepts frames sent to the multicast address a. */
static inline bool ether_group_ok(const struct ether_ifstate *s, const uint8_t *a)
{
	if (atomic_load_explicit(&s->allmulti, memory_order_relaxed))
		return true;
	uint64_t want = ETHER_SLOT_USED | ether_addr_u64(a);
	for (unsigned i = 0; i < ETHER_MCAST_MAX; i++)
		if (atomic_load_explicit(&s->group[i], memory_order_relaxed) == want)
			return true;
	return false;
}

void ether_input(void *closure, struct pkt *p);
void ether_output(void *closure, struct pkt *p, struct ether_addr dst, uint16_t type);

#endif
