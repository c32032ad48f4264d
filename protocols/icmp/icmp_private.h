/*
 * icmp_private.h - private to protocols/icmp.
 */
#ifndef SPIN_ICMP_PRIVATE_H
#define SPIN_ICMP_PRIVATE_H

#include <stdatomic.h>

#include "protocols/icmp/icmp.h"

struct icmp_counters {
	_Atomic uint64_t rx, echo_rx, echo_tx, err_rx, err_tx, err_suppressed, rate_limited,
	    tx_fail;
};
extern struct icmp_counters icmp_ctr;
static inline void icmp_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

extern _Atomic bool icmp_running;
extern _Atomic bool icmp_echo_on;

enum icmp_bucket_id { ICMP_BUCKET_ERR, ICMP_BUCKET_ECHO };
/* Takes a token from a bucket; false when it is empty (rate limited). */
bool icmp_rate_ok(enum icmp_bucket_id b);
void icmp_rate_reset(void);

#endif
