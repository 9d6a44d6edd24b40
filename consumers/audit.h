/*
 * audit: `cdc-validator --audit`, a direct comparison of every captured table of the
 * sources of a domain with its target table (DESIGN.md invariant 8, docs/audit.md).
 *
 * Per (source, captured table) it streams both sides in one common key order, maps every
 * value exactly as the producer does (table codec: declared types and the source's
 * `columns:` overrides) and as the sink reads it back (pinned PostgreSQL session), and
 * computes on each side: the row count, an order-independent checksum (sum mod 2^64 of
 * the XXH64 row hashes of the canonical rows, key included) and the SHA-256 of the
 * canonical rows in key order. The same single merge pass names the differing keys:
 * missing (in the source, not the target), extra (in the target, not the source) and
 * different (both, other canonical row). Each differing key is then re-checked against
 * the live source: a key whose source row now equals the target row, or that has a
 * change-log entry newer than the target's position for it, is reported "in flight",
 * separately from real differences. Then the config's `checks:` run on both sides and
 * their values are compared as text.
 *
 * Memory does not depend on the table size: the source is read in key-ordered chunks
 * (one short read transaction each), the target through a cursor in one read-only
 * REPEATABLE READ transaction; only the first max_keys differing keys per table are kept.
 */
#ifndef CDC_AUDIT_H
#define CDC_AUDIT_H

#include <stddef.h>
#include <stdio.h>

#include "cdc_config.h"

/* Results of cdc_audit_run() (the validator maps them to exit codes 0, 1, 2 and 1). */
typedef enum {
    CDC_AUDIT_MATCH = 0,  /* every table and check matched (keys in flight do not count) */
    CDC_AUDIT_DIFFER = 1, /* at least one real difference: a table or a check */
    CDC_AUDIT_USAGE = 2,  /* bad options: unknown domain or source */
    CDC_AUDIT_ERROR = -1, /* operational error: a file, table or server could not be read */
} cdc_audit_result_t;

/* What to audit and how to report it. Initialize with cdc_audit_opts_init(). */
typedef struct cdc_audit_opts_s {
    const char *domain; /* only this domain; NULL: every domain of the config */
    const char *source; /* only this source; NULL: every source of the domain(s) */
    const char *table;  /* only this SQLite table; NULL: every captured table */
    int json;           /* 1: one JSON document (docs/audit.md), else the human report */
    size_t max_keys;    /* differing keys listed (and re-checked) per table, then only
                           counted; 0: none listed; default 100 */
    int chunk_rows;     /* source rows per SQLite read transaction; default 2000 */
    int skip_checks;    /* 1: do not run the config's checks: */
    int recheck;        /* 0: report differing keys as found, without the in-flight
                           re-check (tests only); default 1 */
} cdc_audit_opts_t;

/* Sets the defaults above. */
void cdc_audit_opts_init(cdc_audit_opts_t *opts);

/*
 * Audits the selected sources and checks of conf and writes the report to out (human
 * text, or JSON when opts->json). Reads the source SQLite files (read-only; capture must
 * be installed) and the domains' target databases (read-only transactions); writes
 * nothing anywhere. Progress and problems go to the log (stderr). Returns a
 * cdc_audit_result_t; on CDC_AUDIT_USAGE and CDC_AUDIT_ERROR errstr names the domain,
 * source, file, table or check involved (for ERROR the report of what was audited before
 * the error has still been written). conf and opts are borrowed.
 */
int cdc_audit_run(const cdc_config_t *conf, const cdc_audit_opts_t *opts, FILE *out, char *errstr,
                  size_t errstr_size);

#endif
