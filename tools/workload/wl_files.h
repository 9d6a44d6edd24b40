/*
 * wl_files: the SQLite files cdc-workload writes to, found under --dir and opened the way
 * a sane application opens them (read-write, never created, busy timeout).
 */
#ifndef WL_FILES_H
#define WL_FILES_H

#include "wl_schema.h"

#include <sqlite3.h>
#include <stddef.h>

typedef struct cdc_wl_file_s {
    char *path;  /* as opened */
    char *label; /* path relative to --dir, for logs */
    sqlite3 *db;
    cdc_wl_schema_t schema;
    size_t *sel; /* indexes of the selected tables in schema */
    size_t n_sel;
} cdc_wl_file_t;

typedef struct cdc_wl_files_s {
    cdc_wl_file_t *items;
    size_t count;
} cdc_wl_files_t;

/*
 * Finds every regular file named *.db under dir (recursively, symlinks not followed),
 * sorted by relative path so the choice sequence does not depend on directory order.
 * only (may be NULL) is a comma-separated list of base names or relative paths; a name
 * that matches no file is an error. Returns the number of paths stored in *out (caller
 * frees each and the array with free()), or -1 with a message in errstr.
 */
long cdc_wl_files_find(const char *dir, const char *only, char ***out, char *errstr,
                       size_t errstr_size);

/*
 * Opens path (SQLITE_OPEN_READWRITE, busy_timeout_ms) and introspects its tables with
 * table_filter (see cdc_wl_schema_load). label is copied. A file without any selected
 * table is still added (n_sel == 0). Returns 0, or -1 with the file and reason in errstr.
 */
int cdc_wl_files_open(cdc_wl_files_t *files, const char *path, const char *label,
                      const char *table_filter, int busy_timeout_ms, char *errstr,
                      size_t errstr_size);

/* Closes every connection and frees everything; the struct may be reused (empty). */
void cdc_wl_files_close(cdc_wl_files_t *files);

#endif
