/*
 * Which hypervisor we run on, and how to stop with an exit status.
 */
#include "pvboot.h"

/* QEMU's isa-debug-exit device, as the boards configure it. */
#define DEBUG_EXIT_PORT (0xf4)

static void (*hypervisor_shutdown)(int status, int reboot);

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    __asm__ volatile ("cpuid" : "=a" (*a), "=b" (*b), "=c" (*c), "=d" (*d) : "a" (leaf), "c" (0));
}

static int signature_is(uint32_t b, uint32_t c, uint32_t d, const char *sig) {
    const uint32_t *s = (const uint32_t *)sig;
    return b == s[0] && c == s[1] && d == s[2];
}

pvboot_hypervisor_t pvboot_hypervisor(void) {
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    if (!(c & (1u << 31))) {
        return PVBOOT_HV_NONE;
    }
    /* Xen may sit at 0x40000100 when it also offers Viridian at 0x40000000. */
    for (uint32_t base = 0x40000000; base <= 0x40000100; base += 0x100) {
        cpuid(base, &a, &b, &c, &d);
        if (signature_is(b, c, d, "XenVMMXenVMM")) {
            return PVBOOT_HV_XEN;
        }
        if (base == 0x40000000 && signature_is(b, c, d, "KVMKVMKVM\0\0\0")) {
            return PVBOOT_HV_KVM;
        }
    }
    return PVBOOT_HV_OTHER;
}

void pvboot_shutdown_register(void (*fn)(int status, int reboot)) {
    hypervisor_shutdown = fn;
}

void pvboot_shutdown(int status) {
    if (hypervisor_shutdown != NULL) {
        hypervisor_shutdown(status, 0);
    }
    pvboot_outl(DEBUG_EXIT_PORT, (uint32_t)status);
    /* No exit device: stop here, quietly. */
    for (;;) {
        __asm__ volatile ("cli; hlt");
    }
}

void pvboot_reboot(void) {
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
