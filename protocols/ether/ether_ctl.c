/*
 * ether_ctl.c - the ether module: its node, its events, the bindings it
 * makes at start, and the per-interface filter settings.
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/ether/ether.h"
#include "protocols/ether/ether_internal.h"

struct ether_ifstate ether_if[NG_IF_MAX + 1];

static const char *const ether_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "protocols/ether/ether_drop.def"
#undef NG_DROP_X
};

static int ether_init(const char *args);
static void ether_fini(void);

SPIN_MODULE(ether_module, .name = "ether", .version = SPIN_VERSION(1, 0),
	    .init = ether_init, .fini = ether_fini,
	    .doc = "Ethernet II and 802.1Q: address filter, header in and out");

NG_NODE(ether_node, .name = "ether", .module = &ether_module,
	.arrived = &Ether_PacketArrived_event, .send = &Ether_SendPacket_event,
	.drop_names = ether_drop_names, .ndrops = NG_ARRAY_LEN(ether_drop_names),
	.doc = "Ethernet II and 802.1Q");

NG_PKT_EVENT_DEFINE(Ether_PacketArrived, ether_node, .owner = &ether_module,
		    .doc = "an Ethernet frame for this host; guard on the EtherType");

static void ether_send_nobody(struct pkt *p, struct ether_addr dst, uint16_t type)
{
	(void)dst;
	(void)type;
	ng_drop(&p, &ether_node, NG_DROP_NO_HANDLER);
}

SPIN_EVENT_DEFINE(Ether_SendPacket, .owner = &ether_module, .subject = ng_pkt_subject,
		  .default_handler = ether_send_nobody,
		  .doc = "send a payload in an Ethernet frame (dst, EtherType)");

static struct disp_binding *ether_rx_binding, *ether_tx_binding;
static struct sal_mutex *ether_mu;

static int ether_init(const char *args)
{
	(void)args;
	if (!ether_mu && !(ether_mu = sal_mutex_new()))
		return -1;
	if (ng_graph_init() != NG_OK)
		return -1;
	struct Link_PacketArrived_spec rx = {
		.handler = ether_input,
		.desc = "ether input",
	};
	int err = Link_PacketArrived_install(&ether_module, &rx, &ether_rx_binding);
	if (err != DISP_OK) {
		sal_log(SAL_LOG_ERR, "ether: install on Link_PacketArrived: %s",
			disp_strerror(err));
		return -1;
	}
	struct Ether_SendPacket_spec tx = {
		.handler = ether_output,
		.desc = "ether output",
	};
	err = Ether_SendPacket_install(&ether_module, &tx, &ether_tx_binding);
	if (err != DISP_OK) {
		sal_log(SAL_LOG_ERR, "ether: install on Ether_SendPacket: %s",
			disp_strerror(err));
		disp_uninstall(ether_rx_binding);
		ether_rx_binding = NULL;
		return -1;
	}
	return 0;
}

static void ether_fini(void)
{
	if (ether_tx_binding)
		disp_uninstall(ether_tx_binding);
	if (ether_rx_binding)
		disp_uninstall(ether_rx_binding);
	ether_tx_binding = ether_rx_binding = NULL;
	for (uint16_t i = 0; i <= NG_IF_MAX; i++)
		ether_iface_reset(i);
}

static struct ether_ifstate *state_of(uint16_t ifindex)
{
	if (ifindex == 0 || ifindex > NG_IF_MAX)
		return NULL;
	return &ether_if[ifindex];
}

/* The control mutex is made by init; calls before init (a config applied
 * early) run unlocked, which is fine while there is one thread. */
static void lock(void)
{
	if (ether_mu)
		sal_mutex_lock(ether_mu);
}

static void unlock(void)
{
	if (ether_mu)
		sal_mutex_unlock(ether_mu);
}

const char *ether_strerror(int err)
{
	switch (err) {
	case ETHER_OK: return "ok";
	case ETHER_EINVAL: return "invalid interface or not a multicast address";
	case ETHER_EFULL: return "too many multicast groups on the interface";
	case ETHER_ENOENT: return "multicast group not joined";
	}
	return "unknown error";
}

int ether_mcast_join(uint16_t ifindex, struct ether_addr group)
{
	struct ether_ifstate *s = state_of(ifindex);
	if (!s || !ether_is_group(group.b) || ether_is_bcast(group.b))
		return ETHER_EINVAL;
	uint64_t want = ETHER_SLOT_USED | ether_addr_u64(group.b);
	int err = ETHER_EFULL;
	int free_slot = -1;
	lock();
	for (unsigned i = 0; i < ETHER_MCAST_MAX; i++) {
		uint64_t w = atomic_load_explicit(&s->group[i], memory_order_relaxed);
		if (w == want) {
			s->refs[i]++;
			err = ETHER_OK;
			goto out;
		}
		if (!w && free_slot < 0)
			free_slot = (int)i;
	}
	if (free_slot >= 0) {
		s->refs[free_slot] = 1;
		atomic_store_explicit(&s->group[free_slot], want, memory_order_release);
		err = ETHER_OK;
	}
out:
	unlock();
	return err;
}

int ether_mcast_leave(uint16_t ifindex, struct ether_addr group)
{
	struct ether_ifstate *s = state_of(ifindex);
	if (!s)
		return ETHER_EINVAL;
	uint64_t want = ETHER_SLOT_USED | ether_addr_u64(group.b);
	int err = ETHER_ENOENT;
	lock();
	for (unsigned i = 0; i < ETHER_MCAST_MAX; i++) {
		if (atomic_load_explicit(&s->group[i], memory_order_relaxed) != want)
			continue;
		if (--s->refs[i] == 0)
			atomic_store_explicit(&s->group[i], 0, memory_order_release);
		err = ETHER_OK;
		break;
	}
	unlock();
	return err;
}

bool ether_mcast_joined(uint16_t ifindex, struct ether_addr group)
{
	struct ether_ifstate *s = state_of(ifindex);
	if (!s)
		return false;
	uint64_t want = ETHER_SLOT_USED | ether_addr_u64(group.b);
	for (unsigned i = 0; i < ETHER_MCAST_MAX; i++)
		if (atomic_load_explicit(&s->group[i], memory_order_relaxed) == want)
			return true;
	return false;
}

int ether_set_allmulti(uint16_t ifindex, bool on)
{
	struct ether_ifstate *s = state_of(ifindex);
	if (!s)
		return ETHER_EINVAL;
	atomic_store_explicit(&s->allmulti, on, memory_order_relaxed);
	return ETHER_OK;
}

int ether_set_promisc(uint16_t ifindex, bool on)
{
	struct ether_ifstate *s = state_of(ifindex);
	if (!s)
		return ETHER_EINVAL;
	atomic_store_explicit(&s->promisc, on, memory_order_relaxed);
	return ETHER_OK;
}

bool ether_promisc(uint16_t ifindex)
{
	struct ether_ifstate *s = state_of(ifindex);
	return s && atomic_load_explicit(&s->promisc, memory_order_relaxed);
}

void ether_iface_reset(uint16_t ifindex)
{
	if (ifindex > NG_IF_MAX)
		return;
	struct ether_ifstate *s = &ether_if[ifindex];
	lock();
	atomic_store_explicit(&s->promisc, false, memory_order_relaxed);
	atomic_store_explicit(&s->allmulti, false, memory_order_relaxed);
	for (unsigned i = 0; i < ETHER_MCAST_MAX; i++) {
		atomic_store_explicit(&s->group[i], 0, memory_order_relaxed);
		s->refs[i] = 0;
	}
	unlock();
}
