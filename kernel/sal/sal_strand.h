/*
 * sal_strand.h - what strands (kernel/strand) need from the platform:
 * stacks with a guard page, a periodic ticker that drives preemption, and
 * the sanitizer's fiber annotations.  The register switch itself is
 * architecture code (kernel/strand/strand_switch.c), not platform code.
 *
 * Hosted implementation: kernel/sal/hosted/strand_hosted.c.
 */
#ifndef SPIN_SAL_STRAND_H
#define SPIN_SAL_STRAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A stack of `size` usable bytes (rounded up to pages) with an inaccessible
 * guard page below it, so an overflow faults instead of corrupting memory.
 * Returns the lowest usable address, or NULL.  Memory is committed lazily. */
void *sal_stack_alloc(size_t size);
void sal_stack_free(void *lo, size_t size);

/* A ticker calls fn(arg) every period_ns from a platform thread of its own
 * until stopped.  fn runs concurrently with everything else: it may only
 * store to atomics.  sal_ticker_stop returns after the last call ended. */
struct sal_ticker;
struct sal_ticker *sal_ticker_start(uint64_t period_ns, void (*fn)(void *arg), void *arg);
void sal_ticker_stop(struct sal_ticker *t);

/* AddressSanitizer must be told when the stack changes under it.  These
 * are no-ops unless the build is instrumented (SAL_ASAN). */
#if defined(__SANITIZE_ADDRESS__)
#define SAL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAL_ASAN 1
#endif
#endif
#ifdef SAL_ASAN
/* Before switching to the stack [lo, lo+size); *fake_save receives the
 * leaving context's fake stack (pass NULL when the leaving context dies). */
void sal_asan_switch_begin(void **fake_save, const void *lo, size_t size);
/* First thing on the new stack: fake is what begin saved for this context;
 * the previous stack's bounds are returned (the OS thread's own stack is
 * only learnt this way). */
void sal_asan_switch_end(void *fake, const void **prev_lo, size_t *prev_size);
#endif

#endif
