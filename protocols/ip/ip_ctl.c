/*
 * ip_ctl.c - configuration, statistics and names of the ip module.
 */
#include "kernel/sal/sal.h"
#include "protocols/ip/ip.h"
#include "protocols/ip/ip_private.h"

static const char *const ip_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "protocols/ip/ip_drop.def"
#undef NG_DROP_X
};

NG_NODE(ip_node, .name = "ip", .module = &ip_module, .arrived = &IP_PacketArrived_event,
	.send = &IP_SendPacket_event, .drop_names = ip_drop_names,
	.ndrops = NG_ARRAY_LEN(ip_drop_names), .doc = "IPv4: validation, routing, fragments");

struct ip_cfg_live ip_cfg = {
	.forwarding = false,
	.default_ttl = 64,
	.reass_timeout_ms = 30000,
	.reass_mem_max = 4u << 20,
	.reass_src_max = 1u << 20,
	.reass_min_frag = 32,
};

struct ip_counters ip_ctr;

static uint64_t (*_Atomic ip_clock)(void);

uint64_t ip_now(void)
{
	uint64_t (*fn)(void) = atomic_load_explicit(&ip_clock, memory_order_relaxed);
	return fn ? fn() : sal_now_ns();
}

void ip_set_clock(uint64_t (*now_ns)(void))
{
	atomic_store_explicit(&ip_clock, now_ns, memory_order_relaxed);
}

const char *ip_strerror(int err)
{
	switch (err) {
	case IP_OK: return "ok";
	case IP_EINVAL: return "invalid argument";
	case IP_ENOMEM: return "out of memory";
	case IP_EEXIST: return "route exists";
	case IP_ENOENT: return "no such route";
	}
	return "unknown error";
}

void ip_config_get(struct ip_config *out)
{
	out->forwarding = IP_CFG(forwarding);
	out->default_ttl = IP_CFG(default_ttl);
	out->reass_timeout_ms = IP_CFG(reass_timeout_ms);
	out->reass_mem_max = IP_CFG(reass_mem_max);
	out->reass_src_max = IP_CFG(reass_src_max);
	out->reass_min_frag = IP_CFG(reass_min_frag);
}

int ip_config_set(const struct ip_config *c)
{
	if (c->default_ttl == 0 || c->reass_timeout_ms == 0 || c->reass_src_max == 0 ||
	    c->reass_mem_max == 0 || c->reass_min_frag > 1024)
		return IP_EINVAL;
	atomic_store(&ip_cfg.forwarding, c->forwarding);
	atomic_store(&ip_cfg.default_ttl, c->default_ttl);
	atomic_store(&ip_cfg.reass_timeout_ms, c->reass_timeout_ms);
	atomic_store(&ip_cfg.reass_mem_max, c->reass_mem_max);
	atomic_store(&ip_cfg.reass_src_max, c->reass_src_max);
	atomic_store(&ip_cfg.reass_min_frag, c->reass_min_frag);
	return IP_OK;
}

static uint64_t take(_Atomic uint64_t *c, bool clear)
{
	return clear ? atomic_exchange(c, 0) : atomic_load(c);
}

void ip_stats_get(struct ip_stats *out, bool clear)
{
	out->rx = take(&ip_ctr.rx, clear);
	out->delivered = take(&ip_ctr.delivered, clear);
	out->forwarded = take(&ip_ctr.forwarded, clear);
	out->tx = take(&ip_ctr.tx, clear);
	out->frag_created = take(&ip_ctr.frag_created, clear);
	out->frags_rx = take(&ip_ctr.frags_rx, clear);
	out->reassembled = take(&ip_ctr.reassembled, clear);
	out->gso_tx = take(&ip_ctr.gso_tx, clear);
	out->gso_sw_segs = take(&ip_ctr.gso_sw_segs, clear);
	out->reass_held = ip_reass_frags();
	out->reass_bytes = ip_reass_bytes();
}
