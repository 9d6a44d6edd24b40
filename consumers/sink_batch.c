/*
 * sink_batch: building a batch (sink_apply.h). Each entry copies everything it is given
 * into one allocation, so the Kafka side may release its messages right away.
 */
#include "sink_batch.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "sink_schema.h"

/* Bump allocator over one block: sizes are computed first, then the block is filled. */
typedef struct {
    unsigned char *base;
    size_t used;
} arena_t;

static size_t align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

static void *arena_take(arena_t *a, size_t n)
{
    void *p = a->base + a->used;
    a->used += align_up(n);
    return p;
}

static const void *arena_copy(arena_t *a, const void *p, size_t n)
{
    void *d;
    if (n == 0)
        return "";
    d = arena_take(a, n);
    memcpy(d, p, n);
    return d;
}

static char *arena_str(arena_t *a, cdc_avro_str_t s)
{
    char *d;
    if (s.p == NULL)
        return NULL;
    d = arena_take(a, s.len + 1);
    memcpy(d, s.p, s.len);
    d[s.len] = '\0';
    return d;
}

static int value_has_bytes(const cdc_decoded_value_t *v)
{
    if (v->is_null)
        return 0;
    switch (v->kind) {
    case CDC_COL_DECIMAL:
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
    case CDC_COL_BLOB:
        return 1;
    default:
        return 0;
    }
}

static size_t values_size(const cdc_decoded_value_t *v, size_t n)
{
    size_t s = align_up(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        if (value_has_bytes(&v[i]))
            s += align_up(v[i].len);
    return s;
}

static const cdc_decoded_value_t *values_copy(arena_t *a, const cdc_decoded_value_t *v, size_t n)
{
    cdc_decoded_value_t *d = arena_take(a, n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        d[i] = v[i];
        if (value_has_bytes(&v[i]))
            d[i].p = arena_copy(a, v[i].p, v[i].len);
        else
            d[i].p = NULL;
    }
    return d;
}

static size_t str_size(cdc_avro_str_t s)
{
    return s.p != NULL ? align_up(s.len + 1) : 0;
}

static cdc_sink_entry_t *push(cdc_sink_batch_t *b, cdc_sink_entry_kind_t kind, int64_t offset,
                              size_t mem_size, arena_t *a)
{
    cdc_sink_entry_t *e;

    if (b->count == b->cap) {
        b->cap = b->cap > 0 ? 2 * b->cap : 256;
        b->entries = cdc_realloc(b->entries, b->cap * sizeof(*b->entries));
    }
    e = &b->entries[b->count++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->offset = offset;
    e->mem = cdc_malloc(mem_size > 0 ? mem_size : 1);
    b->bytes += mem_size + sizeof(*e);
    a->base = e->mem;
    a->used = 0;
    return e;
}

cdc_sink_batch_t *cdc_sink_batch_new(void)
{
    return cdc_calloc(1, sizeof(cdc_sink_batch_t));
}

void cdc_sink_batch_reset(cdc_sink_batch_t *b)
{
    for (size_t i = 0; i < b->count; i++)
        free(b->entries[i].mem);
    b->count = 0;
    b->bytes = 0;
}

void cdc_sink_batch_release(cdc_sink_batch_t *b)
{
    cdc_sink_batch_reset(b);
    free(b->entries);
    b->entries = NULL;
    b->cap = 0;
}

void cdc_sink_batch_destroy(cdc_sink_batch_t *b)
{
    if (b == NULL)
        return;
    cdc_sink_batch_reset(b);
    free(b->entries);
    free(b);
}

size_t cdc_sink_batch_count(const cdc_sink_batch_t *b)
{
    return b->count;
}

size_t cdc_sink_batch_bytes(const cdc_sink_batch_t *b)
{
    return b->bytes;
}

void cdc_sink_batch_add_row(cdc_sink_batch_t *b, const cdc_sink_table_t *t, int64_t offset, char op,
                            cdc_pos_t pos, const void *key, size_t key_len,
                            const cdc_decoded_value_t *key_vals, const cdc_decoded_value_t *after,
                            const void *row_hash, size_t row_hash_len)
{
    cdc_decoded_value_t *from_row = NULL;
    size_t size;
    cdc_sink_entry_t *e;
    arena_t a;

    if (key_vals == NULL && after != NULL) {
        /* An upsert carries its key columns in the row image. */
        from_row = cdc_calloc(t->nkeys, sizeof(*from_row));
        for (size_t k = 0; k < t->nkeys; k++)
            from_row[k] = after[t->key_cols[k]];
        key_vals = from_row;
    }
    size = align_up(key_len) + values_size(key_vals, t->nkeys);

    if (after != NULL)
        size += values_size(after, t->ncols);
    if (row_hash != NULL)
        size += align_up(row_hash_len);
    e = push(b, CDC_SINK_ENTRY_ROW, offset, size, &a);
    e->table = t;
    e->op = op;
    e->pos = pos;
    e->has_pos = 1;
    e->key = arena_copy(&a, key, key_len);
    e->key_len = key_len;
    e->key_vals = values_copy(&a, key_vals, t->nkeys);
    e->after = after != NULL ? values_copy(&a, after, t->ncols) : NULL;
    if (row_hash != NULL) {
        e->row_hash = arena_copy(&a, row_hash, row_hash_len);
        e->row_hash_len = row_hash_len;
    }
    e->source = t->source;
    e->table_name = t->table;
    free(from_row);
}

void cdc_sink_batch_add_marker(cdc_sink_batch_t *b, int64_t offset, cdc_avro_str_t source,
                               cdc_avro_str_t table, int64_t epoch, int64_t start_position)
{
    arena_t a;
    cdc_sink_entry_t *e =
        push(b, CDC_SINK_ENTRY_MARKER, offset, str_size(source) + str_size(table), &a);

    e->source = arena_str(&a, source);
    e->table_name = arena_str(&a, table);
    e->epoch = epoch;
    e->start_position = start_position;
}

void cdc_sink_batch_add_heartbeat(cdc_sink_batch_t *b, int64_t offset, cdc_avro_str_t source,
                                  int64_t epoch, int64_t acked_position, int64_t backlog_entries,
                                  int64_t oldest_unacked_age_ms, int64_t producer_ts_ms)
{
    arena_t a;
    cdc_sink_entry_t *e = push(b, CDC_SINK_ENTRY_HEARTBEAT, offset, str_size(source), &a);

    e->source = arena_str(&a, source);
    e->epoch = epoch;
    e->acked_position = acked_position;
    e->backlog_entries = backlog_entries;
    e->oldest_unacked_age_ms = oldest_unacked_age_ms;
    e->producer_ts_ms = producer_ts_ms;
}

void cdc_sink_batch_add_dead_letter(cdc_sink_batch_t *b, int64_t offset, cdc_avro_str_t source,
                                    cdc_avro_str_t table, const void *key, size_t key_len,
                                    const cdc_pos_t *pos, const char *reason)
{
    cdc_avro_str_t r = cdc_avro_str(reason != NULL ? reason : "undecodable record");
    size_t size = str_size(source) + str_size(table) + str_size(r) + align_up(key_len);
    arena_t a;
    cdc_sink_entry_t *e = push(b, CDC_SINK_ENTRY_DEAD_LETTER, offset, size, &a);

    e->source = source.len > 0 ? arena_str(&a, source) : NULL;
    e->table_name = table.len > 0 ? arena_str(&a, table) : NULL;
    e->reason = arena_str(&a, r);
    if (key != NULL && key_len > 0) {
        e->key = arena_copy(&a, key, key_len);
        e->key_len = key_len;
    }
    if (pos != NULL) {
        e->pos = *pos;
        e->has_pos = 1;
    }
}
