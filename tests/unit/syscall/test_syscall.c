/* Unit tests of the system-call interface: a server (apps/syscall) on a
 * run loop in this process, user-level programs in forked children using
 * libspin.  Checks the null call, kernel procedures, refused references
 * (forged, stale, wrongly typed), cross-address-space calls, and that a
 * program dying mid-call (as server or as caller) leaves the appliance
 * serving the others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apps/syscall/sysc.h"
#include "kernel/exec/exec.h"
#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal.h"
#include "libspin/spin.h"

#define DEADLINE_NS 10000000000ull  /* every wait below is bounded */

static char sock_path[108];
static struct exec_loop *loop;
static struct sysc_server *srv;

static int setup(void **state)
{
	char err[256];

	(void)state;
	snprintf(sock_path, sizeof sock_path, "/tmp/spin-test-syscall-%d.sock", (int)getpid());
	loop = exec_loop_new("sysc-test", EXEC_BLOCKING);
	exec_loop_attach(loop);
	assert_int_equal(sysc_server_open(loop, sock_path, NULL, &srv, err, sizeof err), SYSC_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sysc_server_close(srv);
	exec_loop_detach(loop);
	rcu_barrier();
	exec_loop_free(loop);
	return 0;
}

/* Runs the loop until done(arg) or the deadline; returns done(arg). */
static bool run_until(bool (*done)(void *), void *arg)
{
	uint64_t end = sal_now_ns() + DEADLINE_NS;

	while (!done(arg) && sal_now_ns() < end)
		exec_loop_run_once(loop, 1000000);
	return done(arg);
}

struct child { pid_t pid; int status; bool exited; };

static bool child_exited(void *arg)
{
	struct child *c = arg;

	if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
		c->exited = true;
	return c->exited;
}

/* Runs the loop until child c exits; returns its exit code (or 128+sig). */
static int wait_child(struct child *c)
{
	if (!run_until(child_exited, c)) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &c->status, 0);
		return -1;
	}
	return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128 + WTERMSIG(c->status);
}

struct pipe_byte { int fd; char want; bool got; };

/* Sticky: run_until asks once more after the loop ends. */
static bool got_byte(void *arg)
{
	struct pipe_byte *p = arg;
	char c;

	if (!p->got && read(p->fd, &c, 1) == 1 && c == p->want)
		p->got = true;
	return p->got;
}

static struct child spawn(int (*fn)(void *), void *arg)
{
	struct child c = {.pid = fork()};

	if (c.pid == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);

	assert_true(c.pid >= 0);
	if (c.pid == 0)
		_exit(fn(arg));
	return c;
}

/* --- children ----------------------------------------------------------------- */
#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "child %d: %s:%d: %s\n", (int)getpid(), \
				__FILE__, __LINE__, #cond);                     \
			return 1;                                               \
		}                                                               \
	} while (0)

/* Null call, kernel procedures, and refused references. */
static int basic_child(void *arg)
{
	enum spin_mode mode = (enum spin_mode)(intptr_t)arg;
	int err = 0;
	struct spin *h = spin_open(sock_path, mode, "basic", &err);
	char res[64];
	size_t rlen = 0;
	spin_ref_t null_ref, served, forged;

	CHECK(h);
	for (int i = 0; i < 1000; i++)
		CHECK(spin_null(h) == 0);
	CHECK(spin_call(h, "null", NULL, 0, NULL, 0, NULL) == 0);
	CHECK(spin_call(h, "echo", "hello", 5, res, sizeof res, &rlen) == 0);
	CHECK(rlen == 5 && !memcmp(res, "hello", 5));
	CHECK(spin_call(h, "no-such-proc", NULL, 0, NULL, 0, NULL) == -SPIN_ENOENT);
	CHECK(spin_lookup(h, "null", &null_ref) == 0);
	CHECK(spin_call_ref(h, null_ref, NULL, 0, NULL, 0, NULL) == 0);

	/* Forged: a made-up value, and a live reference with its index,
	 * generation or tag changed. */
	CHECK(spin_call_ref(h, 0, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	CHECK(spin_call_ref(h, 0x123456789abcdefull, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	forged = null_ref + 1000;
	CHECK(spin_call_ref(h, forged, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	forged = null_ref + (5ull << 24);
	CHECK(spin_call_ref(h, forged, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	forged = null_ref ^ (1ull << 50);
	CHECK(spin_call_ref(h, forged, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);

	/* Wrongly typed: a served procedure is not a callable procedure, and
	 * a procedure is not a UDP endpoint. */
	CHECK(spin_register(h, "basic-served", &served) == 0);
	CHECK(spin_call_ref(h, served, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	CHECK(spin_raw_request(h, SPIN_OP_CALL, served, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	/* Nor is either a TCP connection, and a forged one is refused too. */
	CHECK(spin_tcp_send(h, served, "x", 1) == -SPIN_EBADREF);
	CHECK(spin_tcp_send(h, null_ref, "x", 1) == -SPIN_EBADREF);
	CHECK(spin_tcp_abort(h, served) == -SPIN_EBADREF);
	CHECK(spin_tcp_send(h, forged, "x", 1) == -SPIN_EBADREF);
	CHECK(spin_tcp_recved(h, served, 100) == 0);       /* no response: counted */
	CHECK(spin_call_ref(h, served, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);

	/* Stale: closed, then its slot reused by a new lookup. */
	CHECK(spin_close_ref(h, null_ref) == 0);
	CHECK(spin_call_ref(h, null_ref, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	CHECK(spin_close_ref(h, null_ref) == -SPIN_EBADREF);
	spin_ref_t again;
	CHECK(spin_lookup(h, "null", &again) == 0);
	CHECK(again != null_ref);
	CHECK(spin_call_ref(h, null_ref, NULL, 0, NULL, 0, NULL) == -SPIN_EBADREF);
	CHECK(spin_call_ref(h, again, NULL, 0, NULL, 0, NULL) == 0);

	/* Malformed requests are refused, and the program still works. */
	CHECK(spin_raw_request(h, 999, 0, 0, NULL, 0, NULL) == -SPIN_EINVAL);
	CHECK(spin_raw_request(h, SPIN_OP_LOOKUP, 0, 0, "x", 1, NULL) == -SPIN_EINVAL);
	CHECK(spin_null(h) == 0);
	spin_close(h);
	return 0;
}

static void test_basic(void **state, enum spin_mode mode)
{
	(void)state;
	struct sysc_stats st0, st;
	struct child c;

	sysc_server_stats(srv, &st0);
	c = spawn(basic_child, (void *)(intptr_t)mode);
	assert_int_equal(wait_child(&c), 0);
	sysc_server_stats(srv, &st);
	assert_int_equal(st.bad_refs - st0.bad_refs, 16);
	assert_int_equal(st.attached - st0.attached, 1);
	/* Detach follows the child's exit once the loop sees the hang-up. */
	struct sysc_stats *sp = &st;
	(void)sp;
}

static void test_basic_blocking(void **state) { test_basic(state, SPIN_BLOCKING); }
static void test_basic_busy(void **state) { test_basic(state, SPIN_BUSY); }

/* A server child: registers names, writes 'R' to out, then serves:
 *   "hang": writes 'I' and never replies
 *   "slow": writes 'S', waits for a byte on in, then replies "late"
 *   "add1": replies with its 4-byte argument plus one */
struct server_arg { int out, in; const char *names[3]; };

static int server_child(void *arg)
{
	struct server_arg *a = arg;
	struct spin *h = spin_open(sock_path, SPIN_BLOCKING, "server", NULL);
	spin_ref_t refs[3];
	const char *name_of[3] = {0};
	struct spin_event ev;

	CHECK(h);
	for (int i = 0; i < 3 && a->names[i]; i++) {
		CHECK(spin_register(h, a->names[i], &refs[i]) == 0);
		name_of[i] = a->names[i];
	}
	CHECK(write(a->out, "R", 1) == 1);
	while (spin_next_event(h, &ev, -1) == 1) {
		const char *name = NULL;
		uint64_t id = ev.call_id;
		uint32_t v = 0;

		for (int i = 0; i < 3; i++)
			if (name_of[i] && ev.ref == refs[i])
				name = name_of[i];
		CHECK(ev.type == SPIN_EV_INVOKE && name);
		if (ev.len == sizeof v)
			memcpy(&v, ev.data, sizeof v);
		spin_event_done(h);
		if (!strcmp(name, "hang")) {
			CHECK(write(a->out, "I", 1) == 1);
			for (;;)
				pause();
		} else if (!strcmp(name, "slow")) {
			char c;

			CHECK(write(a->out, "S", 1) == 1);
			CHECK(read(a->in, &c, 1) == 1);
			CHECK(spin_reply(h, id, 0, "late", 4) == 0);
		} else {
			v++;
			CHECK(spin_reply(h, id, 0, &v, sizeof v) == 0);
		}
	}
	return 0;
}

static int call_expect_child(void *arg)
{
	const char *name = arg;
	struct spin *h = spin_open(sock_path, SPIN_BLOCKING, "caller", NULL);
	int rc;

	CHECK(h);
	rc = spin_call(h, name, NULL, 0, NULL, 0, NULL);
	spin_close(h);
	return rc == -SPIN_EDEAD ? 0 : 10 + (rc < 0 ? -rc : rc);
}

static int add1_child(void *arg)
{
	enum spin_mode mode = (enum spin_mode)(intptr_t)arg;
	struct spin *h = spin_open(sock_path, mode, "adder", NULL);
	spin_ref_t add1;

	CHECK(h);
	CHECK(spin_lookup(h, "add1", &add1) == 0);
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t r = 0;
		size_t rlen = 0;

		CHECK(spin_call_ref(h, add1, &i, sizeof i, &r, sizeof r, &rlen) == 0);
		CHECK(rlen == sizeof r && r == i + 1);
		CHECK(spin_null(h) == 0);
	}
	spin_close(h);
	return 0;
}

static bool stats_detached_at_least(void *arg)
{
	struct sysc_stats st;

	sysc_server_stats(srv, &st);
	return st.detached >= *(uint64_t *)arg;
}

static bool stats_discarded_at_least(void *arg)
{
	struct sysc_stats st;

	sysc_server_stats(srv, &st);
	return st.replies_discarded >= *(uint64_t *)arg;
}

/* A serving program killed while a call waits on it: the caller gets
 * -SPIN_EDEAD.  A caller killed while its call is being served: the reply
 * is discarded.  Through both, another program keeps being served. */
static void test_death_mid_call(void **state)
{
	(void)state;
	int pb[2], pc[2], go[2];
	struct server_arg ab, ac;
	struct child b, c, a1, a3, a2;
	struct pipe_byte want;
	struct sysc_stats st0, st;
	uint64_t n;

	assert_int_equal(pipe2(pb, O_NONBLOCK), 0);
	assert_int_equal(pipe2(pc, O_NONBLOCK), 0);
	assert_int_equal(pipe(go), 0);
	sysc_server_stats(srv, &st0);
	ab = (struct server_arg){.out = pb[1], .in = -1, .names = {"hang"}};
	ac = (struct server_arg){.out = pc[1], .in = go[0], .names = {"slow", "add1"}};
	b = spawn(server_child, &ab);
	c = spawn(server_child, &ac);
	want = (struct pipe_byte){pb[0], 'R', false};
	assert_true(run_until(got_byte, &want));
	want = (struct pipe_byte){pc[0], 'R', false};
	assert_true(run_until(got_byte, &want));

	/* The server dies mid-call. */
	a1 = spawn(call_expect_child, "hang");
	want = (struct pipe_byte){pb[0], 'I', false};
	assert_true(run_until(got_byte, &want));
	kill(b.pid, SIGKILL);
	assert_int_equal(wait_child(&a1), 0);
	assert_int_equal(wait_child(&b), 128 + SIGKILL);

	/* The caller dies mid-call. */
	a3 = spawn(call_expect_child, "slow");
	want = (struct pipe_byte){pc[0], 'S', false};
	assert_true(run_until(got_byte, &want));
	kill(a3.pid, SIGKILL);
	assert_int_equal(wait_child(&a3), 128 + SIGKILL);
	n = st0.detached + 3;   /* a1, b, a3 */
	assert_true(run_until(stats_detached_at_least, &n));
	assert_int_equal(write(go[1], "G", 1), 1);
	n = st0.replies_discarded + 1;
	assert_true(run_until(stats_discarded_at_least, &n));

	/* The others are still served, in both modes. */
	a2 = spawn(add1_child, (void *)(intptr_t)SPIN_BLOCKING);
	assert_int_equal(wait_child(&a2), 0);
	a2 = spawn(add1_child, (void *)(intptr_t)SPIN_BUSY);
	assert_int_equal(wait_child(&a2), 0);

	kill(c.pid, SIGKILL);
	assert_int_equal(wait_child(&c), 128 + SIGKILL);
	n = st0.detached + 6;
	assert_true(run_until(stats_detached_at_least, &n));
	sysc_server_stats(srv, &st);
	assert_int_equal(st.calls_dead - st0.calls_dead, 1);
	assert_int_equal(st.replies_discarded - st0.replies_discarded, 1);
	assert_int_equal(st.calls_forwarded - st0.calls_forwarded, 402);
	assert_int_equal(st.programs, 0);
	for (int i = 0; i < 2; i++) {
		close(pb[i]);
		close(pc[i]);
		close(go[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_blocking),
		cmocka_unit_test(test_basic_busy),
		cmocka_unit_test(test_death_mid_call),
	};
	signal(SIGPIPE, SIG_IGN);
	sal_init();
	return cmocka_run_group_tests_name("syscall", tests, setup, teardown);
}
