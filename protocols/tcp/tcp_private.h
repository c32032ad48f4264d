/*
 * tcp_private.h - what the tcp files share and nobody else uses: the
 * connection block, the listener, the parsed segment, the tables.
 *
 * Everything here belongs to the packet run loop: one thread touches it,
 * so nothing is locked.  Connection blocks come from a pool allocated at
 * module start (tcp_conn_pool_init); the packet path never allocates from
 * the heap.
 */
#ifndef SPIN_TCP_PRIVATE_H
#define SPIN_TCP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/exec/exec.h"
#include "protocols/tcp/tcp.h"

/* Sequence arithmetic modulo 2^32 (RFC 9293 3.4). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

enum tcp_timer_kind {
	TCP_T_RTO = 0,      /* retransmission (SYN, data, FIN) */
	TCP_T_PERSIST,      /* zero-window probe */
	TCP_T_DELACK,
	TCP_T_KEEP,
	TCP_T_2MSL,         /* TIME_WAIT, and FIN_WAIT_2 after close */
	TCP_T_N
};

#define TCP_SACK_MAX 4

/* A segment as input parsed it. */
struct tcp_seg {
	uint32_t src, dst;          /* IP: peer, us */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t len;               /* data bytes */
	uint32_t wnd;               /* raw field */
	uint16_t urg;
	uint8_t flags;
	uint16_t ifindex;
	/* options */
	bool has_mss, has_ws, sack_perm, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
};

struct tcp_listener {
	struct tcp_listener *next;  /* in its port bucket */
	uint32_t addr;
	uint16_t port;
	uint16_t backlog;
	uint32_t max_conns;
	uint32_t nhalf;             /* SYN_RECEIVED children */
	uint32_t nconns;            /* accepted children still app-owned */
	struct tcp_conn_opts copts;
	struct tcp_handlers h;
	void *ctx;
};

struct tcp_conn {
	struct tcp_conn *hnext;         /* 4-tuple bucket, or free list */
	struct tcp_conn *anext, *aprev; /* all blocks in use */
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint16_t ifindex;
	uint8_t state;                  /* enum tcp_state */
	bool in_hash;
	bool app_owned;                 /* accepted or connected, closed not run */
	bool passive;                   /* from a listener */
	bool counted_estab;             /* in curr_estab */
	bool counted_listener;          /* in listener->nconns */
	bool counted_half;              /* in listener->nhalf */
	bool app_closed;                /* tcp_close called: FIN queued */
	bool fin_sent;
	bool want_writable;
	bool dead;                      /* freed once busy drops to 0 */
	uint8_t busy;                   /* input or API calls on the stack */
	struct tcp_listener *listener;  /* parent while half-open or counted */
	struct tcp_handlers h;
	void *ctx;
	struct tcp_conn_opts opts;

	/* send side */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
	uint32_t cwnd, ssthresh, recover;
	uint16_t mss;                   /* payload bytes per segment, options excluded */
	uint8_t snd_wscale, rcv_wscale;
	bool ws_ok, ts_ok, sack_ok;
	bool in_recovery;
	uint8_t dupacks;
	struct pkt *sq_head, *sq_tail;  /* queue from snd_una on, linked by qnext */
	uint32_t sq_bytes;              /* bytes in the queue (FIN not counted) */
	struct pkt *sq_cur;             /* cursor for output: a queued packet */
	uint32_t sq_cur_off;            /* its first byte, from snd_una */

	/* RTT and retransmission (RFC 6298) */
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t rtt_seq;               /* timed segment (no timestamps) */
	uint64_t rtt_start_ns;          /* 0: none timed */
	uint32_t nrexmit;               /* consecutive RTO expiries */
	uint32_t retrans_total;
	uint32_t keep_probes;

	/* timestamps (RFC 7323) */
	uint32_t ts_off;
	uint32_t ts_recent;
	uint64_t ts_recent_ns;
	uint32_t last_ack_sent;

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge we advertised */
	uint32_t rcvbuf;
	uint32_t held;                  /* manual_recv: delivered, not released */
	struct pkt *ooo;                /* sorted by seq (pkt->user), via qnext */
	uint32_t ooo_bytes;
	uint32_t ooo_last;              /* seq of the latest out-of-order arrival */
	uint8_t ack_pending;            /* segments received since our last ACK */
	bool fin_rcvd;

	/* timers */
	uint64_t deadline[TCP_T_N];     /* TCP clock, ns; 0: off */
	uint64_t armed_ns;              /* what the exec timer is armed for */
	struct exec_timer timer;
};

/* Global state (the packet loop's). */
struct tcp_globals {
	bool running;
	struct tcp_config cfg;
	struct pkt_pool *pool;
	struct tcp_conn *blocks;
	uint32_t nblocks;
	struct tcp_conn *free;
	struct tcp_conn *all;           /* blocks in use */
	unsigned live;
	struct tcp_conn **hash;         /* 4-tuple table */
	uint32_t hmask;
	struct tcp_listener *lhash[256];
	uint8_t key[16];                /* ISN and cookie secret */
	uint32_t ooo_bytes;             /* all connections */
	uint64_t chall_sec;             /* second of the challenge-ACK window */
	uint32_t chall_count;
	uint16_t next_eport;
	struct tcp_stats st;            /* cumulative fields; "now" fields computed */
};
extern struct tcp_globals tcp_g;

/* tcp_module.c */
uint64_t tcp_now(void);
static inline uint32_t tcp_now_ms(void) { return (uint32_t)(tcp_now() / 1000000u); }

/* tcp_conn.c: blocks, tables, ISN, cookies */
int tcp_conn_pool_init(uint32_t n);
void tcp_conn_pool_fini(void);
struct tcp_conn *tcp_conn_alloc(void);
/* Frees now, or when the last busy bracket closes. */
void tcp_conn_release(struct tcp_conn *c);
void tcp_conn_hash_add(struct tcp_conn *c);
struct tcp_conn *tcp_conn_lookup(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);
struct tcp_listener *tcp_listener_lookup(uint32_t addr, uint16_t port);
uint32_t tcp_isn(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);
uint32_t tcp_ts_offset(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);
uint32_t tcp_cookie_make(const struct tcp_seg *s, unsigned mss_idx);
/* The MSS index coded in a valid cookie, or -1. */
int tcp_cookie_check(const struct tcp_seg *s, uint32_t cookie);
extern const uint16_t tcp_cookie_mss[8];
void tcp_conn_init(struct tcp_conn *c);    /* defaults for a fresh block */
/* Moves c to state s, keeping the counters right. */
void tcp_set_state(struct tcp_conn *c, enum tcp_state s);
/* Calls closed (when the app holds c) and frees c (or parks it). */
void tcp_conn_done(struct tcp_conn *c, enum tcp_reason why);
void tcp_enter_timewait(struct tcp_conn *c);
void tcp_sq_free(struct tcp_conn *c);
void tcp_ooo_free(struct tcp_conn *c);

/* tcp_input.c */
void tcp_input(void *closure, struct pkt *p);
void tcp_demux(void *closure, struct pkt *p);

/* tcp_output.c */
void tcp_send_packet(void *closure, struct pkt *p, uint32_t src, uint32_t dst, uint16_t ifindex);
/* Sends what the windows, Nagle and the queue allow. */
void tcp_output(struct tcp_conn *c);
/* One segment at seq with len bytes from the queue (len 0: control only)
 * and flags; options as the state wants.  Returns false if out of buffers. */
bool tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags);
void tcp_send_ack(struct tcp_conn *c);
void tcp_send_syn(struct tcp_conn *c);
/* RST in answer to segment s that found no connection (RFC 9293 3.10.7.1). */
void tcp_send_rst_for(const struct tcp_seg *s);
void tcp_send_rst(struct tcp_conn *c);
/* A SYN-ACK for a cookie: no block exists. */
void tcp_send_synack_cookie(const struct tcp_seg *s, uint32_t iss, uint16_t mss,
			    uint32_t tsval);
uint32_t tcp_rcv_window(struct tcp_conn *c);   /* unscaled bytes we can take */
uint16_t tcp_mss_for(uint16_t ifindex, uint32_t raddr);
void tcp_retransmit_first(struct tcp_conn *c);
bool tcp_challenge_ok(void);

/* tcp_timer.c */
void tcp_timer_set(struct tcp_conn *c, enum tcp_timer_kind k, uint64_t delay_ns);
void tcp_timer_clear(struct tcp_conn *c, enum tcp_timer_kind k);
void tcp_timers_clear_all(struct tcp_conn *c);
void tcp_rto_arm(struct tcp_conn *c);
void tcp_conn_timers(struct tcp_conn *c, uint64_t now);

#define TCP_BUSY(c) ((c)->busy++)
#define TCP_UNBUSY(c)                                                          \
	do {                                                                   \
		if (--(c)->busy == 0 && (c)->dead)                             \
			tcp_conn_release(c);                                   \
	} while (0)

#define TCP_STAT(f) (tcp_g.st.f++)

#endif
