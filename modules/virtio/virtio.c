/*
 * The transport-independent half of a virtio device: discovery over all
 * transports, the status handshake, feature negotiation, queue set-up and
 * configuration space reads (virtio 1.2, 3.1 "Device Initialization").
 */
#include <string.h>

#include "virtio.h"

// Device status bits (virtio 1.2, 2.1).
#define STATUS_ACKNOWLEDGE (1)
#define STATUS_DRIVER (2)
#define STATUS_DRIVER_OK (4)
#define STATUS_FEATURES_OK (8)
#define STATUS_NEEDS_RESET (64)
#define STATUS_FAILED (128)

#define MAX_DEVICES (16)

static virtio_dev_t devices[MAX_DEVICES];
static size_t device_count;
static bool probed;

virtio_dev_t *virtio_new_device(const virtio_transport_t *transport, uint32_t device_id) {
    if (device_count == MAX_DEVICES) {
        pvboot_printf("virtio: more than %d devices; the rest are ignored\n", MAX_DEVICES);
        return NULL;
    }
    virtio_dev_t *dev = &devices[device_count++];
    memset(dev, 0, sizeof(*dev));
    dev->transport = transport;
    dev->device_id = device_id;
    return dev;
}

size_t virtio_find(uint32_t device_id, virtio_dev_t **out, size_t max) {
    if (!probed) {
        probed = true;
        virtio_mmio_probe();
        virtio_pci_probe();
    }
    size_t n = 0;
    for (size_t i = 0; i < device_count && n < max; i++) {
        if (devices[i].device_id == device_id) {
            out[n++] = &devices[i];
        }
    }
    return n;
}

const char *virtio_name(const virtio_dev_t *dev) {
    return dev->name;
}

void virtio_mark_broken(virtio_dev_t *dev, const char *why) {
    if (!dev->broken) {
        dev->broken = true;
        pvboot_printf("%s: %s; the device is no longer used\n", dev->name, why);
    }
}

bool virtio_broken(const virtio_dev_t *dev) {
    return dev->broken;
}

uint64_t virtio_features(const virtio_dev_t *dev) {
    return dev->features;
}

int virtio_negotiate(virtio_dev_t *dev, uint64_t wanted) {
    const virtio_transport_t *t = dev->transport;
    t->set_status(dev, 0); // reset
    for (int i = 0; i < 1000 && t->get_status(dev) != 0; i++) {
    }
    t->set_status(dev, STATUS_ACKNOWLEDGE);
    t->set_status(dev, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    uint64_t offered = t->get_features(dev);
    if (!(offered & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
        t->set_status(dev, STATUS_FAILED);
        virtio_mark_broken(dev, "a legacy device (no VIRTIO_F_VERSION_1); give QEMU -global virtio-mmio.force-legacy=false or disable-legacy=on");
        return -VIRTIO_ENODEV;
    }
    wanted |= VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
    dev->features = offered & wanted;
    t->set_features(dev, dev->features);
    t->set_status(dev, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(t->get_status(dev) & STATUS_FEATURES_OK)) {
        t->set_status(dev, STATUS_FAILED);
        virtio_mark_broken(dev, "the device refused the features offered");
        return -VIRTIO_ENODEV;
    }
    return 0;
}

int virtio_queue_init(virtio_dev_t *dev, virtq_t *vq, unsigned index, unsigned size) {
    if (dev->broken) {
        return -VIRTIO_EIO;
    }
    unsigned max = dev->transport->queue_max(dev, index);
    if (max == 0) {
        return -VIRTIO_ENODEV;
    }
    if (size > max) {
        size = max;
    }
    // A power of two, so that free-running 16-bit indices wrap cleanly.
    unsigned pow2 = 1;
    while (pow2 * 2 <= size) {
        pow2 *= 2;
    }
    size = pow2;

    // Descriptor table, available ring and used ring (virtio 1.2, 2.7),
    // then the driver's bookkeeping, each on pages of its own.
    size_t desc_bytes = 16 * size;
    size_t avail_bytes = 2 * (3 + size);
    size_t used_bytes = 6 + 8 * size;
    size_t book_bytes = size * (sizeof(void *) + sizeof(uint32_t) + sizeof(uint16_t));
    void *desc = pvboot_page_alloc((desc_bytes + 4095) / 4096);
    void *avail = pvboot_page_alloc((avail_bytes + 4095) / 4096);
    void *used = pvboot_page_alloc((used_bytes + 4095) / 4096);
    uint8_t *book = pvboot_page_alloc((book_bytes + 4095) / 4096);
    if (desc == NULL || avail == NULL || used == NULL || book == NULL) {
        pvboot_printf("%s: no RAM for a queue of %u entries\n", dev->name, size);
        return -VIRTIO_ENOMEM;
    }
    memset(vq, 0, sizeof(*vq));
    vq->dev = dev;
    vq->index = (uint16_t)index;
    vq->size = (uint16_t)size;
    vq->desc = desc;
    vq->avail = avail;
    vq->used_header = used;
    vq->used_ring = (volatile struct virtq_used_elem *)((uint8_t *)used + 4);
    vq->avail_event = (volatile uint16_t *)((uint8_t *)used + 4 + 8 * size);
    vq->tokens = (void **)book;
    vq->write_len = (uint32_t *)(book + size * sizeof(void *));
    vq->chain_len = (uint16_t *)(book + size * (sizeof(void *) + sizeof(uint32_t)));
    vq->event_idx = virtio_has(dev, VIRTIO_F_RING_EVENT_IDX);
    for (unsigned i = 0; i < size; i++) {
        vq->desc[i].next = (uint16_t)(i + 1);
    }
    vq->free_head = 0;
    vq->num_free = (uint16_t)size;
    return dev->transport->queue_enable(dev, vq);
}

int virtio_irq_attach(virtio_dev_t *dev, void (*handler)(void *arg), void *arg) {
    dev->handler = handler;
    dev->handler_arg = arg;
    return dev->transport->irq_attach(dev);
}

void virtio_deliver_interrupt(virtio_dev_t *dev) {
    if (dev->handler != NULL) {
        dev->handler(dev->handler_arg);
    }
}

void virtio_driver_ok(virtio_dev_t *dev) {
    const virtio_transport_t *t = dev->transport;
    t->set_status(dev, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    if (t->get_status(dev) & (STATUS_NEEDS_RESET | STATUS_FAILED)) {
        virtio_mark_broken(dev, "the device needs a reset after DRIVER_OK");
    }
}

// Configuration space reads retry until the generation counter is stable,
// so a multi-byte field is never half old, half new (virtio 1.2, 2.5.1).
static uint64_t config_read(virtio_dev_t *dev, unsigned off, unsigned width) {
    volatile void *base = dev->transport->config_base(dev);
    if (base == NULL) {
        return 0;
    }
    uint64_t v;
    uint8_t before, after;
    do {
        before = dev->transport->config_generation(dev);
        switch (width) {
            case 1:
                v = pvboot_mmio_read8(base, off);
                break;
            case 2:
                v = pvboot_mmio_read16(base, off);
                break;
            case 4:
                v = pvboot_mmio_read32(base, off);
                break;
            default:
                v = pvboot_mmio_read32(base, off) | (uint64_t)pvboot_mmio_read32(base, off + 4) << 32;
                break;
        }
        after = dev->transport->config_generation(dev);
    } while (before != after);
    return v;
}

uint8_t virtio_config_read8(virtio_dev_t *dev, unsigned off) {
    return (uint8_t)config_read(dev, off, 1);
}

uint16_t virtio_config_read16(virtio_dev_t *dev, unsigned off) {
    return (uint16_t)config_read(dev, off, 2);
}

uint32_t virtio_config_read32(virtio_dev_t *dev, unsigned off) {
    return (uint32_t)config_read(dev, off, 4);
}

uint64_t virtio_config_read64(virtio_dev_t *dev, unsigned off) {
    return config_read(dev, off, 8);
}
