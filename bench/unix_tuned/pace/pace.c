/*
 * pyunik's GC pacing (port/gcpace.c, compiled as is) for the unix port:
 * pace from the start, as pyunik's main() does after mp_init(), and after
 * every collection, as pyunik's gc_collect() does.
 */
#include "py/gc.h"

#include "../../../port/gcpace.c"

void pyunik_paced_gc_init(void *start, void *end);
void pyunik_paced_gc_collect_end(void);

void pyunik_paced_gc_init(void *start, void *end) {
    gc_init(start, end);
    gc_pace_init();
}

void pyunik_paced_gc_collect_end(void) {
    gc_collect_end();
    gc_pace_after_collect();
}
