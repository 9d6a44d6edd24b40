/*
 * Name mangling (cdc_names.h): valid names unchanged, invalid ones made valid with a
 * stable hash suffix, primitive type names kept out of record names, and collisions
 * reported with the two originals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_names.h"

static void test_valid_names_unchanged(void **state)
{
    static const char *const names[] = {"id", "_x", "crm_contacts", "A1", "estimated_value"};

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *f = cdc_names_field(names[i]);
        char *r = cdc_names_record(names[i]);
        char *n = cdc_names_namespace(names[i]);

        assert_string_equal(f, names[i]);
        assert_string_equal(r, names[i]);
        assert_string_equal(n, names[i]);
        free(f);
        free(r);
        free(n);
    }
}

static void check_mangled(const char *original, const char *expected_base)
{
    char *m = cdc_names_field(original);
    size_t blen = strlen(expected_base);

    /* base + "_x" + 6 hex digits */
    if (strncmp(m, expected_base, blen) != 0 || strlen(m) != blen + 8 || m[blen] != '_' ||
        m[blen + 1] != 'x' || strspn(m + blen + 2, "0123456789abcdef") != 6)
        fail_msg("\"%s\" mangled to \"%s\", expected \"%s_xHHHHHH\"", original, m, expected_base);
    assert_true(cdc_names_is_valid(m));
    free(m);
}

static void test_invalid_names_mangled(void **state)
{
    (void)state;
    check_mangled("a b", "a_b");
    check_mangled("first-name", "first_name");
    check_mangled("1st", "_1st");
    check_mangled("9", "_9");
    check_mangled("", "_");
    check_mangled("caf\xc3\xa9", "caf__"); /* each non-ASCII byte becomes '_' */
    check_mangled("a.b", "a_b");
    check_mangled("Order Items (old)", "Order_Items__old_");
}

static void test_stable_and_distinct(void **state)
{
    char *a = cdc_names_field("a b");
    char *b = cdc_names_field("a b");
    char *c = cdc_names_field("a-b");
    char *d = cdc_names_field("a_b");

    (void)state;
    assert_string_equal(a, b);     /* deterministic */
    assert_string_not_equal(a, c); /* same base, different originals: different suffix */
    assert_string_equal(d, "a_b");
    assert_string_not_equal(a, d);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_record_primitives(void **state)
{
    char *f = cdc_names_field("string");
    char *r = cdc_names_record("string");
    char *r2 = cdc_names_record("Strings");

    (void)state;
    assert_string_equal(f, "string"); /* fine as a field name */
    assert_int_equal(strncmp(r, "string_x", 8), 0);
    assert_int_equal(strlen(r), 14);
    assert_string_equal(r2, "Strings");
    free(f);
    free(r);
    free(r2);
}

static void test_is_valid(void **state)
{
    (void)state;
    assert_true(cdc_names_is_valid("_"));
    assert_true(cdc_names_is_valid("a9"));
    assert_false(cdc_names_is_valid(""));
    assert_false(cdc_names_is_valid("9a"));
    assert_false(cdc_names_is_valid("a-b"));
    assert_false(cdc_names_is_valid("a.b"));
    assert_false(cdc_names_is_valid(NULL));
}

static void test_collisions(void **state)
{
    const char *distinct[] = {"a b", "a_b", "a-b", "ab", "A_B"};
    const char *dup[] = {"x", "y", "z", "y"};
    const char *none[] = {"only"};
    size_t i = 99, j = 99;
    char *forged;
    const char *clash[2];

    (void)state;
    assert_int_equal(cdc_names_find_collision(distinct, 5, cdc_names_field, &i, &j), 0);
    assert_int_equal(cdc_names_find_collision(none, 1, cdc_names_field, &i, &j), 0);
    assert_int_equal(cdc_names_find_collision(NULL, 0, cdc_names_field, &i, &j), 0);
    assert_int_equal(cdc_names_find_collision(dup, 4, cdc_names_field, &i, &j), 1);
    assert_int_equal(i, 1);
    assert_int_equal(j, 3);

    /* A real column that happens to be spelled like another's mangled name. */
    forged = cdc_names_field("a b");
    clash[0] = "a b";
    clash[1] = forged;
    assert_int_equal(cdc_names_find_collision(clash, 2, cdc_names_field, &i, &j), 1);
    assert_int_equal(i, 0);
    assert_int_equal(j, 1);
    free(forged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names_unchanged),
        cmocka_unit_test(test_invalid_names_mangled),
        cmocka_unit_test(test_stable_and_distinct),
        cmocka_unit_test(test_record_primitives),
        cmocka_unit_test(test_is_valid),
        cmocka_unit_test(test_collisions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
