/*
 * fuzz_icmp.c - ICMP input (echo and the rest) and icmp_error on arbitrary
 * offending packets.  Input: [mode:1][bytes].  Mode bit 0: the bytes are an
 * ICMP message, wrapped in a valid IPv4 header (protocol 1, to us) and an
 * Ethernet header, with its checksum fixed unless bit 1 is set.  Otherwise
 * the bytes are a whole IPv4 datagram handed to icmp_error (type and code
 * from mode bits 2..7) with l3_off at its start, as a layer above IP would.
 * Nothing may leak: after each input no pool buffer is outstanding but
 * those ARP queues for a next hop it is resolving.
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

static int fz_xmit(struct ng_iface *ifp, struct pkt *p)
{
	(void)ifp;
	pkt_free(p);
	return 0;
}
static const struct ng_iface_ops fz_ops = {.xmit = fz_xmit};
static struct ng_iface fz_if = {.name = "fz0", .mac = {2, 0, 0, 0, 0, 2}, .mtu = 1500,
				.ops = &fz_ops, .driver = "fuzz"};

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip", "icmp"};
	struct ether_addr peer = {{2, 0, 0, 0, 0, 1}};
	sal_init();
	sal_set_log_level(SAL_LOG_ERR);
	loop = exec_loop_new("fuzz", EXEC_BLOCKING);
	exec_loop_attach(loop);
	pool = pkt_pool_new("fuzz-icmp", 256, 2048);
	fz_if.pool = pool;
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
		spin_module_start(spin_builtin_find(mods[i]), NULL);
	ng_iface_register(&fz_if);
	inet_addr_add(fz_if.index, IP_ADDR(198, 18, 0, 2), 24);
	arp_static_add(fz_if.index, IP_ADDR(198, 18, 0, 1), peer);
	struct icmp_config ic;
	icmp_config_get(&ic);
	ic.err_rate = 0;
	icmp_config_set(&ic);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint8_t f[14 + 20 + 1600];
	if (!ready) {
		init_once();
		ready = 1;
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	if (size > 1600)
		size = 1600;
	if (mode & 1) {
		static const uint8_t hdr[34] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
						0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0,
						198, 18, 0, 1, 198, 18, 0, 2};
		memcpy(f, hdr, 34);
		memcpy(f + 34, data, size);
		ip_put16(f + 16, (uint16_t)(20 + size));
		ip_put16(f + 24, ip_hdr_csum(f + 14, 20));
		if (!(mode & 2) && size >= 4) {
			ip_put16(f + 36, 0);
			ip_put16(f + 36, csum_fold(csum_add(0, f + 34, size)));
		}
		struct pkt *p = pkt_from_bytes(pool, f, 34 + size);
		if (p) {
			ng_iface_input(&fz_if, p);
			exec_loop_run_once(loop, 0);
		}
	} else if (size > 0) {
		struct pkt *p = pkt_from_bytes(pool, data, size);
		if (p) {
			p->ifindex = fz_if.index;
			p->l3_off = (int32_t)p->off;
			/* Sometimes the data start is past the header already. */
			if ((mode & 2) && size > 20)
				pkt_pull(p, 20);
			icmp_error(&p, (uint8_t)((mode >> 2) & 15), (uint8_t)(mode >> 6), 1280);
			exec_loop_run_once(loop, 0);
		}
	}
	/* Errors to an address ARP is still resolving wait in its queue. */
	static struct arp_entry_info ai[ARP_CACHE_MAX];
	unsigned na = arp_list(ai, ARP_CACHE_MAX);
	uint64_t queued = 0;
	for (unsigned i = 0; i < na && i < ARP_CACHE_MAX; i++)
		queued += ai[i].queued;
	if (pkt_pools_outstanding() != queued)
		__builtin_trap();
	return 0;
}
