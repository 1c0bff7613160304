/*
 * The `rdrand` module: random words from the CPU's RDRAND instruction.
 *
 *   rdrand.available()      True if the CPU has RDRAND (CPUID.1:ECX bit 30)
 *   rdrand.bytes(n)         n random bytes
 *   rdrand.getrandbits(k)   a random int of k bits (k <= 64)
 *
 * RDRAND may fail transiently (CF=0); each word is retried RDRAND_RETRIES
 * times before OSError(EIO) is raised, as Intel's guidance suggests.
 */
#include "py/mperrno.h"
#include "py/objstr.h"
#include "py/runtime.h"

#include "pvboot.h"

#ifndef RDRAND_RETRIES
#define RDRAND_RETRIES (10)
#endif

static bool rdrand_supported(void) {
    return (pvboot_cpuid(1, 0).ecx >> 30) & 1;
}

static uint64_t rdrand_word(void) {
    if (!rdrand_supported()) {
        mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("CPU has no RDRAND (QEMU: -cpu max)"));
    }
    for (int i = 0; i < RDRAND_RETRIES; i++) {
        uint64_t value;
        uint8_t ok;
        __asm__ volatile ("rdrand %0; setc %1" : "=r" (value), "=qm" (ok));
        if (ok) {
            return value;
        }
    }
    mp_raise_OSError(MP_EIO);
}

static mp_obj_t rdrand_available(void) {
    return mp_obj_new_bool(rdrand_supported());
}
static MP_DEFINE_CONST_FUN_OBJ_0(rdrand_available_obj, rdrand_available);

static mp_obj_t rdrand_bytes(mp_obj_t n_in) {
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative length"));
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    for (mp_int_t i = 0; i < n; i += 8) {
        uint64_t word = rdrand_word();
        for (mp_int_t j = i; j < n && j < i + 8; j++) {
            vstr.buf[j] = (char)(word >> (8 * (j - i)));
        }
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(rdrand_bytes_obj, rdrand_bytes);

static mp_obj_t rdrand_getrandbits(mp_obj_t k_in) {
    mp_int_t k = mp_obj_get_int(k_in);
    if (k < 0 || k > 64) {
        mp_raise_ValueError(MP_ERROR_TEXT("bits must be 0..64"));
    }
    uint64_t word = k == 0 ? 0 : rdrand_word() >> (64 - k);
    return mp_obj_new_int_from_ull(word);
}
static MP_DEFINE_CONST_FUN_OBJ_1(rdrand_getrandbits_obj, rdrand_getrandbits);

static const mp_rom_map_elem_t rdrand_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_rdrand) },
    { MP_ROM_QSTR(MP_QSTR_available), MP_ROM_PTR(&rdrand_available_obj) },
    { MP_ROM_QSTR(MP_QSTR_bytes), MP_ROM_PTR(&rdrand_bytes_obj) },
    { MP_ROM_QSTR(MP_QSTR_getrandbits), MP_ROM_PTR(&rdrand_getrandbits_obj) },
};
static MP_DEFINE_CONST_DICT(rdrand_module_globals, rdrand_module_globals_table);

const mp_obj_module_t mp_module_rdrand = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&rdrand_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_rdrand, mp_module_rdrand);
