/*
 * bench.c - timing, interleaving, statistics and JSON records (see bench.h).
 */
#include "perf/lib/bench.h"

#include <stdio.h>
#include <stdlib.h>

#include "kernel/sal/sal.h"

int bench_setup(int cpu)
{
	sal_init();
	if (cpu < 0)
		cpu = sal_current_cpu();
	if (cpu < 0 || sal_thread_pin(cpu) != 0)
		return -1;
	return cpu;
}

double bench_run_ns(bench_fn fn, void *arg, uint64_t iters)
{
	uint64_t t0 = sal_tsc();
	fn(arg, iters);
	uint64_t t1 = sal_tsc();
	return (double)(t1 - t0) / sal_tsc_ghz() / (double)iters;
}

uint64_t bench_calibrate(bench_fn fn, void *arg, uint64_t run_ns)
{
	uint64_t iters = 1000;
	for (;;) {
		double per = bench_run_ns(fn, arg, iters);
		double total = per * (double)iters;
		if (total >= (double)run_ns / 4 || iters >= (1ull << 40)) {
			double want = (double)run_ns / (per > 0.01 ? per : 0.01);
			return want < 1000 ? 1000 : (uint64_t)want;
		}
		iters *= 8;
	}
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double quantile_sorted(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

void bench_pair(bench_fn a, void *aarg, bench_fn b, void *barg, int runs,
		struct bench_result *out)
{
	if (runs < 5)
		runs = 5;
	uint64_t iters = bench_calibrate(a, aarg, BENCH_RUN_NS);
	double *va = calloc((size_t)runs, sizeof(double));
	double *vb = calloc((size_t)runs, sizeof(double));
	double *vr = calloc((size_t)runs, sizeof(double));
	/* Warm-up: caches, branch predictors, the CPU's clock. */
	bench_run_ns(a, aarg, iters);
	if (b)
		bench_run_ns(b, barg, iters);
	for (int i = 0; i < runs; i++) {
		va[i] = bench_run_ns(a, aarg, iters);
		if (b) {
			vb[i] = bench_run_ns(b, barg, iters);
			vr[i] = va[i] / vb[i];
		}
	}
	out->runs = runs;
	out->value = bench_median(va, runs);
	out->spread = (quantile_sorted(va, runs, 0.75) - quantile_sorted(va, runs, 0.25)) /
		      out->value;
	if (b) {
		out->baseline_value = bench_median(vb, runs);
		out->ratio = bench_median(vr, runs);
	} else {
		out->baseline_value = NAN;
		out->ratio = NAN;
	}
	free(va);
	free(vb);
	free(vr);
}

static void put_num(const char *key, double v, const char *sep)
{
	if (isnan(v))
		printf("\"%s\": null%s", key, sep);
	else
		printf("\"%s\": %.4g%s", key, v, sep);
}

static void put_str(const char *key, const char *s, const char *sep)
{
	if (!s) {
		printf("\"%s\": null%s", key, sep);
		return;
	}
	printf("\"%s\": \"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	printf("\"%s", sep);
}

void bench_record(const char *name, double value, const char *unit, const char *better,
		  const char *baseline, double baseline_value, double ratio, double target,
		  double spread, int runs, const char *mode, const char *placement)
{
	printf("{");
	put_str("name", name, ", ");
	put_num("value", value, ", ");
	put_str("unit", unit, ", ");
	put_str("better", better, ", ");
	put_str("baseline", baseline, ", ");
	put_num("baseline_value", baseline_value, ", ");
	put_num("ratio", ratio, ", ");
	put_num("target", target, ", ");
	put_num("spread", spread, ", ");
	printf("\"runs\": %d, ", runs);
	put_str("mode", mode, ", ");
	put_str("placement", placement, "");
	printf("}\n");
	fflush(stdout);
}
