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

pvboot_region_t pvboot_heap_claim(void) {
    // The last page tables may come from here: seal them before closing.
    pvboot_paging_seal_tables();
    heap_claimed = true;
    // The base moves by a random amount on every boot (layout.c).
    return pvboot_layout_heap(pvboot_start_info_mut()->heap);
}
