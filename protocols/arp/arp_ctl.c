/*
 * arp_ctl.c - the arp module: node, bindings made at start, gratuitous
 * announcements, configuration, listing and counters.
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/arp/arp.h"
#include "protocols/arp/arp_internal.h"
#include "protocols/ether/ether.h"
#include "protocols/inet/inet.h"

static const char *const arp_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "protocols/arp/arp_drop.def"
#undef NG_DROP_X
};

static int arp_init(const char *args);
static void arp_fini(void);

SPIN_MODULE(arp_module, .name = "arp", .version = SPIN_VERSION(1, 0),
	    .init = arp_init, .fini = arp_fini,
	    .doc = "ARP for IPv4 over Ethernet: resolution, answers, neighbour cache");

NG_NODE(arp_node, .name = "arp", .module = &arp_module,
	.drop_names = arp_drop_names, .ndrops = NG_ARRAY_LEN(arp_drop_names),
	.doc = "ARP (RFC 826)");

static struct disp_binding *arp_rx_binding, *arp_addr_binding;

static void arp_on_addr(void *closure, uint16_t ifindex, uint32_t addr)
{
	(void)closure;
	if (ng_iface_get(ifindex))
		arp_tx_request(ifindex, addr, addr, NULL);
}

static int arp_init(const char *args)
{
	(void)args;
	if (!spin_module_started(&ether_module)) {
		sal_log(SAL_LOG_ERR, "arp: the ether module must be started first");
		return -1;
	}
	static const struct disp_term terms[] = {
		DISP_HDR_EQ(ETHER_OFF_TYPE, 2, ETHER_TYPE_ARP),
	};
	struct Ether_PacketArrived_spec rx = {
		.handler = arp_input,
		.terms = terms,
		.nterms = NG_ARRAY_LEN(terms),
		.desc = "arp input",
	};
	int err = Ether_PacketArrived_install(&arp_module, &rx, &arp_rx_binding);
	if (err != DISP_OK) {
		sal_log(SAL_LOG_ERR, "arp: install on Ether_PacketArrived: %s", disp_strerror(err));
		return -1;
	}
	struct Inet_AddrAdded_spec ad = {
		.handler = arp_on_addr,
		.desc = "arp: gratuitous ARP for a new address",
	};
	err = Inet_AddrAdded_install(&arp_module, &ad, &arp_addr_binding);
	if (err != DISP_OK) {
		sal_log(SAL_LOG_ERR, "arp: install on Inet_AddrAdded: %s", disp_strerror(err));
		disp_uninstall(arp_rx_binding);
		arp_rx_binding = NULL;
		return -1;
	}
	for (uint16_t i = 1; i <= NG_IF_MAX; i++)
		if (ng_iface_get(i))
			arp_announce(i);
	return 0;
}

static void arp_fini(void)
{
	if (arp_addr_binding)
		disp_uninstall(arp_addr_binding);
	if (arp_rx_binding)
		disp_uninstall(arp_rx_binding);
	arp_addr_binding = arp_rx_binding = NULL;
	arp_cache_reset();
}

int arp_announce(uint16_t ifindex)
{
	if (!ng_iface_get(ifindex))
		return -ARP_EINVAL;
	struct inet_ifaddr a[INET_ADDRS_PER_IF];
	unsigned n = inet_addr_list(ifindex, a, INET_ADDRS_PER_IF);
	int sent = 0;
	for (unsigned i = 0; i < n && i < INET_ADDRS_PER_IF; i++) {
		int err = arp_tx_request(ifindex, a[i].addr, a[i].addr, NULL);
		if (err != ARP_OK)
			return -err;
		sent++;
	}
	return sent;
}

const char *arp_strerror(int err)
{
	switch (err) {
	case ARP_OK: return "ok";
	case ARP_EINVAL: return "invalid interface, address or setting";
	case ARP_EFULL: return "ARP cache full";
	case ARP_ENOENT: return "no such ARP entry";
	case ARP_ENOBUFS: return "no packet buffer";
	}
	return "unknown error";
}

const char *arp_state_name(enum arp_state s)
{
	switch (s) {
	case ARP_S_FREE: return "free";
	case ARP_S_INCOMPLETE: return "incomplete";
	case ARP_S_REACHABLE: return "reachable";
	case ARP_S_STALE: return "stale";
	case ARP_S_STATIC: return "static";
	}
	return "?";
}

void arp_config_get(struct arp_config *out)
{
	*out = arp_cfg;
}

int arp_config_set(const struct arp_config *c)
{
	if (!c->reachable_ns || !c->stale_ns || !c->retrans_ns || !c->max_probes ||
	    !c->queue_max || c->queue_max > ARP_QUEUE_LIMIT)
		return ARP_EINVAL;
	arp_cfg = *c;
	return ARP_OK;
}

void arp_stats_get(struct arp_stats *out)
{
	*out = arp_st;
}

void arp_stats_clear(void)
{
	arp_st = (struct arp_stats){0};
}

int arp_format(char *buf, size_t size)
{
	struct arp_entry_info e[64];
	unsigned n = arp_list(e, NG_ARRAY_LEN(e));
	int len = 0;
	if (size)
		buf[0] = '\0';
	for (unsigned i = 0; i < n && i < NG_ARRAY_LEN(e); i++) {
		const struct ng_iface *ifp = ng_iface_get(e[i].ifindex);
		size_t room = (size_t)len < size ? size - (size_t)len : 0;
		len += sal_snprintf(room ? buf + len : NULL, room,
				    "%u.%u.%u.%u %02x:%02x:%02x:%02x:%02x:%02x %s %s %llus%s\n",
				    e[i].ip >> 24, (e[i].ip >> 16) & 0xff, (e[i].ip >> 8) & 0xff,
				    e[i].ip & 0xff, e[i].mac.b[0], e[i].mac.b[1], e[i].mac.b[2],
				    e[i].mac.b[3], e[i].mac.b[4], e[i].mac.b[5],
				    ifp ? ifp->name : "?", arp_state_name(e[i].state),
				    (unsigned long long)(e[i].age_ns / 1000000000ull),
				    e[i].queued ? " queued" : "");
	}
	if (n > NG_ARRAY_LEN(e)) {
		size_t room = (size_t)len < size ? size - (size_t)len : 0;
		len += sal_snprintf(room ? buf + len : NULL, room, "... %u entries in all\n", n);
	}
	return len;
}
