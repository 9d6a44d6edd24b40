/*
 * cdc-ctl: the operator tool (DESIGN.md "Components"; docs/operate.md). This file only
 * dispatches to the subcommands, each of which has its own options and --help.
 */
#include <stdio.h>
#include <string.h>

#include "cdc_log.h"
#include "ctl.h"
#include "ctl_status.h"

typedef struct subcommand_s {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} subcommand_t;

static const subcommand_t subcommands[] = {
    {"topics", ctl_topics_main, "create the config's topics (CreateTopics) and verify them"},
    {"freeze", ctl_freeze_main,
     "make application writes to captured tables fail; record the freeze position"},
    {"unfreeze", ctl_freeze_main, "remove the freeze triggers (rollback of a cutover)"},
    {"replay", ctl_replay_main,
     "move a domain's stored offsets back (earliest, an offset or a time)"},
    {"dlq", ctl_dlq_main, "list, resolve and re-drive dead letters"},
    {"resnapshot", ctl_resnapshot_main,
     "ask the running producer to re-snapshot a source, a table or listed keys"},
    {"cutover", ctl_cutover_main,
     "freeze, drain, audit, finalise the target and hand a domain to PostgreSQL"},
    {"status", ctl_status_main,
     "per domain: backlog, lag, workers, dead letters, parity; READY TO FREEZE / DRAINED"},
};

static void usage(FILE *out)
{
    fputs("Usage: cdc-ctl SUBCOMMAND -c CONFIG [options]\n"
          "       cdc-ctl SUBCOMMAND --help\n"
          "\n"
          "The operator tool of the SQLite -> Kafka -> PostgreSQL pipeline.\n"
          "\n"
          "Subcommands:\n",
          out);
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fputs("\n"
          "Exit codes (every subcommand):\n"
          "  0  success\n"
          "  1  operational failure (named on stderr)\n"
          "  2  usage or config error\n"
          "\n"
          "docs/operate.md describes every subcommand.\n",
          out);
}

int main(int argc, char **argv)
{
    cdc_log_set_component("ctl");
    if (argc < 2) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "cdc-ctl: unknown subcommand \"%s\"\nTry 'cdc-ctl --help'.\n", argv[1]);
    return CTL_EXIT_USAGE;
}
