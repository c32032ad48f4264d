/*
 * test_exec_strand.c - the execution API (kernel/exec/exec.h) on strands,
 * under a packet load.
 *
 * The replay device feeds the graph from a capture while, on the same
 * loop, a periodic timer fires, another thread queues deferred work, and
 * an asynchronous handler (a strand of the loop's processor) blocks until
 * the very end: the graph must deliver every frame meanwhile.  Run in both
 * modes, with exec_loop_run stopped by a poller.  A second test checks
 * EXEC_POLL_ON_READY pollers and exec_loop_stop from another thread.
 *
 * Every test that touches packets ends by asserting that no pool buffer is
 * outstanding.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "drivers/drv.h"
#include "drivers/replay/drv_replay.h"
#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "kernel/strand/strand.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "netgraph/pkt.h"

SPIN_MODULE(xs_module, .name = "test_exec_strand", .version = SPIN_VERSION(1, 0));

/* Raised by the packet handler for every 16th frame; its handler is
 * asynchronous and may block. */
SPIN_EVENT_DECLARE_VOID(XS_Slow, (int, seq))
SPIN_EVENT_DEFINE(XS_Slow, .owner = &xs_module, .async_slots = 256);

enum { FRAMES = 50, LOOPS = 40, TOTAL = FRAMES * LOOPS, NWORK = 64 };

static struct pkt_pool *pool;

static int setup(void **state)
{
	(void)state;
	sal_init();
	if (ng_graph_init() != NG_OK)
		return -1;
	pool = pkt_pool_new("xs-test", 512, PKT_BUF_DEFAULT);
	return pool ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return pkt_pool_free(pool) == 0 ? 0 : -1;
}

static void write_capture(const char *path, int count)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	assert_non_null(dead);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	assert_non_null(d);
	uint8_t f[256];
	for (int i = 0; i < count; i++) {
		memset(f, 0, sizeof f);
		memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x88\xb5", 14);
		f[14] = (uint8_t)i;
		struct pcap_pkthdr h = {.caplen = 60 + (unsigned)i, .len = 60 + (unsigned)i};
		h.ts.tv_sec = 1000 + i;
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

/* --- the load ---------------------------------------------------------------------- */
struct load {
	struct exec_loop *l;
	struct ng_iface *ifp;
	uint64_t frames;            /* seen by the packet handler */
	uint64_t frames_while_blocked;
	int slow_started, slow_done;
	struct strand *blocked;     /* the first slow handler, blocked */
	bool released;
	struct exec_timer tick;
	int ticks;
	struct exec_work w[NWORK];
	_Atomic int work_done;
	struct exec_poller done_poller;
	struct exec_timer deadline;
	bool timed_out;
};
static struct load ld;

static void on_frame(void *closure, struct pkt *p)
{
	(void)closure;
	ld.frames++;
	if (ld.blocked)
		ld.frames_while_blocked++;
	if (ld.frames % 16 == 1)
		XS_Slow_raise((int)ld.frames);
	pkt_free(p);
}

/* The first run blocks its strand until the test releases it; the others
 * sleep briefly.  Neither may hold up the loop strand. */
static void on_slow(void *closure, int seq)
{
	(void)closure;
	(void)seq;
	assert_non_null(strand_self());
	if (ld.slow_started++ == 0) {
		ld.blocked = strand_self();
		strand_will_block();
		strand_block();
		assert_true(ld.released);
	} else {
		strand_sleep_ns(200000);
	}
	ld.slow_done++;
}

static void on_tick(struct exec_timer *t, void *arg)
{
	(void)arg;
	ld.ticks++;
	exec_timer_arm(ld.l, t, 500000);
}

static void on_work(struct exec_work *w, void *arg)
{
	(void)w;
	(void)arg;
	atomic_fetch_add(&ld.work_done, 1);
}

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < NWORK; i++) {
		exec_defer(ld.l, &ld.w[i], on_work, NULL);
		sal_sleep_ns(100000);
	}
	return NULL;
}

/* Once every frame is in: the blocked handler is released, and the loop
 * stops when every slow run and every work item has finished. */
static int done_poll(void *ctx, int budget)
{
	(void)ctx;
	(void)budget;
	if (ld.frames == TOTAL && ld.blocked && !ld.released) {
		ld.released = true;
		strand_unblock(ld.blocked);
	}
	if (ld.released && ld.slow_done == ld.slow_started &&
	    atomic_load(&ld.work_done) == NWORK && ld.ticks >= 3)
		exec_loop_stop(ld.l);
	return 0;
}

static void on_deadline(struct exec_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	ld.timed_out = true;
	if (ld.blocked && !ld.released) {
		ld.released = true;
		strand_unblock(ld.blocked);
	}
	exec_loop_stop(ld.l);
}

static void run_load(enum exec_mode mode)
{
	char path[128];
	snprintf(path, sizeof path, "/tmp/spin-xs-%d.pcap", (int)getpid());
	write_capture(path, FRAMES);
	memset(&ld, 0, sizeof ld);

	struct Link_PacketArrived_spec ps = {.handler = on_frame, .desc = "xs frames"};
	struct XS_Slow_spec ss = {.handler = on_slow, .options = DISP_ASYNC, .desc = "xs slow"};
	struct disp_binding *pb, *sb;
	assert_int_equal(Link_PacketArrived_install(&xs_module, &ps, &pb), DISP_OK);
	assert_int_equal(XS_Slow_install(&xs_module, &ss, &sb), DISP_OK);

	ld.l = exec_loop_new("xs", mode);
	assert_non_null(ld.l);
	struct drv_replay_config cfg = {.name = "xs0", .path = path, .loops = LOOPS};
	assert_int_equal(drv_replay_open(&cfg, pool, ld.l, &ld.ifp), DRV_OK);
	ld.done_poller = (struct exec_poller){.name = "done", .poll = done_poll, .wait_handle = -1};
	assert_int_equal(exec_poller_add(ld.l, &ld.done_poller), 0);
	exec_timer_init(&ld.tick, on_tick, NULL);
	exec_timer_arm(ld.l, &ld.tick, 500000);
	exec_timer_init(&ld.deadline, on_deadline, NULL);
	exec_timer_arm(ld.l, &ld.deadline, 10000000000ull);
	struct sal_thread *th = sal_thread_start("xs-producer", producer, NULL);

	exec_loop_run(ld.l);
	sal_thread_join(th);

	assert_false(ld.timed_out);
	assert_int_equal(ld.frames, TOTAL);
	/* The first slow handler blocked early (its strand runs when the
	 * loop strand first yields, after one poller budget) and stayed
	 * blocked while the graph delivered everything else. */
	assert_true(ld.frames_while_blocked >= TOTAL - 2 * 64);
	assert_int_equal(ld.slow_started, (TOTAL + 15) / 16);
	assert_int_equal(ld.slow_done, ld.slow_started);
	assert_int_equal(atomic_load(&ld.work_done), NWORK);
	assert_true(ld.ticks >= 3);
	struct exec_stats st;
	exec_loop_stats(ld.l, &st);
	assert_true(st.units >= TOTAL);
	assert_true(st.work_items >= NWORK);

	exec_timer_cancel(&ld.tick);
	exec_timer_cancel(&ld.deadline);
	exec_poller_del(ld.l, &ld.done_poller);
	drv_close(ld.ifp);
	exec_loop_detach(ld.l);
	exec_loop_free(ld.l);
	assert_int_equal(disp_uninstall(pb), DISP_OK);
	assert_int_equal(disp_uninstall(sb), DISP_OK);
	unlink(path);
	struct pkt_pool_stats ps2;
	pkt_pool_stats(pool, &ps2);
	assert_int_equal(ps2.outstanding, 0);
}

static void test_load_blocking(void **state)
{
	(void)state;
	run_load(EXEC_BLOCKING);
}

static void test_load_busy(void **state)
{
	(void)state;
	run_load(EXEC_BUSY_POLL);
}

/* --- rarely-ready handles and a stop from another thread ------------------------------ */
struct ready_ctx {
	int fd[2];
	int polls, bytes;
	struct exec_loop *l;
};

static int ready_poll(void *ctx, int budget)
{
	struct ready_ctx *c = ctx;
	(void)budget;
	char buf[64];
	c->polls++;
	ssize_t n = read(c->fd[0], buf, sizeof buf);
	if (n > 0)
		c->bytes += (int)n;
	return n > 0 ? 1 : 0;
}

static void *writer(void *arg)
{
	struct ready_ctx *c = arg;
	for (int i = 0; i < 5; i++) {
		sal_sleep_ns(5000000);
		assert_int_equal(write(c->fd[1], "x", 1), 1);
	}
	sal_sleep_ns(20000000);
	exec_loop_stop(c->l);
	return NULL;
}

static void run_ready(enum exec_mode mode)
{
	struct ready_ctx c = {0};
	assert_int_equal(pipe2(c.fd, O_NONBLOCK), 0);
	c.l = exec_loop_new("ready", mode);
	struct exec_poller p = {.name = "rare", .poll = ready_poll, .ctx = &c,
				.wait_handle = c.fd[0], .flags = EXEC_POLL_ON_READY};
	assert_int_equal(exec_poller_add(c.l, &p), 0);
	struct sal_thread *th = sal_thread_start("writer", writer, &c);
	exec_loop_run(c.l);
	sal_thread_join(th);
	assert_int_equal(c.bytes, 5);
	/* Polled once for the add, then only when a byte was there (a
	 * busy loop may look while the writer's byte is not yet drained
	 * once more, never on every turn). */
	assert_true(c.polls >= 5 && c.polls <= 12);
	exec_poller_del(c.l, &p);
	exec_loop_detach(c.l);
	exec_loop_free(c.l);
	close(c.fd[0]);
	close(c.fd[1]);
}

static void test_ready_blocking(void **state)
{
	(void)state;
	run_ready(EXEC_BLOCKING);
}

static void test_ready_busy(void **state)
{
	(void)state;
	run_ready(EXEC_BUSY_POLL);
}

/* A device poller (polled every turn) added to a busy-poll loop is not
 * watched; switching the loop to blocking must watch it again, or an idle
 * loop would sleep through its data until the idle limit (1 s). */
struct switch_ctx {
	int fd[2];
	uint64_t wrote_ns, seen_ns;
	struct exec_loop *l;
};

static int switch_poll(void *ctx, int budget)
{
	struct switch_ctx *c = ctx;
	char b;
	(void)budget;
	if (read(c->fd[0], &b, 1) != 1)
		return 0;
	c->seen_ns = sal_now_ns();
	exec_loop_stop(c->l);
	return 1;
}

static void *switch_writer(void *arg)
{
	struct switch_ctx *c = arg;
	sal_sleep_ns(50000000); /* the loop is asleep by now */
	c->wrote_ns = sal_now_ns();
	assert_int_equal(write(c->fd[1], "x", 1), 1);
	return NULL;
}

static void test_mode_switch_watches(void **state)
{
	(void)state;
	struct switch_ctx c = {0};
	assert_int_equal(pipe2(c.fd, O_NONBLOCK), 0);
	c.l = exec_loop_new("switch", EXEC_BUSY_POLL);
	struct exec_poller p = {.name = "dev", .poll = switch_poll, .ctx = &c,
				.wait_handle = c.fd[0]};
	assert_int_equal(exec_poller_add(c.l, &p), 0);
	assert_int_equal(exec_loop_set_mode(c.l, EXEC_BLOCKING), 0);
	assert_int_equal(exec_loop_set_mode(c.l, EXEC_BUSY_POLL), 0);
	assert_int_equal(exec_loop_set_mode(c.l, EXEC_BLOCKING), 0);
	assert_int_equal(exec_loop_set_mode(c.l, EXEC_BLOCKING), 0);
	struct sal_thread *th = sal_thread_start("writer", switch_writer, &c);
	exec_loop_run(c.l);
	sal_thread_join(th);
	assert_true(c.seen_ns >= c.wrote_ns);
	assert_true(c.seen_ns - c.wrote_ns < 400000000ull);
	assert_true(exec_loop_mode(c.l) == EXEC_BLOCKING);
	exec_poller_del(c.l, &p);
	exec_loop_detach(c.l);
	exec_loop_free(c.l);
	close(c.fd[0]);
	close(c.fd[1]);
}

/* Linger: a blocking loop that did work polls on (no idle wait) for the
 * linger time; without linger it sleeps between the two bytes. */
static void *linger_writer(void *arg)
{
	struct switch_ctx *c = arg;
	sal_sleep_ns(20000000);
	assert_int_equal(write(c->fd[1], "y", 1), 1);
	sal_sleep_ns(20000000);
	exec_loop_stop(c->l);
	return NULL;
}

static int linger_poll(void *ctx, int budget)
{
	struct switch_ctx *c = ctx;
	char b;
	(void)budget;
	return read(c->fd[0], &b, 1) == 1 ? 1 : 0;
}

static struct exec_stats run_linger(uint64_t linger_ns)
{
	struct switch_ctx c = {0};
	struct exec_stats st;
	assert_int_equal(pipe2(c.fd, O_NONBLOCK), 0);
	assert_int_equal(write(c.fd[1], "x", 1), 1); /* work for the first turn */
	c.l = exec_loop_new("linger", EXEC_BLOCKING);
	exec_loop_set_linger(c.l, linger_ns);
	assert_true(exec_loop_linger(c.l) == linger_ns);
	struct exec_poller p = {.name = "dev", .poll = linger_poll, .ctx = &c,
				.wait_handle = c.fd[0]};
	assert_int_equal(exec_poller_add(c.l, &p), 0);
	struct sal_thread *th = sal_thread_start("writer", linger_writer, &c);
	exec_loop_run(c.l);
	sal_thread_join(th);
	exec_loop_stats(c.l, &st);
	assert_true(st.units == 2);
	exec_poller_del(c.l, &p);
	exec_loop_detach(c.l);
	exec_loop_free(c.l);
	close(c.fd[0]);
	close(c.fd[1]);
	return st;
}

static void test_linger(void **state)
{
	(void)state;
	struct exec_stats on = run_linger(10000000000ull), off = run_linger(0);
	assert_true(on.idle_waits == 0);
	assert_true(on.linger_turns > 0);
	assert_true(off.idle_waits >= 1);
	assert_true(off.linger_turns == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_blocking),
	    cmocka_unit_test(test_load_busy),
	    cmocka_unit_test(test_ready_blocking),
	    cmocka_unit_test(test_ready_busy),
	    cmocka_unit_test(test_mode_switch_watches),
	    cmocka_unit_test(test_linger),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
