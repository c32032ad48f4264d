/*
 * bench.h - the small library every benchmark program uses: calibrated
 * timing, interleaved A/B runs, robust statistics and the JSON record.
 *
 * A benchmark is a function that performs `iters` operations.  bench_pair
 * times a candidate A and its baseline B interleaved (warm-up, then
 * A B A B ... for `runs` pairs), each run long enough (BENCH_RUN_NS) that
 * the clock's cost vanishes, and reports
 *   value          median ns per operation of A
 *   baseline_value median ns per operation of B
 *   ratio          median of the per-pair ratios A/B (the pairs share
 *                  whatever the machine was doing at the time)
 *   spread         relative interquartile range of A's runs ((p75-p25)/p50)
 * Time comes from sal_tsc (rdtsc) converted with the calibration done by
 * sal_init.
 *
 * One record per line on stdout, with exactly the keys
 *   name value unit better baseline baseline_value ratio target spread runs
 *   mode placement
 * (perf/run.sh gathers them into build/bench.json).  A NaN number prints as
 * null; a NULL string prints as null.
 */
#ifndef SPIN_BENCH_H
#define SPIN_BENCH_H

#include <math.h>
#include <stdint.h>

/* Performs iters operations; arg is the benchmark's state. */
typedef void (*bench_fn)(void *arg, uint64_t iters);

#define BENCH_RUN_NS 10000000ull  /* target length of one timed run: 10 ms */
#define BENCH_RUNS 11             /* pairs after warm-up (>= 5) */

struct bench_result {
	double value;           /* ns per op of A (median) */
	double baseline_value;  /* ns per op of B (median), NaN without B */
	double ratio;           /* median of per-pair A/B, NaN without B */
	double spread;          /* (p75 - p25) / p50 of A's runs */
	int runs;
};

/* Initializes the platform (sal_init) and pins the calling thread to cpu
 * (-1: the CPU it is on now).  Returns the CPU used, or -1 if unpinned. */
int bench_setup(int cpu);

/* Nanoseconds per operation of one run of fn with iters operations. */
double bench_run_ns(bench_fn fn, void *arg, uint64_t iters);

/* Iterations for one run of about run_ns (at least 1000). */
uint64_t bench_calibrate(bench_fn fn, void *arg, uint64_t run_ns);

/* A against baseline B, interleaved; B may be NULL (reference rows).
 * Both get the same iteration count, calibrated on A. */
void bench_pair(bench_fn a, void *aarg, bench_fn b, void *barg, int runs,
		struct bench_result *out);

/* Prints one JSON record line.  Pass NAN for a null number. */
void bench_record(const char *name, double value, const char *unit, const char *better,
		  const char *baseline, double baseline_value, double ratio, double target,
		  double spread, int runs, const char *mode, const char *placement);

/* Median of v[0..n) (sorts v). */
double bench_median(double *v, int n);

#endif
