/*
 * parity_record: Avro binary of cdc.Parity (parity_record.h, docs/parity.md).
 */
#include "parity_record.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_buf.h"
#include "cdc_framing.h"

/* Compact, fixed key order: the fingerprint is taken over its canonical form, and the
 * text is published as is. Keep docs/parity.md in step with any change (a new schema
 * means a new fingerprint, which old validators refuse by name). */
static const char parity_schema[] =
    "{\"type\":\"record\",\"name\":\"Parity\",\"namespace\":\"cdc\",\"fields\":["
    "{\"name\":\"domain\",\"type\":\"string\"},"
    "{\"name\":\"source\",\"type\":\"string\"},"
    "{\"name\":\"table\",\"type\":\"string\"},"
    "{\"name\":\"batch_id\",\"type\":\"long\"},"
    "{\"name\":\"rows\",\"type\":\"long\"},"
    "{\"name\":\"matches\",\"type\":\"long\"},"
    "{\"name\":\"superseded\",\"type\":\"long\"},"
    "{\"name\":\"mismatches\",\"type\":\"long\"},"
    "{\"name\":\"dead_letters\",\"type\":\"long\"},"
    "{\"name\":\"last_position\",\"type\":[\"null\",{\"type\":\"record\","
    "\"name\":\"ParityPosition\",\"fields\":[{\"name\":\"epoch\",\"type\":\"long\"},"
    "{\"name\":\"position\",\"type\":\"long\"}]}],\"default\":null},"
    "{\"name\":\"entries\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
    "\"name\":\"ParityEntry\",\"fields\":["
    "{\"name\":\"status\",\"type\":\"string\"},"
    "{\"name\":\"op\",\"type\":\"string\"},"
    "{\"name\":\"key\",\"type\":\"bytes\"},"
    "{\"name\":\"key_json\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"position\",\"type\":[\"null\",\"cdc.ParityPosition\"],\"default\":null},"
    "{\"name\":\"source_hash\",\"type\":[\"null\",\"bytes\"],\"default\":null},"
    "{\"name\":\"stored_hash\",\"type\":[\"null\",\"bytes\"],\"default\":null}]}}},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"}]}";

const char *cdc_parity_schema_json(void)
{
    return parity_schema;
}

uint64_t cdc_parity_fingerprint(void)
{
    static uint64_t fp;
    static int known;
    char err[256];

    if (!known) {
        /* The text is a constant that the unit test parses: failure is a build bug. */
        if (cdc_avro_fingerprint(parity_schema, strlen(parity_schema), &fp, err, sizeof err) < 0)
            abort();
        known = 1;
    }
    return fp;
}

static void put_bytes(cdc_buf_t *out, const void *p, size_t len)
{
    cdc_buf_put_varint_zigzag(out, (int64_t)len);
    cdc_buf_put(out, p, len);
}

static void put_nullable_bytes(cdc_buf_t *out, const void *p, size_t len)
{
    if (p == NULL) {
        cdc_buf_put_varint_zigzag(out, 0);
        return;
    }
    cdc_buf_put_varint_zigzag(out, 1);
    put_bytes(out, p, len);
}

static void put_position(cdc_buf_t *out, int has, int64_t epoch, int64_t pos)
{
    cdc_buf_put_varint_zigzag(out, has ? 1 : 0);
    if (has) {
        cdc_buf_put_varint_zigzag(out, epoch);
        cdc_buf_put_varint_zigzag(out, pos);
    }
}

void cdc_parity_encode(cdc_buf_t *out, const cdc_parity_rec_t *rec)
{
    unsigned char hdr[CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE];

    cdc_buf_put(out, hdr, cdc_framing_single_object_encode(cdc_parity_fingerprint(), hdr));
    put_bytes(out, rec->domain.p, rec->domain.len);
    put_bytes(out, rec->source.p, rec->source.len);
    put_bytes(out, rec->table.p, rec->table.len);
    cdc_buf_put_varint_zigzag(out, rec->batch_id);
    cdc_buf_put_varint_zigzag(out, rec->rows);
    cdc_buf_put_varint_zigzag(out, rec->matches);
    cdc_buf_put_varint_zigzag(out, rec->superseded);
    cdc_buf_put_varint_zigzag(out, rec->mismatches);
    cdc_buf_put_varint_zigzag(out, rec->dead_letters);
    put_position(out, rec->has_last, rec->last_epoch, rec->last_pos);
    /* One array block holding every entry, then the end-of-array 0. */
    if (rec->nentries > 0) {
        cdc_buf_put_varint_zigzag(out, (int64_t)rec->nentries);
        for (size_t i = 0; i < rec->nentries; i++) {
            const cdc_parity_entry_t *e = &rec->entries[i];
            put_bytes(out, e->status.p, e->status.len);
            put_bytes(out, &e->op, e->op ? 1 : 0);
            put_bytes(out, e->key, e->key_len);
            put_nullable_bytes(out, e->key_json.p, e->key_json.len);
            put_position(out, e->has_pos, e->epoch, e->pos);
            put_nullable_bytes(out, e->source_hash, e->source_hash_len);
            put_nullable_bytes(out, e->stored_hash, e->stored_hash_len);
        }
    }
    cdc_buf_put_varint_zigzag(out, 0);
    cdc_buf_put_varint_zigzag(out, rec->ts_ms);
}

void cdc_parity_key(cdc_buf_t *out, const cdc_parity_rec_t *rec)
{
    cdc_buf_put(out, rec->domain.p, rec->domain.len);
    cdc_buf_put_byte(out, '/');
    cdc_buf_put(out, rec->source.p, rec->source.len);
    cdc_buf_put_byte(out, '/');
    cdc_buf_put(out, rec->table.p, rec->table.len);
}

/* ---- decoding ---- */

typedef struct rd_s {
    const unsigned char *p;
    size_t len, off;
    char *errstr;
    size_t errstr_size;
} rd_t;

__attribute__((format(printf, 2, 3))) static int rd_fail(rd_t *r, const char *fmt, ...)
{
    char why[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(r->errstr, r->errstr_size, "cdc.Parity record: %s at byte %zu of %zu", why, r->off,
             r->len);
    return -1;
}

static int rd_long(rd_t *r, const char *field, int64_t *v)
{
    char why[200]; /* rd_fail's own limit */

    *v = 0; /* defined on failure too: callers' outputs never hold stack garbage */
    if (cdc_buf_get_varint_field(r->p, r->len, &r->off, field, v, why, sizeof why) == 0)
        return 0;
    return rd_fail(r, "%s", why);
}

static int rd_bytes(rd_t *r, const char *field, const unsigned char **p, size_t *len)
{
    int64_t l;

    *p = NULL;
    *len = 0;
    if (rd_long(r, field, &l) < 0)
        return -1;
    if (l < 0 || (uint64_t)l > r->len - r->off)
        return rd_fail(r, "length %" PRId64 " of %s exceeds the record", l, field);
    *p = r->p + r->off;
    *len = (size_t)l;
    r->off += (size_t)l;
    return 0;
}

static int rd_str(rd_t *r, const char *field, cdc_avro_str_t *s)
{
    const unsigned char *p;

    if (rd_bytes(r, field, &p, &s->len) < 0)
        return -1;
    s->p = (const char *)p;
    return 0;
}

/* ["null", X]: returns the branch (0 or 1) or -1. */
static int rd_branch(rd_t *r, const char *field)
{
    int64_t b;

    if (rd_long(r, field, &b) < 0)
        return -1;
    if (b != 0 && b != 1)
        return rd_fail(r, "union branch %" PRId64 " of %s", b, field);
    return (int)b;
}

static int rd_nullable_bytes(rd_t *r, const char *field, const unsigned char **p, size_t *len)
{
    int b = rd_branch(r, field);

    *p = NULL;
    *len = 0;
    if (b <= 0)
        return b;
    return rd_bytes(r, field, p, len);
}

static int rd_position(rd_t *r, const char *field, int *has, int64_t *epoch, int64_t *pos)
{
    int b = rd_branch(r, field);

    *has = 0;
    if (b <= 0)
        return b;
    *has = 1;
    if (rd_long(r, field, epoch) < 0 || rd_long(r, field, pos) < 0)
        return -1;
    return 0;
}

static int rd_entry(rd_t *r, cdc_parity_entry_t *e)
{
    cdc_avro_str_t op;

    if (rd_str(r, "entries.status", &e->status) < 0 || rd_str(r, "entries.op", &op) < 0 ||
        rd_bytes(r, "entries.key", &e->key, &e->key_len) < 0 ||
        rd_nullable_bytes(r, "entries.key_json", (const unsigned char **)&e->key_json.p,
                          &e->key_json.len) < 0 ||
        rd_position(r, "entries.position", &e->has_pos, &e->epoch, &e->pos) < 0 ||
        rd_nullable_bytes(r, "entries.source_hash", &e->source_hash, &e->source_hash_len) < 0 ||
        rd_nullable_bytes(r, "entries.stored_hash", &e->stored_hash, &e->stored_hash_len) < 0)
        return -1;
    if (op.len > 1)
        return rd_fail(r, "entries.op of %zu bytes", op.len);
    e->op = op.len ? op.p[0] : 0;
    return 0;
}

static int rd_entries(rd_t *r, cdc_parity_rec_t *rec)
{
    size_t cap = 0;

    for (;;) {
        int64_t n, size;
        if (rd_long(r, "entries", &n) < 0)
            return -1;
        if (n == 0)
            return 0;
        if (n < 0) { /* a block with its byte size (Avro spec): the size is not needed */
            n = -n;
            if (rd_long(r, "entries block size", &size) < 0)
                return -1;
        }
        /* Every entry takes at least 7 bytes: a count beyond that is garbage. */
        if ((uint64_t)n > (r->len - r->off) / 7 + 1)
            return rd_fail(r, "entries count %" PRId64 " exceeds the record", n);
        if (rec->nentries + (size_t)n > cap) {
            cap = rec->nentries + (size_t)n;
            rec->entries = cdc_realloc(rec->entries, cap * sizeof(*rec->entries));
        }
        for (int64_t i = 0; i < n; i++) {
            cdc_parity_entry_t *e = &rec->entries[rec->nentries];
            memset(e, 0, sizeof(*e));
            if (rd_entry(r, e) < 0)
                return -1;
            rec->nentries++;
        }
    }
}

int cdc_parity_decode(const void *p, size_t len, cdc_parity_rec_t *rec, char *errstr,
                      size_t errstr_size)
{
    uint64_t fp = 0;
    size_t body = 0;
    rd_t r;
    int rc = -1;

    memset(rec, 0, sizeof(*rec));
    if (cdc_framing_detect(p, len, &fp, NULL, &body) != CDC_FRAMING_SINGLE_OBJECT) {
        snprintf(errstr, errstr_size, "not a single-object framed Avro record (%zu bytes)", len);
        return -1;
    }
    if (fp != cdc_parity_fingerprint()) {
        snprintf(errstr, errstr_size,
                 "schema fingerprint %016" PRIx64 " is not cdc.Parity's %016" PRIx64, fp,
                 cdc_parity_fingerprint());
        return -1;
    }
    r.p = (const unsigned char *)p + body;
    r.len = len - body;
    r.off = 0;
    r.errstr = errstr;
    r.errstr_size = errstr_size;
    if (rd_str(&r, "domain", &rec->domain) < 0 || rd_str(&r, "source", &rec->source) < 0 ||
        rd_str(&r, "table", &rec->table) < 0 || rd_long(&r, "batch_id", &rec->batch_id) < 0 ||
        rd_long(&r, "rows", &rec->rows) < 0 || rd_long(&r, "matches", &rec->matches) < 0 ||
        rd_long(&r, "superseded", &rec->superseded) < 0 ||
        rd_long(&r, "mismatches", &rec->mismatches) < 0 ||
        rd_long(&r, "dead_letters", &rec->dead_letters) < 0 ||
        rd_position(&r, "last_position", &rec->has_last, &rec->last_epoch, &rec->last_pos) < 0 ||
        rd_entries(&r, rec) < 0 || rd_long(&r, "ts_ms", &rec->ts_ms) < 0)
        goto out;
    if (r.off != r.len) {
        rd_fail(&r, "%zu trailing bytes", r.len - r.off);
        goto out;
    }
    if (rec->matches < 0 || rec->superseded < 0 || rec->mismatches < 0 || rec->dead_letters < 0 ||
        rec->rows != rec->matches + rec->superseded + rec->mismatches + rec->dead_letters) {
        snprintf(errstr, errstr_size,
                 "cdc.Parity record: rows %" PRId64 " is not matches %" PRId64
                 " + superseded %" PRId64 " + mismatches %" PRId64 " + dead_letters %" PRId64,
                 rec->rows, rec->matches, rec->superseded, rec->mismatches, rec->dead_letters);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        cdc_parity_rec_clear(rec);
    return rc;
}

void cdc_parity_rec_clear(cdc_parity_rec_t *rec)
{
    free(rec->entries);
    memset(rec, 0, sizeof(*rec));
}
