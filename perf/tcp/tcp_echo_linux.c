/*
 * tcp_echo_linux.c - the Linux kernel TCP echo: the TCP lab's "monolithic
 * kernel" row (perf/tcp/tcp_bench.py), for round trips and for accepted
 * connections per second.
 *
 * One connection at a time: accept, echo every byte back until the peer's
 * EOF, close, accept the next.  The benchmark clients are sequential, so
 * this is the same work spin's tcp-echo does for them.  Sockets have
 * TCP_NODELAY, as spin's echo does.
 *
 * Modes: "block" sleeps in accept() and recv(); "busy" makes the sockets
 * non-blocking and spins, never sleeping.  Pins itself to --cpu, prints
 * "READY {json}" once listening, exits after --seconds (checked on every
 * empty poll in busy mode, through 100 ms timeouts in block mode) or on
 * SIGTERM/SIGINT with "DONE {json}" (connections and bytes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
	int port = 0, cpu = -1, one = 1;
	double seconds = 60;
	bool busy = false;
	static const struct option opts[] = {
		{"port", required_argument, 0, 'p'}, {"cpu", required_argument, 0, 'c'},
		{"mode", required_argument, 0, 'm'}, {"seconds", required_argument, 0, 's'},
		{0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'm': busy = strcmp(optarg, "busy") == 0; break;
		default:
			fprintf(stderr, "usage: tcp_echo_linux --port N [--cpu N] "
				"[--mode block|busy] [--seconds S]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535)
		return 2;
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			perror("tcp_echo_linux: sched_setaffinity");
			return 2;
		}
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int ls = socket(AF_INET, SOCK_STREAM | (busy ? SOCK_NONBLOCK : 0), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 128)) {
		perror("tcp_echo_linux: listen");
		return 2;
	}
	struct timeval tv = {.tv_usec = 100000};
	setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	printf("READY {\"port\":%d,\"mode\":\"%s\",\"cpu\":%d}\n", port, busy ? "busy" : "block",
	       sched_getcpu());
	fflush(stdout);

	double end = now_s() + seconds;
	uint64_t conns = 0, bytes = 0;
	char buf[65536];
	while (!stop && now_s() < end) {
		int fd = accept4(ls, NULL, NULL, busy ? SOCK_NONBLOCK : 0);
		if (fd < 0)
			continue;
		conns++;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		while (!stop && now_s() < end) {
			ssize_t r = recv(fd, buf, sizeof buf, 0);
			if (r == 0)
				break;
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					continue;
				break;
			}
			bytes += (uint64_t)r;
			for (ssize_t off = 0; off < r;) {
				ssize_t w = send(fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
				if (w > 0)
					off += w;
				else if (w < 0 && errno != EAGAIN && errno != EINTR)
					break;
			}
		}
		close(fd);
	}
	printf("DONE {\"conns\":%llu,\"bytes\":%llu}\n", (unsigned long long)conns,
	       (unsigned long long)bytes);
	return 0;
}
