/*
 * cdc_cli: the small pieces every command-line tool of the project parses its options
 * with: strict number parsing (a whole argument, nothing before or after it, in range) and
 * the one shape of a usage error (message naming the option, a hint, exit code 2).
 */
#ifndef CDC_CLI_H
#define CDC_CLI_H

/* Exit code of a usage or configuration error, the same for every binary. */
#define CDC_CLI_EXIT_USAGE 2

/*
 * Parses s as a decimal integer in [min, max]: an optional '-' then digits, nothing else
 * (no blanks, no '+', no trailing text; strtol alone accepts all three). Returns 0 with
 * *out set, or -1 and *out untouched. Borrows s only for the call.
 */
int cdc_cli_parse_long(const char *s, long min, long max, long *out);

/*
 * Parses s as an unsigned decimal integer in [min, max]: digits only (strtoull alone
 * would take "-1" as a huge number). Returns 0 with *out set, or -1 and *out untouched.
 */
int cdc_cli_parse_ull(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out);

/*
 * Parses s as a finite decimal number >= min with nothing after it. Returns 0 with *out
 * set, or -1 and *out untouched.
 */
int cdc_cli_parse_double(const char *s, double min, double *out);

/*
 * Prints "PROG: <message>" and "Try 'PROG --help'." on stderr and returns
 * CDC_CLI_EXIT_USAGE, so an option parser can `return cdc_cli_usage_error(...)`.
 */
int cdc_cli_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
