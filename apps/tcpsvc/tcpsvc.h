/*
 * tcpsvc.h - the classic TCP services as extension modules, and a small
 * TCP client, all on the in-kernel TCP API (protocols/tcp/tcp.h).
 *
 *   module "tcpecho"   echo (RFC 862): every byte goes back to its sender,
 *                      in the buffers it arrived in (no copy).
 *   module "discard"   discard (RFC 863): every byte is counted and freed.
 *   module "chargen"   character generator (RFC 864): 72-character lines of
 *                      rotating printable ASCII, CR LF, as fast as the
 *                      peer takes them; anything received is discarded.
 *   module "tcpfetch"  a client: connects to ADDR:PORT, sends a file (or
 *                      nothing), writes what comes back to a file (or only
 *                      counts it), closes its side after the file.  `spin
 *                      ctl tcp fetch` drives it; the wire tests use it to
 *                      move data between spin and Linux servers.
 *
 * Configuration: loaded as an extension object with args "port 7" or
 * "7,9000" (apps/echo/svc_args.h) a service module listens on those ports
 * at init and its fini resets every connection it still has; spin run
 * (apps/spin) instead starts and stops listeners through the exported
 * interface (struct tcpsvc_ops), one per `service tcp-echo|tcp-discard|
 * tcp-chargen port N` line.  The objects build/ext/tcp_echo.o,
 * tcp_discard.o and tcp_chargen.o (tcpsvc.c joined with one service) name
 * their module, node and interface after the object ("tcp_echo"), so they
 * never share a name with the built-in modules below.
 *
 * Per-connection state lives in a slot array allocated when a listener
 * starts (control path), sized to TCP's connection limit; accepting a
 * connection takes a slot from a free list, so the data path allocates
 * nothing.  When no slot is free the accept handler refuses (TCP resets
 * the connection and counts `accept_refused`).
 *
 * Back-pressure: echo listens with manual_recv.  Received bytes are
 * reported consumed (tcp_recved) only once tcp_send has taken them, so a
 * peer that sends faster than it reads sees the window close instead of
 * spin buffering without bound.  Chargen fills the send buffer up to
 * tcp_send_room and continues from the writable handler; when TCP's pool
 * is empty it retries from a 1 ms timer.
 *
 * Nodes (counters, `spin ctl counters NAME`): "tcp-echo", "tcp-discard",
 * "tcp-chargen" count received segments and bytes; "tcp-fetch" likewise.
 * Service counters (accepted, refused, active, bytes in/out) are in
 * tcpsvc_stats and printed by `spin ctl tcp services`.
 *
 * Threads: everything runs on the packet loop (TCP's handlers) or on the
 * control path between packet turns (spin ctl).
 */
#ifndef SPIN_APP_TCPSVC_H
#define SPIN_APP_TCPSVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/module/module.h"

struct tcpsvc;

struct tcpsvc_stats {
	uint16_t port;
	uint64_t accepted, refused, active;
	uint64_t bytes_in, bytes_out;
};

/* The interface each service module exports ("tcp-echo", "tcp-discard",
 * "tcp-chargen", version 1.0). */
struct tcpsvc_ops {
	/* Listens on port (any local address).  Returns a tcp_err (TCP_OK,
	 * TCP_EADDRINUSE, TCP_ENOMEM, ...).  Control path. */
	int (*start)(uint16_t port, struct tcpsvc **out);
	/* Stops listening and resets the service's live connections (their
	 * closed handlers run before this returns).  Control path. */
	void (*stop)(struct tcpsvc *s);
	void (*stats)(const struct tcpsvc *s, struct tcpsvc_stats *out);
};

extern const struct spin_module tcpecho_module;     /* "tcpecho" */
extern const struct spin_module discard_module;     /* "discard" */
extern const struct spin_module chargen_module;     /* "chargen" */
extern const struct spin_module tcpfetch_module;    /* "tcpfetch" */
extern const struct spin_interface tcpecho_interface;  /* "tcp-echo" 1.0 */
extern const struct spin_interface discard_interface;  /* "tcp-discard" 1.0 */
extern const struct spin_interface chargen_interface;  /* "tcp-chargen" 1.0 */
extern const struct spin_interface tcpfetch_interface; /* "tcp-fetch" 1.0 */

/* The byte at offset k of the chargen stream (RFC 864: line n is the 72
 * characters starting at printable character n mod 95, then CR LF). */
static inline uint8_t chargen_byte(uint64_t k)
{
	uint64_t line = k / 74, col = k % 74;

	if (col == 72)
		return '\r';
	if (col == 73)
		return '\n';
	return (uint8_t)(32 + (line + col) % 95);
}

/* --- the client ------------------------------------------------------------ */
#define TCPFETCH_MAX 64

struct tcpfetch_args {
	uint32_t dst;           /* host order */
	uint16_t port;
	const char *send_path;  /* NULL: send nothing (close our side at once) */
	const char *recv_path;  /* NULL: count received bytes only */
	uint64_t send_bytes;    /* without send_path: this many chargen bytes */
};

enum tcpfetch_state {
	TCPFETCH_FREE = 0,
	TCPFETCH_CONNECTING,
	TCPFETCH_ESTABLISHED,
	TCPFETCH_DONE,          /* closed ran: see reason */
};

struct tcpfetch_status {
	unsigned id;
	enum tcpfetch_state state;
	int reason;             /* enum tcp_reason, once DONE */
	bool io_error;          /* a file read or write failed (then aborted) */
	bool peer_fin;
	uint64_t sent, received;
	uint64_t elapsed_ns;    /* from start to closed (or to now) */
};

struct tcpfetch_ops {
	/* Starts a transfer; *id names it.  Returns 0, or -1 with a message
	 * in err (a file that cannot be opened, a tcp_connect error, all
	 * TCPFETCH_MAX slots busy). */
	int (*start)(const struct tcpfetch_args *a, unsigned *id, char *err, size_t errlen);
	/* 0 and *out filled, or -1 when id names no transfer. */
	int (*status)(unsigned id, struct tcpfetch_status *out);
	/* Forgets a finished transfer (its slot becomes free); aborts a
	 * running one first. */
	void (*forget)(unsigned id);
};

#endif
