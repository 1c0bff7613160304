/*
 * virtio-blk: disks through the shared virtio core (virtio-mmio v2 on
 * microvm, modern virtio-pci on q35). Each disk is registered with the
 * block-device layer (modules/block/blockdev.h), which gives Python
 * MicroPython's block-device protocol (blockdev.Disk) and waits for each
 * request; this file only speaks virtio: feature negotiation, capacity and
 * block size from config space, and read, write and FLUSH requests of
 * three descriptors (header, data, status) on one queue.
 */
#include <string.h>

#include "py/mperrno.h"

#include "pvboot_driver.h"
#include "virtio.h"
#include "blockdev.h"

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

#define QUEUE_SIZE (16)
#define PAGE (4096)
// The data of one request goes through these pages (blockdev.c says why).
// 256 KiB: the block cache's readahead window is one request, and a
// sequential littlefs read of 8 MiB took 198 requests with 64 KiB, 58 with
// 256 KiB (the Linux guest in bench/disk.py reads it in 8 requests of 1 MiB).
#define BOUNCE_PAGES (64)
#define BOUNCE_BYTES (BOUNCE_PAGES * PAGE)

typedef struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
} virtio_blk_req_header_t;

typedef struct {
    pyunik_blockdev_t blk;
    virtio_dev_t *dev;
    virtq_t vq;
} disk_t;

static disk_t disks[VIRTIO_BLK_MAX_DISKS];
// Shared by all disks: one request is in flight at a time.
static uint8_t *bounce;
static volatile virtio_blk_req_header_t *req_header;
static volatile uint8_t *req_status;

static void disk_interrupt(void *arg) {
    // Interrupt context: nothing to do; the interrupt ends the CPU's halt
    // and the waiting loop pops the ring.
    (void)arg;
}

static int disk_submit(pyunik_blockdev_t *blk, blockdev_op_t op, uint64_t sector, size_t len) {
    disk_t *disk = blk->priv;
    if (virtio_broken(disk->dev)) {
        blk->dead = true;
        return -MP_EIO;
    }
    uint32_t type = op == BLOCKDEV_READ ? VIRTIO_BLK_T_IN : op == BLOCKDEV_WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_FLUSH;
    req_header->type = type;
    req_header->reserved = 0;
    req_header->sector = op == BLOCKDEV_FLUSH ? 0 : sector;
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
    return 0;
}

static int disk_poll(pyunik_blockdev_t *blk) {
    disk_t *disk = blk->priv;
    uint32_t len;
    if (virtq_pop(&disk->vq, &len) == NULL) {
        if (virtio_broken(disk->dev)) {
            blk->dead = true;
            return -MP_EIO;
        }
        if (!blk->irq || !virtq_enable_interrupts(&disk->vq)) {
            return BLOCKDEV_PENDING;
        }
        // It completed while interrupts were being enabled.
        if (virtq_pop(&disk->vq, &len) == NULL) {
            return BLOCKDEV_PENDING;
        }
    }
    switch (*req_status) {
        case VIRTIO_BLK_S_OK:
            return 0;
        case VIRTIO_BLK_S_UNSUPP:
            return -MP_EOPNOTSUPP;
        default: // IOERR, or anything a device should not answer
            return -MP_EIO;
    }
}

static bool disk_setup(disk_t *disk) {
    virtio_dev_t *dev = disk->dev;
    pyunik_blockdev_t *blk = &disk->blk;
    uint64_t wanted = VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)
        | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX);
    if (virtio_negotiate(dev, wanted) != 0) {
        pvboot_printf("virtio-blk: %s refused the features offered; disk not used\n", virtio_name(dev));
        return false;
    }
    blk->driver = "virtio-blk";
    blk->name = virtio_name(dev);
    blk->priv = disk;
    blk->sectors = virtio_config_read64(dev, VIRTIO_BLK_CFG_CAPACITY);
    blk->sector_size = BLOCKDEV_SECTOR;
    if (virtio_has(dev, VIRTIO_BLK_F_BLK_SIZE)) {
        uint32_t size = virtio_config_read32(dev, VIRTIO_BLK_CFG_BLK_SIZE);
        if (size >= BLOCKDEV_SECTOR && size <= PAGE && (size & (size - 1)) == 0) {
            blk->sector_size = size;
        }
    }
    blk->max_bytes = BOUNCE_BYTES;
    blk->buffer = bounce;
    blk->read_only = virtio_has(dev, VIRTIO_BLK_F_RO);
    blk->can_flush = virtio_has(dev, VIRTIO_BLK_F_FLUSH);
    blk->submit = disk_submit;
    blk->poll = disk_poll;
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
    blk->irq = virtio_irq_attach(dev, disk_interrupt, disk) == 0;
    if (!blk->irq) {
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
        disk_t *disk = &disks[i];
        disk->dev = found[i];
        if (disk_setup(disk)) {
            pyunik_blockdev_register(&disk->blk);
        }
    }
}
