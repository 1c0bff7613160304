/*
 * The port's part of the time module: time.time() and time.localtime()
 * from pvboot's wall clock (UTC; a unikernel has no time zone). Never
 * compiled on its own: included from extmod/modtime.c via
 * MICROPY_PY_TIME_INCLUDEFILE.
 */
#include "py/obj.h"
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
