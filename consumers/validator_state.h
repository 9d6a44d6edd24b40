/*
 * validator_state: the validator's tables in a target database (docs/parity.md).
 *
 *   _cdc_parity_state       per (domain, source, source_table): rows_seen, matches,
 *                           superseded, mismatches, dead_letters, last (epoch, pos)
 *   _cdc_parity_mismatches  one row per mismatch, with its key (bytes and JSON)
 *   _cdc_validator_offsets  per (domain, topic, kpartition): the next offset of the
 *                           validation topic whose records of that domain are not applied
 *   _cdc_validator_seen     per (domain, batch_id): cdc.Parity records already counted
 *
 * One handle per distinct target (crm and f500 share one), holding the domains that live
 * there. A batch of one validation partition is applied to each handle in ONE transaction
 * that also moves the offsets of the handle's domains, conditionally (invariant 6's
 * fence: `UPDATE ... WHERE next_offset = <expected>`), and counts a record only once
 * (_cdc_validator_seen), so a record published twice by a crashed sink, or read twice
 * after a fence, is counted once.
 */
#ifndef CDC_VALIDATOR_STATE_H
#define CDC_VALIDATOR_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "parity_record.h"
#include "sink_apply.h"

typedef struct cdc_vstate_s cdc_vstate_t;

/* One decoded record of a batch, for cdc_vstate_apply(). */
typedef struct cdc_vstate_rec_s {
    int64_t offset;
    int domain; /* index into the handle's domains (cdc_vstate_domain_index) */
    const cdc_parity_rec_t *rec;
} cdc_vstate_rec_t;

typedef struct cdc_vstate_stats_s {
    uint64_t records;    /* cdc.Parity records counted */
    uint64_t duplicates; /* records already counted before (skipped) */
    uint64_t rows, matches, superseded, mismatches, dead_letters;
} cdc_vstate_stats_t;

/*
 * Connects to conninfo and creates the validator's tables if absent (under an advisory
 * lock). domains (names, borrowed: must outlive the handle) are the domains whose target
 * this is. Returns OK, RETRIABLE (server unreachable) or FATAL with errstr; on OK *out is
 * set (caller frees with cdc_vstate_close()).
 */
cdc_sink_status_t cdc_vstate_open(const char *conninfo, const char *const *domains, size_t ndomains,
                                  cdc_vstate_t **out, char *errstr, size_t errstr_size);

/* Closes the connection and frees the handle; NULL is a no-op. */
void cdc_vstate_close(cdc_vstate_t *s);

/* The handle's domains. */
size_t cdc_vstate_ndomains(const cdc_vstate_t *s);
const char *cdc_vstate_domain(const cdc_vstate_t *s, size_t i);

/*
 * The stored next offset of (domain i, topic, partition), inserting 0 when none is
 * stored. Reconnects first when the connection was lost. Returns OK, RETRIABLE or FATAL.
 */
cdc_sink_status_t cdc_vstate_claim(cdc_vstate_t *s, size_t domain, const char *topic,
                                   int32_t partition, int64_t *next_out, char *errstr,
                                   size_t errstr_size);

/*
 * Applies recs[0..n) (all of this handle's domains, offsets in [.., end)) in one
 * transaction: for each domain i whose next[i] < end, moves its stored offset from
 * next[i] to end (no row moved: FENCED, rolled back); records with offset < next[domain]
 * are ignored (already applied); each other record is counted unless its
 * (domain, batch_id) was seen; mismatches are inserted and logged at error level with
 * their keys. On OK, next[i] is set to end for every domain that moved, and stats (may be
 * NULL) is added to. Returns OK, FENCED, RETRIABLE or FATAL (nothing committed unless OK).
 */
cdc_sink_status_t cdc_vstate_apply(cdc_vstate_t *s, const char *topic, int32_t partition,
                                   int64_t end, int64_t *next, const cdc_vstate_rec_t *recs,
                                   size_t n, cdc_vstate_stats_t *stats, char *errstr,
                                   size_t errstr_size);

/*
 * Forgets seen batch ids that can no longer be published again: those whose outbox rows
 * are marked sent or deleted. Errors are logged (pruning is best effort).
 */
void cdc_vstate_prune(cdc_vstate_t *s);

#endif
