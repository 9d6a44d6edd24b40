/*
 * ctl_redrive: re-drives a dead letter by re-reading its key's current row at the source
 * (never by replaying the stored payload, which is stale by definition).
 *
 * The key of the dead letter is the canonical key bytes (Avro binary of the key record).
 * The key's values with their exact SQLite storage classes are found by scanning the
 * table's key columns and encoding each key exactly as the producer does
 * (cdc_schema_codec_new, cdc_table_codec_encode_delete) until the bytes match; a key no longer
 * present is decoded from the bytes instead (integer, real, text and blob keys). Then one short
 * write transaction appends a change-log entry for the key (op 'u', the next sequence number, as
 * capture's triggers compute it): the producer's stream reads the row as it is now and
 * sends it, or a delete when it is gone, at a position newer than the dead letter's, and
 * applying that version resolves the dead letter (invariant 7).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_avro_value.h"
#include "cdc_buf.h"
#include "cdc_log.h"
#include "capture.h"
#include "capture_sql.h"
#include "ctl.h"
#include "record.h"
#include "schema_files.h"
#include "sink_pg.h"
#include "sqlite_util.h"
#include "table_info.h"

typedef struct redrive_s {
    const char *table; /* canonical name */
    size_t nkeys;
    cdc_value_t *vals; /* owned copies */
    unsigned char **bytes;
    int64_t seq; /* the logged entry's sequence */
} redrive_t;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Owned copies of vals (text/blob bytes duplicated). */
static void keep_values(redrive_t *rd, const cdc_value_t *vals)
{
    for (size_t k = 0; k < rd->nkeys; k++) {
        rd->vals[k] = vals[k];
        if (vals[k].type == CDC_VAL_TEXT || vals[k].type == CDC_VAL_BLOB) {
            rd->bytes[k] = cdc_malloc(vals[k].len + 1);
            if (vals[k].len)
                memcpy(rd->bytes[k], vals[k].p, vals[k].len);
            rd->bytes[k][vals[k].len] = '\0';
            rd->vals[k].p = rd->bytes[k];
        }
    }
}

/* Scans the key columns for the key whose canonical bytes equal key; 1 found, 0 not, -1. */
static int find_key(sqlite3 *db, const cdc_table_info_t *ti, cdc_table_codec_t *codec,
                    const unsigned char *key, size_t key_len, redrive_t *rd, char *errstr,
                    size_t errstr_size)
{
    cdc_sqlbuf_t b;
    sqlite3_stmt *st = NULL;
    cdc_value_t *vals = cdc_calloc(rd->nkeys, sizeof *vals);
    int found = -1, rc;

    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "SELECT ");
    for (size_t k = 0; k < rd->nkeys; k++) {
        char *e = cdc_table_info_key_expr(ti, k, "t");
        cdc_sqlbuf_printf(&b, "%s%s", k ? ", " : "", e);
        free(e);
    }
    cdc_sqlbuf_append(&b, " FROM ");
    cdc_sqlbuf_ident(&b, ti->name);
    cdc_sqlbuf_append(&b, " AS t");
    if (cdc_sqlite_prepare(db, b.s, &st, errstr, errstr_size) != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cdc_record_meta_t meta = {{0, 0}, -1, NULL, 0, 0};
        cdc_record_t rec;
        cdc_record_misfit_t misfit;
        char why[512];
        memset(&rec, 0, sizeof rec);
        memset(&misfit, 0, sizeof misfit);
        cdc_record_values_from_stmt(st, 0, rd->nkeys, vals);
        cdc_record_status_t rs =
            cdc_table_codec_encode_delete(codec, vals, &meta, &rec, &misfit, why, sizeof why);
        const unsigned char *kb = rs == CDC_RECORD_OK ? rec.key : misfit.key;
        size_t kl = rs == CDC_RECORD_OK ? rec.key_len : misfit.key_len;
        if (kb != NULL && kl == key_len && memcmp(kb, key, key_len) == 0) {
            keep_values(rd, vals);
            found = 1;
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "scanning the key columns", errstr, errstr_size);
        goto out;
    }
    found = 0;
out:
    sqlite3_finalize(st);
    cdc_sqlbuf_free(&b);
    free(vals);
    return found;
}

/* The key values decoded from the key bytes, for a row that is gone. */
static int decode_key(cdc_table_codec_t *codec, const unsigned char *key, size_t key_len,
                      redrive_t *rd, char *errstr, size_t errstr_size)
{
    size_t ncols;
    const cdc_column_t *cols = cdc_table_codec_columns(codec, &ncols);
    cdc_decoded_value_t *dv = cdc_calloc(rd->nkeys, sizeof *dv);
    cdc_value_t *vals = cdc_calloc(rd->nkeys, sizeof *vals);
    cdc_avro_str_t s, t;
    int rc = -1;

    if (cdc_avro_decode_key(key, key_len, cols, ncols, &s, &t, dv, errstr, errstr_size) !=
        CDC_AVRO_OK)
        goto out;
    for (size_t k = 0; k < rd->nkeys; k++) {
        const cdc_column_t *col = &cols[cdc_table_codec_key_column(codec, k)];
        if (dv[k].is_null) {
            vals[k].type = CDC_VAL_NULL;
            continue;
        }
        switch (dv[k].kind) {
        case CDC_COL_LONG:
            vals[k].type = CDC_VAL_INTEGER;
            vals[k].i = dv[k].l;
            break;
        case CDC_COL_DOUBLE:
            vals[k].type = CDC_VAL_REAL;
            vals[k].r = dv[k].d;
            break;
        case CDC_COL_TEXT:
        case CDC_COL_JSON:
        case CDC_COL_NUMERIC:
            vals[k].type = CDC_VAL_TEXT;
            vals[k].p = dv[k].p;
            vals[k].len = dv[k].len;
            break;
        case CDC_COL_BLOB:
            vals[k].type = CDC_VAL_BLOB;
            vals[k].p = dv[k].p;
            vals[k].len = dv[k].len;
            break;
        default:
            snprintf(errstr, errstr_size,
                     "the row is gone from the source and its key column %s (%s) cannot be "
                     "turned back into its stored value; its delete was logged when it "
                     "happened: resolve the dead letter once the target shows the row gone",
                     col->name, col->decl_type);
            goto out;
        }
    }
    keep_values(rd, vals);
    rc = 0;
out:
    free(dv);
    free(vals);
    return rc;
}

/* Appends the change-log entry, as capture's triggers would: the next sequence number. */
static int log_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    redrive_t *rd = arg;
    cdc_sqlbuf_t b;
    sqlite3_stmt *st = NULL;
    int rc;

    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_printf(&b, "INSERT INTO \"%s\"(seq, tbl, op, ts", CDC_CAPTURE_CHANGES);
    for (size_t k = 0; k < rd->nkeys; k++)
        cdc_sqlbuf_printf(&b, ", k%zu", k + 1);
    cdc_sqlbuf_printf(&b, ") VALUES ((%s) + 1, ?1, 'u', julianday('now')",
                      cdc_capture_sql_high_water());
    for (size_t k = 0; k < rd->nkeys; k++)
        cdc_sqlbuf_printf(&b, ", ?%zu", k + 2);
    cdc_sqlbuf_append(&b, ") RETURNING seq");
    rc = cdc_sqlite_prepare(db, b.s, &st, errstr, errstr_size);
    cdc_sqlbuf_free(&b);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, rd->table, -1, SQLITE_TRANSIENT);
    cdc_record_bind_values(st, 2, rd->vals, rd->nkeys);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rd->seq = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    else
        cdc_sqlite_error(db, rc, "logging the change", errstr, errstr_size);
    sqlite3_finalize(st);
    return rc;
}

int ctl_redrive(const cdc_config_t *conf, const char *domain, PGconn *conn, long id, char *errstr,
                size_t errstr_size)
{
    char ids[24];
    const char *p[2] = {domain, ids};
    PGresult *res = NULL;
    const cdc_source_t *src;
    cdc_table_info_t *ti = NULL;
    cdc_table_codec_t *codec = NULL;
    unsigned char *key = NULL;
    sqlite3 *db = NULL;
    redrive_t rd;
    size_t key_len = 0;
    int rc = -1, found;

    memset(&rd, 0, sizeof rd);
    snprintf(ids, sizeof ids, "%ld", id);
    if (cdc_sink_pg_exec(conn,
                         "SELECT source, source_table, encode(key, 'hex'), resolved_at IS NOT NULL"
                         " FROM _cdc_dead_letters WHERE domain = $1 AND id = $2::bigint",
                         2, p, &res, errstr, errstr_size) != CDC_SINK_PG_OK)
        goto out;
    if (PQntuples(res) == 0) {
        snprintf(errstr, errstr_size, "no such dead letter (see cdc-ctl dlq list --all)");
        goto out;
    }
    if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 2)) {
        snprintf(errstr, errstr_size,
                 "the record could not even be decoded (no source, table or key): there is no "
                 "row to re-read; fix its producer or resolve it with cdc-ctl dlq resolve");
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
        cdc_log_warn("dead letter %ld is already resolved; re-driving anyway", id);
    src = cdc_config_source(conf, PQgetvalue(res, 0, 0));
    if (src == NULL || strcmp(src->domain, domain) != 0) {
        snprintf(errstr, errstr_size, "its source \"%s\" is not a source of domain %s in %s",
                 PQgetvalue(res, 0, 0), domain, conf->path);
        goto out;
    }
    const char *h = PQgetvalue(res, 0, 2);
    key_len = strlen(h) / 2;
    key = cdc_malloc(key_len + 1);
    for (size_t i = 0; i < key_len; i++)
        key[i] = (unsigned char)(hexval(h[2 * i]) * 16 + hexval(h[2 * i + 1]));

    if ((db = ctl_sqlite_open(src, errstr, errstr_size)) == NULL)
        goto out;
    const cdc_strlist_t *ckeys = NULL;
    for (size_t i = 0; i < src->n_keys; i++)
        if (strcmp(src->keys[i].table, PQgetvalue(res, 0, 1)) == 0)
            ckeys = &src->keys[i].columns;
    if (cdc_table_info_load(db, PQgetvalue(res, 0, 1), ckeys, &ti, errstr, errstr_size) !=
        CDC_TABLE_INFO_OK)
        goto out;
    /* The producer's own codec (schema texts and key bytes as it sends them). */
    size_t ncols;
    codec = cdc_schema_codec_new(src, ti, &ncols, errstr, errstr_size);
    if (codec == NULL)
        goto out;
    rd.table = ti->name;
    rd.nkeys = ti->n_keys;
    rd.vals = cdc_calloc(rd.nkeys, sizeof *rd.vals);
    rd.bytes = cdc_calloc(rd.nkeys, sizeof *rd.bytes);
    found = find_key(db, ti, codec, key, key_len, &rd, errstr, errstr_size);
    if (found < 0)
        goto out;
    if (!found && decode_key(codec, key, key_len, &rd, errstr, errstr_size) < 0)
        goto out;
    if (cdc_sqlite_write_tx(db, conf->producer.lock_timeout_ms, log_tx, &rd, NULL, errstr,
                            errstr_size) != SQLITE_OK)
        goto out;
    cdc_buf_t kj = CDC_BUF_INIT;
    cdc_table_codec_key_json(codec, rd.vals, &kj);
    printf("redrive=%ld source=%s table=%s key=%s row=%s logged_seq=%" PRId64 "\n", id, src->name,
           ti->name, cdc_buf_cstr(&kj), found ? "present" : "gone", rd.seq);
    cdc_buf_free(&kj);
    cdc_log_info("dead letter %ld: change logged in %s as seq %" PRId64
                 "; the producer sends the key's %s at its next stream batch",
                 id, src->path, rd.seq, found ? "current row" : "delete");
    rc = 0;
out:
    for (size_t k = 0; k < rd.nkeys && rd.bytes; k++)
        free(rd.bytes[k]);
    free(rd.bytes);
    free(rd.vals);
    cdc_table_codec_destroy(codec);
    cdc_table_info_destroy(ti);
    sqlite3_close(db);
    free(key);
    PQclear(res);
    return rc;
}
