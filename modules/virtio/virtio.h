/*
 * The virtio core: devices found on every transport the machine has
 * (virtio-mmio version 2 on microvm, modern virtio-pci on q35/pc), the
 * status handshake, and split virtqueues with VIRTIO_F_EVENT_IDX.
 *
 * A driver (virtio-net, virtio-blk ...) does, at board init:
 *
 *   virtio_dev_t *devs[4];
 *   size_t n = virtio_find(VIRTIO_ID_NET, devs, 4);
 *   virtio_negotiate(dev, wanted_features);     // reset .. FEATURES_OK
 *   virtio_queue_init(dev, &rx, 0, 128);        // rings from pvboot pages
 *   virtio_irq_attach(dev, handler, arg);
 *   virtio_driver_ok(dev);
 *
 * and then moves buffers with virtq_add / virtq_kick / virtq_pop.
 *
 * Everything the device writes (used ring indices, ids, lengths) is checked
 * before use; a device that breaks the rules is marked broken (one line on
 * the console) and every later call on it fails, so a bad device can stop
 * its own I/O but never corrupt the guest's memory.
 */
#ifndef PYUNIK_VIRTIO_H
#define PYUNIK_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvboot_driver.h"

// Device types (virtio 1.2, 5).
#define VIRTIO_ID_NET (1)
#define VIRTIO_ID_BLOCK (2)
#define VIRTIO_ID_RNG (4)

// Feature bits shared by all device types (virtio 1.2, 6).
#define VIRTIO_F_RING_EVENT_IDX (29)
#define VIRTIO_F_VERSION_1 (32)

#define VIRTIO_BIT(n) (1ULL << (n))

// Errors, as negative errno values.
#define VIRTIO_ENODEV (19)
#define VIRTIO_ENOSPC (28)
#define VIRTIO_EIO (5)
#define VIRTIO_ENOMEM (12)

typedef struct virtio_dev virtio_dev_t;
typedef struct virtq virtq_t;

// One buffer of a request: the device reads it (driver -> device) or
// writes it (device -> driver). addr is pvboot_dma_addr() of the memory.
typedef struct {
    uint64_t addr;
    uint32_t len;
    bool device_writes;
} virtq_buf_t;

// ---- Devices ------------------------------------------------------------

// Up to max devices of type device_id, on every transport, in a stable
// order (mmio by address, then PCI by bus/device/function). The first call
// discovers; later calls only look. Returns how many were found.
size_t virtio_find(uint32_t device_id, virtio_dev_t **out, size_t max);

// A name for messages: "virtio-mmio@0xfeb00e00" or "virtio-pci@00:02.0".
const char *virtio_name(const virtio_dev_t *dev);

// Reset the device, then ACKNOWLEDGE, DRIVER, offer wanted & what the
// device has (VIRTIO_F_VERSION_1 is required, EVENT_IDX taken when offered)
// and FEATURES_OK. Returns 0, or -VIRTIO_ENODEV when the device refused.
int virtio_negotiate(virtio_dev_t *dev, uint64_t wanted);
// The features both sides agreed on.
uint64_t virtio_features(const virtio_dev_t *dev);
static inline bool virtio_has(const virtio_dev_t *dev, unsigned bit) {
    return (virtio_features(dev) & VIRTIO_BIT(bit)) != 0;
}

// Set up queue `index` with at most `size` entries (a power of two; the
// device's maximum when smaller). Rings come from pvboot_page_alloc.
// Returns 0 or a negative errno.
int virtio_queue_init(virtio_dev_t *dev, virtq_t *vq, unsigned index, unsigned size);

// handler(arg) runs in interrupt context for each of the device's
// interrupts, after the transport acknowledged it. Returns 0, or -1 when
// no interrupt could be routed (the driver must then say so).
int virtio_irq_attach(virtio_dev_t *dev, void (*handler)(void *arg), void *arg);

// DRIVER_OK: the device may start using the queues.
void virtio_driver_ok(virtio_dev_t *dev);

// Device-specific configuration space (virtio-net's MAC, virtio-blk's
// capacity ...), read consistently (config generation re-checked).
uint8_t virtio_config_read8(virtio_dev_t *dev, unsigned off);
uint16_t virtio_config_read16(virtio_dev_t *dev, unsigned off);
uint32_t virtio_config_read32(virtio_dev_t *dev, unsigned off);
uint64_t virtio_config_read64(virtio_dev_t *dev, unsigned off);

// True once the device broke the rules or reported DEVICE_NEEDS_RESET.
bool virtio_broken(const virtio_dev_t *dev);

// ---- Split virtqueues ---------------------------------------------------

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq {
    virtio_dev_t *dev;
    uint16_t index;
    uint16_t size;
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail;          // flags, idx, ring[size], used_event
    volatile uint16_t *used_header;    // flags, idx
    volatile struct virtq_used_elem *used_ring;
    volatile uint16_t *avail_event;    // in the used ring, after its entries
    uint16_t free_head;
    uint16_t num_free;
    uint16_t avail_idx;   // next avail index the driver will publish
    uint16_t kicked_idx;  // avail index at the last notification
    uint16_t last_used;   // next used index the driver will read
    bool event_idx;
    void **tokens;          // per head descriptor, NULL when free
    uint32_t *write_len;    // per head: bytes the device may write
    uint16_t *chain_len;    // per head: descriptors in its chain
    volatile void *notify;  // transport: where to write the queue index
};

// Post one request of n buffers (readable ones first, as the spec wants)
// with an opaque token that virtq_pop gives back. Returns 0, or
// -VIRTIO_ENOSPC when the ring has fewer than n free descriptors.
int virtq_add(virtq_t *vq, const virtq_buf_t *bufs, size_t n, void *token);

// Tell the device about what was added, unless it said it does not need it.
void virtq_kick(virtq_t *vq);

// The token of the next completed request, or NULL when there is none (or
// the device is broken). *len is what the device wrote, checked against
// what the request offered.
void *virtq_pop(virtq_t *vq, uint32_t *len);

// True when a completed request is waiting (a cheap look at the ring).
bool virtq_has_used(const virtq_t *vq);

// Ask for an interrupt at the next completion. Returns true when one has
// already arrived (the caller pops again instead of waiting).
bool virtq_enable_interrupts(virtq_t *vq);
// Ask for no interrupts (completions are collected by polling).
void virtq_disable_interrupts(virtq_t *vq);

// Free descriptors.
static inline unsigned virtq_free(const virtq_t *vq) {
    return vq->num_free;
}

// ---- For the transports (virtio_mmio.c, virtio_pci.c) ---------------------

typedef struct {
    uint64_t (*get_features)(virtio_dev_t *dev);
    void (*set_features)(virtio_dev_t *dev, uint64_t features);
    uint8_t (*get_status)(virtio_dev_t *dev);
    void (*set_status)(virtio_dev_t *dev, uint8_t status);
    // The device's queue size limit (0: no such queue), then the rings.
    unsigned (*queue_max)(virtio_dev_t *dev, unsigned index);
    int (*queue_enable)(virtio_dev_t *dev, virtq_t *vq);
    uint8_t (*config_generation)(virtio_dev_t *dev);
    volatile void *(*config_base)(virtio_dev_t *dev);
    int (*irq_attach)(virtio_dev_t *dev);
    // Tell the device that queue vq has new buffers (vq->notify is where).
    void (*notify)(virtq_t *vq);
} virtio_transport_t;

struct virtio_dev {
    const virtio_transport_t *transport;
    uint32_t device_id;
    uint64_t features;
    bool broken;
    char name[28];
    void (*handler)(void *arg);
    void *handler_arg;
    // virtio-mmio
    volatile void *mmio;
    unsigned gsi;
    // virtio-pci
    uint32_t bdf;
    volatile void *common;
    volatile void *isr;
    volatile void *device_cfg;
    volatile void *notify_base;
    uint32_t notify_multiplier;
    volatile void *msix_table;
};

// Called by the transports' probes.
virtio_dev_t *virtio_new_device(const virtio_transport_t *transport, uint32_t device_id);
void virtio_mark_broken(virtio_dev_t *dev, const char *why);
// The interrupt path: the transport acknowledged, now the driver's handler.
void virtio_deliver_interrupt(virtio_dev_t *dev);

void virtio_mmio_probe(void);
void virtio_pci_probe(void);

#endif // PYUNIK_VIRTIO_H
