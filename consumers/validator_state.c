/*
 * validator_state: parity state, mismatches and the validator's offsets in a target
 * database (validator_state.h, docs/parity.md).
 */
#include "validator_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_hash.h"
#include "cdc_log.h"
#include "sink_db.h"
#include "sink_pg.h"

/* Serializes the DDL of concurrent validators; "cdcvalid" in hex. */
#define VALIDATOR_DDL_LOCK "SELECT pg_advisory_xact_lock(7161126552449657188)"

static const char ddl_sql[] =
    "CREATE TABLE IF NOT EXISTS _cdc_parity_state (domain text NOT NULL, source text NOT NULL,"
    " source_table text NOT NULL, rows_seen bigint NOT NULL DEFAULT 0,"
    " matches bigint NOT NULL DEFAULT 0, superseded bigint NOT NULL DEFAULT 0,"
    " mismatches bigint NOT NULL DEFAULT 0, dead_letters bigint NOT NULL DEFAULT 0,"
    " last_epoch bigint, last_pos bigint, updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (domain, source, source_table));"
    "CREATE TABLE IF NOT EXISTS _cdc_parity_mismatches (id bigserial PRIMARY KEY,"
    " domain text NOT NULL, source text NOT NULL, source_table text NOT NULL,"
    " key bytea NOT NULL, key_json text, op char(1), epoch bigint, pos bigint,"
    " source_hash bytea, stored_hash bytea, batch_id bigint,"
    " seen_at timestamptz NOT NULL DEFAULT now(), resolved_at timestamptz);"
    "CREATE INDEX IF NOT EXISTS _cdc_parity_mismatches_table ON _cdc_parity_mismatches"
    " (domain, source, source_table);"
    "CREATE TABLE IF NOT EXISTS _cdc_validator_offsets (domain text NOT NULL,"
    " topic text NOT NULL, kpartition int NOT NULL, next_offset bigint NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (domain, topic, kpartition));"
    "CREATE TABLE IF NOT EXISTS _cdc_validator_seen (domain text NOT NULL,"
    " batch_id bigint NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (domain, batch_id));";

struct cdc_vstate_s {
    PGconn *conn;
    const char *const *domains;
    size_t ndomains;
};

/* Per (domain, source, table) sums of one apply. */
typedef struct acc_s {
    size_t domain;
    cdc_avro_str_t source, table;
    int64_t rows, matches, superseded, mismatches, dead_letters;
    int has_last;
    int64_t last_epoch, last_pos;
} acc_t;

static cdc_sink_status_t status_of(cdc_sink_pg_class_t cls)
{
    return cdc_sink_db_status_of(cls);
}

static cdc_sink_status_t ensure(cdc_vstate_t *s, char *errstr, size_t errstr_size)
{
    if (PQstatus(s->conn) == CONNECTION_OK) {
        if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
            PQclear(PQexec(s->conn, "ROLLBACK"));
        if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) == PQTRANS_IDLE)
            return CDC_SINK_OK;
    }
    cdc_log_warn("validator: connection to PostgreSQL lost, reconnecting");
    return cdc_sink_pg_reset(s->conn, errstr, errstr_size) == 0 ? CDC_SINK_OK : CDC_SINK_RETRIABLE;
}

cdc_sink_status_t cdc_vstate_open(const char *conninfo, const char *const *domains, size_t ndomains,
                                  cdc_vstate_t **out, char *errstr, size_t errstr_size)
{
    cdc_vstate_t *s = cdc_calloc(1, sizeof(*s));
    cdc_sink_pg_class_t cls;

    *out = NULL;
    s->domains = domains;
    s->ndomains = ndomains;
    s->conn = cdc_sink_pg_connect(conninfo, errstr, errstr_size);
    if (!s->conn) {
        free(s);
        return CDC_SINK_RETRIABLE;
    }
    cls = cdc_sink_pg_exec(s->conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = cdc_sink_pg_exec(s->conn, VALIDATOR_DDL_LOCK, 0, NULL, NULL, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = cdc_sink_pg_exec(s->conn, ddl_sql, 0, NULL, NULL, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = cdc_sink_pg_exec(s->conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK) {
        cdc_vstate_close(s);
        return cls == CDC_SINK_PG_RETRIABLE ? CDC_SINK_RETRIABLE : CDC_SINK_FATAL;
    }
    *out = s;
    return CDC_SINK_OK;
}

void cdc_vstate_close(cdc_vstate_t *s)
{
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

size_t cdc_vstate_ndomains(const cdc_vstate_t *s)
{
    return s->ndomains;
}

const char *cdc_vstate_domain(const cdc_vstate_t *s, size_t i)
{
    return s->domains[i];
}

cdc_sink_status_t cdc_vstate_claim(cdc_vstate_t *s, size_t domain, const char *topic,
                                   int32_t partition, int64_t *next_out, char *errstr,
                                   size_t errstr_size)
{
    char part[16];
    const char *p[3] = {s->domains[domain], topic, part};
    PGresult *res = NULL;
    cdc_sink_status_t st = ensure(s, errstr, errstr_size);

    snprintf(part, sizeof part, "%" PRId32, partition);
    if (st == CDC_SINK_OK)
        st = status_of(cdc_sink_pg_exec(
            s->conn,
            "INSERT INTO _cdc_validator_offsets (domain, topic, kpartition, next_offset)"
            " VALUES ($1, $2, $3::int, 0) ON CONFLICT DO NOTHING",
            3, p, NULL, errstr, errstr_size));
    if (st == CDC_SINK_OK)
        st = status_of(cdc_sink_pg_exec(
            s->conn,
            "SELECT next_offset FROM _cdc_validator_offsets WHERE domain = $1 AND topic = $2"
            " AND kpartition = $3::int",
            3, p, &res, errstr, errstr_size));
    if (st == CDC_SINK_OK) {
        if (PQntuples(res) != 1) {
            snprintf(errstr, errstr_size, "_cdc_validator_offsets has no row for %s %s [%d]",
                     s->domains[domain], topic, (int)partition);
            st = CDC_SINK_RETRIABLE;
        } else {
            *next_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }
    }
    PQclear(res);
    return st;
}

static char *str_dup(cdc_avro_str_t s)
{
    char *r = cdc_malloc(s.len + 1);
    if (s.len)
        memcpy(r, s.p, s.len);
    r[s.len] = '\0';
    return r;
}

static int str_eq(cdc_avro_str_t a, cdc_avro_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static acc_t *acc_find(acc_t **accs, size_t *nacc, size_t *cap, size_t domain,
                       const cdc_parity_rec_t *r)
{
    for (size_t i = 0; i < *nacc; i++)
        if ((*accs)[i].domain == domain && str_eq((*accs)[i].source, r->source) &&
            str_eq((*accs)[i].table, r->table))
            return &(*accs)[i];
    if (*nacc == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *accs = cdc_realloc(*accs, *cap * sizeof(**accs));
    }
    acc_t *a = &(*accs)[(*nacc)++];
    memset(a, 0, sizeof(*a));
    a->domain = domain;
    a->source = r->source;
    a->table = r->table;
    return a;
}

/* Inserts one mismatch row and logs it (error level: a person must look at it). */
static cdc_sink_status_t mismatch(cdc_vstate_t *s, size_t domain, const cdc_parity_rec_t *r,
                                  const cdc_parity_entry_t *e, char *errstr, size_t errstr_size)
{
    char ep[24], pos[24], bid[24], op[2] = {e->op, 0};
    char *src = str_dup(r->source), *tbl = str_dup(r->table);
    char *kj = e->key_json.p ? str_dup(e->key_json) : NULL;
    char *key = cdc_hash_bytea_text(e->key, e->key_len);
    char *sh = e->source_hash ? cdc_hash_bytea_text(e->source_hash, e->source_hash_len) : NULL;
    char *th = e->stored_hash ? cdc_hash_bytea_text(e->stored_hash, e->stored_hash_len) : NULL;
    const char *p[11] = {
        s->domains[domain],      src, tbl, key, kj, e->op ? op : NULL, e->has_pos ? ep : NULL,
        e->has_pos ? pos : NULL, sh,  th,  bid};
    cdc_sink_status_t st;

    snprintf(ep, sizeof ep, "%" PRId64, e->epoch);
    snprintf(pos, sizeof pos, "%" PRId64, e->pos);
    snprintf(bid, sizeof bid, "%" PRId64, r->batch_id);
    cdc_log_error("parity MISMATCH: domain %s source %s table %s key %s position %s:%s: "
                  "source row hash %s, stored row hash %s",
                  s->domains[domain], src, tbl, kj ? kj : key, e->has_pos ? ep : "?",
                  e->has_pos ? pos : "?", sh ? sh + 2 : "null", th ? th + 2 : "null");
    st = status_of(cdc_sink_pg_exec(
        s->conn,
        "INSERT INTO _cdc_parity_mismatches (domain, source, source_table, key, key_json, op,"
        " epoch, pos, source_hash, stored_hash, batch_id) VALUES ($1, $2, $3, $4::bytea, $5, $6,"
        " $7::bigint, $8::bigint, $9::bytea, $10::bytea, $11::bigint)",
        11, p, NULL, errstr, errstr_size));
    free(src);
    free(tbl);
    free(kj);
    free(key);
    free(sh);
    free(th);
    return st;
}

/* Counts record r of domain unless its batch id was seen; *dup is set when it was. */
static cdc_sink_status_t count_record(cdc_vstate_t *s, size_t domain, const cdc_parity_rec_t *r,
                                      acc_t **accs, size_t *nacc, size_t *cap, int *dup,
                                      char *errstr, size_t errstr_size)
{
    char bid[24];
    const char *p[2] = {s->domains[domain], bid};
    long n = 0;
    cdc_sink_status_t st;

    snprintf(bid, sizeof bid, "%" PRId64, r->batch_id);
    st = status_of(cdc_sink_pg_exec_count(s->conn,
                                          "INSERT INTO _cdc_validator_seen (domain, batch_id)"
                                          " VALUES ($1, $2::bigint) ON CONFLICT DO NOTHING",
                                          2, p, &n, errstr, errstr_size));
    *dup = st == CDC_SINK_OK && n == 0;
    if (st != CDC_SINK_OK || *dup)
        return st;
    acc_t *a = acc_find(accs, nacc, cap, domain, r);
    a->rows += r->rows;
    a->matches += r->matches;
    a->superseded += r->superseded;
    a->mismatches += r->mismatches;
    a->dead_letters += r->dead_letters;
    if (r->has_last && (!a->has_last || r->last_epoch > a->last_epoch ||
                        (r->last_epoch == a->last_epoch && r->last_pos > a->last_pos))) {
        a->has_last = 1;
        a->last_epoch = r->last_epoch;
        a->last_pos = r->last_pos;
    }
    for (size_t i = 0; i < r->nentries && st == CDC_SINK_OK; i++) {
        const cdc_parity_entry_t *e = &r->entries[i];
        if (e->status.len == 8 && memcmp(e->status.p, "mismatch", 8) == 0)
            st = mismatch(s, domain, r, e, errstr, errstr_size);
    }
    return st;
}

static cdc_sink_status_t upsert_state(cdc_vstate_t *s, const acc_t *a, char *errstr,
                                      size_t errstr_size)
{
    char v[5][24], le[24], lp[24];
    char *src = str_dup(a->source), *tbl = str_dup(a->table);
    const char *p[10] = {
        s->domains[a->domain],  src, tbl, v[0], v[1], v[2], v[3], v[4], a->has_last ? le : NULL,
        a->has_last ? lp : NULL};
    cdc_sink_status_t st;

    snprintf(v[0], sizeof v[0], "%" PRId64, a->rows);
    snprintf(v[1], sizeof v[1], "%" PRId64, a->matches);
    snprintf(v[2], sizeof v[2], "%" PRId64, a->superseded);
    snprintf(v[3], sizeof v[3], "%" PRId64, a->mismatches);
    snprintf(v[4], sizeof v[4], "%" PRId64, a->dead_letters);
    snprintf(le, sizeof le, "%" PRId64, a->last_epoch);
    snprintf(lp, sizeof lp, "%" PRId64, a->last_pos);
    /* The last position only moves forward (a record of an older batch can arrive after a
     * newer one from another sink worker). */
    st = status_of(cdc_sink_pg_exec(
        s->conn,
        "INSERT INTO _cdc_parity_state AS s (domain, source, source_table, rows_seen, matches,"
        " superseded, mismatches, dead_letters, last_epoch, last_pos, updated_at)"
        " VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint,"
        " $9::bigint, $10::bigint, now())"
        " ON CONFLICT (domain, source, source_table) DO UPDATE SET"
        " rows_seen = s.rows_seen + EXCLUDED.rows_seen, matches = s.matches + EXCLUDED.matches,"
        " superseded = s.superseded + EXCLUDED.superseded,"
        " mismatches = s.mismatches + EXCLUDED.mismatches,"
        " dead_letters = s.dead_letters + EXCLUDED.dead_letters,"
        " last_epoch = CASE WHEN s.last_epoch IS NULL OR (EXCLUDED.last_epoch, EXCLUDED.last_pos)"
        " > (s.last_epoch, s.last_pos) THEN EXCLUDED.last_epoch ELSE s.last_epoch END,"
        " last_pos = CASE WHEN s.last_epoch IS NULL OR (EXCLUDED.last_epoch, EXCLUDED.last_pos)"
        " > (s.last_epoch, s.last_pos) THEN EXCLUDED.last_pos ELSE s.last_pos END,"
        " updated_at = now()",
        10, p, NULL, errstr, errstr_size));
    free(src);
    free(tbl);
    return st;
}

static cdc_sink_status_t fence(cdc_vstate_t *s, size_t domain, const char *topic, int32_t partition,
                               int64_t from, int64_t end, char *errstr, size_t errstr_size)
{
    char part[16], f[24], e[24];
    const char *p[5] = {e, s->domains[domain], topic, part, f};
    long n = 0;
    cdc_sink_status_t st;

    snprintf(part, sizeof part, "%" PRId32, partition);
    snprintf(f, sizeof f, "%" PRId64, from);
    snprintf(e, sizeof e, "%" PRId64, end);
    st = status_of(cdc_sink_pg_exec_count(
        s->conn,
        "UPDATE _cdc_validator_offsets SET next_offset = $1::bigint, updated_at = now()"
        " WHERE domain = $2 AND topic = $3 AND kpartition = $4::int AND next_offset = $5::bigint",
        5, p, &n, errstr, errstr_size));
    if (st == CDC_SINK_OK && n == 0) {
        snprintf(errstr, errstr_size,
                 "%s [%d], domain %s: stored offset is no longer %" PRId64
                 ": another validator owns the partition (fenced)",
                 topic, (int)partition, s->domains[domain], from);
        st = CDC_SINK_FENCED;
    }
    return st;
}

cdc_sink_status_t cdc_vstate_apply(cdc_vstate_t *s, const char *topic, int32_t partition,
                                   int64_t end, int64_t *next, const cdc_vstate_rec_t *recs,
                                   size_t n, cdc_vstate_stats_t *stats, char *errstr,
                                   size_t errstr_size)
{
    acc_t *accs = NULL;
    size_t nacc = 0, cap = 0;
    cdc_vstate_stats_t st_local;
    int moved = 0;
    cdc_sink_status_t st = ensure(s, errstr, errstr_size);

    memset(&st_local, 0, sizeof st_local);
    for (size_t d = 0; d < s->ndomains; d++)
        moved |= next[d] < end;
    if (st != CDC_SINK_OK || !moved)
        goto out; /* every record of the batch is applied already */
    st = status_of(cdc_sink_pg_exec(s->conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size));
    for (size_t d = 0; d < s->ndomains && st == CDC_SINK_OK; d++)
        if (next[d] < end)
            st = fence(s, d, topic, partition, next[d], end, errstr, errstr_size);
    for (size_t i = 0; i < n && st == CDC_SINK_OK; i++) {
        const cdc_vstate_rec_t *r = &recs[i];
        int dup = 0;
        if (r->offset < next[r->domain])
            continue;
        st = count_record(s, (size_t)r->domain, r->rec, &accs, &nacc, &cap, &dup, errstr,
                          errstr_size);
        if (dup) {
            st_local.duplicates++;
            cdc_log_debug("%s [%d] offset %" PRId64 ": batch %" PRId64
                          " of domain %s counted before (published twice), skipped",
                          topic, (int)partition, r->offset, r->rec->batch_id,
                          s->domains[r->domain]);
            continue;
        }
        st_local.records++;
        st_local.rows += (uint64_t)r->rec->rows;
        st_local.matches += (uint64_t)r->rec->matches;
        st_local.superseded += (uint64_t)r->rec->superseded;
        st_local.mismatches += (uint64_t)r->rec->mismatches;
        st_local.dead_letters += (uint64_t)r->rec->dead_letters;
    }
    for (size_t i = 0; i < nacc && st == CDC_SINK_OK; i++)
        st = upsert_state(s, &accs[i], errstr, errstr_size);
    if (st == CDC_SINK_OK)
        st = status_of(cdc_sink_pg_exec(s->conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size));
    if (st != CDC_SINK_OK) {
        if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
            PQclear(PQexec(s->conn, "ROLLBACK"));
        goto out;
    }
    for (size_t d = 0; d < s->ndomains; d++)
        if (next[d] < end)
            next[d] = end;
    if (stats) {
        stats->records += st_local.records;
        stats->duplicates += st_local.duplicates;
        stats->rows += st_local.rows;
        stats->matches += st_local.matches;
        stats->superseded += st_local.superseded;
        stats->mismatches += st_local.mismatches;
        stats->dead_letters += st_local.dead_letters;
    }
out:
    free(accs);
    return st;
}

void cdc_vstate_prune(cdc_vstate_t *s)
{
    char err[512];
    cdc_buf_t arr = CDC_BUF_INIT;
    PGresult *res = NULL;
    long n = 0;

    if (ensure(s, err, sizeof err) != CDC_SINK_OK)
        goto fail;
    /* Without an outbox in this database no sink ever published here: nothing to prune
     * safely against. */
    if (cdc_sink_pg_exec(s->conn, "SELECT to_regclass('_cdc_parity_outbox') IS NOT NULL", 0, NULL,
                         &res, err, sizeof err) != CDC_SINK_PG_OK)
        goto fail;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        goto out;
    cdc_buf_put_byte(&arr, '{');
    for (size_t i = 0; i < s->ndomains; i++) {
        if (i > 0)
            cdc_buf_put_byte(&arr, ',');
        cdc_buf_put_byte(&arr, '"');
        for (const char *c = s->domains[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                cdc_buf_put_byte(&arr, '\\');
            cdc_buf_put_byte(&arr, (unsigned char)*c);
        }
        cdc_buf_put_byte(&arr, '"');
    }
    cdc_buf_put_byte(&arr, '}');
    {
        /* A record can be published again only while its rows are unsent (the row whose id
         * is the batch id is one of them); once sent or deleted, its seen entry is moot. */
        const char *p[1] = {cdc_buf_cstr(&arr)};
        if (cdc_sink_pg_exec_count(s->conn,
                                   "DELETE FROM _cdc_validator_seen v WHERE v.domain = ANY($1)"
                                   " AND NOT EXISTS (SELECT 1 FROM _cdc_parity_outbox o"
                                   " WHERE o.id = v.batch_id AND NOT o.sent)",
                                   1, p, &n, err, sizeof err) != CDC_SINK_PG_OK)
            goto fail;
    }
    if (n > 0)
        cdc_log_debug("validator: %ld seen batch ids forgotten", n);
    goto out;
fail:
    cdc_log_warn("validator: pruning _cdc_validator_seen: %s", err);
out:
    PQclear(res);
    cdc_buf_free(&arr);
}
