/*
 * ctl_tcp.c - `spin ctl tcp ...`: TCP's counters and connections
 * (protocols/tcp) and client transfers (apps/tcpsvc, module tcpfetch).
 *
 *   tcp                      counters, then connections
 *   tcp stats [clear]        counters, "name value" one per line (clear:
 *                            read, then reset the cumulative ones)
 *   tcp conns                listeners and connections, one per line
 *   tcp fetch ADDR PORT [send FILE | send-bytes N] [recv FILE]
 *                            starts a transfer; replies "fetch ID"
 *   tcp fetch ID             one transfer's status line
 *   tcp forget ID            frees a transfer's slot (aborts it if running)
 *   tcp services             (appliance.c) the TCP services and their counts
 *
 * Runs on the loop thread like every control command.
 */
#include "apps/spin/appliance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/tcpsvc/tcpsvc.h"
#include "kernel/module/module.h"
#include "netgraph/pkt.h"
#include "protocols/tcp/tcp.h"

static char *ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

static bool parse_ip(const char *s, uint32_t *out)
{
	unsigned b[4];
	char tail;

	if (sscanf(s, "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 || b[0] > 255 ||
	    b[1] > 255 || b[2] > 255 || b[3] > 255)
		return false;
	*out = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
	return true;
}

static bool parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		return false;
	v = strtoull(s, &end, 10);
	if (*end || v > max)
		return false;
	*out = v;
	return true;
}

static void stats(char **out, bool clear)
{
	struct tcp_stats s;
	struct pkt_pool_stats ps = {0};
	struct pkt_pool *pool = tcp_pool();

	tcp_stats_get(&s, clear);
	if (pool)
		pkt_pool_stats(pool, &ps);
#define S(f) ctl_outf(out, "%s %llu\n", #f, (unsigned long long)s.f)
	S(active_opens); S(passive_opens); S(attempt_fails); S(estab_resets);
	S(in_segs); S(out_segs); S(retrans_segs); S(in_errs); S(out_rsts);
	S(syncookies_sent); S(syncookies_recv); S(syncookies_failed);
	S(challenge_acks); S(challenge_acks_limited);
	S(listen_overflows); S(listen_limit); S(global_limit); S(accept_refused);
	S(timewait_reuse); S(fast_retrans); S(rto_expired); S(zero_window_probes);
	S(keepalive_probes); S(ooo_segs); S(sack_blocks_sent); S(dup_acks);
	S(retrans_bytes); S(sack_recoveries); S(sack_blocks_recv); S(dsacks_recv);
	S(sack_rescues); S(rcvbuf_grown); S(tlp_probes); S(lost_retrans);
	S(sack_undos);
	S(curr_estab); S(live_conns); S(sndq_bytes); S(ooo_bytes); S(timers_armed);
#undef S
	ctl_outf(out, "pool_outstanding %llu\npool_alloc_fails %llu\n",
	     (unsigned long long)ps.outstanding, (unsigned long long)ps.alloc_fails);
}

static void conns(char **out)
{
	unsigned n = tcp_conn_list(NULL, 0), got;
	struct tcp_conn_info *v = calloc(n ? n : 1, sizeof *v);

	if (!v)
		return;
	got = tcp_conn_list(v, n);
	if (got > n)
		got = n;
	for (unsigned i = 0; i < got; i++) {
		const struct tcp_conn_info *r = &v[i];
		char la[16], ra[16];

		if (r->listener) {
			ctl_outf(out, "listen %s:%u\n", ip_str(r->ep.laddr, la), r->ep.lport);
			continue;
		}
		ctl_outf(out, "%s %s:%u %s:%u snd_una %u snd_nxt %u rcv_nxt %u snd_wnd %u "
		     "rcv_wnd %u cwnd %u ssthresh %u srtt_us %u rto_ms %u sndq %u ooo %u "
		     "retrans %u rcvbuf %u cc %s sack %s\n",
		     tcp_state_name(r->state), ip_str(r->ep.laddr, la), r->ep.lport,
		     ip_str(r->ep.raddr, ra), r->ep.rport, r->snd_una, r->snd_nxt, r->rcv_nxt,
		     r->snd_wnd, r->rcv_wnd, r->cwnd, r->ssthresh, r->srtt_us, r->rto_ms, r->sndq,
		     r->ooo, r->retrans, r->rcvbuf, tcp_cc_name((enum tcp_cc)r->cc),
		     r->sack ? "on" : "off");
	}
	free(v);
}

static const char *fetch_state_name(enum tcpfetch_state s)
{
	switch (s) {
	case TCPFETCH_CONNECTING: return "connecting";
	case TCPFETCH_ESTABLISHED: return "established";
	case TCPFETCH_DONE: return "done";
	default: return "free";
	}
}

static int fetch(char **out, int argc, char **argv)
{
	const struct spin_interface *i;
	const struct tcpfetch_ops *ops;
	int e;

	i = spin_interface_lookup("tcp-fetch", SPIN_VERSION(1, 0), SPIN_KERNEL, &e);
	if (!i) {
		ctl_outf(out, "the tcpfetch module is not running\n");
		return 1;
	}
	ops = i->procs;
	if (argc == 3 || (argc == 4 && !strcmp(argv[1], "forget"))) {
		struct tcpfetch_status st;
		uint64_t id;

		if (!parse_num(argv[argc - 1], UINT32_MAX, &id)) {
			ctl_outf(out, "bad transfer id '%s'\n", argv[argc - 1]);
			return 1;
		}
		if (ops->status((unsigned)id, &st)) {
			ctl_outf(out, "no transfer %s\n", argv[argc - 1]);
			return 1;
		}
		if (!strcmp(argv[1], "forget")) {
			ops->forget((unsigned)id);
			ctl_outf(out, "forgot %u\n", (unsigned)id);
			return 0;
		}
		ctl_outf(out, "fetch %u state %s reason %s sent %llu received %llu peer_fin %d "
		     "io_error %d elapsed_ms %.3f\n",
		     st.id, fetch_state_name(st.state),
		     st.state == TCPFETCH_DONE ? tcp_reason_name(st.reason) : "-",
		     (unsigned long long)st.sent, (unsigned long long)st.received, st.peer_fin,
		     st.io_error, (double)st.elapsed_ns / 1e6);
		return 0;
	}

	struct tcpfetch_args a = {0};
	uint64_t port, nbytes;
	char err[256];
	unsigned id;

	if (argc < 4 || !parse_ip(argv[2], &a.dst) || !parse_num(argv[3], 65535, &port) ||
	    port == 0)
		goto usage;
	a.port = (uint16_t)port;
	for (int k = 4; k < argc; k += 2) {
		if (k + 1 >= argc)
			goto usage;
		if (!strcmp(argv[k], "send"))
			a.send_path = argv[k + 1];
		else if (!strcmp(argv[k], "recv"))
			a.recv_path = argv[k + 1];
		else if (!strcmp(argv[k], "send-bytes") && parse_num(argv[k + 1], UINT64_MAX, &nbytes))
			a.send_bytes = nbytes;
		else
			goto usage;
	}
	if (ops->start(&a, &id, err, sizeof err)) {
		ctl_outf(out, "fetch: %s\n", err);
		return 1;
	}
	ctl_outf(out, "fetch %u\n", id);
	return 0;
usage:
	ctl_outf(out, "usage: tcp fetch ADDR PORT [send FILE | send-bytes N] [recv FILE] | "
	     "tcp fetch ID | tcp forget ID\n");
	return 1;
}

int app_ctl_tcp(char **out, int argc, char **argv)
{
	*out = NULL;
	if (!spin_module_started(&tcp_module)) {
		ctl_outf(out, "tcp: the tcp module is not running\n");
		return 1;
	}
	if (argc == 1) {
		stats(out, false);
		conns(out);
		return 0;
	}
	if (!strcmp(argv[1], "stats") && argc <= 3 && (argc == 2 || !strcmp(argv[2], "clear"))) {
		stats(out, argc == 3);
		return 0;
	}
	if (!strcmp(argv[1], "conns") && argc == 2) {
		conns(out);
		return 0;
	}
	if (!strcmp(argv[1], "fetch") || !strcmp(argv[1], "forget"))
		return fetch(out, argc, argv);
	ctl_outf(out, "usage: tcp [stats [clear] | conns | services | fetch ... | forget ID]\n");
	return 1;
}
