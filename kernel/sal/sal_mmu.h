/*
 * sal_mmu.h - what the VM services (kernel/vm) need from the platform:
 * physical memory, address-space regions, mappings with protections,
 * fault delivery, and backing files for pagers.
 *
 * Hosted (kernel/sal/hosted/vm_hosted.c): physical memory is one memfd;
 * a page frame is a 4 KB offset in it.  The whole memfd is also mapped
 * read/write once (the "direct map", like a kernel's map of all RAM) so the
 * kernel can reach any frame without a translation.  A region is anonymous
 * PROT_NONE address space; mapping a frame into it is mmap(MAP_FIXED |
 * MAP_SHARED) of the memfd; unmapping puts PROT_NONE reservation back.
 * Faults arrive as SIGSEGV on the faulting thread.
 *
 * Unless stated, these are control-path calls, but they are also safe from
 * the fault callback (they are system calls with no locks and no heap).
 */
#ifndef SPIN_SAL_MMU_H
#define SPIN_SAL_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAL_MMU_PAGE 4096u

enum { SAL_PROT_NONE = 0, SAL_PROT_READ = 1, SAL_PROT_WRITE = 2, SAL_PROT_EXEC = 4 };

/* Physical memory of `bytes` (a multiple of SAL_MMU_PAGE); returns the
 * direct map's address or NULL.  One at a time. */
void *sal_mmu_phys_init(size_t bytes);
void sal_mmu_phys_fini(void);
/* Gives a frame's memory back to the host (its contents become zero). */
void sal_mmu_phys_discard(uint64_t offset, size_t bytes);

/* Address space regions (page aligned), inaccessible until mapped. */
void *sal_mmu_reserve(size_t bytes);
void sal_mmu_release(void *addr, size_t bytes);

/* Maps physical [offset, offset+bytes) at addr (inside a reserved region)
 * with protection prot (SAL_PROT_*).  0 on success. */
int sal_mmu_map(void *addr, size_t bytes, uint64_t offset, unsigned prot);
/* Returns [addr, addr+bytes) to the reserved, inaccessible state. */
int sal_mmu_unmap(void *addr, size_t bytes);
/* One system call for the whole range. */
int sal_mmu_protect(void *addr, size_t bytes, unsigned prot);

/* The fault callback runs on the faulting thread, in signal context, for
 * every access fault; it returns true when the access should be retried
 * and false when it is not the kernel's fault to handle (the platform then
 * lets the process die with the original fault).  write says whether the
 * access was a write.  The callback must be async-signal-safe: no locks
 * that the interrupted code could hold, no general heap. */
typedef bool (*sal_mmu_fault_fn)(void *addr, bool write);
int sal_mmu_fault_init(sal_mmu_fault_fn fn);
void sal_mmu_fault_fini(void);

/* Backing store for pagers: a file read by offset.  Reads are
 * async-signal-safe. */
struct sal_backing;
struct sal_backing *sal_backing_open(const char *path);
void sal_backing_close(struct sal_backing *b);
uint64_t sal_backing_size(const struct sal_backing *b);
/* Reads up to len bytes at off; returns bytes read (short at end of
 * file), or -1. */
long sal_backing_read(struct sal_backing *b, void *buf, size_t len, uint64_t off);

#endif
