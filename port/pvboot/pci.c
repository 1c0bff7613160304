/*
 * PCI configuration space through mechanism #1 (ports 0xcf8/0xcfc), and a
 * walk over the functions present: bus 0, then the buses behind bridges.
 */
#include "pvboot_internal.h"

#define CONFIG_ADDRESS (0xcf8)
#define CONFIG_DATA (0xcfc)

#define PCI_VENDOR_ID (0x00)
#define PCI_HEADER_TYPE (0x0e)
#define PCI_BAR0 (0x10)
#define PCI_SECONDARY_BUS (0x19)
#define HEADER_MULTI_FUNCTION (0x80)
#define HEADER_TYPE_BRIDGE (0x01)

static void select(uint32_t bdf, unsigned off) {
    pvboot_outl(CONFIG_ADDRESS, 0x80000000u | (bdf & 0xffff) << 8 | (off & 0xfc));
}

uint32_t pvboot_pci_read32(uint32_t bdf, unsigned off) {
    uint64_t flags = pvboot_irq_save();
    select(bdf, off);
    uint32_t v = pvboot_inl(CONFIG_DATA);
    pvboot_irq_restore(flags);
    return v;
}

uint16_t pvboot_pci_read16(uint32_t bdf, unsigned off) {
    return (uint16_t)(pvboot_pci_read32(bdf, off) >> ((off & 2) * 8));
}

uint8_t pvboot_pci_read8(uint32_t bdf, unsigned off) {
    return (uint8_t)(pvboot_pci_read32(bdf, off) >> ((off & 3) * 8));
}

void pvboot_pci_write32(uint32_t bdf, unsigned off, uint32_t v) {
    uint64_t flags = pvboot_irq_save();
    select(bdf, off);
    pvboot_outl(CONFIG_DATA, v);
    pvboot_irq_restore(flags);
}

void pvboot_pci_write16(uint32_t bdf, unsigned off, uint16_t v) {
    uint64_t flags = pvboot_irq_save();
    select(bdf, off);
    pvboot_outw(CONFIG_DATA + (off & 2), v);
    pvboot_irq_restore(flags);
}

uint64_t pvboot_pci_bar(uint32_t bdf, unsigned bar) {
    if (bar > 5) {
        return 0;
    }
    uint32_t low = pvboot_pci_read32(bdf, PCI_BAR0 + 4 * bar);
    if (low & 1) {
        return 0; // an I/O BAR
    }
    uint64_t addr = low & ~0xfULL;
    if (((low >> 1) & 3) == 2 && bar < 5) {
        addr |= (uint64_t)pvboot_pci_read32(bdf, PCI_BAR0 + 4 * (bar + 1)) << 32;
    }
    return addr;
}

// Returns false when the visitor asked to stop.
static bool visit_bus(unsigned bus, pvboot_pci_visit_t fn, void *arg, unsigned depth) {
    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned func = 0; func < 8; func++) {
            uint32_t bdf = bus << 8 | dev << 3 | func;
            uint32_t id = pvboot_pci_read32(bdf, PCI_VENDOR_ID);
            if ((id & 0xffff) == 0xffff) {
                if (func == 0) {
                    break;
                }
                continue;
            }
            if (!fn(bdf, (uint16_t)id, (uint16_t)(id >> 16), arg)) {
                return false;
            }
            uint8_t header = pvboot_pci_read8(bdf, PCI_HEADER_TYPE);
            // A bridge's secondary bus is always higher than its own; the
            // depth bound keeps a bogus loop finite.
            if ((header & 0x7f) == HEADER_TYPE_BRIDGE && depth < 8) {
                unsigned secondary = pvboot_pci_read8(bdf, PCI_SECONDARY_BUS);
                if (secondary > bus && !visit_bus(secondary, fn, arg, depth + 1)) {
                    return false;
                }
            }
            if (func == 0 && !(header & HEADER_MULTI_FUNCTION)) {
                break;
            }
        }
    }
    return true;
}

void pvboot_pci_foreach(pvboot_pci_visit_t fn, void *arg) {
    visit_bus(0, fn, arg, 0);
}
