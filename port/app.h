#ifndef PYUNIK_APP_H
#define PYUNIK_APP_H

#include <stdbool.h>

// Run the frozen module `name` (e.g. "main.py") as a script. Returns false
// if there is no such frozen module; otherwise sets *status to its exit
// status (sys.exit's value, 0 on a normal end, 1 on an uncaught exception).
bool app_run_frozen(const char *name, int *status);

// Run the file `name` from the mounted filesystems (the current
// directory) as a script; false if there is no such file. As above for
// *status.
bool app_run_file(const char *name, int *status);

// Fill sys.argv from the kernel command line: what follows a lone "--".
void app_set_argv(const char *cmdline);

// The last resort against a Ctrl-C the VM cannot act on (called from the
// console's interrupt handler): a message, then a soft reset - the heap and
// everything on it are dropped, boot.py and main.py run again. Does not
// return.
void app_soft_reset_from_interrupt(void);

// Exit status of an image whose kernel command line is refused (longer than
// PVBOOT_MAX_CMDLINE - 1 bytes, or not UTF-8): a usage error, as argparse's.
#define APP_EXIT_BAD_CMDLINE (2)

#endif
