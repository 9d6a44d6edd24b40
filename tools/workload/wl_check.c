#include "wl_check.h"

#include "cdc_alloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    TOK_IDENT,  /* bare or quoted identifier, unquoted in text */
    TOK_STRING, /* 'literal', unquoted in text */
    TOK_NUMBER,
    TOK_OP, /* punctuation and comparison operators */
} tok_kind_t;

typedef struct tok_s {
    tok_kind_t kind;
    char *text;
} tok_t;

typedef struct toks_s {
    tok_t *items;
    size_t n, cap;
} toks_t;

static void toks_push(toks_t *ts, tok_kind_t kind, char *text)
{
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 64;
        ts->items = cdc_realloc(ts->items, ts->cap * sizeof(*ts->items));
    }
    ts->items[ts->n].kind = kind;
    ts->items[ts->n].text = text;
    ts->n++;
}

/* Reads a quoted token starting at *pp (opening quote q, closing close, doubled close
 * is an escaped quote); returns the unquoted text. */
static char *read_quoted(const char **pp, char close)
{
    const char *p = *pp + 1;
    size_t cap = 16, len = 0;
    char *buf = cdc_malloc(cap);
    for (; *p; p++) {
        if (*p == close) {
            if (p[1] == close && close != ']') {
                p++;
            } else {
                p++;
                break;
            }
        }
        if (len + 2 > cap) {
            cap *= 2;
            buf = cdc_realloc(buf, cap);
        }
        buf[len++] = *p;
    }
    buf[len] = '\0';
    *pp = p;
    return buf;
}

static void tokenize(const char *sql, toks_t *ts)
{
    const char *p = sql;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (isspace(c)) {
            p++;
        } else if (c == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (c == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if (c == '\'') {
            toks_push(ts, TOK_STRING, read_quoted(&p, '\''));
        } else if (c == '"' || c == '`') {
            toks_push(ts, TOK_IDENT, read_quoted(&p, (char)c));
        } else if (c == '[') {
            toks_push(ts, TOK_IDENT, read_quoted(&p, ']'));
        } else if (isdigit(c) || (c == '.' && isdigit((unsigned char)p[1]))) {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '.' ||
                   ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
                p++;
            toks_push(ts, TOK_NUMBER, cdc_strndup(s, (size_t)(p - s)));
        } else if (isalpha(c) || c == '_' || c >= 0x80) {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '$' ||
                   (unsigned char)*p >= 0x80)
                p++;
            toks_push(ts, TOK_IDENT, cdc_strndup(s, (size_t)(p - s)));
        } else if ((c == '<' || c == '>' || c == '!' || c == '=') && p[1] == '=') {
            toks_push(ts, TOK_OP, cdc_strndup(p, 2));
            p += 2;
        } else {
            toks_push(ts, TOK_OP, cdc_strndup(p, 1));
            p++;
        }
    }
}

static int is_op(const toks_t *ts, size_t i, const char *op)
{
    return i < ts->n && ts->items[i].kind == TOK_OP && strcmp(ts->items[i].text, op) == 0;
}

static int is_word(const toks_t *ts, size_t i, const char *w)
{
    return i < ts->n && ts->items[i].kind == TOK_IDENT && strcasecmp(ts->items[i].text, w) == 0;
}

/* A number at i, optionally preceded by a sign; advances *next past it. */
static int read_number(const toks_t *ts, size_t i, double *out, size_t *next)
{
    double sign = 1;
    if (is_op(ts, i, "-") || is_op(ts, i, "+")) {
        sign = ts->items[i].text[0] == '-' ? -1 : 1;
        i++;
    }
    if (i >= ts->n || ts->items[i].kind != TOK_NUMBER)
        return 0;
    *out = sign * strtod(ts->items[i].text, NULL);
    *next = i + 1;
    return 1;
}

static cdc_wl_column_t *find_col(cdc_wl_table_t *t, const toks_t *ts, size_t i)
{
    if (i >= ts->n || ts->items[i].kind != TOK_IDENT)
        return NULL;
    for (size_t k = 0; k < t->n_cols; k++)
        if (strcasecmp(t->cols[k].name, ts->items[i].text) == 0)
            return &t->cols[k];
    return NULL;
}

static void set_min(cdc_wl_column_t *c, double v)
{
    if (!c->has_min || v > c->min)
        c->min = v;
    c->has_min = 1;
}

static void set_max(cdc_wl_column_t *c, double v)
{
    if (!c->has_max || v < c->max)
        c->max = v;
    c->has_max = 1;
}

/* A strict bound on an integer column moves by one; on other columns by a small step so
 * the generated value stays inside. */
static double strict_step(const cdc_wl_column_t *c)
{
    return c->kind == CDC_WL_KIND_INTEGER || c->kind == CDC_WL_KIND_BOOLEAN ? 1.0 : 0.01;
}

/* c IN ( lit , lit ... ) starting at the IN token; keeps the first list seen. */
static void read_in_list(cdc_wl_column_t *c, const toks_t *ts, size_t i)
{
    if (!is_op(ts, i + 1, "(") || c->choices)
        return;
    cdc_wl_literal_t *lits = NULL;
    size_t n = 0;
    size_t k = i + 2;
    for (;;) {
        double num;
        size_t next;
        if (k < ts->n && ts->items[k].kind == TOK_STRING) {
            lits = cdc_realloc(lits, (n + 1) * sizeof(*lits));
            lits[n].text = cdc_strdup(ts->items[k].text);
            lits[n++].is_text = 1;
            k++;
        } else if (read_number(ts, k, &num, &next)) {
            lits = cdc_realloc(lits, (n + 1) * sizeof(*lits));
            lits[n].text = cdc_strdup(ts->items[next - 1].text);
            if (num < 0) {
                char *neg = cdc_asprintf("-%s", lits[n].text);
                free(lits[n].text);
                lits[n].text = neg;
            }
            lits[n++].is_text = 0;
            k = next;
        } else {
            goto fail; /* an expression or subquery: no usable list */
        }
        if (is_op(ts, k, ",")) {
            k++;
            continue;
        }
        if (is_op(ts, k, ")"))
            break;
        goto fail;
    }
    c->choices = lits;
    c->n_choices = n;
    return;
fail:
    for (size_t j = 0; j < n; j++)
        free(lits[j].text);
    free(lits);
}

void cdc_wl_check_hints(const char *create_sql, cdc_wl_table_t *t)
{
    toks_t ts = {0};
    tokenize(create_sql, &ts);
    for (size_t i = 0; i < ts.n; i++) {
        double v, v2;
        size_t next, next2;
        cdc_wl_column_t *c = find_col(t, &ts, i);

        /* length(c) <= n / length(c) < n */
        if (is_word(&ts, i, "length") && is_op(&ts, i + 1, "(") && is_op(&ts, i + 3, ")")) {
            cdc_wl_column_t *lc = find_col(t, &ts, i + 2);
            int le = is_op(&ts, i + 4, "<=");
            if (lc && (le || is_op(&ts, i + 4, "<")) && read_number(&ts, i + 5, &v, &next)) {
                int n = (int)v - (le ? 0 : 1);
                if (n > 0 && (lc->max_len == 0 || n < lc->max_len))
                    lc->max_len = n;
            }
            continue;
        }
        if (c) {
            if (is_word(&ts, i + 1, "IN")) {
                read_in_list(c, &ts, i + 1);
            } else if (is_word(&ts, i + 1, "BETWEEN") && read_number(&ts, i + 2, &v, &next) &&
                       is_word(&ts, next, "AND") && read_number(&ts, next + 1, &v2, &next2)) {
                set_min(c, v);
                set_max(c, v2);
            } else if (is_op(&ts, i + 1, ">=") && read_number(&ts, i + 2, &v, &next)) {
                set_min(c, v);
            } else if (is_op(&ts, i + 1, ">") && read_number(&ts, i + 2, &v, &next)) {
                set_min(c, v + strict_step(c));
            } else if (is_op(&ts, i + 1, "<=") && read_number(&ts, i + 2, &v, &next)) {
                set_max(c, v);
            } else if (is_op(&ts, i + 1, "<") && read_number(&ts, i + 2, &v, &next)) {
                set_max(c, v - strict_step(c));
            }
            continue;
        }
        /* x <= c, x < c, x >= c, x > c */
        if (read_number(&ts, i, &v, &next) && next + 1 < ts.n) {
            cdc_wl_column_t *rc = find_col(t, &ts, next + 1);
            if (!rc || is_op(&ts, next + 2, "(")) /* a function call, not a column */
                continue;
            if (is_op(&ts, next, "<="))
                set_min(rc, v);
            else if (is_op(&ts, next, "<"))
                set_min(rc, v + strict_step(rc));
            else if (is_op(&ts, next, ">="))
                set_max(rc, v);
            else if (is_op(&ts, next, ">"))
                set_max(rc, v - strict_step(rc));
        }
    }
    for (size_t i = 0; i < ts.n; i++)
        free(ts.items[i].text);
    free(ts.items);
}
