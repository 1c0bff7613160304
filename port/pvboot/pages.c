/*
 * Pages for device rings and buffers, taken from the top of the RAM region
 * that would otherwise all become the port's heap. Drivers take them while
 * they initialise; then the port claims what is left, and from that moment
 * no more pages are handed out, so device memory and the garbage-collected
 * heap can never overlap.
 */
#include "pvboot_internal.h"

#define PAGE_SIZE (4096)

static bool heap_claimed;
// Free RAM that never becomes heap: the random gap layout.c leaves below the
// main stack's guard page (pvboot_pages_spare). Page tables come from its
// low end first. Why not from the top, like device pages: the gap starts
// where the image ends, in RAM the boot has touched already. Under QEMU
// guest RAM is backed by transparent huge pages, so the first touch of a
// 2 MiB span of it costs the host a 2 MiB clear; a page table at the top of
// RAM was a sealed boot's one extra span (6 MiB of guest RAM resident at the
// prompt against the unsealed image's 4), 1-3 ms of host CPU per boot when
// measured on the shared 2-core host (of ~36-47 ms to the prompt).
static pvboot_region_t spare;

void *pvboot_page_take(size_t npages) {
    pvboot_start_info_t *si = pvboot_start_info_mut();
    if (heap_claimed || npages == 0 || npages > si->heap.size / PAGE_SIZE) {
        return NULL;
    }
    si->heap.size -= npages * PAGE_SIZE;
    return (void *)(si->heap.addr + si->heap.size);
}

void *pvboot_page_alloc(size_t npages) {
    uint64_t *pages = pvboot_page_take(npages);
    if (pages != NULL) {
        // Eight bytes a store: the compiler's inline memset here was
        // `rep stosb`, which QEMU's TCG runs one byte per iteration (9 ms
        // for the 1 MiB native arena, a third of the boot).
        size_t words = npages * PAGE_SIZE / 8;
        uint64_t *p = pages;
        __asm__ volatile ("rep stosq" : "+D" (p), "+c" (words) : "a" (0ULL) : "memory");
    }
    return pages;
}

void pvboot_pages_spare(uintptr_t addr, size_t size) {
    spare.addr = addr;
    spare.size = size & ~(size_t)(PAGE_SIZE - 1);
}

void *pvboot_page_table_take(void) {
    if (spare.size >= PAGE_SIZE) {
        void *page = (void *)spare.addr;
        spare.addr += PAGE_SIZE;
        spare.size -= PAGE_SIZE;
        return page;
    }
    return pvboot_page_take(1);
}

pvboot_region_t pvboot_heap_claim(void) {
    // The last page tables may come from here: seal them before closing.
    pvboot_paging_seal_tables();
    heap_claimed = true;
    // The base moves by a random amount on every boot (layout.c).
    return pvboot_layout_heap(pvboot_start_info_mut()->heap);
}
