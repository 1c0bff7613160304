/*
 * From the assembly entry to the port's pvboot_main(), then shutdown.
 */
#include <string.h>

#include "pvboot_internal.h"

extern uint64_t pvboot_start_info_paddr;

static pvboot_start_info_t si;

const pvboot_start_info_t *pvboot_start_info(void) {
    return &si;
}

pvboot_start_info_t *pvboot_start_info_mut(void) {
    return &si;
}

// Not protected itself: it runs on the canary it is about to replace.
__attribute__((noreturn, no_stack_protector)) void pvboot_start(void);

void pvboot_start(void) {
    // Before any function built with the stack protector is entered.
    pvboot_canary_init();
    /* Loaders zero .bss, but a warm restart of the image must not rely on
     * it. The page tables and the boot stack live in .pvboot.bss, outside. */
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    // The compiler does not know that __bss_start..__bss_end covers every
    // static variable: without this barrier it may move their first stores
    // (inlined from the calls below) above the memset, which then wipes them.
    __asm__ volatile ("" : : : "memory");

    pvboot_idt_init();
    // Unmap the pages below the stacks (entry.S), now that a fault there
    // is reported on the exception stack.
    pvboot_pages_update((uintptr_t)boot_stack_guard, 4096, 0, PVBOOT_PTE_PRESENT);
    pvboot_pages_update((uintptr_t)exception_stack_guard, 4096, 0, PVBOOT_PTE_PRESENT);
    pvboot_xen_init();

    pvboot_memmap_init(pvboot_start_info_paddr, &si);
    si.stack.addr = (uintptr_t)boot_stack_bottom;
    si.stack.size = (size_t)(boot_stack_top - boot_stack_bottom);
    #if PVBOOT_SEAL
    pvboot_paging_seal_layout(&si);
    #endif
    pvboot_layout_stack(&si);
    pvboot_irq_init();

    // pvboot_main() runs on the stack layout.c placed (or on the boot
    // stack, when there was no room), from its top.
    uintptr_t top = si.stack.addr + si.stack.size;
    __asm__ volatile (
        "movq %0, %%rsp\n"
        "xorl %%ebp, %%ebp\n"
        "callq %P1\n"
        "movl %%eax, %%edi\n"
        "callq %P2\n"
        :
        : "r" (top), "i" (pvboot_main), "i" (pvboot_shutdown), "D" (&si)
        : "memory");
    __builtin_unreachable();
}
