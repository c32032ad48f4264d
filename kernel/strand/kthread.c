/*
 * kthread.c - kernel threads, mutexes and condition variables on strands.
 *
 * The mutex is the three-state lock of Drepper's "Futexes Are Tricky" with
 * the futex replaced by a strand wait queue: the fast paths are one atomic
 * each; a waiter queues itself and marks itself blocked under the queue's
 * spin lock, so an unlocker on another processor cannot miss it
 * (strand_will_block / strand_block).
 */
#include "kernel/strand/kthread.h"
#include "kernel/sal/sal.h"

struct kthread_waiter {
	struct strand *s;
	struct kthread_waiter *next;
};

struct kthread {
	struct strand *s;
	kthread_fn fn;
	void *arg;
	void *result;
};

static void qlock(atomic_flag *f)
{
	while (atomic_flag_test_and_set_explicit(f, memory_order_acquire))
		sal_cpu_relax();
}

static void qunlock(atomic_flag *f)
{
	atomic_flag_clear_explicit(f, memory_order_release);
}

static void q_push(struct kthread_waiter **head, struct kthread_waiter **tail,
		   struct kthread_waiter *w)
{
	w->next = NULL;
	if (*tail)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
}

static struct kthread_waiter *q_pop(struct kthread_waiter **head, struct kthread_waiter **tail)
{
	struct kthread_waiter *w = *head;
	if (w) {
		*head = w->next;
		if (!*head)
			*tail = NULL;
	}
	return w;
}

/* --- threads ------------------------------------------------------------ */
static void kthread_main(void *p)
{
	struct kthread *t = p;
	t->result = t->fn(t->arg);
}

struct kthread *kthread_spawn(struct strand_cpu *c, const char *name, kthread_fn fn,
			      void *arg, int prio)
{
	if (!c)
		c = strand_cpu_self();
	if (!c || !fn)
		return NULL;
	struct kthread *t = sal_alloc(sizeof *t);
	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	t->result = NULL;
	struct strand_attr a = {
		.name = name ? name : "kthread",
		.prio = prio < 0 ? STRAND_PRIO_DEFAULT : prio,
		.flags = STRAND_JOINABLE,
	};
	t->s = strand_spawn(c, kthread_main, t, &a);
	if (!t->s) {
		sal_free(t);
		return NULL;
	}
	return t;
}

int kthread_join(struct kthread *t, void **result)
{
	if (!t)
		return STRAND_EINVAL;
	int err = strand_join(t->s);
	if (err)
		return err;
	if (result)
		*result = t->result;
	sal_free(t);
	return STRAND_OK;
}

struct strand *kthread_strand(const struct kthread *t)
{
	return t->s;
}

/* --- mutexes ------------------------------------------------------------ */
void kthread_mutex_init(struct kthread_mutex *m)
{
	atomic_init(&m->state, 0);
	atomic_flag_clear(&m->qlock);
	m->head = m->tail = NULL;
}

bool kthread_mutex_trylock(struct kthread_mutex *m)
{
	int expect = 0;
	return atomic_compare_exchange_strong(&m->state, &expect, 1);
}

void kthread_mutex_lock(struct kthread_mutex *m)
{
	int expect = 0;
	if (atomic_compare_exchange_strong(&m->state, &expect, 1))
		return;
	struct kthread_waiter w = {.s = strand_self()};
	for (;;) {
		qlock(&m->qlock);
		if (atomic_exchange(&m->state, 2) == 0) {
			qunlock(&m->qlock);
			return;
		}
		q_push(&m->head, &m->tail, &w);
		strand_will_block();
		qunlock(&m->qlock);
		strand_block();
	}
}

void kthread_mutex_unlock(struct kthread_mutex *m)
{
	if (atomic_exchange(&m->state, 0) == 1)
		return;
	qlock(&m->qlock);
	struct kthread_waiter *w = q_pop(&m->head, &m->tail);
	qunlock(&m->qlock);
	if (w)
		strand_unblock(w->s);
}

/* --- condition variables ---------------------------------------------------- */
void kthread_cond_init(struct kthread_cond *cv)
{
	atomic_flag_clear(&cv->qlock);
	cv->head = cv->tail = NULL;
}

void kthread_cond_wait(struct kthread_cond *cv, struct kthread_mutex *m)
{
	struct kthread_waiter w = {.s = strand_self()};
	qlock(&cv->qlock);
	q_push(&cv->head, &cv->tail, &w);
	strand_will_block();
	qunlock(&cv->qlock);
	kthread_mutex_unlock(m);
	strand_block();
	kthread_mutex_lock(m);
}

void kthread_cond_signal(struct kthread_cond *cv)
{
	qlock(&cv->qlock);
	struct kthread_waiter *w = q_pop(&cv->head, &cv->tail);
	qunlock(&cv->qlock);
	if (w)
		strand_unblock(w->s);
}

void kthread_cond_broadcast(struct kthread_cond *cv)
{
	qlock(&cv->qlock);
	struct kthread_waiter *w = cv->head;
	cv->head = cv->tail = NULL;
	qunlock(&cv->qlock);
	while (w) {
		/* The waiter's node is on its stack: read next before waking. */
		struct kthread_waiter *n = w->next;
		strand_unblock(w->s);
		w = n;
	}
}
