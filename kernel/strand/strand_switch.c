/*
 * strand_switch.c - the register switch between strands (x86-64 System V).
 *
 * A switch saves what the ABI says a callee preserves (rbx, rbp, r12-r15,
 * the MXCSR control bits and the x87 control word) on the leaving stack,
 * stores the stack pointer in from->sp, loads to->sp and restores the same
 * set from there.  Caller-saved registers are dead across the call by the
 * ABI, so nothing else needs saving: about 20 instructions, no system call
 * (swapcontext also saves the signal mask, which costs a system call).
 *
 * A new context is a stack prepared so that the first switch to it
 * "returns" into strand_ctx_boot with r12 = arg and r13 = fn.
 */
#include "kernel/strand/strand_switch.h"

#if !defined(__x86_64__)
#error "strand_switch.c: only x86-64 is written"
#endif

__asm__(
	".text\n"
	".globl strand_ctx_switch\n"
	".hidden strand_ctx_switch\n"
	".type strand_ctx_switch,@function\n"
	".p2align 4\n"
	"strand_ctx_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq (%rsi), %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size strand_ctx_switch, .-strand_ctx_switch\n"
	"\n"
	".type strand_ctx_boot,@function\n"
	".p2align 4\n"
	"strand_ctx_boot:\n"
	"	movq %r12, %rdi\n"
	"	callq *%r13\n"
	"	ud2\n"
	".size strand_ctx_boot, .-strand_ctx_boot\n");

extern char strand_ctx_boot[];

void strand_ctx_init(struct strand_ctx *ctx, void *stack_top, void (*fn)(void *), void *arg)
{
	/* After the ret into strand_ctx_boot the stack pointer must be 16-byte
	 * aligned, so that its call leaves fn the alignment the ABI promises. */
	uintptr_t top = ((uintptr_t)stack_top & ~(uintptr_t)15) - 16;
	uint64_t *sp = (uint64_t *)top;
	*--sp = (uint64_t)(uintptr_t)strand_ctx_boot; /* return address */
	*--sp = 0;                                    /* rbp */
	*--sp = 0;                                    /* rbx */
	*--sp = (uint64_t)(uintptr_t)arg;             /* r12 */
	*--sp = (uint64_t)(uintptr_t)fn;              /* r13 */
	*--sp = 0;                                    /* r14 */
	*--sp = 0;                                    /* r15 */
	/* MXCSR default (all exceptions masked, round to nearest) in the low
	 * half, x87 control word default in the high half. */
	*--sp = 0x1f80ull | (0x037full << 32);
	ctx->sp = sp;
}
