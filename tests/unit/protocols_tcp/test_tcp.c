/*
 * test_tcp.c - TCP through the whole graph against a scripted peer.
 *
 * Frames go in at the link layer of a fake interface (ng_iface_input);
 * whatever spin sends is captured by the interface's xmit and parsed back.
 * The peer is this file: it crafts each segment by hand, so a test can
 * drop, reorder, duplicate or forge segments exactly.  TCP's clock is a
 * fake one advanced by the tests, and timers fire through tcp_timers_run,
 * so retransmission, persist, keepalive and TIME_WAIT are deterministic.
 * Every test ends with no connection block and no pool buffer
 * outstanding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"
#include "protocols/arp/arp.h"
#include "protocols/icmp/icmp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"
#include "protocols/tcp/tcp.h"

#define US IP_ADDR(198, 18, 0, 2)
#define PEER IP_ADDR(198, 18, 0, 1)
#define LPORT 5001
#define PPORT 40000
#define MAXSENT 256

static struct pkt_pool *pool;
static struct exec_loop *loop;
static struct pkt *sent[MAXSENT];
static unsigned nsent;
static uint64_t fake_ns = 1000000000ull;

static uint64_t fake_now(void) { return fake_ns; }

static int fake_xmit(struct ng_iface *ifp, struct pkt *p)
{
	(void)ifp;
	if (nsent < MAXSENT) {
		sent[nsent++] = p;
		return 0;
	}
	pkt_free(p);
	return -1;
}
static const struct ng_iface_ops fake_ops = {.xmit = fake_xmit};
static struct ng_iface fake = {.name = "fake0", .mac = {2, 0, 0, 0, 0, 2}, .mtu = 1500,
			       .ops = &fake_ops, .driver = "fake"};

static void clear_sent(void)
{
	for (unsigned i = 0; i < nsent; i++)
		pkt_free(sent[i]);
	nsent = 0;
}

static uint64_t drops(unsigned reason)
{
	struct ng_stats st;

	assert_int_equal(ng_msg_send("tcp", "getstats", &st), NG_OK);
	return st.reason[reason];
}

static void advance_ms(uint64_t ms)
{
	fake_ns += ms * 1000000ull;
	tcp_timers_run();
	exec_loop_run_once(loop, 0);
}

/* --- the scripted peer ----------------------------------------------------------- */
struct seg {
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win, urg;
	const uint8_t *opt;
	unsigned optlen;
	const void *data;
	unsigned len;
	uint16_t sport, dport;
	int bad_csum;
	int bad_off;        /* nonzero: this data offset (words) instead */
	bool zero_win;      /* win 0 on the wire (win 0 here means 65535) */
};

/* The frame the scripted peer sends for s, as a packet from the pool. */
static struct pkt *seg_packet(const struct seg *s)
{
	static const uint8_t eth[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
	uint8_t f[2048];
	unsigned hl = 20 + s->optlen, tl = hl + s->len;
	uint8_t *ih = f + 14, *th = f + 34;

	memcpy(f, eth, 14);
	memset(ih, 0, 20);
	ih[0] = 0x45;
	ip_put16(ih + 2, (uint16_t)(20 + tl));
	ih[8] = 64;
	ih[9] = IP_PROTO_TCP;
	ip_put32(ih + 12, PEER);
	ip_put32(ih + 16, US);
	ip_put16(ih + 10, ip_hdr_csum(ih, 20));
	memset(th, 0, 20);
	ip_put16(th, s->sport ? s->sport : PPORT);
	ip_put16(th + 2, s->dport ? s->dport : LPORT);
	ip_put32(th + 4, s->seq);
	ip_put32(th + 8, s->ack);
	th[12] = (uint8_t)((s->bad_off ? (unsigned)s->bad_off : hl / 4) << 4);
	th[13] = s->flags;
	ip_put16(th + 14, s->zero_win ? 0 : s->win ? s->win : 65535);
	ip_put16(th + 18, s->urg);
	if (s->optlen)
		memcpy(th + 20, s->opt, s->optlen);
	if (s->len)
		memcpy(th + hl, s->data, s->len);
	uint16_t c = csum_fold(csum_add(tcp_pseudo_sum(PEER, US, (uint16_t)tl), th, tl));
	ip_put16(th + 16, (uint16_t)(c ^ (s->bad_csum ? 0x5555 : 0)));
	struct pkt *p = pkt_from_bytes(pool, f, 34 + tl);
	assert_non_null(p);
	return p;
}

static void inject(const struct seg *s)
{
	ng_iface_input(&fake, seg_packet(s));
	exec_loop_run_once(loop, 0);
}

/* A sent segment, parsed. */
struct out {
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win, sport, dport;
	unsigned len;
	uint8_t data[2048];
	bool has_mss, has_ts, sack_perm, has_ws;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	unsigned nsack;
	uint32_t sack[4][2];
};

static void parse_out(unsigned i, struct out *o)
{
	uint8_t f[4096];
	struct pkt *p;

	assert_true(i < nsent);
	p = sent[i];
	memset(o, 0, sizeof *o);
	assert_true(pkt_len(p) <= sizeof f);
	assert_true(pkt_copy_out(p, 0, f, pkt_len(p)));
	assert_int_equal(ip_get16(f + 12), 0x0800);
	assert_int_equal(f[23], IP_PROTO_TCP);
	assert_int_equal(ip_get32(f + 26), US);
	assert_int_equal(ip_get32(f + 30), PEER);
	unsigned tl = ip_get16(f + 16) - 20;
	uint8_t *th = f + 34;
	assert_int_equal(csum_fold(csum_add(tcp_pseudo_sum(US, PEER, (uint16_t)tl), th, tl)), 0);
	unsigned hl = (th[12] >> 4) * 4u;
	o->sport = ip_get16(th);
	o->dport = ip_get16(th + 2);
	o->seq = ip_get32(th + 4);
	o->ack = ip_get32(th + 8);
	o->flags = th[13];
	o->win = ip_get16(th + 14);
	o->len = tl - hl;
	memcpy(o->data, th + hl, o->len);
	for (unsigned k = 20; k < hl;) {
		uint8_t kind = th[k];
		if (kind == 0)
			break;
		if (kind == 1) {
			k++;
			continue;
		}
		uint8_t l = th[k + 1];
		assert_true(l >= 2 && k + l <= hl);
		if (kind == 2) {
			o->has_mss = true;
			o->mss = ip_get16(th + k + 2);
		} else if (kind == 3) {
			o->has_ws = true;
			o->ws = th[k + 2];
		} else if (kind == 4) {
			o->sack_perm = true;
		} else if (kind == 8) {
			o->has_ts = true;
			o->tsval = ip_get32(th + k + 2);
			o->tsecr = ip_get32(th + k + 6);
		} else if (kind == 5) {
			o->nsack = (l - 2u) / 8u;
			for (unsigned b = 0; b < o->nsack; b++) {
				o->sack[b][0] = ip_get32(th + k + 2 + 8 * b);
				o->sack[b][1] = ip_get32(th + k + 6 + 8 * b);
			}
		}
		k += l;
	}
}

/* --- the app side ------------------------------------------------------------------- */
struct app {
	struct tcp_conn *c;
	int accepts, connects, fins, closes, writables;
	enum tcp_reason why;
	uint8_t rx[1 << 20];
	size_t nrx;
	bool refuse;
	bool echo;
};
static struct app app;

static bool on_accept(void *ctx, struct tcp_conn *c)
{
	struct app *a = ctx;

	a->accepts++;
	a->c = c;
	return !a->refuse;
}
static void on_connected(void *ctx, struct tcp_conn *c)
{
	struct app *a = ctx;

	a->connects++;
	a->c = c;
}
static void on_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	struct app *a = ctx;
	uint32_t n = pkt_len(p);

	assert_true(a->nrx + n <= sizeof a->rx);
	assert_true(pkt_copy_out(p, 0, a->rx + a->nrx, n));
	a->nrx += n;
	if (a->echo)
		assert_int_equal(tcp_send(c, &p), TCP_OK);
	else
		pkt_free(p);
}
static void on_fin(void *ctx, struct tcp_conn *c)
{
	(void)c;
	((struct app *)ctx)->fins++;
}
static void on_writable(void *ctx, struct tcp_conn *c)
{
	(void)c;
	((struct app *)ctx)->writables++;
}
static void on_closed(void *ctx, struct tcp_conn *c, enum tcp_reason why)
{
	struct app *a = ctx;

	(void)c;
	a->closes++;
	a->why = why;
	a->c = NULL;
}
static const struct tcp_handlers handlers = {
	.accept = on_accept, .connected = on_connected, .recv = on_recv,
	.recv_fin = on_fin, .writable = on_writable, .closed = on_closed,
};

static struct tcp_listener *lis;

/* Plain config for tests: no options offered unless a test asks, so the
 * peer's segments stay simple. */
static void config_plain(void)
{
	struct tcp_config c;

	tcp_config_get(&c);
	c.timestamps = c.sack = c.wscale = false;
	c.rcvbuf = 65535;
	c.sndbuf = 65536;
	c.challenge_ack_limit = 1000;
	c.backlog = 128;
	c.timewait_ms = 60000;
	tcp_config_set(&c);
}

static int setup(void **state)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip", "icmp", "tcp"};
	struct ether_addr peer = {{2, 0, 0, 0, 0, 1}};

	(void)state;
	sal_init();
	if (!loop)
		loop = exec_loop_new("test", EXEC_BLOCKING);
	exec_loop_attach(loop);
	if (!pool)
		pool = pkt_pool_new("test", 512, 2048);
	fake.pool = pool;
	tcp_set_clock(fake_now);
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
		const struct spin_module *m = spin_builtin_find(mods[i]);
		assert_non_null(m);
		if (!spin_module_started(m))
			assert_int_equal(spin_module_start(m, NULL), SPIN_MOD_OK);
	}
	assert_int_equal(ng_iface_register(&fake), 0);
	assert_int_equal(inet_addr_add(fake.index, US, 24), INET_OK);
	assert_int_equal(arp_static_add(fake.index, PEER, peer), ARP_OK);
	config_plain();
	memset(&app, 0, sizeof app);
	struct tcp_listen_opts lo = {.port = LPORT};
	assert_int_equal(tcp_listen(&lo, &handlers, &app, &lis), TCP_OK);
	clear_sent();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tcp_flush();
	tcp_unlisten(lis);
	lis = NULL;
	clear_sent();
	exec_loop_run_once(loop, 0);
	assert_int_equal(tcp_live_conns(), 0);
	arp_flush(0, true);
	inet_addr_flush(0);
	ng_iface_unregister(&fake);
	exec_loop_detach(loop);
	disp_quiesce();
	assert_int_equal(pkt_pools_outstanding(), 0);
	return 0;
}

/* Passive open from PEER:sport with ISN irs; returns our ISS.  The app
 * has accepted when it returns. */
static uint32_t handshake_in(uint16_t sport, uint32_t irs, const uint8_t *opt, unsigned optlen)
{
	struct out o;
	struct seg syn = {.seq = irs, .flags = TCP_F_SYN, .sport = sport, .opt = opt,
			  .optlen = optlen};

	clear_sent();
	inject(&syn);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_SYN | TCP_F_ACK);
	assert_int_equal(o.ack, irs + 1);
	assert_true(o.has_mss);
	clear_sent();
	struct seg ack = {.seq = irs + 1, .ack = o.seq + 1, .flags = TCP_F_ACK, .sport = sport};
	inject(&ack);
	return o.seq;
}

static const uint8_t payload[] =
	"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrstuvwxyz";

/* --- tests ---------------------------------------------------------------------------- */
static void test_passive_open_data_close(void **state)
{
	(void)state;
	struct out o;
	uint32_t irs = 1000, iss = handshake_in(PPORT, irs, NULL, 0);

	assert_int_equal(app.accepts, 1);
	assert_non_null(app.c);
	assert_int_equal(tcp_conn_state(app.c), TCP_ESTABLISHED);
	/* Data in: delivered, ACK delayed then sent by the timer. */
	struct seg d = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK | TCP_F_PSH,
			.data = payload, .len = 20};
	inject(&d);
	assert_int_equal(app.nrx, 20);
	assert_memory_equal(app.rx, payload, 20);
	assert_int_equal(nsent, 0);
	advance_ms(50);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.ack, irs + 21);
	clear_sent();
	/* Data out. */
	struct pkt *p = pkt_from_bytes(pool, payload, 30);
	assert_int_equal(tcp_send(app.c, &p), TCP_OK);
	assert_null(p);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, iss + 1);
	assert_int_equal(o.len, 30);
	assert_memory_equal(o.data, payload, 30);
	clear_sent();
	/* The peer acks and closes: CLOSE_WAIT, then we close: LAST_ACK. */
	struct seg fin = {.seq = irs + 21, .ack = iss + 31, .flags = TCP_F_ACK | TCP_F_FIN};
	inject(&fin);
	assert_int_equal(app.fins, 1);
	assert_int_equal(tcp_conn_state(app.c), TCP_CLOSE_WAIT);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.ack, irs + 22);
	clear_sent();
	assert_int_equal(tcp_close(app.c), TCP_OK);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_true(o.flags & TCP_F_FIN);
	assert_int_equal(o.seq, iss + 31);
	clear_sent();
	struct seg last = {.seq = irs + 22, .ack = iss + 32, .flags = TCP_F_ACK};
	inject(&last);
	assert_int_equal(app.closes, 1);
	assert_int_equal(app.why, TCP_R_CLOSED);
	assert_int_equal(tcp_live_conns(), 0);
}

static uint32_t connect_out(uint32_t irs, struct tcp_conn **cp)
{
	struct out o;

	clear_sent();
	assert_int_equal(tcp_connect(PEER, 80, NULL, &handlers, &app, cp), TCP_OK);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_SYN);
	assert_int_equal(o.dport, 80);
	assert_int_equal(tcp_conn_state(*cp), TCP_SYN_SENT);
	clear_sent();
	app.c = *cp;
	(void)irs;
	return o.seq;
}

static void test_active_open_close_timewait(void **state)
{
	(void)state;
	struct tcp_conn *c;
	struct tcp_endpoints ep;
	struct out o;
	uint32_t iss = connect_out(0, &c), irs = 777;

	tcp_endpoints(c, &ep);
	struct seg sa = {.seq = irs, .ack = iss + 1, .flags = TCP_F_SYN | TCP_F_ACK,
			 .sport = 80, .dport = ep.lport};
	inject(&sa);
	assert_int_equal(app.connects, 1);
	assert_int_equal(tcp_conn_state(c), TCP_ESTABLISHED);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_ACK);
	assert_int_equal(o.ack, irs + 1);
	clear_sent();
	assert_int_equal(tcp_close(c), TCP_OK);
	parse_out(0, &o);
	assert_true(o.flags & TCP_F_FIN);
	clear_sent();
	assert_int_equal(tcp_conn_state(c), TCP_FIN_WAIT_1);
	struct seg a = {.seq = irs + 1, .ack = iss + 2, .flags = TCP_F_ACK, .sport = 80,
			.dport = ep.lport};
	inject(&a);
	assert_int_equal(tcp_conn_state(c), TCP_FIN_WAIT_2);
	struct seg f = {.seq = irs + 1, .ack = iss + 2, .flags = TCP_F_ACK | TCP_F_FIN,
			.sport = 80, .dport = ep.lport};
	inject(&f);
	assert_int_equal(app.closes, 1);
	assert_int_equal(tcp_live_conns(), 1);    /* TIME_WAIT */
	clear_sent();
	/* A retransmitted FIN is acknowledged again. */
	inject(&f);
	assert_int_equal(nsent, 1);
	clear_sent();
	advance_ms(61000);
	assert_int_equal(tcp_live_conns(), 0);
}

static void test_simultaneous_open(void **state)
{
	(void)state;
	struct tcp_conn *c;
	struct tcp_endpoints ep;
	struct out o;
	uint32_t iss = connect_out(0, &c);

	tcp_endpoints(c, &ep);
	struct seg syn = {.seq = 5000, .flags = TCP_F_SYN, .sport = 80, .dport = ep.lport};
	inject(&syn);
	assert_int_equal(tcp_conn_state(c), TCP_SYN_RECEIVED);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_SYN | TCP_F_ACK);
	assert_int_equal(o.seq, iss);
	assert_int_equal(o.ack, 5001);
	clear_sent();
	struct seg ack = {.seq = 5001, .ack = iss + 1, .flags = TCP_F_SYN | TCP_F_ACK,
			  .sport = 80, .dport = ep.lport};
	/* The peer's SYN-ACK (its answer to our SYN) completes it. */
	inject(&ack);
	(void)ack;
	struct seg a2 = {.seq = 5001, .ack = iss + 1, .flags = TCP_F_ACK, .sport = 80,
			 .dport = ep.lport};
	inject(&a2);
	assert_int_equal(tcp_conn_state(c), TCP_ESTABLISHED);
	assert_int_equal(app.connects, 1);
	tcp_abort(c);
	assert_int_equal(app.closes, 1);
	assert_int_equal(app.why, TCP_R_ABORTED);
}

static void test_simultaneous_close(void **state)
{
	(void)state;
	struct out o;
	uint32_t irs = 1, iss = handshake_in(PPORT, irs, NULL, 0);
	struct tcp_conn *c = app.c;

	assert_int_equal(tcp_close(c), TCP_OK);
	assert_int_equal(tcp_conn_state(c), TCP_FIN_WAIT_1);
	parse_out(0, &o);
	assert_true(o.flags & TCP_F_FIN);
	clear_sent();
	/* The peer's FIN crosses ours: it does not ack our FIN. */
	struct seg f = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK | TCP_F_FIN};
	inject(&f);
	assert_int_equal(tcp_conn_state(c), TCP_CLOSING);
	struct seg a = {.seq = irs + 2, .ack = iss + 2, .flags = TCP_F_ACK};
	inject(&a);
	assert_int_equal(app.closes, 1);
	assert_int_equal(tcp_live_conns(), 1);
	advance_ms(60001);
	assert_int_equal(tcp_live_conns(), 0);
}

/* Five segments out; the second is "lost": three duplicate ACKs trigger
 * a fast retransmit of it; then an RTO when nothing more comes. */
static void test_fast_retransmit_and_rto(void **state)
{
	(void)state;
	struct out o;
	struct tcp_stats st;
	uint8_t big[5 * 1460];
	static const uint8_t mss[] = {2, 4, 0x05, 0xb4};
	uint32_t irs = 10, iss = handshake_in(PPORT, irs, mss, sizeof mss);
	struct tcp_conn *c = app.c;

	for (unsigned i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	struct pkt *p = pkt_from_bytes(pool, big, sizeof big);
	assert_int_equal(tcp_send(c, &p), TCP_OK);
	assert_int_equal(nsent, 5);
	for (unsigned i = 0; i < 5; i++) {
		parse_out(i, &o);
		assert_int_equal(o.seq, iss + 1 + 1460 * i);
		assert_int_equal(o.len, 1460);
		assert_memory_equal(o.data, big + 1460 * i, 1460);
	}
	clear_sent();
	struct seg a = {.seq = irs + 1, .ack = iss + 1 + 1460, .flags = TCP_F_ACK};
	inject(&a);
	clear_sent();
	for (int k = 0; k < 3; k++)
		inject(&a);
	tcp_stats_get(&st, false);
	assert_int_equal(st.fast_retrans, 1);
	assert_true(nsent >= 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, iss + 1 + 1460);
	assert_memory_equal(o.data, big + 1460, 1460);
	clear_sent();
	/* Partial ACK (up to the third segment): the next hole goes. */
	struct seg pa = {.seq = irs + 1, .ack = iss + 1 + 2 * 1460, .flags = TCP_F_ACK};
	inject(&pa);
	assert_true(nsent >= 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, iss + 1 + 2 * 1460);
	clear_sent();
	/* Silence: the RTO fires and resends from snd_una. */
	advance_ms(1100);
	assert_true(nsent >= 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, iss + 1 + 2 * 1460);
	tcp_stats_get(&st, false);
	assert_true(st.rto_expired >= 1);
	clear_sent();
	struct seg all = {.seq = irs + 1, .ack = iss + 1 + 5 * 1460, .flags = TCP_F_ACK};
	inject(&all);
	tcp_stats_get(&st, false);
	assert_int_equal(st.sndq_bytes, 0);
}

/* RFC 6675 loss recovery against a scripted receiver: ten segments, the
 * 2nd and 5th lost.  SACKs for the 3rd and 4th count as duplicate ACKs;
 * the third enters recovery and resends the 2nd only; the 5th (now with
 * three SACKed segments above it) follows as the window allows, and no
 * SACKed segment is ever sent again.  Then a timeout while holes remain:
 * the scoreboard survives it, so only holes go out.  A full ACK ends
 * recovery. */
static void put_sack(uint8_t *o, struct seg *sg, const uint32_t (*b)[2], unsigned nb)
{
	o[0] = 1;
	o[1] = 1;
	o[2] = 5;
	o[3] = (uint8_t)(2 + 8 * nb);
	for (unsigned i = 0; i < nb; i++) {
		ip_put32(o + 4 + 8 * i, b[i][0]);
		ip_put32(o + 8 + 8 * i, b[i][1]);
	}
	sg->opt = o;
	sg->optlen = 4 + 8 * nb;
}

static void test_sack_recovery(void **state)
{
	(void)state;
	struct out o;
	struct tcp_stats st;
	struct tcp_config cf;
	uint8_t big[10 * 1460], opt[40];
	static const uint8_t syn_opt[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};

	tcp_config_get(&cf);
	cf.sack = true;
	tcp_config_set(&cf);
	tcp_stats_get(&st, true);
	uint32_t irs = 10, iss = handshake_in(PPORT, irs, syn_opt, sizeof syn_opt);
	struct tcp_conn *c = app.c;
	uint32_t base = iss + 1;
#define SEG(i) (base + 1460u * (i))

	for (unsigned i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 13);
	struct pkt *p = pkt_from_bytes(pool, big, sizeof big);
	assert_int_equal(tcp_send(c, &p), TCP_OK);
	assert_int_equal(nsent, 10);
	clear_sent();
	/* Segment 0 arrives, 1 is lost, 2 and 3 arrive: the ACKs SACK them. */
	struct seg a = {.seq = irs + 1, .ack = SEG(1), .flags = TCP_F_ACK};
	inject(&a);
	uint32_t b1[][2] = {{SEG(2), SEG(3)}};
	put_sack(opt, &a, b1, 1);
	inject(&a);
	uint32_t b2[][2] = {{SEG(2), SEG(4)}};
	put_sack(opt, &a, b2, 1);
	inject(&a);
	assert_int_equal(nsent, 0);
	tcp_stats_get(&st, false);
	assert_int_equal(st.sack_recoveries, 0);
	/* 4 lost, 5 arrives: SACK {5}, {2-3}: three segments SACKed above
	 * segment 1, so it is lost (and this is the third duplicate). */
	uint32_t b3[][2] = {{SEG(5), SEG(6)}, {SEG(2), SEG(4)}};
	put_sack(opt, &a, b3, 2);
	inject(&a);
	tcp_stats_get(&st, false);
	assert_int_equal(st.sack_recoveries, 1);
	assert_int_equal(st.fast_retrans, 1);
	assert_true(nsent >= 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, SEG(1));
	assert_int_equal(o.len, 1460);
	assert_memory_equal(o.data, big + 1460, 1460);
	for (unsigned i = 1; i < nsent; i++) {
		parse_out(i, &o);
		assert_true(o.seq != SEG(2) && o.seq != SEG(3) && o.seq != SEG(5));
	}
	clear_sent();
	/* 6..9 arrive: segment 4 now has four SACKed above it: lost, resent
	 * (when the pipe allows; the ACKs shrink it).  Nothing SACKed goes
	 * out again. */
	bool saw4 = false;
	for (unsigned k = 6; k < 10; k++) {
		uint32_t bk[][2] = {{SEG(5), SEG(k + 1)}, {SEG(2), SEG(4)}};
		put_sack(opt, &a, bk, 2);
		inject(&a);
		for (unsigned i = 0; i < nsent; i++) {
			parse_out(i, &o);
			/* Holes only: 1, 4, or 9 (the rescue retransmission
			 * of RFC 6675 rule 4 once nothing else is left). */
			assert_true(o.seq == SEG(1) || o.seq == SEG(4) ||
				    (o.seq == SEG(9) && k < 9));
			if (o.seq == SEG(4)) {
				saw4 = true;
				assert_memory_equal(o.data, big + 4 * 1460, 1460);
			}
		}
		clear_sent();
	}
	assert_true(saw4);
	/* Silence: the RTO resends the first hole only; the ACK for it
	 * brings the next hole (4), never a SACKed segment. */
	advance_ms(1100);
	tcp_stats_get(&st, false);
	assert_int_equal(st.rto_expired, 1);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, SEG(1));
	clear_sent();
	uint32_t b4[][2] = {{SEG(5), SEG(10)}};
	put_sack(opt, &a, b4, 1);
	a.ack = SEG(4);
	inject(&a);
	assert_true(nsent >= 1);
	for (unsigned i = 0; i < nsent; i++) {
		parse_out(i, &o);
		assert_int_equal(o.seq, SEG(4));
	}
	clear_sent();
	/* Everything acknowledged: recovery over, the queue empty. */
	struct seg all = {.seq = irs + 1, .ack = SEG(10), .flags = TCP_F_ACK};
	inject(&all);
	struct tcp_conn_info ci[4];
	unsigned n = tcp_conn_list(ci, 4);
	assert_true(n >= 2);
	assert_true(ci[1].sack);
	assert_int_equal(ci[1].snd_una, SEG(10));
	assert_int_equal(ci[1].sndq, 0);
	tcp_stats_get(&st, false);
	assert_int_equal(st.sndq_bytes, 0);
	assert_int_equal(st.fast_retrans, 1);
#undef SEG
}

/* Recovery entry and exit without SACK, and with SACK on the same
 * losses: both end with cwnd at or below ssthresh after the full ACK. */
static void test_recovery_exit_cubic(void **state)
{
	(void)state;
	struct tcp_stats st;
	uint8_t big[10 * 1460];
	static const uint8_t mss[] = {2, 4, 0x05, 0xb4};

	memset(big, 7, sizeof big);
	tcp_stats_get(&st, true);
	uint32_t irs = 10, iss = handshake_in(PPORT, irs, mss, sizeof mss);
	struct tcp_conn *c = app.c;
	assert_int_equal(tcp_set_cc(c, TCP_CC_CUBIC), TCP_OK);
	assert_int_equal(tcp_set_cc(c, (enum tcp_cc)9), TCP_EINVAL);
	struct pkt *p = pkt_from_bytes(pool, big, sizeof big);
	assert_int_equal(tcp_send(c, &p), TCP_OK);
	clear_sent();
	struct seg a = {.seq = irs + 1, .ack = iss + 1 + 1460, .flags = TCP_F_ACK};
	inject(&a);
	for (int k = 0; k < 3; k++)
		inject(&a);
	tcp_stats_get(&st, false);
	assert_int_equal(st.fast_retrans, 1);
	struct tcp_conn_info ci[4];
	tcp_conn_list(ci, 4);
	assert_int_equal(ci[1].cc, TCP_CC_CUBIC);
	assert_false(ci[1].sack);
	/* CUBIC: ssthresh = 0.7 * flight (9 segments in flight). */
	assert_int_equal(ci[1].ssthresh, 9 * 1460 * 7 / 10);
	clear_sent();
	struct seg all = {.seq = irs + 1, .ack = iss + 1 + 10 * 1460, .flags = TCP_F_ACK};
	inject(&all);
	tcp_conn_list(ci, 4);
	assert_true(ci[1].cwnd <= ci[1].ssthresh);
	clear_sent();
}

static void test_ooo_sack(void **state)
{
	(void)state;
	struct out o;
	static const uint8_t sackok[] = {1, 1, 4, 2};
	struct tcp_config cf;

	tcp_config_get(&cf);
	cf.sack = true;
	tcp_config_set(&cf);
	uint32_t irs = 100, iss = handshake_in(PPORT, irs, sackok, sizeof sackok);
	(void)iss;
	struct seg s2 = {.seq = irs + 11, .ack = iss + 1, .flags = TCP_F_ACK,
			 .data = payload + 10, .len = 10};
	struct seg s3 = {.seq = irs + 31, .ack = iss + 1, .flags = TCP_F_ACK,
			 .data = payload + 30, .len = 10};
	inject(&s3);
	inject(&s2);
	assert_int_equal(app.nrx, 0);
	assert_int_equal(nsent, 2);
	parse_out(1, &o);
	assert_int_equal(o.ack, irs + 1);
	assert_int_equal(o.nsack, 2);
	assert_int_equal(o.sack[0][0], irs + 11);   /* latest first */
	assert_int_equal(o.sack[0][1], irs + 21);
	assert_int_equal(o.sack[1][0], irs + 31);
	clear_sent();
	/* An overlapping retransmission covering 1..25 fills the first hole. */
	struct seg s1 = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK,
			 .data = payload, .len = 25};
	inject(&s1);
	assert_int_equal(app.nrx, 25);
	struct seg s4 = {.seq = irs + 21, .ack = iss + 1, .flags = TCP_F_ACK,
			 .data = payload + 20, .len = 15};
	inject(&s4);
	assert_int_equal(app.nrx, 40);
	assert_memory_equal(app.rx, payload, 40);
	parse_out(nsent - 1, &o);
	assert_int_equal(o.ack, irs + 41);
	assert_int_equal(o.nsack, 0);
}

/* Options and data share the MSS (RFC 6691): while spin's receive side has
 * a hole, full-size data segments drop the SACK blocks that do not fit
 * rather than grow past the MSS (they went out as IP fragments). */
static void test_sack_option_fits_mss(void **state)
{
	(void)state;
	struct out o;
	struct tcp_config cf;
	uint8_t big[3 * 1460];
	static const uint8_t opts[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};

	tcp_config_get(&cf);
	cf.sack = true;
	tcp_config_set(&cf);
	uint32_t irs = 100, iss = handshake_in(PPORT, irs, opts, sizeof opts);
	struct seg hole = {.seq = irs + 11, .ack = iss + 1, .flags = TCP_F_ACK,
			   .data = payload, .len = 10};
	inject(&hole);
	parse_out(nsent - 1, &o);
	assert_int_equal(o.nsack, 1);           /* a pure ACK has room */
	clear_sent();
	memset(big, 0x61, sizeof big);
	struct pkt *p = pkt_from_bytes(pool, big, sizeof big);
	assert_int_equal(tcp_send(app.c, &p), TCP_OK);
	assert_true(nsent >= 3);
	unsigned total = 0;
	for (unsigned i = 0; i < nsent; i++) {
		parse_out(i, &o);
		unsigned optlen = o.nsack ? 4 + 8 * o.nsack : 0;
		assert_true(o.len + optlen <= 1460);
		total += o.len;
	}
	assert_int_equal(total, sizeof big);
	/* A segment shorter than the MSS still carries the block. */
	clear_sent();
	p = pkt_from_bytes(pool, big, 100);
	struct seg a = {.seq = irs + 1, .ack = iss + 1 + sizeof big, .flags = TCP_F_ACK};
	inject(&a);
	clear_sent();
	assert_int_equal(tcp_send(app.c, &p), TCP_OK);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.len, 100);
	assert_int_equal(o.nsack, 1);
}

/* In-order data that arrives in one batch (frames taken from a ring in one
 * poll) is acknowledged by one ACK when the batch ends, not one per two
 * segments; out-of-order data is still acknowledged at once. */
static struct seg batch_segs[6];
static unsigned batch_n;

static void inject_batch(struct exec_work *w, void *arg)
{
	(void)w;
	(void)arg;
	for (unsigned i = 0; i < batch_n; i++)
		ng_iface_input(&fake, seg_packet(&batch_segs[i]));
}

static void test_ack_per_batch(void **state)
{
	(void)state;
	struct out o;
	struct exec_work w;
	uint32_t irs = 500, iss = handshake_in(PPORT, irs, NULL, 0);

	clear_sent();
	batch_n = 6;
	for (unsigned i = 0; i < batch_n; i++)
		batch_segs[i] = (struct seg){.seq = irs + 1 + 10 * i, .ack = iss + 1,
					     .flags = TCP_F_ACK, .data = payload + 10 * i, .len = 10};
	exec_defer(loop, &w, inject_batch, NULL);
	exec_loop_run_once(loop, 0);            /* the batch */
	exec_loop_run_once(loop, 0);            /* the next turn: its ACK */
	assert_int_equal(app.nrx, 60);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_ACK);
	assert_int_equal(o.ack, irs + 61);
	/* A hole in the next batch: the out-of-order segment is answered at
	 * once with a duplicate ACK, the later in-order fill acknowledged. */
	clear_sent();
	batch_n = 2;
	batch_segs[0] = (struct seg){.seq = irs + 71, .ack = iss + 1, .flags = TCP_F_ACK,
				     .data = payload, .len = 10};
	batch_segs[1] = (struct seg){.seq = irs + 61, .ack = iss + 1, .flags = TCP_F_ACK,
				     .data = payload, .len = 10};
	exec_defer(loop, &w, inject_batch, NULL);
	exec_loop_run_once(loop, 0);
	exec_loop_run_once(loop, 0);
	assert_true(nsent >= 2);
	parse_out(0, &o);
	assert_int_equal(o.ack, irs + 61);
	parse_out(nsent - 1, &o);
	assert_int_equal(o.ack, irs + 81);
}

static void test_window_trim(void **state)
{
	(void)state;
	struct tcp_config cf;
	struct out o;

	tcp_config_get(&cf);
	cf.rcvbuf = 100;
	tcp_config_set(&cf);
	uint32_t irs = 1, iss = handshake_in(PPORT, irs, NULL, 0);
	uint8_t d[300];
	for (unsigned i = 0; i < sizeof d; i++)
		d[i] = (uint8_t)i;
	struct seg s = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK, .data = d, .len = 300};
	inject(&s);
	assert_int_equal(app.nrx, 100);
	assert_memory_equal(app.rx, d, 100);
	/* Entirely beyond the window: dropped with an ACK. */
	clear_sent();
	uint64_t before = drops(TCP_DROP_OUT_OF_WINDOW);
	struct seg far = {.seq = irs + 1000, .ack = iss + 1, .flags = TCP_F_ACK, .data = d,
			  .len = 10};
	inject(&far);
	assert_int_equal(drops(TCP_DROP_OUT_OF_WINDOW), before + 1);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.ack, irs + 101);
}

static void test_rst_validation(void **state)
{
	(void)state;
	struct out o;
	struct tcp_stats st;
	uint32_t irs = 50, iss = handshake_in(PPORT, irs, NULL, 0);

	tcp_stats_get(&st, true);

	/* In window but not at rcv_nxt: challenge ACK, connection lives. */
	struct seg r = {.seq = irs + 100, .flags = TCP_F_RST};
	inject(&r);
	assert_non_null(app.c);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_ACK);
	assert_int_equal(o.ack, irs + 1);
	clear_sent();
	/* Out of window: silently dropped. */
	struct seg r2 = {.seq = irs + 1000000, .flags = TCP_F_RST};
	inject(&r2);
	assert_int_equal(nsent, 0);
	/* SYN on an established connection: challenge ACK. */
	struct seg syn = {.seq = 9999, .flags = TCP_F_SYN};
	inject(&syn);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_ACK);
	assert_int_equal(o.seq, iss + 1);
	clear_sent();
	tcp_stats_get(&st, false);
	assert_int_equal(st.challenge_acks, 2);
	/* Exactly at rcv_nxt: reset. */
	struct seg r3 = {.seq = irs + 1, .flags = TCP_F_RST};
	inject(&r3);
	assert_int_equal(app.closes, 1);
	assert_int_equal(app.why, TCP_R_RESET);
	assert_int_equal(tcp_live_conns(), 0);
}

static void test_challenge_ack_limit(void **state)
{
	(void)state;
	struct tcp_config cf;
	struct tcp_stats st;

	tcp_config_get(&cf);
	cf.challenge_ack_limit = 3;
	tcp_config_set(&cf);
	advance_ms(1000);   /* a fresh one-second window */
	uint32_t irs = 50;
	handshake_in(PPORT, irs, NULL, 0);
	tcp_stats_get(&st, true);
	for (int i = 0; i < 10; i++) {
		struct seg r = {.seq = irs + 100 + (uint32_t)i, .flags = TCP_F_RST};
		inject(&r);
	}
	assert_int_equal(nsent, 3);
	tcp_stats_get(&st, false);
	assert_int_equal(st.challenge_acks, 3);
	assert_int_equal(st.challenge_acks_limited, 7);
}

static void test_syn_cookies(void **state)
{
	(void)state;
	struct out o;
	struct tcp_stats st;
	static const uint8_t mss[] = {2, 4, 0x05, 0xb4};

	tcp_unlisten(lis);
	struct tcp_listen_opts lo = {.port = LPORT, .backlog = 1};
	assert_int_equal(tcp_listen(&lo, &handlers, &app, &lis), TCP_OK);
	tcp_stats_get(&st, true);
	/* The first SYN takes the only queue slot; the second gets a cookie. */
	struct seg s1 = {.seq = 1, .flags = TCP_F_SYN, .sport = 1001};
	inject(&s1);
	assert_int_equal(tcp_live_conns(), 1);
	struct seg s2 = {.seq = 5000, .flags = TCP_F_SYN, .sport = 1002, .opt = mss,
			 .optlen = sizeof mss};
	inject(&s2);
	assert_int_equal(tcp_live_conns(), 1);
	assert_int_equal(nsent, 2);
	parse_out(1, &o);
	assert_int_equal(o.flags, TCP_F_SYN | TCP_F_ACK);
	assert_int_equal(o.mss, 1460);
	tcp_stats_get(&st, false);
	assert_int_equal(st.syncookies_sent, 1);
	/* A forged ACK fails validation and gets a RST. */
	clear_sent();
	uint64_t bad = drops(TCP_DROP_BAD_COOKIE);
	struct seg forged = {.seq = 5001, .ack = o.seq + 12345, .flags = TCP_F_ACK, .sport = 1002};
	inject(&forged);
	assert_int_equal(drops(TCP_DROP_BAD_COOKIE), bad + 1);
	clear_sent();
	/* The real ACK, with data, makes the connection. */
	struct seg good = {.seq = 5001, .ack = o.seq + 1, .flags = TCP_F_ACK, .sport = 1002,
			   .data = payload, .len = 5};
	inject(&good);
	assert_int_equal(app.accepts, 1);
	assert_int_equal(app.nrx, 5);
	assert_int_equal(tcp_live_conns(), 2);
	tcp_stats_get(&st, false);
	assert_int_equal(st.syncookies_recv, 1);
	assert_int_equal(st.syncookies_failed, 1);
}

static void test_zero_window_probe(void **state)
{
	(void)state;
	struct out o;
	uint32_t irs = 1, iss = handshake_in(PPORT, irs, NULL, 0);
	struct tcp_conn *c = app.c;
	struct tcp_stats st;

	struct seg w1 = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK, .win = 10};
	inject(&w1);
	struct pkt *p = pkt_from_bytes(pool, payload, 40);
	assert_int_equal(tcp_send(c, &p), TCP_OK);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.len, 10);
	clear_sent();
	/* Acked, and the window is now zero: nothing more may go... */
	struct seg z = {.seq = irs + 1, .ack = iss + 11, .flags = TCP_F_ACK, .zero_win = true};
	inject(&z);
	assert_int_equal(nsent, 0);
	/* ...until the persist timer sends a one-byte probe. */
	advance_ms(1100);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, iss + 11);
	assert_int_equal(o.len, 1);
	tcp_stats_get(&st, false);
	assert_int_equal(st.zero_window_probes, 1);
	clear_sent();
	/* The probe is refused (still zero): probes back off and go on. */
	inject(&z);
	advance_ms(2100);
	assert_int_equal(nsent, 1);
	clear_sent();
	/* The window opens: the rest flows. */
	struct seg open = {.seq = irs + 1, .ack = iss + 11, .flags = TCP_F_ACK, .win = 1000};
	inject(&open);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, iss + 11);
	assert_int_equal(o.len, 30);
}

static void test_timewait_reuse(void **state)
{
	(void)state;
	struct tcp_stats st;
	uint32_t irs = 1000, iss = handshake_in(PPORT, irs, NULL, 0);
	struct tcp_conn *c = app.c;
	struct out o;

	/* We close first, so the block ends in TIME_WAIT. */
	tcp_close(c);
	clear_sent();
	struct seg f = {.seq = irs + 1, .ack = iss + 2, .flags = TCP_F_ACK | TCP_F_FIN};
	inject(&f);
	assert_int_equal(app.closes, 1);
	assert_int_equal(tcp_live_conns(), 1);
	clear_sent();
	/* An old SYN (sequence not above) only gets an ACK. */
	struct seg old = {.seq = irs - 5, .flags = TCP_F_SYN};
	inject(&old);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_ACK);
	clear_sent();
	/* A SYN above the old rcv_nxt reuses the 4-tuple. */
	struct seg syn = {.seq = irs + 100000, .flags = TCP_F_SYN};
	inject(&syn);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_SYN | TCP_F_ACK);
	assert_true((int32_t)(o.seq - (iss + 2)) > 0);
	tcp_stats_get(&st, false);
	assert_int_equal(st.timewait_reuse, 1);
	assert_int_equal(tcp_live_conns(), 1);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct out o;

	tcp_unlisten(lis);
	struct tcp_listen_opts lo = {.port = LPORT,
				     .conn = {.keepalive_ms = 1000, .keepalive_intvl_ms = 100,
					      .keepalive_probes = 2}};
	assert_int_equal(tcp_listen(&lo, &handlers, &app, &lis), TCP_OK);
	uint32_t irs = 1, iss = handshake_in(PPORT, irs, NULL, 0);
	advance_ms(1001);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.seq, iss);       /* snd_una - 1 */
	assert_int_equal(o.len, 0);
	clear_sent();
	/* An answer resets the idle timer. */
	struct seg a = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK};
	inject(&a);
	advance_ms(500);
	assert_int_equal(nsent, 0);
	/* No answers: two probes, then a reset. */
	advance_ms(600);
	advance_ms(101);
	advance_ms(101);
	assert_int_equal(app.closes, 1);
	assert_int_equal(app.why, TCP_R_KEEPALIVE);
}

static void test_urgent_inline(void **state)
{
	(void)state;
	uint32_t irs = 1, iss = handshake_in(PPORT, irs, NULL, 0);
	struct seg u = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK | TCP_F_URG,
			.urg = 5, .data = payload, .len = 12};
	inject(&u);
	assert_int_equal(app.nrx, 12);
	assert_memory_equal(app.rx, payload, 12);
	/* An urgent pointer far past the data is harmless too. */
	struct seg u2 = {.seq = irs + 13, .ack = iss + 1, .flags = TCP_F_ACK | TCP_F_URG,
			 .urg = 65535, .data = payload + 12, .len = 3};
	inject(&u2);
	assert_int_equal(app.nrx, 15);
}

static void test_malformed(void **state)
{
	(void)state;
	static const uint8_t zero_len[] = {2, 0, 0, 0};
	static const uint8_t past[] = {1, 1, 8, 10};
	uint64_t bo = drops(TCP_DROP_BAD_OPT), bc = drops(NG_DROP_BAD_CSUM);
	uint64_t boff = drops(TCP_DROP_BAD_OFF), bf = drops(TCP_DROP_BAD_FLAGS);

	struct seg a = {.seq = 1, .flags = TCP_F_SYN, .opt = zero_len, .optlen = 4};
	inject(&a);
	struct seg b = {.seq = 1, .flags = TCP_F_SYN, .opt = past, .optlen = 4};
	inject(&b);
	assert_int_equal(drops(TCP_DROP_BAD_OPT), bo + 2);
	struct seg c = {.seq = 1, .flags = TCP_F_SYN, .bad_csum = 1};
	inject(&c);
	assert_int_equal(drops(NG_DROP_BAD_CSUM), bc + 1);
	struct seg d = {.seq = 1, .flags = TCP_F_SYN, .bad_off = 15};
	inject(&d);
	struct seg d2 = {.seq = 1, .flags = TCP_F_SYN, .bad_off = 2};
	inject(&d2);
	assert_int_equal(drops(TCP_DROP_BAD_OFF), boff + 2);
	struct seg e = {.seq = 1, .flags = TCP_F_SYN | TCP_F_FIN};
	inject(&e);
	assert_int_equal(drops(TCP_DROP_BAD_FLAGS), bf + 1);
	assert_int_equal(nsent, 0);
	assert_int_equal(tcp_live_conns(), 0);
}

static void test_no_listener_rst(void **state)
{
	(void)state;
	struct out o;
	struct seg s = {.seq = 77, .flags = TCP_F_SYN, .dport = 9};
	inject(&s);
	assert_int_equal(nsent, 1);
	parse_out(0, &o);
	assert_int_equal(o.flags, TCP_F_RST | TCP_F_ACK);
	assert_int_equal(o.ack, 78);
}

/* Thousands of short connections, each: open, 1 byte each way, close. */
static void test_many_short(void **state)
{
	(void)state;
	struct tcp_config cf;

	tcp_config_get(&cf);
	cf.timewait_ms = 1000;
	tcp_config_set(&cf);
	app.echo = true;
	for (unsigned i = 0; i < 3000; i++) {
		uint16_t sp = (uint16_t)(20000 + i);
		uint32_t irs = i * 1000u, iss = handshake_in(sp, irs, NULL, 0);
		struct seg d = {.seq = irs + 1, .ack = iss + 1, .flags = TCP_F_ACK | TCP_F_PSH,
				.data = "x", .len = 1, .sport = sp};
		inject(&d);
		struct seg f = {.seq = irs + 2, .ack = iss + 2, .flags = TCP_F_ACK | TCP_F_FIN,
				.sport = sp};
		inject(&f);
		assert_non_null(app.c);
		tcp_close(app.c);
		struct seg a = {.seq = irs + 3, .ack = iss + 3, .flags = TCP_F_ACK, .sport = sp};
		inject(&a);
		clear_sent();
	}
	assert_int_equal(app.accepts, 3000);
	assert_int_equal(app.closes, 3000);
	assert_int_equal(tcp_live_conns(), 0);
	struct tcp_stats st;
	tcp_stats_get(&st, false);
	assert_int_equal(st.timers_armed, 0);
	assert_int_equal(st.sndq_bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_passive_open_data_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_open_close_timewait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fast_retransmit_and_rto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ooo_sack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sack_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_exit_cubic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sack_option_fits_mss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_per_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_trim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_ack_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_window_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timewait_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urgent_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_listener_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_short, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
