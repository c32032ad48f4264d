/*
 * strand.c - strands, processors and the global scheduler.
 *
 * Invariants:
 *  - A strand's scheduling fields (run queue links, sleep links, vp state)
 *    are touched only by its processor's thread.  Other threads change only
 *    the atomic `state` (BLOCKED -> WAKING) and push onto the processor's
 *    inbox, which the processor drains before every pick.
 *  - A strand is on at most one run queue; the running strand is on none.
 *  - c->current is the strand whose stack the processor is on (the idle
 *    strand is the OS thread's own stack).
 *  - An exited strand's stack is still in use until the switch away from it
 *    completes; the strand that arrives (finish_switch) reaps it.
 */
#include "kernel/strand/strand.h"
#include "kernel/strand/strand_events.h"
#include "kernel/strand/strand_switch.h"
#include "kernel/sal/sal.h"
#include "kernel/sal/sal_strand.h"

enum {
	S_RUNNING,
	S_READY,    /* on a run queue (or an application scheduler's) */
	S_BLOCKED,
	S_WAKING,   /* unblocked from another processor, in its inbox */
	S_EXITING,
	VP_IDLE,    /* vp states: off the run queue */
	VP_QUEUED,
	VP_ACTIVE,  /* one of its strands has the processor */
};

#define NPRIO (STRAND_PRIO_MAX + 1)
#define POOL_MAX 256
#define MAX_CPUS 64
#define JOIN_DONE ((struct strand *)1)

struct strand {
	struct strand_ctx ctx;
	struct strand_cpu *cpu;
	struct strand *next;       /* run queue, pool */
	struct strand *wnext;      /* inbox */
	struct strand *snext;      /* sleep list */
	const char *name;
	strand_fn fn;
	void *arg;
	void (*on_exit)(void *arg);
	atomic_int state;
	atomic_bool stop_req;      /* strand_stop: exit at the next safe point */
	int prio;
	unsigned flags;
	bool is_vp, in_sleep;
	struct strand *vp;
	struct strand *vp_self;    /* a vp: itself (Resume's guard field) */
	const struct strand_policy *pol; /* vp only */
	struct disp_binding *bind[4];    /* vp only: its policy's bindings */
	void *data;
	_Atomic(struct strand *) joiner; /* NULL, the joiner, or JOIN_DONE */
	uint64_t wake_at;
	void *stack_lo;
	size_t stack_size;
	void *asan_fake;
};

struct strand_cpu {
	struct strand_cpu_hot hot;
	const char *name;
	struct strand *current;
	struct strand *switch_from;
	struct strand *dead;
	struct strand idle;
	struct {
		struct strand *head, *tail;
	} rq[NPRIO];
	uint32_t rq_bits;
	_Atomic(struct strand *) inbox;
	atomic_bool waiting, stop, running;
	atomic_uint live;
	struct sal_waitset *ws;
	struct strand *sleepers;
	struct strand *pool;
	unsigned npool;
	unsigned nwatch;
	unsigned rcu_hold;
	struct strand_watch *watches;
	int slot;
	struct strand_cpu_stats st;
};

_Thread_local struct strand_cpu_hot *strand_tls_hot;
static _Thread_local struct strand_cpu *tls_cpu;

/* A watched handle: the waitset's cookie. */
struct strand_watch {
	int handle;
	struct strand *s;
	bool *ready;
	struct strand_watch *next;
};

static _Atomic(struct strand_cpu *) cpus[MAX_CPUS];
static struct sal_ticker *ticker;

/* --- run queues -------------------------------------------------------- */
static void rq_push(struct strand_cpu *c, struct strand *s)
{
	int p = s->prio;
	s->next = NULL;
	if (c->rq[p].tail)
		c->rq[p].tail->next = s;
	else
		c->rq[p].head = s;
	c->rq[p].tail = s;
	c->rq_bits |= 1u << p;
	/* A better strand is waiting: the running one yields at its next
	 * safe point. */
	if (c->current != &c->idle && p > c->current->prio)
		atomic_store_explicit(&c->hot.preempt, 1, memory_order_relaxed);
}

static struct strand *rq_pop(struct strand_cpu *c)
{
	if (!c->rq_bits)
		return NULL;
	int p = 31 - __builtin_clz(c->rq_bits);
	struct strand *s = c->rq[p].head;
	c->rq[p].head = s->next;
	if (!s->next) {
		c->rq[p].tail = NULL;
		c->rq_bits &= ~(1u << p);
	}
	s->next = NULL;
	return s;
}

/* --- the Strand events ---------------------------------------------------
 * The global scheduler is each event's default handler: it runs when no
 * application scheduler's guard claims the strand. */
static void global_block(struct strand *s)
{
	(void)s;
}

static void global_unblock(struct strand *s)
{
	s->state = s->is_vp ? VP_QUEUED : S_READY;
	rq_push(s->cpu, s);
}

static struct strand *global_resume(struct strand *s)
{
	return s;
}

/* Installs come only from strand_vp_new, which binds as the kernel and
 * writes the guards itself. */
static int strand_authorize(spin_ident_t installer, struct disp_event *ev,
			    struct disp_auth *req)
{
	(void)ev;
	(void)req;
	return installer == SPIN_KERNEL ? 0 : -1;
}

SPIN_EVENT_DEFINE(Strand_Block, .owner = SPIN_KERNEL, .authorize = strand_authorize,
		  .doc = "a strand stopped and waits for Unblock",
		  .default_handler = global_block);
SPIN_EVENT_DEFINE(Strand_Unblock, .owner = SPIN_KERNEL, .authorize = strand_authorize,
		  .doc = "a strand may run again", .default_handler = global_unblock);
SPIN_EVENT_DEFINE(Strand_Checkpoint, .owner = SPIN_KERNEL, .authorize = strand_authorize,
		  .doc = "a strand lost the processor, still runnable",
		  .default_handler = global_unblock);
SPIN_EVENT_DEFINE(Strand_Resume, .owner = SPIN_KERNEL, .authorize = strand_authorize,
		  .doc = "a strand is given the processor; returns who runs",
		  .default_result = NULL, .default_handler = global_resume);

/* --- switching ---------------------------------------------------------- */
static void pool_put(struct strand_cpu *c, struct strand *s)
{
	if (c->npool >= POOL_MAX) {
		sal_stack_free(s->stack_lo, STRAND_STACK_DEFAULT);
		return;
	}
	s->next = c->pool;
	c->pool = s;
	c->npool++;
}

static void reap(struct strand_cpu *c, struct strand *d)
{
	atomic_fetch_sub(&c->live, 1);
	c->st.exited++;
	if (d->flags & STRAND_JOINABLE) {
		struct strand *j = atomic_exchange(&d->joiner, JOIN_DONE);
		if (j)
			strand_unblock(j);
	} else {
		pool_put(c, d);
	}
}

static void finish_switch(struct strand_cpu *c)
{
#ifdef SAL_ASAN
	const void *lo;
	size_t size;
	sal_asan_switch_end(c->current->asan_fake, &lo, &size);
	if (c->switch_from == &c->idle) {
		c->idle.stack_lo = (void *)lo;
		c->idle.stack_size = size;
	}
#endif
	if (c->dead) {
		struct strand *d = c->dead;
		c->dead = NULL;
		reap(c, d);
	}
}

static void switch_to(struct strand_cpu *c, struct strand *prev, struct strand *next)
{
	c->current = next;
	c->switch_from = prev;
	c->st.switches++;
#ifdef SAL_ASAN
	sal_asan_switch_begin(prev->state == S_EXITING ? NULL : &prev->asan_fake,
			      next->stack_lo, next->stack_size);
#endif
	strand_ctx_switch(&prev->ctx, &next->ctx);
	finish_switch(tls_cpu);
}

static void drain_inbox(struct strand_cpu *c)
{
	if (!atomic_load_explicit(&c->inbox, memory_order_relaxed))
		return;
	struct strand *s = atomic_exchange(&c->inbox, NULL), *rev = NULL;
	while (s) {
		struct strand *n = s->wnext;
		s->wnext = rev;
		rev = s;
		s = n;
	}
	for (s = rev; s; s = rev) {
		rev = s->wnext;
		s->wnext = NULL;
		s->state = S_READY;
		Strand_Unblock_raise(s);
	}
}

static void wake_sleepers(struct strand_cpu *c)
{
	if (!c->sleepers)
		return;
	uint64_t now = sal_now_ns();
	while (c->sleepers && c->sleepers->wake_at <= now) {
		struct strand *s = c->sleepers;
		c->sleepers = s->snext;
		s->in_sleep = false;
		strand_unblock(s);
	}
}

/* Waits at most tmo ns (0: not at all) for watched handles and wakes
 * their strands. */
static void poll_handles(struct strand_cpu *c, int64_t tmo)
{
	void *cookie[16];
	int n = sal_wait(c->ws, tmo, cookie, 16);
	for (int i = 0; i < n; i++) {
		struct strand_watch *w = cookie[i];
		if (w->ready)
			*w->ready = true;
		strand_unblock(w->s);
	}
}

/* The next strand to run, asking application schedulers through Resume. */
static struct strand *pick(struct strand_cpu *c)
{
	struct strand *s;
	while ((s = rq_pop(c)) != NULL) {
		if (!s->is_vp) {
			s->state = S_RUNNING;
			return s;
		}
		s->state = VP_ACTIVE;
		struct strand *r = Strand_Resume_raise(s);
		if (r && r != s) {
			r->state = S_RUNNING;
			return r;
		}
		s->state = VP_IDLE;
	}
	return NULL;
}

/* Gives the processor away from prev (the running strand, already queued
 * or blocked or exiting) to the best runnable strand. */
static void schedule(struct strand_cpu *c, struct strand *prev)
{
	/* QSBR: a strand holds no RCU reference across a switch (the rule
	 * strand.h states), so every switch point is a quiescent state. */
	if (!c->rcu_hold)
		rcu_quiescent();
	/* A busy processor never idles, so once per quantum (the ticker's
	 * mark) it also looks at its watched handles without waiting. */
	if (c->nwatch && atomic_load_explicit(&c->hot.preempt, memory_order_relaxed))
		poll_handles(c, 0);
	drain_inbox(c);
	wake_sleepers(c);
	atomic_store_explicit(&c->hot.preempt, 0, memory_order_relaxed);
	struct strand *next = pick(c);
	if (!next)
		next = &c->idle;
	else if (atomic_load_explicit(&next->stop_req, memory_order_relaxed))
		atomic_store_explicit(&c->hot.preempt, 1, memory_order_relaxed);
	if (next == prev)
		return;
	switch_to(c, prev, next);
}

/* The running strand's vp (if any) gets the processor back: the global
 * scheduler re-queues it and will Resume it again in its turn. */
static void release_vp(struct strand *s)
{
	if (s->vp && s->vp->state == VP_ACTIVE)
		Strand_Checkpoint_raise(s->vp);
}

static void strand_boot(void *p)
{
	struct strand *s = p;
	finish_switch(tls_cpu);
	s->fn(s->arg);
	strand_exit();
}

/* --- processors --------------------------------------------------------- */
struct strand_cpu *strand_cpu_new(const char *name)
{
	struct strand_cpu *c = sal_calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->ws = sal_waitset_new();
	if (!c->ws) {
		sal_free(c);
		return NULL;
	}
	c->name = name ? name : "cpu";
	c->idle.name = "idle";
	c->idle.cpu = c;
	c->idle.prio = -1;
	c->idle.state = S_RUNNING;
	c->current = &c->idle;
	c->slot = -1;
	return c;
}

void strand_cpu_free(struct strand_cpu *c)
{
	if (!c)
		return;
	while (c->pool) {
		struct strand *s = c->pool;
		c->pool = s->next;
		sal_stack_free(s->stack_lo, STRAND_STACK_DEFAULT);
	}
	while (c->watches) {
		struct strand_watch *w = c->watches;
		c->watches = w->next;
		sal_free(w);
	}
	sal_waitset_free(c->ws);
	sal_free(c);
}

static void preempt_tick(void *arg)
{
	(void)arg;
	for (int i = 0; i < MAX_CPUS; i++) {
		struct strand_cpu *c = atomic_load(&cpus[i]);
		if (c)
			atomic_store_explicit(&c->hot.preempt, 1, memory_order_relaxed);
	}
}

int strand_preempt_start(uint64_t quantum_ns)
{
	if (ticker)
		return STRAND_OK;
	ticker = sal_ticker_start(quantum_ns, preempt_tick, NULL);
	return ticker ? STRAND_OK : STRAND_ENOMEM;
}

void strand_preempt_stop(void)
{
	sal_ticker_stop(ticker);
	ticker = NULL;
}

void strand_cpu_run(struct strand_cpu *c)
{
	/* The processor raises events, so its thread is an RCU reader; it
	 * passes a quiescent state at every switch (see schedule). */
	bool was_reader = rcu_thread_is_online();
	if (!was_reader)
		rcu_register_thread();
	tls_cpu = c;
	strand_tls_hot = &c->hot;
	c->current = &c->idle;
	atomic_store(&c->running, true);
	for (int i = 0; i < MAX_CPUS; i++) {
		struct strand_cpu *none = NULL;
		if (atomic_compare_exchange_strong(&cpus[i], &none, c)) {
			c->slot = i;
			break;
		}
	}
	for (;;) {
		if (!c->rcu_hold)
			rcu_quiescent();
		drain_inbox(c);
		wake_sleepers(c);
		struct strand *n = pick(c);
		if (n) {
			if (atomic_load_explicit(&n->stop_req, memory_order_relaxed))
				atomic_store_explicit(&c->hot.preempt, 1, memory_order_relaxed);
			switch_to(c, &c->idle, n);
			continue;
		}
		if (atomic_load(&c->live) == 0 || atomic_load(&c->stop))
			break;
		int64_t tmo = -1;
		if (c->sleepers) {
			uint64_t now = sal_now_ns();
			tmo = c->sleepers->wake_at > now ? (int64_t)(c->sleepers->wake_at - now) : 0;
		}
		/* Pairs with strand_unblock: either it sees `waiting` and wakes
		 * us, or we see its inbox entry (both are sequentially
		 * consistent). */
		atomic_store(&c->waiting, true);
		if (!atomic_load(&c->inbox) && !atomic_load(&c->stop) && tmo != 0) {
			if (!c->rcu_hold)
				rcu_thread_offline();
			poll_handles(c, tmo);
			if (!c->rcu_hold)
				rcu_thread_online();
			c->st.idle_waits++;
		}
		atomic_store(&c->waiting, false);
	}
	if (c->slot >= 0)
		atomic_store(&cpus[c->slot], NULL);
	c->slot = -1;
	atomic_store(&c->stop, false);
	atomic_store(&c->running, false);
	tls_cpu = NULL;
	strand_tls_hot = NULL;
	if (!was_reader)
		rcu_unregister_thread();
}

int strand_cpu_watch_flag(struct strand_cpu *c, int handle, struct strand *s, bool *ready)
{
	if (!c || !s || s->cpu != c)
		return STRAND_EINVAL;
	struct strand_watch *w = sal_alloc(sizeof *w);
	if (!w)
		return STRAND_ENOMEM;
	*w = (struct strand_watch){.handle = handle, .s = s, .ready = ready};
	if (sal_waitset_add(c->ws, handle, w) != 0) {
		sal_free(w);
		return STRAND_EINVAL;
	}
	w->next = c->watches;
	c->watches = w;
	c->nwatch++;
	return STRAND_OK;
}

int strand_cpu_watch(struct strand_cpu *c, int handle, struct strand *s)
{
	return strand_cpu_watch_flag(c, handle, s, NULL);
}

int strand_cpu_unwatch(struct strand_cpu *c, int handle)
{
	if (!c)
		return STRAND_EINVAL;
	for (struct strand_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
		struct strand_watch *w = *pp;
		if (w->handle != handle)
			continue;
		sal_waitset_del(c->ws, handle);
		*pp = w->next;
		sal_free(w);
		c->nwatch--;
		return STRAND_OK;
	}
	return STRAND_EINVAL;
}

void strand_cpu_check_handles(void)
{
	struct strand_cpu *c = tls_cpu;
	if (c && c->nwatch)
		poll_handles(c, 0);
}

void strand_cpu_stop(struct strand_cpu *c)
{
	atomic_store(&c->stop, true);
	/* On c's own thread the processor is not waiting: no wake-up (a
	 * system call) is needed. */
	if (tls_cpu != c)
		sal_waitset_wake(c->ws);
}

struct strand_cpu *strand_cpu_self(void)
{
	return tls_cpu;
}

void strand_cpu_stats(const struct strand_cpu *c, struct strand_cpu_stats *out)
{
	*out = c->st;
}

/* --- strands ------------------------------------------------------------ */
struct strand *strand_spawn(struct strand_cpu *c, strand_fn fn, void *arg,
			    const struct strand_attr *attr)
{
	if (!c || !fn)
		return NULL;
	int prio = attr ? attr->prio : STRAND_PRIO_DEFAULT;
	if (prio < 0 || prio > STRAND_PRIO_MAX)
		return NULL;
	/* The pool belongs to c's thread; another thread spawning onto a
	 * running processor gets a fresh stack instead. */
	bool own = tls_cpu == c || !atomic_load(&c->running);
	struct strand *s = own ? c->pool : NULL;
	if (s) {
		c->pool = s->next;
		c->npool--;
	} else {
		/* The strand's descriptor sits at the top of its own stack, so
		 * a strand is one mapping. */
		uint8_t *lo = sal_stack_alloc(STRAND_STACK_DEFAULT);
		if (!lo)
			return NULL;
		uintptr_t top = (uintptr_t)lo + STRAND_STACK_DEFAULT - sizeof(struct strand);
		s = (struct strand *)(top & ~(uintptr_t)63);
		s->stack_lo = lo;
		s->stack_size = (size_t)((uint8_t *)s - lo);
	}
	void *lo = s->stack_lo;
	size_t size = s->stack_size;
	memset(s, 0, sizeof *s);
	s->stack_lo = lo;
	s->stack_size = size;
	s->cpu = c;
	s->fn = fn;
	s->arg = arg;
	s->name = attr && attr->name ? attr->name : "strand";
	s->prio = prio;
	s->flags = attr ? attr->flags : 0;
	s->vp = attr ? attr->vp : NULL;
	s->on_exit = attr ? attr->on_exit : NULL;
	strand_ctx_init(&s->ctx, s, strand_boot, s);
	atomic_fetch_add(&c->live, 1);
	if (own)
		c->st.spawned++;
	atomic_store(&s->state, S_BLOCKED);
	strand_unblock(s);
	return s;
}

void strand_exit(void)
{
	struct strand_cpu *c = tls_cpu;
	struct strand *me = c->current;
	if (me->on_exit) {
		void (*fn)(void *) = me->on_exit;
		me->on_exit = NULL;
		fn(me->arg);
	}
	/* To an application scheduler an exit is a Block with no Unblock. */
	if (me->vp)
		Strand_Block_raise(me);
	release_vp(me);
	me->state = S_EXITING;
	c->dead = me;
	schedule(c, me);
	sal_panic("strand %s: resumed after exit", me->name);
}

int strand_join(struct strand *s)
{
	struct strand_cpu *c = tls_cpu;
	if (!s || !(s->flags & STRAND_JOINABLE) || !c || c->current == &c->idle)
		return STRAND_EINVAL;
	struct strand *me = c->current, *expect = NULL;
	strand_will_block();
	if (atomic_compare_exchange_strong(&s->joiner, &expect, me))
		strand_block();
	else
		atomic_store(&me->state, S_RUNNING);
	pool_put(c, s);
	return STRAND_OK;
}

struct strand *strand_self(void)
{
	struct strand_cpu *c = tls_cpu;
	return c && c->current != &c->idle ? c->current : NULL;
}

const char *strand_name(const struct strand *s) { return s->name; }
int strand_prio(const struct strand *s) { return s->prio; }
struct strand *strand_vp_of(const struct strand *s) { return s->vp; }
void *strand_data(const struct strand *s) { return s->data; }
void strand_set_data(struct strand *s, void *p) { s->data = p; }

void strand_set_prio(struct strand *s, int prio)
{
	if (prio >= 0 && prio <= STRAND_PRIO_MAX)
		s->prio = prio;
}

void strand_yield(void)
{
	struct strand_cpu *c = tls_cpu;
	struct strand *me = c->current;
	if (me == &c->idle)
		return;
	/* Nothing else could run: no queued strand, none handed in from
	 * another thread, no sleeper, no preemption mark, and no application
	 * scheduler to tell.  The round trip through Checkpoint, the run queue
	 * and pick would give the processor straight back, so only the
	 * quiescent state that a switch point stands for is kept.  (A busy
	 * run loop yields once per turn; this is most of its turns.) */
	if (!c->rq_bits && !me->vp && !c->sleepers &&
	    !atomic_load_explicit(&c->inbox, memory_order_relaxed) &&
	    !atomic_load_explicit(&c->hot.preempt, memory_order_relaxed)) {
		if (!c->rcu_hold)
			rcu_quiescent();
		return;
	}
	Strand_Checkpoint_raise(me);
	release_vp(me);
	schedule(c, me);
}

void strand_preempt(void)
{
	struct strand_cpu *c = tls_cpu;
	if (!c || c->current == &c->idle)
		return;
	if (atomic_load_explicit(&c->current->stop_req, memory_order_relaxed))
		strand_exit();
	c->st.preemptions++;
	strand_yield();
}

void strand_stop(struct strand *s)
{
	atomic_store(&s->stop_req, true);
	atomic_store_explicit(&s->cpu->hot.preempt, 1, memory_order_relaxed);
}

bool strand_stop_requested(void)
{
	struct strand *me = strand_self();
	return me && atomic_load_explicit(&me->stop_req, memory_order_relaxed);
}

void strand_will_block(void)
{
	struct strand_cpu *c = tls_cpu;
	atomic_store(&c->current->state, S_BLOCKED);
}

void strand_block(void)
{
	struct strand_cpu *c = tls_cpu;
	struct strand *me = c->current;
	Strand_Block_raise(me);
	release_vp(me);
	schedule(c, me);
}

bool strand_unblock(struct strand *s)
{
	int expect = S_BLOCKED;
	if (!atomic_compare_exchange_strong(&s->state, &expect, S_WAKING))
		return false;
	struct strand_cpu *c = s->cpu;
	if (tls_cpu == c || !atomic_load(&c->running)) {
		/* Our own processor, or one that is not running (then only
		 * its creator touches it, before strand_cpu_run). */
		if (tls_cpu != c) {
			/* Not running: keep it simple and go through the inbox,
			 * which the processor drains when it starts. */
		} else {
			s->state = S_READY;
			Strand_Unblock_raise(s);
			return true;
		}
	}
	struct strand *head = atomic_load(&c->inbox);
	do {
		s->wnext = head;
	} while (!atomic_compare_exchange_weak(&c->inbox, &head, s));
	c->st.remote_wakes++;
	if (atomic_load(&c->waiting))
		sal_waitset_wake(c->ws);
	return true;
}

void strand_rcu_hold(void)
{
	tls_cpu->rcu_hold++;
}

void strand_rcu_release(void)
{
	tls_cpu->rcu_hold--;
}

void strand_quiescent(void)
{
	struct strand_cpu *c = tls_cpu;
	if (!c || !c->rcu_hold)
		rcu_quiescent();
}

void strand_sleep_ns(uint64_t ns)
{
	strand_will_block();
	strand_block_timeout(ns);
}

void strand_block_timeout(uint64_t ns)
{
	struct strand_cpu *c = tls_cpu;
	struct strand *me = c->current;
	me->wake_at = sal_now_ns() + ns;
	struct strand **pp = &c->sleepers;
	while (*pp && (*pp)->wake_at <= me->wake_at)
		pp = &(*pp)->snext;
	me->snext = *pp;
	*pp = me;
	me->in_sleep = true;
	strand_block();
	if (me->in_sleep) {
		for (pp = &c->sleepers; *pp; pp = &(*pp)->snext) {
			if (*pp == me) {
				*pp = me->snext;
				break;
			}
		}
		me->in_sleep = false;
	}
}

/* --- application schedulers --------------------------------------------- */
static void vp_unbind(struct strand *vp)
{
	for (int i = 0; i < 4; i++) {
		if (vp->bind[i])
			disp_uninstall(vp->bind[i]);
		vp->bind[i] = NULL;
	}
}

static void vp_block_ignore(void *ctx, struct strand *s)
{
	(void)ctx;
	(void)s;
}

static int vp_bind(struct strand *vp)
{
	const struct strand_policy *p = vp->pol;
	const struct disp_term member[] = {
		DISP_ARG_EQ(struct strand, vp, (uint64_t)(uintptr_t)vp),
	};
	const struct disp_term self[] = {
		DISP_ARG_EQ(struct strand, vp_self, (uint64_t)(uintptr_t)vp),
	};
	struct Strand_Block_spec b = {.handler = p->block, .closure = p->ctx,
				      .terms = member, .nterms = 1, .desc = vp->name};
	struct Strand_Unblock_spec u = {.handler = p->unblock, .closure = p->ctx,
					.terms = member, .nterms = 1, .desc = vp->name};
	struct Strand_Checkpoint_spec c = {.handler = p->checkpoint, .closure = p->ctx,
					   .terms = member, .nterms = 1, .desc = vp->name};
	struct Strand_Resume_spec r = {.handler = p->resume, .closure = p->ctx,
				       .terms = self, .nterms = 1, .desc = vp->name};
	/* Without a block handler the vp still needs Block claimed, or the
	 * global default would see strands it does not schedule. */
	if (!b.handler)
		b.handler = vp_block_ignore;
	if (Strand_Block_install(SPIN_KERNEL, &b, &vp->bind[0]) != DISP_OK ||
	    Strand_Unblock_install(SPIN_KERNEL, &u, &vp->bind[1]) != DISP_OK ||
	    Strand_Checkpoint_install(SPIN_KERNEL, &c, &vp->bind[2]) != DISP_OK ||
	    Strand_Resume_install(SPIN_KERNEL, &r, &vp->bind[3]) != DISP_OK) {
		vp_unbind(vp);
		return -1;
	}
	return 0;
}

struct strand *strand_vp_new(struct strand_cpu *c, const char *name, int prio,
			     const struct strand_policy *pol)
{
	if (!c || !pol || !pol->resume || !pol->checkpoint || !pol->unblock || prio < 0 ||
	    prio > STRAND_PRIO_MAX)
		return NULL;
	struct strand *vp = sal_calloc(1, sizeof *vp);
	if (!vp)
		return NULL;
	vp->cpu = c;
	vp->name = name ? name : "vp";
	vp->prio = prio;
	vp->is_vp = true;
	vp->vp_self = vp;
	vp->pol = pol;
	vp->state = VP_IDLE;
	if (vp_bind(vp) != 0) {
		sal_free(vp);
		return NULL;
	}
	return vp;
}

void strand_vp_free(struct strand *vp)
{
	if (!vp)
		return;
	vp_unbind(vp);
	sal_free(vp);
}

void strand_vp_ready(struct strand *vp)
{
	if (vp->state == VP_IDLE)
		Strand_Unblock_raise(vp);
}
