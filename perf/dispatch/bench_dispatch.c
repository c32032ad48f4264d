/*
 * bench_dispatch.c - what a raise costs: the one-handler fast path against
 * a plain indirect call, and compiled declarative guards (50, 5,000, mixed)
 * against one guard, against the same guards evaluated procedurally, and
 * with every guard true.  Prints one JSON record per line (perf/lib/bench.h).
 *
 * Everything runs on one pinned CPU: the raise loop, the dispatcher and the
 * handlers.  Candidate and baseline are timed interleaved; configurations
 * change only between records, never inside a timed run.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/module/module.h"
#include "kernel/sal/sal.h"
#include "perf/dispatch/bench_dispatch.h"
#include "perf/lib/bench.h"

SPIN_MODULE(bench_mod, .name = "bench_dispatch", .version = SPIN_VERSION(1, 0));

/* Two identical events, so candidate and baseline configurations can be
 * installed side by side and interleaved without reconfiguring. */
SPIN_EVENT_DECLARE(Bench_A, int, (struct bmsg *, m))
SPIN_EVENT_DEFINE(Bench_A, .owner = &bench_mod, .subject = bench_subject);
SPIN_EVENT_DECLARE(Bench_B, int, (struct bmsg *, m))
SPIN_EVENT_DEFINE(Bench_B, .owner = &bench_mod, .subject = bench_subject);

struct loop_arg {
	struct bmsg *m;
	void *closure;
};

static void run_raise_a(void *arg, uint64_t iters)
{
	struct loop_arg *a = arg;
	int acc = 0;
	for (uint64_t i = 0; i < iters; i++)
		acc += Bench_A_raise(a->m);
	__asm__ __volatile__("" ::"r"(acc));
}

static void run_raise_b(void *arg, uint64_t iters)
{
	struct loop_arg *a = arg;
	int acc = 0;
	for (uint64_t i = 0; i < iters; i++)
		acc += Bench_B_raise(a->m);
	__asm__ __volatile__("" ::"r"(acc));
}

static void run_fp(void *arg, uint64_t iters)
{
	struct loop_arg *a = arg;
	int acc = 0;
	for (uint64_t i = 0; i < iters; i++)
		acc += bench_fp(a->closure, a->m);
	__asm__ __volatile__("" ::"r"(acc));
}

static char placement[64];
static const int runs = BENCH_RUNS;

/* --- configurations ---------------------------------------------------------------- */
#define MAXB 5000
static struct disp_binding *ba[MAXB], *bb[MAXB];
static int nba, nbb;

static void install(struct disp_event *ev, struct disp_binding **out, int *nout,
		    const struct disp_term *terms, const unsigned *nterms, int n,
		    bool procedural, const unsigned *ports)
{
	struct disp_txn *tx = disp_txn_begin();
	for (int i = 0; i < n; i++) {
		struct disp_spec s = {.handler = (disp_fn_t)bench_handler};
		if (procedural) {
			s.guard = (disp_fn_t)bench_port_guard;
			s.guard_closure = (void *)(uintptr_t)ports[i];
		} else if (terms) {
			s.terms = &terms[4 * i];
			s.nterms = nterms ? nterms[i] : 1;
		}
		if (disp_binding_create(ev, &bench_mod, &s, &out[i]) != DISP_OK ||
		    disp_txn_add(tx, out[i]) != DISP_OK)
			sal_panic("bench: create failed");
	}
	int err = disp_txn_commit(tx);
	if (err != DISP_OK)
		sal_panic("bench: commit failed: %s", disp_strerror(err));
	*nout = n;
}

static void clear(struct disp_binding **b, int *n)
{
	struct disp_txn *tx = disp_txn_begin();
	for (int i = 0; i < *n; i++)
		disp_txn_remove(tx, b[i]);
	disp_txn_commit(tx);
	*n = 0;
}

static struct disp_term terms_a[4 * MAXB], terms_b[4 * MAXB];

static void port_terms(struct disp_term *t, int n, unsigned first)
{
	for (int i = 0; i < n; i++)
		t[4 * i] = (struct disp_term)DISP_HDR_EQ(2, 2, first + (unsigned)i);
}

static void set_port(struct bmsg *m, unsigned dport)
{
	m->hdr[2] = (uint8_t)(dport >> 8);
	m->hdr[3] = (uint8_t)dport;
}

static void emit(const char *name, const struct bench_result *r, const char *unit,
		 const char *baseline, double target)
{
	bench_record(name, r->value, unit, "lower", baseline, r->baseline_value, r->ratio, target,
		     r->spread, r->runs, NULL, placement);
}

int main(void)
{
	int cpu = bench_setup(-1);
	snprintf(placement, sizeof(placement), "cpu%d: raise loop, dispatcher and handlers", cpu);
	uint8_t udp[8] = {0x30, 0x39, 0, 0, 0, 8, 0, 0};  /* sport 12345 */
	struct bmsg m = {.hdr = udp, .len = sizeof(udp)};
	struct loop_arg la = {.m = &m, .closure = NULL};
	struct bench_result r;

	/* dispatch.raise.single: one handler, no guard -> one indirect call. */
	install(&Bench_A_event, ba, &nba, NULL, NULL, 1, false, NULL);
	bench_pair(run_raise_a, &la, run_fp, &la, runs, &r);
	emit("dispatch.raise.single", &r, "ns/raise",
	     "noinline call through a function pointer in another unit", 1.5);
	clear(ba, &nba);

	/* dispatch.guards50.none / .one: 50 guards on the UDP destination
	 * port vs 1 guard with the same truth value. */
	port_terms(terms_a, 50, 1000);
	install(&Bench_A_event, ba, &nba, terms_a, NULL, 50, false, NULL);
	port_terms(terms_b, 1, 1025);
	install(&Bench_B_event, bb, &nbb, terms_b, NULL, 1, false, NULL);
	set_port(&m, 2000);
	bench_pair(run_raise_a, &la, run_raise_b, &la, runs, &r);
	emit("dispatch.guards50.none", &r, "ns/raise", "1 guard, no match", 1.2);
	set_port(&m, 1025);
	bench_pair(run_raise_a, &la, run_raise_b, &la, runs, &r);
	emit("dispatch.guards50.one", &r, "ns/raise", "1 guard, matching", 1.2);
	clear(ba, &nba);

	/* dispatch.guards50.linear: the same 50 as procedural guards (on A),
	 * against the compiled 50 (now on B); one matches. */
	clear(bb, &nbb);
	install(&Bench_B_event, bb, &nbb, terms_a, NULL, 50, false, NULL);
	unsigned ports[50];
	for (int i = 0; i < 50; i++)
		ports[i] = 1000 + (unsigned)i;
	install(&Bench_A_event, ba, &nba, NULL, NULL, 50, true, ports);
	bench_pair(run_raise_a, &la, run_raise_b, &la, runs, &r);
	emit("dispatch.guards50.linear", &r, "ns/raise", "the 50 guards compiled", NAN);
	clear(ba, &nba);
	clear(bb, &nbb);

	/* dispatch.guards5000.one: 5,000 guards, one matching, vs 1 guard. */
	port_terms(terms_a, 5000, 1000);
	install(&Bench_A_event, ba, &nba, terms_a, NULL, 5000, false, NULL);
	port_terms(terms_b, 1, 3500);
	install(&Bench_B_event, bb, &nbb, terms_b, NULL, 1, false, NULL);
	set_port(&m, 3500);
	bench_pair(run_raise_a, &la, run_raise_b, &la, runs, &r);
	emit("dispatch.guards5000.one", &r, "ns/raise", "1 guard, matching", 1.5);
	clear(ba, &nba);

	/* dispatch.guards50.mixed: 20 port equalities, 10 port ranges, 10
	 * source-port prefixes, 10 two-field guards; one matches. */
	unsigned nterms[50];
	for (int i = 0; i < 50; i++) {
		struct disp_term *t = &terms_a[4 * i];
		nterms[i] = 1;
		if (i < 20) {
			t[0] = (struct disp_term)DISP_HDR_EQ(2, 2, 1000 + (unsigned)i);
		} else if (i < 30) {
			unsigned lo = 2000 + 100 * (unsigned)(i - 20);
			t[0] = (struct disp_term)DISP_HDR_RANGE(2, 2, lo, lo + 49);
		} else if (i < 40) {
			t[0] = (struct disp_term)DISP_HDR_PREFIX(0, 2, (unsigned)(i - 30) << 12, 4);
		} else {
			unsigned sp = 40000 + 16 * (unsigned)(i - 40);
			t[0] = (struct disp_term)DISP_HDR_RANGE(0, 2, sp, sp + 15);
			t[1] = (struct disp_term)DISP_HDR_EQ(2, 2, 5000 + (unsigned)i);
			nterms[i] = 2;
		}
	}
	install(&Bench_A_event, ba, &nba, terms_a, nterms, 50, false, NULL);
	/* Destination port 2310 is in one range only; source port 0xf001 is
	 * outside every prefix and every two-field guard's range. */
	set_port(&m, 2310);
	udp[0] = 0xf0;
	udp[1] = 0x01;
	clear(bb, &nbb);
	terms_b[0] = (struct disp_term)DISP_HDR_RANGE(2, 2, 2300, 2349);
	install(&Bench_B_event, bb, &nbb, terms_b, NULL, 1, false, NULL);
	m.count = 0;
	Bench_A_raise(&m);
	if (m.count != 1)
		sal_panic("bench: mixed guards matched %llu times", (unsigned long long)m.count);
	bench_pair(run_raise_a, &la, run_raise_b, &la, runs, &r);
	emit("dispatch.guards50.mixed", &r, "ns/raise", "1 guard (a range), matching", NAN);
	clear(ba, &nba);
	clear(bb, &nbb);
	udp[0] = 0x30;
	udp[1] = 0x39;

	/* dispatch.guards50.all: 50 guards all true, so 50 handlers run;
	 * value in ns per handler. */
	for (int i = 0; i < 50; i++)
		terms_a[4 * i] = (struct disp_term)DISP_HDR_EQ(2, 2, 1025);
	install(&Bench_A_event, ba, &nba, terms_a, NULL, 50, false, NULL);
	set_port(&m, 1025);
	bench_pair(run_raise_a, &la, NULL, NULL, runs, &r);
	r.value /= 50;
	bench_record("dispatch.guards50.all", r.value, "ns/handler", "lower", NULL, NAN, NAN, NAN,
		     r.spread, r.runs, NULL, placement);
	clear(ba, &nba);

	disp_quiesce();
	return 0;
}
