/*
 * The port's part of the `os` module (included by extmod/modos.c):
 * os.urandom from entropy fit for keys.
 *
 * RDSEED gives full-entropy bits, RDRAND the output of a generator seeded
 * from them; both are what a VM gets from its CPU (QEMU's TCG offers them
 * with -cpu max). Where the CPU has neither, an entropy device registered
 * by its driver (virtio-rng, fed by the host's /dev/urandom) serves
 * (pvboot_random_bytes, pvboot/entropy.c). Without any of them there is no
 * entropy fit for keys, and os.urandom says so, naming both fixes, instead
 * of handing out predictable bytes: the timing jitter pvboot falls back to
 * for seeds and the layout is not offered here.
 */
#include "py/runtime.h"
#include "pvboot.h"

static mp_obj_t mp_os_urandom(mp_obj_t num) {
    mp_int_t n = mp_obj_get_int(num);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative length"));
    }
    // Named before the call: a device that fails is dropped by it.
    const char *source = pvboot_entropy_source();
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    int status = pvboot_random_bytes(vstr.buf, (size_t)n);
    if (status == PVBOOT_RANDOM_NONE) {
        vstr_clear(&vstr);
        mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("os.urandom: this CPU has no RDRAND or RDSEED and no "
            "virtio-rng device answers; fix: QEMU -cpu max, or the board's virtio-rng plugin with QEMU "
            "-device virtio-rng-device (microvm) or virtio-rng-pci (q35)"));
    }
    if (status != PVBOOT_RANDOM_OK) {
        vstr_clear(&vstr);
        mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("os.urandom: %s gave no entropy"), source);
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_urandom_obj, mp_os_urandom);
