/*
 * strand_switch.h - the machine context of a strand (private to
 * kernel/strand).  A context is only its saved stack pointer: everything
 * else is on the stack.
 */
#ifndef SPIN_STRAND_SWITCH_H
#define SPIN_STRAND_SWITCH_H

#include <stdint.h>

struct strand_ctx {
	void *sp;
};

/* Saves the caller's registers in from and continues to; returns when some
 * later switch names from as its target.  Cost: about 20 instructions. */
void strand_ctx_switch(struct strand_ctx *from, struct strand_ctx *to);
/* Prepares ctx so the first switch to it calls fn(arg) on the stack ending
 * at stack_top.  fn must never return. */
void strand_ctx_init(struct strand_ctx *ctx, void *stack_top, void (*fn)(void *), void *arg);

#endif
