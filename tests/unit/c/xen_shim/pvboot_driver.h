/*
 * pvboot's driver header for the host-side Xen ring harness: the real one,
 * except that masking interrupts (cli, which a Linux process may not run)
 * does nothing. Found before port/pvboot/ on the include path.
 */
#ifndef XEN_SHIM_PVBOOT_DRIVER_H
#define XEN_SHIM_PVBOOT_DRIVER_H

#define pvboot_irq_save pvboot_irq_save_in_guest
#define pvboot_irq_restore pvboot_irq_restore_in_guest
#include "../../../../port/pvboot/pvboot_driver.h"
#undef pvboot_irq_save
#undef pvboot_irq_restore

static inline uint64_t pvboot_irq_save(void) {
    return 0;
}

static inline void pvboot_irq_restore(uint64_t flags) {
    (void)flags;
}

#endif
