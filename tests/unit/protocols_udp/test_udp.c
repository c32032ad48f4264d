/*
 * test_udp.c - UDP through the whole graph: frames go in at the link layer
 * of a fake interface (ng_iface_input) and whatever spin sends is captured
 * by the interface's xmit.  Covers checksum verification (full, partial,
 * zero), length checks, demux by destination port through declarative
 * guards, port unreachable, the send API and the echo service.  Every test
 * ends with no pool buffer outstanding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "apps/echo/echo.h"
#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"
#include "protocols/arp/arp.h"
#include "protocols/icmp/icmp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"
#include "protocols/udp/udp.h"

#define US IP_ADDR(198, 18, 0, 2)
#define PEER IP_ADDR(198, 18, 0, 1)

static struct pkt_pool *pool;
static struct exec_loop *loop;
static struct pkt *sent[16];
static unsigned nsent;

static int fake_xmit(struct ng_iface *ifp, struct pkt *p)
{
	(void)ifp;
	if (nsent < 16) {
		sent[nsent++] = p;
		return 0;
	}
	pkt_free(p);
	return -1;
}
static const struct ng_iface_ops fake_ops = {.xmit = fake_xmit};
static struct ng_iface fake = {.name = "fake0", .mac = {2, 0, 0, 0, 0, 2}, .mtu = 1500,
			       .ops = &fake_ops, .driver = "fake"};

static void clear_sent(void)
{
	for (unsigned i = 0; i < nsent; i++)
		pkt_free(sent[i]);
	nsent = 0;
}

static uint64_t drops(const char *node, unsigned reason)
{
	struct ng_stats st;

	assert_int_equal(ng_msg_send(node, "getstats", &st), NG_OK);
	return st.reason[reason];
}

/* Ethernet + IPv4 + UDP from PEER:sport to US:dport with payload; the UDP
 * checksum is computed unless csum_override >= 0. */
static size_t frame(uint8_t *f, uint16_t sport, uint16_t dport, const void *pl, size_t n,
		    int csum_override, int ulen_delta)
{
	static const uint8_t eth[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
	uint8_t *ih = f + 14, *uh = f + 34;
	uint16_t ulen = (uint16_t)(8 + n + ulen_delta);

	memcpy(f, eth, 14);
	memset(ih, 0, 20);
	ih[0] = 0x45;
	ip_put16(ih + 2, (uint16_t)(20 + 8 + n));
	ih[8] = 64;
	ih[9] = IP_PROTO_UDP;
	ip_put32(ih + 12, PEER);
	ip_put32(ih + 16, US);
	ip_put16(ih + 10, ip_hdr_csum(ih, 20));
	ip_put16(uh, sport);
	ip_put16(uh + 2, dport);
	ip_put16(uh + 4, ulen);
	ip_put16(uh + 6, 0);
	memcpy(uh + 8, pl, n);
	if (csum_override >= 0) {
		ip_put16(uh + 6, (uint16_t)csum_override);
	} else {
		uint32_t s = csum_add(udp_pseudo_sum(PEER, US, (uint16_t)(8 + n)), uh, 8 + n);
		uint16_t c = csum_fold(s);
		ip_put16(uh + 6, c ? c : 0xffff);
	}
	return 14 + 20 + 8 + n;
}

static void inject(const uint8_t *f, size_t n, enum pkt_csum cs)
{
	struct pkt *p = pkt_from_bytes(pool, f, n);

	assert_non_null(p);
	p->csum = cs;
	if (cs == PKT_CSUM_PARTIAL) {
		p->csum_start = 34;
		p->csum_offset = 6;
	}
	ng_iface_input(&fake, p);
	exec_loop_run_once(loop, 0);
}

static int setup(void **state)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip",
					   "icmp", "udp", "echo"};
	struct ether_addr peer = {{2, 0, 0, 0, 0, 1}};
	struct icmp_config ic;

	(void)state;
	sal_init();
	if (!loop)
		loop = exec_loop_new("test", EXEC_BLOCKING);
	exec_loop_attach(loop);
	if (!pool)
		pool = pkt_pool_new("test", 256, 2048);
	fake.pool = pool;
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
		const struct spin_module *m = spin_builtin_find(mods[i]);
		assert_non_null(m);
		if (!spin_module_started(m))
			assert_int_equal(spin_module_start(m, NULL), SPIN_MOD_OK);
	}
	assert_int_equal(ng_iface_register(&fake), 0);
	assert_int_equal(inet_addr_add(fake.index, US, 24), INET_OK);
	assert_int_equal(arp_static_add(fake.index, PEER, peer), ARP_OK);
	icmp_config_get(&ic);
	ic.err_rate = 0;
	icmp_config_set(&ic);
	clear_sent();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	clear_sent();
	exec_loop_run_once(loop, 0);
	arp_flush(0, true);
	inet_addr_flush(0);
	ng_iface_unregister(&fake);
	/* Waiting for deferred frees needs the thread offline. */
	exec_loop_detach(loop);
	disp_quiesce();
	assert_int_equal(pkt_pools_outstanding(), 0);
	return 0;
}

/* Checks that sent[i] is a valid UDP datagram US:sport -> PEER:dport with
 * payload pl, and returns nothing. */
static void check_udp_out(unsigned i, uint16_t sport, uint16_t dport, const void *pl, size_t n)
{
	uint8_t f[2048];
	struct pkt *p = sent[i];

	assert_true(i < nsent);
	pkt_csum_complete(p);
	assert_int_equal(pkt_len(p), 14 + 20 + 8 + n);
	assert_true(pkt_copy_out(p, 0, f, pkt_len(p)));
	assert_int_equal(ip_get16(f + 12), 0x0800);
	assert_int_equal(f[23], IP_PROTO_UDP);
	assert_int_equal(ip_get32(f + 26), US);
	assert_int_equal(ip_get32(f + 30), PEER);
	assert_int_equal(ip_get16(f + 34), sport);
	assert_int_equal(ip_get16(f + 36), dport);
	assert_int_equal(ip_get16(f + 38), 8 + n);
	assert_memory_equal(f + 42, pl, n);
	assert_int_equal(csum_fold(csum_add(udp_pseudo_sum(US, PEER, (uint16_t)(8 + n)), f + 34,
					    8 + n)), 0);
}

static void test_echo_full_csum(void **state)
{
	(void)state;
	const struct echo_ops *ops = echo_interface.procs;
	struct disp_binding *b;
	uint8_t f[256];
	static const char pl[] = "0123456789abcdef";

	assert_int_equal(ops->binding_create(7, &b), 0);
	assert_int_equal(disp_binding_install(b), 0);
	inject(f, frame(f, 40000, 7, pl, 16, -1, 0), PKT_CSUM_NONE);
	assert_int_equal(nsent, 1);
	check_udp_out(0, 7, 40000, pl, 16);
	clear_sent();
	disp_uninstall(b);
}

static void test_partial_accepted(void **state)
{
	(void)state;
	const struct echo_ops *ops = echo_interface.procs;
	struct disp_binding *b;
	uint8_t f[256];
	static const char pl[] = "partial";
	uint64_t bad = drops("udp", NG_DROP_BAD_CSUM);

	assert_int_equal(ops->binding_create(7, &b), 0);
	assert_int_equal(disp_binding_install(b), 0);
	/* A partial packet's field holds only the pseudo-header sum: it
	 * would fail verification, and must not be verified. */
	inject(f, frame(f, 40001, 7, pl, 7, 0x1234, 0), PKT_CSUM_PARTIAL);
	assert_int_equal(nsent, 1);
	check_udp_out(0, 7, 40001, pl, 7);
	/* The same bytes without the partial mark are a bad checksum. */
	clear_sent();
	inject(f, frame(f, 40001, 7, pl, 7, 0x1234, 0), PKT_CSUM_NONE);
	assert_int_equal(nsent, 0);
	assert_int_equal(drops("udp", NG_DROP_BAD_CSUM), bad + 1);
	/* A zero field: no checksum sent, accepted. */
	inject(f, frame(f, 40002, 7, pl, 7, 0, 0), PKT_CSUM_NONE);
	assert_int_equal(nsent, 1);
	check_udp_out(0, 7, 40002, pl, 7);
	clear_sent();
	disp_uninstall(b);
}

static void test_len_mismatch(void **state)
{
	(void)state;
	uint8_t f[256];
	uint64_t mm = drops("udp", UDP_DROP_LEN_MISMATCH), bl = drops("udp", UDP_DROP_BAD_LEN);

	inject(f, frame(f, 1, 7, "abcd", 4, -1, -2), PKT_CSUM_NONE);
	inject(f, frame(f, 1, 7, "abcd", 4, -1, +2), PKT_CSUM_NONE);
	inject(f, frame(f, 1, 7, "abcd", 4, -1, -6), PKT_CSUM_NONE);
	assert_int_equal(nsent, 0);
	assert_int_equal(drops("udp", UDP_DROP_LEN_MISMATCH), mm + 2);
	assert_int_equal(drops("udp", UDP_DROP_BAD_LEN), bl + 1);
}

static void test_port_unreachable(void **state)
{
	(void)state;
	uint8_t f[256], o[256];
	uint64_t pu = drops("udp", UDP_DROP_PORT_UNREACH);

	inject(f, frame(f, 5555, 9, "closed", 6, -1, 0), PKT_CSUM_NONE);
	assert_int_equal(drops("udp", UDP_DROP_PORT_UNREACH), pu + 1);
	assert_int_equal(nsent, 1);
	assert_true(pkt_copy_out(sent[0], 0, o, 14 + 20 + 8));
	assert_int_equal(o[23], IP_PROTO_ICMP);
	assert_int_equal(ip_get32(o + 30), PEER);
	assert_int_equal(o[34], ICMP_DEST_UNREACH);
	assert_int_equal(o[35], ICMP_UNREACH_PORT);
	clear_sent();
}

struct hit {
	unsigned n;
	uint16_t port;
};

static void count_handler(void *closure, struct pkt *p)
{
	struct hit *h = closure;
	struct udp_peer u;

	udp_peer(p, &u);
	h->n++;
	h->port = u.dport;
	pkt_free(p);
}

static void test_demux(void **state)
{
	(void)state;
	struct hit h[64] = {{0}};
	struct disp_binding *b[64];
	struct disp_term t[64];
	uint8_t f[256];

	for (unsigned i = 0; i < 64; i++) {
		t[i] = udp_port_term((uint16_t)(1000 + i * 7));
		struct UDP_PacketArrived_spec s = {.handler = count_handler, .closure = &h[i],
						   .terms = &t[i], .nterms = 1};
		assert_int_equal(UDP_PacketArrived_install(SPIN_KERNEL, &s, &b[i]), 0);
	}
	for (unsigned i = 0; i < 64; i += 3)
		inject(f, frame(f, 2000, (uint16_t)(1000 + i * 7), "x", 1, -1, 0), PKT_CSUM_NONE);
	for (unsigned i = 0; i < 64; i++) {
		assert_int_equal(h[i].n, i % 3 == 0 ? 1 : 0);
		if (h[i].n)
			assert_int_equal(h[i].port, 1000 + i * 7);
	}
	assert_int_equal(nsent, 0);
	/* A port between two bound ones is still unreachable. */
	inject(f, frame(f, 2000, 1001, "x", 1, -1, 0), PKT_CSUM_NONE);
	assert_int_equal(nsent, 1);
	clear_sent();
	for (unsigned i = 0; i < 64; i++)
		disp_uninstall(b[i]);
}

static void test_send_api(void **state)
{
	(void)state;
	struct pkt *p = pkt_alloc(pool);
	uint8_t *d;

	assert_non_null(p);
	d = pkt_put(p, 5);
	memcpy(d, "hello", 5);
	/* ifindex 0 and source 0: chosen from the on-link address. */
	udp_send(p, 0, 0, 1234, PEER, 4321);
	exec_loop_run_once(loop, 0);
	assert_int_equal(nsent, 1);
	check_udp_out(0, 1234, 4321, "hello", 5);
	clear_sent();

	/* No route: counted no_src on the udp node, nothing sent. */
	uint64_t ns = drops("udp", UDP_DROP_NO_SRC);
	p = pkt_alloc(pool);
	pkt_put(p, 1);
	udp_send(p, 0, 0, 1, IP_ADDR(198, 19, 9, 9), 2);
	assert_int_equal(nsent, 0);
	assert_int_equal(drops("udp", UDP_DROP_NO_SRC), ns + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_full_csum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_len_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_api, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
