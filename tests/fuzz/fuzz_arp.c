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

#include "kernel/module/module.h"
#include "netgraph/graph.h"
#include "tests/fuzz/fuzz_graph.h"
#include "protocols/arp/arp.h"
#include "protocols/ether/ether.h"
#include "protocols/inet/inet.h"

static struct ng_iface *ifp;


static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", NULL};
	fz_start("fuzz-arp", 2048, mods);
	ifp = fz_iface(1500, true, true);
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
			arp_flush(ifp->index, false);
		if ((mode & 4) && n > 0) {
			uint8_t ip[20] = {0x45};
			struct pkt *q = pkt_from_bytes(fz.pool, ip, sizeof ip);
			if (q)
				arp_send(q, ifp->index, 0xc6120000u | data[0]);
		}
		size_t h = 0;
		if (mode & 1)
			memset(f, 0xff, 6);
		else
			memcpy(f, ifp->mac, 6);
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
		if (!fz_input(ifp, f, 14 + h + n, NULL, NULL))
			break;
	}
	fz_assert_outstanding(fz_arp_queued());
	return 0;
}
