/*
 * cdc_cli: the small pieces every command-line tool of the project parses its options
 * with: strict number parsing (a whole argument, nothing before or after it, in range),
 * the one shape of a usage error (message naming the option, a hint, exit code 2), the
 * options every config-driven binary shares (-c/--config, --log-level, --log-format,
 * -h/--help) and the "load the config, find the domain" preamble.
 */
#ifndef CDC_CLI_H
#define CDC_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "cdc_config.h"

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

/*
 * Parses an option's value as an integer in [min, max] (cdc_cli_parse_long). Returns 0
 * with *out set, or CDC_CLI_EXIT_USAGE after printing "PROG: OPT: "ARG" is not an integer
 * in MIN..MAX" as a usage error.
 */
int cdc_cli_long_option(const char *prog, const char *opt, const char *arg, long min, long max,
                        long *out);

/* getopt_long values of the shared long options, above any short option character. */
enum {
    CDC_CLI_OPT_LOG_LEVEL = 1000,
    CDC_CLI_OPT_LOG_FORMAT,
    CDC_CLI_OPT_FIRST_OWN, /* a binary numbers its own long options from here */
};

/* The struct option entries of the shared options, for a binary's longopts table (laid
 * out by hand: clang-format would spread the last entry's braces over three lines). */
/* clang-format off */
#define CDC_CLI_COMMON_LONGOPTS                                                                    \
    {"config", required_argument, NULL, 'c'},                                                      \
    {"log-level", required_argument, NULL, CDC_CLI_OPT_LOG_LEVEL},                                 \
    {"log-format", required_argument, NULL, CDC_CLI_OPT_LOG_FORMAT},                               \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

/* The --help lines of the shared options, in the order cdc-ctl's subcommands print them. */
extern const char cdc_cli_common_help[];

/*
 * Handles an option every binary shares: -c (kept in *config_path, which borrows arg),
 * --log-level and --log-format (applied to the logger at once, so the lines logged while
 * parsing the rest already obey them). Returns 1 when c was one of them and valid, 0 when c
 * is not a shared option, or CDC_CLI_EXIT_USAGE with the message printed.
 */
int cdc_cli_common_option(const char *prog, int c, const char *arg, const char **config_path);

/* Prints the usage error of getopt_long's ':' (missing value) or '?' (unknown option)
 * result, naming argv[optind - 1]; returns CDC_CLI_EXIT_USAGE. */
int cdc_cli_getopt_error(const char *prog, int c, char **argv);

/*
 * Handles one of the binary's own options (c is getopt_long's value, arg its optarg or
 * NULL). Returns 0, or CDC_CLI_EXIT_USAGE after printing the message (cdc_cli_usage_error).
 */
typedef int (*cdc_cli_option_fn)(void *ctx, int c, const char *arg);

/* What cdc_cli_parse needs to know of one binary (every pointer is borrowed). */
typedef struct cdc_cli_spec_s {
    const char *prog;              /* "cdc-sink", "cdc-ctl topics": prefixes every message */
    const char *shortopts;         /* getopt_long's, starting with ':' (e.g. ":c:d:h") */
    const struct option *longopts; /* CDC_CLI_COMMON_LONGOPTS plus the binary's own */
    void (*usage)(FILE *out, const char *prog); /* prints the --help text */
    cdc_cli_option_fn own;                      /* the binary's own options */
    void *ctx;                                  /* passed to own */
} cdc_cli_spec_t;

/* cdc_cli_parse's result when the binary should go on (any other is its exit code). */
#define CDC_CLI_RUN (-1)

/*
 * Parses argv (argv[0] is the program or subcommand name; optind is reset, so argv may be
 * a tail of the process's arguments): the shared options (cdc_cli_common_option), -h
 * (prints spec->usage on stdout), every other option through spec->own, then refuses
 * operands. Returns CDC_CLI_RUN, 0 after --help, or CDC_CLI_EXIT_USAGE with the message
 * printed. *config_path is set when -c was given (a borrowed argv string).
 */
int cdc_cli_parse(const cdc_cli_spec_t *spec, int argc, char **argv, const char **config_path);

/*
 * Loads the config at path (NULL: "-c/--config is required" as a usage error). Returns the
 * config (caller frees with cdc_config_destroy) or NULL with the message printed; the
 * binary then exits CDC_CLI_EXIT_USAGE.
 */
cdc_config_t *cdc_cli_load_config(const char *prog, const char *path);

/* The domain named name in conf (borrowed from it), or NULL with a message listing the
 * config's domains printed; the binary then exits CDC_CLI_EXIT_USAGE. */
const cdc_domain_t *cdc_cli_domain(const char *prog, const cdc_config_t *conf, const char *name);

/*
 * Makes SIGINT and SIGTERM set *flag to 1 (no SA_RESTART, so a blocking wait returns and
 * the worker sees the flag) and ignores SIGPIPE (a closed socket is an error to handle,
 * not a reason to die). flag must outlive the process's signal handling; one flag per
 * process (a second call replaces the first).
 */
void cdc_cli_stop_on_signals(volatile sig_atomic_t *flag);

#endif
