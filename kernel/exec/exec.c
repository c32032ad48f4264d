/*
 * exec.c - run loops, timers and deferred work (contract in exec.h).
 *
 * Timers live in a binary min-heap per loop (arm and cancel O(log n)); the
 * heap array grows on the control path and, rarely, when a timer is armed
 * past its capacity (doubling, so amortized nothing per packet).
 * Deferred work is a lock-free multi-producer stack that the loop takes
 * whole each turn and reverses, so work runs in the order it was queued.
 */
#include "kernel/exec/exec.h"

#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"

#include <stdatomic.h>

#define EXEC_BUDGET 64
#define EXEC_IDLE_MAX_NS 1000000000ll

struct exec_loop {
	char name[32];
	enum exec_mode mode;
	struct exec_poller *pollers;
	struct sal_waitset *ws;
	struct exec_timer **heap;
	uint32_t nheap, capheap;
	_Atomic(struct exec_work *) work;
	_Atomic bool sleeping;
	_Atomic bool stop;
	unsigned nready_pollers;     /* pollers with EXEC_POLL_ON_READY */
	uint64_t last_ready_check;   /* busy mode: last zero-timeout wait */
	struct exec_stats stats;
};

static _Thread_local struct exec_loop *cur_loop;

struct exec_loop *exec_loop_new(const char *name, enum exec_mode mode)
{
	sal_init();
	struct exec_loop *l = sal_calloc(1, sizeof *l);
	if (!l)
		return NULL;
	sal_snprintf(l->name, sizeof l->name, "%s", name ? name : "loop");
	l->mode = mode;
	l->ws = sal_waitset_new();
	l->capheap = 64;
	l->heap = sal_calloc(l->capheap, sizeof *l->heap);
	if (!l->ws || !l->heap) {
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
	sal_waitset_free(l->ws);
	sal_free(l->heap);
	sal_free(l);
}

void exec_loop_set_mode(struct exec_loop *l, enum exec_mode mode) { l->mode = mode; }
enum exec_mode exec_loop_mode(const struct exec_loop *l) { return l->mode; }
const char *exec_loop_name(const struct exec_loop *l) { return l->name; }
struct exec_loop *exec_current(void) { return cur_loop; }

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

int exec_poller_add(struct exec_loop *l, struct exec_poller *p)
{
	if (p->wait_handle >= 0 && sal_waitset_add(l->ws, p->wait_handle, p) != 0)
		return -1;
	if (p->flags & EXEC_POLL_ON_READY) {
		if (p->wait_handle < 0)
			return -1;
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
			if (p->wait_handle >= 0)
				sal_waitset_del(l->ws, p->wait_handle);
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
	} while (!atomic_compare_exchange_weak_explicit(&l->work, &head, w, memory_order_release,
							memory_order_relaxed));
	if (atomic_load_explicit(&l->sleeping, memory_order_seq_cst))
		sal_waitset_wake(l->ws);
}

static int run_work(struct exec_loop *l)
{
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

/* --- the loop ---------------------------------------------------------------------- */
/* Waits up to timeout_ns and marks the EXEC_POLL_ON_READY pollers whose
 * handles are ready (device pollers are polled every turn anyway). */
static void collect_ready(struct exec_loop *l, int64_t timeout_ns)
{
	void *ready[16];
	int n = sal_wait(l->ws, timeout_ns, ready, 16);
	for (int i = 0; i < n; i++) {
		struct exec_poller *p = ready[i];
		if (p->flags & EXEC_POLL_ON_READY)
			p->ready = true;
	}
}

int exec_loop_run_once(struct exec_loop *l, int64_t timeout_ns)
{
	if (cur_loop != l)
		exec_loop_attach(l);
	l->stats.turns++;
	int done = run_work(l);
	done += fire_timers(l, sal_now_ns());

	/* A loop that never idles (busy mode, or blocking under constant load)
	 * still looks at its rarely-ready handles every EXEC_READY_CHECK_NS. */
	if (l->nready_pollers > 0) {
		uint64_t now = sal_now_ns();
		if (now - l->last_ready_check >= EXEC_READY_CHECK_NS) {
			l->last_ready_check = now;
			collect_ready(l, 0);
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
	}
	l->stats.units += (uint64_t)units;
	done += units;

	rcu_quiescent();
	done += rcu_poll();

	if (done > 0 || timeout_ns == 0 || l->mode == EXEC_BUSY_POLL)
		return done;
	if (atomic_load_explicit(&l->stop, memory_order_relaxed))
		return 0;

	int64_t wait = timeout_ns < 0 || timeout_ns > EXEC_IDLE_MAX_NS ? EXEC_IDLE_MAX_NS
								       : timeout_ns;
	if (l->nheap > 0) {
		uint64_t now = sal_now_ns(), dl = l->heap[0]->deadline_ns;
		int64_t until = dl > now ? (int64_t)(dl - now) : 0;
		if (until < wait)
			wait = until;
	}
	atomic_store_explicit(&l->sleeping, true, memory_order_seq_cst);
	/* Work queued between the run above and the flag is seen here. */
	if (atomic_load_explicit(&l->work, memory_order_seq_cst) == NULL && wait > 0) {
		l->stats.idle_waits++;
		rcu_thread_offline();
		collect_ready(l, wait);
		rcu_thread_online();
		l->last_ready_check = sal_now_ns();
	}
	atomic_store_explicit(&l->sleeping, false, memory_order_relaxed);
	return done;
}

void exec_loop_run(struct exec_loop *l)
{
	exec_loop_attach(l);
	atomic_store(&l->stop, false);
	while (!atomic_load_explicit(&l->stop, memory_order_relaxed))
		exec_loop_run_once(l, -1);
}

void exec_loop_stop(struct exec_loop *l)
{
	atomic_store(&l->stop, true);
	sal_waitset_wake(l->ws);
}

void exec_loop_stats(const struct exec_loop *l, struct exec_stats *out) { *out = l->stats; }
