/*
 * virtio over MMIO, version 2 (virtio 1.2, 4.2.2), as QEMU's microvm has it.
 *
 * With -M microvm,acpi=off QEMU appends one word per transport to the
 * kernel command line: virtio_mmio.device=512@0xfeb00e00:12 (size, base,
 * interrupt line); pvboot hands them over as the start info's
 * device_words. Without them, the 24 transports QEMU places at
 * 0xfeb00000 + i * 512 (lines 5 + i) are probed by their magic value.
 */
#include <string.h>

#include "virtio.h"

#define REG_MAGIC (0x000)
#define REG_VERSION (0x004)
#define REG_DEVICE_ID (0x008)
#define REG_DEVICE_FEATURES (0x010)
#define REG_DEVICE_FEATURES_SEL (0x014)
#define REG_DRIVER_FEATURES (0x020)
#define REG_DRIVER_FEATURES_SEL (0x024)
#define REG_QUEUE_SEL (0x030)
#define REG_QUEUE_NUM_MAX (0x034)
#define REG_QUEUE_NUM (0x038)
#define REG_QUEUE_READY (0x044)
#define REG_QUEUE_NOTIFY (0x050)
#define REG_INTERRUPT_STATUS (0x060)
#define REG_INTERRUPT_ACK (0x064)
#define REG_STATUS (0x070)
#define REG_QUEUE_DESC (0x080)
#define REG_QUEUE_DRIVER (0x090)
#define REG_QUEUE_DEVICE (0x0a0)
#define REG_CONFIG_GENERATION (0x0fc)
#define REG_CONFIG (0x100)

#define MAGIC (0x74726976) // "virt"
#define MICROVM_BASE (0xfeb00000UL)
#define MICROVM_TRANSPORTS (24)
#define MICROVM_FIRST_IRQ (5)
#define TRANSPORT_SIZE (0x200)

static uint32_t rd(virtio_dev_t *dev, unsigned reg) {
    return pvboot_mmio_read32(dev->mmio, reg);
}

static void wr(virtio_dev_t *dev, unsigned reg, uint32_t v) {
    pvboot_mmio_write32(dev->mmio, reg, v);
}

static uint64_t get_features(virtio_dev_t *dev) {
    wr(dev, REG_DEVICE_FEATURES_SEL, 1);
    uint64_t high = rd(dev, REG_DEVICE_FEATURES);
    wr(dev, REG_DEVICE_FEATURES_SEL, 0);
    return high << 32 | rd(dev, REG_DEVICE_FEATURES);
}

static void set_features(virtio_dev_t *dev, uint64_t features) {
    wr(dev, REG_DRIVER_FEATURES_SEL, 1);
    wr(dev, REG_DRIVER_FEATURES, (uint32_t)(features >> 32));
    wr(dev, REG_DRIVER_FEATURES_SEL, 0);
    wr(dev, REG_DRIVER_FEATURES, (uint32_t)features);
}

static uint8_t get_status(virtio_dev_t *dev) {
    return (uint8_t)rd(dev, REG_STATUS);
}

static void set_status(virtio_dev_t *dev, uint8_t status) {
    wr(dev, REG_STATUS, status);
}

static unsigned queue_max(virtio_dev_t *dev, unsigned index) {
    wr(dev, REG_QUEUE_SEL, index);
    if (rd(dev, REG_QUEUE_READY) != 0) {
        return 0; // already in use
    }
    return rd(dev, REG_QUEUE_NUM_MAX);
}

static void wr64(virtio_dev_t *dev, unsigned reg, uint64_t v) {
    wr(dev, reg, (uint32_t)v);
    wr(dev, reg + 4, (uint32_t)(v >> 32));
}

static int queue_enable(virtio_dev_t *dev, virtq_t *vq) {
    wr(dev, REG_QUEUE_SEL, vq->index);
    wr(dev, REG_QUEUE_NUM, vq->size);
    wr64(dev, REG_QUEUE_DESC, pvboot_dma_addr((const void *)vq->desc));
    wr64(dev, REG_QUEUE_DRIVER, pvboot_dma_addr((const void *)vq->avail));
    wr64(dev, REG_QUEUE_DEVICE, pvboot_dma_addr((const void *)vq->used_header));
    wr(dev, REG_QUEUE_READY, 1);
    vq->notify = (volatile uint8_t *)dev->mmio + REG_QUEUE_NOTIFY;
    return 0;
}

static uint8_t config_generation(virtio_dev_t *dev) {
    return (uint8_t)rd(dev, REG_CONFIG_GENERATION);
}

static volatile void *config_base(virtio_dev_t *dev) {
    return (volatile uint8_t *)dev->mmio + REG_CONFIG;
}

// Acknowledge first, then let the driver look at its rings: a completion
// that lands after the acknowledgement raises the line again.
static void mmio_interrupt(void *arg) {
    virtio_dev_t *dev = arg;
    uint32_t status = rd(dev, REG_INTERRUPT_STATUS);
    wr(dev, REG_INTERRUPT_ACK, status);
    virtio_deliver_interrupt(dev);
}

static int irq_attach(virtio_dev_t *dev) {
    return pvboot_irq_attach(dev->gsi, mmio_interrupt, dev) < 0 ? -1 : 0;
}

// Registers take 32-bit accesses only (QEMU ignores others).
static void notify(virtq_t *vq) {
    pvboot_mmio_write32(vq->notify, 0, vq->index);
}

static const virtio_transport_t mmio_transport = {
    .get_features = get_features,
    .set_features = set_features,
    .get_status = get_status,
    .set_status = set_status,
    .queue_max = queue_max,
    .queue_enable = queue_enable,
    .config_generation = config_generation,
    .config_base = config_base,
    .irq_attach = irq_attach,
    .notify = notify,
};

static void hex(char *out, uint64_t v) {
    const char *digits = "0123456789abcdef";
    char tmp[17];
    int n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v != 0);
    *out++ = '0';
    *out++ = 'x';
    while (n > 0) {
        *out++ = tmp[--n];
    }
    *out = '\0';
}

static void add_transport(uint64_t base, uint64_t size, unsigned gsi) {
    if (size < REG_CONFIG) {
        return;
    }
    volatile void *regs = pvboot_mmio_map(base, (size_t)size);
    if (regs == NULL) {
        pvboot_printf("virtio-mmio: cannot map %lx; ignored\n", (unsigned long)base);
        return;
    }
    if (pvboot_mmio_read32(regs, REG_MAGIC) != MAGIC) {
        return;
    }
    uint32_t device_id = pvboot_mmio_read32(regs, REG_DEVICE_ID);
    if (device_id == 0) {
        return; // an empty transport
    }
    if (pvboot_mmio_read32(regs, REG_VERSION) != 2) {
        pvboot_printf("virtio-mmio@%lx: legacy transport (version 1) not supported; "
            "start QEMU with -global virtio-mmio.force-legacy=false\n", (unsigned long)base);
        return;
    }
    virtio_dev_t *dev = virtio_new_device(&mmio_transport, device_id);
    if (dev == NULL) {
        return;
    }
    dev->mmio = regs;
    dev->gsi = gsi;
    strcpy(dev->name, "virtio-mmio@");
    hex(dev->name + strlen(dev->name), base);
}

// Parses an unsigned number in C syntax (0x.. hex or decimal) with an
// optional K/M suffix; returns the character after it, or NULL.
static const char *parse_number(const char *p, uint64_t *out) {
    uint64_t v = 0;
    int digits = 0;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        for (;; p++, digits++) {
            char c = *p;
            unsigned d;
            if (c >= '0' && c <= '9') {
                d = (unsigned)(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                d = (unsigned)(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                d = (unsigned)(c - 'A' + 10);
            } else {
                break;
            }
            if (v >> 60) {
                return NULL;
            }
            v = v * 16 + d;
        }
    } else {
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (v > UINT64_MAX / 10 - 9) {
                return NULL;
            }
            v = v * 10 + (uint64_t)(*p - '0');
        }
    }
    if (digits == 0) {
        return NULL;
    }
    if (*p == 'K' || *p == 'k') {
        v <<= 10;
        p++;
    } else if (*p == 'M' || *p == 'm') {
        v <<= 20;
        p++;
    }
    *out = v;
    return p;
}

// One "virtio_mmio.device=SIZE@BASE:IRQ" word; false when malformed.
static bool parse_device_word(const char *p, uint64_t *size, uint64_t *base, uint64_t *irq) {
    p = parse_number(p, size);
    if (p == NULL || *p++ != '@') {
        return false;
    }
    p = parse_number(p, base);
    if (p == NULL || *p++ != ':') {
        return false;
    }
    p = parse_number(p, irq);
    return p != NULL && (*p == ' ' || *p == '\0' || *p == ':') && *irq < 256;
}

void virtio_mmio_probe(void) {
    static const char key[] = "virtio_mmio.device=";
    if (pvboot_hypervisor() == PVBOOT_HV_XEN) {
        return; // a PVH domU has no such transports; probing would fault
    }
    const char *line = pvboot_start_info()->device_words;
    bool any_word = false;
    for (const char *p = line; *p != '\0';) {
        while (*p == ' ') {
            p++;
        }
        if (strncmp(p, key, sizeof(key) - 1) == 0) {
            uint64_t size, base, irq;
            any_word = true;
            if (parse_device_word(p + sizeof(key) - 1, &size, &base, &irq)) {
                add_transport(base, size, (unsigned)irq);
            } else {
                pvboot_printf("virtio-mmio: malformed command line word ignored\n");
            }
        }
        while (*p != ' ' && *p != '\0') {
            p++;
        }
    }
    if (any_word || pvboot_pci_read32(0, 0) != 0xffffffff) {
        return; // told where they are, or a PCI machine (no microvm transports)
    }
    // QEMU fills transports from the highest address down: probe them all.
    for (unsigned i = 0; i < MICROVM_TRANSPORTS; i++) {
        add_transport(MICROVM_BASE + i * TRANSPORT_SIZE, TRANSPORT_SIZE, MICROVM_FIRST_IRQ + i);
    }
}
