/*
 * The C library's ways to give up. There is no process to end: the machine
 * shuts down with an exit status.
 */
#include <stdlib.h>

#include "pvboot.h"

void abort(void) {
    pvboot_printf("\nabort() called\n");
    pvboot_shutdown(PVBOOT_EXIT_FAULT);
}

void exit(int status) {
    pvboot_shutdown(status);
}

void __assert_func(const char *file, int line, const char *func, const char *expr) {
    pvboot_printf("\nassertion \"%s\" failed: %s:%d (%s)\n", expr, file, line, func);
    pvboot_shutdown(PVBOOT_EXIT_FAULT);
}
