/*
 * vm_cow.c - copy-on-write (see vm_cow.h).
 *
 * Soft bits of a mapping: COW_WAS_WRITABLE (write protected only for
 * sharing) and COW_OWNED (a private frame this extension allocated and
 * must free).  One ProtectionFault binding per context involved, guarded
 * by the context.
 */
#include "kernel/vm/vm_cow.h"
#include "kernel/sal/sal.h"

#include <stdatomic.h>

enum { COW_WAS_WRITABLE = 1, COW_OWNED = 2 };
#define COW_MAX_CTX 64

static struct {
	struct trans_ctx *ctx;
	void *binding;
} bound[COW_MAX_CTX];
static atomic_uint_fast64_t copies;

static bool cow_fault(void *closure, struct vm_fault *f)
{
	(void)closure;
	uintptr_t va = f->va & ~(uintptr_t)(VM_PAGE - 1);
	struct trans_mapping m;
	if (!f->write || trans_examine(f->ctx, va, &m) != VM_OK || !(m.soft & COW_WAS_WRITABLE))
		return false;
	unsigned prot = m.prot | TRANS_WRITE;
	if (phys_map_count(m.page) > 1) {
		phys_page_t p;
		if (phys_alloc(1, 0, &p) != VM_OK)
			return false;
		memcpy(phys_kaddr(p), phys_kaddr(m.page), VM_PAGE);
		if (trans_map(f->ctx, va, &p, 1, prot, m.flags) != VM_OK) {
			phys_free(&p, 1);
			return false;
		}
		trans_set_soft(f->ctx, va, COW_OWNED);
		atomic_fetch_add(&copies, 1);
	} else {
		/* The last sharer keeps the frame. */
		trans_protect(f->ctx, va, 1, prot);
		trans_set_soft(f->ctx, va, (uint8_t)(m.soft & ~COW_WAS_WRITABLE));
	}
	return true;
}

static int bind(struct trans_ctx *c)
{
	int free_slot = -1;
	for (int i = 0; i < COW_MAX_CTX; i++) {
		if (bound[i].ctx == c)
			return 0;
		if (!bound[i].ctx && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -1;
	void *b = vm_fault_install(VM_PROTECTION_FAULT, c, 0, virt_space() - 1, cow_fault, NULL);
	if (!b)
		return -1;
	bound[free_slot].ctx = c;
	bound[free_slot].binding = b;
	return 0;
}

struct trans_ctx *vm_cow_copy(struct trans_ctx *src)
{
	struct trans_ctx *dst = trans_create();
	if (!dst)
		return NULL;
	if (bind(src) != 0 || bind(dst) != 0) {
		vm_cow_destroy(dst);
		return NULL;
	}
	size_t n = virt_space() / VM_PAGE;
	for (size_t i = 0; i < n; i++) {
		uintptr_t va = i * VM_PAGE;
		struct trans_mapping m;
		if (trans_examine(src, va, &m) != VM_OK)
			continue;
		uint8_t soft = m.soft & COW_WAS_WRITABLE;
		unsigned prot = m.prot;
		if (prot & TRANS_WRITE) {
			prot &= ~(unsigned)TRANS_WRITE;
			soft |= COW_WAS_WRITABLE;
			trans_protect(src, va, 1, prot);
			trans_set_soft(src, va, (uint8_t)(m.soft | COW_WAS_WRITABLE));
		}
		if (trans_map(dst, va, &m.page, 1, prot, m.flags) != VM_OK) {
			vm_cow_destroy(dst);
			return NULL;
		}
		trans_set_soft(dst, va, soft);
	}
	return dst;
}

void vm_cow_destroy(struct trans_ctx *c)
{
	if (!c)
		return;
	size_t n = virt_space() / VM_PAGE;
	for (size_t i = 0; i < n; i++) {
		struct trans_mapping m;
		if (trans_examine(c, i * VM_PAGE, &m) == VM_OK && (m.soft & COW_OWNED)) {
			trans_unmap(c, i * VM_PAGE, 1);
			phys_free(&m.page, 1);
		}
	}
	for (int i = 0; i < COW_MAX_CTX; i++) {
		if (bound[i].ctx == c) {
			vm_fault_uninstall(bound[i].binding);
			bound[i].ctx = NULL;
		}
	}
	trans_destroy(c);
}

uint64_t vm_cow_copies(void)
{
	return atomic_load(&copies);
}
