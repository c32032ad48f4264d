/*
 * sysc.h - the system-call interface, appliance side: user-level programs
 * in their own processes attach over a Unix socket and then talk to the
 * appliance through shared-memory rings (libspin/spin_abi.h;
 * docs/syscall.md).
 *
 * Synopsis.  sysc_server_open(loop, PATH, pool) listens on PATH (config
 * line `syscall PATH`).  Each program that attaches gets a shared region,
 * two eventfd doorbells and a capability table (kernel/cap), and two
 * pollers on the loop: one for its request ring (EXEC_POLL_ON_READY on
 * its doorbell in blocking mode; a ring check every turn in busy-poll
 * mode) and one for its control connection, whose closing detaches it.
 *
 * What a program can do: the null call; look up and call procedures by
 * name: those exported by extensions (sysc_proc_export: run in the
 * appliance, on the loop thread) and those served by other programs (the
 * call is handed to the serving program as an invocation and its reply
 * returned: the cross-address-space call); open UDP endpoints (a binding on
 * UDP_PacketArrived for the port, DISP_FIRST|DISP_CANCEL so the program
 * owns the port) and send datagrams from them; open TCP listeners (a
 * tcp_listen on the port) and accept, receive on, send on and close their
 * connections.
 *
 * TCP: connections are accepted with manual_recv, so TCP's window opens
 * only as bytes enter the program's event ring (or, with
 * SPIN_TCP_MANUAL_RECV, when the program says it is done with them): a
 * program that does not read closes its peer's window, and nothing is
 * buffered without bound.  Connection events are never dropped: when the
 * ring is full they wait on the program's stall list until it frees a slot
 * (libspin/spin_abi.h, "Event room").  Each listener preallocates
 * SYSC_TCP_CONNS connection blocks.
 *
 * Every reference a program presents is checked in its own table for
 * owner, generation and type; a refused reference answers -SPIN_EBADREF
 * and is counted.  A program that dies (its connection closes) is
 * detached: its endpoints are unbound, its TCP listeners closed and its
 * connections reset, the procedures it served are withdrawn, calls waiting
 * on it are answered -SPIN_EDEAD, and replies meant for it are discarded;
 * every other program goes on being served.
 *
 * Threads: everything runs on the loop's thread (the one that opened the
 * server); nothing here locks.  Data path: a datagram for an endpoint is
 * copied once into the program's event ring (ring full: dropped with reason
 * `ring_full` on node "syscall"); a send copies the ring slot into a packet
 * from the pool.  Neither allocates from the general heap.
 */
#ifndef SPIN_SYSC_H
#define SPIN_SYSC_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/exec/exec.h"
#include "kernel/module/module.h"
#include "netgraph/pkt.h"

struct sysc_server;

enum sysc_err { SYSC_OK = 0, SYSC_EINVAL, SYSC_ENOMEM, SYSC_EEXIST, SYSC_EIO, SYSC_ENOENT };

/* Listens on path (a stale socket file is replaced, a live one refused).
 * pool supplies the buffers of datagrams that programs send (may be NULL:
 * sends are then dropped).  On failure writes a message into err. */
int sysc_server_open(struct exec_loop *loop, const char *path, struct pkt_pool *pool,
		     struct sysc_server **out, char *err, size_t errlen);
/* Detaches every program (each is told: its waits return -SPIN_EIO),
 * closes and unlinks the socket. */
void sysc_server_close(struct sysc_server *s);

struct sysc_stats {
	uint64_t attached, detached, requests, bad_refs, calls_kernel, calls_forwarded,
		 calls_dead, replies_discarded, dgrams_in, dgrams_out, dgrams_dropped;
	uint64_t tcp_accepted, tcp_refused, tcp_bytes_in, tcp_bytes_out;
	uint32_t programs;
};
void sysc_server_stats(const struct sysc_server *s, struct sysc_stats *out);
/* One line per attached program and the counters, for `spin ctl syscall`.
 * Returns what snprintf would. */
int sysc_server_format(const struct sysc_server *s, char *buf, size_t size);

/* A procedure that programs may call by name.  Runs on the loop thread
 * with the caller's arguments (len bytes, borrowed) and writes at most cap
 * bytes of results into res, their length into *rlen.  Returns 0 or a
 * negative enum spin_status; must not block. */
typedef int (*sysc_proc_fn)(void *ctx, const void *arg, uint32_t len, void *res, uint32_t cap,
			    uint32_t *rlen);
/* Exports fn under name (at most SPIN_NAME_MAX-1 bytes) to every program.
 * "null" (does nothing) and "echo" (returns its arguments) are built in. */
int sysc_proc_export(const char *name, sysc_proc_fn fn, void *ctx);
/* Withdraws it; programs holding it get -SPIN_EDEAD from then on. */
int sysc_proc_unexport(const char *name);

/* Interface "syscall" 1.0 (procs: struct sysc_ops) for extensions. */
struct sysc_ops {
	int (*proc_export)(const char *name, sysc_proc_fn fn, void *ctx);
	int (*proc_unexport)(const char *name);
};
extern const struct spin_module sysc_module;        /* "syscall" */
extern const struct spin_interface sysc_interface;

#endif
