/*
 * fuzz_tcp.c - TCP segments from the fuzzer, as Ethernet frames through the
 * whole graph (Ether -> IP -> TCP -> state machine -> handlers).
 *
 * Each input starts from the same state: a listener on port 80 (backlog 2,
 * so cookies are reachable) and one connection established to it by a
 * scripted handshake.  The input is then a series of records:
 *   byte 0     flags: bit 0-1 checksum state (none, verified, partial);
 *              bit 2 aim at the connection (else the listener, new
 *              source port); bit 3 make seq/ack relative to the
 *              connection's (so in-window paths are reached); bits 4-7
 *              advance TCP's fake clock by that many 100 ms and fire
 *              timers
 *   byte 1     n: how many bytes of TCP segment follow
 *   n bytes    the TCP header, options and payload (ports overwritten)
 * The fake interface frees what spin sends.  After each input every
 * connection is flushed, and no connection block and no pool buffer may
 * remain.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocols/ip/ip.h"
#include "protocols/tcp/tcp.h"
#include "tests/fuzz/fuzz_graph.h"

#define US IP_ADDR(198, 18, 0, 2)
#define PEER IP_ADDR(198, 18, 0, 1)

static struct ng_iface *ifp;
static uint64_t fz_ns = 1000000000ull;
static uint32_t last_seq, last_ack;   /* from our latest segment */

static uint64_t fz_now(void) { return fz_ns; }

/* Remembers our latest segment's numbers, to aim inputs inside the window. */
static void fz_tap(const struct pkt *p)
{
	uint8_t h[54];

	if (pkt_copy_out(p, 0, h, sizeof h) && h[23] == IP_PROTO_TCP) {
		last_seq = ip_get32(h + 38);
		last_ack = ip_get32(h + 42);
	}
}

static bool fz_accept(void *ctx, struct tcp_conn *c) { (void)ctx; (void)c; return true; }
static void fz_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	(void)ctx;
	/* Echo: exercises the send queue too. */
	if (tcp_send(c, &p) != TCP_OK)
		pkt_free(p);
}
static void fz_fin(void *ctx, struct tcp_conn *c) { (void)ctx; tcp_close(c); }
static const struct tcp_handlers fz_h = {.accept = fz_accept, .recv = fz_recv,
					 .recv_fin = fz_fin};

/* The checksum state a driver would have given the frame (mode 0..2). */
static void set_csum(struct pkt *p, void *arg)
{
	unsigned mode = *(const unsigned *)arg;
	p->csum = mode == 1 ? PKT_CSUM_VERIFIED : mode == 2 ? PKT_CSUM_PARTIAL : PKT_CSUM_NONE;
	p->csum_start = 34;
	p->csum_offset = 16;
}

static void send_frame(const uint8_t *tcp, size_t n, unsigned mode)
{
	uint8_t f[1600];
	static const uint8_t hdr[34] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
					0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0,
					198, 18, 0, 1, 198, 18, 0, 2};

	memcpy(f, hdr, 34);
	memcpy(f + 34, tcp, n);
	ip_put16(f + 16, (uint16_t)(20 + n));
	ip_put16(f + 24, ip_hdr_csum(f + 14, 20));
	if (mode == 0 && n >= 20) {
		f[34 + 16] = f[34 + 17] = 0;
		uint16_t c = csum_fold(csum_add(tcp_pseudo_sum(PEER, US, (uint16_t)n), f + 34, n));
		ip_put16(f + 34 + 16, c);
	}
	fz_input(ifp, f, 34 + n, set_csum, &mode);
}

static void init_once(void)
{
	static const char *const mods[] = {"netgraph", "inet", "ether", "arp", "ip", "icmp",
					   "tcp", NULL};
	struct tcp_listener *l;
	struct tcp_config cf;

	/* Set before the module starts: it sizes its tables then. */
	tcp_set_clock(fz_now);
	tcp_config_get(&cf);
	cf.max_conns = 64;
	cf.pool_bufs = 1024;
	tcp_config_set(&cf);
	fz_start("fuzz-tcp", 512, mods);
	fz.tap = fz_tap;
	ifp = fz_iface(1500, true, true);
	struct tcp_listen_opts lo = {.port = 80, .backlog = 2};
	tcp_listen(&lo, &fz_h, NULL, &l);
}

/* SYN from PEER:40000 with timestamps, SACK and window scale, then the ACK. */
static void handshake(void)
{
	uint8_t s[40] = {0};
	static const uint8_t opt[20] = {2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
					1, 3, 3, 7};

	ip_put16(s, 40000);
	ip_put16(s + 2, 80);
	ip_put32(s + 4, 1000);
	s[12] = 10 << 4;
	s[13] = TCP_F_SYN;
	ip_put16(s + 14, 65535);
	memcpy(s + 20, opt, sizeof opt);
	send_frame(s, 40, 0);
	uint32_t iss = last_seq;
	memset(s + 20, 0, 20);
	s[20] = 1;
	s[21] = 1;
	s[22] = 8;
	s[23] = 10;
	ip_put32(s + 24, 2);
	ip_put32(s + 28, 0);
	s[12] = 8 << 4;
	ip_put32(s + 4, 1001);
	ip_put32(s + 8, iss + 1);
	s[13] = TCP_F_ACK;
	send_frame(s, 32, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint16_t next_port = 1024;

	if (!ready) {
		init_once();
		ready = 1;
	}
	handshake();
	while (size >= 2) {
		uint8_t fl = data[0];
		size_t n = data[1];
		uint8_t seg[256];

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		memset(seg, 0, sizeof seg);
		memcpy(seg, data, n);
		data += n;
		size -= n;
		if (n < 20)
			n = 20;
		ip_put16(seg + 2, 80);
		if (fl & 4) {
			ip_put16(seg, 40000);
		} else {
			ip_put16(seg, next_port);
			next_port = (uint16_t)(next_port + 1 < 1024 ? 1024 : next_port + 1);
		}
		if (fl & 8) {
			ip_put32(seg + 4, last_ack + ip_get32(seg + 4) % 4096u);
			ip_put32(seg + 8, last_seq + ip_get32(seg + 8) % 4096u);
		}
		send_frame(seg, n, fl & 3u);
		if (fl >> 4) {
			fz_ns += (uint64_t)(fl >> 4) * 100000000ull;
			tcp_timers_run();
		}
	}
	tcp_flush();
	exec_loop_run_once(fz.loop, 0);
	if (tcp_live_conns() != 0)
		__builtin_trap();
	fz_assert_outstanding(0);
	return 0;
}
