/*
 * pvboot_driver.h - the device drivers' face of pyunik's boot layer.
 *
 * What a driver module needs to reach hardware: port I/O, memory-mapped
 * registers, PCI configuration space, interrupts, pages for device rings
 * and Xen's hypercalls. It includes pvboot.h (consoles, clocks, timers).
 *
 * Contract, for every function here:
 * - one CPU, one thread; only what is marked "interrupt context: yes" may be
 *   called from an interrupt handler;
 * - a driver MUST NOT rely on physical = virtual addresses: a device is
 *   given pvboot_dma_addr(p), registers are reached through the pointer
 *   pvboot_mmio_map() returns;
 * - an invalid request (an address pvboot cannot map, no pages left, a bad
 *   PCI location) returns NULL / -1 / all-ones and changes nothing: drivers
 *   check and report it as one line, they never fault on it.
 */
#ifndef PVBOOT_DRIVER_H
#define PVBOOT_DRIVER_H

#include <stdbool.h>

#include "pvboot.h"

/* ---- Port I/O (interrupt context: yes) --------------------------------- */

static inline void pvboot_outb(uint16_t port, uint8_t v) {
    __asm__ volatile ("outb %0, %1" : : "a" (v), "Nd" (port));
}

static inline uint8_t pvboot_inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile ("inb %1, %0" : "=a" (v) : "Nd" (port));
    return v;
}

static inline void pvboot_outw(uint16_t port, uint16_t v) {
    __asm__ volatile ("outw %0, %1" : : "a" (v), "Nd" (port));
}

static inline uint16_t pvboot_inw(uint16_t port) {
    uint16_t v;
    __asm__ volatile ("inw %1, %0" : "=a" (v) : "Nd" (port));
    return v;
}

static inline void pvboot_outl(uint16_t port, uint32_t v) {
    __asm__ volatile ("outl %0, %1" : : "a" (v), "Nd" (port));
}

static inline uint32_t pvboot_inl(uint16_t port) {
    uint32_t v;
    __asm__ volatile ("inl %1, %0" : "=a" (v) : "Nd" (port));
    return v;
}

/* ---- Memory-mapped registers -------------------------------------------
 *
 * pvboot_mmio_map() makes [phys, phys + size) reachable as uncached device
 * memory (read-write, never executable) and returns where, or NULL when
 * pvboot cannot map it (at or above 4 GiB, or no page table left). Nothing
 * else outside RAM and the image is mapped. Mapping the same range twice is
 * allowed. Call it while the driver initialises: once the port has claimed
 * its heap the page tables are read-only, and a range not mapped by then
 * gets NULL (and one line on the console). Not from interrupt context. The
 * accessors (interrupt context: yes) are single, untorn accesses of their
 * width, ordered with respect to each other. */
volatile void *pvboot_mmio_map(uint64_t phys, size_t size);

/* The same for memory the hypervisor shares at an address it chose (Xen's
 * console and xenstore rings): ordinary cached RAM, read-write, never
 * executable. Same rules as pvboot_mmio_map(). */
volatile void *pvboot_shared_map(uint64_t phys, size_t size);

static inline uint8_t pvboot_mmio_read8(volatile void *base, size_t off) {
    return *(volatile uint8_t *)((volatile uint8_t *)base + off);
}

static inline uint16_t pvboot_mmio_read16(volatile void *base, size_t off) {
    return *(volatile uint16_t *)((volatile uint8_t *)base + off);
}

static inline uint32_t pvboot_mmio_read32(volatile void *base, size_t off) {
    return *(volatile uint32_t *)((volatile uint8_t *)base + off);
}

static inline void pvboot_mmio_write8(volatile void *base, size_t off, uint8_t v) {
    *(volatile uint8_t *)((volatile uint8_t *)base + off) = v;
}

static inline void pvboot_mmio_write16(volatile void *base, size_t off, uint16_t v) {
    *(volatile uint16_t *)((volatile uint8_t *)base + off) = v;
}

static inline void pvboot_mmio_write32(volatile void *base, size_t off, uint32_t v) {
    *(volatile uint32_t *)((volatile uint8_t *)base + off) = v;
}

/* A full memory barrier: what the CPU wrote to ring memory is visible to
 * the device before a later register write (and the other way round).
 * x86 orders stores, but the compiler must not move them: this does both. */
static inline void pvboot_mb(void) {
    __asm__ volatile ("mfence" : : : "memory");
}

/* ---- PCI configuration space -------------------------------------------
 *
 * A function is named by bdf = bus << 8 | device << 3 | function. Access is
 * through configuration mechanism #1 (ports 0xcf8/0xcfc), which QEMU's pc
 * and q35 machines have; offsets must be aligned to the access width.
 * Reads of a missing function return all ones. */
uint32_t pvboot_pci_read32(uint32_t bdf, unsigned off);
uint16_t pvboot_pci_read16(uint32_t bdf, unsigned off);
uint8_t pvboot_pci_read8(uint32_t bdf, unsigned off);
void pvboot_pci_write32(uint32_t bdf, unsigned off, uint32_t v);
void pvboot_pci_write16(uint32_t bdf, unsigned off, uint16_t v);

/* Calls fn for every present PCI function (bus 0 and the buses behind
 * bridges), in bus order; stops early when fn returns false. Machines
 * without PCI (microvm) have none. */
typedef bool (*pvboot_pci_visit_t)(uint32_t bdf, uint16_t vendor, uint16_t device, void *arg);
void pvboot_pci_foreach(pvboot_pci_visit_t fn, void *arg);

/* The physical address a memory BAR points to (64-bit BARs read whole), or
 * 0 for an I/O or absent BAR. */
uint64_t pvboot_pci_bar(uint32_t bdf, unsigned bar);

/* ---- Interrupts ---------------------------------------------------------
 *
 * Device interrupts arrive through the local APIC; ISA and PCI lines are
 * routed by the IOAPIC (the legacy PICs are remapped and masked), MSI and
 * MSI-X messages go to the local APIC directly. Rules:
 * - handlers run with interrupts disabled and never nest; keep them short:
 *   move data into a ring, note that something happened, and return. Where
 *   Python must run, schedule it (mp_sched_schedule) and let the event loop
 *   pick it up;
 * - pvboot sends the EOI after the handler returns;
 * - outside handlers, code that shares data with a handler masks interrupts
 *   around the access with pvboot_irq_save()/pvboot_irq_restore();
 * - every interrupt ends a pvboot_yield(), so the event loop looks again.
 */
typedef void (*pvboot_irq_handler_t)(void *arg);

/* Route an ISA/GSI line (e.g. 4 for COM1) to handler; edge-triggered,
 * active high. Returns the vector used, or -1 when there is no IOAPIC or
 * no free vector. */
int pvboot_irq_attach(unsigned gsi, pvboot_irq_handler_t handler, void *arg);
/* Use a vector directly (a local APIC source, Xen's callback vector ...).
 * Returns a free vector (>= 0x30) bound to handler, or -1. */
int pvboot_irq_attach_vector(pvboot_irq_handler_t handler, void *arg);
/* A vector bound to handler for a message-signalled interrupt (MSI/MSI-X):
 * fills in the message address and data the device must write. Returns
 * the vector, or -1. */
int pvboot_irq_attach_msi(pvboot_irq_handler_t handler, void *arg, uint64_t *address, uint32_t *data);

/* Local APIC registers (offsets as in the SDM, e.g. 0x320 for LVT timer). */
uint32_t pvboot_lapic_read(unsigned reg);
void pvboot_lapic_write(unsigned reg, uint32_t value);

/* ---- Pages for device rings and buffers ---------------------------------
 *
 * npages zeroed 4 KiB pages, contiguous and page-aligned, never part of the
 * port's heap (the garbage collector neither scans nor moves them). They are
 * taken once, while drivers initialise (board init), and never freed: a
 * driver sizes its rings at init. Returns NULL when RAM is short, or once
 * the port has claimed its heap (pvboot_heap_claim). */
void *pvboot_page_alloc(size_t npages);

/* The address a device must be given for memory the CPU reaches at p. */
static inline uint64_t pvboot_dma_addr(const void *p) {
    return (uint64_t)(uintptr_t)p; // pvboot maps RAM at its physical address
}

/* ---- Xen ----------------------------------------------------------------
 * Set up by pvboot when it runs on Xen (pvboot_hypervisor() == XEN): the
 * hypercall page is installed before the memory map is read. */

/* The CPUID leaf base of Xen's leaves (0x40000000 or 0x40000100), or 0. */
uint32_t pvboot_xen_cpuid_base(void);
/* HYPERVISOR_<op>(a1, ...) through the hypercall page; Xen's return value.
 * Only on Xen (pvboot_xen_cpuid_base() != 0): callers check once, at init. */
long pvboot_xen_hypercall(unsigned op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

#endif /* PVBOOT_DRIVER_H */
