/*
 * tcp_sack.c - sender-side SACK loss recovery (RFC 6675): the scoreboard
 * of ranges the peer reported, and the queries recovery asks of it
 * (IsLost, SetPipe, NextSeg); on top of it a reduced RACK-TLP (RFC 8985)
 * and D-SACK undo (RFC 3708).  docs/protocols/tcp.md says what each part
 * bought on a lossy path.
 *
 * The scoreboard is an array of at most TCP_SB_MAX sorted, disjoint,
 * non-adjacent ranges above snd_una inside the connection block: adding a
 * range, trimming on a cumulative ACK and every query cost O(TCP_SB_MAX)
 * and allocate nothing.  Instead of asking IsLost per segment, recovery
 * computes once per ACK the "lost edge": IsLost is monotone (a lower
 * sequence has at least as much SACKed above it), so every un-SACKed byte
 * below the edge is lost and none above it is.  Pipe then follows from
 * byte counts over ranges instead of a walk over segments.
 *
 * State of a recovery (in tcp_conn): in_recovery (entered by fast
 * retransmit, RFC 6675 section 5) or rto_recovery (after a timeout, when
 * every un-SACKed byte below recover counts as lost and is resent in
 * order, skipping SACKed ranges: RFC 6675 section 5.1 keeps using the
 * scoreboard after an RTO); recover is RecoveryPoint; high_rxt is HighRxt;
 * rescue_done marks the one rescue retransmission per recovery.  Both end
 * when snd_una reaches recover.
 *
 * D-SACK (RFC 2883): a first block below snd_una, or inside the second,
 * reports a duplicate.  It never enters the scoreboard; it counts towards
 * undoing the last fast recovery when every retransmission of it turns out
 * to have been needless (tcp_sack_undo_check).
 *
 * RACK-TLP without per-segment send times: the sender copies segments out
 * of the send queue and keeps no record per segment, so RACK's "lost if
 * something sent later was delivered" is applied per retransmission round
 * (rxt_mark: snd_max at the latest retransmission), and one timer
 * (TCP_T_TLP) serves as the tail loss probe outside recovery and as the
 * reordering timer inside it.
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"

#define DUPTHRESH 3u

void tcp_sb_clear(struct tcp_sb *sb)
{
	sb->n = 0;
	sb->sacked = 0;
}

static void sb_remove(struct tcp_sb *sb, unsigned i)
{
	sb->sacked -= sb->e[i] - sb->s[i];
	for (unsigned j = i + 1; j < sb->n; j++) {
		sb->s[j - 1] = sb->s[j];
		sb->e[j - 1] = sb->e[j];
	}
	sb->n--;
}

uint32_t tcp_sb_add(struct tcp_sb *sb, uint32_t s, uint32_t e, uint32_t una, uint32_t max)
{
	uint32_t before = sb->sacked;
	unsigned i, j;

	if (seq_lt(s, una))
		s = una;
	if (seq_gt(e, max))
		e = max;
	if (!seq_lt(s, e))
		return 0;
	/* i: the first range that ends at or after s (touching merges). */
	for (i = 0; i < sb->n && seq_lt(sb->e[i], s); i++)
		;
	/* j: one past the last range that starts at or before e. */
	for (j = i; j < sb->n && seq_le(sb->s[j], e); j++)
		;
	if (j > i) {
		/* Ranges i..j-1 overlap or touch [s, e): fold them into i. */
		if (seq_lt(sb->s[i], s))
			s = sb->s[i];
		if (seq_gt(sb->e[j - 1], e))
			e = sb->e[j - 1];
		while (j - 1 > i) {
			sb_remove(sb, i + 1);
			j--;
		}
		sb->sacked -= sb->e[i] - sb->s[i];
		sb->s[i] = s;
		sb->e[i] = e;
		sb->sacked += e - s;
		return sb->sacked - before;
	}
	if (sb->n == TCP_SB_MAX) {
		/* Full: forget the lowest range (its bytes may be resent). */
		if (i == 0)
			return 0;
		sb_remove(sb, 0);
		i--;
	}
	for (unsigned k = sb->n; k > i; k--) {
		sb->s[k] = sb->s[k - 1];
		sb->e[k] = sb->e[k - 1];
	}
	sb->s[i] = s;
	sb->e[i] = e;
	sb->n++;
	sb->sacked += e - s;
	return e - s;
}

void tcp_sb_ack(struct tcp_sb *sb, uint32_t una)
{
	while (sb->n && seq_le(sb->e[0], una))
		sb_remove(sb, 0);
	if (sb->n && seq_lt(sb->s[0], una)) {
		sb->sacked -= una - sb->s[0];
		sb->s[0] = una;
	}
}

bool tcp_sb_sacked(const struct tcp_sb *sb, uint32_t seq)
{
	for (unsigned i = 0; i < sb->n; i++)
		if (seq_le(sb->s[i], seq) && seq_lt(seq, sb->e[i]))
			return true;
	return false;
}

uint32_t tcp_sb_holes(const struct tcp_sb *sb, uint32_t a, uint32_t b)
{
	uint32_t n;

	if (!seq_lt(a, b))
		return 0;
	n = b - a;
	for (unsigned i = 0; i < sb->n; i++) {
		uint32_t s = seq_gt(sb->s[i], a) ? sb->s[i] : a;
		uint32_t e = seq_lt(sb->e[i], b) ? sb->e[i] : b;
		if (seq_lt(s, e))
			n -= e - s;
	}
	return n;
}

uint32_t tcp_sb_lost_edge(const struct tcp_sb *sb, uint32_t una, uint32_t smss)
{
	uint32_t above = 0;

	/* Walk down from the highest range: the first range at whose start
	 * DupThresh ranges, or more than (DupThresh - 1) * SMSS bytes, lie
	 * at or above makes everything un-SACKed below that start lost. */
	for (unsigned k = sb->n; k-- > 0;) {
		above += sb->e[k] - sb->s[k];
		if (sb->n - k >= DUPTHRESH || above > (DUPTHRESH - 1) * smss)
			return sb->s[k];
	}
	return una;
}

uint32_t tcp_sb_pipe(const struct tcp_sb *sb, uint32_t una, uint32_t max, uint32_t lost_edge,
		     uint32_t high_rxt)
{
	uint32_t pipe = tcp_sb_holes(sb, una, max) - tcp_sb_holes(sb, una, lost_edge);

	if (seq_gt(high_rxt, una))
		pipe += tcp_sb_holes(sb, una, seq_lt(high_rxt, max) ? high_rxt : max);
	return pipe;
}

bool tcp_sb_next_hole(const struct tcp_sb *sb, uint32_t from, uint32_t to, uint32_t *seq,
		      uint32_t *len)
{
	uint32_t x = from;

	for (unsigned i = 0; i < sb->n && seq_lt(x, to); i++) {
		if (seq_le(sb->e[i], x))
			continue;
		if (seq_lt(x, sb->s[i])) {
			uint32_t end = seq_lt(sb->s[i], to) ? sb->s[i] : to;
			*seq = x;
			*len = end - x;
			return true;
		}
		x = sb->e[i];
	}
	if (seq_lt(x, to)) {
		*seq = x;
		*len = to - x;
		return true;
	}
	return false;
}

static uint32_t smss_of(const struct tcp_conn *c)
{
	uint32_t m = c->mss - (c->ts_ok ? 12u : 0u);

	return m ? m : 1;
}

uint32_t tcp_sack_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t added = 0;

	for (unsigned i = 0; i < s->nsack; i++) {
		uint32_t a = s->sack[i][0], b = s->sack[i][1];

		tcp_g.st.sack_blocks_recv++;
		if (!seq_lt(a, b) || seq_gt(b, c->snd_max) || b - a > c->snd_max - c->snd_una + 1)
			continue;       /* bogus */
		if (i == 0 && (seq_le(b, c->snd_una) ||
			       (s->nsack > 1 && seq_le(s->sack[1][0], a) &&
				seq_le(b, s->sack[1][1])))) {
			/* D-SACK (RFC 2883 section 4): a needless retransmission. */
			tcp_g.st.dsacks_recv++;
			if (c->undo_rxt)
				c->undo_dsacks += (uint16_t)((b - a + smss_of(c) - 1) / smss_of(c));
			continue;
		}
		if (seq_le(b, c->snd_una))
			continue;       /* stale */
		added += tcp_sb_add(&c->sb, a, b, c->snd_una, c->snd_max);
	}
	return added;
}

bool tcp_sack_recovering(const struct tcp_conn *c)
{
	return c->sack_ok && (c->in_recovery || c->rto_recovery);
}


static uint32_t lost_edge(const struct tcp_conn *c)
{
	uint32_t e = tcp_sb_lost_edge(&c->sb, c->snd_una, smss_of(c));

	/* After an RTO everything un-SACKed below RecoveryPoint is lost;
	 * in fast recovery the segment at snd_una is (section 5 step 4
	 * resends it whatever IsLost says). */
	if (c->rto_recovery && seq_gt(c->recover, e))
		e = seq_lt(c->recover, c->snd_max) ? c->recover : c->snd_max;
	else if (c->in_recovery && seq_lt(e, c->snd_una + smss_of(c)))
		e = seq_lt(c->snd_una + smss_of(c), c->snd_max) ? c->snd_una + smss_of(c)
								 : c->snd_max;
	return e;
}

uint32_t tcp_sack_room(struct tcp_conn *c)
{
	uint32_t pipe;

	if (seq_lt(c->high_rxt, c->snd_una))
		c->high_rxt = c->snd_una;
	pipe = tcp_sb_pipe(&c->sb, c->snd_una, c->snd_max, lost_edge(c), c->high_rxt);
	return c->cwnd > pipe ? c->cwnd - pipe : 0;
}

#define TLP_MIN_NS 10000000ull
#define TLP_DELACK_NS 50000000ull

/* RFC 8985 7.2: PTO = 2 SRTT (at least 10 ms here); one segment in
 * flight adds the peer's delayed-ACK time. */
static uint64_t pto_ns(const struct tcp_conn *c, bool one_seg)
{
	uint64_t pto = 2ull * c->srtt_us * 1000u;

	if (pto < TLP_MIN_NS)
		pto = TLP_MIN_NS;
	return one_seg ? pto + TLP_DELACK_NS : pto;
}

/* Retransmits len bytes at seq (the FIN with them when they reach it). */
static bool resend(struct tcp_conn *c, uint32_t seq, uint32_t len)
{
	uint32_t data_end = c->snd_una + c->sq_bytes;
	uint8_t flags = TCP_F_ACK;

	if (seq_gt(seq + len, data_end)) {
		/* Only the FIN's sequence number is left. */
		len = seq_lt(seq, data_end) ? data_end - seq : 0;
	}
	if (c->fin_sent && seq + len == data_end)
		flags |= TCP_F_FIN;
	if (!len && !(flags & TCP_F_FIN))
		return false;
	c->rtt_start_ns = 0;    /* Karn */
	if (!tcp_send_seg(c, seq, len, flags))
		return false;
	c->rxt_mark = c->snd_max;
	c->rxt_ns = tcp_now();
	if (c->in_recovery && c->undo_rxt && c->undo_rxt < 0xffff)
		c->undo_rxt++;
	if (c->rxt_timeouts < TCP_RXT_TIMEOUTS)
		tcp_timer_set(c, TCP_T_TLP, pto_ns(c, false));
	if (!len)
		TCP_STAT(retrans_segs);
	return true;
}

void tcp_sack_enter(struct tcp_conn *c)
{
	uint32_t seq, len, smss = smss_of(c);

	TCP_STAT(sack_recoveries);
	c->rescue_done = false;
	c->undo_rxt = 1;        /* 1 + retransmissions: armed */
	c->undo_dsacks = 0;
	c->rxt_timeouts = 0;
	c->high_rxt = c->snd_una;
	if (!tcp_sb_next_hole(&c->sb, c->snd_una, c->snd_max, &seq, &len))
		return;
	if (len > smss)
		len = smss;
	if (resend(c, seq, len))
		c->high_rxt = seq + len;
}

void tcp_sack_retransmit(struct tcp_conn *c, bool lost_only, uint32_t seglen)
{
	uint32_t smss = smss_of(c);

	for (;;) {
		uint32_t room = tcp_sack_room(c), edge = lost_edge(c), seq, len;
		uint32_t top = c->sb.n ? c->sb.e[c->sb.n - 1] : c->snd_una;

		if (room < smss)
			return;
		/* Rule 1: a lost hole above HighRxt.  Rule 3: any hole above
		 * HighRxt below the highest SACKed byte. */
		if (!tcp_sb_next_hole(&c->sb, c->high_rxt, lost_only ? edge : top, &seq, &len))
			break;
		if (len > seglen)
			len = seglen;
		if (!resend(c, seq, len))
			return;
		c->high_rxt = seq + len;
	}
	if (lost_only || c->rescue_done || !c->in_recovery)
		return;
	/* Rule 4: one rescue retransmission per recovery, of the last
	 * un-SACKed segment below HighData; HighRxt stays. */
	uint32_t seq, len, last = 0, lastlen = 0;
	uint32_t from = c->snd_una;
	while (tcp_sb_next_hole(&c->sb, from, c->snd_max, &seq, &len)) {
		last = seq;
		lastlen = len;
		from = seq + len;
	}
	if (!lastlen || tcp_sack_room(c) < smss)
		return;
	if (lastlen > seglen) {
		last += lastlen - seglen;
		lastlen = seglen;
	}
	if (resend(c, last, lastlen)) {
		c->rescue_done = true;
		c->rescue_rxt = c->recover;
		TCP_STAT(sack_rescues);
	}
}

void tcp_sack_check_rxt(struct tcp_conn *c)
{
	uint64_t reo_ns = (uint64_t)c->srtt_us * 1000u / 4u;

	if (!tcp_sack_recovering(c) || !c->rxt_ns || !c->sb.n ||
	    !seq_gt(c->high_rxt, c->snd_una) || !seq_gt(c->sb.e[c->sb.n - 1], c->rxt_mark) ||
	    tcp_now() - c->rxt_ns < reo_ns)
		return;
	TCP_STAT(lost_retrans);
	c->high_rxt = c->snd_una;
	c->rxt_ns = 0;
}

void tcp_tlp_arm(struct tcp_conn *c)
{
	uint64_t pto;

	if (!c->sack_ok || c->tlp_out || tcp_sack_recovering(c) || c->snd_una == c->snd_max ||
	    !c->srtt_us || c->sb.n)
		return;
	pto = pto_ns(c, c->snd_max - c->snd_una <= smss_of(c));
	if (c->deadline[TCP_T_RTO] && tcp_now() + pto >= c->deadline[TCP_T_RTO])
		return;
	tcp_timer_set(c, TCP_T_TLP, pto);
}

void tcp_tlp_fire(struct tcp_conn *c)
{
	uint32_t smss = smss_of(c), seq;

	if (!c->sack_ok || c->snd_una == c->snd_max)
		return;
	if (tcp_sack_recovering(c)) {
		if (!c->rxt_ns || !seq_gt(c->high_rxt, c->snd_una) ||
		    c->rxt_timeouts >= TCP_RXT_TIMEOUTS)
			return;
		c->rxt_timeouts++;
		TCP_STAT(lost_retrans);
		c->high_rxt = c->snd_una;
		c->rxt_ns = 0;
		tcp_output(c);
		return;
	}
	if (c->tlp_out)
		return;
	TCP_STAT(tlp_probes);
	c->tlp_out = true;
	c->tlp_rxt = false;
	if (!tcp_output_probe(c)) {
		seq = c->snd_max - c->snd_una > smss ? c->snd_max - smss : c->snd_una;
		if (resend(c, seq, c->snd_max - seq)) {
			c->tlp_rxt = true;
			c->tlp_end = c->snd_max;
		}
	}
	tcp_rto_arm(c);
}

void tcp_sack_undo_check(struct tcp_conn *c)
{
	if (c->undo_rxt < 2 || c->undo_dsacks < c->undo_rxt - 1)
		return;
	TCP_STAT(sack_undos);
	c->undo_rxt = 0;
	c->in_recovery = false;
	if (c->undo_cwnd > c->cwnd)
		c->cwnd = c->undo_cwnd;
	if (c->undo_ssthresh > c->ssthresh)
		c->ssthresh = c->undo_ssthresh;
	if (c->cc == TCP_CC_CUBIC)
		tcp_cc_undo(c);
}
