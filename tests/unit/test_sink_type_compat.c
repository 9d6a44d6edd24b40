/*
 * The sink's rule for a changed column type (docs/schema-registry.md "Changed types";
 * consumers/sink_schema_evolve.c): which PostgreSQL type a target column may have for the
 * type a new schema maps the column to. One line per rule; the target types are spelled as
 * format_type() prints them, the new ones as the sink creates them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sink_schema.h"

#define OK  CDC_SINK_TYPE_OK
#define NAR CDC_SINK_TYPE_NARROWER
#define BAD CDC_SINK_TYPE_INCOMPATIBLE
#define UNJ CDC_SINK_TYPE_UNJUDGED

static const struct {
    const char *new_type, *target;
    cdc_sink_type_compat_t want;
    const char *why; /* a word the reason must hold, or NULL */
} rules[] = {
    /* equal */
    {"bigint", "bigint", OK, NULL},
    {"numeric(10,2)", "numeric(10,2)", OK, NULL},
    {"varchar(40)", "character varying(40)", OK, NULL},
    {"timestamptz", "timestamp with time zone", OK, NULL},
    {"double precision", "double precision", OK, NULL},
    {"boolean", "boolean", OK, NULL},
    {"bytea", "bytea", OK, NULL},
    {"jsonb", "jsonb", OK, NULL},
    {"date", "date", OK, NULL},
    /* widenings */
    {"bigint", "numeric", OK, NULL},
    {"bigint", "numeric(19,0)", OK, NULL},
    {"bigint", "numeric(21,2)", OK, NULL},
    {"numeric(10,2)", "numeric(12,4)", OK, NULL},
    {"numeric(10,2)", "numeric", OK, NULL},
    {"numeric(10,2)", "double precision", OK, NULL},
    {"double precision", "numeric", OK, NULL},
    {"numeric", "numeric", OK, NULL},
    {"varchar(40)", "text", OK, NULL},
    {"varchar(40)", "character varying(100)", OK, NULL},
    {"bigint", "text", OK, NULL},
    {"bigint", "character varying(20)", OK, NULL},
    {"numeric(10,2)", "text", OK, NULL},
    {"double precision", "text", OK, NULL},
    {"date", "text", OK, NULL},
    {"jsonb", "text", OK, NULL},
    {"jsonb", "json", OK, NULL},
    {"date", "timestamp with time zone", OK, NULL},
    {"timestamptz", "timestamp without time zone", OK, NULL},
    {"timestamptz", "timestamp(6) with time zone", OK, NULL},
    /* narrower, same kind: PostgreSQL refuses what does not fit */
    {"bigint", "integer", NAR, "out of range"},
    {"bigint", "smallint", NAR, "out of range"},
    {"bigint", "numeric(10,0)", NAR, "overflow"},
    {"numeric(12,2)", "numeric(10,2)", NAR, "overflow"},
    {"text", "character varying(40)", NAR, "longer"},
    {"varchar(100)", "character varying(40)", NAR, "longer"},
    {"bigint", "character varying(5)", NAR, "longer"},
    /* the cast would change values silently, or another kind */
    {"double precision", "numeric(10,2)", BAD, "rounds"},
    {"numeric(12,4)", "numeric(14,2)", BAD, "rounds"},
    {"numeric", "numeric(10,2)", BAD, "rounds"},
    {"double precision", "real", BAD, "6 significant"},
    {"bigint", "double precision", BAD, "15 significant"},
    {"numeric(20,2)", "double precision", BAD, "15 significant"},
    {"numeric", "double precision", BAD, "15 significant"},
    {"double precision", "bigint", BAD, "integers only"},
    {"numeric(10,2)", "bigint", BAD, "integers only"},
    {"text", "bigint", BAD, "parse"},
    {"text", "numeric(10,2)", BAD, "parse"},
    {"text", "jsonb", BAD, "parse"},
    {"text", "date", BAD, "parse"},
    {"text", "character(10)", BAD, "blanks"},
    {"timestamptz", "date", BAD, "drops the time"},
    {"timestamptz", "timestamp(3) with time zone", BAD, "fractional"},
    {"timestamptz", "text", BAD, "spelling"},
    {"boolean", "text", BAD, "spelling"},
    {"bytea", "text", BAD, "spelling"},
    {"boolean", "bigint", BAD, NULL},
    {"bigint", "boolean", BAD, NULL},
    {"bytea", "jsonb", BAD, NULL},
    {"jsonb", "bytea", BAD, NULL},
    {"date", "bigint", BAD, NULL},
    /* types the sink never creates: the operator's choice */
    {"text", "uuid", UNJ, NULL},
    {"text", "mood", UNJ, NULL},
    {"bigint", "inet", UNJ, NULL},
};

static void test_rules(void **state)
{
    int failed = 0;
    (void)state;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *why = NULL;
        cdc_sink_type_compat_t got =
            cdc_sink_schema_type_compat(rules[i].new_type, rules[i].target, &why);
        if (got != rules[i].want ||
            (rules[i].why != NULL && (why == NULL || strstr(why, rules[i].why) == NULL))) {
            fprintf(stderr, "%s -> %s: got %d (%s), want %d (%s)\n", rules[i].new_type,
                    rules[i].target, (int)got, why ? why : "-", (int)rules[i].want,
                    rules[i].why ? rules[i].why : "-");
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* Every type the sink creates is OK into itself, as format_type() prints it. */
static void test_own_types(void **state)
{
    static const cdc_col_type_t kinds[] = {{.kind = CDC_COL_LONG},
                                           {.kind = CDC_COL_DOUBLE},
                                           {.kind = CDC_COL_DECIMAL, .precision = 14, .scale = 2},
                                           {.kind = CDC_COL_NUMERIC},
                                           {.kind = CDC_COL_BOOLEAN},
                                           {.kind = CDC_COL_TIMESTAMP},
                                           {.kind = CDC_COL_DATE},
                                           {.kind = CDC_COL_TEXT},
                                           {.kind = CDC_COL_TEXT, .max_length = 40},
                                           {.kind = CDC_COL_JSON},
                                           {.kind = CDC_COL_BLOB}};
    static const char *const printed[] = {"bigint",
                                          "double precision",
                                          "numeric(14,2)",
                                          "numeric",
                                          "boolean",
                                          "timestamp with time zone",
                                          "date",
                                          "text",
                                          "character varying(40)",
                                          "jsonb",
                                          "bytea"};
    char type[64];
    (void)state;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        cdc_sink_schema_pg_type(&kinds[i], type, sizeof type);
        assert_int_equal(cdc_sink_schema_type_compat(type, type, NULL), CDC_SINK_TYPE_OK);
        assert_int_equal(cdc_sink_schema_type_compat(type, printed[i], NULL), CDC_SINK_TYPE_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_own_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
