/*
 * sink_db: the database handle behind sink_apply.h (connection, config, the table
 * descriptor cache). Internal to the sink.
 */
#ifndef CDC_SINK_DB_H
#define CDC_SINK_DB_H

#include <libpq-fe.h>

#include "cdc_config.h"
#include "sink_apply.h"
#include "sink_pg.h"
#include "sink_schema.h"

struct cdc_sink_db_s {
    const cdc_config_t *conf; /* borrowed */
    char *domain;
    int partitions; /* the domain's partition count (config): snapshot marks needed */
    PGconn *conn;
    cdc_sink_table_t *tables; /* descriptor cache, newest first */
    unsigned next_table_id;
};

/* Maps a libpq class to the public status (PERMANENT outside a record's context: FATAL). */
cdc_sink_status_t cdc_sink_db_status_of(cdc_sink_pg_class_t cls);

/* Reconnects when the connection was lost; returns OK or RETRIABLE. */
cdc_sink_status_t cdc_sink_db_ensure(cdc_sink_db_t *db, char *errstr, size_t errstr_size);

#endif
