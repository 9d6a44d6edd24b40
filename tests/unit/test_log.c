/*
 * Unit tests of the logger: secrets are masked, levels gate output, both line formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_mask_conninfo_password(void **state)
{
    (void)state;
    char s[] = "host=db port=5432 password=s3cret dbname=x";
    cdc_log_mask_secrets(s);
    assert_string_equal(s, "host=db port=5432 password=****** dbname=x");
    char q[] = "password='a b c' user=u";
    cdc_log_mask_secrets(q);
    assert_string_equal(q, "password='*****' user=u");
}

static void test_mask_url_password(void **state)
{
    (void)state;
    char s[] = "registry https://user:pa55@reg:8081/subjects";
    cdc_log_mask_secrets(s);
    assert_string_equal(s, "registry https://user:****@reg:8081/subjects");
    char keep[] = "http://reg:8081/subjects";
    cdc_log_mask_secrets(keep);
    assert_string_equal(keep, "http://reg:8081/subjects");
}

/* Captures what the logger writes to stderr while fn runs. */
static char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/cdc-log-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char buf[4096];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n < 0 ? 0 : n] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static void log_some(void)
{
    cdc_log_set_component("unit");
    cdc_log_set_level(CDC_LOG_INFO);
    cdc_log_debug("hidden %d", 1);
    cdc_log_info("source=%s target=\"%s\"", "epic7", "password=x dbname=y");
}

static void test_kv_format_and_levels(void **state)
{
    (void)state;
    cdc_log_set_format(CDC_LOG_KV);
    char *out = capture_stderr(log_some);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "level=info component=unit msg=\"source=epic7"));
    assert_non_null(strstr(out, "password=*"));
    assert_null(strstr(out, "password=x"));
}

static void test_json_format(void **state)
{
    (void)state;
    cdc_log_set_format(CDC_LOG_JSON);
    char *out = capture_stderr(log_some);
    assert_non_null(strstr(out, "\"level\":\"info\",\"component\":\"unit\""));
    assert_non_null(strstr(out, "target=\\\"password=*"));
    cdc_log_set_format(CDC_LOG_KV);
}

static void log_with_context(void)
{
    cdc_log_set_component("sink");
    cdc_log_set_level(CDC_LOG_INFO);
    cdc_log_set_context("domain", "crm");
    cdc_log_info("batch applied");
    cdc_log_set_context(NULL, NULL);
    cdc_log_info("no context");
}

static void test_context_in_every_line(void **state)
{
    (void)state;
    cdc_log_set_format(CDC_LOG_KV);
    char *out = capture_stderr(log_with_context);
    assert_non_null(strstr(out, "component=sink domain=crm msg=\"batch applied\""));
    assert_non_null(strstr(out, "component=sink msg=\"no context\""));
    cdc_log_set_format(CDC_LOG_JSON);
    out = capture_stderr(log_with_context);
    assert_non_null(
        strstr(out, "\"component\":\"sink\",\"domain\":\"crm\",\"msg\":\"batch applied\""));
    cdc_log_set_format(CDC_LOG_KV);
}

static void test_parse_names(void **state)
{
    (void)state;
    cdc_log_level_t l;
    cdc_log_format_t f;
    assert_int_equal(cdc_log_level_parse("debug", &l), 0);
    assert_int_equal(l, CDC_LOG_DEBUG);
    assert_int_equal(cdc_log_level_parse("loud", &l), -1);
    assert_int_equal(cdc_log_format_parse("json", &f), 0);
    assert_int_equal(f, CDC_LOG_JSON);
    assert_int_equal(cdc_log_format_parse("xml", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_conninfo_password), cmocka_unit_test(test_mask_url_password),
        cmocka_unit_test(test_kv_format_and_levels),   cmocka_unit_test(test_json_format),
        cmocka_unit_test(test_context_in_every_line),  cmocka_unit_test(test_parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
