/*
 * tcp_discard.c - TCP discard (RFC 863) as the module "discard".  See
 * tcpsvc.h.  Received bytes are counted and freed at once, so the window
 * stays open; the service closes its side when the peer does.
 */
#include "apps/tcpsvc/tcpsvc_priv.h"

/* Built in, this source is the module "discard" with the node and interface
 * "tcp-discard" (the `service tcp-discard` config lines); as the extension object
 * build/ext/tcp_discard.o all three are named "tcp_discard", so the two are told apart
 * everywhere and may run at once on different ports. */
#ifdef SPIN_EXTENSION
#define TCP_DISCARD_NAME_MOD "tcp_discard"
#define TCP_DISCARD_NAME "tcp_discard"
#else
#define TCP_DISCARD_NAME_MOD "discard"
#define TCP_DISCARD_NAME "tcp-discard"
#endif

NG_NODE(tcp_discard_node,
	.name = TCP_DISCARD_NAME,
	.module = &discard_module,
	.doc = "TCP discard service (RFC 863): counts and frees what it receives");

static void discard_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	struct tcpsvc_conn *k = ctx;

	(void)c;
	ng_enter(&tcp_discard_node, p);
	k->svc->st.bytes_in += pkt_len(p);
	pkt_free(p);
	ng_leave(&tcp_discard_node);
}

static void discard_recv_fin(void *ctx, struct tcp_conn *c)
{
	(void)c;
	tcpsvc_close(ctx);
}

static void discard_closed(void *ctx, struct tcp_conn *c, enum tcp_reason why)
{
	(void)c;
	(void)why;
	tcpsvc_release(ctx);
}

static const struct tcp_handlers discard_handlers = {
	.recv = discard_recv,
	.recv_fin = discard_recv_fin,
	.closed = discard_closed,
};

static const struct tcpsvc_kind discard_kind = {
	.name = TCP_DISCARD_NAME,
	.node = &tcp_discard_node,
	.h = &discard_handlers,
};

static int discard_start(uint16_t port, struct tcpsvc **out)
{
	return tcpsvc_start(&discard_kind, port, out);
}

static const struct tcpsvc_ops discard_ops = {
	.start = discard_start,
	.stop = tcpsvc_stop,
	.stats = tcpsvc_stats,
};
const struct spin_interface discard_interface = {
	.name = TCP_DISCARD_NAME,
	.version = SPIN_VERSION(1, 0),
	.procs = &discard_ops,
};
static const struct spin_interface *const discard_exports[] = {&discard_interface, NULL};

static struct tcpsvc_own discard_own;

static int discard_init(const char *args)
{
	(void)ng_node_register(&tcp_discard_node);
	return tcpsvc_own_start(&discard_kind, &discard_own, args);
}

static void discard_fini(void)
{
	tcpsvc_own_stop(&discard_own);
}

static const struct spin_import discard_imports[] = {
	{.name = "tcp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(discard_module,
	    .name = TCP_DISCARD_NAME_MOD,
	    .version = SPIN_VERSION(1, 0),
	    .exports = discard_exports,
	    .imports = discard_imports,
	    .init = discard_init,
	    .fini = discard_fini,
	    .doc = "TCP discard service (RFC 863)");
