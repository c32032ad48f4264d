/*
 * sysc.c - the system-call interface, appliance side.  See sysc.h, and
 * libspin/spin_abi.h for the shared layout and the doorbell protocol.
 */
#include "apps/syscall/sysc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kernel/cap/cap.h"
#include "kernel/dispatch/dispatch.h"
#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"
#include "libspin/spin_abi.h"
#include "netgraph/graph.h"
#include "protocols/tcp/tcp.h"
#include "protocols/udp/udp.h"

#define SYSC_MAX_PROGS 256
#define SYSC_MAX_CALLS 4096     /* pending cross-address-space calls */
#define SYSC_CAPS 4096          /* slots per program */
#define SYSC_UDP_MAX 1472       /* payload of one unfragmented datagram */
#define SYSC_TCP_CONNS 256      /* connections per listener, preallocated */
#define SYSC_TCP_RETRY_NS 1000000ull /* TCP's pool was empty: writable after */

/* Drops of received datagrams.  A send that cannot go out (bad reference,
 * too big, no buffer) never became a packet: it is counted in the server's
 * dgrams_dropped / bad_refs instead. */
static const char *const sysc_drop_names[] = {"ring_full"};
enum { SYSC_DROP_RING_FULL = NG_DROP_COMMON };

NG_NODE(sysc_node,
	.name = "syscall",
	.module = &sysc_module,
	.drop_names = sysc_drop_names,
	.ndrops = NG_ARRAY_LEN(sysc_drop_names),
	.doc = "system-call interface: datagrams to and from user-level programs");

struct sysc_prog;

/* A name programs can call.  Kernel procedures have fn; program-served ones
 * have owner (NULL once it is gone).  refs: one per capability naming it,
 * plus one while it is in the registry. */
struct sysc_proc {
	char name[SPIN_NAME_MAX];
	sysc_proc_fn fn;
	void *ctx;
	struct sysc_prog *owner;
	cap_ref_t served;           /* the owner's reference to it */
	unsigned refs;
	bool dead;
	struct sysc_proc *next;
};

struct sysc_udp {
	struct sysc_prog *prog;     /* NULL once closed */
	uint16_t port;
	struct disp_binding *b;
	cap_ref_t ref;
	struct sysc_udp *next;      /* server's list */
	struct rcu_head rcu;
};

struct sysc_tconn;

/* A TCP listener a program opened.  Its connection blocks are preallocated
 * here (control path) so an accept allocates nothing; the listener is freed
 * once the program has let go of it (prog NULL) and no connection is live. */
struct sysc_tlisten {
	struct sysc_prog *prog;     /* NULL once closed */
	struct tcp_listener *l;     /* NULL once closed */
	cap_ref_t ref;
	uint16_t port;
	bool manual;                /* SPIN_TCP_MANUAL_RECV */
	struct sysc_tconn *slots, *free;
	unsigned live;
};

/* A TCP connection accepted for a program.  What the program has not been
 * told yet is pending here, delivered in this order when the event ring has
 * room: accept, data (rx), writable, fin, closed.  A connection waiting for
 * ring room is on its program's stall list.  The block stays until both
 * the program has let go (prog NULL) and TCP has run closed (c NULL). */
struct sysc_tconn {
	struct sysc_tlisten *lst;
	struct sysc_prog *prog;     /* NULL once the program let go */
	struct tcp_conn *c;         /* NULL once TCP ran closed */
	cap_ref_t ref;
	uint32_t raddr;
	uint16_t rport;
	struct pkt *rx;             /* received, not yet in the ring */
	uint32_t unacked;           /* manual: in the ring, not yet recved */
	int32_t closed_status;
	bool used, ev_accept, ev_writable, ev_fin, ev_closed;
	bool in_deliver, stalled, abort_on_release;
	struct exec_timer retry;
	struct sysc_tconn *next_free;
	struct sysc_tconn *snext, **sprev;  /* stall list */
};

/* A call handed to a serving program, waiting for its reply. */
struct sysc_call {
	cap_ref_t caller;           /* in srv->progs: stale once the caller died */
	uint64_t seq;               /* the caller's request */
	struct sysc_prog *callee;
};

struct sysc_prog {
	struct sysc_server *srv;
	cap_ref_t self;             /* in srv->progs */
	uint32_t id;
	char name[32];
	enum spin_abi_mode mode;
	bool attached, armed;
	int conn, bell_in, bell_out;
	struct spin_shm *shm;
	size_t shm_size;
	struct cap_table *caps;
	struct exec_poller poller, conn_poller;
	struct sysc_tconn *stall_head, **stall_tail;
	uint64_t requests, bad_refs;
	struct sysc_prog *next;
	struct rcu_head rcu;
};

struct sysc_server {
	struct exec_loop *loop;
	struct pkt_pool *pool;
	int lfd;
	struct exec_poller lpoller;
	char path[108];
	struct cap_table *progs, *calls;
	struct sysc_prog *list;
	struct sysc_udp *udps;
	uint32_t next_id;
	struct sysc_stats st;
};

static void proc_put(struct sysc_proc *p);
static void prog_detach(struct sysc_prog *g);

static void release_proc(void *obj) { proc_put(obj); }
static void release_served(void *obj);
static void release_udp(void *obj);
static void release_call(void *obj) { free(obj); }
static void release_tlisten(void *obj);
static void release_tconn(void *obj);

static const struct cap_type cap_proc = {.name = "procedure", .release = release_proc};
static const struct cap_type cap_served = {.name = "served-procedure", .release = release_served};
static const struct cap_type cap_udp = {.name = "udp-endpoint", .release = release_udp};
static const struct cap_type cap_prog = {.name = "program", .release = NULL};
static const struct cap_type cap_call = {.name = "pending-call", .release = release_call};
static const struct cap_type cap_tlisten = {.name = "tcp-listener", .release = release_tlisten};
static const struct cap_type cap_tconn = {.name = "tcp-connection", .release = release_tconn};

/* --- the procedure registry ------------------------------------------------------ */
static int proc_null(void *ctx, const void *arg, uint32_t len, void *res, uint32_t cap,
		     uint32_t *rlen)
{
	(void)ctx, (void)arg, (void)len, (void)res, (void)cap;
	*rlen = 0;
	return 0;
}

static int proc_echo(void *ctx, const void *arg, uint32_t len, void *res, uint32_t cap,
		     uint32_t *rlen)
{
	(void)ctx;
	*rlen = len < cap ? len : cap;
	memcpy(res, arg, *rlen);
	return 0;
}

static struct sysc_proc builtin_null = {.name = "null", .fn = proc_null, .refs = 1};
static struct sysc_proc builtin_echo = {.name = "echo", .fn = proc_echo, .refs = 1,
					.next = &builtin_null};
/* Registry: newest first; touched only from the loop thread (and module
 * init, before any loop runs). */
static struct sysc_proc *registry = &builtin_echo;

static struct sysc_proc *proc_find(const char *name)
{
	for (struct sysc_proc *p = registry; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

/* Takes p out of the registry; the caller drops the registry's ref. */
static void proc_unlink(struct sysc_proc *p)
{
	for (struct sysc_proc **pp = &registry; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			p->dead = true;
			p->next = NULL;
			return;
		}
}

static void proc_put(struct sysc_proc *p)
{
	if (--p->refs == 0 && p != &builtin_null && p != &builtin_echo)
		free(p);
}

int sysc_proc_export(const char *name, sysc_proc_fn fn, void *ctx)
{
	struct sysc_proc *p;

	if (!fn || strlen(name) >= SPIN_NAME_MAX)
		return SYSC_EINVAL;
	if (proc_find(name))
		return SYSC_EEXIST;
	if (!(p = calloc(1, sizeof *p)))
		return SYSC_ENOMEM;
	snprintf(p->name, sizeof p->name, "%s", name);
	p->fn = fn;
	p->ctx = ctx;
	p->refs = 1;
	p->next = registry;
	registry = p;
	return SYSC_OK;
}

int sysc_proc_unexport(const char *name)
{
	struct sysc_proc *p = proc_find(name);

	if (!p || !p->fn)
		return SYSC_ENOENT;
	proc_unlink(p);
	proc_put(p);
	return SYSC_OK;
}

static void release_served(void *obj)
{
	struct sysc_proc *p = obj;

	bool listed = !p->dead;

	p->owner = NULL;
	if (listed) {
		proc_unlink(p);
		p->refs--;      /* the registry's; the capability's goes below */
	}
	proc_put(p);
}

/* --- rings ------------------------------------------------------------------------ */
static bool ring_full(struct spin_ring *r)
{
	return atomic_load_explicit(&r->tail, memory_order_relaxed) -
		       atomic_load_explicit(&r->head, memory_order_acquire) >= SPIN_RING_SLOTS;
}

static struct spin_msg *out_slot(struct spin_ring *r)
{
	return spin_slot(r, atomic_load_explicit(&r->tail, memory_order_relaxed));
}

/* Publishes the slot from out_slot and rings the program if it sleeps. */
static void out_publish(struct sysc_prog *g, struct spin_ring *r)
{
	atomic_store_explicit(&r->tail, atomic_load_explicit(&r->tail, memory_order_relaxed) + 1,
			      memory_order_release);
	if (g->mode == SPIN_ABI_BUSY)
		return;     /* a busy program never sleeps */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->waiting, memory_order_relaxed) &&
	    atomic_exchange_explicit(&r->waiting, 0, memory_order_acq_rel)) {
		uint64_t one = 1;

		(void)!write(g->bell_out, &one, sizeof one);
	}
}

/* Answers request seq on g's response ring (the caller checked for room,
 * or the response is dropped). */
static void respond(struct sysc_prog *g, uint32_t op, uint64_t seq, int status, cap_ref_t ref,
		    const void *data, uint32_t len)
{
	struct spin_ring *r = &g->shm->resp;
	struct spin_msg *m;

	if (ring_full(r))
		return;
	m = out_slot(r);
	m->op = op;
	m->status = status;
	m->seq = seq;
	m->ref = ref;
	m->arg = 0;
	m->addr = 0;
	m->port = 0;
	m->flags = 0;
	m->len = len;
	if (len && data != m->data)
		memcpy(m->data, data, len);
	out_publish(g, r);
}

/* --- UDP endpoints --------------------------------------------------------------------- */
/* UDP_PacketArrived handler for an endpoint: consumes p. */
static void udp_input(void *closure, struct pkt *p)
{
	struct sysc_udp *u = closure;
	struct sysc_prog *g = u->prog;
	struct udp_peer peer;
	struct spin_ring *r;
	struct spin_msg *m;
	uint32_t len;

	ng_enter(&sysc_node, p);
	if (!g || !g->attached || ring_full(&g->shm->ev)) {
		if (g)
			g->srv->st.dgrams_dropped++;
		ng_leave(&sysc_node);
		ng_drop(&p, &sysc_node, SYSC_DROP_RING_FULL);
		return;
	}
	udp_peer(p, &peer);
	len = pkt_len(p) - UDP_HDR_LEN;
	if (len > SPIN_MSG_MAX)
		len = SPIN_MSG_MAX;
	r = &g->shm->ev;
	m = out_slot(r);
	m->op = SPIN_EV_DGRAM;
	m->status = 0;
	m->seq = 0;
	m->ref = u->ref;
	m->arg = 0;
	m->addr = peer.src;
	m->port = peer.sport;
	m->flags = 0;
	m->len = len;
	pkt_copy_out(p, UDP_HDR_LEN, m->data, len);
	g->srv->st.dgrams_in++;
	ng_leave(&sysc_node);
	pkt_free(p);
	out_publish(g, r);
}

static void udp_free_rcu(struct rcu_head *h)
{
	free((struct sysc_udp *)((char *)h - offsetof(struct sysc_udp, rcu)));
}

static void release_udp(void *obj)
{
	struct sysc_udp *u = obj;
	struct sysc_server *s = u->prog->srv;

	for (struct sysc_udp **pp = &s->udps; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	u->prog = NULL;
	disp_uninstall(u->b);
	/* A raise on another thread may still hold the closure. */
	rcu_call(&u->rcu, udp_free_rcu);
}

static int udp_open(struct sysc_prog *g, uint16_t port, cap_ref_t *out)
{
	struct sysc_server *s = g->srv;
	struct sysc_udp *u;
	char desc[80];
	const struct disp_term t = udp_port_term(port);
	struct UDP_PacketArrived_spec spec = {.handler = udp_input, .terms = &t, .nterms = 1,
					      .options = DISP_FIRST | DISP_CANCEL,
					      .desc = desc};

	if (port == 0)
		return -SPIN_EINVAL;
	for (u = s->udps; u; u = u->next)
		if (u->port == port)
			return -SPIN_EEXIST;
	if (!(u = calloc(1, sizeof *u)))
		return -SPIN_ENOMEM;
	u->prog = g;
	u->port = port;
	spec.closure = u;
	snprintf(desc, sizeof desc, "program %u (%s) port %u", g->id, g->name, port);
	if (UDP_PacketArrived_install(&sysc_module, &spec, &u->b) != DISP_OK) {
		free(u);
		return -SPIN_EINVAL;
	}
	if (cap_insert(g->caps, &cap_udp, u, &u->ref) != CAP_OK) {
		disp_uninstall(u->b);
		rcu_call(&u->rcu, udp_free_rcu);
		return -SPIN_ENOMEM;
	}
	u->next = s->udps;
	s->udps = u;
	*out = u->ref;
	return 0;
}

static void udp_out(struct sysc_prog *g, cap_ref_t ref, uint32_t addr, uint16_t port,
		    const void *data, uint32_t len)
{
	struct sysc_server *s = g->srv;
	struct sysc_udp *u = cap_lookup(g->caps, ref, &cap_udp, NULL);
	struct pkt *p;

	if (!u) {
		g->bad_refs++;
		s->st.bad_refs++;
		s->st.dgrams_dropped++;
		return;
	}
	if (len > SYSC_UDP_MAX || !s->pool || !(p = pkt_from_bytes(s->pool, data, len))) {
		s->st.dgrams_dropped++;
		return;
	}
	s->st.dgrams_out++;
	udp_send(p, 0, 0, u->port, addr, port);
}

/* --- TCP listeners and connections ------------------------------------------------------- */
static void stall_add(struct sysc_prog *g, struct sysc_tconn *k)
{
	if (k->stalled)
		return;
	k->stalled = true;
	k->snext = NULL;
	k->sprev = g->stall_tail;
	*g->stall_tail = k;
	g->stall_tail = &k->snext;
}

static void stall_del(struct sysc_prog *g, struct sysc_tconn *k)
{
	if (!k->stalled)
		return;
	k->stalled = false;
	*k->sprev = k->snext;
	if (k->snext)
		k->snext->sprev = k->sprev;
	else
		g->stall_tail = k->sprev;
}

static bool tconn_pending(const struct sysc_tconn *k)
{
	return k->ev_accept || k->rx || k->ev_writable || k->ev_fin || k->ev_closed;
}

/* Tells the program what is pending on k, in order, while its event ring
 * has room; what does not fit waits on the stall list (the program rings
 * us when it frees a slot: spin_abi.h, "Event room").  Bytes count as
 * consumed by TCP when they enter the ring, unless the listener is manual.
 * Reentry (a TCP call below running one of k's handlers) only marks more
 * work, which this loop picks up. */
static void tconn_deliver(struct sysc_tconn *k)
{
	struct sysc_prog *g = k->prog;
	struct spin_ring *r;

	if (!g || !g->attached || k->in_deliver)
		return;
	k->in_deliver = true;
	r = &g->shm->ev;
	while (tconn_pending(k)) {
		struct spin_msg *m;

		if (ring_full(r)) {
			atomic_store_explicit(&g->shm->ev_blocked, 1, memory_order_relaxed);
			atomic_thread_fence(memory_order_seq_cst);
			if (ring_full(r)) {
				stall_add(g, k);
				g->armed = true;    /* the program may ring: read it */
				k->in_deliver = false;
				return;
			}
		}
		m = out_slot(r);
		*m = (struct spin_msg){.ref = k->ref};
		if (k->ev_accept) {
			k->ev_accept = false;
			m->op = SPIN_EV_TCP_ACCEPT;
			m->arg = k->lst->ref;
			m->addr = k->raddr;
			m->port = k->rport;
		} else if (k->rx) {
			uint32_t n = pkt_len(k->rx);

			if (n > SPIN_MSG_MAX)
				n = SPIN_MSG_MAX;
			m->op = SPIN_EV_TCP_DATA;
			m->len = n;
			pkt_copy_out(k->rx, 0, m->data, n);
			if (n == pkt_len(k->rx)) {
				pkt_free(k->rx);
				k->rx = NULL;
			} else if (!pkt_pull(k->rx, n)) {
				/* The rest cannot be reached: a stream with a
				 * hole is worse than none. */
				pkt_free(k->rx);
				k->rx = NULL;
				if (k->c)
					tcp_abort(k->c);
			}
			g->srv->st.tcp_bytes_in += n;
			if (k->lst->manual)
				k->unacked += n;
			else if (k->c)
				tcp_recved(k->c, n);
		} else if (k->ev_writable) {
			k->ev_writable = false;
			m->op = SPIN_EV_TCP_WRITABLE;
		} else if (k->ev_fin) {
			k->ev_fin = false;
			m->op = SPIN_EV_TCP_FIN;
		} else {
			k->ev_closed = false;
			m->op = SPIN_EV_TCP_CLOSED;
			m->status = k->closed_status;
		}
		out_publish(g, r);
	}
	stall_del(g, k);
	k->in_deliver = false;
}

static void tlisten_free(struct sysc_tlisten *t)
{
	free(t->slots);
	free(t);
}

/* The block goes back to its listener (freed with it when that is the
 * last one and the program closed the listener). */
static void tconn_free(struct sysc_tconn *k)
{
	struct sysc_tlisten *t = k->lst;

	exec_timer_cancel(&k->retry);
	if (k->rx)
		pkt_free(k->rx);
	k->rx = NULL;
	k->used = false;
	k->next_free = t->free;
	t->free = k;
	if (--t->live == 0 && !t->prog)
		tlisten_free(t);
}

/* Consumes p.  A connection the program let go of (closing) takes in and
 * drops what still comes, keeping the window open so the peer finishes. */
static void tconn_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	struct sysc_tconn *k = ctx;

	if (!k->prog) {
		tcp_recved(c, pkt_len(p));
		pkt_free(p);
		return;
	}
	if (k->rx) {
		if (!pkt_chain(k->rx, &p)) {
			tcp_abort(c);   /* p is freed; see tconn_deliver */
			return;
		}
	} else {
		k->rx = p;
	}
	tconn_deliver(k);
}

static void tconn_recv_fin(void *ctx, struct tcp_conn *c)
{
	struct sysc_tconn *k = ctx;

	(void)c;
	k->ev_fin = true;
	tconn_deliver(k);
}

static void tconn_writable(void *ctx, struct tcp_conn *c)
{
	struct sysc_tconn *k = ctx;

	(void)c;
	k->ev_writable = true;
	tconn_deliver(k);
}

static void tconn_retry(struct exec_timer *t, void *arg)
{
	(void)t;
	tconn_writable(arg, NULL);
}

static void tconn_closed(void *ctx, struct tcp_conn *c, enum tcp_reason why)
{
	struct sysc_tconn *k = ctx;

	(void)c;
	k->c = NULL;
	exec_timer_cancel(&k->retry);
	if (!k->prog) {
		tconn_free(k);
		return;
	}
	k->ev_writable = false;
	k->ev_closed = true;
	k->closed_status = why == TCP_R_CLOSED ? 0
			   : why == TCP_R_TIMEOUT || why == TCP_R_KEEPALIVE ? -SPIN_ETIMEDOUT
									    : -SPIN_ERESET;
	tconn_deliver(k);
}

static const struct tcp_handlers tconn_handlers = {
	.recv = tconn_recv,
	.recv_fin = tconn_recv_fin,
	.writable = tconn_writable,
	.closed = tconn_closed,
};

/* Listener handler: a block, a capability in the program's table and the
 * accept event.  Refused (TCP resets) when any of them is missing. */
static bool tlisten_accept(void *ctx, struct tcp_conn *c)
{
	struct sysc_tlisten *t = ctx;
	struct sysc_prog *g = t->prog;
	struct sysc_tconn *k = t->free;
	struct tcp_endpoints ep;

	if (!g || !g->attached || !k || cap_insert(g->caps, &cap_tconn, k, &k->ref) != CAP_OK) {
		if (g)
			g->srv->st.tcp_refused++;
		return false;
	}
	t->free = k->next_free;
	t->live++;
	tcp_endpoints(c, &ep);
	k->lst = t;
	k->prog = g;
	k->c = c;
	k->raddr = ep.raddr;
	k->rport = ep.rport;
	k->rx = NULL;
	k->unacked = 0;
	k->used = true;
	k->ev_accept = true;
	k->ev_writable = k->ev_fin = k->ev_closed = false;
	k->in_deliver = k->stalled = k->abort_on_release = false;
	exec_timer_init(&k->retry, tconn_retry, k);
	g->srv->st.tcp_accepted++;
	tcp_set_handlers(c, &tconn_handlers, k);
	tconn_deliver(k);
	return true;
}

static const struct tcp_handlers tlisten_handlers = {.accept = tlisten_accept};

static void release_tlisten(void *obj)
{
	struct sysc_tlisten *t = obj;

	tcp_unlisten(t->l);
	t->l = NULL;
	t->prog = NULL;
	if (t->live == 0)
		tlisten_free(t);
}

/* The program closed the reference, or died.  A live program's close is
 * orderly (FIN after what it sent; what arrives later is dropped); a dead
 * program's connections, and aborts, are reset at once. */
static void release_tconn(void *obj)
{
	struct sysc_tconn *k = obj;
	struct sysc_prog *g = k->prog;
	uint32_t unread = k->unacked + (k->rx ? pkt_len(k->rx) : 0);

	stall_del(g, k);
	k->prog = NULL;
	if (k->rx)
		pkt_free(k->rx);
	k->rx = NULL;
	if (!k->c) {
		tconn_free(k);
		return;
	}
	if (!g->attached || k->abort_on_release) {
		tcp_abort(k->c);        /* closed runs now and frees k */
		return;
	}
	if (unread)
		tcp_recved(k->c, unread);
	(void)tcp_close(k->c);
}

static int tcp_listen_open(struct sysc_prog *g, uint16_t port, uint64_t flags, cap_ref_t *out)
{
	struct sysc_tlisten *t;
	struct tcp_listen_opts o = {
		.port = port,
		.max_conns = SYSC_TCP_CONNS,
		.conn = {.manual_recv = true, .nodelay = true},
	};
	int rc;

	if (port == 0 || (flags & ~(uint64_t)SPIN_TCP_MANUAL_RECV))
		return -SPIN_EINVAL;
	if (!(t = calloc(1, sizeof *t)) || !(t->slots = calloc(SYSC_TCP_CONNS, sizeof *t->slots))) {
		free(t);
		return -SPIN_ENOMEM;
	}
	for (unsigned i = SYSC_TCP_CONNS; i-- > 0;) {
		t->slots[i].next_free = t->free;
		t->free = &t->slots[i];
	}
	t->port = port;
	t->manual = flags & SPIN_TCP_MANUAL_RECV;
	rc = tcp_listen(&o, &tlisten_handlers, t, &t->l);
	if (rc != TCP_OK) {
		tlisten_free(t);
		return rc == TCP_EADDRINUSE			? -SPIN_EEXIST
		       : rc == TCP_ENOMEM || rc == TCP_ELIMIT	? -SPIN_ENOMEM
								: -SPIN_EINVAL;
	}
	if (cap_insert(g->caps, &cap_tlisten, t, &t->ref) != CAP_OK) {
		tcp_unlisten(t->l);
		tlisten_free(t);
		return -SPIN_ENOMEM;
	}
	t->prog = g;
	*out = t->ref;
	return 0;
}

/* Returns the bytes taken (all len of them), or -SPIN_EAGAIN (writable
 * follows: from TCP, or from the retry timer when TCP's pool was empty),
 * -SPIN_ENOTCONN. */
static int tconn_send(struct sysc_prog *g, struct sysc_tconn *k, const void *data, uint32_t len)
{
	struct pkt_pool *pool = tcp_pool();
	struct pkt *p;
	int rc;

	if (!k->c || !pool)
		return -SPIN_ENOTCONN;
	if (len == 0)
		return 0;
	if (!(p = pkt_from_bytes(pool, data, len))) {
		if (!exec_timer_armed(&k->retry))
			exec_timer_arm(g->srv->loop, &k->retry, SYSC_TCP_RETRY_NS);
		return -SPIN_EAGAIN;
	}
	rc = tcp_send(k->c, &p);
	if (rc == TCP_OK) {
		g->srv->st.tcp_bytes_out += len;
		return (int)len;
	}
	pkt_free(p);
	return rc == TCP_EAGAIN ? -SPIN_EAGAIN : -SPIN_ENOTCONN;
}

/* Delivers what waited for ring room, oldest stall first. */
static void flush_stalled(struct sysc_prog *g)
{
	while (g->stall_head && !ring_full(&g->shm->ev)) {
		struct sysc_tconn *k = g->stall_head;

		stall_del(g, k);
		tconn_deliver(k);
	}
}

/* --- calls ------------------------------------------------------------------------------- */
/* Hands a call to the program serving proc; false (and *status) when it
 * cannot take it now. */
static bool forward_call(struct sysc_prog *g, struct sysc_proc *p, uint64_t seq,
			 const void *data, uint32_t len, int *status)
{
	struct sysc_server *s = g->srv;
	struct sysc_prog *callee = p->owner;
	struct sysc_call *c;
	struct spin_msg *m;
	cap_ref_t id;

	if (!callee || !callee->attached) {
		*status = -SPIN_EDEAD;
		return false;
	}
	if (ring_full(&callee->shm->ev)) {
		*status = -SPIN_EBUSY;
		return false;
	}
	if (!(c = malloc(sizeof *c))) {
		*status = -SPIN_ENOMEM;
		return false;
	}
	*c = (struct sysc_call){.caller = g->self, .seq = seq, .callee = callee};
	if (cap_insert(s->calls, &cap_call, c, &id) != CAP_OK) {
		free(c);
		*status = -SPIN_EBUSY;
		return false;
	}
	m = out_slot(&callee->shm->ev);
	m->op = SPIN_EV_INVOKE;
	m->status = 0;
	m->seq = 0;
	m->ref = p->served;
	m->arg = id;
	m->addr = 0;
	m->port = 0;
	m->flags = 0;
	m->len = len;
	memcpy(m->data, data, len);
	s->st.calls_forwarded++;
	out_publish(callee, &callee->shm->ev);
	return true;
}

/* A serving program's reply to call id. */
static void take_reply(struct sysc_prog *g, cap_ref_t id, int status, const void *data,
		       uint32_t len)
{
	struct sysc_server *s = g->srv;
	struct sysc_call *c = cap_lookup(s->calls, id, &cap_call, NULL);
	struct sysc_prog *caller;

	/* Only the program the call was handed to may answer it. */
	if (!c || c->callee != g) {
		g->bad_refs++;
		s->st.bad_refs++;
		return;
	}
	caller = cap_lookup(s->progs, c->caller, &cap_prog, NULL);
	if (caller && caller->attached)
		respond(caller, SPIN_OP_CALL, c->seq, status > 0 ? -status : status, 0, data, len);
	else
		s->st.replies_discarded++;
	cap_remove(s->calls, id, &cap_call);
}

struct dead_walk {
	struct sysc_prog *callee;
	cap_ref_t ids[64];
	unsigned n;
	bool more;
};

static bool collect_calls(void *arg, cap_ref_t ref, const struct cap_type *ty, void *obj)
{
	struct dead_walk *w = arg;
	struct sysc_call *c = obj;

	(void)ty;
	if (c->callee != w->callee)
		return true;
	if (w->n == NG_ARRAY_LEN(w->ids)) {
		w->more = true;
		return false;
	}
	w->ids[w->n++] = ref;
	return true;
}

/* Answers -SPIN_EDEAD to everyone waiting on callee. */
static void fail_calls_to(struct sysc_prog *callee)
{
	struct sysc_server *s = callee->srv;
	struct dead_walk w;

	do {
		w = (struct dead_walk){.callee = callee};
		cap_table_walk(s->calls, collect_calls, &w);
		for (unsigned i = 0; i < w.n; i++) {
			struct sysc_call *c = cap_lookup(s->calls, w.ids[i], &cap_call, NULL);
			struct sysc_prog *caller = cap_lookup(s->progs, c->caller, &cap_prog, NULL);

			if (caller && caller->attached)
				respond(caller, SPIN_OP_CALL, c->seq, -SPIN_EDEAD, 0, NULL, 0);
			s->st.calls_dead++;
			cap_remove(s->calls, w.ids[i], &cap_call);
		}
	} while (w.more);
}

/* --- requests ----------------------------------------------------------------------------- */
static int name_of(const struct spin_msg *m, uint32_t len, char *name)
{
	if (len == 0 || len > SPIN_NAME_MAX)
		return -SPIN_EINVAL;
	memcpy(name, m->data, len);
	if (name[len - 1] != 0 || name[0] == 0)
		return -SPIN_EINVAL;
	return 0;
}

/* Handles the request in slot m.  The fields are read once into locals:
 * the program may scribble on the slot meanwhile. */
static void handle(struct sysc_prog *g, struct spin_msg *m)
{
	struct sysc_server *s = g->srv;
	uint32_t op = m->op, len = m->len;
	uint64_t seq = m->seq, arg = m->arg;
	cap_ref_t ref = m->ref, out = 0;
	uint16_t flags = m->flags, port = m->port;
	uint32_t addr = m->addr;
	int32_t st = m->status;
	char name[SPIN_NAME_MAX];
	struct sysc_proc *p;
	struct spin_msg *r;
	uint32_t rlen = 0;
	int rc = 0, err;

	atomic_signal_fence(memory_order_seq_cst);
	g->requests++;
	s->st.requests++;
	if (len > SPIN_MSG_MAX) {
		rc = -SPIN_E2BIG;
		goto reply;
	}
	switch (op) {
	case SPIN_OP_NULL:
		break;
	case SPIN_OP_CALL:
		p = cap_lookup(g->caps, ref, &cap_proc, &err);
		if (!p) {
			rc = -SPIN_EBADREF;
			break;
		}
		if (p->dead) {
			rc = -SPIN_EDEAD;
			break;
		}
		if (p->fn) {
			/* Results are written straight into the response slot. */
			r = out_slot(&g->shm->resp);
			s->st.calls_kernel++;
			rc = p->fn(p->ctx, m->data, len, r->data, SPIN_MSG_MAX, &rlen);
			if (rlen > SPIN_MSG_MAX)
				rlen = SPIN_MSG_MAX;
			respond(g, op, seq, rc, 0, r->data, rlen);
			return;
		}
		if (forward_call(g, p, seq, m->data, len, &rc))
			return;     /* answered when the server replies */
		break;
	case SPIN_OP_LOOKUP:
		if ((rc = name_of(m, len, name)))
			break;
		p = proc_find(name);
		if (!p) {
			rc = -SPIN_ENOENT;
			break;
		}
		if (cap_insert(g->caps, &cap_proc, p, &out) != CAP_OK) {
			rc = -SPIN_ENOMEM;
			break;
		}
		p->refs++;
		break;
	case SPIN_OP_REGISTER:
		if ((rc = name_of(m, len, name)))
			break;
		if (proc_find(name)) {
			rc = -SPIN_EEXIST;
			break;
		}
		if (!(p = calloc(1, sizeof *p))) {
			rc = -SPIN_ENOMEM;
			break;
		}
		memcpy(p->name, name, sizeof name);
		p->owner = g;
		p->refs = 2;        /* the registry's and the served capability's */
		if (cap_insert(g->caps, &cap_served, p, &out) != CAP_OK) {
			free(p);
			rc = -SPIN_ENOMEM;
			break;
		}
		p->served = out;
		p->next = registry;
		registry = p;
		break;
	case SPIN_OP_REPLY:
		take_reply(g, arg, st, m->data, len);
		return;
	case SPIN_OP_UDP_OPEN:
		rc = udp_open(g, port, &out);
		break;
	case SPIN_OP_UDP_SEND:
		udp_out(g, ref, addr, port, m->data, len);
		return;
	case SPIN_OP_TCP_LISTEN:
		rc = tcp_listen_open(g, port, arg, &out);
		break;
	case SPIN_OP_TCP_SEND: {
		struct sysc_tconn *k = cap_lookup(g->caps, ref, &cap_tconn, NULL);

		rc = k ? tconn_send(g, k, m->data, len) : -SPIN_EBADREF;
		break;
	}
	case SPIN_OP_TCP_RECVED: {
		struct sysc_tconn *k = cap_lookup(g->caps, ref, &cap_tconn, NULL);

		if (!k) {
			g->bad_refs++;
			s->st.bad_refs++;
			return;
		}
		/* Never more than the program was given: TCP's window is
		 * not the program's to inflate. */
		if (arg > k->unacked)
			arg = k->unacked;
		k->unacked -= (uint32_t)arg;
		if (k->c && arg)
			tcp_recved(k->c, (uint32_t)arg);
		return;
	}
	case SPIN_OP_TCP_ABORT: {
		struct sysc_tconn *k = cap_lookup(g->caps, ref, &cap_tconn, NULL);

		if (!k) {
			rc = -SPIN_EBADREF;
			break;
		}
		k->abort_on_release = true;
		cap_remove(g->caps, ref, &cap_tconn);
		break;
	}
	case SPIN_OP_CLOSE: {
		const struct cap_type *ty;

		if (!cap_lookup_any(g->caps, ref, &ty, NULL)) {
			rc = -SPIN_EBADREF;
			break;
		}
		cap_remove(g->caps, ref, ty);
		break;
	}
	default:
		rc = -SPIN_EINVAL;
		break;
	}
	if (rc == -SPIN_EBADREF) {
		g->bad_refs++;
		s->st.bad_refs++;
	}
reply:
	if (!(flags & SPIN_F_NOREPLY))
		respond(g, op, seq, rc, out, NULL, 0);
}

static bool ring_has(struct spin_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_relaxed) !=
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

/* The request-ring poller.  A request that wants a response is taken only
 * while the response ring has room (backpressure, not loss). */
static int prog_poll(void *ctx, int budget)
{
	struct sysc_prog *g = ctx;
	struct spin_ring *r;
	bool may_sleep;
	int n = 0;

	if (!g->attached)
		return 0;
	flush_stalled(g);
	r = &g->shm->req;
	may_sleep = g->mode == SPIN_ABI_BLOCKING ||
		    exec_loop_mode(g->srv->loop) == EXEC_BLOCKING;
	if (g->armed) {
		uint64_t v;

		(void)!read(g->bell_in, &v, sizeof v);
		g->armed = false;
	}
	for (;;) {
		while (n < budget && ring_has(r)) {
			uint32_t hd = atomic_load_explicit(&r->head, memory_order_relaxed);
			struct spin_msg *m = spin_slot(r, hd);

			if (ring_full(&g->shm->resp))
				goto out;
			handle(g, m);
			atomic_store_explicit(&r->head, hd + 1, memory_order_release);
			n++;
			if (!g->attached)
				return n;
		}
		if (n == budget || !may_sleep)
			break;
		atomic_store_explicit(&r->waiting, 1, memory_order_relaxed);
		g->armed = true;
		atomic_thread_fence(memory_order_seq_cst);
		if (!ring_has(r))
			break;
	}
out:
	/* Work left behind: make the doorbell ready again so an ON_READY
	 * poller is called on the next turn. */
	if ((n == budget || ring_has(r)) && g->mode == SPIN_ABI_BLOCKING) {
		uint64_t one = 1;

		(void)!write(g->bell_in, &one, sizeof one);
		g->armed = true;
	}
	return n;
}

/* --- attach and detach ---------------------------------------------------------------------- */
static void prog_free_rcu(struct rcu_head *h)
{
	free((struct sysc_prog *)((char *)h - offsetof(struct sysc_prog, rcu)));
}

static void prog_unlink(struct sysc_prog *g)
{
	for (struct sysc_prog **pp = &g->srv->list; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			return;
		}
}

static void prog_detach(struct sysc_prog *g)
{
	struct sysc_server *s = g->srv;

	if (g->attached) {
		uint64_t one = 1;

		g->attached = false;
		exec_poller_del(s->loop, &g->poller);
		fail_calls_to(g);
		cap_table_free(g->caps);
		g->caps = NULL;
		/* Tell a program that is still alive, and wake it. */
		atomic_store_explicit(&g->shm->dead, 1, memory_order_release);
		(void)!write(g->bell_out, &one, sizeof one);
		munmap(g->shm, g->shm_size);
		close(g->bell_in);
		close(g->bell_out);
		s->st.detached++;
		s->st.programs--;
	}
	exec_poller_del(s->loop, &g->conn_poller);
	close(g->conn);
	cap_remove(s->progs, g->self, &cap_prog);
	prog_unlink(g);
	rcu_call(&g->rcu, prog_free_rcu);
}

static int send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (nfds) {
		memset(cbuf, 0, sizeof cbuf);
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

/* Gives a new program a capability for every kernel procedure (its initial
 * table, listed in the attach response). */
static void grant_builtins(struct sysc_prog *g, struct spin_attach_resp *rs)
{
	for (struct sysc_proc *p = registry; p && rs->nprocs < SPIN_ATTACH_PROCS; p = p->next) {
		cap_ref_t ref;

		if (!p->fn || cap_insert(g->caps, &cap_proc, p, &ref) != CAP_OK)
			continue;
		p->refs++;
		memcpy(rs->procs[rs->nprocs].name, p->name, SPIN_NAME_MAX);
		rs->procs[rs->nprocs++].ref = ref;
	}
}

static int attach(struct sysc_prog *g, const struct spin_attach_req *rq)
{
	struct sysc_server *s = g->srv;
	struct spin_attach_resp rs = {.status = 0};
	int fds[3] = {-1, -1, -1};
	int memfd = -1;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	if (rq->magic != SPIN_ABI_MAGIC || rq->version != SPIN_ABI_VERSION ||
	    rq->mode > SPIN_ABI_BUSY) {
		rs.status = -SPIN_EPROTO;
		goto refuse;
	}
	memcpy(g->name, rq->name, sizeof g->name);
	g->name[sizeof g->name - 1] = 0;
	for (char *c = g->name; *c; c++)
		if (*c < ' ' || *c > '~')
			*c = '?';
	g->mode = (enum spin_abi_mode)rq->mode;
	g->shm_size = (sizeof(struct spin_shm) + pg - 1) / pg * pg;
	g->bell_in = g->bell_out = -1;
	memfd = memfd_create("spin-syscall", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)g->shm_size))
		goto nomem;
	g->shm = mmap(NULL, g->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (g->shm == MAP_FAILED) {
		g->shm = NULL;
		goto nomem;
	}
	g->shm->magic = SPIN_ABI_MAGIC;
	g->shm->version = SPIN_ABI_VERSION;
	g->shm->mode = g->mode;
	g->shm->slot_size = SPIN_SLOT_SIZE;
	g->shm->nslots = SPIN_RING_SLOTS;
	/* The request poller has not run yet: the first request must ring. */
	atomic_store_explicit(&g->shm->req.waiting, 1, memory_order_relaxed);
	g->armed = true;
	/* The program writes our doorbell (we read it without blocking); we
	 * write its doorbell, which it reads blocking. */
	g->bell_in = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	g->bell_out = eventfd(0, EFD_CLOEXEC);
	g->caps = cap_table_new(g, SYSC_CAPS);
	if (g->bell_in < 0 || g->bell_out < 0 || !g->caps)
		goto nomem;
	grant_builtins(g, &rs);
	rs.shm_size = (uint32_t)g->shm_size;
	rs.prog_id = g->id;
	fds[0] = memfd;
	fds[1] = g->bell_in;
	fds[2] = g->bell_out;
	if (send_fds(g->conn, &rs, sizeof rs, fds, 3))
		goto fail;
	close(memfd);
	g->poller = (struct exec_poller){
		.name = "syscall-prog", .poll = prog_poll, .ctx = g, .wait_handle = g->bell_in,
		.flags = g->mode == SPIN_ABI_BLOCKING ? EXEC_POLL_ON_READY : 0};
	if (exec_poller_add(s->loop, &g->poller))
		goto fail_quiet;
	g->attached = true;
	s->st.attached++;
	s->st.programs++;
	sal_log(SAL_LOG_INFO, "syscall: program %u (%s) attached, %s mode", g->id, g->name,
		g->mode == SPIN_ABI_BUSY ? "busy-poll" : "blocking");
	return 0;
nomem:
	rs.status = -SPIN_ENOMEM;
refuse:
	(void)send_fds(g->conn, &rs, sizeof rs, NULL, 0);
fail:
fail_quiet:
	if (memfd >= 0)
		close(memfd);
	if (g->shm)
		munmap(g->shm, g->shm_size);
	if (g->bell_in >= 0)
		close(g->bell_in);
	if (g->bell_out >= 0)
		close(g->bell_out);
	cap_table_free(g->caps);
	g->caps = NULL;
	g->shm = NULL;
	return -1;
}

/* The control connection: the attach request first, then only its
 * closing matters (the program exited, or died). */
static int conn_poll(void *ctx, int budget)
{
	struct sysc_prog *g = ctx;
	struct spin_attach_req rq;
	ssize_t n;

	(void)budget;
	n = recv(g->conn, &rq, sizeof rq, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		if (g->attached)
			sal_log(SAL_LOG_INFO, "syscall: program %u (%s) detached", g->id, g->name);
		prog_detach(g);
		return 1;
	}
	if (g->attached)
		return 1;       /* nothing else is defined on the connection */
	if (n != (ssize_t)sizeof rq || attach(g, &rq))
		prog_detach(g);
	return 1;
}

static int listen_poll(void *ctx, int budget)
{
	struct sysc_server *s = ctx;
	int done = 0;

	while (done < budget) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct sysc_prog *g;

		if (fd < 0)
			break;
		done++;
		if (s->st.programs >= SYSC_MAX_PROGS || !(g = calloc(1, sizeof *g))) {
			close(fd);
			continue;
		}
		g->srv = s;
		g->conn = fd;
		g->stall_tail = &g->stall_head;
		g->id = ++s->next_id;
		if (cap_insert(s->progs, &cap_prog, g, &g->self) != CAP_OK) {
			close(fd);
			free(g);
			continue;
		}
		g->conn_poller = (struct exec_poller){.name = "syscall-conn", .poll = conn_poll,
						      .ctx = g, .wait_handle = fd,
						      .flags = EXEC_POLL_ON_READY};
		exec_poller_add(s->loop, &g->conn_poller);
		g->next = s->list;
		s->list = g;
	}
	return done;
}

/* --- the server -------------------------------------------------------------------------------- */
int sysc_server_open(struct exec_loop *loop, const char *path, struct pkt_pool *pool,
		     struct sysc_server **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sysc_server *s;
	int probe;

	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "syscall socket path too long (at most %zu bytes)",
			 sizeof sa.sun_path - 1);
		return SYSC_EINVAL;
	}
	if (!(s = calloc(1, sizeof *s)))
		return SYSC_ENOMEM;
	(void)ng_node_register(&sysc_node);
	s->loop = loop;
	s->pool = pool;
	s->lfd = -1;
	snprintf(s->path, sizeof s->path, "%s", path);
	strcpy(sa.sun_path, path);
	s->progs = cap_table_new(s, SYSC_MAX_PROGS * 2);
	s->calls = cap_table_new(s, SYSC_MAX_CALLS);
	if (!s->progs || !s->calls) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* A socket file whose appliance is gone is replaced; a live one not. */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(probe);
		snprintf(err, errlen, "syscall socket %s is in use", path);
		goto fail;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(s->lfd, 64)) {
		snprintf(err, errlen, "syscall socket %s: %s", path, strerror(errno));
		goto fail;
	}
	s->lpoller = (struct exec_poller){.name = "syscall-listen", .poll = listen_poll, .ctx = s,
					  .wait_handle = s->lfd, .flags = EXEC_POLL_ON_READY};
	exec_poller_add(loop, &s->lpoller);
	*out = s;
	return SYSC_OK;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	cap_table_free(s->progs);
	cap_table_free(s->calls);
	free(s);
	return SYSC_EIO;
}

void sysc_server_close(struct sysc_server *s)
{
	if (!s)
		return;
	while (s->list)
		prog_detach(s->list);
	exec_poller_del(s->loop, &s->lpoller);
	close(s->lfd);
	unlink(s->path);
	cap_table_free(s->calls);
	cap_table_free(s->progs);
	free(s);
}

void sysc_server_stats(const struct sysc_server *s, struct sysc_stats *out) { *out = s->st; }

int sysc_server_format(const struct sysc_server *s, char *buf, size_t size)
{
	size_t off = 0;
	int n;

#define EMIT(...)                                                                   \
	do {                                                                        \
		n = snprintf(buf + (off < size ? off : size), off < size ? size - off : 0, \
			     __VA_ARGS__);                                          \
		off += n > 0 ? (size_t)n : 0;                                       \
	} while (0)
	EMIT("socket %s\nprograms %u\n", s->path, s->st.programs);
	for (const struct sysc_prog *g = s->list; g; g = g->next)
		if (g->attached)
			EMIT("program %u name %s mode %s caps %u requests %llu bad_refs %llu\n",
			     g->id, g->name, g->mode == SPIN_ABI_BUSY ? "busy-poll" : "blocking",
			     cap_table_count(g->caps), (unsigned long long)g->requests,
			     (unsigned long long)g->bad_refs);
	EMIT("attached %llu detached %llu requests %llu bad_refs %llu calls_kernel %llu "
	     "calls_forwarded %llu calls_dead %llu replies_discarded %llu dgrams_in %llu "
	     "dgrams_out %llu dgrams_dropped %llu tcp_accepted %llu tcp_refused %llu "
	     "tcp_bytes_in %llu tcp_bytes_out %llu\n",
	     (unsigned long long)s->st.attached, (unsigned long long)s->st.detached,
	     (unsigned long long)s->st.requests, (unsigned long long)s->st.bad_refs,
	     (unsigned long long)s->st.calls_kernel, (unsigned long long)s->st.calls_forwarded,
	     (unsigned long long)s->st.calls_dead, (unsigned long long)s->st.replies_discarded,
	     (unsigned long long)s->st.dgrams_in, (unsigned long long)s->st.dgrams_out,
	     (unsigned long long)s->st.dgrams_dropped, (unsigned long long)s->st.tcp_accepted,
	     (unsigned long long)s->st.tcp_refused, (unsigned long long)s->st.tcp_bytes_in,
	     (unsigned long long)s->st.tcp_bytes_out);
#undef EMIT
	return (int)off;
}

/* --- module -------------------------------------------------------------------------------------- */
static const struct sysc_ops sysc_ops = {.proc_export = sysc_proc_export,
					 .proc_unexport = sysc_proc_unexport};
const struct spin_interface sysc_interface = {
	.name = "syscall",
	.version = SPIN_VERSION(1, 0),
	.procs = &sysc_ops,
};
static const struct spin_interface *const sysc_exports[] = {&sysc_interface, NULL};

static int sysc_init(const char *args)
{
	(void)args;
	(void)ng_node_register(&sysc_node);
	return 0;
}

SPIN_MODULE(sysc_module,
	    .name = "syscall",
	    .version = SPIN_VERSION(1, 0),
	    .exports = sysc_exports,
	    .init = sysc_init,
	    .doc = "system-call interface: user-level programs over shared-memory rings");
