/*
 * Unit tests of the dispatcher's event model: the fast path, ordering,
 * cancel, results, authorization, install and uninstall during a raise,
 * listing, primary handler, asynchronous handlers and atomic swap.
 * Guards and their compilation are in test_demux.c.
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
#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"

SPIN_MODULE(owner_mod, .name = "test_owner", .version = SPIN_VERSION(1, 0));
SPIN_MODULE(other_mod, .name = "test_other", .version = SPIN_VERSION(1, 0));
SPIN_MODULE(bad_mod, .name = "test_bad", .version = SPIN_VERSION(1, 0));

/* A record of which handlers one raise ran. */
struct trace {
	int ran[64];
	int n;
};

static void note(struct trace *t, int id)
{
	if (t->n < 64)
		t->ran[t->n++] = id;
}

/* --- events used below ------------------------------------------------------- */
SPIN_EVENT_DECLARE(T_Value, int, (struct trace *, t), (int, x))
SPIN_EVENT_DEFINE(T_Value, .owner = &owner_mod, .default_result = -1);

static int sum_results(int acc, int r, unsigned n) { return n == 0 ? r : acc + r; }
static int default_h(struct trace *t, int x)
{
	note(t, 999);
	return x * 1000;
}
SPIN_EVENT_DECLARE(T_Sum, int, (struct trace *, t), (int, x))
SPIN_EVENT_DEFINE(T_Sum, .owner = &owner_mod, .default_result = 7, .result = sum_results,
		  .default_handler = default_h);

SPIN_EVENT_DECLARE_VOID(T_Void, (struct trace *, t))
SPIN_EVENT_DEFINE(T_Void, .owner = &owner_mod);

SPIN_EVENT_DECLARE(T_Six, long, (int, a), (long, b), (char, c), (short, d), (unsigned, e),
		   (long long, f))
SPIN_EVENT_DEFINE(T_Six, .owner = &owner_mod, .default_result = 0);

/* Handlers: the closure is the handler's id; the result is id + x. */
static int h_val(void *c, struct trace *t, int x)
{
	note(t, (int)(intptr_t)c);
	return (int)(intptr_t)c + x;
}

static void h_void(void *c, struct trace *t) { note(t, (int)(intptr_t)c); }

static struct disp_binding *inst(int id, unsigned opts)
{
	struct disp_binding *b = NULL;
	struct T_Value_spec s = {.handler = h_val, .closure = (void *)(intptr_t)id, .options = opts};
	assert_int_equal(T_Value_install(&other_mod, &s, &b), DISP_OK);
	return b;
}

static int teardown_leaks(void **state)
{
	(void)state;
	disp_quiesce();
	assert_int_equal(disp_live_bindings(), 0);
	return 0;
}

/* --- the fast path and the default ------------------------------------------------ */
static void test_no_handler_default(void **state)
{
	(void)state;
	struct trace t = {0};
	assert_int_equal(T_Value_raise(&t, 5), -1);
	assert_int_equal(t.n, 0);
	/* Without bindings the default handler answers. */
	assert_int_equal(T_Sum_raise(&t, 5), 5000);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ran[0], 999);
}

static void test_single_handler_is_direct_call(void **state)
{
	(void)state;
	struct disp_binding *b = inst(10, 0);
	const struct disp_table *tab = atomic_load(&T_Value_event.table);
	/* One binding, no guard: the published entry is the handler itself. */
	assert_ptr_equal((void *)tab->fn, (void *)h_val);
	assert_ptr_equal(tab->closure, (void *)(intptr_t)10);
	struct trace t = {0};
	assert_int_equal(T_Value_raise(&t, 5), 15);
	assert_int_equal(t.n, 1);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	assert_int_equal(T_Value_raise(&t, 5), -1);
	assert_int_equal(t.n, 1);
}

/* --- ordering and cancel ---------------------------------------------------------- */
static void test_first_last_order(void **state)
{
	(void)state;
	struct disp_binding *b[7];
	b[0] = inst(1, 0);
	b[1] = inst(2, DISP_LAST);
	b[2] = inst(3, DISP_FIRST);
	b[3] = inst(4, 0);
	b[4] = inst(5, DISP_FIRST);
	b[5] = inst(6, DISP_LAST);
	b[6] = inst(7, 0);
	struct trace t = {0};
	/* The raiser gets the final handler's result. */
	assert_int_equal(T_Value_raise(&t, 100), 106);
	int want[] = {3, 5, 1, 4, 7, 2, 6};
	assert_int_equal(t.n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(t.ran[i], want[i]);
	for (int i = 0; i < 7; i++)
		assert_int_equal(disp_uninstall(b[i]), DISP_OK);
}

static void test_cancel_stops_raise(void **state)
{
	(void)state;
	struct disp_binding *b[4];
	b[0] = inst(1, 0);
	b[1] = inst(2, DISP_CANCEL);
	b[2] = inst(3, 0);
	b[3] = inst(4, DISP_LAST);
	struct trace t = {0};
	assert_int_equal(T_Value_raise(&t, 0), 2);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.ran[0], 1);
	assert_int_equal(t.ran[1], 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(disp_uninstall(b[i]), DISP_OK);
}

/* A CANCEL binding whose guard fails does not cancel. */
static bool g_even(void *c, struct trace *t, int x)
{
	(void)c;
	(void)t;
	return x % 2 == 0;
}

static void test_cancel_needs_guard_pass(void **state)
{
	(void)state;
	struct disp_binding *b1, *b2 = inst(2, 0);
	struct T_Value_spec s = {.handler = h_val, .closure = (void *)1, .guard = g_even,
				 .options = DISP_CANCEL | DISP_FIRST};
	assert_int_equal(T_Value_install(&other_mod, &s, &b1), DISP_OK);
	struct trace t = {0};
	assert_int_equal(T_Value_raise(&t, 3), 5);  /* guard fails: b2 runs */
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ran[0], 2);
	t.n = 0;
	assert_int_equal(T_Value_raise(&t, 4), 5);  /* guard passes: cancel */
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ran[0], 1);
	/* Guards failing everywhere: the default result. */
	assert_int_equal(disp_uninstall(b2), DISP_OK);
	t.n = 0;
	assert_int_equal(T_Value_raise(&t, 3), -1);
	assert_int_equal(t.n, 0);
	assert_int_equal(disp_uninstall(b1), DISP_OK);
}

/* --- results -------------------------------------------------------------------- */
static void test_result_handler_and_default_handler(void **state)
{
	(void)state;
	struct disp_binding *b[3];
	for (int i = 0; i < 3; i++) {
		struct T_Sum_spec s = {.handler = h_val, .closure = (void *)(intptr_t)(i + 1)};
		assert_int_equal(T_Sum_install(&other_mod, &s, &b[i]), DISP_OK);
	}
	struct trace t = {0};
	/* (1+10) + (2+10) + (3+10) */
	assert_int_equal(T_Sum_raise(&t, 10), 36);
	assert_int_equal(t.n, 3);
	/* With one binding whose guard fails, the default handler answers. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(disp_uninstall(b[i]), DISP_OK);
	struct T_Sum_spec s = {.handler = h_val, .closure = (void *)1, .guard = g_even};
	assert_int_equal(T_Sum_install(&other_mod, &s, &b[0]), DISP_OK);
	t.n = 0;
	assert_int_equal(T_Sum_raise(&t, 3), 3000);
	assert_int_equal(t.ran[0], 999);
	t.n = 0;
	assert_int_equal(T_Sum_raise(&t, 4), 5);
	assert_int_equal(disp_uninstall(b[0]), DISP_OK);
}

static void test_void_and_six_params(void **state)
{
	(void)state;
	struct disp_binding *b1, *b2;
	struct T_Void_spec s = {.handler = h_void, .closure = (void *)1};
	assert_int_equal(T_Void_install(&other_mod, &s, &b1), DISP_OK);
	s.closure = (void *)2;
	assert_int_equal(T_Void_install(&other_mod, &s, &b2), DISP_OK);
	struct trace t = {0};
	T_Void_raise(&t);
	assert_int_equal(t.n, 2);
	assert_int_equal(disp_uninstall(b1), DISP_OK);
	assert_int_equal(disp_uninstall(b2), DISP_OK);
}

static long h_six(void *c, int a, long b, char ch, short d, unsigned e, long long f)
{
	return (long)(intptr_t)c + a + b + ch + d + (long)e + (long)f;
}

static void test_six_params(void **state)
{
	(void)state;
	struct disp_binding *b1, *b2;
	struct T_Six_spec s = {.handler = h_six, .closure = (void *)0};
	assert_int_equal(T_Six_install(&other_mod, &s, &b1), DISP_OK);
	assert_int_equal(T_Six_raise(1, 2, 3, 4, 5, 6), 21);
	s.closure = (void *)100;
	assert_int_equal(T_Six_install(&other_mod, &s, &b2), DISP_OK);
	assert_int_equal(T_Six_raise(1, 2, 3, 4, 5, 6), 121);
	assert_int_equal(disp_uninstall(b1), DISP_OK);
	assert_int_equal(disp_uninstall(b2), DISP_OK);
}

/* --- authorization ----------------------------------------------------------------- */
SPIN_EVENT_DECLARE(T_Auth, int, (struct trace *, t), (int, x))
static int auth_calls;
static spin_ident_t auth_last;
static int authz(spin_ident_t who, struct disp_event *ev, struct disp_auth *req);
SPIN_EVENT_DEFINE(T_Auth, .owner = &owner_mod, .default_result = -1, .authorize = authz);

static bool g_small(void *c, struct trace *t, int x)
{
	(void)t;
	return x < (int)(intptr_t)c;
}

static int authz(spin_ident_t who, struct disp_event *ev, struct disp_auth *req)
{
	assert_ptr_equal(ev, &T_Auth_event);
	assert_ptr_equal(req->installer, who);
	auth_calls++;
	auth_last = who;
	if (who == &bad_mod)
		return -1;
	if (who == &other_mod) {
		/* Others may only see x < 10. */
		return disp_auth_impose_guard(req, (disp_fn_t)g_small, (void *)10, "x<10");
	}
	return 0;
}

static void test_authorizer_deny_and_impose(void **state)
{
	(void)state;
	struct disp_binding *b;
	struct T_Auth_spec s = {.handler = h_val, .closure = (void *)1};
	auth_calls = 0;
	assert_int_equal(T_Auth_install(&bad_mod, &s, &b), DISP_EDENIED);
	assert_int_equal(auth_calls, 1);
	assert_ptr_equal(auth_last, &bad_mod);
	struct trace t = {0};
	assert_int_equal(T_Auth_raise(&t, 1), -1);

	assert_int_equal(T_Auth_install(&other_mod, &s, &b), DISP_OK);
	assert_int_equal(T_Auth_raise(&t, 5), 6);
	assert_int_equal(T_Auth_raise(&t, 50), -1);  /* the imposed guard */
	char buf[128];
	disp_guard_format(b, buf, sizeof(buf));
	assert_string_equal(buf, "guard(x<10)");

	/* The owner is unconstrained. */
	struct disp_binding *ob;
	s.closure = (void *)2;
	assert_int_equal(T_Auth_install(&owner_mod, &s, &ob), DISP_OK);
	t.n = 0;
	assert_int_equal(T_Auth_raise(&t, 50), 52);
	assert_int_equal(t.n, 1);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	assert_int_equal(disp_uninstall(ob), DISP_OK);
}

/* Declarative terms imposed by the interface authorizer. */
struct msg {
	const uint8_t *hdr;
	size_t len;
	uint32_t tag;
};
static const void *msg_subject(const void *arg0, size_t *len)
{
	const struct msg *m = arg0;
	*len = m->len;
	return m->hdr;
}
SPIN_EVENT_DECLARE(T_Iface, int, (struct msg *, m))

/* The interface authorizer imposes a declarative term on others. */
static int iface_calls;
static int iface_impose(spin_ident_t who, struct disp_event *ev, void *spec)
{
	struct disp_auth *a = spec;
	assert_ptr_equal(ev, &T_Iface_event);
	assert_ptr_equal(a->installer, who);
	iface_calls++;
	if (who == &bad_mod)
		return 1;
	static const struct disp_term only_tag7[] = {DISP_ARG_EQ(struct msg, tag, 7)};
	return disp_auth_impose_terms(a, only_tag7, 1);
}
static struct disp_event *const iface_events[] = {&T_Iface_event, NULL};
static const struct spin_interface test_iface = {
    .name = "test_iface",
    .version = SPIN_VERSION(1, 0),
    .events = iface_events,
    .authorize_install = iface_impose,
};
static const struct spin_interface *const iface_exports[] = {&test_iface, NULL};
SPIN_MODULE(iface_owner, .name = "test_iface_owner", .version = SPIN_VERSION(1, 0),
	    .exports = iface_exports);
/* No .iface: the dispatcher finds the interface among the owner's exports. */
SPIN_EVENT_DEFINE(T_Iface, .owner = &iface_owner, .default_result = 0,
		  .subject = msg_subject);

static int h_msg(void *c, struct msg *m)
{
	(void)m;
	return (int)(intptr_t)c;
}

static void test_interface_authorizer(void **state)
{
	(void)state;
	struct disp_binding *b;
	struct T_Iface_spec s = {.handler = h_msg, .closure = (void *)3};
	iface_calls = 0;
	assert_int_equal(T_Iface_install(&bad_mod, &s, &b), DISP_EDENIED);
	assert_int_equal(iface_calls, 1);
	assert_int_equal(T_Iface_install(&other_mod, &s, &b), DISP_OK);
	uint8_t h[4] = {0};
	struct msg m = {.hdr = h, .len = 4, .tag = 6};
	assert_int_equal(T_Iface_raise(&m), 0);
	m.tag = 7;
	assert_int_equal(T_Iface_raise(&m), 3);
	char buf[64];
	disp_guard_format(b, buf, sizeof(buf));
	assert_string_equal(buf, "arg[16:4]==7");
	assert_int_equal(disp_uninstall(b), DISP_OK);
}

/* --- listing and the primary handler ---------------------------------------------- */
static void test_list_and_primary(void **state)
{
	(void)state;
	struct disp_binding *a = inst(1, 0), *p, *c;
	struct T_Value_spec s = {.handler = h_val, .closure = (void *)2, .desc = "primary"};
	assert_int_equal(T_Value_install(&owner_mod, &s, &p), DISP_OK);
	static const struct disp_term terms[] = {DISP_HDR_EQ(2, 2, 53)};
	struct T_Value_spec s2 = {.handler = h_val, .closure = (void *)3, .terms = terms,
				  .nterms = 1, .guard = g_even, .options = DISP_FIRST};
	assert_int_equal(T_Value_install(&other_mod, &s2, &c), DISP_OK);

	void *cl;
	T_Value_handler_t ph = T_Value_primary(&cl);
	assert_ptr_equal((void *)ph, (void *)h_val);
	assert_ptr_equal(cl, (void *)2);
	assert_ptr_equal(disp_primary(&T_Value_event), p);

	struct disp_binding_info info[8];
	assert_int_equal(disp_list(&T_Value_event, info, 8), 3);
	assert_ptr_equal(info[0].binding, c);  /* FIRST */
	assert_int_equal(info[0].options, DISP_FIRST);
	assert_ptr_equal(info[0].installer, &other_mod);
	assert_int_equal(info[0].nterms, 1);
	assert_ptr_equal(info[1].binding, a);
	assert_ptr_equal(info[2].binding, p);
	assert_true(info[2].primary);
	assert_false(info[0].primary);
	assert_string_equal(info[2].desc, "primary");
	char buf[128];
	disp_guard_format(c, buf, sizeof(buf));
	assert_string_equal(buf, "hdr[2:2]==53 && guard(proc)");
	disp_guard_format(a, buf, sizeof(buf));
	assert_string_equal(buf, "true");

	assert_ptr_equal(disp_event_find("T_Value"), &T_Value_event);
	assert_null(disp_event_find("NoSuchEvent"));
	assert_true(disp_event_count() >= 5);
	assert_string_equal(disp_event_name(&T_Value_event), "T_Value");
	assert_ptr_equal(disp_event_owner(&T_Value_event), &owner_mod);

	assert_int_equal(disp_uninstall(p), DISP_OK);
	assert_null(T_Value_primary(&cl));
	assert_int_equal(disp_uninstall(a), DISP_OK);
	assert_int_equal(disp_uninstall(c), DISP_OK);
	/* Uninstalling twice is refused (the handle is gone; use a fresh one). */
}

static void test_bad_specs(void **state)
{
	(void)state;
	struct disp_binding *b;
	struct T_Value_spec s = {.handler = NULL};
	assert_int_equal(T_Value_install(&other_mod, &s, &b), DISP_EINVAL);
	s.handler = h_val;
	s.options = DISP_FIRST | DISP_LAST;
	assert_int_equal(T_Value_install(&other_mod, &s, &b), DISP_EINVAL);
	s.options = 0;
	struct disp_term bad[] = {DISP_HDR_EQ(0, 3, 1)};
	s.terms = bad;
	s.nterms = 1;
	assert_int_equal(T_Value_install(&other_mod, &s, &b), DISP_EINVAL);
	struct disp_term badr[] = {DISP_HDR_RANGE(0, 2, 9, 1)};
	s.terms = badr;
	assert_int_equal(T_Value_install(&other_mod, &s, &b), DISP_EINVAL);
	assert_int_equal(disp_live_bindings(), 0);
	assert_string_equal(disp_strerror(DISP_EDENIED),
			    "install denied by the event's authorizer");
}

/* --- install and uninstall during a raise ---------------------------------------- */
static struct disp_binding *victim, *added;
static int h_uninstaller(void *c, struct trace *t, int x)
{
	(void)c;
	note(t, 100);
	if (x == 1 && victim) {
		assert_true(rcu_thread_is_online());
		assert_int_equal(disp_uninstall(victim), DISP_OK);
		victim = NULL;
	}
	if (x == 2 && !added) {
		struct T_Value_spec s = {.handler = h_val, .closure = (void *)300};
		assert_int_equal(T_Value_install(&other_mod, &s, &added), DISP_OK);
	}
	return 0;
}

static void test_uninstall_and_install_during_raise(void **state)
{
	(void)state;
	rcu_register_thread();  /* the test thread now raises as a reader */
	struct disp_binding *u;
	struct T_Value_spec s = {.handler = h_uninstaller, .closure = NULL};
	assert_int_equal(T_Value_install(&other_mod, &s, &u), DISP_OK);
	struct disp_binding *v = inst(200, 0);
	victim = v;
	long live = disp_live_bindings();
	struct trace t = {0};
	/* The handler uninstalls v: the rest of this raise skips it. */
	T_Value_raise(&t, 1);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ran[0], 100);
	/* v is freed only after the grace period. */
	assert_int_equal(disp_live_bindings(), live);
	t.n = 0;
	T_Value_raise(&t, 0);
	assert_int_equal(t.n, 1);

	/* A binding installed during a raise runs from the next raise on. */
	t.n = 0;
	added = NULL;
	T_Value_raise(&t, 2);
	assert_int_equal(t.n, 1);
	t.n = 0;
	T_Value_raise(&t, 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.ran[1], 300);

	rcu_quiescent();
	rcu_unregister_thread();
	disp_quiesce();
	/* v is gone, added is new: u and added remain. */
	assert_int_equal(disp_live_bindings(), live);
	assert_int_equal(disp_uninstall(u), DISP_OK);
	assert_int_equal(disp_uninstall(added), DISP_OK);
	added = NULL;
}

/* A handler that uninstalls itself (the one-handler fast path). */
static struct disp_binding *self_b;
static int h_self(void *c, struct trace *t, int x)
{
	(void)c;
	(void)x;
	note(t, 5);
	assert_int_equal(disp_uninstall(self_b), DISP_OK);
	return 1;
}

static void test_uninstall_self(void **state)
{
	(void)state;
	rcu_register_thread();
	struct T_Value_spec s = {.handler = h_self};
	assert_int_equal(T_Value_install(&other_mod, &s, &self_b), DISP_OK);
	struct trace t = {0};
	assert_int_equal(T_Value_raise(&t, 0), 1);
	assert_int_equal(T_Value_raise(&t, 0), -1);
	assert_int_equal(t.n, 1);
	rcu_unregister_thread();
}

/* --- asynchronous handlers ---------------------------------------------------------- */
SPIN_EVENT_DECLARE(T_Async, int, (int *, out), (int, x))
SPIN_EVENT_DEFINE(T_Async, .owner = &owner_mod, .default_result = -5, .async_slots = 4);

static int h_async(void *c, int *out, int x)
{
	(void)c;
	*out += x;
	return 99;
}

static void test_async_handler(void **state)
{
	(void)state;
	struct disp_binding *b;
	struct T_Async_spec s = {.handler = h_async, .options = DISP_ASYNC};
	assert_int_equal(T_Async_install(&other_mod, &s, &b), DISP_OK);
	int out = 0;
	/* No run loop on this thread: it runs synchronously; still the
	 * raiser sees the default. */
	assert_int_equal(T_Async_raise(&out, 3), -5);
	assert_int_equal(out, 3);

	struct exec_loop *l = exec_loop_new("async", EXEC_BLOCKING);
	exec_loop_attach(l);
	out = 0;
	assert_int_equal(T_Async_raise(&out, 4), -5);
	assert_int_equal(T_Async_raise(&out, 5), -5);
	assert_int_equal(out, 0);  /* deferred */
	exec_loop_run_once(l, 0);
	assert_int_equal(out, 9);

	/* More raises than slots: the overflow runs synchronously. */
	uint64_t ov = disp_async_overflows();
	out = 0;
	for (int i = 0; i < 6; i++)
		T_Async_raise(&out, 1);
	assert_true(disp_async_overflows() > ov);
	exec_loop_run_once(l, 0);
	assert_int_equal(out, 6);

	/* Uninstall with a run queued: the queued run is skipped and the
	 * binding is freed only after it. */
	out = 0;
	T_Async_raise(&out, 1);
	long live = disp_live_bindings();
	assert_int_equal(disp_uninstall(b), DISP_OK);  /* online reader: deferred */
	for (int i = 0; i < 3; i++)
		exec_loop_run_once(l, 0);
	assert_int_equal(out, 0);
	exec_loop_detach(l);
	disp_quiesce();
	assert_int_equal(disp_live_bindings(), live - 1);
	exec_loop_free(l);
}

/* --- atomic swap under a concurrent reader ----------------------------------------------- */
SPIN_EVENT_DECLARE_VOID(T_Swap, (struct msg *, m), (struct trace *, t))
SPIN_EVENT_DEFINE(T_Swap, .owner = &owner_mod, .subject = msg_subject);

static void h_swap(void *c, struct msg *m, struct trace *t)
{
	(void)m;
	note(t, (int)(intptr_t)c);
}

static _Atomic int swap_stop;
static _Atomic long swap_raises, swap_bad;

static bool trace_is(const struct trace *t, const int *want, int n)
{
	if (t->n != n)
		return false;
	for (int i = 0; i < n; i++)
		if (t->ran[i] != want[i])
			return false;
	return true;
}

static const int set_a[] = {1, 2, 3};
static const int set_b[] = {11, 12, 13, 14};

static void *swap_reader(void *arg)
{
	(void)arg;
	rcu_register_thread();
	uint8_t hdr[4] = {0, 0, 0, 53};
	struct msg m = {.hdr = hdr, .len = 4};
	while (!atomic_load(&swap_stop)) {
		struct trace t = {0};
		T_Swap_raise(&m, &t);
		if (!trace_is(&t, set_a, 3) && !trace_is(&t, set_b, 4))
			atomic_fetch_add(&swap_bad, 1);
		atomic_fetch_add(&swap_raises, 1);
		rcu_quiescent();
	}
	rcu_unregister_thread();
	return NULL;
}

static void make_set(const int *ids, int n, struct disp_binding **out)
{
	/* Half of each set carries a declarative guard that matches the
	 * reader's message, so guards are swapped along with handlers. */
	static const struct disp_term port53[] = {DISP_HDR_EQ(2, 2, 53)};
	for (int i = 0; i < n; i++) {
		struct T_Swap_spec s = {.handler = h_swap, .closure = (void *)(intptr_t)ids[i],
					.terms = (i % 2) ? port53 : NULL, .nterms = (i % 2) ? 1 : 0};
		assert_int_equal(T_Swap_create(&other_mod, &s, &out[i]), DISP_OK);
	}
}

static void test_atomic_swap_concurrent(void **state)
{
	(void)state;
	struct disp_binding *cur[4], *next[4];
	int ncur = 3;
	make_set(set_a, 3, cur);
	struct disp_txn *tx = disp_txn_begin();
	for (int i = 0; i < 3; i++)
		assert_int_equal(disp_txn_add(tx, cur[i]), DISP_OK);
	assert_int_equal(disp_txn_commit(tx), DISP_OK);

	atomic_store(&swap_stop, 0);
	atomic_store(&swap_bad, 0);
	atomic_store(&swap_raises, 0);
	struct sal_thread *th = sal_thread_start("swap-reader", swap_reader, NULL);
	assert_non_null(th);
	uint64_t start = sal_now_ns();
	int swaps = 0;
	while (swaps < 400 && sal_now_ns() - start < 3000000000ull) {
		int nn = ncur == 3 ? 4 : 3;
		make_set(nn == 4 ? set_b : set_a, nn, next);
		tx = disp_txn_begin();
		for (int i = 0; i < ncur; i++)
			assert_int_equal(disp_txn_remove(tx, cur[i]), DISP_OK);
		for (int i = 0; i < nn; i++)
			assert_int_equal(disp_txn_add(tx, next[i]), DISP_OK);
		assert_int_equal(disp_txn_commit(tx), DISP_OK);
		memcpy(cur, next, sizeof(next));
		ncur = nn;
		swaps++;
	}
	/* Let the reader see the last configuration a while. */
	long r0 = atomic_load(&swap_raises);
	while (atomic_load(&swap_raises) < r0 + 1000 && sal_now_ns() - start < 5000000000ull)
		sal_yield();
	atomic_store(&swap_stop, 1);
	sal_thread_join(th);
	assert_true(swaps >= 10);
	assert_true(atomic_load(&swap_raises) > 100);
	assert_int_equal(atomic_load(&swap_bad), 0);

	tx = disp_txn_begin();
	for (int i = 0; i < ncur; i++)
		disp_txn_remove(tx, cur[i]);
	assert_int_equal(disp_txn_commit(tx), DISP_OK);
}

/* A transaction with one denied add changes nothing. */
static void test_txn_denied_changes_nothing(void **state)
{
	(void)state;
	struct disp_binding *keep = inst(1, 0), *a, *bad;
	struct T_Auth_spec s = {.handler = h_val, .closure = (void *)1};
	assert_int_equal(T_Auth_create(&owner_mod, &s, &a), DISP_OK);
	assert_int_equal(T_Auth_create(&bad_mod, &s, &bad), DISP_OK);
	struct disp_txn *tx = disp_txn_begin();
	disp_txn_remove(tx, keep);
	disp_txn_add(tx, a);
	disp_txn_add(tx, bad);
	assert_int_equal(disp_txn_commit(tx), DISP_EDENIED);
	struct trace t = {0};
	assert_int_equal(T_Value_raise(&t, 0), 1);   /* keep still there */
	assert_int_equal(T_Auth_raise(&t, 0), -1);   /* a not installed */
	/* Installing a binding twice, or removing one not installed, fails. */
	assert_int_equal(disp_binding_install(a), DISP_OK);
	assert_int_equal(disp_binding_install(a), DISP_EBUSY);
	tx = disp_txn_begin();
	disp_txn_remove(tx, bad);
	assert_int_equal(disp_txn_commit(tx), DISP_ENOENT);
	disp_binding_destroy(bad);
	assert_int_equal(disp_uninstall(a), DISP_OK);
	assert_int_equal(disp_uninstall(keep), DISP_OK);
}

/* Uninstall from a non-reader thread returns only when no raise can still
 * be running the handler. */
SPIN_EVENT_DECLARE_VOID(T_Slow, (int, x))
SPIN_EVENT_DEFINE(T_Slow, .owner = &owner_mod);
static _Atomic int slow_in, slow_done, slow_go;
static void h_slow(void *c, int x)
{
	(void)c;
	(void)x;
	atomic_store(&slow_in, 1);
	while (!atomic_load(&slow_go))
		sal_cpu_relax();
	sal_sleep_ns(20000000);
	atomic_store(&slow_done, 1);
}

static void *slow_reader(void *arg)
{
	(void)arg;
	rcu_register_thread();
	T_Slow_raise(1);
	rcu_quiescent();
	rcu_unregister_thread();
	return NULL;
}

static void test_uninstall_waits_for_raise(void **state)
{
	(void)state;
	struct disp_binding *b;
	struct T_Slow_spec s = {.handler = h_slow};
	assert_int_equal(T_Slow_install(&other_mod, &s, &b), DISP_OK);
	struct sal_thread *th = sal_thread_start("slow", slow_reader, NULL);
	while (!atomic_load(&slow_in))
		sal_cpu_relax();
	atomic_store(&slow_go, 1);
	assert_int_equal(disp_uninstall(b), DISP_OK);
	assert_int_equal(atomic_load(&slow_done), 1);
	sal_thread_join(th);
}

int main(void)
{
	sal_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_no_handler_default, teardown_leaks),
	    cmocka_unit_test_teardown(test_single_handler_is_direct_call, teardown_leaks),
	    cmocka_unit_test_teardown(test_first_last_order, teardown_leaks),
	    cmocka_unit_test_teardown(test_cancel_stops_raise, teardown_leaks),
	    cmocka_unit_test_teardown(test_cancel_needs_guard_pass, teardown_leaks),
	    cmocka_unit_test_teardown(test_result_handler_and_default_handler, teardown_leaks),
	    cmocka_unit_test_teardown(test_void_and_six_params, teardown_leaks),
	    cmocka_unit_test_teardown(test_six_params, teardown_leaks),
	    cmocka_unit_test_teardown(test_authorizer_deny_and_impose, teardown_leaks),
	    cmocka_unit_test_teardown(test_interface_authorizer, teardown_leaks),
	    cmocka_unit_test_teardown(test_list_and_primary, teardown_leaks),
	    cmocka_unit_test_teardown(test_bad_specs, teardown_leaks),
	    cmocka_unit_test_teardown(test_uninstall_and_install_during_raise, teardown_leaks),
	    cmocka_unit_test_teardown(test_uninstall_self, teardown_leaks),
	    cmocka_unit_test_teardown(test_async_handler, teardown_leaks),
	    cmocka_unit_test_teardown(test_atomic_swap_concurrent, teardown_leaks),
	    cmocka_unit_test_teardown(test_txn_denied_changes_nothing, teardown_leaks),
	    cmocka_unit_test_teardown(test_uninstall_waits_for_raise, teardown_leaks),
	};
	return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
