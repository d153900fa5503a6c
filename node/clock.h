/* clock: the node's one monotonic clock, in milliseconds. */
#ifndef CHAINLAB_CLOCK_H
#define CHAINLAB_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and intervals, never for wall time. */
int64_t clock_now_ms(void);

#endif
