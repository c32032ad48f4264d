/*
 * bench_dispatch.h - what the dispatcher benchmark shares with its second
 * translation unit (bench_other.c), which holds the handlers and the
 * baseline's function pointer so that no call is inlined or specialized
 * across units (the build has no LTO).
 */
#ifndef SPIN_BENCH_DISPATCH_H
#define SPIN_BENCH_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A message standing in for a packet: hdr is a UDP header. */
struct bmsg {
	uint8_t *hdr;
	size_t len;
	uint64_t count;
};

int bench_handler(void *closure, struct bmsg *m);
bool bench_port_guard(void *closure, struct bmsg *m);
const void *bench_subject(const void *arg0, size_t *len);
/* Points at bench_handler; the baseline calls through it. */
extern int (*bench_fp)(void *closure, struct bmsg *m);

#endif
