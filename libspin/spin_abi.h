/*
 * spin_abi.h - the binary interface between user-level programs and the
 * appliance: the shared-memory layout, the messages and the attach
 * handshake.  libspin (user side) and apps/syscall (appliance side) are its
 * only users; programs use libspin/spin.h.  docs/syscall.md draws it.
 *
 * Shared memory: one memfd per program, made by the appliance and mapped by
 * both.  It holds a header and three single-producer/single-consumer rings
 * of SPIN_RING_SLOTS fixed-size slots each:
 *
 *   req   program -> appliance   requests (calls, sends, opens, replies)
 *   resp  appliance -> program   the response to each request that wants one
 *   ev    appliance -> program   events: datagrams, invocations of procedures
 *                                the program serves, TCP connection events
 *
 * A ring's producer writes the slot at tail, then publishes with a release
 * store of tail+1; the consumer reads head < tail (acquire), copies what it
 * needs out of the slot, and frees it with a release store of head+1.
 * Indices run freely (mod 2^32); slot = index & (SPIN_RING_SLOTS - 1).
 *
 * Doorbells (blocking mode): each side has an eventfd.  A consumer about to
 * sleep sets its ring's `waiting` flag, issues a full fence, and looks at
 * the ring once more before it blocks; a producer that published issues a
 * full fence and rings the eventfd only if it takes `waiting` from 1 to 0.
 * So a sleeping consumer is always woken, and a consumer that is awake
 * costs its producers no system call.  In busy-poll mode nobody sleeps,
 * `waiting` stays 0, and no doorbell is ever rung.
 *
 * Event room: TCP bytes and connection events are never dropped when the
 * ev ring is full; the appliance holds them back and sets `ev_blocked`
 * (then a full fence and one more look at the ring).  A program that frees
 * an ev slot issues a full fence and, if it takes `ev_blocked` from 1 to 0,
 * rings the appliance's doorbell, whose poller then delivers what was held.
 * Datagrams are still dropped on a full ring (UDP may lose them).
 *
 * Trust: the appliance treats the whole mapping as hostile: it reads each
 * field of a request once, checks lengths against the slot, and never
 * follows a pointer found there.  Capabilities in messages are
 * externalized references (kernel/cap/cap.h), checked on every use.
 */
#ifndef SPIN_ABI_H
#define SPIN_ABI_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#define SPIN_ABI_MAGIC 0x315359534e495053ull /* "SPINSYS1" little-endian */
#define SPIN_ABI_VERSION 2

#define SPIN_RING_SLOTS 64u      /* power of two */
#define SPIN_SLOT_SIZE 2048u
#define SPIN_NAME_MAX 64         /* procedure names, NUL included */

/* Modes, chosen by the program at attach. */
enum spin_abi_mode { SPIN_ABI_BLOCKING = 0, SPIN_ABI_BUSY = 1 };

/* Status codes (negative in spin_msg.status and in libspin returns). */
enum spin_status {
	SPIN_OK = 0,
	SPIN_EINVAL = 1,    /* malformed request */
	SPIN_EBADREF = 2,   /* forged, stale or wrongly typed reference */
	SPIN_ENOENT = 3,    /* no such procedure */
	SPIN_EEXIST = 4,    /* name or port already taken */
	SPIN_EDEAD = 5,     /* the serving program died or left */
	SPIN_EBUSY = 6,     /* a ring is full */
	SPIN_ENOMEM = 7,
	SPIN_EIO = 8,       /* the appliance went away, or a system call failed */
	SPIN_ETIMEDOUT = 9,
	SPIN_E2BIG = 10,    /* payload larger than a slot */
	SPIN_EPROTO = 11,   /* unexpected message */
	SPIN_ENOTCONN = 12, /* TCP: the connection has ended, or we closed it */
	SPIN_EAGAIN = 13,   /* TCP: the send buffer is full; wait for writable */
	SPIN_ERESET = 14,   /* TCP: the connection was reset (or aborted) */
};

/* Requests (program -> appliance). */
enum spin_op {
	SPIN_OP_NULL = 1,       /* nothing: the bare boundary crossing */
	SPIN_OP_LOOKUP = 2,     /* data: name -> resp.ref: procedure capability */
	SPIN_OP_CALL = 3,       /* ref: procedure; data: args -> resp.data: results */
	SPIN_OP_REGISTER = 4,   /* data: name -> resp.ref: the served procedure */
	SPIN_OP_REPLY = 5,      /* arg: call id from an invocation; data: results;
				 * status: the result status.  No response. */
	SPIN_OP_UDP_OPEN = 6,   /* port -> resp.ref: UDP endpoint */
	SPIN_OP_UDP_SEND = 7,   /* ref: endpoint; addr, port: destination; data */
	SPIN_OP_CLOSE = 8,      /* ref: any capability the program holds; a
				 * TCP connection: orderly close (FIN) */
	SPIN_OP_TCP_LISTEN = 9, /* port; arg: SPIN_TCP_* flags -> resp.ref:
				 * TCP listener */
	SPIN_OP_TCP_SEND = 10,  /* ref: connection; data -> resp.status: bytes
				 * taken (all of them) or -SPIN_EAGAIN, ... */
	SPIN_OP_TCP_RECVED = 11,/* ref: connection; arg: bytes the program is
				 * done with (SPIN_TCP_MANUAL_RECV).  No response. */
	SPIN_OP_TCP_ABORT = 12, /* ref: connection: RST now, and the reference
				 * is closed */
};

/* SPIN_OP_TCP_LISTEN flags (arg). */
#define SPIN_TCP_MANUAL_RECV 0x1  /* the window opens on SPIN_OP_TCP_RECVED,
				   * not when bytes enter the ev ring */

/* Events (appliance -> program, on the ev ring). */
enum spin_ev {
	SPIN_EV_DGRAM = 32,     /* ref: endpoint; addr, port: sender; data */
	SPIN_EV_INVOKE = 33,    /* ref: served procedure; arg: call id; data: args */
	SPIN_EV_TCP_ACCEPT = 34,   /* ref: the new connection; arg: the listener;
				    * addr, port: the peer */
	SPIN_EV_TCP_DATA = 35,     /* ref: connection; data: the next stream bytes */
	SPIN_EV_TCP_WRITABLE = 36, /* ref: connection: a send that got
				    * -SPIN_EAGAIN may be retried */
	SPIN_EV_TCP_FIN = 37,      /* ref: connection: the peer closed its side;
				    * no more data */
	SPIN_EV_TCP_CLOSED = 38,   /* ref: connection: it has ended; status: 0
				    * (orderly), -SPIN_ERESET, -SPIN_ETIMEDOUT.
				    * The reference stays valid until closed. */
};

/* Request flags. */
#define SPIN_F_NOREPLY 0x1      /* do not respond (errors are only counted) */

struct spin_msg {
	uint32_t op;            /* enum spin_op / spin_ev; responses echo it */
	int32_t status;         /* responses: 0 or -enum spin_status */
	uint64_t seq;           /* request number, echoed in the response */
	uint64_t ref;           /* a capability reference (cap_ref_t) */
	uint64_t arg;           /* call id (invoke, reply) */
	uint32_t addr;          /* IPv4 address, host order */
	uint16_t port;          /* UDP or TCP port, host order */
	uint16_t flags;         /* SPIN_F_* */
	uint32_t len;           /* bytes in data */
	uint32_t reserved[5];
	uint8_t data[];
};
#define SPIN_MSG_MAX (SPIN_SLOT_SIZE - sizeof(struct spin_msg))

struct spin_ring {
	alignas(64) _Atomic uint32_t head;      /* written by the consumer */
	alignas(64) _Atomic uint32_t tail;      /* written by the producer */
	alignas(64) _Atomic uint32_t waiting;   /* consumer asleep: ring it */
	alignas(64) uint8_t slots[SPIN_RING_SLOTS][SPIN_SLOT_SIZE];
};

struct spin_shm {
	uint64_t magic;
	uint32_t version, mode;
	uint32_t slot_size, nslots;
	_Atomic uint32_t dead;  /* set by the appliance when it detaches */
	_Atomic uint32_t ev_blocked; /* the appliance holds events back for room */
	alignas(64) struct spin_ring req, resp, ev;
};

static inline struct spin_msg *spin_slot(struct spin_ring *r, uint32_t idx)
{
	return (struct spin_msg *)r->slots[idx & (SPIN_RING_SLOTS - 1)];
}

/* Attach handshake on the control socket (SOCK_SEQPACKET).  The program
 * sends spin_attach_req; the appliance answers spin_attach_resp with three
 * descriptors in SCM_RIGHTS: the memfd, the appliance's doorbell (the
 * program writes it) and the program's doorbell (the program reads it).
 * The connection stays open: its closing is how the appliance learns that
 * the program died. */
struct spin_attach_req {
	uint64_t magic;
	uint32_t version, mode;
	char name[32];
};

#define SPIN_ATTACH_PROCS 16
struct spin_attach_resp {
	int32_t status;
	uint32_t shm_size;
	uint32_t prog_id;
	uint32_t nprocs;        /* the initial capability table: */
	struct {
		char name[SPIN_NAME_MAX];
		uint64_t ref;   /* a procedure capability */
	} procs[SPIN_ATTACH_PROCS];
};

#endif
