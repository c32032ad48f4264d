/*
 * kthread.h - the trusted kernel thread package, built on strands.
 *
 * A kthread is a joinable strand that returns a value.  Mutexes and
 * condition variables block the calling strand (never the OS thread) and
 * work between strands of different processors.  Everything here must be
 * called from a strand; none of it may be called from a signal handler.
 *
 * Costs (one processor, warm pools): spawn+join is a pooled stack, one
 * small allocation and two switches; an uncontended lock or unlock is one
 * atomic instruction; a contended hand-off is one switch.
 */
#ifndef SPIN_KTHREAD_H
#define SPIN_KTHREAD_H

#include <stdatomic.h>
#include <stdbool.h>

#include "kernel/strand/strand.h"

struct kthread;
typedef void *(*kthread_fn)(void *arg);

/* Starts fn(arg) on processor c (NULL: the caller's) at priority prio
 * (negative: STRAND_PRIO_DEFAULT).  Returns NULL on failure. */
struct kthread *kthread_spawn(struct strand_cpu *c, const char *name, kthread_fn fn,
			      void *arg, int prio);
/* Waits for t, stores its result in *result (if non-NULL), frees t. */
int kthread_join(struct kthread *t, void **result);
struct strand *kthread_strand(const struct kthread *t);

/* A wait queue node lives on the waiter's stack. */
struct kthread_waiter;

/* A spin lock guards each wait queue; it is held only for a few
 * instructions and never across a switch. */
struct kthread_mutex {
	atomic_int state;          /* 0 free, 1 locked, 2 locked with waiters */
	atomic_flag qlock;
	struct kthread_waiter *head, *tail;
};
#define KTHREAD_MUTEX_INIT {0, ATOMIC_FLAG_INIT, NULL, NULL}
void kthread_mutex_init(struct kthread_mutex *m);
void kthread_mutex_lock(struct kthread_mutex *m);
bool kthread_mutex_trylock(struct kthread_mutex *m);
void kthread_mutex_unlock(struct kthread_mutex *m);

struct kthread_cond {
	atomic_flag qlock;
	struct kthread_waiter *head, *tail;
};
#define KTHREAD_COND_INIT {ATOMIC_FLAG_INIT, NULL, NULL}
void kthread_cond_init(struct kthread_cond *cv);
/* Atomically releases m and waits; holds m again on return.  As with
 * POSIX, re-check the predicate in a loop. */
void kthread_cond_wait(struct kthread_cond *cv, struct kthread_mutex *m);
void kthread_cond_signal(struct kthread_cond *cv);
void kthread_cond_broadcast(struct kthread_cond *cv);

#endif
