/*
 * ctl_evidence: the SQLite side of `cdc-ctl cutover` (see ctl_cutover.h): the evidence
 * backups, taken while the sources are frozen, and stopping capture once the domain is
 * cut over.
 *
 * The backup goes through SQLite's online backup API (sqlite3_backup_*), which copies a
 * consistent image page by page under SQLite's own locking, WAL content included; a plain
 * file copy of a WAL database can miss committed pages or catch a torn one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "cdc_alloc.h"
#include "cdc_hash.h"
#include "cdc_log.h"
#include "ctl.h"
#include "ctl_cutover.h"
#include "sqlite_util.h"

/* SHA-256 of a file in hex; 0 or -1. */
static int file_sha256(const char *path, int64_t *bytes, char hex[65])
{
    unsigned char buf[65536], digest[CDC_SHA256_SIZE];
    cdc_sha256_t s;
    size_t n;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return -1;
    cdc_sha256_init(&s);
    *bytes = 0;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        cdc_sha256_update(&s, buf, n);
        *bytes += (int64_t)n;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad)
        return -1;
    cdc_sha256_final(&s, digest);
    cdc_hash_hex(digest, sizeof digest, hex);
    return 0;
}

int ctl_evidence_backup(const cdc_source_t *src, const char *dir, char **path, int64_t *bytes,
                        char sha256_hex[65], char *errstr, size_t errstr_size)
{
    sqlite3 *from = NULL, *to = NULL;
    sqlite3_backup *bk = NULL;
    int rc = -1, r;

    *path = cdc_asprintf("%s/%s.db", dir, src->name);
    remove(*path); /* a backup of an earlier, rolled back attempt */
    if (sqlite3_open_v2(src->path, &from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: cannot open %s: %s", src->name, src->path,
                 from ? sqlite3_errmsg(from) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(from, 1000);
    if (sqlite3_open_v2(*path, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: cannot create the evidence file %s: %s",
                 src->name, *path, to ? sqlite3_errmsg(to) : "out of memory");
        goto out;
    }
    if ((bk = sqlite3_backup_init(to, "main", from, "main")) == NULL) {
        snprintf(errstr, errstr_size, "source %s: backup of %s into %s: %s", src->name, src->path,
                 *path, sqlite3_errmsg(to));
        goto out;
    }
    /* Pages in steps, so a reader's lock on the source is never held long. */
    while ((r = sqlite3_backup_step(bk, 256)) == SQLITE_OK || r == SQLITE_BUSY ||
           r == SQLITE_LOCKED)
        if (r != SQLITE_OK)
            sqlite3_sleep(10);
    r = sqlite3_backup_finish(bk);
    bk = NULL;
    if (r != SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: backup of %s into %s: %s", src->name, src->path,
                 *path, sqlite3_errstr(r));
        goto out;
    }
    sqlite3_close(to);
    to = NULL;
    if (file_sha256(*path, bytes, sha256_hex) < 0) {
        snprintf(errstr, errstr_size, "source %s: cannot read back the evidence file %s", src->name,
                 *path);
        goto out;
    }
    rc = 0;
out:
    if (bk)
        sqlite3_backup_finish(bk);
    sqlite3_close(to);
    sqlite3_close(from);
    return rc;
}

typedef struct stop_job_s {
    const cdc_source_t *src;
    int dropped;
} stop_job_t;

static int stop_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    stop_job_t *job = arg;
    cdc_sqlbuf_t b;
    int rc;

    /* Capture's triggers only: the freeze triggers (_cdc_freeze_*) stay, so the file stays
     * read-only evidence and an application still pointed at it fails loudly. */
    job->dropped = 0; /* the body may run again after a busy rollback */
    rc = ctl_sqlite_drop_triggers(db,
                                  "name LIKE '\\_cdc\\_ins\\_%' ESCAPE '\\' OR name LIKE"
                                  " '\\_cdc\\_upd\\_%' ESCAPE '\\' OR name LIKE '\\_cdc\\_del\\_%'"
                                  " ESCAPE '\\'",
                                  "capture", &job->dropped, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "INSERT OR REPLACE INTO _cdc_state(\"key\", value) VALUES"
                          " ('cutover_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),"
                          " ('cutover_domain', ");
    cdc_sqlbuf_literal(&b, job->src->domain);
    cdc_sqlbuf_append(&b, ")");
    rc = cdc_sqlite_exec(db, b.s, "recording the cutover", errstr, errstr_size);
    cdc_sqlbuf_free(&b);
    return rc;
}

int ctl_stop_capture(const cdc_config_t *conf, const cdc_source_t *src, char *errstr,
                     size_t errstr_size)
{
    stop_job_t job = {src, 0};
    cdc_sqlite_txstats_t stats;
    sqlite3 *db = ctl_sqlite_open(src, errstr, errstr_size);
    int rc = -1;
    if (db == NULL)
        return -1;
    if (cdc_sqlite_write_tx(db, conf->producer.lock_timeout_ms, stop_tx, &job, &stats, errstr,
                            errstr_size) == SQLITE_OK) {
        rc = job.dropped;
        cdc_log_info("source %s (%s): capture stopped (%d trigger(s) dropped), write lock held "
                     "%.2f ms",
                     src->name, src->path, job.dropped, stats.hold_ms);
    }
    sqlite3_close(db);
    return rc;
}
