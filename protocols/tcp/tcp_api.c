/*
 * tcp_api.c - the API for in-kernel modules (tcp.h): listen, connect,
 * send, receive-window control, close, abort, and the listings.
 *
 * These run on the packet loop's thread, like the handlers they trigger.
 * tcp_listen allocates its listener from the heap (a control-path call);
 * everything else works on preallocated blocks.
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"

static const struct tcp_listen_opts no_listen_opts;
static const struct tcp_connect_opts no_connect_opts;

int tcp_listen(const struct tcp_listen_opts *o, const struct tcp_handlers *h, void *ctx,
	       struct tcp_listener **out)
{
	struct tcp_listener *l, **bucket;

	if (!tcp_g.running)
		return TCP_ENOTRUNNING;
	if (!o)
		o = &no_listen_opts;
	if (!h || !h->accept || !o->port || !out)
		return TCP_EINVAL;
	bucket = &tcp_g.lhash[o->port & 0xffu];
	for (l = *bucket; l; l = l->next)
		if (l->port == o->port && l->addr == o->addr)
			return TCP_EADDRINUSE;
	l = sal_calloc(1, sizeof *l);
	if (!l)
		return TCP_ENOMEM;
	l->addr = o->addr;
	l->port = o->port;
	l->backlog = o->backlog ? o->backlog : tcp_g.cfg.backlog;
	l->max_conns = o->max_conns;
	l->copts = o->conn;
	l->h = *h;
	l->ctx = ctx;
	l->next = *bucket;
	*bucket = l;
	*out = l;
	return TCP_OK;
}

void tcp_unlisten(struct tcp_listener *l)
{
	struct tcp_listener **pp;

	if (!l)
		return;
	for (pp = &tcp_g.lhash[l->port & 0xffu]; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	for (struct tcp_conn *c = tcp_g.all, *n; c; c = n) {
		n = c->anext;
		if (c->listener != l)
			continue;
		if (c->state == TCP_SYN_RECEIVED && !c->app_owned) {
			tcp_send_rst(c);
			tcp_conn_release(c);
		}
		c->listener = NULL;
		c->counted_half = false;
		c->counted_listener = false;
	}
	sal_free(l);
}

/* The source address (and interface, when it was 0) for a connection to
 * dst: the route's preferred source, else the address of ours on the
 * subnet of the next hop. */
static uint32_t pick_src(uint16_t *ifindex, uint32_t dst)
{
	struct inet_ifaddr a, all[32];
	const struct ip_route *r;
	uint32_t hop = dst;
	unsigned n;

	if (*ifindex) {
		if (inet_addr_onlink(*ifindex, dst, &a) || inet_addr_primary(*ifindex, &a))
			return a.addr;
		return 0;
	}
	r = ip_route_lookup(dst);
	if (r && r->src)
		return r->src;
	if (r && r->gateway)
		hop = r->gateway;
	if (r && r->ifindex) {
		*ifindex = r->ifindex;
		if (inet_addr_onlink(r->ifindex, hop, &a) || inet_addr_primary(r->ifindex, &a))
			return a.addr;
		return 0;
	}
	n = inet_addr_list(0, all, 32);
	if (n > 32)
		n = 32;
	for (unsigned i = 0; i < n; i++)
		if ((hop & ip_mask(all[i].plen)) == (all[i].addr & ip_mask(all[i].plen))) {
			*ifindex = all[i].ifindex;
			return all[i].addr;
		}
	return 0;
}

static uint16_t pick_port(uint32_t src, uint32_t dst, uint16_t dport)
{
	for (unsigned tries = 0; tries < 16384; tries++) {
		uint16_t port = (uint16_t)(49152u + (tcp_g.next_eport++ % 16384u));
		if (!tcp_conn_lookup(src, port, dst, dport) && !tcp_listener_lookup(src, port))
			return port;
	}
	return 0;
}

int tcp_connect(uint32_t dst, uint16_t dport, const struct tcp_connect_opts *o,
		const struct tcp_handlers *h, void *ctx, struct tcp_conn **out)
{
	struct tcp_conn *c;
	uint16_t ifindex, sport;
	uint32_t src;

	if (!tcp_g.running)
		return TCP_ENOTRUNNING;
	if (!o)
		o = &no_connect_opts;
	if (!h || !dst || !dport || !out)
		return TCP_EINVAL;
	ifindex = o->ifindex;
	src = o->src ? o->src : pick_src(&ifindex, dst);
	if (!src)
		return TCP_ENOROUTE;
	sport = o->sport ? o->sport : pick_port(src, dst, dport);
	if (!sport || tcp_conn_lookup(src, sport, dst, dport))
		return TCP_EADDRINUSE;
	c = tcp_conn_alloc();
	if (!c) {
		TCP_STAT(global_limit);
		return TCP_ELIMIT;
	}
	c->laddr = src;
	c->raddr = dst;
	c->lport = sport;
	c->rport = dport;
	c->ifindex = ifindex;
	c->h = *h;
	c->ctx = ctx;
	c->opts = o->conn;
	tcp_conn_opts_fill(c);
	c->mss = tcp_mss_for(ifindex, dst);
	c->ws_ok = tcp_g.cfg.wscale;
	c->ts_ok = tcp_g.cfg.timestamps;
	c->sack_ok = tcp_g.cfg.sack;
	if (c->ws_ok)
		while (c->rcv_wscale < TCP_WSCALE_MAX &&
		       (0xffffu << c->rcv_wscale) < (c->rcvbuf_max > c->rcvbuf ? c->rcvbuf_max
									      : c->rcvbuf))
			c->rcv_wscale++;
	c->ts_off = tcp_ts_offset(src, sport, dst, dport);
	c->iss = tcp_isn(src, sport, dst, dport);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->state = TCP_SYN_SENT;
	c->app_owned = true;
	c->rtt_start_ns = tcp_now();
	c->rtt_seq = c->iss;
	tcp_conn_hash_add(c);
	TCP_STAT(active_opens);
	*out = c;
	tcp_send_syn(c);
	tcp_rto_arm(c);
	return TCP_OK;
}

static bool may_send(const struct tcp_conn *c)
{
	if (!c->app_owned || c->app_closed || c->dead)
		return false;
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		return true;
	default:
		return false;
	}
}

int tcp_send(struct tcp_conn *c, struct pkt **pp)
{
	struct pkt *p;

	if (!c || !pp || !*pp)
		return TCP_EINVAL;
	if (!may_send(c))
		return TCP_ENOTCONN;
	if (c->sq_bytes >= c->opts.sndbuf) {
		c->want_writable = true;
		return TCP_EAGAIN;
	}
	p = *pp;
	*pp = NULL;
	if (!pkt_len(p)) {
		pkt_free(p);
		return TCP_OK;
	}
	p->qnext = NULL;
	if (c->sq_tail)
		c->sq_tail->qnext = p;
	else
		c->sq_head = p;
	c->sq_tail = p;
	c->sq_bytes += pkt_len(p);
	TCP_BUSY(c);
	tcp_output(c);
	TCP_UNBUSY(c);
	return TCP_OK;
}

uint32_t tcp_send_room(const struct tcp_conn *c)
{
	if (!c || !may_send(c) || c->sq_bytes >= c->opts.sndbuf)
		return 0;
	return c->opts.sndbuf - c->sq_bytes;
}

void tcp_recved(struct tcp_conn *c, uint32_t n)
{
	uint32_t before, after, mss2;

	if (!c || c->dead || !c->opts.manual_recv)
		return;
	before = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	c->held -= n < c->held ? n : c->held;
	after = c->rcvbuf > c->held ? c->rcvbuf - c->held : 0;
	mss2 = 2u * c->mss;
	/* Receiver SWS avoidance (RFC 9293 3.8.6.2.2): announce only a
	 * worthwhile opening. */
	if (after > before && (after - before >= mss2 || after - before >= c->rcvbuf / 2) &&
	    (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
	     c->state == TCP_FIN_WAIT_2))
		tcp_send_ack(c);
}

int tcp_close(struct tcp_conn *c)
{
	if (!c || !c->app_owned || c->dead)
		return TCP_EINVAL;
	if (c->app_closed)
		return TCP_OK;
	c->app_closed = true;
	c->want_writable = false;
	TCP_BUSY(c);
	switch (c->state) {
	case TCP_SYN_SENT:
		tcp_conn_done(c, TCP_R_CLOSED);
		break;
	case TCP_ESTABLISHED:
		tcp_set_state(c, TCP_FIN_WAIT_1);
		tcp_output(c);
		break;
	case TCP_CLOSE_WAIT:
		tcp_set_state(c, TCP_LAST_ACK);
		tcp_output(c);
		break;
	default:
		break;  /* SYN_RECEIVED: the FIN follows establishment */
	}
	TCP_UNBUSY(c);
	return TCP_OK;
}

void tcp_abort(struct tcp_conn *c)
{
	if (!c || !c->app_owned || c->dead)
		return;
	TCP_BUSY(c);
	tcp_send_rst(c);
	tcp_conn_done(c, TCP_R_ABORTED);
	TCP_UNBUSY(c);
}

void tcp_set_handlers(struct tcp_conn *c, const struct tcp_handlers *h, void *ctx)
{
	if (!c || !h)
		return;
	c->h = *h;
	c->ctx = ctx;
}

void *tcp_ctx(const struct tcp_conn *c)
{
	return c ? c->ctx : NULL;
}

void tcp_set_nodelay(struct tcp_conn *c, bool on)
{
	if (!c)
		return;
	c->opts.nodelay = on;
	if (on && !c->dead) {
		TCP_BUSY(c);
		tcp_output(c);
		TCP_UNBUSY(c);
	}
}

void tcp_endpoints(const struct tcp_conn *c, struct tcp_endpoints *out)
{
	out->laddr = c->laddr;
	out->raddr = c->raddr;
	out->lport = c->lport;
	out->rport = c->rport;
	out->ifindex = c->ifindex;
}

enum tcp_state tcp_conn_state(const struct tcp_conn *c)
{
	return (enum tcp_state)c->state;
}

struct pkt_pool *tcp_pool(void)
{
	return tcp_g.pool;
}

unsigned tcp_live_conns(void)
{
	return tcp_g.live;
}

unsigned tcp_conn_list(struct tcp_conn_info *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned b = 0; b < NG_ARRAY_LEN(tcp_g.lhash); b++)
		for (const struct tcp_listener *l = tcp_g.lhash[b]; l; l = l->next, n++)
			if (n < max) {
				memset(&out[n], 0, sizeof out[n]);
				out[n].ep.laddr = l->addr;
				out[n].ep.lport = l->port;
				out[n].state = TCP_LISTEN;
				out[n].listener = true;
			}
	for (const struct tcp_conn *c = tcp_g.all; c; c = c->anext, n++) {
		if (n >= max)
			continue;
		struct tcp_conn_info *i = &out[n];
		memset(i, 0, sizeof *i);
		tcp_endpoints(c, &i->ep);
		i->state = (enum tcp_state)c->state;
		i->snd_una = c->snd_una;
		i->snd_nxt = c->snd_nxt;
		i->rcv_nxt = c->rcv_nxt;
		i->snd_wnd = c->snd_wnd;
		i->rcv_wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
		i->cwnd = c->cwnd;
		i->ssthresh = c->ssthresh;
		i->srtt_us = c->srtt_us;
		i->rto_ms = c->rto_ms;
		i->sndq = c->sq_bytes;
		i->ooo = c->ooo_bytes;
		i->retrans = c->retrans_total;
		i->rcvbuf = c->rcvbuf;
		i->cc = c->cc;
		i->sack = c->sack_ok;
	}
	return n;
}

void tcp_flush(void)
{
	struct tcp_conn *c = tcp_g.all;

	while (c) {
		struct tcp_conn *n = c->anext;
		if (!c->dead) {
			tcp_send_rst(c);
			tcp_conn_done(c, TCP_R_SHUTDOWN);
		}
		c = n;
	}
}
