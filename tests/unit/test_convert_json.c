/*
 * test_convert_json: the JSON column kind of cdc_convert.h: what is accepted, what is a
 * misfit, and numbers at the edges of what PostgreSQL's jsonb (numeric) can hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_json_canon.h"
#include "cdc_convert.h"
#include "test_convert_util.h"
#include "test_values.h"

static void test_json(void **state)
{
    cdc_column_t c = test_column("meta", CDC_COL_JSON, 0, 0, 0);
    char deep[4001];
    (void)state;

    assert_ok_text(c, v_text("{\"a\":[1,2.5e3,-0.5E-2,true,false,null,\"x\\n\\u00e9\"]}"),
                   "{\"a\":[1,2.5e3,-0.5E-2,true,false,null,\"x\\n\\u00e9\"]}");
    assert_ok_text(c, v_text(" [ ] "), " [ ] ");
    assert_ok_text(c, v_text("42"), "42");
    assert_ok_text(c, v_text("\"\\ud83d\\ude00\""), "\"\\ud83d\\ude00\"");
    assert_ok_text(c, v_text("123456789012345678901234567890"), "123456789012345678901234567890");
    assert_ok_text(c, v_text("{\"k\":\"caf\xc3\xa9\"}"), "{\"k\":\"caf\xc3\xa9\"}");
    assert_ok_text(c, v_int(12), "12");
    assert_ok_text(c, v_real(1.5), "1.5");
    assert_misfit(c, v_text("{"), "invalid JSON at byte 1: expected a member name");
    assert_misfit(c, v_text("{\"a\":1,}"), "expected a member name");
    assert_misfit(c, v_text("[1,]"), "unexpected character");
    assert_misfit(c, v_text("01"), "text after the JSON value");
    assert_misfit(c, v_text("1 2"), "text after the JSON value");
    assert_misfit(c, v_text("\"\\u0000\""), "\\u0000 escape");
    assert_misfit(c, v_text("\"\\ud83d\""), "unpaired high surrogate");
    assert_misfit(c, v_text("\"\\ude00\""), "unpaired low surrogate");
    assert_misfit(c, v_text("\"\\x\""), "bad escape");
    assert_misfit(c, v_text("\"a\tb\""), "control character");
    assert_misfit(c, v_text("\"abc"), "unterminated string");
    assert_misfit(c, v_text("nul"), "unexpected character");
    assert_misfit(c, v_text("-"), "bad number");
    assert_misfit(c, v_text("1."), "bad number fraction");
    assert_misfit(c, v_text("1e+"), "bad number exponent");
    assert_misfit(c, v_text(""), "unexpected end of input");
    assert_misfit(c, v_text("{'a':1}"), "expected a member name");
    assert_misfit(c, v_text("[\"\xc3\x28\"]"), "invalid UTF-8");
    assert_misfit(c, v_real(1.0 / 0.0), "not a JSON number");
    assert_misfit(c, v_blob("{}", 2), "a blob is not text");
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    assert_misfit(c, v_text(deep), "nesting too deep");
}

/* Room for the longest number below: 131072 integer digits, a point, 16383 decimals. */
static char g_num[131072 + 16383 + 64];

/* Builds pre, n copies of fill, mid, n2 copies of fill2, post in g_num (e.g. "0." then
 * 16382 zeros then "1", or 131071 nines, ".", 16383 nines). */
static const char *num_text(const char *pre, char fill, size_t n, const char *mid, char fill2,
                            size_t n2, const char *post)
{
    size_t k = 0;

    k += (size_t)snprintf(g_num + k, sizeof g_num - k, "%s", pre);
    memset(g_num + k, fill, n);
    k += n;
    k += (size_t)snprintf(g_num + k, sizeof g_num - k, "%s", mid);
    memset(g_num + k, fill2, n2);
    k += n2;
    snprintf(g_num + k, sizeof g_num - k, "%s", post);
    return g_num;
}

/* A JSON column value jsonb accepts: the check passes, and cdc_json_canon (whose number
 * rule the check shares) accepts it too. */
static void assert_json_in_range(cdc_column_t c, const char *json)
{
    cdc_buf_t canon = CDC_BUF_INIT;
    char why[256];

    assert_ok_text(c, v_text(json), json);
    if (cdc_json_canon((const unsigned char *)json, strlen(json), &canon, why, sizeof why) < 0)
        fail_msg("cdc_json_canon refused what the check accepted: %s", why);
    cdc_buf_free(&canon);
}

/* A JSON value jsonb refuses with "value overflows numeric format": a misfit naming the
 * number's byte offset, and cdc_json_canon refuses it too. */
static void assert_json_out_of_range(cdc_column_t c, const char *json, size_t at)
{
    cdc_buf_t canon = CDC_BUF_INIT;
    char want[128], why[256];

    snprintf(want, sizeof want,
             "JSON number at byte %zu is outside PostgreSQL numeric's range (jsonb would "
             "refuse it)",
             at);
    assert_misfit(c, v_text(json), want);
    assert_int_equal(
        cdc_json_canon((const unsigned char *)json, strlen(json), &canon, why, sizeof why), -1);
    if (strstr(why, "outside PostgreSQL's numeric range") == NULL)
        fail_msg("cdc_json_canon: \"%s\"", why);
    cdc_buf_free(&canon);
}

/*
 * Numbers at numeric's limits: 131072 digits before the point (NUMERIC_WEIGHT_MAX) and
 * 16383 after it (NUMERIC_DSCALE_MAX), the scale being the input's decimals minus its
 * exponent even for zero, and |exponent| < INT_MAX / 2 even on a zero mantissa. Every
 * case was run through '...'::jsonb on PostgreSQL 15: the "in range" ones are stored,
 * the others fail with "value overflows numeric format".
 */
static void test_json_numeric_range(void **state)
{
    cdc_column_t c = test_column("meta", CDC_COL_JSON, 0, 0, 0);
    (void)state;

    /* Integer digits: 131072 is the most. */
    assert_json_in_range(c, "1e131071");
    assert_json_out_of_range(c, "1e131072", 0);
    assert_json_in_range(c, num_text("", '9', 131072, "", '0', 0, ""));
    assert_json_out_of_range(c, num_text("", '9', 131073, "", '0', 0, ""), 0);
    assert_json_in_range(c, num_text("-", '9', 131072, ".5", '0', 0, ""));
    assert_json_in_range(c, num_text("", '9', 131072, "", '0', 0, "e0"));
    assert_json_in_range(c, "0.1e131072");
    assert_json_out_of_range(c, "0.1e131073", 0);
    assert_json_in_range(c, "10e131070");
    assert_json_out_of_range(c, "10e131071", 0);
    /* Decimals: 16383 is the most, trailing zeros and zero values included. */
    assert_json_in_range(c, num_text("0.", '0', 16382, "1", '0', 0, ""));
    assert_json_out_of_range(c, num_text("0.", '0', 16383, "1", '0', 0, ""), 0);
    assert_json_in_range(c, "1e-16383");
    assert_json_out_of_range(c, "1e-16384", 0);
    assert_json_in_range(c, "12345e-16383");
    assert_json_in_range(c, "1.5e-16382");
    assert_json_out_of_range(c, "1.50e-16382", 0);
    assert_json_out_of_range(c, "100e-16385", 0);
    assert_json_in_range(c, "0e-16383");
    assert_json_out_of_range(c, "0e-16384", 0);
    assert_json_out_of_range(c, "-0e-16384", 0);
    assert_json_in_range(c, "0.0e-16382");
    assert_json_out_of_range(c, "0.0e-16383", 0);
    /* Both limits at once. */
    assert_json_in_range(c, num_text("", '9', 131071, ".", '9', 16383, ""));
    assert_json_out_of_range(c, num_text("", '9', 131073, ".", '9', 16383, ""), 0);
    /* Zero: any exponent below INT_MAX / 2 in magnitude, however large. */
    assert_json_in_range(c, "-0");
    assert_json_in_range(c, "0e131073");
    assert_json_in_range(c, "0e1073741822");
    assert_json_in_range(c, "0e00000000000000000001");
    assert_json_out_of_range(c, "0e1073741823", 0);
    assert_json_out_of_range(c, "0e-1073741822", 0);
    assert_json_out_of_range(c, "0e10000000000", 0);
    assert_json_out_of_range(c, "1e99999999999999999999", 0);
    /* Inside documents: the offset is the number's own. */
    assert_json_out_of_range(c, "[1,1e131072]", 3);
    assert_json_out_of_range(c, " {\"a\": [true, -0e-16384]}", 14);
    assert_json_in_range(c, "{\"a\":[1e131071,-1e-16383,0e-16383]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_numeric_range),
    };
    return cmocka_run_group_tests(tests, NULL, test_convert_teardown);
}
