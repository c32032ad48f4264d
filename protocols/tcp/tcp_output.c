/*
 * tcp_output.c - segments down: what to send (windows, Nagle, FIN), how a
 * segment is built (options, window, checksum), and TCP_SendPacket's
 * primary handler (IP output).
 *
 * Buffers.  The app's chains stay in the send queue untouched until the
 * peer acknowledges them.  Each segment is a fresh buffer from TCP's pool
 * into which the segment's bytes are copied from the queue: a retransmission
 * then never races the app's buffers, and a segment is one contiguous
 * buffer for the device.  (Segments that reference the queue's buffers
 * without a copy are throughput work still to do.)  The checksum is left to
 * the device (PKT_CSUM_PARTIAL, see seg_emit); the link finishes it for a
 * device without checksum offload.
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"
#include "netgraph/iface.h"
#include "protocols/inet/inet.h"
#include "protocols/ether/ether_wire.h"
#include "protocols/ip/ip.h"

uint32_t tcp_pseudo_sum(uint32_t src, uint32_t dst, uint16_t len)
{
	uint8_t ph[12];

	ip_put32(ph, src);
	ip_put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = IP_PROTO_TCP;
	ip_put16(ph + 10, len);
	return csum_add(0, ph, sizeof ph);
}

/* The primary handler of TCP_SendPacket: the segment is complete. */
void tcp_send_packet(void *closure, struct pkt *p, uint32_t src, uint32_t dst, uint16_t ifindex)
{
	(void)closure;
	struct ip_send_opts o = {.src = src, .ifindex = ifindex};

	IP_SendPacket_raise(p, dst, IP_PROTO_TCP, &o);
}

uint16_t tcp_mss_for(uint16_t ifindex, uint32_t raddr)
{
	uint32_t mtu = 1500;
	struct ng_iface *ifp;

	(void)raddr;
	if (tcp_g.cfg.mss)
		return tcp_g.cfg.mss;
	if (ifindex && (ifp = ng_iface_get(ifindex)) && ifp->mtu >= 576)
		mtu = ifp->mtu;
	if (mtu - 40 > PKT_BUF_DEFAULT)
		mtu = PKT_BUF_DEFAULT + 40;
	return (uint16_t)(mtu - 40);
}

/* --- challenge ACK rate limit (RFC 5961 section 7) ------------------------------ */
bool tcp_challenge_ok(void)
{
	uint64_t sec = tcp_now() / 1000000000u;

	if (sec != tcp_g.chall_sec) {
		tcp_g.chall_sec = sec;
		tcp_g.chall_count = 0;
	}
	if (tcp_g.cfg.challenge_ack_limit && tcp_g.chall_count >= tcp_g.cfg.challenge_ack_limit) {
		TCP_STAT(challenge_acks_limited);
		return false;
	}
	tcp_g.chall_count++;
	TCP_STAT(challenge_acks);
	return true;
}

/* --- the receive window ---------------------------------------------------------------- */
uint32_t tcp_rcv_window(struct tcp_conn *c)
{
	uint32_t avail = c->rcvbuf > c->held ? c->rcvbuf - c->held : 0;
	uint32_t adv = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;

	return avail > adv ? avail : adv;
}

/* The window field for a non-SYN segment; moves rcv_adv forward. */
static uint16_t window_field(struct tcp_conn *c)
{
	uint32_t w = tcp_rcv_window(c);
	uint32_t f = (w + (1u << c->rcv_wscale) - 1) >> c->rcv_wscale;

	if (f > 0xffff)
		f = 0xffff;
	uint32_t edge = c->rcv_nxt + (f << c->rcv_wscale);
	if (seq_gt(edge, c->rcv_adv))
		c->rcv_adv = edge;
	return (uint16_t)f;
}

/* --- options ---------------------------------------------------------------------------------- */
/* SACK blocks (RFC 2018 section 4): the block holding the latest
 * out-of-order arrival first, then the others in sequence order. */
static unsigned sack_blocks(const struct tcp_conn *c, uint32_t blk[][2], unsigned max)
{
	uint32_t r[8][2];
	unsigned n = 0, out = 0;

	for (const struct pkt *p = c->ooo; p; p = p->qnext) {
		uint32_t s = p->user, e = p->user + pkt_len(p);
		if (n && r[n - 1][1] == s)
			r[n - 1][1] = e;
		else if (n < 8) {
			r[n][0] = s;
			r[n][1] = e;
			n++;
		}
	}
	for (unsigned i = 0; i < n && out < max; i++)
		if (seq_le(r[i][0], c->ooo_last) && seq_lt(c->ooo_last, r[i][1])) {
			blk[out][0] = r[i][0];
			blk[out][1] = r[i][1];
			out++;
			r[i][0] = r[i][1] = 0;
		}
	for (unsigned i = 0; i < n && out < max; i++)
		if (r[i][0] != r[i][1]) {
			blk[out][0] = r[i][0];
			blk[out][1] = r[i][1];
			out++;
		}
	return out;
}

static unsigned put_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = TCP_OPT_NOP;
	o[1] = TCP_OPT_NOP;
	o[2] = TCP_OPT_TS;
	o[3] = 10;
	ip_put32(o + 4, tsval);
	ip_put32(o + 8, tsecr);
	return 12;
}

/* SYN options: MSS, then SACK-permitted + timestamps, then window scale,
 * each only when wanted; always a multiple of 4 bytes. */
static unsigned syn_opts(uint8_t *o, uint16_t mss, bool sack, bool ts, uint32_t tsval,
			 uint32_t tsecr, bool ws, uint8_t shift)
{
	unsigned n = 0;

	o[n++] = TCP_OPT_MSS;
	o[n++] = 4;
	ip_put16(o + n, mss);
	n += 2;
	if (ts) {
		if (sack) {
			o[n++] = TCP_OPT_SACK_PERM;
			o[n++] = 2;
		} else {
			o[n++] = TCP_OPT_NOP;
			o[n++] = TCP_OPT_NOP;
		}
		o[n++] = TCP_OPT_TS;
		o[n++] = 10;
		ip_put32(o + n, tsval);
		ip_put32(o + n + 4, tsecr);
		n += 8;
	} else if (sack) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_SACK_PERM;
		o[n++] = 2;
	}
	if (ws) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_WSCALE;
		o[n++] = 3;
		o[n++] = shift;
	}
	return n;
}

/* --- building and sending one segment ---------------------------------------------------------- */
struct seg_out {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t ifindex;
	const uint8_t *opt;
	unsigned optlen;
};

/* Pushes the header in front of p's payload, writes the checksum and
 * sends.  Consumes p. */
static void seg_emit(struct pkt *p, const struct seg_out *s)
{
	struct tcp_hdr *th;
	uint32_t hlen = TCP_HDR_LEN + s->optlen, tlen;

	th = (struct tcp_hdr *)pkt_push(p, hlen);
	if (!th) {
		ng_drop(&p, &tcp_node, NG_DROP_NO_BUFFERS);
		return;
	}
	pkt_set_l4(p);
	ip_put16(th->sport, s->sport);
	ip_put16(th->dport, s->dport);
	ip_put32(th->seq, s->seq);
	ip_put32(th->ack, (s->flags & TCP_F_ACK) ? s->ack : 0);
	th->off_rsv = (uint8_t)((hlen / 4) << 4);
	th->flags = s->flags;
	ip_put16(th->win, s->win);
	th->csum[0] = th->csum[1] = 0;
	ip_put16(th->urg, 0);
	if (s->optlen)
		memcpy((uint8_t *)th + TCP_HDR_LEN, s->opt, s->optlen);
	tlen = pkt_len(p);
	/* The checksum is left to the device, as Linux leaves it: the
	 * pseudo-header sum over the whole length (netgraph/pkt.h), counted
	 * from an Ethernet header in front of a 20-byte IP header, as the
	 * layers below expect.  A device with checksum offload (a TAP or an
	 * AF_PACKET with vnet headers) hands it to the kernel unfinished,
	 * and a Linux peer on a veth trusts it without summing; for any other
	 * the link finishes it before the driver sees it (ng_iface_send); a
	 * TSO segment's pieces are each summed by the device. */
	ip_put16(th->csum, (uint16_t)~csum_fold(tcp_pseudo_sum(s->src, s->dst, (uint16_t)tlen)));
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_start = (uint16_t)(ETHER_HDR_LEN + IP_HDR_MIN);
	p->csum_offset = 16;
	TCP_STAT(out_segs);
	if (s->flags & TCP_F_RST)
		TCP_STAT(out_rsts);
	ng_enter_tx(&tcp_node, p);
	ng_leave(&tcp_node);
	TCP_SendPacket_raise(p, s->src, s->dst, s->ifindex);
}

/* Copies n queued bytes starting off bytes after snd_una into dst.  The
 * cursor makes a sequential walk cost O(1) per segment. */
static bool sq_copy(struct tcp_conn *c, uint32_t off, uint8_t *dst, uint32_t n)
{
	struct pkt *p = c->sq_head;
	uint32_t start = 0;

	if (c->sq_cur && c->sq_cur_off <= off) {
		p = c->sq_cur;
		start = c->sq_cur_off;
	}
	while (p && n) {
		uint32_t plen = pkt_len(p);
		if (off < start + plen) {
			uint32_t k = start + plen - off;
			if (k > n)
				k = n;
			if (!pkt_copy_out(p, off - start, dst, k))
				return false;
			dst += k;
			off += k;
			n -= k;
			c->sq_cur = p;
			c->sq_cur_off = start;
			if (!n)
				break;
		}
		start += plen;
		p = p->qnext;
	}
	return n == 0;
}

/* --- segmentation offload (TSO) hook ------------------------------------------------------
 * With TSO on the connection's interface (ng_iface.gso_max) a segment of new
 * data carries up to a 64 KiB IP datagram's worth of payload in whole MSS
 * units, marked PKT_GSO_TCPV4 with gso_size the payload one wire segment
 * holds; the device cuts it (or IP does, in software, if the route moved
 * to an interface without TSO).  Retransmissions stay MSS-sized. */
static const struct ng_iface *tso_iface(const struct tcp_conn *c)
{
	const struct ng_iface *ifp = c->ifindex ? ng_iface_get(c->ifindex) : NULL;

	return ifp && ifp->gso_max && ifp->gso_pool ? ifp : NULL;
}

/* The payload bytes of the next new segment, given len the windows and
 * the queue allow and mss the full-segment payload. */
static uint32_t tso_len(const struct tcp_conn *c, uint32_t len, uint32_t mss)
{
	const struct ng_iface *ifp;
	uint32_t max;

	if (len <= mss)
		return len;
	if (!(ifp = tso_iface(c)))
		return mss;
	max = ifp->gso_max - IP_HDR_MIN - 60;   /* 60: the longest TCP header */
	if (len > max)
		len = max;
	return len - len % mss;
}

/* A buffer for a segment of len payload bytes: a large one past the size
 * of a standard buffer (only TSO makes such segments). */
static struct pkt *seg_alloc(const struct tcp_conn *c, uint32_t len)
{
	const struct ng_iface *ifp;

	if (len > PKT_BUF_DEFAULT && (ifp = tso_iface(c)))
		return pkt_alloc(ifp->gso_pool);
	return pkt_alloc(tcp_g.pool);
}

/* Marks a segment longer than one wire segment for the device to cut;
 * optlen: the option bytes every piece repeats. */
static void seg_mark_gso(struct pkt *p, const struct tcp_conn *c, uint32_t len, unsigned optlen)
{
	uint32_t piece = c->mss > optlen ? c->mss - optlen : 1;

	if (len > piece && tso_iface(c)) {
		p->gso_type = PKT_GSO_TCPV4;
		p->gso_size = (uint16_t)piece;
	}
}

bool tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	uint8_t opt[40];
	unsigned optlen = 0;
	struct pkt *p = seg_alloc(c, len);
	struct seg_out s = {
		.src = c->laddr, .dst = c->raddr, .sport = c->lport, .dport = c->rport,
		.seq = seq, .ack = c->rcv_nxt, .flags = flags, .ifindex = c->ifindex,
	};

	if (!p) {
		ng_drop(&p, &tcp_node, NG_DROP_NO_BUFFERS);
		return false;
	}
	if (len) {
		uint8_t *d = pkt_put(p, len);
		if (!d || !sq_copy(c, seq - c->snd_una, d, len)) {
			pkt_free(p);
			return false;
		}
		if (seq_lt(seq, c->snd_max)) {
			TCP_STAT(retrans_segs);
			tcp_g.st.retrans_bytes += len;
			c->retrans_total++;
		}
	}
	if (c->ts_ok)
		optlen = put_ts(opt, tcp_now_ms() + c->ts_off, c->ts_recent);
	if (c->sack_ok && c->ooo && (flags & TCP_F_ACK)) {
		uint32_t blk[4][2];
		/* Options and data share the MSS (RFC 6691): a segment of one
		 * MSS carries only the blocks that still fit, so it is never
		 * longer than the path takes.  A TSO segment's pieces shrink
		 * instead (seg_mark_gso). */
		unsigned max = c->ts_ok ? 3 : 4;
		if (len && len <= c->mss) {
			uint32_t room = c->mss - len > optlen ? c->mss - len - optlen : 0;
			unsigned fit = room >= 12 ? (room - 4) / 8 : 0;
			if (fit < max)
				max = fit;
		}
		unsigned nb = max ? sack_blocks(c, blk, max) : 0;
		if (nb) {
			opt[optlen++] = TCP_OPT_NOP;
			opt[optlen++] = TCP_OPT_NOP;
			opt[optlen++] = TCP_OPT_SACK;
			opt[optlen++] = (uint8_t)(2 + 8 * nb);
			for (unsigned i = 0; i < nb; i++) {
				ip_put32(opt + optlen, blk[i][0]);
				ip_put32(opt + optlen + 4, blk[i][1]);
				optlen += 8;
			}
			tcp_g.st.sack_blocks_sent += nb;
		}
	}
	s.opt = opt;
	s.optlen = optlen;
	seg_mark_gso(p, c, len, optlen);
	s.win = window_field(c);
	if (flags & TCP_F_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		c->ack_pending = 0;
		c->deadline[TCP_T_DELACK] = 0;
	}
	seg_emit(p, &s);
	return true;
}

void tcp_send_ack(struct tcp_conn *c)
{
	tcp_send_seg(c, c->snd_nxt, 0, TCP_F_ACK);
}

/* --- ACKs at the end of a batch ----------------------------------------------------------
 * The list is the loop's (TCP's tables belong to one loop); the flush is
 * one exec_work, queued when the list becomes non-empty. */
static void ack_flush(struct exec_work *w, void *arg)
{
	struct tcp_conn *c = tcp_g.ack_list;

	(void)w;
	(void)arg;
	tcp_g.ack_list = NULL;
	tcp_g.ack_work_queued = false;
	while (c) {
		struct tcp_conn *next = c->ack_next;

		c->ack_queued = false;
		c->ack_next = NULL;
		if (c->ack_pending)
			tcp_send_ack(c);
		c = next;
	}
}

void tcp_ack_soon(struct tcp_conn *c)
{
	struct exec_loop *l;

	if (c->ack_queued)
		return;
	if (!(l = exec_current())) {
		tcp_send_ack(c);
		return;
	}
	c->ack_queued = true;
	c->ack_next = tcp_g.ack_list;
	tcp_g.ack_list = c;
	if (!tcp_g.ack_work_queued) {
		tcp_g.ack_work_queued = true;
		exec_defer(l, &tcp_g.ack_work, ack_flush, NULL);
	}
}

void tcp_ack_forget(struct tcp_conn *c)
{
	if (!c->ack_queued)
		return;
	for (struct tcp_conn **pp = &tcp_g.ack_list; *pp; pp = &(*pp)->ack_next)
		if (*pp == c) {
			*pp = c->ack_next;
			break;
		}
	c->ack_queued = false;
	c->ack_next = NULL;
}

void tcp_ack_reset(void)
{
	while (tcp_g.ack_list)
		tcp_ack_forget(tcp_g.ack_list);
	tcp_g.ack_work_queued = false;
}

void tcp_send_syn(struct tcp_conn *c)
{
	uint8_t opt[40];
	struct pkt *p = pkt_alloc(tcp_g.pool);
	bool synack = c->state == TCP_SYN_RECEIVED;
	uint32_t w = c->rcvbuf > 0xffff ? 0xffff : c->rcvbuf;
	struct seg_out s = {
		.src = c->laddr, .dst = c->raddr, .sport = c->lport, .dport = c->rport,
		.seq = c->iss, .ack = c->rcv_nxt,
		.flags = (uint8_t)(TCP_F_SYN | (synack ? TCP_F_ACK : 0)),
		.win = (uint16_t)w, .ifindex = c->ifindex, .opt = opt,
	};

	if (!p) {
		ng_drop(&p, &tcp_node, NG_DROP_NO_BUFFERS);
		return;
	}
	s.optlen = syn_opts(opt, c->mss, c->sack_ok, c->ts_ok, tcp_now_ms() + c->ts_off,
			    synack ? c->ts_recent : 0, c->ws_ok, c->rcv_wscale);
	if (seq_gt(c->snd_max, c->iss))
		TCP_STAT(retrans_segs);
	c->rcv_adv = c->rcv_nxt + w;
	c->last_ack_sent = c->rcv_nxt;
	seg_emit(p, &s);
}

void tcp_send_synack_cookie(const struct tcp_seg *in, uint32_t iss, uint16_t mss, uint32_t tsval)
{
	uint8_t opt[40];
	struct pkt *p = pkt_alloc(tcp_g.pool);
	struct seg_out s = {
		.src = in->dst, .dst = in->src, .sport = in->dport, .dport = in->sport,
		.seq = iss, .ack = in->seq + 1, .flags = TCP_F_SYN | TCP_F_ACK,
		.win = (uint16_t)(tcp_g.cfg.rcvbuf > 0xffff ? 0xffff : tcp_g.cfg.rcvbuf),
		.ifindex = in->ifindex, .opt = opt,
	};
	uint8_t shift = 0;

	if (!p) {
		ng_drop(&p, &tcp_node, NG_DROP_NO_BUFFERS);
		return;
	}
	while (shift < TCP_WSCALE_MAX && (0xffffu << shift) < tcp_g.cfg.rcvbuf)
		shift++;
	bool ts = in->has_ts && tcp_g.cfg.timestamps;
	s.optlen = syn_opts(opt, mss, ts && in->sack_perm && tcp_g.cfg.sack, ts, tsval, in->tsval,
			    ts && in->has_ws && tcp_g.cfg.wscale, shift);
	seg_emit(p, &s);
}

void tcp_send_rst_for(const struct tcp_seg *in)
{
	struct pkt *p;
	struct seg_out s = {
		.src = in->dst, .dst = in->src, .sport = in->dport, .dport = in->sport,
		.ifindex = in->ifindex,
	};

	if (in->flags & TCP_F_RST)
		return;
	p = pkt_alloc(tcp_g.pool);
	if (!p) {
		ng_drop(&p, &tcp_node, NG_DROP_NO_BUFFERS);
		return;
	}
	if (in->flags & TCP_F_ACK) {
		s.seq = in->ack;
		s.flags = TCP_F_RST;
	} else {
		s.seq = 0;
		s.ack = in->seq + in->len + !!(in->flags & TCP_F_SYN) + !!(in->flags & TCP_F_FIN);
		s.flags = TCP_F_RST | TCP_F_ACK;
	}
	seg_emit(p, &s);
}

void tcp_send_rst(struct tcp_conn *c)
{
	struct pkt *p;
	struct seg_out s = {
		.src = c->laddr, .dst = c->raddr, .sport = c->lport, .dport = c->rport,
		.seq = c->snd_nxt, .ack = c->rcv_nxt, .flags = TCP_F_RST | TCP_F_ACK,
		.ifindex = c->ifindex,
	};

	if (c->state == TCP_SYN_SENT || c->state == TCP_CLOSED || c->state == TCP_TIME_WAIT ||
	    c->state == TCP_LISTEN)
		return;
	p = pkt_alloc(tcp_g.pool);
	if (!p) {
		ng_drop(&p, &tcp_node, NG_DROP_NO_BUFFERS);
		return;
	}
	seg_emit(p, &s);
}

/* --- what to send ----------------------------------------------------------------------------------- */
static bool can_send_data(const struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

/* The payload bytes of a full segment: the MSS less the options every
 * segment carries (RFC 9293 3.7.1). */
static uint32_t eff_mss(const struct tcp_conn *c)
{
	uint32_t m = c->mss - (c->ts_ok ? 12u : 0u);

	if (m > PKT_BUF_DEFAULT)
		m = PKT_BUF_DEFAULT;
	return m ? m : 1;
}

/* New data from snd_nxt on, as the windows allow.  rec: in SACK
 * recovery, where cwnd is measured against the pipe (RFC 6675) rather
 * than against everything in flight; extra: bytes allowed beyond cwnd
 * (limited transmit, the loss probe); max_segs: stop after that many
 * segments (0: no bound). */
static void output_new(struct tcp_conn *c, bool rec, uint32_t extra, unsigned max_segs)
{
	uint32_t mss = eff_mss(c);
	unsigned segs = 0;

	for (;;) {
		uint32_t data_end = c->snd_una + c->sq_bytes;
		uint32_t avail = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
		uint32_t inflight = c->snd_nxt - c->snd_una;
		uint32_t usable = c->snd_wnd > inflight ? c->snd_wnd - inflight : 0;
		uint32_t cw = c->cwnd + extra;
		uint32_t croom = rec ? tcp_sack_room(c) : cw > inflight ? cw - inflight : 0;
		uint32_t len;

		if (max_segs && segs == max_segs)
			return;
		if (croom < usable)
			usable = croom;
		len = avail < usable ? avail : usable;
		uint8_t flags = TCP_F_ACK;

		len = tso_len(c, len, mss);
		if (len == 0) {
			if (avail == 0 && c->app_closed && c->snd_nxt == data_end) {
				tcp_send_seg(c, c->snd_nxt, 0, TCP_F_ACK | TCP_F_FIN);
				c->fin_sent = true;
				c->snd_nxt++;
				if (seq_gt(c->snd_nxt, c->snd_max))
					c->snd_max = c->snd_nxt;
				if (!c->deadline[TCP_T_RTO])
					tcp_rto_arm(c);
			} else if (avail && c->snd_wnd == 0 && inflight == 0 &&
				   !c->deadline[TCP_T_PERSIST] && !c->deadline[TCP_T_RTO]) {
				c->nrexmit = 0;
				tcp_rto_arm(c);
				c->deadline[TCP_T_PERSIST] = c->deadline[TCP_T_RTO];
				c->deadline[TCP_T_RTO] = 0;
			}
			return;
		}
		if (len < mss && inflight) {
			/* Nagle (RFC 9293 3.7.4): one small segment in flight at
			 * a time.  Sender SWS avoidance: a window-limited
			 * piece must be at least half the largest window. */
			if (len == avail && !c->opts.nodelay && !c->app_closed)
				return;
			if (len < avail && len < c->max_snd_wnd / 2)
				return;
		}
		if (len == avail)
			flags |= TCP_F_PSH;
		if (len == avail && c->app_closed)
			flags |= TCP_F_FIN;
		if (!c->ts_ok && !c->rtt_start_ns && !seq_lt(c->snd_nxt, c->snd_max)) {
			c->rtt_seq = c->snd_nxt;
			c->rtt_start_ns = tcp_now();
		}
		if (!tcp_send_seg(c, c->snd_nxt, len, flags))
			return;
		segs++;
		c->snd_nxt += len;
		if (flags & TCP_F_FIN) {
			c->fin_sent = true;
			c->snd_nxt++;
		}
		if (seq_gt(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		c->deadline[TCP_T_PERSIST] = 0;
		if (!c->deadline[TCP_T_RTO])
			tcp_rto_arm(c);
		if (!rec)
			tcp_tlp_arm(c);
	}
}

/* NextSeg's order (RFC 6675 section 4): lost holes first, then new data,
 * then holes not yet deemed lost and the rescue retransmission. */
void tcp_output(struct tcp_conn *c)
{
	bool rec;

	if (!can_send_data(c))
		return;
	rec = tcp_sack_recovering(c);
	if (rec)
		tcp_sack_retransmit(c, true, eff_mss(c));
	/* Limited transmit (RFC 3042): a new segment on each of the first
	 * two duplicate ACKs, so a small window still gets its three. */
	output_new(c, rec, !c->in_recovery && c->dupacks < 3 ? c->dupacks * eff_mss(c) : 0, 0);
	if (rec && tcp_sack_recovering(c))
		tcp_sack_retransmit(c, false, eff_mss(c));
}

bool tcp_output_probe(struct tcp_conn *c)
{
	uint32_t before = c->snd_max, inflight = c->snd_nxt - c->snd_una;

	if (!can_send_data(c) || c->snd_nxt != c->snd_max)
		return false;
	output_new(c, false, inflight + eff_mss(c) > c->cwnd ? inflight + eff_mss(c) - c->cwnd : 0,
		   1);
	return c->snd_max != before;
}

/* Fast retransmit: the first unacknowledged segment, without moving
 * snd_nxt. */
void tcp_retransmit_first(struct tcp_conn *c)
{
	uint32_t mss = eff_mss(c);
	uint32_t len = c->sq_bytes < mss ? c->sq_bytes : mss;
	uint8_t flags = TCP_F_ACK;

	if (len == c->sq_bytes && c->app_closed && c->fin_sent)
		flags |= TCP_F_FIN;
	if (!len && !(flags & TCP_F_FIN))
		return;
	c->rtt_start_ns = 0;
	tcp_send_seg(c, c->snd_una, len, flags);
	if (!len)
		TCP_STAT(retrans_segs);
}
