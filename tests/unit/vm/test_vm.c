/* Unit tests of PhysAddr, VirtAddr, Translation, their events, and the
 * copy-on-write and demand-paging extensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/sal/sal.h"
#include "kernel/vm/vm.h"
#include "kernel/vm/vm_cow.h"
#include "kernel/vm/vm_pager.h"

/* Faults are delivered by SIGSEGV; under AddressSanitizer our handler must
 * be allowed to stay installed. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
	return "allow_user_segv_handler=1";
}

#define PHYS_PAGES 64
#define VA_BYTES (4u << 20)

/* cmocka installs its own SIGSEGV handler around every test and fixture,
 * so the services start inside each test body (after cmocka's handler is
 * in place) and stop in the teardown, which also runs after a failure. */
static void start(void)
{
	assert_int_equal(vm_init(PHYS_PAGES * VM_PAGE, VA_BYTES), VM_OK);
}

static int teardown(void **state)
{
	(void)state;
	vm_fini();
	return 0;
}

static volatile uint8_t *host(struct trans_ctx *c, uintptr_t va)
{
	return (volatile uint8_t *)trans_host(c, va);
}

/* --- PhysAddr and VirtAddr ------------------------------------------------ */
static void test_phys_alloc(void **state)
{
	(void)state;
	start();
	phys_page_t p[8], q[4];
	assert_int_equal(phys_alloc(8, PHYS_CONTIG | PHYS_ZERO, p), VM_OK);
	for (int i = 1; i < 8; i++)
		assert_int_equal(p[i], p[0] + (phys_page_t)i);
	assert_int_equal(((uint8_t *)phys_kaddr(p[3]))[100], 0);
	assert_int_equal(phys_free_count(), PHYS_PAGES - 8);
	assert_int_equal(phys_alloc(4, 0, q), VM_OK);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			assert_int_not_equal(q[i], p[j]);
	/* More than exists, contiguous: refused without side effects. */
	phys_page_t big[PHYS_PAGES];
	assert_int_equal(phys_alloc(PHYS_PAGES, PHYS_CONTIG, big), VM_ENOMEM);
	assert_int_equal(phys_free_count(), PHYS_PAGES - 12);
	phys_free(p, 8);
	phys_free(q, 4);
	assert_int_equal(phys_free_count(), PHYS_PAGES);
}

static void test_virt_alloc(void **state)
{
	(void)state;
	start();
	uintptr_t a, b, f = 64 * VM_PAGE;
	assert_int_equal(virt_alloc(3 * VM_PAGE, 0, &a), VM_OK);
	assert_int_not_equal(a, 0);        /* page 0 is never handed out */
	assert_int_equal(virt_alloc(VM_PAGE, 0, &b), VM_OK);
	assert_true(b >= a + 3 * VM_PAGE || b + VM_PAGE <= a);
	assert_true(virt_allocated(a + 2 * VM_PAGE));
	assert_int_equal(virt_alloc(2 * VM_PAGE, VIRT_FIXED, &f), VM_OK);
	assert_int_equal(virt_alloc(VM_PAGE, VIRT_FIXED, &f), VM_EBUSY);
	virt_free(a, 3 * VM_PAGE);
	assert_false(virt_allocated(a));
	virt_free(b, VM_PAGE);
	virt_free(f, 2 * VM_PAGE);
}

/* --- Translation: map, examine, protect, unmap ---------------------------- */
static void test_map_examine(void **state)
{
	(void)state;
	start();
	struct trans_ctx *c = trans_create();
	assert_non_null(c);
	uintptr_t va;
	phys_page_t p[2];
	assert_int_equal(virt_alloc(2 * VM_PAGE, 0, &va), VM_OK);
	assert_int_equal(phys_alloc(2, PHYS_ZERO, p), VM_OK);
	assert_int_equal(trans_map(c, va, p, 2, TRANS_RW, 0), VM_OK);
	host(c, va)[5] = 42;
	host(c, va + VM_PAGE)[7] = 43;
	/* The same frame seen through the direct map. */
	assert_int_equal(((uint8_t *)phys_kaddr(p[0]))[5], 42);
	assert_int_equal(((uint8_t *)phys_kaddr(p[1]))[7], 43);
	struct trans_mapping m;
	assert_int_equal(trans_examine(c, va + VM_PAGE, &m), VM_OK);
	assert_true(m.mapped);
	assert_int_equal(m.page, p[1]);
	assert_int_equal(m.prot, TRANS_RW);
	assert_int_equal(phys_map_count(p[0]), 1);
	assert_int_equal(trans_unmap(c, va, 2), VM_OK);
	assert_int_equal(trans_examine(c, va, &m), VM_ENOENT);
	assert_int_equal(phys_map_count(p[0]), 0);
	/* Mapping at an address VirtAddr did not hand out is refused. */
	assert_int_equal(trans_map(c, va + 100 * VM_PAGE, p, 1, TRANS_RW, 0), VM_EINVAL);
	phys_free(p, 2);
	virt_free(va, 2 * VM_PAGE);
	trans_destroy(c);
}

static void test_protect_coalesces(void **state)
{
	(void)state;
	start();
	struct trans_ctx *c = trans_create();
	uintptr_t va;
	phys_page_t p[10];
	assert_int_equal(virt_alloc(10 * VM_PAGE, 0, &va), VM_OK);
	/* Two separate frame runs: the mapping takes two calls ... */
	assert_int_equal(phys_alloc(5, PHYS_CONTIG, p), VM_OK);
	phys_page_t gap;
	assert_int_equal(phys_alloc(1, 0, &gap), VM_OK);
	assert_int_equal(phys_alloc(5, PHYS_CONTIG, p + 5), VM_OK);
	struct vm_stats s0, s1, s2;
	vm_stats(&s0);
	assert_int_equal(trans_map(c, va, p, 10, TRANS_RW, 0), VM_OK);
	vm_stats(&s1);
	assert_int_equal(s1.syscalls - s0.syscalls, 2);
	/* ... but equal protection over adjacent pages is one call. */
	assert_int_equal(trans_protect(c, va, 10, TRANS_READ), VM_OK);
	vm_stats(&s2);
	assert_int_equal(s2.syscalls - s1.syscalls, 1);
	assert_int_equal(host(c, va + 9 * VM_PAGE)[0], 0);
	phys_free(p, 10);
	phys_free(&gap, 1);
	virt_free(va, 10 * VM_PAGE);
	trans_destroy(c);
}

/* --- fault events reach the right handler ------------------------------- */
struct fix {
	struct trans_ctx *ctx;
	int calls;
	int kind;
	phys_page_t page;
};

static bool fix_not_present(void *closure, struct vm_fault *f)
{
	struct fix *x = closure;
	x->calls++;
	x->kind = f->kind;
	uintptr_t va = f->va & ~(uintptr_t)(VM_PAGE - 1);
	return trans_map(f->ctx, va, &x->page, 1, TRANS_RW, 0) == VM_OK;
}

static bool fix_protection(void *closure, struct vm_fault *f)
{
	struct fix *x = closure;
	x->calls++;
	x->kind = f->kind;
	assert_true(f->write);
	return trans_protect(f->ctx, f->va & ~(uintptr_t)(VM_PAGE - 1), 1, TRANS_RW) == VM_OK;
}

static bool fix_bad_address(void *closure, struct vm_fault *f)
{
	struct fix *x = closure;
	x->calls++;
	x->kind = f->kind;
	uintptr_t va = f->va & ~(uintptr_t)(VM_PAGE - 1);
	if (virt_alloc(VM_PAGE, VIRT_FIXED, &va) != VM_OK)
		return false;
	return trans_map(f->ctx, va, &x->page, 1, TRANS_RW, 0) == VM_OK;
}

static bool never(void *closure, struct vm_fault *f)
{
	(void)f;
	(*(int *)closure)++;
	return false;
}

static void test_faults_reach_handlers(void **state)
{
	(void)state;
	start();
	struct trans_ctx *c = trans_create(), *other = trans_create();
	uintptr_t va;
	phys_page_t p[3];
	assert_int_equal(virt_alloc(2 * VM_PAGE, 0, &va), VM_OK);
	assert_int_equal(phys_alloc(3, PHYS_ZERO, p), VM_OK);
	int wrong = 0;
	struct fix np = {.page = p[0]}, pf = {0}, ba = {.page = p[2]};
	/* Handlers of other kinds, contexts and ranges must not run. */
	void *h0 = vm_fault_install(VM_PAGE_NOT_PRESENT, other, 0, VA_BYTES - 1, never, &wrong);
	void *h1 = vm_fault_install(VM_PAGE_NOT_PRESENT, c, va + 100 * VM_PAGE,
				    va + 200 * VM_PAGE, never, &wrong);
	void *h2 = vm_fault_install(VM_PAGE_NOT_PRESENT, c, va, va + 2 * VM_PAGE - 1,
				    fix_not_present, &np);
	void *h3 = vm_fault_install(VM_PROTECTION_FAULT, c, 0, VA_BYTES - 1, fix_protection, &pf);
	void *h4 = vm_fault_install(VM_BAD_ADDRESS, NULL, 0, VA_BYTES - 1, fix_bad_address, &ba);

	/* Allocated but unmapped: PageNotPresent, then the access completes. */
	host(c, va)[10] = 7;
	assert_int_equal(np.calls, 1);
	assert_int_equal(np.kind, VM_PAGE_NOT_PRESENT);
	assert_int_equal(((uint8_t *)phys_kaddr(p[0]))[10], 7);

	/* Mapped read-only, written: ProtectionFault. */
	assert_int_equal(trans_map(c, va + VM_PAGE, &p[1], 1, TRANS_READ, 0), VM_OK);
	assert_int_equal(host(c, va + VM_PAGE)[0], 0); /* reading is allowed */
	host(c, va + VM_PAGE)[1] = 9;
	assert_int_equal(pf.calls, 1);
	assert_int_equal(pf.kind, VM_PROTECTION_FAULT);
	assert_int_equal(((uint8_t *)phys_kaddr(p[1]))[1], 9);

	/* Not allocated at all: BadAddress. */
	uintptr_t bad = 300 * VM_PAGE;
	assert_false(virt_allocated(bad));
	host(c, bad + 8)[0] = 5;
	assert_int_equal(ba.calls, 1);
	assert_int_equal(ba.kind, VM_BAD_ADDRESS);
	assert_int_equal(((uint8_t *)phys_kaddr(p[2]))[8], 5);

	assert_int_equal(wrong, 0);
	struct vm_stats st;
	vm_stats(&st);
	assert_int_equal(st.not_present, 1);
	assert_int_equal(st.protection, 1);
	assert_int_equal(st.bad_address, 1);
	assert_int_equal(st.unhandled, 0);
	vm_fault_uninstall(h0);
	vm_fault_uninstall(h1);
	vm_fault_uninstall(h2);
	vm_fault_uninstall(h3);
	vm_fault_uninstall(h4);
	phys_free(p, 3);
	virt_free(va, 2 * VM_PAGE);
	virt_free(bad, VM_PAGE);
	trans_destroy(c);
	trans_destroy(other);
}

/* An unhandled fault is fatal, as it would be without spin.  The child
 * restarts the services with the default disposition underneath (cmocka's
 * own SIGSEGV handler would otherwise catch the fault we decline). */
static void test_unhandled_fault_is_fatal(void **state)
{
	(void)state;
	start();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		vm_fini();
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		if (vm_init(PHYS_PAGES * VM_PAGE, VA_BYTES) != VM_OK)
			_exit(3);
		struct trans_ctx *c = trans_create();
		uintptr_t va;
		if (!c || virt_alloc(VM_PAGE, 0, &va) != VM_OK)
			_exit(4);
		host(c, va)[0] = 1;
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Killed by the fault (under ASan: aborted by its report). */
	assert_true(WIFSIGNALED(status));
}

/* --- the dirty query ---------------------------------------------------- */
static void test_dirty(void **state)
{
	(void)state;
	start();
	struct trans_ctx *c = trans_create();
	uintptr_t va;
	phys_page_t p[2];
	assert_int_equal(virt_alloc(2 * VM_PAGE, 0, &va), VM_OK);
	assert_int_equal(phys_alloc(2, PHYS_ZERO, p), VM_OK);
	assert_int_equal(trans_map(c, va, p, 2, TRANS_RW, TRANS_TRACK_DIRTY), VM_OK);
	assert_false(trans_dirty(c, va));
	assert_int_equal(host(c, va)[0], 0);
	assert_false(trans_dirty(c, va));          /* reads do not dirty */
	host(c, va)[1] = 1;
	assert_true(trans_dirty(c, va));
	assert_false(trans_dirty(c, va + VM_PAGE)); /* per page */
	assert_int_equal(trans_clean(c, va, 2), VM_OK);
	assert_false(trans_dirty(c, va));
	host(c, va)[2] = 2;
	assert_true(trans_dirty(c, va));
	assert_int_equal(((uint8_t *)phys_kaddr(p[0]))[2], 2);
	struct vm_stats st;
	vm_stats(&st);
	assert_int_equal(st.dirty_faults, 2);
	assert_int_equal(st.protection, 0);         /* no event for it */
	phys_free(p, 2);
	virt_free(va, 2 * VM_PAGE);
	trans_destroy(c);
}

/* --- Reclaim with a nominated page ---------------------------------------- */
struct nominee {
	phys_page_t nominate;
	phys_page_t victim_seen;
	int calls;
};

static phys_page_t nominate_other(void *closure, phys_page_t victim)
{
	struct nominee *n = closure;
	n->calls++;
	n->victim_seen = victim;
	return n->nominate;
}

struct remap {
	int seen;
	phys_page_t page;
};

static bool remap_not_present(void *closure, struct vm_fault *f)
{
	struct remap *r = closure;
	r->seen++;
	return trans_map(f->ctx, f->va & ~(uintptr_t)(VM_PAGE - 1), &r->page, 1, TRANS_RW, 0) ==
	       VM_OK;
}

static void test_reclaim_nominated(void **state)
{
	(void)state;
	start();
	phys_page_t all[PHYS_PAGES];
	assert_int_equal(phys_alloc(PHYS_PAGES, 0, all), VM_OK);
	assert_int_equal(phys_free_count(), 0);
	/* The nominated frame is mapped somewhere: it must lose that mapping. */
	struct trans_ctx *c = trans_create();
	uintptr_t va;
	assert_int_equal(virt_alloc(VM_PAGE, 0, &va), VM_OK);
	phys_page_t chosen = all[37];
	assert_int_equal(trans_map(c, va, &chosen, 1, TRANS_RW, 0), VM_OK);
	host(c, va)[0] = 1;
	struct nominee n = {.nominate = chosen};
	void *h = phys_reclaim_install(nominate_other, &n);
	phys_page_t got;
	assert_int_equal(phys_alloc(1, 0, &got), VM_OK);
	assert_int_equal(n.calls, 1);
	assert_int_not_equal(n.victim_seen, chosen); /* clock picked another */
	assert_int_equal(got, chosen);
	assert_int_equal(phys_map_count(chosen), 0);
	struct vm_stats st;
	vm_stats(&st);
	assert_int_equal(st.reclaims, 1);
	assert_int_equal(st.nominated, 1);
	/* The old mapping is gone: touching it is PageNotPresent (whose
	 * handler here maps the page we were given instead). */
	struct trans_mapping m;
	assert_int_equal(trans_examine(c, va, &m), VM_ENOENT);
	struct remap r = {.page = got};
	void *h2 = vm_fault_install(VM_PAGE_NOT_PRESENT, c, va, va, remap_not_present, &r);
	host(c, va)[0] = 2;
	assert_int_equal(r.seen, 1);
	assert_int_equal(((uint8_t *)phys_kaddr(got))[0], 2);
	/* A handler that refuses everything: the allocation fails cleanly. */
	phys_reclaim_uninstall(h);
	struct nominee refuse = {.nominate = PHYS_NONE};
	void *h3 = phys_reclaim_install(nominate_other, &refuse);
	phys_page_t none;
	assert_int_equal(phys_alloc(1, 0, &none), VM_ENOMEM);
	assert_true(refuse.calls > 0);
	phys_reclaim_uninstall(h3);
	vm_fault_uninstall(h2);
	phys_free(all, PHYS_PAGES);
	assert_int_equal(phys_free_count(), PHYS_PAGES);
	virt_free(va, VM_PAGE);
	trans_destroy(c);
}

/* --- copy-on-write ------------------------------------------------------ */
static void test_cow_copy(void **state)
{
	(void)state;
	start();
	struct trans_ctx *src = trans_create();
	uintptr_t va;
	phys_page_t p[4];
	assert_int_equal(virt_alloc(4 * VM_PAGE, 0, &va), VM_OK);
	assert_int_equal(phys_alloc(4, 0, p), VM_OK);
	assert_int_equal(trans_map(src, va, p, 4, TRANS_RW, 0), VM_OK);
	for (int i = 0; i < 4; i++)
		memset((void *)host(src, va + (uintptr_t)i * VM_PAGE), 'a' + i, VM_PAGE);
	struct trans_ctx *dst = vm_cow_copy(src);
	assert_non_null(dst);
	for (int i = 0; i < 4; i++)
		assert_int_equal(host(dst, va + (uintptr_t)i * VM_PAGE)[99], 'a' + i);
	/* Write page 1 in the copy. */
	host(dst, va + VM_PAGE)[0] = 'X';
	assert_int_equal(host(dst, va + VM_PAGE)[0], 'X');
	assert_int_equal(host(src, va + VM_PAGE)[0], 'b');
	assert_int_equal(host(dst, va + VM_PAGE)[1], 'b'); /* the rest was copied */
	struct trans_mapping ms, md;
	for (int i = 0; i < 4; i++) {
		trans_examine(src, va + (uintptr_t)i * VM_PAGE, &ms);
		trans_examine(dst, va + (uintptr_t)i * VM_PAGE, &md);
		if (i == 1)
			assert_int_not_equal(ms.page, md.page);
		else
			assert_int_equal(ms.page, md.page); /* unwritten: still shared */
	}
	assert_int_equal(vm_cow_copies() >= 1, 1);
	/* The source writing a shared page gets its own copy too ... */
	host(src, va + 2 * VM_PAGE)[0] = 'Y';
	assert_int_equal(host(dst, va + 2 * VM_PAGE)[0], 'c');
	/* ... and as the last sharer of page 1 it just gets write access. */
	host(src, va + VM_PAGE)[5] = 'Z';
	trans_examine(src, va + VM_PAGE, &ms);
	assert_int_equal(ms.page, p[1]);
	assert_int_equal(host(dst, va + VM_PAGE)[5], 'b');
	vm_cow_destroy(dst);
	vm_cow_destroy(src);
	phys_free(p, 4);
	virt_free(va, 4 * VM_PAGE);
	assert_int_equal(phys_free_count(), PHYS_PAGES);
}

/* --- demand paging of a file -------------------------------------------- */
static void test_demand_paging(void **state)
{
	(void)state;
	start();
	char path[] = "/tmp/spin-vm-pager-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static uint8_t buf[8 * VM_PAGE - 100];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i / VM_PAGE * 16 + i % 7);
	assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	close(fd);
	struct trans_ctx *c = trans_create();
	uintptr_t va;
	assert_int_equal(virt_alloc(8 * VM_PAGE, 0, &va), VM_OK);
	struct vm_pager *pg = vm_pager_attach(c, va, 8, path, 0);
	assert_non_null(pg);
	assert_int_equal(vm_pager_reads(pg), 0);
	size_t free0 = phys_free_count();
	assert_int_equal(host(c, va + 3 * VM_PAGE + 5)[0], buf[3 * VM_PAGE + 5]);
	assert_int_equal(vm_pager_reads(pg), 1);
	assert_int_equal(host(c, va + 3 * VM_PAGE + 6)[0], buf[3 * VM_PAGE + 6]);
	assert_int_equal(vm_pager_reads(pg), 1);          /* read once */
	/* The last page is short: zero past the end of the file. */
	assert_int_equal(host(c, va + 7 * VM_PAGE + 10)[0], buf[7 * VM_PAGE + 10]);
	assert_int_equal(host(c, va + 8 * VM_PAGE - 1)[0], 0);
	assert_int_equal(vm_pager_reads(pg), 2);
	assert_int_equal(phys_free_count(), free0 - 2);    /* only touched pages */
	vm_pager_detach(pg);
	assert_int_equal(phys_free_count(), PHYS_PAGES);
	virt_free(va, 8 * VM_PAGE);
	trans_destroy(c);
	unlink(path);
}

int main(void)
{
	sal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_phys_alloc, teardown),
		cmocka_unit_test_teardown(test_virt_alloc, teardown),
		cmocka_unit_test_teardown(test_map_examine, teardown),
		cmocka_unit_test_teardown(test_protect_coalesces, teardown),
		cmocka_unit_test_teardown(test_faults_reach_handlers, teardown),
		cmocka_unit_test_teardown(test_unhandled_fault_is_fatal, teardown),
		cmocka_unit_test_teardown(test_dirty, teardown),
		cmocka_unit_test_teardown(test_reclaim_nominated, teardown),
		cmocka_unit_test_teardown(test_cow_copy, teardown),
		cmocka_unit_test_teardown(test_demand_paging, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
