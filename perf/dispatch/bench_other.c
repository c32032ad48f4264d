/*
 * bench_other.c - handlers, guard and baseline pointer for bench_dispatch,
 * in their own translation unit (see bench_dispatch.h).
 */
#include "perf/dispatch/bench_dispatch.h"

__attribute__((noinline)) int bench_handler(void *closure, struct bmsg *m)
{
	(void)closure;
	m->count++;
	return 1;
}

int (*bench_fp)(void *closure, struct bmsg *m) = bench_handler;

/* A procedural guard: UDP destination port == closure. */
__attribute__((noinline)) bool bench_port_guard(void *closure, struct bmsg *m)
{
	if (m->len < 4)
		return false;
	return ((unsigned)m->hdr[2] << 8 | m->hdr[3]) == (unsigned)(uintptr_t)closure;
}

const void *bench_subject(const void *arg0, size_t *len)
{
	const struct bmsg *m = arg0;
	*len = m->len;
	return m->hdr;
}
