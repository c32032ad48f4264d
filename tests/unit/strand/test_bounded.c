/*
 * test_bounded.c - bounded handlers (DISP_BOUNDED, kernel/dispatch/
 * dispatch.h): a handler that returns in time gives the raiser its result;
 * one that overruns leaves the raiser with the event's default result, is
 * stopped at its next safe point (never between two), and after the
 * binding's overrun limit the binding is gone from the event while its
 * owner's handle stays valid until uninstalled.
 *
 * Raises come from deferred work on a run loop, i.e. from the loop strand,
 * as a packet handler's would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "kernel/strand/strand.h"

SPIN_MODULE(bd_module, .name = "test_bounded", .version = SPIN_VERSION(1, 0));

SPIN_EVENT_DECLARE(BD_Ask, int, (int, x))
SPIN_EVENT_DEFINE(BD_Ask, .owner = &bd_module, .default_result = -1);

/* Handler behaviours, chosen by the argument. */
enum { QUICK = 1, SPIN_FOREVER = 2, SLEEP_LONG = 3 };

static int runs, halves_a, halves_b, finished;

/* SPIN_FOREVER: two counters move together between safe points; if a stop
 * ever cut the handler between them they would differ. */
static int h_ask(void *closure, int x)
{
	(void)closure;
	runs++;
	if (x == QUICK)
		return 42;
	if (x == SLEEP_LONG) {
		strand_sleep_ns(200000000);
		finished++;
		return 7;
	}
	uint64_t start = sal_now_ns();
	while (sal_now_ns() - start < 3000000000ull) {
		halves_a++;
		halves_b++;
		strand_safe_point();
	}
	finished++;
	return 5;
}

struct ask {
	struct exec_work w;
	int x, result;
	bool done;
	uint64_t took_ns;
};

static void do_ask(struct exec_work *w, void *arg)
{
	(void)w;
	struct ask *a = arg;
	assert_non_null(strand_self());
	uint64_t t0 = sal_now_ns();
	a->result = BD_Ask_raise(a->x);
	a->took_ns = sal_now_ns() - t0;
	a->done = true;
}

static int ask(struct exec_loop *l, int x, uint64_t *took)
{
	struct ask a = {.x = x};
	exec_defer(l, &a.w, do_ask, &a);
	for (int i = 0; i < 10000 && !a.done; i++)
		exec_loop_run_once(l, 1000000);
	assert_true(a.done);
	if (took)
		*took = a.took_ns;
	return a.result;
}

/* Lets stopped handler strands reach their safe point and end. */
static void settle(struct exec_loop *l)
{
	for (int i = 0; i < 20; i++)
		exec_loop_run_once(l, 1000000);
}

static void test_in_time(void **state)
{
	(void)state;
	struct exec_loop *l = exec_loop_new("bd", EXEC_BLOCKING);
	exec_loop_attach(l);
	long live = disp_live_bindings();
	struct disp_binding *b;
	struct BD_Ask_spec s = {.handler = h_ask, .options = DISP_BOUNDED,
				.bound_ns = 500000000, .max_overruns = 1};
	assert_int_equal(BD_Ask_install(&bd_module, &s, &b), DISP_OK);
	struct disp_bounded_stats st0, st;
	disp_bounded_stats(&st0);
	runs = 0;
	assert_int_equal(ask(l, QUICK, NULL), 42);
	assert_int_equal(ask(l, QUICK, NULL), 42);
	assert_int_equal(runs, 2);
	disp_bounded_stats(&st);
	assert_int_equal(st.runs - st0.runs, 2);
	assert_int_equal(st.overruns, st0.overruns);
	assert_int_equal(disp_binding_overruns(b), 0);
	/* Off a strand the handler still runs, synchronously, and is
	 * counted as unbounded. */
	assert_int_equal(BD_Ask_raise(QUICK), 42);
	disp_bounded_stats(&st);
	assert_int_equal(st.unbounded - st0.unbounded, 1);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	exec_loop_detach(l);
	exec_loop_free(l);
	disp_quiesce();
	assert_int_equal(disp_live_bindings(), live);
}

/* Bound 20 ms, handler spins for 3 s through safe points: the raiser
 * gets -1 long before, the handler is stopped at a safe point. */
static void test_overrun_stops_at_safe_point(void **state)
{
	(void)state;
	struct exec_loop *l = exec_loop_new("bd", EXEC_BLOCKING);
	exec_loop_attach(l);
	long live = disp_live_bindings();
	struct disp_binding *b;
	struct BD_Ask_spec s = {.handler = h_ask, .options = DISP_BOUNDED,
				.bound_ns = 20000000, .max_overruns = 0};
	assert_int_equal(BD_Ask_install(&bd_module, &s, &b), DISP_OK);
	runs = finished = halves_a = halves_b = 0;
	uint64_t took;
	assert_int_equal(ask(l, SPIN_FOREVER, &took), -1);
	assert_true(took < 1000000000ull);
	settle(l);
	assert_int_equal(runs, 1);
	assert_int_equal(finished, 0);      /* never ran past its loop */
	assert_true(halves_a > 0);
	assert_int_equal(halves_a, halves_b);
	/* A blocked handler overruns too; it ends at the safe point after
	 * its sleep. */
	assert_int_equal(ask(l, SLEEP_LONG, NULL), -1);
	assert_int_equal(disp_binding_overruns(b), 2);
	/* max_overruns 0: still installed and still answering. */
	assert_int_equal(ask(l, QUICK, NULL), 42);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	/* The sleeping handler still holds its slot; when it wakes it runs
	 * on to its end (it has no safe point before), then frees it. */
	for (int i = 0; i < 40 && halves_a >= 0 && finished < 1; i++)
		exec_loop_run_once(l, 10000000);
	assert_int_equal(finished, 1);
	exec_loop_detach(l);
	exec_loop_free(l);
	disp_quiesce();
	assert_int_equal(disp_live_bindings(), live);
}

/* max_overruns 3: the third overrun removes the binding by atomic swap;
 * later raises get the default without running the handler; the owner's
 * uninstall then just frees it. */
static void test_removed_after_overruns(void **state)
{
	(void)state;
	struct exec_loop *l = exec_loop_new("bd", EXEC_BLOCKING);
	exec_loop_attach(l);
	long live = disp_live_bindings();
	struct disp_binding *b;
	struct BD_Ask_spec s = {.handler = h_ask, .options = DISP_BOUNDED,
				.bound_ns = 5000000, .max_overruns = 3};
	assert_int_equal(BD_Ask_install(&bd_module, &s, &b), DISP_OK);
	struct disp_bounded_stats st0, st;
	disp_bounded_stats(&st0);
	runs = finished = halves_a = halves_b = 0;
	for (int i = 0; i < 3; i++) {
		struct disp_binding_info info[2];
		assert_int_equal(disp_list(&BD_Ask_event, info, 2), 1);
		assert_int_equal(ask(l, SPIN_FOREVER, NULL), -1);
		settle(l);
	}
	assert_int_equal(runs, 3);
	assert_int_equal(finished, 0);
	assert_int_equal(halves_a, halves_b);
	disp_bounded_stats(&st);
	assert_int_equal(st.overruns - st0.overruns, 3);
	assert_int_equal(st.removed - st0.removed, 1);
	struct disp_binding_info info[2];
	assert_int_equal(disp_list(&BD_Ask_event, info, 2), 0);
	assert_int_equal(ask(l, QUICK, NULL), -1);
	assert_int_equal(runs, 3);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	exec_loop_detach(l);
	exec_loop_free(l);
	disp_quiesce();
	assert_int_equal(disp_live_bindings(), live);
}

static void test_bad_specs(void **state)
{
	(void)state;
	struct disp_binding *b;
	struct BD_Ask_spec s = {.handler = h_ask, .options = DISP_BOUNDED};
	assert_int_equal(BD_Ask_install(&bd_module, &s, &b), DISP_EINVAL); /* no bound */
	s.bound_ns = 1000;
	s.options = DISP_BOUNDED | DISP_ASYNC;
	assert_int_equal(BD_Ask_install(&bd_module, &s, &b), DISP_EINVAL);
}

int main(void)
{
	sal_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_time),
	    cmocka_unit_test(test_overrun_stops_at_safe_point),
	    cmocka_unit_test(test_removed_after_overruns),
	    cmocka_unit_test(test_bad_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
