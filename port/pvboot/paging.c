/*
 * The page tables. entry.S maps 0-4 GiB with 2 MiB pages, read-write-execute,
 * which is all that early boot needs. Where a finer grain is needed the
 * 2 MiB page around it is split into 512 pages of 4 KiB with the same
 * attributes (the boot stacks' guard pages, issue 15).
 *
 * Sealed images (PVBOOT_SEAL, the board option `seal`, on by default) then
 * replace that map, once the memory map is known (pvboot_paging_seal_layout):
 *
 *   page 0 .. 1 MiB        unmapped (a NULL dereference faults)
 *   .text                  read + execute
 *   .rodata                read only, no execute (frozen bytecode lives here)
 *   .data .bss stacks      read + write, no execute; stack guards unmapped
 *   RAM after the image    read + write, no execute (heap, device pages)
 *   device registers       uncached, no execute: only what a driver mapped
 *                          with pvboot_mmio_map (or pvboot_shared_map)
 *   everything else        unmapped
 *
 * CR0.WP (entry.S) makes ring-0 writes honour read-only pages; EFER.NXE
 * (entry.S) makes the no-execute bit count.
 *
 * When the port claims its heap (pvboot_heap_claim), the page tables
 * themselves become read-only (pvboot_paging_seal_tables). Decision: every
 * device mapping is made before that, while drivers initialise, because a
 * new mapping may need a new page table and page tables come from the pages
 * the heap is about to take. After sealing, pvboot_mmio_map() still returns
 * ranges that are already mapped and refuses (NULL) anything new. The one
 * change allowed after sealing is a page of the native-code arena going
 * between RW and RX (pvboot_code_protect), through tables_write_begin/end
 * below: interrupts off and CR0.WP clear for the few stores it takes.
 */
#include "pvboot_internal.h"

#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_ACCESSED (1ULL << 5)
#define PTE_DIRTY (1ULL << 6)
#define PTE_LARGE (1ULL << 7)
#define LARGE_PAGE (1ULL << 21)
#define PAGE (4096ULL)
#define ADDR_MASK (0x000ffffffffff000ULL)
#define MAPPED_LIMIT (4ULL << 30)
#define LOW_LIMIT (1ULL << 20)
#define CR0_WP (1ULL << 16)

#define PTE_RX (PVBOOT_PTE_PRESENT)
#define PTE_RO (PVBOOT_PTE_PRESENT | PVBOOT_PTE_NX)
#define PTE_RW (PVBOOT_PTE_PRESENT | PVBOOT_PTE_WRITE | PVBOOT_PTE_NX)
#define PTE_MMIO (PTE_RW | PTE_PWT | PTE_PCD)
// A directory entry that points to a page table: the table's entries decide
// (write and no-execute combine across levels, so the upper levels allow all).
#define PDE_TABLE (PVBOOT_PTE_PRESENT | PVBOOT_PTE_WRITE)

// Page tables in the image: the image's own 2 MiB page (split first for the
// guard pages, before the memory map is known) and, sealed, the local APIC's
// and the IOAPIC's, so that pvboot's own mappings never depend on free RAM
// (with none, the port must still be able to say so). More come from
// pvboot_page_table_take() (pages.c: RAM the boot touches anyway, where it
// can) while drivers initialise; all are remembered so that
// sealing can make each of them read-only.
#define PAGE_TABLE_POOL (PVBOOT_SEAL ? 3 : 1)
#define PAGE_TABLES_MAX (64)

extern uint64_t boot_pml4[512], boot_pdpt[512], boot_pd[4 * 512];

static uint64_t page_table_pool[PAGE_TABLE_POOL][512] __attribute__((aligned(4096)));
static unsigned page_table_pool_used;
static uint64_t *page_tables[PAGE_TABLES_MAX];
static unsigned page_tables_count;
static bool tables_sealed;
// From the first page table made read-only (pvboot_paging_seal_tables) on,
// a store to a table needs CR0.WP lifted.
static bool tables_readonly;

// An update of at most this many pages drops just their TLB entries
// (invlpg); a bigger one reloads CR3, which drops all of them.
#define INVLPG_MAX_PAGES (32)

static void flush_tlb(uintptr_t addr, size_t len) {
    if (len != 0 && len / PAGE <= INVLPG_MAX_PAGES) {
        // Each page's entry, and a 2 MiB entry that was split to reach it.
        for (uintptr_t a = addr; a < addr + len; a += PAGE) {
            __asm__ volatile ("invlpg (%0)" : : "r" (a) : "memory");
        }
        return;
    }
    uint64_t cr3;
    __asm__ volatile ("mov %%cr3, %0; mov %0, %%cr3" : "=r" (cr3) : : "memory");
}

// Every page-table update runs with interrupts off, so that nothing else
// runs meanwhile. Once the tables are read-only even to ring 0 (CR0.WP),
// that is lifted for the few stores of one update. Not before: under QEMU's
// TCG each change of CR0.WP flushes the whole TLB, and the boot makes a
// dozen updates before sealing.
static uint64_t tables_write_begin(void) {
    uint64_t flags = pvboot_irq_save();
    if (tables_readonly) {
        uint64_t cr0;
        __asm__ volatile ("mov %%cr0, %0" : "=r" (cr0));
        __asm__ volatile ("mov %0, %%cr0" : : "r" (cr0 & ~CR0_WP) : "memory");
    }
    return flags;
}

// [addr, addr + len) changed; len 0: anything may have.
static void tables_write_end(uint64_t flags, uintptr_t addr, size_t len) {
    if (tables_readonly) {
        uint64_t cr0;
        __asm__ volatile ("mov %%cr0, %0" : "=r" (cr0));
        __asm__ volatile ("mov %0, %%cr0" : : "r" (cr0 | CR0_WP) : "memory");
    }
    flush_tlb(addr, len);
    pvboot_irq_restore(flags);
}

static uint64_t *page_table_new(void) {
    uint64_t *pt = NULL;
    if (page_table_pool_used < PAGE_TABLE_POOL) {
        pt = page_table_pool[page_table_pool_used++];
    } else if (!tables_sealed && page_tables_count < PAGE_TABLES_MAX) {
        // Not zeroed: page_table_for() writes every entry. NULL once the
        // heap is claimed.
        pt = pvboot_page_table_take();
    }
    if (pt != NULL) {
        page_tables[page_tables_count++] = pt;
    }
    return pt;
}

// The 4 KiB entries of the 2 MiB page holding addr: a large page is split
// into 512 small ones with the same attributes, an absent one gets an
// empty table. NULL when no page table is left.
static uint64_t *page_table_for(uintptr_t addr) {
    uint64_t *pde = &boot_pd[addr >> 21];
    if ((*pde & PVBOOT_PTE_PRESENT) && !(*pde & PTE_LARGE)) {
        return (uint64_t *)(uintptr_t)(*pde & ADDR_MASK);
    }
    uint64_t *pt = page_table_new();
    if (pt == NULL) {
        return NULL;
    }
    if (*pde & PVBOOT_PTE_PRESENT) {
        uint64_t base = *pde & ADDR_MASK & ~(LARGE_PAGE - 1);
        // The same permissions and caching; the large-page bit goes (bit 7
        // is PAT in a 4 KiB entry, and PAT stays 0 as in the 2 MiB page).
        uint64_t attrs = *pde & ~ADDR_MASK & ~PTE_LARGE;
        for (unsigned i = 0; i < 512; i++) {
            pt[i] = (base + i * PAGE) | attrs;
        }
    } else {
        for (unsigned i = 0; i < 512; i++) {
            pt[i] = 0;
        }
    }
    *pde = (uint64_t)(uintptr_t)pt | PDE_TABLE;
    return pt;
}

// pvboot_pages_update() inside a write window the caller opened.
static int pages_update_within(uintptr_t addr, size_t len, uint64_t set, uint64_t clear) {
    for (uintptr_t a = addr; a < addr + len; a += PAGE) {
        uint64_t *pt = page_table_for(a);
        if (pt == NULL) {
            return -1;
        }
        uint64_t *pte = &pt[(a >> 12) & 511];
        *pte = (*pte & ~clear) | set;
    }
    return 0;
}

int pvboot_pages_update(uintptr_t addr, size_t len, uint64_t set, uint64_t clear) {
    if (addr % PAGE != 0 || len % PAGE != 0 || addr + len > MAPPED_LIMIT || addr + len < addr) {
        return -1;
    }
    uint64_t flags = tables_write_begin();
    int result = pages_update_within(addr, len, set, clear);
    tables_write_end(flags, addr, len);
    return result;
}

#if PVBOOT_SEAL
static bool firmware_mapped; // pvboot_paging_map_firmware()

// Whether [addr, addr + len) is mapped with exactly these attributes.
static bool pages_have(uintptr_t addr, size_t len, uint64_t attrs) {
    for (uintptr_t a = addr; a < addr + len; a += PAGE) {
        uint64_t pde = boot_pd[a >> 21];
        if (!(pde & PVBOOT_PTE_PRESENT) || (pde & PTE_LARGE)) {
            return false;
        }
        const uint64_t *pt = (const uint64_t *)(uintptr_t)(pde & ADDR_MASK);
        // The CPU sets Accessed and Dirty in an entry it uses: a range a
        // driver has touched since it mapped it is still the same mapping.
        if ((pt[(a >> 12) & 511] & ~(PTE_ACCESSED | PTE_DIRTY)) != (a | attrs)) {
            return false;
        }
    }
    return true;
}

// Map [phys, phys + size) (rounded out to pages) with attrs; after sealing
// only what is mapped so already.
static volatile void *map_range(uint64_t phys, size_t size, uint64_t attrs, const char *what) {
    if (size == 0 || phys >= MAPPED_LIMIT || size > MAPPED_LIMIT - phys) {
        return NULL;
    }
    uintptr_t first = (uintptr_t)(phys & ~(PAGE - 1));
    uintptr_t end = (uintptr_t)((phys + size + PAGE - 1) & ~(PAGE - 1));
    if (pages_have(first, end - first, attrs) || firmware_mapped) {
        return (volatile void *)(uintptr_t)phys;
    }
    if (tables_sealed) {
        pvboot_printf("pvboot: %s %lx+%lx asked for after the page tables were sealed; fix: map it at init\n",
            what, (unsigned long)phys, (unsigned long)size);
        return NULL;
    }
    // One update, one TLB flush, for the whole range.
    uintptr_t failed = 0;
    uint64_t flags = tables_write_begin();
    for (uintptr_t a = first; a < end; a += PAGE) {
        uint64_t *pt = page_table_for(a);
        if (pt == NULL) {
            failed = a;
            break;
        }
        pt[(a >> 12) & 511] = a | attrs;
    }
    tables_write_end(flags, first, end - first);
    if (failed != 0) {
        pvboot_printf("pvboot: no page table left to map %s %lx\n", what, (unsigned long)failed);
        return NULL;
    }
    return (volatile void *)(uintptr_t)phys;
}
#endif

volatile void *pvboot_mmio_map(uint64_t phys, size_t size) {
    #if PVBOOT_SEAL
    return map_range(phys, size, PTE_MMIO, "device memory");
    #else
    // Unsealed: everything below 4 GiB is mapped already; make the 2 MiB
    // pages around the registers uncached.
    if (size == 0 || phys >= MAPPED_LIMIT || size > MAPPED_LIMIT - phys) {
        return NULL;
    }
    for (uint64_t page = phys & ~(LARGE_PAGE - 1); page < phys + size; page += LARGE_PAGE) {
        uint64_t *entry = &boot_pd[page >> 21];
        if (*entry & PTE_LARGE) {
            *entry |= PTE_PWT | PTE_PCD;
            __asm__ volatile ("invlpg (%0)" : : "r" (page) : "memory");
        }
    }
    return (volatile void *)(uintptr_t)phys;
    #endif
}

volatile void *pvboot_shared_map(uint64_t phys, size_t size) {
    #if PVBOOT_SEAL
    return map_range(phys, size, PTE_RW, "shared memory");
    #else
    if (size == 0 || phys >= MAPPED_LIMIT || size > MAPPED_LIMIT - phys) {
        return NULL;
    }
    return (volatile void *)(uintptr_t)phys;
    #endif
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

#if PVBOOT_SEAL

static pvboot_region_t code_arena;

static uintptr_t page_up(uintptr_t a) {
    return (a + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
}

// RAM the sealed map keeps: the map's RAM above 1 MiB, without the image.
static bool in_ram(const pvboot_start_info_t *si, uint64_t start, uint64_t end) {
    if (start < LOW_LIMIT || (start < (uintptr_t)_end && end > (uintptr_t)__image_start)) {
        return false;
    }
    for (size_t i = 0; i < si->memmap_entries; i++) {
        const pvboot_memmap_entry_t *e = &si->memmap[i];
        if (e->type == PVBOOT_MEM_RAM && start >= e->addr && end <= e->addr + e->size) {
            return true;
        }
    }
    return false;
}

// What the sealed map gives the 4 KiB page at a.
static uint64_t page_attrs(const pvboot_start_info_t *si, uintptr_t a) {
    if (a == pvboot_idt_page()) {
        return PTE_RO; // the IDT's own page, complete since pvboot_idt_init
    }
    if (a >= (uintptr_t)__image_start && a < (uintptr_t)__text_end) {
        return PTE_RX;
    }
    if (a >= (uintptr_t)__rodata_start && a < page_up((uintptr_t)__rodata_end)) {
        return PTE_RO;
    }
    if (a >= page_up((uintptr_t)__rodata_end) && a < (uintptr_t)_end) {
        return PTE_RW;
    }
    return in_ram(si, a, a + PAGE) ? PTE_RW : 0;
}

static bool touches_any(const pvboot_start_info_t *si, uint64_t start, uint64_t end) {
    if (start < (uintptr_t)_end && end > (uintptr_t)__image_start) {
        return true;
    }
    for (size_t i = 0; i < si->memmap_entries; i++) {
        const pvboot_memmap_entry_t *e = &si->memmap[i];
        if (e->type == PVBOOT_MEM_RAM && start < e->addr + e->size && end > e->addr && end > LOW_LIMIT) {
            return true;
        }
    }
    return false;
}

void pvboot_paging_seal_layout(const pvboot_start_info_t *si) {
    // Above the last RAM (and the image) nothing stays mapped: those 2 MiB
    // entries are cleared without asking the memory map about each.
    uint64_t top = (uintptr_t)_end;
    for (size_t i = 0; i < si->memmap_entries; i++) {
        const pvboot_memmap_entry_t *e = &si->memmap[i];
        if (e->type == PVBOOT_MEM_RAM && e->addr + e->size > top) {
            top = e->addr + e->size;
        }
    }
    uint64_t flags = tables_write_begin();
    for (unsigned i = 0; i < 4 * 512; i++) {
        uint64_t base = (uint64_t)i << 21, end = base + LARGE_PAGE;
        if (base >= top) {
            boot_pd[i] = 0;
        } else if (in_ram(si, base, end)) {
            boot_pd[i] = base | PTE_RW | PTE_LARGE;
        } else if (!touches_any(si, base, end)) {
            boot_pd[i] = 0;
        } else {
            // The image's page, and RAM that starts or ends inside a 2 MiB page.
            uint64_t *pt = page_table_for((uintptr_t)base);
            if (pt == NULL) {
                // No table: keep the large page as it is (mapped, not sealed).
                pvboot_printf("pvboot: no page table left to seal %lx\n", (unsigned long)base);
                continue;
            }
            for (unsigned j = 0; j < 512; j++) {
                uintptr_t a = (uintptr_t)(base + j * PAGE);
                uint64_t attrs = pvboot_in_stack_guard(a) ? 0 : page_attrs(si, a);
                pt[j] = attrs ? (a | attrs) : 0;
            }
        }
    }
    tables_write_end(flags, 0, 0);
}

// Power-off (acpi.c) reads the firmware's tables in low memory and in
// reserved RAM, and may write a sleep register: the machine is stopping, so
// what is unmapped becomes readable and writable, uncached and never
// executable. Nothing gains execute, nothing read-only becomes writable.
void pvboot_paging_map_firmware(void) {
    uint64_t flags = tables_write_begin();
    for (unsigned i = 0; i < 4 * 512; i++) {
        uint64_t base = (uint64_t)i << 21;
        if (!(boot_pd[i] & PVBOOT_PTE_PRESENT)) {
            boot_pd[i] = base | PTE_MMIO | PTE_LARGE;
        } else if (!(boot_pd[i] & PTE_LARGE)) {
            // A split page: the firmware's tables may sit beside RAM in it.
            uint64_t *pt = (uint64_t *)(uintptr_t)(boot_pd[i] & ADDR_MASK);
            for (unsigned j = 0; j < 512; j++) {
                if (!(pt[j] & PVBOOT_PTE_PRESENT)) {
                    pt[j] = (base + j * PAGE) | PTE_MMIO;
                }
            }
        }
    }
    firmware_mapped = true;
    tables_write_end(flags, 0, 0);
}

// The page tables themselves become read-only; from here on only
// pvboot_code_protect() changes an entry (through tables_write_begin).
// One write window for all of it (CR0.WP lifted once: under TCG each
// change of CR0.WP flushes the whole TLB), one TLB flush at the end.
void pvboot_paging_seal_tables(void) {
    tables_readonly = true;
    uint64_t flags = tables_write_begin();
    pages_update_within((uintptr_t)boot_pml4, PAGE, 0, PVBOOT_PTE_WRITE);
    pages_update_within((uintptr_t)boot_pdpt, PAGE, 0, PVBOOT_PTE_WRITE);
    pages_update_within((uintptr_t)boot_pd, 4 * PAGE, 0, PVBOOT_PTE_WRITE);
    // Making a table's page read-only may split a 2 MiB page, which adds a
    // table to the list: walk it until it stops growing.
    for (unsigned i = 0; i < page_tables_count; i++) {
        pages_update_within((uintptr_t)page_tables[i], PAGE, 0, PVBOOT_PTE_WRITE);
    }
    tables_write_end(flags, 0, 0);
    tables_sealed = true;
}

pvboot_region_t pvboot_code_arena_reserve(size_t bytes) {
    size_t pages = (bytes + PAGE - 1) / PAGE;
    // Not zeroed (up to 1 MiB, the biggest cost of a sealed boot under
    // TCG): the arena only ever runs bytes that native_arena_commit copied
    // in, and until then its pages are read-write and no-execute.
    void *base = code_arena.size == 0 && pages > 0 ? pvboot_page_take(pages) : NULL;
    if (base != NULL) {
        code_arena.addr = (uintptr_t)base;
        code_arena.size = pages * PAGE;
        // Split its 2 MiB pages now, while page tables can still be had.
        pvboot_pages_update(code_arena.addr, code_arena.size, 0, 0);
    }
    return code_arena;
}

int pvboot_code_protect(void *addr, size_t len, bool executable) {
    uintptr_t a = (uintptr_t)addr;
    if (a % PAGE != 0 || len % PAGE != 0 || a < code_arena.addr || a + len > code_arena.addr + code_arena.size) {
        return -1;
    }
    // Never writable and executable at once.
    return executable
        ? pvboot_pages_update(a, len, PVBOOT_PTE_PRESENT, PVBOOT_PTE_WRITE | PVBOOT_PTE_NX)
        : pvboot_pages_update(a, len, PTE_RW, 0);
}

#else // unsealed: the boot map stays; no tables to seal, no arena.

void pvboot_paging_map_firmware(void) {
}

void pvboot_paging_seal_tables(void) {
    tables_readonly = true;
}

pvboot_region_t pvboot_code_arena_reserve(size_t bytes) {
    (void)bytes;
    return (pvboot_region_t) {0, 0};
}

int pvboot_code_protect(void *addr, size_t len, bool executable) {
    (void)addr;
    (void)len;
    (void)executable;
    return -1;
}

#endif
