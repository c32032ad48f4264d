/*
 * vm_events.h - the VM services' events (dispatcher events,
 * kernel/dispatch/dispatch.h).
 *
 *   VM_PageNotPresent(f)   bool: f->va is allocated but not mapped
 *   VM_BadAddress(f)       bool: f->va is not allocated
 *   VM_ProtectionFault(f)  bool: the access breaks the mapping's protection
 *   Phys_Reclaim(victim)   phys_page_t: PhysAddr wants victim back
 *
 * Fault events: every binding whose guards pass runs, in the dispatcher's
 * order (First, unconstrained, Last; install order within each); the
 * fault counts as handled if any returned true.  A handler that fixes the
 * fault for good should be installed DISP_CANCEL so nothing after it runs.
 * Guards are normally declarative terms on the fault record:
 *   DISP_ARG_EQ(struct vm_fault, ctx, (uintptr_t)ctx)
 *   DISP_ARG_RANGE(struct vm_fault, va, lo, hi)
 * which vm_fault_install writes for you.  With no binding the fault is not
 * handled (fatal).
 *
 * Phys_Reclaim: bindings run in order; the first answer other than
 * PHYS_NONE is the result.  With no binding the victim is agreed to.
 *
 * Fault events are raised in the fault's context (hosted: a SIGSEGV
 * handler on the faulting thread); a raise takes no lock and allocates
 * nothing.  A thread that may fault in a range whose handlers are being
 * uninstalled must be an RCU reader (strand processors and run loops
 * are), as the dispatcher requires of every raiser.
 */
#ifndef SPIN_VM_EVENTS_H
#define SPIN_VM_EVENTS_H

#include "kernel/dispatch/dispatch.h"
#include "kernel/vm/vm.h"

SPIN_EVENT_DECLARE(VM_PageNotPresent, bool, (struct vm_fault *, f))
SPIN_EVENT_DECLARE(VM_BadAddress, bool, (struct vm_fault *, f))
SPIN_EVENT_DECLARE(VM_ProtectionFault, bool, (struct vm_fault *, f))
SPIN_EVENT_DECLARE(Phys_Reclaim, phys_page_t, (phys_page_t, victim))

/* Raised by vm.c only. */
bool vm_raise_fault(struct vm_fault *f);

#endif
