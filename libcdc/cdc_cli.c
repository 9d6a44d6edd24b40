/*
 * cdc_cli: strict option values and usage errors for the command-line tools (cdc_cli.h).
 */
#include "cdc_cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int cdc_cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    /* strtol skips blanks and takes '+': check the first character ourselves. */
    if (s == NULL || !(is_digit(s[0]) || (s[0] == '-' && is_digit(s[1]))))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cdc_cli_parse_ull(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || !is_digit(s[0]))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cdc_cli_parse_double(const char *s, double min, double *out)
{
    char *end = NULL;
    double v;

    if (s == NULL)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min)
        return -1;
    *out = v;
    return 0;
}

int cdc_cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return CDC_CLI_EXIT_USAGE;
}
