/*
 * reflect.c - opens one hosted driver and bounces frames back through the
 * graph; the wire tests' device under test.
 *
 *   reflect --driver tap      --if NAME [--sw-csum] [--port P] [--seconds N] [--busy]
 *   reflect --driver afpacket --if NAME [--capture] [--sw-csum] [--port P] [--seconds N]
 *   reflect --driver pcap     --in FILE --out FILE [--mode pass]
 *   reflect --driver pcap     --live NAME [--port P] [--seconds N]
 *   reflect --driver replay   --in FILE --loops N [--mode count]
 *
 * Modes (installed as the Link.PacketArrived handler):
 *   reflect (default): IPv4 UDP datagrams (to port P, or any with --port 0)
 *     go back where they came from: MACs, addresses and ports swapped, the
 *     checksum state left as received (a swap keeps every sum valid, and a
 *     partial packet is finished by the driver or the graph on send).
 *     Everything else is freed and counted as ignored.
 *   pass: every frame is sent back out of the interface it came in on,
 *     unchanged (pcap in, pcap out).
 *   count: every frame is counted and freed (replay).
 *
 * Lifetime: until --seconds pass (default 10), SIGTERM or SIGINT, or, for
 * pcap and replay, until the input is exhausted.  Prints
 *   READY {"name":..., "mac":..., "ifindex":...}    once the device is open
 *   STATS {...counters...}                           at exit
 * and exits 0 when no pool buffer leaked, 3 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "drivers/afpacket/drv_afpacket.h"
#include "drivers/drv.h"
#include "drivers/pcap/drv_pcap.h"
#include "drivers/replay/drv_replay.h"
#include "drivers/tap/drv_tap.h"
#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"

enum mode { MODE_REFLECT, MODE_PASS, MODE_COUNT };

static struct {
	const char *driver, *ifname, *in, *out, *live;
	enum mode mode;
	int port;
	double seconds;
	unsigned long loops;
	bool sw_csum, capture, busy;
} opt = {.port = 7, .seconds = 10, .loops = 1};

static struct {
	uint64_t seen, reflected, passed, counted, ignored;
	uint64_t csum_partial, csum_verified, csum_none;
} cnt;

static struct exec_loop *loop;
static struct ng_iface *ifp;

SPIN_MODULE(reflect_module, .name = "reflect", .version = SPIN_VERSION(1, 0),
	    .doc = "wire-test reflector");

/* --- the handler ----------------------------------------------------------------- */
static void swap(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[6];
	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

/* Turns an IPv4/UDP frame around in place; false if *pp is not one (to our
 * port).  The data start is the Ethernet header.  *pp may be replaced by a
 * private copy; it is never consumed. */
static bool reflect_udp(struct pkt **pp)
{
	struct pkt *p = *pp;
	if (!pkt_contig(p, 14 + 20))
		return false;
	uint8_t *f = pkt_data(p);
	if (f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4)
		return false;
	uint32_t ihl = (uint32_t)(f[14] & 0x0f) * 4;
	if (ihl < 20 || f[23] != 17 || !pkt_contig(p, 14 + ihl + 8))
		return false;
	f = pkt_data(p);
	uint8_t *udp = f + 14 + ihl;
	if (opt.port && (udp[2] << 8 | udp[3]) != opt.port)
		return false;
	/* A frame shared with another owner must be copied before writing. */
	if (!pkt_unshare(pp))
		return false;
	p = *pp;
	f = pkt_data(p);
	udp = f + 14 + ihl;
	swap(f, f + 6, 6);
	swap(f + 26, f + 30, 4);
	swap(udp, udp + 2, 2);
	return true;
}

/* The Link.PacketArrived handler, the only binding: consumes p (sends it
 * on or frees it). */
static void on_frame(void *closure, struct pkt *p)
{
	(void)closure;
	cnt.seen++;
	if (p->csum == PKT_CSUM_PARTIAL)
		cnt.csum_partial++;
	else if (p->csum == PKT_CSUM_VERIFIED)
		cnt.csum_verified++;
	else
		cnt.csum_none++;
	switch (opt.mode) {
	case MODE_REFLECT:
		if (reflect_udp(&p)) {
			cnt.reflected++;
			ng_iface_send(p);
			return;
		}
		cnt.ignored++;
		pkt_free(p);
		return;
	case MODE_PASS:
		cnt.passed++;
		ng_iface_send(p);
		return;
	case MODE_COUNT:
		cnt.counted++;
		pkt_free(p);
		return;
	}
}

/* --- lifetime ----------------------------------------------------------------------- */
static int sigfd = -1;

static int sig_poll(void *ctx, int budget)
{
	(void)ctx;
	(void)budget;
	struct signalfd_siginfo si;
	if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		exec_loop_stop(loop);
		return 1;
	}
	return 0;
}

/* Stops the loop once a file-backed input is exhausted.  Runs every turn. */
static int done_poll(void *ctx, int budget)
{
	(void)ctx;
	(void)budget;
	bool done = strcmp(opt.driver, "replay") == 0 ? drv_replay_done(ifp)
		    : strcmp(opt.driver, "pcap") == 0  ? !opt.live && drv_pcap_eof(ifp)
						       : false;
	if (done)
		exec_loop_stop(loop);
	return 0;
}

static void on_deadline(struct exec_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	exec_loop_stop(loop);
}

/* --- set-up ------------------------------------------------------------------------- */
static void usage(void)
{
	fprintf(stderr, "usage: reflect --driver tap|afpacket|pcap|replay [--if NAME] "
			"[--in FILE] [--out FILE] [--loops N] [--mode reflect|pass|count] "
			"[--live NAME] [--port P] [--seconds N] [--sw-csum] [--capture] [--busy]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"driver", required_argument, 0, 'd'}, {"if", required_argument, 0, 'i'},
	    {"in", required_argument, 0, 'I'},     {"out", required_argument, 0, 'O'},
	    {"loops", required_argument, 0, 'n'},  {"mode", required_argument, 0, 'm'},
	    {"port", required_argument, 0, 'p'},   {"seconds", required_argument, 0, 's'},
	    {"sw-csum", no_argument, 0, 'c'},      {"capture", no_argument, 0, 'C'},
	    {"busy", no_argument, 0, 'b'},         {"live", required_argument, 0, 'L'},
	    {0, 0, 0, 0}};
	int c;
	bool mode_set = false;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': opt.driver = optarg; break;
		case 'i': opt.ifname = optarg; break;
		case 'I': opt.in = optarg; break;
		case 'O': opt.out = optarg; break;
		case 'n': opt.loops = strtoul(optarg, NULL, 10); break;
		case 'p': opt.port = atoi(optarg); break;
		case 's': opt.seconds = atof(optarg); break;
		case 'c': opt.sw_csum = true; break;
		case 'C': opt.capture = true; break;
		case 'b': opt.busy = true; break;
		case 'L': opt.live = optarg; break;
		case 'm':
			mode_set = true;
			if (strcmp(optarg, "reflect") == 0)
				opt.mode = MODE_REFLECT;
			else if (strcmp(optarg, "pass") == 0)
				opt.mode = MODE_PASS;
			else if (strcmp(optarg, "count") == 0)
				opt.mode = MODE_COUNT;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (!opt.driver || opt.seconds <= 0 || opt.seconds > 3600)
		usage();
	if (!mode_set && strcmp(opt.driver, "pcap") == 0 && !opt.live)
		opt.mode = MODE_PASS;
	if (!mode_set && strcmp(opt.driver, "replay") == 0)
		opt.mode = MODE_COUNT;
}

static enum drv_err open_driver(struct pkt_pool *pool)
{
	if (strcmp(opt.driver, "tap") == 0) {
		struct drv_tap_config c = {.ifname = opt.ifname, .sw_csum = opt.sw_csum};
		return drv_tap_open(&c, pool, loop, &ifp);
	}
	if (strcmp(opt.driver, "afpacket") == 0) {
		struct drv_afp_config c = {.ifname = opt.ifname, .sw_csum = opt.sw_csum,
					   .mode = opt.capture ? DRV_AFP_CAPTURE : DRV_AFP_LATENCY};
		return drv_afp_open(&c, pool, loop, &ifp);
	}
	if (strcmp(opt.driver, "pcap") == 0) {
		struct drv_pcap_config c = {.name = "pcap0", .in_path = opt.in,
					    .out_path = opt.out, .live_ifname = opt.live};
		return drv_pcap_open(&c, pool, loop, &ifp);
	}
	if (strcmp(opt.driver, "replay") == 0) {
		struct drv_replay_config c = {.name = "replay0", .path = opt.in,
					      .loops = opt.loops};
		return drv_replay_open(&c, pool, loop, &ifp);
	}
	usage();
	return DRV_EINVAL;
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sal_init();

	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);

	loop = exec_loop_new("reflect", opt.busy ? EXEC_BUSY_POLL : EXEC_BLOCKING);
	struct pkt_pool *pool = pkt_pool_new("reflect", 1024, PKT_BUF_DEFAULT);
	if (!loop || !pool || sigfd < 0) {
		fprintf(stderr, "reflect: set-up failed\n");
		return 1;
	}
	struct Link_PacketArrived_spec spec = {.handler = on_frame, .desc = "reflect"};
	struct disp_binding *binding;
	if (ng_graph_init() != NG_OK ||
	    Link_PacketArrived_install(&reflect_module, &spec, &binding) != DISP_OK) {
		fprintf(stderr, "reflect: cannot install the Link.PacketArrived handler\n");
		return 1;
	}
	enum drv_err e = open_driver(pool);
	if (e != DRV_OK) {
		fprintf(stderr, "reflect: %s %s: %s\n", opt.driver,
			opt.ifname ? opt.ifname : opt.in ? opt.in : "", drv_strerror(e));
		return 1;
	}

	struct exec_poller sigp = {.name = "signals", .poll = sig_poll, .wait_handle = sigfd};
	struct exec_poller donep = {.name = "done", .poll = done_poll, .wait_handle = -1};
	exec_poller_add(loop, &sigp);
	exec_poller_add(loop, &donep);
	struct exec_timer deadline;
	exec_timer_init(&deadline, on_deadline, NULL);
	exec_timer_arm(loop, &deadline, (uint64_t)(opt.seconds * 1e9));

	printf("READY {\"name\": \"%s\", \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", "
	       "\"ifindex\": %u}\n",
	       ifp->name, ifp->mac[0], ifp->mac[1], ifp->mac[2], ifp->mac[3], ifp->mac[4],
	       ifp->mac[5], ifp->index);

	exec_loop_run(loop);

	if (ifp->ops->flush)
		ifp->ops->flush(ifp);
	struct ng_iface_stats is = ifp->stats;
	char extra[512] = "";
	if (strcmp(opt.driver, "tap") == 0) {
		struct drv_tap_stats s;
		drv_tap_stats(ifp, &s);
		snprintf(extra, sizeof(extra),
			 "\"rx_csum_partial\": %lu, \"tx_csum_offloaded\": %lu, \"tx_csum_sw\": %lu",
			 (unsigned long)s.rx_csum_partial, (unsigned long)s.tx_csum_offloaded,
			 (unsigned long)s.tx_csum_sw);
	} else if (strcmp(opt.driver, "afpacket") == 0) {
		struct drv_afp_stats s;
		drv_afp_stats(ifp, &s);
		snprintf(extra, sizeof(extra),
			 "\"rx_csum_partial\": %lu, \"tx_csum_offloaded\": %lu, \"tx_csum_sw\": %lu, "
			 "\"rx_truncated\": %lu, \"ring_drops\": %lu",
			 (unsigned long)s.rx_csum_partial, (unsigned long)s.tx_csum_offloaded,
			 (unsigned long)s.tx_csum_sw, (unsigned long)s.rx_truncated,
			 (unsigned long)s.ring_drops);
	} else if (strcmp(opt.driver, "replay") == 0) {
		struct drv_replay_stats s;
		drv_replay_stats(ifp, &s);
		snprintf(extra, sizeof(extra),
			 "\"fed\": %lu, \"loops_done\": %lu, \"frames_per_loop\": %lu",
			 (unsigned long)s.fed, (unsigned long)s.loops_done,
			 (unsigned long)s.frames_per_loop);
	} else {
		struct drv_pcap_stats s;
		drv_pcap_stats(ifp, &s);
		snprintf(extra, sizeof(extra), "\"rx_frames\": %lu, \"tx_written\": %lu",
			 (unsigned long)s.rx_frames, (unsigned long)s.tx_written);
	}
	drv_close(ifp);
	disp_uninstall(binding);
	exec_poller_del(loop, &sigp);
	exec_poller_del(loop, &donep);
	exec_timer_cancel(&deadline);
	uint64_t leaked = pkt_pool_free(pool);
	printf("STATS {\"rx_packets\": %lu, \"tx_packets\": %lu, \"tx_drops\": %lu, "
	       "\"rx_drops\": %lu, \"seen\": %lu, \"reflected\": %lu, \"passed\": %lu, "
	       "\"counted\": %lu, \"ignored\": %lu, \"csum_partial\": %lu, "
	       "\"csum_verified\": %lu, \"csum_none\": %lu, \"leaked\": %lu, %s}\n",
	       (unsigned long)is.rx_packets, (unsigned long)is.tx_packets,
	       (unsigned long)is.tx_drops, (unsigned long)is.rx_drops, (unsigned long)cnt.seen,
	       (unsigned long)cnt.reflected, (unsigned long)cnt.passed,
	       (unsigned long)cnt.counted, (unsigned long)cnt.ignored,
	       (unsigned long)cnt.csum_partial, (unsigned long)cnt.csum_verified,
	       (unsigned long)cnt.csum_none, (unsigned long)leaked, extra);
	exec_loop_free(loop);
	close(sigfd);
	return leaked == 0 ? 0 : 3;
}
