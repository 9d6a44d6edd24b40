/*
 * capture_plan: compares what the tables list wants with what the file holds.
 *
 * Internal to capture.c. A plan is computed in one read transaction, without any write
 * lock: it lists every wanted table with its status and the exact trigger SQL, the
 * records and triggers to remove, and whether the change log must be created or
 * widened. cdc_capture_check reports it; cdc_capture_install executes it inside a short
 * write transaction after checking PRAGMA schema_version did not move since.
 */
#ifndef CDC_CAPTURE_PLAN_H
#define CDC_CAPTURE_PLAN_H

#include "capture.h"
#include "capture_sql.h"
#include "table_info.h"

typedef struct capture_plan_table_s {
    char *name;           /* canonical name (or as recorded / listed when missing) */
    cdc_table_info_t *ti; /* NULL unless the table is wanted and capturable */
    char *key_list;       /* ti's key as text */
    char *trig_name[CDC_TRIGGER_KINDS];
    char *trig_sql[CDC_TRIGGER_KINDS];
    cdc_capture_status_t status;
    char *detail;
    int has_record;        /* a _cdc_tables row exists */
    char *record_key_cols; /* from that row */
    int64_t record_key_since;
} capture_plan_table_t;

typedef struct capture_plan_s {
    int64_t schema_version;
    int has_state, has_tables, has_changes;
    int64_t version; /* capture_version in _cdc_state (0 when absent) */
    int64_t epoch;
    int width;        /* key columns of _cdc_changes now (0 when absent) */
    int needed_width; /* key columns the wanted tables need (>= 1) */
    capture_plan_table_t *tables;
    size_t n_tables, cap_tables;
    char **stale; /* names of _cdc_ triggers that no wanted table needs */
    size_t n_stale, cap_stale;
    char *refused; /* message of the first refused table (install refuses) */
    char *missing; /* message of the first listed table that never existed */
} capture_plan_t;

/* Builds the plan for spec (see above). Returns CDC_CAPTURE_EOK or an error with errstr.
 * Free with cdc_capture_plan_free() in every case. */
cdc_capture_err_t cdc_capture_plan_build(sqlite3 *db, const cdc_capture_spec_t *spec,
                                         capture_plan_t *plan, char *errstr, size_t errstr_size);
void cdc_capture_plan_free(capture_plan_t *plan);

/* 1 when executing the plan would write anything. */
int cdc_capture_plan_needs_write(const capture_plan_t *plan);

#endif
