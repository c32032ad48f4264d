/* fuzz_graph.c - see fuzz_graph.h. */
#include "tests/fuzz/fuzz_graph.h"

#include <stdio.h>

#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "protocols/arp/arp.h"
#include "protocols/inet/inet.h"

struct fz_world fz;

static int fz_xmit(struct ng_iface *ifp, struct pkt *p)
{
	(void)ifp;
	if (pkt_check(p))
		__builtin_trap();
	if (fz.tap)
		fz.tap(p);
	pkt_free(p);
	return 0;
}

static const struct ng_iface_ops fz_ops = {.xmit = fz_xmit};

void fz_start(const char *pool_name, uint32_t nbufs, const char *const *mods)
{
	if (fz.loop)
		return;
	sal_init();
	sal_set_log_level(SAL_LOG_ERR);
	fz.loop = exec_loop_new("fuzz", EXEC_BLOCKING);
	exec_loop_attach(fz.loop);
	fz.pool = pkt_pool_new(pool_name, nbufs, PKT_BUF_DEFAULT);
	for (; *mods; mods++) {
		const struct spin_module *m = spin_builtin_find(*mods);
		if (!m || spin_module_start(m, NULL) != SPIN_MOD_OK)
			__builtin_trap();
	}
}

struct ng_iface *fz_iface(uint32_t mtu, bool with_addr, bool with_peer)
{
	if (fz.nifs == FZ_MAX_IFS)
		__builtin_trap();
	uint8_t n = (uint8_t)fz.nifs++;
	struct ng_iface *ifp = &fz.ifs[n];
	snprintf(ifp->name, sizeof ifp->name, "fz%u", n);
	const uint8_t mac[6] = {2, 0, 0, 0, n, 2};
	memcpy(ifp->mac, mac, sizeof mac);
	ifp->mtu = mtu;
	ifp->ops = &fz_ops;
	ifp->driver = "fuzz";
	ifp->pool = fz.pool;
	if (ng_iface_register(ifp) < 0)
		__builtin_trap();
	uint32_t net = 0xc6120000u | (uint32_t)n << 8;   /* 198.18.N.0 */
	if (with_addr)
		inet_addr_add(ifp->index, net | 2, 24);
	if (with_peer)
		arp_static_add(ifp->index, net | 1, (struct ether_addr){{2, 0, 0, 0, n, 1}});
	return ifp;
}

bool fz_input(struct ng_iface *ifp, const void *frame, size_t n,
	      void (*prep)(struct pkt *p, void *arg), void *arg)
{
	struct pkt *p = pkt_from_bytes(fz.pool, frame, n);
	if (!p)
		return false;
	if (prep)
		prep(p, arg);
	ng_iface_input(ifp, p);
	exec_loop_run_once(fz.loop, 0);
	return true;
}

uint64_t fz_arp_queued(void)
{
	static struct arp_entry_info ai[ARP_CACHE_MAX];
	unsigned na = arp_list(ai, ARP_CACHE_MAX);
	uint64_t queued = 0;
	for (unsigned i = 0; i < na && i < ARP_CACHE_MAX; i++)
		queued += ai[i].queued;
	return queued;
}

void fz_assert_outstanding(uint64_t held)
{
	if (pkt_pools_outstanding() != held)
		__builtin_trap();
}
