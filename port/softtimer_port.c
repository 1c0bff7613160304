/*
 * MicroPython's soft timers (shared/runtime/softtimer.c, behind
 * machine.Timer) on a pvboot one-shot timer: the hardware timer is armed
 * for the next soft timer only.
 */
#include "py/mphal.h"
#include "py/runtime.h"
#include "shared/runtime/softtimer.h"

#include "pvboot.h"

static void soft_timer_interrupt(void *arg) {
    (void)arg;
    soft_timer_handler();
}

static pvboot_timer_t soft_timer_hw = { .fn = soft_timer_interrupt };

uint32_t soft_timer_get_ms(void) {
    return (uint32_t)mp_hal_ticks_ms();
}

void soft_timer_schedule_at_ms(uint32_t ticks_ms) {
    int32_t ms = soft_timer_ticks_diff(ticks_ms, soft_timer_get_ms());
    if (ms < 0) {
        ms = 0;
    }
    pvboot_timer_arm(&soft_timer_hw, pvboot_clock_monotonic() + (uint64_t)ms * 1000000);
}
