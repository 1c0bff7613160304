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

__attribute__((noreturn)) void pvboot_start(void);

void pvboot_start(void) {
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
    pvboot_irq_init();

    pvboot_shutdown(pvboot_main(&si));
}
