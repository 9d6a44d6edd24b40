/*
 * Declared type -> column mapping (docs/type-mapping.md): every rule of the table, the
 * SQLite affinity fallbacks, argument parsing, and config overrides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_types.h"

typedef struct {
    const char *decl;
    cdc_col_kind_t kind;
    int precision, scale, max_length;
} case_t;

static const case_t declared[] = {
    /* integers */
    {"INTEGER", CDC_COL_LONG, 0, 0, 0},
    {"integer", CDC_COL_LONG, 0, 0, 0},
    {"INT", CDC_COL_LONG, 0, 0, 0},
    {"int(11)", CDC_COL_LONG, 0, 0, 0},
    {"BIGINT", CDC_COL_LONG, 0, 0, 0},
    {"SMALLINT", CDC_COL_LONG, 0, 0, 0},
    {"TINYINT", CDC_COL_LONG, 0, 0, 0},
    {"MEDIUMINT", CDC_COL_LONG, 0, 0, 0},
    {"INT2", CDC_COL_LONG, 0, 0, 0},
    {"INT8", CDC_COL_LONG, 0, 0, 0},
    {"UNSIGNED BIG INT", CDC_COL_LONG, 0, 0, 0},
    {"  unsigned   big\tint ", CDC_COL_LONG, 0, 0, 0},
    /* floating point */
    {"REAL", CDC_COL_DOUBLE, 0, 0, 0},
    {"FLOAT", CDC_COL_DOUBLE, 0, 0, 0},
    {"float(53)", CDC_COL_DOUBLE, 0, 0, 0},
    {"DOUBLE", CDC_COL_DOUBLE, 0, 0, 0},
    {"Double Precision", CDC_COL_DOUBLE, 0, 0, 0},
    /* exact numbers */
    {"DECIMAL(10,2)", CDC_COL_DECIMAL, 10, 2, 0},
    {"decimal ( 14 , 2 )", CDC_COL_DECIMAL, 14, 2, 0},
    {"NUMERIC(12,4)", CDC_COL_DECIMAL, 12, 4, 0},
    {"DECIMAL(7)", CDC_COL_DECIMAL, 7, 0, 0},
    {"NUMERIC(5,5)", CDC_COL_DECIMAL, 5, 5, 0},
    {"NUMERIC", CDC_COL_NUMERIC, 0, 0, 0},
    {"DECIMAL", CDC_COL_NUMERIC, 0, 0, 0},
    {"DECIMAL(0,0)", CDC_COL_NUMERIC, 0, 0, 0},    /* impossible precision: exact text */
    {"DECIMAL(5,6)", CDC_COL_NUMERIC, 0, 0, 0},    /* scale above precision */
    {"DECIMAL(1001,2)", CDC_COL_NUMERIC, 0, 0, 0}, /* beyond PostgreSQL's numeric */
    {"DECIMAL(10,x)", CDC_COL_NUMERIC, 0, 0, 0},
    {"MONEY", CDC_COL_NUMERIC, 0, 0, 0},
    /* booleans, times, documents, bytes */
    {"BOOLEAN", CDC_COL_BOOLEAN, 0, 0, 0},
    {"bool", CDC_COL_BOOLEAN, 0, 0, 0},
    {"DATETIME", CDC_COL_TIMESTAMP, 0, 0, 0},
    {"TIMESTAMP", CDC_COL_TIMESTAMP, 0, 0, 0},
    {"timestamp(6)", CDC_COL_TIMESTAMP, 0, 0, 0},
    {"TIMESTAMPTZ", CDC_COL_TIMESTAMP, 0, 0, 0},
    {"TIMESTAMP WITH TIME ZONE", CDC_COL_TIMESTAMP, 0, 0, 0},
    {"DATE", CDC_COL_DATE, 0, 0, 0},
    {"JSON", CDC_COL_JSON, 0, 0, 0},
    {"jsonb", CDC_COL_JSON, 0, 0, 0},
    {"BLOB", CDC_COL_BLOB, 0, 0, 0},
    /* text */
    {"TEXT", CDC_COL_TEXT, 0, 0, 0},
    {"CLOB", CDC_COL_TEXT, 0, 0, 0},
    {"CHAR", CDC_COL_TEXT, 0, 0, 0},
    {"VARCHAR(255)", CDC_COL_TEXT, 0, 0, 255},
    {"varchar", CDC_COL_TEXT, 0, 0, 0},
    {"NVARCHAR(100)", CDC_COL_TEXT, 0, 0, 100},
    {"CHARACTER(20)", CDC_COL_TEXT, 0, 0, 20},
    {"VARYING CHARACTER(255)", CDC_COL_TEXT, 0, 0, 255},
    {"NCHAR(55)", CDC_COL_TEXT, 0, 0, 55},
    {"NATIVE CHARACTER(70)", CDC_COL_TEXT, 0, 0, 70},
    {"VARCHAR(0)", CDC_COL_TEXT, 0, 0, 0},        /* no usable bound: unbounded */
    {"VARCHAR(20000000)", CDC_COL_TEXT, 0, 0, 0}, /* beyond varchar(n): unbounded */
    /* SQLite affinity rules for names we do not know, in SQLite's order */
    {"POINT", CDC_COL_LONG, 0, 0, 0}, /* contains INT (SQLite's own quirk) */
    {"BIGSERIAL INTEGER", CDC_COL_LONG, 0, 0, 0},
    {"VARCHAR2(30)", CDC_COL_TEXT, 0, 0, 0},
    {"LONGTEXT", CDC_COL_TEXT, 0, 0, 0},
    {"CHARINT", CDC_COL_LONG, 0, 0, 0}, /* INT wins over CHAR, as in SQLite */
    {"LONGBLOB", CDC_COL_BLOB, 0, 0, 0},
    {"FLOATING POINT", CDC_COL_LONG, 0, 0, 0}, /* "POINT" contains INT: rule 1 first */
    {"DOUBLE NUMBER", CDC_COL_DOUBLE, 0, 0, 0},
    {"REALLY", CDC_COL_DOUBLE, 0, 0, 0},
    {"UUID", CDC_COL_NUMERIC, 0, 0, 0},
    {"STRING", CDC_COL_NUMERIC, 0, 0, 0}, /* SQLite gives STRING numeric affinity */
    {"NUMBER(10)", CDC_COL_NUMERIC, 0, 0, 0},
    {"DATETIME2", CDC_COL_NUMERIC, 0, 0, 0},
    /* no declared type */
    {"", CDC_COL_TEXT, 0, 0, 0},
    {"   ", CDC_COL_TEXT, 0, 0, 0},
    {NULL, CDC_COL_TEXT, 0, 0, 0},
};

static void test_declared(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(declared) / sizeof(declared[0]); i++) {
        const case_t *c = &declared[i];
        cdc_col_type_t t = cdc_types_from_declared(c->decl);

        if (t.kind != c->kind || t.precision != c->precision || t.scale != c->scale ||
            t.max_length != c->max_length)
            fail_msg("\"%s\": got %s(%d,%d) len %d, expected %s(%d,%d) len %d",
                     c->decl ? c->decl : "(null)", cdc_types_kind_name(t.kind), t.precision,
                     t.scale, t.max_length, cdc_types_kind_name(c->kind), c->precision, c->scale,
                     c->max_length);
    }
}

static void test_overrides(void **state)
{
    static const case_t ok[] = {
        {"decimal(14,2)", CDC_COL_DECIMAL, 14, 2, 0},
        {"NUMERIC(3)", CDC_COL_DECIMAL, 3, 0, 0},
        {"numeric", CDC_COL_NUMERIC, 0, 0, 0},
        {"decimal", CDC_COL_NUMERIC, 0, 0, 0},
        {"long", CDC_COL_LONG, 0, 0, 0},
        {"integer", CDC_COL_LONG, 0, 0, 0},
        {"double", CDC_COL_DOUBLE, 0, 0, 0},
        {"real", CDC_COL_DOUBLE, 0, 0, 0},
        {"boolean", CDC_COL_BOOLEAN, 0, 0, 0},
        {"timestamp", CDC_COL_TIMESTAMP, 0, 0, 0},
        {"datetime", CDC_COL_TIMESTAMP, 0, 0, 0},
        {"date", CDC_COL_DATE, 0, 0, 0},
        {"text", CDC_COL_TEXT, 0, 0, 0},
        {"varchar(40)", CDC_COL_TEXT, 0, 0, 40},
        {"json", CDC_COL_JSON, 0, 0, 0},
        {"blob", CDC_COL_BLOB, 0, 0, 0},
    };
    static const char *const bad[] = {
        "decimal(0,0)", "decimal(5,6)",   "decimal(10,x)", "varchar(0)", "money2", "uuid", "",
        "point",        "decimal(1,2,3)",
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cdc_col_type_t t;

        err[0] = '\0';
        if (cdc_types_parse_override(ok[i].decl, &t, err, sizeof(err)) != 0)
            fail_msg("override \"%s\" refused: %s", ok[i].decl, err);
        assert_int_equal(t.kind, ok[i].kind);
        assert_int_equal(t.precision, ok[i].precision);
        assert_int_equal(t.scale, ok[i].scale);
        assert_int_equal(t.max_length, ok[i].max_length);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cdc_col_type_t t;

        err[0] = '\0';
        if (cdc_types_parse_override(bad[i], &t, err, sizeof(err)) == 0)
            fail_msg("override \"%s\" accepted as %s", bad[i], cdc_types_kind_name(t.kind));
        /* the message names what was given */
        assert_non_null(strstr(err, bad[i]));
    }
}

static void test_kind_names(void **state)
{
    static const char *const names[] = {"long",      "double", "decimal", "numeric", "boolean",
                                        "timestamp", "date",   "text",    "json",    "blob"};

    (void)state;
    for (int k = CDC_COL_LONG; k <= CDC_COL_BLOB; k++) {
        cdc_col_type_t t;
        char err[128];

        assert_string_equal(cdc_types_kind_name((cdc_col_kind_t)k), names[k]);
        /* every kind name except "decimal" (which needs (p,s)) is an override */
        if (k != CDC_COL_DECIMAL) {
            assert_int_equal(cdc_types_parse_override(names[k], &t, err, sizeof(err)), 0);
            assert_int_equal(t.kind, k);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declared),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_kind_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
