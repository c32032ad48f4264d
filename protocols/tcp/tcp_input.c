/*
 * tcp_input.c - segments up: IP_PacketArrived (protocol 6) -> checks ->
 * TCP_PacketArrived -> demux (4-tuple, then listener) -> state machine
 * (RFC 9293 3.10.7) -> the connection's handlers.
 *
 * Every way out of tcp_input either raises TCP_PacketArrived (which
 * consumes the packet) or drops it on the tcp node with a reason.  In the
 * demux and state machine the segment's packet, once its header is pulled,
 * holds only payload; it is either handed to the app (recv), queued out of
 * order, or freed: freed silently when it did its job (an ACK, a SYN, a
 * FIN), dropped with a reason when it was wrong.
 *
 * Handlers run from inside this code; a handler may abort its connection.
 * So the connection is held busy (TCP_BUSY) for the whole segment, and the
 * code checks `gone(c)` after every handler call.
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"
#include "protocols/ip/ip.h"

static inline bool gone(const struct tcp_conn *c)
{
	return c->dead || c->state == TCP_CLOSED;
}

/* --- parsing ---------------------------------------------------------------------------- */
/* Reads the header and options at p's data start (contiguous for hlen
 * bytes).  Returns 0 or the drop reason.  RFC 9293 3.1: an option whose
 * length is below 2 or runs past the header is malformed, and the whole
 * segment is dropped (Linux does the same).  Options with the wrong fixed
 * length are ignored, as unknown options are. */
static unsigned parse(const struct pkt *p, unsigned hlen, struct tcp_seg *s)
{
	const struct tcp_hdr *th = (const struct tcp_hdr *)pkt_data(p);
	const uint8_t *o = (const uint8_t *)th + TCP_HDR_LEN, *end = (const uint8_t *)th + hlen;

	s->sport = ip_get16(th->sport);
	s->dport = ip_get16(th->dport);
	s->seq = ip_get32(th->seq);
	s->ack = ip_get32(th->ack);
	s->flags = th->flags;
	s->wnd = ip_get16(th->win);
	s->urg = ip_get16(th->urg);
	s->len = pkt_len(p) - hlen;
	s->has_mss = s->has_ws = s->sack_perm = s->has_ts = false;
	s->nsack = 0;
	while (o < end) {
		unsigned kind = o[0], len;
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			o++;
			continue;
		}
		if (o + 1 >= end)
			return TCP_DROP_BAD_OPT;
		len = o[1];
		if (len < 2 || o + len > end)
			return TCP_DROP_BAD_OPT;
		switch (kind) {
		case TCP_OPT_MSS:
			if (len == 4 && (s->flags & TCP_F_SYN)) {
				s->has_mss = true;
				s->mss = ip_get16(o + 2);
			}
			break;
		case TCP_OPT_WSCALE:
			if (len == 3 && (s->flags & TCP_F_SYN)) {
				s->has_ws = true;
				s->ws = o[2] > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : o[2];
			}
			break;
		case TCP_OPT_SACK_PERM:
			if (len == 2 && (s->flags & TCP_F_SYN))
				s->sack_perm = true;
			break;
		case TCP_OPT_TS:
			if (len == 10) {
				s->has_ts = true;
				s->tsval = ip_get32(o + 2);
				s->tsecr = ip_get32(o + 6);
			}
			break;
		case TCP_OPT_SACK:
			/* Blocks are read as sent; tcp_sack_input judges them. */
			if (len >= 10 && (len - 2) % 8 == 0 && !(s->flags & TCP_F_SYN))
				for (unsigned i = 0; i < (len - 2) / 8 && s->nsack < TCP_SACK_MAX;
				     i++) {
					s->sack[s->nsack][0] = ip_get32(o + 2 + 8 * i);
					s->sack[s->nsack][1] = ip_get32(o + 6 + 8 * i);
					s->nsack++;
				}
			break;
		default:
			break;
		}
		o += len;
	}
	return 0;
}

/* The handler on IP_PacketArrived: consumes p.  Data start at the IPv4
 * header, valid and contiguous; the packet ends where the datagram does. */
void tcp_input(void *closure, struct pkt *p)
{
	(void)closure;
	const struct ip_hdr *ih;
	const struct tcp_hdr *th;
	struct tcp_seg s;
	unsigned ihl, hlen, reason;
	uint32_t tlen, src, dst;

	ng_enter(&tcp_node, p);
	if (!tcp_g.running) {
		reason = TCP_DROP_NOT_RUNNING;
		goto bad;
	}
	ih = (const struct ip_hdr *)pkt_data(p);
	ihl = ip_hdr_len(ih);
	if (!pkt_contig(p, ihl + TCP_HDR_LEN)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	ih = (const struct ip_hdr *)pkt_data(p);
	src = ip_src(ih);
	dst = ip_dst(ih);
	if (p->flags & (PKT_F_BCAST | PKT_F_MCAST)) {
		reason = TCP_DROP_BCAST;
		goto bad;
	}
	tlen = pkt_len(p) - ihl;
	pkt_pull(p, ihl);
	pkt_set_l4(p);
	if (p->csum == PKT_CSUM_NONE &&
	    csum_fold(pkt_csum_partial(p, 0, tlen, tcp_pseudo_sum(src, dst, (uint16_t)tlen)))) {
		reason = NG_DROP_BAD_CSUM;
		goto bad;
	}
	th = (const struct tcp_hdr *)pkt_data(p);
	hlen = tcp_hdr_len(th);
	if (hlen < TCP_HDR_LEN || hlen > tlen) {
		reason = TCP_DROP_BAD_OFF;
		goto bad;
	}
	if (!pkt_contig(p, hlen)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	th = (const struct tcp_hdr *)pkt_data(p);
	if (((th->flags & TCP_F_SYN) && (th->flags & (TCP_F_FIN | TCP_F_RST))) ||
	    !(th->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST))) {
		reason = TCP_DROP_BAD_FLAGS;
		goto bad;
	}
	reason = parse(p, hlen, &s);
	if (reason)
		goto bad;
	TCP_STAT(in_segs);
	ng_leave(&tcp_node);
	TCP_PacketArrived_raise(p);
	return;
bad:
	TCP_STAT(in_errs);
	ng_drop(&p, &tcp_node, reason);
	ng_leave(&tcp_node);
}

/* --- connection setup ------------------------------------------------------------------------ */
static uint8_t wscale_for(uint32_t rcvbuf)
{
	uint8_t shift = 0;

	while (shift < TCP_WSCALE_MAX && (0xffffu << shift) < rcvbuf)
		shift++;
	return shift;
}

static void apply_conn_opts(struct tcp_conn *c, const struct tcp_conn_opts *o)
{
	c->opts = *o;
	tcp_conn_opts_fill(c);
}

/* Options the peer's SYN offered, as far as we take them up. */
static void take_syn_opts(struct tcp_conn *c, const struct tcp_seg *s, bool offered_all)
{
	uint16_t ours = tcp_mss_for(c->ifindex, c->raddr);
	uint16_t theirs = s->has_mss ? s->mss : 536;

	c->mss = theirs < ours ? theirs : ours;
	if (c->mss < 64)
		c->mss = 64;
	c->ws_ok = s->has_ws && tcp_g.cfg.wscale && offered_all;
	c->snd_wscale = c->ws_ok ? s->ws : 0;
	c->rcv_wscale = c->ws_ok ? wscale_for(c->rcvbuf_max > c->rcvbuf ? c->rcvbuf_max
									 : c->rcvbuf)
				 : 0;
	c->ts_ok = s->has_ts && tcp_g.cfg.timestamps && offered_all;
	if (c->ts_ok) {
		c->ts_recent = s->tsval;
		c->ts_recent_ns = tcp_now();
	}
	c->sack_ok = s->sack_perm && tcp_g.cfg.sack && offered_all;
}

static void init_cwnd(struct tcp_conn *c)
{
	uint32_t m = c->mss;

	/* RFC 6928: min(10 * MSS, max(2 * MSS, 14600)). */
	c->cwnd = 10 * m;
	if (c->cwnd > (2 * m > 14600 ? 2 * m : 14600))
		c->cwnd = 2 * m > 14600 ? 2 * m : 14600;
	c->ssthresh = 0xffffffffu;
}

/* RFC 6298 2.2-2.3 with a microsecond clock; rto_min from the config. */
static void rtt_sample(struct tcp_conn *c, uint32_t rtt_us)
{
	uint32_t rto;

	if (!rtt_us)
		rtt_us = 1;
	if (!c->srtt_us) {
		c->srtt_us = rtt_us;
		c->rttvar_us = rtt_us / 2;
	} else {
		uint32_t d = c->srtt_us > rtt_us ? c->srtt_us - rtt_us : rtt_us - c->srtt_us;
		c->rttvar_us = (3 * c->rttvar_us + d) / 4;
		c->srtt_us = (7 * c->srtt_us + rtt_us) / 8;
	}
	rto = (c->srtt_us + (4 * c->rttvar_us > 1000 ? 4 * c->rttvar_us : 1000)) / 1000;
	if (rto < tcp_g.cfg.rto_min_ms)
		rto = tcp_g.cfg.rto_min_ms;
	if (rto > tcp_g.cfg.rto_max_ms)
		rto = tcp_g.cfg.rto_max_ms;
	c->rto_ms = rto;
}

static void keepalive_restart(struct tcp_conn *c)
{
	if (c->opts.keepalive_ms && (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)) {
		c->keep_probes = 0;
		tcp_timer_set(c, TCP_T_KEEP, (uint64_t)c->opts.keepalive_ms * 1000000u);
	}
}

/* The app asked to close before the connection was established. */
static void close_transition(struct tcp_conn *c)
{
	if (c->state == TCP_ESTABLISHED)
		tcp_set_state(c, TCP_FIN_WAIT_1);
	else if (c->state == TCP_CLOSE_WAIT)
		tcp_set_state(c, TCP_LAST_ACK);
}

/* SYN_RECEIVED -> ESTABLISHED: the app learns of the connection.  Returns
 * false when c is gone (refused by accept, or aborted from a handler). */
static bool establish(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_ESTABLISHED);
	c->nrexmit = 0;
	tcp_timer_clear(c, TCP_T_RTO);
	if (!c->cwnd)
		init_cwnd(c);
	keepalive_restart(c);
	if (c->passive) {
		struct tcp_listener *l = c->listener;
		TCP_STAT(passive_opens);
		c->app_owned = true;
		if (l) {
			l->nconns++;
			c->counted_listener = true;
		}
		if (!c->h.accept || !c->h.accept(c->ctx, c)) {
			if (gone(c))
				return false;
			TCP_STAT(accept_refused);
			c->app_owned = false;
			tcp_send_rst(c);
			tcp_conn_done(c, TCP_R_ABORTED);
			return false;
		}
	} else {
		c->app_owned = true;
		if (c->h.connected)
			c->h.connected(c->ctx, c);
	}
	if (gone(c))
		return false;
	if (c->app_closed)
		close_transition(c);
	tcp_output(c);
	return !gone(c);
}

/* --- listeners ----------------------------------------------------------------------------------- */
static struct tcp_conn *child_new(struct tcp_listener *l, const struct tcp_seg *s)
{
	struct tcp_conn *c = tcp_conn_alloc();

	if (!c)
		return NULL;
	c->laddr = s->dst;
	c->raddr = s->src;
	c->lport = s->dport;
	c->rport = s->sport;
	c->ifindex = s->ifindex;
	c->passive = true;
	c->listener = l;
	c->h = l->h;
	c->ctx = l->ctx;
	apply_conn_opts(c, &l->copts);
	c->ts_off = tcp_ts_offset(c->laddr, c->lport, c->raddr, c->rport);
	return c;
}

static void send_cookie(const struct tcp_seg *s)
{
	uint16_t ours = tcp_mss_for(s->ifindex, s->src);
	uint16_t want = s->has_mss ? s->mss : 536;
	unsigned idx = 0;
	uint32_t tsval = 0;

	if (want > ours)
		want = ours;
	for (unsigned i = 0; i < 8; i++)
		if (tcp_cookie_mss[i] <= want)
			idx = i;
	if (s->has_ts && tcp_g.cfg.timestamps) {
		uint32_t bits = (s->has_ws && tcp_g.cfg.wscale ? s->ws : 0xfu) |
				(s->sack_perm && tcp_g.cfg.sack ? 0x10u : 0u);
		tsval = ((tcp_now_ms() + tcp_ts_offset(s->dst, s->dport, s->src, s->sport)) &
			 ~0x1fu) | bits;
	}
	TCP_STAT(syncookies_sent);
	tcp_send_synack_cookie(s, tcp_cookie_make(s, idx), tcp_cookie_mss[idx], tsval);
}

static void conn_input(struct tcp_conn *c, const struct tcp_seg *s, struct pkt **pp);

/* The ACK of a cookie SYN-ACK: rebuild the connection from the cookie and
 * the timestamp bits.  Consumes *pp. */
static void cookie_accept(struct tcp_listener *l, const struct tcp_seg *s, unsigned idx,
			  struct pkt **pp)
{
	struct tcp_conn *c;

	if (l->max_conns && l->nconns >= l->max_conns) {
		TCP_STAT(listen_limit);
		ng_drop(pp, &tcp_node, TCP_DROP_CONN_LIMIT);
		return;
	}
	c = child_new(l, s);
	if (!c) {
		TCP_STAT(global_limit);
		ng_drop(pp, &tcp_node, TCP_DROP_CONN_LIMIT);
		return;
	}
	TCP_STAT(syncookies_recv);
	c->irs = s->seq - 1;
	c->rcv_nxt = s->seq;
	c->rcv_adv = s->seq + (c->rcvbuf > 0xffff ? 0xffff : c->rcvbuf);
	c->iss = s->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = s->ack;
	c->mss = tcp_cookie_mss[idx];
	if (s->has_ts && tcp_g.cfg.timestamps) {
		uint32_t bits = s->tsecr & 0x1fu;
		c->ts_ok = true;
		c->ts_recent = s->tsval;
		c->ts_recent_ns = tcp_now();
		if ((bits & 0xfu) != 0xfu) {
			c->ws_ok = true;
			c->snd_wscale = (uint8_t)(bits & 0xfu);
			c->rcv_wscale = wscale_for(tcp_g.cfg.rcvbuf);
		}
		c->sack_ok = (bits & 0x10u) != 0;
	}
	c->snd_wnd = s->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->state = TCP_SYN_RECEIVED;
	tcp_conn_hash_add(c);
	TCP_BUSY(c);
	if (establish(c))
		conn_input(c, s, pp);
	TCP_UNBUSY(c);
	pkt_consume(pp);
}

/* A segment for a listener (RFC 9293 3.10.7.2).  iss_floor: nonzero when
 * the SYN reuses a TIME_WAIT 4-tuple, the new ISN must lie above it.
 * Consumes *pp. */
static void listen_input(struct tcp_listener *l, const struct tcp_seg *s, struct pkt **pp,
			 uint32_t iss_floor)
{
	struct tcp_conn *c;

	if (s->flags & TCP_F_RST) {
		ng_drop(pp, &tcp_node, TCP_DROP_NO_CONN);
		return;
	}
	if (s->flags & TCP_F_ACK) {
		int idx = tcp_g.cfg.syncookies && !(s->flags & TCP_F_SYN)
				  ? tcp_cookie_check(s, s->ack - 1)
				  : -1;
		if (idx >= 0) {
			cookie_accept(l, s, (unsigned)idx, pp);
			return;
		}
		if (tcp_g.cfg.syncookies)
			TCP_STAT(syncookies_failed);
		tcp_send_rst_for(s);
		TCP_STAT(in_errs);
		ng_drop(pp, &tcp_node, tcp_g.cfg.syncookies ? TCP_DROP_BAD_COOKIE : TCP_DROP_NO_CONN);
		return;
	}
	if (!(s->flags & TCP_F_SYN)) {
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_FLAGS);
		return;
	}
	if (l->max_conns && l->nconns >= l->max_conns) {
		TCP_STAT(listen_limit);
		ng_drop(pp, &tcp_node, TCP_DROP_CONN_LIMIT);
		return;
	}
	if (l->nhalf >= l->backlog || !tcp_g.free) {
		if (tcp_g.cfg.syncookies) {
			send_cookie(s);
			pkt_consume(pp);
			return;
		}
		if (!tcp_g.free)
			TCP_STAT(global_limit);
		else
			TCP_STAT(listen_overflows);
		ng_drop(pp, &tcp_node, TCP_DROP_LISTEN_OVERFLOW);
		return;
	}
	c = child_new(l, s);
	c->counted_half = true;
	l->nhalf++;
	take_syn_opts(c, s, true);
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->iss = tcp_isn(c->laddr, c->lport, c->raddr, c->rport);
	if (iss_floor && seq_le(c->iss, iss_floor))
		c->iss = iss_floor + 1;
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wnd = s->wnd;            /* a SYN's window is never scaled */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = c->iss;
	c->state = TCP_SYN_RECEIVED;
	tcp_conn_hash_add(c);
	tcp_send_syn(c);
	tcp_rto_arm(c);
	/* Data on a SYN is not kept: the peer sends it again once we ACK
	 * only the SYN. */
	pkt_consume(pp);
}

/* --- ACK processing (RFC 9293 3.10.7.4 fifth check, RFC 6582, RFC 6298) ------------------------- */
static void sq_pull(struct tcp_conn *c, uint32_t n)
{
	c->sq_bytes -= n;
	if (c->sq_cur) {
		if (c->sq_cur_off >= n)
			c->sq_cur_off -= n;
		else
			c->sq_cur = NULL;
	}
	while (n && c->sq_head) {
		struct pkt *h = c->sq_head;
		uint32_t hl = pkt_len(h);
		if (n < hl) {
			pkt_pull(h, n);
			if (c->sq_cur == NULL && c->sq_cur_off)
				c->sq_cur_off = 0;
			break;
		}
		n -= hl;
		c->sq_head = h->qnext;
		if (!c->sq_head)
			c->sq_tail = NULL;
		if (c->sq_cur == h)
			c->sq_cur = NULL;
		h->qnext = NULL;
		pkt_free(h);
	}
}

/* Fast retransmit (RFC 5681 3.2, RFC 6582 3.2, RFC 6675 section 5 step 4):
 * enter loss recovery and resend the first unacknowledged segment.  With
 * SACK, cwnd becomes ssthresh and the pipe governs what follows; without,
 * NewReno inflates cwnd by the three segments that left the network. */
static void fast_retransmit(struct tcp_conn *c)
{
	c->recover = c->snd_max;
	c->in_recovery = true;
	TCP_STAT(fast_retrans);
	c->undo_cwnd = c->cwnd;
	c->undo_ssthresh = c->ssthresh;
	tcp_cc_loss(c);
	if (c->sack_ok) {
		c->cwnd = c->ssthresh;
		tcp_sack_enter(c);
		return;
	}
	tcp_retransmit_first(c);
	c->cwnd = c->ssthresh + 3u * c->mss;
}

/* Returns false when c is gone. */
static bool ack_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t ack = s->ack;
	uint32_t wnd = s->wnd << c->snd_wscale;
	uint32_t sacked = 0;
	bool advanced = seq_gt(ack, c->snd_una), dup;

	if (advanced) {
		uint32_t acked = ack - c->snd_una;
		uint32_t data_end = c->snd_una + c->sq_bytes;
		bool fin_acked = c->fin_sent && seq_gt(ack, data_end);
		uint32_t data_acked = acked > c->sq_bytes ? c->sq_bytes : acked;

		sq_pull(c, data_acked);
		c->snd_una = ack;
		if (seq_lt(c->snd_nxt, ack))
			c->snd_nxt = ack;
		if (c->ts_ok && s->has_ts && s->tsecr) {
			uint32_t d = tcp_now_ms() + c->ts_off - s->tsecr;
			if (d < 600000u)
				rtt_sample(c, d * 1000u);
		} else if (c->rtt_start_ns && seq_gt(ack, c->rtt_seq)) {
			rtt_sample(c, (uint32_t)((tcp_now() - c->rtt_start_ns) / 1000u));
			c->rtt_start_ns = 0;
		}
		c->nrexmit = 0;
		if (c->sack_ok) {
			uint64_t dsacks = tcp_g.st.dsacks_recv;
			tcp_sb_ack(&c->sb, ack);
			if (s->nsack)
				sacked = tcp_sack_input(c, s);
			/* RFC 8985 7.4: a probe that resent the last segment and
			 * drew no D-SACK repaired a loss: respond to it. */
			if (c->tlp_rxt && seq_ge(ack, c->tlp_end) && !c->in_recovery &&
			    tcp_g.st.dsacks_recv == dsacks) {
				tcp_cc_loss(c);
				c->cwnd = c->ssthresh;
			}
			c->tlp_out = c->tlp_rxt = false;
			c->deadline[TCP_T_TLP] = 0;
		}
		if (c->rto_recovery && seq_ge(ack, c->recover))
			c->rto_recovery = false;
		if (c->in_recovery) {
			uint32_t flight = c->snd_max - c->snd_una;
			if (seq_ge(ack, c->recover)) {
				/* Full acknowledgment: leave recovery.  NewReno
				 * (RFC 6582 3.2 step 3, option 2) guards against
				 * a burst with FlightSize + SMSS, which leaves one
				 * segment in flight when everything was acked; with
				 * SACK cwnd (never inflated) stays at ssthresh
				 * (RFC 6675 section 5). */
				if (c->sack_ok)
					c->cwnd = c->ssthresh;
				else
					c->cwnd = c->ssthresh < flight + c->mss ? c->ssthresh
										: flight + c->mss;
				c->in_recovery = false;
			} else if (c->sack_ok) {
				/* Partial (RFC 6675 (B)): tcp_output resends the
				 * holes the scoreboard now shows. */
				tcp_rto_arm(c);
			} else {
				/* Partial: retransmit the next hole, deflate. */
				tcp_retransmit_first(c);
				c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
				c->cwnd += c->mss;
				tcp_rto_arm(c);
			}
		} else {
			tcp_cc_ack(c, acked);
		}
		c->dupacks = 0;
		if (c->snd_una == c->snd_max)
			tcp_timer_clear(c, TCP_T_RTO);
		else if (!c->in_recovery)
			tcp_rto_arm(c);
		tcp_tlp_arm(c);
		if (fin_acked) {
			switch (c->state) {
			case TCP_FIN_WAIT_1:
				tcp_set_state(c, TCP_FIN_WAIT_2);
				tcp_timer_set(c, TCP_T_2MSL, (uint64_t)tcp_g.cfg.timewait_ms * 1000000u);
				break;
			case TCP_CLOSING:
				tcp_enter_timewait(c);
				return !gone(c);
			case TCP_LAST_ACK:
				tcp_conn_done(c, TCP_R_CLOSED);
				return false;
			default:
				break;
			}
		}
	} else if (c->sack_ok && s->nsack && ack == c->snd_una) {
		sacked = tcp_sack_input(c, s);
	}
	if (sacked)
		tcp_sack_check_rxt(c);
	if (c->sack_ok && s->nsack)
		tcp_sack_undo_check(c);
	/* A duplicate ACK (RFC 5681 section 2); with SACK also any ACK that
	 * SACKs new bytes (RFC 6675 section 2), cumulative or not. */
	dup = ack == c->snd_una && s->len == 0 && !(s->flags & (TCP_F_SYN | TCP_F_FIN)) &&
	      wnd == c->snd_wnd && c->snd_max != c->snd_una && !advanced;
	if (c->sack_ok) {
		if ((dup || sacked) && c->snd_max != c->snd_una) {
			TCP_STAT(dup_acks);
			if (!c->in_recovery && !c->rto_recovery) {
				c->dupacks++;
				if (c->dupacks >= 3 ||
				    seq_gt(tcp_sb_lost_edge(&c->sb, c->snd_una,
							    c->mss - (c->ts_ok ? 12u : 0u)),
					   c->snd_una))
					fast_retransmit(c);
			}
		}
	} else if (dup) {
		TCP_STAT(dup_acks);
		c->dupacks++;
		if (c->dupacks == 3 && !c->in_recovery)
			fast_retransmit(c);
		else if (c->dupacks > 3 && c->in_recovery)
			c->cwnd += c->mss;
	}
	/* Window update (RFC 9293 3.10.7.4: SND.WL1 / SND.WL2). */
	if (seq_lt(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && seq_le(c->snd_wl2, ack))) {
		bool opened = c->snd_wnd == 0 && wnd > 0;
		c->snd_wnd = wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = ack;
		if (wnd > c->max_snd_wnd)
			c->max_snd_wnd = wnd;
		if (opened) {
			c->deadline[TCP_T_PERSIST] = 0;
			c->nrexmit = 0;
		}
	}
	if (c->want_writable && c->app_owned && !c->app_closed &&
	    c->sq_bytes < c->opts.sndbuf / 2) {
		c->want_writable = false;
		if (c->h.writable) {
			c->h.writable(c->ctx, c);
			if (gone(c))
				return false;
		}
	}
	return true;
}

/* --- receiving data ----------------------------------------------------------------------------------- */
/* Queues p (payload at sequence seq, no FIN) out of order.  Consumes *pp. */
static void ooo_insert(struct tcp_conn *c, uint32_t seq, struct pkt **pp)
{
	struct pkt *p = *pp, **link = &c->ooo, *prev = NULL;
	uint32_t len = pkt_len(p);

	while (*link && seq_lt((*link)->user, seq)) {
		prev = *link;
		link = &(*link)->qnext;
	}
	if (prev) {
		uint32_t pend = prev->user + pkt_len(prev);
		if (seq_ge(pend, seq + len)) {
			ng_drop(pp, &tcp_node, TCP_DROP_DUP);
			return;
		}
		if (seq_gt(pend, seq)) {
			pkt_pull(p, pend - seq);
			len -= pend - seq;
			seq = pend;
		}
	}
	while (*link && seq_le((*link)->user + pkt_len(*link), seq + len)) {
		/* The new segment covers this one wholly. */
		struct pkt *gone_p = *link;
		*link = gone_p->qnext;
		gone_p->qnext = NULL;
		c->ooo_bytes -= pkt_len(gone_p);
		tcp_g.ooo_bytes -= pkt_len(gone_p);
		pkt_free(gone_p);
	}
	if (*link && seq_lt((*link)->user, seq + len)) {
		if ((*link)->user == seq) {
			ng_drop(pp, &tcp_node, TCP_DROP_DUP);
			return;
		}
		len = (*link)->user - seq;
		pkt_trim(p, len);
	}
	if (c->ooo_bytes + len > c->rcvbuf || tcp_g.ooo_bytes + len > tcp_g.cfg.ooo_mem_max) {
		ng_drop(pp, &tcp_node, TCP_DROP_OOO_FULL);
		return;
	}
	p->user = seq;
	p->qnext = *link;
	*link = p;
	*pp = NULL;
	c->ooo_bytes += len;
	tcp_g.ooo_bytes += len;
	c->ooo_last = seq;
	TCP_STAT(ooo_segs);
}

/* Hands p (in order, at rcv_nxt) to the app and advances rcv_nxt.
 * Consumes *pp.  Returns false when c is gone. */
static bool deliver(struct tcp_conn *c, struct pkt **pp)
{
	struct pkt *p = *pp;
	uint32_t len = pkt_len(p);

	*pp = NULL;
	c->rcv_nxt += len;
	if (c->opts.manual_recv)
		c->held += len;
	else
		tcp_rcv_autotune(c, len);
	p->qnext = NULL;
	if (c->app_owned && c->h.recv) {
		c->h.recv(c->ctx, c, p);
		return !gone(c);
	}
	pkt_free(p);
	return true;
}

/* Receive-window auto-tuning: once per receiver RTT, compare the bytes
 * delivered in it (the bandwidth-delay product the sender achieved) with
 * the buffer; a sender that filled more than half of it may be limited by
 * our window, so the buffer grows to twice what it delivered, up to
 * rcvbuf_max and what the window scale can express.  Only for connections
 * whose app consumes in recv (manual_recv apps size their own window).
 * Cost: a few compares per delivered chain. */
void tcp_rcv_autotune(struct tcp_conn *c, uint32_t delivered)
{
	uint32_t now = tcp_now_ms(), rtt_ms, cap, want;

	if (c->rcvbuf_max <= c->rcvbuf)
		return;
	if (!c->rs_start_ms) {
		c->rs_start_ms = now ? now : 1;
		c->rs_bytes = 0;
	}
	c->rs_bytes += delivered;
	rtt_ms = (c->rcv_rtt_us ? c->rcv_rtt_us : c->srtt_us) / 1000u;
	if (now - c->rs_start_ms < (rtt_ms ? rtt_ms : 1u))
		return;
	cap = c->ws_ok ? 0xffffu << c->rcv_wscale : 0xffffu;
	if (cap > c->rcvbuf_max)
		cap = c->rcvbuf_max;
	if (c->rs_bytes > c->rcvbuf / 2 && c->rcvbuf < cap) {
		want = c->rs_bytes > cap / 2 ? cap : 2u * c->rs_bytes;
		if (want > c->rcvbuf) {
			c->rcvbuf = want;
			TCP_STAT(rcvbuf_grown);
		}
	}
	c->rs_start_ms = now ? now : 1;
	c->rs_bytes = 0;
}

/* Delivers what the out-of-order queue holds from rcv_nxt on. */
static bool ooo_drain(struct tcp_conn *c)
{
	while (c->ooo && seq_le(c->ooo->user, c->rcv_nxt)) {
		struct pkt *h = c->ooo;
		uint32_t hl = pkt_len(h), end = h->user + hl;

		c->ooo = h->qnext;
		h->qnext = NULL;
		c->ooo_bytes -= hl;
		tcp_g.ooo_bytes -= hl;
		if (seq_le(end, c->rcv_nxt)) {
			pkt_free(h);
			continue;
		}
		pkt_pull(h, c->rcv_nxt - h->user);
		if (!deliver(c, &h))
			return false;
	}
	return true;
}

static void fin_input(struct tcp_conn *c)
{
	c->rcv_nxt++;
	c->fin_rcvd = true;
	tcp_send_ack(c);
	switch (c->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
		tcp_set_state(c, TCP_CLOSE_WAIT);
		tcp_output(c);
		break;
	case TCP_FIN_WAIT_1:
		tcp_set_state(c, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT_2:
		tcp_enter_timewait(c);
		break;
	default:
		break;
	}
	/* After the state change: an application that closes from recv_fin
	 * then closes passively (CLOSE_WAIT -> LAST_ACK), as it means to. */
	if (c->app_owned && c->h.recv_fin)
		c->h.recv_fin(c->ctx, c);
}

/* The segment text and FIN (RFC 9293 3.10.7.4, seventh and eighth).
 * Consumes *pp.  Returns false when c is gone. */
static bool data_input(struct tcp_conn *c, const struct tcp_seg *s, struct pkt **pp)
{
	uint32_t seq = s->seq, len = pkt_len(*pp);
	bool fin = (s->flags & TCP_F_FIN) != 0, had_ooo = c->ooo != NULL, dup = false;
	uint32_t rwnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;

	if (s->flags & TCP_F_SYN)
		seq++;
	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 &&
	    c->state != TCP_FIN_WAIT_2 && c->state != TCP_SYN_RECEIVED) {
		/* The peer's FIN came already: text is ignored. */
		if (len || fin)
			tcp_send_ack(c);
		pkt_consume(pp);
		return true;
	}
	if (seq_lt(seq, c->rcv_nxt)) {
		uint32_t cut = c->rcv_nxt - seq;
		if (cut > len) {
			/* All old, the FIN too (or there is none). */
			if (len)
				dup = true;
			len = 0;
			fin = false;
			pkt_trim(*pp, 0);
		} else {
			if (cut)
				dup = true;
			pkt_pull(*pp, cut);
			len -= cut;
		}
		seq = c->rcv_nxt;
	}
	if (seq_gt(seq + len, c->rcv_nxt + rwnd)) {
		/* Beyond the window: trim the tail (and the FIN with it). */
		uint32_t keep = seq_ge(seq, c->rcv_nxt + rwnd) ? 0 : c->rcv_nxt + rwnd - seq;
		pkt_trim(*pp, keep);
		len = keep;
		fin = false;
	}
	if (!len && !fin) {
		if (dup) {
			ng_drop(pp, &tcp_node, TCP_DROP_DUP);
			tcp_send_ack(c);
		} else {
			pkt_consume(pp);
		}
		return true;
	}
	if (seq != c->rcv_nxt) {
		if (len)
			ooo_insert(c, seq, pp);
		pkt_consume(pp);
		/* An immediate duplicate ACK with SACK blocks (RFC 5681 4.2). */
		tcp_send_ack(c);
		return true;
	}
	if (len) {
		if (!deliver(c, pp))
			return false;
		if (!ooo_drain(c))
			return false;
	}
	pkt_consume(pp);
	/* An answer the application sent from its receive handler carried
	 * the ACK already. */
	if (c->last_ack_sent != c->rcv_nxt && c->ack_pending < 255)
		c->ack_pending++;
	if (fin && seq + len == c->rcv_nxt) {
		fin_input(c);
		return !gone(c);
	}
	if (!c->ack_pending)
		return true;
	if (had_ooo || c->ooo)
		tcp_send_ack(c);
	else if (c->ack_pending >= 2)
		tcp_ack_soon(c);
	else if (!c->deadline[TCP_T_DELACK])
		tcp_timer_set(c, TCP_T_DELACK, (uint64_t)tcp_g.cfg.delack_ms * 1000000u);
	return true;
}

/* --- SYN_SENT (RFC 9293 3.10.7.3) --------------------------------------------------------------------- */
static void syn_sent_input(struct tcp_conn *c, const struct tcp_seg *s, struct pkt **pp)
{
	bool ack_ok = false;

	if (s->flags & TCP_F_ACK) {
		if (seq_le(s->ack, c->iss) || seq_gt(s->ack, c->snd_max)) {
			tcp_send_rst_for(s);
			ng_drop(pp, &tcp_node, TCP_DROP_BAD_ACK);
			return;
		}
		ack_ok = true;
	}
	if (s->flags & TCP_F_RST) {
		if (ack_ok) {
			TCP_STAT(attempt_fails);
			pkt_consume(pp);
			tcp_conn_done(c, TCP_R_REFUSED);
			return;
		}
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_RST);
		return;
	}
	if (!(s->flags & TCP_F_SYN)) {
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_FLAGS);
		return;
	}
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	take_syn_opts(c, s, true);
	c->ws_ok = c->ws_ok && tcp_g.cfg.wscale;
	if (!c->ws_ok)
		c->snd_wscale = c->rcv_wscale = 0;
	c->snd_wnd = s->wnd;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	init_cwnd(c);
	if (ack_ok) {
		c->snd_una = s->ack;
		if (c->nrexmit == 0 && c->rtt_start_ns)
			rtt_sample(c, (uint32_t)((tcp_now() - c->rtt_start_ns) / 1000u));
		c->rtt_start_ns = 0;
		pkt_consume(pp);
		if (!establish(c))
			return;
		tcp_send_ack(c);
		return;
	}
	/* Simultaneous open: both sides sent SYN. */
	tcp_set_state(c, TCP_SYN_RECEIVED);
	c->nrexmit = 0;
	tcp_send_syn(c);
	tcp_rto_arm(c);
	pkt_consume(pp);
}

/* --- synchronized states ------------------------------------------------------------------------------- */
static void challenge_ack(struct tcp_conn *c)
{
	if (tcp_challenge_ok())
		tcp_send_ack(c);
}

static void reset_input(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_SYN_RECEIVED:
		if (c->passive) {
			tcp_conn_release(c);    /* back to the listener's care */
			return;
		}
		TCP_STAT(attempt_fails);
		tcp_conn_done(c, TCP_R_REFUSED);
		return;
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		TCP_STAT(estab_resets);
		tcp_conn_done(c, TCP_R_RESET);
		return;
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
		tcp_conn_done(c, TCP_R_RESET);
		return;
	default:
		tcp_conn_done(c, TCP_R_CLOSED);
		return;
	}
}

/* Consumes *pp.  c is held busy by the caller. */
static void conn_input(struct tcp_conn *c, const struct tcp_seg *s, struct pkt **pp)
{
	uint32_t seglen = s->len + !!(s->flags & TCP_F_SYN) + !!(s->flags & TCP_F_FIN);
	uint32_t rwnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	bool ok;

	if (c->state == TCP_SYN_SENT) {
		syn_sent_input(c, s, pp);
		return;
	}
	/* A retransmitted SYN for a half-open connection: answer again. */
	if (c->state == TCP_SYN_RECEIVED && (s->flags & TCP_F_SYN) && !(s->flags & TCP_F_ACK) &&
	    s->seq == c->irs) {
		tcp_send_syn(c);
		pkt_consume(pp);
		return;
	}
	/* PAWS (RFC 7323 5.3); a TS.Recent idle for 24 days is stale. */
	if (c->ts_ok && s->has_ts && !(s->flags & TCP_F_RST) && seq_lt(s->tsval, c->ts_recent) &&
	    tcp_now() - c->ts_recent_ns < 24ull * 86400 * 1000000000ull) {
		tcp_send_ack(c);
		ng_drop(pp, &tcp_node, TCP_DROP_PAWS);
		return;
	}
	/* Sequence acceptability (RFC 9293 3.10.7.4 first check). */
	if (seglen == 0)
		ok = rwnd ? seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, c->rcv_nxt + rwnd)
			  : s->seq == c->rcv_nxt;
	else
		ok = rwnd && ((seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, c->rcv_nxt + rwnd)) ||
			      (seq_le(c->rcv_nxt, s->seq + seglen - 1) &&
			       seq_lt(s->seq + seglen - 1, c->rcv_nxt + rwnd)));
	if (!ok && !(s->flags & TCP_F_RST) && seq_lt(s->seq, c->rcv_nxt) &&
	    seq_gt(s->seq + seglen, c->rcv_nxt))
		ok = true;      /* starts before rcv_nxt with new bytes: trim */
	if (!ok) {
		if (s->flags & TCP_F_RST) {
			ng_drop(pp, &tcp_node, TCP_DROP_OUT_OF_WINDOW);
			return;
		}
		if (s->flags & TCP_F_SYN) {
			challenge_ack(c);
			ng_drop(pp, &tcp_node, TCP_DROP_BAD_SYN);
			return;
		}
		tcp_send_ack(c);
		ng_drop(pp, &tcp_node, seglen && seq_lt(s->seq, c->rcv_nxt) ? TCP_DROP_DUP
									     : TCP_DROP_OUT_OF_WINDOW);
		return;
	}
	/* RST (RFC 5961 3.2): exactly at rcv_nxt resets; else challenge. */
	if (s->flags & TCP_F_RST) {
		if (s->seq == c->rcv_nxt) {
			pkt_consume(pp);
			reset_input(c);
			return;
		}
		challenge_ack(c);
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_RST);
		return;
	}
	/* SYN in a synchronized state (RFC 5961 4.2). */
	if (s->flags & TCP_F_SYN) {
		challenge_ack(c);
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_SYN);
		return;
	}
	if (!(s->flags & TCP_F_ACK)) {
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_FLAGS);
		return;
	}
	/* TS.Recent (RFC 7323 4.3). */
	if (c->ts_ok && s->has_ts && seq_le(s->seq, c->last_ack_sent) &&
	    seq_ge(s->tsval, c->ts_recent)) {
		c->ts_recent = s->tsval;
		c->ts_recent_ns = tcp_now();
	}
	/* The receiver's RTT for auto-tuning: how long ago we sent the
	 * TSval a data segment echoes. */
	if (c->ts_ok && s->has_ts && s->tsecr && s->len) {
		uint32_t d = tcp_now_ms() + c->ts_off - s->tsecr;
		if (d < 60000u)
			c->rcv_rtt_us = c->rcv_rtt_us ? (7u * c->rcv_rtt_us + d * 1000u) / 8u
						      : d * 1000u;
	}
	if (c->state == TCP_SYN_RECEIVED) {
		if (seq_le(s->ack, c->snd_una) || seq_gt(s->ack, c->snd_max)) {
			tcp_send_rst_for(s);
			ng_drop(pp, &tcp_node, TCP_DROP_BAD_ACK);
			return;
		}
		c->snd_wnd = s->wnd << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (c->rtt_start_ns == 0 && c->nrexmit == 0 && c->ts_ok && s->has_ts && s->tsecr) {
			uint32_t d = tcp_now_ms() + c->ts_off - s->tsecr;
			if (d < 600000u)
				rtt_sample(c, d * 1000u);
		}
		c->snd_una = c->iss + 1;
		if (!establish(c)) {
			pkt_consume(pp);
			return;
		}
	}
	/* RFC 5961 5.2: an ACK outside [snd_una - max_snd_wnd, snd_max]. */
	if (seq_gt(s->ack, c->snd_max) ||
	    seq_lt(s->ack, c->snd_una - (c->max_snd_wnd > 0 ? c->max_snd_wnd : 1))) {
		challenge_ack(c);
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_ACK);
		return;
	}
	if (!ack_input(c, s)) {
		pkt_consume(pp);
		return;
	}
	if (c->state == TCP_TIME_WAIT) {
		pkt_consume(pp);
		return;
	}
	keepalive_restart(c);
	if (!data_input(c, s, pp))
		return;
	tcp_output(c);
}

/* TIME_WAIT (RFC 9293 3.6.1 and RFC 6191): a new SYN whose timestamp (or,
 * without timestamps, sequence number) lies above the old incarnation's
 * may start a new connection; a retransmitted FIN is acknowledged again;
 * RSTs are ignored (RFC 1337).  Consumes *pp. */
static void timewait_input(struct tcp_conn *c, const struct tcp_seg *s, struct pkt **pp)
{
	if ((s->flags & TCP_F_SYN) && !(s->flags & TCP_F_ACK)) {
		bool newer = (c->ts_ok && s->has_ts) ? seq_gt(s->tsval, c->ts_recent)
						     : seq_gt(s->seq, c->rcv_nxt);
		struct tcp_listener *l = tcp_listener_lookup(s->dst, s->dport);

		if (newer && l) {
			uint32_t floor = c->snd_nxt + 65536u;
			TCP_STAT(timewait_reuse);
			tcp_conn_release(c);
			listen_input(l, s, pp, floor);
			return;
		}
		tcp_send_ack(c);
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_SYN);
		return;
	}
	if (s->flags & TCP_F_RST) {
		ng_drop(pp, &tcp_node, TCP_DROP_BAD_RST);
		return;
	}
	if (s->flags & TCP_F_FIN) {
		tcp_send_ack(c);
		tcp_timer_set(c, TCP_T_2MSL, (uint64_t)tcp_g.cfg.timewait_ms * 1000000u);
		pkt_consume(pp);
		return;
	}
	if (s->len)
		tcp_send_ack(c);
	pkt_consume(pp);
}

/* TCP_PacketArrived's primary handler.  Consumes p (data start at the TCP
 * header, which tcp_input validated). */
void tcp_demux(void *closure, struct pkt *p)
{
	(void)closure;
	const struct ip_hdr *ih;
	struct tcp_seg s;
	struct tcp_conn *c;
	struct tcp_listener *l;
	unsigned hlen;

	if (!tcp_g.running || !pkt_contig(p, TCP_HDR_LEN) ||
	    !pkt_contig(p, tcp_hdr_len((const struct tcp_hdr *)pkt_data(p))) || p->l3_off < 0) {
		ng_drop(&p, &tcp_node, tcp_g.running ? NG_DROP_SHORT : TCP_DROP_NOT_RUNNING);
		return;
	}
	hlen = tcp_hdr_len((const struct tcp_hdr *)pkt_data(p));
	if (hlen < TCP_HDR_LEN || hlen > pkt_len(p) || parse(p, hlen, &s)) {
		ng_drop(&p, &tcp_node, TCP_DROP_BAD_OPT);
		return;
	}
	ih = (const struct ip_hdr *)(p->buf + p->l3_off);
	s.src = ip_src(ih);
	s.dst = ip_dst(ih);
	s.ifindex = p->ifindex;
	pkt_pull(p, hlen);
	c = tcp_conn_lookup(s.dst, s.dport, s.src, s.sport);
	if (c) {
		TCP_BUSY(c);
		if (c->state == TCP_TIME_WAIT)
			timewait_input(c, &s, &p);
		else
			conn_input(c, &s, &p);
		TCP_UNBUSY(c);
		pkt_consume(&p);
		return;
	}
	l = tcp_listener_lookup(s.dst, s.dport);
	if (l) {
		listen_input(l, &s, &p, 0);
		return;
	}
	tcp_send_rst_for(&s);
	TCP_STAT(in_errs);
	ng_drop(&p, &tcp_node, TCP_DROP_NO_CONN);
}
