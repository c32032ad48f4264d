/*
 * udp_echo_linux.c - the Linux kernel UDP echo: the latency lab's "monolithic
 * kernel" row.  Every datagram received on --port goes back to its sender
 * unchanged, through the kernel's own UDP/IP stack.
 *
 * Modes: "block" sleeps in recvfrom(); "busy" spins on recvfrom(MSG_DONTWAIT)
 * and never sleeps.  The process pins itself to --cpu, prints
 * "READY {json}" once the socket is bound, and exits after --seconds (a hard
 * bound on its lifetime, checked in busy mode on every empty poll and in block
 * mode through a 100 ms receive timeout) or on SIGTERM/SIGINT, printing
 * "DONE {json}" with its counts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	const char *addr = "0.0.0.0";
	int port = 0, cpu = -1;
	double seconds = 60;
	bool busy = false;
	static const struct option opts[] = {
		{"addr", required_argument, 0, 'a'}, {"port", required_argument, 0, 'p'},
		{"cpu", required_argument, 0, 'c'}, {"mode", required_argument, 0, 'm'},
		{"seconds", required_argument, 0, 's'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'm': busy = strcmp(optarg, "busy") == 0; break;
		default:
			fprintf(stderr, "usage: udp_echo_linux --port N [--addr IPV4] [--cpu N] "
					"[--mode block|busy] [--seconds S]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || seconds <= 0) {
		fprintf(stderr, "udp_echo_linux: bad --port or --seconds\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			perror("udp_echo_linux: sched_setaffinity");
			return 2;
		}
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (fd < 0 || inet_pton(AF_INET, addr, &la.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&la, sizeof la) != 0) {
		perror("udp_echo_linux: socket/bind");
		return 2;
	}
	if (!busy) {
		struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	printf("READY {\"mode\":\"%s\",\"cpu\":%d,\"port\":%d}\n", busy ? "busy" : "block",
	       sched_getcpu(), port);
	fflush(stdout);

	double end = now_s() + seconds;
	uint64_t echoed = 0, polls = 0;
	char buf[2048];
	while (!stop) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r = recvfrom(fd, buf, sizeof buf, busy ? MSG_DONTWAIT : 0,
				     (struct sockaddr *)&from, &fl);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				perror("udp_echo_linux: recvfrom");
				return 2;
			}
			/* A clock read per empty poll is cheap next to the syscall. */
			if ((busy && (++polls & 1023) == 0 && now_s() > end) ||
			    (!busy && now_s() > end))
				break;
			continue;
		}
		if (sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl) == r)
			echoed++;
	}
	printf("DONE {\"echoed\":%llu}\n", (unsigned long long)echoed);
	close(fd);
	return 0;
}
