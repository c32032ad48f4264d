/*
 * bench_strand.c - the paper's Table 4 for spin's kernel threads on strands
 * against POSIX threads, in the same run.
 *
 *   strand.forkjoin  create a thread running an empty function and join it
 *                    (kthread_spawn + kthread_join vs pthread_create +
 *                    pthread_join); ns per fork+join.
 *   strand.pingpong  two threads hand a token back and forth through a
 *                    mutex and a condition variable; ns per round trip.
 *                    Everything on one vCPU (the process is pinned), as in
 *                    the paper's single-processor measurement.
 *
 * Each run is the paper's 10,000 iterations; runs of spin and pthreads are
 * interleaved (A B A B ...) and the ratio is the median of per-pair ratios.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel/sal/sal.h"
#include "kernel/strand/kthread.h"
#include "kernel/strand/strand.h"
#include "perf/lib/bench.h"

#define ITERS 10000

static struct strand_cpu *cpu;

/* --- fork/join ------------------------------------------------------------ */
static void *empty(void *arg)
{
	return arg;
}

struct loop {
	uint64_t iters;
};

static void spin_forkjoin_main(void *arg)
{
	struct loop *l = arg;
	for (uint64_t i = 0; i < l->iters; i++) {
		struct kthread *t = kthread_spawn(NULL, "e", empty, NULL, -1);
		kthread_join(t, NULL);
	}
}

static void spin_forkjoin(void *arg, uint64_t iters)
{
	(void)arg;
	struct loop l = {iters};
	strand_spawn(cpu, spin_forkjoin_main, &l, NULL);
	strand_cpu_run(cpu);
}

static void pthread_forkjoin(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, empty, NULL) != 0)
			abort();
		pthread_join(t, NULL);
	}
}

/* --- ping-pong ------------------------------------------------------------ */
static struct kthread_mutex kmx = KTHREAD_MUTEX_INIT;
static struct kthread_cond kcv = KTHREAD_COND_INIT;
static uint64_t kturn;

struct pp {
	uint64_t iters;
	int me;
};

static void *kping(void *arg)
{
	struct pp *p = arg;
	kthread_mutex_lock(&kmx);
	for (uint64_t i = 0; i < p->iters; i++) {
		while ((kturn & 1) != (uint64_t)p->me)
			kthread_cond_wait(&kcv, &kmx);
		kturn++;
		kthread_cond_signal(&kcv);
	}
	kthread_mutex_unlock(&kmx);
	return NULL;
}

static void spin_pingpong_main(void *arg)
{
	uint64_t iters = *(uint64_t *)arg;
	struct pp a = {iters, 0}, b = {iters, 1};
	kturn = 0;
	struct kthread *ta = kthread_spawn(NULL, "ping", kping, &a, -1);
	struct kthread *tb = kthread_spawn(NULL, "pong", kping, &b, -1);
	kthread_join(ta, NULL);
	kthread_join(tb, NULL);
}

static void spin_pingpong(void *arg, uint64_t iters)
{
	(void)arg;
	strand_spawn(cpu, spin_pingpong_main, &iters, NULL);
	strand_cpu_run(cpu);
}

static pthread_mutex_t pmx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pcv = PTHREAD_COND_INITIALIZER;
static uint64_t pturn;

static void *pping(void *arg)
{
	struct pp *p = arg;
	pthread_mutex_lock(&pmx);
	for (uint64_t i = 0; i < p->iters; i++) {
		while ((pturn & 1) != (uint64_t)p->me)
			pthread_cond_wait(&pcv, &pmx);
		pturn++;
		pthread_cond_signal(&pcv);
	}
	pthread_mutex_unlock(&pmx);
	return NULL;
}

static void pthread_pingpong(void *arg, uint64_t iters)
{
	(void)arg;
	struct pp a = {iters, 0}, b = {iters, 1};
	pturn = 0;
	pthread_t ta, tb;
	pthread_create(&ta, NULL, pping, &a);
	pthread_create(&tb, NULL, pping, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
}

/* --- fixed-count interleaved pairs ----------------------------------------- */
static void pair(const char *name, bench_fn a, bench_fn b, uint64_t iters, double target,
		 const char *baseline, const char *placement)
{
	double va[BENCH_RUNS], vb[BENCH_RUNS], vr[BENCH_RUNS];
	bench_run_ns(a, NULL, iters);
	bench_run_ns(b, NULL, iters);
	for (int i = 0; i < BENCH_RUNS; i++) {
		va[i] = bench_run_ns(a, NULL, iters);
		vb[i] = bench_run_ns(b, NULL, iters);
		vr[i] = va[i] / vb[i];
	}
	double value = bench_median(va, BENCH_RUNS); /* sorts va */
	double spread = (va[BENCH_RUNS * 3 / 4] - va[BENCH_RUNS / 4]) / value;
	bench_record(name, value, "ns", "lower", baseline, bench_median(vb, BENCH_RUNS),
		     bench_median(vr, BENCH_RUNS), target, spread, BENCH_RUNS, "blocking",
		     placement);
}

int main(void)
{
	int c = bench_setup(-1);
	char placement[96];
	snprintf(placement, sizeof placement,
		 "one process pinned to cpu %d: every strand and every pthread on it", c);
	cpu = strand_cpu_new("bench");
	if (!cpu)
		return 1;
	pair("strand.forkjoin", spin_forkjoin, pthread_forkjoin, ITERS, 0.05,
	     "pthread_create+pthread_join", placement);
	pair("strand.pingpong", spin_pingpong, pthread_pingpong, ITERS, 0.2,
	     "pthread mutex+condvar ping-pong", placement);
	strand_cpu_free(cpu);
	return 0;
}
