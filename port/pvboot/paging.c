/*
 * Changes to the boot page tables (entry.S maps 0-4 GiB with 2 MiB pages).
 */
#include "pvboot_internal.h"

#define PTE_PWT (1u << 3)
#define PTE_PCD (1u << 4)

extern uint64_t boot_pd[4 * 512];

void pvboot_map_uncached(uintptr_t phys) {
    uint64_t *entry = &boot_pd[phys >> 21];
    *entry |= PTE_PWT | PTE_PCD;
    __asm__ volatile ("invlpg (%0)" : : "r" (phys & ~0x1fffffUL) : "memory");
}
