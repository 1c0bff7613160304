/*
 * The block-device layer (see blockdev.h) and its Python face:
 *
 *   >>> import blockdev, vfs
 *   >>> blockdev.count()                  # disks of every driver, in init order
 *   >>> d = blockdev.Disk(0, 4096)        # disk 0, seen in 4 KiB blocks
 *   >>> d.ioctl(4, 0), d.ioctl(5, 0)      # block count, block size
 *   >>> vfs.mount(vfs.VfsLfs2(d, readsize=512, progsize=512), "/")
 *
 * readblocks(block, buf, offset=0) and writeblocks(block, buf, offset=0)
 * move whole device blocks (block * block_size + offset and len(buf) must be
 * multiples of the device's sector size) and return 0 or a negative errno,
 * which the VFS turns into one OSError; ioctl(3) (sync) and ioctl(2)
 * (deinit) are the device's flush. A call returns when the device has
 * answered: a write that returned 0 is on the device.
 *
 * Data goes through the driver's page-allocator buffer, never straight to
 * the caller's buffer: that one is on the GC heap, may be freed while a
 * device still writes into it after a timeout, and is not known to be
 * physically contiguous. A copy of one request's data (virtio-blk: at most
 * 256 KiB) costs far less than one exit to the device model under TCG.
 */
#include <string.h>

#include "py/mperrno.h"
#include "py/obj.h"
#include "py/runtime.h"
#include "extmod/vfs.h"

#include "pvboot_driver.h"
#include "devpoll.h"
#include "blockdev.h"
#include "blockcache.h"

#ifndef BLOCKDEV_MAX_DISKS
#define BLOCKDEV_MAX_DISKS (16)
#endif

// A device that has not answered in this long is taken as dead.
#define REQUEST_TIMEOUT_NS (30ULL * 1000000000ULL)
// Without a completion interrupt, how often the device is looked at.
#define POLL_INTERVAL_NS (50000ULL)

static pyunik_blockdev_t *disks[BLOCKDEV_MAX_DISKS];
static size_t disk_count;
pyunik_blockdev_stats_t pyunik_blockdev_stats;

void pyunik_blockdev_register(pyunik_blockdev_t *dev) {
    if (disk_count == BLOCKDEV_MAX_DISKS) {
        pvboot_printf("%s %s: more than %d disks; this one is not used\n", dev->driver, dev->name,
            BLOCKDEV_MAX_DISKS);
        return;
    }
    disks[disk_count++] = dev;
    pyunik_blockcache_init(); // drivers register at board init: pages can still be had
}

size_t pyunik_blockdev_count(void) {
    return disk_count;
}

int pyunik_blockdev_request(pyunik_blockdev_t *dev, blockdev_op_t op, uint64_t sector, size_t len) {
    if (dev->dead) {
        return -MP_EIO;
    }
    pyunik_blockdev_stats.requests++;
    int err = dev->submit(dev, op, sector, len);
    if (err != 0) {
        return err;
    }
    uint64_t deadline = pvboot_clock_monotonic() + REQUEST_TIMEOUT_NS;
    for (;;) {
        int result = dev->poll(dev);
        if (result != BLOCKDEV_PENDING) {
            return result;
        }
        uint64_t now = pvboot_clock_monotonic();
        if (now >= deadline) {
            pvboot_printf("%s %s: no answer in 30 s; disk no longer used\n", dev->driver, dev->name);
            dev->dead = true;
            return -MP_ETIMEDOUT;
        }
        // The other devices' work while this one works: frames into lwIP,
        // its due timers (a TCP peer gets its ACKs, ping its replies). Only
        // C: Python callbacks this schedules run after the request.
        pyunik_devpoll_run();
        pyunik_blockdev_stats.polls_while_waiting++;
        uint64_t wake = dev->irq ? deadline : now + POLL_INTERVAL_NS;
        uint64_t device = pyunik_devpoll_deadline();
        // Halts until the completion interrupt (or any other: a frame's,
        // the console's), lwIP's next timer, or the deadline.
        pvboot_yield(device < wake ? device : wake);
    }
}

// ---- Python: blockdev.Disk -----------------------------------------------

typedef struct {
    mp_obj_base_t base;
    pyunik_blockdev_t *dev;
    uint32_t block_size;
} disk_obj_t;

static mp_obj_t disk_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, 2, false);
    mp_int_t index = mp_obj_get_int(args[0]);
    if (index < 0 || (size_t)index >= disk_count) {
        mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("no disk %d (the VM has %d)"), (int)index,
            (int)disk_count);
    }
    pyunik_blockdev_t *dev = disks[index];
    mp_int_t block_size = n_args > 1 ? mp_obj_get_int(args[1]) : (mp_int_t)dev->sector_size;
    if (block_size < (mp_int_t)dev->sector_size || block_size > (mp_int_t)dev->max_bytes
        || (block_size & (block_size - 1)) != 0) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("block size %d: give a power of two from %d to %d"),
            (int)block_size, (int)dev->sector_size, (int)dev->max_bytes);
    }
    disk_obj_t *self = mp_obj_malloc(disk_obj_t, type);
    self->dev = dev;
    self->block_size = (uint32_t)block_size;
    return MP_OBJ_FROM_PTR(self);
}

static void disk_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    disk_obj_t *self = MP_OBJ_TO_PTR(self_in);
    pyunik_blockdev_t *dev = self->dev;
    mp_printf(print, "<Disk %s %s, %lu sectors%s, block size %u>", dev->driver, dev->name,
        (unsigned long)dev->sectors, dev->read_only ? ", read-only" : "", (unsigned)self->block_size);
}

// Check and locate a transfer: its first 512-byte sector, or -errno.
static int64_t disk_locate(disk_obj_t *self, mp_int_t block, mp_int_t offset, size_t len) {
    pyunik_blockdev_t *dev = self->dev;
    if (block < 0 || offset < 0) {
        return -MP_EINVAL;
    }
    uint64_t start = (uint64_t)block * self->block_size + (uint64_t)offset;
    if (start % dev->sector_size != 0 || len % dev->sector_size != 0) {
        return -MP_EINVAL; // only whole device blocks: no read-modify-write
    }
    uint64_t first = start / BLOCKDEV_SECTOR;
    if (first > dev->sectors || len / BLOCKDEV_SECTOR > dev->sectors - first) {
        return -MP_EINVAL;
    }
    return (int64_t)first;
}

// readblocks / writeblocks: 0 or -errno.
static int disk_transfer(disk_obj_t *self, mp_int_t block, mp_int_t offset, uint8_t *data, size_t len, bool write) {
    pyunik_blockdev_t *dev = self->dev;
    int64_t sector = disk_locate(self, block, offset, len);
    if (sector < 0) {
        return (int)sector;
    }
    if (write && dev->read_only) {
        return -MP_EROFS;
    }
    size_t left = len;
    uint64_t at = (uint64_t)sector;
    while (left > 0) {
        size_t chunk = left < dev->max_bytes ? left : dev->max_bytes;
        int err;
        if (write) {
            pyunik_blockdev_copy(dev->buffer, data, chunk);
            err = pyunik_blockdev_request(dev, BLOCKDEV_WRITE, at, chunk);
            if (err != 0) {
                pyunik_blockcache_forget(dev, at, chunk);
                return err;
            }
            // Completed on the device: only now may a read see it.
            pyunik_blockcache_store(dev, at, dev->buffer, chunk);
        } else if (dev->dead) {
            return -MP_EIO;
        } else if (!pyunik_blockcache_read(dev, at, data, chunk)) {
            // A miss: read whole pages and keep them. A sequential reader
            // (the page before is cached) gets as much as one request moves
            // from its page on: the reads that follow find it. A reader just
            // ahead of such a stream (the page before the max_bytes-aligned
            // window it falls in is cached) gets that window: littlefs walks
            // a file's skip-list to blocks 1, 2, 4, ... ahead of the one it
            // reads, and fetched alone each would be a request of its own.
            // Any other miss reads to the end of the caller's last block, as
            // this Disk sees blocks: littlefs reads a block's skip-list
            // pointers, at its start, then its data.
            uint64_t first = at;
            size_t span = chunk;
            if (pyunik_blockcache_enabled()) {
                uint64_t window = dev->max_bytes / BLOCKDEV_SECTOR;
                uint64_t aligned = at / window * window;
                size_t want = dev->max_bytes;
                first = at / BLOCKCACHE_PAGE_SECTORS * BLOCKCACHE_PAGE_SECTORS;
                if (first > 0 && pyunik_blockcache_has(dev, first - 1)) {
                    // sequential: from its page on
                } else if (aligned > 0 && pyunik_blockcache_has(dev, aligned - 1)) {
                    first = aligned;
                } else {
                    uint64_t end = (at * BLOCKDEV_SECTOR + chunk + self->block_size - 1) / self->block_size
                        * self->block_size;
                    size_t own = (size_t)(end - first * BLOCKDEV_SECTOR);
                    want = (own + BLOCKCACHE_PAGE - 1) / BLOCKCACHE_PAGE * BLOCKCACHE_PAGE;
                    want = want < dev->max_bytes ? want : dev->max_bytes;
                }
                uint64_t room = (dev->sectors - first) * BLOCKDEV_SECTOR;
                span = room < want ? (size_t)room : want;
                span -= span % dev->sector_size;
                size_t reach = span - (size_t)(at - first) * BLOCKDEV_SECTOR;
                if (chunk > reach) {
                    chunk = reach; // the rest comes in the next round
                }
            }
            err = pyunik_blockdev_request(dev, BLOCKDEV_READ, first, span);
            if (err != 0 && span != chunk && !dev->dead) {
                // The readahead may have met a bad sector the caller did not
                // ask for: the asked part alone decides (as Linux does).
                first = at;
                span = chunk;
                err = pyunik_blockdev_request(dev, BLOCKDEV_READ, first, span);
            }
            if (err != 0) {
                return err;
            }
            pyunik_blockdev_copy(data, dev->buffer + (at - first) * BLOCKDEV_SECTOR, chunk);
            pyunik_blockcache_store(dev, first, dev->buffer, span);
        }
        data += chunk;
        left -= chunk;
        at += chunk / BLOCKDEV_SECTOR;
    }
    return 0;
}

// The Python methods: readblocks/writeblocks(block, buf, offset=0).
static mp_obj_t disk_transfer_method(size_t n_args, const mp_obj_t *args, bool write) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, write ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    mp_int_t offset = n_args > 3 ? mp_obj_get_int(args[3]) : 0;
    return MP_OBJ_NEW_SMALL_INT(disk_transfer(MP_OBJ_TO_PTR(args[0]), mp_obj_get_int(args[1]), offset, buf.buf,
        buf.len, write));
}

static mp_obj_t disk_readblocks(size_t n_args, const mp_obj_t *args) {
    return disk_transfer_method(n_args, args, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(disk_readblocks_obj, 3, 4, disk_readblocks);

static mp_obj_t disk_writeblocks(size_t n_args, const mp_obj_t *args) {
    return disk_transfer_method(n_args, args, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(disk_writeblocks_obj, 3, 4, disk_writeblocks);

static mp_obj_t disk_do_ioctl(disk_obj_t *self, uintptr_t op) {
    pyunik_blockdev_t *dev = self->dev;
    switch (op) {
        case MP_BLOCKDEV_IOCTL_INIT:
            return MP_OBJ_NEW_SMALL_INT(dev->dead ? -MP_EIO : 0);
        case MP_BLOCKDEV_IOCTL_DEINIT:
        case MP_BLOCKDEV_IOCTL_SYNC:
            // What was written reaches the backing store (not only a cache).
            if (!dev->can_flush || dev->read_only) {
                return MP_OBJ_NEW_SMALL_INT(0);
            }
            return MP_OBJ_NEW_SMALL_INT(pyunik_blockdev_request(dev, BLOCKDEV_FLUSH, 0, 0));
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return mp_obj_new_int_from_ull(dev->sectors * BLOCKDEV_SECTOR / self->block_size);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(self->block_size);
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE:
            return MP_OBJ_NEW_SMALL_INT(0); // a disk needs no erase
        default:
            return mp_const_none;
    }
}

static mp_obj_t disk_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    (void)arg_in;
    return disk_do_ioctl(MP_OBJ_TO_PTR(self_in), (uintptr_t)mp_obj_get_int(op_in));
}
static MP_DEFINE_CONST_FUN_OBJ_3(disk_ioctl_obj, disk_ioctl);

static const mp_rom_map_elem_t disk_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&disk_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&disk_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&disk_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(disk_locals, disk_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    blockdev_disk_type,
    MP_QSTR_Disk,
    MP_TYPE_FLAG_NONE,
    make_new, disk_make_new,
    print, disk_print,
    locals_dict, &disk_locals
    );

// The same three for the VFS without a Python call (extmod/vfs.h,
// MICROPY_VFS_BLOCKDEV_NATIVE_EXT): littlefs reads a file's skip-list
// pointers a sector at a time, FAT its table, and each method call builds a
// bytearray, looks the method up and boxes its arguments - more guest
// instructions than the copy from the block cache that answers it.
static int disk_native_readblocks(mp_obj_t bdev, size_t block, size_t offset, size_t len, uint8_t *buf) {
    return disk_transfer(MP_OBJ_TO_PTR(bdev), (mp_int_t)block, (mp_int_t)offset, buf, len, false);
}

static int disk_native_writeblocks(mp_obj_t bdev, size_t block, size_t offset, size_t len, const uint8_t *buf) {
    // (a write only reads buf)
    return disk_transfer(MP_OBJ_TO_PTR(bdev), (mp_int_t)block, (mp_int_t)offset, (uint8_t *)buf, len, true);
}

static mp_obj_t disk_native_ioctl(mp_obj_t bdev, uintptr_t cmd, uintptr_t arg) {
    (void)arg;
    return disk_do_ioctl(MP_OBJ_TO_PTR(bdev), cmd);
}

static const mp_vfs_blockdev_native_t disk_native = {
    .readblocks = disk_native_readblocks,
    .writeblocks = disk_native_writeblocks,
    .ioctl = disk_native_ioctl,
};

const mp_vfs_blockdev_native_t *mp_vfs_blockdev_get_native(mp_obj_t bdev) {
    // Exactly a Disk: a Python subclass may override the methods.
    return mp_obj_is_exact_type(bdev, &blockdev_disk_type) ? &disk_native : NULL;
}

// blockdev.count(): how many disks the VM has (and work), of every driver.
static mp_obj_t blockdev_count(void) {
    return MP_OBJ_NEW_SMALL_INT(disk_count);
}
static MP_DEFINE_CONST_FUN_OBJ_0(blockdev_count_obj, blockdev_count);

// blockdev.stats(): (requests, device polls run while waiting for them).
static mp_obj_t blockdev_stats(void) {
    mp_obj_t items[] = {
        mp_obj_new_int_from_ull(pyunik_blockdev_stats.requests),
        mp_obj_new_int_from_ull(pyunik_blockdev_stats.polls_while_waiting),
    };
    return mp_obj_new_tuple(2, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(blockdev_stats_obj, blockdev_stats);

// blockdev.cache(): (pages, transfers served from it, transfers that missed).
static mp_obj_t blockdev_cache(void) {
    mp_obj_t items[] = {
        MP_OBJ_NEW_SMALL_INT(pyunik_blockcache_stats.pages),
        mp_obj_new_int_from_ull(pyunik_blockcache_stats.hits),
        mp_obj_new_int_from_ull(pyunik_blockcache_stats.misses),
    };
    return mp_obj_new_tuple(3, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(blockdev_cache_obj, blockdev_cache);

// blockdev.drop_caches(): the next reads come from the devices (what
// /proc/sys/vm/drop_caches is on Linux; nothing is lost, writes went through).
static mp_obj_t blockdev_drop_caches(void) {
    pyunik_blockcache_drop();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(blockdev_drop_caches_obj, blockdev_drop_caches);

static const mp_rom_map_elem_t blockdev_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_blockdev) },
    { MP_ROM_QSTR(MP_QSTR_Disk), MP_ROM_PTR(&blockdev_disk_type) },
    { MP_ROM_QSTR(MP_QSTR_count), MP_ROM_PTR(&blockdev_count_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&blockdev_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_cache), MP_ROM_PTR(&blockdev_cache_obj) },
    { MP_ROM_QSTR(MP_QSTR_drop_caches), MP_ROM_PTR(&blockdev_drop_caches_obj) },
};
static MP_DEFINE_CONST_DICT(blockdev_globals, blockdev_globals_table);

const mp_obj_module_t blockdev_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&blockdev_globals,
};

MP_REGISTER_MODULE(MP_QSTR_blockdev, blockdev_module);
