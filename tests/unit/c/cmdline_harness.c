/*
 * Host-side harness for pvboot_cmdline_option() (port/pvboot/cmdline.c):
 * built as a shared library by tests/unit/test_cmdline_properties.py and
 * driven through ctypes with command lines hypothesis makes up.
 */
#include "pvboot_internal.h"

static pvboot_start_info_t si = { .cmdline = "" };

const pvboot_start_info_t *pvboot_start_info(void) {
    return &si;
}

void harness_set_cmdline(const char *cmdline) {
    si.cmdline = cmdline;
}
