/*
 * rawrefl.c - a raw AF_PACKET reflector that does no protocol work: the floor
 * of the AF_PACKET I/O path that spin's own driver uses.
 *
 * It owns one interface (kept quiet by the harness: no IPv4 address, IPv6
 * off) through the same I/O path as drivers/afpacket in latency mode: a
 * TPACKET_V2 receive ring (each frame is visible as soon as the kernel writes
 * its slot), PACKET_IGNORE_OUTGOING, PACKET_QDISC_BYPASS, and one send() per
 * frame.  Each IPv4 UDP frame (to --port, if given) has its MAC addresses, IP
 * addresses and UDP ports swapped in place in the ring slot and is sent back;
 * nothing is validated and no checksum is touched (swapping source and
 * destination leaves both the IP and the UDP checksum valid).  Every other
 * frame is released untouched.
 *
 * Checksums: a frame sent by a Linux socket with transmit checksum offload on
 * carries an unfinished UDP checksum (TP_STATUS_CSUMNOTREADY); reflected
 * unchanged, the peer drops it.  The harness turns offload off on the client
 * (ethtool -K IF tx off) for every row; such frames are counted here as
 * "csum_partial" so a misconfigured run shows itself.
 *
 * TCP (--proto tcp): the floor of a TCP answer, for the TCP lab.  A client's
 * TCP does more per round trip than its UDP (sending, acknowledging, the
 * receive path), and that cost is in every TCP row; this reflector answers a
 * TCP client with the least a peer can do, so spin's TCP can be measured
 * against it as well as against the UDP floor.  It keeps no state: a SYN to
 * --port gets a SYN-ACK (initial sequence number 0, window 65535, no MSS,
 * window scale or SACK option; the timestamp option echoed when the SYN had
 * one), a segment with data gets that data back acknowledging all of it
 * (sequence number = the segment's acknowledgement number, so a client with
 * one request outstanding sees an in-order answer), a FIN gets FIN-ACK, and
 * pure ACKs and RSTs are released untouched.  The answer is built in a
 * buffer of its own with both checksums computed; frames whose TCP
 * checksum is unfinished (TP_STATUS_CSUMNOTREADY) are counted as in UDP mode.
 * Nothing else is validated: it serves one well-behaved client at a time.
 *
 * Modes: "block" sleeps in poll() when the ring is empty; "busy" spins on the
 * next slot's status word and never sleeps.  Pins itself to --cpu, prints
 * "READY {json}", exits after --seconds or on SIGTERM/SIGINT with
 * "DONE {json}" (counts and the kernel's PACKET_STATISTICS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_SIZE 2048u
#define FRAME_NR 512u
#define BLOCK_SIZE (FRAME_SIZE * 8u)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

/* Swaps the frame's addresses and ports in place; false if it is not an
 * IPv4 UDP frame to port (0: any). */
static bool reflect(uint8_t *f, uint32_t len, uint16_t port)
{
	if (len < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	uint8_t *ip = f + 14;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4u;
	if (ip[9] != 17 || ihl < 20 || 14 + ihl + 8 > len)
		return false;
	uint8_t *udp = ip + ihl;
	if (port && ((uint16_t)(udp[2] << 8 | udp[3])) != port)
		return false;
	swap_bytes(f, f + 6, 6);
	swap_bytes(ip + 12, ip + 16, 4);
	swap_bytes(udp, udp + 2, 2);
	return true;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The Internet checksum of p[0..n) added to sum (folded, complemented). */
static uint16_t inet_csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The TSval of a segment's timestamp option, if it has one. */
static bool find_tsval(const uint8_t *opt, uint32_t n, uint32_t *tsval)
{
	for (uint32_t i = 0; i < n;) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || opt[i + 1] < 2 || i + opt[i + 1] > n)
			break;
		if (opt[i] == 8 && opt[i + 1] == 10) {
			*tsval = get32(opt + i + 2);
			return true;
		}
		i += opt[i + 1];
	}
	return false;
}

/* The stateless TCP answer to the frame f (see the top of the file) built
 * in out; returns its length, or 0 when f gets no answer. */
static uint32_t tcp_answer(const uint8_t *f, uint32_t len, uint16_t port, uint8_t *out,
			   uint32_t *ts_clock)
{
	if (len < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return 0;
	const uint8_t *ip = f + 14;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4u, tot = (uint32_t)(ip[2] << 8 | ip[3]);
	if (ip[9] != 6 || ihl < 20 || tot < ihl + 20 || 14 + tot > len)
		return 0;
	const uint8_t *t = ip + ihl;
	uint32_t doff = (uint32_t)(t[12] >> 4) * 4u;
	if (doff < 20 || ihl + doff > tot || (port && (uint16_t)(t[2] << 8 | t[3]) != port))
		return 0;
	uint32_t plen = tot - ihl - doff, seq = get32(t + 4), tsval;
	uint8_t flags = t[13], oflags;
	uint32_t oseq = get32(t + 8), oack;
	if (flags & 0x04) /* RST */
		return 0;
	if (flags & 0x02) { /* SYN */
		oseq = 0;
		oack = seq + 1;
		oflags = 0x12;
		plen = 0;
	} else if (flags & 0x01) { /* FIN, with or without data: the data is dropped */
		oack = seq + plen + 1;
		oflags = 0x11;
		plen = 0;
	} else if (plen && (flags & 0x10)) {
		oack = seq + plen;
		oflags = 0x18;
	} else {
		return 0;
	}
	bool ts = find_tsval(t + 20, doff - 20, &tsval);
	uint32_t olen = ts ? 12u : 0u, otot = 20 + 20 + olen + plen;
	if (14 + otot > FRAME_SIZE)
		return 0;
	memcpy(out, f + 6, 6);
	memcpy(out + 6, f, 6);
	out[12] = 0x08;
	out[13] = 0x00;
	uint8_t *oip = out + 14, *ot = oip + 20;
	memset(oip, 0, 20 + 20);
	oip[0] = 0x45;
	oip[2] = (uint8_t)(otot >> 8);
	oip[3] = (uint8_t)otot;
	oip[6] = 0x40; /* DF */
	oip[8] = 64;
	oip[9] = 6;
	memcpy(oip + 12, ip + 16, 4);
	memcpy(oip + 16, ip + 12, 4);
	uint16_t c = inet_csum(oip, 20, 0);
	oip[10] = (uint8_t)(c >> 8);
	oip[11] = (uint8_t)c;
	memcpy(ot, t + 2, 2);
	memcpy(ot + 2, t, 2);
	put32(ot + 4, oseq);
	put32(ot + 8, oack);
	ot[12] = (uint8_t)((20 + olen) / 4 << 4);
	ot[13] = oflags;
	ot[14] = 0xff;
	ot[15] = 0xff;
	if (ts) {
		ot[20] = 1;
		ot[21] = 1;
		ot[22] = 8;
		ot[23] = 10;
		put32(ot + 24, ++*ts_clock);
		put32(ot + 28, tsval);
	}
	memcpy(ot + 20 + olen, t + doff, plen);
	uint32_t pseudo = (uint32_t)(oip[12] << 8 | oip[13]) + (uint32_t)(oip[14] << 8 | oip[15]) +
			  (uint32_t)(oip[16] << 8 | oip[17]) + (uint32_t)(oip[18] << 8 | oip[19]) +
			  6u + 20u + olen + plen;
	c = inet_csum(ot, 20 + olen + plen, pseudo);
	ot[16] = (uint8_t)(c >> 8);
	ot[17] = (uint8_t)c;
	return 14 + otot;
}

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	int cpu = -1, port = 0;
	double seconds = 60;
	bool busy = false, tcp = false;
	static const struct option opts[] = {
		{"proto", required_argument, 0, 'P'},
		{"iface", required_argument, 0, 'i'}, {"port", required_argument, 0, 'p'},
		{"cpu", required_argument, 0, 'c'}, {"mode", required_argument, 0, 'm'},
		{"seconds", required_argument, 0, 's'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i': ifname = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'm': busy = strcmp(optarg, "busy") == 0; break;
		case 'P':
			if (strcmp(optarg, "tcp") != 0 && strcmp(optarg, "udp") != 0) {
				fprintf(stderr, "rawrefl: --proto must be udp or tcp\n");
				return 2;
			}
			tcp = strcmp(optarg, "tcp") == 0;
			break;
		default:
			fprintf(stderr, "usage: rawrefl --iface IF [--proto udp|tcp] [--port N] "
					"[--cpu N] [--mode block|busy] [--seconds S]\n");
			return 2;
		}
	}
	if (!ifname || port < 0 || port > 65535 || seconds <= 0) {
		fprintf(stderr, "rawrefl: --iface is required\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			perror("rawrefl: sched_setaffinity");
			return 2;
		}
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	unsigned ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		perror("rawrefl: if_nametoindex");
		return 2;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("rawrefl: socket");
		return 2;
	}
	int v = TPACKET_V2, one = 1;
	struct tpacket_req req = {.tp_block_size = BLOCK_SIZE,
				  .tp_block_nr = FRAME_NR / (BLOCK_SIZE / FRAME_SIZE),
				  .tp_frame_size = FRAME_SIZE,
				  .tp_frame_nr = FRAME_NR};
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0) {
		perror("rawrefl: setsockopt");
		return 2;
	}
	size_t ring_len = (size_t)req.tp_block_size * req.tp_block_nr;
	uint8_t *ring = mmap(NULL, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		perror("rawrefl: mmap");
		return 2;
	}
	struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				 .sll_ifindex = (int)ifindex};
	if (bind(fd, (struct sockaddr *)&ll, sizeof ll) != 0) {
		perror("rawrefl: bind");
		return 2;
	}
	printf("READY {\"mode\":\"%s\",\"proto\":\"%s\",\"cpu\":%d,\"iface\":\"%s\"}\n",
	       busy ? "busy" : "block", tcp ? "tcp" : "udp", sched_getcpu(), ifname);
	fflush(stdout);

	double end = now_s() + seconds;
	uint64_t reflected = 0, ignored = 0, csum_partial = 0, tx_err = 0, spins = 0;
	unsigned idx = 0;
	uint32_t ts_clock = 0;
	static uint8_t out[FRAME_SIZE];
	while (!stop) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)(ring + (size_t)idx * FRAME_SIZE);
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (!(st & TP_STATUS_USER)) {
			if (busy) {
				if ((++spins & 0xfffff) == 0 && now_s() > end)
					break;
				continue;
			}
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			poll(&pfd, 1, 100);
			if (now_s() > end)
				break;
			continue;
		}
		uint8_t *f = (uint8_t *)h + h->tp_mac;
		if (st & TP_STATUS_CSUMNOTREADY)
			csum_partial++;
		uint32_t olen = 0;
		if (tcp)
			olen = tcp_answer(f, h->tp_snaplen, (uint16_t)port, out, &ts_clock);
		else if (reflect(f, h->tp_snaplen, (uint16_t)port))
			olen = h->tp_snaplen;
		if (olen) {
			if (send(fd, tcp ? out : f, olen, 0) == (ssize_t)olen)
				reflected++;
			else
				tx_err++;
		} else {
			ignored++;
		}
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		idx = (idx + 1) % FRAME_NR;
	}
	struct tpacket_stats ks = {0};
	socklen_t kl = sizeof ks;
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &ks, &kl);
	printf("DONE {\"reflected\":%llu,\"ignored\":%llu,\"csum_partial\":%llu,"
	       "\"tx_err\":%llu,\"kernel_packets\":%u,\"kernel_drops\":%u}\n",
	       (unsigned long long)reflected, (unsigned long long)ignored,
	       (unsigned long long)csum_partial, (unsigned long long)tx_err, ks.tp_packets,
	       ks.tp_drops);
	munmap(ring, ring_len);
	close(fd);
	return 0;
}
