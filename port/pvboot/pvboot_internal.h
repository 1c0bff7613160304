/*
 * Shared between pvboot's own files only; the port and the modules use
 * pvboot.h and pvboot_driver.h alone.
 */
#ifndef PVBOOT_INTERNAL_H
#define PVBOOT_INTERNAL_H

#include "pvboot_driver.h"

/* Linker-script symbols (pvboot.ld). */
extern char __image_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __bss_start[], __bss_end[], _end[];
extern char boot_stack_bottom[], boot_stack_top[];

void pvboot_idt_init(void);
void pvboot_idt_set(unsigned vector, uint64_t handler);
void pvboot_irq_init(void);
int pvboot_xen_init(void);
size_t pvboot_xen_memory_map(pvboot_memmap_entry_t *out, size_t max);
/* Make the 2 MiB page holding phys uncached (device registers). */
void pvboot_map_uncached(uintptr_t phys);
/* The start info, writable: pages.c takes device pages from its heap. */
pvboot_start_info_t *pvboot_start_info_mut(void);
void pvboot_memmap_init(uint64_t start_info_paddr, pvboot_start_info_t *si);

#endif
