/*
 * cdc_time: monotonic milliseconds, sleeps and backoff (cdc_time.h).
 */
#include "cdc_time.h"

#include <time.h>

int64_t cdc_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cdc_time_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    /* No loop on EINTR: the early return is the point (cdc_time.h). */
    nanosleep(&ts, NULL);
}

int cdc_time_backoff(int ms, int max_ms)
{
    return ms * 2 > max_ms ? max_ms : ms * 2;
}
