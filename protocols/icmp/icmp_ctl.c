/*
 * icmp_ctl.c - the icmp node, configuration, statistics and the rate
 * limiter.
 *
 * Rate limit: two token buckets (errors, echo replies).  A bucket keeps its
 * credit in nanoseconds: elapsed time adds credit up to burst * (1 s /
 * rate), each message costs 1 s / rate.  That is exact in integers and
 * costs one clock read and a few arithmetic operations.  Bucket state is
 * the packet loop's; rates and bursts are atomics a control call may change
 * at any time.
 */
#include "kernel/sal/sal.h"
#include "protocols/icmp/icmp.h"
#include "protocols/icmp/icmp_private.h"

static const char *const icmp_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "protocols/icmp/icmp_drop.def"
#undef NG_DROP_X
};

NG_NODE(icmp_node, .name = "icmp", .module = &icmp_module, .arrived = &ICMP_PacketArrived_event,
	.drop_names = icmp_drop_names, .ndrops = NG_ARRAY_LEN(icmp_drop_names),
	.doc = "ICMP: echo, errors with RFC 1122 rules and a rate limit");

struct icmp_counters icmp_ctr;
_Atomic bool icmp_running;
_Atomic bool icmp_echo_on = true;

struct bucket_cfg {
	_Atomic uint32_t rate, burst;
};
static struct bucket_cfg bcfg[2] = {
	[ICMP_BUCKET_ERR] = {.rate = 1000, .burst = 50},
	[ICMP_BUCKET_ECHO] = {.rate = 0, .burst = 0},
};
struct bucket {
	bool primed;
	uint64_t last_ns;
	uint64_t credit_ns;
};
static struct bucket buckets[2];

static uint64_t (*_Atomic icmp_clock)(void);

void icmp_set_clock(uint64_t (*now_ns)(void))
{
	atomic_store_explicit(&icmp_clock, now_ns, memory_order_relaxed);
}

static uint64_t icmp_now(void)
{
	uint64_t (*fn)(void) = atomic_load_explicit(&icmp_clock, memory_order_relaxed);
	return fn ? fn() : sal_now_ns();
}

bool icmp_rate_ok(enum icmp_bucket_id id)
{
	uint32_t rate = atomic_load_explicit(&bcfg[id].rate, memory_order_relaxed);
	if (rate == 0)
		return true;
	uint32_t burst = atomic_load_explicit(&bcfg[id].burst, memory_order_relaxed);
	if (burst == 0)
		burst = 1;
	uint64_t cost = 1000000000ull / rate;
	uint64_t cap = cost * burst;
	struct bucket *b = &buckets[id];
	uint64_t now = icmp_now();
	if (!b->primed) {
		b->primed = true;
		b->credit_ns = cap;
	} else if (now > b->last_ns) {
		uint64_t add = now - b->last_ns;
		b->credit_ns = add >= cap || b->credit_ns + add >= cap ? cap : b->credit_ns + add;
	}
	b->last_ns = now;
	if (b->credit_ns > cap)
		b->credit_ns = cap;
	if (b->credit_ns < cost)
		return false;
	b->credit_ns -= cost;
	return true;
}

void icmp_rate_reset(void)
{
	buckets[0] = (struct bucket){0};
	buckets[1] = (struct bucket){0};
}

void icmp_config_get(struct icmp_config *out)
{
	out->err_rate = atomic_load(&bcfg[ICMP_BUCKET_ERR].rate);
	out->err_burst = atomic_load(&bcfg[ICMP_BUCKET_ERR].burst);
	out->echo_rate = atomic_load(&bcfg[ICMP_BUCKET_ECHO].rate);
	out->echo_burst = atomic_load(&bcfg[ICMP_BUCKET_ECHO].burst);
	out->echo_enabled = atomic_load(&icmp_echo_on);
}

void icmp_config_set(const struct icmp_config *c)
{
	atomic_store(&bcfg[ICMP_BUCKET_ERR].rate, c->err_rate);
	atomic_store(&bcfg[ICMP_BUCKET_ERR].burst, c->err_burst);
	atomic_store(&bcfg[ICMP_BUCKET_ECHO].rate, c->echo_rate);
	atomic_store(&bcfg[ICMP_BUCKET_ECHO].burst, c->echo_burst);
	atomic_store(&icmp_echo_on, c->echo_enabled);
}

static uint64_t take(_Atomic uint64_t *c, bool clear)
{
	return clear ? atomic_exchange(c, 0) : atomic_load(c);
}

void icmp_stats_get(struct icmp_stats *out, bool clear)
{
	out->rx = take(&icmp_ctr.rx, clear);
	out->echo_rx = take(&icmp_ctr.echo_rx, clear);
	out->echo_tx = take(&icmp_ctr.echo_tx, clear);
	out->err_rx = take(&icmp_ctr.err_rx, clear);
	out->err_tx = take(&icmp_ctr.err_tx, clear);
	out->err_suppressed = take(&icmp_ctr.err_suppressed, clear);
	out->rate_limited = take(&icmp_ctr.rate_limited, clear);
	out->tx_fail = take(&icmp_ctr.tx_fail, clear);
}
