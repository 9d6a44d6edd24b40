/*
 * audit_compare: one table, both sides, one pass. The source scan and the target scan
 * both come in the common key order (audit_keys.c), so a sorted merge sees every key
 * once: a key only in the source is missing, only in the target extra, in both with other
 * canonical bytes different. The same pass feeds each side's count, order-independent
 * checksum and SHA-256, and keeps the first max_keys differing keys (the rest are only
 * counted). Memory: two current rows, the previous key of each side (to prove the order),
 * and the kept keys. Afterwards each kept key is re-checked against both sides as they
 * are now (docs/audit.md "Writes during the audit").
 */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "cdc_alloc.h"
#include "cdc_avro_value.h"
#include "cdc_log.h"

/* The previous key of one side, owned, to check that the stream is strictly ascending. */
typedef struct prev_s {
    cdc_mapped_t *v;
    cdc_buf_t *b;
    int have;
} prev_t;

static void prev_init(prev_t *p, size_t ncols)
{
    p->v = cdc_calloc(ncols + 1, sizeof *p->v);
    p->b = cdc_calloc(ncols + 1, sizeof *p->b);
    p->have = 0;
}

static void prev_free(prev_t *p, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++)
        cdc_buf_free(&p->b[i]);
    free(p->b);
    free(p->v);
}

/* 0 when r's key follows the previous one (then remembers it), -1 naming the side. */
static int prev_step(const audit_table_t *t, prev_t *p, const audit_row_t *r, const char *side,
                     audit_tres_t *res)
{
    if (p->have && audit_key_cmp(t, p->v, r->vals) >= 0) {
        cdc_buf_t k = CDC_BUF_INIT;
        audit_key_json_mapped(t, r->vals, &k);
        res->error = cdc_asprintf("table %s: the %s returned key %s out of order: the key does "
                                  "not sort the same on both sides",
                                  t->table, side, cdc_buf_cstr(&k));
        cdc_buf_free(&k);
        return -1;
    }
    for (size_t q = 0; q < t->nkeys; q++) {
        size_t i = t->key_col[q];
        p->v[i] = r->vals[i];
        if (!r->vals[i].is_null && r->vals[i].p != NULL) {
            cdc_buf_reset(&p->b[i]);
            cdc_buf_put(&p->b[i], r->vals[i].p, r->vals[i].len);
            p->v[i].p = p->b[i].data;
        }
    }
    p->have = 1;
    return 0;
}

static void account(audit_side_t *side, cdc_sha256_t *sha, const audit_row_t *r)
{
    side->rows++;
    side->sum += r->hash;
    cdc_sha256_update(sha, r->canon.data, r->canon.len);
}

static void keep(const audit_table_t *t, const cdc_audit_opts_t *opts, audit_tres_t *res,
                 const audit_row_t *r, const cdc_value_t *raw, char kind)
{
    if (res->nkeys_kept >= opts->max_keys)
        return;
    if (res->nkeys_kept == res->keys_cap) { /* grows with what is kept, not with max_keys */
        res->keys_cap = res->keys_cap ? res->keys_cap * 2 : 16;
        res->keys = cdc_realloc(res->keys, res->keys_cap * sizeof *res->keys);
    }
    audit_key_keep(t, r->vals, raw, kind, &res->keys[res->nkeys_kept]);
    if (kind == 'f')
        res->keys[res->nkeys_kept].why = cdc_strdup(r->why);
    res->nkeys_kept++;
}

/* Decides in flight (1), settled (2) or real (0) for one kept key. */
static int recheck_key(sqlite3 *db, PGconn *conn, const audit_table_t *t, const audit_key_t *k,
                       char *errstr, size_t errstr_size)
{
    cdc_buf_t sc = CDC_BUF_INIT, tc = CDC_BUF_INIT, kb = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    int64_t epoch = 0, log_seq = 0;
    int fs = 0, ft = 0, verdict = -1;
    size_t bad = 0;
    cdc_pos_t pos;
    char tmp[256];

    if (audit_src_lookup(db, t, k->kv, &fs, &sc, &epoch, &log_seq, errstr, errstr_size) < 0)
        goto out;
    if (cdc_avro_encode_key(&kb, t->src->name, t->ti->name, t->cols, t->ncols, k->kv, &scratch,
                            &bad, tmp, sizeof tmp) != CDC_AVRO_OK)
        cdc_buf_reset(&kb); /* no canonical key: no tombstone to look up */
    if (audit_tgt_lookup(conn, t, (const char *const *)k->pgtext, kb.len ? kb.data : NULL, kb.len,
                         &ft, &tc, &pos, errstr, errstr_size) < 0)
        goto out;
    if ((fs == 0 && ft == 0) ||
        (fs == 1 && ft == 1 && sc.len == tc.len && memcmp(sc.data, tc.data, sc.len) == 0))
        verdict = 2;
    else if (log_seq > 0 && (pos.epoch != epoch || log_seq > pos.h))
        verdict = 1;
    else
        verdict = 0;
out:
    cdc_buf_free(&sc);
    cdc_buf_free(&tc);
    cdc_buf_free(&kb);
    cdc_buf_free(&scratch);
    return verdict;
}

static void decide(audit_tres_t *res)
{
    uint64_t diffs = res->missing + res->extra + res->different;
    uint64_t kept = 0, explained = 0;

    for (size_t i = 0; i < res->nkeys_kept; i++) {
        if (res->keys[i].kind == 'f')
            continue;
        kept++;
        if (res->keys[i].in_flight == 1)
            res->in_flight++;
        else if (res->keys[i].in_flight == 2)
            res->settled++;
        if (res->keys[i].in_flight)
            explained++;
    }
    res->unchecked = diffs - kept;
    if (res->unordered)
        res->status =
            res->s.rows == res->g.rows && res->s.sum == res->g.sum ? AUDIT_T_MATCH : AUDIT_T_DIFFER;
    else if (diffs + res->misfit == 0)
        res->status =
            memcmp(res->s.sha, res->g.sha, CDC_SHA256_SIZE) == 0 ? AUDIT_T_MATCH : AUDIT_T_DIFFER;
    else if (res->misfit == 0 && res->unchecked == 0 && explained == kept)
        res->status = AUDIT_T_IN_FLIGHT;
    else
        res->status = AUDIT_T_DIFFER;
}

int audit_compare_table(sqlite3 *db, PGconn *conn, const audit_table_t *t,
                        const cdc_audit_opts_t *opts, audit_tres_t *res)
{
    audit_src_scan_t *ss = NULL;
    audit_tgt_scan_t *ts = NULL;
    audit_row_t a, b;
    prev_t pa, pb;
    cdc_sha256_t sha_s, sha_g;
    char err[1024];
    int ha = 0, hb = 0, exists, rc = -1;

    audit_row_init(&a, t->ncols);
    audit_row_init(&b, t->ncols);
    prev_init(&pa, t->ncols);
    prev_init(&pb, t->ncols);
    cdc_sha256_init(&sha_s);
    cdc_sha256_init(&sha_g);
    res->nkey_parts = t->nkeys;
    if (audit_key_orderable(t, err, sizeof err) < 0) {
        res->unordered = 1;
        res->note = cdc_strdup(err);
    }
    exists = audit_tgt_exists(conn, t, err, sizeof err);
    if (exists < 0)
        goto fail;
    res->target_absent = !exists;
    if ((ss = audit_src_scan_new(db, t, opts->chunk_rows, err, sizeof err)) == NULL)
        goto fail;
    if (exists && (ts = audit_tgt_scan_new(conn, t, err, sizeof err)) == NULL)
        goto fail;
    if ((ha = audit_src_scan_next(ss, &a, err, sizeof err)) < 0)
        goto fail;
    if (ts != NULL && (hb = audit_tgt_scan_next(ts, &b, err, sizeof err)) < 0)
        goto fail;
    while (ha || hb) {
        int c;
        if (ha && a.misfit) {
            res->misfit++;
            keep(t, opts, res, &a, a.raw, 'f');
            if ((ha = audit_src_scan_next(ss, &a, err, sizeof err)) < 0)
                goto fail;
            continue;
        }
        if (res->unordered)
            c = ha ? -1 : 1;
        else
            c = !ha ? 1 : !hb ? -1 : audit_key_cmp(t, a.vals, b.vals);
        if (!res->unordered && c <= 0 && prev_step(t, &pa, &a, "source", res) < 0)
            goto out;
        if (!res->unordered && c >= 0 && prev_step(t, &pb, &b, "target", res) < 0)
            goto out;
        if (c <= 0)
            account(&res->s, &sha_s, &a);
        if (c >= 0)
            account(&res->g, &sha_g, &b);
        if (c < 0 && !res->unordered) {
            res->missing++;
            keep(t, opts, res, &a, a.raw, 'm');
        } else if (c > 0 && !res->unordered) {
            res->extra++;
            keep(t, opts, res, &b, NULL, 'x');
        } else if (c == 0 && (a.canon.len != b.canon.len ||
                              memcmp(a.canon.data, b.canon.data, a.canon.len) != 0)) {
            res->different++;
            keep(t, opts, res, &a, a.raw, 'd');
        }
        if (c <= 0 && (ha = audit_src_scan_next(ss, &a, err, sizeof err)) < 0)
            goto fail;
        if (c >= 0 && ts != NULL && (hb = audit_tgt_scan_next(ts, &b, err, sizeof err)) < 0)
            goto fail;
    }
    audit_src_scan_positions(ss, &res->pos_first, &res->pos_last);
    cdc_sha256_final(&sha_s, res->s.sha);
    cdc_sha256_final(&sha_g, res->g.sha);
    /* End both read transactions before the re-check reads the sides as they are now. */
    audit_src_scan_free(ss);
    audit_tgt_scan_free(ts);
    ss = NULL;
    ts = NULL;
    for (size_t i = 0; opts->recheck && i < res->nkeys_kept; i++) {
        if (res->keys[i].kind == 'f')
            continue;
        res->keys[i].in_flight = recheck_key(db, conn, t, &res->keys[i], err, sizeof err);
        if (res->keys[i].in_flight < 0)
            goto fail;
    }
    decide(res);
    rc = 0;
    goto out;
fail:
    res->error = cdc_strdup(err);
out:
    if (rc != 0)
        res->status = AUDIT_T_ERROR;
    audit_src_scan_free(ss);
    audit_tgt_scan_free(ts);
    audit_row_free(&a, t->ncols);
    audit_row_free(&b, t->ncols);
    prev_free(&pa, t->ncols);
    prev_free(&pb, t->ncols);
    return rc;
}

void audit_tres_free(audit_tres_t *res)
{
    for (size_t i = 0; i < res->nkeys_kept; i++)
        audit_key_free(&res->keys[i], res->nkey_parts);
    free(res->keys);
    free(res->domain);
    free(res->source);
    free(res->table);
    free(res->target);
    free(res->note);
    free(res->error);
    memset(res, 0, sizeof *res);
}
