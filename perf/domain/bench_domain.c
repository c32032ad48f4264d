/*
 * bench_domain.c - call.inkernel (the paper's Table 3, first row): a call
 * from one extension domain to a procedure another exports, through the
 * binding the linker resolved (the caller's GOT slot: one indirect call),
 * against a noinline direct call into another translation unit.
 * Both sides run the same loop shape: acc = f(acc, 1), n times.
 */
#include <math.h>
#include <stdio.h>

#include "kernel/domain/domain.h"
#include "kernel/domain/ext.h"
#include "kernel/sal/sal.h"
#include "perf/domain/bench_other.h"
#include "domain_bench_paths.h"
#include "perf/lib/bench.h"

static long (*caller_loop)(long);
static volatile long sink;

static void run_ext(void *arg, uint64_t iters)
{
	(void)arg;
	sink = caller_loop((long)iters);
}

static void run_base(void *arg, uint64_t iters)
{
	long acc = 0;
	(void)arg;
	for (uint64_t i = 0; i < iters; i++)
		acc = other_add((int)acc, 1);
	sink = acc;
}

int main(void)
{
	struct ext *callee, *caller;
	struct domain *pub, *against[2];
	struct bench_result r;
	char err[512];
	int cpu = bench_setup(-1);

	if (ext_trust_file(DOMAIN_BENCH_KEY, err, sizeof err)) {
		fprintf(stderr, "bench_domain: %s\n", err);
		return 1;
	}
	if (ext_load(DOMAIN_BENCH_DIR "/callee.o", NULL, NULL, &callee, err, sizeof err)) {
		fprintf(stderr, "bench_domain: %s\n", err);
		return 1;
	}
	pub = domain_spin_public();
	against[0] = pub;
	against[1] = ext_domain(callee);
	struct ext_opts o = {.against = against, .nagainst = 2};
	if (ext_load(DOMAIN_BENCH_DIR "/caller.o", NULL, &o, &caller, err, sizeof err)) {
		fprintf(stderr, "bench_domain: %s\n", err);
		return 1;
	}
	caller_loop = (long (*)(long))domain_lookup(ext_domain(caller), "caller_loop");
	bench_pair(run_ext, NULL, run_base, NULL, BENCH_RUNS, &r);
	bench_record("call.inkernel", r.value, "ns", "lower", "noinline call, other unit",
		     r.baseline_value, r.ratio, 1.5, r.spread, r.runs, "in-kernel",
		     cpu >= 0 ? "pinned" : "unpinned");
	ext_unload_all();
	domain_release(pub);
	domain_fini();
	return 0;
}
