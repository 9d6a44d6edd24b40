/*
 * sink_db: opening the target database of a domain, claiming partitions, and the cache
 * of target table descriptors (sink_apply.h).
 */
#include "sink_db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_log.h"

const char *cdc_sink_status_name(cdc_sink_status_t st)
{
    switch (st) {
    case CDC_SINK_OK:
        return "ok";
    case CDC_SINK_FENCED:
        return "fenced";
    case CDC_SINK_RETRIABLE:
        return "retriable";
    case CDC_SINK_FATAL:
        return "fatal";
    }
    return "unknown";
}

cdc_sink_status_t cdc_sink_db_status_of(cdc_sink_pg_class_t cls)
{
    switch (cls) {
    case CDC_SINK_PG_OK:
        return CDC_SINK_OK;
    case CDC_SINK_PG_RETRIABLE:
        return CDC_SINK_RETRIABLE;
    case CDC_SINK_PG_PERMANENT:
    case CDC_SINK_PG_FATAL:
        break;
    }
    return CDC_SINK_FATAL;
}

cdc_sink_status_t cdc_sink_db_ensure(cdc_sink_db_t *db, char *errstr, size_t errstr_size)
{
    if (PQstatus(db->conn) == CONNECTION_OK && PQtransactionStatus(db->conn) == PQTRANS_IDLE)
        return CDC_SINK_OK;
    if (PQstatus(db->conn) == CONNECTION_OK) {
        /* Left inside a transaction by an earlier failure: end it. */
        PQclear(PQexec(db->conn, "ROLLBACK"));
        if (PQstatus(db->conn) == CONNECTION_OK && PQtransactionStatus(db->conn) == PQTRANS_IDLE)
            return CDC_SINK_OK;
    }
    cdc_log_warn("domain %s: connection to PostgreSQL lost, reconnecting", db->domain);
    if (cdc_sink_pg_reset(db->conn, errstr, errstr_size) != 0)
        return CDC_SINK_RETRIABLE;
    return CDC_SINK_OK;
}

cdc_sink_status_t cdc_sink_db_open(const cdc_config_t *conf, const char *domain,
                                   cdc_sink_db_t **out, char *errstr, size_t errstr_size)
{
    const cdc_domain_t *dom = cdc_config_domain(conf, domain);
    cdc_sink_db_t *db = NULL;
    cdc_sink_status_t st = CDC_SINK_OK;
    PGresult *res = NULL;
    const char *params[1] = {domain};

    *out = NULL;
    if (dom == NULL) {
        snprintf(errstr, errstr_size, "domain %s is not in %s", domain,
                 conf->path != NULL ? conf->path : "the config");
        return CDC_SINK_FATAL;
    }
    db = cdc_calloc(1, sizeof(*db));
    db->conf = conf;
    db->domain = cdc_strdup(domain);
    db->partitions = dom->partitions;
    db->conn = cdc_sink_pg_connect(dom->target, errstr, errstr_size);
    if (db->conn == NULL) {
        st = CDC_SINK_RETRIABLE;
        goto out;
    }
    st = cdc_sink_db_status_of(cdc_sink_schema_metadata(db->conn, errstr, errstr_size));
    if (st != CDC_SINK_OK)
        goto out;
    st = cdc_sink_db_status_of(cdc_sink_pg_exec(db->conn,
                                                "SELECT cut_at FROM _cdc_cutover WHERE domain = $1",
                                                1, params, &res, errstr, errstr_size));
    if (st != CDC_SINK_OK)
        goto out;
    if (PQntuples(res) > 0) {
        snprintf(errstr, errstr_size,
                 "domain %s was cut over at %s (_cdc_cutover): the sink no longer writes it",
                 domain, PQgetvalue(res, 0, 0));
        st = CDC_SINK_FATAL;
        goto out;
    }
out:
    PQclear(res);
    if (st != CDC_SINK_OK) {
        cdc_sink_db_close(db);
        return st;
    }
    *out = db;
    return st;
}

void cdc_sink_db_close(cdc_sink_db_t *db)
{
    if (db == NULL)
        return;
    while (db->tables != NULL) {
        cdc_sink_table_t *next = db->tables->next;
        cdc_sink_schema_table_free(db->tables);
        db->tables = next;
    }
    if (db->conn != NULL)
        PQfinish(db->conn);
    free(db->domain);
    free(db);
}

cdc_sink_status_t cdc_sink_db_claim_partition(cdc_sink_db_t *db, const char *topic,
                                              int32_t partition, int64_t *next_offset_out,
                                              char *errstr, size_t errstr_size)
{
    char part[16];
    const char *params[3] = {db->domain, topic, part};
    PGresult *res = NULL;
    cdc_sink_status_t st;

    snprintf(part, sizeof part, "%" PRId32, partition);
    st = cdc_sink_db_ensure(db, errstr, errstr_size);
    if (st != CDC_SINK_OK)
        return st;
    /* Insert-if-absent, then read: the row may have been inserted by another worker. */
    st = cdc_sink_db_status_of(cdc_sink_pg_exec(
        db->conn,
        "WITH ins AS (INSERT INTO _cdc_offsets (domain, topic, kpartition, next_offset)"
        " VALUES ($1, $2, $3::int, 0) ON CONFLICT DO NOTHING RETURNING next_offset)"
        " SELECT next_offset FROM ins UNION ALL SELECT next_offset FROM _cdc_offsets"
        " WHERE domain = $1 AND topic = $2 AND kpartition = $3::int",
        3, params, &res, errstr, errstr_size));
    if (st != CDC_SINK_OK)
        return st;
    if (PQntuples(res) < 1) {
        snprintf(errstr, errstr_size, "no stored offset for %s [%" PRId32 "] after inserting one",
                 topic, partition);
        PQclear(res);
        return CDC_SINK_RETRIABLE;
    }
    *next_offset_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CDC_SINK_OK;
}

cdc_sink_status_t cdc_sink_db_table(cdc_sink_db_t *db, const char *source, const char *table,
                                    const cdc_column_t *cols, size_t ncols,
                                    const cdc_sink_table_t **out, char *errstr, size_t errstr_size)
{
    cdc_sink_table_t *t;
    cdc_sink_status_t st;

    *out = NULL;
    for (t = db->tables; t != NULL; t = t->next) {
        if (cdc_sink_schema_table_matches(t, source, table, cols, ncols)) {
            *out = t;
            return CDC_SINK_OK;
        }
    }
    t = cdc_sink_schema_table_new(db->conf, db->domain, source, table, cols, ncols, errstr,
                                  errstr_size);
    if (t == NULL)
        return CDC_SINK_FATAL;
    st = cdc_sink_db_ensure(db, errstr, errstr_size);
    if (st == CDC_SINK_OK)
        st = cdc_sink_db_status_of(
            cdc_sink_schema_table_setup(db->conn, db->domain, t, errstr, errstr_size));
    if (st != CDC_SINK_OK) {
        cdc_sink_schema_table_free(t);
        return st;
    }
    t->id = db->next_table_id++;
    t->next = db->tables;
    db->tables = t;
    *out = t;
    return CDC_SINK_OK;
}

const char *cdc_sink_table_target(const cdc_sink_table_t *t)
{
    return t->target;
}
