/* Unit tests of the run loop, RCU and the module registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"

/* --- timers fire in deadline order, once, and cancel works --------------- */
static int fired[8], nfired;

static void on_timer(struct exec_timer *t, void *arg)
{
	(void)t;
	fired[nfired++] = (int)(intptr_t)arg;
}

static void test_timers_order_and_cancel(void **state)
{
	(void)state;
	struct exec_loop *l = exec_loop_new("t", EXEC_BLOCKING);
	struct exec_timer t[4];
	nfired = 0;
	for (int i = 0; i < 4; i++)
		exec_timer_init(&t[i], on_timer, (void *)(intptr_t)i);
	exec_timer_arm(l, &t[0], 3000000);
	exec_timer_arm(l, &t[1], 1000000);
	exec_timer_arm(l, &t[2], 2000000);
	exec_timer_arm(l, &t[3], 1500000);
	exec_timer_cancel(&t[3]);
	assert_false(exec_timer_armed(&t[3]));
	uint64_t start = sal_now_ns();
	while (nfired < 3 && sal_now_ns() - start < 2000000000ull)
		exec_loop_run_once(l, 10000000);
	assert_int_equal(nfired, 3);
	assert_int_equal(fired[0], 1);
	assert_int_equal(fired[1], 2);
	assert_int_equal(fired[2], 0);
	/* Nothing is left armed, and nothing fires twice. */
	exec_loop_run_once(l, 2000000);
	assert_int_equal(nfired, 3);
	exec_loop_detach(l);
	exec_loop_free(l);
}

/* A timer re-armed from its own callback, and many timers in a heap. */
static int heap_seen;
static uint64_t heap_last;

static void on_heap_timer(struct exec_timer *t, void *arg)
{
	(void)arg;
	assert_true(t->deadline_ns >= heap_last);
	heap_last = t->deadline_ns;
	heap_seen++;
}

static void test_timer_heap_many(void **state)
{
	(void)state;
	struct exec_loop *l = exec_loop_new("h", EXEC_BUSY_POLL);
	enum { N = 300 };
	static struct exec_timer t[N];
	heap_seen = 0;
	heap_last = 0;
	for (int i = 0; i < N; i++) {
		exec_timer_init(&t[i], on_heap_timer, NULL);
		exec_timer_arm(l, &t[i], (uint64_t)((i * 7919) % N) * 1000);
	}
	for (int i = 0; i < N; i += 3)
		exec_timer_cancel(&t[i]);
	uint64_t start = sal_now_ns();
	while (heap_seen < N - 100 && sal_now_ns() - start < 2000000000ull)
		exec_loop_run_once(l, 0);
	assert_int_equal(heap_seen, N - 100);
	exec_loop_detach(l);
	exec_loop_free(l);
}

/* --- deferred work from another thread wakes a blocked loop, in order ----- */
struct defer_ctx {
	struct exec_loop *l;
	struct exec_work w[16];
	int order[16];
	_Atomic int n;
};

static void on_work(struct exec_work *w, void *arg)
{
	struct defer_ctx *c = arg;
	c->order[atomic_fetch_add(&c->n, 1)] = (int)(w - c->w);
}

static void *producer(void *arg)
{
	struct defer_ctx *c = arg;
	sal_sleep_ns(20000000);
	for (int i = 0; i < 16; i++)
		exec_defer(c->l, &c->w[i], on_work, c);
	return NULL;
}

static void test_defer_cross_thread(void **state)
{
	(void)state;
	static struct defer_ctx c;
	c.l = exec_loop_new("d", EXEC_BLOCKING);
	atomic_store(&c.n, 0);
	struct sal_thread *th = sal_thread_start("producer", producer, &c);
	uint64_t start = sal_now_ns();
	/* Blocks in sal_wait: only the producer's wake-up ends the wait early. */
	while (atomic_load(&c.n) < 16 && sal_now_ns() - start < 3000000000ull)
		exec_loop_run_once(c.l, 2000000000);
	sal_thread_join(th);
	assert_int_equal(atomic_load(&c.n), 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(c.order[i], i);
	assert_true(sal_now_ns() - start < 1500000000ull);
	exec_loop_detach(c.l);
	exec_loop_free(c.l);
}

/* --- pollers get a budget; a full budget means "poll me again" ---------- */
struct counter_dev {
	int pending, max_seen;
};

static int counter_poll(void *ctx, int budget)
{
	struct counter_dev *d = ctx;
	int n = d->pending < budget ? d->pending : budget;
	if (budget > d->max_seen)
		d->max_seen = budget;
	d->pending -= n;
	return n;
}

static void test_poller_budget(void **state)
{
	(void)state;
	struct exec_loop *l = exec_loop_new("p", EXEC_BLOCKING);
	struct counter_dev d = {.pending = 1000};
	struct exec_poller p = {.name = "counter", .poll = counter_poll, .ctx = &d,
				.wait_handle = -1};
	assert_int_equal(exec_poller_add(l, &p), 0);
	int turns = 0;
	while (d.pending > 0 && turns < 100) {
		int n = exec_loop_run_once(l, 0);
		assert_true(n <= 64 + 1);
		turns++;
	}
	assert_int_equal(d.pending, 0);
	assert_true(d.max_seen > 0 && d.max_seen <= 64);
	assert_int_equal(p.units, 1000);
	exec_poller_del(l, &p);
	exec_loop_detach(l);
	exec_loop_free(l);
}

/* --- RCU: synchronize waits for an online reader's quiescent state ------- */
struct rcu_ctx {
	_Atomic int *shared;
	_Atomic bool stop;
	_Atomic long reads;
	_Atomic bool saw_freed;
};

static void *reader(void *arg)
{
	struct rcu_ctx *c = arg;
	rcu_register_thread();
	while (!atomic_load(&c->stop)) {
		_Atomic int *p = rcu_deref(c->shared);
		/* A freed version is poisoned to -1 before it is released. */
		for (int i = 0; i < 50; i++)
			if (atomic_load(p) == -1)
				atomic_store(&c->saw_freed, true);
		atomic_fetch_add(&c->reads, 1);
		rcu_quiescent();
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_rcu_synchronize_protects_readers(void **state)
{
	(void)state;
	static struct rcu_ctx c;
	_Atomic int *v = sal_alloc(sizeof *v);
	atomic_store(v, 1);
	atomic_store(&c.shared, v);
	atomic_store(&c.stop, false);
	atomic_store(&c.reads, 0);
	atomic_store(&c.saw_freed, false);
	struct sal_thread *th[2] = {sal_thread_start("r1", reader, &c),
				    sal_thread_start("r2", reader, &c)};
	/* Both readers are registered and reading before the first swap. */
	while (atomic_load(&c.reads) < 100)
		sal_yield();
	for (int i = 0; i < 200; i++) {
		_Atomic int *n = sal_alloc(sizeof *n);
		atomic_store(n, i + 2);
		_Atomic int *old = atomic_load(&c.shared);
		rcu_publish(c.shared, n);
		rcu_synchronize();
		atomic_store(old, -1);
		sal_free((void *)old);
	}
	atomic_store(&c.stop, true);
	sal_thread_join(th[0]);
	sal_thread_join(th[1]);
	assert_false(atomic_load(&c.saw_freed));
	assert_true(atomic_load(&c.reads) > 0);
	sal_free((void *)atomic_load(&c.shared));
}

static int cb_ran;
static void on_cb(struct rcu_head *h) { (void)h; cb_ran++; }

static void test_rcu_call_after_grace_period(void **state)
{
	(void)state;
	struct rcu_head h;
	cb_ran = 0;
	/* The caller is an online reader that has not yet passed a quiescent
	 * state: the callback must wait for it. */
	rcu_register_thread();
	rcu_call(&h, on_cb);
	rcu_poll();
	assert_int_equal(cb_ran, 0);
	rcu_quiescent();
	rcu_poll();
	assert_int_equal(cb_ran, 1);
	assert_true(rcu_thread_is_online());
	rcu_unregister_thread();
	assert_false(rcu_thread_is_online());
}

/* --- modules: the built-in table and imports with versions and authorizers */
static int deny_all(spin_ident_t who, const struct spin_interface *x)
{
	(void)who;
	(void)x;
	return 1;
}

static const struct spin_interface iface_a = {.name = "TestA", .version = SPIN_VERSION(1, 2)};
static const struct spin_interface iface_secret = {.name = "Secret",
						   .version = SPIN_VERSION(1, 0),
						   .authorize_import = deny_all};
static const struct spin_interface *const exp_list[] = {&iface_a, &iface_secret, NULL};
static int exporter_inits;
static int exporter_init(const char *args)
{
	(void)args;
	exporter_inits++;
	return 0;
}
SPIN_MODULE(test_exporter, .name = "test-exporter", .version = SPIN_VERSION(1, 0),
	    .exports = exp_list, .init = exporter_init);

static const struct spin_interface *bound_a;
static const struct spin_import ok_imports[] = {{"TestA", SPIN_VERSION(1, 1), &bound_a}, {0}};
static const struct spin_import newer_imports[] = {{"TestA", SPIN_VERSION(1, 3), NULL}, {0}};
static const struct spin_import major_imports[] = {{"TestA", SPIN_VERSION(2, 0), NULL}, {0}};
static const struct spin_import secret_imports[] = {{"Secret", SPIN_VERSION(1, 0), NULL}, {0}};
static const struct spin_import missing_imports[] = {{"Nope", SPIN_VERSION(1, 0), NULL}, {0}};

static void test_modules(void **state)
{
	(void)state;
	assert_non_null(spin_builtin_find("kernel"));
	assert_ptr_equal(spin_builtin_find("test-exporter"), &test_exporter);
	assert_null(spin_builtin_find("no-such-module"));

	const struct spin_module importer = {.name = "imp", .imports = ok_imports};
	/* Not exported by any started module yet. */
	assert_int_equal(spin_module_start(&importer, NULL), SPIN_MOD_ENOENT);
	assert_int_equal(spin_module_start(&test_exporter, "x"), SPIN_MOD_OK);
	assert_int_equal(exporter_inits, 1);
	assert_int_equal(spin_module_start(&test_exporter, "x"), SPIN_MOD_EEXIST);
	assert_int_equal(spin_module_start(&importer, NULL), SPIN_MOD_OK);
	assert_ptr_equal(bound_a, &iface_a);

	const struct spin_module newer = {.name = "n", .imports = newer_imports};
	const struct spin_module major = {.name = "m", .imports = major_imports};
	const struct spin_module secret = {.name = "s", .imports = secret_imports};
	const struct spin_module missing = {.name = "x", .imports = missing_imports};
	assert_int_equal(spin_module_start(&newer, NULL), SPIN_MOD_EVERSION);
	assert_int_equal(spin_module_start(&major, NULL), SPIN_MOD_EVERSION);
	assert_int_equal(spin_module_start(&secret, NULL), SPIN_MOD_EDENIED);
	assert_int_equal(spin_module_start(&missing, NULL), SPIN_MOD_ENOENT);
	assert_false(spin_module_started(&secret));
	spin_module_stop(&importer);
	spin_module_stop(&test_exporter);
	assert_false(spin_module_started(&test_exporter));
}

static void test_sal_clock(void **state)
{
	(void)state;
	sal_init();
	uint64_t t0 = sal_now_ns(), c0 = sal_tsc();
	sal_sleep_ns(10000000);
	uint64_t t1 = sal_now_ns(), c1 = sal_tsc();
	uint64_t est = sal_tsc_to_ns(c1 - c0), real = t1 - t0;
	assert_true(real >= 10000000);
	/* The calibrated TSC agrees with the monotonic clock within 5%. */
	assert_true(est > real * 95 / 100 && est < real * 105 / 100);
}

int main(void)
{
	sal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sal_clock),
		cmocka_unit_test(test_timers_order_and_cancel),
		cmocka_unit_test(test_timer_heap_many),
		cmocka_unit_test(test_defer_cross_thread),
		cmocka_unit_test(test_poller_budget),
		cmocka_unit_test(test_rcu_synchronize_protects_readers),
		cmocka_unit_test(test_rcu_call_after_grace_period),
		cmocka_unit_test(test_modules),
	};
	return cmocka_run_group_tests_name("kernel", tests, NULL, NULL);
}
