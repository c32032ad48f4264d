/*
 * bench_vm.c - the paper's Table 5: spin's VM services and fault events
 * against a plain Linux program doing the same with mprotect and a SIGSEGV
 * handler, in the same run, 4 KB pages.
 *
 *   vm.trap      fault on a protected page until the handler starts
 *   vm.fault     fault, handler enables access, access resumes (round trip)
 *   vm.prot1     protect one page
 *   vm.prot100   protect 100 contiguous pages (one call)
 *   vm.unprot100 unprotect 100 contiguous pages (one call)
 *   vm.appel1    fault on a protected page; the handler unprotects it and
 *                protects another (Appel and Li's "prot1+trap+unprot")
 *   vm.appel2    protect 100 pages, then fault on each; the handler
 *                unprotects the page (per page)
 *   vm.dirty     is this page dirty?  spin: trans_dirty; Linux: the
 *                soft-dirty bit of /proc/self/pagemap (after clear_refs)
 * spin runs through Translation and handlers installed on ProtectionFault;
 * the baseline is mmap'd anonymous memory, mprotect and a sigaction
 * handler that is swapped in for its runs.  Iterations per run: 10,000
 * (Appel tests: 100); A/B runs interleaved, ratio = median of per-pair
 * ratios.
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernel/sal/sal.h"
#include "kernel/vm/vm.h"
#include "perf/lib/bench.h"

/* The benchmark's own SIGSEGV handler must survive under ASan builds. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
	return "allow_user_segv_handler=1";
}

#define PAGE 4096u
#define NPAGES 128
#define ITERS 10000
#define APPEL_ITERS 100

/* --- spin side -------------------------------------------------------------- */
static struct trans_ctx *ctx;
static uintptr_t sva;               /* NPAGES pages mapped RW */
static volatile uint8_t *sbase;     /* trans_host(ctx, sva) */
static struct sigaction spin_sa;    /* the platform's handler, saved */

/* --- baseline side ---------------------------------------------------------- */
static volatile uint8_t *lbase;     /* NPAGES anonymous pages */
static struct sigaction linux_sa;

/* What the current run's handler does. */
enum mode { M_TRAP, M_FAULT, M_APPEL1, M_APPEL2 };
static enum mode mode;
static volatile uint64_t trap_tsc;  /* rdtsc at handler start */

static size_t page_of(uintptr_t base, uintptr_t a)
{
	return (a - base) / PAGE;
}

static bool spin_handler(void *closure, struct vm_fault *f)
{
	(void)closure;
	trap_tsc = sal_tsc();
	uintptr_t va = f->va & ~(uintptr_t)(PAGE - 1);
	trans_protect(f->ctx, va, 1, TRANS_RW);
	if (mode == M_APPEL1) {
		size_t p = (va - sva) / PAGE;
		trans_protect(f->ctx, sva + ((p + NPAGES - 1) % NPAGES) * PAGE, 1, TRANS_NONE);
	}
	return true;
}

static void linux_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	trap_tsc = sal_tsc();
	uintptr_t a = (uintptr_t)si->si_addr & ~(uintptr_t)(PAGE - 1);
	mprotect((void *)a, PAGE, PROT_READ | PROT_WRITE);
	if (mode == M_APPEL1) {
		size_t p = page_of((uintptr_t)lbase, a);
		mprotect((void *)(lbase + ((p + NPAGES - 1) % NPAGES) * PAGE), PAGE, PROT_NONE);
	}
}

static void use_linux_handler(void)
{
	sigaction(SIGSEGV, &linux_sa, &spin_sa);
}

static void use_spin_handler(void)
{
	sigaction(SIGSEGV, &spin_sa, NULL);
}

/* Each run returns ns per operation. */
typedef double (*run_fn)(int iters);

static double ns(uint64_t cycles, int ops)
{
	return (double)cycles / sal_tsc_ghz() / ops;
}

/* trap and fault: page 0 protected, touched, re-protected untimed. */
static double spin_trap(int iters)
{
	uint64_t sum = 0;
	mode = M_TRAP;
	for (int i = 0; i < iters; i++) {
		trans_protect(ctx, sva, 1, TRANS_NONE);
		uint64_t t0 = sal_tsc();
		sbase[0] = 1;
		sum += trap_tsc - t0;
	}
	return ns(sum, iters);
}

static double linux_trap(int iters)
{
	uint64_t sum = 0;
	mode = M_TRAP;
	use_linux_handler();
	for (int i = 0; i < iters; i++) {
		mprotect((void *)lbase, PAGE, PROT_NONE);
		uint64_t t0 = sal_tsc();
		lbase[0] = 1;
		sum += trap_tsc - t0;
	}
	use_spin_handler();
	return ns(sum, iters);
}

static double spin_fault(int iters)
{
	uint64_t sum = 0;
	mode = M_FAULT;
	for (int i = 0; i < iters; i++) {
		trans_protect(ctx, sva, 1, TRANS_NONE);
		uint64_t t0 = sal_tsc();
		sbase[0] = 1;
		sum += sal_tsc() - t0;
	}
	return ns(sum, iters);
}

static double linux_fault(int iters)
{
	uint64_t sum = 0;
	mode = M_FAULT;
	use_linux_handler();
	for (int i = 0; i < iters; i++) {
		mprotect((void *)lbase, PAGE, PROT_NONE);
		uint64_t t0 = sal_tsc();
		lbase[0] = 1;
		sum += sal_tsc() - t0;
	}
	use_spin_handler();
	return ns(sum, iters);
}

/* Protection changes: the timed call, then the opposite one untimed. */
static double spin_prot(int iters, size_t n, bool unprot)
{
	uint64_t sum = 0;
	for (int i = 0; i < iters; i++) {
		trans_protect(ctx, sva, n, unprot ? TRANS_READ : TRANS_RW);
		uint64_t t0 = sal_tsc();
		trans_protect(ctx, sva, n, unprot ? TRANS_RW : TRANS_READ);
		sum += sal_tsc() - t0;
	}
	trans_protect(ctx, sva, n, TRANS_RW);
	return ns(sum, iters);
}

static double linux_prot(int iters, size_t n, bool unprot)
{
	uint64_t sum = 0;
	int ro = PROT_READ, rw = PROT_READ | PROT_WRITE;
	for (int i = 0; i < iters; i++) {
		mprotect((void *)lbase, n * PAGE, unprot ? ro : rw);
		uint64_t t0 = sal_tsc();
		mprotect((void *)lbase, n * PAGE, unprot ? rw : ro);
		sum += sal_tsc() - t0;
	}
	mprotect((void *)lbase, n * PAGE, rw);
	return ns(sum, iters);
}

static double spin_prot1(int iters) { return spin_prot(iters, 1, false); }
static double linux_prot1(int iters) { return linux_prot(iters, 1, false); }
static double spin_prot100(int iters) { return spin_prot(iters, 100, false); }
static double linux_prot100(int iters) { return linux_prot(iters, 100, false); }
static double spin_unprot100(int iters) { return spin_prot(iters, 100, true); }
static double linux_unprot100(int iters) { return linux_prot(iters, 100, true); }

/* Appel1: every page protected; touch page i; the handler unprotects it
 * and protects page i-1 (so each page is protected again before its next
 * touch).  Timed per touch. */
static double spin_appel1(int iters)
{
	mode = M_APPEL1;
	trans_protect(ctx, sva, NPAGES, TRANS_NONE);
	uint64_t t0 = sal_tsc();
	for (int i = 0; i < iters; i++)
		sbase[(size_t)(i % NPAGES) * PAGE] = 1;
	uint64_t t = sal_tsc() - t0;
	trans_protect(ctx, sva, NPAGES, TRANS_RW);
	return ns(t, iters);
}

static double linux_appel1(int iters)
{
	mode = M_APPEL1;
	use_linux_handler();
	mprotect((void *)lbase, NPAGES * PAGE, PROT_NONE);
	uint64_t t0 = sal_tsc();
	for (int i = 0; i < iters; i++)
		lbase[(size_t)(i % NPAGES) * PAGE] = 1;
	uint64_t t = sal_tsc() - t0;
	mprotect((void *)lbase, NPAGES * PAGE, PROT_READ | PROT_WRITE);
	use_spin_handler();
	return ns(t, iters);
}

/* Appel2: protect 100 pages (one call), fault on each; per page. */
static double spin_appel2(int iters)
{
	mode = M_APPEL2;
	uint64_t t0 = sal_tsc();
	for (int i = 0; i < iters; i++) {
		trans_protect(ctx, sva, 100, TRANS_NONE);
		for (size_t p = 0; p < 100; p++)
			sbase[p * PAGE] = 1;
	}
	return ns(sal_tsc() - t0, iters * 100);
}

static double linux_appel2(int iters)
{
	mode = M_APPEL2;
	use_linux_handler();
	uint64_t t0 = sal_tsc();
	for (int i = 0; i < iters; i++) {
		mprotect((void *)lbase, 100 * PAGE, PROT_NONE);
		for (size_t p = 0; p < 100; p++)
			lbase[p * PAGE] = 1;
	}
	uint64_t t = sal_tsc() - t0;
	use_spin_handler();
	return ns(t, iters * 100);
}

/* Dirty: query page i % 100's state (pages alternately written). */
static int pagemap_fd = -1;
static volatile int sink;

static double spin_dirty(int iters)
{
	int n = 0;
	uint64_t t0 = sal_tsc();
	for (int i = 0; i < iters; i++)
		n += trans_dirty(ctx, sva + (size_t)(i % 100) * PAGE);
	uint64_t t = sal_tsc() - t0;
	sink = n;
	return ns(t, iters);
}

static double linux_dirty(int iters)
{
	int n = 0;
	uintptr_t vpn0 = (uintptr_t)lbase / PAGE;
	uint64_t t0 = sal_tsc();
	for (int i = 0; i < iters; i++) {
		uint64_t e = 0;
		if (pread(pagemap_fd, &e, 8, (off_t)((vpn0 + (uintptr_t)(i % 100)) * 8)) != 8)
			abort();
		n += (e >> 55) & 1;
	}
	uint64_t t = sal_tsc() - t0;
	sink = n;
	return ns(t, iters);
}

static void pair(const char *name, run_fn a, run_fn b, int iters, double target,
		 const char *baseline, const char *placement)
{
	double va[BENCH_RUNS], vb[BENCH_RUNS], vr[BENCH_RUNS];
	a(iters);
	b(iters);
	for (int i = 0; i < BENCH_RUNS; i++) {
		va[i] = a(iters);
		vb[i] = b(iters);
		vr[i] = va[i] / vb[i];
	}
	double value = bench_median(va, BENCH_RUNS);
	double spread = (va[BENCH_RUNS * 3 / 4] - va[BENCH_RUNS / 4]) / value;
	bench_record(name, value, "ns", "lower", baseline, bench_median(vb, BENCH_RUNS),
		     bench_median(vr, BENCH_RUNS), target, spread, BENCH_RUNS, NULL, placement);
}

int main(void)
{
	int cpu = bench_setup(-1);
	char placement[64];
	snprintf(placement, sizeof placement, "one thread pinned to cpu %d", cpu);
	if (vm_init(16u << 20, 64u << 20) != VM_OK)
		return 1;
	ctx = trans_create();
	phys_page_t frames[NPAGES];
	if (!ctx || virt_alloc(NPAGES * PAGE, 0, &sva) != VM_OK ||
	    phys_alloc(NPAGES, PHYS_CONTIG | PHYS_ZERO, frames) != VM_OK ||
	    trans_map(ctx, sva, frames, NPAGES, TRANS_RW, 0) != VM_OK)
		return 1;
	sbase = trans_host(ctx, sva);
	vm_fault_install(VM_PROTECTION_FAULT, ctx, sva, sva + NPAGES * PAGE - 1, spin_handler,
			 NULL);

	lbase = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	if (lbase == MAP_FAILED)
		return 1;
	memset((void *)lbase, 0, NPAGES * PAGE);
	memset(&linux_sa, 0, sizeof linux_sa);
	linux_sa.sa_sigaction = linux_handler;
	linux_sa.sa_flags = SA_SIGINFO;
	sigemptyset(&linux_sa.sa_mask);
	sigaction(SIGSEGV, NULL, &spin_sa);

	const char *lb = "Linux mprotect + SIGSEGV handler";
	pair("vm.trap", spin_trap, linux_trap, ITERS, 1.2, lb, placement);
	pair("vm.fault", spin_fault, linux_fault, ITERS, 1.2, lb, placement);
	pair("vm.prot1", spin_prot1, linux_prot1, ITERS, 1.2, "Linux mprotect, 1 page", placement);
	pair("vm.prot100", spin_prot100, linux_prot100, ITERS, 1.2,
	     "Linux mprotect, 100 pages in one call", placement);
	pair("vm.unprot100", spin_unprot100, linux_unprot100, ITERS, 1.2,
	     "Linux mprotect, 100 pages in one call", placement);
	pair("vm.appel1", spin_appel1, linux_appel1, APPEL_ITERS, 1.2, lb, placement);
	pair("vm.appel2", spin_appel2, linux_appel2, APPEL_ITERS, 1.2, lb, placement);

	/* Dirty state: half of 100 pages written since tracking (re)started. */
	trans_unmap(ctx, sva, NPAGES);
	trans_map(ctx, sva, frames, NPAGES, TRANS_RW, TRANS_TRACK_DIRTY);
	for (size_t p = 0; p < 100; p += 2)
		sbase[p * PAGE] = 1;
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	int cr = open("/proc/self/clear_refs", O_WRONLY);
	bool soft_dirty = pagemap_fd >= 0 && cr >= 0 && write(cr, "4", 1) == 1;
	if (cr >= 0)
		close(cr);
	for (size_t p = 0; p < 100; p += 2)
		lbase[p * PAGE] = 1;
	if (soft_dirty) {
		pair("vm.dirty", spin_dirty, linux_dirty, ITERS, NAN,
		     "soft-dirty bit via pread of /proc/self/pagemap", placement);
	} else {
		double v[BENCH_RUNS];
		for (int i = 0; i < BENCH_RUNS; i++)
			v[i] = spin_dirty(ITERS);
		bench_record("vm.dirty", bench_median(v, BENCH_RUNS), "ns", "lower",
			     "soft-dirty unavailable", NAN, NAN, NAN, NAN, BENCH_RUNS, NULL,
			     placement);
	}
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	munmap((void *)lbase, NPAGES * PAGE);
	trans_destroy(ctx);
	phys_free(frames, NPAGES);
	vm_fini();
	return 0;
}
