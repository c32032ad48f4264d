/*
 * sal_hosted.c - the system abstraction layer on Linux: spin runs as one
 * process, memory comes from mmap, devices are file descriptors waited on
 * with epoll, the clock is CLOCK_MONOTONIC and a calibrated TSC.
 */
#include "kernel/sal/sal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int sal_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return vsnprintf(buf, size, fmt, ap);
}

int sal_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* --- memory ---------------------------------------------------------------- */
void *sal_alloc(size_t size) { return malloc(size ? size : 1); }
void *sal_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *sal_realloc(void *p, size_t size) { return realloc(p, size ? size : 1); }
void sal_free(void *p) { free(p); }
char *sal_strdup(const char *s) { return s ? strdup(s) : NULL; }

void *sal_alloc_aligned(size_t align, size_t size)
{
	void *p = NULL;
	if (align < sizeof(void *))
		align = sizeof(void *);
	size = (size + align - 1) / align * align;
	if (posix_memalign(&p, align, size ? size : align) != 0)
		return NULL;
	return p;
}

size_t sal_page_size(void)
{
	static size_t ps;
	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

static size_t round_pages(size_t bytes)
{
	size_t ps = sal_page_size();
	return (bytes + ps - 1) / ps * ps;
}

void *sal_pages_alloc(size_t bytes)
{
	void *p = mmap(NULL, round_pages(bytes), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void sal_pages_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, round_pages(bytes));
}

/* --- clock ------------------------------------------------------------------
 * The TSC is calibrated once against CLOCK_MONOTONIC over 20 ms.  Where the
 * processor says it is invariant (constant_tsc and nonstop_tsc), sal_now_ns
 * is computed from it: a run loop reads the clock twice per turn, and on
 * these KVM guests clock_gettime costs about 66 ns against 27 ns for rdtsc
 * (measured with both in one program).  The calibration error (a few parts
 * per million) makes the TSC clock drift from CLOCK_MONOTONIC by
 * milliseconds per hour, which timers and timeouts do not notice.
 * Elsewhere, and before sal_init, sal_now_ns is CLOCK_MONOTONIC. */
static double tsc_per_ns = 1.0;
static double ns_per_tsc = 1.0;
static uint64_t tsc_base, ns_base;
static bool tsc_clock;
static bool sal_ready;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t sal_now_ns(void)
{
	if (!tsc_clock)
		return mono_ns();
	return ns_base + (uint64_t)((double)(sal_tsc() - tsc_base) * ns_per_tsc);
}

uint64_t sal_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Does /proc/cpuinfo list both flags that make the TSC a clock? */
static bool tsc_invariant(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return false;
	char line[4096];
	bool constant = false, nonstop = false;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

static void calibrate_tsc(void)
{
	uint64_t t0 = mono_ns(), c0 = sal_tsc();
	while (mono_ns() - t0 < 20000000ull)
		;
	uint64_t t1 = mono_ns(), c1 = sal_tsc();
	if (t1 <= t0 || c1 <= c0)
		return;
	tsc_per_ns = (double)(c1 - c0) / (double)(t1 - t0);
	ns_per_tsc = 1.0 / tsc_per_ns;
	tsc_base = c1;
	ns_base = t1;
	tsc_clock = getenv("SPIN_CLOCK_MONOTONIC") == NULL && tsc_invariant();
}

double sal_tsc_ghz(void) { return tsc_per_ns; }
uint64_t sal_tsc_to_ns(uint64_t cycles) { return (uint64_t)((double)cycles / tsc_per_ns); }

/* --- console -------------------------------------------------------------- */
static enum sal_log_level log_level = SAL_LOG_INFO;

void sal_set_log_level(enum sal_log_level lvl) { log_level = lvl; }

void sal_log(enum sal_log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = {"debug", "info", "warn", "error"};
	if (lvl < log_level)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads do not interleave. */
	char out[1100];
	int n = snprintf(out, sizeof out, "spin: %s: %s\n", tag[lvl], line);
	if (n > (int)sizeof out)
		n = (int)sizeof out;
	if (write(STDERR_FILENO, out, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

void sal_panic(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "spin: panic: %s\n", line);
	abort();
}

/* --- processor -------------------------------------------------------------- */
void sal_yield(void) { sched_yield(); }

void sal_sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

unsigned sal_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

int sal_current_cpu(void) { return sched_getcpu(); }

struct sal_thread {
	pthread_t tid;
};

struct sal_thread *sal_thread_start(const char *name, void *(*fn)(void *), void *arg)
{
	struct sal_thread *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (pthread_create(&t->tid, NULL, fn, arg) != 0) {
		free(t);
		return NULL;
	}
	if (name) {
		char n[16];
		snprintf(n, sizeof n, "%s", name);
		pthread_setname_np(t->tid, n);
	}
	return t;
}

void *sal_thread_join(struct sal_thread *t)
{
	void *ret = NULL;
	if (!t)
		return NULL;
	pthread_join(t->tid, &ret);
	free(t);
	return ret;
}

int sal_thread_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 ? 0 : -1;
}

struct sal_mutex {
	pthread_mutex_t m;
};

struct sal_mutex *sal_mutex_new(void)
{
	struct sal_mutex *m = calloc(1, sizeof *m);
	if (m)
		pthread_mutex_init(&m->m, NULL);
	return m;
}

void sal_mutex_free(struct sal_mutex *m)
{
	if (m) {
		pthread_mutex_destroy(&m->m);
		free(m);
	}
}

void sal_mutex_lock(struct sal_mutex *m) { pthread_mutex_lock(&m->m); }
void sal_mutex_unlock(struct sal_mutex *m) { pthread_mutex_unlock(&m->m); }

/* --- waiting ----------------------------------------------------------------
 * An epoll set plus an eventfd that sal_waitset_wake writes. */
struct sal_waitset {
	int ep;
	int wakefd;
};

struct sal_waitset *sal_waitset_new(void)
{
	struct sal_waitset *ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	ws->ep = epoll_create1(EPOLL_CLOEXEC);
	ws->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ws->ep < 0 || ws->wakefd < 0) {
		sal_waitset_free(ws);
		return NULL;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ws};
	epoll_ctl(ws->ep, EPOLL_CTL_ADD, ws->wakefd, &ev);
	return ws;
}

void sal_waitset_free(struct sal_waitset *ws)
{
	if (!ws)
		return;
	if (ws->ep >= 0)
		close(ws->ep);
	if (ws->wakefd >= 0)
		close(ws->wakefd);
	free(ws);
}

int sal_waitset_add(struct sal_waitset *ws, int handle, void *cookie)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cookie};
	return epoll_ctl(ws->ep, EPOLL_CTL_ADD, handle, &ev) == 0 ? 0 : -1;
}

int sal_waitset_del(struct sal_waitset *ws, int handle)
{
	return epoll_ctl(ws->ep, EPOLL_CTL_DEL, handle, NULL) == 0 ? 0 : -1;
}

int sal_wait(struct sal_waitset *ws, int64_t timeout_ns, void **out, int max)
{
	struct epoll_event evs[32];
	if (max > 32)
		max = 32;
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	int n = epoll_wait(ws->ep, evs, max, ms);
	if (n < 0)
		return errno == EINTR ? -1 : -1;
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == ws) {
			uint64_t v;
			if (read(ws->wakefd, &v, sizeof v) < 0) {
				/* already drained by another waiter */
			}
			continue;
		}
		out[k++] = evs[i].data.ptr;
	}
	return k;
}

void sal_waitset_wake(struct sal_waitset *ws)
{
	uint64_t one = 1;
	if (write(ws->wakefd, &one, sizeof one) < 0) {
		/* the counter is saturated: a wake is pending anyway */
	}
}

/* --- randomness ---------------------------------------------------------- */
void sal_random_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			sal_panic("getrandom failed: %s", strerror(errno));
		}
		p += r;
		n -= (size_t)r;
	}
}

void sal_init(void)
{
	if (sal_ready)
		return;
	sal_ready = true;
	calibrate_tsc();
}
