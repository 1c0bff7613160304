/* What MicroPython needs of stdlib.h on bare metal. There is no malloc:
 * all dynamic memory is the GC heap. */
#ifndef PYUNIK_STDLIB_H
#define PYUNIK_STDLIB_H
#include <stddef.h>
__attribute__((noreturn)) void abort(void);
__attribute__((noreturn)) void exit(int status);
static inline int abs(int x) {
    return x < 0 ? -x : x;
}
#endif
