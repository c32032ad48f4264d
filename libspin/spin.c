/*
 * spin.c - libspin, the user side of the system-call interface.  See
 * spin.h for the API and spin_abi.h for the rings and doorbells.
 */
#include "libspin/spin.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A spinning wait looks at the control socket every this many turns. */
#define SPIN_CHECK_EVERY (1u << 20)
#define SPIN_CACHE 8            /* procedure names remembered by spin_call */

struct spin {
	struct spin_shm *shm;
	size_t shm_size;
	int ctl, bell_out, bell_in; /* control socket, appliance's and our doorbell */
	enum spin_mode mode;
	uint64_t seq;
	bool dead;
	bool event_held;            /* spin_next_event handed out a slot */
	struct {
		char name[SPIN_NAME_MAX];
		spin_ref_t ref;
	} cache[SPIN_CACHE];
	unsigned ncache, next_evict;
	struct spin_stats st;
};

static const char *const spin_errs[] = {
	[SPIN_OK] = "success",
	[SPIN_EINVAL] = "invalid request",
	[SPIN_EBADREF] = "bad capability reference",
	[SPIN_ENOENT] = "no such procedure",
	[SPIN_EEXIST] = "already exists",
	[SPIN_EDEAD] = "the serving program is gone",
	[SPIN_EBUSY] = "ring full",
	[SPIN_ENOMEM] = "out of memory",
	[SPIN_EIO] = "appliance unreachable",
	[SPIN_ETIMEDOUT] = "timed out",
	[SPIN_E2BIG] = "payload too large",
	[SPIN_EPROTO] = "unexpected message",
	[SPIN_ENOTCONN] = "connection ended",
	[SPIN_EAGAIN] = "send buffer full, wait for writable",
	[SPIN_ERESET] = "connection reset",
};

const char *spin_strerror(int status)
{
	if (status < 0)
		status = -status;
	if ((size_t)status >= sizeof spin_errs / sizeof spin_errs[0] || !spin_errs[status])
		return "unknown error";
	return spin_errs[status];
}

/* --- attach ------------------------------------------------------------------- */
static int recv_attach(int fd, struct spin_attach_resp *r, int fds[3])
{
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec iov = {.iov_base = r, .iov_len = sizeof *r};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = sizeof cbuf};
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);

	if (n != (ssize_t)sizeof *r)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (r->status != 0)
		return 0;
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(3 * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
	return 0;
}

struct spin *spin_open(const char *path, enum spin_mode mode, const char *name, int *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct spin_attach_req rq = {.magic = SPIN_ABI_MAGIC, .version = SPIN_ABI_VERSION,
				     .mode = (uint32_t)mode};
	struct spin_attach_resp rs;
	int fds[3] = {-1, -1, -1}, e = SPIN_EIO;
	struct spin *h = calloc(1, sizeof *h);

	if (!h) {
		e = SPIN_ENOMEM;
		goto fail;
	}
	h->ctl = h->bell_out = h->bell_in = -1;
	h->mode = mode;
	if (strlen(path) >= sizeof sa.sun_path) {
		e = SPIN_EINVAL;
		goto fail;
	}
	strcpy(sa.sun_path, path);
	if (name)
		strncpy(rq.name, name, sizeof rq.name - 1);
	h->ctl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (h->ctl < 0 || connect(h->ctl, (struct sockaddr *)&sa, sizeof sa) ||
	    send(h->ctl, &rq, sizeof rq, MSG_NOSIGNAL) != (ssize_t)sizeof rq ||
	    recv_attach(h->ctl, &rs, fds))
		goto fail;
	if (rs.status != 0) {
		e = rs.status < 0 ? -rs.status : rs.status;
		goto fail;
	}
	h->bell_out = fds[1];
	h->bell_in = fds[2];
	h->shm_size = rs.shm_size;
	if (h->shm_size < sizeof(struct spin_shm))
		goto fail_fd;
	h->shm = mmap(NULL, h->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	close(fds[0]);
	fds[0] = -1;
	if (h->shm == MAP_FAILED) {
		h->shm = NULL;
		goto fail;
	}
	if (h->shm->magic != SPIN_ABI_MAGIC || h->shm->version != SPIN_ABI_VERSION)
		goto fail;
	/* The procedures granted at attach go straight into the name cache. */
	for (uint32_t i = 0; i < rs.nprocs && i < SPIN_ATTACH_PROCS && h->ncache < SPIN_CACHE; i++) {
		memcpy(h->cache[h->ncache].name, rs.procs[i].name, SPIN_NAME_MAX);
		h->cache[h->ncache].name[SPIN_NAME_MAX - 1] = 0;
		h->cache[h->ncache++].ref = rs.procs[i].ref;
	}
	return h;
fail_fd:
	if (fds[0] >= 0)
		close(fds[0]);
fail:
	if (err)
		*err = e;
	spin_close(h);
	return NULL;
}

void spin_close(struct spin *h)
{
	if (!h)
		return;
	if (h->shm)
		munmap(h->shm, h->shm_size);
	if (h->ctl >= 0)
		close(h->ctl);
	if (h->bell_out >= 0)
		close(h->bell_out);
	if (h->bell_in >= 0)
		close(h->bell_in);
	free(h);
}

int spin_event_fd(const struct spin *h) { return h->bell_in; }

void spin_get_stats(const struct spin *h, struct spin_stats *out) { *out = h->st; }

/* --- rings --------------------------------------------------------------------- */
/* Whether the appliance is gone: it said so, or the control socket closed. */
static bool appliance_gone(struct spin *h)
{
	char c;

	if (h->dead || atomic_load_explicit(&h->shm->dead, memory_order_acquire))
		return h->dead = true;
	ssize_t n = recv(h->ctl, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		h->dead = true;
	return h->dead;
}

/* A free request slot, or NULL while the ring is full. */
static struct spin_msg *req_slot(struct spin *h)
{
	struct spin_ring *r = &h->shm->req;
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (t - atomic_load_explicit(&r->head, memory_order_acquire) >= SPIN_RING_SLOTS)
		return NULL;
	return spin_slot(r, t);
}

static void req_publish(struct spin *h)
{
	struct spin_ring *r = &h->shm->req;

	atomic_store_explicit(&r->tail, atomic_load_explicit(&r->tail, memory_order_relaxed) + 1,
			      memory_order_release);
	h->st.requests++;
	/* Pairs with the appliance's fence between setting waiting and its
	 * last look at the ring (spin_abi.h).  Also in busy mode: a busy-poll
	 * appliance never sets waiting, but a blocking one serving a busy
	 * program does. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->waiting, memory_order_relaxed) &&
	    atomic_exchange_explicit(&r->waiting, 0, memory_order_acq_rel)) {
		uint64_t one = 1;

		h->st.doorbells_rung++;
		if (write(h->bell_out, &one, sizeof one) < 0)
			h->dead = true;
	}
}

static bool ring_empty(struct spin_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_relaxed) ==
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

/* Waits until ring r (resp or ev) is non-empty.  timeout_ms < 0: forever.
 * Returns 0, -SPIN_ETIMEDOUT or -SPIN_EIO. */
static int wait_ring(struct spin *h, struct spin_ring *r, int timeout_ms)
{
	if (!ring_empty(r))
		return 0;
	if (timeout_ms == 0)
		return appliance_gone(h) ? -SPIN_EIO : -SPIN_ETIMEDOUT;
	if (h->mode == SPIN_BUSY) {
		struct timespec t0, t1;
		unsigned n = 0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (ring_empty(r)) {
			__builtin_ia32_pause();
			if (++n % SPIN_CHECK_EVERY)
				continue;
			if (appliance_gone(h))
				return -SPIN_EIO;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (timeout_ms > 0 && (t1.tv_sec - t0.tv_sec) * 1000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000000 >= timeout_ms)
				return -SPIN_ETIMEDOUT;
		}
		return 0;
	}
	for (;;) {
		uint64_t v;

		atomic_store_explicit(&r->waiting, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (!ring_empty(r))
			break;
		if (appliance_gone(h))
			return -SPIN_EIO;
		h->st.sleeps++;
		if (timeout_ms < 0) {
			/* The appliance rings every program when it stops. */
			if (read(h->bell_in, &v, sizeof v) < 0 && errno != EINTR)
				return -SPIN_EIO;
			continue;
		}
		struct pollfd p[2] = {{.fd = h->bell_in, .events = POLLIN},
				      {.fd = h->ctl, .events = POLLIN}};
		int n = poll(p, 2, timeout_ms);
		if (n == 0) {
			atomic_store_explicit(&r->waiting, 0, memory_order_relaxed);
			return ring_empty(r) ? -SPIN_ETIMEDOUT : 0;
		}
		if (p[0].revents & POLLIN)
			(void)!read(h->bell_in, &v, sizeof v);
		if ((p[1].revents & (POLLIN | POLLHUP)) && appliance_gone(h))
			return -SPIN_EIO;
	}
	atomic_store_explicit(&r->waiting, 0, memory_order_relaxed);
	return 0;
}

/* Sends a request in slot m (already filled but for seq) and waits for its
 * response; copies up to cap result bytes into res.  Returns the status. */
static int request(struct spin *h, struct spin_msg *m, struct spin_msg *out, void *res,
		   size_t cap, size_t *rlen)
{
	struct spin_ring *r = &h->shm->resp;
	uint64_t seq = ++h->seq;
	int rc;

	m->seq = seq;
	req_publish(h);
	for (;;) {
		if ((rc = wait_ring(h, r, -1)) != 0)
			return rc;
		uint32_t hd = atomic_load_explicit(&r->head, memory_order_relaxed);
		struct spin_msg *p = spin_slot(r, hd);
		bool mine = p->seq == seq;

		if (mine) {
			size_t n = p->len < SPIN_MSG_MAX ? p->len : SPIN_MSG_MAX;

			rc = p->status;
			if (out)
				*out = *p;
			if (res && cap)
				memcpy(res, p->data, n < cap ? n : cap);
			if (rlen)
				*rlen = n;
		}
		atomic_store_explicit(&r->head, hd + 1, memory_order_release);
		h->st.responses++;
		if (mine)
			return rc;
		/* A response to an abandoned request (none today): skipped. */
	}
}

/* A request slot, waiting while the ring is full. */
static struct spin_msg *get_slot(struct spin *h)
{
	struct spin_msg *m;
	unsigned n = 0;

	while (!(m = req_slot(h))) {
		if (++n % 1024 == 0 && appliance_gone(h))
			return NULL;
		if (h->mode == SPIN_BUSY)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
	return m;
}

static struct spin_msg *fill(struct spin *h, uint32_t op, spin_ref_t ref, const void *data,
			     size_t len)
{
	struct spin_msg *m;

	if (len > SPIN_MSG_MAX || h->dead)
		return NULL;
	if (!(m = get_slot(h)))
		return NULL;
	m->op = op;
	m->status = 0;
	m->ref = ref;
	m->arg = 0;
	m->addr = 0;
	m->port = 0;
	m->flags = 0;
	m->len = (uint32_t)len;
	if (len)
		memcpy(m->data, data, len);
	return m;
}

#define FILL_OR_FAIL(m, h, op, ref, data, len)                                  \
	do {                                                                    \
		if ((len) > SPIN_MSG_MAX)                                       \
			return -SPIN_E2BIG;                                     \
		if (!((m) = fill((h), (op), (ref), (data), (len))))             \
			return -SPIN_EIO;                                       \
	} while (0)

int spin_raw_request(struct spin *h, uint32_t op, spin_ref_t ref, uint64_t arg,
		     const void *data, size_t len, struct spin_msg *resp_hdr)
{
	struct spin_msg *m;

	FILL_OR_FAIL(m, h, op, ref, data, len);
	m->arg = arg;
	return request(h, m, resp_hdr, NULL, 0, NULL);
}

int spin_null(struct spin *h)
{
	struct spin_msg *m;

	FILL_OR_FAIL(m, h, SPIN_OP_NULL, 0, NULL, 0);
	return request(h, m, NULL, NULL, 0, NULL);
}

/* --- procedures ----------------------------------------------------------------- */
static int name_op(struct spin *h, uint32_t op, const char *name, spin_ref_t *out)
{
	struct spin_msg *m, resp;
	size_t n = strlen(name) + 1;
	int rc;

	if (n > SPIN_NAME_MAX)
		return -SPIN_EINVAL;
	FILL_OR_FAIL(m, h, op, 0, name, n);
	rc = request(h, m, &resp, NULL, 0, NULL);
	if (rc == 0 && out)
		*out = resp.ref;
	return rc;
}

int spin_lookup(struct spin *h, const char *name, spin_ref_t *proc)
{
	return name_op(h, SPIN_OP_LOOKUP, name, proc);
}

int spin_register(struct spin *h, const char *name, spin_ref_t *proc)
{
	return name_op(h, SPIN_OP_REGISTER, name, proc);
}

int spin_call_ref(struct spin *h, spin_ref_t proc, const void *arg, size_t len, void *res,
		  size_t cap, size_t *rlen)
{
	struct spin_msg *m;

	FILL_OR_FAIL(m, h, SPIN_OP_CALL, proc, arg, len);
	return request(h, m, NULL, res, cap, rlen);
}

int spin_call(struct spin *h, const char *name, const void *arg, size_t len, void *res,
	      size_t cap, size_t *rlen)
{
	spin_ref_t ref = 0;
	unsigned i;
	int rc;

	for (i = 0; i < h->ncache; i++)
		if (!strcmp(h->cache[i].name, name))
			break;
	if (i == h->ncache) {
		if ((rc = spin_lookup(h, name, &ref)) != 0)
			return rc;
		if (h->ncache < SPIN_CACHE) {
			i = h->ncache++;
		} else {
			i = h->next_evict;
			h->next_evict = (h->next_evict + 1) % SPIN_CACHE;
			(void)spin_close_ref(h, h->cache[i].ref);
		}
		snprintf(h->cache[i].name, sizeof h->cache[i].name, "%s", name);
		h->cache[i].ref = ref;
	}
	rc = spin_call_ref(h, h->cache[i].ref, arg, len, res, cap, rlen);
	if (rc == -SPIN_EBADREF || rc == -SPIN_EDEAD)
		h->cache[i].name[0] = 0;    /* look it up again next time */
	return rc;
}

int spin_reply(struct spin *h, uint64_t call_id, int status, const void *res, size_t len)
{
	struct spin_msg *m;

	FILL_OR_FAIL(m, h, SPIN_OP_REPLY, 0, res, len);
	m->arg = call_id;
	m->status = status;
	m->flags = SPIN_F_NOREPLY;
	m->seq = ++h->seq;
	req_publish(h);
	return 0;
}

int spin_close_ref(struct spin *h, spin_ref_t ref)
{
	struct spin_msg *m;

	FILL_OR_FAIL(m, h, SPIN_OP_CLOSE, ref, NULL, 0);
	return request(h, m, NULL, NULL, 0, NULL);
}

/* --- UDP ------------------------------------------------------------------------- */
int spin_udp_open(struct spin *h, uint16_t port, spin_ref_t *ep)
{
	struct spin_msg *m, resp;
	int rc;

	FILL_OR_FAIL(m, h, SPIN_OP_UDP_OPEN, 0, NULL, 0);
	m->port = port;
	rc = request(h, m, &resp, NULL, 0, NULL);
	if (rc == 0)
		*ep = resp.ref;
	return rc;
}

int spin_udp_send(struct spin *h, spin_ref_t ep, uint32_t addr, uint16_t port,
		  const void *data, size_t len)
{
	void *buf;

	if (len > SPIN_MSG_MAX)
		return -SPIN_E2BIG;
	if (!get_slot(h) || !(buf = spin_udp_send_buf(h)))
		return -SPIN_EIO;
	memcpy(buf, data, len);
	return spin_udp_send_commit(h, ep, addr, port, len);
}

void *spin_udp_send_buf(struct spin *h)
{
	struct spin_msg *m = req_slot(h);

	return m ? m->data : NULL;
}

int spin_udp_send_commit(struct spin *h, spin_ref_t ep, uint32_t addr, uint16_t port,
			 size_t len)
{
	struct spin_msg *m = req_slot(h);

	if (!m)
		return -SPIN_EBUSY;
	if (len > SPIN_MSG_MAX)
		return -SPIN_E2BIG;
	m->op = SPIN_OP_UDP_SEND;
	m->status = 0;
	m->ref = ep;
	m->arg = 0;
	m->addr = addr;
	m->port = port;
	m->flags = SPIN_F_NOREPLY;
	m->len = (uint32_t)len;
	m->seq = ++h->seq;
	req_publish(h);
	return 0;
}

/* --- events ------------------------------------------------------------------------ */
int spin_next_event(struct spin *h, struct spin_event *ev, int timeout_ms)
{
	struct spin_ring *r = &h->shm->ev;
	struct spin_msg *m;
	int rc;

	if (h->event_held)
		spin_event_done(h);
	rc = wait_ring(h, r, timeout_ms);
	if (rc == -SPIN_ETIMEDOUT)
		return 0;
	if (rc)
		return rc;
	m = spin_slot(r, atomic_load_explicit(&r->head, memory_order_relaxed));
	ev->type = m->op;
	ev->ref = m->ref;
	ev->call_id = m->arg;
	ev->listener = m->op == SPIN_EV_TCP_ACCEPT ? m->arg : 0;
	ev->status = m->status;
	ev->addr = m->addr;
	ev->port = m->port;
	ev->data = m->data;
	ev->len = m->len < SPIN_MSG_MAX ? m->len : SPIN_MSG_MAX;
	h->event_held = true;
	h->st.events++;
	return 1;
}

void spin_event_done(struct spin *h)
{
	struct spin_ring *r = &h->shm->ev;

	if (!h->event_held)
		return;
	h->event_held = false;
	atomic_store_explicit(&r->head, atomic_load_explicit(&r->head, memory_order_relaxed) + 1,
			      memory_order_release);
	/* The appliance may be holding TCP events back for room (spin_abi.h,
	 * "Event room"): the fence pairs with its fence after setting
	 * ev_blocked and before its last look at the ring. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&h->shm->ev_blocked, memory_order_relaxed) &&
	    atomic_exchange_explicit(&h->shm->ev_blocked, 0, memory_order_acq_rel)) {
		uint64_t one = 1;

		h->st.doorbells_rung++;
		if (write(h->bell_out, &one, sizeof one) < 0)
			h->dead = true;
	}
}

int spin_udp_recv(struct spin *h, spin_ref_t *ep, void *buf, size_t cap, uint32_t *addr,
		  uint16_t *port, int timeout_ms)
{
	struct spin_event ev;
	int rc = spin_next_event(h, &ev, timeout_ms);
	size_t n;

	if (rc == 0)
		return -SPIN_ETIMEDOUT;
	if (rc < 0)
		return rc;
	if (ev.type != SPIN_EV_DGRAM) {
		h->event_held = false;      /* leave it for spin_next_event */
		return -SPIN_EPROTO;
	}
	n = ev.len < cap ? ev.len : cap;
	memcpy(buf, ev.data, n);
	if (ep)
		*ep = ev.ref;
	if (addr)
		*addr = ev.addr;
	if (port)
		*port = ev.port;
	spin_event_done(h);
	return (int)n;
}

/* --- TCP ------------------------------------------------------------------------- */
int spin_tcp_listen(struct spin *h, uint16_t port, unsigned flags, spin_ref_t *listener)
{
	struct spin_msg *m, resp;
	int rc;

	FILL_OR_FAIL(m, h, SPIN_OP_TCP_LISTEN, 0, NULL, 0);
	m->port = port;
	m->arg = flags;
	rc = request(h, m, &resp, NULL, 0, NULL);
	if (rc == 0)
		*listener = resp.ref;
	return rc;
}

int spin_tcp_send(struct spin *h, spin_ref_t conn, const void *data, size_t len)
{
	const uint8_t *d = data;
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < SPIN_MSG_MAX ? len - done : SPIN_MSG_MAX;
		struct spin_msg *m;
		int rc;

		FILL_OR_FAIL(m, h, SPIN_OP_TCP_SEND, conn, d + done, n);
		rc = request(h, m, NULL, NULL, 0, NULL);
		if (rc < 0)
			return done ? (int)done : rc;
		done += (size_t)rc;
		if ((size_t)rc < n)
			break;
	}
	return (int)done;
}

int spin_tcp_recved(struct spin *h, spin_ref_t conn, size_t n)
{
	struct spin_msg *m;

	FILL_OR_FAIL(m, h, SPIN_OP_TCP_RECVED, conn, NULL, 0);
	m->arg = n;
	m->flags = SPIN_F_NOREPLY;
	m->seq = ++h->seq;
	req_publish(h);
	return 0;
}

int spin_tcp_close(struct spin *h, spin_ref_t conn) { return spin_close_ref(h, conn); }

int spin_tcp_abort(struct spin *h, spin_ref_t conn)
{
	struct spin_msg *m;

	FILL_OR_FAIL(m, h, SPIN_OP_TCP_ABORT, conn, NULL, 0);
	return request(h, m, NULL, NULL, 0, NULL);
}
