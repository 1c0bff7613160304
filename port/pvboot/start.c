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

    pvboot_idt_init();
    pvboot_xen_init();

    pvboot_memmap_init(pvboot_start_info_paddr, &si);
    si.stack.addr = (uintptr_t)boot_stack_bottom;
    si.stack.size = (size_t)(boot_stack_top - boot_stack_bottom);
    pvboot_irq_init();

    pvboot_shutdown(pvboot_main(&si));
}
