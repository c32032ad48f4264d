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

#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"
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
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp"};
	static const struct disp_term terms[] = {DISP_HDR_EQ(ETHER_OFF_TYPE, 2, 0x88b5)};
	sal_init();
	sal_set_log_level(SAL_LOG_ERR);
	loop = exec_loop_new("fuzz", EXEC_BLOCKING);
	exec_loop_attach(loop);
	pool = pkt_pool_new("fuzz-ether", 256, 2048);
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
		spin_module_start(spin_builtin_find(mods[i]), NULL);
	fz_if.pool = pool;
	ng_iface_register(&fz_if);
	inet_addr_add(fz_if.index, 0xc6120002u, 24);
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
		ether_set_promisc(fz_if.index, mode & 1);
		ether_set_allmulti(fz_if.index, (mode & 4) != 0);
		bool joined = false;
		struct ether_addr g;
		if ((mode & 2) && n >= 6) {
			g = ether_addr_from(data);
			joined = ether_mcast_join(fz_if.index, g) == ETHER_OK;
		}
		struct pkt *p = pkt_from_bytes(pool, data, n);
		data += n;
		size -= n;
		if (!p)
			break;
		ng_iface_input(&fz_if, p);
		exec_loop_run_once(loop, 0);
		if (joined)
			ether_mcast_leave(fz_if.index, g);
	}
	/* ARP may hold nothing here: nothing is ever sent to a next hop. */
	if (pkt_pools_outstanding() != 0)
		__builtin_trap();
	return 0;
}
