/*
 * The MicroPython HAL of the pyunik port: console through pvboot's console
 * fan-out, time from pvboot's TSC clock.
 */
#include <stddef.h>

#include "pvboot.h"
#include "shared/runtime/interrupt_char.h"

static inline mp_uint_t mp_hal_ticks_cpu(void) {
    return (mp_uint_t)pvboot_clock_cycles();
}

static inline void mp_hal_delay_us_fast(mp_uint_t us) {
    uint64_t deadline = pvboot_clock_monotonic() + (uint64_t)us * 1000;
    while (pvboot_clock_monotonic() < deadline) {
    }
}
