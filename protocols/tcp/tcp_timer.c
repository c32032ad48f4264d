/*
 * tcp_timer.c - the five timers of a connection: retransmission, persist
 * (zero-window probe), delayed ACK, keepalive and 2 MSL.
 *
 * Each connection keeps one deadline per timer on TCP's clock (tcp_now,
 * replaceable by tests) and one exec timer armed for the earliest of them
 * on the packet loop, when there is a loop.  Whatever fires (the exec timer
 * or tcp_timers_run) re-reads TCP's clock and runs only the deadlines that
 * are due by it, so a test that drives a fake clock and calls
 * tcp_timers_run gets exactly the same behaviour, deterministically, and a
 * stray exec timer firing early is harmless.
 *
 * Cost: setting a deadline is a store; the exec timer is re-armed only when
 * the earliest deadline moves earlier (a later one is found when the timer
 * fires and re-arms).
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"

static void conn_timer_fired(struct exec_timer *t, void *arg);

static uint64_t earliest(const struct tcp_conn *c)
{
	uint64_t e = 0;

	for (unsigned k = 0; k < TCP_T_N; k++)
		if (c->deadline[k] && (!e || c->deadline[k] < e))
			e = c->deadline[k];
	return e;
}

static void rearm(struct tcp_conn *c)
{
	uint64_t e = earliest(c), now;
	struct exec_loop *l;

	if (!e) {
		if (exec_timer_armed(&c->timer))
			exec_timer_cancel(&c->timer);
		c->armed_ns = 0;
		return;
	}
	if (c->armed_ns && c->armed_ns <= e && exec_timer_armed(&c->timer))
		return;
	l = exec_current();
	if (!l)
		return;
	now = tcp_now();
	if (exec_timer_armed(&c->timer))
		exec_timer_cancel(&c->timer);
	c->timer.fn = conn_timer_fired;
	c->timer.arg = c;
	exec_timer_arm(l, &c->timer, e > now ? e - now : 0);
	c->armed_ns = e;
}

void tcp_timer_set(struct tcp_conn *c, enum tcp_timer_kind k, uint64_t delay_ns)
{
	c->deadline[k] = tcp_now() + (delay_ns ? delay_ns : 1);
	rearm(c);
}

void tcp_timer_clear(struct tcp_conn *c, enum tcp_timer_kind k)
{
	c->deadline[k] = 0;
	/* A later deadline is found when the exec timer fires. */
	if (!earliest(c))
		rearm(c);
}

void tcp_timers_clear_all(struct tcp_conn *c)
{
	for (unsigned k = 0; k < TCP_T_N; k++)
		c->deadline[k] = 0;
	if (exec_timer_armed(&c->timer))
		exec_timer_cancel(&c->timer);
	c->armed_ns = 0;
}

/* The RTO with exponential backoff (RFC 6298 5.5), bounded. */
void tcp_rto_arm(struct tcp_conn *c)
{
	uint64_t ms = c->rto_ms;

	for (uint32_t i = 0; i < c->nrexmit && ms < tcp_g.cfg.rto_max_ms; i++)
		ms <<= 1;
	if (ms > tcp_g.cfg.rto_max_ms)
		ms = tcp_g.cfg.rto_max_ms;
	tcp_timer_set(c, TCP_T_RTO, ms * 1000000u);
}

/* RFC 6298 5.4-5.7 and RFC 5681 3.1: after a timeout, one segment from
 * snd_una, cwnd one segment, go back to snd_una for what follows. */
static void rto_fired(struct tcp_conn *c)
{
	uint32_t limit = c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED
				 ? tcp_g.cfg.syn_retries
				 : tcp_g.cfg.retries;

	if (c->nrexmit >= limit) {
		if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED)
			TCP_STAT(attempt_fails);
		tcp_send_rst(c);
		tcp_conn_done(c, TCP_R_TIMEOUT);
		return;
	}
	c->nrexmit++;
	TCP_STAT(rto_expired);
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
		tcp_send_syn(c);
		tcp_rto_arm(c);
		return;
	}
	if (c->snd_una == c->snd_max) /* nothing outstanding */
		return;
	tcp_cc_rto(c);
	c->deadline[TCP_T_TLP] = 0;
	c->tlp_out = false;
	c->undo_rxt = 0;        /* no undo across a timeout */
	c->in_recovery = false;
	c->dupacks = 0;
	c->recover = c->snd_max;
	c->rtt_start_ns = 0;    /* Karn: no sample from retransmitted data */
	if (c->sack_ok) {
		/* RFC 6675 5.1: recovery after the timeout keeps using the
		 * scoreboard and resends every un-SACKed byte below recover in
		 * order.  A scoreboard range at snd_una means the peer reneged
		 * (RFC 2018 section 8): then the scoreboard is cleared and
		 * everything goes again (go-back-N).  A sixth timeout in a row
		 * clears it too, in case the peer reneged on something else. */
		if (c->nrexmit > 5 || (c->sb.n && c->sb.s[0] == c->snd_una))
			tcp_sb_clear(&c->sb);
		c->rto_recovery = true;
		c->high_rxt = c->snd_una;
		c->rescue_done = true;
		c->rxt_timeouts = 0;
	} else {
		c->snd_nxt = c->snd_una;
	}
	tcp_output(c);
	tcp_rto_arm(c);
}

/* Zero-window probe (RFC 9293 3.8.6.1): one byte past the window (or an
 * empty ACK-like segment when nothing is queued), backing off like RTO. */
static void persist_fired(struct tcp_conn *c)
{
	uint32_t queued = c->sq_bytes - (c->snd_nxt - c->snd_una);

	if (c->snd_wnd != 0 || queued == 0)
		return;
	TCP_STAT(zero_window_probes);
	tcp_send_seg(c, c->snd_nxt, 1, TCP_F_ACK);
	if (c->nrexmit < 16)
		c->nrexmit++;
	tcp_rto_arm(c);
	c->deadline[TCP_T_PERSIST] = c->deadline[TCP_T_RTO];
	c->deadline[TCP_T_RTO] = 0;
}

/* Keepalive (RFC 1122 4.2.3.6): a segment one below snd_una makes the
 * peer answer with an ACK. */
static void keep_fired(struct tcp_conn *c)
{
	const struct tcp_conn_opts *o = &c->opts;
	uint32_t probes = o->keepalive_probes ? o->keepalive_probes : 9;
	uint32_t intvl = o->keepalive_intvl_ms ? o->keepalive_intvl_ms : 75000;

	if (!o->keepalive_ms || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT))
		return;
	if (c->keep_probes >= probes) {
		tcp_send_rst(c);
		tcp_conn_done(c, TCP_R_KEEPALIVE);
		return;
	}
	c->keep_probes++;
	TCP_STAT(keepalive_probes);
	tcp_send_seg(c, c->snd_una - 1, 0, TCP_F_ACK);
	tcp_timer_set(c, TCP_T_KEEP, (uint64_t)intvl * 1000000u);
}

void tcp_conn_timers(struct tcp_conn *c, uint64_t now)
{
	TCP_BUSY(c);
	for (unsigned k = 0; k < TCP_T_N && !c->dead && c->state != TCP_CLOSED; k++) {
		if (!c->deadline[k] || c->deadline[k] > now)
			continue;
		c->deadline[k] = 0;
		switch (k) {
		case TCP_T_RTO:
			rto_fired(c);
			break;
		case TCP_T_PERSIST:
			persist_fired(c);
			break;
		case TCP_T_DELACK:
			if (c->ack_pending)
				tcp_send_ack(c);
			break;
		case TCP_T_KEEP:
			keep_fired(c);
			break;
		case TCP_T_2MSL:
			tcp_conn_done(c, TCP_R_CLOSED);
			break;
		case TCP_T_TLP:
			tcp_tlp_fire(c);
			break;
		}
	}
	if (!c->dead && c->state != TCP_CLOSED) {
		c->armed_ns = 0;
		rearm(c);
	}
	TCP_UNBUSY(c);
}

static void conn_timer_fired(struct exec_timer *t, void *arg)
{
	(void)t;
	struct tcp_conn *c = arg;

	c->armed_ns = 0;
	tcp_conn_timers(c, tcp_now());
}

unsigned tcp_timers_run(void)
{
	uint64_t now = tcp_now();
	unsigned fired = 0;
	struct tcp_conn *c = tcp_g.all;

	while (c) {
		struct tcp_conn *next = c->anext;
		bool due = false;

		for (unsigned k = 0; k < TCP_T_N; k++)
			if (c->deadline[k] && c->deadline[k] <= now)
				due = true;
		if (due) {
			fired++;
			/* c may be freed; keep next alive across it. */
			if (next)
				TCP_BUSY(next);
			tcp_conn_timers(c, now);
			if (next) {
				next->busy--;
				if (next->busy == 0 && next->dead) {
					struct tcp_conn *n2 = next->anext;
					tcp_conn_release(next);
					next = n2;
				}
			}
		}
		c = next;
	}
	return fired;
}
