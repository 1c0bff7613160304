/*
 * Changes to the boot page tables (entry.S maps 0-4 GiB with 2 MiB pages).
 */
#include "pvboot_internal.h"

#define PTE_PWT (1u << 3)
#define PTE_PCD (1u << 4)
#define LARGE_PAGE (1UL << 21)
#define MAPPED_LIMIT (4ULL << 30)

extern uint64_t boot_pd[4 * 512];

void pvboot_map_uncached(uintptr_t phys) {
    uint64_t *entry = &boot_pd[phys >> 21];
    *entry |= PTE_PWT | PTE_PCD;
    __asm__ volatile ("invlpg (%0)" : : "r" (phys & ~(LARGE_PAGE - 1)) : "memory");
}

volatile void *pvboot_mmio_map(uint64_t phys, size_t size) {
    if (size == 0 || phys >= MAPPED_LIMIT || size > MAPPED_LIMIT - phys) {
        return NULL;
    }
    for (uint64_t page = phys & ~(LARGE_PAGE - 1); page < phys + size; page += LARGE_PAGE) {
        pvboot_map_uncached((uintptr_t)page);
    }
    return (volatile void *)(uintptr_t)phys;
}
