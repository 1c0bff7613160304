/*
 * The clock registry, and resting until a deadline.
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

void pvboot_yield(uint64_t deadline_ns) {
    (void)deadline_ns;
    __asm__ volatile ("pause");
}
