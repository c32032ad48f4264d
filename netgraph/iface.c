/*
 * iface.c - the interface table and the link layer's receive and send.
 *
 * The table is an array of published pointers: a lookup on the packet path
 * is one acquire load.  Registration and removal are control paths,
 * serialized by a spin lock; removal waits for a grace period when it can,
 * so no raise still holds the interface when the driver frees it.
 */
#include "netgraph/iface.h"

#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/ng_internal.h"
#include "netgraph/pkt.h"

static struct ng_iface *_Atomic if_table[NG_IF_MAX + 1];  /* index 0 unused */
static atomic_flag if_lock = ATOMIC_FLAG_INIT;

static void if_acquire(void)
{
	while (atomic_flag_test_and_set_explicit(&if_lock, memory_order_acquire))
		sal_cpu_relax();
}

static void if_release(void)
{
	atomic_flag_clear_explicit(&if_lock, memory_order_release);
}

static bool name_eq(const char *a, const char *b)
{
	return strncmp(a, b, NG_IFNAMSIZ) == 0;
}

int ng_iface_register(struct ng_iface *ifp)
{
	if (!ifp || !ifp->name[0])
		return -1;
	int idx = -1;
	if_acquire();
	for (int i = 1; i <= NG_IF_MAX; i++) {
		struct ng_iface *o = atomic_load_explicit(&if_table[i], memory_order_relaxed);
		if (o && (o == ifp || name_eq(o->name, ifp->name))) {
			idx = -1;
			break;
		}
		if (!o && idx < 0)
			idx = i;
	}
	if (idx > 0) {
		ifp->index = (uint16_t)idx;
		atomic_store_explicit(&if_table[idx], ifp, memory_order_release);
	}
	if_release();
	return idx > 0 ? 0 : -1;
}

void ng_iface_unregister(struct ng_iface *ifp)
{
	if (!ifp || ifp->index == 0 || ifp->index > NG_IF_MAX)
		return;
	if_acquire();
	bool found = atomic_load_explicit(&if_table[ifp->index], memory_order_relaxed) == ifp;
	if (found)
		atomic_store_explicit(&if_table[ifp->index], NULL, memory_order_release);
	if_release();
	if (!found)
		return;
	/* An online reader (a run loop tearing down its own device) cannot
	 * wait for itself; it owns the packets it is handling anyway. */
	if (!rcu_thread_is_online())
		rcu_synchronize();
	ifp->index = 0;
}

struct ng_iface *ng_iface_get(uint16_t index)
{
	if (index == 0 || index > NG_IF_MAX)
		return NULL;
	return atomic_load_explicit(&if_table[index], memory_order_acquire);
}

struct ng_iface *ng_iface_find(const char *name)
{
	for (int i = 1; i <= NG_IF_MAX; i++) {
		struct ng_iface *o = atomic_load_explicit(&if_table[i], memory_order_acquire);
		if (o && name_eq(o->name, name))
			return o;
	}
	return NULL;
}

/* --- receive ----------------------------------------------------------------
 * Cost: the link node's bracket, two counter adds, three stores, and the
 * raise (one indirect call with one binding and no guard). */
static inline void link_in(struct ng_iface *ifp, struct pkt *p)
{
	ifp->stats.rx_packets++;
	ifp->stats.rx_bytes += pkt_len(p);
	p->ifindex = ifp->index;
	pkt_set_l2(p);
	Link_PacketArrived_raise(p);
}

void ng_iface_input(struct ng_iface *ifp, struct pkt *p)
{
	ng_enter(&ng_link_node, p);
	link_in(ifp, p);
	ng_leave(&ng_link_node);
}

void ng_iface_input_batch(struct ng_iface *ifp, struct pkt **v, unsigned n)
{
	uint64_t bytes = 0;
	for (unsigned i = 0; i < n; i++)
		bytes += pkt_len(v[i]);
	ng_enter_batch(&ng_link_node, n, bytes);
	bool tracing = ng_trace_mode() != NG_TRACE_OFF;
	for (unsigned i = 0; i < n; i++) {
		struct pkt *p = v[i];
		v[i] = NULL;
		if (i + 1 < n)
			__builtin_prefetch(pkt_data(v[i + 1]));
		if (tracing)
			ng_trace(&ng_link_node, "rx", p);
		link_in(ifp, p);
	}
	ng_leave(&ng_link_node);
}

/* --- send ---------------------------------------------------------------------- */
void ng_iface_send(struct pkt *p)
{
	Link_SendPacket_raise(p);
}

void ng_link_send(void *closure, struct pkt *p)
{
	(void)closure;
	ng_enter_tx(&ng_link_node, p);
	struct ng_iface *ifp = ng_iface_get(p->ifindex);
	if (!ifp) {
		ng_drop(&p, &ng_link_node, NG_DROP_NO_IFACE);
		goto out;
	}
	if (!ifp->ops || !ifp->ops->xmit) {
		ng_drop(&p, &ng_link_node, NG_LINK_DROP_IFACE_DOWN);
		goto out;
	}
	if (p->csum == PKT_CSUM_PARTIAL && !ifp->tx_csum_offload) {
		/* A clone shares its bytes: completing in place would write
		 * into every copy. */
		if (!pkt_unshare(&p)) {
			ng_drop(&p, &ng_link_node, NG_DROP_NO_BUFFERS);
			goto out;
		}
		if (!pkt_csum_complete(p)) {
			ng_drop(&p, &ng_link_node, NG_DROP_BAD_CSUM);
			goto out;
		}
	}
	ifp->ops->xmit(ifp, p);
out:
	ng_leave(&ng_link_node);
}
