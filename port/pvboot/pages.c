/*
 * Pages for device rings and buffers, taken from the top of the RAM region
 * that would otherwise all become the port's heap. Drivers take them while
 * they initialise; then the port claims what is left, and from that moment
 * no more pages are handed out, so device memory and the garbage-collected
 * heap can never overlap.
 */
#include <string.h>

#include "pvboot_internal.h"

#define PAGE_SIZE (4096)

static bool heap_claimed;

void *pvboot_page_alloc(size_t npages) {
    pvboot_start_info_t *si = pvboot_start_info_mut();
    if (heap_claimed || npages == 0 || npages > si->heap.size / PAGE_SIZE) {
        return NULL;
    }
    size_t bytes = npages * PAGE_SIZE;
    si->heap.size -= bytes;
    void *pages = (void *)(si->heap.addr + si->heap.size);
    memset(pages, 0, bytes);
    return pages;
}

pvboot_region_t pvboot_heap_claim(void) {
    // The last page tables may come from here: seal them before closing.
    pvboot_paging_seal_tables();
    heap_claimed = true;
    // The base moves by a random amount on every boot (layout.c).
    return pvboot_layout_heap(pvboot_start_info_mut()->heap);
}
