#include "ack_tracker.h"

#include "cdc_alloc.h"

#include <stdlib.h>

typedef struct batch_s {
    uint64_t id;
    cdc_pos_t pos;
    void *tag;
    size_t pending;
    int closed;
} batch_t;

/* Batches in a ring, oldest first; ids grow by one, so a batch is found by its distance
 * from the oldest id without searching. */
struct cdc_ack_tracker_s {
    batch_t *ring;
    size_t cap, head, count;
    uint64_t first_id; /* id of ring[head] */
    uint64_t next_id;
    size_t in_flight;
    int failed;
};

cdc_ack_tracker_t *cdc_ack_tracker_new(void)
{
    cdc_ack_tracker_t *t = cdc_calloc(1, sizeof(*t));
    t->cap = 64;
    t->ring = cdc_calloc(t->cap, sizeof(batch_t));
    t->first_id = t->next_id = 1;
    return t;
}

void cdc_ack_tracker_destroy(cdc_ack_tracker_t *t)
{
    if (!t)
        return;
    free(t->ring);
    free(t);
}

static batch_t *find(cdc_ack_tracker_t *t, uint64_t id)
{
    if (id < t->first_id || id - t->first_id >= t->count)
        abort(); /* a report for a batch we never opened or already popped: a bug */
    return &t->ring[(t->head + (id - t->first_id)) % t->cap];
}

uint64_t cdc_ack_tracker_open(cdc_ack_tracker_t *t, cdc_pos_t pos, void *tag)
{
    if (t->count == t->cap) {
        batch_t *bigger = cdc_calloc(t->cap * 2, sizeof(batch_t));
        for (size_t i = 0; i < t->count; i++)
            bigger[i] = t->ring[(t->head + i) % t->cap];
        free(t->ring);
        t->ring = bigger;
        t->head = 0;
        t->cap *= 2;
    }
    uint64_t id = t->next_id++;
    t->ring[(t->head + t->count) % t->cap] = (batch_t){id, pos, tag, 0, 0};
    t->count++;
    return id;
}

void cdc_ack_tracker_add(cdc_ack_tracker_t *t, uint64_t id)
{
    find(t, id)->pending++;
    t->in_flight++;
}

void cdc_ack_tracker_close(cdc_ack_tracker_t *t, uint64_t id)
{
    find(t, id)->closed = 1;
}

void cdc_ack_tracker_delivered(cdc_ack_tracker_t *t, uint64_t id, int ok)
{
    batch_t *b = find(t, id);
    b->pending--;
    t->in_flight--;
    if (!ok)
        t->failed = 1;
}

int cdc_ack_tracker_take(cdc_ack_tracker_t *t, cdc_pos_t *pos, void **tag)
{
    if (t->failed || t->count == 0)
        return 0;
    batch_t *b = &t->ring[t->head];
    if (!b->closed || b->pending > 0)
        return 0;
    *pos = b->pos;
    if (tag)
        *tag = b->tag;
    t->head = (t->head + 1) % t->cap;
    t->count--;
    t->first_id++;
    return 1;
}

size_t cdc_ack_tracker_in_flight(const cdc_ack_tracker_t *t)
{
    return t->in_flight;
}

int cdc_ack_tracker_failed(const cdc_ack_tracker_t *t)
{
    return t->failed;
}
