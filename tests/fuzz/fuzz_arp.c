/*
 * fuzz_arp.c - ARP input and the neighbour cache.  One input is a
 * sequence of records, each
 *     [mode:1][len:2 big-endian][len bytes of ARP packet]
 * sent inside an Ethernet header (EtherType 0x0806; mode bit 0: to
 * broadcast, else to our address; bit 1: inside an 802.1Q tag) on a fake
 * interface that owns 198.18.0.2/24.  Mode bit 2 first sends an IPv4
 * packet to the next hop 198.18.0.X (X from the record's first byte), so
 * replies meet pending queues; bit 3 flushes the learned entries first.
 * Cache state is kept across inputs.  Invariant after every input: the
 * only pool buffers outstanding are the packets ARP queues for next hops
 * it is still resolving.
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
#include "protocols/ether/ether.h"
#include "protocols/inet/inet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pkt_pool *pool;
static struct exec_loop *loop;

static int fz_xmit(struct ng_iface *ifp, struct pkt *p)
{
	(void)ifp;
	if (pkt_check(p))
		__builtin_trap();
	pkt_free(p);
	return 0;
}
static const struct ng_iface_ops fz_ops = {.xmit = fz_xmit};
static struct ng_iface fz_if = {.name = "fz0", .mac = {2, 0, 0, 0, 0, 2}, .mtu = 1500,
				.ops = &fz_ops, .driver = "fuzz"};

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp"};
	sal_init();
	sal_set_log_level(SAL_LOG_ERR);
	loop = exec_loop_new("fuzz", EXEC_BLOCKING);
	exec_loop_attach(loop);
	pool = pkt_pool_new("fuzz-arp", 2048, 2048);
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
		spin_module_start(spin_builtin_find(mods[i]), NULL);
	fz_if.pool = pool;
	ng_iface_register(&fz_if);
	inet_addr_add(fz_if.index, 0xc6120002u, 24);
	arp_static_add(fz_if.index, 0xc6120001u, (struct ether_addr){{2, 0, 0, 0, 0, 1}});
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint8_t f[18 + 1600];
	static const uint8_t src[6] = {2, 0, 0, 0, 0, 1};
	if (!ready) {
		init_once();
		ready = 1;
	}
	while (size >= 3) {
		uint8_t mode = data[0];
		size_t n = (size_t)((data[1] << 8) | data[2]);
		data += 3;
		size -= 3;
		if (n > size)
			n = size;
		if (n > 1600)
			n = 1600;
		if (mode & 8)
			arp_flush(fz_if.index, false);
		if ((mode & 4) && n > 0) {
			uint8_t ip[20] = {0x45};
			struct pkt *q = pkt_from_bytes(pool, ip, sizeof ip);
			if (q)
				arp_send(q, fz_if.index, 0xc6120000u | data[0]);
		}
		size_t h = 0;
		if (mode & 1)
			memset(f, 0xff, 6);
		else
			memcpy(f, fz_if.mac, 6);
		memcpy(f + 6, src, 6);
		if (mode & 2) {
			ether_put16(f + 12, ETHER_TYPE_VLAN);
			ether_put16(f + 14, 7);
			h = 4;
		}
		ether_put16(f + 12 + h, ETHER_TYPE_ARP);
		memcpy(f + 14 + h, data, n);
		data += n;
		size -= n;
		struct pkt *p = pkt_from_bytes(pool, f, 14 + h + n);
		if (!p)
			break;
		ng_iface_input(&fz_if, p);
		exec_loop_run_once(loop, 0);
	}
	static struct arp_entry_info ai[ARP_CACHE_MAX];
	unsigned na = arp_list(ai, ARP_CACHE_MAX);
	uint64_t queued = 0;
	for (unsigned i = 0; i < na && i < ARP_CACHE_MAX; i++)
		queued += ai[i].queued;
	if (pkt_pools_outstanding() != queued)
		__builtin_trap();
	return 0;
}
