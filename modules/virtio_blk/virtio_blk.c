/*
 * virtio-blk: disks through the shared virtio core (virtio-mmio v2 on
 * microvm, modern virtio-pci on q35), exposed to Python as MicroPython's
 * block-device protocol so that VfsLfs2 and VfsFat use them directly:
 *
 *   >>> import virtio_blk, vfs
 *   >>> d = virtio_blk.Disk(0, 4096)   # disk 0, seen in 4 KiB blocks
 *   >>> d.ioctl(4, 0), d.ioctl(5, 0)   # block count, block size
 *   >>> vfs.mount(vfs.VfsLfs2(d, readsize=512, progsize=512), "/")
 *
 * readblocks(block, buf, offset=0) and writeblocks(block, buf, offset=0)
 * move whole 512-byte sectors (block * block_size + offset and len(buf)
 * must be multiples of 512) and return 0 or a negative errno, which the VFS
 * turns into one OSError; ioctl(3) (sync) is a virtio FLUSH. A request is
 * complete when the call returns: the device has answered it.
 *
 * One request at a time (the VFS is synchronous): while the device works
 * the CPU halts until its interrupt (or any other; the console's and the
 * timers' handlers still run), and a device that never answers gives
 * ETIMEDOUT instead of a hang.
 */
#include <string.h>

#include "py/mperrno.h"
#include "py/obj.h"
#include "py/runtime.h"
#include "extmod/vfs.h"

#include "pvboot_driver.h"
#include "virtio.h"

#ifndef VIRTIO_BLK_MAX_DISKS
#define VIRTIO_BLK_MAX_DISKS (4)
#endif

// Feature bits (virtio 1.2, 5.2.3).
#define VIRTIO_BLK_F_SEG_MAX (2)
#define VIRTIO_BLK_F_RO (5)
#define VIRTIO_BLK_F_BLK_SIZE (6)
#define VIRTIO_BLK_F_FLUSH (9)

// Configuration space offsets (5.2.4).
#define VIRTIO_BLK_CFG_CAPACITY (0)  // le64, in 512-byte sectors
#define VIRTIO_BLK_CFG_SEG_MAX (12)  // le32
#define VIRTIO_BLK_CFG_BLK_SIZE (20) // le32

// Request types and status (5.2.6).
#define VIRTIO_BLK_T_IN (0)
#define VIRTIO_BLK_T_OUT (1)
#define VIRTIO_BLK_T_FLUSH (4)
#define VIRTIO_BLK_S_OK (0)
#define VIRTIO_BLK_S_IOERR (1)
#define VIRTIO_BLK_S_UNSUPP (2)
#define STATUS_PENDING (0xff)

#define SECTOR (512)
#define QUEUE_SIZE (16)
#define PAGE (4096)
// The bounce buffer: data goes to and from the device through it. The
// caller's buffer is a bytearray on the GC heap (or a VFS cache there);
// the collector may move nothing, but it may free it while a device still
// writes into it if a request outlived its call (a timeout), and a buffer
// that straddles pages is not known to be physically contiguous. Pages from
// pvboot's allocator have neither problem; a copy of at most 64 KiB costs
// far less than a virtio exit under TCG.
#define BOUNCE_PAGES (16)
#define BOUNCE_BYTES (BOUNCE_PAGES * PAGE)
// A device that has not answered in this long is taken as dead.
#define REQUEST_TIMEOUT_NS (30ULL * 1000000000ULL)

typedef struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
} virtio_blk_req_header_t;

typedef struct {
    virtio_dev_t *dev;
    virtq_t vq;
    uint64_t sectors;    // capacity
    uint32_t blk_size;   // the device's logical block size (512 unless told)
    bool read_only;
    bool can_flush;
    bool dead;           // timed out once: its queue is no longer trusted
    bool irq;            // interrupts arrive (else completion is polled)
    volatile bool completed;
} disk_t;

static disk_t disks[VIRTIO_BLK_MAX_DISKS];
static size_t disk_count;
// Shared by all disks: one request is in flight at a time.
static uint8_t *bounce;
static volatile virtio_blk_req_header_t *req_header;
static volatile uint8_t *req_status;

static void disk_interrupt(void *arg) {
    // Interrupt context: only note it; the waiting loop pops the ring.
    disk_t *disk = arg;
    disk->completed = true;
}

static bool disk_setup(disk_t *disk) {
    virtio_dev_t *dev = disk->dev;
    uint64_t wanted = VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)
        | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX);
    if (virtio_negotiate(dev, wanted) != 0) {
        pvboot_printf("virtio-blk: %s refused the features offered; disk not used\n", virtio_name(dev));
        return false;
    }
    disk->sectors = virtio_config_read64(dev, VIRTIO_BLK_CFG_CAPACITY);
    disk->blk_size = SECTOR;
    if (virtio_has(dev, VIRTIO_BLK_F_BLK_SIZE)) {
        uint32_t size = virtio_config_read32(dev, VIRTIO_BLK_CFG_BLK_SIZE);
        if (size >= SECTOR && size <= PAGE && (size & (size - 1)) == 0) {
            disk->blk_size = size;
        }
    }
    disk->read_only = virtio_has(dev, VIRTIO_BLK_F_RO);
    disk->can_flush = virtio_has(dev, VIRTIO_BLK_F_FLUSH);
    // Three descriptors a request: header, data, status.
    if (virtio_has(dev, VIRTIO_BLK_F_SEG_MAX) && virtio_config_read32(dev, VIRTIO_BLK_CFG_SEG_MAX) < 1) {
        pvboot_printf("virtio-blk: %s takes no data segments; disk not used\n", virtio_name(dev));
        return false;
    }
    int err = virtio_queue_init(dev, &disk->vq, 0, QUEUE_SIZE);
    if (err != 0) {
        pvboot_printf("virtio-blk: %s: no request queue (error %d); disk not used\n", virtio_name(dev), -err);
        return false;
    }
    disk->irq = virtio_irq_attach(dev, disk_interrupt, disk) == 0;
    if (!disk->irq) {
        pvboot_printf("virtio-blk: %s: no interrupt could be routed; completions are polled\n", virtio_name(dev));
    }
    virtio_driver_ok(dev);
    return true;
}

void virtio_blk_init(void) {
    virtio_dev_t *found[VIRTIO_BLK_MAX_DISKS];
    size_t n = virtio_find(VIRTIO_ID_BLOCK, found, VIRTIO_BLK_MAX_DISKS);
    if (n == 0) {
        return;
    }
    // Pages are handed out only while drivers initialise.
    bounce = pvboot_page_alloc(BOUNCE_PAGES + 1);
    if (bounce == NULL) {
        pvboot_printf("virtio-blk: no memory for request buffers (%u KiB); disks not used\n",
            (unsigned)((BOUNCE_PAGES + 1) * PAGE / 1024));
        return;
    }
    req_header = (volatile virtio_blk_req_header_t *)(bounce + BOUNCE_BYTES);
    req_status = (volatile uint8_t *)(bounce + BOUNCE_BYTES + sizeof(virtio_blk_req_header_t));
    for (size_t i = 0; i < n; i++) {
        disk_t *disk = &disks[disk_count];
        disk->dev = found[i];
        if (disk_setup(disk)) {
            disk_count++;
        }
    }
}

// Wait for the one request in flight; returns its status byte, or -errno.
static int disk_wait(disk_t *disk) {
    uint64_t deadline = pvboot_clock_monotonic() + REQUEST_TIMEOUT_NS;
    for (;;) {
        uint32_t len;
        if (virtq_pop(&disk->vq, &len) != NULL) {
            return *req_status;
        }
        if (virtio_broken(disk->dev)) {
            disk->dead = true;
            return -MP_EIO;
        }
        if (pvboot_clock_monotonic() >= deadline) {
            pvboot_printf("virtio-blk: %s did not answer in 30 s; disk no longer used\n", virtio_name(disk->dev));
            disk->dead = true;
            return -MP_ETIMEDOUT;
        }
        if (disk->irq) {
            disk->completed = false;
            if (virtq_enable_interrupts(&disk->vq)) {
                continue; // it completed meanwhile
            }
            // Halts until an interrupt (ours, or any other), or the deadline.
            pvboot_yield(deadline);
        } else {
            pvboot_yield(pvboot_clock_monotonic() + 50000); // poll every 50 us
        }
    }
}

// One request of up to BOUNCE_BYTES: type, first sector, len bytes of the
// bounce buffer. Returns 0 or -errno.
static int disk_request(disk_t *disk, uint32_t type, uint64_t sector, size_t len) {
    if (disk->dead || virtio_broken(disk->dev)) {
        return -MP_EIO;
    }
    req_header->type = type;
    req_header->reserved = 0;
    req_header->sector = sector;
    *req_status = STATUS_PENDING;
    virtq_buf_t bufs[3];
    size_t n = 0;
    bufs[n++] = (virtq_buf_t) { pvboot_dma_addr((const void *)req_header), sizeof(virtio_blk_req_header_t), false };
    if (len > 0) {
        bufs[n++] = (virtq_buf_t) { pvboot_dma_addr(bounce), (uint32_t)len, type == VIRTIO_BLK_T_IN };
    }
    bufs[n++] = (virtq_buf_t) { pvboot_dma_addr((const void *)req_status), 1, true };
    pvboot_mb();
    if (virtq_add(&disk->vq, bufs, n, disk) != 0) {
        return -MP_EIO;
    }
    virtq_kick(&disk->vq);
    int status = disk_wait(disk);
    if (status < 0) {
        return status;
    }
    switch (status) {
        case VIRTIO_BLK_S_OK:
            return 0;
        case VIRTIO_BLK_S_UNSUPP:
            return -MP_EOPNOTSUPP;
        default: // IOERR, or anything a device should not answer
            return -MP_EIO;
    }
}

// ---- Python: virtio_blk.Disk --------------------------------------------

typedef struct {
    mp_obj_base_t base;
    disk_t *disk;
    uint32_t block_size;
} disk_obj_t;

static const mp_obj_type_t virtio_blk_disk_type;

static mp_obj_t disk_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, 2, false);
    mp_int_t index = mp_obj_get_int(args[0]);
    if (index < 0 || (size_t)index >= disk_count) {
        mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("no virtio-blk disk %d (the VM has %d)"), (int)index,
            (int)disk_count);
    }
    disk_t *disk = &disks[index];
    mp_int_t block_size = n_args > 1 ? mp_obj_get_int(args[1]) : (mp_int_t)disk->blk_size;
    if (block_size < (mp_int_t)disk->blk_size || block_size > BOUNCE_BYTES || (block_size & (block_size - 1)) != 0) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("block size %d: give a power of two from %d to %d"),
            (int)block_size, (int)disk->blk_size, BOUNCE_BYTES);
    }
    disk_obj_t *self = mp_obj_malloc(disk_obj_t, type);
    self->disk = disk;
    self->block_size = (uint32_t)block_size;
    return MP_OBJ_FROM_PTR(self);
}

static void disk_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    disk_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "<Disk %s, %lu sectors%s, block size %u>", virtio_name(self->disk->dev),
        (unsigned long)self->disk->sectors, self->disk->read_only ? ", read-only" : "", (unsigned)self->block_size);
}

// Check and locate a transfer: the first sector, or -errno.
static int64_t disk_locate(disk_obj_t *self, mp_int_t block, mp_int_t offset, size_t len) {
    disk_t *disk = self->disk;
    uint32_t unit = disk->blk_size;
    if (block < 0 || offset < 0) {
        return -MP_EINVAL;
    }
    uint64_t start = (uint64_t)block * self->block_size + (uint64_t)offset;
    if (start % unit != 0 || len % unit != 0) {
        return -MP_EINVAL; // only whole device blocks: no read-modify-write
    }
    if (start / SECTOR > disk->sectors || len / SECTOR > disk->sectors - start / SECTOR) {
        return -MP_EINVAL;
    }
    return (int64_t)(start / SECTOR);
}

static mp_obj_t disk_transfer(size_t n_args, const mp_obj_t *args, bool write) {
    disk_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, write ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    mp_int_t offset = n_args > 3 ? mp_obj_get_int(args[3]) : 0;
    int64_t sector = disk_locate(self, mp_obj_get_int(args[1]), offset, buf.len);
    if (sector < 0) {
        return MP_OBJ_NEW_SMALL_INT(sector);
    }
    if (write && self->disk->read_only) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EROFS);
    }
    uint8_t *data = buf.buf;
    size_t left = buf.len;
    while (left > 0) {
        size_t chunk = left < BOUNCE_BYTES ? left : BOUNCE_BYTES;
        if (write) {
            memcpy(bounce, data, chunk);
        }
        int err = disk_request(self->disk, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, (uint64_t)sector, chunk);
        if (err != 0) {
            return MP_OBJ_NEW_SMALL_INT(err);
        }
        if (!write) {
            memcpy(data, bounce, chunk);
        }
        data += chunk;
        left -= chunk;
        sector += chunk / SECTOR;
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}

static mp_obj_t disk_readblocks(size_t n_args, const mp_obj_t *args) {
    return disk_transfer(n_args, args, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(disk_readblocks_obj, 3, 4, disk_readblocks);

static mp_obj_t disk_writeblocks(size_t n_args, const mp_obj_t *args) {
    return disk_transfer(n_args, args, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(disk_writeblocks_obj, 3, 4, disk_writeblocks);

static mp_obj_t disk_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    disk_obj_t *self = MP_OBJ_TO_PTR(self_in);
    (void)arg_in;
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_INIT:
            return MP_OBJ_NEW_SMALL_INT(self->disk->dead ? -MP_EIO : 0);
        case MP_BLOCKDEV_IOCTL_DEINIT:
        case MP_BLOCKDEV_IOCTL_SYNC:
            // What was written reaches the host's disk (not only its cache).
            if (!self->disk->can_flush || self->disk->read_only) {
                return MP_OBJ_NEW_SMALL_INT(0);
            }
            return MP_OBJ_NEW_SMALL_INT(disk_request(self->disk, VIRTIO_BLK_T_FLUSH, 0, 0));
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return mp_obj_new_int_from_ull(self->disk->sectors * SECTOR / self->block_size);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(self->block_size);
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE:
            return MP_OBJ_NEW_SMALL_INT(0); // a disk needs no erase
        default:
            return mp_const_none;
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(disk_ioctl_obj, disk_ioctl);

static const mp_rom_map_elem_t disk_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&disk_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&disk_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&disk_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(disk_locals, disk_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    virtio_blk_disk_type,
    MP_QSTR_Disk,
    MP_TYPE_FLAG_NONE,
    make_new, disk_make_new,
    print, disk_print,
    locals_dict, &disk_locals
    );

// virtio_blk.count(): how many disks the VM has (and work).
static mp_obj_t virtio_blk_count(void) {
    return MP_OBJ_NEW_SMALL_INT(disk_count);
}
static MP_DEFINE_CONST_FUN_OBJ_0(virtio_blk_count_obj, virtio_blk_count);

static const mp_rom_map_elem_t virtio_blk_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_virtio_blk) },
    { MP_ROM_QSTR(MP_QSTR_Disk), MP_ROM_PTR(&virtio_blk_disk_type) },
    { MP_ROM_QSTR(MP_QSTR_count), MP_ROM_PTR(&virtio_blk_count_obj) },
};
static MP_DEFINE_CONST_DICT(virtio_blk_globals, virtio_blk_globals_table);

const mp_obj_module_t virtio_blk_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&virtio_blk_globals,
};

MP_REGISTER_MODULE(MP_QSTR_virtio_blk, virtio_blk_module);
