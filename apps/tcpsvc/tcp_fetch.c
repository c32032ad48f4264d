/*
 * tcp_fetch.c - the TCP client module "tcpfetch" (see tcpsvc.h): one
 * active open per transfer, a file (or chargen bytes) sent, what comes back
 * written to a file (or only counted).  `spin ctl tcp fetch` drives it.
 *
 * A transfer: tcp_connect; on connected the send side fills TCP's send
 * buffer from the source (buffers from tcp_pool, each filled to at most
 * 1460 bytes) until tcp_send says TCP_EAGAIN, keeps the refused buffer, and
 * resumes on writable (or from a 1 ms timer when the pool was empty).  At the end of the source it
 * calls tcp_close: a FIN after the data, and receiving goes on until the
 * peer's FIN.  Every received chain is written to the sink segment by
 * segment and freed.  closed records the reason and closes the files.
 *
 * File I/O runs on the packet loop: this is a test and lab tool, not a
 * data path; files on tmpfs keep it quick.  A failed read or write aborts
 * the connection and is reported as io_error.
 */
#include "apps/tcpsvc/tcpsvc.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernel/exec/exec.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "protocols/tcp/tcp.h"

#define FETCH_RETRY_NS 1000000ull
#define FETCH_SEG 1460u

NG_NODE(tcp_fetch_node,
	.name = "tcp-fetch",
	.module = &tcpfetch_module,
	.doc = "TCP client transfers (spin ctl tcp fetch)");

struct fetch {
	struct tcpfetch_status st;
	struct tcp_conn *c;
	int in_fd, out_fd;
	uint64_t send_left;         /* chargen bytes still to send (no file) */
	bool send_done;             /* source exhausted: tcp_close called */
	struct pkt *held;           /* read from the source, refused (EAGAIN) */
	uint64_t start_ns;
	struct exec_timer retry;
};

static struct fetch fetches[TCPFETCH_MAX];
static unsigned fetch_next_id = 1;

static void fetch_files_close(struct fetch *f)
{
	if (f->in_fd >= 0)
		close(f->in_fd);
	if (f->out_fd >= 0)
		close(f->out_fd);
	f->in_fd = f->out_fd = -1;
}

static void fetch_fail_io(struct fetch *f)
{
	f->st.io_error = true;
	tcp_abort(f->c);
}

/* Offers f->held to TCP.  Returns true when TCP took it. */
static bool fetch_push(struct fetch *f)
{
	uint32_t n = pkt_len(f->held);
	int rc = tcp_send(f->c, &f->held);

	if (rc == TCP_OK) {
		f->st.sent += n;
		return true;
	}
	if (rc != TCP_EAGAIN) {
		pkt_free(f->held);
		f->held = NULL;
		fetch_fail_io(f);
	}
	return false;
}

/* Queues source bytes until TCP says TCP_EAGAIN (which arms the writable
 * handler); a buffer it refused is kept and offered first next time. */
static void fetch_fill(struct fetch *f)
{
	struct pkt_pool *pool = tcp_pool();

	while (!f->send_done) {
		struct pkt *p;
		uint32_t room;
		ssize_t n;
		uint8_t *d;

		if (f->held) {
			if (!fetch_push(f))
				return;
			continue;
		}
		p = pool ? pkt_alloc(pool) : NULL;
		if (!p) {
			if (!exec_timer_armed(&f->retry) && exec_current())
				exec_timer_arm(exec_current(), &f->retry, FETCH_RETRY_NS);
			return;
		}
		room = pkt_tailroom(p);
		if (room > FETCH_SEG)
			room = FETCH_SEG;
		d = pkt_put(p, room);
		if (!d) {
			pkt_free(p);
			return;
		}
		if (f->in_fd >= 0) {
			n = read(f->in_fd, d, room);
			if (n < 0) {
				pkt_free(p);
				fetch_fail_io(f);
				return;
			}
		} else {
			n = (ssize_t)(f->send_left < room ? f->send_left : room);
			for (ssize_t i = 0; i < n; i++)
				d[i] = chargen_byte(f->st.sent + (uint64_t)i);
			f->send_left -= (uint64_t)n;
		}
		if (n == 0) {
			pkt_free(p);
			f->send_done = true;
			tcp_close(f->c);
			return;
		}
		pkt_trim(p, (uint32_t)n);
		f->held = p;
	}
}

static void fetch_retry(struct exec_timer *t, void *arg)
{
	struct fetch *f = arg;

	(void)t;
	if (f->st.state == TCPFETCH_ESTABLISHED)
		fetch_fill(f);
}

static void fetch_connected(void *ctx, struct tcp_conn *c)
{
	struct fetch *f = ctx;

	(void)c;
	f->st.state = TCPFETCH_ESTABLISHED;
	fetch_fill(f);
}

static void fetch_recv(void *ctx, struct tcp_conn *c, struct pkt *p)
{
	struct fetch *f = ctx;

	(void)c;
	ng_enter(&tcp_fetch_node, p);
	f->st.received += pkt_len(p);
	for (struct pkt *s = p; s && f->out_fd >= 0; s = s->next) {
		const uint8_t *d = pkt_data(s);
		uint32_t left = s->len;

		while (left) {
			ssize_t w = write(f->out_fd, d, left);

			if (w <= 0) {
				ng_leave(&tcp_fetch_node);
				pkt_free(p);
				fetch_fail_io(f);
				return;
			}
			d += w;
			left -= (uint32_t)w;
		}
	}
	pkt_free(p);
	ng_leave(&tcp_fetch_node);
}

static void fetch_recv_fin(void *ctx, struct tcp_conn *c)
{
	struct fetch *f = ctx;

	(void)c;
	f->st.peer_fin = true;
}

static void fetch_writable(void *ctx, struct tcp_conn *c)
{
	(void)c;
	fetch_fill(ctx);
}

static void fetch_closed(void *ctx, struct tcp_conn *c, enum tcp_reason why)
{
	struct fetch *f = ctx;

	(void)c;
	exec_timer_cancel(&f->retry);
	if (f->held)
		pkt_free(f->held);
	f->held = NULL;
	f->c = NULL;
	f->st.state = TCPFETCH_DONE;
	f->st.reason = (int)why;
	f->st.elapsed_ns = sal_now_ns() - f->start_ns;
	fetch_files_close(f);
}

static const struct tcp_handlers fetch_handlers = {
	.connected = fetch_connected,
	.recv = fetch_recv,
	.recv_fin = fetch_recv_fin,
	.writable = fetch_writable,
	.closed = fetch_closed,
};

static int fetch_start(const struct tcpfetch_args *a, unsigned *id, char *err, size_t n)
{
	struct fetch *f = NULL;
	int rc;

	for (unsigned i = 0; i < TCPFETCH_MAX && !f; i++)
		if (fetches[i].st.state == TCPFETCH_FREE)
			f = &fetches[i];
	if (!f) {
		snprintf(err, n, "all %d transfer slots are busy (forget finished ones)",
			 TCPFETCH_MAX);
		return -1;
	}
	memset(f, 0, sizeof *f);
	f->in_fd = f->out_fd = -1;
	if (a->send_path && (f->in_fd = open(a->send_path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, n, "%s: %m", a->send_path);
		return -1;
	}
	if (a->recv_path &&
	    (f->out_fd = open(a->recv_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		snprintf(err, n, "%s: %m", a->recv_path);
		fetch_files_close(f);
		return -1;
	}
	f->send_left = a->send_path ? 0 : a->send_bytes;
	exec_timer_init(&f->retry, fetch_retry, f);
	f->st.id = fetch_next_id++;
	f->st.state = TCPFETCH_CONNECTING;
	f->start_ns = sal_now_ns();
	struct tcp_connect_opts o = {.conn = {.nodelay = true}};
	rc = tcp_connect(a->dst, a->port, &o, &fetch_handlers, f, &f->c);
	if (rc != TCP_OK) {
		snprintf(err, n, "connect: %s", tcp_strerror(rc));
		fetch_files_close(f);
		f->st.state = TCPFETCH_FREE;
		return -1;
	}
	*id = f->st.id;
	return 0;
}

static struct fetch *fetch_find(unsigned id)
{
	for (unsigned i = 0; i < TCPFETCH_MAX; i++)
		if (fetches[i].st.state != TCPFETCH_FREE && fetches[i].st.id == id)
			return &fetches[i];
	return NULL;
}

static int fetch_status(unsigned id, struct tcpfetch_status *out)
{
	struct fetch *f = fetch_find(id);

	if (!f)
		return -1;
	*out = f->st;
	if (f->st.state != TCPFETCH_DONE)
		out->elapsed_ns = sal_now_ns() - f->start_ns;
	return 0;
}

static void fetch_forget(unsigned id)
{
	struct fetch *f = fetch_find(id);

	if (!f)
		return;
	if (f->st.state != TCPFETCH_DONE && f->c)
		tcp_abort(f->c);
	fetch_files_close(f);
	f->st.state = TCPFETCH_FREE;
}

static const struct tcpfetch_ops fetch_ops = {
	.start = fetch_start,
	.status = fetch_status,
	.forget = fetch_forget,
};
const struct spin_interface tcpfetch_interface = {
	.name = "tcp-fetch",
	.version = SPIN_VERSION(1, 0),
	.procs = &fetch_ops,
};
static const struct spin_interface *const fetch_exports[] = {&tcpfetch_interface, NULL};

static int fetch_init(const char *args)
{
	(void)args;
	(void)ng_node_register(&tcp_fetch_node);
	return 0;
}

static void fetch_fini(void)
{
	for (unsigned i = 0; i < TCPFETCH_MAX; i++)
		if (fetches[i].st.state != TCPFETCH_FREE)
			fetch_forget(fetches[i].st.id);
}

static const struct spin_import fetch_imports[] = {
	{.name = "tcp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(tcpfetch_module,
	    .name = "tcpfetch",
	    .version = SPIN_VERSION(1, 0),
	    .exports = fetch_exports,
	    .imports = fetch_imports,
	    .init = fetch_init,
	    .fini = fetch_fini,
	    .doc = "TCP client transfers for tests and the lab (spin ctl tcp fetch)");
