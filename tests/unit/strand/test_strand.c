/* Unit tests of strands, the global scheduler, the kernel thread package
 * and a stacked application scheduler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/sal/sal.h"
#include "kernel/strand/kthread.h"
#include "kernel/strand/strand.h"

/* A trace of who ran, as a string of one-letter names. */
static char trace[256];
static int ntrace;

static void mark(char ch)
{
	if (ntrace < (int)sizeof trace - 1)
		trace[ntrace++] = ch;
	trace[ntrace] = 0;
}

static void trace_reset(void)
{
	ntrace = 0;
	trace[0] = 0;
}

/* --- create, run, exit; the processor returns when all are gone ---------- */
static int ran[100];

static void count_fn(void *arg)
{
	ran[(intptr_t)arg]++;
}

static void test_spawn_exit(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("t");
	memset(ran, 0, sizeof ran);
	for (intptr_t i = 0; i < 100; i++)
		assert_non_null(strand_spawn(c, count_fn, (void *)i, NULL));
	strand_cpu_run(c);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ran[i], 1);
	struct strand_cpu_stats st;
	strand_cpu_stats(c, &st);
	assert_int_equal(st.spawned, 100);
	assert_int_equal(st.exited, 100);
	/* A second round reuses the pooled stacks. */
	for (intptr_t i = 0; i < 100; i++)
		assert_non_null(strand_spawn(c, count_fn, (void *)i, NULL));
	strand_cpu_run(c);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ran[i], 2);
	strand_cpu_free(c);
}

/* --- round robin among equals, strict between priorities ------------------ */
static void yield3(void *arg)
{
	for (int i = 0; i < 3; i++) {
		mark((char)(intptr_t)arg);
		strand_yield();
	}
}

static void test_round_robin(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("rr");
	trace_reset();
	strand_spawn(c, yield3, (void *)'A', NULL);
	strand_spawn(c, yield3, (void *)'B', NULL);
	strand_spawn(c, yield3, (void *)'C', NULL);
	strand_cpu_run(c);
	assert_string_equal(trace, "ABCABCABC");
	strand_cpu_free(c);
}

static void test_priority(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("prio");
	trace_reset();
	struct strand_attr lo = {.name = "lo", .prio = 5};
	struct strand_attr hi = {.name = "hi", .prio = 20};
	strand_spawn(c, yield3, (void *)'l', &lo);
	strand_spawn(c, yield3, (void *)'H', &hi);
	strand_spawn(c, yield3, (void *)'m', NULL);
	strand_cpu_run(c);
	/* The higher priority runs to completion despite yielding. */
	assert_string_equal(trace, "HHHmmmlll");
	strand_cpu_free(c);
}

/* A high priority strand woken by a low one preempts it at the next safe
 * point (not before). */
static struct strand *sleeper_hi;

static void hi_waiter(void *arg)
{
	(void)arg;
	mark('w');
	strand_will_block();
	strand_block();
	mark('H');
}

static void lo_waker(void *arg)
{
	(void)arg;
	mark('1');
	strand_unblock(sleeper_hi);
	mark('2');           /* still running: no safe point yet */
	strand_safe_point(); /* here the woken strand takes over */
	mark('3');
}

static void test_wake_preempts_at_safe_point(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("wake");
	trace_reset();
	struct strand_attr hi = {.name = "hi", .prio = 20};
	struct strand_attr lo = {.name = "lo", .prio = 2};
	sleeper_hi = strand_spawn(c, hi_waiter, NULL, &hi);
	strand_spawn(c, lo_waker, NULL, &lo);
	strand_cpu_run(c);
	assert_string_equal(trace, "w12H3");
	strand_cpu_free(c);
}

/* --- preemption by the ticker ---------------------------------------------- */
static atomic_int spin_progress[2];
static atomic_int saw_other[2];

static void spinner(void *arg)
{
	int me = (int)(intptr_t)arg, other = 1 - me;
	uint64_t start = sal_now_ns();
	/* Never yields or blocks: only preemption at safe points lets the
	 * other spinner run.  Bounded at 5 s in case preemption is broken. */
	int seen0 = atomic_load(&spin_progress[other]);
	while (sal_now_ns() - start < 5000000000ull) {
		atomic_fetch_add(&spin_progress[me], 1);
		if (atomic_load(&spin_progress[other]) > seen0 + 1000) {
			atomic_store(&saw_other[me], 1);
			if (atomic_load(&saw_other[other]))
				break;
		}
		strand_safe_point();
	}
}

static void test_preemption(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("pre");
	atomic_store(&spin_progress[0], 0);
	atomic_store(&spin_progress[1], 0);
	atomic_store(&saw_other[0], 0);
	atomic_store(&saw_other[1], 0);
	assert_int_equal(strand_preempt_start(1000000), STRAND_OK);
	strand_spawn(c, spinner, (void *)0, NULL);
	strand_spawn(c, spinner, (void *)1, NULL);
	strand_cpu_run(c);
	strand_preempt_stop();
	assert_true(atomic_load(&saw_other[0]));
	assert_true(atomic_load(&saw_other[1]));
	struct strand_cpu_stats st;
	strand_cpu_stats(c, &st);
	assert_true(st.preemptions > 0);
	strand_cpu_free(c);
}

/* --- sleeping ---------------------------------------------------------------- */
static void sleeper(void *arg)
{
	intptr_t ms = (intptr_t)arg;
	strand_sleep_ns((uint64_t)ms * 1000000ull);
	mark((char)('0' + ms / 10));
}

static void test_sleep_order(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("sleep");
	trace_reset();
	strand_spawn(c, sleeper, (void *)30, NULL);
	strand_spawn(c, sleeper, (void *)10, NULL);
	strand_spawn(c, sleeper, (void *)20, NULL);
	strand_cpu_run(c);
	assert_string_equal(trace, "123");
	strand_cpu_free(c);
}

/* --- kernel threads: spawn and join with results ----------------------------- */
static void *square(void *arg)
{
	intptr_t v = (intptr_t)arg;
	strand_yield();
	return (void *)(v * v);
}

static void forkjoin_main(void *arg)
{
	int *ok = arg;
	struct kthread *t[20];
	for (intptr_t i = 0; i < 20; i++)
		t[i] = kthread_spawn(NULL, "sq", square, (void *)i, -1);
	for (intptr_t i = 0; i < 20; i++) {
		void *r = NULL;
		if (kthread_join(t[i], &r) == STRAND_OK && (intptr_t)r == i * i)
			(*ok)++;
	}
}

static void test_kthread_join(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("kt");
	int ok = 0;
	strand_spawn(c, forkjoin_main, &ok, NULL);
	strand_cpu_run(c);
	assert_int_equal(ok, 20);
	strand_cpu_free(c);
}

/* --- mutex and condition variable across two processors ----------------------- */
static struct kthread_mutex mx = KTHREAD_MUTEX_INIT;
static struct kthread_cond cv = KTHREAD_COND_INIT;
static long counter;
static int queue_items, produced, consumed;

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		kthread_mutex_lock(&mx);
		long v = counter;
		if ((i & 63) == 0)
			strand_yield(); /* hold the lock across a switch */
		counter = v + 1;
		kthread_mutex_unlock(&mx);
	}
	return NULL;
}

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000; i++) {
		kthread_mutex_lock(&mx);
		while (queue_items >= 4)
			kthread_cond_wait(&cv, &mx);
		queue_items++;
		produced++;
		kthread_cond_broadcast(&cv);
		kthread_mutex_unlock(&mx);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000; i++) {
		kthread_mutex_lock(&mx);
		while (queue_items == 0)
			kthread_cond_wait(&cv, &mx);
		queue_items--;
		consumed++;
		kthread_cond_signal(&cv);
		kthread_mutex_unlock(&mx);
	}
	return NULL;
}

struct two {
	struct strand_cpu *cpu[2];
	int ok;
};

static void two_main(void *arg)
{
	struct two *t = arg;
	struct kthread *k[3];
	k[0] = kthread_spawn(t->cpu[0], "add0", adder, NULL, -1);
	k[1] = kthread_spawn(t->cpu[0], "prod", producer, NULL, -1);
	k[2] = kthread_spawn(t->cpu[0], "add1", adder, NULL, -1);
	for (int i = 0; i < 3; i++)
		t->ok += kthread_join(k[i], NULL) == STRAND_OK;
}

static struct kthread *remote[2];

static void cpu1_main(void *arg)
{
	(void)arg;
	remote[0] = kthread_spawn(NULL, "cons", consumer, NULL, -1);
	remote[1] = kthread_spawn(NULL, "add2", adder, NULL, -1);
	kthread_join(remote[0], NULL);
	kthread_join(remote[1], NULL);
}

static void *run_cpu(void *arg)
{
	strand_cpu_run(arg);
	return NULL;
}

static void test_mutex_cond_two_cpus(void **state)
{
	(void)state;
	struct two t = {{strand_cpu_new("c0"), strand_cpu_new("c1")}, 0};
	counter = 0;
	queue_items = produced = consumed = 0;
	strand_spawn(t.cpu[0], two_main, &t, NULL);
	strand_spawn(t.cpu[1], cpu1_main, NULL, NULL);
	pthread_t th;
	pthread_create(&th, NULL, run_cpu, t.cpu[1]);
	strand_cpu_run(t.cpu[0]);
	pthread_join(th, NULL);
	assert_int_equal(t.ok, 3);
	assert_int_equal(counter, 3 * 20000);
	assert_int_equal(produced, 5000);
	assert_int_equal(consumed, 5000);
	assert_int_equal(queue_items, 0);
	strand_cpu_free(t.cpu[0]);
	strand_cpu_free(t.cpu[1]);
}

/* --- join across processors and remote unblock ------------------------------- */
static struct strand *blocked_on_c1;

static void block_forever_until_woken(void *arg)
{
	atomic_int *flag = arg;
	strand_will_block();
	atomic_store(flag, 1);
	strand_block();
	atomic_store(flag, 2);
}

static void remote_waker(void *arg)
{
	atomic_int *flag = arg;
	while (atomic_load(flag) != 1)
		strand_yield();
	strand_unblock(blocked_on_c1);
}

static void test_remote_unblock(void **state)
{
	(void)state;
	struct strand_cpu *c0 = strand_cpu_new("c0"), *c1 = strand_cpu_new("c1");
	atomic_int flag = 0;
	blocked_on_c1 = strand_spawn(c1, block_forever_until_woken, &flag, NULL);
	strand_spawn(c0, remote_waker, &flag, NULL);
	pthread_t th;
	pthread_create(&th, NULL, run_cpu, c1);
	strand_cpu_run(c0);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&flag), 2);
	struct strand_cpu_stats st;
	strand_cpu_stats(c1, &st);
	assert_true(st.remote_wakes >= 1);
	strand_cpu_free(c0);
	strand_cpu_free(c1);
}

/* --- an application scheduler stacked on the global one ----------------------
 * Policy: strict FIFO run-to-completion.  A strand of this vp that yields
 * (Checkpoint) is put back at the HEAD of the vp's queue, so the vp always
 * resumes the oldest runnable strand: its strands never interleave, while
 * the global scheduler still round-robins between the vp and a global
 * strand of the same priority. */
struct fifo_sched {
	struct strand *q[32];
	int n;
	int resumes, checkpoints, blocks, unblocks;
};

static struct strand *fifo_resume(void *ctx, struct strand *vp)
{
	(void)vp;
	struct fifo_sched *f = ctx;
	f->resumes++;
	if (f->n == 0)
		return NULL;
	struct strand *s = f->q[0];
	memmove(&f->q[0], &f->q[1], (size_t)(f->n - 1) * sizeof f->q[0]);
	f->n--;
	return s;
}

static void fifo_checkpoint(void *ctx, struct strand *s)
{
	struct fifo_sched *f = ctx;
	f->checkpoints++;
	memmove(&f->q[1], &f->q[0], (size_t)f->n * sizeof f->q[0]);
	f->q[0] = s;
	f->n++;
}

static void fifo_block(void *ctx, struct strand *s)
{
	(void)s;
	((struct fifo_sched *)ctx)->blocks++;
}

static void fifo_unblock(void *ctx, struct strand *s)
{
	struct fifo_sched *f = ctx;
	f->unblocks++;
	f->q[f->n++] = s;
	strand_vp_ready(strand_vp_of(s));
}

static void test_stacked_fifo_scheduler(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("app");
	struct fifo_sched f = {.n = 0};
	const struct strand_policy pol = {
		.resume = fifo_resume,
		.checkpoint = fifo_checkpoint,
		.block = fifo_block,
		.unblock = fifo_unblock,
		.ctx = &f,
	};
	struct strand *vp = strand_vp_new(c, "fifo", STRAND_PRIO_DEFAULT, &pol);
	assert_non_null(vp);
	trace_reset();
	struct strand_attr a = {.name = "app", .prio = STRAND_PRIO_DEFAULT, .vp = vp};
	strand_spawn(c, yield3, (void *)'A', &a);
	strand_spawn(c, yield3, (void *)'B', &a);
	strand_spawn(c, yield3, (void *)'C', &a);
	strand_spawn(c, yield3, (void *)'g', NULL);
	strand_cpu_run(c);
	/* The vp's strands run in FIFO order to completion; the global
	 * strand g gets every other turn (the vp is one entity to the global
	 * round robin). */
	assert_string_equal(trace, "AgAgAgBBBCCC");
	assert_int_equal(f.unblocks, 3);
	assert_int_equal(f.blocks, 3);     /* each exit reported as Block */
	assert_true(f.checkpoints >= 6);
	assert_int_equal(f.n, 0);
	strand_vp_free(vp);

	/* The same strands under the global scheduler interleave. */
	trace_reset();
	strand_spawn(c, yield3, (void *)'A', NULL);
	strand_spawn(c, yield3, (void *)'B', NULL);
	strand_spawn(c, yield3, (void *)'C', NULL);
	strand_cpu_run(c);
	assert_string_equal(trace, "ABCABCABC");
	strand_cpu_free(c);
}

/* --- spawning onto a running processor from another thread ------------------- */
static atomic_int remote_count;

static void remote_inc(void *arg)
{
	(void)arg;
	atomic_fetch_add(&remote_count, 1);
}

static void wait_for_remote(void *arg)
{
	int want = (int)(intptr_t)arg;
	uint64_t start = sal_now_ns();
	while (atomic_load(&remote_count) < want && sal_now_ns() - start < 5000000000ull)
		strand_sleep_ns(1000000);
}

struct spawner {
	struct strand_cpu *c;
	int n;
};

static void *spawn_from_outside(void *arg)
{
	struct spawner *sp = arg;
	for (int i = 0; i < sp->n; i++)
		strand_spawn(sp->c, remote_inc, NULL, NULL);
	return NULL;
}

static void test_spawn_from_other_thread(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("remote");
	atomic_store(&remote_count, 0);
	strand_spawn(c, wait_for_remote, (void *)(intptr_t)50, NULL);
	struct spawner sp = {c, 50};
	pthread_t th;
	pthread_create(&th, NULL, spawn_from_outside, &sp);
	strand_cpu_run(c);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&remote_count), 50);
	strand_cpu_free(c);
}

/* --- stopping a strand at its next safe point -------------------------------- */
static atomic_int loops_done;
static atomic_bool past_safe_point;

static void endless(void *arg)
{
	(void)arg;
	for (;;) {
		atomic_fetch_add(&loops_done, 1);
		strand_safe_point();
		if (atomic_load(&loops_done) > 100000000)
			break; /* never reached when stop works */
	}
	atomic_store(&past_safe_point, true);
}

static void stopper(void *arg)
{
	struct strand *victim = arg;
	while (atomic_load(&loops_done) < 10)
		strand_yield();
	strand_stop(victim);
	assert_int_equal(strand_join(victim), STRAND_OK);
}

static void test_stop_at_safe_point(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("stop");
	atomic_store(&loops_done, 0);
	atomic_store(&past_safe_point, false);
	struct strand_attr j = {.name = "endless", .prio = STRAND_PRIO_DEFAULT,
				.flags = STRAND_JOINABLE};
	/* The endless strand yields only through preemption at safe points. */
	assert_int_equal(strand_preempt_start(1000000), STRAND_OK);
	struct strand *victim = strand_spawn(c, endless, NULL, &j);
	strand_spawn(c, stopper, victim, NULL);
	strand_cpu_run(c);
	strand_preempt_stop();
	assert_false(atomic_load(&past_safe_point));
	assert_true(atomic_load(&loops_done) >= 10);
	strand_cpu_free(c);
}

/* --- a strand blocks until a watched handle is ready -------------------------- */
static int pipefd[2];
static atomic_int reader_state;

static void handle_reader(void *arg)
{
	struct strand_cpu *c = arg;
	assert_int_equal(strand_cpu_watch(c, pipefd[0], strand_self()), STRAND_OK);
	char ch = 0;
	atomic_store(&reader_state, 1);
	/* Waits without polling: the processor idles in the wait set. */
	while (read(pipefd[0], &ch, 1) != 1) {
		strand_will_block();
		strand_block();
	}
	strand_cpu_unwatch(c, pipefd[0]);
	atomic_store(&reader_state, ch == 'x' ? 2 : 3);
}

static void *late_writer(void *arg)
{
	(void)arg;
	while (atomic_load(&reader_state) == 0)
		sched_yield();
	usleep(20000);
	if (write(pipefd[1], "x", 1) != 1)
		abort();
	return NULL;
}

static void test_watch_handle(void **state)
{
	(void)state;
	struct strand_cpu *c = strand_cpu_new("watch");
	assert_int_equal(pipe2(pipefd, O_NONBLOCK), 0);
	atomic_store(&reader_state, 0);
	strand_spawn(c, handle_reader, c, NULL);
	pthread_t th;
	pthread_create(&th, NULL, late_writer, NULL);
	strand_cpu_run(c);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&reader_state), 2);
	struct strand_cpu_stats st;
	strand_cpu_stats(c, &st);
	assert_true(st.idle_waits >= 1);
	close(pipefd[0]);
	close(pipefd[1]);
	strand_cpu_free(c);
}

int main(void)
{
	sal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_exit),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_wake_preempts_at_safe_point),
		cmocka_unit_test(test_preemption),
		cmocka_unit_test(test_sleep_order),
		cmocka_unit_test(test_kthread_join),
		cmocka_unit_test(test_mutex_cond_two_cpus),
		cmocka_unit_test(test_remote_unblock),
		cmocka_unit_test(test_stacked_fifo_scheduler),
		cmocka_unit_test(test_spawn_from_other_thread),
		cmocka_unit_test(test_stop_at_safe_point),
		cmocka_unit_test(test_watch_handle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
