/*
 * Changes to the boot page tables. entry.S maps 0-4 GiB with 2 MiB pages;
 * where a finer grain is needed (a guard page below a stack; later, the
 * image's sections with their own permissions) the 2 MiB page around it is
 * split into 512 pages of 4 KiB with the same attributes, from a small pool
 * of page tables.
 */
#include "pvboot_internal.h"

#define PTE_LARGE (1ULL << 7)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define LARGE_PAGE (1ULL << 21)
#define ADDR_MASK (0x000ffffffffff000ULL)
#define MAPPED_LIMIT (4ULL << 30)

// One page table per split 2 MiB page. The boot stacks' guard pages share
// one (they sit together in .pvboot.bss), the randomly placed main stack's
// guard (layout.c) may need another; grow this when more is split.
#define PAGE_TABLE_POOL (2)

extern uint64_t boot_pd[4 * 512];

static uint64_t page_tables[PAGE_TABLE_POOL][512] __attribute__((aligned(4096)));
static unsigned page_tables_used;

static void flush_tlb(void) {
    uint64_t cr3;
    __asm__ volatile ("mov %%cr3, %0; mov %0, %%cr3" : "=r" (cr3) : : "memory");
}

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

// The 4 KiB entries of the 2 MiB page holding addr, splitting it if needed.
static uint64_t *page_table_for(uintptr_t addr) {
    uint64_t *pde = &boot_pd[addr >> 21];
    if (!(*pde & PTE_LARGE)) {
        return (uint64_t *)(uintptr_t)(*pde & ADDR_MASK);
    }
    if (page_tables_used == PAGE_TABLE_POOL) {
        return NULL;
    }
    uint64_t *pt = page_tables[page_tables_used++];
    uint64_t base = *pde & ADDR_MASK & ~(LARGE_PAGE - 1);
    // The same permissions and caching; the large-page bit goes (bit 7 is
    // PAT in a 4 KiB entry, and PAT stays 0 as in the 2 MiB page).
    uint64_t attrs = *pde & ~ADDR_MASK & ~PTE_LARGE;
    for (unsigned i = 0; i < 512; i++) {
        pt[i] = (base + i * 4096ULL) | attrs;
    }
    *pde = (uint64_t)(uintptr_t)pt | PVBOOT_PTE_PRESENT | PVBOOT_PTE_WRITE;
    return pt;
}

int pvboot_pages_update(uintptr_t addr, size_t len, uint64_t set, uint64_t clear) {
    if (addr % 4096 != 0 || len % 4096 != 0 || addr + len > MAPPED_LIMIT) {
        return -1;
    }
    for (uintptr_t a = addr; a < addr + len; a += 4096) {
        uint64_t *pt = page_table_for(a);
        if (pt == NULL) {
            return -1;
        }
        uint64_t *pte = &pt[(a >> 12) & 511];
        *pte = (*pte & ~clear) | set;
    }
    flush_tlb();
    return 0;
}

int pvboot_page_mapped(uintptr_t addr) {
    if (addr >= MAPPED_LIMIT) {
        return 0;
    }
    uint64_t pde = boot_pd[addr >> 21];
    if (!(pde & PVBOOT_PTE_PRESENT)) {
        return 0;
    }
    if (pde & PTE_LARGE) {
        return 1;
    }
    const uint64_t *pt = (const uint64_t *)(uintptr_t)(pde & ADDR_MASK);
    return (pt[(addr >> 12) & 511] & PVBOOT_PTE_PRESENT) != 0;
}
