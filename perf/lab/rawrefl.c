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

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	int cpu = -1, port = 0;
	double seconds = 60;
	bool busy = false;
	static const struct option opts[] = {
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
		default:
			fprintf(stderr, "usage: rawrefl --iface IF [--port N] [--cpu N] "
					"[--mode block|busy] [--seconds S]\n");
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
	printf("READY {\"mode\":\"%s\",\"cpu\":%d,\"iface\":\"%s\"}\n", busy ? "busy" : "block",
	       sched_getcpu(), ifname);
	fflush(stdout);

	double end = now_s() + seconds;
	uint64_t reflected = 0, ignored = 0, csum_partial = 0, tx_err = 0, spins = 0;
	unsigned idx = 0;
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
		if (reflect(f, h->tp_snaplen, (uint16_t)port)) {
			if (send(fd, f, h->tp_snaplen, 0) == (ssize_t)h->tp_snaplen)
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
