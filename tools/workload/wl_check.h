/*
 * wl_check: reads value hints out of a CREATE TABLE statement's CHECK constraints.
 *
 * SQLite does not expose CHECK constraints through any PRAGMA, so the workload scans
 * the statement text for the shapes applications actually write:
 *   c IN ('a', 'b', ...)     -> values are drawn from the list
 *   c BETWEEN x AND y        -> numeric bounds
 *   c >= x, c > x, c <= x, c < x (and x <= c ...) -> numeric bounds
 *   length(c) <= n, length(c) < n                 -> maximum text length
 * Everything else is left to the retry on SQLITE_CONSTRAINT. The scan never fails: text
 * it does not understand yields no hint.
 */
#ifndef WL_CHECK_H
#define WL_CHECK_H

#include "wl_schema.h"

/* Stores the hints found in create_sql into t's columns (choices, min/max, max_len). */
void cdc_wl_check_hints(const char *create_sql, cdc_wl_table_t *t);

#endif
