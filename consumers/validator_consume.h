/*
 * validator_consume: the consume loop of cdc-validator (DESIGN.md invariant 8,
 * docs/parity.md).
 *
 * One member of the consumer group "<prefix>.validator" (with --domain D:
 * "<prefix>.validator.D", so a domain-scoped validator never takes records away from the
 * group that serves every domain), subscribed to <prefix>.validation with the EAGER
 * protocol like cdc-sink. Records are cdc.Parity (parity_record.h): the sink's parity
 * results per (batch, table), keyed so that all records of one table are on one partition.
 *
 * Offsets live with the state (invariant 6, as for the sink). A validation partition
 * carries records of several domains, whose state lives in different target databases,
 * so the stored offset is per (domain, partition) in each domain's database
 * (_cdc_validator_offsets). On assignment the partition is read from the smallest stored
 * offset of the selected domains; a record below its own domain's offset was applied
 * already and is skipped. A batch of a partition is applied per target database in one
 * transaction that moves the offsets of every domain of that database to the batch end
 * with the conditional update of invariant 6 (0 rows: fenced; the partition is
 * re-claimed and re-read). A stored offset below the partition's first available offset
 * is a gap (parity results removed by retention before they were counted): the validator
 * stops, naming the range.
 *
 * A mismatch is logged at error level, with its key, when its record is applied (before
 * the commit). A record that does not decode, or names a domain that is not in the
 * config, is logged at error level and counted as skipped (there is no dead-letter topic
 * for parity: the sink's outbox still holds the rows for an hour, docs/parity.md).
 */
#ifndef CDC_VALIDATOR_CONSUME_H
#define CDC_VALIDATOR_CONSUME_H

#include <signal.h>

#include "cdc_config.h"
#include "cdc_metrics.h"

typedef struct cdc_validator_opts_s {
    int once;                          /* exit 0 at the end offsets observed at assignment */
    const char *domain;                /* only this domain (NULL: every domain of conf) */
    int batch_records;                 /* records per partition batch (default 1000) */
    int batch_ms;                      /* age of a partition batch before it is applied (200) */
    int assign_timeout_ms;             /* --once: wait for the first assignment (30000) */
    const volatile sig_atomic_t *stop; /* raised by SIGINT/SIGTERM; may be NULL */
    cdc_metrics_t *metrics;            /* --metrics-port registry (borrowed), or NULL */
} cdc_validator_opts_t;

/*
 * Runs one validator until *opts->stop is raised (open batches applied, the group left:
 * returns 0), or with --once until every assigned partition reached the end offset
 * observed at its assignment (returns 0). Returns 1 with the reason in errstr on an
 * operational failure (gap, PostgreSQL or Kafka unusable, no assignment in time with
 * --once). conf is borrowed.
 */
int cdc_validator_run(const cdc_config_t *conf, const cdc_validator_opts_t *opts, char *errstr,
                      size_t errstr_size);

#endif
