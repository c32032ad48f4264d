/*
 * rr.c - the latency lab's UDP request/response client.
 *
 * One request is outstanding at a time (a closed loop: this under-reports
 * tail latency under load, PERF-NOTES rule 4; here there is no other load,
 * so the loop measures the path itself).  Each request is 16 bytes: a magic
 * word, then the 64-bit sequence number.  A reply counts only if it carries
 * the sequence number of the request in flight; any other reply is stale (an
 * earlier request answered after its timeout) or a duplicate (a request that
 * was already answered), is counted as such and discarded.  A request with no
 * reply within --timeout-ms is counted lost and the next one goes out.
 *
 * Modes: "block" waits in recv() (the thread sleeps, the kernel wakes it);
 * "busy" spins on recv(MSG_DONTWAIT) and never sleeps.
 *
 * The client pins itself to --cpu with sched_setaffinity before the first
 * packet and reports the CPU it ran on.  Time is CLOCK_MONOTONIC (vDSO, about
 * 20 ns a read), taken just before send() and just after the reply's recv().
 *
 * Paced mode (--rate R, requests per second): an open loop instead.  Request
 * k is due at start + k/R and goes out when due, whether or not earlier ones
 * were answered; its latency is measured from the time it was due (not the
 * time it went out), so a stall delays the requests queued behind it and
 * shows in the tail instead of being hidden (coordinated omission, PERF-NOTES
 * rule 4).  Replies are matched by sequence number; duplicates are counted
 * and discarded; requests unanswered --timeout-ms after the last one went out
 * are lost.  "block" waits in ppoll() until the next request is due or a
 * reply arrives; "busy" spins.
 *
 * TCP mode (--tcp): the same 16-byte requests on one TCP connection
 * (TCP_NODELAY), one outstanding, closed loop only.  A byte stream has no
 * message boundaries, so the reply is read until exactly 16 bytes have
 * arrived (exact byte accounting: a short read is continued, never
 * mistaken for a reply) and then checked like a datagram.  TCP does not
 * lose requests, so a reply missing after --timeout-ms is a failure (exit
 * 1), not a loss.  "block" waits in recv() with SO_RCVTIMEO; "busy" spins
 * on recv(MSG_DONTWAIT).
 *
 * Output: one JSON object on stdout, times in microseconds:
 *   {"mode":"busy","cpu":0,"n":10000,"warmup":1000,"p50_us":..,"p90_us":..,
 *    "p99_us":..,"p999_us":..,"max_us":..,"min_us":..,"mean_us":..,
 *    "lost":0,"stale":0,"dup":0,"bad":0}
 * Exit status 0 when at least 99% of the measured requests were answered,
 * 1 otherwise, 2 on bad usage or a socket error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RR_MAGIC 0x5350494e52523136ull /* "SPINRR16" */
#define RR_PAYLOAD 16

struct rr_msg {
	uint64_t magic;
	uint64_t seq;
};

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

/* Nearest-rank percentile of a sorted array. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

static void print_result(const char *mode, double rate, long warmup, uint64_t *rtt, size_t n,
			 uint64_t lost, uint64_t stale, uint64_t dup, uint64_t bad)
{
	int ran_on = sched_getcpu();
	if (n == 0) {
		printf("{\"mode\":\"%s\",\"rate\":%.0f,\"cpu\":%d,\"n\":0,\"lost\":%llu,"
		       "\"stale\":%llu,\"dup\":%llu,\"bad\":%llu}\n",
		       mode, rate, ran_on, (unsigned long long)lost, (unsigned long long)stale,
		       (unsigned long long)dup, (unsigned long long)bad);
		return;
	}
	qsort(rtt, n, sizeof *rtt, cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)rtt[i];
	printf("{\"mode\":\"%s\",\"rate\":%.0f,\"cpu\":%d,\"n\":%zu,\"warmup\":%ld,"
	       "\"p50_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,"
	       "\"max_us\":%.3f,\"min_us\":%.3f,\"mean_us\":%.3f,"
	       "\"lost\":%llu,\"stale\":%llu,\"dup\":%llu,\"bad\":%llu}\n",
	       mode, rate, ran_on, n, warmup,
	       pct_us(rtt, n, 50), pct_us(rtt, n, 90), pct_us(rtt, n, 99), pct_us(rtt, n, 99.9),
	       (double)rtt[n - 1] / 1000.0, (double)rtt[0] / 1000.0, sum / (double)n / 1000.0,
	       (unsigned long long)lost, (unsigned long long)stale, (unsigned long long)dup,
	       (unsigned long long)bad);
}

/* The open loop of --rate; returns the exit status. */
static int paced(int fd, bool busy, double rate, long warmup, long count, int timeout_ms)
{
	long total = warmup + count;
	uint64_t period = (uint64_t)(1e9 / rate);
	uint64_t *rtt = calloc((size_t)count, sizeof *rtt);
	uint8_t *done = calloc((size_t)total / 8 + 1, 1);
	if (!rtt || !done) {
		perror("rr: calloc");
		return 2;
	}
	uint64_t dup = 0, bad = 0, answered = 0;
	size_t n = 0;
	uint64_t start = now_ns() + 1000000;
	uint64_t last_due = start + (uint64_t)(total - 1) * period;
	uint64_t deadline = last_due + (uint64_t)timeout_ms * 1000000ull;
	long next = 0;
	for (;;) {
		uint64_t t = now_ns();
		if (next < total && t >= start + (uint64_t)next * period) {
			struct rr_msg req = {.magic = RR_MAGIC, .seq = (uint64_t)next};
			if (send(fd, &req, sizeof req, 0) != (ssize_t)sizeof req && errno != ENOBUFS &&
			    errno != EAGAIN && errno != ECONNREFUSED) {
				perror("rr: send");
				return 2;
			}
			next++;
			continue;
		}
		if ((next >= total && answered >= (uint64_t)total) || t > deadline)
			break;
		if (!busy) {
			uint64_t until = next < total ? start + (uint64_t)next * period : deadline;
			uint64_t wait = until > t ? until - t : 0;
			struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
					      .tv_nsec = (long)(wait % 1000000000ull)};
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (ppoll(&pfd, 1, &ts, NULL) <= 0)
				continue;
		}
		struct rr_msg rep;
		ssize_t r = recv(fd, &rep, sizeof rep, MSG_DONTWAIT);
		uint64_t t1 = now_ns();
		if (r < 0)
			continue;
		if (r != RR_PAYLOAD || rep.magic != RR_MAGIC || rep.seq >= (uint64_t)next) {
			bad++;
			continue;
		}
		if (done[rep.seq / 8] & (1u << (rep.seq % 8))) {
			dup++;
			continue;
		}
		done[rep.seq / 8] |= (uint8_t)(1u << (rep.seq % 8));
		answered++;
		if (rep.seq >= (uint64_t)warmup)
			rtt[n++] = t1 - (start + rep.seq * period);
	}
	uint64_t lost = (uint64_t)count - n;
	print_result(busy ? "busy" : "block", rate, warmup, rtt, n, lost, 0, dup, bad);
	free(rtt);
	free(done);
	return n * 100 >= (size_t)count * 99 ? 0 : 1;
}

/* Reads exactly n bytes (TCP); returns n, 0 at EOF, -1 on error or when
 * timeout_ns passed since t0. */
static ssize_t read_exact(int fd, void *buf, size_t n, bool busy, uint64_t t0,
			  uint64_t timeout_ns)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, (char *)buf + got, n - got, busy ? MSG_DONTWAIT : 0);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (now_ns() - t0 >= timeout_ns)
			return -1;
	}
	return (ssize_t)n;
}

/* The closed loop of --tcp; returns the exit status. */
static int tcp_loop(int fd, bool busy, long warmup, long count, int timeout_ms)
{
	long total = warmup + count;
	uint64_t *rtt = calloc((size_t)count, sizeof *rtt);
	uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull, bad = 0;
	size_t n = 0;

	if (!rtt) {
		perror("rr: calloc");
		return 2;
	}
	for (long seq = 0; seq < total; seq++) {
		struct rr_msg req = {.magic = RR_MAGIC, .seq = (uint64_t)seq}, rep;
		uint64_t t0 = now_ns();

		if (send(fd, &req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
			perror("rr: send");
			break;
		}
		if (read_exact(fd, &rep, sizeof rep, busy, t0, timeout_ns) != (ssize_t)sizeof rep) {
			fprintf(stderr, "rr: no reply to request %ld (timeout, EOF or error)\n", seq);
			break;
		}
		uint64_t t1 = now_ns();
		if (rep.magic != RR_MAGIC || rep.seq != (uint64_t)seq) {
			/* The stream is out of step: nothing after this can be
			 * matched, so stop. */
			bad++;
			break;
		}
		if (seq >= warmup)
			rtt[n++] = t1 - t0;
	}
	print_result(busy ? "busy" : "block", 0, warmup, rtt, n, (uint64_t)count - n, 0, 0, bad);
	free(rtt);
	return n == (size_t)count ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rr --dst IPV4 --port N [--src IPV4] [--sport N] [--count N]\n"
		"          [--warmup N] [--mode block|busy] [--cpu N] [--timeout-ms N]\n"
		"          [--rate REQ_PER_S] [--tcp]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dst = NULL, *src = NULL;
	int port = 0, sport = 0, cpu = -1, timeout_ms = 200;
	long count = 10000, warmup = 1000;
	bool busy = false, tcp = false;
	double rate = 0;
	static const struct option opts[] = {
		{"dst", required_argument, 0, 'd'}, {"port", required_argument, 0, 'p'},
		{"src", required_argument, 0, 's'}, {"sport", required_argument, 0, 'S'},
		{"count", required_argument, 0, 'n'}, {"warmup", required_argument, 0, 'w'},
		{"mode", required_argument, 0, 'm'}, {"cpu", required_argument, 0, 'c'},
		{"timeout-ms", required_argument, 0, 't'}, {"rate", required_argument, 0, 'r'},
		{"tcp", no_argument, 0, 'T'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dst = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's': src = optarg; break;
		case 'S': sport = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'w': warmup = atol(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'T': tcp = true; break;
		case 'm':
			if (strcmp(optarg, "busy") == 0)
				busy = true;
			else if (strcmp(optarg, "block") != 0)
				usage();
			break;
		default: usage();
		}
	}
	if (!dst || port <= 0 || port > 65535 || count < 1 || warmup < 0 || timeout_ms < 1 ||
	    rate < 0 || rate > 1e7 || (tcp && rate > 0))
		usage();

	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			perror("rr: sched_setaffinity");
			return 2;
		}
	}

	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("rr: socket");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sport)};
	if (src && inet_pton(AF_INET, src, &sa.sin_addr) != 1)
		usage();
	if ((src || sport) && bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("rr: bind");
		return 2;
	}
	struct sockaddr_in da = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, dst, &da.sin_addr) != 1)
		usage();
	if (connect(fd, (struct sockaddr *)&da, sizeof da) != 0) {
		perror("rr: connect");
		return 2;
	}
	if (tcp) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (!busy) {
			struct timeval tv = {.tv_sec = timeout_ms / 1000,
					     .tv_usec = (timeout_ms % 1000) * 1000};
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		}
		int rc = tcp_loop(fd, busy, warmup, count, timeout_ms);
		close(fd);
		return rc;
	}
	if (rate > 0)
		return paced(fd, busy, rate, warmup, count, timeout_ms);
	if (!busy) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
				     .tv_usec = (timeout_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}

	long total = warmup + count;
	uint64_t *rtt = calloc((size_t)count, sizeof *rtt);
	/* One bit per sequence number: answered already (duplicate detection). */
	uint8_t *done = calloc((size_t)total / 8 + 1, 1);
	if (!rtt || !done) {
		perror("rr: calloc");
		return 2;
	}
	uint64_t lost = 0, stale = 0, dup = 0, bad = 0;
	size_t n = 0;
	uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull;

	for (long seq = 0; seq < total; seq++) {
		struct rr_msg req = {.magic = RR_MAGIC, .seq = (uint64_t)seq};
		uint64_t t0 = now_ns();
		if (send(fd, &req, sizeof req, 0) != (ssize_t)sizeof req) {
			perror("rr: send");
			return 2;
		}
		for (;;) {
			struct rr_msg rep;
			ssize_t r = recv(fd, &rep, sizeof rep, busy ? MSG_DONTWAIT : 0);
			uint64_t t1 = now_ns();
			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* ECONNREFUSED: an ICMP port unreachable came back. */
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED) {
					perror("rr: recv");
					return 2;
				}
				if (t1 - t0 >= timeout_ns) {
					if (seq >= warmup)
						lost++;
					break;
				}
				continue;
			}
			if (r != RR_PAYLOAD || rep.magic != RR_MAGIC || rep.seq >= (uint64_t)total) {
				bad++;
				continue;
			}
			if (done[rep.seq / 8] & (1u << (rep.seq % 8))) {
				dup++;
				continue;
			}
			done[rep.seq / 8] |= (uint8_t)(1u << (rep.seq % 8));
			if (rep.seq != (uint64_t)seq) {
				stale++;
				continue;
			}
			if (seq >= warmup)
				rtt[n++] = t1 - t0;
			break;
		}
	}

	print_result(busy ? "busy" : "block", 0, warmup, rtt, n, lost, stale, dup, bad);
	free(rtt);
	free(done);
	close(fd);
	return n * 100 >= (size_t)count * 99 ? 0 : 1;
}
