/*
 * strand.h - SPIN's processor abstraction: strands, the Strand interface
 * and the global scheduler.
 *
 * A strand is a sequential flow of control with a name and a stack; it has
 * no other kernel state (no address space, no capability table).  Thread
 * packages (kernel/strand/kthread.h) and application schedulers are built
 * on it.
 *
 * Processors.  A strand_cpu is one processor of the global scheduler; it is
 * driven by the one OS thread that calls strand_cpu_run (one per core).
 * Every strand belongs to one processor for its whole life (no migration),
 * so scheduling state is touched by that processor's thread only; other
 * threads reach it through a lock-free inbox (strand_unblock).
 *
 * The global scheduler is round-robin within a priority and strict between
 * priorities (0 lowest .. STRAND_PRIO_MAX highest).  It is preemptive at
 * safe points: a ticker (sal_ticker) marks every processor each quantum, and
 * a strand that reaches strand_safe_point() with the mark set yields.  Every
 * blocking call, yield and exit is also a safe point.  Guarantee: a strand is
 * never switched out between two safe points, so code between them needs no
 * lock against other strands of its processor; a strand that never reaches
 * a safe point is never preempted (hosted does not preempt by signal, which
 * would interrupt libc and the sanitizers at arbitrary points).  A runnable
 * strand waits at most (number of runnable strands at its priority or
 * above) x (quantum + longest stretch between safe points).
 *
 * RCU: a processor's thread is a QSBR reader (kernel/rcu) and every switch
 * is a quiescent state.  So a strand must not block, yield or pass a safe
 * point while it holds an RCU-protected pointer, in particular inside a
 * synchronous event handler: a handler that may block is installed
 * asynchronous and runs on a strand of its own, outside the raise.
 *
 * The Strand interface is four events, raised on behalf of a strand by the
 * processor that owns it (so their handlers never run concurrently for one
 * processor):
 *   Block(s)       s stopped running and waits for Unblock.
 *   Unblock(s)     s may run again.        (default: global run queue)
 *   Checkpoint(s)  s lost the processor but is still runnable (yield or
 *                  preemption).            (default: tail of its queue)
 *   Resume(s)      the scheduler gives the processor to s; the result is
 *                  the strand that actually runs (default: s itself).
 * An application scheduler is a virtual processor (strand_vp_new): a strand
 * without a stack that the global scheduler queues like any other.  Its
 * policy's handlers are bound to the four events with a guard "this strand
 * belongs to my vp": it receives the processor on Resume(vp), returns the
 * strand of its own choice, and gets it back on Checkpoint/Block of that
 * strand.
 */
#ifndef SPIN_STRAND_H
#define SPIN_STRAND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRAND_PRIO_MAX 31
#define STRAND_PRIO_DEFAULT 16
#define STRAND_STACK_DEFAULT (128 * 1024)

struct strand;
struct strand_cpu;
typedef void (*strand_fn)(void *arg);

enum strand_err { STRAND_OK = 0, STRAND_ENOMEM, STRAND_EINVAL, STRAND_ESTATE };

enum strand_flags {
	STRAND_JOINABLE = 1u << 0, /* strand_join reaps it; else reaped on exit */
};

struct strand_attr {
	const char *name;       /* kept by pointer: must outlive the strand */
	int prio;               /* 0..STRAND_PRIO_MAX */
	unsigned flags;         /* enum strand_flags */
	struct strand *vp;      /* application scheduler, or NULL (global) */
	/* Runs on the strand, last, however it ends (return, strand_exit or
	 * a strand_stop): where a strand that may be stopped gives back what
	 * it holds.  May be NULL. */
	void (*on_exit)(void *arg);
};

/* --- processors ----------------------------------------------------------- */
struct strand_cpu *strand_cpu_new(const char *name);
/* Only when its run has returned; frees the pooled stacks. */
void strand_cpu_free(struct strand_cpu *c);
/* Runs c's strands on the calling OS thread.  Returns when c has no live
 * strand left (every strand created on it exited) or strand_cpu_stop was
 * called and c has nothing runnable.  Not from a strand. */
void strand_cpu_run(struct strand_cpu *c);
void strand_cpu_stop(struct strand_cpu *c);   /* any thread */
/* Device handles (hosted: file descriptors): when handle is ready, s (a
 * strand of c) is unblocked.  Checked whenever c idles, and once per
 * quantum while preemption runs, so a poller strand can block until its
 * device has work.  Level-triggered: s should drain the handle before it
 * blocks again, and must tolerate a wake-up it did not wait for.  From c's
 * thread or while c is not running. */
int strand_cpu_watch(struct strand_cpu *c, int handle, struct strand *s);
int strand_cpu_unwatch(struct strand_cpu *c, int handle);
/* As strand_cpu_watch, and also sets *ready = true (on c's thread, before
 * the Unblock) whenever handle is seen ready, so one strand watching many
 * handles learns which ones are: the run loop uses it for
 * EXEC_POLL_ON_READY pollers. */
int strand_cpu_watch_flag(struct strand_cpu *c, int handle, struct strand *s, bool *ready);
/* Looks at c's watched handles now without waiting (a zero-timeout wait),
 * setting flags and unblocking their strands.  From a strand of c: lets a
 * processor that never idles (busy polling) still notice rare handles. */
void strand_cpu_check_handles(void);
struct strand_cpu *strand_cpu_self(void);     /* NULL off a processor */

struct strand_cpu_stats {
	uint64_t switches, preemptions, spawned, exited, remote_wakes, idle_waits;
};
void strand_cpu_stats(const struct strand_cpu *c, struct strand_cpu_stats *out);

/* Preemption: one ticker for every processor; quantum in ns.  Idempotent;
 * strand_preempt_stop disables it (strands then switch only when they
 * block or yield). */
int strand_preempt_start(uint64_t quantum_ns);
void strand_preempt_stop(void);

/* --- strands -------------------------------------------------------------- */
/* Creates a runnable strand on c running fn(arg); from any thread.  Stacks
 * come from a per-processor pool (no system call once the pool is warm)
 * when called on c's own thread or while c is not running; other threads
 * get a fresh stack.  attr may be NULL (defaults: "strand",
 * STRAND_PRIO_DEFAULT, detached, global).  A strand with a vp must be
 * spawned on the vp's processor. */
struct strand *strand_spawn(struct strand_cpu *c, strand_fn fn, void *arg,
			    const struct strand_attr *attr);
/* Ends the calling strand (returning from fn does the same). */
__attribute__((noreturn)) void strand_exit(void);
/* Waits for a STRAND_JOINABLE strand to end and releases it.  From a
 * strand of any processor; one joiner per strand. */
int strand_join(struct strand *s);

struct strand *strand_self(void);             /* NULL off a strand */
const char *strand_name(const struct strand *s);
int strand_prio(const struct strand *s);
void strand_set_prio(struct strand *s, int prio); /* takes effect at next queueing */
struct strand *strand_vp_of(const struct strand *s); /* its vp, or NULL */
void *strand_data(const struct strand *s);   /* a word for schedulers */
void strand_set_data(struct strand *s, void *p);

/* Gives the processor to the next runnable strand (Checkpoint). */
void strand_yield(void);

/* Blocking, in two steps so a waker on another processor cannot be lost:
 * strand_will_block() marks the caller blocked (do it while the wait queue
 * is locked), then after unlocking, strand_block() switches away unless an
 * Unblock already came.  Raises Block. */
void strand_will_block(void);
void strand_block(void);
/* Makes a blocked strand runnable (Unblock); any thread.  Returns false if
 * s was not blocked (the call then does nothing). */
bool strand_unblock(struct strand *s);

/* Asks s to end at its next safe point (strand_safe_point or a
 * preemption; not while it is blocked: a stopped strand that blocks stays
 * blocked until unblocked).  It ends as if it called strand_exit there, so
 * code between safe points is never cut in half.  Any thread.  This is what
 * a bounded handler's overrun uses. */
void strand_stop(struct strand *s);
bool strand_stop_requested(void);   /* for the calling strand */

/* RCU across a block.  A switch is a quiescent state, so a strand must
 * not block holding an RCU-protected pointer, with one exception: between
 * strand_rcu_hold and strand_rcu_release the strand's processor reports no
 * quiescent state and does not go offline, so the caller may block briefly
 * (a raiser waiting for a bounded handler).  Grace periods are delayed for
 * as long as the hold lasts.  strand_quiescent is rcu_quiescent unless a
 * hold is in force (code that reports quiescent states on a processor,
 * the run loop, calls it instead). */
void strand_rcu_hold(void);
void strand_rcu_release(void);
void strand_quiescent(void);

/* Sleeps at least ns (a blocked strand the processor wakes). */
void strand_sleep_ns(uint64_t ns);
/* strand_block with a deadline: after strand_will_block, switches away
 * until an Unblock comes or ns have passed, whichever is first (the
 * processor unblocks it then).  Returns at once if an Unblock already
 * came. */
void strand_block_timeout(uint64_t ns);

/* Safe point: yields if the quantum ended or a higher priority strand
 * became runnable.  Cost: one thread-local load and one flag test. */
struct strand_cpu_hot {
	atomic_uint preempt;
};
extern _Thread_local struct strand_cpu_hot *strand_tls_hot;
void strand_preempt(void);
static inline void strand_safe_point(void)
{
	struct strand_cpu_hot *h = strand_tls_hot;
	if (h && atomic_load_explicit(&h->preempt, memory_order_relaxed))
		strand_preempt();
}

/* --- application schedulers -------------------------------------------------
 * The handlers a vp binds on the Strand events (kernel/strand/
 * strand_events.h); each is called with the policy's ctx, only for strands
 * whose vp is this one (resume: for the vp itself), on the vp's processor,
 * one at a time.
 *   resume: the vp got the processor; return a runnable strand of the vp,
 *           or NULL to give the processor back (the vp is then idle until
 *           strand_vp_ready).
 *   checkpoint: s was preempted or yielded and is still runnable.
 *   block: s blocked (or exited: an exit is a Block never followed by an
 *          Unblock).  May be NULL.
 *   unblock: s became runnable; the policy queues it and calls
 *            strand_vp_ready(vp) so the global scheduler runs the vp. */
struct strand_policy {
	struct strand *(*resume)(void *ctx, struct strand *vp);
	void (*checkpoint)(void *ctx, struct strand *s);
	void (*block)(void *ctx, struct strand *s);
	void (*unblock)(void *ctx, struct strand *s);
	void *ctx;
};
/* A vp on c at priority prio.  pol is kept by pointer.  Installs the
 * policy's four bindings (control path: not from a strand event handler). */
struct strand *strand_vp_new(struct strand_cpu *c, const char *name, int prio,
			     const struct strand_policy *pol);
/* Only when no strand of vp is left. */
void strand_vp_free(struct strand *vp);
/* Puts an idle vp on the global run queue (no-op if already queued or
 * running).  From the vp's processor (policy handlers run there). */
void strand_vp_ready(struct strand *vp);

#endif
