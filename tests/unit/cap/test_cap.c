/* Unit tests of capability tables: every externalized reference is checked
 * for owner (table tag), generation and type; forged, stale and wrongly
 * typed references are refused, and release runs exactly once per slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/cap/cap.h"
#include "kernel/sal/sal.h"

static int released;
static void count_release(void *obj)
{
	(void)obj;
	released++;
}

static const struct cap_type ty_port = {.name = "udp-port", .release = count_release};
static const struct cap_type ty_proc = {.name = "procedure", .release = count_release};

static void test_insert_lookup(void **state)
{
	(void)state;
	int a = 1, b = 2, err = -1;
	cap_ref_t ra, rb;
	struct cap_table *t = cap_table_new(&a, 64);

	released = 0;
	assert_non_null(t);
	assert_int_equal(cap_insert(t, &ty_port, &a, &ra), CAP_OK);
	assert_int_equal(cap_insert(t, &ty_proc, &b, &rb), CAP_OK);
	assert_true(ra != rb);
	assert_true(ra != CAP_REF_NONE);
	assert_ptr_equal(cap_lookup(t, ra, &ty_port, &err), &a);
	assert_int_equal(err, CAP_OK);
	assert_ptr_equal(cap_lookup(t, rb, &ty_proc, NULL), &b);
	assert_int_equal(cap_table_count(t), 2);
	assert_ptr_equal(cap_table_owner(t), &a);
	cap_table_free(t);
	assert_int_equal(released, 2);
}

/* A live reference used as another type is refused, and stays valid. */
static void test_wrong_type(void **state)
{
	(void)state;
	int a = 1, err = -1;
	cap_ref_t r;
	struct cap_table *t = cap_table_new(NULL, 16);

	released = 0;
	assert_int_equal(cap_insert(t, &ty_port, &a, &r), CAP_OK);
	assert_null(cap_lookup(t, r, &ty_proc, &err));
	assert_int_equal(err, CAP_ETYPE);
	assert_int_equal(cap_remove(t, r, &ty_proc), CAP_ETYPE);
	assert_int_equal(released, 0);
	assert_ptr_equal(cap_lookup(t, r, &ty_port, &err), &a);
	cap_table_free(t);
	assert_int_equal(released, 1);
}

/* A freed slot that is reused refuses the old reference (stale), and the
 * new reference names the new object only. */
static void test_stale_after_reuse(void **state)
{
	(void)state;
	int a = 1, b = 2, err = -1;
	cap_ref_t ra, rb;
	struct cap_table *t = cap_table_new(NULL, 1);   /* one slot: forced reuse */

	released = 0;
	assert_int_equal(cap_insert(t, &ty_port, &a, &ra), CAP_OK);
	assert_int_equal(cap_insert(t, &ty_port, &b, &rb), CAP_EFULL);
	assert_int_equal(cap_remove(t, ra, &ty_port), CAP_OK);
	assert_int_equal(released, 1);
	assert_null(cap_lookup(t, ra, &ty_port, &err));
	assert_int_equal(err, CAP_ESTALE);
	assert_int_equal(cap_remove(t, ra, &ty_port), CAP_ESTALE);
	assert_int_equal(released, 1);
	assert_int_equal(cap_insert(t, &ty_port, &b, &rb), CAP_OK);
	assert_int_equal(cap_ref_index(ra), cap_ref_index(rb));
	assert_true(cap_ref_gen(rb) != cap_ref_gen(ra));
	assert_null(cap_lookup(t, ra, &ty_port, &err));
	assert_int_equal(err, CAP_ESTALE);
	assert_ptr_equal(cap_lookup(t, rb, &ty_port, &err), &b);
	cap_table_free(t);
	assert_int_equal(released, 2);
}

/* Forged values: another table's reference, an index out of range, a
 * generation never issued, zero, and random values. */
static void test_forged(void **state)
{
	(void)state;
	int a = 1, err = -1;
	cap_ref_t r, other;
	struct cap_table *t = cap_table_new(NULL, 64);
	struct cap_table *u = cap_table_new(NULL, 64);

	assert_int_equal(cap_insert(t, &ty_port, &a, &r), CAP_OK);
	assert_int_equal(cap_insert(u, &ty_port, &a, &other), CAP_OK);
	if (cap_ref_tag(other) != cap_ref_tag(r)) {  /* 1 in 65535 they collide */
		assert_null(cap_lookup(t, other, &ty_port, &err));
		assert_int_equal(err, CAP_EFORGED);
	}
	assert_null(cap_lookup(t, CAP_REF_NONE, &ty_port, &err));
	assert_int_equal(err, CAP_EFORGED);
	assert_null(cap_lookup(t, r + 5000, &ty_port, &err));       /* index */
	assert_int_equal(err, CAP_EFORGED);
	assert_null(cap_lookup(t, r + 1, &ty_port, &err));          /* free slot */
	assert_int_equal(err, CAP_EFORGED);
	assert_null(cap_lookup(t, r + (7ull << CAP_INDEX_BITS), &ty_port, &err)); /* gen */
	assert_int_equal(err, CAP_EFORGED);
	for (int i = 0; i < 10000; i++) {
		cap_ref_t x;

		sal_random_bytes(&x, sizeof x);
		if (x == r)
			continue;
		assert_null(cap_lookup(t, x, &ty_port, NULL));
	}
	assert_ptr_equal(cap_lookup(t, r, &ty_port, NULL), &a);
	cap_table_free(t);
	cap_table_free(u);
}

/* Many inserts and removes: the table grows, counts stay exact, and every
 * removed reference is refused afterwards. */
static void test_churn(void **state)
{
	(void)state;
	static int objs[1000];
	static cap_ref_t refs[1000];
	struct cap_table *t = cap_table_new(NULL, 1024);

	released = 0;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 1000; i++)
			assert_int_equal(cap_insert(t, &ty_proc, &objs[i], &refs[i]), CAP_OK);
		assert_int_equal(cap_table_count(t), 1000);
		for (int i = 0; i < 1000; i += 2)
			assert_int_equal(cap_remove(t, refs[i], &ty_proc), CAP_OK);
		for (int i = 0; i < 1000; i++)
			assert_true((cap_lookup(t, refs[i], &ty_proc, NULL) != NULL) == (i & 1));
		for (int i = 1; i < 1000; i += 2)
			assert_int_equal(cap_remove(t, refs[i], &ty_proc), CAP_OK);
		assert_int_equal(cap_table_count(t), 0);
	}
	assert_int_equal(released, 5000);
	cap_table_free(t);
	assert_int_equal(released, 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_lookup),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_stale_after_reuse),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_churn),
	};
	sal_init();
	return cmocka_run_group_tests_name("cap", tests, NULL, NULL);
}
