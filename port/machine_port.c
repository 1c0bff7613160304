/*
 * The port's part of the machine module. Never compiled on its own: it is
 * included from extmod/modmachine.c via MICROPY_PY_MACHINE_INCLUDEFILE.
 * machine.mem8/16/32 come from extmod and reach all physical memory below
 * 4 GiB (identity-mapped); other addresses take a page fault.
 */
#include "pvboot.h"

static void mp_machine_idle(void) {
    mp_hal_wait_event(0);
}

static void mp_machine_reset(void) {
    pvboot_reboot();
}

static mp_int_t mp_machine_reset_cause(void) {
    return 0;
}
