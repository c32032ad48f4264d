/*
 * vm_pager.h - demand paging of a file-backed region, an extension built
 * on the VM services and the PageNotPresent event.
 *
 * vm_pager_attach maps nothing: the first touch of each page raises
 * PageNotPresent, whose handler allocates a frame, reads that page of the
 * file into it (zero past the end of the file) and maps it read-only.  So
 * a page is read only when first touched, and at most once while it stays
 * mapped (a page taken by Reclaim is read again on its next touch).
 */
#ifndef SPIN_VM_PAGER_H
#define SPIN_VM_PAGER_H

#include "kernel/vm/vm.h"

struct vm_pager;
/* va must be allocated (virt_alloc) for npages pages.  Returns NULL if
 * the file cannot be opened or memory is short. */
struct vm_pager *vm_pager_attach(struct trans_ctx *c, uintptr_t va, size_t npages,
				 const char *path, uint64_t file_off);
/* Unmaps the region and frees the frames the pager read into. */
void vm_pager_detach(struct vm_pager *p);
uint64_t vm_pager_reads(const struct vm_pager *p);   /* pages read so far */

#endif
