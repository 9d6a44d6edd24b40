#include "wl_value.h"

#include "cdc_alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- PRNG: splitmix64 expands the seed, xoshiro256** draws (public-domain algorithms,
 * chosen because their output is defined bit for bit on every platform). ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cdc_wl_rng_seed(cdc_wl_rng_t *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cdc_wl_rng_next(cdc_wl_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t cdc_wl_rng_below(cdc_wl_rng_t *rng, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Rejection keeps the draw unbiased; the loop runs more than once rarely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = cdc_wl_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

int64_t cdc_wl_rng_range(cdc_wl_rng_t *rng, int64_t lo, int64_t hi)
{
    if (lo >= hi)
        return lo;
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX)
        return (int64_t)cdc_wl_rng_next(rng);
    return (int64_t)((uint64_t)lo + cdc_wl_rng_below(rng, span + 1));
}

int cdc_wl_rng_chance(cdc_wl_rng_t *rng, unsigned percent)
{
    return cdc_wl_rng_below(rng, 100) < percent;
}

/* ---- values ---- */

void cdc_wl_val_clear(cdc_wl_val_t *v)
{
    free(v->p);
    memset(v, 0, sizeof(*v));
    v->type = CDC_WL_VAL_NULL;
}

void cdc_wl_val_from_column(sqlite3_stmt *st, int i, cdc_wl_val_t *v)
{
    cdc_wl_val_clear(v);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        v->type = CDC_WL_VAL_INT;
        v->i = sqlite3_column_int64(st, i);
        break;
    case SQLITE_FLOAT:
        v->type = CDC_WL_VAL_REAL;
        v->r = sqlite3_column_double(st, i);
        break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
        int is_text = sqlite3_column_type(st, i) == SQLITE_TEXT;
        const void *src =
            is_text ? (const void *)sqlite3_column_text(st, i) : sqlite3_column_blob(st, i);
        v->type = is_text ? CDC_WL_VAL_TEXT : CDC_WL_VAL_BLOB;
        v->len = (size_t)sqlite3_column_bytes(st, i);
        v->p = cdc_malloc(v->len + 1);
        if (v->len)
            memcpy(v->p, src, v->len);
        v->p[v->len] = '\0';
        break;
    }
    default:
        break;
    }
}

int cdc_wl_val_bind(sqlite3_stmt *st, int idx, const cdc_wl_val_t *v)
{
    switch (v->type) {
    case CDC_WL_VAL_INT:
        return sqlite3_bind_int64(st, idx, v->i);
    case CDC_WL_VAL_REAL:
        return sqlite3_bind_double(st, idx, v->r);
    case CDC_WL_VAL_TEXT:
        return sqlite3_bind_text(st, idx, v->p, (int)v->len, SQLITE_TRANSIENT);
    case CDC_WL_VAL_BLOB:
        return sqlite3_bind_blob(st, idx, v->p, (int)v->len, SQLITE_TRANSIENT);
    default:
        return sqlite3_bind_null(st, idx);
    }
}

void cdc_wl_val_copy(cdc_wl_val_t *dst, const cdc_wl_val_t *src)
{
    cdc_wl_val_clear(dst);
    *dst = *src;
    dst->p = NULL;
    if (src->p) {
        dst->p = cdc_malloc(src->len + 1);
        memcpy(dst->p, src->p, src->len + 1);
    }
}

static void set_int(cdc_wl_val_t *v, int64_t i)
{
    v->type = CDC_WL_VAL_INT;
    v->i = i;
}

static void set_real(cdc_wl_val_t *v, double r)
{
    v->type = CDC_WL_VAL_REAL;
    v->r = r;
}

/* Takes ownership of s. */
static void set_text(cdc_wl_val_t *v, char *s)
{
    v->type = CDC_WL_VAL_TEXT;
    v->p = s;
    v->len = strlen(s);
}

/* ---- text material ---- */

static const char *const ascii_words[] = {
    "pipeline", "account",  "renewal",   "proposal", "campaign",   "meeting",  "lead",
    "quarter",  "forecast", "partner",   "outreach", "growth",     "contract", "signal",
    "audience", "content",  "follow",    "review",   "budget",     "launch",   "insight",
    "platform", "segment",  "retention", "demo",     "enterprise", "update",   "priority"};
static const char *const intl_words[] = {
    "café",   "Zoë",    "Müller", "São Paulo", "Łódź",   "naïve", "smörgåsbord", "東京",
    "Ελλάδα", "résumé", "Dvořák", "Ærø",       "Москва", "😀",     "İstanbul"};
static const char *const first_names[] = {"Ana",   "Ben",  "Chloé", "Dmitri", "Emma",  "Farid",
                                          "Grace", "Hiro", "Inès",  "Jonas",  "Kofi",  "Lena",
                                          "Mateo", "Nora", "Oskar", "Priya",  "Quinn", "Ruth"};
static const char *const last_names[] = {"Smith",   "García", "Nguyen", "Okafor",  "Kowalski",
                                         "Jensen",  "Rossi",  "Björk",  "Tanaka",  "Dubois",
                                         "Schäfer", "Patel",  "Brown",  "Ødegaard"};
static const char *const status_words[] = {"active", "pending", "closed", "new",     "won",
                                           "lost",   "paused",  "draft",  "archived"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *pick(cdc_wl_rng_t *rng, const char *const *list, size_t n)
{
    return list[cdc_wl_rng_below(rng, n)];
}

typedef struct sbuf_s {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = cdc_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

/* Cuts s to at most max characters (UTF-8 code points), never inside a character. */
static void utf8_truncate(char *s, int max)
{
    if (max <= 0)
        return;
    int chars = 0;
    for (char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80) {
            if (chars == max) {
                *p = '\0';
                return;
            }
            chars++;
        }
    }
}

static int name_has(const cdc_wl_column_t *c, const char *w)
{
    return strcasestr(c->name, w) != NULL;
}

static char *gen_words(cdc_wl_rng_t *rng, int min_words, int max_words, int intl_percent)
{
    sbuf_t b = {0};
    sb_add(&b, "");
    int n = (int)cdc_wl_rng_range(rng, min_words, max_words);
    for (int i = 0; i < n; i++) {
        if (i)
            sb_add(&b, " ");
        if (cdc_wl_rng_chance(rng, (unsigned)intl_percent))
            sb_add(&b, pick(rng, intl_words, N_OF(intl_words)));
        else
            sb_add(&b, pick(rng, ascii_words, N_OF(ascii_words)));
    }
    return b.p;
}

static char *gen_text(cdc_wl_rng_t *rng, const cdc_wl_column_t *c, int conservative)
{
    char *s;
    if (conservative) {
        s = cdc_strdup(pick(rng, status_words, N_OF(status_words)));
    } else if (name_has(c, "email")) {
        s = cdc_asprintf("%s.%s%u@example.com", pick(rng, first_names, N_OF(first_names)),
                         pick(rng, ascii_words, N_OF(ascii_words)),
                         (unsigned)cdc_wl_rng_below(rng, 10000));
        for (char *p = s; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    } else if (name_has(c, "url") || name_has(c, "link") || name_has(c, "website")) {
        s = cdc_asprintf("https://example.com/%s/%u", pick(rng, ascii_words, N_OF(ascii_words)),
                         (unsigned)cdc_wl_rng_below(rng, 100000));
    } else if (name_has(c, "phone")) {
        s = cdc_asprintf("+1-555-%03u-%04u", (unsigned)cdc_wl_rng_below(rng, 1000),
                         (unsigned)cdc_wl_rng_below(rng, 10000));
    } else if (name_has(c, "status") || name_has(c, "stage") || name_has(c, "tier") ||
               name_has(c, "type") || name_has(c, "category") || name_has(c, "priority")) {
        s = cdc_strdup(pick(rng, status_words, N_OF(status_words)));
    } else if (name_has(c, "first_name") || name_has(c, "firstname")) {
        s = cdc_strdup(pick(rng, first_names, N_OF(first_names)));
    } else if (name_has(c, "last_name") || name_has(c, "lastname")) {
        s = cdc_strdup(pick(rng, last_names, N_OF(last_names)));
    } else if (name_has(c, "name") || name_has(c, "author") || name_has(c, "owner")) {
        s = cdc_asprintf("%s %s", pick(rng, first_names, N_OF(first_names)),
                         pick(rng, last_names, N_OF(last_names)));
    } else if (name_has(c, "title") || name_has(c, "company") || name_has(c, "subject")) {
        s = gen_words(rng, 1, 4, 10);
    } else {
        s = gen_words(rng, 3, 12, 10);
    }
    utf8_truncate(s, c->max_len);
    return s;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm): no libc time
 * functions, so values never depend on the machine's time zone. */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

/* 2020-01-01 .. 2025-12-31 */
#define DAY_FIRST 18262
#define DAY_LAST  20453

static char *gen_date(cdc_wl_rng_t *rng, cdc_wl_kind_t kind)
{
    int y;
    unsigned m, d;
    civil_from_days(cdc_wl_rng_range(rng, DAY_FIRST, DAY_LAST), &y, &m, &d);
    unsigned secs = (unsigned)cdc_wl_rng_below(rng, 86400);
    if (kind == CDC_WL_KIND_DATE)
        return cdc_asprintf("%04d-%02u-%02u", y, m, d);
    if (kind == CDC_WL_KIND_TIME)
        return cdc_asprintf("%02u:%02u:%02u", secs / 3600, secs / 60 % 60, secs % 60);
    return cdc_asprintf("%04d-%02u-%02u %02u:%02u:%02u", y, m, d, secs / 3600, secs / 60 % 60,
                        secs % 60);
}

/* JSON string literal of an UTF-8 word list entry (none needs escaping but be exact). */
static void sb_json_string(sbuf_t *b, const char *s)
{
    sb_add(b, "\"");
    char one[8];
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            snprintf(one, sizeof(one), "\\%c", c);
        else if (c < 0x20)
            snprintf(one, sizeof(one), "\\u%04x", c);
        else
            snprintf(one, sizeof(one), "%c", c);
        sb_add(b, one);
    }
    sb_add(b, "\"");
}

static char *gen_json(cdc_wl_rng_t *rng)
{
    static const char *const keys[] = {"source", "score", "tags", "active", "channel", "note"};
    sbuf_t b = {0};
    char num[32];
    sb_add(&b, "{");
    size_t n = 1 + cdc_wl_rng_below(rng, 4);
    size_t start = cdc_wl_rng_below(rng, N_OF(keys));
    for (size_t i = 0; i < n; i++) {
        size_t k = (start + i) % N_OF(keys);
        if (i)
            sb_add(&b, ",");
        sb_json_string(&b, keys[k]);
        sb_add(&b, ":");
        switch (k) {
        case 1:
            snprintf(num, sizeof(num), "%u", (unsigned)cdc_wl_rng_below(rng, 1000));
            sb_add(&b, num);
            break;
        case 2:
            sb_add(&b, "[");
            sb_json_string(&b, pick(rng, ascii_words, N_OF(ascii_words)));
            sb_add(&b, ",");
            sb_json_string(&b, pick(rng, intl_words, N_OF(intl_words)));
            sb_add(&b, "]");
            break;
        case 3:
            sb_add(&b, cdc_wl_rng_chance(rng, 50) ? "true" : "false");
            break;
        default:
            sb_json_string(&b, pick(rng, ascii_words, N_OF(ascii_words)));
            break;
        }
    }
    sb_add(&b, "}");
    return b.p;
}

static double pow10i(int e)
{
    double r = 1;
    for (int i = 0; i < e; i++)
        r *= 10;
    return r;
}

/* A number in the column's CHECK bounds (or [lo, hi] without bounds), with `decimals`
 * fractional digits drawn as an integer count of units so cents stay exact. */
static double gen_scaled(cdc_wl_rng_t *rng, const cdc_wl_column_t *c, double lo, double hi,
                         int decimals)
{
    double unit = pow10i(decimals);
    if (c->has_min && c->min > lo)
        lo = c->min;
    if (c->has_max && c->max < hi)
        hi = c->max;
    if (c->has_min && !c->has_max && hi < lo)
        hi = lo + 1000;
    if (c->has_max && !c->has_min && lo > hi)
        lo = hi - 1000;
    int64_t a = (int64_t)ceil(lo * unit), b = (int64_t)floor(hi * unit);
    return (double)cdc_wl_rng_range(rng, a, b) / unit;
}

/* Upper bound of magnitudes: exact as doubles and within DECIMAL(p,s). */
static double decimal_limit(const cdc_wl_column_t *c)
{
    int digits = c->precision - c->scale;
    if (digits > 9)
        digits = 9;
    return digits <= 0 ? 0.0 : pow10i(digits) - 1.0 / pow10i(c->scale);
}

static void gen_number(cdc_wl_rng_t *rng, const cdc_wl_column_t *c, int conservative,
                       cdc_wl_val_t *out)
{
    /* Magnitudes are skewed (10^k for a random k) as real amounts and counts are. */
    double hi = conservative ? 10 : pow10i((int)cdc_wl_rng_range(rng, 1, 5));
    switch (c->kind) {
    case CDC_WL_KIND_BOOLEAN:
        set_int(out, (int64_t)gen_scaled(rng, c, 0, 1, 0));
        break;
    case CDC_WL_KIND_INTEGER:
        if (!conservative && (name_has(c, "_at") || name_has(c, "time") || name_has(c, "epoch")))
            set_int(out, (int64_t)gen_scaled(rng, c, 1577836800.0, 1767225599.0, 0));
        else if (!conservative && name_has(c, "year"))
            set_int(out, (int64_t)gen_scaled(rng, c, 2015, 2025, 0));
        else if (name_has(c, "score") || name_has(c, "pct") || name_has(c, "percent"))
            set_int(out, (int64_t)gen_scaled(rng, c, 0, 100, 0));
        else
            set_int(out, (int64_t)gen_scaled(rng, c, conservative ? 1 : 0, hi, 0));
        break;
    case CDC_WL_KIND_DECIMAL: {
        double lim = decimal_limit(c);
        set_real(out, gen_scaled(rng, c, 0, hi < lim ? hi : lim, c->scale > 6 ? 6 : c->scale));
        break;
    }
    case CDC_WL_KIND_NUMERIC:
        if (c->money)
            set_real(out, gen_scaled(rng, c, 0, hi, 2));
        else
            set_int(out, (int64_t)gen_scaled(rng, c, 0, hi, 0));
        break;
    default: /* REAL */
        if (c->money)
            set_real(out, gen_scaled(rng, c, 0, hi, 2));
        else if (name_has(c, "rate") || name_has(c, "ratio") || name_has(c, "pct") ||
                 name_has(c, "percent") || name_has(c, "score"))
            set_real(out, gen_scaled(rng, c, 0, conservative ? 1 : 100, 4));
        else
            set_real(out, gen_scaled(rng, c, 0, hi, 3));
        break;
    }
}

static void gen_choice(cdc_wl_rng_t *rng, const cdc_wl_column_t *c, cdc_wl_val_t *out)
{
    const cdc_wl_literal_t *lit = &c->choices[cdc_wl_rng_below(rng, c->n_choices)];
    if (lit->is_text)
        set_text(out, cdc_strdup(lit->text));
    else if (strpbrk(lit->text, ".eE"))
        set_real(out, strtod(lit->text, NULL));
    else
        set_int(out, strtoll(lit->text, NULL, 10));
}

static void gen_blob(cdc_wl_rng_t *rng, size_t n, cdc_wl_val_t *out)
{
    out->type = CDC_WL_VAL_BLOB;
    out->p = cdc_malloc(n + 1);
    out->len = n;
    for (size_t i = 0; i < n; i++)
        out->p[i] = (char)cdc_wl_rng_below(rng, 256);
    out->p[n] = '\0';
}

void cdc_wl_value_generate(cdc_wl_rng_t *rng, const cdc_wl_column_t *col, int attempt,
                           cdc_wl_val_t *out)
{
    int conservative = attempt >= 2;
    cdc_wl_val_clear(out);
    if (!col->not_null && attempt == 0 && cdc_wl_rng_chance(rng, 5))
        return; /* NULL */
    /* A CHECK across columns (price > cost, end >= start) is unknown to the hint reader,
     * but it passes when an operand is NULL: late attempts leave nullable columns NULL. */
    if (!col->not_null && attempt >= 3 && cdc_wl_rng_chance(rng, attempt >= 5 ? 100 : 50))
        return;
    if (col->n_choices) {
        gen_choice(rng, col, out);
        return;
    }
    if (col->unique) {
        cdc_wl_value_unique(rng, col, out);
        return;
    }
    switch (col->kind) {
    case CDC_WL_KIND_TEXT:
    case CDC_WL_KIND_ANY:
        set_text(out, gen_text(rng, col, conservative));
        break;
    case CDC_WL_KIND_DATETIME:
    case CDC_WL_KIND_DATE:
    case CDC_WL_KIND_TIME:
        set_text(out, gen_date(rng, col->kind));
        break;
    case CDC_WL_KIND_JSON:
        set_text(out, conservative ? cdc_strdup("{}") : gen_json(rng));
        break;
    case CDC_WL_KIND_BLOB:
        gen_blob(rng, conservative ? 4 : 4 + cdc_wl_rng_below(rng, 61), out);
        break;
    default:
        gen_number(rng, col, conservative, out);
        break;
    }
}

void cdc_wl_value_unique(cdc_wl_rng_t *rng, const cdc_wl_column_t *col, cdc_wl_val_t *out)
{
    static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    cdc_wl_val_clear(out);
    switch (col->kind) {
    case CDC_WL_KIND_TEXT:
    case CDC_WL_KIND_ANY:
    case CDC_WL_KIND_JSON:
    case CDC_WL_KIND_DATE:
    case CDC_WL_KIND_DATETIME:
    case CDC_WL_KIND_TIME: {
        if (col->kind != CDC_WL_KIND_TEXT && col->kind != CDC_WL_KIND_ANY) {
            /* Dates and times as keys: a random one; collisions go to the retry. */
            if (col->kind == CDC_WL_KIND_JSON)
                set_text(out, cdc_asprintf("{\"id\":%llu}",
                                           (unsigned long long)cdc_wl_rng_below(rng, 1ULL << 53)));
            else
                set_text(out, gen_date(rng, col->kind));
            break;
        }
        char token[13];
        for (int i = 0; i < 12; i++)
            token[i] = b36[cdc_wl_rng_below(rng, 36)];
        token[12] = '\0';
        if (col->max_len > 0 && col->max_len <= 16) {
            token[col->max_len < 12 ? col->max_len : 12] = '\0';
            set_text(out, cdc_strdup(token));
        } else if (name_has(col, "email")) {
            set_text(out, cdc_asprintf("user-%s@example.com", token));
        } else {
            set_text(out, cdc_asprintf("%s-%s", pick(rng, ascii_words, N_OF(ascii_words)), token));
        }
        utf8_truncate(out->p, col->max_len);
        out->len = strlen(out->p);
        break;
    }
    case CDC_WL_KIND_BLOB:
        gen_blob(rng, 16, out);
        break;
    case CDC_WL_KIND_REAL:
        set_real(out, (double)cdc_wl_rng_range(rng, 1, 1000000000) / 100.0);
        break;
    case CDC_WL_KIND_DECIMAL: {
        double lim = decimal_limit(col);
        double unit = pow10i(col->scale > 6 ? 6 : col->scale);
        set_real(out, (double)cdc_wl_rng_range(rng, 1, (int64_t)(lim * unit)) / unit);
        break;
    }
    case CDC_WL_KIND_BOOLEAN:
        set_int(out, (int64_t)cdc_wl_rng_below(rng, 2));
        break;
    default: {
        int64_t lo = col->has_min ? (int64_t)ceil(col->min) : 1;
        int64_t hi = col->has_max ? (int64_t)floor(col->max) : 2000000000;
        set_int(out, cdc_wl_rng_range(rng, lo, hi));
        break;
    }
    }
}
