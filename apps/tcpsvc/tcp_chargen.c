/*
 * tcp_chargen.c - TCP character generator (RFC 864) as the module
 * "chargen".  See tcpsvc.h; the stream is chargen_byte(0), chargen_byte(1),
 * ... so a test can check every byte it gets.
 *
 * Filling: buffers from TCP's pool (tcp_pool), each filled to at most 1460
 * bytes, are queued until tcp_send says TCP_EAGAIN; the writable handler
 * resumes the loop.  An empty pool stops it too, and
 * a 1 ms timer resumes it (nothing else would).  Received bytes are freed.
 * The peer's FIN ends the stream: we close our side.
 */
#include "apps/tcpsvc/tcpsvc_priv.h"

/* Built in, this source is the module "chargen" with the node and interface
 * "tcp-chargen" (the `service tcp-chargen` config lines); as the extension object
 * build/ext/tcp_chargen.o all three are named "tcp_chargen", so the two are told apart
 * everywhere and may run at once on different ports. */
#ifdef SPIN_EXTENSION
#define TCP_CHARGEN_NAME_MOD "tcp_chargen"
#define TCP_CHARGEN_NAME "tcp_chargen"
#else
#define TCP_CHARGEN_NAME_MOD "chargen"
#define TCP_CHARGEN_NAME "tcp-chargen"
#endif

#define CHARGEN_RETRY_NS 1000000ull

NG_NODE(tcp_chargen_node,
	.name = TCP_CHARGEN_NAME,
	.module = &chargen_module,
	.doc = "TCP character generator (RFC 864)");

static void chargen_fill(struct tcpsvc_conn *k)
{
	struct pkt_pool *pool = tcp_pool();

	/* Until TCP says TCP_EAGAIN: only that arms the writable handler.
	 * The stream is computed, so a buffer TCP refused is simply freed
	 * and made again next time. */
	while (!k->closing) {
		struct pkt *p = pool ? pkt_alloc(pool) : NULL;
		uint32_t n;
		uint8_t *d;

		if (!p) {
			if (!exec_timer_armed(&k->retry) && exec_current())
				exec_timer_arm(exec_current(), &k->retry, CHARGEN_RETRY_NS);
			return;
		}
		n = pkt_tailroom(p);
		if (n > 1460)
			n = 1460;
		d = pkt_put(p, n);
		if (!d) {
			pkt_free(p);
			return;
		}
		for (uint32_t i = 0; i < n; i++)
			d[i] = chargen_byte(k->pos + i);
		if (tcp_send(k->c, &p) != TCP_OK) {
			pkt_free(p);
			return;
		}
		k->pos += n;
		k->svc->st.bytes_out += n;
	}
}

static void chargen_retry(struct exec_timer *t, void *arg)
{
	(void)t;
	chargen_fill(arg);
}

static void chargen_on_accept(struct tcpsvc_conn *k)
{
	exec_timer_init(&k->retry, chargen_retry, k);
	chargen_fill(k);
}

static void chargen_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	struct tcpsvc_conn *k = ctx;

	(void)c;
	ng_enter(&tcp_chargen_node, p);
	k->svc->st.bytes_in += pkt_len(p);
	pkt_free(p);
	ng_leave(&tcp_chargen_node);
}

static void chargen_recv_fin(void *ctx, struct tcp_conn *c)
{
	(void)c;
	tcpsvc_close(ctx);
}

static void chargen_writable(void *ctx, struct tcp_conn *c)
{
	(void)c;
	chargen_fill(ctx);
}

static void chargen_closed(void *ctx, struct tcp_conn *c, enum tcp_reason why)
{
	(void)c;
	(void)why;
	tcpsvc_release(ctx);
}

static const struct tcp_handlers chargen_handlers = {
	.recv = chargen_recv,
	.recv_fin = chargen_recv_fin,
	.writable = chargen_writable,
	.closed = chargen_closed,
};

static const struct tcpsvc_kind chargen_kind = {
	.name = TCP_CHARGEN_NAME,
	.node = &tcp_chargen_node,
	.h = &chargen_handlers,
	.on_accept = chargen_on_accept,
};

static int chargen_start(uint16_t port, struct tcpsvc **out)
{
	return tcpsvc_start(&chargen_kind, port, out);
}

static const struct tcpsvc_ops chargen_ops = {
	.start = chargen_start,
	.stop = tcpsvc_stop,
	.stats = tcpsvc_stats,
};
const struct spin_interface chargen_interface = {
	.name = TCP_CHARGEN_NAME,
	.version = SPIN_VERSION(1, 0),
	.procs = &chargen_ops,
};
static const struct spin_interface *const chargen_exports[] = {&chargen_interface, NULL};

static struct tcpsvc_own chargen_own;

static int chargen_init(const char *args)
{
	(void)ng_node_register(&tcp_chargen_node);
	return tcpsvc_own_start(&chargen_kind, &chargen_own, args);
}

static void chargen_fini(void)
{
	tcpsvc_own_stop(&chargen_own);
}

static const struct spin_import chargen_imports[] = {
	{.name = "tcp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(chargen_module,
	    .name = TCP_CHARGEN_NAME_MOD,
	    .version = SPIN_VERSION(1, 0),
	    .exports = chargen_exports,
	    .imports = chargen_imports,
	    .init = chargen_init,
	    .fini = chargen_fini,
	    .doc = "TCP character generator (RFC 864)");
