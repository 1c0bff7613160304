/*
 * The block-device layer shared by the disk drivers (virtio-blk, Xen's
 * blkfront): a driver registers each disk it found with its geometry and
 * two functions (start a request, look whether it completed); this layer
 * gives Python MicroPython's block-device protocol for all of them
 * (blockdev.Disk: readblocks/writeblocks with offsets, ioctl 1-6, sync as
 * the device's flush), splits transfers to what one request takes, waits
 * for completion with a timeout, and keeps the network going meanwhile.
 *
 * One request is in flight at a time per image (the VFS is synchronous).
 */
#ifndef PYUNIK_BLOCKDEV_H
#define PYUNIK_BLOCKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BLOCKDEV_SECTOR (512)
// What a driver's poll() returns while the request is still in flight.
#define BLOCKDEV_PENDING (1)

typedef enum {
    BLOCKDEV_READ,
    BLOCKDEV_WRITE,
    BLOCKDEV_FLUSH,
} blockdev_op_t;

typedef struct pyunik_blockdev pyunik_blockdev_t;

struct pyunik_blockdev {
    const char *driver;    // "virtio-blk", "xen-blkfront": the start of its lines
    const char *name;      // which disk of that driver
    void *priv;            // the driver's own state
    uint64_t sectors;      // capacity in 512-byte sectors
    uint32_t sector_size;  // the device's logical block (512..4096, power of two)
    uint32_t max_bytes;    // the most one request moves (a multiple of sector_size)
    uint8_t *buffer;       // max_bytes of page-allocator memory that data goes through
    bool read_only;
    bool can_flush;        // FLUSH reaches stable storage; without it sync is a no-op
    bool irq;              // completions interrupt: the CPU halts while waiting
    bool dead;             // timed out or broke: no further requests
    // Start one request: len bytes (0 for FLUSH) at 512-byte sector `sector`,
    // from / into `buffer`. Returns 0, or -errno when it could not start.
    int (*submit)(pyunik_blockdev_t *dev, blockdev_op_t op, uint64_t sector, size_t len);
    // Thread context. BLOCKDEV_PENDING while in flight - and then with the
    // completion interrupt armed, so that halting misses nothing - else the
    // request's result: 0 or -errno (-EIO for a device error or a broken ring).
    int (*poll)(pyunik_blockdev_t *dev);
};

// memcpy for the block layer's bulk copies (bounce buffers, cache pages,
// and littlefs's reads straight into a caller's buffer): the port's memcpy
// (MicroPython's shared/libc) moves 4 bytes a loop turn, and every guest
// instruction counts under TCG; this moves 64. x86 loads and stores 8 bytes
// at any alignment, and littlefs's file data lands 4-byte aligned in the
// caller's buffer (a block's data follows its 4-byte skip-list pointers).
typedef uint64_t __attribute__((aligned(1), may_alias)) pyunik_blockdev_word_t;

static inline void pyunik_blockdev_copy(void *dst, const void *src, size_t n) {
    pyunik_blockdev_word_t *d = dst;
    const pyunik_blockdev_word_t *s = src;
    for (; n >= 64; n -= 64, d += 8, s += 8) {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        d[3] = s[3];
        d[4] = s[4];
        d[5] = s[5];
        d[6] = s[6];
        d[7] = s[7];
    }
    memcpy(d, s, n);
}

// At board init, by a driver: the disk becomes blockdev.Disk(count()-1).
void pyunik_blockdev_register(pyunik_blockdev_t *dev);
size_t pyunik_blockdev_count(void);

// One request, start to completion (or 30 s: -ETIMEDOUT, and the disk is
// dead). While it runs, the devices' polls (devpoll.h: network frames into
// lwIP, lwIP's timers) run too, so TCP keeps acknowledging and ping keeps
// answering; Python code does not run (a callback could re-enter the
// filesystem in the middle of this operation).
int pyunik_blockdev_request(pyunik_blockdev_t *dev, blockdev_op_t op, uint64_t sector, size_t len);

// Counters for Python's blockdev.stats(): requests and the device polls
// run while waiting for them.
typedef struct {
    uint64_t requests;
    uint64_t polls_while_waiting;
} pyunik_blockdev_stats_t;
extern pyunik_blockdev_stats_t pyunik_blockdev_stats;

#endif // PYUNIK_BLOCKDEV_H
