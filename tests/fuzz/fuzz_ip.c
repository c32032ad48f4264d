/*
 * fuzz_ip.c - IPv4 input, reassembly and forwarding from the Ethernet
 * layer.  One input is a sequence of frames, each
 *     [mode:1][len:2 big-endian][len bytes of IPv4 datagram]
 * sent inside an Ethernet header with EtherType 0x0800 on a fake
 * interface.  Mode bits: 0 fix the header checksum (so the fuzzer gets past
 * it), 1 forwarding on, 2 advance the fake clock by 31 s first (reassembly
 * timeouts), 3 fix the total length to the datagram's size, 4 mark the
 * frame as a coalesced TCP/IPv4 one (the GSO fields a driver with tso sets)
 * with gso_size 64, 536, 1000 or 1460 by bits 6-7, 5 give the forwarding
 * interface (MTU 576) TSO: forwarded GSO packets are then cut in software
 * (bit 5 clear) or handed down whole or cut because a piece does not fit
 * (bit 5 set).
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

#include "kernel/module/module.h"
#include "netgraph/graph.h"
#include "tests/fuzz/fuzz_graph.h"
#include "protocols/arp/arp.h"
#include "protocols/icmp/icmp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"

static uint64_t fake_now = 1;
static uint64_t fz_clock(void) { return fake_now; }

static struct ng_iface *ifs[2];

/* What a driver with tso sets on a coalesced frame. */
static void set_gso(struct pkt *p, void *arg)
{
	static const uint16_t sizes[4] = {64, 536, 1000, 1460};
	uint8_t mode = *(const uint8_t *)arg;
	p->gso_type = PKT_GSO_TCPV4;
	p->gso_size = sizes[mode >> 6];
}

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip", "icmp", NULL};
	fz_start("fuzz-ip", 1024, mods);
	ifs[0] = fz_iface(1500, true, true);
	ifs[1] = fz_iface(576, true, true);
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
		ifs[1]->gso_max = (mode & 0x20) ? 65535 : 0;
		ifs[1]->tx_csum_offload = (mode & 0x20) != 0;
		if (!fz_input(ifs[0], f, 14 + n, (mode & 0x10) ? set_gso : NULL, &mode))
			break;
	}
	struct ip_stats st;
	ip_stats_get(&st, false);
	/* Fragments in reassembly and packets ARP holds for next hops it is
	 * resolving are not leaks. */
	fz_assert_outstanding(st.reass_held + fz_arp_queued());
	return 0;
}
