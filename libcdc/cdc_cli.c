/*
 * cdc_cli: strict option values, usage errors, the shared options and the config preamble
 * of the command-line tools (cdc_cli.h).
 */
#include "cdc_cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_log.h"

const char cdc_cli_common_help[] = "  -c, --config FILE      pipeline config (YAML), required\n"
                                   "      --log-level L      error, warn, info (default) or debug\n"
                                   "      --log-format F     kv (default) or json\n"
                                   "  -h, --help             this text\n";

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

int cdc_cli_long_option(const char *prog, const char *opt, const char *arg, long min, long max,
                        long *out)
{
    if (cdc_cli_parse_long(arg, min, max, out) == 0)
        return 0;
    return cdc_cli_usage_error(prog, "%s: \"%s\" is not an integer in %ld..%ld", opt, arg, min,
                               max);
}

int cdc_cli_common_option(const char *prog, int c, const char *arg, const char **config_path)
{
    cdc_log_level_t level;
    cdc_log_format_t format;

    switch (c) {
    case 'c':
        *config_path = arg;
        return 1;
    case CDC_CLI_OPT_LOG_LEVEL:
        if (cdc_log_level_parse(arg, &level) < 0)
            return cdc_cli_usage_error(prog, "--log-level: \"%s\" is not error|warn|info|debug",
                                       arg);
        cdc_log_set_level(level);
        return 1;
    case CDC_CLI_OPT_LOG_FORMAT:
        if (cdc_log_format_parse(arg, &format) < 0)
            return cdc_cli_usage_error(prog, "--log-format: \"%s\" is not kv|json", arg);
        cdc_log_set_format(format);
        return 1;
    default:
        return 0;
    }
}

int cdc_cli_getopt_error(const char *prog, int c, char **argv)
{
    if (c == ':')
        return cdc_cli_usage_error(prog, "option %s needs a value", argv[optind - 1]);
    return cdc_cli_usage_error(prog, "unknown option %s", argv[optind - 1]);
}

int cdc_cli_parse(const cdc_cli_spec_t *spec, int argc, char **argv, const char **config_path)
{
    int c, r;

    /* 0, not 1: glibc then re-initialises getopt, which a subcommand parsing a second
     * argv (cdc-ctl's argv + 1) needs. */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, spec->shortopts, spec->longopts, NULL)) != -1) {
        r = cdc_cli_common_option(spec->prog, c, optarg, config_path);
        if (r == 1)
            continue;
        if (r != 0)
            return r;
        if (c == 'h') {
            spec->usage(stdout, spec->prog);
            return 0;
        }
        if (c == ':' || c == '?')
            return cdc_cli_getopt_error(spec->prog, c, argv);
        if (spec->own == NULL)
            return cdc_cli_getopt_error(spec->prog, '?', argv);
        if ((r = spec->own(spec->ctx, c, optarg)) != 0)
            return r;
    }
    if (optind < argc)
        return cdc_cli_usage_error(spec->prog, "unexpected argument \"%s\"", argv[optind]);
    return CDC_CLI_RUN;
}

cdc_config_t *cdc_cli_load_config(const char *prog, const char *path)
{
    char errstr[2048];
    cdc_config_t *conf;

    if (path == NULL) {
        cdc_cli_usage_error(prog, "-c/--config is required");
        return NULL;
    }
    conf = cdc_config_load(path, errstr, sizeof errstr);
    if (conf == NULL)
        fprintf(stderr, "%s: %s\n", prog, errstr);
    return conf;
}

const cdc_domain_t *cdc_cli_domain(const char *prog, const cdc_config_t *conf, const char *name)
{
    const cdc_domain_t *d = cdc_config_domain(conf, name);

    if (d != NULL)
        return d;
    fprintf(stderr, "%s: domain \"%s\" is not in the config %s (domains:", prog, name, conf->path);
    for (size_t i = 0; i < conf->n_domains; i++)
        fprintf(stderr, " %s", conf->domains[i].name);
    fprintf(stderr, ")\n");
    return NULL;
}

static volatile sig_atomic_t *stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    *stop_flag = 1;
}

void cdc_cli_stop_on_signals(volatile sig_atomic_t *flag)
{
    struct sigaction sa;

    stop_flag = flag;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
