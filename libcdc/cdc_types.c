/*
 * cdc_types: declared SQLite type -> column mapping (docs/type-mapping.md is the table
 * below in prose; keep both in step).
 *
 * A declared type is normalized (upper case, runs of blanks collapsed to one space) and
 * split into a name and up to two integer arguments, "DECIMAL ( 10 , 2 )" giving
 * ("DECIMAL", 10, 2). The name is looked up in the table of known names; a name that is
 * not there falls back on SQLite's own affinity rules, so a column is carried the way
 * SQLite itself treats its values.
 */
#include "cdc_types.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's limits: numeric precision 1..1000, varchar(n) up to 10485760. */
#define CDC_TYPES_MAX_PRECISION 1000
#define CDC_TYPES_MAX_LENGTH    10485760

/* How the arguments of a known name are used. */
typedef enum {
    ARGS_IGNORED,   /* INT(11), FLOAT(53), TIMESTAMP(6): display hints, no effect */
    ARGS_DECIMAL,   /* (p,s) or (p): DECIMAL; none: NUMERIC */
    ARGS_MAXLENGTH, /* (n): TEXT of at most n characters; none: unbounded */
} args_use_t;

typedef struct {
    const char *name;
    cdc_col_kind_t kind;
    args_use_t args;
} known_type_t;

/* The known names, normalized. Order is irrelevant (exact match). */
static const known_type_t known_types[] = {
    {"INTEGER", CDC_COL_LONG, ARGS_IGNORED},
    {"INT", CDC_COL_LONG, ARGS_IGNORED},
    {"BIGINT", CDC_COL_LONG, ARGS_IGNORED},
    {"SMALLINT", CDC_COL_LONG, ARGS_IGNORED},
    {"TINYINT", CDC_COL_LONG, ARGS_IGNORED},
    {"MEDIUMINT", CDC_COL_LONG, ARGS_IGNORED},
    {"INT2", CDC_COL_LONG, ARGS_IGNORED},
    {"INT4", CDC_COL_LONG, ARGS_IGNORED},
    {"INT8", CDC_COL_LONG, ARGS_IGNORED},
    {"UNSIGNED BIG INT", CDC_COL_LONG, ARGS_IGNORED},
    {"REAL", CDC_COL_DOUBLE, ARGS_IGNORED},
    {"FLOAT", CDC_COL_DOUBLE, ARGS_IGNORED},
    {"DOUBLE", CDC_COL_DOUBLE, ARGS_IGNORED},
    {"DOUBLE PRECISION", CDC_COL_DOUBLE, ARGS_IGNORED},
    {"DECIMAL", CDC_COL_NUMERIC, ARGS_DECIMAL},
    {"NUMERIC", CDC_COL_NUMERIC, ARGS_DECIMAL},
    /* MONEY: no precision is declared, so any fixed (p,s) would be a guess that turns
     * legitimate values into misfits; unconstrained numeric keeps every value exact. */
    {"MONEY", CDC_COL_NUMERIC, ARGS_IGNORED},
    {"BOOLEAN", CDC_COL_BOOLEAN, ARGS_IGNORED},
    {"BOOL", CDC_COL_BOOLEAN, ARGS_IGNORED},
    {"DATETIME", CDC_COL_TIMESTAMP, ARGS_IGNORED},
    {"TIMESTAMP", CDC_COL_TIMESTAMP, ARGS_IGNORED},
    {"TIMESTAMPTZ", CDC_COL_TIMESTAMP, ARGS_IGNORED},
    {"TIMESTAMP WITH TIME ZONE", CDC_COL_TIMESTAMP, ARGS_IGNORED},
    {"TIMESTAMP WITHOUT TIME ZONE", CDC_COL_TIMESTAMP, ARGS_IGNORED},
    {"DATE", CDC_COL_DATE, ARGS_IGNORED},
    {"JSON", CDC_COL_JSON, ARGS_IGNORED},
    {"JSONB", CDC_COL_JSON, ARGS_IGNORED},
    {"BLOB", CDC_COL_BLOB, ARGS_IGNORED},
    {"TEXT", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"CLOB", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"CHAR", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"CHARACTER", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"VARCHAR", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"NCHAR", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"NVARCHAR", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"VARYING CHARACTER", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"CHARACTER VARYING", CDC_COL_TEXT, ARGS_MAXLENGTH},
    {"NATIVE CHARACTER", CDC_COL_TEXT, ARGS_MAXLENGTH},
};

/* A declared type split into its parts. */
typedef struct {
    char name[64]; /* normalized name; longer names are truncated (then never "known") */
    int nargs;     /* 0, 1 or 2 integer arguments; -1 when the parentheses don't parse */
    long args[2];
} parsed_decl_t;

static void parse_decl(const char *decl, parsed_decl_t *out)
{
    size_t n = 0;
    const char *p = decl ? decl : "";
    int pending_space = 0;

    memset(out, 0, sizeof(*out));
    for (; *p && *p != '('; p++) {
        if (isspace((unsigned char)*p)) {
            pending_space = n > 0;
            continue;
        }
        if (pending_space && n + 1 < sizeof(out->name))
            out->name[n++] = ' ';
        pending_space = 0;
        if (n + 1 < sizeof(out->name))
            out->name[n++] = (char)toupper((unsigned char)*p);
    }
    out->name[n] = '\0';
    if (*p != '(')
        return;
    p++;
    for (;;) {
        char *end = NULL;
        long v;

        while (isspace((unsigned char)*p))
            p++;
        if (!isdigit((unsigned char)*p) && *p != '-' && *p != '+')
            goto bad;
        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno != 0 || out->nargs == 2)
            goto bad;
        out->args[out->nargs++] = v;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ')')
            return;
        goto bad;
    }
bad:
    out->nargs = -1;
}

static const known_type_t *find_known(const char *name)
{
    for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
        if (strcmp(known_types[i].name, name) == 0)
            return &known_types[i];
    return NULL;
}

/* Applies a known name's arguments. Returns 0, or -1 when the arguments are invalid for
 * the name (the caller decides whether that is an error or a fallback). */
static int apply_known(const known_type_t *k, const parsed_decl_t *d, cdc_col_type_t *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = k->kind;
    if (d->nargs < 0)
        return -1;
    switch (k->args) {
    case ARGS_IGNORED:
        return 0;
    case ARGS_DECIMAL:
        if (d->nargs == 0)
            return 0; /* NUMERIC: exact decimal text of any size */
        if (d->args[0] < 1 || d->args[0] > CDC_TYPES_MAX_PRECISION)
            return -1;
        if (d->nargs == 2 && (d->args[1] < 0 || d->args[1] > d->args[0]))
            return -1;
        out->kind = CDC_COL_DECIMAL;
        out->precision = (int)d->args[0];
        out->scale = d->nargs == 2 ? (int)d->args[1] : 0;
        return 0;
    case ARGS_MAXLENGTH:
        if (d->nargs == 0)
            return 0;
        if (d->nargs != 1 || d->args[0] < 1)
            return -1;
        /* Beyond what varchar(n) can hold, the bound is no bound at all. */
        out->max_length = d->args[0] > CDC_TYPES_MAX_LENGTH ? 0 : (int)d->args[0];
        return 0;
    }
    return -1;
}

/* SQLite's affinity rules (datatype3.html, 3.1), in their order, on the normalized name
 * and with the empty name decided explicitly (see docs/type-mapping.md). */
static cdc_col_kind_t affinity_kind(const char *name)
{
    if (strstr(name, "INT"))
        return CDC_COL_LONG;
    if (strstr(name, "CHAR") || strstr(name, "CLOB") || strstr(name, "TEXT"))
        return CDC_COL_TEXT;
    if (name[0] == '\0')
        /* No declared type: SQLite stores values as given. TEXT keeps text (by far the
         * common case) exactly, carries numbers as their exact text (cdc_convert.h), and
         * makes a blob an explicit misfit naming the column, settled by an override. */
        return CDC_COL_TEXT;
    if (strstr(name, "BLOB"))
        return CDC_COL_BLOB;
    if (strstr(name, "REAL") || strstr(name, "FLOA") || strstr(name, "DOUB"))
        return CDC_COL_DOUBLE;
    return CDC_COL_NUMERIC;
}

cdc_col_type_t cdc_types_from_declared(const char *decl_type)
{
    parsed_decl_t d;
    cdc_col_type_t t;
    const known_type_t *k;

    parse_decl(decl_type, &d);
    k = find_known(d.name);
    if (k && apply_known(k, &d, &t) == 0)
        return t;
    memset(&t, 0, sizeof(t));
    /* A known name with arguments we cannot honour (DECIMAL(0), VARCHAR(-1)) keeps its
     * kind without them; DECIMAL with an impossible (p,s) becomes exact NUMERIC. */
    t.kind = k ? k->kind : affinity_kind(d.name);
    return t;
}

/* Kind names (cdc_types_kind_name); overrides accept them as well as the SQL names. Only
 * "long" is not also an SQL name above, and "decimal" without (p,s) means NUMERIC there. */
static const struct {
    const char *name;
    cdc_col_kind_t kind;
} kind_names[] = {
    {"long", CDC_COL_LONG},       {"double", CDC_COL_DOUBLE},   {"decimal", CDC_COL_DECIMAL},
    {"numeric", CDC_COL_NUMERIC}, {"boolean", CDC_COL_BOOLEAN}, {"timestamp", CDC_COL_TIMESTAMP},
    {"date", CDC_COL_DATE},       {"text", CDC_COL_TEXT},       {"json", CDC_COL_JSON},
    {"blob", CDC_COL_BLOB},
};

int cdc_types_parse_override(const char *text, cdc_col_type_t *out, char *errstr,
                             size_t errstr_size)
{
    parsed_decl_t d;
    const known_type_t *k;
    int rc = -1;

    parse_decl(text, &d);
    k = find_known(d.name);
    if (!k && strcmp(d.name, "LONG") == 0)
        k = find_known("INTEGER");
    if (!k) {
        snprintf(errstr, errstr_size,
                 "unknown column type \"%s\" (use one of: long, integer, real, decimal(p,s), "
                 "numeric, boolean, timestamp, date, text, varchar(n), json, blob)",
                 text ? text : "");
        goto out;
    }
    if (apply_known(k, &d, out) != 0) {
        snprintf(errstr, errstr_size,
                 "invalid arguments in column type \"%s\" (decimal(p,s) needs 1 <= p <= %d "
                 "and 0 <= s <= p; varchar(n) needs n >= 1)",
                 text, CDC_TYPES_MAX_PRECISION);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

const char *cdc_types_kind_name(cdc_col_kind_t kind)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (kind_names[i].kind == kind)
            return kind_names[i].name;
    return "unknown";
}
