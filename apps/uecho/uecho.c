/*
 * uecho.c - a user-level UDP echo (RFC 862) written against libspin: the
 * appliance hands it every datagram for its port through the event ring,
 * and it sends each one back to its sender from the same port.
 *
 *   uecho SOCKET PORT [busy] [COUNT]
 *
 * SOCKET is the appliance's `syscall` path.  With `busy` it busy-polls
 * (pin it to its own CPU); otherwise it sleeps on its doorbell.  It stops
 * after COUNT datagrams (default: never) or when the appliance goes away,
 * and prints how many it echoed.  The payload is sent from the ring slot it
 * arrived in (mapped receive) into a request slot (one copy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libspin/spin.h"

int main(int argc, char **argv)
{
	enum spin_mode mode = SPIN_BLOCKING;
	unsigned long count = 0, done = 0;
	struct spin_event ev;
	spin_ref_t ep;
	struct spin *h;
	int err = 0, rc;
	long port;

	if (argc < 3) {
		fprintf(stderr, "usage: uecho SOCKET PORT [busy] [COUNT]\n");
		return 2;
	}
	port = strtol(argv[2], NULL, 10);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "busy"))
			mode = SPIN_BUSY;
		else
			count = strtoul(argv[i], NULL, 10);
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "uecho: bad port %s\n", argv[2]);
		return 2;
	}
	h = spin_open(argv[1], mode, "uecho", &err);
	if (!h) {
		fprintf(stderr, "uecho: %s: %s\n", argv[1], spin_strerror(err));
		return 1;
	}
	if ((rc = spin_udp_open(h, (uint16_t)port, &ep))) {
		fprintf(stderr, "uecho: port %ld: %s\n", port, spin_strerror(rc));
		spin_close(h);
		return 1;
	}
	printf("uecho: port %ld ready\n", port);
	fflush(stdout);
	while ((!count || done < count) && (rc = spin_next_event(h, &ev, -1)) == 1) {
		if (ev.type == SPIN_EV_DGRAM)
			rc = spin_udp_send(h, ev.ref, ev.addr, ev.port, ev.data, ev.len);
		spin_event_done(h);
		if (ev.type == SPIN_EV_DGRAM && rc == 0)
			done++;
	}
	printf("uecho: echoed %lu datagrams\n", done);
	spin_close(h);
	return 0;
}
