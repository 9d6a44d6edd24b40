/*
 * sink_schema_evolve: what a new schema of a (source, table) means for its existing target
 * table beyond added columns (see sink_schema.h): a column whose type changed and the
 * target column cannot take the new values without changing them (the schema is refused),
 * and columns earlier schemas had that this one lacks (a warning; the target keeps them).
 * Both are judged against the column history the sink keeps in _cdc_tables.source_columns
 * (jsonb: target column name -> the PostgreSQL type the accepted schema mapped it to), so
 * a pre-created table's own choices (varchar(40) for TEXT, numeric(10,2) for REAL) and its
 * extra columns are never mistaken for a change.
 */
#include "sink_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_log.h"

typedef enum {
    T_UNKNOWN,
    T_INT,     /* a: bits */
    T_NUMERIC, /* a: precision (0: unconstrained), b: scale */
    T_FLOAT,   /* a: 24 real, 53 double precision */
    T_STRING,  /* text / varchar; a: max length (0: unbounded) */
    T_BPCHAR,  /* character(n): pads and strips blanks */
    T_BOOL,
    T_TSTZ, /* a: fractional digits */
    T_TS,   /* timestamp without time zone; a: fractional digits */
    T_DATE,
    T_JSONB,
    T_JSON,
    T_BYTEA,
} family_t;

typedef struct {
    family_t f;
    int a, b;
} pgtype_t;

/* s starts with prefix: returns what follows, else NULL. */
static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* "(a)" or "(a,b)" (blanks allowed) at s, followed by rest; 1 when it parsed. */
static int parse_args(const char *s, int *a, int *b, const char *rest)
{
    int n = 0;

    *b = 0;
    if (sscanf(s, " (%d ,%d )%n", a, b, &n) == 2 && strcmp(s + n, rest) == 0)
        return 1;
    n = 0;
    *b = 0;
    return sscanf(s, " (%d )%n", a, &n) == 1 && strcmp(s + n, rest) == 0;
}

/* A type name as format_type() prints it or as the sink spells it when creating tables. */
static pgtype_t parse_type(const char *s)
{
    pgtype_t t = {T_UNKNOWN, 0, 0};
    const char *r;
    static const struct {
        const char *name;
        family_t f;
        int a;
    } plain[] = {{"bigint", T_INT, 64},
                 {"int8", T_INT, 64},
                 {"integer", T_INT, 32},
                 {"int4", T_INT, 32},
                 {"int", T_INT, 32},
                 {"smallint", T_INT, 16},
                 {"int2", T_INT, 16},
                 {"numeric", T_NUMERIC, 0},
                 {"decimal", T_NUMERIC, 0},
                 {"double precision", T_FLOAT, 53},
                 {"float8", T_FLOAT, 53},
                 {"real", T_FLOAT, 24},
                 {"float4", T_FLOAT, 24},
                 {"text", T_STRING, 0},
                 {"character varying", T_STRING, 0},
                 {"varchar", T_STRING, 0},
                 {"bpchar", T_BPCHAR, 0},
                 {"boolean", T_BOOL, 0},
                 {"bool", T_BOOL, 0},
                 {"timestamptz", T_TSTZ, 6},
                 {"timestamp with time zone", T_TSTZ, 6},
                 {"timestamp", T_TS, 6},
                 {"timestamp without time zone", T_TS, 6},
                 {"date", T_DATE, 0},
                 {"jsonb", T_JSONB, 0},
                 {"json", T_JSON, 0},
                 {"bytea", T_BYTEA, 0}};

    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(s, plain[i].name) == 0) {
            t.f = plain[i].f;
            t.a = plain[i].a;
            return t;
        }
    if ((r = after(s, "numeric")) != NULL || (r = after(s, "decimal")) != NULL) {
        if (parse_args(r, &t.a, &t.b, "") && t.a > 0)
            t.f = T_NUMERIC;
    } else if ((r = after(s, "character varying")) != NULL || (r = after(s, "varchar")) != NULL) {
        if (parse_args(r, &t.a, &t.b, "") && t.a > 0)
            t.f = T_STRING;
    } else if ((r = after(s, "character")) != NULL || (r = after(s, "char")) != NULL) {
        if (parse_args(r, &t.a, &t.b, ""))
            t.f = T_BPCHAR;
    } else if ((r = after(s, "timestamp")) != NULL) {
        if (parse_args(r, &t.a, &t.b, " with time zone"))
            t.f = T_TSTZ;
        else if (parse_args(r, &t.a, &t.b, " without time zone") || parse_args(r, &t.a, &t.b, ""))
            t.f = T_TS;
    }
    return t;
}

/* Characters the text of a value of n needs at most ("-" and digits, "." for decimals);
 * 0: unbounded. */
static int text_width(pgtype_t n)
{
    switch (n.f) {
    case T_INT:
        return 20;
    case T_NUMERIC:
        return n.a > 0 ? n.a + 3 : 0; /* sign, point, leading zero */
    case T_DATE:
        return 10;
    case T_STRING:
        return n.a;
    default:
        return 0;
    }
}

/* Into a string column: the staged text of these kinds is the value's own canonical text
 * (decimal digits, shortest round-trip doubles, ISO dates, the JSON as written). Booleans
 * (t/f), timestamps (the sink's UTC spelling) and bytes (\x hex) are not. */
static cdc_sink_type_compat_t to_string(pgtype_t n, pgtype_t g, const char **why)
{
    int w = text_width(n);

    if (n.f != T_INT && n.f != T_NUMERIC && n.f != T_FLOAT && n.f != T_DATE && n.f != T_STRING &&
        n.f != T_JSONB) {
        *why = "its text would be the sink's spelling of the value, not the value";
        return CDC_SINK_TYPE_INCOMPATIBLE;
    }
    if (g.a == 0 || (w > 0 && w <= g.a))
        return CDC_SINK_TYPE_OK;
    *why = "a longer value is refused by PostgreSQL";
    return CDC_SINK_TYPE_NARROWER;
}

static cdc_sink_type_compat_t from_number(pgtype_t n, pgtype_t g, const char **why)
{
    if (g.f == T_NUMERIC && g.a == 0)
        return n.f == T_FLOAT || n.f == T_INT || n.f == T_NUMERIC ? CDC_SINK_TYPE_OK
                                                                  : CDC_SINK_TYPE_INCOMPATIBLE;
    if (g.f == T_NUMERIC) {
        if (n.f == T_FLOAT || (n.f == T_NUMERIC && (n.a == 0 || n.b > g.b))) {
            *why = "the cast rounds to the target's scale";
            return CDC_SINK_TYPE_INCOMPATIBLE;
        }
        /* integer digits: 19 for a bigint, p - s for numeric(p,s) */
        if ((n.f == T_INT ? (n.a == 64 ? 19 : n.a == 32 ? 10 : 5) : n.a - n.b) <= g.a - g.b)
            return CDC_SINK_TYPE_OK;
        *why = "a larger value is refused by PostgreSQL (numeric field overflow)";
        return CDC_SINK_TYPE_NARROWER;
    }
    if (g.f == T_INT && n.f == T_INT) {
        if (n.a <= g.a)
            return CDC_SINK_TYPE_OK;
        *why = "a larger value is refused by PostgreSQL (out of range)";
        return CDC_SINK_TYPE_NARROWER;
    }
    if (g.f == T_FLOAT && g.a == 53 &&
        (n.f == T_FLOAT || (n.f == T_NUMERIC && n.a > 0 && n.a <= 15)))
        return CDC_SINK_TYPE_OK; /* up to 15 significant digits survive a double */
    if (g.f == T_FLOAT)
        *why = g.a == 24 ? "real keeps about 6 significant digits"
                         : "a double rounds beyond 15 significant digits";
    else if (g.f == T_INT)
        *why = "the target holds integers only";
    return CDC_SINK_TYPE_INCOMPATIBLE;
}

cdc_sink_type_compat_t cdc_sink_schema_type_compat(const char *new_type, const char *target_type,
                                                   const char **why)
{
    pgtype_t n = parse_type(new_type), g = parse_type(target_type);
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    *why = "another kind of value: the cast would parse or re-spell it";
    if (g.f == T_UNKNOWN || n.f == T_UNKNOWN)
        return CDC_SINK_TYPE_UNJUDGED;
    if (g.f == T_STRING)
        return to_string(n, g, why);
    switch (n.f) {
    case T_INT:
    case T_NUMERIC:
    case T_FLOAT:
        return from_number(n, g, why);
    case T_TSTZ:
        if ((g.f == T_TSTZ || g.f == T_TS) && g.a >= 6)
            return CDC_SINK_TYPE_OK; /* the staged UTC time, in a UTC session */
        if (g.f == T_TSTZ || g.f == T_TS)
            *why = "the cast rounds to the target's fractional digits";
        else if (g.f == T_DATE)
            *why = "the cast keeps the date and drops the time";
        return CDC_SINK_TYPE_INCOMPATIBLE;
    case T_DATE:
        return g.f == T_DATE || g.f == T_TSTZ || g.f == T_TS ? CDC_SINK_TYPE_OK
                                                             : CDC_SINK_TYPE_INCOMPATIBLE;
    case T_JSONB:
    case T_JSON:
        return g.f == T_JSONB || g.f == T_JSON ? CDC_SINK_TYPE_OK : CDC_SINK_TYPE_INCOMPATIBLE;
    case T_STRING:
        if (g.f == T_BPCHAR)
            *why = "character(n) pads and strips trailing blanks";
        return CDC_SINK_TYPE_INCOMPATIBLE;
    case T_BOOL:
    case T_BYTEA:
    case T_BPCHAR:
    case T_TS:
        return g.f == n.f ? CDC_SINK_TYPE_OK : CDC_SINK_TYPE_INCOMPATIBLE;
    case T_UNKNOWN:
        break;
    }
    return CDC_SINK_TYPE_UNJUDGED;
}

/* The row of res whose column 0 is name clipped to len bytes, or -1. */
static int find_row(PGresult *res, const char *name, size_t len)
{
    for (int r = 0; r < PQntuples(res); r++)
        if (strlen(PQgetvalue(res, r, 0)) == len && memcmp(PQgetvalue(res, r, 0), name, len) == 0)
            return r;
    return -1;
}

/* 1 when one of t's columns is called name (as PostgreSQL stores it). */
static int schema_has(const cdc_sink_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++) {
        size_t len = cdc_sink_pg_ident_len(t->cols[i].name);
        if (strlen(name) == len && memcmp(name, t->cols[i].name, len) == 0)
            return 1;
    }
    return 0;
}

/* The columns the history has, t lacks and the target still has: the ones a source drop
 * or rename left behind. Logs them when they differ from what t held. */
static void note_dropped(cdc_sink_table_t *t, PGresult *hist, PGresult *cols)
{
    cdc_buf_t b = CDC_BUF_INIT;
    size_t n = 0;

    for (int h = 0; h < PQntuples(hist); h++) {
        const char *name = PQgetvalue(hist, h, 0);
        if (schema_has(t, name) || find_row(cols, name, strlen(name)) < 0)
            continue;
        char *q = cdc_sink_pg_ident_quote(name);
        cdc_buf_printf(&b, "%s%s", n > 0 ? ", " : "", q);
        free(q);
        n++;
    }
    if (n > 0 && (t->dropped == NULL || strcmp(t->dropped, cdc_buf_cstr(&b)) != 0))
        cdc_log_warn("target table %s (source %s table %s): the record's schema lacks column(s) "
                     "%s that an earlier schema of the source had (dropped or renamed in the "
                     "source); the target keeps them: rows inserted from now on get NULL (or the "
                     "column's default) there, rows updated keep their value, nothing is deleted",
                     t->target, t->source, t->table, cdc_buf_cstr(&b));
    free(t->dropped);
    t->dropped = n > 0 ? cdc_strdup(cdc_buf_cstr(&b)) : NULL;
    t->ndropped = n;
    cdc_buf_free(&b);
}

cdc_sink_pg_class_t cdc_sink_schema_evolve_judge(PGconn *conn, cdc_sink_table_t *t, PGresult *cols,
                                                 cdc_buf_t *changed, cdc_buf_t *alter, char *errstr,
                                                 size_t errstr_size)
{
    const char *params[1] = {t->target};
    PGresult *hist = NULL;
    cdc_sink_pg_class_t cls;
    char type[64];

    cls = cdc_sink_pg_exec(conn,
                           "SELECT h.key, h.value FROM _cdc_tables,"
                           " jsonb_each_text(source_columns) h WHERE target_table = $1",
                           1, params, &hist, errstr, errstr_size);
    if (cls != CDC_SINK_PG_OK)
        return cls;
    for (size_t i = 0; i < t->ncols; i++) {
        size_t len = cdc_sink_pg_ident_len(t->cols[i].name);
        int h = find_row(hist, t->cols[i].name, len), r = find_row(cols, t->cols[i].name, len);
        const char *why = NULL, *was, *target;
        cdc_sink_type_compat_t v;

        cdc_sink_schema_pg_type(&t->cols[i].type, type, sizeof type);
        /* No history (a new column, a pre-created table's first schema, a table registered
         * before the history existed): the target's type is the operator's choice. */
        if (h < 0 || r < 0 || strcmp(PQgetvalue(hist, h, 1), type) == 0)
            continue;
        was = PQgetvalue(hist, h, 1);
        target = PQgetvalue(cols, r, 1);
        v = cdc_sink_schema_type_compat(type, target, &why);
        if (v == CDC_SINK_TYPE_INCOMPATIBLE) {
            cdc_buf_printf(changed, "%s%s to %s (was %s) and the target column is %s: %s",
                           changed->len > 0 ? "; " : "", t->col_q[i], type, was, target, why);
            cdc_buf_printf(alter, "%sALTER COLUMN %s TYPE %s", alter->len > 0 ? ", " : "",
                           t->col_q[i], type);
        } else if (!t->judged) {
            cdc_log_info("target table %s (source %s table %s): column %s changed type from %s "
                         "to %s; the target's %s takes it%s",
                         t->target, t->source, t->table, t->col_q[i], was, type, target,
                         v == CDC_SINK_TYPE_OK ? ""
                         : v == CDC_SINK_TYPE_NARROWER
                             ? " (narrower: a value that does not fit becomes a dead letter)"
                             : " (a type the sink does not judge: PostgreSQL's cast applies)");
        }
    }
    note_dropped(t, hist, cols);
    t->judged = 1;
    PQclear(hist);
    return CDC_SINK_PG_OK;
}

/* The refusal of a schema the existing target cannot take: columns it lacks while
 * auto-evolve is off (missing, "a text, b bigint"), and changed types it cannot hold
 * (changed, fixed by the ALTER COLUMN clauses alter): what the dead letters of its records
 * say. */
void cdc_sink_schema_evolve_refuse(cdc_sink_table_t *t, const char *domain, const char *missing,
                                   const char *changed, const char *alter, int log)
{
    cdc_buf_t r = CDC_BUF_INIT;

    cdc_buf_printf(&r, "target table %s (source %s table %s)", t->target, t->source, t->table);
    if (*changed != '\0')
        cdc_buf_printf(&r,
                       ": the record's schema changed the type of column(s) %s; alter the target "
                       "column(s) (ALTER TABLE %s %s)%s",
                       changed, t->target_q, alter, *missing != '\0' ? "; it also" : "");
    if (*missing != '\0')
        cdc_buf_printf(&r,
                       " lacks column(s) %s of the record's schema and auto-evolve is off for "
                       "domain %s (domains[].auto_evolve: false or cdc-sink --no-auto-evolve): "
                       "add them (ALTER TABLE %s ADD COLUMN ...)",
                       missing, domain, t->target_q);
    cdc_buf_put_str(&r, ", then cdc-ctl dlq redrive");
    t->refused = cdc_strdup(cdc_buf_cstr(&r));
    cdc_buf_free(&r);
    if (log)
        cdc_log_warn("%s", t->refused);
}

/* A PostgreSQL array literal element: quoted, with " and \ escaped. */
static void put_array_elem(cdc_buf_t *b, const char *s, size_t len)
{
    cdc_buf_put_str(b, b->len > 1 ? ",\"" : "\"");
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            cdc_buf_put_byte(b, '\\');
        cdc_buf_put_byte(b, (unsigned char)s[i]);
    }
    cdc_buf_put_byte(b, '"');
}

cdc_sink_pg_class_t cdc_sink_schema_evolve_save(PGconn *conn, const cdc_sink_table_t *t,
                                                char *errstr, size_t errstr_size)
{
    cdc_buf_t names = CDC_BUF_INIT, types = CDC_BUF_INIT;
    cdc_sink_pg_class_t cls;
    char type[64];

    cdc_buf_put_str(&names, "{");
    cdc_buf_put_str(&types, "{");
    for (size_t i = 0; i < t->ncols; i++) {
        cdc_sink_schema_pg_type(&t->cols[i].type, type, sizeof type);
        put_array_elem(&names, t->cols[i].name, cdc_sink_pg_ident_len(t->cols[i].name));
        put_array_elem(&types, type, strlen(type));
    }
    cdc_buf_put_str(&names, "}");
    cdc_buf_put_str(&types, "}");
    {
        const char *params[3] = {t->target, cdc_buf_cstr(&names), cdc_buf_cstr(&types)};
        cls = cdc_sink_pg_exec(conn,
                               "UPDATE _cdc_tables SET source_columns ="
                               " coalesce(source_columns, '{}'::jsonb)"
                               " || jsonb_object($2::text[], $3::text[]) WHERE target_table = $1",
                               3, params, NULL, errstr, errstr_size);
    }
    cdc_buf_free(&names);
    cdc_buf_free(&types);
    return cls;
}
