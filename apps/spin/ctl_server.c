/*
 * ctl_server.c - the control socket's I/O thread (contract in ctl_server.h).
 *
 * The thread owns the listening socket and the connection being served.
 * A command travels to the loop as one exec_work (the request lives in the
 * server, one at a time) and comes back through an eventfd the thread
 * waits on beside its stop eventfd.  The request is shared by the two
 * threads only between exec_defer and the loop's write to `done`; the
 * eventfd's write and read order the reply text before the thread reads it.
 *
 * Shutdown while a command is queued but not yet run (the loop stopped
 * first): the thread gives up on it and the request stays owned by the
 * loop's queue; `refs` makes whichever side lets go last free the server.
 */
#include "apps/spin/ctl_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kernel/exec/exec.h"

#define CTL_LINE_MAX 1024

struct ctl_server {
	int fd;                   /* listening socket */
	int stop_fd, done_fd;     /* eventfds: stop the thread; a command ran */
	char path[108];
	struct exec_loop *loop;
	ctl_server_fn fn;
	void *arg;
	pthread_t thread;
	bool started;
	_Atomic int refs;         /* the server's owner, and a queued command */
	/* The request in flight. */
	struct exec_work work;
	char line[CTL_LINE_MAX];
	char *out;
	int rc;
};

static void put(struct ctl_server *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		free(s);
}

static void evfd_signal(int fd)
{
	uint64_t one = 1;
	while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

/* On the loop: runs the command and hands the reply back. */
static void run_on_loop(struct exec_work *w, void *arg)
{
	struct ctl_server *s = arg;
	(void)w;
	if (atomic_load(&s->refs) > 1) {
		s->out = NULL;
		s->rc = s->fn(s->arg, s->line, &s->out);
		evfd_signal(s->done_fd);
	}
	put(s);
}

/* Waits until fd is ready for events or the server is told to stop:
 * 1 ready, 0 timed out, -1 stop. */
static int wait_fd(struct ctl_server *s, int fd, short events, int timeout_ms)
{
	struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = s->stop_fd, .events = POLLIN}};
	for (;;) {
		int r = poll(p, 2, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (p[1].revents & POLLIN))
			return -1;
		return r > 0 ? 1 : 0;
	}
}

/* Reads one line (up to its newline, the peer's shutdown, or CTL_LINE_MAX
 * - 1 bytes) into s->line.  False when the client sent nothing in time or
 * the server is stopping. */
static bool read_line(struct ctl_server *s, int c)
{
	size_t len = 0;
	while (len < sizeof s->line - 1) {
		int r = wait_fd(s, c, POLLIN, CTL_SERVER_TIMEOUT_MS);
		if (r <= 0)
			return false;
		ssize_t n = read(c, s->line + len, sizeof s->line - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (memchr(s->line + len, '\n', (size_t)n)) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
	}
	s->line[len] = 0;
	s->line[strcspn(s->line, "\r\n")] = 0;
	return true;
}

static void write_all(struct ctl_server *s, int c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && wait_fd(s, c, POLLOUT, CTL_SERVER_TIMEOUT_MS) > 0)
			continue;
		return;
	}
}

/* Runs s->line on the loop and waits for its reply.  False if the server
 * stopped first (the queued command then belongs to the loop). */
static bool run_command(struct ctl_server *s)
{
	atomic_fetch_add(&s->refs, 1);
	exec_defer(s->loop, &s->work, run_on_loop, s);
	for (;;) {
		int r = wait_fd(s, s->done_fd, POLLIN, -1);
		if (r < 0)
			return false;
		uint64_t v;
		if (read(s->done_fd, &v, sizeof v) == (ssize_t)sizeof v)
			return true;
	}
}

static void serve(struct ctl_server *s, int c)
{
	if (!read_line(s, c))
		return;
	if (!run_command(s))
		return;
	const char *hdr = s->rc ? "ERR " : "OK\n";
	write_all(s, c, hdr, strlen(hdr));
	if (s->out)
		write_all(s, c, s->out, strlen(s->out));
	free(s->out);
	s->out = NULL;
}

static void *thread_main(void *arg)
{
	struct ctl_server *s = arg;
	/* Signals belong to the loop's signalfd, never to this thread. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		int r = wait_fd(s, s->fd, POLLIN, -1);
		if (r < 0)
			break;
		int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			continue;
		serve(s, c);
		close(c);
	}
	return NULL;
}

struct ctl_server *ctl_server_open(const char *path, struct exec_loop *loop, ctl_server_fn fn,
				   void *arg, char *err, size_t n)
{
	struct ctl_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, n, "control socket %s: out of memory", path);
		return NULL;
	}
	s->fd = s->stop_fd = s->done_fd = -1;
	s->loop = loop;
	s->fn = fn;
	s->arg = arg;
	atomic_init(&s->refs, 1);
	snprintf(s->path, sizeof s->path, "%s", path);

	char dir[sizeof s->path];
	snprintf(dir, sizeof dir, "%s", s->path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto fail;
	/* A socket file left by a crashed appliance is replaced; one that a
	 * running appliance answers on is not. */
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		snprintf(err, n, "control socket %s is in use by another appliance", s->path);
		close(s->fd);
		free(s);
		return NULL;
	}
	unlink(s->path);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa) || listen(s->fd, 16))
		goto fail;
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	s->done_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0 || s->done_fd < 0)
		goto fail;
	int e = pthread_create(&s->thread, NULL, thread_main, s);
	if (e) {
		errno = e;
		goto fail;
	}
	s->started = true;
	return s;
fail:
	snprintf(err, n, "control socket %s: %s", s->path, strerror(errno));
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->done_fd >= 0)
		close(s->done_fd);
	free(s);
	return NULL;
}

void ctl_server_close(struct ctl_server *s)
{
	if (!s)
		return;
	if (s->started) {
		evfd_signal(s->stop_fd);
		pthread_join(s->thread, NULL);
	}
	close(s->fd);
	unlink(s->path);
	close(s->stop_fd);
	close(s->done_fd);
	s->fd = s->stop_fd = s->done_fd = -1;
	free(s->out);
	s->out = NULL;
	put(s);
}
