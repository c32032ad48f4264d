/*
 * test_arp.c - ARP through the graph with a fake interface: answers,
 * resolution with the pending queue, cache lifetimes driven by the run
 * loop's timers, static entries, gratuitous ARP, and bad packets dropped
 * by reason.  Every test ends with no buffer outstanding.
 */
#include "l2_test.h"

static const uint8_t ZERO_MAC[6];
static const uint8_t PEER2_MAC[6] = {2, 0, 0, 0, 0, 0x02};

/* Checks cap[i] is an ARP packet with these fields; returns its op. */
static void check_arp(unsigned i, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha,
		      uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	assert_true(i < ncap);
	struct pkt *p = cap[i];
	NG_ASSERT_PKT_OK(p);
	uint8_t f[64];
	assert_int_equal(pkt_len(p), 14 + 28);
	assert_true(pkt_copy_out(p, 0, f, 42));
	assert_memory_equal(f, eth_dst, 6);
	assert_memory_equal(f + 6, US_MAC, 6);
	assert_int_equal(ether_get16(f + 12), 0x0806);
	const uint8_t *a = f + 14;
	assert_int_equal(ether_get16(a), 1);
	assert_int_equal(ether_get16(a + 2), 0x0800);
	assert_int_equal(a[4], 6);
	assert_int_equal(a[5], 4);
	assert_int_equal(ether_get16(a + 6), op);
	assert_memory_equal(a + 8, sha, 6);
	assert_int_equal(get32(a + 14), spa);
	assert_memory_equal(a + 18, tha, 6);
	assert_int_equal(get32(a + 24), tpa);
}

/* An IPv4-looking payload for arp_send; the byte at 19 tells packets apart. */
static struct pkt *ip_pkt(uint8_t tag)
{
	uint8_t b[20] = {0x45};
	b[19] = tag;
	struct pkt *p = pkt_from_bytes(pool, b, sizeof b);
	assert_non_null(p);
	return p;
}

static void check_ip_out(unsigned i, const uint8_t *dst, uint8_t tag)
{
	assert_true(i < ncap);
	const uint8_t *d = pkt_data(cap[i]);
	assert_memory_equal(d, dst, 6);
	assert_int_equal(ether_get16(d + 12), 0x0800);
	assert_int_equal(d[14 + 19], tag);
}

static struct arp_entry_info entry(uint32_t ip)
{
	static struct arp_entry_info e[ARP_CACHE_MAX];
	unsigned n = arp_list(e, ARP_CACHE_MAX);
	for (unsigned i = 0; i < n && i < ARP_CACHE_MAX; i++)
		if (e[i].ip == ip && e[i].ifindex == fake.index)
			return e[i];
	return (struct arp_entry_info){.state = ARP_S_FREE};
}

static void add_us(void)
{
	assert_int_equal(inet_addr_add(fake.index, US_IP, 24), INET_OK);
	clear_cap();    /* the gratuitous ARP */
}

static void request_for_us_is_answered(void **state)
{
	(void)state;
	add_us();
	uint8_t f[128];
	inject(f, arp_frame(f, BCAST_MAC, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, US_IP));
	assert_int_equal(ncap, 1);
	check_arp(0, PEER_MAC, ARP_OP_REPLY, US_MAC, US_IP, PEER_MAC, PEER_IP);
	/* The asker was learned, unconfirmed. */
	struct arp_entry_info e = entry(PEER_IP);
	assert_int_equal(e.state, ARP_S_STALE);
	assert_memory_equal(e.mac.b, PEER_MAC, 6);
	struct arp_stats st;
	arp_stats_get(&st);
	assert_int_equal(st.requests_rx, 1);
	assert_int_equal(st.replies_tx, 1);

	/* A request for someone else is not answered and teaches nothing. */
	inject(f, arp_frame(f, BCAST_MAC, ARP_OP_REQUEST, PEER2_MAC, OTHER_IP + 1, ZERO_MAC,
			    OTHER_IP));
	assert_int_equal(ncap, 1);
	assert_int_equal(entry(OTHER_IP + 1).state, ARP_S_FREE);
	arp_stats_get(&st);
	assert_int_equal(st.ignored_rx, 1);
}

static void resolve_queue_and_reply(void **state)
{
	(void)state;
	add_us();
	arp_send(ip_pkt(1), fake.index, PEER_IP);
	arp_send(ip_pkt(2), fake.index, PEER_IP);
	/* One broadcast request, the packets wait. */
	assert_int_equal(ncap, 1);
	check_arp(0, BCAST_MAC, ARP_OP_REQUEST, US_MAC, US_IP, ZERO_MAC, PEER_IP);
	struct arp_entry_info e = entry(PEER_IP);
	assert_int_equal(e.state, ARP_S_INCOMPLETE);
	assert_int_equal(e.queued, 2);
	assert_false(arp_lookup(fake.index, PEER_IP, NULL));

	uint8_t f[128];
	inject(f, arp_frame(f, US_MAC, ARP_OP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP));
	assert_int_equal(ncap, 3);
	check_ip_out(1, PEER_MAC, 1);
	check_ip_out(2, PEER_MAC, 2);
	e = entry(PEER_IP);
	assert_int_equal(e.state, ARP_S_REACHABLE);
	assert_int_equal(e.queued, 0);
	struct ether_addr m;
	assert_true(arp_lookup(fake.index, PEER_IP, &m));
	assert_memory_equal(m.b, PEER_MAC, 6);

	/* Known now: straight out. */
	arp_send(ip_pkt(3), fake.index, PEER_IP);
	assert_int_equal(ncap, 4);
	check_ip_out(3, PEER_MAC, 3);
}

static void pending_queue_is_bounded(void **state)
{
	(void)state;
	add_us();
	uint64_t before = drops("arp", ARP_DROP_QUEUE_FULL);
	for (uint8_t i = 1; i <= 7; i++)
		arp_send(ip_pkt(i), fake.index, PEER_IP);
	assert_int_equal(entry(PEER_IP).queued, 4);
	assert_int_equal(drops("arp", ARP_DROP_QUEUE_FULL), before + 3);
	uint8_t f[128];
	inject(f, arp_frame(f, US_MAC, ARP_OP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP));
	/* The request, then the four newest, in order. */
	assert_int_equal(ncap, 5);
	for (unsigned i = 0; i < 4; i++)
		check_ip_out(1 + i, PEER_MAC, (uint8_t)(4 + i));
}

static bool peer_gone(void) { return entry(PEER_IP).state == ARP_S_FREE; }
static bool peer_stale(void) { return entry(PEER_IP).state == ARP_S_STALE; }

static void unanswered_resolution_times_out(void **state)
{
	(void)state;
	add_us();
	struct arp_config c;
	arp_config_get(&c);
	c.retrans_ns = 5000000;
	c.max_probes = 3;
	assert_int_equal(arp_config_set(&c), ARP_OK);
	uint64_t before = drops("arp", ARP_DROP_NO_REPLY);
	arp_send(ip_pkt(1), fake.index, PEER_IP);
	arp_send(ip_pkt(2), fake.index, PEER_IP);
	assert_true(run_until(peer_gone));
	assert_int_equal(drops("arp", ARP_DROP_NO_REPLY), before + 2);
	assert_int_equal(ncap, 3);      /* max_probes requests, all broadcast */
	for (unsigned i = 0; i < 3; i++)
		check_arp(i, BCAST_MAC, ARP_OP_REQUEST, US_MAC, US_IP, ZERO_MAC, PEER_IP);
}

static void cache_lifetimes(void **state)
{
	(void)state;
	add_us();
	struct arp_config c;
	arp_config_get(&c);
	c.reachable_ns = 20000000;
	c.stale_ns = 40000000;
	c.retrans_ns = 1000000000;
	assert_int_equal(arp_config_set(&c), ARP_OK);
	arp_send(ip_pkt(1), fake.index, PEER_IP);
	uint8_t f[128];
	inject(f, arp_frame(f, US_MAC, ARP_OP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP));
	assert_int_equal(entry(PEER_IP).state, ARP_S_REACHABLE);
	assert_true(run_until(peer_stale));
	/* Still usable while stale; the first use asks the neighbour directly. */
	clear_cap();
	arp_send(ip_pkt(2), fake.index, PEER_IP);
	assert_int_equal(ncap, 2);
	check_arp(0, PEER_MAC, ARP_OP_REQUEST, US_MAC, US_IP, ZERO_MAC, PEER_IP);
	check_ip_out(1, PEER_MAC, 2);
	arp_send(ip_pkt(3), fake.index, PEER_IP);   /* no second probe so soon */
	assert_int_equal(ncap, 3);
	/* Its answer makes the entry reachable again. */
	inject(f, arp_frame(f, US_MAC, ARP_OP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP));
	assert_int_equal(entry(PEER_IP).state, ARP_S_REACHABLE);
	/* Unused: reachable -> stale -> gone. */
	assert_true(run_until(peer_stale));
	assert_true(run_until(peer_gone));
	struct arp_stats st;
	arp_stats_get(&st);
	assert_int_equal(st.expired, 1);
}

static void static_entries(void **state)
{
	(void)state;
	add_us();
	struct arp_config c;
	arp_config_get(&c);
	c.reachable_ns = 1000000;
	c.stale_ns = 1000000;
	assert_int_equal(arp_config_set(&c), ARP_OK);
	assert_int_equal(arp_static_add(fake.index, PEER_IP, ether_addr_from(PEER_MAC)), ARP_OK);
	arp_send(ip_pkt(1), fake.index, PEER_IP);
	assert_int_equal(ncap, 1);
	check_ip_out(0, PEER_MAC, 1);
	/* Packets cannot overwrite it. */
	uint8_t f[128];
	inject(f, arp_frame(f, US_MAC, ARP_OP_REPLY, PEER2_MAC, PEER_IP, US_MAC, US_IP));
	struct arp_entry_info e = entry(PEER_IP);
	assert_int_equal(e.state, ARP_S_STATIC);
	assert_memory_equal(e.mac.b, PEER_MAC, 6);
	/* It does not expire (timers run for a while). */
	for (int i = 0; i < 20; i++)
		exec_loop_run_once(loop, 1000000);
	assert_int_equal(entry(PEER_IP).state, ARP_S_STATIC);
	/* A static entry resolves waiting packets. */
	arp_send(ip_pkt(2), fake.index, OTHER_IP);
	assert_int_equal(entry(OTHER_IP).queued, 1);
	assert_int_equal(arp_static_add(fake.index, OTHER_IP, ether_addr_from(PEER2_MAC)), ARP_OK);
	check_ip_out(ncap - 1, PEER2_MAC, 2);
	/* Deleting works; bad arguments are refused. */
	assert_int_equal(arp_delete(fake.index, OTHER_IP), ARP_OK);
	assert_int_equal(arp_delete(fake.index, OTHER_IP), ARP_ENOENT);
	assert_int_equal(arp_static_add(fake.index, PEER_IP, ETHER_BCAST), ARP_EINVAL);
	assert_int_equal(arp_static_add(0, PEER_IP, ether_addr_from(PEER_MAC)), ARP_EINVAL);
	/* flush keeps static entries unless asked. */
	arp_flush(fake.index, false);
	assert_int_equal(entry(PEER_IP).state, ARP_S_STATIC);
	arp_flush(fake.index, true);
	assert_int_equal(entry(PEER_IP).state, ARP_S_FREE);
}

static void gratuitous_arp(void **state)
{
	(void)state;
	assert_int_equal(inet_addr_add(fake.index, US_IP, 24), INET_OK);
	assert_int_equal(ncap, 1);
	check_arp(0, BCAST_MAC, ARP_OP_REQUEST, US_MAC, US_IP, ZERO_MAC, US_IP);
	assert_int_equal(inet_addr_add(fake.index, OTHER_IP, 24), INET_OK);
	assert_int_equal(ncap, 2);
	check_arp(1, BCAST_MAC, ARP_OP_REQUEST, US_MAC, OTHER_IP, ZERO_MAC, OTHER_IP);
	assert_int_equal(arp_announce(fake.index), 2);
	assert_int_equal(ncap, 4);
	struct arp_stats st;
	arp_stats_get(&st);
	assert_int_equal(st.gratuitous_tx, 4);

	/* A peer's announcement refreshes what we know, and creates nothing. */
	uint8_t f[128];
	inject(f, arp_frame(f, BCAST_MAC, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, PEER_IP));
	assert_int_equal(entry(PEER_IP).state, ARP_S_FREE);
	arp_send(ip_pkt(1), fake.index, PEER_IP);
	inject(f, arp_frame(f, US_MAC, ARP_OP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP));
	inject(f, arp_frame(f, BCAST_MAC, ARP_OP_REQUEST, PEER2_MAC, PEER_IP, ZERO_MAC, PEER_IP));
	struct arp_entry_info e = entry(PEER_IP);
	assert_int_equal(e.state, ARP_S_STALE);       /* moved: unconfirmed */
	assert_memory_equal(e.mac.b, PEER2_MAC, 6);
}

static void special_next_hops(void **state)
{
	(void)state;
	add_us();
	arp_send(ip_pkt(1), fake.index, 0xffffffffu);
	arp_send(ip_pkt(2), fake.index, 0xc61200ffu);         /* 198.18.0.255: directed */
	arp_send(ip_pkt(3), fake.index, 0xe0000001u);         /* 224.0.0.1 */
	static const uint8_t allhosts[6] = {1, 0, 0x5e, 0, 0, 1};
	assert_int_equal(ncap, 3);
	check_ip_out(0, BCAST_MAC, 1);
	check_ip_out(1, BCAST_MAC, 2);
	check_ip_out(2, allhosts, 3);
	/* No address on the interface: nothing to ask from. */
	inet_addr_flush(fake.index);
	uint64_t before = drops("arp", ARP_DROP_NO_ADDR);
	arp_send(ip_pkt(4), fake.index, PEER_IP);
	assert_int_equal(drops("arp", ARP_DROP_NO_ADDR), before + 1);
}

static void bad_packets_dropped_by_reason(void **state)
{
	(void)state;
	add_us();
	uint8_t f[128];
	size_t n = arp_frame(f, BCAST_MAC, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, US_IP);
	struct {
		unsigned off;           /* byte to change, from the frame start */
		uint8_t val;
		unsigned reason;
	} cases[] = {
		{14 + 4, 8, ARP_DROP_BAD_LEN},          /* hlen */
		{14 + 5, 16, ARP_DROP_BAD_LEN},         /* plen */
		{14 + 1, 6, ARP_DROP_BAD_HTYPE},
		{14 + 2, 0x86, ARP_DROP_BAD_PTYPE},
		{14 + 7, 3, ARP_DROP_BAD_OP},
		{14 + 8, 0x01, ARP_DROP_BAD_SHA},       /* group bit in sha */
		{14 + 14, 224, ARP_DROP_BAD_SPA},
	};
	for (size_t i = 0; i < NG_ARRAY_LEN(cases); i++) {
		uint8_t g[128];
		memcpy(g, f, n);
		g[cases[i].off] = cases[i].val;
		uint64_t before = drops("arp", cases[i].reason);
		inject(g, n);
		assert_int_equal(drops("arp", cases[i].reason), before + 1);
	}
	/* Truncated: the fixed part, then the addresses, cut. */
	uint64_t before = drops("arp", NG_DROP_SHORT);
	for (size_t cut = 14; cut < 14 + 28; cut++)
		inject(f, cut);
	assert_int_equal(drops("arp", NG_DROP_SHORT), before + 28);
	/* Someone claims our address. */
	before = drops("arp", ARP_DROP_CONFLICT);
	inject(f, arp_frame(f, BCAST_MAC, ARP_OP_REQUEST, PEER_MAC, US_IP, ZERO_MAC, PEER_IP));
	assert_int_equal(drops("arp", ARP_DROP_CONFLICT), before + 1);
	assert_int_equal(ncap, 0);
	assert_int_equal(entry(PEER_IP).state, ARP_S_FREE);
}

static void address_table(void **state)
{
	(void)state;
	uint16_t k = fake.index;
	assert_int_equal(inet_addr_add(k, US_IP, 24), INET_OK);
	assert_int_equal(inet_addr_add(k, US_IP, 24), INET_EEXIST);
	assert_int_equal(inet_addr_add(0, US_IP, 24), INET_EINVAL);
	assert_int_equal(inet_addr_add(k, OTHER_IP, 33), INET_EINVAL);
	assert_int_equal(inet_addr_add(k, 0xc6130001u, 30), INET_OK);   /* 198.19.0.1/30 */
	assert_true(inet_addr_is_local(k, US_IP));
	assert_false(inet_addr_is_local(k, PEER_IP));
	assert_int_equal(inet_addr_ifindex(0xc6130001u), k);
	assert_int_equal(inet_addr_ifindex(PEER_IP), 0);
	struct inet_ifaddr a;
	assert_true(inet_addr_primary(k, &a));
	assert_int_equal(a.addr, US_IP);
	assert_int_equal(a.plen, 24);
	assert_true(inet_addr_onlink(k, 0xc6130002u, &a));
	assert_int_equal(a.addr, 0xc6130001u);
	assert_false(inet_addr_onlink(k, 0xc6140002u, &a));
	assert_true(inet_addr_is_bcast(k, 0xc61200ffu));
	assert_true(inet_addr_is_bcast(k, 0xc6130003u));
	assert_false(inet_addr_is_bcast(k, 0xc61300ffu));
	assert_int_equal(inet_addr_list(k, NULL, 0), 2);
	assert_int_equal(inet_addr_del(k, US_IP), INET_OK);
	assert_int_equal(inet_addr_del(k, US_IP), INET_ENOENT);
	assert_true(inet_addr_primary(k, &a));
	assert_int_equal(a.addr, 0xc6130001u);
	for (unsigned i = 1; i < INET_ADDRS_PER_IF; i++)
		assert_int_equal(inet_addr_add(k, US_IP + i, 24), INET_OK);
	assert_int_equal(inet_addr_add(k, OTHER_IP + 100, 24), INET_EFULL);
	assert_int_equal(arp_config_set(&(struct arp_config){0}), ARP_EINVAL);
}

static void table_full_and_eviction(void **state)
{
	(void)state;
	add_us();
	/* Full of unresolved next hops: nothing can be evicted. */
	for (uint32_t i = 0; i < ARP_CACHE_MAX; i++) {
		arp_send(ip_pkt(1), fake.index, 0xc6130000u + i);      /* 198.19.x.x */
		clear_cap();
	}
	assert_int_equal(arp_list(NULL, 0), ARP_CACHE_MAX);
	uint64_t before = drops("arp", ARP_DROP_TABLE_FULL);
	arp_send(ip_pkt(2), fake.index, PEER_IP);
	assert_int_equal(drops("arp", ARP_DROP_TABLE_FULL), before + 1);
	assert_int_equal(arp_static_add(fake.index, PEER_IP, ether_addr_from(PEER_MAC)),
			 ARP_EFULL);
	before = drops("arp", ARP_DROP_FLUSHED);
	arp_flush(fake.index, false);
	assert_int_equal(drops("arp", ARP_DROP_FLUSHED), before + ARP_CACHE_MAX);
	assert_int_equal(arp_list(NULL, 0), 0);

	/* Full of stale entries (learned from requests): the oldest goes. */
	uint8_t f[128];
	for (uint32_t i = 0; i < ARP_CACHE_MAX; i++) {
		uint8_t mac[6] = {2, 0, 0, 1, (uint8_t)(i >> 8), (uint8_t)i};
		inject(f, arp_frame(f, BCAST_MAC, ARP_OP_REQUEST, mac, 0xc6120100u + i, ZERO_MAC,
				    US_IP));
		clear_cap();
	}
	assert_int_equal(arp_list(NULL, 0), ARP_CACHE_MAX);
	assert_int_equal(entry(0xc6120100u).state, ARP_S_STALE);
	arp_send(ip_pkt(3), fake.index, PEER_IP);
	assert_int_equal(entry(PEER_IP).state, ARP_S_INCOMPLETE);
	assert_int_equal(entry(0xc6120100u).state, ARP_S_FREE);
	assert_int_equal(arp_list(NULL, 0), ARP_CACHE_MAX);
}

static void listing(void **state)
{
	(void)state;
	add_us();
	assert_int_equal(arp_static_add(fake.index, PEER_IP, ether_addr_from(PEER_MAC)), ARP_OK);
	arp_send(ip_pkt(1), fake.index, OTHER_IP);
	char buf[512];
	int n = arp_format(buf, sizeof buf);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	assert_non_null(strstr(buf, "198.18.0.1 02:00:00:00:00:01 l2a static"));
	assert_non_null(strstr(buf, "198.18.0.9 00:00:00:00:00:00 l2a incomplete"));
	assert_int_equal(arp_format(NULL, 0), n);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, l2_setup, l2_teardown)
	const struct CMUnitTest tests[] = {
		T(request_for_us_is_answered),
		T(resolve_queue_and_reply),
		T(pending_queue_is_bounded),
		T(unanswered_resolution_times_out),
		T(cache_lifetimes),
		T(static_entries),
		T(gratuitous_arp),
		T(special_next_hops),
		T(bad_packets_dropped_by_reason),
		T(address_table),
		T(table_full_and_eviction),
		T(listing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
