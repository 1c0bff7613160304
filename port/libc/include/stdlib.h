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
// lwIP's netif_find() parses interface numbers with it.
static inline int atoi(const char *s) {
    int sign = 1, v = 0;
    while (*s == ' ') {
        s++;
    }
    if (*s == '-' || *s == '+') {
        sign = *s++ == '-' ? -1 : 1;
    }
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
    }
    return sign * v;
}
#endif
