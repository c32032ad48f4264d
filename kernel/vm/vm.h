/*
 * vm.h - SPIN's memory services: PhysAddr (phys_), VirtAddr (virt_) and
 * Translation (trans_), and their events.
 *
 * The three are independent, as in SPIN: physical pages are allocated
 * without saying where they will be mapped, virtual ranges without saying
 * what backs them, and a translation context binds the two with a
 * protection.  Extensions build policies (copy-on-write, demand paging,
 * packet pools, caches) on them by handling the events.
 *
 * Hosted layout (docs/vm.md).  Virtual addresses are offsets in one
 * address space of va_bytes shared by every context; page 0 is never
 * allocated.  A context is a reserved region of the appliance's own
 * address space, va_bytes long, and virtual address va of context c is
 * reachable at trans_host(c, va) = base(c) + va.  Pages are 4 KB.
 *
 * Events (raised on the faulting thread, from the fault, before the access
 * is retried):
 *   PageNotPresent(f)  va is allocated but not mapped in f->ctx
 *   BadAddress(f)      va is not allocated (or outside the space)
 *   ProtectionFault(f) va is mapped but the access breaks its protection
 *   Reclaim(victim)    PhysAddr needs a page back (see phys_alloc)
 * A fault handler returns true once it made the access possible (mapped
 * the page, changed the protection); the access is then retried.  If no
 * handler claims the fault the access is fatal, as an unhandled fault is.
 * Handlers are installed for a context and a range of virtual addresses
 * (vm_fault_install).  They run in the fault's context (hosted: a
 * signal handler): they may call every phys_/virt_/trans_ function, but
 * must not take locks the faulting code may hold nor use the general heap.
 *
 * Concurrency: every call may be made from any thread; control calls
 * serialize on one spin lock (never held across a fault or a handler).
 */
#ifndef SPIN_VM_H
#define SPIN_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_PAGE 4096u

enum vm_err { VM_OK = 0, VM_ENOMEM, VM_EINVAL, VM_EBUSY, VM_ENOENT, VM_ESYS };

/* Starts the services with phys_bytes of physical memory and a virtual
 * address space of va_bytes (both multiples of VM_PAGE).  vm_fini undoes
 * it (every context destroyed first). */
int vm_init(size_t phys_bytes, size_t va_bytes);
void vm_fini(void);
/* Whether the services are up (between vm_init and vm_fini). */
bool vm_running(void);
/* Starts the services with the appliance's default sizes unless they are
 * up already (whoever starts them first sizes them): VM_DEFAULT_PHYS of
 * physical memory (committed only as it is touched) and VM_DEFAULT_VA of
 * virtual space.  Packet pools call it.  Thread-safe. */
#define VM_DEFAULT_PHYS (1024ull << 20)
#define VM_DEFAULT_VA (256ull << 20)
int vm_start_default(void);

/* --- PhysAddr -------------------------------------------------------------- */
typedef uint32_t phys_page_t;           /* frame number */
#define PHYS_NONE ((phys_page_t)UINT32_MAX)

enum phys_attr {
	PHYS_CONTIG = 1u << 0,  /* the npages frames are consecutive */
	PHYS_ZERO = 1u << 1,    /* contents zeroed */
	PHYS_PINNED = 1u << 2,  /* never chosen by, nor nominated in, Reclaim */
};

/* Allocates npages frames into out[].  When free frames run short (and the
 * request is not PHYS_CONTIG), PhysAddr reclaims allocated unpinned frames:
 * it picks a victim (clock order) and raises Reclaim(victim); a handler
 * returns the victim, another allocated unpinned frame it nominates, or
 * PHYS_NONE to refuse (the next candidate is then tried).  A reclaimed
 * frame is unmapped from every context (later accesses raise
 * PageNotPresent) and changes hands; its former owner learns it from the
 * event.  Returns VM_OK or VM_ENOMEM (nothing allocated). */
int phys_alloc(size_t npages, unsigned attrs, phys_page_t *out);
void phys_free(const phys_page_t *pages, size_t npages);
/* The frame's memory through the direct map (never faults). */
void *phys_kaddr(phys_page_t p);
size_t phys_free_count(void);
size_t phys_total(void);
unsigned phys_map_count(phys_page_t p);  /* contexts mapping it */

typedef phys_page_t (*phys_reclaim_fn)(void *closure, phys_page_t victim);
/* Installs a Phys_Reclaim handler (kernel/vm/vm_events.h) as the kernel;
 * returns a handle or NULL.  Handlers run in install order and the first
 * answer other than PHYS_NONE is final; with no handler installed the
 * victim is taken. */
void *phys_reclaim_install(phys_reclaim_fn fn, void *closure);
void phys_reclaim_uninstall(void *handle);

/* --- VirtAddr -------------------------------------------------------------- */
/* Allocates a page-aligned range of bytes (rounded up) anywhere, or at *va
 * exactly when VIRT_FIXED. */
enum { VIRT_FIXED = 1 };
int virt_alloc(size_t bytes, unsigned flags, uintptr_t *va);
void virt_free(uintptr_t va, size_t bytes);
bool virt_allocated(uintptr_t va);
size_t virt_space(void);                 /* va_bytes */

/* --- Translation ------------------------------------------------------------ */
struct trans_ctx;

enum trans_prot {
	TRANS_NONE = 0,
	TRANS_READ = 1u << 0,
	TRANS_WRITE = 1u << 1,
	TRANS_EXEC = 1u << 2,
	TRANS_RW = TRANS_READ | TRANS_WRITE,
};
enum trans_map_flags {
	/* Keep the page's dirty state (trans_dirty): the page is mapped
	 * without write permission until its first write, which the fault
	 * path records and then enables (one fault per clean->dirty). */
	TRANS_TRACK_DIRTY = 1u << 0,
};

struct trans_ctx *trans_create(void);
/* Unmaps everything first. */
void trans_destroy(struct trans_ctx *c);
void *trans_host(const struct trans_ctx *c, uintptr_t va);
/* The context a host address lies in (va in *va), or NULL. */
struct trans_ctx *trans_lookup(const void *host, uintptr_t *va);

/* Maps npages frames at va (allocated through virt_alloc) with prot.
 * Replaces existing mappings.  Runs of consecutive frames are mapped with
 * one system call each. */
int trans_map(struct trans_ctx *c, uintptr_t va, const phys_page_t *pages, size_t npages,
	      unsigned prot, unsigned flags);
int trans_unmap(struct trans_ctx *c, uintptr_t va, size_t npages);
/* Changes the protection of every mapped page in the range; adjacent pages
 * that end with the same protection are changed with one system call. */
int trans_protect(struct trans_ctx *c, uintptr_t va, size_t npages, unsigned prot);

struct trans_mapping {
	bool mapped;
	phys_page_t page;
	unsigned prot;      /* enum trans_prot */
	unsigned flags;     /* enum trans_map_flags */
	bool dirty;
	uint8_t soft;       /* bits for extensions (trans_set_soft) */
};
int trans_examine(const struct trans_ctx *c, uintptr_t va, struct trans_mapping *out);
/* Spare per-mapping bits an extension may keep state in (as x86 keeps
 * "available" bits in its page table entries). */
int trans_set_soft(struct trans_ctx *c, uintptr_t va, uint8_t soft);

/* The dirty query: has the page been written since mapped or cleaned?
 * Cost: one table load (no system call).  Only TRANS_TRACK_DIRTY pages are
 * ever dirty. */
bool trans_dirty(const struct trans_ctx *c, uintptr_t va);
/* Marks npages clean again (one protection change per run). */
int trans_clean(struct trans_ctx *c, uintptr_t va, size_t npages);

/* --- fault events ---------------------------------------------------------- */
enum vm_fault_kind { VM_PAGE_NOT_PRESENT, VM_BAD_ADDRESS, VM_PROTECTION_FAULT, VM_NFAULT };

struct vm_fault {
	struct trans_ctx *ctx;
	uintptr_t va;       /* faulting virtual address (not rounded) */
	bool write;
	uint8_t kind;       /* enum vm_fault_kind */
};

typedef bool (*vm_fault_fn)(void *closure, struct vm_fault *f);
/* Installs fn on the event for kind (kernel/vm/vm_events.h), as the kernel,
 * guarded by ctx (NULL: any context) and virtual addresses [lo, hi], with
 * DISP_CANCEL (a handler whose guard passes is the last that runs: the
 * first matching handler in install order decides).  Returns a handle or
 * NULL.  Control path; never from a fault handler.  Uninstall every
 * binding before vm_fini. */
void *vm_fault_install(enum vm_fault_kind kind, struct trans_ctx *ctx, uintptr_t lo,
		       uintptr_t hi, vm_fault_fn fn, void *closure);
void vm_fault_uninstall(void *handle);

struct vm_stats {
	uint64_t faults, not_present, bad_address, protection, dirty_faults, unhandled;
	uint64_t reclaims, nominated, syscalls;
};
void vm_stats(struct vm_stats *out);

#endif
