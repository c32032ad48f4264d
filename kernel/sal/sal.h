/*
 * sal.h - the system abstraction layer: everything kernel/, netgraph/ and
 * protocols/ may ask of the platform underneath.
 *
 * Those folders include only freestanding C headers (stddef, stdint,
 * stdbool, stdarg, stdatomic, limits, stdalign) and project headers; every
 * other service comes through here.  The hosted platform (kernel/sal/hosted)
 * implements it on Linux; a metal platform would implement the same
 * functions on bare hardware.  scripts/check-sal.sh enforces the rule.
 *
 * Contract: every function here may be called from any thread unless it says
 * otherwise.  None of them may be called from a signal handler.
 */
#ifndef SPIN_SAL_H
#define SPIN_SAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- C runtime primitives (a metal platform provides these symbols) ---- */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Formatting, as C99 snprintf: returns the length the full output needs. */
int sal_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sal_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* --- memory (control path; the packet path uses pools) ------------------ */
void *sal_alloc(size_t size);                  /* NULL on failure */
void *sal_calloc(size_t n, size_t size);       /* zeroed; NULL on failure */
void *sal_realloc(void *p, size_t size);
void *sal_alloc_aligned(size_t align, size_t size);
void sal_free(void *p);                        /* NULL is fine */
char *sal_strdup(const char *s);
/* Whole pages, zeroed, page aligned; bytes rounded up to the page size. */
void *sal_pages_alloc(size_t bytes);
void sal_pages_free(void *p, size_t bytes);
size_t sal_page_size(void);

/* --- clock ---------------------------------------------------------------
 * sal_now_ns: monotonic nanoseconds.  sal_tsc: the cycle counter, cheap
 * (about 7 ns); sal_tsc_to_ns converts a difference with the calibration
 * done once at sal_init. */
uint64_t sal_now_ns(void);
static inline uint64_t sal_tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	return sal_now_ns();
#endif
}
double sal_tsc_ghz(void);                      /* cycles per ns */
uint64_t sal_tsc_to_ns(uint64_t cycles);
uint64_t sal_realtime_ns(void);                /* wall clock, for logs and pcap */

/* --- console -------------------------------------------------------------- */
enum sal_log_level { SAL_LOG_DEBUG, SAL_LOG_INFO, SAL_LOG_WARN, SAL_LOG_ERR };
void sal_log(enum sal_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sal_set_log_level(enum sal_log_level lvl);
/* Logs a message once per call site (use SAL_LOG_ONCE); for broken contracts. */
#define SAL_LOG_ONCE(lvl, ...)                                                 \
	do {                                                                   \
		static bool sal_once_;                                         \
		if (!sal_once_) {                                              \
			sal_once_ = true;                                      \
			sal_log(lvl, __VA_ARGS__);                             \
		}                                                              \
	} while (0)
__attribute__((noreturn, format(printf, 1, 2))) void sal_panic(const char *fmt, ...);

/* --- processor ------------------------------------------------------------ */
static inline void sal_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("pause" ::: "memory");
#endif
}
void sal_yield(void);
void sal_sleep_ns(uint64_t ns);
unsigned sal_cpu_count(void);
int sal_current_cpu(void);

/* Threads: a platform thread runs fn(arg).  Used by tests and by the control
 * side; the packet path runs on run loops (kernel/exec). */
struct sal_thread;
struct sal_thread *sal_thread_start(const char *name, void *(*fn)(void *), void *arg);
void *sal_thread_join(struct sal_thread *t);
int sal_thread_pin(int cpu);                   /* pin the calling thread; 0 ok */

/* A sleeping lock for control paths only (never on the packet path). */
struct sal_mutex;
struct sal_mutex *sal_mutex_new(void);
void sal_mutex_free(struct sal_mutex *m);
void sal_mutex_lock(struct sal_mutex *m);
void sal_mutex_unlock(struct sal_mutex *m);

/* --- waiting for devices ---------------------------------------------------
 * A wait set collects handles (hosted: file descriptors) that a run loop
 * blocks on when it is idle.  sal_wait returns the number of ready cookies
 * written to out (0 on timeout), or -1 on interruption.  A wake handle lets
 * another thread end a wait early. */
struct sal_waitset;
struct sal_waitset *sal_waitset_new(void);
void sal_waitset_free(struct sal_waitset *ws);
int sal_waitset_add(struct sal_waitset *ws, int handle, void *cookie);
int sal_waitset_del(struct sal_waitset *ws, int handle);
int sal_wait(struct sal_waitset *ws, int64_t timeout_ns, void **out, int max);
void sal_waitset_wake(struct sal_waitset *ws);  /* callable from any thread */

/* --- randomness ----------------------------------------------------------- */
void sal_random_bytes(void *buf, size_t n);     /* cryptographic quality */

/* --- start-up ----------------------------------------------------------------
 * Calibrates the clock; idempotent. */
void sal_init(void);

#endif
