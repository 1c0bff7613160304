/*
 * GC pacing: collect after an amount of allocation that follows the heap
 * in use, rather than only when the heap is full.
 *
 * Why not "when full" (MicroPython's default): the heap of a VM is tens of
 * MiB, and the allocator's search for a run of free blocks starts at the
 * lowest free block, so every multi-block allocation rescans the garbage
 * left since the last collection - allocation gets slower the longer a
 * program runs between collections (asyncio allocates a generator per
 * await). Why not a small fixed threshold: each collection marks the live
 * objects and sweeps the heap up to the highest block in use, so a program
 * that keeps megabytes alive would spend its time collecting.
 *
 * So, as Go's GOGC=100: after a collection, the next one comes after as
 * much allocation as the heap in use spans (up to its highest live block),
 * and never sooner than GC_PACE_MIN_BYTES. Marking and sweeping then cost
 * a bounded amount per byte allocated, whatever the size of the live set.
 *
 * gc.threshold(n) takes over: once a program sets a threshold (or -1 for
 * "only when full"), pacing leaves it alone until the next soft reset.
 */
#include "py/gc.h"
#include "py/mpstate.h"

#include "gcpace.h"

// Measured with bench/programs/asyncio_tasks.py (128 KiB: Event ping-pong
// 28k round trips/s, 1 MiB: 15k, "only when full": 7.6k; task spawn the
// same within noise).
#define GC_PACE_MIN_BYTES (128 * 1024)

// The threshold pacing set last, in blocks; another value means gc.threshold().
static size_t paced_threshold;

static void gc_pace_set(size_t bytes) {
    paced_threshold = bytes / MICROPY_BYTES_PER_GC_BLOCK;
    MP_STATE_MEM(gc_alloc_threshold) = paced_threshold;
}

void gc_pace_init(void) {
    gc_pace_set(GC_PACE_MIN_BYTES);
}

void gc_pace_after_collect(void) {
    if (MP_STATE_MEM(gc_alloc_threshold) != paced_threshold) {
        return;
    }
    size_t in_use = (MP_STATE_MEM(area).gc_last_used_block + 1) * MICROPY_BYTES_PER_GC_BLOCK;
    gc_pace_set(in_use > GC_PACE_MIN_BYTES ? in_use : GC_PACE_MIN_BYTES);
}
