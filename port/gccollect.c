/*
 * Garbage collection roots: the registers and the one stack.
 */
#include "py/gc.h"
#include "shared/runtime/gchelper.h"
#include "shared/runtime/softtimer.h"

#include "gcpace.h"

void gc_collect(void) {
    gc_collect_start();
    gc_helper_collect_regs_and_stack();
    // Active machine.Timer objects are reachable only from the timer heap.
    soft_timer_gc_mark_all();
    gc_collect_end();
    gc_pace_after_collect();
}
