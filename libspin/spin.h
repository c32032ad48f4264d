/*
 * spin.h - libspin: the C library through which user-level programs reach
 * a spin appliance (docs/syscall.md has the whole story and an example).
 *
 * A program attaches with spin_open(socket path, mode): the appliance
 * (config line `syscall PATH`) maps a region shared with the program and
 * hands it doorbells; after that every operation is a message on a shared
 * ring, with no system call at all in busy-poll mode and at most one per
 * side in blocking mode.
 *
 * Capabilities.  Everything a program holds (a UDP endpoint, a TCP listener
 * or connection, a procedure it may call, a procedure it serves) is a
 * spin_ref_t: an externalized
 * reference into the program's capability table in the appliance, checked
 * for owner, generation and type on every use.  A forged, stale (closed) or
 * wrongly typed reference makes the call fail with -SPIN_EBADREF and
 * changes nothing.
 *
 * Errors: every call returns 0 (or a count) on success and a negative
 * enum spin_status (-SPIN_EBADREF, ...) on failure; spin_strerror names it.
 *
 * Threads: a handle is for one thread at a time (the rings are
 * single-producer, single-consumer).  A program with several threads opens
 * one handle per thread.
 *
 * Blocking vs busy-poll: in SPIN_BLOCKING mode a wait sleeps in the kernel
 * on the program's eventfd; in SPIN_BUSY mode it spins on the ring (pin
 * the program and the appliance to different CPUs).  Either way the
 * appliance's death is noticed: a blocked wait is woken when the appliance
 * detaches, and a spinning one checks the control socket now and then.
 */
#ifndef LIBSPIN_SPIN_H
#define LIBSPIN_SPIN_H

#include <stddef.h>
#include <stdint.h>

#include "libspin/spin_abi.h"

typedef uint64_t spin_ref_t;
enum spin_mode { SPIN_BLOCKING = SPIN_ABI_BLOCKING, SPIN_BUSY = SPIN_ABI_BUSY };

struct spin;

/* Attaches to the appliance listening on path.  NULL on failure, with
 * *err (may be NULL) set to a positive enum spin_status.  name labels the
 * program in `spin ctl syscall` (may be NULL). */
struct spin *spin_open(const char *path, enum spin_mode mode, const char *name, int *err);
/* Detaches: the appliance closes every capability the program holds. */
void spin_close(struct spin *h);
const char *spin_strerror(int status);

/* The bare crossing: a request with no work and its response. */
int spin_null(struct spin *h);

/* --- procedures ------------------------------------------------------------- */
/* A capability for the procedure exported under name (by an extension in
 * the appliance or by another program). */
int spin_lookup(struct spin *h, const char *name, spin_ref_t *proc);
/* Calls proc with len bytes of arguments; up to cap bytes of results land
 * in res and *rlen (may be NULL) gets their length.  Returns the
 * procedure's status (0, or negative). */
int spin_call_ref(struct spin *h, spin_ref_t proc, const void *arg, size_t len, void *res,
		  size_t cap, size_t *rlen);
/* spin_lookup (cached per handle) + spin_call_ref.  spin_call(h, "null",
 * NULL, 0, NULL, 0, NULL) is the null call into an extension. */
int spin_call(struct spin *h, const char *name, const void *arg, size_t len, void *res,
	      size_t cap, size_t *rlen);

/* Serving: register name; callers' invocations arrive as SPIN_EV_INVOKE
 * events (spin_next_event), answered with spin_reply.  Closing *proc (or
 * exiting) withdraws the name; callers then get -SPIN_EDEAD. */
int spin_register(struct spin *h, const char *name, spin_ref_t *proc);
int spin_reply(struct spin *h, uint64_t call_id, int status, const void *res, size_t len);

/* --- UDP endpoints ------------------------------------------------------------ */
/* Binds UDP port (host order) on every address of the appliance: datagrams
 * to it arrive as SPIN_EV_DGRAM events. */
int spin_udp_open(struct spin *h, uint16_t port, spin_ref_t *ep);
/* Sends len bytes (copied into the ring) from ep's port to addr:port (host
 * order).  No response is awaited: errors are counted by the appliance. */
int spin_udp_send(struct spin *h, spin_ref_t ep, uint32_t addr, uint16_t port,
		  const void *data, size_t len);
/* Zero-copy send: a buffer of SPIN_MSG_MAX bytes inside the request ring
 * (NULL while the ring is full); write the payload there, then
 * spin_udp_send_commit.  Nothing else may be sent in between. */
void *spin_udp_send_buf(struct spin *h);
int spin_udp_send_commit(struct spin *h, spin_ref_t ep, uint32_t addr, uint16_t port,
			 size_t len);

/* Closes any capability (endpoint, listener, connection, served procedure,
 * procedure). */
int spin_close_ref(struct spin *h, spin_ref_t ref);

/* --- TCP listeners ---------------------------------------------------------------
 * A listener on a port (host order, every address of the appliance) hands
 * each new connection to the program as an event; every connection is its
 * own capability.  Everything about a connection arrives on the event ring,
 * in order:
 *
 *   SPIN_EV_TCP_ACCEPT    ev.ref: the new connection, ev.listener: the
 *                         listener, ev.addr/ev.port: the peer
 *   SPIN_EV_TCP_DATA      ev.ref: the connection, ev.data/ev.len: the next
 *                         bytes of the stream (at most SPIN_MSG_MAX each)
 *   SPIN_EV_TCP_WRITABLE  a send that returned -SPIN_EAGAIN may be retried
 *   SPIN_EV_TCP_FIN       the peer closed its side: no more data
 *   SPIN_EV_TCP_CLOSED    the connection ended; ev.status: 0 (orderly),
 *                         -SPIN_ERESET, -SPIN_ETIMEDOUT.  The reference
 *                         stays valid (sends fail -SPIN_ENOTCONN) until the
 *                         program closes it.
 *
 * Connection events are never dropped: when the event ring is full the
 * appliance holds them, and TCP's window closes on the peer.  By default
 * bytes count as consumed when they enter the ring; with
 * SPIN_TCP_MANUAL_RECV the window opens only on spin_tcp_recved, so a
 * program that keeps what it could not send yet (an echo) stays bounded by
 * one receive window per connection.
 *
 * When the program exits or dies, its listeners close and its live
 * connections are reset; the appliance goes on serving everyone else. */
int spin_tcp_listen(struct spin *h, uint16_t port, unsigned flags, spin_ref_t *listener);
/* Sends up to len bytes on conn (copied into the ring, SPIN_MSG_MAX bytes a
 * request, each answered).  Returns the bytes TCP took (> 0; fewer than len
 * when its send buffer filled up: wait for SPIN_EV_TCP_WRITABLE), or
 * -SPIN_EAGAIN when it took none, -SPIN_ENOTCONN after the connection
 * ended, -SPIN_EBADREF. */
int spin_tcp_send(struct spin *h, spin_ref_t conn, const void *data, size_t len);
/* SPIN_TCP_MANUAL_RECV: the program is done with n more received bytes
 * (more than it was given counts as what it was given).  No response. */
int spin_tcp_recved(struct spin *h, spin_ref_t conn, size_t n);
/* Orderly close (FIN after everything sent) and the reference is closed;
 * bytes arriving afterwards are dropped.  Same as spin_close_ref. */
int spin_tcp_close(struct spin *h, spin_ref_t conn);
/* Abortive close: RST now, and the reference is closed. */
int spin_tcp_abort(struct spin *h, spin_ref_t conn);

/* --- events --------------------------------------------------------------------- */
struct spin_event {
	uint32_t type;          /* SPIN_EV_DGRAM, SPIN_EV_INVOKE, SPIN_EV_TCP_* */
	spin_ref_t ref;         /* the endpoint, served procedure or connection */
	uint64_t call_id;       /* invoke: pass to spin_reply */
	spin_ref_t listener;    /* TCP accept: the listener */
	int status;             /* TCP closed: 0 or -SPIN_ERESET, -SPIN_ETIMEDOUT */
	uint32_t addr;          /* dgram: sender; TCP accept: peer; host order */
	uint16_t port;
	const void *data;       /* mapped: valid until spin_event_done */
	size_t len;
};
/* Waits up to timeout_ms (-1: forever, 0: just look) for the next event;
 * ev->data points into the shared ring (no copy).  Returns 1 with an event,
 * 0 on timeout.  Call spin_event_done before the next spin_next_event. */
int spin_next_event(struct spin *h, struct spin_event *ev, int timeout_ms);
void spin_event_done(struct spin *h);
/* Copying form: the next datagram's payload into buf (at most cap bytes;
 * the rest is cut).  Returns the payload length (>= 0), -SPIN_ETIMEDOUT,
 * or -SPIN_EPROTO when the next event is not a datagram (left in place). */
int spin_udp_recv(struct spin *h, spin_ref_t *ep, void *buf, size_t cap, uint32_t *addr,
		  uint16_t *port, int timeout_ms);

/* The descriptor that becomes readable when an event or response may be
 * waiting (blocking mode), for programs with their own poll loop. */
int spin_event_fd(const struct spin *h);

/* Statistics of this handle. */
struct spin_stats {
	uint64_t requests, responses, events, doorbells_rung, sleeps;
};
void spin_get_stats(const struct spin *h, struct spin_stats *out);

/* --- raw access, for tests ---------------------------------------------------------- */
/* Sends one request exactly as given (op, ref, arg, addr, port, data) and
 * waits for its response; returns its status.  Tests use it to present
 * forged references. */
int spin_raw_request(struct spin *h, uint32_t op, spin_ref_t ref, uint64_t arg,
		     const void *data, size_t len, struct spin_msg *resp_hdr);

#endif
