/*
 * sink_schema: metadata tables and target tables (see sink_schema.h).
 */
#include "sink_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_avro_schema.h"
#include "cdc_buf.h"
#include "cdc_log.h"

/* Serializes DDL of concurrent workers (CREATE TABLE IF NOT EXISTS still races on the
 * catalog's unique indexes). Any constant works; this one spells "cdcsink" in hex. */
#define SINK_DDL_LOCK "SELECT pg_advisory_xact_lock(28266710541855595)"

static const char metadata_sql[] =
    "CREATE TABLE IF NOT EXISTS _cdc_offsets (domain text NOT NULL, topic text NOT NULL,"
    " kpartition int NOT NULL, next_offset bigint NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (domain, topic, kpartition));"
    "CREATE TABLE IF NOT EXISTS _cdc_tombstones (target_table text NOT NULL, key bytea NOT NULL,"
    " epoch bigint NOT NULL, pos bigint NOT NULL, PRIMARY KEY (target_table, key));"
    "CREATE TABLE IF NOT EXISTS _cdc_snapshot_marks (domain text NOT NULL, source text NOT NULL,"
    " source_table text NOT NULL, epoch bigint NOT NULL, h0 bigint NOT NULL,"
    " kpartition int NOT NULL, marked_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (domain, source, source_table, epoch, h0, kpartition));"
    "CREATE TABLE IF NOT EXISTS _cdc_snapshot_done (domain text NOT NULL, source text NOT NULL,"
    " source_table text NOT NULL, epoch bigint NOT NULL, h0 bigint NOT NULL,"
    " target_table text NOT NULL, deleted_rows bigint NOT NULL,"
    " done_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (domain, source, source_table, epoch, h0));"
    "CREATE INDEX IF NOT EXISTS _cdc_snapshot_done_target ON _cdc_snapshot_done"
    " (target_table, epoch, h0);"
    "CREATE TABLE IF NOT EXISTS _cdc_parity_outbox (id bigserial PRIMARY KEY,"
    " domain text NOT NULL, source text, source_table text, key bytea, epoch bigint,"
    " pos bigint, op char(1), source_hash bytea, stored_hash bytea, status text NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(), sent boolean NOT NULL DEFAULT false,"
    " results int NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS _cdc_parity_outbox_unsent ON _cdc_parity_outbox (id)"
    " WHERE NOT sent;"
    /* Results a row stands for (docs/parity.md "Outbox layout"); rows of older sinks
     * were one result each. Checked first: ALTER TABLE locks even when it is a no-op. */
    "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid ="
    " '_cdc_parity_outbox'::regclass AND attname = 'results' AND NOT attisdropped) THEN"
    " ALTER TABLE _cdc_parity_outbox ADD COLUMN results int NOT NULL DEFAULT 1; END IF; END$$;"
    "CREATE TABLE IF NOT EXISTS _cdc_dead_letters (id bigserial PRIMARY KEY,"
    " domain text NOT NULL, topic text, kpartition int, koffset bigint, source text,"
    " source_table text, key bytea, epoch bigint, pos bigint, reason text NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(), resolved_at timestamptz);"
    "CREATE INDEX IF NOT EXISTS _cdc_dead_letters_open ON _cdc_dead_letters"
    " (domain, source, source_table, key) WHERE resolved_at IS NULL;"
    "CREATE TABLE IF NOT EXISTS _cdc_heartbeats (domain text NOT NULL, source text NOT NULL,"
    " kpartition int NOT NULL, epoch bigint, acked_position bigint, backlog_entries bigint,"
    " oldest_unacked_age_ms bigint, producer_ts timestamptz, seen_at timestamptz,"
    " PRIMARY KEY (domain, source, kpartition));"
    "CREATE TABLE IF NOT EXISTS _cdc_cutover (domain text PRIMARY KEY,"
    " cut_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS _cdc_tables (target_table text PRIMARY KEY,"
    " domain text NOT NULL, source text NOT NULL, source_table text NOT NULL,"
    " full_name text NOT NULL, registered_at timestamptz NOT NULL DEFAULT now());"
    /* The column history (sink_schema_evolve.c); added to tables of older sinks. */
    "ALTER TABLE _cdc_tables ADD COLUMN IF NOT EXISTS source_columns jsonb;";

/* The DDL work of one transaction (metadata tables, one target table). */
typedef cdc_sink_pg_class_t (*ddl_fn)(PGconn *conn, void *arg, char *errstr, size_t errstr_size);

/* Runs fn inside BEGIN, the DDL lock and COMMIT; rolls back on any failure. A data error
 * here is not about a record (nothing to isolate), so PERMANENT becomes FATAL. */
static cdc_sink_pg_class_t ddl_tx(PGconn *conn, ddl_fn fn, void *arg, char *errstr,
                                  size_t errstr_size)
{
    cdc_sink_pg_class_t cls;

    cls = cdc_sink_pg_exec(conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = cdc_sink_pg_exec(conn, SINK_DDL_LOCK, 0, NULL, NULL, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = fn(conn, arg, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = cdc_sink_pg_exec(conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK) {
        PQclear(PQexec(conn, "ROLLBACK"));
        if (cls == CDC_SINK_PG_PERMANENT)
            cls = CDC_SINK_PG_FATAL;
    }
    return cls;
}

static cdc_sink_pg_class_t create_metadata(PGconn *conn, void *arg, char *errstr,
                                           size_t errstr_size)
{
    (void)arg;
    return cdc_sink_pg_exec(conn, metadata_sql, 0, NULL, NULL, errstr, errstr_size);
}

cdc_sink_pg_class_t cdc_sink_schema_metadata(PGconn *conn, char *errstr, size_t errstr_size)
{
    return ddl_tx(conn, create_metadata, NULL, errstr, errstr_size);
}

void cdc_sink_schema_pg_type(const cdc_col_type_t *t, char *out, size_t out_size)
{
    switch (t->kind) {
    case CDC_COL_LONG:
        snprintf(out, out_size, "bigint");
        break;
    case CDC_COL_DOUBLE:
        snprintf(out, out_size, "double precision");
        break;
    case CDC_COL_DECIMAL:
        snprintf(out, out_size, "numeric(%d,%d)", t->precision, t->scale);
        break;
    case CDC_COL_NUMERIC:
        snprintf(out, out_size, "numeric");
        break;
    case CDC_COL_BOOLEAN:
        snprintf(out, out_size, "boolean");
        break;
    case CDC_COL_TIMESTAMP:
        snprintf(out, out_size, "timestamptz");
        break;
    case CDC_COL_DATE:
        snprintf(out, out_size, "date");
        break;
    case CDC_COL_TEXT:
        if (t->max_length > 0)
            snprintf(out, out_size, "varchar(%d)", t->max_length);
        else
            snprintf(out, out_size, "text");
        break;
    case CDC_COL_JSON:
        snprintf(out, out_size, "jsonb");
        break;
    case CDC_COL_BLOB:
        snprintf(out, out_size, "bytea");
        break;
    }
}

static int is_cdc_column(const char *clipped)
{
    return strcmp(clipped, CDC_SINK_COL_SOURCE) == 0 || strcmp(clipped, CDC_SINK_COL_EPOCH) == 0 ||
           strcmp(clipped, CDC_SINK_COL_POS) == 0 || strcmp(clipped, CDC_SINK_COL_SYNCED_AT) == 0;
}

void cdc_sink_schema_table_free(cdc_sink_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->col_q[i]);
        free(t->cast_type[i]);
    }
    cdc_avro_schema_columns_free(t->cols, t->ncols);
    free(t->col_q);
    free(t->cast_type);
    free(t->key_cols);
    free(t->unique_key);
    free(t->conflict);
    free(t->refused);
    free(t->dropped);
    free(t->source);
    free(t->table);
    free(t->target_full);
    free(t->target);
    free(t->target_q);
    free(t);
}

cdc_sink_table_t *cdc_sink_schema_table_new(const cdc_config_t *conf, const char *domain,
                                            const char *source, const char *table,
                                            const cdc_column_t *cols, size_t ncols, char *errstr,
                                            size_t errstr_size)
{
    const cdc_source_t *src = cdc_config_source(conf, source);
    const cdc_domain_t *dom = cdc_config_domain(conf, domain);
    cdc_sink_table_t *t = NULL;

    if (src == NULL) {
        snprintf(errstr, errstr_size, "record of source %s (table %s) but no such source in %s",
                 source, table, conf->path != NULL ? conf->path : "the config");
        goto fail;
    }
    if (strcmp(src->domain, domain) != 0) {
        snprintf(errstr, errstr_size,
                 "record of source %s (table %s) on domain %s, but the config puts %s in domain "
                 "%s",
                 source, table, domain, source, src->domain);
        goto fail;
    }
    t = cdc_calloc(1, sizeof(*t));
    t->auto_evolve = dom == NULL || dom->auto_evolve;
    t->source = cdc_strdup(source);
    t->table = cdc_strdup(table);
    t->target_full =
        cdc_asprintf("%s%s", src->table_prefix != NULL ? src->table_prefix : "", table);
    t->target = cdc_sink_pg_ident_clip(t->target_full);
    t->target_q = cdc_sink_pg_ident_quote(t->target_full);
    t->cols = cdc_calloc(ncols > 0 ? ncols : 1, sizeof(*t->cols));
    t->col_q = cdc_calloc(ncols > 0 ? ncols : 1, sizeof(char *));
    t->cast_type = cdc_calloc(ncols > 0 ? ncols : 1, sizeof(char *));
    t->key_cols = cdc_calloc(ncols > 0 ? ncols : 1, sizeof(size_t));
    for (size_t i = 0; i < src->target_unique_keys.count && t->unique_key == NULL; i++)
        if (strcmp(src->target_unique_keys.items[i].key, table) == 0)
            t->unique_key = cdc_strdup(src->target_unique_keys.items[i].value);
    t->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        t->cols[i] = cols[i];
        t->cols[i].name = cdc_strdup(cols[i].name);
        t->cols[i].avro_name = cols[i].avro_name != NULL ? cdc_strdup(cols[i].avro_name) : NULL;
        t->cols[i].decl_type = cols[i].decl_type != NULL ? cdc_strdup(cols[i].decl_type) : NULL;
        t->col_q[i] = cdc_sink_pg_ident_quote(cols[i].name);
        if (cols[i].pk_index > 0)
            t->nkeys++;
    }
    if (t->nkeys == 0) {
        snprintf(errstr, errstr_size, "table %s of source %s: the schema has no key column", table,
                 source);
        goto fail;
    }
    for (size_t i = 0; i < ncols; i++) {
        size_t li = cdc_sink_pg_ident_len(cols[i].name);
        if (cols[i].pk_index > 0) {
            if ((size_t)cols[i].pk_index > t->nkeys) {
                snprintf(errstr, errstr_size, "table %s of source %s: key positions are not 1..%zu",
                         table, source, t->nkeys);
                goto fail;
            }
            t->key_cols[cols[i].pk_index - 1] = i;
        }
        if (li == strlen(CDC_SINK_COL_SOURCE) || li == strlen(CDC_SINK_COL_SYNCED_AT) ||
            li == strlen(CDC_SINK_COL_POS)) {
            char *c = cdc_strndup(cols[i].name, li);
            int reserved = is_cdc_column(c);
            free(c);
            if (reserved) {
                snprintf(errstr, errstr_size,
                         "table %s of source %s: column %s has the name of a column the sink adds",
                         table, source, cols[i].name);
                goto fail;
            }
        }
        for (size_t j = 0; j < i; j++) {
            size_t lj = cdc_sink_pg_ident_len(cols[j].name);
            if (li == lj && memcmp(cols[i].name, cols[j].name, li) == 0) {
                snprintf(errstr, errstr_size,
                         "table %s of source %s: columns \"%s\" and \"%s\" are the same name in "
                         "PostgreSQL (identifiers are truncated to %d bytes)",
                         table, source, cols[j].name, cols[i].name, CDC_SINK_PG_IDENT_MAX);
                goto fail;
            }
        }
    }
    return t;
fail:
    cdc_sink_schema_table_free(t);
    return NULL;
}

int cdc_sink_schema_table_matches(const cdc_sink_table_t *t, const char *source, const char *table,
                                  const cdc_column_t *cols, size_t ncols)
{
    if (strcmp(t->source, source) != 0 || strcmp(t->table, table) != 0 || t->ncols != ncols)
        return 0;
    for (size_t i = 0; i < ncols; i++) {
        const cdc_column_t *a = &t->cols[i], *b = &cols[i];
        if (strcmp(a->name, b->name) != 0 || a->type.kind != b->type.kind ||
            a->type.precision != b->type.precision || a->type.scale != b->type.scale ||
            a->type.max_length != b->type.max_length || a->pk_index != b->pk_index ||
            a->not_null != b->not_null)
            return 0;
    }
    return 1;
}

/* Registers the name or finds who holds it. */
static cdc_sink_pg_class_t register_name(PGconn *conn, const char *domain, cdc_sink_table_t *t,
                                         char *errstr, size_t errstr_size)
{
    const char *params[5] = {t->target, domain, t->source, t->table, t->target_full};
    PGresult *res = NULL;
    cdc_sink_pg_class_t cls;

    cls = cdc_sink_pg_exec(conn,
                           "SELECT domain, source, source_table, full_name FROM _cdc_tables"
                           " WHERE target_table = $1",
                           1, params, &res, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK)
        return cls;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return cdc_sink_pg_exec(conn,
                                "INSERT INTO _cdc_tables (target_table, domain, source,"
                                " source_table, full_name) VALUES ($1, $2, $3, $4, $5)",
                                5, params, NULL, errstr, errstr_size);
    }
    if (strcmp(PQgetvalue(res, 0, 0), domain) != 0 ||
        strcmp(PQgetvalue(res, 0, 1), t->source) != 0 ||
        strcmp(PQgetvalue(res, 0, 2), t->table) != 0) {
        snprintf(errstr, errstr_size,
                 "target table %s: already written by domain %s source %s table %s (name %s); "
                 "refusing domain %s source %s table %s (name %s)%s: give one source a "
                 "table_prefix",
                 t->target, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                 PQgetvalue(res, 0, 3), domain, t->source, t->table, t->target_full,
                 strcmp(PQgetvalue(res, 0, 3), t->target_full) != 0
                     ? " (the names are equal after PostgreSQL's 63-byte truncation)"
                     : "");
        cls = CDC_SINK_PG_FATAL;
    }
    PQclear(res);
    return cls;
}

static cdc_sink_pg_class_t create_table(PGconn *conn, cdc_sink_table_t *t, char *errstr,
                                        size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    char type[64];
    cdc_sink_pg_class_t cls;

    cdc_buf_printf(&sql, "CREATE TABLE %s (", t->target_q);
    for (size_t i = 0; i < t->ncols; i++) {
        cdc_sink_schema_pg_type(&t->cols[i].type, type, sizeof type);
        cdc_buf_printf(&sql, "%s %s, ", t->col_q[i], type);
    }
    /* Only the primary key while streaming (invariant 7): NOT NULL, CHECK, UNIQUE and
     * foreign keys are the cutover's business. */
    cdc_buf_printf(&sql,
                   "\"" CDC_SINK_COL_SOURCE "\" text, \"" CDC_SINK_COL_EPOCH "\" bigint, "
                   "\"" CDC_SINK_COL_POS "\" bigint, \"" CDC_SINK_COL_SYNCED_AT "\" timestamptz, "
                   "PRIMARY KEY (");
    for (size_t k = 0; k < t->nkeys; k++)
        cdc_buf_printf(&sql, "%s%s", k > 0 ? ", " : "", t->col_q[t->key_cols[k]]);
    cdc_buf_put_str(&sql, "))");
    cls = cdc_sink_pg_exec(conn, cdc_buf_cstr(&sql), 0, NULL, NULL, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cdc_log_info("created target table %s for source %s table %s", t->target, t->source,
                     t->table);
    cdc_buf_free(&sql);
    return cls;
}

/* 1 when the attname rows of res (column 0) are the source key columns as a set. */
static int is_source_key(const cdc_sink_table_t *t, PGresult *res)
{
    int n = PQntuples(res), ok = (size_t)n == t->nkeys;

    for (int r = 0; ok && r < n; r++) {
        int found = 0;
        for (size_t k = 0; k < t->nkeys && !found; k++) {
            const char *name = t->cols[t->key_cols[k]].name;
            size_t len = cdc_sink_pg_ident_len(name);
            found = strlen(PQgetvalue(res, r, 0)) == len &&
                    memcmp(PQgetvalue(res, r, 0), name, len) == 0;
        }
        ok = found;
    }
    return ok;
}

/* "a, b" of the attname rows of res, or "none". */
static void put_names(cdc_buf_t *b, PGresult *res)
{
    for (int r = 0; r < PQntuples(res); r++)
        cdc_buf_printf(b, "%s%s", r > 0 ? ", " : "", PQgetvalue(res, r, 0));
    if (PQntuples(res) == 0)
        cdc_buf_put_str(b, "none");
}

/* The unique constraint or index t->unique_key of the target table, if usable by ON CONFLICT
 * (not partial, no expressions, not deferrable, valid): its columns and whether it is a
 * constraint. A constraint's index has the constraint's name, so either name matches. */
static const char unique_sql[] =
    "SELECT a.attname, con.oid IS NOT NULL FROM pg_index i"
    " JOIN pg_class ic ON ic.oid = i.indexrelid"
    " LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
    " AND con.contype IN ('u', 'p')"
    " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
    " WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid AND i.indimmediate"
    " AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = i.indnatts"
    " AND (ic.relname = $2 OR con.conname = $2)";

/* A pre-created table must have the source key as its primary key (as a set), or as the
 * unique constraint/index the config names (target_unique_keys): the upsert's conflict
 * target. Its own primary key is then filled by its default. */
static cdc_sink_pg_class_t check_key(PGconn *conn, cdc_sink_table_t *t, char *errstr,
                                     size_t errstr_size)
{
    const char *params[2] = {t->target_q, t->unique_key};
    PGresult *res = NULL, *ures = NULL;
    cdc_buf_t want = CDC_BUF_INIT, have = CDC_BUF_INIT, uniq = CDC_BUF_INIT;
    cdc_sink_pg_class_t cls;

    free(t->conflict);
    t->conflict = NULL;
    cls = cdc_sink_pg_exec(conn,
                           "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                           " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                           " WHERE i.indrelid = $1::regclass AND i.indisprimary",
                           1, params, &res, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK || is_source_key(t, res))
        goto out;
    if (t->unique_key != NULL) {
        cls = cdc_sink_pg_exec(conn, unique_sql, 2, params, &ures, errstr, errstr_size);
        if (cls != CDC_SINK_PG_OK)
            goto out;
        if (is_source_key(t, ures)) {
            if (strcmp(PQgetvalue(ures, 0, 1), "t") == 0) {
                char *q = cdc_sink_pg_ident_quote(t->unique_key);
                t->conflict = cdc_asprintf("ON CONSTRAINT %s", q);
                free(q);
            }
            cdc_log_info("pre-created target table %s: upserts on unique key %s", t->target,
                         t->unique_key);
            goto out;
        }
    }
    for (size_t k = 0; k < t->nkeys; k++)
        cdc_buf_printf(&want, "%s%s", k > 0 ? ", " : "", t->cols[t->key_cols[k]].name);
    put_names(&have, res);
    if (t->unique_key == NULL)
        cdc_buf_printf(&uniq,
                       "; set target_unique_keys: {%s: <name>} of source %s to a UNIQUE "
                       "constraint or unique index over (%s)",
                       t->table, t->source, cdc_buf_cstr(&want));
    else if (PQntuples(ures) == 0)
        cdc_buf_printf(&uniq,
                       "; target_unique_keys of source %s names %s, which is no unique "
                       "constraint or index of %s usable by ON CONFLICT (not partial, no "
                       "expressions, not deferrable)",
                       t->source, t->unique_key, t->target);
    else {
        cdc_buf_printf(&uniq, "; target_unique_keys of source %s names %s, which covers (",
                       t->source, t->unique_key);
        put_names(&uniq, ures);
        cdc_buf_put_str(&uniq, "), not the source key");
    }
    snprintf(errstr, errstr_size,
             "pre-created target table %s (source %s table %s): its primary key is (%s), "
             "the source key is (%s)%s",
             t->target, t->source, t->table, cdc_buf_cstr(&have), cdc_buf_cstr(&want),
             cdc_buf_cstr(&uniq));
    cls = CDC_SINK_PG_FATAL;
out:
    cdc_buf_free(&want);
    cdc_buf_free(&have);
    cdc_buf_free(&uniq);
    PQclear(res);
    PQclear(ures);
    return cls;
}

/* Reads the actual columns; adds the missing ones (t->auto_evolve) or sets t->refused when
 * add is set (an existing table), which also judges changed types and dropped columns
 * (sink_schema_evolve.c); fills cast_type. */
static cdc_sink_pg_class_t read_columns(PGconn *conn, const char *domain, cdc_sink_table_t *t,
                                        int add, char *errstr, size_t errstr_size)
{
    const char *params[1] = {t->target_q};
    static const char *const extra[4][2] = {{CDC_SINK_COL_SOURCE, "text"},
                                            {CDC_SINK_COL_EPOCH, "bigint"},
                                            {CDC_SINK_COL_POS, "bigint"},
                                            {CDC_SINK_COL_SYNCED_AT, "timestamptz"}};
    PGresult *res = NULL;
    cdc_buf_t missing = CDC_BUF_INIT, changed = CDC_BUF_INIT, alter = CDC_BUF_INIT;
    cdc_sink_pg_class_t cls;
    char type[64];
    char *was_refused = t->refused; /* logged once, not at every re-check */

    cls = cdc_sink_pg_exec(conn,
                           "SELECT attname, format_type(atttypid, atttypmod),"
                           " (SELECT typcategory FROM pg_type WHERE oid = atttypid)"
                           " FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
                           " AND NOT attisdropped",
                           1, params, &res, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK)
        return cls; /* t->refused unchanged until a check succeeds */
    t->refused = NULL;
    for (size_t i = 0; i < t->ncols && cls == CDC_SINK_PG_OK; i++) {
        size_t len = cdc_sink_pg_ident_len(t->cols[i].name);
        int row = -1;
        for (int r = 0; r < PQntuples(res) && row < 0; r++)
            if (strlen(PQgetvalue(res, r, 0)) == len &&
                memcmp(PQgetvalue(res, r, 0), t->cols[i].name, len) == 0)
                row = r;
        free(t->cast_type[i]);
        t->cast_type[i] = NULL;
        if (row < 0) {
            char *sql;
            cdc_sink_schema_pg_type(&t->cols[i].type, type, sizeof type);
            if (!add) {
                snprintf(errstr, errstr_size, "target table %s has no column %s", t->target,
                         t->cols[i].name);
                cls = CDC_SINK_PG_FATAL;
                break;
            }
            if (!t->auto_evolve) {
                cdc_buf_printf(&missing, "%s%s %s", missing.len > 0 ? ", " : "", t->col_q[i], type);
                continue;
            }
            sql = cdc_asprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s", t->target_q,
                               t->col_q[i], type);
            cls = cdc_sink_pg_exec(conn, sql, 0, NULL, NULL, errstr, errstr_size);
            free(sql);
            cdc_log_info("target table %s: added column %s %s", t->target, t->cols[i].name, type);
            /* Our own types: text needs no cast, everything else does. */
            if (t->cols[i].type.kind != CDC_COL_TEXT)
                t->cast_type[i] = cdc_strdup(type);
        } else if (strcmp(PQgetvalue(res, row, 2), "S") != 0) {
            /* Strings take the staged text by assignment, which refuses a value too long
             * for varchar(n) where an explicit CAST would silently truncate it. */
            t->cast_type[i] = cdc_strdup(PQgetvalue(res, row, 1));
        }
    }
    /* The _cdc_ columns are the sink's own, not the source's evolution: always added. */
    for (size_t e = 0; e < 4 && cls == CDC_SINK_PG_OK && add; e++) {
        int found = 0;
        for (int r = 0; r < PQntuples(res) && !found; r++)
            found = strcmp(PQgetvalue(res, r, 0), extra[e][0]) == 0;
        if (!found) {
            char *sql = cdc_asprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS \"%s\" %s",
                                     t->target_q, extra[e][0], extra[e][1]);
            cls = cdc_sink_pg_exec(conn, sql, 0, NULL, NULL, errstr, errstr_size);
            free(sql);
        }
    }
    if (cls == CDC_SINK_PG_OK && add)
        cls = cdc_sink_schema_evolve_judge(conn, t, res, &changed, &alter, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK) {
        t->refused = was_refused; /* unchanged until a check succeeds */
        was_refused = NULL;
    } else if (missing.len > 0 || changed.len > 0) {
        cdc_sink_schema_evolve_refuse(t, domain, cdc_buf_cstr(&missing), cdc_buf_cstr(&changed),
                                      cdc_buf_cstr(&alter), was_refused == NULL);
    } else if (was_refused != NULL) {
        cdc_log_info("target table %s now takes every column of the schema of %s.%s: its "
                     "records are applied again",
                     t->target, t->source, t->table);
    }
    free(was_refused);
    cdc_buf_free(&missing);
    cdc_buf_free(&changed);
    cdc_buf_free(&alter);
    PQclear(res);
    return cls;
}

typedef struct setup_arg_s {
    const char *domain;
    cdc_sink_table_t *t;
} setup_arg_t;

static cdc_sink_pg_class_t setup_table(PGconn *conn, void *arg, char *errstr, size_t errstr_size)
{
    setup_arg_t *a = arg;
    cdc_sink_table_t *t = a->t;
    const char *params[1] = {t->target_q};
    PGresult *res = NULL;
    cdc_sink_pg_class_t cls;
    int exists;

    cls = register_name(conn, a->domain, t, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = cdc_sink_pg_exec(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, &res, errstr,
                               errstr_size);
    if (cls != CDC_SINK_PG_OK)
        return cls;
    exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    cls = exists ? check_key(conn, t, errstr, errstr_size)
                 : create_table(conn, t, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK)
        cls = read_columns(conn, a->domain, t, exists, errstr, errstr_size);
    if (cls == CDC_SINK_PG_OK && t->refused == NULL)
        cls = cdc_sink_schema_evolve_save(conn, t, errstr, errstr_size);
    return cls;
}

cdc_sink_pg_class_t cdc_sink_schema_table_setup(PGconn *conn, const char *domain,
                                                cdc_sink_table_t *t, char *errstr,
                                                size_t errstr_size)
{
    setup_arg_t arg = {domain, t};

    if (strcmp(t->target, t->target_full) != 0)
        cdc_log_warn("target table name %s is longer than %d bytes: PostgreSQL calls it %s",
                     t->target_full, CDC_SINK_PG_IDENT_MAX, t->target);
    return ddl_tx(conn, setup_table, &arg, errstr, errstr_size);
}
