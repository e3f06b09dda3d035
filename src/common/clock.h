/* clock.h: wall-clock time in milliseconds since the epoch, as JavaScript's
 * Date.now() gives it (the unit of every timestamp CryptPad stores in a
 * drive or a message). Header only. */
#ifndef BLINDPAD_COMMON_CLOCK_H
#define BLINDPAD_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
