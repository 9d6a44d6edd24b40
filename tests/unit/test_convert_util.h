/*
 * Helpers shared by the test_convert*.c unit tests: cdc_value_t makers, cdc_convert_value
 * with the misfit reason in g_err, and assertions on the mapped value. Everything is
 * static inline (like test_capture_util.h), so each executable takes only what it uses.
 */
#ifndef TEST_CONVERT_UTIL_H
#define TEST_CONVERT_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_buf.h"
#include "cdc_convert.h"

static char g_err[512];
static cdc_buf_t g_scratch = CDC_BUF_INIT;

static inline cdc_value_t v_int(int64_t i)
{
    cdc_value_t v = {CDC_VAL_INTEGER, i, 0, NULL, 0};
    return v;
}

static inline cdc_value_t v_real(double r)
{
    cdc_value_t v = {CDC_VAL_REAL, 0, r, NULL, 0};
    return v;
}

static inline cdc_value_t v_textn(const char *s, size_t n)
{
    cdc_value_t v = {CDC_VAL_TEXT, 0, 0, (const unsigned char *)s, n};
    return v;
}

static inline cdc_value_t v_text(const char *s)
{
    return v_textn(s, strlen(s));
}

static inline cdc_value_t v_blob(const void *p, size_t n)
{
    cdc_value_t v = {CDC_VAL_BLOB, 0, 0, p, n};
    return v;
}

static inline cdc_value_t v_null(void)
{
    cdc_value_t v = {CDC_VAL_NULL, 0, 0, NULL, 0};
    return v;
}

static inline int conv(cdc_column_t c, cdc_value_t v, cdc_mapped_t *m)
{
    g_err[0] = '\0';
    return cdc_convert_value(&c, &v, m, &g_scratch, g_err, sizeof g_err);
}

/* Asserts a misfit whose reason contains want. */
#define assert_misfit(c, v, want)                                                                  \
    do {                                                                                           \
        cdc_mapped_t m_;                                                                           \
        assert_int_equal(conv((c), (v), &m_), CDC_CONVERT_MISFIT);                                 \
        if (strstr(g_err, (want)) == NULL)                                                         \
            fail_msg("reason \"%s\" lacks \"%s\"", g_err, (want));                                 \
    } while (0)

static inline void assert_text(const cdc_mapped_t *m, const char *want)
{
    if (m->len != strlen(want) || (m->len > 0 && memcmp(m->p, want, m->len) != 0))
        fail_msg("got \"%.*s\", want \"%s\"", (int)m->len, (const char *)m->p, want);
}

static inline void assert_ok_text(cdc_column_t c, cdc_value_t v, const char *want)
{
    cdc_mapped_t m;

    if (conv(c, v, &m) != CDC_CONVERT_OK)
        fail_msg("misfit: %s", g_err);
    assert_false(m.is_null);
    assert_text(&m, want);
}

static inline int64_t ok_long(cdc_column_t c, cdc_value_t v)
{
    cdc_mapped_t m;

    if (conv(c, v, &m) != CDC_CONVERT_OK)
        fail_msg("misfit: %s", g_err);
    return m.l;
}

/* The group teardown: frees the scratch buffer conv() fills. */
static inline int test_convert_teardown(void **state)
{
    (void)state;
    cdc_buf_free(&g_scratch);
    return 0;
}

#endif
