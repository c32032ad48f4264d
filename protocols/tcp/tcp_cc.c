/*
 * tcp_cc.c - congestion control: how cwnd grows on ACKs and what a loss
 * does to it.  Two algorithms, chosen per connection (tcp_set_cc, or
 * tcp_conn_opts.cc, or the configured default):
 *
 *   NewReno (RFC 5681, RFC 6582): slow start by one segment per ACK,
 *   congestion avoidance by SMSS^2 / cwnd per ACK, ssthresh = FlightSize/2.
 *
 *   CUBIC (RFC 9438): slow start as NewReno (no HyStart: slow start ends at
 *   ssthresh or the first loss, as RFC 5681 says); in congestion avoidance
 *   cwnd follows W_cubic(t) = C (t - K)^3 + W_max with C = 0.4 and
 *   beta = 0.7, aiming at W_cubic(t + RTT) and growing by at most half a
 *   window per RTT (section 4.4); below the Reno-friendly estimate W_est
 *   (section 4.3, alpha = 3 (1 - beta) / (1 + beta) until W_est reaches
 *   the window before the last reduction, 1 after) cwnd is W_est; fast
 *   convergence (section 4.7) lowers W_max to cwnd (1 + beta) / 2 when a
 *   loss comes below the previous W_max.
 *
 * Everything is integer arithmetic (no FPU on the metal platform): windows
 * in bytes, times in ms on TCP's clock, C (t - K)^3 in milli-segments.
 * Per-ACK fractions are carried in remainders (cu_acc, cu_west_acc) so a
 * large window still grows.  Loss recovery itself (which segments to send)
 * is tcp_sack.c's and tcp_input.c's; this file only sets cwnd and ssthresh.
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"

/* beta = 7/10; alpha for beta 0.7 is 0.9 / 1.7 = 0.5294 = 542/1024. */
#define CUBIC_BETA_NUM 7u
#define CUBIC_BETA_DEN 10u
#define CUBIC_ALPHA_1024 542u
/* |t - K| beyond this adds nothing useful and would overflow the cube. */
#define CUBIC_T_MAX_MS 100000u

const char *tcp_cc_name(enum tcp_cc cc)
{
	switch (cc) {
	case TCP_CC_NEWRENO: return "newreno";
	case TCP_CC_CUBIC: return "cubic";
	default: return "default";
	}
}

int tcp_set_cc(struct tcp_conn *c, enum tcp_cc cc)
{
	if (!c || (cc != TCP_CC_NEWRENO && cc != TCP_CC_CUBIC))
		return TCP_EINVAL;
	if (c->cc != cc) {
		c->cc = (uint8_t)cc;
		tcp_cc_init(c);
	}
	return TCP_OK;
}

void tcp_cc_init(struct tcp_conn *c)
{
	c->cu_wmax = c->cu_prior = c->cu_west = 0;
	c->cu_k_ms = c->cu_epoch_ms = 0;
	c->cu_acc = c->cu_west_acc = 0;
}

/* floor(cbrt(x)) by bits, three result bits per step. */
static uint64_t icbrt(uint64_t x)
{
	uint64_t y = 0;

	for (int s = 63; s >= 0; s -= 3) {
		uint64_t b;
		y <<= 1;
		b = 3 * y * (y + 1) + 1;
		if ((x >> s) >= b) {
			x -= b << s;
			y++;
		}
	}
	return y;
}

uint32_t tcp_cubic_k_ms(uint32_t wmax, uint32_t cwnd, uint32_t smss)
{
	uint64_t milli;

	if (cwnd >= wmax || !smss)
		return 0;
	/* K^3 = (W_max - cwnd) / C, in segments and seconds; in ms and
	 * milli-segments K_ms^3 = milli * 10^6 / 0.4 = milli * 2.5e6. */
	milli = (uint64_t)(wmax - cwnd) * 1000u / smss;
	if (milli > 3000000000ull)
		milli = 3000000000ull;
	return (uint32_t)icbrt(milli * 5000000u / 2u);
}

uint32_t tcp_cubic_w(uint32_t wmax, uint32_t k_ms, uint32_t t_ms, uint32_t smss)
{
	bool below = t_ms < k_ms;
	uint64_t d = below ? k_ms - t_ms : t_ms - k_ms, milli, bytes;

	if (d > CUBIC_T_MAX_MS)
		d = CUBIC_T_MAX_MS;
	/* 0.4 d^3 / 10^9 segments = 4 d^3 / 10^7 milli-segments. */
	milli = 4u * d * d * d / 10000000u;
	bytes = milli * smss / 1000u;
	if (below)
		return bytes + smss >= wmax ? smss : (uint32_t)(wmax - bytes);
	return bytes > 0x7fffffffu - (uint64_t)wmax ? 0x7fffffffu : (uint32_t)(wmax + bytes);
}

static uint32_t smss_of(const struct tcp_conn *c)
{
	uint32_t m = c->mss - (c->ts_ok ? 12u : 0u);

	return m ? m : 1;
}

static void cubic_ack(struct tcp_conn *c, uint32_t acked)
{
	uint32_t smss = smss_of(c), now = tcp_now_ms(), t, rtt_ms, w_t, target;
	uint64_t inc;

	if (!c->cu_epoch_ms) {
		/* A congestion-avoidance epoch starts (section 4.2). */
		c->cu_epoch_ms = now ? now : 1;
		if (c->cwnd < c->cu_wmax) {
			c->cu_k_ms = tcp_cubic_k_ms(c->cu_wmax, c->cwnd, smss);
		} else {
			c->cu_k_ms = 0;
			c->cu_wmax = c->cwnd;
		}
		c->cu_west = c->cwnd;
		c->cu_acc = c->cu_west_acc = 0;
	}
	t = now - c->cu_epoch_ms;
	rtt_ms = c->srtt_us / 1000u;
	w_t = tcp_cubic_w(c->cu_wmax, c->cu_k_ms, t, smss);
	target = tcp_cubic_w(c->cu_wmax, c->cu_k_ms, t + rtt_ms, smss);

	/* The Reno-friendly estimate (section 4.3). */
	c->cu_west_acc += (uint32_t)((uint64_t)(c->cu_west >= c->cu_prior ? 1024u
									 : CUBIC_ALPHA_1024) *
				     acked * smss / 1024u);
	c->cu_west += c->cu_west_acc / c->cwnd;
	c->cu_west_acc %= c->cwnd;
	if (w_t < c->cu_west) {
		if (c->cu_west > c->cwnd)
			c->cwnd = c->cu_west;
		return;
	}
	/* Concave and convex regions (sections 4.4, 4.5). */
	if (target < c->cwnd)
		target = c->cwnd;
	if (target > c->cwnd + c->cwnd / 2)
		target = c->cwnd + c->cwnd / 2;
	inc = (uint64_t)(target - c->cwnd) * acked + c->cu_acc;
	c->cwnd += (uint32_t)(inc / c->cwnd);
	c->cu_acc = (uint32_t)(inc % c->cwnd);
}

void tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
	uint32_t m = c->mss;

	if (c->cwnd < c->ssthresh) {
		c->cwnd += acked < m ? acked : m;
		return;
	}
	if (c->cc == TCP_CC_CUBIC) {
		cubic_ack(c, acked);
		return;
	}
	uint32_t inc = (uint32_t)((uint64_t)m * m / (c->cwnd ? c->cwnd : 1));
	c->cwnd += inc ? inc : 1;
}

void tcp_cc_loss(struct tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una, floor = 2u * c->mss, th;

	if (c->cc == TCP_CC_CUBIC) {
		uint32_t w = c->cwnd;
		/* Fast convergence (section 4.7). */
		if (w < c->cu_wmax)
			c->cu_wmax = (uint32_t)((uint64_t)w * (CUBIC_BETA_DEN + CUBIC_BETA_NUM) /
						(2u * CUBIC_BETA_DEN));
		else
			c->cu_wmax = w;
		c->cu_prior = w;
		c->cu_epoch_ms = 0;
		th = (uint32_t)((uint64_t)flight * CUBIC_BETA_NUM / CUBIC_BETA_DEN);
	} else {
		th = flight / 2;
	}
	c->ssthresh = th > floor ? th : floor;
}

void tcp_cc_undo(struct tcp_conn *c)
{
	if (c->cu_prior > c->cu_wmax)
		c->cu_wmax = c->cu_prior;
	c->cu_epoch_ms = 0;
}

void tcp_cc_rto(struct tcp_conn *c)
{
	tcp_cc_loss(c);
	c->cwnd = c->mss;
}
