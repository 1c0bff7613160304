/*
 * The clock registry, and the wall clock on top of it.
 */
#include "pvboot.h"

static const pvboot_clock_t *clock;

void pvboot_clock_register(const pvboot_clock_t *c) {
    clock = c;
}

uint64_t pvboot_clock_monotonic(void) {
    return clock != NULL ? clock->monotonic_ns() : 0;
}

uint64_t pvboot_clock_cycles_per_second(void) {
    return clock != NULL ? clock->cycles_per_second() : 0;
}

static uint64_t (*wallclock_source)(void);
// Wall-clock time at monotonic time 0, once read.
static uint64_t wallclock_offset;

void pvboot_wallclock_register(uint64_t (*read_unix_ns)(void)) {
    wallclock_source = read_unix_ns;
    wallclock_offset = 0;
}

uint64_t pvboot_wallclock_ns(void) {
    if (wallclock_source == NULL) {
        return 0;
    }
    if (wallclock_offset == 0) {
        uint64_t now = pvboot_clock_monotonic();
        wallclock_offset = wallclock_source() - now;
    }
    return wallclock_offset + pvboot_clock_monotonic();
}
