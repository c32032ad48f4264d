/*
 * rcu.h - read-copy-update with quiescent-state-based reclamation (QSBR).
 *
 * Readers (run-loop threads) never lock and never write shared memory on the
 * read side: a reader thread is always inside a read-side section while it
 * is online, and leaves it only at rcu_quiescent(), which the run loop calls
 * once per turn between packets.  A writer publishes a new version with
 * rcu_publish, then either waits with rcu_synchronize (from a thread that is
 * not an online reader) or hands the old version to rcu_call, whose callback
 * runs on a run loop after every online reader has passed a quiescent state.
 *
 * Cost: rcu_quiescent is one load and one store to the thread's own cache
 * line; rcu_deref is a plain load on x86-64.
 */
#ifndef SPIN_RCU_H
#define SPIN_RCU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct rcu_reader {
	_Atomic uint64_t seen;  /* grace-period counter seen; 0 = offline */
	struct rcu_reader *next;
	bool registered;
} __attribute__((aligned(64)));

/* Per-thread registration.  A registered thread starts online. */
void rcu_register_thread(void);
void rcu_unregister_thread(void);
void rcu_thread_offline(void);  /* before blocking for long */
void rcu_thread_online(void);
bool rcu_thread_is_online(void);/* is the caller an online reader? */

void rcu_quiescent(void);

/* Waits until every reader online at the call has passed a quiescent state.
 * Must not be called by an online reader (it would wait for itself);
 * it panics if it is. */
void rcu_synchronize(void);

struct rcu_head {
	struct rcu_head *next;
	uint64_t gp;
	void (*fn)(struct rcu_head *h);
};
/* Runs fn(h) after a grace period, on whichever thread calls rcu_poll next
 * once the period has ended (run loops call it every turn).  Any thread. */
void rcu_call(struct rcu_head *h, void (*fn)(struct rcu_head *h));
/* Runs the callbacks whose grace period has ended; returns how many. */
int rcu_poll(void);
/* Waits for a grace period and runs every queued callback (shutdown, tests;
 * same restriction as rcu_synchronize). */
void rcu_barrier(void);

#define rcu_deref(p) atomic_load_explicit(&(p), memory_order_acquire)
#define rcu_publish(p, v) atomic_store_explicit(&(p), (v), memory_order_release)

#endif
