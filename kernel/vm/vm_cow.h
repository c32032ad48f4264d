/*
 * vm_cow.h - copy-on-write copies of translation contexts, an extension
 * built only on the VM services and the ProtectionFault event.
 *
 * vm_cow_copy(src) makes a context that maps every page src maps, sharing
 * the frames.  Writable pages become read-only in both (the "was writable"
 * mark lives in the mapping's soft bits); the first write to such a page in
 * either context raises ProtectionFault, whose handler gives the writer a
 * private copy (or, when it is the last sharer, just its write permission
 * back).  Pages nobody writes stay shared for good.
 */
#ifndef SPIN_VM_COW_H
#define SPIN_VM_COW_H

#include "kernel/vm/vm.h"

struct trans_ctx *vm_cow_copy(struct trans_ctx *src);
/* Destroys a context made by vm_cow_copy (or a source after its copies),
 * freeing the private frames the extension allocated for it. */
void vm_cow_destroy(struct trans_ctx *c);
uint64_t vm_cow_copies(void);   /* private copies made so far */

#endif
