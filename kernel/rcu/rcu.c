/*
 * rcu.c - quiescent-state-based RCU (see rcu.h for the model).
 *
 * A global grace-period counter gp advances by 2 per rcu_synchronize (kept
 * even; 0 means offline in a reader's `seen`).  A reader's quiescent state
 * copies gp into its own `seen`.  A grace period that started at counter G
 * has ended when every registered reader is offline or has seen >= G.
 *
 * The reader list and the callback list change under one control mutex;
 * readers never touch either on the read side.
 */
#include "kernel/rcu/rcu.h"

#include "kernel/sal/sal.h"

static _Atomic uint64_t rcu_gp = 2;
static struct rcu_reader *readers;
static struct sal_mutex *rcu_lock;
static _Atomic int rcu_lock_once;
static _Thread_local struct rcu_reader self;

static struct rcu_head *cb_head, **cb_tail = &cb_head;

static void lock(void)
{
	/* First use may race between threads: settle who creates the mutex. */
	if (!atomic_load_explicit(&rcu_lock_once, memory_order_acquire)) {
		int expect = 0;
		if (atomic_compare_exchange_strong(&rcu_lock_once, &expect, 1)) {
			rcu_lock = sal_mutex_new();
			atomic_store_explicit(&rcu_lock_once, 2, memory_order_release);
		}
	}
	while (atomic_load_explicit(&rcu_lock_once, memory_order_acquire) != 2)
		sal_cpu_relax();
	sal_mutex_lock(rcu_lock);
}

static void unlock(void) { sal_mutex_unlock(rcu_lock); }

void rcu_register_thread(void)
{
	if (self.registered)
		return;
	lock();
	self.registered = true;
	atomic_store(&self.seen, atomic_load(&rcu_gp));
	self.next = readers;
	readers = &self;
	unlock();
}

void rcu_unregister_thread(void)
{
	if (!self.registered)
		return;
	lock();
	for (struct rcu_reader **pp = &readers; *pp; pp = &(*pp)->next) {
		if (*pp == &self) {
			*pp = self.next;
			break;
		}
	}
	self.registered = false;
	atomic_store(&self.seen, 0);
	unlock();
}

void rcu_thread_offline(void)
{
	atomic_store_explicit(&self.seen, 0, memory_order_release);
}

void rcu_thread_online(void)
{
	atomic_store_explicit(&self.seen, atomic_load(&rcu_gp), memory_order_seq_cst);
}

bool rcu_thread_is_online(void)
{
	return self.registered && atomic_load_explicit(&self.seen, memory_order_relaxed) != 0;
}

void rcu_quiescent(void)
{
	/* Only a grace period that started since our last announcement needs
	 * one; the common turn pays one load of a read-mostly line.  The store
	 * is seq_cst so that the reader's earlier loads of published pointers
	 * are not reordered after it (a full fence on x86-64, about 20 cycles). */
	uint64_t gp = atomic_load_explicit(&rcu_gp, memory_order_relaxed);
	if (atomic_load_explicit(&self.seen, memory_order_relaxed) != gp)
		atomic_store_explicit(&self.seen, gp, memory_order_seq_cst);
}

/* Has every reader passed a quiescent state at or after counter target?
 * Called with the lock held. */
static bool gp_done(uint64_t target)
{
	for (struct rcu_reader *r = readers; r; r = r->next) {
		uint64_t s = atomic_load_explicit(&r->seen, memory_order_acquire);
		if (s != 0 && s < target)
			return false;
	}
	return true;
}

void rcu_synchronize(void)
{
	if (rcu_thread_is_online())
		sal_panic("rcu_synchronize called by an online reader");
	uint64_t target = atomic_fetch_add(&rcu_gp, 2) + 2;
	for (unsigned spins = 0;; spins++) {
		lock();
		bool done = gp_done(target);
		unlock();
		if (done)
			return;
		if (spins < 100)
			sal_cpu_relax();
		else
			sal_sleep_ns(20000);
	}
}

void rcu_call(struct rcu_head *h, void (*fn)(struct rcu_head *h))
{
	h->fn = fn;
	h->next = NULL;
	lock();
	/* Readers that saw the old pointer may run until they pass gp+2. */
	h->gp = atomic_fetch_add(&rcu_gp, 2) + 2;
	*cb_tail = h;
	cb_tail = &h->next;
	unlock();
}

int rcu_poll(void)
{
	/* Cheap when there is nothing queued: one racy read, no lock. */
	if (!__atomic_load_n(&cb_head, __ATOMIC_RELAXED))
		return 0;
	struct rcu_head *ready = NULL, **rtail = &ready;
	lock();
	while (cb_head && gp_done(cb_head->gp)) {
		struct rcu_head *h = cb_head;
		cb_head = h->next;
		if (!cb_head)
			cb_tail = &cb_head;
		h->next = NULL;
		*rtail = h;
		rtail = &h->next;
	}
	unlock();
	int n = 0;
	while (ready) {
		struct rcu_head *h = ready;
		ready = h->next;
		h->fn(h);
		n++;
	}
	return n;
}

void rcu_barrier(void)
{
	rcu_synchronize();
	while (rcu_poll() > 0)
		;
	lock();
	bool empty = cb_head == NULL;
	unlock();
	if (!empty) {
		rcu_synchronize();
		rcu_poll();
	}
}
