/*
 * The local APIC timer as pvboot's timer device, in one-shot mode.
 *
 * Its rate is measured once against pvboot's clock, when the first timer is
 * armed (not at boot). Each program() loads the count for the next deadline
 * only: an idle guest takes no timer interrupt until something is due.
 */
#include "pvboot_driver.h"

#define LAPIC_LVT_TIMER (0x320)
#define LAPIC_TIMER_INITIAL (0x380)
#define LAPIC_TIMER_CURRENT (0x390)
#define LAPIC_TIMER_DIVIDE (0x3e0)
#define DIVIDE_BY_16 (0x3)
#define LVT_MASKED (1u << 16)
#define CALIBRATION_NS (2000000ULL) // 2 ms

static uint64_t counts_per_second;
static int vector = -1;

static void calibrate(void) {
    pvboot_lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | (uint32_t)vector);
    pvboot_lapic_write(LAPIC_TIMER_INITIAL, 0xffffffff);
    uint64_t start = pvboot_clock_monotonic();
    uint64_t now;
    do {
        now = pvboot_clock_monotonic();
    } while (now - start < CALIBRATION_NS);
    uint32_t elapsed = 0xffffffff - pvboot_lapic_read(LAPIC_TIMER_CURRENT);
    pvboot_lapic_write(LAPIC_TIMER_INITIAL, 0);
    counts_per_second = (uint64_t)elapsed * 1000000000ULL / (now - start);
    if (counts_per_second == 0) {
        counts_per_second = 1;
    }
    pvboot_lapic_write(LAPIC_LVT_TIMER, (uint32_t)vector); // one-shot, unmasked
}

static void lapic_timer_program(uint64_t deadline_ns) {
    if (deadline_ns == UINT64_MAX) {
        pvboot_lapic_write(LAPIC_TIMER_INITIAL, 0); // stopped
        return;
    }
    if (counts_per_second == 0) {
        calibrate();
    }
    uint64_t now = pvboot_clock_monotonic();
    uint64_t delta = deadline_ns > now ? deadline_ns - now : 0;
    uint64_t count = (uint64_t)(((unsigned __int128)delta * counts_per_second) / 1000000000ULL) + 1;
    if (count > 0xffffffffULL) {
        count = 0xffffffffULL; // early: pvboot re-arms for what is left
    }
    pvboot_lapic_write(LAPIC_TIMER_INITIAL, (uint32_t)count);
}

static void lapic_timer_interrupt(void *arg) {
    (void)arg;
    pvboot_timer_expired();
}

static const pvboot_timer_device_t lapic_timer = {
    .name = "lapic",
    .program = lapic_timer_program,
};

void lapic_timer_init(void) {
    vector = pvboot_irq_attach_vector(lapic_timer_interrupt, NULL);
    if (vector < 0) {
        pvboot_printf("lapic-timer: no free vector\n");
        return;
    }
    pvboot_lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
    pvboot_lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | (uint32_t)vector);
    pvboot_timer_device_register(&lapic_timer);
}
