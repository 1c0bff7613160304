/*
 * virtio-rng (virtio 1.2, 5.4 "Entropy Device"): the host's entropy
 * (QEMU's rng-random backend reading its /dev/urandom) through the shared
 * virtio core (virtio-mmio v2 on microvm, modern virtio-pci on q35).
 *
 * The device has one queue, "requestq", of buffers it fills with random
 * bytes. This driver keeps one request of at most a page in flight, waits
 * for it with a bound (VIRTIO_RNG_TIMEOUT_MS) and registers itself with
 * pvboot as the entropy device (pvboot_entropy_register), which hands its
 * bytes to os.urandom and to the seeds of random and lwIP when the CPU has
 * no RDSEED/RDRAND (pvboot/entropy.c).
 *
 * What the device writes is checked before use: the core refuses a used
 * entry that names no outstanding request or claims more bytes than the
 * buffer offered (the device is then marked broken, with one line), and
 * only what the device said it wrote, clamped to what the caller asked
 * for, is copied out. A device that does not answer in time is dropped
 * with one line; its request and page stay its own (never reused), so a
 * late answer lands where nothing reads.
 */
#include <string.h>

#include "pvboot_driver.h"
#include "virtio.h"

#ifndef VIRTIO_RNG_TIMEOUT_MS
#define VIRTIO_RNG_TIMEOUT_MS (5000)
#endif

#define QUEUE_SIZE (4)
#define PAGE (4096)
// Without a routed interrupt the ring is looked at this often.
#define POLL_NS (1000000ULL)

typedef struct {
    virtio_dev_t *dev;
    virtq_t vq;
    uint8_t *page;   // the device writes here; one page, never freed
    uint32_t asked;  // bytes of the request in flight, 0 when none is
    bool irq;        // answers interrupt (else they are polled)
    bool dead;       // failed: no more requests
} rng_t;

static rng_t rng;

static void rng_interrupt(void *arg) {
    // Interrupt context: nothing to do; the interrupt ends the CPU's halt
    // and the waiting loop pops the ring.
    (void)arg;
}

// Stop using the device, saying why in one line (once).
static int rng_fail(const char *why) {
    if (!rng.dead) {
        rng.dead = true;
        pvboot_printf("virtio-rng: %s: %s; the device is no longer used\n", virtio_name(rng.dev), why);
    }
    return -1;
}

static int rng_read(void *buf, size_t len) {
    if (rng.dead || virtio_broken(rng.dev)) {
        rng.dead = true;
        return -1;
    }
    if (len == 0) {
        return -1;
    }
    if (len > PAGE) {
        len = PAGE;
    }
    uint64_t deadline = pvboot_clock_monotonic() + (uint64_t)VIRTIO_RNG_TIMEOUT_MS * 1000000ULL;
    for (;;) {
        uint64_t now = pvboot_clock_monotonic();
        if (now >= deadline) {
            rng.dead = true;
            pvboot_printf("virtio-rng: %s: no answer in %u ms; the device is no longer used\n", virtio_name(rng.dev),
                (unsigned)VIRTIO_RNG_TIMEOUT_MS);
            return -1;
        }
        // A request may still be in flight from a call that was left
        // (a soft reset out of its wait): that one is waited for first.
        if (rng.asked == 0) {
            virtq_buf_t b = { pvboot_dma_addr(rng.page), (uint32_t)len, true };
            if (virtq_add(&rng.vq, &b, 1, &rng) != 0) {
                if (virtio_broken(rng.dev)) {
                    rng.dead = true;
                    return -1;
                }
                return rng_fail("its queue took no request");
            }
            rng.asked = (uint32_t)len;
            virtq_kick(&rng.vq);
        }
        uint32_t written;
        if (virtq_pop(&rng.vq, &written) != NULL) {
            // The core checked written <= rng.asked, the bytes offered.
            rng.asked = 0;
            if (written == 0) {
                continue; // nothing this time: ask again, same deadline
            }
            size_t n = written < len ? written : len;
            memcpy(buf, rng.page, n);
            return (int)n;
        }
        if (virtio_broken(rng.dev)) {
            rng.dead = true; // the core said why, in one line
            return -1;
        }
        if (rng.irq && virtq_enable_interrupts(&rng.vq)) {
            continue; // it answered while interrupts were being enabled
        }
        uint64_t wake = rng.irq ? deadline : now + POLL_NS;
        pvboot_yield(wake < deadline ? wake : deadline);
    }
}

static const pvboot_entropy_device_t rng_device = {
    .name = "virtio-rng",
    .read = rng_read,
};

void virtio_rng_init(void) {
    virtio_dev_t *found[1];
    // Boards may carry the plugin without the VM having the device: then
    // os.urandom's own error says what to add, and boot stays quiet.
    if (virtio_find(VIRTIO_ID_RNG, found, 1) == 0) {
        return;
    }
    virtio_dev_t *dev = found[0];
    rng.dev = dev;
    if (virtio_negotiate(dev, 0) != 0) {
        pvboot_printf("virtio-rng: %s refused the features offered; not used\n", virtio_name(dev));
        return;
    }
    // Pages are handed out only while drivers initialise.
    rng.page = pvboot_page_alloc(1);
    if (rng.page == NULL) {
        pvboot_printf("virtio-rng: %s: no page for requests; not used\n", virtio_name(dev));
        return;
    }
    int err = virtio_queue_init(dev, &rng.vq, 0, QUEUE_SIZE);
    if (err != 0) {
        pvboot_printf("virtio-rng: %s: no request queue (error %d); not used\n", virtio_name(dev), -err);
        return;
    }
    rng.irq = virtio_irq_attach(dev, rng_interrupt, &rng) == 0;
    if (!rng.irq) {
        pvboot_printf("virtio-rng: %s: no interrupt could be routed; answers are polled\n", virtio_name(dev));
    }
    virtio_driver_ok(dev);
    if (virtio_broken(dev)) {
        return; // the core said why
    }
    pvboot_entropy_register(&rng_device);
}
