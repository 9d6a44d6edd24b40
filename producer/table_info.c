#include "table_info.h"

#include "cdc_alloc.h"
#include "sqlite_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESERVED_PREFIX "_cdc_"

int cdc_table_info_is_reserved(const char *name)
{
    return strncasecmp(name, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0;
}

void cdc_table_info_destroy(cdc_table_info_t *ti)
{
    if (!ti)
        return;
    for (size_t i = 0; i < ti->n_columns; i++) {
        free(ti->columns[i].name);
        free(ti->columns[i].decl_type);
        free(ti->columns[i].avro_name);
    }
    free(ti->columns);
    free(ti->generated);
    free(ti->key_columns);
    free(ti->name);
    free(ti->sql);
    free(ti->module);
    free(ti->warning);
    free(ti);
}

/* --- parsing the module name out of CREATE VIRTUAL TABLE text -------------------------- */

static const char *skip_space(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Skips one keyword (case-insensitive, followed by a non-word byte); NULL if absent. */
static const char *skip_keyword(const char *p, const char *kw)
{
    p = skip_space(p);
    size_t n = strlen(kw);
    if (strncasecmp(p, kw, n) != 0)
        return NULL;
    unsigned char c = (unsigned char)p[n];
    if (isalnum(c) || c == '_' || c >= 0x80)
        return NULL;
    return p + n;
}

/* Skips one identifier token in any of SQLite's quoting styles; sets [*start, *end) to
 * its text without quotes (doubled quotes kept as they are). NULL if none. */
static const char *skip_name(const char *p, const char **start, const char **end)
{
    p = skip_space(p);
    char close = 0;
    if (*p == '"' || *p == '\'' || *p == '`')
        close = *p;
    else if (*p == '[')
        close = ']';
    if (close) {
        *start = ++p;
        for (; *p; p++) {
            if (*p == close) {
                if (close != ']' && p[1] == close) {
                    p++;
                    continue;
                }
                *end = p;
                return p + 1;
            }
        }
        return NULL;
    }
    *start = p;
    while (*p &&
           (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || (unsigned char)*p >= 0x80))
        p++;
    *end = p;
    return p > *start ? p : NULL;
}

static char *vtab_module(const char *sql)
{
    const char *s, *e;
    const char *p = skip_keyword(sql, "CREATE");
    if (p)
        p = skip_keyword(p, "VIRTUAL");
    if (p)
        p = skip_keyword(p, "TABLE");
    if (!p)
        return NULL;
    const char *q = skip_keyword(p, "IF");
    if (q && (q = skip_keyword(q, "NOT")) && (q = skip_keyword(q, "EXISTS")))
        p = q;
    p = skip_name(p, &s, &e);
    if (p && *skip_space(p) == '.')
        p = skip_name(skip_space(p) + 1, &s, &e);
    if (p)
        p = skip_keyword(p, "USING");
    if (p)
        p = skip_name(p, &s, &e);
    return p ? cdc_strndup(s, (size_t)(e - s)) : NULL;
}

/* --- loading ------------------------------------------------------------------------- */

static cdc_table_info_err_t load_kind(sqlite3 *db, cdc_table_info_t *ti, char *errstr,
                                      size_t errstr_size)
{
    const char *p = skip_keyword(ti->sql ? ti->sql : "", "CREATE");
    if (p && skip_keyword(p, "VIRTUAL")) {
        ti->kind = CDC_TABLE_VIRTUAL;
        ti->module = vtab_module(ti->sql);
        if (!ti->module)
            ti->module = cdc_strdup("unknown");
        return CDC_TABLE_INFO_OK;
    }
    sqlite3_stmt *st = NULL;
    cdc_table_info_err_t err = CDC_TABLE_INFO_OK;
    if (cdc_sqlite_prepare(db, "SELECT type, wr FROM pragma_table_list(?1) WHERE schema='main'",
                           &st, errstr, errstr_size) != SQLITE_OK) {
        err = CDC_TABLE_INFO_ESQLITE;
        goto out;
    }
    sqlite3_bind_text(st, 1, ti->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        if (type && strcmp(type, "shadow") == 0)
            ti->kind = CDC_TABLE_SHADOW;
        else if (sqlite3_column_int(st, 1))
            ti->kind = CDC_TABLE_WITHOUT_ROWID;
        else
            ti->kind = CDC_TABLE_ORDINARY;
    } else if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "reading pragma_table_list", errstr, errstr_size);
        err = CDC_TABLE_INFO_ESQLITE;
    }
out:
    sqlite3_finalize(st);
    return err;
}

static cdc_table_info_err_t load_columns(sqlite3 *db, cdc_table_info_t *ti, char *errstr,
                                         size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    cdc_table_info_err_t err = CDC_TABLE_INFO_OK;
    size_t cap = 8;
    ti->columns = cdc_calloc(cap, sizeof(*ti->columns));
    ti->generated = cdc_calloc(cap, sizeof(*ti->generated));
    if (cdc_sqlite_prepare(db,
                           "SELECT name, type, \"notnull\", pk, hidden "
                           "FROM pragma_table_xinfo(?1, 'main') ORDER BY cid",
                           &st, errstr, errstr_size) != SQLITE_OK) {
        err = CDC_TABLE_INFO_ESQLITE;
        goto out;
    }
    sqlite3_bind_text(st, 1, ti->name, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int hidden = sqlite3_column_int(st, 4);
        if (hidden == 1) /* hidden column of a virtual table */
            continue;
        if (ti->n_columns == cap) {
            cap *= 2;
            ti->columns = cdc_realloc(ti->columns, cap * sizeof(*ti->columns));
            ti->generated = cdc_realloc(ti->generated, cap * sizeof(*ti->generated));
        }
        cdc_column_t *c = &ti->columns[ti->n_columns];
        memset(c, 0, sizeof(*c));
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *decl = (const char *)sqlite3_column_text(st, 1);
        c->name = cdc_strdup(name ? name : "");
        c->decl_type = cdc_strdup(decl ? decl : "");
        c->not_null = sqlite3_column_int(st, 2);
        c->pk_index = sqlite3_column_int(st, 3);
        ti->generated[ti->n_columns] = hidden == 2 || hidden == 3;
        ti->n_columns++;
    }
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "reading pragma_table_xinfo", errstr, errstr_size);
        err = CDC_TABLE_INFO_ESQLITE;
    }
out:
    sqlite3_finalize(st);
    return err;
}

static int find_column(const cdc_table_info_t *ti, const char *name)
{
    for (size_t i = 0; i < ti->n_columns; i++)
        if (sqlite3_stricmp(ti->columns[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* 1 if a non-partial UNIQUE index (or the PRIMARY KEY) covers exactly the key columns. */
static int key_has_unique_index(sqlite3 *db, const cdc_table_info_t *ti)
{
    sqlite3_stmt *list = NULL, *info = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM pragma_index_list(?1, 'main') "
                           "WHERE \"unique\" AND NOT partial",
                           -1, &list, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT name FROM pragma_index_info(?1, 'main')", -1, &info, NULL) !=
            SQLITE_OK)
        goto out;
    sqlite3_bind_text(list, 1, ti->name, -1, SQLITE_STATIC);
    while (!found && sqlite3_step(list) == SQLITE_ROW) {
        sqlite3_reset(info);
        sqlite3_bind_text(info, 1, (const char *)sqlite3_column_text(list, 0), -1,
                          SQLITE_TRANSIENT);
        size_t n = 0, matched = 0;
        while (sqlite3_step(info) == SQLITE_ROW) {
            n++;
            const char *col = (const char *)sqlite3_column_text(info, 0);
            for (size_t k = 0; col && k < ti->n_keys; k++)
                if (ti->key_columns[k] >= 0 &&
                    strcmp(ti->columns[ti->key_columns[k]].name, col) == 0)
                    matched++;
        }
        found = n == ti->n_keys && matched == n;
    }
out:
    sqlite3_finalize(list);
    sqlite3_finalize(info);
    return found;
}

static cdc_table_info_err_t choose_key(sqlite3 *db, cdc_table_info_t *ti,
                                       const cdc_strlist_t *config_keys, char *errstr,
                                       size_t errstr_size)
{
    size_t n_pk = 0;
    for (size_t i = 0; i < ti->n_columns; i++)
        if (ti->columns[i].pk_index > 0)
            n_pk++;
    if (config_keys && config_keys->count > 0) {
        ti->n_keys = config_keys->count;
        ti->key_columns = cdc_calloc(ti->n_keys, sizeof(int));
        for (size_t k = 0; k < ti->n_keys; k++) {
            int c = find_column(ti, config_keys->items[k]);
            if (c < 0) {
                snprintf(errstr, errstr_size,
                         "%s: keys: table \"%s\" has no column \"%s\" (named as a key column)",
                         cdc_sqlite_path(db), ti->name, config_keys->items[k]);
                return CDC_TABLE_INFO_EKEY;
            }
            for (size_t j = 0; j < k; j++)
                if (ti->key_columns[j] == c) {
                    snprintf(errstr, errstr_size,
                             "%s: keys: column \"%s\" is named twice for table \"%s\"",
                             cdc_sqlite_path(db), ti->columns[c].name, ti->name);
                    return CDC_TABLE_INFO_EKEY;
                }
            ti->key_columns[k] = c;
        }
        if (n_pk > 0) {
            int same = n_pk == ti->n_keys;
            for (size_t k = 0; same && k < ti->n_keys; k++)
                same = ti->columns[ti->key_columns[k]].pk_index == (int)k + 1;
            if (!same) {
                snprintf(errstr, errstr_size,
                         "%s: keys: table \"%s\" declares a PRIMARY KEY, which capture uses; "
                         "the key columns named for it in keys: differ from it: remove the "
                         "table from keys:",
                         cdc_sqlite_path(db), ti->name);
                return CDC_TABLE_INFO_EKEY;
            }
            ti->key_kind = CDC_KEY_PRIMARY;
            return CDC_TABLE_INFO_OK;
        }
        ti->key_kind = CDC_KEY_CONFIG;
        if (!key_has_unique_index(db, ti))
            ti->warning = cdc_asprintf(
                "table \"%s\": the key columns named in keys: are not covered by a UNIQUE "
                "index, so nothing stops two rows from sharing a key (they would be merged "
                "downstream)",
                ti->name);
        return CDC_TABLE_INFO_OK;
    }
    if (n_pk > 0) {
        ti->key_kind = CDC_KEY_PRIMARY;
        ti->n_keys = n_pk;
        ti->key_columns = cdc_calloc(n_pk, sizeof(int));
        for (size_t i = 0; i < ti->n_columns; i++) {
            int pk = ti->columns[i].pk_index;
            if (pk > 0 && (size_t)pk <= n_pk)
                ti->key_columns[pk - 1] = (int)i;
        }
        return CDC_TABLE_INFO_OK;
    }
    static const char *const aliases[] = {"rowid", "_rowid_", "oid"};
    for (size_t a = 0; a < sizeof(aliases) / sizeof(aliases[0]); a++) {
        if (find_column(ti, aliases[a]) < 0) {
            ti->rowid_alias = aliases[a];
            break;
        }
    }
    if (!ti->rowid_alias) {
        snprintf(errstr, errstr_size,
                 "%s: table \"%s\" has no PRIMARY KEY and its columns shadow every rowid alias "
                 "(rowid, _rowid_, oid): name its key columns in the config with keys: "
                 "{\"%s\": [col, ...]}",
                 cdc_sqlite_path(db), ti->name, ti->name);
        return CDC_TABLE_INFO_EKEY;
    }
    ti->key_kind = CDC_KEY_ROWID;
    ti->n_keys = 1;
    ti->key_columns = cdc_calloc(1, sizeof(int));
    ti->key_columns[0] = -1;
    ti->warning = cdc_asprintf("table \"%s\" has no declared PRIMARY KEY: it is captured by "
                               "rowid, which VACUUM may renumber; name key columns in the "
                               "config with keys: {\"%s\": [col, ...]} to avoid that",
                               ti->name, ti->name);
    return CDC_TABLE_INFO_OK;
}

cdc_table_info_err_t cdc_table_info_load(sqlite3 *db, const char *name,
                                         const cdc_strlist_t *config_keys, cdc_table_info_t **out,
                                         char *errstr, size_t errstr_size)
{
    cdc_table_info_t *ti = cdc_calloc(1, sizeof(*ti));
    sqlite3_stmt *st = NULL;
    cdc_table_info_err_t err = CDC_TABLE_INFO_OK;
    *out = NULL;
    if (cdc_sqlite_prepare(db,
                           "SELECT name, sql FROM main.sqlite_master "
                           "WHERE type='table' AND name=?1 COLLATE NOCASE",
                           &st, errstr, errstr_size) != SQLITE_OK) {
        err = CDC_TABLE_INFO_ESQLITE;
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        snprintf(errstr, errstr_size, "%s: table \"%s\" does not exist", cdc_sqlite_path(db), name);
        err = CDC_TABLE_INFO_ENOTFOUND;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        cdc_sqlite_error(db, rc, "reading sqlite_master", errstr, errstr_size);
        err = CDC_TABLE_INFO_ESQLITE;
        goto out;
    }
    ti->name = cdc_strdup((const char *)sqlite3_column_text(st, 0));
    const char *sql = (const char *)sqlite3_column_text(st, 1);
    ti->sql = cdc_strdup(sql ? sql : "");
    if ((err = load_kind(db, ti, errstr, errstr_size)) != CDC_TABLE_INFO_OK)
        goto out;
    if (ti->kind == CDC_TABLE_VIRTUAL)
        goto out;
    if ((err = load_columns(db, ti, errstr, errstr_size)) != CDC_TABLE_INFO_OK)
        goto out;
    err = choose_key(db, ti, config_keys, errstr, errstr_size);
out:
    sqlite3_finalize(st);
    if (err == CDC_TABLE_INFO_OK)
        *out = ti;
    else
        cdc_table_info_destroy(ti);
    return err;
}

int cdc_table_info_capturable(const cdc_table_info_t *ti, char *errstr, size_t errstr_size)
{
    if (ti->kind == CDC_TABLE_VIRTUAL) {
        snprintf(errstr, errstr_size,
                 "table \"%s\" is a virtual table (module %s): SQLite cannot attach triggers "
                 "to it; exclude it by listing the tables to capture with tables: [...]",
                 ti->name, ti->module ? ti->module : "unknown");
        return -1;
    }
    if (ti->kind == CDC_TABLE_SHADOW) {
        snprintf(errstr, errstr_size,
                 "table \"%s\" is a shadow table holding a virtual table's data: it cannot be "
                 "captured; exclude it by listing the tables to capture with tables: [...]",
                 ti->name);
        return -1;
    }
    if (cdc_table_info_is_reserved(ti->name) || strncasecmp(ti->name, "sqlite_", 7) == 0) {
        snprintf(errstr, errstr_size,
                 "table \"%s\" has a reserved name (_cdc_ belongs to capture, sqlite_ to "
                 "SQLite) and cannot be captured",
                 ti->name);
        return -1;
    }
    return 0;
}

char *cdc_table_info_key_expr(const cdc_table_info_t *ti, size_t i, const char *prefix)
{
    if (ti->key_columns[i] < 0)
        return cdc_asprintf("%s.%s", prefix, ti->rowid_alias);
    char *q = cdc_sqlite_quote_ident(ti->columns[ti->key_columns[i]].name);
    char *e = cdc_asprintf("%s.%s", prefix, q);
    free(q);
    return e;
}

char *cdc_table_info_key_list(const cdc_table_info_t *ti)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    for (size_t i = 0; i < ti->n_keys; i++) {
        if (i)
            cdc_sqlbuf_append(&b, ",");
        if (ti->key_columns[i] < 0)
            cdc_sqlbuf_append(&b, ti->rowid_alias);
        else
            cdc_sqlbuf_ident(&b, ti->columns[ti->key_columns[i]].name);
    }
    return b.s;
}

int cdc_table_info_list(sqlite3 *db, char ***names, size_t *n, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int result = -1;
    size_t cap = 16, count = 0;
    char **v = cdc_calloc(cap, sizeof(char *));
    /* pragma_table_list knows shadow tables; the LEFT JOIN keeps virtual tables whose
     * module this process lacks (pragma_table_list may skip those). */
    if (cdc_sqlite_prepare(db,
                           "SELECT m.name FROM main.sqlite_master m "
                           "LEFT JOIN pragma_table_list l ON l.schema='main' AND l.name=m.name "
                           "WHERE m.type='table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                           "AND m.name NOT LIKE '\\_cdc\\_%' ESCAPE '\\' "
                           "AND coalesce(l.type,'') <> 'shadow' ORDER BY m.name",
                           &st, errstr, errstr_size) != SQLITE_OK)
        goto out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap *= 2;
            v = cdc_realloc(v, cap * sizeof(char *));
        }
        v[count++] = cdc_strdup((const char *)sqlite3_column_text(st, 0));
    }
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "listing tables", errstr, errstr_size);
        goto out;
    }
    result = 0;
out:
    sqlite3_finalize(st);
    if (result == 0) {
        *names = v;
        *n = count;
    } else {
        cdc_table_info_free_names(v, count);
    }
    return result;
}

void cdc_table_info_free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
