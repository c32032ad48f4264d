/*
 * test_ip.c - IPv4 and ICMP through the whole graph.  Frames go in at the
 * link layer of two fake interfaces (ng_iface_input) and everything spin
 * sends is captured by their xmit.  Covers header validation (one case per
 * drop reason), longest-prefix routing, fragmentation and reassembly at
 * ping sizes, reassembly edge cases (order, duplicates, overlap, timeout,
 * limits), forwarding (TTL, fragmentation needed, fragmenting), the ICMP
 * rules of RFC 1122 3.2.2 and the rate limit.  Clocks are fake: nothing
 * depends on timing.  Every test ends with no pool buffer outstanding.
 *
 *   peer0 198.18.0.1 --- fk0 198.18.0.2/24 [spin] fk1 198.18.1.2/24 --- peer1 198.18.1.1
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "tests/unit/netgraph/ng_test.h"

#define US0 IP_ADDR(198, 18, 0, 2)
#define PEER0 IP_ADDR(198, 18, 0, 1)
#define US1 IP_ADDR(198, 18, 1, 2)
#define PEER1 IP_ADDR(198, 18, 1, 1)
#define FAR IP_ADDR(198, 19, 7, 7)     /* beyond peer1, by a route */

#define CAP_MAX 160
#define BIG 70000

static struct pkt_pool *pool;
static struct exec_loop *loop;
static struct pkt *cap[2][CAP_MAX];
static unsigned ncap[2];
static uint64_t fake_now = 1000000000ull;
static uint64_t clock_fn(void) { return fake_now; }

static int xmit0(struct ng_iface *ifp, struct pkt *p);
static int xmit1(struct ng_iface *ifp, struct pkt *p);
static const struct ng_iface_ops ops0 = {.xmit = xmit0}, ops1 = {.xmit = xmit1};
static struct ng_iface fk[2] = {
	{.name = "fk0", .mac = {2, 0, 0, 0, 0, 2}, .mtu = 1500, .ops = &ops0, .driver = "fake"},
	{.name = "fk1", .mac = {2, 0, 0, 0, 1, 2}, .mtu = 1500, .ops = &ops1, .driver = "fake"},
};
static const uint8_t peer_mac[2][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 1, 1}};

static int keep(unsigned i, struct pkt *p)
{
	if (ncap[i] < CAP_MAX) {
		cap[i][ncap[i]++] = p;
		return 0;
	}
	pkt_free(p);
	return -1;
}
static int xmit0(struct ng_iface *ifp, struct pkt *p) { (void)ifp; return keep(0, p); }
static int xmit1(struct ng_iface *ifp, struct pkt *p) { (void)ifp; return keep(1, p); }

static void clear_cap(void)
{
	for (unsigned i = 0; i < 2; i++) {
		for (unsigned j = 0; j < ncap[i]; j++)
			pkt_free(cap[i][j]);
		ncap[i] = 0;
	}
}

static struct ng_stats snap_ip, snap_icmp;
static void snap(void)
{
	assert_int_equal(ng_msg_send("ip", "getstats", &snap_ip), NG_OK);
	assert_int_equal(ng_msg_send("icmp", "getstats", &snap_icmp), NG_OK);
}
/* Drops on node under reason since the last snap(). */
static uint64_t dropped(const char *node, unsigned reason)
{
	struct ng_stats st;
	assert_int_equal(ng_msg_send(node, "getstats", &st), NG_OK);
	const struct ng_stats *s0 = strcmp(node, "ip") == 0 ? &snap_ip : &snap_icmp;
	return st.reason[reason] - s0->reason[reason];
}

/* --- building frames ---------------------------------------------------------- */
struct iph {
	uint32_t src, dst;
	uint8_t ttl, proto, tos, ihl;   /* ihl 0: 5 */
	uint16_t id, frag;
	int tot_delta;                  /* added to the correct total length */
	int csum;                       /* -1: correct */
	const uint8_t *opt;
	unsigned optlen;
};

/* An IP header + payload at d; returns the datagram length. */
static size_t mk_ip(uint8_t *d, const struct iph *b, const void *pl, size_t n)
{
	unsigned hl = 20 + b->optlen;
	memset(d, 0, hl);
	d[0] = (uint8_t)(0x40 | (b->ihl ? b->ihl : hl / 4));
	d[1] = b->tos;
	ip_put16(d + 2, (uint16_t)((int)(hl + n) + b->tot_delta));
	ip_put16(d + 4, b->id);
	ip_put16(d + 6, b->frag);
	d[8] = b->ttl ? b->ttl : 64;
	d[9] = b->proto;
	ip_put32(d + 12, b->src ? b->src : PEER0);
	ip_put32(d + 16, b->dst ? b->dst : US0);
	if (b->optlen)
		memcpy(d + 20, b->opt, b->optlen);
	uint16_t c = ip_hdr_csum(d, hl);
	ip_put16(d + 10, b->csum >= 0 ? (uint16_t)b->csum : c);
	if (pl && n)
		memcpy(d + hl, pl, n);
	return hl + n;
}

/* Sends the datagram d (len bytes) in a frame on interface ifx. */
static void inject(unsigned ifx, const uint8_t *d, size_t len, size_t pad)
{
	static uint8_t f[BIG];
	memcpy(f, fk[ifx].mac, 6);
	memcpy(f + 6, peer_mac[ifx], 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memcpy(f + 14, d, len);
	memset(f + 14 + len, 0, pad);
	struct pkt *p = pkt_from_bytes(pool, f, 14 + len + pad);
	assert_non_null(p);
	ng_iface_input(&fk[ifx], p);
	exec_loop_run_once(loop, 0);
}

/* An echo request PEER0 -> US0 with n bytes of payload; returns its length. */
static size_t mk_echo(uint8_t *d, uint16_t id, size_t n, uint16_t ipid)
{
	static uint8_t icmp[BIG];
	icmp[0] = ICMP_ECHO;
	icmp[1] = 0;
	ip_put16(icmp + 2, 0);
	ip_put16(icmp + 4, id);
	ip_put16(icmp + 6, 1);
	for (size_t i = 0; i < n; i++)
		icmp[8 + i] = (uint8_t)(i * 7 + 3);
	ip_put16(icmp + 2, csum_fold(csum_add(0, icmp, 8 + n)));
	struct iph h = {.proto = IP_PROTO_ICMP, .id = ipid, .csum = -1};
	return mk_ip(d, &h, icmp, 8 + n);
}

/* Cuts datagram d (20-byte header) into fragments for mtu; writes each as a
 * datagram into frags[i] (lengths in lens); returns the count. */
static unsigned cut(const uint8_t *d, size_t len, unsigned mtu, uint8_t (*frags)[2048],
		    size_t *lens, unsigned max)
{
	size_t pl = len - 20, off = 0;
	unsigned n = 0;
	while (off < pl && n < max) {
		size_t chunk = ((mtu - 20) / 8) * 8;
		bool last = off + chunk >= pl;
		if (last)
			chunk = pl - off;
		uint8_t *f = frags[n];
		memcpy(f, d, 20);
		memcpy(f + 20, d + 20 + off, chunk);
		ip_put16(f + 2, (uint16_t)(20 + chunk));
		ip_put16(f + 6, (uint16_t)((off / 8) | (last ? 0 : IP_FRAG_MF)));
		ip_put16(f + 10, 0);
		ip_put16(f + 10, ip_hdr_csum(f, 20));
		lens[n++] = 20 + chunk;
		off += chunk;
	}
	return n;
}

/* A fragment of datagram (PEER0 -> US0, proto, id) at byte offset off with
 * n payload bytes. */
static size_t mk_frag(uint8_t *d, uint16_t id, uint8_t proto, uint32_t off, size_t n, bool mf)
{
	static uint8_t pl[BIG];
	memset(pl, 0x5a, n);
	struct iph h = {.proto = proto, .id = id, .csum = -1,
			.frag = (uint16_t)((off / 8) | (mf ? IP_FRAG_MF : 0))};
	return mk_ip(d, &h, pl, n);
}

/* --- reading what was sent ---------------------------------------------------------- */
/* Reassembles every frame captured on ifx into one datagram at out (checking
 * each frame's header and size); returns its length. */
static size_t collect(unsigned ifx, uint8_t *out, unsigned *nfrags)
{
	static uint8_t f[BIG];
	size_t total = 0;
	unsigned hl0 = 0;
	*nfrags = ncap[ifx];
	for (unsigned i = 0; i < ncap[ifx]; i++) {
		struct pkt *p = cap[ifx][i];
		NG_ASSERT_PKT_OK(p);
		size_t n = pkt_len(p);
		assert_true(n <= 14 + fk[ifx].mtu);
		assert_true(pkt_copy_out(p, 0, f, (uint32_t)n));
		assert_memory_equal(f, peer_mac[ifx], 6);
		assert_int_equal(ip_get16(f + 12), 0x0800);
		uint8_t *h = f + 14;
		unsigned hl = (h[0] & 15u) * 4;
		assert_int_equal(ip_hdr_csum(h, hl), 0);
		assert_int_equal(ip_get16(h + 2), n - 14);
		uint16_t fw = ip_get16(h + 6);
		uint32_t off = (fw & IP_FRAG_OFFMASK) * 8u;
		if (off == 0) {
			memcpy(out, h, hl);
			hl0 = hl;
		}
		memcpy(out + 20 + off, h + hl, n - 14 - hl);
		if (!(fw & IP_FRAG_MF))
			total = 20 + off + (n - 14 - hl);
		if (ncap[ifx] > 1)
			assert_true(fw & IP_FRAG_MF || i == ncap[ifx] - 1 || off != 0);
	}
	assert_int_equal(hl0, 20);
	return total;
}

/* Checks that what fk0 sent is the echo reply to request d. */
static void check_reply(const uint8_t *req, size_t len, unsigned expect_frags)
{
	static uint8_t r[BIG];
	unsigned nf;
	size_t n = collect(0, r, &nf);
	assert_int_equal(nf, expect_frags);
	assert_int_equal(n, len);
	assert_int_equal(ip_get32(r + 12), US0);
	assert_int_equal(ip_get32(r + 16), PEER0);
	assert_int_equal(r[9], IP_PROTO_ICMP);
	assert_int_equal(r[20], ICMP_ECHO_REPLY);
	assert_int_equal(csum_fold(csum_add(0, r + 20, n - 20)), 0);
	assert_memory_equal(r + 24, req + 24, len - 24);
}

/* Checks that fk[ifx] sent one ICMP error (type, code) about a datagram
 * whose header was orig; returns the rest-of-header word. */
static uint32_t check_error(unsigned ifx, uint8_t type, uint8_t code, const uint8_t *orig,
			    uint32_t to)
{
	static uint8_t r[BIG];
	unsigned nf;
	assert_int_equal(ncap[ifx], 1);
	size_t n = collect(ifx, r, &nf);
	assert_true(n >= 20 + 8 + 28);
	assert_true(n <= 576);
	assert_int_equal(r[9], IP_PROTO_ICMP);
	assert_int_equal(ip_get32(r + 16), to);
	assert_int_equal(r[20], type);
	assert_int_equal(r[21], code);
	assert_int_equal(csum_fold(csum_add(0, r + 20, n - 20)), 0);
	/* The quote starts with the offending header's addresses. */
	assert_memory_equal(r + 28 + 12, orig + 12, 8);
	return ip_get32(r + 24);
}

/* --- fixtures ------------------------------------------------------------------------ */
static int setup(void **state)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip", "icmp"};
	(void)state;
	sal_init();
	if (!loop)
		loop = exec_loop_new("test", EXEC_BLOCKING);
	exec_loop_attach(loop);
	if (!pool)
		pool = pkt_pool_new("test-ip", 1024, 2048);
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
		const struct spin_module *m = spin_builtin_find(mods[i]);
		assert_non_null(m);
		if (!spin_module_started(m))
			assert_int_equal(spin_module_start(m, NULL), SPIN_MOD_OK);
	}
	for (unsigned i = 0; i < 2; i++) {
		fk[i].pool = pool;
		fk[i].mtu = 1500;
		assert_int_equal(ng_iface_register(&fk[i]), 0);
		struct ether_addr m;
		memcpy(m.b, peer_mac[i], 6);
		assert_int_equal(arp_static_add(fk[i].index, i ? PEER1 : PEER0, m), ARP_OK);
	}
	assert_int_equal(inet_addr_add(fk[0].index, US0, 24), INET_OK);
	assert_int_equal(inet_addr_add(fk[1].index, US1, 24), INET_OK);
	ip_set_clock(clock_fn);
	icmp_set_clock(clock_fn);
	struct icmp_config ic;
	icmp_config_get(&ic);
	ic.err_rate = 0;
	ic.echo_rate = 0;
	ic.echo_enabled = true;
	icmp_config_set(&ic);
	struct ip_config c;
	ip_config_get(&c);
	c.forwarding = false;
	c.reass_timeout_ms = 30000;
	c.reass_mem_max = 4u << 20;
	c.reass_src_max = 1u << 20;
	c.reass_min_frag = 32;
	assert_int_equal(ip_config_set(&c), IP_OK);
	clear_cap();
	snap();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	clear_cap();
	ip_reass_flush();
	ip_route_flush();
	exec_loop_run_once(loop, 0);
	arp_flush(0, true);
	inet_addr_flush(0);
	for (unsigned i = 0; i < 2; i++)
		ng_iface_unregister(&fk[i]);
	exec_loop_detach(loop);
	disp_quiesce();
	NG_ASSERT_NO_LEAKS();
	return 0;
}

/* --- validation -------------------------------------------------------------------- */
static void test_validation_matrix(void **state)
{
	(void)state;
	static const uint8_t bad_opt[4] = {0x44, 12, 5, 0};  /* timestamp, runs past */
	static const uint8_t good_opt[4] = {IP_OPT_NOP, IP_OPT_NOP, IP_OPT_NOP, IP_OPT_EOL};
	static const struct {
		const char *what;
		struct iph h;
		size_t cut_to;      /* nonzero: frame truncated to this many IP bytes */
		unsigned reason;
	} cases[] = {
		{"truncated", {.proto = 99, .csum = -1}, 12, NG_DROP_SHORT},
		{"version 6", {.proto = 99, .csum = -1, .ihl = 5}, 0, IP_DROP_BAD_VERSION},
		{"ihl 4", {.proto = 99, .csum = -1, .ihl = 4}, 0, IP_DROP_BAD_IHL},
		{"ihl 15 past frame", {.proto = 99, .csum = -1, .ihl = 15}, 50, NG_DROP_SHORT},
		{"bad checksum", {.proto = 99, .csum = 0x1234}, 0, NG_DROP_BAD_CSUM},
		{"total < header", {.proto = 99, .csum = -1, .tot_delta = -50}, 0, IP_DROP_BAD_LEN},
		{"total > frame", {.proto = 99, .csum = -1, .tot_delta = 100}, 0,
		 IP_DROP_LEN_BEYOND_FRAME},
		{"bad option", {.proto = 99, .csum = -1, .opt = bad_opt, .optlen = 4}, 0,
		 IP_DROP_BAD_OPTIONS},
		{"ttl 0", {.proto = 99, .csum = -1, .ttl = 0}, 0, IP_DROP_TTL_ZERO},
		{"src broadcast", {.proto = 99, .csum = -1, .src = IP_BCAST}, 0, IP_DROP_BAD_SRC},
		{"src multicast", {.proto = 99, .csum = -1, .src = IP_ADDR(224, 0, 0, 1)}, 0,
		 IP_DROP_BAD_SRC},
		{"dst loopback", {.proto = 99, .csum = -1, .dst = IP_ADDR(127, 0, 0, 1)}, 0,
		 IP_DROP_BAD_DST},
		{"not ours", {.proto = 99, .csum = -1, .dst = FAR}, 0, IP_DROP_NOT_OURS},
	};
	uint8_t d[256], pl[40];
	memset(pl, 1, sizeof pl);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct iph h = cases[i].h;
		if (strcmp(cases[i].what, "ttl 0") == 0)
			h.ttl = 0;
		size_t n = mk_ip(d, &h, pl, sizeof pl);
		if (strcmp(cases[i].what, "ttl 0") == 0) {
			d[8] = 0;
			ip_put16(d + 10, 0);
			ip_put16(d + 10, ip_hdr_csum(d, 20));
		}
		if (strcmp(cases[i].what, "version 6") == 0) {
			d[0] = 0x65;
		}
		if (cases[i].cut_to)
			n = cases[i].cut_to;
		snap();
		inject(0, d, n, 0);
		print_message("# case %s\n", cases[i].what);
		assert_int_equal(dropped("ip", cases[i].reason), 1);
		assert_int_equal(ncap[0] + ncap[1], 0);
	}
	/* Options are skipped: a good header with NOPs reaches the protocol
	 * layer (here: nobody, so protocol unreachable). */
	struct iph ok = {.proto = 99, .csum = -1, .opt = good_opt, .optlen = 4};
	size_t n = mk_ip(d, &ok, pl, sizeof pl);
	snap();
	inject(0, d, n, 0);
	assert_int_equal(dropped("ip", IP_DROP_NO_PROTO), 1);
	check_error(0, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, d, PEER0);
	clear_cap();
}

/* Ethernet padding after a short datagram is trimmed before delivery: the
 * echo reply is exactly as long as the request. */
static void test_padding_trimmed(void **state)
{
	(void)state;
	static uint8_t d[128];
	size_t n = mk_echo(d, 7, 4, 1);
	inject(0, d, n, 18);
	check_reply(d, n, 1);
	clear_cap();
}

/* --- routing ---------------------------------------------------------------------------- */
static void test_lpm(void **state)
{
	(void)state;
	uint16_t i0 = fk[0].index, i1 = fk[1].index;
	struct ip_route rs[] = {
		{.prefix = 0, .plen = 0, .gateway = PEER0, .ifindex = i0},
		{.prefix = IP_ADDR(198, 18, 0, 0), .plen = 15, .gateway = PEER1, .ifindex = i1},
		{.prefix = IP_ADDR(198, 19, 0, 0), .plen = 16, .gateway = PEER0, .ifindex = i0},
		{.prefix = IP_ADDR(198, 19, 4, 0), .plen = 24, .gateway = PEER1, .ifindex = i1},
		{.prefix = IP_ADDR(198, 19, 4, 5), .plen = 32, .gateway = PEER0, .ifindex = i0},
	};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(ip_route_add(&rs[i]), IP_OK);
	assert_int_equal(ip_route_add(&rs[2]), IP_EEXIST);
	struct ip_route bad = {.prefix = IP_ADDR(198, 19, 4, 1), .plen = 24, .ifindex = i0};
	assert_int_equal(ip_route_add(&bad), IP_EINVAL);
	bad.plen = 33;
	assert_int_equal(ip_route_add(&bad), IP_EINVAL);

	const struct ip_route *r;
	r = ip_route_lookup(IP_ADDR(198, 19, 4, 5));
	assert_non_null(r);
	assert_int_equal(r->plen, 32);
	r = ip_route_lookup(IP_ADDR(198, 19, 4, 6));
	assert_int_equal(r->plen, 24);
	r = ip_route_lookup(IP_ADDR(198, 19, 5, 6));
	assert_int_equal(r->plen, 16);
	r = ip_route_lookup(IP_ADDR(198, 18, 200, 1));
	assert_int_equal(r->plen, 15);
	r = ip_route_lookup(IP_ADDR(203, 0, 113, 1));
	assert_int_equal(r->plen, 0);

	struct ip_route list[8];
	assert_int_equal(ip_route_list(list, 8), 5);
	assert_int_equal(list[0].plen, 32);
	assert_int_equal(list[4].plen, 0);

	assert_int_equal(ip_route_del(IP_ADDR(198, 19, 4, 0), 24), IP_OK);
	assert_int_equal(ip_route_del(IP_ADDR(198, 19, 4, 0), 24), IP_ENOENT);
	r = ip_route_lookup(IP_ADDR(198, 19, 4, 6));
	assert_int_equal(r->plen, 16);
	assert_int_equal(ip_route_del(0, 0), IP_OK);
	assert_null(ip_route_lookup(IP_ADDR(203, 0, 113, 1)));

	/* A whole-table replacement is one publish. */
	assert_int_equal(ip_route_replace_all(rs, 1), IP_OK);
	assert_int_equal(ip_route_list(list, 8), 1);
	assert_int_equal(ip_route_lookup(IP_ADDR(198, 19, 4, 5))->plen, 0);

	/* Many prefixes of many lengths against a linear reference. */
	static struct ip_route many[600];
	srand(7);
	unsigned nm = 0;
	for (unsigned i = 0; i < 600; i++) {
		unsigned pl = (unsigned)rand() % 33;
		uint32_t a = ((uint32_t)rand() << 16 ^ (uint32_t)rand()) & ip_mask(pl);
		bool dup = false;
		for (unsigned j = 0; j < nm; j++)
			dup |= many[j].plen == pl && many[j].prefix == a;
		if (dup)
			continue;
		many[nm++] = (struct ip_route){.prefix = a, .plen = (uint8_t)pl, .ifindex = i0,
					       .mtu = i};
	}
	assert_int_equal(ip_route_replace_all(many, nm), IP_OK);
	for (unsigned k = 0; k < 5000; k++) {
		uint32_t a = k < nm ? many[k].prefix | (uint32_t)rand() % 3
				    : ((uint32_t)rand() << 16 ^ (uint32_t)rand());
		int best = -1;
		for (unsigned j = 0; j < nm; j++)
			if ((a & ip_mask(many[j].plen)) == many[j].prefix &&
			    (best < 0 || many[j].plen > many[best].plen))
				best = (int)j;
		r = ip_route_lookup(a);
		if (best < 0) {
			assert_null(r);
		} else {
			assert_non_null(r);
			assert_int_equal(r->mtu, many[best].mtu);
		}
	}
}

/* --- ping sizes: reassembly in, fragmentation out ---------------------------------------- */
static void ping_size(size_t n, bool reverse)
{
	static uint8_t d[BIG], frags[64][2048];
	static size_t lens[64];
	size_t len = mk_echo(d, 0x4242, n, (uint16_t)(n & 0xffff));
	unsigned nf = len <= 1500 ? 1 : cut(d, len, 1500, frags, lens, 64);
	if (nf == 1 && len <= 1500) {
		inject(0, d, len, 0);
	} else {
		for (unsigned i = 0; i < nf; i++) {
			unsigned k = reverse ? nf - 1 - i : i;
			inject(0, frags[k], lens[k], 0);
		}
	}
	unsigned expect = len <= 1500 ? 1 : (unsigned)((len - 20 + 1479) / 1480);
	check_reply(d, len, expect);
	clear_cap();
	struct ip_stats st;
	ip_stats_get(&st, false);
	assert_int_equal(st.reass_held, 0);
	assert_int_equal(st.reass_bytes, 0);
}

static void test_ping_sizes(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 1472, 1473, 2952, 8972, 32000, 65000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		print_message("# ping %zu\n", sizes[i]);
		ping_size(sizes[i], false);
		ping_size(sizes[i], true);
	}
}

/* --- reassembly edge cases --------------------------------------------------------------- */
static void test_reass_order_and_dups(void **state)
{
	(void)state;
	static uint8_t d[BIG], frags[8][2048];
	static size_t lens[8];
	size_t len = mk_echo(d, 1, 4000, 77);
	unsigned nf = cut(d, len, 1500, frags, lens, 8);
	assert_int_equal(nf, 3);
	/* middle, middle again (exact duplicate), last, first. */
	snap();
	inject(0, frags[1], lens[1], 0);
	inject(0, frags[1], lens[1], 0);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_DUP), 1);
	inject(0, frags[2], lens[2], 0);
	assert_int_equal(ncap[0], 0);
	inject(0, frags[0], lens[0], 0);
	check_reply(d, len, 3);
	clear_cap();
}

static void test_reass_overlap(void **state)
{
	(void)state;
	static uint8_t d[2048];
	snap();
	inject(0, d, mk_frag(d, 5, 99, 0, 1480, true), 0);
	/* Starts inside the first: the whole datagram goes. */
	inject(0, d, mk_frag(d, 5, 99, 1400, 1480, true), 0);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_OVERLAP), 2);
	/* Later fragments of it are swallowed until the timeout. */
	inject(0, d, mk_frag(d, 5, 99, 2880, 100, false), 0);
	assert_int_equal(dropped("ip", IP_DROP_REASS_DEAD), 1);
	assert_int_equal(ncap[0], 0);
	struct ip_stats st;
	ip_stats_get(&st, false);
	assert_int_equal(st.reass_held, 0);
	/* Same offset, different length: overlap too. */
	snap();
	inject(0, d, mk_frag(d, 6, 99, 0, 1480, true), 0);
	inject(0, d, mk_frag(d, 6, 99, 0, 800, true), 0);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_OVERLAP), 2);
	/* Two different ends. */
	snap();
	inject(0, d, mk_frag(d, 8, 99, 1480, 100, false), 0);
	inject(0, d, mk_frag(d, 8, 99, 1480, 200, false), 0);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_OVERLAP) + dropped("ip", IP_DROP_FRAG_BAD_END),
			 2);
}

static void test_reass_bad_fragments(void **state)
{
	(void)state;
	static uint8_t d[2048];
	snap();
	inject(0, d, mk_frag(d, 9, 99, 0, 1001, true), 0);   /* not a multiple of 8 */
	assert_int_equal(dropped("ip", IP_DROP_FRAG_BAD_LEN), 1);
	inject(0, d, mk_frag(d, 9, 99, 0, 16, true), 0);     /* tiny */
	assert_int_equal(dropped("ip", IP_DROP_FRAG_TINY), 1);
	inject(0, d, mk_frag(d, 9, IP_PROTO_TCP, 8, 40, false), 0); /* RFC 1858 */
	assert_int_equal(dropped("ip", IP_DROP_FRAG_TINY), 2);
	/* 64 KB overflow: the last fragment ends past 65535. */
	inject(0, d, mk_frag(d, 10, 99, 0, 1480, true), 0);
	inject(0, d, mk_frag(d, 10, 99, 65520, 100, false), 0);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_OVERSIZE), 2);
	inject(0, d, mk_frag(d, 10, 99, 1480, 1480, true), 0);
	assert_int_equal(dropped("ip", IP_DROP_REASS_DEAD), 1);
	assert_int_equal(ncap[0] + ncap[1], 0);
}

static void test_reass_timeout(void **state)
{
	(void)state;
	static uint8_t d[2048];
	snap();
	/* Fragment zero present: time exceeded (reassembly) goes back. */
	size_t n = mk_frag(d, 11, 99, 0, 1480, true);
	inject(0, d, n, 0);
	inject(0, d, mk_frag(d, 12, 99, 1480, 100, false), 0);  /* no fragment zero */
	fake_now += 29ull * 1000000000ull;
	assert_int_equal(ip_reass_expire(fake_now), 0);
	fake_now += 1ull * 1000000000ull;
	assert_int_equal(ip_reass_expire(fake_now), 2);
	assert_int_equal(dropped("ip", IP_DROP_REASS_TIMEOUT), 2);
	mk_frag(d, 11, 99, 0, 1480, true);
	check_error(0, ICMP_TIME_EXCEEDED, ICMP_TIMXCEED_REASS, d, PEER0);
	clear_cap();
	/* After the timeout a dead datagram's id can be reused. */
	inject(0, d, mk_frag(d, 11, 99, 0, 1480, true), 0);
	inject(0, d, mk_frag(d, 11, 99, 1480, 8, false), 0);
	assert_int_equal(dropped("ip", IP_DROP_NO_PROTO), 1);
	clear_cap();
}

static void test_reass_limits(void **state)
{
	(void)state;
	static uint8_t d[2048];
	struct ip_config c;
	ip_config_get(&c);
	uint32_t ts = 0;
	/* What one 1500-byte fragment costs, measured. */
	inject(0, d, mk_frag(d, 100, 99, 0, 1480, true), 0);
	struct ip_stats st;
	ip_stats_get(&st, false);
	ts = (uint32_t)st.reass_bytes;
	assert_true(ts >= 1500);
	ip_reass_flush();

	/* Per source: room for 3 fragments. */
	c.reass_src_max = 3 * ts;
	c.reass_mem_max = 100 * ts;
	assert_int_equal(ip_config_set(&c), IP_OK);
	snap();
	for (uint16_t i = 0; i < 5; i++)
		inject(0, d, mk_frag(d, (uint16_t)(200 + i), 99, 0, 1480, true), 0);
	assert_int_equal(dropped("ip", IP_DROP_REASS_SRC_LIMIT), 2);
	/* Another source still gets in (until the total limit). */
	c.reass_mem_max = 4 * ts;
	assert_int_equal(ip_config_set(&c), IP_OK);
	struct iph h = {.proto = 99, .id = 300, .csum = -1, .frag = IP_FRAG_MF,
			.src = IP_ADDR(198, 18, 0, 9)};
	static uint8_t pl[1480];
	inject(0, d, mk_ip(d, &h, pl, 1480), 0);
	h.id = 301;
	inject(0, d, mk_ip(d, &h, pl, 1480), 0);
	assert_int_equal(dropped("ip", IP_DROP_REASS_MEM_LIMIT), 1);
	ip_reass_flush();

	/* Slots: a flood of distinct datagrams beyond IP_REASS_SLOTS. */
	c.reass_src_max = 1u << 30;
	c.reass_mem_max = 1u << 30;
	assert_int_equal(ip_config_set(&c), IP_OK);
	snap();
	for (unsigned i = 0; i < IP_REASS_SLOTS + 10; i++)
		inject(0, d, mk_frag(d, (uint16_t)(1000 + i), 99, 0, 64, true), 0);
	assert_int_equal(dropped("ip", IP_DROP_REASS_NO_SLOT), 10);
	ip_stats_get(&st, false);
	assert_int_equal(st.reass_held, IP_REASS_SLOTS);
	/* Another source evicts the flooder's oldest datagram and gets in. */
	snap();
	h = (struct iph){.proto = 99, .id = 77, .csum = -1, .frag = IP_FRAG_MF,
			 .src = IP_ADDR(198, 18, 0, 10)};
	inject(0, d, mk_ip(d, &h, pl, 64), 0);
	h.frag = 8;
	inject(0, d, mk_ip(d, &h, pl, 64), 0);
	assert_int_equal(dropped("ip", IP_DROP_REASS_NO_SLOT), 1);
	assert_int_equal(dropped("ip", IP_DROP_NO_PROTO), 1);   /* completed, delivered */
	clear_cap();
	ip_reass_flush();
	ip_stats_get(&st, false);
	assert_int_equal(st.reass_held, 0);
	assert_int_equal(st.reass_bytes, 0);
}

/* --- forwarding --------------------------------------------------------------------------- */
static void set_forwarding(bool on)
{
	struct ip_config c;
	ip_config_get(&c);
	c.forwarding = on;
	assert_int_equal(ip_config_set(&c), IP_OK);
}

static void test_forward(void **state)
{
	(void)state;
	static uint8_t d[4096], r[BIG];
	static uint8_t pl[3000];
	memset(pl, 0xab, sizeof pl);
	struct ip_route rt = {.prefix = IP_ADDR(198, 19, 0, 0), .plen = 16, .gateway = PEER1};
	assert_int_equal(ip_route_add(&rt), IP_OK);

	/* Off: not ours. */
	struct iph h = {.proto = 99, .csum = -1, .dst = FAR, .ttl = 9};
	size_t n = mk_ip(d, &h, pl, 100);
	snap();
	inject(0, d, n, 0);
	assert_int_equal(dropped("ip", IP_DROP_NOT_OURS), 1);

	set_forwarding(true);
	inject(0, d, n, 0);
	unsigned nf;
	assert_int_equal(ncap[1], 1);
	size_t m = collect(1, r, &nf);
	assert_int_equal(m, n);
	assert_int_equal(r[8], 8);     /* TTL decremented, checksum checked in collect */
	assert_memory_equal(r + 12, d + 12, 8);
	clear_cap();

	/* TTL 1: time exceeded from the ingress interface's address. */
	h.ttl = 1;
	n = mk_ip(d, &h, pl, 100);
	snap();
	inject(0, d, n, 0);
	assert_int_equal(dropped("ip", IP_DROP_TTL_EXCEEDED), 1);
	check_error(0, ICMP_TIME_EXCEEDED, ICMP_TIMXCEED_TTL, d, PEER0);
	assert_int_equal(ncap[1], 0);
	clear_cap();

	/* DF and larger than fk1's MTU: fragmentation needed with the MTU. */
	fk[1].mtu = 1000;
	h.ttl = 9;
	h.frag = IP_FRAG_DF;
	n = mk_ip(d, &h, pl, 1400);
	snap();
	inject(0, d, n, 0);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_NEEDED), 1);
	assert_int_equal(check_error(0, ICMP_DEST_UNREACH, ICMP_UNREACH_FRAG_NEEDED, d, PEER0),
			 1000);
	assert_int_equal(ncap[1], 0);
	clear_cap();

	/* Without DF: fragmented for fk1. */
	h.frag = 0;
	n = mk_ip(d, &h, pl, 2500);
	inject(0, d, n, 0);
	assert_int_equal(ncap[1], 3);
	m = collect(1, r, &nf);
	assert_int_equal(m, n);
	assert_memory_equal(r + 20, d + 20, n - 20);
	clear_cap();

	/* No route: net unreachable. */
	h.dst = IP_ADDR(198, 18, 77, 1);
	n = mk_ip(d, &h, pl, 50);
	snap();
	inject(0, d, n, 0);
	assert_int_equal(dropped("ip", IP_DROP_NO_ROUTE), 1);
	check_error(0, ICMP_DEST_UNREACH, ICMP_UNREACH_NET, d, PEER0);
	clear_cap();
	fk[1].mtu = 1500;
	set_forwarding(false);
}

/* --- ICMP rules ----------------------------------------------------------------------------- */
static void test_icmp_rules(void **state)
{
	(void)state;
	static uint8_t d[2048], pl[64];
	memset(pl, 0, sizeof pl);
	set_forwarding(true);
	struct ip_route rt = {.prefix = IP_ADDR(198, 19, 0, 0), .plen = 16, .gateway = PEER1};
	assert_int_equal(ip_route_add(&rt), IP_OK);

	/* No error about an ICMP error (a time exceeded in transit, TTL 1). */
	pl[0] = ICMP_DEST_UNREACH;
	struct iph h = {.proto = IP_PROTO_ICMP, .csum = -1, .dst = FAR, .ttl = 1};
	snap();
	inject(0, d, mk_ip(d, &h, pl, 36), 0);
	assert_int_equal(ncap[0] + ncap[1], 0);
	assert_int_equal(dropped("ip", IP_DROP_TTL_EXCEEDED), 1);
	/* ... but an echo request with TTL 1 gets one. */
	pl[0] = ICMP_ECHO;
	inject(0, d, mk_ip(d, &h, pl, 36), 0);
	assert_int_equal(ncap[0], 1);
	clear_cap();

	/* No error about a non-first fragment. */
	h = (struct iph){.proto = 99, .csum = -1, .dst = FAR, .ttl = 1, .frag = 10};
	inject(0, d, mk_ip(d, &h, pl, 40), 0);
	assert_int_equal(ncap[0] + ncap[1], 0);

	/* No error about a broadcast: unknown protocol to the subnet's
	 * broadcast, and to 255.255.255.255. */
	h = (struct iph){.proto = 99, .csum = -1, .dst = IP_ADDR(198, 18, 0, 255)};
	snap();
	inject(0, d, mk_ip(d, &h, pl, 40), 0);
	h.dst = IP_BCAST;
	inject(0, d, mk_ip(d, &h, pl, 40), 0);
	assert_int_equal(dropped("ip", IP_DROP_NO_PROTO), 2);
	assert_int_equal(ncap[0], 0);
	/* Echo to a broadcast address is ignored. */
	size_t n = mk_echo(d, 1, 10, 1);
	ip_put32(d + 16, IP_ADDR(198, 18, 0, 255));
	ip_put16(d + 10, 0);
	ip_put16(d + 10, ip_hdr_csum(d, 20));
	inject(0, d, n, 0);
	assert_int_equal(dropped("icmp", ICMP_DROP_ECHO_BCAST), 1);
	assert_int_equal(ncap[0], 0);

	/* ICMP with a bad checksum. */
	n = mk_echo(d, 1, 10, 2);
	d[30] ^= 1;
	inject(0, d, n, 0);
	assert_int_equal(dropped("icmp", NG_DROP_BAD_CSUM), 1);

	/* icmp_error by a layer above: consumes, counted on the icmp node. */
	h = (struct iph){.proto = 99, .csum = -1};
	n = mk_ip(d, &h, pl, 40);
	struct pkt *p = pkt_from_bytes(pool, d, n);
	p->l3_off = (int32_t)p->off;
	pkt_pull(p, 20);
	snap();
	icmp_error(&p, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0);
	assert_null(p);
	assert_int_equal(dropped("icmp", ICMP_DROP_ERR_SENT), 1);
	check_error(0, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, d, PEER0);
	clear_cap();
	set_forwarding(false);
}

static void test_icmp_rate_limit(void **state)
{
	(void)state;
	static uint8_t d[256], pl[40];
	struct icmp_config ic;
	icmp_config_get(&ic);
	ic.err_rate = 10;
	ic.err_burst = 3;
	icmp_config_set(&ic);
	struct iph h = {.proto = 99, .csum = -1};
	size_t n = mk_ip(d, &h, pl, 40);
	snap();
	for (int i = 0; i < 6; i++)
		inject(0, d, n, 0);
	assert_int_equal(ncap[0], 3);
	assert_int_equal(dropped("ip", IP_DROP_NO_PROTO), 6);
	clear_cap();
	/* 100 ms buys one more. */
	fake_now += 100000000ull;
	for (int i = 0; i < 3; i++)
		inject(0, d, n, 0);
	assert_int_equal(ncap[0], 1);
	clear_cap();
	struct icmp_stats st;
	icmp_stats_get(&st, false);
	assert_true(st.rate_limited >= 5);

	/* Echo replies: unlimited by default, limited when configured. */
	ic.echo_rate = 1;
	ic.echo_burst = 2;
	icmp_config_set(&ic);
	n = mk_echo(d, 3, 10, 3);
	for (int i = 0; i < 4; i++)
		inject(0, d, n, 0);
	assert_int_equal(ncap[0], 2);
	clear_cap();
	ic.err_rate = 0;
	ic.echo_rate = 0;
	icmp_config_set(&ic);
}

/* --- local output ------------------------------------------------------------------------------ */
static void test_output(void **state)
{
	(void)state;
	static uint8_t pl[3000], r[BIG];
	memset(pl, 0x11, sizeof pl);
	struct pkt *p;
	struct ip_send_opts o = {.df = true};

	/* DF and too big: the sender hears "message size", nothing is sent. */
	p = pkt_from_bytes(pool, pl, 2000);
	snap();
	assert_int_equal(ip_output(&p, PEER1, 99, &o), IP_OUT_MSGSIZE);
	assert_null(p);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_NEEDED), 1);
	assert_int_equal(ncap[1], 0);

	/* No route. */
	p = pkt_from_bytes(pool, pl, 20);
	assert_int_equal(ip_output(&p, IP_ADDR(198, 19, 1, 1), 99, NULL), IP_OUT_NOROUTE);
	assert_int_equal(dropped("ip", IP_DROP_NO_ROUTE), 1);

	/* Fragmented on a small MTU, through the event. */
	fk[1].mtu = 576;
	p = pkt_from_bytes(pool, pl, 3000);
	assert_int_equal(IP_SendPacket_raise(p, PEER1, 99, NULL), IP_OUT_OK);
	unsigned nf;
	size_t m = collect(1, r, &nf);
	assert_int_equal(nf, (3000 + 551) / 552);
	assert_int_equal(m, 3020);
	assert_int_equal(ip_get32(r + 12), US1);
	assert_memory_equal(r + 20, pl, 3000);
	clear_cap();
	fk[1].mtu = 1500;
}

/* --- segmentation offload ------------------------------------------------------------------ */
/* A TCP segment (20-byte header, n payload bytes from pl, seq 1000, flags
 * ACK|PSH|FIN) marked for TSO with gso_size piece: what protocols/tcp hands
 * to IP with TSO on. */
static struct pkt *gso_seg(const uint8_t *pl, size_t n, uint16_t piece)
{
	static uint8_t t[BIG];
	memset(t, 0, 20);
	ip_put16(t, 40000);
	ip_put16(t + 2, 5001);
	ip_put32(t + 4, 1000);
	t[12] = 5 << 4;
	t[13] = 0x19;
	memcpy(t + 20, pl, n);
	struct pkt *p = pkt_from_bytes(pool, t, 20 + n);
	assert_non_null(p);
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_start = 14 + 20;
	p->csum_offset = 16;
	p->gso_type = PKT_GSO_TCPV4;
	p->gso_size = piece;
	return p;
}

static void test_output_gso(void **state)
{
	(void)state;
	static uint8_t pl[20000], fr[BIG];
	for (size_t i = 0; i < sizeof pl; i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	struct ip_send_opts o = {.df = true};
	struct ip_stats st;
	struct pkt *p;

	/* A TSO interface: the 20000-byte segment goes down whole, neither
	 * fragmented nor refused for DF, with a right total length and its
	 * GSO marks and partial checksum intact for the driver. */
	fk[1].gso_max = 65535;
	fk[1].tx_csum_offload = true;
	ip_stats_get(&st, true);
	p = gso_seg(pl, sizeof pl, 1460);
	assert_int_equal(ip_output(&p, PEER1, IP_PROTO_TCP, &o), IP_OUT_OK);
	assert_int_equal(ncap[1], 1);
	struct pkt *c = cap[1][0];
	assert_int_equal(pkt_len(c), 14 + 20 + 20 + sizeof pl);
	assert_true(pkt_copy_out(c, 0, fr, pkt_len(c)));
	assert_int_equal(ip_get16(fr + 14 + 2), 20 + 20 + sizeof pl);
	assert_int_equal(ip_hdr_csum(fr + 14, 20), 0);
	assert_int_equal(c->gso_type, PKT_GSO_TCPV4);
	assert_int_equal(c->gso_size, 1460);
	assert_int_equal(c->csum, PKT_CSUM_PARTIAL);
	assert_int_equal(c->csum_start, 34);
	assert_memory_equal(fr + 54, pl, sizeof pl);
	ip_stats_get(&st, true);
	assert_int_equal(st.gso_tx, 1);
	assert_int_equal(st.frag_created, 0);
	clear_cap();

	/* A piece too big for this MTU: cut here even on a TSO interface. */
	fk[1].mtu = 576;
	p = gso_seg(pl, 3000, 1460);
	assert_int_equal(ip_output(&p, PEER1, IP_PROTO_TCP, &o), IP_OUT_OK);
	assert_int_equal(ncap[1], (3000 + 535) / 536);
	clear_cap();
	fk[1].mtu = 1500;

	/* No TSO: cut in software into MTU-sized TCP segments, each with its
	 * own id, length, sequence number and a valid checksum, FIN and PSH
	 * on the last only, and the payload in order. */
	fk[1].gso_max = 0;
	fk[1].tx_csum_offload = false;
	ip_stats_get(&st, true);
	snap();
	p = gso_seg(pl, sizeof pl, 1460);
	assert_int_equal(ip_output(&p, PEER1, IP_PROTO_TCP, &o), IP_OUT_OK);
	unsigned want = (sizeof pl + 1459) / 1460;
	assert_int_equal(ncap[1], want);
	size_t got = 0;
	uint16_t id0 = 0;
	for (unsigned i = 0; i < ncap[1]; i++) {
		c = cap[1][i];
		assert_true(pkt_len(c) <= 14 + 1500);
		assert_int_equal(c->gso_type, PKT_GSO_NONE);
		assert_true(pkt_copy_out(c, 0, fr, pkt_len(c)));
		const uint8_t *ih = fr + 14, *th = fr + 34;
		size_t n = pkt_len(c) - 54;
		assert_int_equal(ip_get16(ih + 2), 40 + n);
		assert_int_equal(ip_hdr_csum(ih, 20), 0);
		assert_int_equal(ip_get16(ih + 6) & 0x4000, 0x4000);
		if (i == 0)
			id0 = ip_get16(ih + 4);
		assert_int_equal(ip_get16(ih + 4), (uint16_t)(id0 + i));
		assert_int_equal(ip_get32(th + 4), 1000 + got);
		assert_int_equal(th[13], i + 1 == ncap[1] ? 0x19 : 0x10);
		uint8_t ph[12];
		memcpy(ph, ih + 12, 8);
		ph[8] = 0;
		ph[9] = IP_PROTO_TCP;
		ip_put16(ph + 10, (uint16_t)(20 + n));
		assert_int_equal(csum_fold(csum_add(csum_add(0, ph, 12), th, 20 + n)), 0);
		assert_memory_equal(th + 20, pl + got, n);
		got += n;
	}
	assert_int_equal(got, sizeof pl);
	assert_int_equal(dropped("ip", IP_DROP_FRAG_NEEDED), 0);
	ip_stats_get(&st, true);
	assert_int_equal(st.gso_sw_segs, want);
	clear_cap();

	/* Marked GSO but not TCP: dropped with its reason. */
	p = gso_seg(pl, 3000, 1460);
	assert_int_equal(ip_output(&p, PEER1, 99, &o), IP_OUT_INVAL);
	assert_int_equal(dropped("ip", IP_DROP_BAD_GSO), 1);
	assert_int_equal(ncap[1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_validation_matrix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_padding_trimmed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lpm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reass_order_and_dups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reass_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reass_bad_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reass_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reass_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_gso, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
