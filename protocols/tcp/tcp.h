/*
 * tcp.h - TCP over IPv4 (RFC 9293) and its API for in-kernel modules.
 *
 * Graph.  The tcp node installs its input on IP_PacketArrived with the
 * declarative guard protocol == 6.  Input verifies the checksum (a
 * PKT_CSUM_PARTIAL or PKT_CSUM_VERIFIED packet is accepted without
 * summing), checks the header and its options, pulls the IP header and
 * raises TCP_PacketArrived with the data start at the TCP header.  The
 * primary handler of TCP_PacketArrived is TCP itself: it finds the
 * connection by its 4-tuple in a hash table, or a listener by port, and
 * runs the state machine.  An extension that wants raw segments for a port
 * (the forwarder) installs on TCP_PacketArrived with tcp_port_term and
 * DISP_CANCEL; one that only watches uses DISP_FIRST and does not free.
 * Every segment TCP emits goes down through TCP_SendPacket (primary: IP
 * output; the checksum is left partial, PKT_CSUM_PARTIAL, for the device or
 * the link to finish), where an extension may interpose the same way.
 *
 * Connections.  A connection is an opaque handle (struct tcp_conn *) with
 * a table of handlers, given at tcp_listen or tcp_connect: they are the
 * connection's events, raised by TCP on the packet loop in the order the
 * protocol produces them.  Every handler gets the ctx pointer given with
 * the table and the connection.  A table may leave any handler NULL.
 *
 * Who owns what, at every hand-off:
 *   - tcp_send(c, &p): on TCP_OK the chain now belongs to TCP and *p is
 *     NULL; TCP keeps the buffers until the peer acknowledges the bytes and
 *     then frees them.  On any other result *p is untouched and still the
 *     caller's.  The caller must not keep references into the data.
 *   - recv(ctx, c, p): p belongs to the handler, which must free it (or
 *     pass it on: tcp_send on another connection is fine).  p's data is
 *     exactly the new in-order bytes (no headers in front), possibly a
 *     chain of several segments.
 *   - Connection handles: valid from the accept/connect result until the
 *     closed handler returns.  TCP frees the connection's memory later
 *     (TIME_WAIT and the like are TCP's own business).
 *   - Listener handles: valid until tcp_unlisten returns.
 *
 * Receive window.  By default bytes count as consumed when recv returns,
 * so the window stays open.  With opts.manual_recv the window only opens
 * again when the app calls tcp_recved(c, n) for bytes it has finished
 * with: that is how an echo service that cannot send yet pushes back on its
 * peer.  TCP sends a window update when the window grows by at least
 * two segments or half the buffer (RFC 9293 3.8.6.2.2 receiver SWS).
 *
 * Send buffer.  tcp_send accepts a chain whole whenever the bytes queued
 * (sent and not yet acknowledged, plus not yet sent) are below the
 * connection's sndbuf, so a queue may overshoot the bound by one chain;
 * otherwise it returns TCP_EAGAIN and the writable handler runs once the
 * queue has drained below half the bound.
 *
 * Threading.  Every function here runs on the packet run loop's thread
 * (all handlers are called there too), except tcp_config_*, tcp_stats_get,
 * tcp_conn_list and tcp_live_conns, which are control calls that may be
 * made from any thread while the loop is idle or from the loop itself.  The
 * per-packet path allocates nothing from the general heap and takes no
 * lock: connection blocks come from a pool preallocated at module start.
 *
 * Addresses and ports in this API are host order.
 */
#ifndef SPIN_TCP_H
#define SPIN_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/tcp/tcp_wire.h"

/* Drop reasons of the tcp node (names and texts in tcp_drop.def). */
enum tcp_drop {
	TCP_DROP__BASE = NG_DROP_COMMON - 1,
#define NG_DROP_X(id, name, text) TCP_DROP_##id,
#include "protocols/tcp/tcp_drop.def"
#undef NG_DROP_X
	TCP_DROP__END
};

extern const struct spin_module tcp_module;  /* "tcp" */
extern const struct ng_node tcp_node;        /* "tcp" */
extern const struct spin_interface tcp_interface; /* "tcp" 1.0 */

/* A valid segment for one of our addresses: data start at the TCP header
 * (p->l3_off marks the IP header, p->l4_off the TCP header).  Primary
 * handler: TCP's demux and state machine.  Consumes p. */
SPIN_EVENT_DECLARE_VOID(TCP_PacketArrived, (struct pkt *, p))

/* A finished segment on its way out: data start at the TCP header, the
 * checksum partial (the pseudo-header sum in the field, PKT_CSUM_PARTIAL;
 * pkt_csum_complete finishes it once an Ethernet and IP header are in
 * front).  Primary handler: IP output.  Consumes p. */
SPIN_EVENT_DECLARE_VOID(TCP_SendPacket, (struct pkt *, p), (uint32_t, src), (uint32_t, dst),
			(uint16_t, ifindex))

/* The declarative guard term "destination port == port". */
static inline struct disp_term tcp_port_term(uint16_t port)
{
	return (struct disp_term)DISP_HDR_EQ(TCP_OFF_DPORT, 2, port);
}

/* --- results and states ------------------------------------------------------ */
enum tcp_err {
	TCP_OK = 0,
	TCP_EINVAL,      /* a bad argument, or a call in the wrong state */
	TCP_ENOMEM,      /* no connection block, no listener slot, no buffer */
	TCP_EADDRINUSE,  /* the port (or 4-tuple) is taken */
	TCP_EAGAIN,      /* send buffer full: wait for writable */
	TCP_ENOTCONN,    /* sending is over (closed, or never established) */
	TCP_ENOROUTE,    /* connect: no route or no source address */
	TCP_ELIMIT,      /* the global connection limit is reached */
	TCP_ENOTRUNNING, /* the tcp module is not started */
};
const char *tcp_strerror(int err);

/* Why a connection ended: the argument of the closed handler. */
enum tcp_reason {
	TCP_R_CLOSED = 0,   /* orderly: both sides sent FIN, all data acked */
	TCP_R_RESET,        /* the peer reset an established connection */
	TCP_R_REFUSED,      /* connect: the peer answered the SYN with RST */
	TCP_R_TIMEOUT,      /* retransmissions (or SYNs) went unanswered */
	TCP_R_KEEPALIVE,    /* keepalive probes went unanswered */
	TCP_R_ABORTED,      /* the app called tcp_abort */
	TCP_R_SHUTDOWN,     /* the tcp module stopped */
};
const char *tcp_reason_name(enum tcp_reason r);

enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RECEIVED,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};
const char *tcp_state_name(enum tcp_state s);

/* --- the API for in-kernel modules ---------------------------------------------- */
struct tcp_conn;
struct tcp_listener;

/* A connection's events.  Order guarantees: accept or connected first;
 * then any number of recv and writable; recv_fin at most once, after the
 * last recv; closed exactly once, last, for every connection that was
 * accepted or connected (also after tcp_abort, from inside it, and for a
 * connect that fails: then connected never ran).  A handler may call any
 * API function on its own connection, including tcp_close and tcp_abort;
 * after tcp_abort (or once closed has run) it must not touch the handle. */
struct tcp_handlers {
	/* Listener only: a new connection reached ESTABLISHED.  It starts
	 * with the listener's handlers and ctx (tcp_set_handlers changes
	 * them).  Returning false refuses it: TCP sends RST and frees it
	 * without running closed; counted as `accept_refused`. */
	bool (*accept)(void *ctx, struct tcp_conn *c);
	/* tcp_connect only: the handshake completed. */
	void (*connected)(void *ctx, struct tcp_conn *c);
	/* New in-order bytes; consumes p (see the ownership rules above). */
	void (*recv)(void *ctx, struct tcp_conn *c, struct pkt *p);
	/* The peer sent FIN: no more recv.  Sending still works until the
	 * app calls tcp_close. */
	void (*recv_fin)(void *ctx, struct tcp_conn *c);
	/* tcp_send returned TCP_EAGAIN before and there is room now. */
	void (*writable)(void *ctx, struct tcp_conn *c);
	/* The end; the handle is invalid when this returns. */
	void (*closed)(void *ctx, struct tcp_conn *c, enum tcp_reason why);
};

/* Congestion control of a connection. */
enum tcp_cc {
	TCP_CC_DEFAULT = 0,         /* tcp_conn_opts: the configured one */
	TCP_CC_NEWRENO,             /* RFC 5681 + RFC 6582 */
	TCP_CC_CUBIC,               /* RFC 9438, no HyStart */
};
const char *tcp_cc_name(enum tcp_cc cc);

/* Per-connection options; zero fields take the configured defaults. */
struct tcp_conn_opts {
	uint32_t sndbuf;            /* send queue bound, bytes */
	uint32_t rcvbuf;            /* initial receive window (and reorder
				     * bound), bytes */
	uint32_t rcvbuf_max;        /* auto-tuning may grow rcvbuf up to this;
				     * below rcvbuf (or manual_recv): no tuning */
	uint8_t cc;                 /* enum tcp_cc */
	bool nodelay;               /* Nagle off (RFC 9293 3.7.4) */
	bool manual_recv;           /* the window opens only on tcp_recved */
	uint32_t keepalive_ms;      /* idle time before probes; 0: no keepalive */
	uint32_t keepalive_intvl_ms;/* between probes; 0: 75 s */
	uint32_t keepalive_probes;  /* unanswered probes before reset; 0: 9 */
};

struct tcp_listen_opts {
	uint32_t addr;              /* local address; 0: any of ours */
	uint16_t port;              /* required */
	uint16_t backlog;           /* SYN queue + accept: half-open bound; 0: config */
	uint32_t max_conns;         /* established connections of this
				     * listener; 0: no bound but the global */
	struct tcp_conn_opts conn;  /* for every accepted connection */
};

struct tcp_connect_opts {
	uint32_t src;               /* 0: chosen by route */
	uint16_t sport;             /* 0: an ephemeral port */
	uint16_t ifindex;           /* 0: by route */
	struct tcp_conn_opts conn;
};

/* Listens; *out receives the handle.  TCP_EADDRINUSE when a listener on
 * the same (addr, port) exists.  Only h->accept is required.  Control
 * path (allocates the listener). */
int tcp_listen(const struct tcp_listen_opts *o, const struct tcp_handlers *h, void *ctx,
	       struct tcp_listener **out);
/* Stops listening: half-open connections are reset and freed;
 * established ones are unaffected. */
void tcp_unlisten(struct tcp_listener *l);

/* Starts an active open to dst:dport; *out receives the handle at once
 * (connected or closed follows).  Sends the SYN before returning. */
int tcp_connect(uint32_t dst, uint16_t dport, const struct tcp_connect_opts *o,
		const struct tcp_handlers *h, void *ctx, struct tcp_conn **out);

/* Queues the chain *pp (data start = first payload byte; any number of
 * segments; an empty chain is freed and counts as success) for sending.
 * TCP_OK: consumed, *pp = NULL.  TCP_EAGAIN (buffer full), TCP_ENOTCONN
 * (after tcp_close, or the connection is ending), TCP_EINVAL: *pp
 * untouched.  Data queued during SYN_SENT/SYN_RECEIVED goes out once the
 * connection is established. */
int tcp_send(struct tcp_conn *c, struct pkt **pp);
/* Bytes tcp_send would still take before TCP_EAGAIN (0 when full). */
uint32_t tcp_send_room(const struct tcp_conn *c);
/* manual_recv only: the app is done with n more received bytes. */
void tcp_recved(struct tcp_conn *c, uint32_t n);
/* Orderly close: FIN after everything queued.  recv may still run until
 * the peer's FIN; closed runs at the end.  Idempotent. */
int tcp_close(struct tcp_conn *c);
/* Abortive close: RST now, queued data dropped, closed(TCP_R_ABORTED) runs
 * before this returns. */
void tcp_abort(struct tcp_conn *c);

void tcp_set_handlers(struct tcp_conn *c, const struct tcp_handlers *h, void *ctx);
void *tcp_ctx(const struct tcp_conn *c);
void tcp_set_nodelay(struct tcp_conn *c, bool on);
/* Switches the connection's congestion control (any time; the new one
 * starts from the current cwnd and ssthresh).  TCP_EINVAL for an unknown
 * one. */
int tcp_set_cc(struct tcp_conn *c, enum tcp_cc cc);

struct tcp_endpoints {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint16_t ifindex;
};
void tcp_endpoints(const struct tcp_conn *c, struct tcp_endpoints *out);
enum tcp_state tcp_conn_state(const struct tcp_conn *c);

/* The pool TCP sends from; apps may allocate payload buffers from it. */
struct pkt_pool *tcp_pool(void);

/* --- configuration ------------------------------------------------------------------- */
struct tcp_config {
	uint32_t max_conns;         /* connection blocks, fixed at module start
				     * (also the global limit): 4096 */
	uint32_t pool_bufs;         /* TCP's send pool, fixed at start: 8192 */
	uint32_t rto_min_ms;        /* 200 (as Linux; RFC 6298 says 1000) */
	uint32_t rto_max_ms;        /* 60000 */
	uint32_t rto_initial_ms;    /* 1000 (RFC 6298 2.1) */
	uint32_t delack_ms;         /* 40 */
	uint32_t timewait_ms;       /* 2 MSL: 60000 */
	uint32_t syn_retries;       /* 6 */
	uint32_t retries;           /* data retransmissions before reset: 15 */
	uint32_t sndbuf, rcvbuf;    /* defaults: 262144 each */
	uint32_t rcvbuf_max;        /* auto-tuning cap: 4 MiB; 0: no tuning */
	uint8_t cc;                 /* enum tcp_cc: TCP_CC_NEWRENO */
	uint16_t backlog;           /* default SYN queue per listener: 128 */
	uint16_t mss;               /* our MSS; 0: interface MTU - 40 */
	uint32_t challenge_ack_limit; /* per second, global: 1000 */
	uint32_t ooo_mem_max;       /* bytes of out-of-order data, all
				     * connections: 4 MiB */
	bool syncookies;            /* when a SYN queue is full: true */
	bool timestamps, wscale, sack; /* offer the options: all true; sack
				     * off also turns sender SACK recovery off */
};
void tcp_config_get(struct tcp_config *out);
/* Changes take effect for new connections; max_conns and pool_bufs only
 * at the next module start. */
int tcp_config_set(const struct tcp_config *c);

/* Clock for every TCP timer and timestamp, replaceable by tests (NULL:
 * sal_now_ns).  With a fake clock, tests fire timers with tcp_timers_run. */
void tcp_set_clock(uint64_t (*now_ns)(void));
/* Fires every TCP timer that is due by TCP's clock; returns how many
 * fired.  The per-connection exec timers call the same code, so calling
 * it from the packet loop at any time is harmless. */
unsigned tcp_timers_run(void);

/* --- counters (RFC 4022 names where there is one) ------------------------------------- */
struct tcp_stats {
	uint64_t active_opens, passive_opens, attempt_fails, estab_resets;
	uint64_t in_segs, out_segs, retrans_segs, in_errs, out_rsts;
	uint64_t syncookies_sent, syncookies_recv, syncookies_failed;
	uint64_t challenge_acks, challenge_acks_limited;
	uint64_t listen_overflows;   /* SYN dropped: queue full, no cookies */
	uint64_t listen_limit;       /* refused: listener max_conns reached */
	uint64_t global_limit;       /* refused: no connection block left */
	uint64_t accept_refused;     /* accept handler said no */
	uint64_t timewait_reuse;     /* SYN accepted on a TIME_WAIT 4-tuple */
	uint64_t fast_retrans, rto_expired, zero_window_probes, keepalive_probes;
	uint64_t ooo_segs, sack_blocks_sent, dup_acks;
	uint64_t retrans_bytes;      /* payload bytes sent again */
	uint64_t sack_recoveries;    /* RFC 6675 loss recoveries entered */
	uint64_t sack_blocks_recv, dsacks_recv; /* D-SACK and stale blocks */
	uint64_t sack_rescues;       /* RFC 6675 rescue retransmissions */
	uint64_t rcvbuf_grown;       /* auto-tuning steps */
	uint64_t tlp_probes;         /* RFC 8985 tail loss probes */
	uint64_t lost_retrans;       /* retransmissions found lost (RACK rule) */
	uint64_t sack_undos;         /* recoveries undone by D-SACK (RFC 3708) */
	uint64_t curr_estab;         /* now: ESTABLISHED + CLOSE_WAIT */
	uint64_t live_conns;         /* now: blocks in use, every state */
	uint64_t sndq_bytes, ooo_bytes; /* now: bytes held */
	uint64_t timers_armed;       /* now */
};
/* clear resets the cumulative counters (not the "now" ones). */
void tcp_stats_get(struct tcp_stats *out, bool clear);
/* Connection blocks in use (every state, TIME_WAIT and half-open too). */
unsigned tcp_live_conns(void);

/* One row of tcp_conn_list (spin ctl). */
struct tcp_conn_info {
	struct tcp_endpoints ep;
	enum tcp_state state;
	uint32_t snd_una, snd_nxt, rcv_nxt;
	uint32_t snd_wnd, rcv_wnd, cwnd, ssthresh;
	uint32_t srtt_us, rto_ms;
	uint32_t sndq, ooo;         /* bytes */
	uint32_t retrans;           /* segments retransmitted */
	uint32_t rcvbuf;            /* the receive buffer, auto-tuned */
	uint8_t cc;                 /* enum tcp_cc */
	bool sack;                  /* SACK agreed */
	bool listener;              /* a listener row: only ep.laddr/lport */
};
/* Copies up to max rows (listeners first); returns how many exist. */
unsigned tcp_conn_list(struct tcp_conn_info *out, unsigned max);

/* Resets and frees every connection and listener-held half-open one,
 * TIME_WAIT included, running closed(TCP_R_SHUTDOWN) for connections the
 * apps hold.  Listeners stay.  Tests and module stop. */
void tcp_flush(void);

/* Sum of the pseudo-header (src, dst, protocol 6, len), folded, not
 * inverted. */
uint32_t tcp_pseudo_sum(uint32_t src, uint32_t dst, uint16_t len);

#endif
