/*
 * fuzz_ether.c - the Ethernet layer from the link up and back down.  One
 * input is a sequence of frames, each
 *     [mode:1][len:2 big-endian][len bytes of frame]
 * given to a fake interface.  Mode bits: 0 the interface is promiscuous,
 * 1 join the multicast group the frame is sent to (leave it afterwards),
 * 2 all-multicast.  A handler bound for the IEEE experimental EtherType
 * 0x88b5 turns frames around through Ether_SendPacket (so tagged frames
 * exercise the output tag too); ARP sees 0x0806; other types end at
 * "no_handler".  Invariant after every input: no pool buffer outstanding.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/module/module.h"
#include "netgraph/graph.h"
#include "tests/fuzz/fuzz_graph.h"
#include "protocols/ether/ether.h"
#include "protocols/inet/inet.h"

static struct ng_iface *ifp;

/* Sends the frame back to its source, payload unchanged. */
static void turn_around(void *closure, struct pkt *p)
{
	(void)closure;
	struct ether_addr src = ether_addr_from(pkt_data(p) + ETHER_ADDR_LEN);
	pkt_pull(p, p->l2_len);
	ether_send(p, p->ifindex, src, 0x88b5);
}

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", NULL};
	static const struct disp_term terms[] = {DISP_HDR_EQ(ETHER_OFF_TYPE, 2, 0x88b5)};
	fz_start("fuzz-ether", 256, mods);
	ifp = fz_iface(1500, true, false);
	struct Ether_PacketArrived_spec s = {.handler = turn_around, .terms = terms, .nterms = 1};
	Ether_PacketArrived_install(SPIN_KERNEL, &s, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
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
		if (n > 2000)
			n = 2000;
		ether_set_promisc(ifp->index, mode & 1);
		ether_set_allmulti(ifp->index, (mode & 4) != 0);
		bool joined = false;
		struct ether_addr g;
		if ((mode & 2) && n >= 6) {
			g = ether_addr_from(data);
			joined = ether_mcast_join(ifp->index, g) == ETHER_OK;
		}
		bool fed = fz_input(ifp, data, n, NULL, NULL);
		data += n;
		size -= n;
		if (joined)
			ether_mcast_leave(ifp->index, g);
		if (!fed)
			break;
	}
	/* ARP may hold nothing here: nothing is ever sent to a next hop. */
	fz_assert_outstanding(0);
	return 0;
}
