/*
 * progress: how far a table's snapshot has come, for the operator.
 *
 * Per table: rows done, an estimate of the total, rows per second and an ETA. On a
 * terminal the report is one live line on stderr, rewritten in place (\r); otherwise
 * (logs, CI) a log line through cdc_log_info at most every `interval_s` seconds, plus a
 * final one.
 *
 * The total is an estimate chosen to be cheap on big tables (cdc_progress_estimate):
 *   1. count(*) over at most 100,000 rows: exact for small tables, a few ms at most;
 *   2. bigger: sqlite_stat1's row count for the table (from the last ANALYZE) if present;
 *   3. else, for rowid tables, max(rowid) - min(rowid) + 1 (two b-tree seeks; an upper
 *      bound when rows were deleted);
 *   4. else unknown (WITHOUT ROWID table, never analyzed): rows and rate only.
 * An estimate below the rows already done is raised to them, so percentages never pass
 * 100 and the ETA never goes negative.
 */
#ifndef CDC_PROGRESS_H
#define CDC_PROGRESS_H

#include "table_info.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cdc_progress_s cdc_progress_t;

typedef enum {
    CDC_PROGRESS_EXACT,   /* count(*) */
    CDC_PROGRESS_STAT1,   /* sqlite_stat1 */
    CDC_PROGRESS_ROWID,   /* rowid range */
    CDC_PROGRESS_UNKNOWN, /* no estimate */
} cdc_progress_method_t;

const char *cdc_progress_method_name(cdc_progress_method_t m);

/* Rows counted exactly before the cheaper estimates take over. */
#define CDC_PROGRESS_COUNT_CAP 100000

/*
 * Estimates the number of rows of ti in one short read (its own implicit transaction).
 * *total is -1 when unknown. Returns 0, or -1 with errstr (SQLite error).
 */
int cdc_progress_estimate(sqlite3 *db, const cdc_table_info_t *ti, int64_t *total,
                          cdc_progress_method_t *method, char *errstr, size_t errstr_size);

/* A tracker for one table (names are copied; total -1: unknown). The live line goes to
 * stderr when it is a terminal. Caller frees with cdc_progress_destroy(). */
cdc_progress_t *cdc_progress_new(const char *source, const char *table, int64_t total,
                                 double interval_s);
void cdc_progress_destroy(cdc_progress_t *p);

/* Sends the reports somewhere else (tests): out (borrowed) and whether it is a terminal. */
void cdc_progress_set_output(cdc_progress_t *p, FILE *out, int is_tty);

/* Counts rows done. */
void cdc_progress_add(cdc_progress_t *p, uint64_t rows);

uint64_t cdc_progress_done(const cdc_progress_t *p);
/* The total estimate (never below rows done), or -1 when unknown. */
int64_t cdc_progress_total(const cdc_progress_t *p);
/* Rows per second since the tracker was created (0 before any time passed). */
double cdc_progress_rate(const cdc_progress_t *p);
/* Seconds left at the current rate, or -1 when unknown. */
double cdc_progress_eta(const cdc_progress_t *p);

/* "crm.epic7 crm_contacts: 12,000/~100,000 rows (12%), 45,000 rows/s, ETA 2s" into buf. */
void cdc_progress_format(const cdc_progress_t *p, char *buf, size_t size);

/*
 * Reports if due: on a terminal, rewrites the live line at most 10 times a second; else
 * logs at most every interval_s. final != 0 always reports (and ends the live line).
 */
void cdc_progress_report(cdc_progress_t *p, int final);

#endif
