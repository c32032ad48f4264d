/*
 * tcp_module.c - the tcp module: its node, its events, configuration,
 * counters, the clock, and the binding of its input on IP_PacketArrived.
 *
 * Start allocates everything TCP will ever use on the packet path: the
 * connection blocks and the 4-tuple table (max_conns), and the pool that
 * segments are built in (pool_bufs).  Stop resets every connection, frees
 * the listeners and gives the memory back.
 */
#include "protocols/tcp/tcp.h"
#include "protocols/tcp/tcp_private.h"

#include "kernel/sal/sal.h"
#include "protocols/ip/ip.h"

static const char *const tcp_drop_names[] = {
#define NG_DROP_X(id, name, text) name,
#include "protocols/tcp/tcp_drop.def"
#undef NG_DROP_X
};

NG_NODE(tcp_node,
	.name = "tcp",
	.module = &tcp_module,
	.arrived = &TCP_PacketArrived_event,
	.send = &TCP_SendPacket_event,
	.drop_names = tcp_drop_names,
	.ndrops = NG_ARRAY_LEN(tcp_drop_names),
	.doc = "TCP over IPv4 (RFC 9293): state machine, options, cookies, API");

SPIN_EVENT_DEFINE(TCP_PacketArrived, .owner = &tcp_module, .subject = ng_pkt_subject,
		  .doc = "a valid TCP segment for us; data start at the TCP header");
SPIN_EVENT_DEFINE(TCP_SendPacket, .owner = &tcp_module, .subject = ng_pkt_subject,
		  .doc = "a finished TCP segment on its way to IP (primary: ip output)");

/* --- the clock --------------------------------------------------------------------- */
static uint64_t (*_Atomic tcp_clock)(void);

uint64_t tcp_now(void)
{
	uint64_t (*fn)(void) = atomic_load_explicit(&tcp_clock, memory_order_relaxed);

	return fn ? fn() : sal_now_ns();
}

void tcp_set_clock(uint64_t (*now_ns)(void))
{
	atomic_store_explicit(&tcp_clock, now_ns, memory_order_relaxed);
}

/* --- configuration ------------------------------------------------------------------- */
/* The documented defaults (docs/protocols/tcp.md). */
static struct tcp_config tcp_pending = {       /* for the next start */
	.max_conns = 4096,
	.pool_bufs = 8192,
	.rto_min_ms = 200,
	.rto_max_ms = 60000,
	.rto_initial_ms = 1000,
	.delack_ms = 40,
	.timewait_ms = 60000,
	.syn_retries = 6,
	.retries = 15,
	.sndbuf = 262144,
	.rcvbuf = 262144,
	.rcvbuf_max = 4u << 20,
	.cc = TCP_CC_NEWRENO,
	.backlog = 128,
	.mss = 0,
	.challenge_ack_limit = 1000,
	.ooo_mem_max = 4u << 20,
	.syncookies = true,
	.timestamps = true,
	.wscale = true,
	.sack = true,
};

void tcp_config_get(struct tcp_config *out)
{
	*out = tcp_g.running ? tcp_g.cfg : tcp_pending;
}

int tcp_config_set(const struct tcp_config *c)
{
	if (!c || !c->max_conns || !c->pool_bufs || !c->rto_min_ms ||
	    c->rto_min_ms > c->rto_max_ms || !c->rto_initial_ms || !c->sndbuf || !c->rcvbuf ||
	    !c->backlog || (c->mss && c->mss < 64) || c->cc > TCP_CC_CUBIC)
		return TCP_EINVAL;
	tcp_pending = *c;
	if (tcp_g.running) {
		/* Sizes fixed at start stay as they are until the next start. */
		uint32_t mc = tcp_g.cfg.max_conns, pb = tcp_g.cfg.pool_bufs;
		tcp_g.cfg = *c;
		tcp_g.cfg.max_conns = mc;
		tcp_g.cfg.pool_bufs = pb;
	}
	return TCP_OK;
}

/* --- names ----------------------------------------------------------------------------- */
const char *tcp_strerror(int err)
{
	static const char *const s[] = {
		[TCP_OK] = "ok",
		[TCP_EINVAL] = "invalid argument",
		[TCP_ENOMEM] = "out of memory",
		[TCP_EADDRINUSE] = "address in use",
		[TCP_EAGAIN] = "send buffer full",
		[TCP_ENOTCONN] = "not connected",
		[TCP_ENOROUTE] = "no route or source address",
		[TCP_ELIMIT] = "connection limit reached",
		[TCP_ENOTRUNNING] = "tcp not running",
	};
	return err >= 0 && (unsigned)err < NG_ARRAY_LEN(s) && s[err] ? s[err] : "unknown error";
}

const char *tcp_reason_name(enum tcp_reason r)
{
	static const char *const s[] = {
		[TCP_R_CLOSED] = "closed", [TCP_R_RESET] = "reset",
		[TCP_R_REFUSED] = "refused", [TCP_R_TIMEOUT] = "timeout",
		[TCP_R_KEEPALIVE] = "keepalive", [TCP_R_ABORTED] = "aborted",
		[TCP_R_SHUTDOWN] = "shutdown",
	};
	return (unsigned)r < NG_ARRAY_LEN(s) && s[r] ? s[r] : "?";
}

const char *tcp_state_name(enum tcp_state st)
{
	static const char *const s[] = {
		[TCP_CLOSED] = "CLOSED", [TCP_LISTEN] = "LISTEN",
		[TCP_SYN_SENT] = "SYN_SENT", [TCP_SYN_RECEIVED] = "SYN_RECEIVED",
		[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_FIN_WAIT_1] = "FIN_WAIT_1",
		[TCP_FIN_WAIT_2] = "FIN_WAIT_2", [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
		[TCP_CLOSING] = "CLOSING", [TCP_LAST_ACK] = "LAST_ACK",
		[TCP_TIME_WAIT] = "TIME_WAIT",
	};
	return (unsigned)st < NG_ARRAY_LEN(s) && s[st] ? s[st] : "?";
}

/* --- counters --------------------------------------------------------------------------------- */
void tcp_stats_get(struct tcp_stats *out, bool clear)
{
	*out = tcp_g.st;
	out->curr_estab = out->live_conns = out->sndq_bytes = out->ooo_bytes = 0;
	out->timers_armed = 0;
	for (const struct tcp_conn *c = tcp_g.all; c; c = c->anext) {
		if (c->dead)
			continue;
		out->live_conns++;
		out->curr_estab += c->counted_estab;
		out->sndq_bytes += c->sq_bytes;
		out->ooo_bytes += c->ooo_bytes;
		for (unsigned k = 0; k < TCP_T_N; k++)
			out->timers_armed += c->deadline[k] != 0;
	}
	if (clear)
		memset(&tcp_g.st, 0, sizeof tcp_g.st);
}

/* --- the module ------------------------------------------------------------------------------ */
static struct disp_binding *tcp_in_binding, *tcp_demux_binding, *tcp_out_binding;

static void tcp_fini(void);

static int tcp_init(const char *args)
{
	(void)args;
	static const struct disp_term proto[] = {DISP_HDR_EQ(IP_OFF_PROTO, 1, IP_PROTO_TCP)};
	const struct TCP_SendPacket_spec out = {.handler = tcp_send_packet, .desc = "tcp output"};
	const struct TCP_PacketArrived_spec demux = {.handler = tcp_demux, .desc = "tcp demux"};
	const struct IP_PacketArrived_spec in = {
		.handler = tcp_input,
		.terms = proto,
		.nterms = NG_ARRAY_LEN(proto),
		.desc = "tcp input",
	};
	int rc;

	(void)ng_node_register(&tcp_node);
	tcp_g.cfg = tcp_pending;
	tcp_g.pool = pkt_pool_new("tcp", tcp_g.cfg.pool_bufs, PKT_BUF_DEFAULT);
	if (!tcp_g.pool)
		return SPIN_MOD_EINIT;
	if (tcp_conn_pool_init(tcp_g.cfg.max_conns) != TCP_OK) {
		pkt_pool_free(tcp_g.pool);
		tcp_g.pool = NULL;
		return SPIN_MOD_EINIT;
	}
	tcp_ack_reset();
	tcp_g.running = true;
	if ((rc = TCP_SendPacket_install(&tcp_module, &out, &tcp_out_binding)) ||
	    (rc = TCP_PacketArrived_install(&tcp_module, &demux, &tcp_demux_binding)) ||
	    (rc = IP_PacketArrived_install(&tcp_module, &in, &tcp_in_binding))) {
		tcp_fini();
		return rc;
	}
	return 0;
}

static void tcp_fini(void)
{
	if (tcp_in_binding)
		disp_uninstall(tcp_in_binding);
	tcp_in_binding = NULL;
	tcp_flush();
	if (tcp_demux_binding)
		disp_uninstall(tcp_demux_binding);
	if (tcp_out_binding)
		disp_uninstall(tcp_out_binding);
	tcp_demux_binding = tcp_out_binding = NULL;
	for (unsigned b = 0; b < NG_ARRAY_LEN(tcp_g.lhash); b++) {
		struct tcp_listener *l = tcp_g.lhash[b];
		while (l) {
			struct tcp_listener *n = l->next;
			sal_free(l);
			l = n;
		}
		tcp_g.lhash[b] = NULL;
	}
	tcp_g.running = false;
	tcp_ack_reset();
	tcp_conn_pool_fini();
	if (tcp_g.pool)
		pkt_pool_free(tcp_g.pool);
	tcp_g.pool = NULL;
}

static struct disp_event *const tcp_events[] = {&TCP_PacketArrived_event,
						&TCP_SendPacket_event, NULL};
const struct spin_interface tcp_interface = {
	.name = "tcp",
	.version = SPIN_VERSION(1, 0),
	.events = tcp_events,
};
static const struct spin_interface *const tcp_exports[] = {&tcp_interface, NULL};

SPIN_MODULE(tcp_module,
	    .name = "tcp",
	    .version = SPIN_VERSION(1, 0),
	    .exports = tcp_exports,
	    .init = tcp_init,
	    .fini = tcp_fini,
	    .doc = "TCP over IPv4 (RFC 9293)");
