/*
 * ctl_status: `cdc-ctl status`, the per-domain picture an operator decides a cutover by
 * (docs/status.md): producer backlog and liveness from heartbeats, lag in messages and as
 * the age of the oldest unapplied change, live workers, unresolved dead letters, parity,
 * and the verdicts READY TO FREEZE and DRAINED. It reads only Kafka and the target
 * databases, never the SQLite files.
 */
#ifndef CDC_CTL_STATUS_H
#define CDC_CTL_STATUS_H

/*
 * Runs the subcommand; argv[0] is the subcommand's name, options follow (see --help).
 * Returns the exit code: 0 the asked-for verdict holds, 1 it does not (or the state could
 * not be read, or --until timed out), 2 usage or configuration error. Borrows argv.
 */
int ctl_status_main(int argc, char **argv);

#endif
