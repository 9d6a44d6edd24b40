/*
 * dbk_command: the control commands of cdc-devbroker, one line in, one line out.
 *
 *   down N | down all     take broker N (1-based id) or every broker down
 *   up N | up all         bring it back
 *   rtt N|all MS          add MS milliseconds of latency to a broker's responses (0 clears)
 *   topics                "ok name:partitions,..." (created and auto-created topics)
 *   ping                  "ok"
 *   help                  "ok" and the command list
 *
 * Kept apart from the socket code so the grammar is one table-like function that --help,
 * docs/devbroker.md and the tests can be checked against.
 */
#ifndef DBK_COMMAND_H
#define DBK_COMMAND_H

#include "dbk_cluster.h"

/* One-line summary of the commands, for --help and the "help" and error replies. */
#define CDC_DBK_COMMANDS "down N|all, up N|all, rtt N|all MS, topics, ping, help"

/*
 * Executes one command line (no newline) against the cluster and returns the reply line
 * without newline: "ok ..." on success, "error: ..." otherwise. Caller frees with free().
 */
char *cdc_dbk_command_execute(cdc_dbk_cluster_t *cl, const char *line);

#endif
