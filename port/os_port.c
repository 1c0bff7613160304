/*
 * The port's part of the `os` module (included by extmod/modos.c):
 * os.urandom from the CPU's own entropy source.
 *
 * RDSEED gives full-entropy bits, RDRAND the output of a generator seeded
 * from them (pvboot_random_hw, pvboot/entropy.c); both are what a VM gets
 * from its CPU (QEMU's TCG offers them with -cpu max). Without either there
 * is no entropy fit for keys, and os.urandom says so instead of handing out
 * predictable bytes: the timing jitter pvboot falls back to for seeds and
 * the layout is not offered here.
 */
#include "py/runtime.h"
#include "pvboot.h"

static mp_obj_t mp_os_urandom(mp_obj_t num) {
    mp_int_t n = mp_obj_get_int(num);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative length"));
    }
    if (strcmp(pvboot_entropy_source(), "tsc-jitter") == 0) {
        mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("os.urandom: this CPU has no RDRAND or RDSEED (QEMU: -cpu max)"));
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    for (mp_int_t i = 0; i < n; i += 8) {
        uint64_t word;
        if (!pvboot_random_hw(&word)) {
            vstr_clear(&vstr);
            mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("os.urandom: RDRAND/RDSEED gave no entropy"));
        }
        size_t take = (size_t)(n - i) < 8 ? (size_t)(n - i) : 8;
        memcpy(vstr.buf + i, &word, take);
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_urandom_obj, mp_os_urandom);
