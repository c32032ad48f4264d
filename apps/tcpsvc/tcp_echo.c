/*
 * tcp_echo.c - TCP echo (RFC 862) as the module "tcpecho".  See tcpsvc.h.
 *
 * Every received chain is handed back to tcp_send as it is: the payload
 * stays in the buffers it arrived in and TCP pushes its headers into their
 * headroom.  Received bytes are acknowledged to TCP (tcp_recved) only once
 * tcp_send took them, so the echo never holds more than one receive window
 * and a peer that does not read sees its window close.
 */
#include "apps/tcpsvc/tcpsvc_priv.h"

/* Built in, this source is the module "tcpecho" with the node and interface
 * "tcp-echo" (the `service tcp-echo` config lines); as the extension object
 * build/ext/tcp_echo.o all three are named "tcp_echo", so the two are told apart
 * everywhere and may run at once on different ports. */
#ifdef SPIN_EXTENSION
#define TCP_ECHO_NAME_MOD "tcp_echo"
#define TCP_ECHO_NAME "tcp_echo"
#else
#define TCP_ECHO_NAME_MOD "tcpecho"
#define TCP_ECHO_NAME "tcp-echo"
#endif

NG_NODE(tcp_echo_node,
	.name = TCP_ECHO_NAME,
	.module = &tcpecho_module,
	.doc = "TCP echo service (RFC 862): sends back what it receives, no copy");

/* Offers the pending chain to TCP; on TCP_EAGAIN it stays pending and the
 * writable handler calls again.  Closes our side once everything is taken
 * and the peer has finished. */
static void echo_flush(struct tcpsvc_conn *k)
{
	if (k->pending) {
		uint32_t n = pkt_len(k->pending);
		int rc = tcp_send(k->c, &k->pending);

		if (rc == TCP_EAGAIN)
			return;
		if (rc != TCP_OK) {
			/* Sending is over (the connection is ending): the
			 * bytes have nowhere to go. */
			pkt_free(k->pending);
			k->pending = NULL;
		} else {
			k->svc->st.bytes_out += n;
		}
		tcp_recved(k->c, n);
	}
	if (k->fin)
		tcpsvc_close(k);
}

/* Consumes p: sent on, or appended to what is already waiting (order is
 * kept: nothing overtakes a pending chain). */
static void echo_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	struct tcpsvc_conn *k = ctx;

	(void)c;
	ng_enter(&tcp_echo_node, p);
	k->svc->st.bytes_in += pkt_len(p);
	ng_leave(&tcp_echo_node);
	if (k->pending) {
		/* A failed chain freed p: those bytes cannot be echoed, and
		 * a stream with a hole in it is worse than none. */
		if (!pkt_chain(k->pending, &p))
			tcp_abort(k->c);
		return;
	}
	k->pending = p;
	echo_flush(k);
}

static void echo_recv_fin(void *ctx, struct tcp_conn *c)
{
	struct tcpsvc_conn *k = ctx;

	(void)c;
	k->fin = true;
	if (!k->pending)
		tcpsvc_close(k);
}

static void echo_writable(void *ctx, struct tcp_conn *c)
{
	(void)c;
	echo_flush(ctx);
}

static void echo_closed(void *ctx, struct tcp_conn *c, enum tcp_reason why)
{
	(void)c;
	(void)why;
	tcpsvc_release(ctx);
}

static const struct tcp_handlers echo_handlers = {
	.recv = echo_recv,
	.recv_fin = echo_recv_fin,
	.writable = echo_writable,
	.closed = echo_closed,
};

static const struct tcpsvc_kind echo_kind = {
	.name = TCP_ECHO_NAME,
	.node = &tcp_echo_node,
	.h = &echo_handlers,
	.manual_recv = true,
	.nodelay = true,
};

static int echo_start(uint16_t port, struct tcpsvc **out)
{
	return tcpsvc_start(&echo_kind, port, out);
}

static const struct tcpsvc_ops echo_ops = {
	.start = echo_start,
	.stop = tcpsvc_stop,
	.stats = tcpsvc_stats,
};
const struct spin_interface tcpecho_interface = {
	.name = TCP_ECHO_NAME,
	.version = SPIN_VERSION(1, 0),
	.procs = &echo_ops,
};
static const struct spin_interface *const echo_exports[] = {&tcpecho_interface, NULL};

static struct tcpsvc_own echo_own;

/* args: NULL, "", or ports separated by commas ("7,9000"). */
static int echo_init(const char *args)
{
	(void)ng_node_register(&tcp_echo_node);
	return tcpsvc_own_start(&echo_kind, &echo_own, args);
}

static void echo_fini(void)
{
	tcpsvc_own_stop(&echo_own);
}

static const struct spin_import echo_imports[] = {
	{.name = "tcp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(tcpecho_module,
	    .name = TCP_ECHO_NAME_MOD,
	    .version = SPIN_VERSION(1, 0),
	    .exports = echo_exports,
	    .imports = echo_imports,
	    .init = echo_init,
	    .fini = echo_fini,
	    .doc = "TCP echo service (RFC 862)");
