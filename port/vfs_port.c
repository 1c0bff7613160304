/*
 * The port's hooks for MicroPython's VFS (extmod/vfs*.c; py/builtin.h makes
 * imports search the mounted filesystems): FAT timestamps come from the wall clock, and
 * the ROMFS built into the image (if any) is the segment vfs.rom_ioctl
 * hands to VfsRom.
 */
#include "py/builtin.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "py/runtime.h"
#include "extmod/vfs.h"
#include "shared/timeutils/timeutils.h"

#include "pvboot.h"
#include "romfs_image.h" // generated: the board's (or app's) ROMFS, maybe empty

#if MICROPY_VFS_FAT
// FAT's timestamps: local time in 2-second steps since 1980; pyunik's
// local time is UTC. Without a wall clock, oofatfs' fixed date.
uint32_t get_fattime(void) {
    uint64_t ns = pvboot_wallclock_ns();
    if (ns == 0) {
        return (38u << 25) | (1u << 21) | (1u << 16); // 2018-01-01, as FF_NORTC_*
    }
    timeutils_struct_time_t tm;
    timeutils_seconds_since_epoch_to_struct_time(ns / 1000000000u, &tm);
    return ((uint32_t)(tm.tm_year - 1980) << 25) | ((uint32_t)tm.tm_mon << 21) | ((uint32_t)tm.tm_mday << 16)
           | ((uint32_t)tm.tm_hour << 11) | ((uint32_t)tm.tm_min << 5) | ((uint32_t)tm.tm_sec / 2);
}
#endif

// One segment: the ROMFS image pyunik.build made from the app's romfs
// directory (ROMFS_IMAGE_SIZE 4 is an empty ROMFS, only the header), which
// mp_init() mounts at /rom. It lives in .rodata, so VfsRom reads files in
// place, and imports run bytecode from it without copying it to the heap.
static const MP_DEFINE_MEMORYVIEW_OBJ(romfs_obj, 'B', 0, ROMFS_IMAGE_SIZE, (void *)romfs_image);

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    switch (mp_obj_get_int(args[0])) {
        case MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS:
            return MP_OBJ_NEW_SMALL_INT(1);
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            if (n_args >= 2 && mp_obj_get_int(args[1]) == 0) {
                return MP_OBJ_FROM_PTR(&romfs_obj);
            }
            break;
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}
