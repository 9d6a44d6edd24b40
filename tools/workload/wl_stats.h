/*
 * wl_stats: what cdc-workload counts, and the summary it prints at the end.
 *
 * The counters of successful writes (inserts, updates, deletes, key_changes) count only
 * statements whose transaction committed, so a test can compare them with the row counts
 * it observes in the files. Latency is that of a whole write transaction, from
 * BEGIN IMMEDIATE until COMMIT returned: what the application waits for, busy waits
 * included.
 */
#ifndef WL_STATS_H
#define WL_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cdc_wl_stats_s {
    uint64_t ops;                /* operations attempted */
    uint64_t commits;            /* transactions committed */
    uint64_t inserts;            /* committed INSERTs */
    uint64_t updates;            /* committed UPDATEs of non-key columns */
    uint64_t deletes;            /* committed DELETEs */
    uint64_t key_changes;        /* committed UPDATEs that changed a primary key */
    uint64_t failures;           /* writes or commits that failed (busy ones included) */
    uint64_t busy_failures;      /* failures with SQLITE_BUSY / SQLITE_LOCKED */
    uint64_t rejected;           /* writes refused by a freeze trigger */
    uint64_t constraint_retries; /* SQLITE_CONSTRAINT answered with another value */
    uint64_t constraint_giveups; /* operations skipped after too many such retries */
    uint64_t seed;
    size_t files, tables;
    double elapsed_s;
    uint32_t *lat_us; /* one entry per commit */
    size_t n_lat, cap_lat;
} cdc_wl_stats_t;

/* Records the latency of one committed transaction, in microseconds. */
void cdc_wl_stats_add_latency(cdc_wl_stats_t *stats, uint64_t us);

/* The p-th percentile (0..100) of the recorded latencies, 0 without any. Sorts in place. */
uint64_t cdc_wl_stats_percentile(cdc_wl_stats_t *stats, double p);

/* Prints the one-line key=value summary (with a trailing newline) to out. */
void cdc_wl_stats_print(cdc_wl_stats_t *stats, FILE *out);

/* Writes the same keys as one JSON object to path. Returns 0, or -1 with the file and the
 * reason in errstr. */
int cdc_wl_stats_write_json(cdc_wl_stats_t *stats, const char *path, char *errstr,
                            size_t errstr_size);

/* Frees the latency samples; the counters stay readable. */
void cdc_wl_stats_clear(cdc_wl_stats_t *stats);

#endif
