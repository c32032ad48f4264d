/*
 * vm.c - PhysAddr, VirtAddr and Translation on the platform MMU
 * (kernel/sal/sal_mmu.h), and the fault path that raises their events.
 *
 * State:
 *  - physical frames: an allocation bitmap, and per frame a descriptor with
 *    its reverse map (every page table entry that maps it, linked through
 *    the entries themselves, so mapping allocates nothing);
 *  - virtual space: an allocation bitmap over va_bytes / VM_PAGE pages;
 *  - a context: its host region and a flat page table, one entry per page
 *    of the virtual space (24 bytes each: 6 MB for a 1 GB space).
 * Everything is guarded by one spin lock.  The lock is never held while an
 * event handler runs, and code holding it touches only this metadata and
 * the direct map, so the fault path (which takes it) cannot deadlock
 * against the thread it interrupted.
 */
#include "kernel/vm/vm.h"
#include "kernel/sal/sal.h"
#include "kernel/sal/sal_mmu.h"
#include "kernel/vm/vm_events.h"

#include <stdatomic.h>

#define MAX_CTX 64

enum { PTE_MAPPED = 1, PTE_TRACK = 2, PTE_DIRTY = 4 };
enum { PD_ALLOC = 1, PD_PINNED = 2 };

struct vm_pte {
	uint32_t frame;
	uint8_t prot, hprot, flags, soft;
	uint16_t slot;          /* the context's registry slot */
	struct vm_pte *rnext;   /* next entry mapping the same frame */
};

struct phys_desc {
	struct vm_pte *rmap;
	uint16_t maps;
	uint8_t flags;
};

struct trans_ctx {
	uint8_t *base;
	struct vm_pte *pte;
	int slot;
};

static struct {
	atomic_flag lock;
	bool up;
	uint8_t *dmap;
	size_t npages, nfree, clock;
	struct phys_desc *pd;
	uint64_t *pbits;
	size_t vpages;
	uint64_t *vbits;
	_Atomic(struct trans_ctx *) ctx[MAX_CTX];
	struct vm_stats st;
} vm = {.lock = ATOMIC_FLAG_INIT};

static void vm_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&vm.lock, memory_order_acquire))
		sal_cpu_relax();
}

static void vm_unlock(void)
{
	atomic_flag_clear_explicit(&vm.lock, memory_order_release);
}

static bool bit_get(const uint64_t *b, size_t i) { return (b[i / 64] >> (i % 64)) & 1; }
static void bit_set(uint64_t *b, size_t i) { b[i / 64] |= 1ull << (i % 64); }
static void bit_clr(uint64_t *b, size_t i) { b[i / 64] &= ~(1ull << (i % 64)); }

static bool vm_fault_entry(void *addr, bool write);

/* --- start-up --------------------------------------------------------------- */
int vm_init(size_t phys_bytes, size_t va_bytes)
{
	if (vm.up || !phys_bytes || !va_bytes || phys_bytes % VM_PAGE || va_bytes % VM_PAGE)
		return VM_EINVAL;
	if (phys_bytes / VM_PAGE >= PHYS_NONE)
		return VM_EINVAL;
	vm.npages = phys_bytes / VM_PAGE;
	vm.vpages = va_bytes / VM_PAGE;
	vm.pd = sal_calloc(vm.npages, sizeof *vm.pd);
	vm.pbits = sal_calloc((vm.npages + 63) / 64, 8);
	vm.vbits = sal_calloc((vm.vpages + 63) / 64, 8);
	vm.dmap = sal_mmu_phys_init(phys_bytes);
	if (!vm.pd || !vm.pbits || !vm.vbits || !vm.dmap)
		goto fail;
	if (sal_mmu_fault_init(vm_fault_entry) != 0)
		goto fail;
	bit_set(vm.vbits, 0);   /* virtual page 0 is never handed out */
	vm.nfree = vm.npages;
	vm.clock = 0;
	memset(&vm.st, 0, sizeof vm.st);
	vm.up = true;
	return VM_OK;
fail:
	if (vm.dmap)
		sal_mmu_phys_fini();
	sal_free(vm.pd);
	sal_free(vm.pbits);
	sal_free(vm.vbits);
	vm.dmap = NULL;
	return VM_ENOMEM;
}

bool vm_running(void)
{
	return vm.up;
}

int vm_start_default(void)
{
	static atomic_flag once = ATOMIC_FLAG_INIT;
	while (atomic_flag_test_and_set_explicit(&once, memory_order_acquire))
		sal_cpu_relax();
	int err = vm.up ? VM_OK : vm_init(VM_DEFAULT_PHYS, VM_DEFAULT_VA);
	atomic_flag_clear_explicit(&once, memory_order_release);
	return err;
}

void vm_fini(void)
{
	if (!vm.up)
		return;
	for (int i = 0; i < MAX_CTX; i++) {
		struct trans_ctx *c = atomic_load(&vm.ctx[i]);
		if (c)
			trans_destroy(c);
	}
	sal_mmu_fault_fini();
	sal_mmu_phys_fini();
	sal_free(vm.pd);
	sal_free(vm.pbits);
	sal_free(vm.vbits);
	vm.pd = NULL;
	vm.pbits = vm.vbits = NULL;
	vm.dmap = NULL;
	vm.up = false;
}

void vm_stats(struct vm_stats *out)
{
	*out = vm.st;
}

/* --- reverse map ---------------------------------------------------------- */
static void rmap_add(struct vm_pte *e)
{
	struct phys_desc *d = &vm.pd[e->frame];
	e->rnext = d->rmap;
	d->rmap = e;
	d->maps++;
}

static void rmap_del(struct vm_pte *e)
{
	struct phys_desc *d = &vm.pd[e->frame];
	for (struct vm_pte **pp = &d->rmap; *pp; pp = &(*pp)->rnext) {
		if (*pp == e) {
			*pp = e->rnext;
			d->maps--;
			break;
		}
	}
	e->rnext = NULL;
}

static uintptr_t pte_va(const struct trans_ctx *c, const struct vm_pte *e)
{
	return (uintptr_t)(e - c->pte) * VM_PAGE;
}

/* Removes every mapping of frame p (lock held). */
static void unmap_frame(phys_page_t p)
{
	struct vm_pte *e;
	while ((e = vm.pd[p].rmap) != NULL) {
		struct trans_ctx *c = atomic_load(&vm.ctx[e->slot]);
		rmap_del(e);
		sal_mmu_unmap(c->base + pte_va(c, e), VM_PAGE);
		vm.st.syscalls++;
		e->flags = 0;
		e->prot = e->hprot = 0;
	}
}

/* --- PhysAddr ---------------------------------------------------------------- */
static void take_frame(phys_page_t p, unsigned attrs)
{
	bit_set(vm.pbits, p);
	vm.pd[p].flags = PD_ALLOC | ((attrs & PHYS_PINNED) ? PD_PINNED : 0);
	vm.nfree--;
}

static bool reclaimable(phys_page_t p)
{
	return p < vm.npages && (vm.pd[p].flags & PD_ALLOC) && !(vm.pd[p].flags & PD_PINNED);
}

/* The next allocated, unpinned frame in clock order, skipping the first
 * `skip` frames of out (already ours in this call). */
static phys_page_t clock_victim(const phys_page_t *mine, size_t nmine)
{
	for (size_t n = 0; n < vm.npages; n++) {
		phys_page_t p = (phys_page_t)vm.clock;
		vm.clock = (vm.clock + 1) % vm.npages;
		if (!reclaimable(p))
			continue;
		bool taken = false;
		for (size_t i = 0; i < nmine && !taken; i++)
			taken = mine[i] == p;
		if (!taken)
			return p;
	}
	return PHYS_NONE;
}

static int alloc_contig(size_t npages, unsigned attrs, phys_page_t *out)
{
	size_t run = 0;
	for (size_t p = 0; p < vm.npages; p++) {
		run = bit_get(vm.pbits, p) ? 0 : run + 1;
		if (run == npages) {
			size_t first = p + 1 - npages;
			for (size_t i = 0; i < npages; i++) {
				take_frame((phys_page_t)(first + i), attrs);
				out[i] = (phys_page_t)(first + i);
			}
			return VM_OK;
		}
	}
	return VM_ENOMEM;
}

int phys_alloc(size_t npages, unsigned attrs, phys_page_t *out)
{
	if (!vm.up || !npages || !out)
		return VM_EINVAL;
	vm_lock();
	if (attrs & PHYS_CONTIG) {
		int err = alloc_contig(npages, attrs, out);
		vm_unlock();
		if (err == VM_OK && (attrs & PHYS_ZERO))
			memset(phys_kaddr(out[0]), 0, npages * VM_PAGE);
		return err;
	}
	size_t got = 0;
	for (size_t w = 0; got < npages && w < (vm.npages + 63) / 64; w++) {
		while (got < npages && vm.pbits[w] != ~0ull) {
			size_t p = w * 64 + (size_t)__builtin_ctzll(~vm.pbits[w]);
			if (p >= vm.npages)
				break;
			take_frame((phys_page_t)p, attrs);
			out[got++] = (phys_page_t)p;
		}
	}
	/* Short: reclaim.  Each missing frame gets at most npages+1 tries
	 * so refusing handlers cannot loop us forever. */
	size_t tries = 0;
	while (got < npages && tries++ < vm.npages) {
		phys_page_t victim = clock_victim(out, got);
		if (victim == PHYS_NONE)
			break;
		vm_unlock();
		phys_page_t answer = Phys_Reclaim_raise(victim);
		vm_lock();
		if (answer == PHYS_NONE)
			continue;
		bool mine = false;
		for (size_t i = 0; i < got && !mine; i++)
			mine = out[i] == answer;
		if (mine || !reclaimable(answer))
			continue;
		vm.st.reclaims++;
		if (answer != victim)
			vm.st.nominated++;
		unmap_frame(answer);
		vm.pd[answer].flags = PD_ALLOC | ((attrs & PHYS_PINNED) ? PD_PINNED : 0);
		out[got++] = answer;
	}
	if (got < npages) {
		for (size_t i = 0; i < got; i++) {
			bit_clr(vm.pbits, out[i]);
			vm.pd[out[i]].flags = 0;
			vm.nfree++;
		}
		vm_unlock();
		return VM_ENOMEM;
	}
	vm_unlock();
	if (attrs & PHYS_ZERO)
		for (size_t i = 0; i < npages; i++)
			memset(phys_kaddr(out[i]), 0, VM_PAGE);
	return VM_OK;
}

void phys_free(const phys_page_t *pages, size_t npages)
{
	if (!vm.up)
		return;
	vm_lock();
	for (size_t i = 0; i < npages; i++) {
		phys_page_t p = pages[i];
		if (p >= vm.npages || !(vm.pd[p].flags & PD_ALLOC))
			continue;
		unmap_frame(p);
		vm.pd[p].flags = 0;
		bit_clr(vm.pbits, p);
		vm.nfree++;
	}
	vm_unlock();
}

void *phys_kaddr(phys_page_t p)
{
	return p < vm.npages ? vm.dmap + (size_t)p * VM_PAGE : NULL;
}

size_t phys_free_count(void) { return vm.nfree; }
size_t phys_total(void) { return vm.npages; }

unsigned phys_map_count(phys_page_t p)
{
	return p < vm.npages ? vm.pd[p].maps : 0;
}

/* --- VirtAddr ----------------------------------------------------------------- */
int virt_alloc(size_t bytes, unsigned flags, uintptr_t *va)
{
	if (!vm.up || !bytes || !va)
		return VM_EINVAL;
	size_t n = (bytes + VM_PAGE - 1) / VM_PAGE;
	vm_lock();
	if (flags & VIRT_FIXED) {
		if (*va % VM_PAGE || *va / VM_PAGE + n > vm.vpages) {
			vm_unlock();
			return VM_EINVAL;
		}
		size_t first = *va / VM_PAGE;
		for (size_t i = 0; i < n; i++) {
			if (bit_get(vm.vbits, first + i)) {
				vm_unlock();
				return VM_EBUSY;
			}
		}
		for (size_t i = 0; i < n; i++)
			bit_set(vm.vbits, first + i);
		vm_unlock();
		return VM_OK;
	}
	size_t run = 0;
	for (size_t p = 0; p < vm.vpages; p++) {
		run = bit_get(vm.vbits, p) ? 0 : run + 1;
		if (run == n) {
			size_t first = p + 1 - n;
			for (size_t i = 0; i < n; i++)
				bit_set(vm.vbits, first + i);
			*va = first * VM_PAGE;
			vm_unlock();
			return VM_OK;
		}
	}
	vm_unlock();
	return VM_ENOMEM;
}

void virt_free(uintptr_t va, size_t bytes)
{
	if (!vm.up || va % VM_PAGE)
		return;
	size_t n = (bytes + VM_PAGE - 1) / VM_PAGE, first = va / VM_PAGE;
	vm_lock();
	for (size_t i = 0; i < n && first + i < vm.vpages; i++)
		if (first + i != 0)
			bit_clr(vm.vbits, first + i);
	vm_unlock();
}

bool virt_allocated(uintptr_t va)
{
	size_t p = va / VM_PAGE;
	return vm.up && p < vm.vpages && bit_get(vm.vbits, p);
}

size_t virt_space(void) { return vm.vpages * VM_PAGE; }

/* --- Translation ---------------------------------------------------------------- */
static unsigned pte_hprot(const struct vm_pte *e)
{
	unsigned hp = e->prot;
	if ((e->flags & PTE_TRACK) && !(e->flags & PTE_DIRTY))
		hp &= ~(unsigned)TRANS_WRITE;
	return hp;
}

static unsigned to_sal(unsigned prot)
{
	return ((prot & TRANS_READ) ? SAL_PROT_READ : 0) |
	       ((prot & TRANS_WRITE) ? SAL_PROT_WRITE : 0) |
	       ((prot & TRANS_EXEC) ? SAL_PROT_EXEC : 0);
}

struct trans_ctx *trans_create(void)
{
	if (!vm.up)
		return NULL;
	struct trans_ctx *c = sal_calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->pte = sal_calloc(vm.vpages, sizeof *c->pte);
	c->base = sal_mmu_reserve(vm.vpages * VM_PAGE);
	if (!c->pte || !c->base)
		goto fail;
	vm_lock();
	c->slot = -1;
	for (int i = 0; i < MAX_CTX; i++) {
		if (!atomic_load(&vm.ctx[i])) {
			c->slot = i;
			atomic_store(&vm.ctx[i], c);
			break;
		}
	}
	vm_unlock();
	if (c->slot < 0)
		goto fail;
	for (size_t i = 0; i < vm.vpages; i++)
		c->pte[i].slot = (uint16_t)c->slot;
	return c;
fail:
	if (c->base)
		sal_mmu_release(c->base, vm.vpages * VM_PAGE);
	sal_free(c->pte);
	sal_free(c);
	return NULL;
}

void trans_destroy(struct trans_ctx *c)
{
	if (!c)
		return;
	trans_unmap(c, 0, vm.vpages);
	vm_lock();
	atomic_store(&vm.ctx[c->slot], NULL);
	vm_unlock();
	sal_mmu_release(c->base, vm.vpages * VM_PAGE);
	sal_free(c->pte);
	sal_free(c);
}

void *trans_host(const struct trans_ctx *c, uintptr_t va)
{
	return c->base + va;
}

struct trans_ctx *trans_lookup(const void *host, uintptr_t *va)
{
	uintptr_t a = (uintptr_t)host;
	for (int i = 0; i < MAX_CTX; i++) {
		struct trans_ctx *c = atomic_load_explicit(&vm.ctx[i], memory_order_acquire);
		if (c && a >= (uintptr_t)c->base && a - (uintptr_t)c->base < vm.vpages * VM_PAGE) {
			if (va)
				*va = a - (uintptr_t)c->base;
			return c;
		}
	}
	return NULL;
}

static bool range_ok(uintptr_t va, size_t npages)
{
	return va % VM_PAGE == 0 && npages && va / VM_PAGE + npages <= vm.vpages;
}

int trans_map(struct trans_ctx *c, uintptr_t va, const phys_page_t *pages, size_t npages,
	      unsigned prot, unsigned flags)
{
	if (!c || !range_ok(va, npages) || !pages)
		return VM_EINVAL;
	size_t first = va / VM_PAGE;
	vm_lock();
	for (size_t i = 0; i < npages; i++) {
		if (!bit_get(vm.vbits, first + i) || pages[i] >= vm.npages ||
		    !(vm.pd[pages[i]].flags & PD_ALLOC)) {
			vm_unlock();
			return VM_EINVAL;
		}
	}
	int err = VM_OK;
	size_t i = 0;
	while (i < npages) {
		/* One run: consecutive frames with the same host protection. */
		size_t j = i;
		unsigned hp = 0;
		for (; j < npages; j++) {
			struct vm_pte *e = &c->pte[first + j];
			if (e->flags & PTE_MAPPED)
				rmap_del(e);
			e->frame = pages[j];
			e->prot = (uint8_t)prot;
			e->flags = (uint8_t)(PTE_MAPPED | ((flags & TRANS_TRACK_DIRTY) ? PTE_TRACK : 0));
			e->soft = 0;
			e->hprot = (uint8_t)pte_hprot(e);
			rmap_add(e);
			if (j == i)
				hp = e->hprot;
			if (j + 1 < npages && pages[j + 1] != pages[j] + 1)
				break;
		}
		if (j == npages)
			j--;
		size_t len = j - i + 1;
		if (sal_mmu_map(c->base + (first + i) * VM_PAGE, len * VM_PAGE,
				(uint64_t)pages[i] * VM_PAGE, to_sal(hp)) != 0)
			err = VM_ESYS;
		vm.st.syscalls++;
		i = j + 1;
	}
	vm_unlock();
	return err;
}

int trans_unmap(struct trans_ctx *c, uintptr_t va, size_t npages)
{
	if (!c || !range_ok(va, npages))
		return VM_EINVAL;
	size_t first = va / VM_PAGE;
	vm_lock();
	size_t i = 0;
	while (i < npages) {
		if (!(c->pte[first + i].flags & PTE_MAPPED)) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < npages && (c->pte[first + j].flags & PTE_MAPPED)) {
			struct vm_pte *e = &c->pte[first + j];
			rmap_del(e);
			e->flags = 0;
			e->prot = e->hprot = e->soft = 0;
			j++;
		}
		sal_mmu_unmap(c->base + (first + i) * VM_PAGE, (j - i) * VM_PAGE);
		vm.st.syscalls++;
		i = j;
	}
	vm_unlock();
	return VM_OK;
}

/* Applies each mapped entry's hprot to the host in runs (lock held).
 * `want` computes the new hprot and updates the entry. */
static int apply_runs(struct trans_ctx *c, size_t first, size_t npages)
{
	int err = VM_OK;
	size_t i = 0;
	while (i < npages) {
		struct vm_pte *e = &c->pte[first + i];
		if (!(e->flags & PTE_MAPPED)) {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < npages && (c->pte[first + j].flags & PTE_MAPPED) &&
		       c->pte[first + j].hprot == e->hprot)
			j++;
		if (sal_mmu_protect(c->base + (first + i) * VM_PAGE, (j - i) * VM_PAGE,
				    to_sal(e->hprot)) != 0)
			err = VM_ESYS;
		vm.st.syscalls++;
		i = j;
	}
	return err;
}

int trans_protect(struct trans_ctx *c, uintptr_t va, size_t npages, unsigned prot)
{
	if (!c || !range_ok(va, npages))
		return VM_EINVAL;
	size_t first = va / VM_PAGE;
	vm_lock();
	for (size_t i = 0; i < npages; i++) {
		struct vm_pte *e = &c->pte[first + i];
		if (e->flags & PTE_MAPPED) {
			e->prot = (uint8_t)prot;
			e->hprot = (uint8_t)pte_hprot(e);
		}
	}
	int err = apply_runs(c, first, npages);
	vm_unlock();
	return err;
}

int trans_examine(const struct trans_ctx *c, uintptr_t va, struct trans_mapping *out)
{
	if (!c || !out || va / VM_PAGE >= vm.vpages)
		return VM_EINVAL;
	const struct vm_pte *e = &c->pte[va / VM_PAGE];
	out->mapped = e->flags & PTE_MAPPED;
	out->page = out->mapped ? e->frame : PHYS_NONE;
	out->prot = e->prot;
	out->flags = (e->flags & PTE_TRACK) ? TRANS_TRACK_DIRTY : 0;
	out->dirty = e->flags & PTE_DIRTY;
	out->soft = e->soft;
	return out->mapped ? VM_OK : VM_ENOENT;
}

int trans_set_soft(struct trans_ctx *c, uintptr_t va, uint8_t soft)
{
	if (!c || va / VM_PAGE >= vm.vpages)
		return VM_EINVAL;
	c->pte[va / VM_PAGE].soft = soft;
	return VM_OK;
}

bool trans_dirty(const struct trans_ctx *c, uintptr_t va)
{
	return (c->pte[va / VM_PAGE].flags & PTE_DIRTY) != 0;
}

int trans_clean(struct trans_ctx *c, uintptr_t va, size_t npages)
{
	if (!c || !range_ok(va, npages))
		return VM_EINVAL;
	size_t first = va / VM_PAGE;
	vm_lock();
	for (size_t i = 0; i < npages; i++) {
		struct vm_pte *e = &c->pte[first + i];
		e->flags &= (uint8_t)~PTE_DIRTY;
		e->hprot = (uint8_t)pte_hprot(e);
	}
	int err = apply_runs(c, first, npages);
	vm_unlock();
	return err;
}

/* --- the fault path ---------------------------------------------------------------
 * Runs in the platform's fault context (hosted: the SIGSEGV handler). */
static bool vm_fault_entry(void *addr, bool write)
{
	uintptr_t va;
	struct trans_ctx *c = trans_lookup(addr, &va);
	if (!c)
		return false;
	struct vm_fault f = {.ctx = c, .va = va, .write = write};
	size_t p = va / VM_PAGE;
	vm_lock();
	vm.st.faults++;
	struct vm_pte *e = &c->pte[p];
	if (!bit_get(vm.vbits, p)) {
		f.kind = VM_BAD_ADDRESS;
		vm.st.bad_address++;
	} else if (!(e->flags & PTE_MAPPED)) {
		f.kind = VM_PAGE_NOT_PRESENT;
		vm.st.not_present++;
	} else if ((write && !(e->prot & TRANS_WRITE)) || (!write && !(e->prot & TRANS_READ))) {
		f.kind = VM_PROTECTION_FAULT;
		vm.st.protection++;
	} else {
		/* Allowed by the mapping: either the first write to a page whose
		 * dirty state is kept, or a fault some other thread has just
		 * resolved.  Either way the access is retried. */
		if (write && (e->flags & PTE_TRACK) && !(e->flags & PTE_DIRTY)) {
			e->flags |= PTE_DIRTY;
			e->hprot = (uint8_t)pte_hprot(e);
			sal_mmu_protect(c->base + p * VM_PAGE, VM_PAGE, to_sal(e->hprot));
			vm.st.dirty_faults++;
		}
		vm_unlock();
		return true;
	}
	vm_unlock();
	if (vm_raise_fault(&f))
		return true;
	vm_lock();
	vm.st.unhandled++;
	vm_unlock();
	return false;
}
