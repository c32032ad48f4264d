/*
 * strand_hosted.c - strand support on Linux: mmap'd stacks with a guard
 * page, a ticker thread for preemption, and the ASan fiber hooks.
 */
#include "kernel/sal/sal_strand.h"
#include "kernel/sal/sal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#ifdef SAL_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

static size_t page_round(size_t n)
{
	size_t ps = sal_page_size();
	return (n + ps - 1) / ps * ps;
}

void *sal_stack_alloc(size_t size)
{
	size_t ps = sal_page_size();
	size = page_round(size);
	uint8_t *p = mmap(NULL, size + ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p, ps, PROT_NONE) != 0) {
		munmap(p, size + ps);
		return NULL;
	}
	return p + ps;
}

void sal_stack_free(void *lo, size_t size)
{
	if (!lo)
		return;
	size_t ps = sal_page_size();
	munmap((uint8_t *)lo - ps, page_round(size) + ps);
}

/* --- ticker ----------------------------------------------------------------
 * A thread sleeping on absolute CLOCK_MONOTONIC deadlines, so the period
 * does not drift with the time fn takes. */
struct sal_ticker {
	pthread_t th;
	uint64_t period;
	void (*fn)(void *);
	void *arg;
	atomic_bool stop;
};

static void *ticker_main(void *p)
{
	struct sal_ticker *t = p;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&t->stop)) {
		uint64_t ns = (uint64_t)next.tv_nsec + t->period;
		next.tv_sec += (time_t)(ns / 1000000000ull);
		next.tv_nsec = (long)(ns % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (!atomic_load(&t->stop))
			t->fn(t->arg);
	}
	return NULL;
}

struct sal_ticker *sal_ticker_start(uint64_t period_ns, void (*fn)(void *arg), void *arg)
{
	struct sal_ticker *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->period = period_ns ? period_ns : 1000000;
	t->fn = fn;
	t->arg = arg;
	if (pthread_create(&t->th, NULL, ticker_main, t) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void sal_ticker_stop(struct sal_ticker *t)
{
	if (!t)
		return;
	atomic_store(&t->stop, true);
	pthread_join(t->th, NULL);
	free(t);
}

#ifdef SAL_ASAN
void sal_asan_switch_begin(void **fake_save, const void *lo, size_t size)
{
	__sanitizer_start_switch_fiber(fake_save, lo, size);
}

void sal_asan_switch_end(void *fake, const void **prev_lo, size_t *prev_size)
{
	__sanitizer_finish_switch_fiber(fake, prev_lo, prev_size);
}
#endif
