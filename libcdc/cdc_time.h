/*
 * cdc_time: the monotonic clock, short sleeps and the retry backoff of the workers' loops.
 * The monotonic clock, not the wall clock: a loop's timeouts and batch ages must not jump
 * when NTP steps the time.
 */
#ifndef CDC_TIME_H
#define CDC_TIME_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC (an arbitrary origin: only differences mean anything). */
int64_t cdc_time_now_ms(void);

/* Sleeps about ms milliseconds; a signal ends the sleep early, so that a loop waiting
 * out a backoff sees its stop flag at once. */
void cdc_time_sleep_ms(int ms);

/* The next delay of a doubling backoff after ms: 2 * ms, at most max_ms. */
int cdc_time_backoff(int ms, int max_ms);

#endif
