/*
 * vm_pager.c - demand paging (see vm_pager.h).
 */
#include "kernel/vm/vm_pager.h"
#include "kernel/sal/sal.h"
#include "kernel/sal/sal_mmu.h"

#include <stdatomic.h>

struct vm_pager {
	struct trans_ctx *ctx;
	uintptr_t va;
	size_t npages;
	uint64_t off;
	struct sal_backing *file;
	void *binding;
	phys_page_t *frames;        /* frame read for each page, or PHYS_NONE */
	atomic_uint_fast64_t reads;
};

static bool pager_fault(void *closure, struct vm_fault *f)
{
	struct vm_pager *p = closure;
	size_t idx = (f->va - p->va) / VM_PAGE;
	uintptr_t va = p->va + idx * VM_PAGE;
	phys_page_t fr;
	if (phys_alloc(1, 0, &fr) != VM_OK)
		return false;
	uint8_t *k = phys_kaddr(fr);
	long n = sal_backing_read(p->file, k, VM_PAGE, p->off + idx * VM_PAGE);
	if (n < 0) {
		phys_free(&fr, 1);
		return false;
	}
	if (n < (long)VM_PAGE)
		memset(k + n, 0, VM_PAGE - (size_t)n);
	if (trans_map(p->ctx, va, &fr, 1, TRANS_READ, 0) != VM_OK) {
		phys_free(&fr, 1);
		return false;
	}
	p->frames[idx] = fr;
	atomic_fetch_add(&p->reads, 1);
	return true;
}

struct vm_pager *vm_pager_attach(struct trans_ctx *c, uintptr_t va, size_t npages,
				 const char *path, uint64_t file_off)
{
	if (!c || !npages || va % VM_PAGE)
		return NULL;
	struct vm_pager *p = sal_calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->ctx = c;
	p->va = va;
	p->npages = npages;
	p->off = file_off;
	p->frames = sal_alloc(npages * sizeof *p->frames);
	p->file = sal_backing_open(path);
	if (!p->frames || !p->file)
		goto fail;
	for (size_t i = 0; i < npages; i++)
		p->frames[i] = PHYS_NONE;
	p->binding = vm_fault_install(VM_PAGE_NOT_PRESENT, c, va, va + npages * VM_PAGE - 1,
				      pager_fault, p);
	if (!p->binding)
		goto fail;
	return p;
fail:
	sal_backing_close(p->file);
	sal_free(p->frames);
	sal_free(p);
	return NULL;
}

void vm_pager_detach(struct vm_pager *p)
{
	if (!p)
		return;
	vm_fault_uninstall(p->binding);
	for (size_t i = 0; i < p->npages; i++) {
		struct trans_mapping m;
		uintptr_t va = p->va + i * VM_PAGE;
		/* Free only frames still ours: Reclaim may have taken some. */
		if (p->frames[i] != PHYS_NONE && trans_examine(p->ctx, va, &m) == VM_OK &&
		    m.page == p->frames[i]) {
			trans_unmap(p->ctx, va, 1);
			phys_free(&p->frames[i], 1);
		}
	}
	sal_backing_close(p->file);
	sal_free(p->frames);
	sal_free(p);
}

uint64_t vm_pager_reads(const struct vm_pager *p)
{
	return atomic_load(&p->reads);
}
