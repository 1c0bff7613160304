/*
 * Shared between pvboot's own files only; the port and the modules use
 * pvboot.h and pvboot_driver.h alone.
 */
#ifndef PVBOOT_INTERNAL_H
#define PVBOOT_INTERNAL_H

#include "pvboot_driver.h"

/* 1: the W^X map of paging.c; 0: the boot map stays (the board option
 * `seal = false`, for comparisons). The build passes it. */
#ifndef PVBOOT_SEAL
#define PVBOOT_SEAL (1)
#endif

/* Linker-script symbols (pvboot.ld). */
extern char __image_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __bss_start[], __bss_end[], _end[];
extern char boot_stack_guard[], boot_stack_bottom[], boot_stack_top[];
extern char exception_stack_guard[], exception_stack_top[];

/* Sets __stack_chk_guard from pvboot_random_boot_u64(); first thing at start. */
void pvboot_canary_init(void);
/* For what is drawn before any driver has run (the canary, the layout):
 * RDSEED/RDRAND, else the cycle counter's jitter, never a device; and the
 * name of that source (entropy.c). */
uint64_t pvboot_random_boot_u64(void);
const char *pvboot_boot_entropy_source(void);
/* Sets every gate of the IDT, which has a page of its own (at
 * pvboot_idt_page()) that the sealed map makes read-only. */
void pvboot_idt_init(void);
uintptr_t pvboot_idt_page(void);
void pvboot_irq_init(void);
int pvboot_xen_init(void);
size_t pvboot_xen_memory_map(pvboot_memmap_entry_t *out, size_t max);
/* The start info, writable: pages.c takes device pages from its heap. */
pvboot_start_info_t *pvboot_start_info_mut(void);
/* pvboot_page_alloc() without the zeroing, for pages nothing reads before
 * writing them (the native-code arena). */
void *pvboot_page_take(size_t npages);
/* [addr, addr + size) is free RAM outside the heap (layout.c: the gap below
 * the main stack's guard): pvboot_page_table_take() uses it first. */
void pvboot_pages_spare(uintptr_t addr, size_t size);
/* A page for a page table, not zeroed (paging.c writes all 512 entries):
 * from the spare RAM while it lasts, then like pvboot_page_take(1). */
void *pvboot_page_table_take(void);

/* Page-table entry bits (x86_64, 4 KiB pages). */
#define PVBOOT_PTE_PRESENT (1ULL << 0)
#define PVBOOT_PTE_WRITE (1ULL << 1)
#define PVBOOT_PTE_NX (1ULL << 63)
/* For each 4 KiB page in [addr, addr + len) (both page-aligned, below
 * 4 GiB): entry = (entry & ~clear) | set, splitting 2 MiB pages as needed.
 * Returns 0, or -1 on a bad range or when no page table is left. */
int pvboot_pages_update(uintptr_t addr, size_t len, uint64_t set, uint64_t clear);
/* Whether a read of addr would not fault (present in the page tables). */
int pvboot_page_mapped(uintptr_t addr);
/* Whether addr lies in one of the boot stacks' guard pages. */
int pvboot_in_stack_guard(uintptr_t addr);
/* ACPI S5 power-off (acpi.c): false if the machine has no way to it, true
 * once the sleep register was written (the machine stops soon after). */
bool pvboot_acpi_power_off(void);
/* Sealed images: the W^X map of the image and RAM, everything else
 * unmapped (paging.c says what goes where); then, when the heap is
 * claimed, the page tables themselves read-only. */
void pvboot_paging_seal_layout(const pvboot_start_info_t *si);
void pvboot_paging_seal_tables(void);
/* At power-off only: firmware memory (ACPI tables, sleep registers)
 * readable, never executable (paging.c). */
void pvboot_paging_map_firmware(void);
void pvboot_memmap_init(uint64_t start_info_paddr, pvboot_start_info_t *si);
/* The randomised layout (layout.c): a stack for pvboot_main() with a guard
 * page, at a random place at the start of si->heap (false: too little RAM,
 * or no page table for the guard: the boot stack stays); then the heap's
 * random base, when the port claims it. */
bool pvboot_layout_stack(pvboot_start_info_t *si);
pvboot_region_t pvboot_layout_heap(pvboot_region_t heap);
/* The guard page below pvboot_main()'s stack, 0 when it runs on the boot
 * stack. */
extern uintptr_t pvboot_main_stack_guard;

#endif
