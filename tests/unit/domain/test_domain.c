/*
 * Unit tests of domains, the linker and the extension loader, with real
 * extension objects (tests/unit/domain/ext/, compiled and signed by the
 * build like build/ext/echo.o).
 *
 * Extensions are resolved against exactly two domains: the kernel's and
 * the built-in test module "tdom" (this file).  Nothing else is reachable,
 * which is what the unresolved-symbol test relies on.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "domain/domain_paths.h"
#include "kernel/domain/domain.h"
#include "kernel/domain/ext.h"
#include "kernel/domain/ns.h"
#include "kernel/rcu/rcu.h"
#include "kernel/sal/sal_loader.h"
#include "tests/unit/domain/tdom.h"

/* --- the built-in test module "tdom" ---------------------------------------- */
static int deny_all(spin_ident_t who, struct disp_event *ev, struct disp_auth *req)
{
	(void)who;
	(void)ev;
	(void)req;
	return 1;
}

static const struct spin_interface tdom_iface = {.name = "tdom", .version = SPIN_VERSION(1, 0)};
static const struct spin_interface *const tdom_exports[] = {&tdom_iface, NULL};
SPIN_MODULE(tdom_module, .name = "tdom", .version = SPIN_VERSION(1, 0), .exports = tdom_exports);
SPIN_EVENT_DEFINE(TDOM_Packet, .owner = &tdom_module);
SPIN_EVENT_DEFINE(TDOM_Guarded, .owner = &tdom_module, .authorize = deny_all);

static _Atomic uint64_t hits[3];
static _Atomic int unloaded_a;      /* set once ext_unload of exta returned */
static _Atomic uint64_t late_runs;  /* exta's handler after that: must stay 0 */

void tdom_hit(int who, const struct tdom_pkt *p)
{
	(void)p;
	if (who == 1 && atomic_load(&unloaded_a))
		atomic_fetch_add(&late_runs, 1);
	if (who >= 0 && who < 3)
		atomic_fetch_add(&hits[who], 1);
}

/* --- helpers ------------------------------------------------------------------ */
static struct domain *against[2];

static const struct ext_opts *opts(void)
{
	static struct ext_opts o;
	o = (struct ext_opts){.against = against, .nagainst = 2};
	return &o;
}

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s.o", DOMAIN_TEST_DIR, name);
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(spin_module_start(&tdom_module, NULL), SPIN_MOD_OK);
	assert_int_equal(domain_create_builtin(SPIN_KERNEL, &against[0]), DOM_OK);
	assert_int_equal(domain_create_builtin(&tdom_module, &against[1]), DOM_OK);
	ext_trust_clear();
	assert_int_equal(ext_trust_file(DOMAIN_KEY, err, sizeof err), 0);
	for (int i = 0; i < 3; i++)
		atomic_store(&hits[i], 0);
	atomic_store(&unloaded_a, 0);
	atomic_store(&late_runs, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ext_unload_all();
	assert_int_equal(ext_count(), 0);
	domain_release(against[0]);
	domain_release(against[1]);
	spin_module_stop(&tdom_module);
	domain_fini();
	disp_quiesce();
	assert_int_equal(disp_live_bindings(), 0);
	return 0;
}

static int load(const char *name, const struct ext_opts *o, struct ext **e, char *err, size_t n)
{
	char path[512];
	path_of(path, sizeof path, name);
	return ext_load(path, NULL, o, e, err, n);
}

/* --- tests -------------------------------------------------------------------- */
static void test_builtin_domains(void **state)
{
	(void)state;
	/* The kernel's domain has the dispatcher and the primitives ... */
	assert_non_null(domain_lookup(against[0], "disp_install"));
	assert_ptr_equal(domain_lookup(against[0], "memcpy"), (void *)memcpy);
	assert_ptr_equal(domain_lookup(against[0], "disp_install"), (void *)disp_install);
	/* ... not the loader itself, not libc. */
	assert_null(domain_lookup(against[0], "ext_load"));
	assert_null(domain_lookup(against[0], "getpid"));
	/* tdom: its events and procedures by prefix, in either case. */
	assert_ptr_equal(domain_lookup(against[1], "tdom_hit"), (void *)tdom_hit);
	assert_ptr_equal(domain_lookup(against[1], "TDOM_Packet_event"), &TDOM_Packet_event);
	struct domain *both;
	assert_int_equal(domain_combine("both", against[0], against[1], &both), DOM_OK);
	assert_non_null(domain_lookup(both, "tdom_hit"));
	assert_non_null(domain_lookup(both, "rcu_call"));
	assert_int_equal(domain_nexports(both),
			 domain_nexports(against[0]) + domain_nexports(against[1]));
	domain_release(both);
	struct domain *pub = domain_spin_public();
	assert_non_null(pub);
	assert_non_null(domain_lookup(pub, "tdom_hit"));
	assert_non_null(domain_lookup(pub, "disp_install"));
	domain_release(pub);
}

static void test_load_resolve_call(void **state)
{
	struct ext *a, *b;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("ext_a", opts(), &a, err, sizeof err), DOM_OK);
	int (*add)(int, int) = (int (*)(int, int))domain_lookup(ext_domain(a), "exta_add");
	assert_non_null(add);
	assert_int_equal(add(20, 22), 42);
	/* extb needs exta_add: not in kernel+tdom ... */
	int rc = load("ext_b", opts(), &b, err, sizeof err);
	assert_int_equal(rc, DOM_EUNRESOLVED);
	assert_non_null(strstr(err, "exta_add"));
	/* ... but resolvable against exta's domain as well. */
	struct domain *three[3] = {against[0], against[1], ext_domain(a)};
	struct ext_opts o = {.against = three, .nagainst = 3};
	assert_int_equal(load("ext_b", &o, &b, err, sizeof err), DOM_OK);
	long (*loop)(long) = (long (*)(long))domain_lookup(ext_domain(b), "extb_loop");
	assert_int_equal(loop(1000), 1000);
	/* A raise runs both handlers. */
	struct tdom_pkt p = {1};
	TDOM_Packet_raise(&p);
	assert_int_equal(atomic_load(&hits[1]), 1);
	assert_int_equal(atomic_load(&hits[2]), 1);
	/* exta cannot go while extb is resolved against it. */
	assert_int_equal(ext_unload(a, err, sizeof err), DOM_ESTATE);
	assert_int_equal(ext_unload(b, err, sizeof err), DOM_OK);
	assert_int_equal(ext_unload(a, err, sizeof err), DOM_OK);
	TDOM_Packet_raise(&p);
	assert_int_equal(atomic_load(&hits[1]), 1);
}

static void test_unresolved_symbol_named(void **state)
{
	struct ext *e;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("ext_badsym", opts(), &e, err, sizeof err), DOM_EUNRESOLVED);
	assert_non_null(strstr(err, "getpid"));
	assert_int_equal(ext_count(), 0);
}

static void test_version_mismatch(void **state)
{
	struct ext *e;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("ext_version", opts(), &e, err, sizeof err), DOM_EVERSION);
	assert_non_null(strstr(err, "version mismatch"));
	assert_int_equal(ext_count(), 0);
}

static void test_install_denied(void **state)
{
	struct ext *e;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("ext_denied", opts(), &e, err, sizeof err), DOM_EINIT);
	assert_int_equal(ext_count(), 0);
	/* Its one allowed binding went with it. */
	struct tdom_pkt p = {1};
	TDOM_Packet_raise(&p);
	assert_int_equal(atomic_load(&hits[1]), 0);
	assert_int_equal(ext_last_swept(), 1);
}

static void *read_all(const char *path, size_t *len)
{
	void *b;
	assert_int_equal(sal_ldr_read_file(path, &b, len, DOMAIN_MAX_OBJECT), 0);
	return b;
}

static void test_signatures(void **state)
{
	char path[512], spath[600], err[512];
	size_t len, slen;
	struct ext *e;
	(void)state;

	path_of(path, sizeof path, "ext_a");
	snprintf(spath, sizeof spath, "%s.sig", path);
	uint8_t *obj = read_all(path, &len);
	char *sig = read_all(spath, &slen);
	struct ext_opts o = *opts();

	/* Unsigned. */
	assert_int_equal(ext_load_mem("a", obj, len, NULL, 0, NULL, &o, &e, err, sizeof err),
			 DOM_ESIG);
	assert_non_null(strstr(err, "unsigned"));
	/* Tampered: one bit anywhere. */
	obj[len / 3] ^= 0x10;
	assert_int_equal(ext_load_mem("a", obj, len, sig, slen, NULL, &o, &e, err, sizeof err),
			 DOM_ESIG);
	obj[len / 3] ^= 0x10;
	/* Garbage signature file. */
	assert_int_equal(ext_load_mem("a", obj, len, "zz", 2, NULL, &o, &e, err, sizeof err),
			 DOM_ESIG);
	/* No trusted key. */
	ext_trust_clear();
	assert_int_equal(ext_load_mem("a", obj, len, sig, slen, NULL, &o, &e, err, sizeof err),
			 DOM_ESIG);
	assert_int_equal(ext_trust_file(DOMAIN_KEY, err, sizeof err), 0);
	/* Intact. */
	assert_int_equal(ext_load_mem("a", obj, len, sig, slen, NULL, &o, &e, err, sizeof err),
			 DOM_OK);
	assert_int_equal(ext_unload(e, err, sizeof err), DOM_OK);
	free(obj);
	free(sig);
}

static void test_malformed_objects(void **state)
{
	char path[512], err[256];
	size_t len;
	struct domain *d;
	(void)state;

	path_of(path, sizeof path, "ext_a");
	uint8_t *obj = read_all(path, &len);
	/* Every truncation is refused cleanly (or, past the tables, linked). */
	for (size_t n = 0; n < len; n += 7) {
		if (domain_create_object("t", obj, n, &d, err, sizeof err) == DOM_OK)
			domain_release(d);
	}
	/* Random byte flips in the headers and tables. */
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 2000; i++) {
		uint8_t *c = malloc(len);
		memcpy(c, obj, len);
		for (int k = 0; k < 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			c[x % len] = (uint8_t)(x >> 32);
		}
		if (domain_create_object("t", c, len, &d, err, sizeof err) == DOM_OK) {
			(void)domain_resolve(against[0], d);
			(void)domain_resolve(against[1], d);
			(void)domain_link(d, err, sizeof err);
			domain_release(d);
		}
		free(c);
	}
	assert_int_equal(domain_create_object("t", "\x7f" "ELF", 4, &d, err, sizeof err),
			 DOM_EFORMAT);
	free(obj);
}

/* Unload under load: a reader thread raises packets before, during and
 * after an unload (1,000 more once ext_unload has returned; at most
 * RAISES_MAX in all, so the test is bounded even if the unload hangs). */
#define RAISES_MAX 20000000u
static _Atomic int started_raising;
static _Atomic uint32_t raised;

static void *raiser(void *arg)
{
	uint32_t after = 0, i;
	(void)arg;
	rcu_register_thread();
	for (i = 0; i < RAISES_MAX; i++) {
		struct tdom_pkt p = {i};
		TDOM_Packet_raise(&p);
		if (i == 1000)
			atomic_store(&started_raising, 1);
		if (atomic_load(&unloaded_a) && ++after == 1000)
			break;
		rcu_quiescent();
	}
	atomic_store(&raised, i + (i < RAISES_MAX));
	rcu_unregister_thread();
	return NULL;
}

static void run_raiser(pthread_t *t)
{
	atomic_store(&started_raising, 0);
	assert_int_equal(pthread_create(t, NULL, raiser, NULL), 0);
	while (!atomic_load(&started_raising))
		;
}

/* exta's handler never runs once ext_unload has returned. */
static void test_unload_under_load(void **state)
{
	struct ext *a;
	char err[512];
	pthread_t t;
	(void)state;

	assert_int_equal(load("ext_a", opts(), &a, err, sizeof err), DOM_OK);
	run_raiser(&t);
	assert_int_equal(ext_unload(a, err, sizeof err), DOM_OK);
	atomic_store(&unloaded_a, 1);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&late_runs), 0);
	assert_true(atomic_load(&hits[1]) >= 1000);
	assert_true(atomic_load(&hits[1]) + 1000 <= atomic_load(&raised));
}

/* Unloading extb while exta stays: exta sees every packet (none lost to
 * the swap), extb none after its unload returned. */
static void test_unload_other_keeps_all(void **state)
{
	struct ext *a, *b;
	char err[512];
	pthread_t t;
	(void)state;

	assert_int_equal(load("ext_a", opts(), &a, err, sizeof err), DOM_OK);
	struct domain *three[3] = {against[0], against[1], ext_domain(a)};
	struct ext_opts o = {.against = three, .nagainst = 3};
	assert_int_equal(load("ext_b", &o, &b, err, sizeof err), DOM_OK);
	run_raiser(&t);
	assert_int_equal(ext_unload(b, err, sizeof err), DOM_OK);
	uint64_t at_unload = atomic_load(&hits[2]);
	/* Reuse the flag only to stop the raiser after 1,000 more. */
	atomic_store(&unloaded_a, 1);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&hits[1]), atomic_load(&raised)); /* no packet lost */
	assert_int_equal(atomic_load(&hits[2]), at_unload);           /* none after unload */
	assert_true(at_unload + 1000 <= atomic_load(&raised));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_builtin_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_resolve_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unresolved_symbol_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_version_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_denied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signatures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_objects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unload_under_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unload_other_keeps_all, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
