/*
 * sink_apply: one batch of one partition in one transaction (sink_apply.h): fencing by the
 * stored offset, reduction to the newest version per key, the tables (sink_apply_table.c),
 * snapshot end markers, heartbeats, dead-letter bookkeeping and the parity outbox.
 */
#include "sink_apply_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_convert.h"
#include "cdc_hash.h"
#include "cdc_log.h"
#include "sink_copy.h"

#define BIGINT_MIN "'-9223372036854775808'::bigint"

/* One outbox row standing for results results (1 unless counted). */
static void outbox_row(cdc_sink_apply_ctx_t *c, const char *source, const char *table,
                       const unsigned char *key, size_t key_len, const cdc_pos_t *pos, char op,
                       const unsigned char *src_hash, size_t src_hash_len,
                       const unsigned char *stored_hash, size_t stored_hash_len, const char *status,
                       long results)
{
    cdc_buf_t *o = &c->outbox;

    /* domain, source, source_table, key, epoch, pos, op, source_hash, stored_hash, status,
     * results */
    cdc_sink_copy_put_escaped(o, c->db->domain, strlen(c->db->domain));
    cdc_buf_put_byte(o, '\t');
    if (source != NULL)
        cdc_sink_copy_put_escaped(o, source, strlen(source));
    else
        cdc_buf_put_str(o, "\\N");
    cdc_buf_put_byte(o, '\t');
    if (table != NULL)
        cdc_sink_copy_put_escaped(o, table, strlen(table));
    else
        cdc_buf_put_str(o, "\\N");
    cdc_buf_put_byte(o, '\t');
    if (key != NULL)
        cdc_sink_copy_put_bytea(o, key, key_len);
    else
        cdc_buf_put_str(o, "\\N");
    if (pos != NULL)
        cdc_buf_printf(o, "\t%" PRId64 "\t%" PRId64 "\t", pos->epoch, pos->h);
    else
        cdc_buf_put_str(o, "\t\\N\t\\N\t");
    if (op != 0)
        cdc_buf_put_byte(o, (unsigned char)op);
    else
        cdc_buf_put_str(o, "\\N");
    cdc_buf_put_byte(o, '\t');
    if (src_hash != NULL)
        cdc_sink_copy_put_bytea(o, src_hash, src_hash_len);
    else
        cdc_buf_put_str(o, "\\N");
    cdc_buf_put_byte(o, '\t');
    if (stored_hash != NULL)
        cdc_sink_copy_put_bytea(o, stored_hash, stored_hash_len);
    else
        cdc_buf_put_str(o, "\\N");
    cdc_buf_printf(o, "\t%s\t%ld\n", status, results);
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Matches and superseded versions only count (docs/parity.md): one outbox row per
 * (source, table, status) of the batch instead of one per result keeps the outbox off
 * the hot path. Mismatches and dead letters keep a row each, with key and hashes.
 */
void cdc_sink_apply_outbox(cdc_sink_apply_ctx_t *c, const char *source, const char *table,
                           const unsigned char *key, size_t key_len, const cdc_pos_t *pos, char op,
                           const unsigned char *src_hash, size_t src_hash_len,
                           const unsigned char *stored_hash, size_t stored_hash_len,
                           const char *status)
{
    int sup = strcmp(status, CDC_SINK_SUPERSEDED) == 0;
    cdc_sink_outbox_agg_t *a = NULL;

    if (!sup && strcmp(status, CDC_SINK_MATCH) != 0) {
        outbox_row(c, source, table, key, key_len, pos, op, src_hash, src_hash_len, stored_hash,
                   stored_hash_len, status, 1);
        return;
    }
    for (size_t i = c->naggs; i-- > 0;) {
        cdc_sink_outbox_agg_t *x = &c->aggs[i];
        if (x->superseded == sup && str_eq(x->table, table) && str_eq(x->source, source)) {
            a = x;
            break;
        }
    }
    if (a == NULL) {
        if (c->naggs == c->aggs_cap) {
            c->aggs_cap = c->aggs_cap ? c->aggs_cap * 2 : 8;
            c->aggs = cdc_realloc(c->aggs, c->aggs_cap * sizeof(*c->aggs));
        }
        a = &c->aggs[c->naggs++];
        memset(a, 0, sizeof(*a));
        a->source = source;
        a->table = table;
        a->superseded = sup;
    }
    a->count++;
    if (pos != NULL && (!a->has_pos || pos->epoch > a->last.epoch ||
                        (pos->epoch == a->last.epoch && pos->h > a->last.h))) {
        a->has_pos = 1;
        a->last = *pos;
    }
}

/* The counted results as outbox rows. */
static void outbox_put_aggs(cdc_sink_apply_ctx_t *c)
{
    for (size_t i = 0; i < c->naggs; i++) {
        const cdc_sink_outbox_agg_t *a = &c->aggs[i];
        outbox_row(c, a->source, a->table, NULL, 0, a->has_pos ? &a->last : NULL, 0, NULL, 0, NULL,
                   0, a->superseded ? CDC_SINK_SUPERSEDED : CDC_SINK_MATCH, a->count);
    }
    c->naggs = 0;
}

/* _cdc_dead_letters row + outbox row for an entry (row or Kafka-side dead letter). */
static cdc_sink_status_t record_dead_letter(cdc_sink_apply_ctx_t *c, const cdc_sink_entry_t *e,
                                            const char *reason)
{
    char part[16], off[24], ep[24], pos[24];
    char *key = e->key != NULL ? cdc_hash_bytea_text(e->key, e->key_len) : NULL;
    const char *params[10] = {c->db->domain,
                              c->topic,
                              part,
                              off,
                              e->source,
                              e->table_name,
                              key,
                              e->has_pos ? ep : NULL,
                              e->has_pos ? pos : NULL,
                              reason};
    cdc_sink_status_t st;

    snprintf(part, sizeof part, "%" PRId32, c->partition);
    snprintf(off, sizeof off, "%" PRId64, e->offset);
    snprintf(ep, sizeof ep, "%" PRId64, e->pos.epoch);
    snprintf(pos, sizeof pos, "%" PRId64, e->pos.h);
    st = cdc_sink_db_status_of(cdc_sink_pg_exec(
        c->db->conn,
        "INSERT INTO _cdc_dead_letters (domain, topic, kpartition, koffset, source,"
        " source_table, key, epoch, pos, reason)"
        " VALUES ($1, $2, $3::int, $4::bigint, $5, $6, $7::bytea, $8::bigint, $9::bigint, $10)",
        10, params, NULL, c->errstr, c->errstr_size));
    free(key);
    if (st != CDC_SINK_OK)
        return st;
    if (e->source != NULL && e->table_name != NULL && e->key != NULL)
        cdc_sink_apply_outbox(c, e->source, e->table_name, e->key, e->key_len,
                              e->has_pos ? &e->pos : NULL, e->op, e->row_hash, e->row_hash_len,
                              NULL, 0, CDC_SINK_DEAD_LETTER);
    if (c->stats != NULL)
        c->stats->dead_letters++;
    return CDC_SINK_OK;
}

cdc_sink_status_t cdc_sink_apply_dead_letter(cdc_sink_apply_ctx_t *c, const cdc_sink_entry_t *e,
                                             const char *column, const char *reason)
{
    const cdc_sink_table_t *t = e->table;
    cdc_sink_dead_letter_t dl;
    cdc_buf_t key_json = CDC_BUF_INIT;
    char *full_reason =
        column != NULL ? cdc_asprintf("column %s: %s", column, reason) : cdc_strdup(reason);
    cdc_sink_status_t st = CDC_SINK_OK;

    cdc_buf_put_byte(&key_json, '{');
    for (size_t k = 0; k < t->nkeys; k++) {
        const cdc_column_t *col = &t->cols[t->key_cols[k]];
        if (k > 0)
            cdc_buf_put_byte(&key_json, ',');
        cdc_sink_copy_put_json_string(&key_json, col->name, strlen(col->name));
        cdc_buf_put_byte(&key_json, ':');
        cdc_sink_copy_put_json_value(&key_json, &col->type, &e->key_vals[k], &c->scratch2);
    }
    cdc_buf_put_byte(&key_json, '}');

    memset(&dl, 0, sizeof dl);
    dl.info.stage = "sink";
    dl.info.source = t->source;
    dl.info.table = t->table;
    dl.info.key_json = cdc_buf_cstr(&key_json);
    dl.info.column = column;
    dl.info.reason = reason;
    dl.info.has_position = 1;
    dl.info.position = e->pos;
    dl.info.origin_topic = c->topic;
    dl.info.origin_partition = c->partition;
    dl.info.origin_offset = e->offset;
    dl.key = e->key;
    dl.key_len = e->key_len;
    dl.target_table = t->target;
    cdc_log_warn("dead letter: %s [%" PRId32 "] offset %" PRId64 " source %s table %s key %s: %s",
                 c->topic, c->partition, e->offset, t->source, t->table, dl.info.key_json,
                 full_reason);
    if (c->dl_cb == NULL || c->dl_cb(&dl, c->dl_opaque) != 0) {
        snprintf(c->errstr, c->errstr_size,
                 "dead letter of %s [%" PRId32 "] offset %" PRId64 " (table %s key %s) was not "
                 "delivered",
                 c->topic, c->partition, e->offset, t->target, dl.info.key_json);
        st = CDC_SINK_RETRIABLE;
        goto out;
    }
    st = record_dead_letter(c, e, full_reason);
out:
    free(full_reason);
    cdc_buf_free(&key_json);
    return st;
}

/* Orders row entries by (target table, key, position, offset): each key's newest last. */
static int cmp_version(const void *a, const void *b)
{
    const cdc_sink_entry_t *x = *(const cdc_sink_entry_t *const *)a;
    const cdc_sink_entry_t *y = *(const cdc_sink_entry_t *const *)b;
    int r = strcmp(x->table->target, y->table->target);

    if (r != 0)
        return r;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    r = memcmp(x->key, y->key, x->key_len);
    if (r != 0)
        return r;
    r = cdc_pos_cmp(x->pos, y->pos);
    if (r != 0)
        return r;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Orders winners by table descriptor, then offset. */
static int cmp_table(const void *a, const void *b)
{
    const cdc_sink_entry_t *x = *(const cdc_sink_entry_t *const *)a;
    const cdc_sink_entry_t *y = *(const cdc_sink_entry_t *const *)b;

    if (x->table->id != y->table->id)
        return x->table->id < y->table->id ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int same_key(const cdc_sink_entry_t *x, const cdc_sink_entry_t *y)
{
    return strcmp(x->table->target, y->table->target) == 0 && x->key_len == y->key_len &&
           memcmp(x->key, y->key, x->key_len) == 0;
}

static cdc_sink_status_t apply_rows(cdc_sink_apply_ctx_t *c, const cdc_sink_batch_t *b)
{
    const cdc_sink_entry_t **rows = cdc_calloc(b->count + 1, sizeof(*rows));
    size_t n = 0, nw = 0;
    cdc_sink_status_t st = CDC_SINK_OK;

    for (size_t i = 0; i < b->count; i++)
        if (b->entries[i].kind == CDC_SINK_ENTRY_ROW)
            rows[n++] = &b->entries[i];
    qsort(rows, n, sizeof(*rows), cmp_version);
    /* Invariant 5: only the newest version per key is applied; the rest are superseded
     * (this also keeps ON CONFLICT from touching a row twice in one statement). */
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && same_key(rows[i], rows[i + 1])) {
            const cdc_sink_entry_t *e = rows[i];
            cdc_sink_apply_outbox(c, e->source, e->table_name, e->key, e->key_len, &e->pos, e->op,
                                  e->row_hash, e->row_hash_len, NULL, 0, CDC_SINK_SUPERSEDED);
            if (c->stats != NULL)
                c->stats->superseded++;
            continue;
        }
        rows[nw++] = rows[i];
    }
    qsort(rows, nw, sizeof(*rows), cmp_table);
    for (size_t i = 0; i < nw && st == CDC_SINK_OK;) {
        size_t j = i;
        while (j < nw && rows[j]->table == rows[i]->table)
            j++;
        st = cdc_sink_apply_table(c, rows[i]->table, rows + i, j - i);
        i = j;
    }
    free(rows);
    return st;
}

/* Records a snapshot end marker; completes the snapshot once every partition has one. */
static cdc_sink_status_t apply_marker(cdc_sink_apply_ctx_t *c, const cdc_sink_entry_t *e)
{
    char part[16], ep[24], h0[24], nparts[16], deleted[24] = "0";
    const char *p[6] = {c->db->domain, e->source, e->table_name, ep, h0, part};
    const char *pc[6] = {c->db->domain, e->source, e->table_name, ep, h0, nparts};
    const cdc_source_t *src = cdc_config_source(c->db->conf, e->source);
    PGresult *res = NULL;
    char *target = NULL, *target_q = NULL, *sql = NULL;
    cdc_sink_status_t st;
    long n = 0;

    snprintf(part, sizeof part, "%" PRId32, c->partition);
    snprintf(ep, sizeof ep, "%" PRId64, e->epoch);
    snprintf(h0, sizeof h0, "%" PRId64, e->start_position);
    snprintf(nparts, sizeof nparts, "%d", c->db->partitions);
    if (c->stats != NULL)
        c->stats->markers++;
    /* Serializes the workers of one (domain, source, table): each sees the others' marks
     * once they committed, so exactly the last one completes the snapshot. */
    st = cdc_sink_db_status_of(cdc_sink_pg_exec(
        c->db->conn, "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2 || '/' || $3))", 3, p,
        NULL, c->errstr, c->errstr_size));
    if (st == CDC_SINK_OK)
        st = cdc_sink_db_status_of(cdc_sink_pg_exec(
            c->db->conn,
            "INSERT INTO _cdc_snapshot_marks (domain, source, source_table, epoch, h0,"
            " kpartition) VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6::int)"
            " ON CONFLICT DO NOTHING",
            6, p, NULL, c->errstr, c->errstr_size));
    if (st == CDC_SINK_OK)
        st = cdc_sink_db_status_of(cdc_sink_pg_exec(
            c->db->conn,
            "SELECT (SELECT count(DISTINCT kpartition) FROM _cdc_snapshot_marks WHERE domain = $1"
            " AND source = $2 AND source_table = $3 AND epoch = $4::bigint AND h0 = $5::bigint"
            " AND kpartition >= 0 AND kpartition < $6::int) >= $6::int"
            " AND NOT EXISTS (SELECT 1 FROM _cdc_snapshot_done WHERE domain = $1 AND source = $2"
            " AND source_table = $3 AND epoch = $4::bigint AND h0 = $5::bigint)",
            6, pc, &res, c->errstr, c->errstr_size));
    if (st != CDC_SINK_OK || strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        goto out;
    if (src == NULL) {
        cdc_log_warn("snapshot end marker of unknown source %s (table %s): not applied", e->source,
                     e->table_name);
        goto out;
    }
    target =
        cdc_asprintf("%s%s", src->table_prefix != NULL ? src->table_prefix : "", e->table_name);
    target_q = cdc_sink_pg_ident_quote(target);
    PQclear(res);
    res = NULL;
    {
        const char *q[1] = {target_q};
        st = cdc_sink_db_status_of(cdc_sink_pg_exec(c->db->conn,
                                                    "SELECT to_regclass($1) IS NOT NULL", 1, q,
                                                    &res, c->errstr, c->errstr_size));
    }
    if (st != CDC_SINK_OK)
        goto out;
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        const char *q[3] = {e->source, ep, h0};
        sql = cdc_asprintf("DELETE FROM %s WHERE \"_cdc_source\" = $1 AND"
                           " (COALESCE(\"_cdc_epoch\", " BIGINT_MIN
                           "), COALESCE(\"_cdc_pos\", " BIGINT_MIN ")) < ($2::bigint, $3::bigint)",
                           target_q);
        st = cdc_sink_db_status_of(
            cdc_sink_pg_exec_count(c->db->conn, sql, 3, q, &n, c->errstr, c->errstr_size));
        snprintf(deleted, sizeof deleted, "%ld", n);
    }
    if (st == CDC_SINK_OK) {
        char *clipped = cdc_sink_pg_ident_clip(target);
        const char *q[3] = {clipped, ep, h0};
        st = cdc_sink_db_status_of(cdc_sink_pg_exec(
            c->db->conn,
            "DELETE FROM _cdc_tombstones WHERE target_table = $1 AND (epoch, pos) <"
            " ($2::bigint, $3::bigint)",
            3, q, NULL, c->errstr, c->errstr_size));
        if (st == CDC_SINK_OK) {
            const char *d[8] = {c->db->domain, e->source, e->table_name, ep, h0,
                                clipped,       deleted,   NULL};
            st = cdc_sink_db_status_of(cdc_sink_pg_exec(
                c->db->conn,
                "INSERT INTO _cdc_snapshot_done (domain, source, source_table, epoch, h0,"
                " target_table, deleted_rows) VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6,"
                " $7::bigint)",
                7, d, NULL, c->errstr, c->errstr_size));
        }
        free(clipped);
    }
    if (st == CDC_SINK_OK)
        cdc_log_info("snapshot of source %s table %s (epoch %" PRId64 ", H0 %" PRId64
                     ") complete on all %d partitions: deleted %s older rows of %s",
                     e->source, e->table_name, e->epoch, e->start_position, c->db->partitions,
                     deleted, target);
out:
    PQclear(res);
    free(sql);
    free(target);
    free(target_q);
    return st;
}

static cdc_sink_status_t apply_heartbeats(cdc_sink_apply_ctx_t *c, const cdc_sink_batch_t *b)
{
    cdc_sink_status_t st = CDC_SINK_OK;

    for (size_t i = 0; i < b->count && st == CDC_SINK_OK; i++) {
        const cdc_sink_entry_t *e = &b->entries[i];
        char part[16], ep[24], acked[24], backlog[24], age[24], ts[24];
        const char *p[8] = {c->db->domain, e->source, part, ep, acked, backlog, age, ts};
        int newer = 0;

        if (e->kind != CDC_SINK_ENTRY_HEARTBEAT)
            continue;
        /* Only the newest heartbeat of each source in the batch is written. */
        for (size_t j = i + 1; j < b->count && !newer; j++)
            newer = b->entries[j].kind == CDC_SINK_ENTRY_HEARTBEAT &&
                    strcmp(b->entries[j].source, e->source) == 0;
        if (c->stats != NULL)
            c->stats->heartbeats++;
        if (newer)
            continue;
        snprintf(part, sizeof part, "%" PRId32, c->partition);
        snprintf(ep, sizeof ep, "%" PRId64, e->epoch);
        snprintf(acked, sizeof acked, "%" PRId64, e->acked_position);
        snprintf(backlog, sizeof backlog, "%" PRId64, e->backlog_entries);
        snprintf(age, sizeof age, "%" PRId64, e->oldest_unacked_age_ms);
        snprintf(ts, sizeof ts, "%" PRId64, e->producer_ts_ms);
        st = cdc_sink_db_status_of(cdc_sink_pg_exec(
            c->db->conn,
            "INSERT INTO _cdc_heartbeats (domain, source, kpartition, epoch, acked_position,"
            " backlog_entries, oldest_unacked_age_ms, producer_ts, seen_at)"
            " VALUES ($1, $2, $3::int, $4::bigint, $5::bigint, $6::bigint, $7::bigint,"
            " timestamptz 'epoch' + $8::bigint * interval '1 millisecond', now())"
            " ON CONFLICT (domain, source, kpartition) DO UPDATE SET epoch = EXCLUDED.epoch,"
            " acked_position = EXCLUDED.acked_position,"
            " backlog_entries = EXCLUDED.backlog_entries,"
            " oldest_unacked_age_ms = EXCLUDED.oldest_unacked_age_ms,"
            " producer_ts = EXCLUDED.producer_ts, seen_at = EXCLUDED.seen_at",
            8, p, NULL, c->errstr, c->errstr_size));
    }
    return st;
}

/* Moves the stored offset (invariant 6); *tx: the transaction's id, which is also the
 * batch_tx of the outbox rows it writes (sink_outbox.h). */
static cdc_sink_status_t fence(cdc_sink_apply_ctx_t *c, int64_t first, int64_t end, int64_t *tx)
{
    char part[16], f[24], e[24];
    const char *p[5] = {e, c->db->domain, c->topic, part, f};
    PGresult *res = NULL;
    int n = 0;
    cdc_sink_status_t st;

    snprintf(part, sizeof part, "%" PRId32, c->partition);
    snprintf(f, sizeof f, "%" PRId64, first);
    snprintf(e, sizeof e, "%" PRId64, end);
    st = cdc_sink_db_status_of(cdc_sink_pg_exec(
        c->db->conn,
        "UPDATE _cdc_offsets SET next_offset = $1::bigint, updated_at = now()"
        " WHERE domain = $2 AND topic = $3 AND kpartition = $4::int AND next_offset = $5::bigint"
        " RETURNING txid_current()",
        5, p, &res, c->errstr, c->errstr_size));
    if (st == CDC_SINK_OK) {
        n = PQntuples(res);
        *tx = n > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    }
    PQclear(res);
    if (st == CDC_SINK_OK && n == 0) {
        snprintf(c->errstr, c->errstr_size,
                 "%s [%" PRId32 "]: stored offset is no longer %" PRId64
                 ": another worker owns the partition (fenced)",
                 c->topic, c->partition, first);
        st = CDC_SINK_FENCED;
    }
    return st;
}

cdc_sink_status_t cdc_sink_apply(cdc_sink_db_t *db, const cdc_sink_batch_t *b, const char *topic,
                                 int32_t partition, int64_t first_offset, int64_t end_offset,
                                 cdc_sink_dead_letter_cb dl_cb, void *dl_opaque,
                                 cdc_sink_stats_t *stats, char *errstr, size_t errstr_size)
{
    cdc_sink_apply_ctx_t c;
    cdc_sink_status_t st;
    int64_t tx = 0;

    memset(&c, 0, sizeof c);
    c.db = db;
    c.topic = topic;
    c.partition = partition;
    c.dl_cb = dl_cb;
    c.dl_opaque = dl_opaque;
    c.stats = stats;
    c.errstr = errstr;
    c.errstr_size = errstr_size;
    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));

    st = cdc_sink_db_ensure(db, errstr, errstr_size);
    if (st != CDC_SINK_OK)
        goto out;
    /* The batch's commit must be durable whatever the server's default: with
     * synchronous_commit off, a server crash can lose a commit that readers already saw
     * (a row would move back, invariant 5, until the batch is applied again). */
    st = cdc_sink_db_status_of(cdc_sink_pg_exec(
        db->conn, "BEGIN; SET LOCAL synchronous_commit = on", 0, NULL, NULL, errstr, errstr_size));
    if (st == CDC_SINK_OK)
        st = fence(&c, first_offset, end_offset, &tx);
    if (st == CDC_SINK_OK)
        st = apply_rows(&c, b);
    for (size_t i = 0; i < b->count && st == CDC_SINK_OK; i++) {
        const cdc_sink_entry_t *e = &b->entries[i];
        if (e->kind == CDC_SINK_ENTRY_MARKER)
            st = apply_marker(&c, e);
        else if (e->kind == CDC_SINK_ENTRY_DEAD_LETTER)
            st = record_dead_letter(&c, e, e->reason);
    }
    if (st == CDC_SINK_OK)
        st = apply_heartbeats(&c, b);
    if (st == CDC_SINK_OK)
        outbox_put_aggs(&c);
    if (st == CDC_SINK_OK && c.outbox.len > 0)
        st = cdc_sink_db_status_of(cdc_sink_pg_copy(
            db->conn,
            "COPY _cdc_parity_outbox (domain, source, source_table, key, epoch, pos, op,"
            " source_hash, stored_hash, status, results) FROM STDIN",
            c.outbox.data, c.outbox.len, errstr, errstr_size));
    if (st == CDC_SINK_OK)
        st = cdc_sink_db_status_of(
            cdc_sink_pg_exec(db->conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size));
    if (st == CDC_SINK_OK && stats != NULL && c.outbox.len > 0)
        stats->outbox_tx = tx;
out:
    if (st != CDC_SINK_OK) {
        if (PQstatus(db->conn) == CONNECTION_OK && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
            PQclear(PQexec(db->conn, "ROLLBACK"));
        if (stats != NULL) {
            memset(stats, 0, sizeof(*stats));
            stats->fenced = st == CDC_SINK_FENCED;
        }
    }
    cdc_buf_free(&c.outbox);
    free(c.aggs);
    cdc_buf_free(&c.scratch);
    cdc_buf_free(&c.scratch2);
    return st;
}
