/*
 * avro-c's generic reader as a cross-check of our Avro bytes, shared by test_avro_value.c
 * and test_record.c (through test_record_util.h): read a whole encoding against a schema
 * text, then compare fields with what we meant to write. Everything is static inline.
 */
#ifndef TEST_AVRO_UTIL_H
#define TEST_AVRO_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>

#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"

typedef struct avro_ctx_s {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    avro_reader_t reader;
} avro_ctx_t;

static inline void avro_read_all(avro_ctx_t *c, const char *schema_json, const unsigned char *p,
                                 size_t len)
{
    char extra;

    if (avro_schema_from_json_length(schema_json, strlen(schema_json), &c->schema) != 0)
        fail_msg("avro-c refuses the schema: %s\n%s", avro_strerror(), schema_json);
    c->iface = avro_generic_class_from_schema(c->schema);
    assert_non_null(c->iface);
    assert_int_equal(avro_generic_value_new(c->iface, &c->value), 0);
    c->reader = avro_reader_memory((const char *)p, (int64_t)len);
    if (avro_value_read(c->reader, &c->value) != 0)
        fail_msg("avro-c cannot read our bytes: %s", avro_strerror());
    /* Consumed exactly: a memory reader has no eof query, but one more byte must fail. */
    assert_int_not_equal(avro_read(c->reader, &extra, 1), 0);
}

static inline void avro_done(avro_ctx_t *c)
{
    avro_reader_free(c->reader);
    avro_value_decref(&c->value);
    avro_value_iface_decref(c->iface);
    avro_schema_decref(c->schema);
}

static inline void avro_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    if (avro_value_get_by_name(rec, name, out, NULL) != 0)
        fail_msg("avro-c: no field %s: %s", name, avro_strerror());
}

static inline int64_t avro_long(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    int64_t l = 0;
    avro_field(rec, name, &f);
    assert_int_equal(avro_value_get_long(&f, &l), 0);
    return l;
}

static inline void avro_assert_str(avro_value_t *v, const char *p, size_t len)
{
    const char *s = NULL;
    size_t size = 0;
    assert_int_equal(avro_value_get_string(v, &s, &size), 0);
    assert_int_equal(size, len + 1); /* avro-c counts the terminator */
    if (len > 0)
        assert_memory_equal(s, p, len);
}

/* Branch of a union (or v itself when not a union); returns 0 for the null branch. */
static inline int avro_unwrap(avro_value_t *f, int is_union, avro_value_t *v)
{
    int disc = -1;
    *v = *f;
    if (!is_union)
        return 1;
    assert_int_equal(avro_value_get_type(f), AVRO_UNION);
    assert_int_equal(avro_value_get_discriminant(f, &disc), 0);
    assert_int_equal(avro_value_get_current_branch(f, v), 0);
    if (disc == 0)
        assert_int_equal(avro_value_get_type(v), AVRO_NULL);
    return disc;
}

/* Compares one field of an avro-c record with our decoded value. */
static inline void avro_assert_column(avro_value_t *rec, const cdc_column_t *col,
                                      const cdc_mapped_t *m)
{
    avro_value_t f, v;
    const void *bp = NULL;
    size_t bsize = 0;
    int64_t l = 0;
    int32_t i = 0;
    int b = 0;
    double d = 0;

    avro_field(rec, col->avro_name, &f);
    if (avro_unwrap(&f, cdc_avro_column_nullable(col), &v) == 0) {
        assert_true(m->is_null);
        return;
    }
    assert_false(m->is_null);
    switch (col->type.kind) {
    case CDC_COL_LONG:
    case CDC_COL_TIMESTAMP:
        assert_int_equal(avro_value_get_long(&v, &l), 0);
        assert_true(l == m->l);
        break;
    case CDC_COL_DATE:
        assert_int_equal(avro_value_get_int(&v, &i), 0);
        assert_true(i == m->l);
        break;
    case CDC_COL_BOOLEAN:
        assert_int_equal(avro_value_get_boolean(&v, &b), 0);
        assert_int_equal(b, (int)m->l);
        break;
    case CDC_COL_DOUBLE:
        assert_int_equal(avro_value_get_double(&v, &d), 0);
        assert_memory_equal(&d, &m->d, sizeof d);
        break;
    case CDC_COL_DECIMAL:
    case CDC_COL_BLOB:
        assert_int_equal(avro_value_get_bytes(&v, &bp, &bsize), 0);
        assert_int_equal(bsize, m->len);
        if (m->len > 0)
            assert_memory_equal(bp, m->p, m->len);
        break;
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
        avro_assert_str(&v, (const char *)m->p, m->len);
        break;
    }
}

#endif
