/*
 * tcp_connrate.c - connections per second against one listener, one after
 * the other: connect, send 1 byte, read the 1-byte echo, close (the client
 * closes first, so TIME_WAIT stays on the client; the harness sets
 * net.ipv4.tcp_tw_reuse=1 in the client's namespace so ports come back).
 * The same client runs against spin's tcp-echo and against the Linux
 * listener (tcp_echo_linux); perf/tcp/tcp_bench.py compares the two.
 *
 * Each connection must complete within --timeout-ms; one that does not (or
 * echoes the wrong byte) counts as failed.  Pins itself to --cpu.
 * Output: {"n":..,"ok":..,"failed":..,"seconds":..,"per_s":..,
 *          "p50_us":..,"p99_us":..} (per-connection time, connect to close).
 * Exit status 0 when every connection completed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One connection; returns 0 when the byte came back. */
static int one(const struct sockaddr_in *da, char c, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, rc = -1;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	char r;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (const struct sockaddr *)da, sizeof *da) == 0 &&
	    send(fd, &c, 1, MSG_NOSIGNAL) == 1 && recv(fd, &r, 1, 0) == 1 && r == c)
		rc = 0;
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dst = NULL;
	int port = 0, cpu = -1, timeout_ms = 2000;
	long count = 2000;
	static const struct option opts[] = {
		{"dst", required_argument, 0, 'd'}, {"port", required_argument, 0, 'p'},
		{"count", required_argument, 0, 'n'}, {"cpu", required_argument, 0, 'c'},
		{"timeout-ms", required_argument, 0, 't'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dst = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		default: goto usage;
		}
	}
	struct sockaddr_in da = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (!dst || port <= 0 || port > 65535 || count < 1 || timeout_ms < 1 ||
	    inet_pton(AF_INET, dst, &da.sin_addr) != 1)
		goto usage;
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			perror("tcp_connrate: sched_setaffinity");
			return 2;
		}
	}
	uint64_t *t = calloc((size_t)count, sizeof *t);
	if (!t)
		return 2;
	long ok = 0, failed = 0;
	uint64_t start = now_ns();
	for (long i = 0; i < count; i++) {
		uint64_t t0 = now_ns();
		if (one(&da, (char)('a' + i % 26), timeout_ms) == 0)
			t[ok++] = now_ns() - t0;
		else
			failed++;
	}
	double secs = (double)(now_ns() - start) / 1e9;
	qsort(t, (size_t)ok, sizeof *t, cmp_u64);
	printf("{\"n\":%ld,\"ok\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"per_s\":%.1f,"
	       "\"p50_us\":%.1f,\"p99_us\":%.1f}\n", count, ok, failed, secs,
	       (double)ok / secs, ok ? (double)t[ok / 2] / 1e3 : 0.0,
	       ok ? (double)t[(size_t)((double)ok * 0.99)] / 1e3 : 0.0);
	free(t);
	return failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: tcp_connrate --dst IPV4 --port N [--count N] [--cpu N] "
		"[--timeout-ms N]\n");
	return 2;
}
