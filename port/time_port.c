/*
 * The port's part of the time module: time.time() and time.localtime()
 * from pvboot's wall clock (UTC; a unikernel has no time zone). Never
 * compiled on its own: included from extmod/modtime.c via
 * MICROPY_PY_TIME_INCLUDEFILE.
 */
#include "py/mphal.h"
#include "py/obj.h"
#include "py/runtime.h"
#include "shared/timeutils/timeutils.h"

#include "pvboot.h"

// Whole seconds, as MicroPython's bare-metal ports return them (and as
// time.gmtime() takes them); time.time_ns() has the rest.
static mp_obj_t mp_time_time_get(void) {
    return mp_obj_new_int_from_ull(pvboot_wallclock_ns() / 1000000000ULL);
}

static mp_obj_t mp_time_localtime_get(void) {
    timeutils_struct_time_t tm;
    timeutils_seconds_since_epoch_to_struct_time(pvboot_wallclock_ns() / 1000000000ULL, &tm);
    mp_obj_t tuple[8] = {
        mp_obj_new_int(tm.tm_year),
        mp_obj_new_int(tm.tm_mon),
        mp_obj_new_int(tm.tm_mday),
        mp_obj_new_int(tm.tm_hour),
        mp_obj_new_int(tm.tm_min),
        mp_obj_new_int(tm.tm_sec),
        mp_obj_new_int(tm.tm_wday),
        mp_obj_new_int(tm.tm_yday),
    };
    return mp_obj_new_tuple(8, tuple);
}

// time.sleep(seconds), in place of extmod's (MICROPY_PY_TIME_CUSTOM_SLEEP):
// that one cast a negative or huge float to an unsigned millisecond count,
// so time.sleep(-1) slept for ~584 million years. As CPython: a negative
// or NaN length is a ValueError; a length beyond what the clock can count
// sleeps "forever" (until Ctrl-C).
static void mp_time_sleep(mp_obj_t seconds_o) {
    mp_float_t s = mp_obj_get_float(seconds_o);
    if (!(s >= 0)) {
        mp_raise_ValueError(MP_ERROR_TEXT("sleep length must be non-negative"));
    }
    mp_float_t ms = s * 1000;
    mp_hal_delay_ms(ms >= (mp_float_t)UINT64_MAX / 2 ? UINT64_MAX / 2 : (mp_uint_t)ms);
}
