/*
 * The randomised layout: where pvboot_main()'s stack ends and where the
 * port's heap begins differ on every boot, drawn from pvboot_random_boot_u64()
 * (entropy.c), so that an overflow cannot rely on a fixed address. The
 * stack's place is chosen before any driver runs, so an entropy device
 * (virtio-rng) cannot serve it; the heap's base, drawn when the port claims
 * its heap after the drivers' init, takes the same source as the stack, so
 * that one name (info.source: RDSEED, RDRAND or the TSC's jitter) says what
 * the whole layout came from.
 *
 * pyunik maps memory physical = virtual, so a random base costs the RAM
 * below it. The range each is drawn from, SLACK, is 1/16 of the free RAM
 * region, at most 1 MiB: with 16-byte steps that is 16 bits of entropy
 * for each once the region has 16 MiB (the default 32M boards), fewer on
 * smaller VMs (log2(region / 256) bits: 14 at 4 MiB), at an average cost
 * of one SLACK for both together. Below 4 MiB of free RAM nothing is
 * randomised: a VM that small (the least -m budget, ~1.5 MiB) has no RAM
 * to spare for it, and its layout stays as fixed as before.
 *
 *   free RAM:  [ r1 | guard | stack (48 KiB + 4 KiB) | r2 | heap ... | device pages ]
 *                            ^ top = end - (r1 % 4096)       ^ heap base
 *
 * The stack moves off the boot stack (entry.S) into the free region: the
 * boot stack has room for 48 KiB, not for 16 bits of randomness. Its top is
 * r1 below its end (page part: where the guard and stack sit; sub-page part:
 * how far below the end the top starts, so at least 48 KiB stay usable),
 * and an unmapped guard page lies below it as below the boot stack. The
 * gap r1 leaves below the guard is not wasted: page tables come from it
 * (pages.c, pvboot_pages_spare).
 */
#include "pvboot_internal.h"

#define PAGE_SIZE (4096)
#define SLACK_MAX (1024 * 1024)
#define STEP (16)
#define RANDOMISE_MIN (4 * 1024 * 1024)

uintptr_t pvboot_main_stack_guard;
static pvboot_layout_info_t info = { 1, 1, NULL };

const pvboot_layout_info_t *pvboot_layout_info(void) {
    info.source = pvboot_boot_entropy_source();
    return &info;
}

static size_t slack_for(size_t region) {
    if (region < RANDOMISE_MIN) {
        return 0;
    }
    size_t slack = region / 16;
    if (slack > SLACK_MAX) {
        slack = SLACK_MAX;
    }
    return slack & ~(size_t)(STEP - 1);
}

// A multiple of STEP below slack, uniform up to a bias of slack / 2^64.
static size_t random_offset(size_t slack) {
    if (slack < STEP) {
        return 0;
    }
    return (size_t)(pvboot_random_boot_u64() % (slack / STEP)) * STEP;
}

bool pvboot_layout_stack(pvboot_start_info_t *si) {
    size_t stack_size = (size_t)(boot_stack_top - boot_stack_bottom);
    size_t slack = slack_for(si->heap.size);
    if (slack == 0) {
        return false;
    }
    size_t r1 = random_offset(slack);
    size_t page_part = r1 & ~(size_t)(PAGE_SIZE - 1);
    size_t reserve = page_part + PAGE_SIZE + stack_size + PAGE_SIZE;
    // The heap region starts on a page (memmap.c); too small a region
    // keeps the boot stack, and the heap what there is.
    if (si->heap.size < reserve + 64 * 1024) {
        return false;
    }
    pvboot_region_t region = si->heap;
    uintptr_t guard = region.addr + page_part;
    uintptr_t end = guard + PAGE_SIZE + stack_size + PAGE_SIZE;
    // The heap moves above the stack before the guard is unmapped, and the
    // gap below the guard becomes spare pages (pages.c), so that a page
    // table the guard needs comes from the gap, or from the top of the
    // heap region, and never from under the stack.
    si->heap.addr = end;
    si->heap.size -= reserve;
    pvboot_pages_spare(region.addr, page_part);
    if (pvboot_pages_update(guard, PAGE_SIZE, 0, PVBOOT_PTE_PRESENT) != 0) {
        // No page table anywhere (so none was taken): the boot stack stays.
        pvboot_pages_spare(0, 0);
        si->heap = region;
        return false;
    }
    pvboot_main_stack_guard = guard;
    si->stack.addr = guard + PAGE_SIZE;
    si->stack.size = (size_t)(end - (r1 & (PAGE_SIZE - 1))) - si->stack.addr;
    info.stack_positions = slack / STEP;
    return true;
}

// MicroPython's GC puts its allocation table at the start of the region and
// the objects at the end, in 64-byte units counted back from the end: the
// end moves too (by 0-48 bytes), or the objects' base would keep its low
// six bits on every boot.
pvboot_region_t pvboot_layout_heap(pvboot_region_t heap) {
    size_t slack = slack_for(heap.size);
    if (slack < 4 * STEP) {
        return heap;
    }
    size_t r2 = random_offset(slack);
    size_t r3 = random_offset(4 * STEP);
    heap.addr += r2;
    heap.size -= r2 + r3;
    info.heap_positions = slack / STEP;
    return heap;
}
