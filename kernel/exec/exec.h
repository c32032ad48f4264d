/*
 * exec.h - the execution API: the only way protocols, drivers and
 * extensions get time and work.
 *
 * A run loop belongs to one thread (one core).  Each turn it
 *   1. runs deferred work queued for it,
 *   2. fires expired timers,
 *   3. polls every poller with a budget (NAPI style: a poller that used its
 *      whole budget is polled again before the loop sleeps),
 *   4. reports a quiescent state to RCU (kernel/rcu) and runs RCU callbacks
 *      whose grace period has ended,
 *   5. when nothing was done: busy-polls again (EXEC_BUSY_POLL) or blocks in
 *      sal_wait until a poller's handle is ready, a timer is due, or another
 *      thread queues work (EXEC_BLOCKING).
 *
 * Everything a loop runs runs on the loop's thread, to completion, one at a
 * time; so handlers need no locks against each other on one loop.  Timers
 * and pollers must be armed and added from the loop's own thread (or before
 * it runs); exec_defer may be called from any thread.
 *
 * Built on strands (docs/strands.md): a loop is one processor of the global
 * scheduler and a loop strand that runs the turns; other strands of that
 * processor (asynchronous and bounded dispatcher handlers, kernel threads)
 * run between turns and while the loop idles, on the same thread, so the
 * rule above holds for them too between their safe points.  Nothing
 * outside kernel/exec may depend on how it is built beyond exec_loop_cpu.
 */
#ifndef SPIN_EXEC_H
#define SPIN_EXEC_H

#include <stdbool.h>
#include <stdint.h>

struct exec_loop;

enum exec_mode { EXEC_BLOCKING, EXEC_BUSY_POLL };

/* A poller: poll() processes at most budget units of work (packets) and
 * returns how many it did.  wait_handle is what sal_wait blocks on for it
 * (a file descriptor hosted), or -1 for a poller that only runs when the
 * loop is awake anyway (e.g. the replay device, which is always ready and so
 * keeps the loop busy while it has frames).  Device pollers are polled every
 * turn; see EXEC_POLL_ON_READY for the others. */
struct exec_poller {
	const char *name;
	int (*poll)(void *ctx, int budget);
	void *ctx;
	int wait_handle;
	unsigned flags;         /* EXEC_POLL_* */
	/* private */
	struct exec_poller *next;
	uint64_t polls, units;
	bool ready;
};

/* Poll only when the wait handle is ready, never on every turn: for control
 * sockets, signal descriptors and other handles that are rarely ready and
 * cost a system call to ask.  An idle blocking loop learns readiness from
 * its wait; a loop that does not idle (busy-poll, or steady load) asks with
 * a zero-timeout wait at most every EXEC_READY_CHECK_NS, so such a poller
 * may see its event that much late. */
#define EXEC_POLL_ON_READY 0x1
#define EXEC_READY_CHECK_NS 100000

struct exec_timer;
typedef void (*exec_timer_fn)(struct exec_timer *t, void *arg);
struct exec_timer {
	uint64_t deadline_ns;   /* private */
	exec_timer_fn fn;
	void *arg;
	struct exec_loop *loop; /* private: loop it is armed on, or NULL */
	uint32_t heap_idx;      /* private */
};

struct exec_work;
typedef void (*exec_work_fn)(struct exec_work *w, void *arg);
struct exec_work {
	exec_work_fn fn;
	void *arg;
	struct exec_work *next; /* private */
};

struct exec_loop *exec_loop_new(const char *name, enum exec_mode mode);
void exec_loop_free(struct exec_loop *l);
/* Switches the mode from the loop's thread.  A busy-poll loop never sleeps,
 * so it watches only the EXEC_POLL_ON_READY pollers' handles; going to
 * blocking watches the device pollers' handles again, and when that fails
 * returns -1 with the loop still busy-polling. */
int exec_loop_set_mode(struct exec_loop *l, enum exec_mode mode);
enum exec_mode exec_loop_mode(const struct exec_loop *l);
/* Blocking mode only: after a turn that did work, the loop goes on polling
 * (yielding between turns, as busy-poll does) for ns before it sleeps; 0,
 * the default, sleeps at the first turn with nothing to do.  From the
 * loop's thread. */
void exec_loop_set_linger(struct exec_loop *l, uint64_t ns);
uint64_t exec_loop_linger(const struct exec_loop *l);
const char *exec_loop_name(const struct exec_loop *l);

/* The loop the calling thread runs, or NULL. */
struct exec_loop *exec_current(void);
/* The processor (kernel/strand) the loop's strands run on: spawn strands
 * here to run beside the loop on its thread. */
struct strand_cpu;
struct strand_cpu *exec_loop_cpu(const struct exec_loop *l);
/* Makes l the calling thread's loop and registers the thread with RCU;
 * exec_loop_run does this itself. */
void exec_loop_attach(struct exec_loop *l);
void exec_loop_detach(struct exec_loop *l);

int exec_poller_add(struct exec_loop *l, struct exec_poller *p);
void exec_poller_del(struct exec_loop *l, struct exec_poller *p);

/* Runs until exec_loop_stop (callable from any thread or a handler). */
void exec_loop_run(struct exec_loop *l);
void exec_loop_stop(struct exec_loop *l);
/* One turn; waits at most timeout_ns when idle (0: never waits).
 * Returns the number of work units done. */
int exec_loop_run_once(struct exec_loop *l, int64_t timeout_ns);

/* Timers fire on the loop they were armed on, once; re-arm to repeat. */
void exec_timer_init(struct exec_timer *t, exec_timer_fn fn, void *arg);
void exec_timer_arm(struct exec_loop *l, struct exec_timer *t, uint64_t delay_ns);
void exec_timer_cancel(struct exec_timer *t);
bool exec_timer_armed(const struct exec_timer *t);

/* Queues w to run on l's thread at its next turn (from any thread).  The
 * caller owns w's memory until fn runs; fn may free it. */
void exec_defer(struct exec_loop *l, struct exec_work *w, exec_work_fn fn, void *arg);

/* Procedures run on a loop's thread when it detaches from its loop (thread
 * exit): layers above give back per-thread caches here (netgraph returns
 * pooled buffers and counter slots).  At most 8; idempotent per fn. */
int exec_on_detach(void (*fn)(void));

/* Loop counters for spin ctl status. */
struct exec_stats {
	uint64_t turns, idle_waits, work_items, timers_fired, units;
	uint64_t linger_turns;  /* idle turns spent polling on (exec_loop_set_linger) */
};
void exec_loop_stats(const struct exec_loop *l, struct exec_stats *out);

#endif
