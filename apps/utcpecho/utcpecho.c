/*
 * utcpecho.c - a user-level TCP echo (RFC 862) written against libspin's
 * TCP listener: every byte a client sends comes back on its connection,
 * and the echo closes its side after the client's FIN once everything has
 * been sent back.
 *
 *   utcpecho SOCKET PORT [busy]
 *
 * SOCKET is the appliance's `syscall` path.  With `busy` it busy-polls
 * (pin it to its own CPU); otherwise it sleeps on its doorbell.  It runs
 * until the appliance goes away or SIGTERM/SIGINT (then it prints its
 * counts and detaches: its connections are reset).
 *
 * Back-pressure: the listener is SPIN_TCP_MANUAL_RECV, and received bytes
 * are handed back to TCP (spin_tcp_recved) only once spin_tcp_send took
 * their echo.  Bytes TCP could not take yet wait in the connection's queue
 * until SPIN_EV_TCP_WRITABLE; the queue never holds more than one receive
 * window, because the client's window closes first.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libspin/spin.h"

#define UTE_CONNS 1024          /* open-addressed table, power of two */

struct ute_conn {
	spin_ref_t ref;             /* 0: free slot */
	uint8_t *q;                 /* bytes received, not yet taken by send */
	size_t qlen, qcap;
	bool fin;
};

static struct ute_conn conns[UTE_CONNS];
static unsigned long accepted, refused;
static volatile sig_atomic_t stopping;
static unsigned long long echoed;

static struct ute_conn *find(spin_ref_t ref, bool add)
{
	unsigned i = (unsigned)((ref * 0x9e3779b97f4a7c15ull) >> 54) & (UTE_CONNS - 1);

	for (unsigned n = 0; n < UTE_CONNS; n++, i = (i + 1) & (UTE_CONNS - 1)) {
		if (conns[i].ref == ref)
			return &conns[i];
		if (conns[i].ref == 0 && add) {
			conns[i].ref = ref;
			return &conns[i];
		}
	}
	return NULL;
}

/* Removes k, keeping every other entry reachable (linear-probing delete). */
static void forget(struct ute_conn *k)
{
	unsigned i = (unsigned)(k - conns);

	free(k->q);
	memset(k, 0, sizeof *k);
	for (unsigned j = (i + 1) & (UTE_CONNS - 1); conns[j].ref; j = (j + 1) & (UTE_CONNS - 1)) {
		struct ute_conn e = conns[j];

		memset(&conns[j], 0, sizeof conns[j]);
		*find(e.ref, true) = e;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static bool queue(struct ute_conn *k, const uint8_t *d, size_t n)
{
	if (k->qlen + n > k->qcap) {
		size_t cap = k->qcap ? k->qcap : 16384;
		uint8_t *q;

		while (cap < k->qlen + n)
			cap *= 2;
		if (!(q = realloc(k->q, cap)))
			return false;
		k->q = q;
		k->qcap = cap;
	}
	memcpy(k->q + k->qlen, d, n);
	k->qlen += n;
	return true;
}

/* Sends d (n bytes) behind whatever is queued; returns false when the
 * connection is beyond saving (then it has been aborted and forgotten). */
static bool echo(struct spin *h, struct ute_conn *k, const uint8_t *d, size_t n)
{
	int sent = 0;

	if (!k->qlen && n) {
		sent = spin_tcp_send(h, k->ref, d, n);
		if (sent == -SPIN_EAGAIN)
			sent = 0;
		if (sent < 0)
			return true;    /* ended: the closed event follows */
		if (sent)
			spin_tcp_recved(h, k->ref, (size_t)sent);
		echoed += (unsigned long long)sent;
	}
	if ((size_t)sent < n && !queue(k, d + sent, n - (size_t)sent)) {
		spin_tcp_abort(h, k->ref);
		forget(k);
		return false;
	}
	return true;
}

static void flush(struct spin *h, struct ute_conn *k)
{
	int sent = k->qlen ? spin_tcp_send(h, k->ref, k->q, k->qlen) : 0;

	if (sent > 0) {
		spin_tcp_recved(h, k->ref, (size_t)sent);
		memmove(k->q, k->q + sent, k->qlen - (size_t)sent);
		k->qlen -= (size_t)sent;
		echoed += (unsigned long long)sent;
	}
}

/* After the peer's FIN and the last byte echoed: our FIN. */
static void maybe_close(struct spin *h, struct ute_conn *k)
{
	if (k->fin && !k->qlen) {
		spin_tcp_close(h, k->ref);
		forget(k);
	}
}

int main(int argc, char **argv)
{
	enum spin_mode mode = SPIN_BLOCKING;
	struct spin_event ev;
	spin_ref_t lst;
	struct spin *h;
	int err = 0, rc;
	long port;

	if (argc < 3) {
		fprintf(stderr, "usage: utcpecho SOCKET PORT [busy]\n");
		return 2;
	}
	port = strtol(argv[2], NULL, 10);
	if (argc > 3 && !strcmp(argv[3], "busy"))
		mode = SPIN_BUSY;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "utcpecho: bad port %s\n", argv[2]);
		return 2;
	}
	h = spin_open(argv[1], mode, "utcpecho", &err);
	if (!h) {
		fprintf(stderr, "utcpecho: %s: %s\n", argv[1], spin_strerror(err));
		return 1;
	}
	if ((rc = spin_tcp_listen(h, (uint16_t)port, SPIN_TCP_MANUAL_RECV, &lst))) {
		fprintf(stderr, "utcpecho: port %ld: %s\n", port, spin_strerror(rc));
		spin_close(h);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("utcpecho: port %ld ready\n", port);
	fflush(stdout);
	/* A bounded wait, so that a signal is noticed. */
	while (!stopping && (rc = spin_next_event(h, &ev, 200)) >= 0) {
		struct ute_conn *k;

		if (rc == 0)
			continue;
		k = find(ev.ref, ev.type == SPIN_EV_TCP_ACCEPT);
		switch (ev.type) {
		case SPIN_EV_TCP_ACCEPT:
			if (!k) {
				refused++;
				spin_tcp_abort(h, ev.ref);
			} else {
				accepted++;
			}
			break;
		case SPIN_EV_TCP_DATA:
			if (k)
				echo(h, k, ev.data, ev.len);
			break;
		case SPIN_EV_TCP_WRITABLE:
			if (k) {
				flush(h, k);
				maybe_close(h, k);
			}
			break;
		case SPIN_EV_TCP_FIN:
			if (k) {
				k->fin = true;
				maybe_close(h, k);
			}
			break;
		case SPIN_EV_TCP_CLOSED:
			if (k) {
				spin_close_ref(h, k->ref);
				forget(k);
			}
			break;
		}
		spin_event_done(h);
	}
	printf("utcpecho: %lu connections (%lu refused), %llu bytes echoed\n", accepted, refused,
	       echoed);
	spin_close(h);
	return 0;
}
