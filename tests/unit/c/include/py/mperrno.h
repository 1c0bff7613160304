/*
 * The host harnesses' stand-in for MicroPython's py/mperrno.h (which pulls
 * in the port's whole configuration): the errno values a driver returns,
 * with MicroPython's own numbers.
 */
#ifndef HARNESS_MPERRNO_H
#define HARNESS_MPERRNO_H
#define MP_EIO (5)
#define MP_ENODEV (19)
#define MP_EINVAL (22)
#define MP_EOPNOTSUPP (95)
#define MP_ETIMEDOUT (110)
#endif
