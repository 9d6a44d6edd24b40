/*
 * canon_pg_check: proves against a real PostgreSQL that the producer's canonical row
 * (SQLite value → cdc_convert_value → cdc_canon) equals the sink's (the stored row's
 * text → cdc_pgtext → cdc_canon), for tricky values of every kind. Driven by
 * tests/integration/canon_postgres.test.sh.
 *
 *   canon_pg_check CONNINFO [--verify]
 *
 * 1. creates table canon_check with one column per PostgreSQL type the sink creates;
 * 2. for each case row: converts the SQLite values, hashes the canonical row, inserts the
 *    values as text parameters (as the sink sends them) and hashes the RETURNING row on
 *    a pinned session; the two must be byte-identical;
 * 3. reads the table back in key order and compares the per-table SHA-256 of both sides;
 * 4. checks that values a person calls different (NULL / '' / 'NULL', 0 / '0', 'a' /
 *    'a ') give different canonical bytes as stored;
 * 5. checks that a session with another time zone still agrees, and that a session with
 *    other DateStyle / bytea_output is refused rather than hashed wrongly.
 * With --verify only steps 1-3's comparison runs, against the table as it is now (a test
 * changes stored values behind our back and expects a mismatch naming the row).
 * Prints one line per row on stdout. Exit codes: 0 all equal, 1 a mismatch or a
 * PostgreSQL error, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cdc_buf.h"
#include "cdc_canon.h"
#include "cdc_convert.h"
#include "cdc_hash.h"
#include "cdc_pgtext.h"

#define NCOLS 12

static const struct {
    const char *name, *sqltype;
    cdc_col_type_t type;
} g_cols[NCOLS] = {
    {"id", "bigint PRIMARY KEY", {CDC_COL_LONG, 0, 0, 0}},
    {"c_long", "bigint", {CDC_COL_LONG, 0, 0, 0}},
    {"c_double", "double precision", {CDC_COL_DOUBLE, 0, 0, 0}},
    {"c_dec", "numeric(14,2)", {CDC_COL_DECIMAL, 14, 2, 0}},
    {"c_num", "numeric", {CDC_COL_NUMERIC, 0, 0, 0}},
    {"c_bool", "boolean", {CDC_COL_BOOLEAN, 0, 0, 0}},
    {"c_ts", "timestamptz", {CDC_COL_TIMESTAMP, 0, 0, 0}},
    {"c_date", "date", {CDC_COL_DATE, 0, 0, 0}},
    {"c_text", "text", {CDC_COL_TEXT, 0, 0, 0}},
    {"c_vc", "varchar(10)", {CDC_COL_TEXT, 0, 0, 10}},
    {"c_json", "jsonb", {CDC_COL_JSON, 0, 0, 0}},
    {"c_blob", "bytea", {CDC_COL_BLOB, 0, 0, 0}},
};

#define N_                                                                                         \
    {                                                                                              \
        CDC_VAL_NULL, 0, 0, NULL, 0                                                                \
    }
#define I_(i)                                                                                      \
    {                                                                                              \
        CDC_VAL_INTEGER, (i), 0, NULL, 0                                                           \
    }
#define R_(r)                                                                                      \
    {                                                                                              \
        CDC_VAL_REAL, 0, (r), NULL, 0                                                              \
    }
#define T_(t)                                                                                      \
    {                                                                                              \
        CDC_VAL_TEXT, 0, 0, (const unsigned char *)(t), sizeof(t) - 1                              \
    }
#define B_(b)                                                                                      \
    {                                                                                              \
        CDC_VAL_BLOB, 0, 0, (const unsigned char *)(b), sizeof(b) - 1                              \
    }

/* Case rows; column 0 (id) is the row number. Rows 1-3: NULL, '' and 'NULL'; row 9:
 * LONG 0 beside TEXT '0'; rows 4 and 7: 'a ' and 'a'. */
static const cdc_value_t g_rows[][NCOLS] = {
    {I_(1), N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, N_},
    {I_(2), I_(0), R_(0.0), T_("0"), T_("0"), I_(0), I_(0), T_("1970-01-01"), T_(""), T_(""),
     T_("\"\""), B_("")},
    {I_(3), I_(-1), R_(-1.5), T_("-0.01"), T_("-1"), I_(1), T_("2000-01-01 00:00:00"),
     T_("2000-01-01"), T_("NULL"), T_("NULL"), T_("null"), T_("NULL")},
    {I_(4), I_(42), R_(0.1), T_("1.50"), T_("1e2"), I_(1), T_("2024-01-15 10:30:00+02:00"),
     T_("2024-02-29"), T_("a "), T_("a "),
     T_("{ \"b\" : 1, \"a\" : [1.0, 1e2, -0], \"a\": {\"z\": \"\\u00e9\", \"y\": 1.50} }"),
     B_("\x00")},
    {I_(5), I_(1234567890123), R_(1e300), R_(19.99), T_("-0"), I_(0), T_("1969-12-31 23:59:59.5"),
     T_("1900-01-01"), T_("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
     T_("\xc3\xbc"
        "n\xc3\xaf"
        "c\xc3\xb6"
        "d\xc3\xa9!!!"),
     T_("[1E-3, 0.00, -0.0, 1.50e1, 1e-10]"), B_("\x00\x00\xff\x00")},
    {I_(6), I_(-42), R_(-0.0), T_("-123456789012.34"), T_("12345678901234567890.000001"), I_(1),
     T_("2024-01-15T10:30:00.123456+05:30"), T_("0000-12-31"),
     T_("tab\tnewline\n quote\" backslash\\ end"), T_("x"),
     T_("\"\\u00e9\\/\\t\\u001f\\ud83d\\ude00\""), T_("abc")},
    {I_(7), I_(INT64_MIN), R_(5e-324), I_(-3), T_("1.50"), I_(0), T_("0000-06-01 12:00"),
     T_("9999-12-31"), T_("a"), T_("a"), T_("{\"a\":1,\"a\":2,\"\":{}}"), B_("\xff")},
    {I_(8), I_(INT64_MAX), R_(1.7976931348623157e308), T_("999999999999.99"), R_(0.1), I_(1),
     T_("9999-12-31 23:59:59.999999Z"), T_("1600-02-29"), I_(12), R_(2.5), I_(12), B_("\x01\x02")},
    {I_(9), I_(0), I_(3), I_(0), T_("0"), I_(0), I_(-1), T_("1969-12-31"), T_("0"), I_(0), T_("0"),
     T_("0")},
    {I_(10), I_(7), R_(123456789012345680000.0), T_("-0.00"), T_("0.000"), I_(0), R_(2460325.9375),
     T_("2024-01-15"), T_("  lead and trail  "), T_("  "),
     T_("{\"k\":[{\"y\":1,\"y\":{\"k\":2}}],\"long key\":true,\"z\":false}"), B_("\\x00")},
};
#define NROWS (sizeof g_rows / sizeof g_rows[0])

static cdc_column_t g_columns[NCOLS];

/* The text parameter the sink sends for a mapped value (PostgreSQL input syntax). */
static void param_text(const cdc_col_type_t *t, const cdc_mapped_t *m, cdc_buf_t *out)
{
    char r[CDC_REAL_TEXT_MAX];

    cdc_buf_reset(out);
    switch (t->kind) {
    case CDC_COL_LONG:
        cdc_buf_printf(out, "%" PRId64, m->l);
        break;
    case CDC_COL_DOUBLE:
        cdc_convert_real_text(m->d, r);
        cdc_buf_put_str(out, strcmp(r, "nan") == 0    ? "NaN"
                             : strcmp(r, "inf") == 0  ? "Infinity"
                             : strcmp(r, "-inf") == 0 ? "-Infinity"
                                                      : r);
        break;
    case CDC_COL_DECIMAL:
        cdc_convert_decimal_text(m->p, m->len, t->scale, out);
        break;
    case CDC_COL_BOOLEAN:
        cdc_buf_put_str(out, m->l ? "t" : "f");
        break;
    case CDC_COL_TIMESTAMP: {
        size_t n;
        cdc_convert_format_timestamp(m->l, out);
        n = out->len;
        /* An explicit UTC offset, before PostgreSQL's " BC" suffix. */
        if (n > 3 && memcmp(out->data + n - 3, " BC", 3) == 0) {
            out->len -= 3;
            cdc_buf_put_str(out, "+00 BC");
        } else {
            cdc_buf_put_str(out, "+00");
        }
        break;
    }
    case CDC_COL_DATE:
        cdc_convert_format_date(m->l, out);
        break;
    case CDC_COL_BLOB:
        cdc_buf_put_str(out, "\\x");
        for (size_t k = 0; k < m->len; k++)
            cdc_buf_printf(out, "%02x", m->p[k]);
        break;
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
        cdc_buf_put(out, m->p, m->len);
        break;
    }
}

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "canon_pg_check: %s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    return ok ? 0 : -1;
}

static void describe(const cdc_buf_t *canon, const char *label)
{
    cdc_buf_t d = CDC_BUF_INIT;
    cdc_canon_describe(canon->data, canon->len, 120, &d);
    fprintf(stderr, "  %s: %s\n", label, cdc_buf_cstr(&d));
    cdc_buf_free(&d);
}

static int same(const cdc_buf_t *a, const cdc_buf_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Fills src[] with the source canonical rows; with insert, also inserts every row and
 * compares it with the RETURNING row. Returns the number of mismatches, -1 on an error. */
static int source_rows(PGconn *conn, cdc_buf_t *src, int insert)
{
    cdc_buf_t scratch[NCOLS], params[NCOLS], pg = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    int bad = 0;
    char err[512];

    cdc_buf_put_str(&sql, "INSERT INTO canon_check VALUES (");
    for (int c = 0; c < NCOLS; c++)
        cdc_buf_printf(&sql, "%s$%d", c ? ", " : "", c + 1);
    cdc_buf_put_str(&sql, ") RETURNING *");
    for (int c = 0; c < NCOLS; c++) {
        cdc_buf_init(&scratch[c]);
        cdc_buf_init(&params[c]);
    }
    for (size_t r = 0; r < NROWS && bad >= 0; r++) {
        cdc_mapped_t m[NCOLS];
        const char *values[NCOLS];
        int lengths[NCOLS];
        PGresult *res;
        unsigned char hs[CDC_HASH_ROW_SIZE], hp[CDC_HASH_ROW_SIZE];
        char hex[2 * CDC_HASH_ROW_SIZE + 1];

        for (int c = 0; c < NCOLS; c++) {
            if (cdc_convert_value(&g_columns[c], &g_rows[r][c], &m[c], &scratch[c], err,
                                  sizeof err) != CDC_CONVERT_OK) {
                fprintf(stderr, "canon_pg_check: row %zu: %s\n", r + 1, err);
                bad = -1;
                goto out;
            }
            param_text(&g_columns[c].type, &m[c], &params[c]);
            values[c] = m[c].is_null ? NULL : cdc_buf_cstr(&params[c]);
            lengths[c] = (int)params[c].len;
        }
        if (cdc_canon_row(g_columns, m, NCOLS, &src[r], err, sizeof err) < 0) {
            fprintf(stderr, "canon_pg_check: row %zu: source side: %s\n", r + 1, err);
            bad = -1;
            goto out;
        }
        if (!insert)
            continue;
        res = PQexecParams(conn, cdc_buf_cstr(&sql), NCOLS, NULL, values, lengths, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "canon_pg_check: row %zu: insert: %s", r + 1, PQerrorMessage(conn));
            PQclear(res);
            bad = -1;
            goto out;
        }
        if (cdc_pgtext_canon_result(g_columns, NCOLS, res, 0, 0, &pg, err, sizeof err) < 0) {
            fprintf(stderr, "canon_pg_check: row %zu: target side: %s\n", r + 1, err);
            PQclear(res);
            bad = -1;
            goto out;
        }
        PQclear(res);
        cdc_hash_row(src[r].data, src[r].len, hs);
        cdc_hash_row(pg.data, pg.len, hp);
        cdc_hash_hex(hs, sizeof hs, hex);
        if (!same(&src[r], &pg) || memcmp(hs, hp, sizeof hs) != 0) {
            printf("row %zu: MISMATCH\n", r + 1);
            describe(&src[r], "source");
            describe(&pg, "target");
            bad++;
        } else {
            printf("row %zu: equal row_hash=%s (%zu canonical bytes)\n", r + 1, hex, pg.len);
        }
    }
out:
    for (int c = 0; c < NCOLS; c++) {
        cdc_buf_free(&scratch[c]);
        cdc_buf_free(&params[c]);
    }
    cdc_buf_free(&pg);
    cdc_buf_free(&sql);
    return bad;
}

/* SHA-256 over the canonical rows of SELECT * ORDER BY id on conn; -1 on an error. */
static int table_digest(PGconn *conn, unsigned char out[CDC_SHA256_SIZE], cdc_buf_t *rows)
{
    PGresult *res = PQexec(conn, "SELECT * FROM canon_check ORDER BY id");
    cdc_sha256_t s;
    char err[512];
    int rc = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || (size_t)PQntuples(res) != NROWS) {
        fprintf(stderr, "canon_pg_check: select: %s (%d rows)\n", PQerrorMessage(conn),
                PQntuples(res));
        PQclear(res);
        return -1;
    }
    cdc_sha256_init(&s);
    for (int r = 0; r < PQntuples(res); r++) {
        if (cdc_pgtext_canon_result(g_columns, NCOLS, res, r, 0, &rows[r], err, sizeof err) < 0) {
            fprintf(stderr, "canon_pg_check: row %d read back: %s\n", r + 1, err);
            rc = -1;
            break;
        }
        cdc_sha256_update(&s, rows[r].data, rows[r].len);
    }
    cdc_sha256_final(&s, out);
    PQclear(res);
    return rc;
}

/* Compares the rows read back with the source rows, row by row; returns mismatches. */
static int compare_rows(const cdc_buf_t *src, const cdc_buf_t *back, const char *what)
{
    int bad = 0;
    for (size_t r = 0; r < NROWS; r++) {
        if (same(&src[r], &back[r]))
            continue;
        printf("%s row %zu: MISMATCH\n", what, r + 1);
        describe(&src[r], "source");
        describe(&back[r], "target");
        bad++;
    }
    return bad;
}

/* The bytes of column c (tag, length, value) inside canonical row `row`, found by walking
 * the layout of cdc_canon.h; *n = 0 when the row is malformed. */
static const unsigned char *segment(const cdc_buf_t *row, int c, size_t *n)
{
    size_t i = 5;

    *n = 0;
    for (int k = 0; k <= c; k++) {
        size_t start = i, len = 0;
        if (i >= row->len)
            return NULL;
        if (row->data[i++] != CDC_CANON_TAG_NULL) {
            if (row->len - i < 4)
                return NULL;
            len = (size_t)row->data[i] << 24 | (size_t)row->data[i + 1] << 16 |
                  (size_t)row->data[i + 2] << 8 | row->data[i + 3];
            i += 4 + len;
            if (i > row->len)
                return NULL;
        }
        if (k == c) {
            *n = i - start;
            return row->data + start;
        }
    }
    return NULL;
}

/* Column c1 of stored row r1 and column c2 of stored row r2 (1-based rows) must have
 * different canonical bytes. */
static int must_differ(const cdc_buf_t *rows, size_t r1, int c1, size_t r2, int c2,
                       const char *what)
{
    size_t na, nb;
    const unsigned char *a = segment(&rows[r1 - 1], c1, &na), *b = segment(&rows[r2 - 1], c2, &nb);
    int ok = a != NULL && b != NULL && (na != nb || memcmp(a, b, na) != 0);

    printf("%s: %s\n", what, ok ? "differ" : "SAME");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    PGconn *conn = NULL, *other = NULL;
    cdc_buf_t src[NROWS], back[NROWS];
    unsigned char d_src[CDC_SHA256_SIZE], d_pg[CDC_SHA256_SIZE];
    char hex[2 * CDC_SHA256_SIZE + 1], err[512];
    cdc_sha256_t s;
    int rc = 1, bad, verify;
    cdc_buf_t ddl = CDC_BUF_INIT;

    if (argc < 2 || argc > 3 || strcmp(argv[1], "--help") == 0 ||
        (argc == 3 && strcmp(argv[2], "--verify") != 0)) {
        int help = argc == 2;
        fprintf(help ? stdout : stderr,
                "usage: canon_pg_check CONNINFO [--verify]\n"
                "Checks canonical rows and hashes of SQLite values against what PostgreSQL\n"
                "stores: (re)creates table canon_check, inserts the case rows and compares.\n"
                "  --verify  only read canon_check back and compare it with the case rows\n"
                "            (after a test changed stored values behind our back)\n"
                "Exit codes: 0 all equal, 1 a mismatch or a PostgreSQL error, 2 usage.\n");
        return help ? 0 : 2;
    }
    verify = argc == 3;
    for (int c = 0; c < NCOLS; c++) {
        memset(&g_columns[c], 0, sizeof g_columns[c]);
        g_columns[c].name = (char *)g_cols[c].name;
        g_columns[c].avro_name = (char *)g_cols[c].name;
        g_columns[c].decl_type = (char *)g_cols[c].sqltype;
        g_columns[c].type = g_cols[c].type;
        g_columns[c].pk_index = c == 0;
        g_columns[c].not_null = c == 0;
    }
    for (size_t r = 0; r < NROWS; r++) {
        cdc_buf_init(&src[r]);
        cdc_buf_init(&back[r]);
    }
    conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "canon_pg_check: connect: %s", PQerrorMessage(conn));
        goto out;
    }
    if (cdc_pgtext_pin_session(conn, err, sizeof err) < 0) {
        fprintf(stderr, "canon_pg_check: %s\n", err);
        goto out;
    }
    if (verify) {
        if (source_rows(conn, src, 0) < 0 || table_digest(conn, d_pg, back) < 0)
            goto out;
        bad = compare_rows(src, back, "stored");
        printf("verify: %s\n", bad == 0 ? "all rows equal" : "MISMATCH");
        rc = bad == 0 ? 0 : 1;
        goto out;
    }
    cdc_buf_put_str(&ddl, "SET client_min_messages = warning; DROP TABLE IF EXISTS canon_check; "
                          "CREATE TABLE canon_check (");
    for (int c = 0; c < NCOLS; c++)
        cdc_buf_printf(&ddl, "%s%s %s", c ? ", " : "", g_cols[c].name, g_cols[c].sqltype);
    cdc_buf_put_str(&ddl, ")");
    if (exec_ok(conn, cdc_buf_cstr(&ddl)) < 0)
        goto out;

    /* 1. Row by row, through RETURNING. */
    bad = source_rows(conn, src, 1);
    if (bad < 0)
        goto out;

    /* 2. The table in key order: per-table SHA-256 of both sides. */
    cdc_sha256_init(&s);
    for (size_t r = 0; r < NROWS; r++)
        cdc_sha256_update(&s, src[r].data, src[r].len);
    cdc_sha256_final(&s, d_src);
    if (table_digest(conn, d_pg, back) < 0)
        goto out;
    bad += compare_rows(src, back, "read back");
    cdc_hash_hex(d_pg, sizeof d_pg, hex);
    if (memcmp(d_src, d_pg, sizeof d_src) != 0) {
        printf("table sha256: MISMATCH\n");
        bad++;
    } else {
        printf("table sha256: equal %s\n", hex);
    }

    /* 3. Different values stay different as stored (row, column index). */
    bad += must_differ(back, 1, 8, 2, 8, "text NULL vs ''");
    bad += must_differ(back, 2, 8, 3, 8, "text '' vs 'NULL'");
    bad += must_differ(back, 1, 8, 3, 8, "text NULL vs 'NULL'");
    bad += must_differ(back, 9, 1, 9, 8, "long 0 vs text '0'");
    bad += must_differ(back, 9, 8, 9, 10, "text '0' vs jsonb 0");
    bad += must_differ(back, 4, 8, 7, 8, "text 'a ' vs 'a'");
    bad += must_differ(back, 2, 2, 6, 2, "double 0 vs -0");
    for (size_t r = 0; r < NROWS; r++)
        for (size_t q = r + 1; q < NROWS; q++)
            if (same(&back[r], &back[q])) {
                printf("rows %zu and %zu: SAME canonical row\n", r + 1, q + 1);
                bad++;
            }

    /* 4. Another time zone: offsets are parsed, the instants and hashes agree. */
    other = PQconnectdb(argv[1]);
    if (PQstatus(other) != CONNECTION_OK || cdc_pgtext_pin_session(other, err, sizeof err) < 0 ||
        exec_ok(other, "SET TimeZone = 'Asia/Kolkata'") < 0 || table_digest(other, d_pg, back) < 0)
        goto out;
    printf("table sha256 with TimeZone=Asia/Kolkata: %s\n",
           memcmp(d_src, d_pg, sizeof d_src) == 0 ? "equal" : "MISMATCH");
    bad += memcmp(d_src, d_pg, sizeof d_src) != 0;

    /* 5. A session that is not pinned is refused, not hashed into a false mismatch. */
    if (exec_ok(other, "SET DateStyle = 'SQL, DMY'; SET bytea_output = 'escape'") < 0)
        goto out;
    if (table_digest(other, d_pg, back) == 0) {
        printf("unpinned session (DateStyle SQL): ACCEPTED\n");
        bad++;
    } else {
        printf("unpinned session (DateStyle SQL): refused\n");
    }
    rc = bad == 0 ? 0 : 1;
out:
    for (size_t r = 0; r < NROWS; r++) {
        cdc_buf_free(&src[r]);
        cdc_buf_free(&back[r]);
    }
    cdc_buf_free(&ddl);
    PQfinish(conn);
    PQfinish(other);
    return rc;
}
