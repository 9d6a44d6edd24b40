/*
 * ctl_cutover: the pieces of `cdc-ctl cutover` (docs/operate.md "cdc-ctl cutover"), internal
 * to cdc-ctl: ctl_cutover.c runs the steps and writes the report, ctl_cutover_audit.c
 * audits the sources against the target, ctl_finalize.c finalises the target and marks the
 * domain cut over, ctl_evidence.c takes the SQLite backups and stops capture at the
 * sources.
 */
#ifndef CDC_CTL_CUTOVER_H
#define CDC_CTL_CUTOVER_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc_buf.h"
#include "cdc_config.h"

/* What the finalisation did, for the report. */
typedef struct ctl_final_s {
    cdc_buf_t lines;     /* one report line per action or finding, each ending in '\n' */
    long uniques;        /* UNIQUE indexes created */
    long indexes;        /* secondary indexes created */
    long not_nulls;      /* NOT NULL set */
    long defaults;       /* column defaults set */
    long checks;         /* CHECK constraints added (validated) */
    long checks_invalid; /* CHECK constraints added NOT VALID: existing rows violate them */
    long fks;            /* foreign keys added and validated */
    long fks_orphaned;   /* foreign keys added NOT VALID because of orphans */
    long orphans;        /* rows whose references are missing (reported, kept) */
    long untranslated;   /* source constraints or indexes PostgreSQL refused (reported) */
    long identities;     /* integer keys given an identity past their highest value */
    long tombstones;     /* _cdc_tombstones rows removed */
    long cdc_columns;    /* _cdc_ columns dropped */
    long tables;         /* target tables finalised */
    char **analyze;      /* target tables to ANALYZE after the commit (quoted) */
    size_t nanalyze;
} ctl_final_t;

/*
 * Step 5: audits every source of domain d against its target (cdc_audit_run, one run per
 * source so each report section stays short). Appends the figures per table and check to
 * audit; writes the differences, "; "-separated after "audit: ", into reason. Returns 0
 * when every table and check matches, else -1. conf and d are borrowed.
 */
int ctl_cutover_audit(const cdc_config_t *conf, const cdc_domain_t *d, cdc_buf_t *audit,
                      char *reason, size_t reason_size);

/* Frees what a ctl_final_t holds (not the struct). */
void ctl_final_free(ctl_final_t *f);

/*
 * Finalises the target of domain d in ONE transaction on conn, the mark included: locks the
 * domain's stored offsets (waits for in-flight sink batches), installs the cut-over guard on
 * _cdc_offsets, inserts the _cdc_cutover row, then per captured table (read from the source
 * files) adds UNIQUE and secondary indexes, CHECK constraints, foreign keys (NOT VALID with
 * the orphans reported when rows violate them), an identity past the highest integer key,
 * removes the domain's tombstones and snapshot bookkeeping and drops the _cdc_ columns, and
 * commits. Returns 0 (committed: the domain IS cut over), or -1 with the reason in errstr
 * (rolled back: nothing changed). f is filled either way.
 */
int ctl_finalize_target(const cdc_config_t *conf, const cdc_domain_t *d, PGconn *conn,
                        ctl_final_t *f, char *errstr, size_t errstr_size);

/* ANALYZE of the tables finalised; problems are appended to f->lines. */
void ctl_finalize_analyze(PGconn *conn, ctl_final_t *f);

/*
 * Copies the source file of src into dir/<source>.db through SQLite's online backup API
 * and fills path (caller frees), its size and its SHA-256 (hex). Returns 0 or -1 with the
 * reason in errstr.
 */
int ctl_evidence_backup(const cdc_source_t *src, const char *dir, char **path, int64_t *bytes,
                        char sha256_hex[65], char *errstr, size_t errstr_size);

/*
 * Stops capture in src's file after a cutover: drops the capture triggers
 * (_cdc_ins_/_upd_/_del_), keeps the freeze triggers, the state and the change log as
 * evidence, and records cutover_at/cutover_domain in _cdc_state so the producer neither
 * reinstalls capture nor starts on the file again. One short write transaction. Returns the
 * number of triggers dropped, or -1 with the reason in errstr.
 */
int ctl_stop_capture(const cdc_config_t *conf, const cdc_source_t *src, char *errstr,
                     size_t errstr_size);

#endif
