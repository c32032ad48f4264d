/*
 * vm_hosted.c - the MMU on Linux: a memfd as physical memory, mmap and
 * mprotect as the page table, SIGSEGV as the fault.
 */
#include "kernel/sal/sal_mmu.h"
#include "kernel/sal/sal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

static int phys_fd = -1;
static void *phys_dmap;
static size_t phys_bytes;

static int host_prot(unsigned prot)
{
	int p = PROT_NONE;
	if (prot & SAL_PROT_READ)
		p |= PROT_READ;
	if (prot & SAL_PROT_WRITE)
		p |= PROT_WRITE;
	if (prot & SAL_PROT_EXEC)
		p |= PROT_EXEC;
	return p;
}

void *sal_mmu_phys_init(size_t bytes)
{
	if (phys_fd >= 0 || bytes == 0 || bytes % SAL_MMU_PAGE)
		return NULL;
	int fd = memfd_create("spin-phys", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)bytes) != 0) {
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	phys_fd = fd;
	phys_dmap = p;
	phys_bytes = bytes;
	return p;
}

void sal_mmu_phys_fini(void)
{
	if (phys_fd < 0)
		return;
	munmap(phys_dmap, phys_bytes);
	close(phys_fd);
	phys_fd = -1;
	phys_dmap = NULL;
	phys_bytes = 0;
}

void sal_mmu_phys_discard(uint64_t offset, size_t bytes)
{
	if (phys_fd >= 0)
		fallocate(phys_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
			  (off_t)bytes);
}

void *sal_mmu_reserve(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void sal_mmu_release(void *addr, size_t bytes)
{
	if (addr)
		munmap(addr, bytes);
}

int sal_mmu_map(void *addr, size_t bytes, uint64_t offset, unsigned prot)
{
	void *p = mmap(addr, bytes, host_prot(prot), MAP_SHARED | MAP_FIXED, phys_fd,
		       (off_t)offset);
	return p == addr ? 0 : -1;
}

int sal_mmu_unmap(void *addr, size_t bytes)
{
	void *p = mmap(addr, bytes, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	return p == addr ? 0 : -1;
}

int sal_mmu_protect(void *addr, size_t bytes, unsigned prot)
{
	return mprotect(addr, bytes, host_prot(prot));
}

/* --- faults -----------------------------------------------------------------
 * The handler asks the kernel's callback; if the kernel does not claim the
 * fault, the previous disposition is put back and the handler returns, so
 * the access faults again and meets whatever was there before (normally
 * the default action: the process dies with the original fault). */
static sal_mmu_fault_fn fault_fn;
static struct sigaction old_segv, old_bus;
static bool fault_installed;

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	int saved = errno;
	ucontext_t *uc = uc_;
	bool write = false;
#if defined(__x86_64__)
	/* Bit 1 of the page-fault error code: the access was a write. */
	write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
	(void)uc;
#endif
	if (fault_fn && fault_fn(si->si_addr, write)) {
		errno = saved;
		return;
	}
	sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
	errno = saved;
}

int sal_mmu_fault_init(sal_mmu_fault_fn fn)
{
	fault_fn = fn;
	if (fault_installed)
		return 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) != 0)
		return -1;
	if (sigaction(SIGBUS, &sa, &old_bus) != 0) {
		sigaction(SIGSEGV, &old_segv, NULL);
		return -1;
	}
	fault_installed = true;
	return 0;
}

void sal_mmu_fault_fini(void)
{
	if (!fault_installed)
		return;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	fault_installed = false;
	fault_fn = NULL;
}

/* --- backing files ------------------------------------------------------- */
struct sal_backing {
	int fd;
	uint64_t size;
};

struct sal_backing *sal_backing_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	struct sal_backing *b = calloc(1, sizeof *b);
	if (!b || fstat(fd, &st) != 0) {
		free(b);
		close(fd);
		return NULL;
	}
	b->fd = fd;
	b->size = (uint64_t)st.st_size;
	return b;
}

void sal_backing_close(struct sal_backing *b)
{
	if (!b)
		return;
	close(b->fd);
	free(b);
}

uint64_t sal_backing_size(const struct sal_backing *b)
{
	return b->size;
}

long sal_backing_read(struct sal_backing *b, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(b->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}
