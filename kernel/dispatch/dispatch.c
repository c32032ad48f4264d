/*
 * dispatch.c - bindings, authorization, publication of tables, atomic swap,
 * asynchronous handlers and inspection (model and costs in dispatch.h and
 * docs/dispatcher.md).
 *
 * Every change of an event's binding set, whether an install, an uninstall
 * or a transaction, goes through commit(): it builds each touched event's
 * new table (bindings in run order plus the compiled demux) while holding
 * the writer mutex, publishes them all, and retires the old tables through
 * RCU.  Raises read only the published table and the bindings it points
 * to, both immutable while published (except a binding's dead flag).
 *
 * Invariant: a binding is freed only after (a) no published table points to
 * it and a grace period has passed, and (b) its queued asynchronous runs
 * have finished; the reference count holds one reference for (a) and one
 * per queued run.
 */
#include <stdalign.h>

#include "kernel/dispatch/disp_internal.h"

#include "kernel/sal/sal.h"
#include "kernel/strand/strand.h"

enum { B_CREATED, B_INSTALLED, B_REMOVED };

const struct disp_leaf disp_empty_leaf = {0, 0, NULL};

static struct sal_mutex *wlock;
static _Atomic int wlock_once;
static _Atomic long live_bindings;
static _Atomic uint64_t async_overflows;
static _Atomic uint64_t bounded_runs, bounded_overruns, bounded_removed, bounded_unbounded;
static uint64_t install_seq;

static void writer_lock(void)
{
	/* The first use may race between threads: settle who creates it. */
	if (atomic_load_explicit(&wlock_once, memory_order_acquire) != 2) {
		int expect = 0;
		if (atomic_compare_exchange_strong(&wlock_once, &expect, 1)) {
			wlock = sal_mutex_new();
			atomic_store_explicit(&wlock_once, 2, memory_order_release);
		}
		while (atomic_load_explicit(&wlock_once, memory_order_acquire) != 2)
			sal_cpu_relax();
	}
	sal_mutex_lock(wlock);
}

static void writer_unlock(void) { sal_mutex_unlock(wlock); }

const char *disp_strerror(int err)
{
	switch (err) {
	case DISP_OK:
		return "ok";
	case DISP_EINVAL:
		return "invalid binding";
	case DISP_ENOMEM:
		return "out of memory or guard set too complex";
	case DISP_EDENIED:
		return "install denied by the event's authorizer";
	case DISP_ENOENT:
		return "binding not installed";
	case DISP_EBUSY:
		return "binding already installed or queued";
	default:
		return "unknown dispatcher error";
	}
}

/* --- arena ------------------------------------------------------------------- */
struct disp_arena {
	struct arena_chunk *head;
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	alignas(16) unsigned char mem[];
};

struct disp_arena *disp_arena_new(void) { return sal_calloc(1, sizeof(struct disp_arena)); }

void *disp_arena_alloc(struct disp_arena *a, size_t size, size_t align)
{
	struct arena_chunk *c = a->head;
	if (c) {
		size_t at = (c->used + align - 1) & ~(align - 1);
		if (at + size <= c->size) {
			c->used = at + size;
			return c->mem + at;
		}
	}
	size_t sz = size + align > 16384 ? size + align : 16384;
	c = sal_alloc(sizeof(*c) + sz);
	if (!c)
		return NULL;
	c->size = sz;
	c->next = a->head;
	a->head = c;
	size_t at = 0;
	c->used = size;
	return c->mem + at;
}

void disp_arena_adopt(struct disp_arena *dst, struct disp_arena *src)
{
	while (src->head) {
		struct arena_chunk *c = src->head;
		src->head = c->next;
		/* Behind dst's current chunk, which keeps taking allocations. */
		if (dst->head) {
			c->next = dst->head->next;
			dst->head->next = c;
		} else {
			c->next = NULL;
			dst->head = c;
		}
	}
	sal_free(src);
}

void disp_arena_free(struct disp_arena *a)
{
	if (!a)
		return;
	while (a->head) {
		struct arena_chunk *c = a->head;
		a->head = c->next;
		sal_free(c);
	}
	sal_free(a);
}

/* --- bindings -------------------------------------------------------------------- */
struct disp_async {
	uint32_t nslots, stride, args_off;
	_Atomic uint32_t next;
	unsigned char *mem;
};

/* A slot is one run's arguments (after the header, at args_off).  A
 * bounded run also keeps its raiser, its handler strand and who of the two
 * finished first (BR_*). */
struct async_slot {
	struct exec_work w;
	struct disp_binding *b;
	_Atomic uint32_t busy;
	_Atomic int br_state;
	struct strand *waiter;
};

enum { BR_RUNNING, BR_DONE, BR_ABANDONED };

static void binding_free(struct disp_binding *b)
{
	if (b->async) {
		sal_free(b->async->mem);
		sal_free(b->async);
	}
	sal_free(b->desc);
	sal_free(b);
	atomic_fetch_sub(&live_bindings, 1);
}

static void binding_release(struct disp_binding *b)
{
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		binding_free(b);
}

static int async_setup(struct disp_binding *b)
{
	const struct disp_ops *ops = b->ev->ops;
	uint32_t align = ops->args_align > 16 ? ops->args_align : 16;
	uint32_t off = (sizeof(struct async_slot) + align - 1) & ~(align - 1);
	uint32_t stride = (off + ops->args_size + align - 1) & ~(align - 1);
	uint32_t n = b->ev->opts->async_slots ? b->ev->opts->async_slots : DISP_ASYNC_SLOTS;
	struct disp_async *as = sal_calloc(1, sizeof(*as));
	if (!as)
		return DISP_ENOMEM;
	as->mem = sal_alloc_aligned(align, (size_t)n * stride);
	if (!as->mem) {
		sal_free(as);
		return DISP_ENOMEM;
	}
	memset(as->mem, 0, (size_t)n * stride);
	as->nslots = n;
	as->stride = stride;
	as->args_off = off;
	for (uint32_t i = 0; i < n; i++)
		((struct async_slot *)(as->mem + (size_t)i * stride))->b = b;
	b->async = as;
	return DISP_OK;
}

int disp_binding_create(struct disp_event *ev, spin_ident_t installer,
			const struct disp_spec *spec, struct disp_binding **out)
{
	if (!ev || !spec || !spec->handler || !out)
		return DISP_EINVAL;
	if ((spec->options & DISP_FIRST) && (spec->options & DISP_LAST))
		return DISP_EINVAL;
	if (spec->options &
	    ~(unsigned)(DISP_FIRST | DISP_LAST | DISP_CANCEL | DISP_ASYNC | DISP_BOUNDED))
		return DISP_EINVAL;
	if ((spec->options & DISP_BOUNDED) &&
	    ((spec->options & DISP_ASYNC) || spec->bound_ns == 0))
		return DISP_EINVAL;
	if (spec->nterms > DISP_MAX_TERMS || (spec->nterms && !spec->terms))
		return DISP_EINVAL;
	for (unsigned i = 0; i < spec->nterms; i++)
		if (!disp_term_valid(&spec->terms[i]))
			return DISP_EINVAL;
	struct disp_binding *b = sal_calloc(1, sizeof(*b));
	if (!b)
		return DISP_ENOMEM;
	atomic_fetch_add(&live_bindings, 1);
	b->fn = spec->handler;
	b->closure = spec->closure;
	b->options = spec->options;
	b->ev = ev;
	b->installer = installer;
	b->state = B_CREATED;
	atomic_init(&b->refs, 1);
	if (spec->guard) {
		b->pg[0] = (struct disp_pguard){spec->guard, spec->guard_closure, NULL};
		b->npg = 1;
	}
	b->own_npg = b->npg;
	if (spec->nterms)
		memcpy(b->terms, spec->terms, spec->nterms * sizeof(*spec->terms));
	b->nterms = b->own_nterms = spec->nterms;
	if (spec->desc && !(b->desc = sal_strdup(spec->desc))) {
		binding_free(b);
		return DISP_ENOMEM;
	}
	b->bound_ns = spec->bound_ns;
	b->max_overruns = spec->max_overruns;
	if ((spec->options & (DISP_ASYNC | DISP_BOUNDED)) && async_setup(b) != DISP_OK) {
		binding_free(b);
		return DISP_ENOMEM;
	}
	/* Overruns are noticed when the handler's strand is preempted. */
	if ((spec->options & DISP_BOUNDED) && strand_preempt_start(DISP_BOUND_QUANTUM_NS) != 0) {
		binding_free(b);
		return DISP_ENOMEM;
	}
	*out = b;
	return DISP_OK;
}

void disp_binding_destroy(struct disp_binding *b)
{
	if (!b)
		return;
	if (b->state == B_INSTALLED)
		sal_panic("disp_binding_destroy of an installed binding (use disp_uninstall)");
	binding_release(b);
}

/* --- authorization ------------------------------------------------------------ */
int disp_auth_impose_terms(struct disp_auth *a, const struct disp_term *terms, unsigned n)
{
	struct disp_binding *b = a->b;
	if (b->nterms + n > DISP_MAX_TERMS)
		return DISP_EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!disp_term_valid(&terms[i]))
			return DISP_EINVAL;
	memcpy(&b->terms[b->nterms], terms, n * sizeof(*terms));
	b->nterms += n;
	return DISP_OK;
}

int disp_auth_impose_guard(struct disp_auth *a, disp_fn_t guard, void *closure, const char *desc)
{
	struct disp_binding *b = a->b;
	if (!guard || b->npg >= DISP_MAX_PGUARDS)
		return DISP_EINVAL;
	b->pg[b->npg++] = (struct disp_pguard){guard, closure, desc};
	return DISP_OK;
}

static const struct spin_interface *event_iface(struct disp_event *ev)
{
	const struct disp_event_opts *o = ev->opts;
	if (o->iface)
		return o->iface;
	if (!o->owner || !o->owner->exports)
		return NULL;
	for (const struct spin_interface *const *ip = o->owner->exports; *ip; ip++)
		for (struct disp_event *const *e = (*ip)->events; e && *e; e++)
			if (*e == ev)
				return *ip;
	return NULL;
}

/* Runs the event's and the interface's authorizers on b (no lock held, so
 * they may call back into the dispatcher).  Guards imposed by an earlier,
 * failed attempt are dropped first. */
static int authorize(struct disp_binding *b)
{
	struct disp_event *ev = b->ev;
	b->nterms = b->own_nterms;
	b->npg = b->own_npg;
	struct disp_spec spec = {
	    .handler = b->fn,
	    .closure = b->closure,
	    .guard = b->own_npg ? b->pg[0].fn : NULL,
	    .guard_closure = b->own_npg ? b->pg[0].closure : NULL,
	    .terms = b->terms,
	    .nterms = b->own_nterms,
	    .options = b->options,
	    .desc = b->desc,
	};
	struct disp_auth a = {.b = b, .installer = b->installer, .spec = &spec};
	if (ev->opts->authorize && ev->opts->authorize(b->installer, ev, &a) != 0)
		goto deny;
	const struct spin_interface *ifc = event_iface(ev);
	if (ifc && ifc->authorize_install && ifc->authorize_install(b->installer, ev, &a) != 0)
		goto deny;
	return DISP_OK;
deny:
	b->nterms = b->own_nterms;
	b->npg = b->own_npg;
	return DISP_EDENIED;
}

/* --- tables ---------------------------------------------------------------------- */
static unsigned group_of(const struct disp_binding *b)
{
	return (b->options & DISP_FIRST) ? 0 : (b->options & DISP_LAST) ? 2 : 1;
}

/* Builds the table for bindings list[0..n) (in install order). */
static int table_build(struct disp_event *ev, struct disp_binding *const *list, uint32_t n,
		       struct disp_table **out)
{
	struct disp_arena *a = disp_arena_new();
	if (!a)
		return DISP_ENOMEM;
	struct disp_table *t = disp_arena_alloc(a, sizeof(*t), alignof(struct disp_table));
	struct disp_binding **b = disp_arena_alloc(a, (n + 1) * sizeof(*b), alignof(void *));
	if (!t || !b) {
		disp_arena_free(a);
		return DISP_ENOMEM;
	}
	memset(t, 0, sizeof(*t));
	t->ev = ev;
	t->arena = a;
	t->subject = ev->opts->subject;
	uint32_t k = 0;
	for (unsigned g = 0; g < 3; g++)
		for (uint32_t i = 0; i < n; i++)
			if (group_of(list[i]) == g)
				b[k++] = list[i];
	t->b = b;
	t->nb = n;
	int err = disp_demux_build(t, a);
	if (err != DISP_OK) {
		disp_arena_free(a);
		return err;
	}
	if (n == 0) {
		t->fn = ev->ops->nobody;
		t->closure = t;
	} else if (n == 1 && b[0]->nterms == 0 && b[0]->npg == 0 && !(b[0]->options & (DISP_ASYNC | DISP_BOUNDED))) {
		/* The promised fast path: the raise calls the handler itself. */
		t->fn = b[0]->fn;
		t->closure = b[0]->closure;
	} else {
		t->fn = ev->ops->dispatch;
		t->closure = t;
	}
	*out = t;
	return DISP_OK;
}

static void table_free(struct disp_table *t)
{
	if (t && t->arena)
		disp_arena_free(t->arena);  /* the table lives in its arena */
}

static void table_free_cb(struct rcu_head *h)
{
	table_free((struct disp_table *)((char *)h - offsetof(struct disp_table, rcu)));
}

/* The grace period has passed: no raise can reach b any more.  Queued
 * asynchronous runs still hold references; marking b dead makes them skip
 * the handler. */
static void binding_retire(struct disp_binding *b)
{
	atomic_store_explicit(&b->dead, 1, memory_order_release);
	binding_release(b);
}

static void binding_retire_cb(struct rcu_head *h)
{
	binding_retire((struct disp_binding *)((char *)h - offsetof(struct disp_binding, rcu)));
}

/* --- commit: the one writer path -------------------------------------------------- */
struct evchange {
	struct disp_event *ev;
	struct disp_table *newt, *oldt;
	struct disp_binding **list;
	uint32_t n;
};

static const struct disp_binding *find_primary(struct disp_event *ev)
{
	spin_ident_t owner = ev->opts->owner;
	if (!owner)
		return NULL;
	for (struct disp_binding *b = ev->bindings; b; b = b->next)
		if (b->installer == owner)
			return b;
	return NULL;
}

static int commit(struct disp_binding *const *add, unsigned nadd, struct disp_binding *const *rem,
		  unsigned nrem, bool mark_dead)
{
	for (unsigned i = 0; i < nadd; i++) {
		int err = authorize(add[i]);
		if (err != DISP_OK)
			return err;
	}

	/* Run callbacks whose grace period has passed, so that hosts without
	 * a run loop (tests, tools) do not pile up retired tables. */
	if (!rcu_thread_is_online())
		rcu_poll();

	writer_lock();
	int err = DISP_OK;
	unsigned nev = 0;
	struct evchange *ch = sal_calloc(nadd + nrem + 1, sizeof(*ch));
	if (!ch) {
		err = DISP_ENOMEM;
		goto unlock;
	}
	for (unsigned i = 0; i < nadd; i++) {
		if (add[i]->state != B_CREATED) {
			err = DISP_EBUSY;
			goto unlock;
		}
		for (unsigned j = 0; j < i; j++)
			if (add[j] == add[i]) {
				err = DISP_EBUSY;
				goto unlock;
			}
	}
	for (unsigned i = 0; i < nrem; i++) {
		if (rem[i]->state != B_INSTALLED) {
			err = DISP_ENOENT;
			goto unlock;
		}
		for (unsigned j = 0; j < i; j++)
			if (rem[j] == rem[i]) {
				err = DISP_ENOENT;
				goto unlock;
			}
	}

	/* The touched events and their new binding lists, in install order:
	 * the survivors, then the additions. */
	for (unsigned i = 0; i < nadd + nrem; i++) {
		struct disp_event *ev = i < nadd ? add[i]->ev : rem[i - nadd]->ev;
		unsigned e;
		for (e = 0; e < nev; e++)
			if (ch[e].ev == ev)
				break;
		if (e == nev)
			ch[nev++].ev = ev;
	}
	for (unsigned e = 0; e < nev; e++) {
		struct disp_event *ev = ch[e].ev;
		ch[e].list = sal_alloc((ev->nbindings + nadd + 1) * sizeof(*ch[e].list));
		if (!ch[e].list) {
			err = DISP_ENOMEM;
			goto unlock;
		}
		uint32_t n = 0;
		for (struct disp_binding *b = ev->bindings; b; b = b->next) {
			bool gone = false;
			for (unsigned r = 0; r < nrem && !gone; r++)
				gone = rem[r] == b;
			if (!gone)
				ch[e].list[n++] = b;
		}
		for (unsigned i = 0; i < nadd; i++)
			if (add[i]->ev == ev)
				ch[e].list[n++] = add[i];
		ch[e].n = n;
		err = table_build(ev, ch[e].list, n, &ch[e].newt);
		if (err != DISP_OK)
			goto unlock;
	}

	/* Nothing can fail from here on. */
	for (unsigned i = 0; i < nadd; i++) {
		add[i]->state = B_INSTALLED;
		add[i]->seq = ++install_seq;
	}
	for (unsigned i = 0; i < nrem; i++) {
		rem[i]->state = B_REMOVED;
		if (mark_dead)
			atomic_store_explicit(&rem[i]->dead, 1, memory_order_release);
	}
	for (unsigned e = 0; e < nev; e++) {
		struct disp_event *ev = ch[e].ev;
		struct disp_binding **link = &ev->bindings;
		for (uint32_t i = 0; i < ch[e].n; i++) {
			*link = ch[e].list[i];
			link = &ch[e].list[i]->next;
		}
		*link = NULL;
		ev->nbindings = ch[e].n;
		__atomic_store_n(&ev->primary, find_primary(ev), __ATOMIC_RELEASE);
		ch[e].oldt = atomic_load_explicit(&ev->table, memory_order_relaxed);
		rcu_publish(ev->table, ch[e].newt);
		ch[e].newt = NULL;
	}

unlock:
	writer_unlock();
	if (!ch)
		return err;
	for (unsigned e = 0; e < nev; e++) {
		table_free(ch[e].newt);    /* only on failure */
		sal_free(ch[e].list);
	}
	if (err == DISP_OK) {
		bool now = nrem > 0 && !rcu_thread_is_online();
		if (now)
			rcu_synchronize();
		for (unsigned e = 0; e < nev; e++) {
			struct disp_table *old = ch[e].oldt;
			if (!old || !old->arena)
				continue;   /* the event's static empty table */
			if (now)
				table_free(old);
			else
				rcu_call(&old->rcu, table_free_cb);
		}
		for (unsigned i = 0; i < nrem; i++) {
			if (now)
				binding_retire(rem[i]);
			else
				rcu_call(&rem[i]->rcu, binding_retire_cb);
		}
	} else {
		for (unsigned i = 0; i < nadd; i++) {
			add[i]->nterms = add[i]->own_nterms;
			add[i]->npg = add[i]->own_npg;
		}
	}
	sal_free(ch);
	return err;
}

int disp_binding_install(struct disp_binding *b)
{
	if (!b)
		return DISP_EINVAL;
	return commit(&b, 1, NULL, 0, false);
}

int disp_install(struct disp_event *ev, spin_ident_t installer, const struct disp_spec *spec,
		 struct disp_binding **out)
{
	struct disp_binding *b;
	int err = disp_binding_create(ev, installer, spec, &b);
	if (err != DISP_OK)
		return err;
	err = commit(&b, 1, NULL, 0, false);
	if (err != DISP_OK) {
		disp_binding_destroy(b);
		return err;
	}
	if (out)
		*out = b;
	return DISP_OK;
}

int disp_uninstall(struct disp_binding *b)
{
	if (!b)
		return DISP_EINVAL;
	/* Already taken out by its overruns: only the owner's handle is left. */
	writer_lock();
	bool gone = b->state == B_REMOVED && atomic_load(&b->overrun_removed);
	writer_unlock();
	if (gone) {
		binding_release(b);
		return DISP_OK;
	}
	return commit(NULL, 0, &b, 1, true);
}

/* --- transactions -------------------------------------------------------------- */
struct disp_txn {
	struct disp_binding **add, **rem;
	unsigned nadd, nrem, capadd, caprem;
};

struct disp_txn *disp_txn_begin(void) { return sal_calloc(1, sizeof(struct disp_txn)); }

static int push(struct disp_binding ***v, unsigned *n, unsigned *cap, struct disp_binding *b)
{
	if (*n == *cap) {
		unsigned nc = *cap ? *cap * 2 : 16;
		struct disp_binding **nv = sal_realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return DISP_ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = b;
	return DISP_OK;
}

int disp_txn_add(struct disp_txn *t, struct disp_binding *b)
{
	if (!t || !b)
		return DISP_EINVAL;
	return push(&t->add, &t->nadd, &t->capadd, b);
}

int disp_txn_remove(struct disp_txn *t, struct disp_binding *b)
{
	if (!t || !b)
		return DISP_EINVAL;
	return push(&t->rem, &t->nrem, &t->caprem, b);
}

void disp_txn_abort(struct disp_txn *t)
{
	if (!t)
		return;
	sal_free(t->add);
	sal_free(t->rem);
	sal_free(t);
}

int disp_txn_commit(struct disp_txn *t)
{
	if (!t)
		return DISP_EINVAL;
	int err = commit(t->add, t->nadd, t->rem, t->nrem, false);
	disp_txn_abort(t);
	return err;
}

/* --- asynchronous handlers ------------------------------------------------------ */
static struct async_slot *slot_of_args(const struct disp_binding *b, void *args)
{
	return (struct async_slot *)((unsigned char *)args - b->async->args_off);
}

static void *slot_claim(struct disp_binding *b)
{
	struct disp_async *as = b->async;
	/* A few tries from a rotating start: slots are claimed with one
	 * exchange, so raisers on several threads never lock. */
	for (unsigned tries = 0; tries < 4; tries++) {
		uint32_t i = atomic_fetch_add_explicit(&as->next, 1, memory_order_relaxed) %
			     as->nslots;
		struct async_slot *s = (struct async_slot *)(as->mem + (size_t)i * as->stride);
		if (!atomic_exchange_explicit(&s->busy, 1, memory_order_acquire))
			return (unsigned char *)s + as->args_off;
	}
	return NULL;
}

void *disp__async_get(struct disp_binding *b)
{
	void *args = exec_current() ? slot_claim(b) : NULL;
	if (!args)
		atomic_fetch_add_explicit(&async_overflows, 1, memory_order_relaxed);
	return args;
}

static void async_main(void *arg)
{
	struct async_slot *s = arg;
	s->b->ev->ops->async_run(&s->w, s);
}

/* One strand per run, from the loop processor's stack pool.  Should no
 * strand be had (out of memory), the run is queued as deferred work on the
 * loop strand instead, as before strands. */
void disp__async_post(struct disp_binding *b, void *args)
{
	struct async_slot *s = slot_of_args(b, args);
	struct exec_loop *l = exec_current();
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	const struct strand_attr a = {.name = "async", .prio = STRAND_PRIO_DEFAULT};
	if (!strand_spawn(exec_loop_cpu(l), async_main, s, &a))
		exec_defer(l, &s->w, b->ev->ops->async_run, s);
}

struct disp_binding *disp__async_begin(struct exec_work *w, void **args)
{
	struct async_slot *s = (struct async_slot *)w;
	*args = (unsigned char *)s + s->b->async->args_off;
	return s->b;
}

void disp__async_end(struct disp_binding *b, void *args)
{
	struct async_slot *s = slot_of_args(b, args);
	atomic_store_explicit(&s->busy, 0, memory_order_release);
	binding_release(b);
}

uint64_t disp_async_overflows(void) { return atomic_load(&async_overflows); }

/* --- bounded handlers -------------------------------------------------------------
 * The raiser and the handler's strand share one processor, so the raiser
 * runs only when the handler strand blocks, yields or ends; the slot's
 * br_state says which of the two is done with the slot first (the other
 * frees it): the handler strand (BR_DONE: the raiser reads the result) or
 * the raiser at the deadline (BR_ABANDONED). */
void *disp__bounded_get(struct disp_binding *b)
{
	void *args = strand_self() ? slot_claim(b) : NULL;
	if (!args)
		atomic_fetch_add_explicit(&bounded_unbounded, 1, memory_order_relaxed);
	return args;
}

static void slot_free(struct async_slot *s)
{
	struct disp_binding *b = s->b;
	atomic_store_explicit(&s->busy, 0, memory_order_release);
	binding_release(b);
}

static void bounded_main(void *arg)
{
	struct async_slot *s = arg;
	s->b->ev->ops->bounded_run(s->b, (unsigned char *)s + s->b->async->args_off);
}

/* Runs on the handler's strand however it ends (return or stop). */
static void bounded_exit(void *arg)
{
	struct async_slot *s = arg;
	int expect = BR_RUNNING;
	if (atomic_compare_exchange_strong(&s->br_state, &expect, BR_DONE))
		strand_unblock(s->waiter);
	else
		slot_free(s);
}

/* After max_overruns: out of the event by atomic swap.  The extra reference
 * is the owner's handle, which outlives the removal. */
static void bounded_remove(struct disp_binding *b)
{
	if (atomic_exchange(&b->overrun_removed, 1))
		return;
	atomic_fetch_add(&b->refs, 1);
	atomic_store_explicit(&b->dead, 1, memory_order_release);
	struct disp_txn *t = disp_txn_begin();
	int err = t ? disp_txn_remove(t, b) : DISP_ENOMEM;
	if (err == DISP_OK)
		err = disp_txn_commit(t);   /* frees t */
	else
		disp_txn_abort(t);
	if (err != DISP_OK) {
		/* Uninstalled meanwhile by its owner (or no memory): the
		 * owner's uninstall does the rest. */
		atomic_store(&b->overrun_removed, 0);
		binding_release(b);
		return;
	}
	atomic_fetch_add(&bounded_removed, 1);
}

bool disp__bounded_call(struct disp_binding *b, void *args)
{
	struct async_slot *s = slot_of_args(b, args);
	struct strand *me = strand_self();
	int prio = strand_prio(me) > 0 ? strand_prio(me) - 1 : 0;
	const struct strand_attr a = {.name = "bounded", .prio = prio, .on_exit = bounded_exit};
	atomic_fetch_add_explicit(&bounded_runs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	s->waiter = me;
	atomic_store(&s->br_state, BR_RUNNING);
	struct strand *h = strand_spawn(strand_cpu_self(), bounded_main, s, &a);
	if (!h) {
		atomic_fetch_add_explicit(&bounded_unbounded, 1, memory_order_relaxed);
		b->ev->ops->bounded_run(b, args);
		atomic_store(&s->br_state, BR_DONE);
		return true;
	}
	/* The raise's table and bindings stay ours across the wait.  Other
	 * wake-ups of the raiser (a loop strand's ready devices) are spurious:
	 * only the handler's end or the deadline counts. */
	uint64_t deadline = sal_now_ns() + b->bound_ns;
	strand_rcu_hold();
	for (;;) {
		uint64_t now = sal_now_ns();
		if (atomic_load(&s->br_state) != BR_RUNNING || now >= deadline)
			break;
		strand_will_block();
		if (atomic_load(&s->br_state) != BR_RUNNING)
			strand_unblock(me);
		strand_block_timeout(deadline - now);
	}
	strand_rcu_release();
	int expect = BR_RUNNING;
	if (!atomic_compare_exchange_strong(&s->br_state, &expect, BR_ABANDONED))
		return true;
	strand_stop(h);
	atomic_fetch_add_explicit(&bounded_overruns, 1, memory_order_relaxed);
	unsigned n = atomic_fetch_add(&b->overruns, 1) + 1;
	if (b->max_overruns && n >= b->max_overruns)
		bounded_remove(b);
	return false;
}

void disp__bounded_done(struct disp_binding *b, void *args)
{
	slot_free(slot_of_args(b, args));
}

void disp_bounded_stats(struct disp_bounded_stats *out)
{
	out->runs = atomic_load(&bounded_runs);
	out->overruns = atomic_load(&bounded_overruns);
	out->removed = atomic_load(&bounded_removed);
	out->unbounded = atomic_load(&bounded_unbounded);
}

unsigned disp_binding_overruns(const struct disp_binding *b) { return atomic_load(&b->overruns); }

/* --- inspection --------------------------------------------------------------- */
int disp_list(struct disp_event *ev, struct disp_binding_info *out, unsigned max)
{
	writer_lock();
	const struct disp_binding *prim = ev->primary;
	/* Run order: the published table has it. */
	const struct disp_table *t = atomic_load_explicit(&ev->table, memory_order_acquire);
	uint32_t n = t->nb;
	for (uint32_t i = 0; i < n && i < max; i++) {
		const struct disp_binding *b = t->b[i];
		out[i] = (struct disp_binding_info){
		    .binding = b,
		    .installer = b->installer,
		    .options = b->options,
		    .primary = b == prim,
		    .handler = b->fn,
		    .closure = b->closure,
		    .nterms = b->nterms,
		    .npguards = b->npg,
		    .desc = b->desc,
		};
	}
	writer_unlock();
	return (int)n;
}

static const char *match_op(const struct disp_term *t) { return t->match == DISP_MATCH_EQ ? "==" : t->match == DISP_MATCH_RANGE ? " in " : "/"; }

int disp_guard_format(const struct disp_binding *b, char *buf, size_t size)
{
	size_t len = 0;
	int n;
#define DISP_FMT(...)                                                           \
	do {                                                                   \
		n = sal_snprintf(len < size ? buf + len : NULL,                \
				 len < size ? size - len : 0, __VA_ARGS__);    \
		if (n > 0)                                                     \
			len += (size_t)n;                                      \
	} while (0)
	if (size)
		buf[0] = '\0';
	for (unsigned i = 0; i < b->nterms; i++) {
		const struct disp_term *t = &b->terms[i];
		DISP_FMT("%s%s[%u:%u", i ? " && " : "",
			 t->field.kind == DISP_FIELD_HDR ? "hdr" : "arg", t->field.offset,
			 t->field.width);
		if (t->field.mask)
			DISP_FMT("&0x%llx", (unsigned long long)t->field.mask);
		DISP_FMT("]%s", match_op(t));
		if (t->match == DISP_MATCH_EQ)
			DISP_FMT("%llu", (unsigned long long)t->lo);
		else if (t->match == DISP_MATCH_RANGE)
			DISP_FMT("[%llu,%llu]", (unsigned long long)t->lo,
				 (unsigned long long)t->hi);
		else
			DISP_FMT("0x%llx/%u", (unsigned long long)t->lo, t->plen);
	}
	for (unsigned i = 0; i < b->npg; i++)
		DISP_FMT("%sguard(%s)", (b->nterms || i) ? " && " : "",
			 b->pg[i].desc ? b->pg[i].desc : (i < b->own_npg && b->desc) ? b->desc : "proc");
	if (!b->nterms && !b->npg)
		DISP_FMT("true");
#undef DISP_FMT
	return (int)len;
}

const struct disp_binding *disp_primary(struct disp_event *ev)
{
	return __atomic_load_n(&ev->primary, __ATOMIC_ACQUIRE);
}

disp_fn_t disp_primary_fn(struct disp_event *ev, void **closure)
{
	const struct disp_binding *b = disp_primary(ev);
	if (closure)
		*closure = b ? b->closure : NULL;
	return b ? b->fn : NULL;
}

extern struct disp_event *const __start_spin_events[] __attribute__((weak));
extern struct disp_event *const __stop_spin_events[] __attribute__((weak));

unsigned disp_event_count(void)
{
	if (!__start_spin_events)
		return 0;
	return (unsigned)(__stop_spin_events - __start_spin_events);
}

struct disp_event *disp_event_at(unsigned i)
{
	return i < disp_event_count() ? __start_spin_events[i] : NULL;
}

struct disp_event *disp_event_find(const char *name)
{
	for (unsigned i = 0; i < disp_event_count(); i++)
		if (strcmp(__start_spin_events[i]->name, name) == 0)
			return __start_spin_events[i];
	return NULL;
}

const char *disp_event_name(const struct disp_event *ev) { return ev->name; }
spin_ident_t disp_event_owner(const struct disp_event *ev) { return ev->opts->owner; }
long disp_live_bindings(void) { return atomic_load(&live_bindings); }

void disp_quiesce(void) { rcu_barrier(); }
