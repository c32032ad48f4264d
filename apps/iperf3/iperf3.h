/*
 * iperf3.h - an iperf3 server as an extension module on the in-kernel TCP
 * API (protocols/tcp/tcp.h), so that a stock `iperf3 -c` measures
 * bandwidth to and from spin.  docs/apps/iperf3.md is the overview;
 * iperf3_proto.h describes the protocol.
 *
 *   module "iperf3", interface "iperf3" 1.0 (procs: struct tcpsvc_ops, the
 *   same start/stop/stats as the TCP services of apps/tcpsvc, so spin run
 *   starts one listener per `service iperf3 port N` line)
 *
 * What it serves: TCP tests, forward (the client sends, spin counts and
 * frees), reverse (-R: spin sends zero-filled buffers as fast as TCP takes
 * them), bidirectional (--bidir), 1 to 128 streams (-P), ended by the
 * client after -t seconds, -n bytes or -k blocks; -O seconds are left out
 * of the figures.  UDP and SCTP tests are refused with SERVER_ERROR and
 * iperf3's "not implemented" code.  One test at a time per listener: a
 * connection that is not part of the running test gets ACCESS_DENIED.
 *
 * Bad input ends the test, never the service: a cookie that is not 36
 * printable characters and a NUL, a length of 0 or above IPERF3_JSON_MAX,
 * JSON that does not parse, an unknown state byte, a stream or the control
 * connection closing mid-test, or a phase that makes no progress for
 * IPERF3_IDLE_S seconds (or a timed test running IPERF3_GRACE_S past its
 * end).  The test's connections are reset (the control connection gets a
 * SERVER_ERROR first when there is something to say), the listener stays,
 * and the next client is served.
 *
 * Memory: every listener allocates, at start (control path), its
 * connection slots (2 * IPERF3_MAX_STREAMS + 16), the two JSON buffers and
 * a row buffer for tcp_conn_list.  The data path allocates nothing but
 * packet buffers from TCP's pool, and its senders together keep at most
 * half of that pool queued (the rest is TCP's segments' and the control
 * messages').  A connection leaves its slot as soon as
 * it is no longer part of the test: it then runs ctx-free handlers that
 * drain and close it, so TCP may finish it after the service is gone.
 *
 * Node "iperf3" counts received segments and bytes of every connection
 * (`spin ctl counters iperf3`); `spin ctl tcp services` shows the
 * listener's accepted and refused (including denied) connections and bytes
 * in and out.  Each test logs one line at info level when it ends.
 *
 * Threads: everything runs on the packet loop (TCP handlers and exec
 * timers) except start, stop and stats (control path, loop idle).
 */
#ifndef SPIN_APP_IPERF3_H
#define SPIN_APP_IPERF3_H

#include "apps/tcpsvc/tcpsvc.h"
#include "kernel/module/module.h"

#define IPERF3_IDLE_S 10    /* a phase without progress ends the test */
#define IPERF3_GRACE_S 10   /* past time + omit, a timed test is ended */

extern const struct spin_module iperf3_module;        /* "iperf3" */
extern const struct spin_interface iperf3_interface;  /* "iperf3" 1.0: tcpsvc_ops */

#endif
