#include "wl_schema.h"

#include "wl_check.h"

#include "cdc_alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *cdc_wl_quote_ident(const char *name)
{
    size_t n = strlen(name);
    char *q = cdc_malloc(2 * n + 3);
    char *o = q;
    *o++ = '"';
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            *o++ = '"';
        *o++ = *p;
    }
    *o++ = '"';
    *o = '\0';
    return q;
}

/* Reads "(n)" or "(p,s)" after the type name; returns how many numbers were found. */
static int parse_type_args(const char *decl, int *a, int *b)
{
    const char *lp = strchr(decl, '(');
    if (!lp)
        return 0;
    char *end = NULL;
    long x = strtol(lp + 1, &end, 10);
    if (end == lp + 1)
        return 0;
    *a = (int)x;
    while (*end == ' ')
        end++;
    if (*end != ',')
        return 1;
    const char *p2 = end + 1;
    long y = strtol(p2, &end, 10);
    if (end == p2)
        return 1;
    *b = (int)y;
    return 2;
}

void cdc_wl_schema_classify(const char *decl_type, cdc_wl_kind_t *kind, int *precision, int *scale,
                            int *max_len)
{
    char up[128];
    size_t i = 0;
    for (; decl_type && decl_type[i] && i < sizeof(up) - 1; i++)
        up[i] = (char)toupper((unsigned char)decl_type[i]);
    up[i] = '\0';
    *precision = *scale = *max_len = 0;

    /* The common names first (they would otherwise fall under NUMERIC affinity), then
     * SQLite's own affinity rules in their documented order (datatype3.html 3.1). */
    if (up[0] == '\0') {
        *kind = CDC_WL_KIND_ANY;
    } else if (strstr(up, "BOOL")) {
        *kind = CDC_WL_KIND_BOOLEAN;
    } else if (strstr(up, "DATETIME") || strstr(up, "TIMESTAMP")) {
        *kind = CDC_WL_KIND_DATETIME;
    } else if (strncmp(up, "DATE", 4) == 0) {
        *kind = CDC_WL_KIND_DATE;
    } else if (strncmp(up, "TIME", 4) == 0) {
        *kind = CDC_WL_KIND_TIME;
    } else if (strstr(up, "JSON")) {
        *kind = CDC_WL_KIND_JSON;
    } else if (strstr(up, "INT")) {
        *kind = CDC_WL_KIND_INTEGER;
    } else if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT")) {
        int n = 0, unused = 0;
        *kind = CDC_WL_KIND_TEXT;
        if (parse_type_args(up, &n, &unused) >= 1 && n > 0)
            *max_len = n;
    } else if (strstr(up, "BLOB")) {
        *kind = CDC_WL_KIND_BLOB;
    } else if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB")) {
        *kind = CDC_WL_KIND_REAL;
    } else {
        int p = 0, s = 0;
        int n = parse_type_args(up, &p, &s);
        if ((strstr(up, "DEC") || strstr(up, "NUMERIC")) && n >= 1 && p > 0) {
            *kind = CDC_WL_KIND_DECIMAL;
            *precision = p;
            *scale = n == 2 && s >= 0 && s <= p ? s : 0;
        } else {
            *kind = CDC_WL_KIND_NUMERIC;
        }
    }
}

/* Column names that hold amounts of money: their values keep exact cents. */
static int looks_like_money(const char *name)
{
    static const char *const words[] = {
        "amount", "price",   "cost",    "value",  "revenue", "budget", "total",     "fee", "salary",
        "spend",  "balance", "payment", "income", "profit",  "usd",    "deal_size", "mrr"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasestr(name, words[i]))
            return 1;
    return 0;
}

static void table_free(cdc_wl_table_t *t)
{
    for (size_t i = 0; i < t->n_cols; i++) {
        cdc_wl_column_t *c = &t->cols[i];
        free(c->name);
        free(c->qname);
        free(c->decl_type);
        for (size_t j = 0; j < c->n_choices; j++)
            free(c->choices[j].text);
        free(c->choices);
    }
    for (size_t i = 0; i < t->n_fks; i++) {
        for (size_t j = 0; j < t->fks[i].n; j++)
            free(t->fks[i].parent_cols[j]);
        free(t->fks[i].parent_cols);
        free(t->fks[i].child_cols);
        free(t->fks[i].parent);
    }
    free(t->cols);
    free(t->pk_cols);
    free(t->fks);
    free(t->name);
    free(t->qname);
}

void cdc_wl_schema_clear(cdc_wl_schema_t *schema)
{
    if (!schema)
        return;
    for (size_t i = 0; i < schema->n_tables; i++)
        table_free(&schema->tables[i]);
    free(schema->tables);
    schema->tables = NULL;
    schema->n_tables = 0;
}

cdc_wl_table_t *cdc_wl_schema_find(cdc_wl_schema_t *schema, const char *name)
{
    for (size_t i = 0; i < schema->n_tables; i++)
        if (strcasecmp(schema->tables[i].name, name) == 0)
            return &schema->tables[i];
    return NULL;
}

static int column_index(const cdc_wl_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcasecmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int in_filter(const char *filter, const char *name)
{
    if (!filter)
        return 1;
    size_t n = strlen(name);
    for (const char *p = filter; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return 1;
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

/* Columns (table_xinfo: generated columns are read but never written), key ordinals. */
static int load_columns(sqlite3 *db, cdc_wl_table_t *t, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    size_t cap = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, type, \"notnull\", pk, hidden FROM "
                           "pragma_table_xinfo(?1, 'main') ORDER BY cid",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n_cols == cap) {
            cap = cap ? cap * 2 : 8;
            t->cols = cdc_realloc(t->cols, cap * sizeof(*t->cols));
        }
        cdc_wl_column_t *c = &t->cols[t->n_cols++];
        memset(c, 0, sizeof(*c));
        c->name = cdc_strdup((const char *)sqlite3_column_text(st, 0));
        c->qname = cdc_wl_quote_ident(c->name);
        const char *decl = (const char *)sqlite3_column_text(st, 1);
        c->decl_type = cdc_strdup(decl ? decl : "");
        c->not_null = sqlite3_column_int(st, 2);
        c->pk = sqlite3_column_int(st, 3);
        c->writable = sqlite3_column_int(st, 4) == 0;
        cdc_wl_schema_classify(c->decl_type, &c->kind, &c->precision, &c->scale, &c->max_len);
        c->money = looks_like_money(c->name);
    }
    if (step != SQLITE_DONE)
        goto sqlerr;

    for (size_t i = 0; i < t->n_cols; i++)
        if (t->cols[i].pk > 0)
            t->n_pk++;
    t->pk_cols = cdc_calloc(t->n_pk ? t->n_pk : 1, sizeof(int));
    for (size_t i = 0; i < t->n_cols; i++)
        if (t->cols[i].pk > 0 && (size_t)t->cols[i].pk <= t->n_pk)
            t->pk_cols[t->cols[i].pk - 1] = (int)i;
    t->rowid_alias = -1;
    if (!t->without_rowid && t->n_pk == 1 &&
        strcasecmp(t->cols[t->pk_cols[0]].decl_type, "INTEGER") == 0)
        t->rowid_alias = t->pk_cols[0];
    rc = 0;
    goto out;
sqlerr:
    snprintf(errstr, errstr_size, "table %s: reading columns: %s", t->name, sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    return rc;
}

/* Marks columns that a single-column UNIQUE index covers: they get high-entropy values. */
static int load_unique(sqlite3 *db, cdc_wl_table_t *t, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT group_concat(ii.name, char(31)) FROM "
                           "pragma_index_info(il.name, 'main') ii), "
                           "(SELECT count(*) FROM pragma_index_info(il.name, 'main')) "
                           "FROM pragma_index_list(?1, 'main') il "
                           "WHERE il.\"unique\" = 1 AND il.origin <> 'pk'",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 0);
        if (sqlite3_column_int(st, 1) != 1 || !col)
            continue;
        int idx = column_index(t, col);
        if (idx >= 0)
            t->cols[idx].unique = 1;
    }
    if (step != SQLITE_DONE)
        goto sqlerr;
    rc = 0;
    goto out;
sqlerr:
    snprintf(errstr, errstr_size, "table %s: reading indexes: %s", t->name, sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    return rc;
}

/* Foreign keys grouped by id; a column in two foreign keys keeps the first. */
static int load_fks(sqlite3 *db, cdc_wl_table_t *t, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    long long cur_id = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, \"table\", \"from\", \"to\" FROM "
                           "pragma_foreign_key_list(?1, 'main') ORDER BY id, seq",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        int from = column_index(t, (const char *)sqlite3_column_text(st, 2));
        if (from < 0)
            continue;
        if (id != cur_id) {
            cur_id = id;
            t->fks = cdc_realloc(t->fks, (t->n_fks + 1) * sizeof(*t->fks));
            cdc_wl_fk_t *fk = &t->fks[t->n_fks++];
            memset(fk, 0, sizeof(*fk));
            fk->parent = cdc_strdup((const char *)sqlite3_column_text(st, 1));
        }
        cdc_wl_fk_t *fk = &t->fks[t->n_fks - 1];
        fk->parent_cols = cdc_realloc(fk->parent_cols, (fk->n + 1) * sizeof(char *));
        fk->child_cols = cdc_realloc(fk->child_cols, (fk->n + 1) * sizeof(int));
        const char *to = (const char *)sqlite3_column_text(st, 3);
        fk->parent_cols[fk->n] = to ? cdc_strdup(to) : NULL;
        fk->child_cols[fk->n] = from;
        if (t->cols[from].fk == 0) {
            t->cols[from].fk = (int)t->n_fks;
            t->cols[from].fk_pos = (int)fk->n;
        }
        fk->n++;
    }
    if (step != SQLITE_DONE)
        goto sqlerr;
    rc = 0;
    goto out;
sqlerr:
    snprintf(errstr, errstr_size, "table %s: reading foreign keys: %s", t->name,
             sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    return rc;
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp(((const cdc_wl_table_t *)a)->name, ((const cdc_wl_table_t *)b)->name);
}

int cdc_wl_schema_load(sqlite3 *db, const char *path, const char *filter, cdc_wl_schema_t *out,
                       char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    char sub[512] = "";
    memset(out, 0, sizeof(*out));

    /* table_list's type tells tables from views, virtual tables and their shadow tables
     * (writing into an FTS shadow table would corrupt the index). */
    if (sqlite3_prepare_v2(db,
                           "SELECT tl.name, tl.wr, s.sql FROM pragma_table_list tl "
                           "JOIN main.sqlite_schema s ON s.name = tl.name AND s.type = 'table' "
                           "WHERE tl.schema = 'main' AND tl.type = 'table' "
                           "AND tl.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                           "AND tl.name NOT LIKE '\\_cdc\\_%' ESCAPE '\\' ORDER BY tl.name",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "%s: listing tables: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->tables = cdc_realloc(out->tables, (out->n_tables + 1) * sizeof(*out->tables));
        cdc_wl_table_t *t = &out->tables[out->n_tables++];
        memset(t, 0, sizeof(*t));
        t->name = cdc_strdup((const char *)sqlite3_column_text(st, 0));
        t->qname = cdc_wl_quote_ident(t->name);
        t->without_rowid = sqlite3_column_int(st, 1);
        t->selected = in_filter(filter, t->name);
        t->cached_count = -1;
        if (load_columns(db, t, sub, sizeof(sub)) != 0 ||
            load_unique(db, t, sub, sizeof(sub)) != 0 || load_fks(db, t, sub, sizeof(sub)) != 0) {
            snprintf(errstr, errstr_size, "%s: %s", path, sub);
            goto out;
        }
        const char *sql = (const char *)sqlite3_column_text(st, 2);
        if (sql)
            cdc_wl_check_hints(sql, t);
    }
    if (step != SQLITE_DONE) {
        snprintf(errstr, errstr_size, "%s: listing tables: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    /* ORDER BY above already sorts; sorting again with strcmp makes the order independent
     * of the file's collation settings, which the choice sequence relies on. */
    if (out->n_tables > 1)
        qsort(out->tables, out->n_tables, sizeof(*out->tables), table_cmp);
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc != 0)
        cdc_wl_schema_clear(out);
    return rc;
}
