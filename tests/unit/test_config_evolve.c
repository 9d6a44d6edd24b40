/*
 * domains[].auto_evolve (libcdc/cdc_config.c, docs/schema-registry.md "Evolution"):
 * true by default, `false` switches it off for that domain only, anything but true/false
 * is refused naming the key, and the reference (docs/config.md) lists it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cdc_alloc.h"
#include "cdc_config.h"

static cdc_config_t *load(const char *crm_extra, char *err, size_t err_size)
{
    char *yaml = cdc_asprintf("sources:\n"
                              "  - {name: s1, path: s1.db, domain: crm}\n"
                              "domains:\n"
                              "  - {name: crm, target: \"dbname=x\"%s}\n"
                              "  - {name: analytics, target: \"dbname=y\"}\n",
                              crm_extra);
    cdc_config_t *c = cdc_config_load_string(yaml, "/tmp", err, err_size);
    free(yaml);
    return c;
}

static void test_default_on(void **state)
{
    char err[512];
    cdc_config_t *c = load("", err, sizeof err);
    (void)state;
    assert_non_null(c);
    assert_int_equal(cdc_config_domain(c, "crm")->auto_evolve, 1);
    assert_int_equal(cdc_config_domain(c, "analytics")->auto_evolve, 1);
    cdc_config_destroy(c);
}

static void test_switched_off_per_domain(void **state)
{
    char err[512];
    cdc_config_t *c = load(", auto_evolve: false", err, sizeof err);
    (void)state;
    assert_non_null(c);
    assert_int_equal(cdc_config_domain(c, "crm")->auto_evolve, 0);
    assert_int_equal(cdc_config_domain(c, "analytics")->auto_evolve, 1);
    cdc_config_destroy(c);
    c = load(", auto_evolve: true", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(cdc_config_domain(c, "crm")->auto_evolve, 1);
    cdc_config_destroy(c);
}

static void test_refused_value(void **state)
{
    char err[512] = "";
    cdc_config_t *c = load(", auto_evolve: maybe", err, sizeof err);
    (void)state;
    assert_null(c);
    assert_non_null(strstr(err, "`auto_evolve` must be true or false"));
    assert_non_null(strstr(err, "maybe"));
    assert_non_null(strstr(err, ":4:")); /* the line of the domain */
}

static void test_reference_lists_it(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    (void)state;
    cdc_config_write_reference(out);
    fclose(out);
    assert_non_null(strstr(text, "| `auto_evolve` | boolean | `true` |"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_on),
        cmocka_unit_test(test_switched_off_per_domain),
        cmocka_unit_test(test_refused_value),
        cmocka_unit_test(test_reference_lists_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
