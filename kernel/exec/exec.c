/*
 * exec.c - run loops, timers and deferred work on strands (contract in
 * exec.h; design in docs/strands.md, "The run loop on strands").
 *
 * A loop is one processor of the global scheduler (a strand_cpu) and one
 * strand on it, the loop strand, that runs the turns: deferred work,
 * expired timers, the pollers with their budgets, RCU.  Other strands of
 * the processor (asynchronous and bounded dispatcher handlers, kernel
 * threads an extension spawns) run between turns and whenever the loop
 * strand blocks, so a handler that blocks never stalls the graph.
 *
 * Idling is blocking: the loop strand blocks with a deadline (the earliest
 * timer) and the processor, having nothing runnable, waits on every
 * poller's wait handle (strand_cpu_watch).  A ready handle, the deadline,
 * exec_defer from any thread (strand_unblock) or exec_loop_stop unblocks
 * it.  In busy-poll mode the loop strand yields after each turn instead.
 *
 * exec_loop_run and exec_loop_run_once drive the processor from the
 * calling thread (strand_cpu_run); the loop strand ends every run by
 * "parking": it stops the processor and blocks, so the run returns as soon
 * as nothing else is runnable.
 *
 * Timers live in a binary min-heap per loop (arm and cancel O(log n)); the
 * heap grows on the control path and, rarely, when a timer is armed past
 * its capacity (doubling, so amortized nothing per packet).  Deferred work
 * is a lock-free multi-producer stack that the loop takes whole each turn
 * and reverses, so work runs in the order it was queued.
 */
#include "kernel/exec/exec.h"

#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"
#include "kernel/strand/strand.h"

#include <stdatomic.h>

#define EXEC_BUDGET 64
#define EXEC_IDLE_MAX_NS 1000000000ll

struct exec_loop {
	char name[32];
	enum exec_mode mode;
	struct strand_cpu *cpu;
	struct strand *ls;           /* the loop strand */
	struct exec_poller *pollers;
	struct exec_timer **heap;
	uint32_t nheap, capheap;
	_Atomic(struct exec_work *) work;
	_Atomic bool idle;           /* ls is blocked in its idle wait */
	_Atomic bool stop;
	bool closing;                /* exec_loop_free: ls returns */
	bool once;                   /* run by exec_loop_run_once */
	int64_t once_timeout;
	int once_done;
	uint64_t sleep_until;        /* deadline of the current idle wait */
	uint64_t linger_ns;          /* blocking: keep polling this long after work */
	uint64_t last_work_ns;       /* when a turn last did work (with linger_ns) */
	unsigned nready_pollers;     /* pollers with EXEC_POLL_ON_READY */
	uint64_t last_ready_check;   /* last zero-timeout look at them */
	struct exec_stats stats;
};

static _Thread_local struct exec_loop *cur_loop;

static void loop_main(void *arg);

struct exec_loop *exec_loop_new(const char *name, enum exec_mode mode)
{
	sal_init();
	struct exec_loop *l = sal_calloc(1, sizeof *l);
	if (!l)
		return NULL;
	sal_snprintf(l->name, sizeof l->name, "%s", name ? name : "loop");
	l->mode = mode;
	l->capheap = 64;
	l->heap = sal_calloc(l->capheap, sizeof *l->heap);
	l->cpu = strand_cpu_new(l->name);
	if (!l->heap || !l->cpu) {
		exec_loop_free(l);
		return NULL;
	}
	/* Runnable from the start: its first turn is the first run's. */
	const struct strand_attr a = {.name = l->name, .prio = STRAND_PRIO_DEFAULT};
	l->ls = strand_spawn(l->cpu, loop_main, l, &a);
	if (!l->ls) {
		exec_loop_free(l);
		return NULL;
	}
	return l;
}

void exec_loop_free(struct exec_loop *l)
{
	if (!l)
		return;
	if (cur_loop == l)
		exec_loop_detach(l);
	if (l->ls) {
		/* The loop strand returns; strands still runnable finish or
		 * block.  A strand blocked for good keeps its stack (mapped
		 * memory, never reused). */
		l->closing = true;
		strand_unblock(l->ls);
		strand_cpu_stop(l->cpu);
		strand_cpu_run(l->cpu);
	}
	strand_cpu_free(l->cpu);
	sal_free(l->heap);
	sal_free(l);
}

/* A poller looked at every turn needs its handle watched only by a loop
 * that can sleep: in busy-poll mode the watch would only cost, because
 * every wake-up of the handle's wait queue (for a packet socket, each frame
 * received and each frame sent, whose buffer release wakes the writers)
 * runs the wait set's callback under an interrupt-disabling lock. */
static bool watched_by_mode(const struct exec_poller *p)
{
	return p->wait_handle >= 0 && !(p->flags & EXEC_POLL_ON_READY);
}

static bool needs_watch(const struct exec_loop *l, const struct exec_poller *p)
{
	return p->wait_handle >= 0 && (l->mode == EXEC_BLOCKING || !watched_by_mode(p));
}

int exec_loop_set_mode(struct exec_loop *l, enum exec_mode mode)
{
	if (mode == l->mode)
		return 0;
	for (struct exec_poller *p = l->pollers; p; p = p->next) {
		if (!watched_by_mode(p))
			continue;
		if (mode == EXEC_BUSY_POLL) {
			strand_cpu_unwatch(l->cpu, p->wait_handle);
		} else if (strand_cpu_watch(l->cpu, p->wait_handle, l->ls) != STRAND_OK) {
			/* Busy polling needs no watch: undo the ones made. */
			for (struct exec_poller *q = l->pollers; q != p; q = q->next)
				if (watched_by_mode(q))
					strand_cpu_unwatch(l->cpu, q->wait_handle);
			return -1;
		}
	}
	l->mode = mode;
	return 0;
}
enum exec_mode exec_loop_mode(const struct exec_loop *l) { return l->mode; }
void exec_loop_set_linger(struct exec_loop *l, uint64_t ns) { l->linger_ns = ns; }
uint64_t exec_loop_linger(const struct exec_loop *l) { return l->linger_ns; }
const char *exec_loop_name(const struct exec_loop *l) { return l->name; }
struct exec_loop *exec_current(void) { return cur_loop; }
struct strand_cpu *exec_loop_cpu(const struct exec_loop *l) { return l->cpu; }

void exec_loop_attach(struct exec_loop *l)
{
	cur_loop = l;
	rcu_register_thread();
}

#define EXEC_DETACH_HOOKS 8
static void (*detach_hooks[EXEC_DETACH_HOOKS])(void);
static _Atomic unsigned ndetach_hooks;

int exec_on_detach(void (*fn)(void))
{
	unsigned n = atomic_load(&ndetach_hooks);
	for (unsigned i = 0; i < n; i++)
		if (detach_hooks[i] == fn)
			return 0;
	if (n == EXEC_DETACH_HOOKS)
		return -1;
	detach_hooks[n] = fn;
	atomic_store(&ndetach_hooks, n + 1);
	return 0;
}

void exec_loop_detach(struct exec_loop *l)
{
	if (cur_loop == l) {
		unsigned n = atomic_load(&ndetach_hooks);
		for (unsigned i = 0; i < n; i++)
			detach_hooks[i]();
		cur_loop = NULL;
		rcu_unregister_thread();
	}
}

/* Every wait handle the loop may sleep on is watched by the loop strand,
 * so an idle processor wakes it; an EXEC_POLL_ON_READY poller's flag
 * records which handle it was. */
int exec_poller_add(struct exec_loop *l, struct exec_poller *p)
{
	if ((p->flags & EXEC_POLL_ON_READY) && p->wait_handle < 0)
		return -1;
	if (needs_watch(l, p) &&
	    strand_cpu_watch_flag(l->cpu, p->wait_handle, l->ls,
				  (p->flags & EXEC_POLL_ON_READY) ? &p->ready : NULL) != STRAND_OK)
		return -1;
	if (p->flags & EXEC_POLL_ON_READY) {
		l->nready_pollers++;
		/* Whatever was pending before the add is looked at once. */
		p->ready = true;
	}
	p->next = l->pollers;
	l->pollers = p;
	return 0;
}

void exec_poller_del(struct exec_loop *l, struct exec_poller *p)
{
	for (struct exec_poller **pp = &l->pollers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			if (p->flags & EXEC_POLL_ON_READY)
				l->nready_pollers--;
			if (needs_watch(l, p))
				strand_cpu_unwatch(l->cpu, p->wait_handle);
			return;
		}
	}
}

/* --- timers ----------------------------------------------------------------- */
static void heap_swap(struct exec_loop *l, uint32_t a, uint32_t b)
{
	struct exec_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_up(struct exec_loop *l, uint32_t i)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (l->heap[parent]->deadline_ns <= l->heap[i]->deadline_ns)
			break;
		heap_swap(l, i, parent);
		i = parent;
	}
}

static void heap_down(struct exec_loop *l, uint32_t i)
{
	for (;;) {
		uint32_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->nheap && l->heap[a]->deadline_ns < l->heap[m]->deadline_ns)
			m = a;
		if (b < l->nheap && l->heap[b]->deadline_ns < l->heap[m]->deadline_ns)
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void exec_timer_init(struct exec_timer *t, exec_timer_fn fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->loop = NULL;
	t->deadline_ns = 0;
	t->heap_idx = 0;
}

bool exec_timer_armed(const struct exec_timer *t) { return t->loop != NULL; }

void exec_timer_cancel(struct exec_timer *t)
{
	struct exec_loop *l = t->loop;
	if (!l)
		return;
	uint32_t i = t->heap_idx;
	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->heap_idx = i;
		heap_down(l, i);
		heap_up(l, i);
	}
	t->loop = NULL;
}

void exec_timer_arm(struct exec_loop *l, struct exec_timer *t, uint64_t delay_ns)
{
	exec_timer_cancel(t);
	if (l->nheap == l->capheap) {
		struct exec_timer **h = sal_realloc(l->heap, 2 * l->capheap * sizeof *h);
		if (!h)
			sal_panic("exec: out of memory growing the timer heap");
		l->heap = h;
		l->capheap *= 2;
	}
	t->deadline_ns = sal_now_ns() + delay_ns;
	t->loop = l;
	t->heap_idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->heap_idx);
	/* Armed from another strand of the loop while the loop strand sleeps
	 * past the new deadline: it must look again. */
	if (atomic_load_explicit(&l->idle, memory_order_relaxed) &&
	    t->deadline_ns < l->sleep_until)
		strand_unblock(l->ls);
}

static int fire_timers(struct exec_loop *l, uint64_t now)
{
	int n = 0;
	while (l->nheap > 0 && l->heap[0]->deadline_ns <= now) {
		struct exec_timer *t = l->heap[0];
		exec_timer_cancel(t);
		t->fn(t, t->arg);
		n++;
	}
	l->stats.timers_fired += (uint64_t)n;
	return n;
}

/* --- deferred work ------------------------------------------------------------ */
void exec_defer(struct exec_loop *l, struct exec_work *w, exec_work_fn fn, void *arg)
{
	w->fn = fn;
	w->arg = arg;
	struct exec_work *head = atomic_load_explicit(&l->work, memory_order_relaxed);
	do {
		w->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&l->work, &head, w, memory_order_seq_cst,
							memory_order_relaxed));
	/* Pairs with idle_wait: either it sees the work or we see it idle.
	 * strand_unblock is safe from any thread and wakes an idle
	 * processor. */
	if (atomic_load_explicit(&l->idle, memory_order_seq_cst))
		strand_unblock(l->ls);
}

static int run_work(struct exec_loop *l)
{
	if (!atomic_load_explicit(&l->work, memory_order_relaxed))
		return 0;
	struct exec_work *w = atomic_exchange_explicit(&l->work, NULL, memory_order_acquire);
	struct exec_work *fifo = NULL;
	while (w) {
		struct exec_work *next = w->next;
		w->next = fifo;
		fifo = w;
		w = next;
	}
	int n = 0;
	while (fifo) {
		struct exec_work *next = fifo->next;
		fifo->fn(fifo, fifo->arg);
		fifo = next;
		n++;
	}
	l->stats.work_items += (uint64_t)n;
	return n;
}

/* --- the loop strand ------------------------------------------------------------------ */
static int turn(struct exec_loop *l)
{
	l->stats.turns++;
	int done = run_work(l);
	/* One clock read a turn serves the timers and the readiness check. */
	uint64_t now = l->nheap > 0 || l->nready_pollers > 0 ? sal_now_ns() : 0;
	if (l->nheap > 0)
		done += fire_timers(l, now);

	/* A loop that never idles (busy mode, or blocking under constant load)
	 * still looks at its rarely-ready handles every EXEC_READY_CHECK_NS. */
	if (l->nready_pollers > 0) {
		if (now - l->last_ready_check >= EXEC_READY_CHECK_NS) {
			l->last_ready_check = now;
			strand_cpu_check_handles();
		}
	}
	int units = 0;
	for (struct exec_poller *p = l->pollers; p; p = p->next) {
		if (p->flags & EXEC_POLL_ON_READY) {
			if (!p->ready)
				continue;
			p->ready = false;
		}
		int n = p->poll(p->ctx, EXEC_BUDGET);
		p->polls++;
		p->units += (uint64_t)n;
		units += n;
		/* Between pollers the loop holds nothing: a better strand (or
		 * the end of the quantum) may take the processor here. */
		strand_safe_point();
	}
	l->stats.units += (uint64_t)units;
	done += units;

	strand_quiescent();
	done += rcu_poll();
	return done;
}

/* Blocks until a watched handle is ready, the earliest timer or timeout_ns
 * (<0: EXEC_IDLE_MAX_NS) is due, work is queued or the loop is stopped. */
static void idle_wait(struct exec_loop *l, int64_t timeout_ns)
{
	int64_t wait = timeout_ns < 0 || timeout_ns > EXEC_IDLE_MAX_NS ? EXEC_IDLE_MAX_NS
								       : timeout_ns;
	uint64_t now = sal_now_ns();
	if (l->nheap > 0) {
		uint64_t dl = l->heap[0]->deadline_ns;
		int64_t until = dl > now ? (int64_t)(dl - now) : 0;
		if (until < wait)
			wait = until;
	}
	if (wait <= 0)
		return;
	l->sleep_until = now + (uint64_t)wait;
	strand_will_block();
	atomic_store_explicit(&l->idle, true, memory_order_seq_cst);
	/* Work queued, or a stop, between the turn and the flag is seen here;
	 * after it, the producer unblocks us.  Either way the pending wake is
	 * consumed by the block below, which then returns at once. */
	if (atomic_load_explicit(&l->work, memory_order_seq_cst) ||
	    atomic_load_explicit(&l->stop, memory_order_seq_cst))
		strand_unblock(l->ls);
	else
		l->stats.idle_waits++;
	strand_block_timeout((uint64_t)wait);
	atomic_store_explicit(&l->idle, false, memory_order_relaxed);
	l->last_ready_check = sal_now_ns();
}

/* Ends a run: the processor stops as soon as nothing else is runnable,
 * and the next run unblocks the loop strand here. */
static void park(struct exec_loop *l)
{
	strand_cpu_stop(l->cpu);
	strand_will_block();
	strand_block();
}

static void loop_main(void *arg)
{
	struct exec_loop *l = arg;
	for (;;) {
		if (l->closing)
			return;
		bool stopped = atomic_load_explicit(&l->stop, memory_order_relaxed);
		if (!l->once && stopped) {
			park(l);
			continue;
		}
		int done = turn(l);
		int64_t tmo = l->once ? l->once_timeout : -1;
		bool linger = false;
		if (l->linger_ns && l->mode == EXEC_BLOCKING && !l->once) {
			/* Lingering: a blocking loop that just did work polls on
			 * for linger_ns before it sleeps, so the packets of a
			 * conversation that come back within that time (the
			 * peer's next segment, the next connection) find it
			 * awake instead of paying a wake-up each.  Counted
			 * from the end of the turn that did the work: the
			 * turn's own clock read is from its start, and a turn
			 * may take longer than the linger. */
			uint64_t now = sal_now_ns();
			if (done > 0)
				l->last_work_ns = now;
			else if (now - l->last_work_ns < l->linger_ns)
				linger = true;
			if (linger)
				l->stats.linger_turns++;
		}
		if (done > 0 || tmo == 0 || l->mode == EXEC_BUSY_POLL || linger) {
			/* Busy, or under load: other strands get the processor
			 * between turns. */
			if (!l->once)
				strand_yield();
		} else if (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
			idle_wait(l, tmo);
		}
		if (l->once) {
			l->once_done = done;
			park(l);
		}
	}
}

/* --- running ------------------------------------------------------------------------- */
int exec_loop_run_once(struct exec_loop *l, int64_t timeout_ns)
{
	if (cur_loop != l)
		exec_loop_attach(l);
	l->once = true;
	l->once_timeout = timeout_ns;
	l->once_done = 0;
	strand_unblock(l->ls);
	strand_cpu_run(l->cpu);
	return l->once_done;
}

void exec_loop_run(struct exec_loop *l)
{
	exec_loop_attach(l);
	atomic_store(&l->stop, false);
	l->once = false;
	strand_unblock(l->ls);
	strand_cpu_run(l->cpu);
}

void exec_loop_stop(struct exec_loop *l)
{
	atomic_store_explicit(&l->stop, true, memory_order_seq_cst);
	if (atomic_load_explicit(&l->idle, memory_order_seq_cst))
		strand_unblock(l->ls);
}

void exec_loop_stats(const struct exec_loop *l, struct exec_stats *out) { *out = l->stats; }
