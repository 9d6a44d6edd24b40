/*
 * ack_tracker: which position may be acknowledged, given Kafka's delivery reports.
 *
 * Every read of the producer (a snapshot chunk or a stream batch) opens a batch carrying
 * its position; each record sent for it is counted, each delivery report uncounted. A
 * position may be acknowledged (and the change log pruned up to it) only when its batch
 * and every batch opened before it are closed and fully delivered (invariant 3): deliveries
 * arrive out of order across partitions, acknowledgement never does.
 * A failed delivery poisons the tracker: nothing at or after that batch is ever ackable,
 * so a fatal error stops the producer without acknowledging what was not delivered.
 */
#ifndef CDC_ACK_TRACKER_H
#define CDC_ACK_TRACKER_H

#include "cdc_pos.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cdc_ack_tracker_s cdc_ack_tracker_t;

/* Caller frees with cdc_ack_tracker_destroy(). */
cdc_ack_tracker_t *cdc_ack_tracker_new(void);
void cdc_ack_tracker_destroy(cdc_ack_tracker_t *t);

/* Opens a batch at pos; tag is returned with it when it becomes ackable (not owned).
 * Returns the batch id, to be passed as the delivery opaque of its records. */
uint64_t cdc_ack_tracker_open(cdc_ack_tracker_t *t, cdc_pos_t pos, void *tag);
/* One more record in flight for batch id. */
void cdc_ack_tracker_add(cdc_ack_tracker_t *t, uint64_t id);
/* No more records will be added to batch id. */
void cdc_ack_tracker_close(cdc_ack_tracker_t *t, uint64_t id);
/* A delivery report for a record of batch id; ok = 0 marks the batch failed. */
void cdc_ack_tracker_delivered(cdc_ack_tracker_t *t, uint64_t id, int ok);

/*
 * Pops the oldest batch if it is closed and fully delivered (and nothing failed): returns
 * 1 with its position in *pos and its tag in *tag (when tag is not NULL), 0 otherwise.
 * Call it in a loop: each batch's tag (e.g. "prune the change log up to seq X", "snapshot
 * chunk ending at key K") is handed back exactly once, in opening order.
 */
int cdc_ack_tracker_take(cdc_ack_tracker_t *t, cdc_pos_t *pos, void **tag);

/* Records sent and not yet delivered, over all batches. */
size_t cdc_ack_tracker_in_flight(const cdc_ack_tracker_t *t);
/* 1 once any delivery failed. */
int cdc_ack_tracker_failed(const cdc_ack_tracker_t *t);

#endif
