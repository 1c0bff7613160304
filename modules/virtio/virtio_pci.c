/*
 * virtio over PCI, modern interface only (virtio 1.2, 4.1): the common,
 * notification, ISR and device configuration structures found through
 * vendor capabilities, in memory BARs; interrupts as MSI-X messages.
 *
 * QEMU's virtio-*-pci devices are transitional by default; the modern part
 * is what this driver uses either way (disable-legacy=on leaves only it).
 */
#include <string.h>

#include "virtio.h"

#define PCI_VENDOR_REDHAT_QUMRANET (0x1af4)
#define PCI_COMMAND (0x04)
#define PCI_COMMAND_MEMORY (1u << 1)
#define PCI_COMMAND_MASTER (1u << 2)
#define PCI_COMMAND_INTX_DISABLE (1u << 10)
#define PCI_STATUS (0x06)
#define PCI_STATUS_CAP_LIST (1u << 4)
#define PCI_SUBSYSTEM_ID (0x2e)
#define PCI_CAPABILITY_LIST (0x34)
#define PCI_CAP_ID_VNDR (0x09)
#define PCI_CAP_ID_MSIX (0x11)

#define CAP_COMMON_CFG (1)
#define CAP_NOTIFY_CFG (2)
#define CAP_ISR_CFG (3)
#define CAP_DEVICE_CFG (4)

// struct virtio_pci_common_cfg
#define COMMON_DFSELECT (0x00)
#define COMMON_DF (0x04)
#define COMMON_GFSELECT (0x08)
#define COMMON_GF (0x0c)
#define COMMON_MSIX (0x10)
#define COMMON_NUMQ (0x12)
#define COMMON_STATUS (0x14)
#define COMMON_CFGGENERATION (0x15)
#define COMMON_Q_SELECT (0x16)
#define COMMON_Q_SIZE (0x18)
#define COMMON_Q_MSIX (0x1a)
#define COMMON_Q_ENABLE (0x1c)
#define COMMON_Q_NOFF (0x1e)
#define COMMON_Q_DESCLO (0x20)
#define COMMON_Q_AVAILLO (0x28)
#define COMMON_Q_USEDLO (0x30)

#define MSIX_NO_VECTOR (0xffff)
#define MSIX_ENABLE (1u << 15)
#define MSIX_ENTRY_SIZE (16)

static uint64_t get_features(virtio_dev_t *dev) {
    pvboot_mmio_write32(dev->common, COMMON_DFSELECT, 1);
    uint64_t high = pvboot_mmio_read32(dev->common, COMMON_DF);
    pvboot_mmio_write32(dev->common, COMMON_DFSELECT, 0);
    return high << 32 | pvboot_mmio_read32(dev->common, COMMON_DF);
}

static void set_features(virtio_dev_t *dev, uint64_t features) {
    pvboot_mmio_write32(dev->common, COMMON_GFSELECT, 1);
    pvboot_mmio_write32(dev->common, COMMON_GF, (uint32_t)(features >> 32));
    pvboot_mmio_write32(dev->common, COMMON_GFSELECT, 0);
    pvboot_mmio_write32(dev->common, COMMON_GF, (uint32_t)features);
}

static uint8_t get_status(virtio_dev_t *dev) {
    return pvboot_mmio_read8(dev->common, COMMON_STATUS);
}

static void set_status(virtio_dev_t *dev, uint8_t status) {
    pvboot_mmio_write8(dev->common, COMMON_STATUS, status);
}

static unsigned queue_max(virtio_dev_t *dev, unsigned index) {
    if (index >= pvboot_mmio_read16(dev->common, COMMON_NUMQ)) {
        return 0;
    }
    pvboot_mmio_write16(dev->common, COMMON_Q_SELECT, (uint16_t)index);
    if (pvboot_mmio_read16(dev->common, COMMON_Q_ENABLE) != 0) {
        return 0;
    }
    return pvboot_mmio_read16(dev->common, COMMON_Q_SIZE);
}

static void wr64(virtio_dev_t *dev, unsigned off, uint64_t v) {
    pvboot_mmio_write32(dev->common, off, (uint32_t)v);
    pvboot_mmio_write32(dev->common, off + 4, (uint32_t)(v >> 32));
}

static int queue_enable(virtio_dev_t *dev, virtq_t *vq) {
    volatile void *c = dev->common;
    pvboot_mmio_write16(c, COMMON_Q_SELECT, vq->index);
    pvboot_mmio_write16(c, COMMON_Q_SIZE, vq->size);
    wr64(dev, COMMON_Q_DESCLO, pvboot_dma_addr((const void *)vq->desc));
    wr64(dev, COMMON_Q_AVAILLO, pvboot_dma_addr((const void *)vq->avail));
    wr64(dev, COMMON_Q_USEDLO, pvboot_dma_addr((const void *)vq->used_header));
    // Every queue signals through MSI-X table entry 0 (see irq_attach).
    if (dev->msix_table != NULL) {
        pvboot_mmio_write16(c, COMMON_Q_MSIX, 0);
        if (pvboot_mmio_read16(c, COMMON_Q_MSIX) == MSIX_NO_VECTOR) {
            virtio_mark_broken(dev, "no MSI-X vector for a queue");
            return -VIRTIO_EIO;
        }
    }
    uint16_t off = pvboot_mmio_read16(c, COMMON_Q_NOFF);
    vq->notify = (volatile uint8_t *)dev->notify_base + (size_t)off * dev->notify_multiplier;
    pvboot_mmio_write16(c, COMMON_Q_ENABLE, 1);
    return 0;
}

static uint8_t config_generation(virtio_dev_t *dev) {
    return pvboot_mmio_read8(dev->common, COMMON_CFGGENERATION);
}

static volatile void *config_base(virtio_dev_t *dev) {
    return dev->device_cfg;
}

// An MSI-X message needs no acknowledgement at the device.
static void msix_interrupt(void *arg) {
    virtio_deliver_interrupt(arg);
}

static int irq_attach(virtio_dev_t *dev) {
    if (dev->msix_table == NULL) {
        pvboot_printf("%s: no MSI-X capability; its interrupts are not supported\n", dev->name);
        return -1;
    }
    uint64_t address;
    uint32_t data;
    if (pvboot_irq_attach_msi(msix_interrupt, dev, &address, &data) < 0) {
        return -1;
    }
    volatile void *entry = dev->msix_table; // entry 0
    pvboot_mmio_write32(entry, 0, (uint32_t)address);
    pvboot_mmio_write32(entry, 4, (uint32_t)(address >> 32));
    pvboot_mmio_write32(entry, 8, data);
    pvboot_mmio_write32(entry, 12, 0); // unmasked
    pvboot_mmio_write16(dev->common, COMMON_MSIX, 0);
    return 0;
}

// The queue's index, 16 bits, at its notification address (4.1.4.4).
static void notify(virtq_t *vq) {
    pvboot_mmio_write16(vq->notify, 0, vq->index);
}

static const virtio_transport_t pci_transport = {
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

// The structure a capability points to, mapped; NULL when it cannot be.
static volatile void *map_cap(uint32_t bdf, unsigned cap) {
    unsigned bar = pvboot_pci_read8(bdf, cap + 4);
    uint32_t offset = pvboot_pci_read32(bdf, cap + 8);
    uint32_t length = pvboot_pci_read32(bdf, cap + 12);
    uint64_t base = pvboot_pci_bar(bdf, bar);
    if (base == 0 || length == 0) {
        return NULL;
    }
    return pvboot_mmio_map(base + offset, length);
}

// "virtio-pci@BB:DD.F" into name (28 bytes).
static void name_function(char *name, uint32_t bdf) {
    static const char digits[] = "0123456789abcdef";
    unsigned bus = bdf >> 8, slot = (bdf >> 3) & 31, func = bdf & 7;
    char *p = name;
    strcpy(p, "virtio-pci@");
    p += strlen(p);
    *p++ = digits[bus >> 4];
    *p++ = digits[bus & 15];
    *p++ = ':';
    *p++ = digits[slot >> 4];
    *p++ = digits[slot & 15];
    *p++ = '.';
    *p++ = digits[func];
    *p = '\0';
}

static bool add_function(uint32_t bdf, uint16_t vendor, uint16_t device, void *arg) {
    (void)arg;
    if (vendor != PCI_VENDOR_REDHAT_QUMRANET || device < 0x1000 || device > 0x107f) {
        return true;
    }
    // Modern ids are 0x1040 + type; transitional ones carry the type in
    // the subsystem id.
    uint32_t type = device >= 0x1040 ? device - 0x1040u : pvboot_pci_read16(bdf, PCI_SUBSYSTEM_ID);
    if (!(pvboot_pci_read16(bdf, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return true;
    }
    volatile void *common = NULL, *isr = NULL, *device_cfg = NULL, *notify = NULL, *msix = NULL;
    uint32_t multiplier = 0;
    unsigned cap = pvboot_pci_read8(bdf, PCI_CAPABILITY_LIST) & 0xfc;
    // A capability list is at most 48 entries in 256 bytes: a loop in a
    // bogus list ends here.
    for (int guard = 0; cap >= 0x40 && guard < 48; guard++) {
        unsigned id = pvboot_pci_read8(bdf, cap);
        if (id == PCI_CAP_ID_VNDR) {
            switch (pvboot_pci_read8(bdf, cap + 3)) {
                case CAP_COMMON_CFG:
                    common = common ? common : map_cap(bdf, cap);
                    break;
                case CAP_NOTIFY_CFG:
                    if (notify == NULL) {
                        notify = map_cap(bdf, cap);
                        multiplier = pvboot_pci_read32(bdf, cap + 16);
                    }
                    break;
                case CAP_ISR_CFG:
                    isr = isr ? isr : map_cap(bdf, cap);
                    break;
                case CAP_DEVICE_CFG:
                    device_cfg = device_cfg ? device_cfg : map_cap(bdf, cap);
                    break;
            }
        } else if (id == PCI_CAP_ID_MSIX) {
            uint32_t table = pvboot_pci_read32(bdf, cap + 4);
            uint64_t base = pvboot_pci_bar(bdf, table & 7);
            if (base != 0) {
                msix = pvboot_mmio_map(base + (table & ~7u), MSIX_ENTRY_SIZE);
                uint16_t control = pvboot_pci_read16(bdf, cap + 2);
                pvboot_pci_write16(bdf, cap + 2, control | MSIX_ENABLE);
            }
        }
        cap = pvboot_pci_read8(bdf, cap + 1) & 0xfc;
    }
    char name[28];
    name_function(name, bdf);
    if (common == NULL || notify == NULL || isr == NULL) {
        pvboot_printf("%s: no modern virtio interface (or a BAR above 4 GiB); ignored\n", name);
        return true;
    }
    uint16_t command = pvboot_pci_read16(bdf, PCI_COMMAND);
    pvboot_pci_write16(bdf, PCI_COMMAND, command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    virtio_dev_t *dev = virtio_new_device(&pci_transport, type);
    if (dev == NULL) {
        return false;
    }
    memcpy(dev->name, name, sizeof(name));
    dev->bdf = bdf;
    dev->common = common;
    dev->isr = isr;
    dev->device_cfg = device_cfg;
    dev->notify_base = notify;
    dev->notify_multiplier = multiplier;
    dev->msix_table = msix;
    return true;
}

void virtio_pci_probe(void) {
    if (pvboot_hypervisor() == PVBOOT_HV_XEN) {
        return; // a PVH domU has no PCI; its devices are netfront/blkfront
    }
    pvboot_pci_foreach(add_function, NULL);
}
