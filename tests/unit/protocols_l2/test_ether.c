/*
 * test_ether.c - the Ethernet layer through the graph: frames go in at a
 * fake interface, arrive at a sink bound on Ether_PacketArrived for a test
 * EtherType, or are dropped under their reason; frames sent come out of
 * the fake interface's xmit.  Every test ends with no buffer outstanding.
 */
#include "l2_test.h"

static const uint8_t PAYLOAD[32] = "0123456789abcdef0123456789abcdef";

static void own_unicast_arrives(void **state)
{
	(void)state;
	uint8_t f[128];
	size_t n = eth_frame(f, US_MAC, PEER_MAC, TEST_TYPE, PAYLOAD, sizeof PAYLOAD);
	inject(f, n);
	assert_int_equal(nrx, 1);
	struct pkt *p = rx[0];
	NG_ASSERT_PKT_OK(p);
	assert_int_equal(pkt_len(p), n);         /* data start: the Ethernet header */
	assert_int_equal(p->l2_len, 14);
	assert_int_equal(p->l2_off, (int32_t)p->off);
	assert_int_equal(p->flags & (PKT_F_BCAST | PKT_F_MCAST | PKT_F_OTHERHOST | PKT_F_VLAN), 0);
	assert_memory_equal(pkt_data(p), f, n);
}

static void broadcast_arrives_marked(void **state)
{
	(void)state;
	uint8_t f[128];
	inject(f, eth_frame(f, BCAST_MAC, PEER_MAC, TEST_TYPE, PAYLOAD, 8));
	assert_int_equal(nrx, 1);
	assert_true(rx[0]->flags & PKT_F_BCAST);
}

static void other_host_dropped_unless_promisc(void **state)
{
	(void)state;
	static const uint8_t other[6] = {2, 0, 0, 0, 0, 0x77};
	uint8_t f[128];
	size_t n = eth_frame(f, other, PEER_MAC, TEST_TYPE, PAYLOAD, 8);
	uint64_t before = drops("ether", ETHER_DROP_OTHER_HOST);
	inject(f, n);
	assert_int_equal(nrx, 0);
	assert_int_equal(drops("ether", ETHER_DROP_OTHER_HOST), before + 1);

	assert_int_equal(ether_set_promisc(fake.index, true), ETHER_OK);
	assert_true(ether_promisc(fake.index));
	inject(f, n);
	assert_int_equal(nrx, 1);
	assert_true(rx[0]->flags & PKT_F_OTHERHOST);
	assert_int_equal(drops("ether", ETHER_DROP_OTHER_HOST), before + 1);
	assert_int_equal(ether_set_promisc(fake.index, false), ETHER_OK);
}

static void multicast_join_leave(void **state)
{
	(void)state;
	struct ether_addr g = ether_mcast_ipv4(0xeffe0001u);   /* 239.254.0.1 */
	uint8_t f[128];
	size_t n = eth_frame(f, g.b, PEER_MAC, TEST_TYPE, PAYLOAD, 8);
	assert_int_equal(g.b[0], 0x01);
	assert_int_equal(g.b[3], 0x7e);
	uint64_t before = drops("ether", ETHER_DROP_MCAST_FILTERED);

	inject(f, n);
	assert_int_equal(nrx, 0);
	assert_int_equal(drops("ether", ETHER_DROP_MCAST_FILTERED), before + 1);

	assert_int_equal(ether_mcast_join(fake.index, g), ETHER_OK);
	assert_int_equal(ether_mcast_join(fake.index, g), ETHER_OK);   /* counted */
	inject(f, n);
	assert_int_equal(nrx, 1);
	assert_true(rx[0]->flags & PKT_F_MCAST);

	assert_int_equal(ether_mcast_leave(fake.index, g), ETHER_OK);
	assert_true(ether_mcast_joined(fake.index, g));
	inject(f, n);
	assert_int_equal(nrx, 2);
	assert_int_equal(ether_mcast_leave(fake.index, g), ETHER_OK);
	assert_false(ether_mcast_joined(fake.index, g));
	assert_int_equal(ether_mcast_leave(fake.index, g), ETHER_ENOENT);
	inject(f, n);
	assert_int_equal(nrx, 2);
	assert_int_equal(drops("ether", ETHER_DROP_MCAST_FILTERED), before + 2);

	/* Unicast and broadcast addresses are not groups. */
	assert_int_equal(ether_mcast_join(fake.index, ether_addr_from(PEER_MAC)), ETHER_EINVAL);
	assert_int_equal(ether_mcast_join(fake.index, ETHER_BCAST), ETHER_EINVAL);
	/* The table is bounded. */
	for (unsigned i = 0; i < ETHER_MCAST_MAX; i++)
		assert_int_equal(ether_mcast_join(fake.index, ether_mcast_ipv4(0xeffe0100u + i)),
				 ETHER_OK);
	assert_int_equal(ether_mcast_join(fake.index, ether_mcast_ipv4(0xeffe0200u)), ETHER_EFULL);
	assert_int_equal(ether_set_allmulti(fake.index, true), ETHER_OK);
	inject(f, n);
	assert_int_equal(nrx, 3);
}

static void vlan_tag_is_stripped(void **state)
{
	(void)state;
	uint8_t f[128];
	uint8_t pl[4 + sizeof PAYLOAD];
	ether_put16(pl, 0xa000 | 42);               /* PCP 5, VLAN 42 */
	ether_put16(pl + 2, TEST_TYPE);
	memcpy(pl + 4, PAYLOAD, sizeof PAYLOAD);
	size_t n = eth_frame(f, US_MAC, PEER_MAC, ETHER_TYPE_VLAN, pl, sizeof pl);
	inject(f, n);
	assert_int_equal(nrx, 1);
	struct pkt *p = rx[0];
	NG_ASSERT_PKT_OK(p);
	assert_true(p->flags & PKT_F_VLAN);
	assert_int_equal(ETHER_VLAN_ID(p->vlan_tci), 42);
	assert_int_equal(p->vlan_tci >> 13, 5);
	assert_int_equal(pkt_len(p), n - 4);
	const uint8_t *d = pkt_data(p);
	assert_memory_equal(d, US_MAC, 6);
	assert_memory_equal(d + 6, PEER_MAC, 6);
	assert_int_equal(ether_get16(d + 12), TEST_TYPE);
	assert_memory_equal(d + 14, PAYLOAD, sizeof PAYLOAD);

	/* A reply built in the same buffer goes back tagged. */
	rx[0] = NULL;
	nrx = 0;
	pkt_pull(p, 14);
	ether_send(p, fake.index, ether_addr_from(PEER_MAC), TEST_TYPE);
	assert_int_equal(ncap, 1);
	d = pkt_data(cap[0]);
	assert_int_equal(pkt_len(cap[0]), 18 + sizeof PAYLOAD);
	assert_memory_equal(d, PEER_MAC, 6);
	assert_memory_equal(d + 6, US_MAC, 6);
	assert_int_equal(ether_get16(d + 12), ETHER_TYPE_VLAN);
	assert_int_equal(ether_get16(d + 14), 0xa000 | 42);
	assert_int_equal(ether_get16(d + 16), TEST_TYPE);

	/* A second tag is refused. */
	uint8_t qq[8 + 8];
	ether_put16(qq, 7);
	ether_put16(qq + 2, ETHER_TYPE_VLAN);
	ether_put16(qq + 4, 8);
	ether_put16(qq + 6, TEST_TYPE);
	uint64_t before = drops("ether", ETHER_DROP_VLAN_NESTED);
	inject(f, eth_frame(f, US_MAC, PEER_MAC, ETHER_TYPE_VLAN, qq, sizeof qq));
	inject(f, eth_frame(f, US_MAC, PEER_MAC, ETHER_TYPE_QINQ, qq, sizeof qq));
	assert_int_equal(drops("ether", ETHER_DROP_VLAN_NESTED), before + 2);
	/* A tag cut short. */
	before = drops("ether", NG_DROP_SHORT);
	inject(f, eth_frame(f, US_MAC, PEER_MAC, ETHER_TYPE_VLAN, qq, 2));
	assert_int_equal(drops("ether", NG_DROP_SHORT), before + 1);
	assert_int_equal(nrx, 0);
}

static void bad_frames_dropped_by_reason(void **state)
{
	(void)state;
	uint8_t f[128];
	static const uint8_t mcast_src[6] = {1, 0, 0x5e, 0, 0, 1};
	uint64_t s = drops("ether", NG_DROP_SHORT), b = drops("ether", ETHER_DROP_BAD_SRC),
		 l = drops("ether", ETHER_DROP_NOT_ETHER_II), h = drops("ether", NG_DROP_NO_HANDLER);
	eth_frame(f, US_MAC, PEER_MAC, TEST_TYPE, PAYLOAD, 8);
	for (size_t cut = 0; cut < 14; cut++)
		inject(f, cut);
	inject(f, eth_frame(f, US_MAC, mcast_src, TEST_TYPE, PAYLOAD, 8));
	inject(f, eth_frame(f, US_MAC, PEER_MAC, 46, PAYLOAD, 8));      /* 802.3 length */
	inject(f, eth_frame(f, US_MAC, PEER_MAC, 0x9999, PAYLOAD, 8));  /* nobody's type */
	assert_int_equal(nrx, 0);
	assert_int_equal(drops("ether", NG_DROP_SHORT), s + 14);
	assert_int_equal(drops("ether", ETHER_DROP_BAD_SRC), b + 1);
	assert_int_equal(drops("ether", ETHER_DROP_NOT_ETHER_II), l + 1);
	assert_int_equal(drops("ether", NG_DROP_NO_HANDLER), h + 1);
}

static void send_prepends_header(void **state)
{
	(void)state;
	struct pkt *p = pkt_from_bytes(pool, PAYLOAD, sizeof PAYLOAD);
	assert_non_null(p);
	ether_send(p, fake.index, ether_addr_from(PEER_MAC), TEST_TYPE);
	assert_int_equal(ncap, 1);
	struct pkt *o = cap[0];
	NG_ASSERT_PKT_OK(o);
	assert_int_equal(pkt_len(o), 14 + sizeof PAYLOAD);
	const uint8_t *d = pkt_data(o);
	assert_memory_equal(d, PEER_MAC, 6);
	assert_memory_equal(d + 6, US_MAC, 6);
	assert_int_equal(ether_get16(d + 12), TEST_TYPE);
	assert_memory_equal(d + 14, PAYLOAD, sizeof PAYLOAD);

	/* A clone (shared data) is made private before the header goes on. */
	p = pkt_from_bytes(pool, PAYLOAD, 8);
	struct pkt *c = pkt_clone(p);
	assert_non_null(c);
	ether_send(c, fake.index, ETHER_BCAST, TEST_TYPE);
	assert_int_equal(ncap, 2);
	assert_memory_equal(pkt_data(cap[1]), BCAST_MAC, 6);
	assert_int_equal(pkt_len(p), 8);
	pkt_free(p);

	/* No such interface. */
	uint64_t before = drops("ether", NG_DROP_NO_IFACE);
	p = pkt_from_bytes(pool, PAYLOAD, 8);
	ether_send(p, NG_IF_MAX, ETHER_BCAST, TEST_TYPE);
	assert_int_equal(drops("ether", NG_DROP_NO_IFACE), before + 1);
	assert_int_equal(ncap, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(own_unicast_arrives, l2_setup, l2_teardown),
		cmocka_unit_test_setup_teardown(broadcast_arrives_marked, l2_setup, l2_teardown),
		cmocka_unit_test_setup_teardown(other_host_dropped_unless_promisc, l2_setup,
						l2_teardown),
		cmocka_unit_test_setup_teardown(multicast_join_leave, l2_setup, l2_teardown),
		cmocka_unit_test_setup_teardown(vlan_tag_is_stripped, l2_setup, l2_teardown),
		cmocka_unit_test_setup_teardown(bad_frames_dropped_by_reason, l2_setup,
						l2_teardown),
		cmocka_unit_test_setup_teardown(send_prepends_header, l2_setup, l2_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
