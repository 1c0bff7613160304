/*
 * The port's part of the `os` module (included by extmod/modos.c):
 * os.urandom from the CPU's own entropy source.
 *
 * RDSEED gives full-entropy bits, RDRAND the output of a generator seeded
 * from them; both are what a VM gets from its CPU (QEMU's TCG offers them
 * with -cpu max). Without either there is no entropy to give, and os.urandom
 * says so instead of handing out predictable bytes.
 */
#include "py/runtime.h"
#include "pvboot.h"

#define CPUID_1_ECX_RDRAND (1u << 30)
#define CPUID_7_EBX_RDSEED (1u << 18)
// Intel's guidance: retry a few times before declaring the source broken.
#define URANDOM_RETRIES (10)

static bool rdseed64(uint64_t *out) {
    for (int i = 0; i < URANDOM_RETRIES; i++) {
        uint8_t ok;
        __asm__ volatile ("rdseed %0; setc %1" : "=r" (*out), "=qm" (ok));
        if (ok) {
            return true;
        }
    }
    return false;
}

static bool rdrand64(uint64_t *out) {
    for (int i = 0; i < URANDOM_RETRIES; i++) {
        uint8_t ok;
        __asm__ volatile ("rdrand %0; setc %1" : "=r" (*out), "=qm" (ok));
        if (ok) {
            return true;
        }
    }
    return false;
}

static mp_obj_t mp_os_urandom(mp_obj_t num) {
    mp_int_t n = mp_obj_get_int(num);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative length"));
    }
    bool has_rdrand = pvboot_cpuid(1, 0).ecx & CPUID_1_ECX_RDRAND;
    bool has_rdseed = pvboot_cpuid(0, 0).eax >= 7 && (pvboot_cpuid(7, 0).ebx & CPUID_7_EBX_RDSEED);
    if (!has_rdrand && !has_rdseed) {
        mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("os.urandom: this CPU has no RDRAND or RDSEED (QEMU: -cpu max)"));
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    for (mp_int_t i = 0; i < n; i += 8) {
        uint64_t word;
        // RDSEED first; when it is momentarily drained, RDRAND.
        if (!(has_rdseed && rdseed64(&word)) && !(has_rdrand && rdrand64(&word))) {
            vstr_clear(&vstr);
            mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("os.urandom: RDRAND/RDSEED gave no entropy"));
        }
        size_t take = (size_t)(n - i) < 8 ? (size_t)(n - i) : 8;
        memcpy(vstr.buf + i, &word, take);
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_urandom_obj, mp_os_urandom);
