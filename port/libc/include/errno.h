/* Only libm sets errno; MicroPython itself uses its internal errno values
 * (MICROPY_USE_INTERNAL_ERRNO). */
#ifndef PYUNIK_ERRNO_H
#define PYUNIK_ERRNO_H
int *__errno(void);
#define errno (*__errno())
#define EDOM (33)
#define ERANGE (34)
#endif
