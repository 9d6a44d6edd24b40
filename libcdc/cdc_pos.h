/*
 * cdc_pos: a record's position (invariant 3): (epoch, H), where H is the change-log
 * high-water mark visible in the read transaction that read the record's row image.
 * Positions order versions of a row: the sink only ever moves a row to a larger one.
 */
#ifndef CDC_POS_H
#define CDC_POS_H

#include <stdint.h>

typedef struct cdc_pos_s {
    int64_t epoch;
    int64_t h;
} cdc_pos_t;

/* <0, 0, >0 as a is older than, equal to, newer than b (epoch first, then H). */
static inline int cdc_pos_cmp(cdc_pos_t a, cdc_pos_t b)
{
    if (a.epoch != b.epoch)
        return a.epoch < b.epoch ? -1 : 1;
    if (a.h != b.h)
        return a.h < b.h ? -1 : 1;
    return 0;
}

#endif
