/*
 * echo.h - the UDP echo service (RFC 862) as an extension module.
 *
 * Synopsis: binds UDP_PacketArrived with the guard "destination port ==
 * PORT" and answers every datagram to its sender, in the request's own
 * buffer: the UDP payload stays where it is, the headers are rebuilt in
 * front of it by udp_send (no copy, no allocation).
 *
 * Configuration: loaded with args "7,9000" or "port 7" (svc_args.h) the
 * module binds those ports at init (the object build/ext/udp_echo.o is the
 * module "udp_echo", see echo.c); spin run (apps/spin) instead asks for unbound bindings through the
 * exported interface and installs them with a dispatcher transaction, so a
 * reload swaps the whole port set at once.
 *
 * Node: "echo" counts requests and their bytes (getstats echo).
 */
#ifndef SPIN_ECHO_H
#define SPIN_ECHO_H

#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/module/module.h"

struct echo_ops {
	/* Creates (does not install) the binding for one port; the caller
	 * installs it (disp_binding_install or a transaction) and owns it. */
	int (*binding_create)(uint16_t port, struct disp_binding **out);
};

extern const struct spin_module echo_module;      /* "echo" */
extern const struct spin_interface echo_interface; /* "echo" 1.0, procs: echo_ops */

#endif
