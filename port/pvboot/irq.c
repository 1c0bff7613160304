/*
 * Interrupt controllers and dispatch: the legacy PICs remapped and masked,
 * the local APIC enabled (xAPIC, MMIO at its base MSR), the IOAPIC routing
 * ISA/GSI lines to vectors, and one handler per vector.
 *
 * QEMU's microvm and q35 both have a local APIC and an IOAPIC at the usual
 * addresses; a Xen PVH guest has a local APIC and no IOAPIC (its devices
 * signal through event channels on a vector of their own).
 */
#include "pvboot_internal.h"

#define PIC1_CMD (0x20)
#define PIC1_DATA (0x21)
#define PIC2_CMD (0xa0)
#define PIC2_DATA (0xa1)

#define MSR_APIC_BASE (0x1b)
#define APIC_BASE_ENABLE (1u << 11)
#define LAPIC_ID (0x20)
#define LAPIC_TPR (0x80)
#define LAPIC_EOI (0xb0)
#define LAPIC_SVR (0xf0)
#define LAPIC_LVT_LINT0 (0x350)
#define LAPIC_LVT_LINT1 (0x360)
#define LVT_MASKED (1u << 16)

#define IOAPIC_BASE (0xfec00000UL)
#define IOAPIC_REGSEL (0x00)
#define IOAPIC_WINDOW (0x10)
#define IOAPIC_REG_VERSION (0x01)
#define IOAPIC_REDIR(pin) (0x10 + 2 * (pin))

#define VECTOR_FIRST_DEVICE (0x30)
#define VECTOR_SPURIOUS (0xff)

typedef struct {
    pvboot_irq_handler_t handler;
    void *arg;
} irq_slot_t;

static irq_slot_t slots[256];
static volatile uint32_t *lapic;
static unsigned ioapic_pins;
static unsigned next_vector = VECTOR_FIRST_DEVICE;

volatile uint64_t pvboot_irq_count;

static uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile ("rdmsr" : "=a" (lo), "=d" (hi) : "c" (msr));
    return ((uint64_t)hi << 32) | lo;
}

static void wrmsr(uint32_t msr, uint64_t v) {
    __asm__ volatile ("wrmsr" : : "c" (msr), "a" ((uint32_t)v), "d" ((uint32_t)(v >> 32)));
}

uint32_t pvboot_lapic_read(unsigned reg) {
    return lapic[reg / 4];
}

void pvboot_lapic_write(unsigned reg, uint32_t value) {
    lapic[reg / 4] = value;
}

static uint32_t ioapic_read(unsigned reg) {
    volatile uint32_t *io = (volatile uint32_t *)IOAPIC_BASE;
    io[IOAPIC_REGSEL / 4] = reg;
    return io[IOAPIC_WINDOW / 4];
}

static void ioapic_write(unsigned reg, uint32_t value) {
    volatile uint32_t *io = (volatile uint32_t *)IOAPIC_BASE;
    io[IOAPIC_REGSEL / 4] = reg;
    io[IOAPIC_WINDOW / 4] = value;
}

static void pic_disable(void) {
    // Remap to 0x20-0x2f (away from the CPU exceptions), then mask all:
    // a stray legacy interrupt then lands on a harmless vector.
    pvboot_outb(PIC1_CMD, 0x11);
    pvboot_outb(PIC2_CMD, 0x11);
    pvboot_outb(PIC1_DATA, 0x20);
    pvboot_outb(PIC2_DATA, 0x28);
    pvboot_outb(PIC1_DATA, 0x04);
    pvboot_outb(PIC2_DATA, 0x02);
    pvboot_outb(PIC1_DATA, 0x01);
    pvboot_outb(PIC2_DATA, 0x01);
    pvboot_outb(PIC1_DATA, 0xff);
    pvboot_outb(PIC2_DATA, 0xff);
}

static void spurious(void *arg) {
    (void)arg;
}

void pvboot_irq_init(void) {
    pic_disable();

    uint64_t base = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    uintptr_t phys = base & 0xfffff000UL;
    lapic = (volatile uint32_t *)pvboot_mmio_map(phys, 4096);
    pvboot_lapic_write(LAPIC_TPR, 0);
    pvboot_lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    pvboot_lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
    pvboot_lapic_write(LAPIC_SVR, 0x100 | VECTOR_SPURIOUS);
    slots[VECTOR_SPURIOUS].handler = spurious;

    if (pvboot_hypervisor() != PVBOOT_HV_XEN) {
        pvboot_mmio_map(IOAPIC_BASE, 4096);
        uint32_t version = ioapic_read(IOAPIC_REG_VERSION);
        if (version != 0xffffffff) {
            ioapic_pins = ((version >> 16) & 0xff) + 1;
            for (unsigned pin = 0; pin < ioapic_pins; pin++) {
                ioapic_write(IOAPIC_REDIR(pin), LVT_MASKED);
                ioapic_write(IOAPIC_REDIR(pin) + 1, 0);
            }
        }
    }
    __asm__ volatile ("sti");
}

int pvboot_irq_attach_vector(pvboot_irq_handler_t handler, void *arg) {
    if (next_vector >= VECTOR_SPURIOUS) {
        return -1;
    }
    unsigned v = next_vector++;
    slots[v].arg = arg;
    slots[v].handler = handler;
    return (int)v;
}

int pvboot_irq_attach(unsigned gsi, pvboot_irq_handler_t handler, void *arg) {
    if (gsi >= ioapic_pins) {
        return -1;
    }
    int v = pvboot_irq_attach_vector(handler, arg);
    if (v < 0) {
        return -1;
    }
    uint32_t apic_id = pvboot_lapic_read(LAPIC_ID) >> 24;
    ioapic_write(IOAPIC_REDIR(gsi) + 1, apic_id << 24);
    ioapic_write(IOAPIC_REDIR(gsi), (uint32_t)v); // fixed, physical, edge, high, unmasked
    return v;
}

int pvboot_irq_attach_msi(pvboot_irq_handler_t handler, void *arg, uint64_t *address, uint32_t *data) {
    int v = pvboot_irq_attach_vector(handler, arg);
    if (v < 0) {
        return -1;
    }
    // To this CPU's local APIC, fixed delivery, edge: SDM vol. 3, 11.11.
    uint32_t apic_id = pvboot_lapic_read(LAPIC_ID) >> 24;
    *address = 0xfee00000UL | (apic_id << 12);
    *data = (uint32_t)v;
    return v;
}

void pvboot_irq_dispatch(uint64_t vector);

// The vector being handled, 0 outside handlers.
static uint64_t in_service;

void pvboot_irq_dispatch(uint64_t vector) {
    irq_slot_t *slot = &slots[vector & 0xff];
    pvboot_irq_count++;
    in_service = vector;
    if (slot->handler != NULL) {
        slot->handler(slot->arg);
    }
    in_service = 0;
    if (vector != VECTOR_SPURIOUS) {
        pvboot_lapic_write(LAPIC_EOI, 0);
    }
}

void pvboot_irq_leave(void) {
    if (in_service != 0 && in_service != VECTOR_SPURIOUS) {
        pvboot_lapic_write(LAPIC_EOI, 0);
    }
    in_service = 0;
}
