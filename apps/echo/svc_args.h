/*
 * svc_args.h - the ARGS of a service module (UDP echo, discard, chargen;
 * TCP echo, discard, chargen): the ports it serves.
 *
 *   "7"  "7,9000"  "port 19"  "port 7,9000"  "port 7 port 9000"
 *
 * Ports are separated by commas or spaces; the word "port" before a number
 * is optional.  NULL or "" means no port (a built-in module started by spin
 * run, which makes its bindings through the module's interface instead).
 *
 * A static inline so that every extension object carries its own copy: an
 * object may only call what the kernel's domains export.
 */
#ifndef SPIN_APP_SVC_ARGS_H
#define SPIN_APP_SVC_ARGS_H

#include <stdint.h>

#define SVC_MAX_PORTS 16

/* Fills ports[0..n) and returns n (0..max), or -1 for a malformed string,
 * a port outside 1..65535, or more than max ports. */
static inline int svc_args_ports(const char *args, uint16_t *ports, unsigned max)
{
	unsigned n = 0;

	while (args && *args) {
		unsigned port = 0, digits = 0;

		if (*args == ' ' || *args == ',') {
			args++;
			continue;
		}
		if (args[0] == 'p' && args[1] == 'o' && args[2] == 'r' && args[3] == 't' &&
		    args[4] == ' ') {
			args += 5;
			continue;
		}
		while (*args >= '0' && *args <= '9' && port <= 65535) {
			port = port * 10 + (unsigned)(*args++ - '0');
			digits++;
		}
		if (!digits || port == 0 || port > 65535 || (*args && *args != ',' && *args != ' ') ||
		    n == max)
			return -1;
		ports[n++] = (uint16_t)port;
	}
	return (int)n;
}

#endif
