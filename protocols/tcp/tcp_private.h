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
	TCP_T_TLP,          /* tail loss probe (RFC 8985 section 7) */
	TCP_T_N
};

#define TCP_SACK_MAX 4

/* The sender's SACK scoreboard (RFC 6675 section 3): the ranges the peer
 * reported as received above snd_una, sorted, disjoint and not adjacent,
 * in a fixed array inside the connection block (no allocation on the
 * packet path).  When a new range finds the array full, the lowest range
 * is forgotten: at worst its bytes are retransmitted once more. */
#define TCP_SB_MAX 32

struct tcp_sb {
	uint32_t s[TCP_SB_MAX], e[TCP_SB_MAX];
	uint8_t n;
	uint32_t sacked;            /* bytes in the ranges */
};

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
	uint8_t nsack;              /* SACK blocks, as sent (unchecked) */
	uint32_t sack[TCP_SACK_MAX][2];
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
	bool rto_recovery;              /* SACK: after an RTO, until snd_una >= recover */
	uint8_t dupacks;
	uint8_t cc;                     /* enum tcp_cc */
	struct tcp_sb sb;               /* SACK scoreboard (sack_ok only) */
	uint32_t high_rxt, rescue_rxt;  /* RFC 6675 HighRxt, RescueRxt */
	bool rescue_done;               /* the one rescue of this recovery was sent */
	bool tlp_out;                   /* a loss probe was sent, no ACK since */
	bool tlp_rxt;                   /* ... and it was a retransmission */
	uint8_t rxt_timeouts;           /* recovery timer firings this recovery */
	/* D-SACK undo (RFC 3708): the window before the last fast recovery,
	 * its retransmissions and the D-SACKs reporting them as needless */
	uint32_t undo_cwnd, undo_ssthresh;
	uint16_t undo_rxt, undo_dsacks;
	uint32_t tlp_end;               /* its end */
	uint32_t rxt_mark;              /* snd_max at the latest retransmission */
	uint64_t rxt_ns;                /* when it was sent; 0: none pending */

	/* CUBIC (RFC 9438): windows in bytes, times on TCP's clock in ms */
	uint32_t cu_wmax, cu_prior, cu_west, cu_k_ms, cu_epoch_ms;
	uint32_t cu_acc, cu_west_acc;   /* remainders of the per-ACK growth */
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
	bool ack_queued;                /* on tcp_g.ack_list (tcp_ack_soon) */
	struct tcp_conn *ack_next;
	bool fin_rcvd;
	/* receive-window auto-tuning: bytes delivered since rs_start_ms */
	uint32_t rcvbuf_max;            /* the cap rcvbuf may grow to */
	uint32_t rs_bytes, rs_start_ms, rcv_rtt_us;

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
	/* Connections owed an ACK at the end of the current batch. */
	struct tcp_conn *ack_list;
	struct exec_work ack_work;
	bool ack_work_queued;
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
/* Fills c->opts' zero fields from the config and sets rcvbuf, its cap and
 * the congestion control from them. */
void tcp_conn_opts_fill(struct tcp_conn *c);
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
/* An ACK owed for in-order data, sent at the end of the current batch
 * rather than at once: every segment a batch of received frames brings
 * for c is acknowledged by one ACK when the loop's next turn starts (a
 * few microseconds later), so a receiver that falls behind sends fewer
 * ACKs instead of more.  Outside a run loop it sends at once.  Data or
 * an ACK c sends in the meantime settles the debt. */
void tcp_ack_soon(struct tcp_conn *c);
/* Takes c off the batch's list (its block is being released). */
void tcp_ack_forget(struct tcp_conn *c);
/* Drops the list (the module stops; any queued flush finds it empty). */
void tcp_ack_reset(void);
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
/* One new segment beyond cwnd (the loss probe); false when none can go. */
bool tcp_output_probe(struct tcp_conn *c);
bool tcp_challenge_ok(void);

/* tcp_sack.c: the scoreboard and RFC 6675's queries.  Every function
 * costs O(TCP_SB_MAX) at most and allocates nothing.  una/max are the
 * connection's snd_una and snd_max (HighACK and HighData + 1). */
void tcp_sb_clear(struct tcp_sb *sb);
/* Adds [s, e) clipped to [una, max); returns the bytes newly SACKed. */
uint32_t tcp_sb_add(struct tcp_sb *sb, uint32_t s, uint32_t e, uint32_t una, uint32_t max);
/* Forgets everything below una (a cumulative ACK moved). */
void tcp_sb_ack(struct tcp_sb *sb, uint32_t una);
bool tcp_sb_sacked(const struct tcp_sb *sb, uint32_t seq);
/* Bytes not SACKed in [a, b). */
uint32_t tcp_sb_holes(const struct tcp_sb *sb, uint32_t a, uint32_t b);
/* The sequence below which every un-SACKed byte counts as lost
 * (IsLost, RFC 6675 section 4, with DupThresh 3: three SACKed ranges or
 * more than 2 * smss SACKed bytes above it); una when none is. */
uint32_t tcp_sb_lost_edge(const struct tcp_sb *sb, uint32_t una, uint32_t smss);
/* RFC 6675 SetPipe: un-SACKed bytes not lost, plus those retransmitted
 * (below high_rxt); lost_edge as above. */
uint32_t tcp_sb_pipe(const struct tcp_sb *sb, uint32_t una, uint32_t max, uint32_t lost_edge,
		     uint32_t high_rxt);
/* The first un-SACKed byte in [from, to), and in *len how many follow it
 * up to the next SACKed range or to; false when there is none. */
bool tcp_sb_next_hole(const struct tcp_sb *sb, uint32_t from, uint32_t to, uint32_t *seq,
		      uint32_t *len);
/* The SACK blocks of segment s: D-SACKs and blocks outside [snd_una,
 * snd_max] are ignored (counted), the rest enter the scoreboard.  Returns
 * the bytes newly SACKed. */
uint32_t tcp_sack_input(struct tcp_conn *c, const struct tcp_seg *s);
/* RFC 3708: when D-SACKs covered every retransmission of the last fast
 * recovery, the loss was reordering: recovery ends and cwnd and ssthresh
 * go back to what they were before it. */
void tcp_sack_undo_check(struct tcp_conn *c);
/* The window a sender in recovery may still fill: cwnd - pipe, or 0. */
uint32_t tcp_sack_room(struct tcp_conn *c);
bool tcp_sack_recovering(const struct tcp_conn *c);
/* Loss recovery starts (the caller set ssthresh and cwnd): HighRxt from
 * snd_una, and the first hole (the segment at snd_una) resent now. */
void tcp_sack_enter(struct tcp_conn *c);
/* NextSeg rules 1, 3 and 4 (section 4): sends retransmissions while the
 * room allows.  lost_only: rule 1 only. */
void tcp_sack_retransmit(struct tcp_conn *c, bool lost_only, uint32_t seglen);

/* RACK's rule for retransmissions (RFC 8985 section 6.2, per round
 * rather than per segment): data sent after the latest retransmission
 * was SACKed, a reordering window after it, while holes we retransmitted
 * remain: those retransmissions are lost and go out again. */
void tcp_sack_check_rxt(struct tcp_conn *c);
/* Tail loss probe (RFC 8985 section 7): armed after new data or an ACK
 * that advances, when SACK is on and no recovery runs; PTO = 2 SRTT, at
 * least 10 ms, plus 50 ms with one segment in flight (the peer may delay
 * its ACK).  On firing: one new segment if the peer's window allows, else
 * the last segment again.  In recovery the same timer, armed at each
 * retransmission, is RACK's reordering timer for the case where nothing
 * sent later can be SACKed: when it fires with retransmissions still
 * unacknowledged they count as lost and go again (at most
 * TCP_RXT_TIMEOUTS times per recovery; then the RTO, with its backoff,
 * takes over). */
#define TCP_RXT_TIMEOUTS 4
void tcp_tlp_arm(struct tcp_conn *c);
void tcp_tlp_fire(struct tcp_conn *c);

/* tcp_cc.c: congestion control (NewReno RFC 5681/6582, CUBIC RFC 9438) */
void tcp_cc_init(struct tcp_conn *c);
/* acked bytes newly acknowledged outside recovery: grow cwnd. */
void tcp_cc_ack(struct tcp_conn *c, uint32_t acked);
/* A loss was detected (fast retransmit): sets ssthresh (and CUBIC's
 * W_max and epoch); cwnd is the caller's business. */
void tcp_cc_loss(struct tcp_conn *c);
/* An RTO: ssthresh as for a loss, cwnd one segment. */
void tcp_cc_rto(struct tcp_conn *c);
/* The last loss was spurious: CUBIC's W_max goes back to before it. */
void tcp_cc_undo(struct tcp_conn *c);
/* CUBIC's window W_cubic(t) = C (t - K)^3 + W_max in bytes (C = 0.4, t
 * and K in ms, smss the segment size), and K for a window that fell from
 * wmax to cwnd.  Exposed for the unit tests. */
uint32_t tcp_cubic_w(uint32_t wmax, uint32_t k_ms, uint32_t t_ms, uint32_t smss);
uint32_t tcp_cubic_k_ms(uint32_t wmax, uint32_t cwnd, uint32_t smss);

/* tcp_input.c: receive-window auto-tuning, called for delivered bytes */
void tcp_rcv_autotune(struct tcp_conn *c, uint32_t delivered);

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
