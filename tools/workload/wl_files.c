#include "wl_files.h"

#include "cdc_alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct pathlist_s {
    char **items;
    size_t n, cap;
} pathlist_t;

static void pl_push(pathlist_t *pl, char *s)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 16;
        pl->items = cdc_realloc(pl->items, pl->cap * sizeof(char *));
    }
    pl->items[pl->n++] = s;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Walks root/rel; relative paths ("a.db", "sub/b.db") are collected in pl. */
static int walk(const char *root, const char *rel, pathlist_t *pl, char *errstr, size_t errstr_size)
{
    int rc = -1;
    char *dirpath = rel[0] ? cdc_asprintf("%s/%s", root, rel) : cdc_strdup(root);
    DIR *d = opendir(dirpath);
    if (!d) {
        snprintf(errstr, errstr_size, "%s: cannot read directory: %s", dirpath, strerror(errno));
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child = rel[0] ? cdc_asprintf("%s/%s", rel, e->d_name) : cdc_strdup(e->d_name);
        char *full = cdc_asprintf("%s/%s", root, child);
        struct stat sb;
        int ok = lstat(full, &sb) == 0;
        free(full);
        if (ok && S_ISDIR(sb.st_mode)) {
            int sub = walk(root, child, pl, errstr, errstr_size);
            free(child);
            if (sub != 0)
                goto out;
        } else if (ok && S_ISREG(sb.st_mode) && ends_with(e->d_name, ".db")) {
            pl_push(pl, child);
        } else {
            free(child);
        }
    }
    rc = 0;
out:
    if (d)
        closedir(d);
    free(dirpath);
    return rc;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int matches(const char *rel, const char *name, size_t len)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    return (strlen(rel) == len && strncmp(rel, name, len) == 0) ||
           (strlen(base) == len && strncmp(base, name, len) == 0);
}

long cdc_wl_files_find(const char *dir, const char *only, char ***out, char *errstr,
                       size_t errstr_size)
{
    pathlist_t all = {0}, kept = {0};
    long rc = -1;
    *out = NULL;
    if (walk(dir, "", &all, errstr, errstr_size) != 0)
        goto out;
    if (all.n > 1)
        qsort(all.items, all.n, sizeof(char *), str_cmp);
    if (!only) {
        kept = all;
        memset(&all, 0, sizeof(all));
    } else {
        for (const char *p = only; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            int found = 0;
            for (size_t i = 0; i < all.n; i++)
                if (all.items[i] && matches(all.items[i], p, len)) {
                    pl_push(&kept, all.items[i]);
                    all.items[i] = NULL;
                    found = 1;
                }
            if (!found && len > 0) {
                int already = 0;
                for (size_t i = 0; i < kept.n; i++)
                    already |= matches(kept.items[i], p, len);
                if (!already) {
                    snprintf(errstr, errstr_size, "--files: no file %.*s under %s", (int)len, p,
                             dir);
                    goto out;
                }
            }
            p += len + (comma ? 1 : 0);
        }
        if (kept.n > 1)
            qsort(kept.items, kept.n, sizeof(char *), str_cmp);
    }
    *out = kept.items;
    rc = (long)kept.n;
    memset(&kept, 0, sizeof(kept));
out:
    for (size_t i = 0; i < all.n; i++)
        free(all.items[i]);
    free(all.items);
    for (size_t i = 0; i < kept.n; i++)
        free(kept.items[i]);
    free(kept.items);
    return rc;
}

int cdc_wl_files_open(cdc_wl_files_t *files, const char *path, const char *label,
                      const char *table_filter, int busy_timeout_ms, char *errstr,
                      size_t errstr_size)
{
    sqlite3 *db = NULL;
    int rc = -1;
    cdc_wl_file_t f = {0};
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_timeout_ms);
    if (cdc_wl_schema_load(db, path, table_filter, &f.schema, errstr, errstr_size) != 0)
        goto out;
    f.sel = cdc_calloc(f.schema.n_tables ? f.schema.n_tables : 1, sizeof(size_t));
    for (size_t i = 0; i < f.schema.n_tables; i++)
        if (f.schema.tables[i].selected)
            f.sel[f.n_sel++] = i;
    f.path = cdc_strdup(path);
    f.label = cdc_strdup(label);
    f.db = db;
    db = NULL;
    files->items = cdc_realloc(files->items, (files->count + 1) * sizeof(*files->items));
    files->items[files->count++] = f;
    rc = 0;
out:
    sqlite3_close(db);
    return rc;
}

void cdc_wl_files_close(cdc_wl_files_t *files)
{
    for (size_t i = 0; i < files->count; i++) {
        cdc_wl_file_t *f = &files->items[i];
        cdc_wl_schema_clear(&f->schema);
        sqlite3_close(f->db);
        free(f->sel);
        free(f->path);
        free(f->label);
    }
    free(files->items);
    files->items = NULL;
    files->count = 0;
}
