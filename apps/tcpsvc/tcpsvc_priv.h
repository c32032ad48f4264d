/*
 * tcpsvc_priv.h - what the service modules of apps/tcpsvc share: a
 * listener with a preallocated array of per-connection slots (see
 * tcpsvc.h).  Not for use outside apps/tcpsvc.
 */
#ifndef SPIN_APP_TCPSVC_PRIV_H
#define SPIN_APP_TCPSVC_PRIV_H

#include "apps/tcpsvc/tcpsvc.h"
#include "kernel/exec/exec.h"
#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/tcp/tcp.h"

/* One accepted connection.  Valid from accept until its closed handler
 * returns the slot with tcpsvc_release. */
struct tcpsvc_conn {
	struct tcpsvc *svc;
	struct tcp_conn *c;
	struct pkt *pending;        /* echo: received, not yet taken by tcp_send */
	uint64_t pos;               /* chargen: offset in the stream */
	struct exec_timer retry;    /* chargen: TCP's pool was empty */
	bool fin;                   /* the peer sent FIN */
	bool closing;               /* we called tcp_close */
	bool used;
	struct tcpsvc_conn *next_free;
};

/* What makes one service different from another. */
struct tcpsvc_kind {
	const char *name;                   /* "tcp-echo" */
	const struct ng_node *node;         /* counts received segments */
	const struct tcp_handlers *h;       /* per connection; ctx: the slot */
	bool manual_recv, nodelay;
	void (*on_accept)(struct tcpsvc_conn *k);   /* may be NULL */
};

struct tcpsvc {
	const struct tcpsvc_kind *kind;
	struct tcp_listener *l;
	struct tcpsvc_conn *slots, *free;
	unsigned nslots;
	struct tcpsvc_stats st;
};

int tcpsvc_start(const struct tcpsvc_kind *k, uint16_t port, struct tcpsvc **out);
void tcpsvc_stop(struct tcpsvc *s);
void tcpsvc_stats(const struct tcpsvc *s, struct tcpsvc_stats *out);
/* From a closed handler: the slot goes back on the free list. */
void tcpsvc_release(struct tcpsvc_conn *k);
/* Closes our side once (idempotent). */
void tcpsvc_close(struct tcpsvc_conn *k);

/* Services a module started from its init args ("7,9000"). */
#define TCPSVC_MAX_ARGS 16
struct tcpsvc_own {
	struct tcpsvc *v[TCPSVC_MAX_ARGS];
	unsigned n;
};
int tcpsvc_own_start(const struct tcpsvc_kind *k, struct tcpsvc_own *own, const char *args);
void tcpsvc_own_stop(struct tcpsvc_own *own);

#endif
