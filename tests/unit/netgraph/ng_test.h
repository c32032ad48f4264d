/*
 * ng_test.h - helpers for unit tests that handle packets (any area may
 * include it).  NG_ASSERT_NO_LEAKS() fails the test, naming the pools that
 * still have buffers out, when any packet leaked; end every test with it.
 */
#ifndef SPIN_NG_TEST_H
#define SPIN_NG_TEST_H

#include "netgraph/pkt.h"

#define NG_ASSERT_NO_LEAKS()                                                   \
	do {                                                                   \
		uint64_t out_ = pkt_pools_outstanding();                       \
		if (out_)                                                      \
			pkt_pools_report();                                    \
		assert_int_equal(out_, 0);                                     \
	} while (0)

/* Asserts the packet invariants, printing the broken one. */
#define NG_ASSERT_PKT_OK(p)                                                    \
	do {                                                                   \
		const char *why_ = pkt_check(p);                               \
		if (why_)                                                      \
			print_error("pkt_check: %s\n", why_);                  \
		assert_null(why_);                                             \
	} while (0)

#endif
