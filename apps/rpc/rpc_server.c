/*
 * rpc_server.c - a user-level RPC server written against libspin: it
 * registers procedures with the appliance, and other programs call them
 * through the appliance (a cross-address-space call: caller -> appliance ->
 * this program -> appliance -> caller).
 *
 *   rpc_server SOCKET [busy]
 *
 * Procedures: "rpc.echo" returns its arguments; "rpc.add" takes two
 * little-endian uint32 and returns their sum; "rpc.null" returns nothing.
 * Runs until the appliance goes away or SIGINT/SIGTERM.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libspin/spin.h"

int main(int argc, char **argv)
{
	static const char *const names[] = {"rpc.echo", "rpc.add", "rpc.null"};
	enum spin_mode mode = argc > 2 && !strcmp(argv[2], "busy") ? SPIN_BUSY : SPIN_BLOCKING;
	spin_ref_t refs[3];
	struct spin_event ev;
	unsigned long served = 0;
	struct spin *h;
	int err = 0, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: rpc_server SOCKET [busy]\n");
		return 2;
	}
	if (!(h = spin_open(argv[1], mode, "rpc_server", &err))) {
		fprintf(stderr, "rpc_server: %s: %s\n", argv[1], spin_strerror(err));
		return 1;
	}
	for (int i = 0; i < 3; i++)
		if ((rc = spin_register(h, names[i], &refs[i]))) {
			fprintf(stderr, "rpc_server: register %s: %s\n", names[i], spin_strerror(rc));
			spin_close(h);
			return 1;
		}
	printf("rpc_server: serving rpc.echo rpc.add rpc.null\n");
	fflush(stdout);
	while (spin_next_event(h, &ev, -1) == 1) {
		uint8_t out[SPIN_MSG_MAX];
		size_t n = 0;
		int status = 0;

		if (ev.type != SPIN_EV_INVOKE) {
			spin_event_done(h);
			continue;
		}
		if (ev.ref == refs[0]) {
			n = ev.len;
			memcpy(out, ev.data, n);
		} else if (ev.ref == refs[1]) {
			uint32_t a[2], sum;

			if (ev.len == sizeof a) {
				memcpy(a, ev.data, sizeof a);
				sum = a[0] + a[1];
				memcpy(out, &sum, sizeof sum);
				n = sizeof sum;
			} else {
				status = -SPIN_EINVAL;
			}
		}
		uint64_t id = ev.call_id;
		spin_event_done(h);
		spin_reply(h, id, status, out, n);
		served++;
	}
	printf("rpc_server: served %lu calls\n", served);
	spin_close(h);
	return 0;
}
