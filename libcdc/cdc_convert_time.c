/*
 * cdc_convert_time: calendar arithmetic and the timestamp text formats of
 * cdc_convert.h. Civil dates are computed with Howard Hinnant's algorithms
 * (http://howardhinnant.github.io/date_algorithms.html), so nothing depends on the
 * process time zone, timegm or the C library's range limits.
 */
#include "cdc_convert.h"

#include <inttypes.h>
#include <stdio.h>

#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL

int64_t cdc_convert_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;                                   /* [0, 399] */
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void cdc_convert_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Reads exactly n digits at s[*i]; -1 when they are not all digits. */
static int digits(const unsigned char *s, size_t len, size_t *i, int n)
{
    int v = 0;

    if (len - *i < (size_t)n)
        return -1;
    for (int k = 0; k < n; k++) {
        unsigned char c = s[*i + (size_t)k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    return v;
}

static int expect(const unsigned char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != (unsigned char)c)
        return -1;
    (*i)++;
    return 0;
}

int cdc_convert_parse_timestamp(const unsigned char *s, size_t len, int64_t *micros, char *errstr,
                                size_t errstr_size)
{
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off_min = 0;
    const char *why = NULL;

    y = digits(s, len, &i, 4);
    if (y < 0 || expect(s, len, &i, '-') < 0 || (mo = digits(s, len, &i, 2)) < 0 ||
        expect(s, len, &i, '-') < 0 || (d = digits(s, len, &i, 2)) < 0) {
        why = "expected YYYY-MM-DD";
        goto out;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        why = "no such date";
        goto out;
    }
    if (i < len && (s[i] == ' ' || s[i] == 'T')) {
        i++;
        if ((h = digits(s, len, &i, 2)) < 0 || expect(s, len, &i, ':') < 0 ||
            (mi = digits(s, len, &i, 2)) < 0) {
            why = "expected HH:MM after the date";
            goto out;
        }
        if (i < len && s[i] == ':') {
            i++;
            if ((sec = digits(s, len, &i, 2)) < 0) {
                why = "expected two digits of seconds";
                goto out;
            }
            if (i < len && s[i] == '.') {
                int nd = 0;
                i++;
                for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
                    if (nd < 6)
                        frac = frac * 10 + (s[i] - '0');
                    else if (s[i] != '0') {
                        why = "more than 6 fraction digits (would need rounding)";
                        goto out;
                    }
                }
                if (nd == 0) {
                    why = "expected fraction digits after '.'";
                    goto out;
                }
                for (; nd < 6; nd++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59) {
            why = "time out of range";
            goto out;
        }
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i] == '-' ? -1 : 1, oh, om;
            i++;
            if ((oh = digits(s, len, &i, 2)) < 0) {
                why = "expected an offset ±HH:MM";
                goto out;
            }
            if (i < len && s[i] == ':')
                i++;
            if ((om = digits(s, len, &i, 2)) < 0 || oh > 23 || om > 59) {
                why = "expected an offset ±HH:MM";
                goto out;
            }
            off_min = sign * (oh * 60 + om);
        }
    }
    if (i != len) {
        why = "unexpected text after the timestamp";
        goto out;
    }
    *micros = cdc_convert_days_from_civil(y, mo, d) * US_PER_DAY +
              ((int64_t)h * 3600 + mi * 60 + sec - (int64_t)off_min * 60) * US_PER_SEC + frac;
out:
    if (why != NULL) {
        snprintf(errstr, errstr_size, "%s", why);
        return -1;
    }
    return 0;
}

static void split_days(int64_t micros, int64_t *days, int64_t *rem)
{
    /* Floor division: times before 1970 belong to the previous day. */
    *days = micros / US_PER_DAY;
    *rem = micros % US_PER_DAY;
    if (*rem < 0) {
        *rem += US_PER_DAY;
        (*days)--;
    }
}

void cdc_convert_format_date(int64_t days, cdc_buf_t *out)
{
    int64_t y;
    int m, d;

    cdc_convert_civil_from_days(days, &y, &m, &d);
    /* PostgreSQL has no year 0: astronomical year y <= 0 is year 1 - y BC. */
    if (y <= 0)
        cdc_buf_printf(out, "%04" PRId64 "-%02d-%02d BC", 1 - y, m, d);
    else
        cdc_buf_printf(out, "%04" PRId64 "-%02d-%02d", y, m, d);
}

void cdc_convert_format_timestamp(int64_t micros, cdc_buf_t *out)
{
    int64_t days, rem, y;
    int m, d, us;
    char frac[16] = "";

    split_days(micros, &days, &rem);
    cdc_convert_civil_from_days(days, &y, &m, &d);
    us = (int)(rem % US_PER_SEC);
    rem /= US_PER_SEC;
    if (us != 0) {
        int n;
        snprintf(frac, sizeof frac, ".%06d", us);
        for (n = 6; frac[n] == '0'; n--)
            frac[n] = '\0';
    }
    cdc_buf_printf(out, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d%s%s", y <= 0 ? 1 - y : y, m, d,
                   (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac,
                   y <= 0 ? " BC" : "");
}
