/*
 * vm_events.c - the VM events and the convenience installers of vm.h.
 */
#include "kernel/vm/vm_events.h"
#include "kernel/sal/sal.h"

static bool any_true(bool acc, bool r, unsigned n)
{
	(void)n;
	return acc || r;
}

static phys_page_t first_answer(phys_page_t acc, phys_page_t r, unsigned n)
{
	return n == 0 || acc == PHYS_NONE ? r : acc;
}

static phys_page_t agree(phys_page_t victim)
{
	return victim;
}

SPIN_EVENT_DEFINE(VM_PageNotPresent, .owner = SPIN_KERNEL, .default_result = false,
		  .result = any_true, .doc = "access to an allocated, unmapped page");
SPIN_EVENT_DEFINE(VM_BadAddress, .owner = SPIN_KERNEL, .default_result = false,
		  .result = any_true, .doc = "access to an unallocated address");
SPIN_EVENT_DEFINE(VM_ProtectionFault, .owner = SPIN_KERNEL, .default_result = false,
		  .result = any_true, .doc = "access against a mapping's protection");
SPIN_EVENT_DEFINE(Phys_Reclaim, .owner = SPIN_KERNEL, .default_result = PHYS_NONE,
		  .result = first_answer, .default_handler = agree,
		  .doc = "PhysAddr reclaims a frame; a handler may nominate another");

bool vm_raise_fault(struct vm_fault *f)
{
	switch (f->kind) {
	case VM_PAGE_NOT_PRESENT:
		return VM_PageNotPresent_raise(f);
	case VM_BAD_ADDRESS:
		return VM_BadAddress_raise(f);
	case VM_PROTECTION_FAULT:
		return VM_ProtectionFault_raise(f);
	default:
		return false;
	}
}

void *vm_fault_install(enum vm_fault_kind kind, struct trans_ctx *ctx, uintptr_t lo,
		       uintptr_t hi, vm_fault_fn fn, void *closure)
{
	if (!fn || lo > hi)
		return NULL;
	struct disp_term terms[2] = {
		DISP_ARG_RANGE(struct vm_fault, va, lo, hi),
		DISP_ARG_EQ(struct vm_fault, ctx, (uint64_t)(uintptr_t)ctx),
	};
	struct disp_spec spec = {
		.handler = (disp_fn_t)fn,
		.closure = closure,
		.terms = terms,
		.nterms = ctx ? 2 : 1,
		.options = DISP_CANCEL,
		.desc = "vm_fault_install",
	};
	static struct disp_event *const ev[VM_NFAULT] = {
		[VM_PAGE_NOT_PRESENT] = &VM_PageNotPresent_event,
		[VM_BAD_ADDRESS] = &VM_BadAddress_event,
		[VM_PROTECTION_FAULT] = &VM_ProtectionFault_event,
	};
	if ((unsigned)kind >= VM_NFAULT)
		return NULL;
	struct disp_binding *b = NULL;
	return disp_install(ev[kind], SPIN_KERNEL, &spec, &b) == DISP_OK ? b : NULL;
}

void vm_fault_uninstall(void *handle)
{
	if (handle)
		disp_uninstall(handle);
}

void *phys_reclaim_install(phys_reclaim_fn fn, void *closure)
{
	struct Phys_Reclaim_spec spec = {.handler = fn, .closure = closure,
					 .desc = "phys_reclaim_install"};
	struct disp_binding *b = NULL;
	return fn && Phys_Reclaim_install(SPIN_KERNEL, &spec, &b) == DISP_OK ? b : NULL;
}

void phys_reclaim_uninstall(void *handle)
{
	if (handle)
		disp_uninstall(handle);
}
