/*
 * test_drivers.c - unit tests of the hosted drivers' code paths that need no
 * network: virtio-net header to checksum state and back, locating an
 * unfinished checksum in a frame, the pcap reader and writer, the replay
 * device's exact loop count, and configuration checks of TAP and AF_PACKET.
 * Paths that need a real interface (TAP and AF_PACKET receive and send) are
 * covered by tests/wire/test_drivers.py in network namespaces.
 *
 * Every test that touches packets ends by asserting that no pool buffer is
 * outstanding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "drivers/afpacket/drv_afpacket.h"
#include "drivers/drv_util.h"
#include "drivers/pcap/drv_pcap.h"
#include "drivers/replay/drv_replay.h"
#include "drivers/tap/drv_tap.h"
#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"

/* --- frames ------------------------------------------------------------------ */
/* Ethernet + IPv4 + UDP with n payload bytes; the UDP checksum field holds
 * whatever csum says. */
static size_t udp4_frame(uint8_t *f, size_t n, uint16_t csum, uint8_t seed)
{
	static const uint8_t hdr[42] = {
	    0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
	    0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0,
	    198, 18, 0, 1, 198, 18, 0, 2,
	    0x30, 0x39, 0, 7, 0, 0, 0, 0};
	memcpy(f, hdr, sizeof(hdr));
	uint16_t iplen = (uint16_t)(20 + 8 + n), ulen = (uint16_t)(8 + n);
	f[16] = (uint8_t)(iplen >> 8);
	f[17] = (uint8_t)iplen;
	f[38] = (uint8_t)(ulen >> 8);
	f[39] = (uint8_t)ulen;
	f[40] = (uint8_t)(csum >> 8);
	f[41] = (uint8_t)csum;
	for (size_t i = 0; i < n; i++)
		f[42 + i] = (uint8_t)(seed + i);
	return 42 + n;
}

static struct pkt_pool *pool;

SPIN_MODULE(drvtest_module, .name = "test_drivers", .version = SPIN_VERSION(1, 0));

static int setup(void **state)
{
	(void)state;
	sal_init();
	if (ng_graph_init() != NG_OK)
		return -1;
	pool = pkt_pool_new("drivers-test", 256, PKT_BUF_DEFAULT);
	return pool ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	uint64_t leaked = pkt_pool_free(pool);
	pool = NULL;
	return leaked == 0 ? 0 : -1;
}

static void assert_no_leak(void)
{
	struct pkt_pool_stats st;
	pkt_pool_stats(pool, &st);
	assert_int_equal(st.outstanding, 0);
}

/* A temporary file name, removed by the caller. */
static void tmpname(char *buf, size_t n, const char *what)
{
	snprintf(buf, n, "/tmp/spin-drvtest-%d-%s.pcap", (int)getpid(), what);
}

/* Writes frames 0..count-1 (sizes vary) to a classic pcap file with
 * timestamps sec = 1000 + i, usec = i * 7. */
static void write_capture(const char *path, int count)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	assert_non_null(dead);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	assert_non_null(d);
	uint8_t f[1600];
	for (int i = 0; i < count; i++) {
		size_t len = udp4_frame(f, (size_t)(i * 37) % 1400 + 1, 0, (uint8_t)i);
		struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};
		h.ts.tv_sec = 1000 + i;
		h.ts.tv_usec = i * 7;
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

/* --- virtio-net header ------------------------------------------------------ */
static void test_vnet_needs_csum(void **state)
{
	(void)state;
	uint8_t f[100];
	size_t len = udp4_frame(f, 20, 0x1234, 0);
	struct pkt *p = pkt_from_bytes(pool, f, len);
	assert_non_null(p);
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .gso_type = VIRTIO_NET_HDR_GSO_NONE,
				   .csum_start = 34, .csum_offset = 6};
	assert_true(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->csum, PKT_CSUM_PARTIAL);
	assert_int_equal(p->csum_start, 34);
	assert_int_equal(p->csum_offset, 6);

	struct virtio_net_hdr back;
	drv_vnet_from_pkt(p, &back);
	assert_int_equal(back.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(back.csum_start, 34);
	assert_int_equal(back.csum_offset, 6);
	assert_int_equal(back.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	pkt_free(p);
	assert_no_leak();
}

static void test_vnet_data_valid_and_none(void **state)
{
	(void)state;
	uint8_t f[100];
	size_t len = udp4_frame(f, 20, 0x1234, 0);
	struct pkt *p = pkt_from_bytes(pool, f, len);
	assert_non_null(p);
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_DATA_VALID};
	assert_true(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->csum, PKT_CSUM_VERIFIED);
	struct virtio_net_hdr back;
	drv_vnet_from_pkt(p, &back);
	assert_int_equal(back.flags, 0);   /* only partial packets ask Linux */

	memset(&h, 0, sizeof(h));
	assert_true(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->csum, PKT_CSUM_NONE);
	pkt_free(p);
	assert_no_leak();
}

static void test_vnet_bad_offsets(void **state)
{
	(void)state;
	uint8_t f[100];
	size_t len = udp4_frame(f, 4, 0, 0);   /* 46 bytes */
	struct pkt *p = pkt_from_bytes(pool, f, len);
	assert_non_null(p);
	/* The checksum field would be at 44..45+: still inside. */
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .csum_start = 34, .csum_offset = 10};
	assert_true(drv_vnet_to_pkt(&h, p));
	/* Past the end: refused, state NONE. */
	h.csum_offset = 11;
	assert_false(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->csum, PKT_CSUM_NONE);
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	assert_false(drv_vnet_to_pkt(&h, p));
	pkt_free(p);
	assert_no_leak();
}

/* --- virtio-net header: segmentation offload ----------------------------------- */
/* Ethernet + IPv4 + TCP (with optlen option bytes) and n payload bytes, the
 * TCP checksum field holding a pseudo-header sum (any value will do here). */
static size_t tcp4_frame(uint8_t *f, size_t n, unsigned optlen)
{
	size_t hl = 14 + 20 + 20 + optlen;
	memset(f, 0, hl);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	f[14] = 0x45;
	uint16_t iplen = (uint16_t)(20 + 20 + optlen + n);
	f[16] = (uint8_t)(iplen >> 8);
	f[17] = (uint8_t)iplen;
	f[22] = 64;
	f[23] = 6;
	f[34 + 12] = (uint8_t)(((20 + optlen) / 4) << 4);
	f[34 + 13] = 0x10;
	f[34 + 16] = 0x12;
	f[34 + 17] = 0x34;
	for (size_t i = 0; i < n; i++)
		f[hl + i] = (uint8_t)i;
	return hl + n;
}

static void test_vnet_gso_in(void **state)
{
	(void)state;
	static uint8_t f[20000];
	size_t len = tcp4_frame(f, 15000, 12);
	struct pkt *p = pkt_from_bytes(pool, f, len);
	assert_non_null(p);
	/* A coalesced TCPv4 frame with the ECN bit: type and size kept, the
	 * ECN bit ignored, the checksum partial. */
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
				   .hdr_len = 66, .gso_size = 1448,
				   .csum_start = 34, .csum_offset = 16};
	assert_true(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->gso_type, PKT_GSO_TCPV4);
	assert_int_equal(p->gso_size, 1448);
	assert_int_equal(p->csum, PKT_CSUM_PARTIAL);

	/* GRO output says DATA_VALID instead of NEEDS_CSUM. */
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_true(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->gso_type, PKT_GSO_TCPV6);
	assert_int_equal(p->csum, PKT_CSUM_VERIFIED);

	/* A plain header clears what the last one set. */
	memset(&h, 0, sizeof(h));
	assert_true(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->gso_type, PKT_GSO_NONE);
	assert_int_equal(p->gso_size, 0);

	/* UFO, an unknown type and a zero size are refused, state cleared. */
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	h.gso_size = 1000;
	assert_false(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->gso_type, PKT_GSO_NONE);
	h.gso_type = 0x42;
	assert_false(drv_vnet_to_pkt(&h, p));
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	assert_false(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->gso_type, PKT_GSO_NONE);
	/* GSO with a checksum field past the end: refused, nothing kept. */
	h.gso_size = 1448;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = (uint16_t)(len - 10);
	h.csum_offset = 16;
	assert_false(drv_vnet_to_pkt(&h, p));
	assert_int_equal(p->gso_type, PKT_GSO_NONE);
	assert_int_equal(p->csum, PKT_CSUM_NONE);
	pkt_free(p);
	assert_no_leak();
}

static void test_vnet_gso_out(void **state)
{
	(void)state;
	static uint8_t f[20000];
	size_t len = tcp4_frame(f, 15000, 12);
	struct pkt *p = pkt_from_bytes(pool, f, len);   /* chained: 8 buffers */
	assert_non_null(p);
	assert_true(pkt_segments(p) > 1);
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 16;
	p->gso_type = PKT_GSO_TCPV4;
	p->gso_size = 1448;
	struct virtio_net_hdr h;
	assert_true(drv_vnet_from_pkt(p, &h));
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(h.gso_size, 1448);
	assert_int_equal(h.hdr_len, 14 + 20 + 32);
	assert_int_equal(h.csum_start, 34);
	assert_int_equal(h.csum_offset, 16);

	/* Back again: the receive side reads what the send side wrote. */
	struct pkt *q = pkt_from_bytes(pool, f, len);
	assert_non_null(q);
	assert_true(drv_vnet_to_pkt(&h, q));
	assert_int_equal(q->gso_type, PKT_GSO_TCPV4);
	assert_int_equal(q->gso_size, 1448);
	assert_int_equal(q->csum, PKT_CSUM_PARTIAL);
	pkt_free(q);

	/* Payload within one piece: an ordinary frame with NEEDS_CSUM. */
	p->gso_size = 15000;
	assert_true(drv_vnet_from_pkt(p, &h));
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);

	/* Refused: not partial, the checksum not TCP's, size 0, not TCPv4,
	 * a TCP header that says it is shorter than 20 bytes. */
	p->gso_size = 1448;
	p->csum = PKT_CSUM_NONE;
	assert_false(drv_vnet_from_pkt(p, &h));
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_offset = 6;
	assert_false(drv_vnet_from_pkt(p, &h));
	p->csum_offset = 16;
	p->gso_size = 0;
	assert_false(drv_vnet_from_pkt(p, &h));
	p->gso_size = 1448;
	p->gso_type = PKT_GSO_TCPV6;
	assert_false(drv_vnet_from_pkt(p, &h));
	p->gso_type = PKT_GSO_TCPV4;
	uint8_t bad = 0x40;
	assert_true(pkt_copy_in(p, 34 + 12, &bad, 1));
	assert_false(drv_vnet_from_pkt(p, &h));
	pkt_free(p);
	assert_no_leak();
}

/* --- checksum location -------------------------------------------------------- */
static void test_csum_locate(void **state)
{
	(void)state;
	uint8_t f[200];
	uint16_t start, off;

	size_t len = udp4_frame(f, 10, 0, 0);
	assert_true(drv_csum_locate(f, (uint32_t)len, &start, &off));
	assert_int_equal(start, 34);
	assert_int_equal(off, 6);

	/* TCP with IP options (IHL 6). */
	memset(f, 0, sizeof(f));
	f[12] = 0x08;
	f[14] = 0x46;
	f[23] = 6;
	assert_true(drv_csum_locate(f, 14 + 24 + 20, &start, &off));
	assert_int_equal(start, 38);
	assert_int_equal(off, 16);
	assert_false(drv_csum_locate(f, 14 + 24 + 17, &start, &off));   /* cut short */

	/* 802.1Q tag in front of IPv4/UDP. */
	memset(f, 0, sizeof(f));
	f[12] = 0x81;
	f[16] = 0x08;
	f[18] = 0x45;
	f[27] = 17;
	assert_true(drv_csum_locate(f, 18 + 20 + 8, &start, &off));
	assert_int_equal(start, 38);
	assert_int_equal(off, 6);

	/* IPv6, hop-by-hop options (8 bytes), then UDP. */
	memset(f, 0, sizeof(f));
	f[12] = 0x86;
	f[13] = 0xdd;
	f[14] = 0x60;
	f[20] = 0;        /* next header: hop-by-hop */
	f[54] = 17;       /* its next header: UDP */
	f[55] = 0;        /* length (0 + 1) * 8 */
	assert_true(drv_csum_locate(f, 14 + 40 + 8 + 8, &start, &off));
	assert_int_equal(start, 62);
	assert_int_equal(off, 6);

	/* ARP, ICMP and runts are not checksum-offloadable frames. */
	memset(f, 0, sizeof(f));
	f[12] = 0x08;
	f[13] = 0x06;
	assert_false(drv_csum_locate(f, 60, &start, &off));
	len = udp4_frame(f, 10, 0, 0);
	f[23] = 1;
	assert_false(drv_csum_locate(f, (uint32_t)len, &start, &off));
	assert_false(drv_csum_locate(f, 10, &start, &off));
}

/* drv_csum_finish writes the same checksum a full computation gives. */
static void test_csum_finish(void **state)
{
	(void)state;
	uint8_t f[200];
	size_t len = udp4_frame(f, 33, 0, 5);
	/* The finished checksum: over the pseudo-header and the UDP datagram. */
	uint32_t sum = csum_add(0, f + 26, 8);         /* addresses */
	uint8_t ph[4] = {0, 17, f[38], f[39]};
	sum = csum_add(sum, ph, 4);
	uint16_t pseudo = (uint16_t)~csum_fold(sum);    /* what Linux leaves */
	sum = csum_add(sum, f + 34, len - 34);
	uint16_t want = csum_fold(sum);

	udp4_frame(f, 33, pseudo, 5);
	struct pkt *p = pkt_from_bytes(pool, f, len);
	assert_non_null(p);
	p->csum = PKT_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 6;
	assert_true(drv_csum_finish(&p));
	assert_int_equal(p->csum, PKT_CSUM_NONE);
	uint8_t got[2];
	assert_true(pkt_copy_out(p, 40, got, 2));
	assert_int_equal((got[0] << 8 | got[1]), want ? want : 0xffff);
	pkt_free(p);
	assert_no_leak();
}

/* --- pcap -------------------------------------------------------------------------- */
static void test_pcap_reader_counts(void **state)
{
	(void)state;
	char in[128];
	tmpname(in, sizeof(in), "rd");
	write_capture(in, 25);
	struct drv_pcap_config cfg = {.name = "pcrd0", .in_path = in};
	struct ng_iface *ifp;
	assert_int_equal(drv_pcap_open(&cfg, pool, NULL, &ifp), DRV_OK);
	struct exec_poller *pl = drv_poller(ifp);
	assert_int_equal(pl->wait_handle, -1);
	assert_false(drv_pcap_eof(ifp));
	/* Budget is honoured: 10, 10, 5, then nothing. */
	assert_int_equal(pl->poll(pl->ctx, 10), 10);
	assert_int_equal(pl->poll(pl->ctx, 10), 10);
	assert_int_equal(pl->poll(pl->ctx, 10), 5);
	assert_int_equal(pl->poll(pl->ctx, 10), 0);
	assert_true(drv_pcap_eof(ifp));
	assert_int_equal(ifp->stats.rx_packets, 25);
	struct drv_pcap_stats st;
	drv_pcap_stats(ifp, &st);
	assert_int_equal(st.rx_frames, 25);
	drv_close(ifp);
	unlink(in);
	assert_no_leak();
}

/* Frames sent to a pcap interface land in the file, byte for byte, with a
 * chained packet linearised and a partial checksum finished. */
static void test_pcap_writer(void **state)
{
	(void)state;
	char out[128];
	tmpname(out, sizeof(out), "wr");
	struct drv_pcap_config cfg = {.name = "pcwr0", .out_path = out, .ts = DRV_PCAP_TS_NOW};
	struct ng_iface *ifp;
	assert_int_equal(drv_pcap_open(&cfg, pool, NULL, &ifp), DRV_OK);
	assert_false(ifp->tx_csum_offload);
	static uint8_t big[5000];
	uint8_t small[100];
	size_t slen = udp4_frame(small, 50, 0xabcd, 9);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	struct pkt *p = pkt_from_bytes(pool, small, slen);
	assert_int_equal(ifp->ops->xmit(ifp, p), 0);
	p = pkt_from_bytes(pool, big, sizeof(big));   /* chained: 3 buffers */
	assert_true(pkt_segments(p) > 1);
	assert_int_equal(ifp->ops->xmit(ifp, p), 0);
	drv_close(ifp);

	char err[PCAP_ERRBUF_SIZE];
	pcap_t *rd = pcap_open_offline(out, err);
	assert_non_null(rd);
	struct pcap_pkthdr *h;
	const u_char *data;
	assert_int_equal(pcap_next_ex(rd, &h, &data), 1);
	assert_int_equal(h->caplen, slen);
	assert_memory_equal(data, small, slen);
	assert_int_equal(pcap_next_ex(rd, &h, &data), 1);
	assert_int_equal(h->caplen, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	assert_int_equal(pcap_next_ex(rd, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(rd);
	unlink(out);
	assert_no_leak();
}

/* Without an output, xmit still consumes the packet: it drops and counts. */
static void test_pcap_xmit_without_output_drops(void **state)
{
	(void)state;
	struct drv_pcap_config cfg = {.name = "pcnul0"};
	struct ng_iface *ifp;
	assert_int_equal(drv_pcap_open(&cfg, pool, NULL, &ifp), DRV_OK);
	assert_true(drv_pcap_eof(ifp));
	uint8_t f[100];
	struct pkt *p = pkt_from_bytes(pool, f, udp4_frame(f, 10, 0, 0));
	assert_int_equal(ifp->ops->xmit(ifp, p), -1);
	assert_int_equal(ifp->stats.tx_drops, 1);
	drv_close(ifp);
	assert_no_leak();
}

static void test_pcap_bad_config(void **state)
{
	(void)state;
	struct ng_iface *ifp = (struct ng_iface *)1;
	struct drv_pcap_config cfg = {.name = "pcbad0", .in_path = "/nonexistent/x.pcap"};
	assert_int_equal(drv_pcap_open(&cfg, pool, NULL, &ifp), DRV_ENODEV);
	assert_null(ifp);
	cfg = (struct drv_pcap_config){.in_path = "/nonexistent/x.pcap"};
	assert_int_equal(drv_pcap_open(&cfg, pool, NULL, &ifp), DRV_EINVAL);  /* no name */
	cfg = (struct drv_pcap_config){.name = "pcbad0", .in_path = "a", .live_ifname = "b"};
	assert_int_equal(drv_pcap_open(&cfg, pool, NULL, &ifp), DRV_EINVAL);
	assert_no_leak();
}

/* --- replay ------------------------------------------------------------------------ */
static void test_replay_loops_exactly(void **state)
{
	(void)state;
	char in[128];
	tmpname(in, sizeof(in), "rp");
	write_capture(in, 7);
	struct drv_replay_config cfg = {.name = "rp0", .path = in, .loops = 5};
	struct ng_iface *ifp;
	assert_int_equal(drv_replay_open(&cfg, pool, NULL, &ifp), DRV_OK);
	struct exec_poller *pl = drv_poller(ifp);
	assert_int_equal(pl->wait_handle, -1);
	/* A budget of 3 does not divide 7: the wrap happens mid-poll. */
	int total = 0, n;
	while ((n = pl->poll(pl->ctx, 3)) > 0) {
		assert_true(n <= 3);
		total += n;
		assert_true(total <= 35);
	}
	assert_int_equal(total, 35);
	assert_true(drv_replay_done(ifp));
	assert_int_equal(pl->poll(pl->ctx, 64), 0);
	struct drv_replay_stats st;
	drv_replay_stats(ifp, &st);
	assert_int_equal(st.frames_per_loop, 7);
	assert_int_equal(st.fed, 35);
	assert_int_equal(st.loops_done, 5);
	assert_int_equal(ifp->stats.rx_packets, 35);
	drv_close(ifp);
	unlink(in);
	assert_no_leak();
}

/* An empty pool stops the replay without losing or skipping a frame: the
 * same frame is fed once buffers come back. */
static void test_replay_empty_pool(void **state)
{
	(void)state;
	char in[128];
	tmpname(in, sizeof(in), "rps");
	write_capture(in, 4);
	struct pkt_pool *tiny = pkt_pool_new("tiny", 2, PKT_BUF_DEFAULT);
	assert_non_null(tiny);
	struct drv_replay_config cfg = {.name = "rp1", .path = in, .loops = 3};
	struct ng_iface *ifp;
	assert_int_equal(drv_replay_open(&cfg, tiny, NULL, &ifp), DRV_OK);
	struct exec_poller *pl = drv_poller(ifp);
	assert_int_equal(pl->poll(pl->ctx, 5), 5);
	struct pkt *hold[2];
	for (int i = 0; i < 2; i++)
		hold[i] = pkt_alloc(tiny);
	assert_non_null(hold[0]);
	assert_non_null(hold[1]);
	assert_int_equal(pl->poll(pl->ctx, 64), 0);
	assert_int_equal(pl->poll(pl->ctx, 64), 0);
	struct drv_replay_stats st;
	drv_replay_stats(ifp, &st);
	assert_int_equal(st.nobuf, 2);
	assert_int_equal(st.fed, 5);
	assert_false(drv_replay_done(ifp));
	pkt_free(hold[0]);
	pkt_free(hold[1]);
	assert_int_equal(pl->poll(pl->ctx, 64), 7);
	assert_true(drv_replay_done(ifp));
	drv_replay_stats(ifp, &st);
	assert_int_equal(st.fed, 12);
	assert_int_equal(st.loops_done, 3);
	assert_int_equal(ifp->stats.rx_packets, 12);
	drv_close(ifp);
	unlink(in);
	assert_int_equal(pkt_pool_free(tiny), 0);
}

static void test_replay_bad_config(void **state)
{
	(void)state;
	char in[128];
	tmpname(in, sizeof(in), "rpb");
	write_capture(in, 2);
	struct ng_iface *ifp;
	struct drv_replay_config cfg = {.name = "rpb0", .path = in, .loops = 0};
	assert_int_equal(drv_replay_open(&cfg, pool, NULL, &ifp), DRV_EINVAL);  /* unbounded */
	assert_null(ifp);
	cfg.loops = 1;
	cfg.path = "/nonexistent.pcap";
	assert_int_equal(drv_replay_open(&cfg, pool, NULL, &ifp), DRV_ENODEV);
	/* A capture of another link type is refused. */
	pcap_t *dead = pcap_open_dead(DLT_RAW, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, in);
	pcap_dump_close(d);
	pcap_close(dead);
	cfg.path = in;
	assert_int_equal(drv_replay_open(&cfg, pool, NULL, &ifp), DRV_EINVAL);
	unlink(in);
}

/* --- through the graph ----------------------------------------------------------------- */
/* Link.PacketArrived handlers: one sends every frame back out of the
 * interface it came in on, one counts and frees. */
static uint64_t handled;

static void pass_back(void *closure, struct pkt *p)
{
	(void)closure;
	handled++;
	ng_iface_send(p);
}

static void count_and_free(void *closure, struct pkt *p)
{
	(void)closure;
	handled++;
	pkt_free(p);
}

static struct disp_binding *bind_link(Link_PacketArrived_handler_t fn)
{
	struct Link_PacketArrived_spec spec = {.handler = fn, .desc = "drivers test"};
	struct disp_binding *b = NULL;
	assert_int_equal(Link_PacketArrived_install(&drvtest_module, &spec, &b), DISP_OK);
	handled = 0;
	return b;
}

static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	while (same) {
		int ca = fgetc(fa), cb = fgetc(fb);
		if (ca != cb)
			same = false;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* pcap in, graph pass-through, pcap out: the output file is the input file,
 * byte for byte (header, timestamps, frames). */
static void test_pcap_roundtrip_identical(void **state)
{
	(void)state;
	char in[128], out[128];
	tmpname(in, sizeof(in), "rtin");
	tmpname(out, sizeof(out), "rtout");
	write_capture(in, 31);
	struct disp_binding *b = bind_link(pass_back);
	struct drv_pcap_config cfg = {.name = "pcrt0", .in_path = in, .out_path = out};
	struct ng_iface *ifp;
	assert_int_equal(drv_pcap_open(&cfg, pool, NULL, &ifp), DRV_OK);
	struct exec_poller *pl = drv_poller(ifp);
	for (int i = 0; i < 100 && !drv_pcap_eof(ifp); i++)
		pl->poll(pl->ctx, 8);
	assert_true(drv_pcap_eof(ifp));
	assert_int_equal(handled, 31);
	assert_int_equal(ifp->stats.tx_packets, 31);
	drv_close(ifp);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	assert_true(same_file(in, out));
	unlink(in);
	unlink(out);
	assert_no_leak();
}

/* The replay device on a run loop: every frame reaches the Link.PacketArrived
 * handler, exactly loops x frames, and then the device goes quiet. */
static void test_replay_on_loop_counted_by_handler(void **state)
{
	(void)state;
	char in[128];
	tmpname(in, sizeof(in), "rpl");
	write_capture(in, 9);
	struct disp_binding *b = bind_link(count_and_free);
	struct exec_loop *l = exec_loop_new("drvtest", EXEC_BLOCKING);
	assert_non_null(l);
	struct drv_replay_config cfg = {.name = "rpl0", .path = in, .loops = 11};
	struct ng_iface *ifp;
	assert_int_equal(drv_replay_open(&cfg, pool, l, &ifp), DRV_OK);
	for (int i = 0; i < 1000 && !drv_replay_done(ifp); i++)
		exec_loop_run_once(l, 0);
	assert_true(drv_replay_done(ifp));
	assert_int_equal(handled, 99);
	exec_loop_run_once(l, 0);
	assert_int_equal(handled, 99);
	drv_close(ifp);
	exec_loop_detach(l);
	exec_loop_free(l);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	unlink(in);
	assert_no_leak();
}

/* --- TAP and AF_PACKET: what can be checked without a network -------------------- */
static void test_tap_afp_bad_config(void **state)
{
	(void)state;
	struct ng_iface *ifp = (struct ng_iface *)1;
	struct drv_tap_config tc = {0};
	assert_int_equal(drv_tap_open(&tc, pool, NULL, &ifp), DRV_EINVAL);
	assert_null(ifp);
	tc.ifname = "a-name-much-too-long-for-linux";
	assert_int_equal(drv_tap_open(&tc, pool, NULL, &ifp), DRV_EINVAL);
	tc.ifname = "tap0";
	assert_int_equal(drv_tap_open(&tc, NULL, NULL, &ifp), DRV_EINVAL);
	/* TSO needs checksum offload. */
	tc.tso = tc.sw_csum = true;
	assert_int_equal(drv_tap_open(&tc, pool, NULL, &ifp), DRV_EINVAL);

	struct drv_afp_config ac = {0};
	assert_int_equal(drv_afp_open(&ac, pool, NULL, &ifp), DRV_EINVAL);
	ac.ifname = "spin-no-such-if";
	assert_int_equal(drv_afp_open(&ac, pool, NULL, &ifp), DRV_ENODEV);
	ac.mode = (enum drv_afp_mode)7;
	assert_int_equal(drv_afp_open(&ac, pool, NULL, &ifp), DRV_EINVAL);
	/* TSO needs checksum offload and the latency ring. */
	ac.ifname = "lo";
	ac.mode = DRV_AFP_CAPTURE;
	ac.tso = true;
	assert_int_equal(drv_afp_open(&ac, pool, NULL, &ifp), DRV_EINVAL);
	ac.mode = DRV_AFP_LATENCY;
	ac.sw_csum = true;
	assert_int_equal(drv_afp_open(&ac, pool, NULL, &ifp), DRV_EINVAL);
	assert_string_equal(drv_strerror(DRV_ENODEV), "no such device or file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vnet_needs_csum),
	    cmocka_unit_test(test_vnet_data_valid_and_none),
	    cmocka_unit_test(test_vnet_bad_offsets),
	    cmocka_unit_test(test_vnet_gso_in),
	    cmocka_unit_test(test_vnet_gso_out),
	    cmocka_unit_test(test_csum_locate),
	    cmocka_unit_test(test_csum_finish),
	    cmocka_unit_test(test_pcap_reader_counts),
	    cmocka_unit_test(test_pcap_writer),
	    cmocka_unit_test(test_pcap_xmit_without_output_drops),
	    cmocka_unit_test(test_pcap_bad_config),
	    cmocka_unit_test(test_replay_loops_exactly),
	    cmocka_unit_test(test_replay_empty_pool),
	    cmocka_unit_test(test_replay_bad_config),
	    cmocka_unit_test(test_pcap_roundtrip_identical),
	    cmocka_unit_test(test_replay_on_loop_counted_by_handler),
	    cmocka_unit_test(test_tap_afp_bad_config),
	};
	return cmocka_run_group_tests_name("drivers", tests, setup, teardown);
}
