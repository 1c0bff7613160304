#ifndef PYUNIK_APP_H
#define PYUNIK_APP_H

#include <stdbool.h>

// Run the frozen module `name` (e.g. "main.py") as a script. Returns false
// if there is no such frozen module; otherwise sets *status to its exit
// status (sys.exit's value, 0 on a normal end, 1 on an uncaught exception).
bool app_run_frozen(const char *name, int *status);

// Fill sys.argv from the kernel command line: what follows a lone "--".
void app_set_argv(const char *cmdline);

#endif
