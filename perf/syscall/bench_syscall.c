/*
 * bench_syscall.c - the system-call and cross-address-space columns of the
 * paper's Table 3.
 *
 *   call.syscall       a null call from a user-level program into the
 *                      appliance and back (libspin, busy-poll mode; the
 *                      "null" procedure through its capability), against
 *                      Linux's own null system call, getppid.  Reference
 *                      row: it shows what the boundary costs.
 *   call.syscall.pipe  the same null call against a one-byte round trip
 *                      over two pipes between two Linux processes, in the
 *                      same placement and mode (both sides busy-poll with
 *                      non-blocking reads).  Target ratio <= 0.5.
 *   call.crossas       program A -> appliance -> program B -> back (B
 *                      serves a procedure, blocking mode) against the same
 *                      two hops through a Linux broker process relaying
 *                      over Unix stream sockets, all blocking.  Target
 *                      ratio <= 0.8.
 *
 * Placement: the caller (this process) runs on CPU 0; the appliance (a
 * forked process running the appliance's run loop and apps/syscall, the
 * same code `spin run` uses) and the pipe peer or broker run on CPU 1; the
 * serving programs B run on CPU 0 beside A.  Only one busy-poller runs on
 * CPU 1 at a time: the idle one of the appliance and the pipe peer parks
 * in usleep while the other is measured (both sides of every pair pay the
 * same switch at the start of a run, about 0.1 ms of a 10 ms run).
 *
 * Arguments: none.  The machine is shared: quote ratios, not values.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apps/syscall/sysc.h"
#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "libspin/spin.h"
#include "perf/lib/bench.h"

#define CPU_CALLER 0
#define CPU_SERVER 1

/* Who may spin on CPU 1 now (shared with the children). */
enum { ACTIVE_APPLIANCE = 0, ACTIVE_PIPE = 1 };
struct shared {
	_Atomic int active;
	_Atomic int parked[2];
	_Atomic int quit;
};
static struct shared *sh;

static void die(const char *what)
{
	fprintf(stderr, "bench_syscall: %s: %s\n", what, strerror(errno));
	exit(1);
}

static pid_t fork_pinned(int cpu)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sal_init();
		if (sal_thread_pin(cpu))
			die("pin");
	}
	return pid;
}

/* --- the appliance ----------------------------------------------------------------- */
/* Busy mode only: parks the loop while the pipe peer is being measured. */
static int park_poll(void *ctx, int budget)
{
	(void)ctx, (void)budget;
	if (atomic_load(&sh->active) != ACTIVE_APPLIANCE) {
		atomic_store(&sh->parked[ACTIVE_APPLIANCE], 1);
		while (atomic_load(&sh->active) != ACTIVE_APPLIANCE && !atomic_load(&sh->quit))
			usleep(50);
		atomic_store(&sh->parked[ACTIVE_APPLIANCE], 0);
	}
	return 0;
}

static pid_t start_appliance(const char *path, enum exec_mode mode)
{
	pid_t pid = fork_pinned(CPU_SERVER);
	struct exec_poller park = {.name = "park", .poll = park_poll, .wait_handle = -1};
	struct sysc_server *s;
	struct exec_loop *l;
	char err[256];

	if (pid)
		return pid;
	l = exec_loop_new("bench-appliance", mode);
	exec_loop_attach(l);
	if (sysc_server_open(l, path, NULL, &s, err, sizeof err)) {
		fprintf(stderr, "bench_syscall: %s\n", err);
		_exit(1);
	}
	if (mode == EXEC_BUSY_POLL)
		exec_poller_add(l, &park);
	exec_loop_run(l);
	_exit(0);
}

static struct spin *attach(const char *path, enum spin_mode mode, const char *name)
{
	int err = 0;

	for (int i = 0; i < 2000; i++) {
		struct spin *h = spin_open(path, mode, name, &err);

		if (h)
			return h;
		usleep(1000);
	}
	fprintf(stderr, "bench_syscall: attach %s: %s\n", path, spin_strerror(err));
	exit(1);
}

static void make_active(int who)
{
	atomic_store(&sh->active, who);
	while (!atomic_load(&sh->parked[1 - who]))
		sal_cpu_relax();
}

/* --- call.syscall and call.syscall.pipe -------------------------------------------- */
struct null_arg {
	struct spin *h;
	spin_ref_t proc;
};

static void run_null_call(void *arg, uint64_t iters)
{
	struct null_arg *a = arg;

	make_active(ACTIVE_APPLIANCE);
	for (uint64_t i = 0; i < iters; i++)
		if (spin_call_ref(a->h, a->proc, NULL, 0, NULL, 0, NULL))
			abort();
}

static void run_getppid(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++)
		(void)syscall(SYS_getppid);
}

struct pipe_arg { int to, from; };

static void run_pipe(void *arg, uint64_t iters)
{
	struct pipe_arg *a = arg;
	char c = 'x';

	make_active(ACTIVE_PIPE);
	for (uint64_t i = 0; i < iters; i++) {
		if (write(a->to, &c, 1) != 1)
			abort();
		while (read(a->from, &c, 1) != 1)
			;       /* non-blocking: busy-poll */
	}
}

/* The pipe peer: echoes bytes, busy-polling while it is the active side. */
static pid_t start_pipe_peer(int in, int out)
{
	pid_t pid = fork_pinned(CPU_SERVER);
	char c;

	if (pid)
		return pid;
	while (!atomic_load(&sh->quit)) {
		if (atomic_load(&sh->active) != ACTIVE_PIPE) {
			atomic_store(&sh->parked[ACTIVE_PIPE], 1);
			while (atomic_load(&sh->active) != ACTIVE_PIPE && !atomic_load(&sh->quit))
				usleep(50);
			atomic_store(&sh->parked[ACTIVE_PIPE], 0);
			continue;
		}
		if (read(in, &c, 1) == 1 && write(out, &c, 1) != 1)
			break;
	}
	_exit(0);
}

/* --- call.crossas -------------------------------------------------------------------- */
/* Program B: serves "bench.null" until the appliance goes away. */
static pid_t start_server_prog(const char *path)
{
	pid_t pid = fork_pinned(CPU_CALLER);
	struct spin_event ev;
	spin_ref_t ref;
	struct spin *h;

	if (pid)
		return pid;
	h = attach(path, SPIN_BLOCKING, "bench-server");
	if (spin_register(h, "bench.null", &ref))
		_exit(1);
	while (spin_next_event(h, &ev, -1) == 1) {
		uint64_t id = ev.call_id, v = 0;

		if (ev.len == sizeof v)
			memcpy(&v, ev.data, sizeof v);
		spin_event_done(h);
		spin_reply(h, id, 0, &v, sizeof v);
	}
	_exit(0);
}

static void run_crossas(void *arg, uint64_t iters)
{
	struct null_arg *a = arg;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t r = 0;

		if (spin_call_ref(a->h, a->proc, &i, sizeof i, &r, sizeof r, NULL) || r != i)
			abort();
	}
}

static bool read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* The broker relays A's message to B and B's answer back to A. */
static pid_t start_broker(int fa, int fb)
{
	pid_t pid = fork_pinned(CPU_SERVER);
	uint64_t v;

	if (pid)
		return pid;
	while (read_full(fa, &v, sizeof v) && write(fb, &v, sizeof v) == sizeof v &&
	       read_full(fb, &v, sizeof v) && write(fa, &v, sizeof v) == sizeof v)
		;
	_exit(0);
}

static pid_t start_echo_prog(int fd)
{
	pid_t pid = fork_pinned(CPU_CALLER);
	uint64_t v;

	if (pid)
		return pid;
	while (read_full(fd, &v, sizeof v) && write(fd, &v, sizeof v) == sizeof v)
		;
	_exit(0);
}

static void run_broker(void *arg, uint64_t iters)
{
	int fd = *(int *)arg;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t r = 0;

		if (write(fd, &i, sizeof i) != sizeof i || !read_full(fd, &r, sizeof r) || r != i)
			abort();
	}
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	char path[108], path2[108];
	struct bench_result r;
	struct null_arg na;
	pid_t app, peer;
	int p1[2], p2[2];

	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	if (bench_setup(CPU_CALLER) < 0)
		fprintf(stderr, "bench_syscall: could not pin to CPU %d\n", CPU_CALLER);
	snprintf(path, sizeof path, "/tmp/spin-bench-syscall-%d.sock", (int)getpid());
	snprintf(path2, sizeof path2, "/tmp/spin-bench-crossas-%d.sock", (int)getpid());

	/* Busy-poll: the appliance and the pipe peer on CPU 1, one at a time. */
	if (pipe2(p1, O_NONBLOCK) || pipe2(p2, O_NONBLOCK))
		die("pipe");
	atomic_store(&sh->active, ACTIVE_APPLIANCE);
	app = start_appliance(path, EXEC_BUSY_POLL);
	peer = start_pipe_peer(p1[0], p2[1]);
	na.h = attach(path, SPIN_BUSY, "bench-caller");
	if (spin_lookup(na.h, "null", &na.proc))
		die("lookup null");
	bench_pair(run_null_call, &na, run_getppid, NULL, BENCH_RUNS, &r);
	bench_record("call.syscall", r.value, "ns", "lower", "linux.getppid", r.baseline_value,
		     r.ratio, NAN, r.spread, r.runs, "busy-poll",
		     "caller cpu0, appliance cpu1 (busy-poll)");
	struct pipe_arg pa = {.to = p1[1], .from = p2[0]};
	bench_pair(run_null_call, &na, run_pipe, &pa, BENCH_RUNS, &r);
	bench_record("call.syscall.pipe", r.value, "ns", "lower", "linux.pipe.roundtrip",
		     r.baseline_value, r.ratio, 0.5, r.spread, r.runs, "busy-poll",
		     "caller cpu0, appliance or pipe peer cpu1 (both sides busy-poll)");
	spin_close(na.h);
	atomic_store(&sh->quit, 1);
	stop(app);
	stop(peer);
	unlink(path);

	/* Blocking: A and B on CPU 0, the appliance or the broker on CPU 1. */
	atomic_store(&sh->quit, 0);
	int sa[2], sb[2];
	pid_t srv, broker, echo;

	app = start_appliance(path2, EXEC_BLOCKING);
	srv = start_server_prog(path2);
	na.h = attach(path2, SPIN_BLOCKING, "bench-caller");
	for (int i = 0; i < 2000 && spin_lookup(na.h, "bench.null", &na.proc); i++)
		usleep(1000);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sa) || socketpair(AF_UNIX, SOCK_STREAM, 0, sb))
		die("socketpair");
	broker = start_broker(sa[1], sb[0]);
	echo = start_echo_prog(sb[1]);
	bench_pair(run_crossas, &na, run_broker, &sa[0], BENCH_RUNS, &r);
	bench_record("call.crossas", r.value, "ns", "lower", "linux.unix-socket.broker",
		     r.baseline_value, r.ratio, 0.8, r.spread, r.runs, "blocking",
		     "A and B cpu0, appliance or broker cpu1 (all blocking)");
	spin_close(na.h);
	stop(srv);
	stop(app);
	stop(broker);
	stop(echo);
	unlink(path2);
	return 0;
}
