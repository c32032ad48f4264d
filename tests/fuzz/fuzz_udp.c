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
#include "kernel/module/module.h"
#include "netgraph/graph.h"
#include "tests/fuzz/fuzz_graph.h"
#include "protocols/arp/arp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"
#include "protocols/udp/udp.h"

static struct ng_iface *ifp;

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip",
					   "icmp", "udp", NULL};
	fz_start("fuzz-udp", 256, mods);
	spin_module_start(&echo_module, "7");
	ifp = fz_iface(1500, true, true);
}

/* The checksum state a driver would have given the frame (mode 0..2). */
static void set_csum(struct pkt *p, void *arg)
{
	uint8_t mode = *(const uint8_t *)arg;
	p->csum = mode == 0 ? PKT_CSUM_NONE : mode == 1 ? PKT_CSUM_VERIFIED : PKT_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 6;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t f[1600];
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
	fz_input(ifp, f, n, set_csum, &mode);
	fz_assert_outstanding(0);
	return 0;
}
