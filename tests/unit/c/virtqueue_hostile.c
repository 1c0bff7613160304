/*
 * Host-side harness: the guest's virtqueue code (modules/virtio/virtqueue.c
 * and virtio.c) against a device that breaks the rules. Compiled and run by
 * tests/unit/test_virtqueue.py; prints one line per check and exits non-zero
 * on the first failure.
 *
 * The "device" here is this program writing the used ring directly, as a
 * buggy or hostile backend could: indices running ahead, ids of requests
 * never posted or already returned, lengths beyond what was offered. Each
 * must mark the device broken and return nothing, never touch memory outside
 * the rings, and leave later calls failing cleanly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

// ---- what pvboot and the transports would provide -------------------------

static int messages;

void pvboot_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  guest says: ");
    vprintf(fmt, ap);
    va_end(ap);
    messages++;
}

void *pvboot_page_alloc(size_t npages) {
    void *p = aligned_alloc(4096, npages * 4096);
    memset(p, 0, npages * 4096);
    return p;
}

const pvboot_start_info_t *pvboot_start_info(void) {
    static pvboot_start_info_t si = { .cmdline = "", .device_words = "" };
    return &si;
}

void virtio_mmio_probe(void) {
}

void virtio_pci_probe(void) {
}

static unsigned notifications;
static unsigned fake_queue_max(virtio_dev_t *dev, unsigned index) {
    (void)dev;
    (void)index;
    return 256;
}
static int fake_queue_enable(virtio_dev_t *dev, virtq_t *vq) {
    (void)dev;
    static uint32_t notify_reg;
    vq->notify = &notify_reg;
    return 0;
}
static void fake_notify(virtq_t *vq) {
    (void)vq;
    notifications++;
}
static const virtio_transport_t fake = {
    .queue_max = fake_queue_max,
    .queue_enable = fake_queue_enable,
    .notify = fake_notify,
};

// ---- checks -----------------------------------------------------------------

static int failures;

static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) {
        failures++;
    }
}

static volatile uint16_t *used_idx(virtq_t *vq) {
    return &vq->used_header[1];
}

// The device completes request `id` with `len` bytes at the next used slot.
static void device_completes(virtq_t *vq, uint16_t slot, uint32_t id, uint32_t len) {
    vq->used_ring[slot & (vq->size - 1)].id = id;
    vq->used_ring[slot & (vq->size - 1)].len = len;
}

// A healthy device with a new queue (the core keeps 16 devices at most,
// so one is reused: what a test broke is mended here).
static void fresh(virtio_dev_t **dev, virtq_t *vq, unsigned size) {
    static virtio_dev_t *the_dev;
    if (the_dev == NULL) {
        the_dev = virtio_new_device(&fake, VIRTIO_ID_NET);
    }
    *dev = the_dev;
    (*dev)->broken = false;
    (*dev)->features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
    if (virtio_queue_init(*dev, vq, 0, size) != 0) {
        printf("FAIL queue init\n");
        exit(2);
    }
}

int main(void) {
    static uint8_t buffers[8][2048];
    uint32_t len;
    virtio_dev_t *dev;
    virtq_t vq;

    // A well-behaved round trip first: the harness itself must work.
    fresh(&dev, &vq, 8);
    virtq_buf_t b = { (uintptr_t)buffers[0], 2048, true };
    check(virtq_add(&vq, &b, 1, buffers[0]) == 0, "post a 2 KiB receive buffer");
    virtq_kick(&vq);
    check(notifications == 1, "the first kick notifies");
    device_completes(&vq, 0, 0, 100);
    *used_idx(&vq) = 1;
    check(virtq_pop(&vq, &len) == buffers[0] && len == 100, "a good completion returns its token and length");
    check(virtq_pop(&vq, &len) == NULL, "nothing more to pop");
    check(!virtio_broken(dev) && virtq_free(&vq) == 8, "descriptors back on the free list");

    // Full ring: the ninth request is refused, not written past the table.
    for (int i = 0; i < 8; i++) {
        virtq_buf_t bi = { (uintptr_t)buffers[i], 2048, true };
        virtq_add(&vq, &bi, 1, buffers[i]);
    }
    check(virtq_add(&vq, &b, 1, buffers[0]) == -VIRTIO_ENOSPC, "a full ring says ENOSPC");

    // The used index runs ahead of anything posted.
    fresh(&dev, &vq, 8);
    virtq_add(&vq, &b, 1, buffers[0]);
    *used_idx(&vq) = 200;
    check(virtq_pop(&vq, &len) == NULL && virtio_broken(dev), "used index 200 ahead of 1 posted: broken");
    check(virtq_add(&vq, &b, 1, buffers[0]) == -VIRTIO_EIO, "a broken device takes no more requests");

    // An id outside the ring.
    fresh(&dev, &vq, 8);
    virtq_add(&vq, &b, 1, buffers[0]);
    device_completes(&vq, 0, 60000, 10);
    *used_idx(&vq) = 1;
    check(virtq_pop(&vq, &len) == NULL && virtio_broken(dev), "id 60000 in a ring of 8: broken");

    // An id that was never posted (or was already returned).
    fresh(&dev, &vq, 8);
    virtq_add(&vq, &b, 1, buffers[0]);
    device_completes(&vq, 0, 0, 10);
    device_completes(&vq, 1, 0, 10);
    *used_idx(&vq) = 2;
    check(virtq_pop(&vq, &len) == buffers[0], "first completion of request 0 is fine");
    check(virtq_pop(&vq, &len) == NULL && virtio_broken(dev), "the same request completed twice: broken");

    // A length beyond what the request offered (a 2 KiB buffer said 64 KiB).
    fresh(&dev, &vq, 8);
    virtq_add(&vq, &b, 1, buffers[0]);
    device_completes(&vq, 0, 0, 65536);
    *used_idx(&vq) = 1;
    check(virtq_pop(&vq, &len) == NULL && virtio_broken(dev), "length 65536 for a 2048-byte buffer: broken");

    // A device-readable request (transmit) has no writable bytes at all.
    fresh(&dev, &vq, 8);
    virtq_buf_t tx = { (uintptr_t)buffers[1], 60, false };
    virtq_add(&vq, &tx, 1, buffers[1]);
    device_completes(&vq, 0, 0, 1);
    *used_idx(&vq) = 1;
    check(virtq_pop(&vq, &len) == NULL && virtio_broken(dev), "a write into a read-only request: broken");

    // Random used rings: whatever the device writes, pop returns only
    // tokens that were posted, and never more of them than were posted.
    srand(12345);
    int random_failures = 0;
    for (int round = 0; round < 2000; round++) {
        fresh(&dev, &vq, 8);
        int posted = rand() % 9;
        for (int i = 0; i < posted; i++) {
            virtq_buf_t bi = { (uintptr_t)buffers[i], 2048, true };
            virtq_add(&vq, &bi, 1, buffers[i]);
        }
        for (unsigned s = 0; s < vq.size; s++) {
            device_completes(&vq, (uint16_t)s, (uint32_t)rand() % 12, (uint32_t)rand() % 4096);
        }
        *used_idx(&vq) = (uint16_t)rand();
        int popped = 0;
        void *t;
        while ((t = virtq_pop(&vq, &len)) != NULL && popped < 100) {
            int known = 0;
            for (int i = 0; i < posted; i++) {
                known |= t == buffers[i];
            }
            if (!known || len > 2048) {
                random_failures++;
            }
            popped++;
        }
        if (popped > posted) {
            random_failures++;
        }
    }
    check(random_failures == 0, "2000 random used rings: only posted tokens, never more than posted");

    printf("%d failures, %d guest messages\n", failures, messages);
    return failures != 0;
}
