/*
 * l2_test.h - the graph harness of the layer-2 tests: a fake interface
 * whose xmit captures frames, a sink on Ether_PacketArrived for a test
 * EtherType, frame builders, and setup/teardown that start the modules and
 * check for leaks.  Included by one test file each; everything is static.
 */
#ifndef SPIN_L2_TEST_H
#define SPIN_L2_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"
#include "protocols/arp/arp.h"
#include "protocols/arp/arp_wire.h"
#include "protocols/ether/ether.h"
#include "protocols/inet/inet.h"
#include "../netgraph/ng_test.h"

#define TEST_TYPE 0x88b5u       /* IEEE local experimental EtherType */
#define CAP_MAX 1024
#define US_IP 0xc6120002u       /* 198.18.0.2 */
#define PEER_IP 0xc6120001u     /* 198.18.0.1 */
#define OTHER_IP 0xc6120009u    /* 198.18.0.9 */

static const uint8_t US_MAC[6] = {2, 0, 0, 0, 0, 0x0a};
static const uint8_t PEER_MAC[6] = {2, 0, 0, 0, 0, 0x01};
static const uint8_t BCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static struct pkt_pool *pool;
static struct exec_loop *loop;
static struct pkt *cap[CAP_MAX];        /* frames the fake interface sent */
static unsigned ncap;
static uint64_t nxmit;
static struct pkt *rx[CAP_MAX];         /* frames the sink received */
static unsigned nrx;
static struct disp_binding *sink_binding;

static __attribute__((unused)) int fake_xmit(struct ng_iface *ifp, struct pkt *p)
{
	(void)ifp;
	nxmit++;
	if (ncap < CAP_MAX) {
		cap[ncap++] = p;
		return 0;
	}
	pkt_free(p);
	return 0;
}
static const struct ng_iface_ops fake_ops = {.xmit = fake_xmit};
static struct ng_iface fake = {.name = "l2a", .mac = {2, 0, 0, 0, 0, 0x0a}, .mtu = 1500,
			       .ops = &fake_ops, .driver = "fake"};

static __attribute__((unused)) void sink(void *closure, struct pkt *p)
{
	(void)closure;
	if (nrx < CAP_MAX)
		rx[nrx++] = p;
	else
		pkt_free(p);
}

static __attribute__((unused)) void clear_cap(void)
{
	for (unsigned i = 0; i < ncap; i++)
		pkt_free(cap[i]);
	ncap = 0;
	for (unsigned i = 0; i < nrx; i++)
		pkt_free(rx[i]);
	nrx = 0;
}

static __attribute__((unused)) uint64_t drops(const char *node, unsigned reason)
{
	struct ng_stats st;
	assert_int_equal(ng_msg_send(node, "getstats", &st), NG_OK);
	return st.reason[reason];
}

/* Frame bytes: Ethernet header + payload.  Returns the length. */
static __attribute__((unused)) size_t eth_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type,
			const void *pl, size_t n)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	ether_put16(f + 12, type);
	if (n)
		memcpy(f + 14, pl, n);
	return 14 + n;
}

static __attribute__((unused)) void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static __attribute__((unused)) uint32_t get32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* An ARP frame (padded to 60 bytes, as on a wire). */
static __attribute__((unused)) size_t arp_frame(uint8_t *f, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha,
			uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	uint8_t a[46] = {0};
	ether_put16(a, 1);
	ether_put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	ether_put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	return eth_frame(f, eth_dst, sha, 0x0806, a, sizeof a);
}

static __attribute__((unused)) void inject(const uint8_t *f, size_t n)
{
	struct pkt *p = pkt_from_bytes(pool, f, n);
	assert_non_null(p);
	ng_iface_input(&fake, p);
}

/* Runs the loop until cond() holds or about two seconds passed. */
static __attribute__((unused)) bool run_until(bool (*cond)(void))
{
	uint64_t end = sal_now_ns() + 2000000000ull;
	while (!cond()) {
		if (sal_now_ns() > end)
			return false;
		exec_loop_run_once(loop, 1000000);
	}
	return true;
}

static __attribute__((unused)) void start_modules(const char *const *mods, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct spin_module *m = spin_builtin_find(mods[i]);
		assert_non_null(m);
		if (!spin_module_started(m))
			assert_int_equal(spin_module_start(m, NULL), SPIN_MOD_OK);
	}
}

static __attribute__((unused)) int l2_setup(void **state)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp"};
	static const struct disp_term terms[] = {DISP_HDR_EQ(ETHER_OFF_TYPE, 2, TEST_TYPE)};
	(void)state;
	sal_init();
	if (!loop)
		loop = exec_loop_new("l2test", EXEC_BLOCKING);
	exec_loop_attach(loop);
	if (!pool)
		pool = pkt_pool_new("l2test", 2048, 2048);
	fake.pool = pool;
	start_modules(mods, NG_ARRAY_LEN(mods));
	assert_int_equal(ng_iface_register(&fake), 0);
	struct Ether_PacketArrived_spec s = {
		.handler = sink, .terms = terms, .nterms = 1, .desc = "test sink",
	};
	assert_int_equal(Ether_PacketArrived_install(SPIN_KERNEL, &s, &sink_binding), DISP_OK);
	struct arp_config c = {
		.reachable_ns = 30000000000ull, .stale_ns = 60000000000ull,
		.retrans_ns = 1000000000ull, .max_probes = 3, .queue_max = 4,
	};
	assert_int_equal(arp_config_set(&c), ARP_OK);
	arp_stats_clear();
	nxmit = 0;
	clear_cap();
	return 0;
}

static __attribute__((unused)) int l2_teardown(void **state)
{
	(void)state;
	clear_cap();
	exec_loop_run_once(loop, 0);
	arp_flush(0, true);
	inet_addr_flush(0);
	ether_iface_reset(fake.index);
	disp_uninstall(sink_binding);
	sink_binding = NULL;
	ng_iface_unregister(&fake);
	exec_loop_detach(loop);
	disp_quiesce();
	NG_ASSERT_NO_LEAKS();
	return 0;
}

#endif
