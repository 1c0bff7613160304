/* gcc's limits.h has everything; tell it there is no C library's
 * limits.h underneath to include_next. */
#ifndef PYUNIK_LIMITS_H
#define PYUNIK_LIMITS_H
#define _LIBC_LIMITS_H_
#include_next <limits.h>
#endif
