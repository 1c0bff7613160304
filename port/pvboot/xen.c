/*
 * What pvboot needs of Xen before any module runs: the hypercall page, and
 * the memory map when the start info has none (a PVH dom0 gets start_info
 * version 0). Xen itself is detected in shutdown.c, with the other
 * hypervisors.
 */
#include <stdint.h>

#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include <xen/xen.h>
#include <xen/memory.h>

#include "pvboot_internal.h"

extern char pvboot_xen_hypercall_page[4096];
int pvboot_xen_init(void) {
    uint32_t base = pvboot_xen_cpuid_base();
    if (base == 0) {
        return 0;
    }
    // Leaf base+2: EAX the number of hypercall pages, EBX the MSR to write.
    uint32_t msr = pvboot_cpuid(base + 2, 0).ebx;
    uint64_t page = (uintptr_t)pvboot_xen_hypercall_page;
    __asm__ volatile ("wrmsr" : : "c" (msr), "a" ((uint32_t)page), "d" ((uint32_t)(page >> 32)));
    return 1;
}

long pvboot_xen_hypercall(unsigned op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
    register uint64_t r10 __asm__ ("r10") = a4;
    register uint64_t r8 __asm__ ("r8") = a5;
    long ret;
    void *entry = pvboot_xen_hypercall_page + op * 32;
    __asm__ volatile (
        "call *%[entry]"
        : "=a" (ret), "+D" (a1), "+S" (a2), "+d" (a3), "+r" (r10), "+r" (r8)
        : [entry] "r" (entry)
        : "memory", "rcx", "r9", "r11");
    return ret;
}

size_t pvboot_xen_memory_map(pvboot_memmap_entry_t *out, size_t max) {
    static struct e820entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type;
    } __attribute__((packed)) map[PVBOOT_MAX_MEMMAP];
    struct xen_memory_map request = { .nr_entries = PVBOOT_MAX_MEMMAP };
    set_xen_guest_handle(request.buffer, (void *)map);
    if (pvboot_xen_hypercall(__HYPERVISOR_memory_op, XENMEM_memory_map, (uintptr_t)&request, 0, 0, 0) != 0) {
        return 0;
    }
    size_t n = 0;
    for (unsigned i = 0; i < request.nr_entries && n < max; i++) {
        out[n].addr = map[i].addr;
        out[n].size = map[i].size;
        out[n].type = map[i].type;
        n++;
    }
    return n;
}
