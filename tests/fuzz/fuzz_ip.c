/*
 * fuzz_ip.c - IPv4 input, reassembly and forwarding from the Ethernet
 * layer.  One input is a sequence of frames, each
 *     [mode:1][len:2 big-endian][len bytes of IPv4 datagram]
 * sent inside an Ethernet header with EtherType 0x0800 on a fake
 * interface.  Mode bits: 0 fix the header checksum (so the fuzzer gets past
 * it), 1 forwarding on, 2 advance the fake clock by 31 s first (reassembly
 * timeouts), 3 fix the total length to the datagram's size.
 *
 * Reassembly state is deliberately kept across inputs, so fragments of one
 * input meet those of earlier ones.  Invariant after every input: the only
 * pool buffers outstanding are the fragments reassembly holds (one buffer
 * each: frames are at most 1600 bytes) and packets ARP queues for next hops
 * it is still resolving; anything else is a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pkt_pool *pool;
static struct exec_loop *loop;
static uint64_t fake_now = 1;
static uint64_t fz_clock(void) { return fake_now; }

static int fz_xmit(struct ng_iface *ifp, struct pkt *p)
{
	(void)ifp;
	pkt_free(p);
	return 0;
}
static const struct ng_iface_ops fz_ops = {.xmit = fz_xmit};
static struct ng_iface fz_if[2] = {
	{.name = "fz0", .mac = {2, 0, 0, 0, 0, 2}, .mtu = 1500, .ops = &fz_ops, .driver = "fuzz"},
	{.name = "fz1", .mac = {2, 0, 0, 0, 1, 2}, .mtu = 576, .ops = &fz_ops, .driver = "fuzz"},
};

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip", "icmp"};
	sal_init();
	sal_set_log_level(SAL_LOG_ERR);
	loop = exec_loop_new("fuzz", EXEC_BLOCKING);
	exec_loop_attach(loop);
	pool = pkt_pool_new("fuzz-ip", 1024, 2048);
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
		spin_module_start(spin_builtin_find(mods[i]), NULL);
	for (unsigned i = 0; i < 2; i++) {
		fz_if[i].pool = pool;
		ng_iface_register(&fz_if[i]);
		struct ether_addr peer = {{2, 0, 0, 0, (uint8_t)i, 1}};
		arp_static_add(fz_if[i].index, IP_ADDR(198, 18, i, 1), peer);
		inet_addr_add(fz_if[i].index, IP_ADDR(198, 18, i, 2), 24);
	}
	struct ip_route r = {.prefix = IP_ADDR(198, 19, 0, 0), .plen = 16,
			     .gateway = IP_ADDR(198, 18, 1, 1)};
	ip_route_add(&r);
	ip_set_clock(fz_clock);
	icmp_set_clock(fz_clock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint8_t f[14 + 1600];
	if (!ready) {
		init_once();
		ready = 1;
	}
	static const uint8_t eth[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
	while (size >= 3) {
		uint8_t mode = data[0];
		size_t n = (size_t)((data[1] << 8) | data[2]);
		data += 3;
		size -= 3;
		if (n > size)
			n = size;
		if (n > 1600)
			n = 1600;
		memcpy(f, eth, 14);
		memcpy(f + 14, data, n);
		data += n;
		size -= n;
		uint8_t *h = f + 14;
		if (n >= 20 && (mode & 8))
			ip_put16(h + 2, (uint16_t)n);
		if (n >= 20 && (mode & 1)) {
			unsigned hl = (h[0] & 15u) * 4;
			if (hl >= 20 && hl <= n) {
				ip_put16(h + 10, 0);
				ip_put16(h + 10, ip_hdr_csum(h, hl));
			}
		}
		struct ip_config c;
		ip_config_get(&c);
		c.forwarding = (mode & 2) != 0;
		ip_config_set(&c);
		if (mode & 4) {
			fake_now += 31ull * 1000000000ull;
			ip_reass_expire(fake_now);
		}
		fake_now += 1000;
		struct pkt *p = pkt_from_bytes(pool, f, 14 + n);
		if (!p)
			break;
		ng_iface_input(&fz_if[0], p);
		exec_loop_run_once(loop, 0);
	}
	struct ip_stats st;
	ip_stats_get(&st, false);
	/* Packets ARP holds for next hops it is resolving are not leaks. */
	static struct arp_entry_info ai[ARP_CACHE_MAX];
	unsigned na = arp_list(ai, ARP_CACHE_MAX);
	uint64_t queued = 0;
	for (unsigned i = 0; i < na && i < ARP_CACHE_MAX; i++)
		queued += ai[i].queued;
	if (pkt_pools_outstanding() != st.reass_held + queued)
		__builtin_trap();
	return 0;
}
