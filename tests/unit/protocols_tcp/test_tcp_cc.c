/*
 * test_tcp_cc.c - the pieces of TCP's loss recovery and congestion control
 * that are pure arithmetic, checked without the graph: the SACK scoreboard
 * (insert, merge, overlap, sequence wrap-around, the lost edge, pipe and
 * NextSeg's holes, RFC 6675) and CUBIC's window (RFC 9438) against values
 * computed by hand from the RFC's formulas, plus receive-window
 * auto-tuning on a fake clock.  Recovery entry and exit through real
 * segments are in test_tcp.c (test_sack_recovery).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

static uint64_t fake_ns = 1000000000ull;
static uint64_t fake_now(void) { return fake_ns; }

/* --- scoreboard --------------------------------------------------------------- */
static void test_sb_merge(void **state)
{
	struct tcp_sb sb;

	(void)state;
	tcp_sb_clear(&sb);
	assert_int_equal(tcp_sb_add(&sb, 100, 200, 0, 1000), 100);
	assert_int_equal(tcp_sb_add(&sb, 300, 400, 0, 1000), 100);
	assert_int_equal(sb.n, 2);
	/* Filling the gap exactly joins both (adjacent ranges merge). */
	assert_int_equal(tcp_sb_add(&sb, 200, 300, 0, 1000), 100);
	assert_int_equal(sb.n, 1);
	assert_int_equal(sb.s[0], 100);
	assert_int_equal(sb.e[0], 400);
	/* Partial overlap: only the new part counts. */
	assert_int_equal(tcp_sb_add(&sb, 350, 450, 0, 1000), 50);
	assert_int_equal(sb.e[0], 450);
	/* Wholly inside: nothing new (a duplicate report). */
	assert_int_equal(tcp_sb_add(&sb, 120, 130, 0, 1000), 0);
	/* One range spanning several. */
	assert_int_equal(tcp_sb_add(&sb, 600, 700, 0, 1000), 100);
	assert_int_equal(tcp_sb_add(&sb, 800, 900, 0, 1000), 100);
	assert_int_equal(tcp_sb_add(&sb, 50, 850, 0, 1000), 50 + 150 + 100);
	assert_int_equal(sb.n, 1);
	assert_int_equal(sb.s[0], 50);
	assert_int_equal(sb.e[0], 900);
	assert_int_equal(sb.sacked, 850);
	/* Clipped to [una, max). */
	tcp_sb_clear(&sb);
	assert_int_equal(tcp_sb_add(&sb, 10, 60, 40, 50), 10);
	assert_int_equal(sb.s[0], 40);
	assert_int_equal(sb.e[0], 50);
	assert_int_equal(tcp_sb_add(&sb, 0, 40, 40, 50), 0);
}

static void test_sb_wrap_and_ack(void **state)
{
	struct tcp_sb sb;
	uint32_t una = 0xffffff00u, max = 0x300u;

	(void)state;
	tcp_sb_clear(&sb);
	/* Ranges on both sides of 2^32, inserted out of order. */
	assert_int_equal(tcp_sb_add(&sb, 0x100, 0x180, una, max), 0x80);
	assert_int_equal(tcp_sb_add(&sb, 0xffffff80u, 0x20, una, max), 0xa0);
	assert_int_equal(sb.n, 2);
	assert_int_equal(sb.s[0], 0xffffff80u);
	assert_int_equal(sb.e[0], 0x20);
	assert_true(tcp_sb_sacked(&sb, 0xfffffff0u));
	assert_true(tcp_sb_sacked(&sb, 0x10));
	assert_false(tcp_sb_sacked(&sb, 0x20));
	/* Un-SACKed bytes in [una, max): 0x80 + 0xe0 + 0x180. */
	assert_int_equal(tcp_sb_holes(&sb, una, max), 0x80 + 0xe0 + 0x180);
	/* A cumulative ACK into the first range trims it. */
	tcp_sb_ack(&sb, 0x10);
	assert_int_equal(sb.n, 2);
	assert_int_equal(sb.s[0], 0x10);
	assert_int_equal(sb.sacked, 0x10 + 0x80);
	tcp_sb_ack(&sb, 0x100);
	assert_int_equal(sb.n, 1);
	tcp_sb_ack(&sb, 0x180);
	assert_int_equal(sb.n, 0);
	assert_int_equal(sb.sacked, 0);
}

static void test_sb_full(void **state)
{
	struct tcp_sb sb;

	(void)state;
	tcp_sb_clear(&sb);
	for (uint32_t i = 0; i < TCP_SB_MAX; i++)
		tcp_sb_add(&sb, 100 + 20 * i, 110 + 20 * i, 0, 100000);
	assert_int_equal(sb.n, TCP_SB_MAX);
	/* One more above: the lowest range is forgotten. */
	assert_int_equal(tcp_sb_add(&sb, 5000, 5010, 0, 100000), 10);
	assert_int_equal(sb.n, TCP_SB_MAX);
	assert_int_equal(sb.s[0], 120);
	assert_int_equal(sb.s[TCP_SB_MAX - 1], 5000);
	assert_int_equal(sb.sacked, 10 * TCP_SB_MAX);
	/* One below everything while full: refused. */
	assert_int_equal(tcp_sb_add(&sb, 0, 5, 0, 100000), 0);
	assert_int_equal(sb.s[0], 120);
	/* Merging needs no slot. */
	assert_int_equal(tcp_sb_add(&sb, 110, 120, 0, 100000), 10);
	assert_int_equal(sb.n, TCP_SB_MAX);
}

static void test_sb_lost_pipe_nextseg(void **state)
{
	struct tcp_sb sb;
	uint32_t seq, len;

	(void)state;
	/* SMSS 100, una 0, HighData 1000.  Three SACKed ranges: everything
	 * un-SACKed below the lowest of them is lost (DupThresh ranges). */
	tcp_sb_clear(&sb);
	tcp_sb_add(&sb, 200, 300, 0, 1000);
	tcp_sb_add(&sb, 400, 500, 0, 1000);
	assert_int_equal(tcp_sb_lost_edge(&sb, 0, 100), 0);      /* 2 ranges, 200 bytes */
	tcp_sb_add(&sb, 600, 700, 0, 1000);
	assert_int_equal(tcp_sb_lost_edge(&sb, 0, 100), 200);
	/* pipe = un-SACKed (700) - lost (0..200) = 500; with HighRxt 100
	 * the retransmitted 100 bytes count again: 600. */
	assert_int_equal(tcp_sb_pipe(&sb, 0, 1000, 200, 0), 500);
	assert_int_equal(tcp_sb_pipe(&sb, 0, 1000, 200, 100), 600);
	/* NextSeg rule 1: the first lost hole above HighRxt. */
	assert_true(tcp_sb_next_hole(&sb, 100, 200, &seq, &len));
	assert_int_equal(seq, 100);
	assert_int_equal(len, 100);
	assert_false(tcp_sb_next_hole(&sb, 200, 200, &seq, &len));
	/* Rule 3: holes above HighRxt below the highest SACKed byte,
	 * skipping SACKed ranges. */
	assert_true(tcp_sb_next_hole(&sb, 200, 700, &seq, &len));
	assert_int_equal(seq, 300);
	assert_int_equal(len, 100);
	assert_true(tcp_sb_next_hole(&sb, 450, 700, &seq, &len));
	assert_int_equal(seq, 500);
	assert_int_equal(len, 100);
	/* More than (DupThresh - 1) * SMSS bytes in one range also counts. */
	tcp_sb_clear(&sb);
	tcp_sb_add(&sb, 500, 800, 0, 1000);
	assert_int_equal(tcp_sb_lost_edge(&sb, 0, 100), 500);
	assert_int_equal(tcp_sb_lost_edge(&sb, 0, 150), 0);      /* 300 = 2 * 150 */
	assert_int_equal(tcp_sb_pipe(&sb, 0, 1000, 500, 0), 200);
	/* Everything above the last range is a hole up to HighData. */
	assert_true(tcp_sb_next_hole(&sb, 700, 1000, &seq, &len));
	assert_int_equal(seq, 800);
	assert_int_equal(len, 200);
}

/* --- CUBIC ------------------------------------------------------------------------ */
static void test_cubic_formulas(void **state)
{
	(void)state;
	/* SMSS 1000, W_max 100 segments, beta 0.7: cwnd 70 segments and
	 * K = cbrt((100 - 70) / 0.4) = cbrt(75) = 4.2172 s. */
	uint32_t k = tcp_cubic_k_ms(100000, 70000, 1000);
	assert_int_equal(k, 4217);
	/* W(K) = W_max; W(K + 1 s) = W_max + 0.4 segments = 100400 bytes;
	 * W(K + 2 s) = W_max + 0.4 * 8 = 103200; W(0) = 70000 (to a few
	 * bytes, K being rounded to the ms). */
	assert_int_equal(tcp_cubic_w(100000, k, k, 1000), 100000);
	assert_int_equal(tcp_cubic_w(100000, k, k + 1000, 1000), 100400);
	assert_int_equal(tcp_cubic_w(100000, k, k + 2000, 1000), 103200);
	uint32_t w0 = tcp_cubic_w(100000, k, 0, 1000);
	assert_true(w0 >= 69990 && w0 <= 70010);
	/* W(K - 1 s) = W_max - 0.4 segments. */
	assert_int_equal(tcp_cubic_w(100000, k, k - 1000, 1000), 99600);
	/* No reduction, no K. */
	assert_int_equal(tcp_cubic_k_ms(100000, 100000, 1000), 0);
	/* A bigger fall: 1000 -> 700 segments, K = cbrt(750) = 9.0856 s. */
	assert_int_equal(tcp_cubic_k_ms(1000000, 700000, 1000), 9085);
}

static struct tcp_conn *cubic_conn(void)
{
	static struct tcp_conn c;

	memset(&c, 0, sizeof c);
	c.mss = 1000;
	c.cc = TCP_CC_CUBIC;
	c.snd_una = 1;
	c.snd_max = 1 + 100000;
	c.cwnd = 100000;
	c.ssthresh = 0xffffffffu;
	tcp_cc_init(&c);
	return &c;
}

static void test_cubic_loss(void **state)
{
	struct tcp_conn *c = cubic_conn();

	(void)state;
	tcp_cc_loss(c);
	assert_int_equal(c->ssthresh, 70000);       /* flight * 0.7 */
	assert_int_equal(c->cu_wmax, 100000);
	/* A loss below the last W_max: fast convergence sets
	 * W_max = cwnd * (1 + 0.7) / 2. */
	c->cwnd = 80000;
	c->snd_max = c->snd_una + 80000;
	tcp_cc_loss(c);
	assert_int_equal(c->cu_wmax, 68000);
	assert_int_equal(c->ssthresh, 56000);
	assert_int_equal(c->cu_prior, 80000);
	/* RTO: one segment. */
	tcp_cc_rto(c);
	assert_int_equal(c->cwnd, 1000);
	/* NewReno halves. */
	c->cc = TCP_CC_NEWRENO;
	c->snd_max = c->snd_una + 80000;
	tcp_cc_loss(c);
	assert_int_equal(c->ssthresh, 40000);
}

/* Delivers one window of one-segment ACKs, then moves the clock one RTT. */
static void one_rtt(struct tcp_conn *c, uint32_t rtt_ms)
{
	uint32_t n = c->cwnd / c->mss;

	for (uint32_t i = 0; i < n; i++)
		tcp_cc_ack(c, c->mss);
	fake_ns += (uint64_t)rtt_ms * 1000000u;
}

static void test_cubic_growth(void **state)
{
	struct tcp_conn *c = cubic_conn();

	(void)state;
	tcp_set_clock(fake_now);
	/* Loss at 100 segments, RTT 100 ms: the concave region brings cwnd
	 * back to W_max at t = K = 4.217 s, and it plateaus there. */
	tcp_cc_loss(c);
	c->cwnd = c->ssthresh;
	c->srtt_us = 100000;
	for (int i = 0; i < 42; i++)
		one_rtt(c, 100);
	assert_true(c->cwnd >= 97000 && c->cwnd <= 100500);
	/* Halfway (t = 2.1 s) W(t) = 100000 - 0.4 * 2.1^3 * 1000 = 96296:
	 * checked above at the end; the window never overshoots on the way. */
	for (int i = 0; i < 10; i++)
		one_rtt(c, 100);
	/* t = 5.2 s: W(5.2 + 0.1) = 100000 + 0.4 * 1.083^3 * 1000 = 100508. */
	assert_true(c->cwnd >= 100000 && c->cwnd <= 100600);

	/* RTT 1 ms: the Reno-friendly W_est dominates.  It grows by
	 * alpha = 0.529 segments per RTT until it reaches cwnd_prior (57 RTTs
	 * for 30 segments), then by one segment per RTT: after 200 RTTs
	 * about 70000 + 57 * 529 + 143 * 1000 = 243000, while
	 * W(0.2 s) = 100000 - 0.4 * 4.017^3 * 1000 = 74070. */
	c = cubic_conn();
	tcp_cc_loss(c);
	c->cwnd = c->ssthresh;
	c->srtt_us = 1000;
	for (int i = 0; i < 200; i++)
		one_rtt(c, 1);
	assert_true(c->cwnd >= 236000 && c->cwnd <= 248000);
	tcp_set_clock(NULL);
}

static void test_rcv_autotune(void **state)
{
	static struct tcp_conn c;

	(void)state;
	tcp_set_clock(fake_now);
	memset(&c, 0, sizeof c);
	c.rcvbuf = 65536;
	c.rcvbuf_max = 1u << 20;
	c.ws_ok = true;
	c.rcv_wscale = 4;       /* up to 1 MiB - 16 */
	c.rcv_rtt_us = 10000;
	/* A sender that fills the window every 10 ms doubles it per RTT,
	 * up to the cap that the window scale can express. */
	for (int r = 0; r < 10; r++) {
		uint32_t before = c.rcvbuf;
		tcp_rcv_autotune(&c, c.rcvbuf);
		fake_ns += 10000000u;
		tcp_rcv_autotune(&c, 0);
		if (before < 0xffffu << 4)
			assert_true(c.rcvbuf > before);
	}
	assert_int_equal(c.rcvbuf, 0xffffu << 4);
	/* A slow sender (a tenth of the window per RTT) changes nothing. */
	c.rcvbuf = 65536;
	for (int r = 0; r < 10; r++) {
		tcp_rcv_autotune(&c, 6553);
		fake_ns += 10000000u;
	}
	assert_int_equal(c.rcvbuf, 65536);
	tcp_set_clock(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sb_merge),
		cmocka_unit_test(test_sb_wrap_and_ack),
		cmocka_unit_test(test_sb_full),
		cmocka_unit_test(test_sb_lost_pipe_nextseg),
		cmocka_unit_test(test_cubic_formulas),
		cmocka_unit_test(test_cubic_loss),
		cmocka_unit_test(test_cubic_growth),
		cmocka_unit_test(test_rcv_autotune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
