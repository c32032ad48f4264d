/*
 * fuzz_udp.c - arbitrary bytes as the UDP part of an IPv4 frame, pushed
 * through the whole graph from the link layer (Ether -> IP -> UDP -> echo or
 * port unreachable).  The first input byte picks the packet's checksum state
 * (none, verified, partial), so the partial path is fuzzed too.  The fake
 * interface's xmit frees what spin sends; after each input no pool buffer
 * may be outstanding.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apps/echo/echo.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"
#include "protocols/arp/arp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"
#include "protocols/udp/udp.h"

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
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip",
					   "icmp", "udp"};
	struct ether_addr peer = {{2, 0, 0, 0, 0, 1}};

	sal_init();
	sal_set_log_level(SAL_LOG_ERR);
	loop = exec_loop_new("fuzz", EXEC_BLOCKING);
	exec_loop_attach(loop);
	pool = pkt_pool_new("fuzz", 256, 2048);
	fz_if.pool = pool;
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
		spin_module_start(spin_builtin_find(mods[i]), NULL);
	spin_module_start(&echo_module, "7");
	ng_iface_register(&fz_if);
	inet_addr_add(fz_if.index, IP_ADDR(198, 18, 0, 2), 24);
	arp_static_add(fz_if.index, IP_ADDR(198, 18, 0, 1), peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t f[1600];
	struct pkt *p;
	uint8_t mode;
	size_t n;

	if (!ready) {
		init_once();
		ready = 1;
	}
	if (size < 1)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	if (size > sizeof f - 34)
		size = sizeof f - 34;
	static const uint8_t hdr[34] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
					0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0,
					198, 18, 0, 1, 198, 18, 0, 2};
	memcpy(f, hdr, 34);
	memcpy(f + 34, data, size);
	n = 34 + size;
	ip_put16(f + 16, (uint16_t)(20 + size));
	ip_put16(f + 24, ip_hdr_csum(f + 14, 20));
	p = pkt_from_bytes(pool, f, n);
	if (!p)
		return 0;
	p->csum = mode == 0 ? PKT_CSUM_NONE : mode == 1 ? PKT_CSUM_VERIFIED : PKT_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 6;
	ng_iface_input(&fz_if, p);
	exec_loop_run_once(loop, 0);
	if (pkt_pools_outstanding() != 0)
		__builtin_trap();
	return 0;
}
