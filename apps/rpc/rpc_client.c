/*
 * rpc_client.c - a user-level RPC client written against libspin: calls
 * procedures by name through the appliance (served by rpc_server in
 * another process, or exported by an extension).
 *
 *   rpc_client SOCKET add A B        prints A+B (computed by rpc_server)
 *   rpc_client SOCKET echo TEXT      prints TEXT back
 *   rpc_client SOCKET time PROC N    N calls of PROC with no arguments;
 *                                    prints the mean round trip in ns
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libspin/spin.h"

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	struct spin *h;
	int err = 0, rc = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: rpc_client SOCKET add A B | echo TEXT | time PROC N\n");
		return 2;
	}
	if (!(h = spin_open(argv[1], SPIN_BLOCKING, "rpc_client", &err))) {
		fprintf(stderr, "rpc_client: %s: %s\n", argv[1], spin_strerror(err));
		return 1;
	}
	if (!strcmp(argv[2], "add") && argc == 5) {
		uint32_t a[2] = {(uint32_t)strtoul(argv[3], NULL, 0),
				 (uint32_t)strtoul(argv[4], NULL, 0)}, sum = 0;

		rc = spin_call(h, "rpc.add", a, sizeof a, &sum, sizeof sum, NULL);
		if (!rc)
			printf("%u\n", sum);
	} else if (!strcmp(argv[2], "echo")) {
		char out[SPIN_MSG_MAX + 1];
		size_t n = 0;

		rc = spin_call(h, "rpc.echo", argv[3], strlen(argv[3]), out, sizeof out - 1, &n);
		if (!rc)
			printf("%.*s\n", (int)n, out);
	} else if (!strcmp(argv[2], "time") && argc == 5) {
		long n = strtol(argv[4], NULL, 10);
		spin_ref_t proc;
		uint64_t t0;

		if (!(rc = spin_lookup(h, argv[3], &proc))) {
			t0 = now_ns();
			for (long i = 0; i < n && !rc; i++)
				rc = spin_call_ref(h, proc, NULL, 0, NULL, 0, NULL);
			if (!rc && n > 0)
				printf("%s: %ld calls, %.0f ns each\n", argv[3], n,
				       (double)(now_ns() - t0) / (double)n);
		}
	} else {
		fprintf(stderr, "rpc_client: unknown command %s\n", argv[2]);
		rc = -SPIN_EINVAL;
	}
	if (rc)
		fprintf(stderr, "rpc_client: %s\n", spin_strerror(rc));
	spin_close(h);
	return rc ? 1 : 0;
}
