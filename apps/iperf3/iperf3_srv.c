/*
 * iperf3_srv.c - the iperf3 server (iperf3.h): one listener, one test at a
 * time, the control connection's state machine, the data streams.
 *
 * A test moves through phases, each waiting on the client:
 *
 *   IDLE --accept--> COOKIE --37 bytes--> PARAMS --len+JSON--> STREAMS
 *   --all streams with our cookie--> RUNNING --TEST_END--> RESULTS
 *   --len+JSON--> DISPLAY --IPERF_DONE--> IDLE
 *
 * and any bad input or silence goes to ip3_fail, which resets or closes
 * the test's connections and returns to IDLE.  Connections have roles:
 * the control connection (CTRL), data streams (STREAM), connections that
 * arrived during STREAMS and have not shown their cookie yet (CAND), and
 * LIMBO, slots whose test was dropped under them by TCP's shutdown and that
 * wait for their own closed handler.  A connection no longer in the test
 * is detached: its handlers become drain_handlers (ctx NULL) and its slot
 * is freed at once.
 *
 * Re-entrancy: tcp_abort runs the closed handler before it returns, so a
 * connection is always detached before it is aborted, and a handler whose
 * connection was detached under it returns without touching the slot.
 */
#include "apps/iperf3/iperf3.h"
#include "apps/iperf3/iperf3_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/pkt.h"
#include "protocols/tcp/tcp.h"

#define IP3_SLOTS (2 * IPERF3_MAX_STREAMS + 16)
#define IP3_CHAIN_MAX (64u * 1024)          /* bytes offered per tcp_send */
/* A stream's send queue bound.  TCP's default (256 KiB) limits one stream
 * to 256 KiB per round trip, and a veth round trip through the AF_PACKET
 * path measured 1-4 ms under load; Linux grows its send buffer to 4 MiB
 * (tcp_wmem).  2 MiB gave 1.27x TCP's default in paired runs. */
#define IP3_SNDBUF (2u << 20)
#define IP3_OUT_MAX (2 * IPERF3_MAX_STREAMS * 320 + 4096)
#define IP3_RETRY_NS 1000000ull             /* TCP's pool was empty */
#define IP3_TICK_NS 1000000000ull
#define NS 1000000000ull

NG_NODE(iperf3_node,
	.name = "iperf3",
	.module = &iperf3_module,
	.doc = "iperf3 server: control and data connections' received bytes");

enum ip3_phase { IP3_IDLE, IP3_COOKIE, IP3_PARAMS, IP3_STREAMS, IP3_RUNNING, IP3_RESULTS,
		 IP3_DISPLAY };
static const char *const phase_names[] = {"idle", "cookie", "params", "streams", "running",
					  "results", "display"};

enum ip3_role { R_FREE = 0, R_CAND, R_CTRL, R_STREAM, R_LIMBO };

struct ip3_srv;

/* One connection that holds a slot.  Valid from accept until detach. */
struct ip3_conn {
	struct ip3_srv *s;
	struct tcp_conn *c;             /* NULL once closed ran */
	enum ip3_role role;
	uint8_t cookie[IPERF3_COOKIE_SIZE]; /* CAND: what arrived so far */
	uint32_t cookie_len;
	uint16_t id;                    /* STREAM: iperf3's stream id */
	bool sender;                    /* STREAM: spin sends on it */
	uint64_t bytes, bytes_omit;     /* STREAM: received or sent; at omit end */
	struct ip3_conn *next_free;
};

struct ip3_srv {
	struct tcp_listener *l;
	struct ip3_conn *slots, *free;
	struct tcpsvc_stats st;
	struct exec_timer tick, omit, retry;
	struct tcp_conn_info *rows;     /* for the senders' retransmissions */
	unsigned nrows;
	uint32_t sndbuf;                /* the streams' send queue bound */
	uint64_t pool_budget;           /* bytes all senders may keep queued */
	uint64_t ntests;

	/* The test (phase IDLE: none). */
	enum ip3_phase phase;
	struct ip3_conn *ctrl;
	uint8_t cookie[IPERF3_COOKIE_SIZE];
	uint32_t in_got;                /* bytes of the current cookie/hdr/JSON */
	uint8_t hdr[4];
	uint32_t json_len;              /* 0 while the length is incomplete */
	char *json_in, *json_out;
	size_t out_len;
	struct iperf3_params prm;
	struct ip3_conn *streams[2 * IPERF3_MAX_STREAMS];
	unsigned nstreams, want_rx, want_tx;
	uint64_t t_phase, t_run, t_count, t_end; /* ns: phase entered, TEST_RUNNING
						  * sent, counting from, TEST_END */
	bool omitting;
	uint64_t tx_total, tx_limit;    /* bytes sent; -n/-k bound or 0 */
	uint32_t stream_cap;            /* a sender's queue bound below sndbuf, or 0 */
	uint64_t progress, progress_seen;
	unsigned idle_ticks;
	struct rusage ru_run;
	double cpu[3];                  /* total, user, system, percent */
	struct tcp_endpoints peer;
};

static void ip3_fail(struct ip3_srv *s, int ierr, int eno, bool reset, const char *why);
static void ip3_fill(struct ip3_srv *s, struct ip3_conn *k);

/* --- connections leaving the test ---------------------------------------------- */
/* Handlers of a detached connection: no ctx, nothing of the service. */
static void drain_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	(void)ctx;
	(void)c;
	pkt_free(p);
}

static void drain_recv_fin(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	tcp_close(c);
}

static const struct tcp_handlers drain_handlers = {
	.recv = drain_recv,
	.recv_fin = drain_recv_fin,
};

static struct ip3_conn *slot_get(struct ip3_srv *s, struct tcp_conn *c, enum ip3_role role)
{
	struct ip3_conn *k = s->free;

	if (!k)
		return NULL;
	s->free = k->next_free;
	memset(k, 0, sizeof *k);
	k->s = s;
	k->c = c;
	k->role = role;
	s->st.active++;
	return k;
}

/* Takes k out of the test and frees its slot; its connection (if still
 * open) now runs drain_handlers.  Returns the connection, for the caller
 * to close or abort. */
static struct tcp_conn *detach(struct ip3_conn *k)
{
	struct ip3_srv *s = k->s;
	struct tcp_conn *c = k->c;

	if (k->role == R_FREE)
		return NULL;
	if (s->ctrl == k)
		s->ctrl = NULL;
	if (k->role == R_STREAM)
		for (unsigned i = 0; i < s->nstreams; i++)
			if (s->streams[i] == k)
				s->streams[i] = NULL;
	if (c)
		tcp_set_handlers(c, &drain_handlers, NULL);
	k->role = R_FREE;
	k->c = NULL;
	k->next_free = s->free;
	s->free = k;
	s->st.active--;
	return c;
}

/* Sends n bytes on c from a fresh chain; false if TCP's pool is empty or
 * TCP refuses them. */
static bool send_bytes(struct ip3_srv *s, struct tcp_conn *c, const void *d, size_t n)
{
	struct pkt_pool *pool = tcp_pool();
	struct pkt *p = pool ? pkt_from_bytes(pool, d, n) : NULL;

	if (!p)
		return false;
	if (tcp_send(c, &p) != TCP_OK) {
		pkt_free(p);
		return false;
	}
	s->st.bytes_out += n;
	return true;
}

static bool ctrl_send(struct ip3_srv *s, const void *d, size_t n)
{
	return s->ctrl && s->ctrl->c && send_bytes(s, s->ctrl->c, d, n);
}

static bool ctrl_state(struct ip3_srv *s, enum iperf3_state st)
{
	uint8_t b = (uint8_t)(int8_t)st;

	return ctrl_send(s, &b, 1);
}

/* Turns a connection away: ACCESS_DENIED, then an orderly close. */
static void deny(struct ip3_srv *s, struct tcp_conn *c)
{
	uint8_t b = (uint8_t)(int8_t)IPERF3_S_ACCESS_DENIED;

	s->st.refused++;
	tcp_set_handlers(c, &drain_handlers, NULL);
	tcp_set_nodelay(c, true);
	if (send_bytes(s, c, &b, 1))
		tcp_close(c);
	else
		tcp_abort(c);
}

/* --- timers ------------------------------------------------------------------------ */
static void arm(struct exec_timer *t, uint64_t ns)
{
	struct exec_loop *l = exec_current();

	if (l && !exec_timer_armed(t))
		exec_timer_arm(l, t, ns);
}

static void set_phase(struct ip3_srv *s, enum ip3_phase ph)
{
	s->phase = ph;
	s->t_phase = sal_now_ns();
	s->in_got = 0;
	s->json_len = 0;
	s->idle_ticks = 0;
}

/* Every second while a test exists: a phase that waits on the client for
 * IPERF3_IDLE_S seconds, a run without a byte moving for as long, or a
 * timed run IPERF3_GRACE_S seconds past its end, ends the test. */
static void tick_fire(struct exec_timer *t, void *arg)
{
	struct ip3_srv *s = arg;
	uint64_t now = sal_now_ns();

	(void)t;
	if (s->phase == IP3_IDLE)
		return;
	if (s->phase == IP3_RUNNING) {
		s->idle_ticks = s->progress == s->progress_seen ? s->idle_ticks + 1 : 0;
		s->progress_seen = s->progress;
		if (s->idle_ticks >= IPERF3_IDLE_S) {
			ip3_fail(s, 0, 0, true, "no data moved");
			return;
		}
		if (s->prm.time &&
		    now > s->t_run + ((uint64_t)s->prm.time + s->prm.omit + IPERF3_GRACE_S) * NS) {
			ip3_fail(s, 0, 0, true, "the client did not end the test");
			return;
		}
	} else if (now > s->t_phase + IPERF3_IDLE_S * NS) {
		ip3_fail(s, 0, 0, true, "the client went silent");
		return;
	}
	arm(&s->tick, IP3_TICK_NS);
}

/* The omitted seconds are over: what the streams moved so far does not
 * count (iperf_reset_stats). */
static void omit_fire(struct exec_timer *t, void *arg)
{
	struct ip3_srv *s = arg;

	(void)t;
	if (s->phase != IP3_RUNNING || !s->omitting)
		return;
	s->omitting = false;
	s->t_count = sal_now_ns();
	for (unsigned i = 0; i < s->nstreams; i++)
		if (s->streams[i])
			s->streams[i]->bytes_omit = s->streams[i]->bytes;
}

static void retry_fire(struct exec_timer *t, void *arg)
{
	struct ip3_srv *s = arg;

	(void)t;
	for (unsigned i = 0; i < s->nstreams && s->phase == IP3_RUNNING; i++)
		if (s->streams[i] && s->streams[i]->sender)
			ip3_fill(s, s->streams[i]);
}

/* --- the end of a test --------------------------------------------------------------- */
static const char *mode_name(const struct iperf3_params *p)
{
	return p->bidir ? "bidir" : p->reverse ? "reverse" : "forward";
}

static void log_end(struct ip3_srv *s, const char *outcome)
{
	uint64_t rx = 0, tx = 0;
	uint32_t a = s->peer.raddr;

	for (unsigned i = 0; i < s->nstreams; i++)
		if (s->streams[i])
			*(s->streams[i]->sender ? &tx : &rx) += s->streams[i]->bytes;
	sal_log(SAL_LOG_INFO,
		"iperf3 port %u: test %llu from %u.%u.%u.%u:%u %s (phase %s): %s, %u streams, "
		"rx %llu bytes, tx %llu bytes",
		(unsigned)s->st.port, (unsigned long long)s->ntests, a >> 24, (a >> 16) & 255,
		(a >> 8) & 255, a & 255, (unsigned)s->peer.rport, outcome, phase_names[s->phase], mode_name(&s->prm),
		s->nstreams, (unsigned long long)rx, (unsigned long long)tx);
}

static void reset_test(struct ip3_srv *s)
{
	s->ctrl = NULL;
	s->nstreams = s->want_rx = s->want_tx = 0;
	s->tx_total = s->tx_limit = 0;
	s->omitting = false;
	memset(&s->prm, 0, sizeof s->prm);
	exec_timer_cancel(&s->tick);
	exec_timer_cancel(&s->omit);
	exec_timer_cancel(&s->retry);
	set_phase(s, IP3_IDLE);
}

/* Ends the test after an error.  With ierr, the control connection gets
 * SERVER_ERROR, ierr and eno, then an orderly close; without, it is reset
 * (reset true) or closed.  Streams and candidates of the test are reset.
 * Nothing the caller held of the test is valid afterwards. */
static void ip3_fail(struct ip3_srv *s, int ierr, int eno, bool reset, const char *why)
{
	struct tcp_conn *c;

	if (s->phase == IP3_IDLE)
		return;
	log_end(s, why);
	if (s->ctrl) {
		bool sent = false;

		if (ierr) {
			uint8_t m[9] = {(uint8_t)(int8_t)IPERF3_S_SERVER_ERROR};

			for (int i = 0; i < 4; i++) {
				m[1 + i] = (uint8_t)((uint32_t)ierr >> (24 - 8 * i));
				m[5 + i] = (uint8_t)((uint32_t)eno >> (24 - 8 * i));
			}
			sent = ctrl_send(s, m, sizeof m);
		}
		c = detach(s->ctrl);
		if (c && (sent || !reset))
			tcp_close(c);
		else if (c)
			tcp_abort(c);
	}
	for (unsigned i = 0; i < s->nstreams; i++)
		if (s->streams[i] && (c = detach(s->streams[i])))
			tcp_abort(c);
	for (unsigned i = 0; i < IP3_SLOTS; i++)
		if (s->slots[i].role == R_CAND && (c = detach(&s->slots[i])))
			tcp_abort(c);
	reset_test(s);
}

/* --- results ------------------------------------------------------------------------------ */
struct outbuf {
	char *b;
	size_t n, cap;
	bool full;
};

static void outf(struct outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o->full)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= o->cap - o->n)
		o->full = true;
	else
		o->n += (size_t)r;
}

static uint32_t retrans_of(struct ip3_srv *s, unsigned nrows, struct tcp_conn *c)
{
	struct tcp_endpoints ep;

	tcp_endpoints(c, &ep);
	for (unsigned i = 0; i < nrows; i++)
		if (!s->rows[i].listener && s->rows[i].ep.lport == ep.lport &&
		    s->rows[i].ep.rport == ep.rport && s->rows[i].ep.raddr == ep.raddr &&
		    s->rows[i].ep.laddr == ep.laddr)
			return s->rows[i].retrans;
	return 0;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + tv.tv_usec / 1e6; }

/* The results message (length in front, DISPLAY_RESULTS behind) into
 * json_out, from the streams as TEST_END found them.  The fields are those
 * the client's get_results requires, and per stream the receiver's or the
 * sender's time. */
static bool build_results(struct ip3_srv *s)
{
	struct outbuf o = {.b = s->json_out + 4, .cap = IP3_OUT_MAX - 5};
	double secs = (double)(s->t_end - s->t_count) / 1e9;
	unsigned nrows = 0;
	bool sends = s->want_tx > 0;
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == 0 && s->t_end > s->t_run) {
		double wall = (double)(s->t_end - s->t_run) / 1e9;

		s->cpu[1] = 100.0 * (tv_s(ru.ru_utime) - tv_s(s->ru_run.ru_utime)) / wall;
		s->cpu[2] = 100.0 * (tv_s(ru.ru_stime) - tv_s(s->ru_run.ru_stime)) / wall;
		s->cpu[0] = s->cpu[1] + s->cpu[2];
	}
	if (sends && s->rows) {
		nrows = tcp_conn_list(s->rows, s->nrows);
		if (nrows > s->nrows)
			nrows = s->nrows;
	}
	outf(&o, "{\"cpu_util_total\":%.4f,\"cpu_util_user\":%.4f,\"cpu_util_system\":%.4f,"
	     "\"sender_has_retransmits\":%d,\"streams\":[", s->cpu[0], s->cpu[1], s->cpu[2],
	     sends ? 1 : -1);
	for (unsigned i = 0; i < s->nstreams; i++) {
		struct ip3_conn *k = s->streams[i];
		long long rt = -1;

		if (!k)
			continue;
		if (k->sender && k->c)
			rt = retrans_of(s, nrows, k->c);
		outf(&o, "%s{\"id\":%u,\"bytes\":%llu,\"retransmits\":%lld,\"jitter\":0,"
		     "\"errors\":0,\"omitted_errors\":0,\"packets\":0,\"omitted_packets\":0,"
		     "\"start_time\":0,\"end_time\":%.6f}", i ? "," : "", (unsigned)k->id,
		     (unsigned long long)(k->bytes - k->bytes_omit), rt, secs);
	}
	outf(&o, "]");
	if (s->prm.get_server_output) {
		outf(&o, ",\"server_output_text\":\"spin iperf3 server: %s test, %u streams\\n",
		     mode_name(&s->prm), s->nstreams);
		for (unsigned i = 0; i < s->nstreams; i++)
			if (s->streams[i])
				outf(&o, "[%3u] %s %llu bytes in %.3f s = %.1f Mbit/s\\n",
				     (unsigned)s->streams[i]->id,
				     s->streams[i]->sender ? "sent" : "received",
				     (unsigned long long)(s->streams[i]->bytes -
							  s->streams[i]->bytes_omit),
				     secs, secs > 0 ? (double)(s->streams[i]->bytes -
							       s->streams[i]->bytes_omit) *
							      8 / secs / 1e6 : 0.0);
		outf(&o, "\"");
	}
	outf(&o, "}");
	if (o.full)
		return false;
	for (int i = 0; i < 4; i++)
		s->json_out[i] = (char)(uint8_t)((uint32_t)o.n >> (24 - 8 * i));
	s->json_out[4 + o.n] = (char)IPERF3_S_DISPLAY_RESULTS;
	s->out_len = 4 + o.n + 1;
	return true;
}

/* --- the phases ------------------------------------------------------------------------------ */
static void start_running(struct ip3_srv *s)
{
	static const uint8_t go[2] = {IPERF3_S_TEST_START, IPERF3_S_TEST_RUNNING};
	struct tcp_conn *c;

	if (!ctrl_send(s, go, sizeof go)) {
		ip3_fail(s, 0, 0, true, "cannot send on the control connection");
		return;
	}
	set_phase(s, IP3_RUNNING);
	s->t_run = s->t_count = s->t_phase;
	/* Connections still without a cookie are not the client's streams. */
	for (unsigned i = 0; i < IP3_SLOTS; i++)
		if (s->slots[i].role == R_CAND && (c = detach(&s->slots[i])))
			deny(s, c);
	getrusage(RUSAGE_SELF, &s->ru_run);
	s->stream_cap = 0;
	if (s->want_tx && s->pool_budget / s->want_tx < s->sndbuf)
		s->stream_cap = (uint32_t)(s->pool_budget / s->want_tx);
	s->omitting = s->prm.omit > 0;
	if (s->omitting)
		arm(&s->omit, (uint64_t)s->prm.omit * NS);
	for (unsigned i = 0; i < s->nstreams && s->phase == IP3_RUNNING; i++)
		if (s->streams[i] && s->streams[i]->sender)
			ip3_fill(s, s->streams[i]);
}

static void params_done(struct ip3_srv *s)
{
	int rc = iperf3_params_parse(s->json_in, s->json_len, &s->prm);

	if (rc) {
		ip3_fail(s, rc, rc == IPERF3_E_RECVPARAMS ? EINVAL : 0, true, "bad parameters");
		return;
	}
	if (s->prm.udp || s->prm.sctp) {
		ip3_fail(s, IPERF3_E_UNIMP, 0, true, s->prm.udp ? "UDP refused" : "SCTP refused");
		return;
	}
	s->want_rx = s->prm.reverse && !s->prm.bidir ? 0 : s->prm.parallel;
	s->want_tx = s->prm.reverse || s->prm.bidir ? s->prm.parallel : 0;
	if (s->prm.num)
		s->tx_limit = s->prm.num;
	else if (s->prm.blockcount)
		s->tx_limit = s->prm.blockcount > UINT64_MAX / s->prm.len ?
				      UINT64_MAX : s->prm.blockcount * s->prm.len;
	if (!ctrl_state(s, IPERF3_S_CREATE_STREAMS)) {
		ip3_fail(s, 0, 0, true, "cannot send on the control connection");
		return;
	}
	set_phase(s, IP3_STREAMS);
}

/* TEST_END: the figures are taken, the streams closed (orderly: a sender's
 * queued bytes still go out, as a Linux close would send them). */
static void test_end(struct ip3_srv *s)
{
	struct tcp_conn *c;

	s->t_end = sal_now_ns();
	if (s->omitting)
		for (unsigned i = 0; i < s->nstreams; i++)
			if (s->streams[i])
				s->streams[i]->bytes_omit = s->streams[i]->bytes;
	if (s->t_count > s->t_end)
		s->t_count = s->t_end;
	if (!build_results(s)) {
		ip3_fail(s, 0, 0, true, "results too large");
		return;
	}
	log_end(s, "ended by the client");
	/* The figures are in json_out now; the streams leave the test. */
	for (unsigned i = 0; i < s->nstreams; i++)
		if (s->streams[i] && (c = detach(s->streams[i])))
			tcp_close(c);
	if (!ctrl_state(s, IPERF3_S_EXCHANGE_RESULTS)) {
		ip3_fail(s, 0, 0, true, "cannot send on the control connection");
		return;
	}
	set_phase(s, IP3_RESULTS);
}

static void results_done(struct ip3_srv *s)
{
	if (!iperf3_results_check(s->json_in, s->json_len)) {
		ip3_fail(s, IPERF3_E_RECVRESULTS, EINVAL, true, "bad results");
		return;
	}
	if (!ctrl_send(s, s->json_out, s->out_len)) {
		ip3_fail(s, 0, 0, true, "cannot send the results");
		return;
	}
	set_phase(s, IP3_DISPLAY);
}

static void test_done(struct ip3_srv *s)
{
	struct tcp_conn *c = s->ctrl ? detach(s->ctrl) : NULL;

	if (c)
		tcp_close(c);
	reset_test(s);
}

/* A state byte from the client outside the framed messages. */
static void ctrl_byte(struct ip3_srv *s, int8_t b)
{
	if (b == IPERF3_S_CLIENT_TERMINATE) {
		ip3_fail(s, 0, 0, false, "terminated by the client");
		return;
	}
	switch (s->phase) {
	case IP3_RUNNING:
		if (b == IPERF3_S_TEST_END) {
			test_end(s);
			return;
		}
		if (b == IPERF3_S_TEST_START || b == IPERF3_S_TEST_RUNNING)
			return;
		break;
	case IP3_DISPLAY:
		if (b == IPERF3_S_IPERF_DONE) {
			test_done(s);
			return;
		}
		break;
	default:
		break;
	}
	ip3_fail(s, IPERF3_E_MESSAGE, 0, true, "unexpected state byte");
}

/* A framed message (4-byte length, JSON) for the current phase: takes what
 * it can of d[0..n); returns the bytes taken.  Calls done once complete. */
static uint32_t ctrl_framed(struct ip3_srv *s, const uint8_t *d, uint32_t n, int err,
			    void (*done)(struct ip3_srv *))
{
	uint32_t take;

	if (!s->json_len) {
		take = 4 - s->in_got < n ? 4 - s->in_got : n;
		memcpy(s->hdr + s->in_got, d, take);
		s->in_got += take;
		if (s->in_got == 4) {
			uint32_t len = (uint32_t)s->hdr[0] << 24 | (uint32_t)s->hdr[1] << 16 |
				       (uint32_t)s->hdr[2] << 8 | s->hdr[3];

			if (len == 0 || len > IPERF3_JSON_MAX) {
				ip3_fail(s, err, EMSGSIZE, true, "message length out of range");
				return take;
			}
			s->json_len = len;
			s->in_got = 0;
		}
		return take;
	}
	take = s->json_len - s->in_got < n ? s->json_len - s->in_got : n;
	memcpy(s->json_in + s->in_got, d, take);
	s->in_got += take;
	if (s->in_got == s->json_len)
		done(s);
	return take;
}

/* Control input: n bytes at d, in order.  Stops when the test ends. */
static void ctrl_input(struct ip3_srv *s, struct ip3_conn *k, const uint8_t *d, uint32_t n)
{
	while (n && s->ctrl == k) {
		uint32_t take = 1;

		switch (s->phase) {
		case IP3_COOKIE:
			take = IPERF3_COOKIE_SIZE - s->in_got < n ? IPERF3_COOKIE_SIZE - s->in_got : n;
			memcpy(s->cookie + s->in_got, d, take);
			s->in_got += take;
			if (s->in_got < IPERF3_COOKIE_SIZE)
				break;
			if (!iperf3_cookie_ok(s->cookie)) {
				ip3_fail(s, 0, 0, true, "not an iperf3 cookie");
				return;
			}
			if (!ctrl_state(s, IPERF3_S_PARAM_EXCHANGE)) {
				ip3_fail(s, 0, 0, true, "cannot send on the control connection");
				return;
			}
			set_phase(s, IP3_PARAMS);
			break;
		case IP3_PARAMS:
			take = ctrl_framed(s, d, n, IPERF3_E_RECVPARAMS, params_done);
			break;
		case IP3_RESULTS:
			take = ctrl_framed(s, d, n, IPERF3_E_RECVRESULTS, results_done);
			break;
		default:
			ctrl_byte(s, (int8_t)*d);
			break;
		}
		d += take;
		n -= take;
	}
}

/* A candidate's cookie is complete: it joins the test as the next stream,
 * or is denied. */
static void cand_cookie(struct ip3_srv *s, struct ip3_conn *k)
{
	struct tcp_conn *c;

	if (s->phase != IP3_STREAMS || memcmp(k->cookie, s->cookie, IPERF3_COOKIE_SIZE) ||
	    s->nstreams >= s->want_rx + s->want_tx) {
		if ((c = detach(k)))
			deny(s, c);
		return;
	}
	k->role = R_STREAM;
	k->id = (uint16_t)(s->nstreams ? s->nstreams + 2 : 1);
	k->sender = s->nstreams >= s->want_rx;
	s->streams[s->nstreams++] = k;
	if (s->nstreams == s->want_rx + s->want_tx)
		start_running(s);
}

/* --- the data streams' sender ------------------------------------------------------------ */
/* Offers zero-filled chains of up to IP3_CHAIN_MAX bytes until TCP says
 * TCP_EAGAIN (which arms writable), the -n/-k bound is reached, or TCP's
 * pool is empty (then the retry timer resumes every sender).  A chain TCP
 * refuses is freed: the bytes are made again next time. */
static void ip3_fill(struct ip3_srv *s, struct ip3_conn *k)
{
	struct pkt_pool *pool = tcp_pool();

	while (s->phase == IP3_RUNNING && k->role == R_STREAM && k->sender && k->c) {
		uint64_t want = IP3_CHAIN_MAX;
		uint32_t room = tcp_send_room(k->c), got = 0;
		struct pkt *head = NULL;
		bool dry = false;

		/* Many senders together would take all of TCP's pool, which
		 * its segments and the control messages need too: each keeps
		 * its share of pool_budget queued and the retry timer tops
		 * it up (tcp_send's refusal comes only at sndbuf). */
		if (s->stream_cap) {
			uint32_t queued = room && room < s->sndbuf ? s->sndbuf - room : 0;

			if (!room || queued >= s->stream_cap) {
				arm(&s->retry, IP3_RETRY_NS);
				return;
			}
			if (s->stream_cap - queued < want)
				want = s->stream_cap - queued;
		}
		/* With no room, one buffer still goes to tcp_send: only a
		 * refusal arms the writable handler. */
		if (room && room < want)
			want = room;
		if (s->tx_limit) {
			if (s->tx_total >= s->tx_limit)
				return;
			if (s->tx_limit - s->tx_total < want)
				want = s->tx_limit - s->tx_total;
		}
		while (got < want) {
			struct pkt *p = pool ? pkt_alloc(pool) : NULL;
			uint32_t n;

			if (!p) {
				dry = true;
				break;
			}
			n = pkt_tailroom(p) - PKT_TAILROOM;
			if (n > want - got)
				n = (uint32_t)(want - got);
			memset(pkt_put(p, n), 0, n);
			got += n;
			if (!head)
				head = p;
			else if (!pkt_chain(head, &p)) {
				got -= n;
				dry = true;
				break;
			}
		}
		if (!head) {
			arm(&s->retry, IP3_RETRY_NS);
			return;
		}
		if (tcp_send(k->c, &head) != TCP_OK) {
			pkt_free(head);
			return;
		}
		k->bytes += got;
		s->tx_total += got;
		s->progress += got;
		s->st.bytes_out += got;
		if (dry) {
			arm(&s->retry, IP3_RETRY_NS);
			return;
		}
	}
}

/* --- the connections' handlers -------------------------------------------------------------- */
static void ip3_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	struct ip3_conn *k = ctx;
	struct ip3_srv *s = k->s;
	uint32_t len = pkt_len(p);

	(void)c;
	ng_enter(&iperf3_node, p);
	s->st.bytes_in += len;
	if (k->role == R_STREAM) {
		k->bytes += len;
		s->progress += len;
	} else {
		for (struct pkt *seg = p; seg && k->role != R_FREE; seg = seg->next) {
			const uint8_t *d = pkt_data(seg);
			uint32_t n = pkt_headlen(seg);

			if (k->role == R_CTRL) {
				ctrl_input(s, k, d, n);
				continue;
			}
			if (k->role != R_CAND)
				break;
			uint32_t take = IPERF3_COOKIE_SIZE - k->cookie_len < n ?
						IPERF3_COOKIE_SIZE - k->cookie_len : n;
			memcpy(k->cookie + k->cookie_len, d, take);
			k->cookie_len += take;
			if (k->cookie_len < IPERF3_COOKIE_SIZE)
				continue;
			cand_cookie(s, k);
			/* Bytes behind a stream's cookie are its data. */
			if (k->role == R_STREAM) {
				k->bytes += n - take;
				for (struct pkt *t = seg->next; t; t = t->next)
					k->bytes += pkt_headlen(t);
			}
			break;
		}
	}
	pkt_free(p);
	ng_leave(&iperf3_node);
}

/* The peer closed its side of a connection that is still in the test. */
static void ip3_recv_fin(void *ctx, struct tcp_conn *c)
{
	struct ip3_conn *k = ctx;
	struct ip3_srv *s = k->s;

	if (k->role == R_CAND) {
		detach(k);
		tcp_close(c);
		return;
	}
	if (k->role == R_STREAM)
		ip3_fail(s, IPERF3_E_STREAMCLOSE, 0, true, "a stream closed mid-test");
	else if (k->role == R_CTRL && s->phase == IP3_DISPLAY)
		test_done(s); /* results delivered; the client left without IPERF_DONE */
	else if (k->role == R_CTRL)
		ip3_fail(s, 0, 0, false, "the control connection closed mid-test");
}

static void ip3_writable(void *ctx, struct tcp_conn *c)
{
	struct ip3_conn *k = ctx;

	(void)c;
	if (k->role == R_STREAM && k->sender)
		ip3_fill(k->s, k);
}

static void ip3_closed(void *ctx, struct tcp_conn *c, enum tcp_reason why)
{
	struct ip3_conn *k = ctx;
	struct ip3_srv *s = k->s;
	bool member = k->role == R_CTRL || k->role == R_STREAM;

	(void)c;
	k->c = NULL;
	detach(k);
	if (!member)
		return;
	if (why == TCP_R_SHUTDOWN) {
		/* TCP is closing every connection: leave the others to
		 * their own closed handlers, which only free slots now. */
		if (s->ctrl)
			s->ctrl->role = R_LIMBO;
		for (unsigned i = 0; i < s->nstreams; i++)
			if (s->streams[i])
				s->streams[i]->role = R_LIMBO;
		reset_test(s);
		return;
	}
	ip3_fail(s, 0, 0, true, why == TCP_R_RESET ? "a connection was reset" :
						      "a connection ended mid-test");
}

static const struct tcp_handlers ip3_handlers = {
	.recv = ip3_recv,
	.recv_fin = ip3_recv_fin,
	.writable = ip3_writable,
	.closed = ip3_closed,
};

/* Listener: a new control connection when idle, a candidate stream while
 * streams are being created, ACCESS_DENIED otherwise. */
static bool ip3_accept(void *ctx, struct tcp_conn *c)
{
	struct ip3_srv *s = ctx;
	struct ip3_conn *k;

	s->st.accepted++;
	/* The results are out and only the client's IPERF_DONE is owed: a new
	 * client arriving first (that byte lost, or behind a backlog of the
	 * old streams' segments) means the old test is over; it ends as done
	 * and the newcomer is served, as a client running back-to-back tests
	 * expects. */
	if (s->phase == IP3_DISPLAY)
		test_done(s);
	if (s->phase != IP3_IDLE && s->phase != IP3_STREAMS) {
		deny(s, c);
		return true;
	}
	k = slot_get(s, c, s->phase == IP3_IDLE ? R_CTRL : R_CAND);
	if (!k) {
		s->st.refused++;
		return false;
	}
	tcp_set_handlers(c, &ip3_handlers, k);
	if (k->role == R_CTRL) {
		s->ctrl = k;
		s->ntests++;
		tcp_set_nodelay(c, true);
		tcp_endpoints(c, &s->peer);
		set_phase(s, IP3_COOKIE);
		arm(&s->tick, IP3_TICK_NS);
	}
	return true;
}

static const struct tcp_handlers listen_handlers = {.accept = ip3_accept};

/* --- the service -------------------------------------------------------------------------------- */
static void srv_free(struct ip3_srv *s)
{
	free(s->rows);
	free(s->json_in);
	free(s->json_out);
	free(s->slots);
	free(s);
}

static int ip3_start(uint16_t port, struct tcpsvc **out)
{
	struct tcp_config tc;
	struct ip3_srv *s;
	int rc;

	*out = NULL;
	tcp_config_get(&tc);
	s = calloc(1, sizeof *s);
	if (!s)
		return TCP_ENOMEM;
	s->nrows = (tc.max_conns ? tc.max_conns : 4096) + 64;
	s->sndbuf = IP3_SNDBUF;
	s->pool_budget = (uint64_t)(tc.pool_bufs ? tc.pool_bufs : 8192) * PKT_BUF_DEFAULT / 2;
	s->slots = calloc(IP3_SLOTS, sizeof *s->slots);
	s->json_in = malloc(IPERF3_JSON_MAX);
	s->json_out = malloc(IP3_OUT_MAX);
	s->rows = calloc(s->nrows, sizeof *s->rows);
	if (!s->slots || !s->json_in || !s->json_out || !s->rows) {
		srv_free(s);
		return TCP_ENOMEM;
	}
	for (unsigned i = IP3_SLOTS; i-- > 0;) {
		s->slots[i].next_free = s->free;
		s->free = &s->slots[i];
	}
	exec_timer_init(&s->tick, tick_fire, s);
	exec_timer_init(&s->omit, omit_fire, s);
	exec_timer_init(&s->retry, retry_fire, s);
	s->st.port = port;
	struct tcp_listen_opts o = {.port = port, .conn = {.sndbuf = IP3_SNDBUF}};
	rc = tcp_listen(&o, &listen_handlers, s, &s->l);
	if (rc != TCP_OK) {
		srv_free(s);
		return rc;
	}
	sal_log(SAL_LOG_INFO, "iperf3 listening on port %u", (unsigned)port);
	*out = (struct tcpsvc *)s;
	return TCP_OK;
}

/* Stops listening; a running test's client gets SERVER_TERMINATE and an
 * orderly close of the control connection, every other connection of the
 * service is reset. */
static void ip3_stop(struct tcpsvc *sv)
{
	struct ip3_srv *s = (struct ip3_srv *)sv;
	struct tcp_conn *c;

	if (!s)
		return;
	tcp_unlisten(s->l);
	if (s->phase != IP3_IDLE) {
		if (s->ctrl && ctrl_state(s, IPERF3_S_SERVER_TERMINATE) && (c = detach(s->ctrl)))
			tcp_close(c);
		ip3_fail(s, 0, 0, true, "the service stopped");
	}
	for (unsigned i = 0; i < IP3_SLOTS; i++)
		if (s->slots[i].role != R_FREE && (c = detach(&s->slots[i])))
			tcp_abort(c);
	exec_timer_cancel(&s->tick);
	exec_timer_cancel(&s->omit);
	exec_timer_cancel(&s->retry);
	srv_free(s);
}

static void ip3_stats(const struct tcpsvc *sv, struct tcpsvc_stats *out)
{
	*out = ((const struct ip3_srv *)sv)->st;
}

static const struct tcpsvc_ops ip3_ops = {
	.start = ip3_start,
	.stop = ip3_stop,
	.stats = ip3_stats,
};
const struct spin_interface iperf3_interface = {
	.name = "iperf3",
	.version = SPIN_VERSION(1, 0),
	.procs = &ip3_ops,
};
static const struct spin_interface *const ip3_exports[] = {&iperf3_interface, NULL};

/* --- the module: listeners from init args ("5201,5202") ------------------------------------ */
#define IP3_MAX_ARGS 16
static struct tcpsvc *own[IP3_MAX_ARGS];
static unsigned nown;

static void ip3_fini(void)
{
	while (nown)
		ip3_stop(own[--nown]);
}

static int ip3_init(const char *args)
{
	(void)ng_node_register(&iperf3_node);
	while (args && *args) {
		unsigned port = 0;
		int rc;

		while (*args >= '0' && *args <= '9' && port <= 65535)
			port = port * 10 + (unsigned)(*args++ - '0');
		if (port == 0 || port > 65535 || (*args && *args != ',') || nown == IP3_MAX_ARGS) {
			ip3_fini();
			return -1;
		}
		if (*args == ',')
			args++;
		rc = ip3_start((uint16_t)port, &own[nown]);
		if (rc != TCP_OK) {
			ip3_fini();
			return rc;
		}
		nown++;
	}
	return 0;
}

static const struct spin_import ip3_imports[] = {
	{.name = "tcp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(iperf3_module,
	    .name = "iperf3",
	    .version = SPIN_VERSION(1, 0),
	    .exports = ip3_exports,
	    .imports = ip3_imports,
	    .init = ip3_init,
	    .fini = ip3_fini,
	    .doc = "iperf3 server (TCP tests, forward, reverse, bidirectional)");
