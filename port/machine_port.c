/*
 * The port's part of the machine module. Never compiled on its own: it is
 * included from extmod/modmachine.c via MICROPY_PY_MACHINE_INCLUDEFILE.
 * machine.mem8/16/32 come from extmod and reach what pvboot maps, at its
 * physical address: RAM and the image (a sealed image's code and read-only
 * data refuse writes), and the devices drivers mapped; anything else takes
 * a page fault (port/pvboot/paging.c).
 * machine.Timer is extmod's, on soft timers (softtimer_port.c).
 */
#include "py/mperrno.h"
#include "pvboot.h"

#define MICROPY_PY_MACHINE_EXTRA_GLOBALS \
    { MP_ROM_QSTR(MP_QSTR_Timer), MP_ROM_PTR(&machine_timer_type) }, \

static void mp_machine_idle(void) {
    // Halt until the next interrupt (a timer, a key, a device).
    pvboot_yield(UINT64_MAX);
}

static void mp_machine_reset(void) {
    pvboot_reboot();
}

static mp_int_t mp_machine_reset_cause(void) {
    return 0;
}

// What identifies this machine: a VM has no serial number, so it is the
// CPU's signature (CPUID 1: family/model/stepping, features) and the
// hypervisor's vendor string. Identical VMs share it.
static mp_obj_t mp_machine_unique_id(void) {
    pvboot_cpuid_t cpu = pvboot_cpuid(1, 0);
    pvboot_cpuid_t hv = pvboot_cpuid(0x40000000, 0);
    uint32_t id[5] = { cpu.eax, cpu.ecx, cpu.edx, hv.ebx, hv.ecx };
    return mp_obj_new_bytes((const byte *)id, sizeof(id));
}

static mp_obj_t mp_machine_get_freq(void) {
    return mp_obj_new_int_from_ull(pvboot_clock_cycles_per_second());
}

static void mp_machine_set_freq(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    (void)args;
    mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("a VM's CPU frequency is the host's"));
}

static void mp_machine_lightsleep(size_t n_args, const mp_obj_t *args) {
    if (n_args == 0) {
        pvboot_yield(UINT64_MAX);
    } else {
        mp_hal_delay_ms(mp_obj_get_int(args[0]));
    }
}

static void mp_machine_deepsleep(size_t n_args, const mp_obj_t *args) {
    // Nothing survives a deep sleep of a unikernel: it is a power-off.
    (void)n_args;
    (void)args;
    pvboot_shutdown(0);
}
