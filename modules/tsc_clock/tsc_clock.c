/*
 * The TSC as pvboot's clock.
 *
 * The rate comes from the hypervisor's timing leaf (0x40000010) or CPUID
 * leaf 0x15 where they exist; QEMU under TCG reports neither, so there it
 * is measured against the i8254 PIT (present on microvm and q35).
 * The measurement takes ~10 ms, so it is done on the first use of the clock
 * rather than at boot: a program that never asks the time never pays for it.
 */
#include "pvboot_driver.h"

#define PIT_HZ (1193182ULL)
#define PIT_CH0 (0x40)
#define PIT_CMD (0x43)
#define CALIBRATION_PIT_TICKS (PIT_HZ / 100) /* 10 ms */

static uint64_t tsc_at_boot;
static uint64_t tsc_hz;
/* Nanoseconds per TSC cycle as a 32.32 fixed-point number. */
static uint64_t ns_per_cycle_q32;

static uint16_t pit_read(void) {
    pvboot_outb(PIT_CMD, 0x00); /* latch channel 0 */
    uint8_t lo = pvboot_inb(PIT_CH0);
    uint8_t hi = pvboot_inb(PIT_CH0);
    return (uint16_t)((hi << 8) | lo);
}

static uint64_t tsc_hz_from_cpuid(void) {
    /* Leaf 0x15: TSC/crystal ratio and crystal Hz, on recent Intel parts. */
    if (pvboot_cpuid(0, 0).eax >= 0x15) {
        pvboot_cpuid_t r = pvboot_cpuid(0x15, 0);
        if (r.eax != 0 && r.ebx != 0 && r.ecx != 0) {
            return (uint64_t)r.ecx * r.ebx / r.eax;
        }
    }
    return 0;
}

static uint64_t tsc_hz_from_hypervisor(void) {
    uint32_t xen = pvboot_xen_cpuid_base();
    if (xen != 0) {
        // Xen's leaf base+3, subleaf 0: ECX is the guest's TSC rate in kHz.
        uint32_t khz = pvboot_cpuid(xen + 3, 0).ecx;
        if (khz != 0) {
            return (uint64_t)khz * 1000;
        }
    }
    // Leaf 0x40000010 (the timing leaf of VMware, kept by KVM/QEMU with
    // vmware-cpuid-freq): EAX is the TSC rate in kHz.
    if (pvboot_hypervisor() == PVBOOT_HV_NONE) {
        return 0;
    }
    uint32_t max = pvboot_cpuid(0x40000000, 0).eax;
    if (max < 0x40000010 || max > 0x400000ff) {
        return 0;
    }
    return (uint64_t)pvboot_cpuid(0x40000010, 0).eax * 1000;
}

// Count PIT ticks for at least `ticks`; returns TSC cycles per PIT tick as
// 32.32 fixed point, or 0 when the PIT does not count. Each sample takes the
// TSC right after the PIT, in the same code, so the two ends of the interval
// cost the same: under TCG the first pass through new code is translated at
// once, and a TSC read behind a fresh translation made a 10 ms measurement
// 0.5% long (the clock ran 0.5% slow).
static uint64_t pit_measure(uint64_t ticks, uint64_t *cycles_out, uint64_t *elapsed_out) {
    /* Channel 0, lobyte/hibyte, mode 2 (rate generator), full count: it
     * counts down from 65535 over and over while we watch it. */
    pvboot_outb(PIT_CMD, 0x34);
    pvboot_outb(PIT_CH0, 0xff);
    pvboot_outb(PIT_CH0, 0xff);
    uint16_t first = pit_read();
    uint64_t t0 = pvboot_clock_cycles();
    uint16_t last = first;
    uint64_t t = t0;
    uint64_t elapsed = 0;
    unsigned unchanged = 0;
    while (elapsed < ticks) {
        uint16_t now = pit_read();
        t = pvboot_clock_cycles();
        if (now == last && ++unchanged > 1000000) {
            return 0; // no PIT counting here
        }
        elapsed += (uint16_t)(last - now);
        last = now;
    }
    *cycles_out = t - t0;
    *elapsed_out = elapsed;
    return 1;
}

static uint64_t tsc_hz_from_pit(void) {
    uint64_t cycles, elapsed;
    // A short pass first, so the measured one runs translated code only.
    if (!pit_measure(CALIBRATION_PIT_TICKS / 10, &cycles, &elapsed)
        || !pit_measure(CALIBRATION_PIT_TICKS, &cycles, &elapsed)) {
        return 0;
    }
    return cycles * PIT_HZ / elapsed;
}

static void calibrate(void) {
    tsc_hz = tsc_hz_from_hypervisor();
    if (tsc_hz == 0) {
        tsc_hz = tsc_hz_from_cpuid();
    }
    if (tsc_hz == 0) {
        tsc_hz = tsc_hz_from_pit();
    }
    if (tsc_hz == 0) {
        tsc_hz = 1000000000ULL; /* no PIT answered: assume 1 GHz */
    }
    ns_per_cycle_q32 = (1000000000ULL << 32) / tsc_hz;
}

static uint64_t tsc_cycles_per_second(void) {
    if (tsc_hz == 0) {
        calibrate();
    }
    return tsc_hz;
}

static uint64_t tsc_monotonic_ns(void) {
    if (tsc_hz == 0) {
        calibrate();
    }
    uint64_t delta = pvboot_clock_cycles() - tsc_at_boot;
    return (uint64_t)(((unsigned __int128)delta * ns_per_cycle_q32) >> 32);
}

static const pvboot_clock_t tsc_clock = {
    .name = "tsc",
    .monotonic_ns = tsc_monotonic_ns,
    .cycles_per_second = tsc_cycles_per_second,
};

void tsc_clock_init(void) {
    tsc_at_boot = pvboot_clock_cycles();
    pvboot_clock_register(&tsc_clock);
}
