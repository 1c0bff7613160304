/*
 * Which hypervisor we run on, and how to stop with an exit status.
 */
#include "pvboot_internal.h"

/* PVBOOT_EXIT_PORT: the I/O port of an exit device (QEMU's isa-debug-exit),
 * defined only when the board selects the plugin that adds the device. */
#include "board_config.h"

/* QEMU's pvpanic ISA device (libvirt's <panic model='isa'/>). Reading the
 * port gives the events it supports; with no device it reads 0xff. */
#define PVPANIC_PORT (0x505)
/* How long to wait for an ACPI power-off to take effect: ~2 s of a 1 GHz
 * TSC, ~1 s at 2 GHz (no calibrated clock is needed to count it). */
#define ACPI_POWER_OFF_WAIT_CYCLES (2000000000ULL)
#define PVPANIC_PANICKED (1u << 0)

static void (*hypervisor_shutdown)(int status, int reboot);

static int signature_is(pvboot_cpuid_t r, const char *sig) {
    const uint32_t *s = (const uint32_t *)sig;
    return r.ebx == s[0] && r.ecx == s[1] && r.edx == s[2];
}

static pvboot_hypervisor_t hypervisor = (pvboot_hypervisor_t)-1;
static uint32_t xen_base;

static pvboot_hypervisor_t detect(void) {
    if (!(pvboot_cpuid(1, 0).ecx & (1u << 31))) {
        return PVBOOT_HV_NONE;
    }
    /* Xen may sit at 0x40000100 when it also offers Viridian at 0x40000000. */
    for (uint32_t base = 0x40000000; base <= 0x40000100; base += 0x100) {
        pvboot_cpuid_t r = pvboot_cpuid(base, 0);
        if (signature_is(r, "XenVMMXenVMM")) {
            xen_base = base;
            return PVBOOT_HV_XEN;
        }
        if (base == 0x40000000 && signature_is(r, "KVMKVMKVM\0\0\0")) {
            return PVBOOT_HV_KVM;
        }
    }
    return PVBOOT_HV_OTHER;
}

pvboot_hypervisor_t pvboot_hypervisor(void) {
    if (hypervisor == (pvboot_hypervisor_t)-1) {
        hypervisor = detect();
    }
    return hypervisor;
}

uint32_t pvboot_xen_cpuid_base(void) {
    pvboot_hypervisor();
    return xen_base;
}

void pvboot_shutdown_register(void (*fn)(int status, int reboot)) {
    hypervisor_shutdown = fn;
}

__attribute__((noreturn)) static void halt_forever(void) {
    for (;;) {
        __asm__ volatile ("cli; hlt");
    }
}

/* A failure (status != 0) is reported as a guest panic when a pvpanic
 * device is there: QEMU then stops the guest and tells its manager, and
 * libvirt applies on_crash. The isa-debug-exit write alone would only make
 * the QEMU process vanish, which libvirt can tell from nothing else. The
 * guest then waits for its manager instead of exiting: a write to
 * isa-debug-exit right after the panic would end QEMU before libvirt saw
 * the panic through. */
static void report_panic(int status) {
    uint8_t events = pvboot_inb(PVPANIC_PORT);
    if (status != 0 && events != 0xff && (events & PVPANIC_PANICKED)) {
        pvboot_outb(PVPANIC_PORT, PVPANIC_PANICKED);
        halt_forever();
    }
}

void pvboot_shutdown(int status) {
    pvboot_console_flush();
    if (hypervisor_shutdown != NULL) {
        hypervisor_shutdown(status, 0);
    }
    report_panic(status);
#ifdef PVBOOT_EXIT_PORT
    pvboot_outl(PVBOOT_EXIT_PORT, (uint32_t)status);
#endif
    /* Still here: no exit device (the board has no isa-debug-exit plugin, or
     * QEMU no such device). ACPI's power-off ends QEMU with status 0, so a
     * failure says its status on the console first. */
    if (status != 0) {
        pvboot_printf("pvboot: exit status %d (no isa-debug-exit device to give it to the host)\n", status);
    }
    if (pvboot_acpi_power_off()) {
        // Asked: give the hypervisor time to act on it (QEMU does so from
        // its main loop, after this vCPU has run on for a while).
        uint64_t start = pvboot_clock_cycles();
        while (pvboot_clock_cycles() - start < ACPI_POWER_OFF_WAIT_CYCLES) {
            __asm__ volatile ("pause");
        }
        pvboot_printf("pvboot: ACPI power-off asked for, but the machine still runs: halted; exit status %d\n", status);
    } else {
        pvboot_printf("pvboot: no way to power off (no isa-debug-exit device, no ACPI): halted; exit status %d\n", status);
    }
    halt_forever();
}

void pvboot_reboot(void) {
    pvboot_console_flush();
    if (hypervisor_shutdown != NULL) {
        hypervisor_shutdown(0, 1);
    }
    /* PCI reset control register: full reset (q35, pc). */
    pvboot_outb(0xcf9, 0x06);
    /* Elsewhere (microvm): an empty IDT turns the next exception into a
     * triple fault, which resets the CPU. */
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty = { 0, 0 };
    __asm__ volatile ("lidt %0; int3" : : "m" (empty));
    for (;;) {
        __asm__ volatile ("cli; hlt");
    }
}
