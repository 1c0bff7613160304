/*
 * The `pvboot` module: what the boot layer knows, for Python.
 *
 *   pvboot.cmdline()      the kernel command line, as the hypervisor gave it
 *   pvboot.hypervisor()   "kvm", "xen", "other" or "none"
 *   pvboot.memmap()       [(addr, size, type), ...] (type 1 is RAM)
 *   pvboot.rodata()       (start, end) of the read-only image section
 *   pvboot.idle_stats()   (halts, interrupts, timer interrupts) since boot
 *   pvboot.layout()       (stack_bottom, stack_top, heap_start, heap_pool,
 *                         heap_end, entropy source, stack_positions,
 *                         heap_positions): where this boot put the C stack
 *                         and the GC heap (its allocation table starts at
 *                         heap_start, objects at heap_pool), what that
 *                         randomness came from ("rdseed", "rdrand" or
 *                         "tsc-jitter": drawn before any driver ran), and
 *                         how many places each was drawn from
 *   pvboot.entropy()      what os.urandom and the seeds of random and lwIP
 *                         draw from now: "rdseed", "rdrand", an entropy
 *                         device ("virtio-rng") or "tsc-jitter" (then
 *                         os.urandom raises OSError)
 *   pvboot.mmio_map(phys, size)
 *                         the address at which device registers
 *                         [phys, phys + size) are reachable (uncached,
 *                         never executable), for a driver written in Python
 *                         that reads them with machine.mem32. A sealed
 *                         image's page tables are read-only once the heap
 *                         is claimed, before any Python runs: only ranges a
 *                         board driver mapped while it initialised are
 *                         given, anything else is an OSError (pvboot says
 *                         which range on the console)
 *
 * `cmdline` (frozen, modules/cmdline) parses the command line on top of it.
 */
#include "py/gc.h"
#include "py/mpstate.h"
#include "py/obj.h"
#include "py/objstr.h"
#include "py/runtime.h"

#include "pvboot.h"
#include "pvboot_driver.h"

extern char __rodata_start[], __rodata_end[];

static mp_obj_t pvboot_hypervisor_name(void) {
    static const qstr names[] = {
        [PVBOOT_HV_NONE] = MP_QSTR_none,
        [PVBOOT_HV_KVM] = MP_QSTR_kvm,
        [PVBOOT_HV_XEN] = MP_QSTR_xen,
        [PVBOOT_HV_OTHER] = MP_QSTR_other,
    };
    return MP_OBJ_NEW_QSTR(names[pvboot_hypervisor()]);
}
static MP_DEFINE_CONST_FUN_OBJ_0(pvboot_hypervisor_obj, pvboot_hypervisor_name);

static mp_obj_t pvboot_memmap(void) {
    const pvboot_start_info_t *si = pvboot_start_info();
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < si->memmap_entries; i++) {
        mp_obj_t entry[3] = {
            mp_obj_new_int_from_ull(si->memmap[i].addr),
            mp_obj_new_int_from_ull(si->memmap[i].size),
            MP_OBJ_NEW_SMALL_INT(si->memmap[i].type),
        };
        mp_obj_list_append(list, mp_obj_new_tuple(3, entry));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_0(pvboot_memmap_obj, pvboot_memmap);

static mp_obj_t pvboot_rodata(void) {
    mp_obj_t range[2] = {
        mp_obj_new_int_from_uint((uintptr_t)__rodata_start),
        mp_obj_new_int_from_uint((uintptr_t)__rodata_end),
    };
    return mp_obj_new_tuple(2, range);
}
static MP_DEFINE_CONST_FUN_OBJ_0(pvboot_rodata_obj, pvboot_rodata);

static mp_obj_t pvboot_cmdline(void) {
    return mp_obj_new_str_from_cstr(pvboot_start_info()->cmdline);
}
static MP_DEFINE_CONST_FUN_OBJ_0(pvboot_cmdline_obj, pvboot_cmdline);

static mp_obj_t pvboot_idle_stats_fn(void) {
    pvboot_idle_stats_t stats;
    pvboot_idle_stats(&stats);
    mp_obj_t items[3] = {
        mp_obj_new_int_from_ull(stats.halts),
        mp_obj_new_int_from_ull(stats.interrupts),
        mp_obj_new_int_from_ull(stats.timer_interrupts),
    };
    return mp_obj_new_tuple(3, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(pvboot_idle_stats_obj, pvboot_idle_stats_fn);

static mp_obj_t pvboot_layout(void) {
    const pvboot_start_info_t *si = pvboot_start_info();
    const mp_state_mem_area_t *area = &MP_STATE_MEM(area);
    const pvboot_layout_info_t *info = pvboot_layout_info();
    mp_obj_t items[8] = {
        mp_obj_new_int_from_uint(si->stack.addr),
        mp_obj_new_int_from_uint(si->stack.addr + si->stack.size),
        mp_obj_new_int_from_uint((uintptr_t)area->gc_alloc_table_start),
        mp_obj_new_int_from_uint((uintptr_t)area->gc_pool_start),
        mp_obj_new_int_from_uint((uintptr_t)area->gc_pool_end),
        mp_obj_new_str_from_cstr(info->source),
        mp_obj_new_int_from_uint(info->stack_positions),
        mp_obj_new_int_from_uint(info->heap_positions),
    };
    return mp_obj_new_tuple(8, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(pvboot_layout_obj, pvboot_layout);

static mp_obj_t pvboot_mmio_map_fn(mp_obj_t phys_in, mp_obj_t size_in) {
    uint64_t phys = mp_obj_int_get_uint_checked(phys_in);
    size_t size = mp_obj_get_int(size_in);
    volatile void *at = pvboot_mmio_map(phys, size);
    if (at == NULL) {
        mp_raise_msg_varg(&mp_type_OSError,
            MP_ERROR_TEXT("cannot map device memory %lx+%lx: only below 4 GiB, and sealed only what drivers mapped at boot"),
            (unsigned long)phys, (unsigned long)size);
    }
    return mp_obj_new_int_from_uint((uintptr_t)at);
}
static MP_DEFINE_CONST_FUN_OBJ_2(pvboot_mmio_map_obj, pvboot_mmio_map_fn);

static mp_obj_t pvboot_entropy(void) {
    return mp_obj_new_str_from_cstr(pvboot_entropy_source());
}
static MP_DEFINE_CONST_FUN_OBJ_0(pvboot_entropy_obj, pvboot_entropy);

static const mp_rom_map_elem_t pvboot_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_entropy), MP_ROM_PTR(&pvboot_entropy_obj) },
    { MP_ROM_QSTR(MP_QSTR_idle_stats), MP_ROM_PTR(&pvboot_idle_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_layout), MP_ROM_PTR(&pvboot_layout_obj) },
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_pvboot) },
    { MP_ROM_QSTR(MP_QSTR_cmdline), MP_ROM_PTR(&pvboot_cmdline_obj) },
    { MP_ROM_QSTR(MP_QSTR_hypervisor), MP_ROM_PTR(&pvboot_hypervisor_obj) },
    { MP_ROM_QSTR(MP_QSTR_memmap), MP_ROM_PTR(&pvboot_memmap_obj) },
    { MP_ROM_QSTR(MP_QSTR_mmio_map), MP_ROM_PTR(&pvboot_mmio_map_obj) },
    { MP_ROM_QSTR(MP_QSTR_rodata), MP_ROM_PTR(&pvboot_rodata_obj) },
};
static MP_DEFINE_CONST_DICT(pvboot_module_globals, pvboot_module_globals_table);

const mp_obj_module_t mp_module_pvboot = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&pvboot_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_pvboot, mp_module_pvboot);
