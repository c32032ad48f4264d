/*
 * dispatch.h - SPIN's event dispatcher: typed events, bindings, guards,
 * result combination, asynchronous handlers and atomic swap.
 *
 * An event is a typed procedure that a module declares in its interface:
 *
 *   // link.h
 *   SPIN_EVENT_DECLARE(Link_PacketArrived, int, (struct pkt *, p), (int, ifindex))
 *   // link.c (exactly one translation unit)
 *   SPIN_EVENT_DEFINE(Link_PacketArrived, .owner = &link_module,
 *                     .default_result = 0, .subject = link_subject)
 *
 * which yields
 *   int  Link_PacketArrived_raise(struct pkt *p, int ifindex);
 *   int  Link_PacketArrived_install(spin_ident_t who,
 *            const struct Link_PacketArrived_spec *spec, struct disp_binding **out);
 *   Link_PacketArrived_handler_t  int  (*)(void *closure, struct pkt *, int)
 *   Link_PacketArrived_guard_t    bool (*)(void *closure, struct pkt *, int)
 *   Link_PacketArrived_result_t   int  (*)(int acc, int r, unsigned n)
 *   Link_PacketArrived_default_t  int  (*)(struct pkt *, int)
 *   Link_PacketArrived_primary(void **closure) -> the primary handler
 *   struct disp_event Link_PacketArrived_event   (for the generic calls below)
 *
 * Cost of a raise: one acquire load of the event's published table and one
 * indirect call, always.  With exactly one binding that has no guard and is
 * not asynchronous nor bounded, the call goes straight to the handler: no dispatcher
 * code runs.  Otherwise it goes to the event's typed dispatch function
 * (generated here), which walks the compiled guard demux, then runs the
 * selected bindings.  A raise never locks and never allocates.
 *
 * Parameters: 1 to 6 (type, name) pairs.  A type containing a comma needs a
 * typedef.  The first parameter must be a scalar (normally a pointer): its
 * value, converted to a pointer, is what declarative guards look at (see
 * struct disp_field).
 *
 * Ordering: bindings with DISP_FIRST in install order, then unconstrained
 * bindings in install order, then DISP_LAST ones in install order.  A
 * DISP_CANCEL binding whose guards pass is the last one that raise runs.
 * The raiser gets the last result (or the event's result handler's
 * combination of all results), or the default (handler or value) when no
 * binding ran.
 *
 * Concurrency: every control call (install, uninstall, swap) may be made
 * from any thread, including from a handler during a raise; writers
 * serialize on one mutex.  A raising thread must be a registered RCU reader
 * (run loops are) or otherwise guarantee it does not race an uninstall.
 */
#ifndef SPIN_DISPATCH_H
#define SPIN_DISPATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "kernel/rcu/rcu.h"

/* Control-path results. */
enum disp_err {
	DISP_OK = 0,
	DISP_EINVAL,   /* bad spec: no handler, bad term, too many guards */
	DISP_ENOMEM,
	DISP_EDENIED,  /* an authorizer refused the install */
	DISP_ENOENT,   /* binding not installed / not in this event */
	DISP_EBUSY,    /* binding already installed or in a transaction */
};
const char *disp_strerror(int err);

/* Binding options. */
enum {
	DISP_FIRST = 1u << 0,   /* runs in the first group */
	DISP_LAST = 1u << 1,    /* runs in the last group */
	DISP_CANCEL = 1u << 2,  /* if its guards pass, no later binding runs */
	DISP_ASYNC = 1u << 3,   /* handler runs on a strand of its own; see below */
	DISP_BOUNDED = 1u << 4, /* handler runs on a strand, bounded in time; see below */
};

/* A generic function pointer: every handler and guard is stored as one and
 * converted back to its typed form by the generated code. */
typedef void (*disp_fn_t)(void);

/* --- declarative guards ---------------------------------------------------
 * A term tests one field.  A field is either
 *   DISP_FIELD_HDR: `width` bytes at `offset` from the current layer's
 *     header, read in network byte order.  The header is what the event's
 *     subject callback returns for the first argument; a field that does
 *     not lie wholly inside [hdr, hdr+len) makes the term fail.
 *   DISP_FIELD_ARG: `width` bytes at `offset` in the struct the first
 *     argument points to, read in host byte order (never absent).
 * The value read is ANDed with `mask` (0 means all ones) and then matched:
 *   DISP_MATCH_EQ     value == lo
 *   DISP_MATCH_RANGE  lo <= value <= hi
 *   DISP_MATCH_PREFIX the top `plen` bits of the width*8-bit value equal
 *                     those of lo (an address prefix).
 * A binding's terms are ANDed.  All terms of all bindings of an event are
 * compiled into one decision tree when the binding set changes, so a raise
 * costs about the same with 1 or 5,000 of them. */
enum disp_field_kind { DISP_FIELD_HDR = 1, DISP_FIELD_ARG = 2 };
enum disp_match_kind { DISP_MATCH_EQ = 1, DISP_MATCH_RANGE, DISP_MATCH_PREFIX };

struct disp_field {
	uint8_t kind;   /* enum disp_field_kind */
	uint8_t width;  /* 1, 2, 4 or 8 */
	uint16_t pad_;
	uint32_t offset;
	uint64_t mask;  /* 0: no mask */
};

struct disp_term {
	struct disp_field field;
	uint8_t match;  /* enum disp_match_kind */
	uint8_t plen;   /* prefix length in bits */
	uint64_t lo, hi;
};

/* Brace initializers for terms (use in arrays, or after a (struct disp_term)
 * cast for a compound literal). */
#define DISP_HDR_EQ(off, w, v)                                                 \
	{ .field = {.kind = DISP_FIELD_HDR, .width = (w), .offset = (off)},    \
	  .match = DISP_MATCH_EQ, .lo = (v), .hi = (v) }
#define DISP_HDR_EQ_MASK(off, w, m, v)                                         \
	{ .field = {.kind = DISP_FIELD_HDR, .width = (w), .offset = (off),     \
		    .mask = (m)},                                              \
	  .match = DISP_MATCH_EQ, .lo = (v), .hi = (v) }
#define DISP_HDR_RANGE(off, w, l, h)                                           \
	{ .field = {.kind = DISP_FIELD_HDR, .width = (w), .offset = (off)},    \
	  .match = DISP_MATCH_RANGE, .lo = (l), .hi = (h) }
#define DISP_HDR_PREFIX(off, w, v, len)                                        \
	{ .field = {.kind = DISP_FIELD_HDR, .width = (w), .offset = (off)},    \
	  .match = DISP_MATCH_PREFIX, .plen = (len), .lo = (v) }
#define DISP_ARG_EQ(type, member, v)                                           \
	{ .field = {.kind = DISP_FIELD_ARG,                                    \
		    .width = sizeof(((type *)0)->member),                      \
		    .offset = offsetof(type, member)},                         \
	  .match = DISP_MATCH_EQ, .lo = (v), .hi = (v) }
#define DISP_ARG_RANGE(type, member, l, h)                                     \
	{ .field = {.kind = DISP_FIELD_ARG,                                    \
		    .width = sizeof(((type *)0)->member),                      \
		    .offset = offsetof(type, member)},                         \
	  .match = DISP_MATCH_RANGE, .lo = (l), .hi = (h) }

/* Evaluates terms one by one (the reference semantics the compiled demux
 * must agree with; tests and the fallback path use it). */
bool disp_terms_match(const struct disp_term *terms, unsigned n,
		      const void *hdr, size_t len, const void *arg);

/* --- bindings --------------------------------------------------------------
 * The generic install spec.  Typed code fills it from Name_spec. */
struct disp_spec {
	disp_fn_t handler;          /* required */
	void *closure;
	disp_fn_t guard;            /* procedural guard, or NULL */
	void *guard_closure;
	const struct disp_term *terms; /* declarative guard, copied */
	unsigned nterms;
	unsigned options;           /* DISP_FIRST | DISP_LAST | DISP_CANCEL | DISP_ASYNC
				     * | DISP_BOUNDED */
	const char *desc;           /* shown in listings; copied; may be NULL */
	uint64_t bound_ns;          /* DISP_BOUNDED: the time bound (required) */
	unsigned max_overruns;      /* DISP_BOUNDED: removed after this many
				     * overruns (0: never) */
};

#define DISP_MAX_PGUARDS 4      /* procedural guards per binding (own + imposed) */
#define DISP_MAX_TERMS 16       /* declarative terms per binding (own + imposed) */

struct disp_event;
struct disp_table;
struct disp_async;

struct disp_pguard {
	disp_fn_t fn;
	void *closure;
	const char *desc;
};

/* A binding.  The first group of fields is read by the generated dispatch
 * code; everything after `ev` is private to dispatch.c. */
struct disp_binding {
	disp_fn_t fn;
	void *closure;
	uint32_t options;
	uint32_t npg;
	_Atomic uint32_t dead;      /* set by uninstall; later raises skip it */
	struct disp_pguard pg[DISP_MAX_PGUARDS];
	struct disp_async *async;   /* DISP_ASYNC and DISP_BOUNDED only */
	struct disp_event *ev;
	/* private */
	spin_ident_t installer;
	uint64_t seq;               /* install order */
	unsigned nterms;
	unsigned own_nterms, own_npg; /* before authorizers imposed more */
	struct disp_term terms[DISP_MAX_TERMS];
	char *desc;
	uint32_t state;             /* created / installed / removed */
	_Atomic uint32_t refs;      /* 1 while owned + one per queued async run */
	uint64_t bound_ns;          /* DISP_BOUNDED */
	unsigned max_overruns;
	_Atomic unsigned overruns;
	_Atomic uint32_t overrun_removed; /* removed by its overruns; the owner's
					   * uninstall then only frees it */
	struct disp_binding *next;  /* in ev's installed list, in order */
	struct rcu_head rcu;
};

/* Creates a binding without installing it (for transactions).  The
 * installer's identity is what authorizers will see. */
int disp_binding_create(struct disp_event *ev, spin_ident_t installer,
			const struct disp_spec *spec, struct disp_binding **out);
/* Frees a binding that is not installed (never installed, or removed by a
 * committed transaction).  Installed bindings are freed by uninstall. */
void disp_binding_destroy(struct disp_binding *b);

/* Authorizes, then installs: after it returns, every new raise sees the
 * binding.  *out (may be NULL) receives the handle for uninstall. */
int disp_install(struct disp_event *ev, spin_ident_t installer,
		 const struct disp_spec *spec, struct disp_binding **out);
/* Installs a created binding (authorizers run now). */
int disp_binding_install(struct disp_binding *b);

/* Removes and frees b.  From an online RCU reader (e.g. a handler during a
 * raise): b is marked dead at once (the rest of the current raise skips
 * it), the new table is published, and b is freed after a grace period.
 * From any other thread: returns only when no raise can still call b's
 * handler or guards.  Either way the caller must not use b afterwards. */
int disp_uninstall(struct disp_binding *b);

/* --- authorization ----------------------------------------------------------
 * The event's authorizer (option .authorize) and then the authorize_install
 * of its interface (option .iface, or the owner module's export that lists
 * the event) are called for every install with a struct disp_auth * (the
 * `spec` argument of spin_interface.authorize_install).  Nonzero denies.
 * They may impose guards on the binding being installed; imposed guards
 * are ANDed with the installer's own (declarative terms are simply added;
 * procedural guards run after the installer's own). */
struct disp_auth {
	struct disp_binding *b;     /* the binding being installed */
	spin_ident_t installer;
	const struct disp_spec *spec; /* as the installer asked (read-only) */
};
int disp_auth_impose_terms(struct disp_auth *a, const struct disp_term *terms, unsigned n);
int disp_auth_impose_guard(struct disp_auth *a, disp_fn_t guard, void *closure,
			   const char *desc);
typedef int (*disp_authorizer_t)(spin_ident_t installer, struct disp_event *ev,
				 struct disp_auth *req);

/* --- atomic swap --------------------------------------------------------------
 * A transaction removes and adds a set of bindings on one or more events.
 * Commit authorizes every add first (any denial: nothing changes, the
 * error is returned, added bindings stay owned by the caller), then
 * publishes each touched event's new table; a raise of any one event sees
 * its old binding set or its new one, never a mix.  Removed bindings are
 * freed as by disp_uninstall (same reader/non-reader rule).  Added bindings
 * must come from disp_binding_create.  The transaction is freed by commit
 * or abort. */
struct disp_txn;
struct disp_txn *disp_txn_begin(void);
int disp_txn_add(struct disp_txn *t, struct disp_binding *b);
int disp_txn_remove(struct disp_txn *t, struct disp_binding *b);
int disp_txn_commit(struct disp_txn *t);
void disp_txn_abort(struct disp_txn *t);   /* added bindings stay the caller's */

/* --- inspection ---------------------------------------------------------------- */
struct disp_binding_info {
	const struct disp_binding *binding;
	spin_ident_t installer;
	uint32_t options;
	bool primary;               /* the defining module's original handler */
	disp_fn_t handler;
	void *closure;
	unsigned nterms, npguards;
	const char *desc;           /* installer's description, or NULL */
};
/* Fills up to max entries in run order; returns how many bindings there are.
 * The pointers stay valid until the binding is uninstalled. */
int disp_list(struct disp_event *ev, struct disp_binding_info *out, unsigned max);
/* Describes b's guard: "hdr[2:2]==53 && arg[0:4] in [1,9] && guard(desc)",
 * or "true".  Returns the length snprintf would (as sal_snprintf). */
int disp_guard_format(const struct disp_binding *b, char *buf, size_t size);
/* The primary binding: the first one installed by the event's owner that
 * is still installed, or NULL. */
const struct disp_binding *disp_primary(struct disp_event *ev);
disp_fn_t disp_primary_fn(struct disp_event *ev, void **closure);
/* All defined events (from the spin_events link section). */
unsigned disp_event_count(void);
struct disp_event *disp_event_at(unsigned i);
struct disp_event *disp_event_find(const char *name);
const char *disp_event_name(const struct disp_event *ev);
spin_ident_t disp_event_owner(const struct disp_event *ev);
/* Bindings alive (created and not yet freed), for leak checks in tests. */
long disp_live_bindings(void);
/* Runs RCU callbacks whose grace period ended and waits for all pending
 * deferred frees (tests, shutdown; not from an online reader). */
void disp_quiesce(void);

/* Asynchronous handlers (DISP_ASYNC): the raise copies the arguments by
 * value into a slot preallocated with the binding (no heap allocation on
 * the raise path) and spawns a strand for the run on the processor of the
 * raising thread's run loop (exec_current(); stacks come from the
 * processor's pool, so a warm pool makes no system call).  The strand runs
 * when the loop strand next yields or idles, on the loop's thread; a
 * handler that blocks (kernel/strand/kthread.h locks, strand_sleep_ns)
 * blocks only its own strand, never the graph.  Pointers among the
 * arguments must stay valid until the handler runs (netgraph takes a
 * packet reference for it).  The raiser sees the event's default result for
 * an asynchronous binding (it counts as having run).  When the raising
 * thread has no run loop, or all of the binding's slots are in flight, the
 * handler runs synchronously instead (its result still ignored), and the
 * overflow is counted.  An uninstalled binding is freed only after its
 * queued runs have finished. */
#define DISP_ASYNC_SLOTS 64     /* per binding unless the event says otherwise */
uint64_t disp_async_overflows(void);

/* Bounded handlers (DISP_BOUNDED, spec.bound_ns > 0): each run copies the
 * arguments into a slot and runs the handler on a strand of its own, one
 * priority below the raiser, on the raiser's processor; the raiser blocks
 * until the handler returns or bound_ns has passed.  In time: the raiser
 * gets the handler's result.  Overrun: the raiser proceeds with the
 * event's default_result (default handlers are not called), the handler's
 * strand is asked to stop (strand_stop: it ends at its next safe point,
 * never mid-way between two), the overrun is counted, and after
 * max_overruns overruns the binding is removed from its event by an atomic
 * swap (disp_txn), so later raises skip it.  Its owner still holds the
 * handle and frees it with disp_uninstall (which then returns DISP_OK
 * without touching the event) or disp_binding_destroy.
 *
 * The raiser must run on a strand (a run loop's pollers, timers and
 * deferred work do); elsewhere, or with every slot in flight, the handler
 * runs synchronously, unbounded, and disp_bounded_stats counts it.  The
 * raiser keeps its RCU references across the wait (strand_rcu_hold), so
 * grace periods are delayed by at most the bound.  Overruns are noticed at
 * the handler's safe points, so the preemption ticker (1 ms quantum) is
 * started when the first bounded binding is created: a handler that never
 * reaches a safe point (no blocking call, yield or strand_safe_point) can
 * not be bounded.  DISP_BOUNDED excludes DISP_ASYNC. */
#define DISP_BOUND_QUANTUM_NS 1000000ull
struct disp_bounded_stats {
	uint64_t runs, overruns, removed, unbounded;
};
void disp_bounded_stats(struct disp_bounded_stats *out);
unsigned disp_binding_overruns(const struct disp_binding *b);

/* --- events (private parts used by the macros) --------------------------------- */
struct disp_leaf {
	uint32_t n;
	uint32_t check;  /* nonzero: re-check each binding's terms (bounded
			  * fallback for guard sets too irregular to compile) */
	struct disp_binding *const *b;
};
/* The re-check of b's declarative terms for a `check` leaf. */
bool disp_leaf_check(const struct disp_table *t, const struct disp_binding *b,
		     const void *arg0);

/* A published, immutable table.  fn is the event's typed dispatch function
 * (closure = the table), or the only handler (closure = its closure), or
 * the "nobody" function (closure = the table). */
struct disp_table {
	disp_fn_t fn;
	void *closure;
	struct disp_event *ev;
	const struct disp_leaf *root_leaf; /* non-NULL: no demux to walk */
	const void *demux;                 /* root node of the compiled tree */
	const void *(*subject)(const void *arg0, size_t *len);
	uint32_t flags;
	uint32_t nb;
	struct disp_binding **b;           /* all bindings, in run order */
	void *arena;                       /* private: memory of this table */
	struct rcu_head rcu;
};

/* The walk of the compiled demux: the bindings whose declarative guards all
 * pass for this first argument, in run order. */
const struct disp_leaf *disp_select(const struct disp_table *t, const void *arg0);

struct disp_ops {
	disp_fn_t dispatch, nobody;
	void (*async_run)(struct exec_work *w, void *arg);
	void (*bounded_run)(struct disp_binding *b, void *args);
	uint32_t args_size, args_align;
};

/* Options common to every event; Name__opts starts with the same fields. */
#define DISP__EVENT_COMMON                                                      \
	spin_ident_t owner;          /* the defining module (authorizes) */     \
	const struct spin_interface *iface; /* its interface, if any */         \
	const void *(*subject)(const void *arg0, size_t *len); /* HDR fields */ \
	disp_authorizer_t authorize; /* per-event authorizer, or NULL */        \
	const char *doc;                                                        \
	unsigned async_slots;        /* 0: DISP_ASYNC_SLOTS */

struct disp_event_opts {
	DISP__EVENT_COMMON
};

struct disp_event {
	const char *name;
	const struct disp_event_opts *opts;
	const struct disp_ops *ops;
	struct disp_table *_Atomic table;
	/* private, guarded by the dispatcher's writer mutex */
	struct disp_binding *bindings;  /* installed, in install order */
	const struct disp_binding *primary;
	uint32_t nbindings;
};

/* Slot handling for the generated async code. */
void *disp__async_get(struct disp_binding *b);
void disp__async_post(struct disp_binding *b, void *args);
struct disp_binding *disp__async_begin(struct exec_work *w, void **args);
void disp__async_end(struct disp_binding *b, void *args);
void *disp__bounded_get(struct disp_binding *b);
bool disp__bounded_call(struct disp_binding *b, void *args);
void disp__bounded_done(struct disp_binding *b, void *args);

/* --- macro machinery --------------------------------------------------------------- */
/* Generated functions are static inline and may go unused in a file. */
#define DISP__FN static inline __attribute__((unused))
#define DISP__CAT(a, b) DISP__CAT_(a, b)
#define DISP__CAT_(a, b) a##b
#define DISP__NARG(...) DISP__NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define DISP__NARG_(_1, _2, _3, _4, _5, _6, N, ...) N
#define DISP__COMMA() ,
#define DISP__NONE()
#define DISP__MAP(M, S, ...) DISP__CAT(DISP__MAP, DISP__NARG(__VA_ARGS__))(M, S, __VA_ARGS__)
#define DISP__MAP1(M, S, a) M(a)
#define DISP__MAP2(M, S, a, ...) M(a) S() DISP__MAP1(M, S, __VA_ARGS__)
#define DISP__MAP3(M, S, a, ...) M(a) S() DISP__MAP2(M, S, __VA_ARGS__)
#define DISP__MAP4(M, S, a, ...) M(a) S() DISP__MAP3(M, S, __VA_ARGS__)
#define DISP__MAP5(M, S, a, ...) M(a) S() DISP__MAP4(M, S, __VA_ARGS__)
#define DISP__MAP6(M, S, a, ...) M(a) S() DISP__MAP5(M, S, __VA_ARGS__)
#define DISP__DECL(p) DISP__DECL_ p
#define DISP__DECL_(T, a) T a
#define DISP__TYPE(p) DISP__TYPE_ p
#define DISP__TYPE_(T, a) T
#define DISP__NAME(p) DISP__NAME_ p
#define DISP__NAME_(T, a) a
#define DISP__FIELD(p) DISP__FIELD_ p
#define DISP__FIELD_(T, a) T a;
#define DISP__UNPACK(p) DISP__UNPACK_ p
#define DISP__UNPACK_(T, a) s_->a
#define DISP__FIRST(p, ...) DISP__NAME(p)

#define DISP__PARAMS(...) DISP__MAP(DISP__DECL, DISP__COMMA, __VA_ARGS__)
#define DISP__TYPES(...) DISP__MAP(DISP__TYPE, DISP__COMMA, __VA_ARGS__)
#define DISP__NAMES(...) DISP__MAP(DISP__NAME, DISP__COMMA, __VA_ARGS__)
#define DISP__FIELDS(...) DISP__MAP(DISP__FIELD, DISP__NONE, __VA_ARGS__)
#define DISP__UNPACKS(...) DISP__MAP(DISP__UNPACK, DISP__COMMA, __VA_ARGS__)
#define DISP__ARG0(...) ((const void *)(uintptr_t)(DISP__FIRST(__VA_ARGS__)))

/* Declarations shared by the value and void forms. */
#define DISP__DECLARE_COMMON(Name, Ret, ...)                                    \
	typedef Ret (*Name##_handler_t)(void *closure, DISP__TYPES(__VA_ARGS__));\
	typedef bool (*Name##_guard_t)(void *closure, DISP__TYPES(__VA_ARGS__)); \
	typedef Ret (*Name##_default_t)(DISP__TYPES(__VA_ARGS__));              \
	struct Name##__args {                                                   \
		DISP__FIELDS(__VA_ARGS__)                                       \
	};                                                                      \
	struct Name##_spec {                                                    \
		Name##_handler_t handler;                                       \
		void *closure;                                                  \
		Name##_guard_t guard;                                           \
		void *guard_closure;                                            \
		const struct disp_term *terms;                                  \
		unsigned nterms;                                                \
		unsigned options;                                               \
		const char *desc;                                               \
		uint64_t bound_ns;                                              \
		unsigned max_overruns;                                          \
	};                                                                      \
	extern struct disp_event Name##_event;                                  \
	DISP__FN Ret Name##_raise(DISP__PARAMS(__VA_ARGS__))               \
	{                                                                       \
		const struct disp_table *t_ = rcu_deref(Name##_event.table);    \
		return ((Name##_handler_t)t_->fn)(t_->closure,                  \
						  DISP__NAMES(__VA_ARGS__));    \
	}                                                                       \
	DISP__FN void Name##__spec(const struct Name##_spec *s,            \
					struct disp_spec *g)                    \
	{                                                                       \
		g->handler = (disp_fn_t)s->handler;                             \
		g->closure = s->closure;                                        \
		g->guard = (disp_fn_t)s->guard;                                 \
		g->guard_closure = s->guard_closure;                            \
		g->terms = s->terms;                                            \
		g->nterms = s->nterms;                                          \
		g->options = s->options;                                        \
		g->desc = s->desc;                                              \
		g->bound_ns = s->bound_ns;                                      \
		g->max_overruns = s->max_overruns;                              \
	}                                                                       \
	DISP__FN int Name##_install(spin_ident_t who_,                     \
					 const struct Name##_spec *s_,          \
					 struct disp_binding **out_)            \
	{                                                                       \
		struct disp_spec g_;                                            \
		Name##__spec(s_, &g_);                                          \
		return disp_install(&Name##_event, who_, &g_, out_);            \
	}                                                                       \
	DISP__FN int Name##_create(spin_ident_t who_,                      \
					const struct Name##_spec *s_,           \
					struct disp_binding **out_)             \
	{                                                                       \
		struct disp_spec g_;                                            \
		Name##__spec(s_, &g_);                                          \
		return disp_binding_create(&Name##_event, who_, &g_, out_);     \
	}                                                                       \
	DISP__FN Name##_handler_t Name##_primary(void **closure_)          \
	{                                                                       \
		return (Name##_handler_t)disp_primary_fn(&Name##_event, closure_);\
	}                                                                       \
	DISP__FN bool Name##__guards(const struct disp_binding *b_,        \
					  DISP__PARAMS(__VA_ARGS__))            \
	{                                                                       \
		for (uint32_t g_ = 0; g_ < b_->npg; g_++)                       \
			if (!((Name##_guard_t)b_->pg[g_].fn)(b_->pg[g_].closure,\
						DISP__NAMES(__VA_ARGS__)))      \
				return false;                                   \
		return true;                                                    \
	}                                                                       \
	DISP__FN void Name##__async_run(struct exec_work *w_, void *a_)    \
	{                                                                       \
		(void)a_;                                                       \
		void *p_;                                                       \
		struct disp_binding *b_ = disp__async_begin(w_, &p_);           \
		const struct Name##__args *s_ = p_;                             \
		if (!atomic_load_explicit(&b_->dead, memory_order_acquire))     \
			((Name##_handler_t)b_->fn)(b_->closure,                 \
						   DISP__UNPACKS(__VA_ARGS__)); \
		disp__async_end(b_, p_);                                        \
	}                                                                       \
	DISP__FN bool Name##__async(struct disp_binding *b_,               \
					 DISP__PARAMS(__VA_ARGS__))             \
	{                                                                       \
		struct Name##__args *p_ = disp__async_get(b_);                  \
		if (!p_)                                                        \
			return false;                                           \
		*p_ = (struct Name##__args){DISP__NAMES(__VA_ARGS__)};          \
		disp__async_post(b_, p_);                                       \
		return true;                                                    \
	}

/* SPIN_EVENT_DECLARE(Name, Ret, (T1, a1), ...): an event with a result. */
#define SPIN_EVENT_DECLARE(Name, Ret, ...)                                      \
	DISP__DECLARE_COMMON(Name, Ret, __VA_ARGS__)                            \
	/* Combines results: acc is the running answer (the default result   */ \
	/* for n == 0), r the n-th handler's result; returns the new answer. */ \
	typedef Ret (*Name##_result_t)(Ret acc, Ret r, unsigned n);             \
	struct Name##__opts {                                                   \
		DISP__EVENT_COMMON                                              \
		Ret default_result;                                             \
		Name##_result_t result;                                         \
		Name##_default_t default_handler;                               \
	};                                                                      \
	struct Name##__bargs {                                                  \
		struct Name##__args a;                                          \
		Ret r;                                                          \
	};                                                                      \
	DISP__FN void Name##__bounded_run(struct disp_binding *b_, void *p_)\
	{                                                                       \
		struct Name##__bargs *q_ = p_;                                  \
		const struct Name##__args *s_ = &q_->a;                         \
		if (!atomic_load_explicit(&b_->dead, memory_order_acquire))     \
			q_->r = ((Name##_handler_t)b_->fn)(b_->closure,         \
						   DISP__UNPACKS(__VA_ARGS__)); \
	}                                                                       \
	DISP__FN Ret Name##__special(struct disp_binding *b_, Ret dflt_,   \
					  DISP__PARAMS(__VA_ARGS__))            \
	{                                                                       \
		if (b_->options & DISP_ASYNC) {                                 \
			if (!Name##__async(b_, DISP__NAMES(__VA_ARGS__)))       \
				((Name##_handler_t)b_->fn)(b_->closure,         \
					DISP__NAMES(__VA_ARGS__));              \
			return dflt_;                                           \
		}                                                               \
		struct Name##__bargs *q_ = disp__bounded_get(b_);               \
		if (!q_)                                                        \
			return ((Name##_handler_t)b_->fn)(b_->closure,          \
					DISP__NAMES(__VA_ARGS__));              \
		q_->a = (struct Name##__args){DISP__NAMES(__VA_ARGS__)};        \
		q_->r = dflt_;                                                  \
		if (!disp__bounded_call(b_, q_))                                \
			return dflt_;                                           \
		Ret r_ = q_->r;                                                 \
		disp__bounded_done(b_, q_);                                     \
		return r_;                                                      \
	}                                                                       \
	DISP__FN Ret Name##__nobody(void *c_, DISP__PARAMS(__VA_ARGS__))   \
	{                                                                       \
		const struct disp_table *t_ = c_;                               \
		const struct Name##__opts *o_ = (const void *)t_->ev->opts;     \
		if (o_->default_handler)                                        \
			return o_->default_handler(DISP__NAMES(__VA_ARGS__));   \
		return o_->default_result;                                      \
	}                                                                       \
	DISP__FN Ret Name##__dispatch(void *c_, DISP__PARAMS(__VA_ARGS__)) \
	{                                                                       \
		const struct disp_table *t_ = c_;                               \
		const struct Name##__opts *o_ = (const void *)t_->ev->opts;     \
		const struct disp_leaf *l_ = t_->root_leaf;                     \
		if (!l_)                                                        \
			l_ = disp_select(t_, DISP__ARG0(__VA_ARGS__));          \
		Ret acc_ = o_->default_result;                                  \
		unsigned n_ = 0;                                                \
		for (uint32_t i_ = 0; i_ < l_->n; i_++) {                       \
			struct disp_binding *b_ = l_->b[i_];                    \
			if (atomic_load_explicit(&b_->dead, memory_order_relaxed))\
				continue;                                       \
			if (l_->check &&                                        \
			    !disp_leaf_check(t_, b_, DISP__ARG0(__VA_ARGS__)))  \
				continue;                                       \
			if (b_->npg && !Name##__guards(b_, DISP__NAMES(__VA_ARGS__)))\
				continue;                                       \
			Ret r_;                                                 \
			if (b_->options & (DISP_ASYNC | DISP_BOUNDED))          \
				r_ = Name##__special(b_, o_->default_result,    \
						DISP__NAMES(__VA_ARGS__));      \
			else                                                    \
				r_ = ((Name##_handler_t)b_->fn)(b_->closure,    \
						DISP__NAMES(__VA_ARGS__));      \
			acc_ = o_->result ? o_->result(acc_, r_, n_) : r_;      \
			n_++;                                                   \
			if (b_->options & DISP_CANCEL)                          \
				break;                                          \
		}                                                               \
		if (n_ == 0 && o_->default_handler)                             \
			return o_->default_handler(DISP__NAMES(__VA_ARGS__));   \
		return acc_;                                                    \
	}

/* SPIN_EVENT_DECLARE_VOID(Name, (T1, a1), ...): an event without a result. */
#define SPIN_EVENT_DECLARE_VOID(Name, ...)                                      \
	DISP__DECLARE_COMMON(Name, void, __VA_ARGS__)                           \
	struct Name##__opts {                                                   \
		DISP__EVENT_COMMON                                              \
		Name##_default_t default_handler;                               \
	};                                                                      \
	struct Name##__bargs {                                                  \
		struct Name##__args a;                                          \
	};                                                                      \
	DISP__FN void Name##__bounded_run(struct disp_binding *b_, void *p_)\
	{                                                                       \
		const struct Name##__args *s_ = &((struct Name##__bargs *)p_)->a;\
		if (!atomic_load_explicit(&b_->dead, memory_order_acquire))     \
			((Name##_handler_t)b_->fn)(b_->closure,                 \
						   DISP__UNPACKS(__VA_ARGS__)); \
	}                                                                       \
	DISP__FN void Name##__special(struct disp_binding *b_,             \
					   DISP__PARAMS(__VA_ARGS__))           \
	{                                                                       \
		if (b_->options & DISP_ASYNC) {                                 \
			if (!Name##__async(b_, DISP__NAMES(__VA_ARGS__)))       \
				((Name##_handler_t)b_->fn)(b_->closure,         \
					DISP__NAMES(__VA_ARGS__));              \
			return;                                                 \
		}                                                               \
		struct Name##__bargs *q_ = disp__bounded_get(b_);               \
		if (!q_) {                                                      \
			((Name##_handler_t)b_->fn)(b_->closure,                 \
				DISP__NAMES(__VA_ARGS__));                      \
			return;                                                 \
		}                                                               \
		q_->a = (struct Name##__args){DISP__NAMES(__VA_ARGS__)};        \
		if (disp__bounded_call(b_, q_))                                 \
			disp__bounded_done(b_, q_);                             \
	}                                                                       \
	DISP__FN void Name##__nobody(void *c_, DISP__PARAMS(__VA_ARGS__))  \
	{                                                                       \
		const struct disp_table *t_ = c_;                               \
		const struct Name##__opts *o_ = (const void *)t_->ev->opts;     \
		if (o_->default_handler)                                        \
			o_->default_handler(DISP__NAMES(__VA_ARGS__));          \
	}                                                                       \
	DISP__FN void Name##__dispatch(void *c_, DISP__PARAMS(__VA_ARGS__))\
	{                                                                       \
		const struct disp_table *t_ = c_;                               \
		const struct Name##__opts *o_ = (const void *)t_->ev->opts;     \
		const struct disp_leaf *l_ = t_->root_leaf;                     \
		if (!l_)                                                        \
			l_ = disp_select(t_, DISP__ARG0(__VA_ARGS__));          \
		unsigned n_ = 0;                                                \
		for (uint32_t i_ = 0; i_ < l_->n; i_++) {                       \
			struct disp_binding *b_ = l_->b[i_];                    \
			if (atomic_load_explicit(&b_->dead, memory_order_relaxed))\
				continue;                                       \
			if (l_->check &&                                        \
			    !disp_leaf_check(t_, b_, DISP__ARG0(__VA_ARGS__)))  \
				continue;                                       \
			if (b_->npg && !Name##__guards(b_, DISP__NAMES(__VA_ARGS__)))\
				continue;                                       \
			if (b_->options & (DISP_ASYNC | DISP_BOUNDED))          \
				Name##__special(b_, DISP__NAMES(__VA_ARGS__));  \
			else                                                    \
				((Name##_handler_t)b_->fn)(b_->closure,         \
					DISP__NAMES(__VA_ARGS__));              \
			n_++;                                                   \
			if (b_->options & DISP_CANCEL)                          \
				break;                                          \
		}                                                               \
		if (n_ == 0 && o_->default_handler)                             \
			o_->default_handler(DISP__NAMES(__VA_ARGS__));          \
	}

/* SPIN_EVENT_DEFINE(Name, .owner = ..., ...): in exactly one .c file.
 * Options: .owner, .iface, .subject, .authorize, .doc, .async_slots, and
 * for events with a result .default_result, .result (a Name_result_t),
 * .default_handler (a Name_default_t; runs when no binding ran). */
#define SPIN_EVENT_DEFINE(Name, ...)                                            \
	static const struct Name##__opts Name##__opts_ = {__VA_ARGS__};         \
	static const struct disp_ops Name##__ops_ = {                           \
		.dispatch = (disp_fn_t)Name##__dispatch,                        \
		.nobody = (disp_fn_t)Name##__nobody,                            \
		.async_run = Name##__async_run,                                 \
		.bounded_run = Name##__bounded_run,                             \
		.args_size = sizeof(struct Name##__bargs),                      \
		.args_align = _Alignof(struct Name##__bargs),                   \
	};                                                                      \
	static struct disp_table Name##__empty_;                                \
	struct disp_event Name##_event = {                                      \
		.name = #Name,                                                  \
		.opts = (const struct disp_event_opts *)&Name##__opts_,         \
		.ops = &Name##__ops_,                                           \
		.table = &Name##__empty_,                                       \
	};                                                                      \
	static struct disp_table Name##__empty_ = {                             \
		.fn = (disp_fn_t)Name##__nobody,                                \
		.closure = &Name##__empty_,                                     \
		.ev = &Name##_event,                                            \
		.root_leaf = &disp_empty_leaf,                                  \
	};                                                                      \
	static struct disp_event *const Name##__reg_                            \
	    __attribute__((used, section("spin_events"))) = &Name##_event

extern const struct disp_leaf disp_empty_leaf;

#endif
