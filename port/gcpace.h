/*
 * When the garbage collector runs: see gcpace.c.
 */
#ifndef PYUNIK_GCPACE_H
#define PYUNIK_GCPACE_H

// At each (soft) boot, after gc_init/mp_init: pacing on, first threshold.
void gc_pace_init(void);

// After each collection: the threshold for the next one.
void gc_pace_after_collect(void);

#endif // PYUNIK_GCPACE_H
