/* MicroPython includes unistd.h for ssize_t and the SEEK_* constants. */
#ifndef PYUNIK_UNISTD_H
#define PYUNIK_UNISTD_H
typedef long ssize_t;
#define SEEK_SET (0)
#define SEEK_CUR (1)
#define SEEK_END (2)
#endif
