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

#include "kernel/module/module.h"
#include "netgraph/graph.h"
#include "tests/fuzz/fuzz_graph.h"
#include "protocols/arp/arp.h"
#include "protocols/icmp/icmp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"

static struct ng_iface *ifp;

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip", "icmp", NULL};
	fz_start("fuzz-icmp", 256, mods);
	ifp = fz_iface(1500, true, true);
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
		fz_input(ifp, f, 34 + size, NULL, NULL);
	} else if (size > 0) {
		struct pkt *p = pkt_from_bytes(fz.pool, data, size);
		if (p) {
			p->ifindex = ifp->index;
			p->l3_off = (int32_t)p->off;
			/* Sometimes the data start is past the header already. */
			if ((mode & 2) && size > 20)
				pkt_pull(p, 20);
			icmp_error(&p, (uint8_t)((mode >> 2) & 15), (uint8_t)(mode >> 6), 1280);
			exec_loop_run_once(fz.loop, 0);
		}
	}
	/* Errors to an address ARP is still resolving wait in its queue. */
	fz_assert_outstanding(fz_arp_queued());
	return 0;
}
