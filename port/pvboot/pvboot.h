/*
 * pvboot.h - the one face of pyunik's boot layer.
 *
 * pvboot takes an x86_64 machine from the PVH entry point (32-bit protected
 * mode, paging off, %ebx = struct hvm_start_info) to a C function in long
 * mode, and then offers a handful of services. It knows nothing of Python:
 * the MicroPython port and the device modules reach the machine only through
 * this header (as Solo5's solo5.h is the only face of its bindings).
 *
 * Threading model: one CPU, one thread. None of these functions may be called
 * from an exception handler except pvboot_console_write() and
 * pvboot_shutdown().
 */
#ifndef PVBOOT_H
#define PVBOOT_H

#include <stddef.h>
#include <stdint.h>

/* ---- Start info -------------------------------------------------------- */

/* One usable RAM region, already clipped to what pvboot mapped and to what
 * the image itself does not occupy. */
typedef struct {
    uintptr_t addr;
    size_t size;
} pvboot_region_t;

#define PVBOOT_MAX_MEMMAP (32)
/* Longer command lines are cut. */
#define PVBOOT_MAX_CMDLINE (2048)

/* Memory types, as in the E820/PVH memory map. */
#define PVBOOT_MEM_RAM (1)
#define PVBOOT_MEM_RESERVED (2)

typedef struct {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} pvboot_memmap_entry_t;

typedef struct {
    /* The command line the hypervisor passed (QEMU -append, Xen cmdline=),
     * copied out of the loader's memory; never NULL, "" when there was none. */
    const char *cmdline;
    /* The largest free RAM region above 1 MiB and above the image's end:
     * where the port puts its heap. */
    pvboot_region_t heap;
    /* The stack pvboot_main() runs on (for stack-depth checks). */
    pvboot_region_t stack;
    /* The hypervisor's memory map as given, with empty entries dropped. */
    const pvboot_memmap_entry_t *memmap;
    size_t memmap_entries;
    /* Total RAM in the map, in bytes (what `-m` gave). */
    uint64_t ram_total;
} pvboot_start_info_t;

/* The start info pvboot_main() was given, for later readers. */
const pvboot_start_info_t *pvboot_start_info(void);

/* Implemented by the port: called once, in long mode, with a stack, SSE on
 * and exception handlers installed. Its return value becomes the exit status
 * (pvboot_shutdown). */
int pvboot_main(const pvboot_start_info_t *si);

/* ---- Console ----------------------------------------------------------- */

/* A console backend is registered by a device module (uart16550, the Xen
 * console ...). Output goes to every registered console; input is read from
 * each in turn. read() returns a byte 0..255, or -1 when none is waiting. */
typedef struct pvboot_console {
    const char *name;
    void (*write)(const char *buf, size_t len);
    int (*read)(void);
    /* For interrupt-driven input: called when the receiver has room again
     * after the driver stopped taking input (see pvboot_console_room). */
    void (*resume)(void);
    struct pvboot_console *next; /* owned by pvboot */
} pvboot_console_t;

void pvboot_console_register(pvboot_console_t *console);

/* Consoles that take interrupts set read to NULL and hand what they
 * receive to pvboot_console_input() from their handler; it goes straight to
 * the receiver the port set (in interrupt context). Flow control: a driver
 * takes no more than pvboot_console_room() bytes; when that is 0 it stops
 * its receive interrupt and leaves the rest in the device (whose FIFO then
 * holds the sender back), until pvboot calls its resume(). */
void pvboot_console_input(const char *buf, size_t len);
size_t pvboot_console_room(void);
void pvboot_console_set_receiver(void (*receive)(int c), size_t (*room)(void));
/* The port calls this after taking input out of its buffer. */
void pvboot_console_resume(void);
void pvboot_console_write(const char *buf, size_t len);
/* A byte from the first console that has one, or -1. Never blocks. */
int pvboot_console_read(void);
/* printf-like, for diagnostics only: %s %c %d %u %x %lx %lu %ld %p %%;
 * "\n" is sent as CR LF. */
void pvboot_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Clocks ------------------------------------------------------------ */

/* A clock is registered by a device module (the TSC, Xen's pvclock ...);
 * a board has exactly one. */
typedef struct {
    const char *name;
    /* Nanoseconds since boot, monotonic. */
    uint64_t (*monotonic_ns)(void);
    /* The rate of pvboot_clock_cycles(), in Hz. */
    uint64_t (*cycles_per_second)(void);
} pvboot_clock_t;

void pvboot_clock_register(const pvboot_clock_t *clock);

/* Nanoseconds since boot from the registered clock (0 if there is none). */
uint64_t pvboot_clock_monotonic(void);
/* The registered clock's cycle rate in Hz (0 if there is none). */
uint64_t pvboot_clock_cycles_per_second(void);

/* Raw CPU cycle counter (rdtsc). */
static inline uint64_t pvboot_clock_cycles(void) {
    uint32_t lo, hi;
    __asm__ volatile ("rdtsc" : "=a" (lo), "=d" (hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Halt the CPU until deadline_ns (pvboot_clock_monotonic time, UINT64_MAX
 * for none) or an interrupt, whichever comes first. Returns at once if an
 * interrupt came since the last call, so that a caller that checked its
 * condition and then yields cannot sleep through the event it waits for.
 * Callers re-check their condition and call again. Without a timer device
 * a deadline cannot wake the CPU, so it only pauses. */
void pvboot_yield(uint64_t deadline_ns);

/* ---- Wall clock ---------------------------------------------------------- */

/* A wall-clock source (the CMOS RTC, Xen's shared-info wallclock) reports
 * the time of day as nanoseconds since 1970-01-01 UTC. pvboot reads it once,
 * on first use, and advances it with the monotonic clock. */
void pvboot_wallclock_register(uint64_t (*read_unix_ns)(void));
/* Nanoseconds since the Unix epoch, or 0 when no source is registered. */
uint64_t pvboot_wallclock_ns(void);

/* ---- Interrupts ---------------------------------------------------------
 *
 * Device interrupts arrive through the local APIC; ISA and PCI lines are
 * routed by the IOAPIC (the legacy PICs are remapped and masked). Rules:
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

/* Local APIC registers (offsets as in the SDM, e.g. 0x320 for LVT timer). */
uint32_t pvboot_lapic_read(unsigned reg);
void pvboot_lapic_write(unsigned reg, uint32_t value);

static inline uint64_t pvboot_irq_save(void) {
    uint64_t flags;
    __asm__ volatile ("pushfq; popq %0; cli" : "=r" (flags) : : "memory");
    return flags;
}

static inline void pvboot_irq_restore(uint64_t flags) {
    if (flags & (1 << 9)) {
        __asm__ volatile ("sti" : : : "memory");
    }
}

/* ---- One-shot timers ---------------------------------------------------- */

/* fn(arg) runs in interrupt context once pvboot_clock_monotonic() has
 * reached deadline_ns. A timer is armed once at a time; arming it again
 * moves it. There is no periodic tick: the hardware timer is programmed for
 * the earliest deadline only. */
typedef struct pvboot_timer {
    uint64_t deadline_ns;
    void (*fn)(void *arg);
    void *arg;
    struct pvboot_timer *next; /* owned by pvboot */
} pvboot_timer_t;

void pvboot_timer_arm(pvboot_timer_t *timer, uint64_t deadline_ns);
void pvboot_timer_cancel(pvboot_timer_t *timer);

/* The hardware behind the timers (the LAPIC timer, Xen's singleshot timer):
 * registered by a module, exactly one. program(deadline_ns) makes it
 * interrupt at or after deadline_ns (UINT64_MAX: not at all); its interrupt
 * handler calls pvboot_timer_expired(). */
typedef struct {
    const char *name;
    void (*program)(uint64_t deadline_ns);
} pvboot_timer_device_t;

void pvboot_timer_device_register(const pvboot_timer_device_t *device);
void pvboot_timer_expired(void);

/* What idling cost: how often the CPU halted, what woke it. */
typedef struct {
    uint64_t halts;      /* times pvboot_yield() halted the CPU */
    uint64_t interrupts; /* device and timer interrupts taken */
    uint64_t timer_interrupts;
} pvboot_idle_stats_t;

void pvboot_idle_stats(pvboot_idle_stats_t *stats);

/* ---- Port I/O ---------------------------------------------------------- */

static inline void pvboot_outb(uint16_t port, uint8_t v) {
    __asm__ volatile ("outb %0, %1" : : "a" (v), "Nd" (port));
}

static inline uint8_t pvboot_inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile ("inb %1, %0" : "=a" (v) : "Nd" (port));
    return v;
}

static inline void pvboot_outl(uint16_t port, uint32_t v) {
    __asm__ volatile ("outl %0, %1" : : "a" (v), "Nd" (port));
}

/* ---- CPUID ------------------------------------------------------------- */

typedef struct {
    uint32_t eax, ebx, ecx, edx;
} pvboot_cpuid_t;

/* CPUID leaf/subleaf. Under a hypervisor each use exits to it: callers
 * that need an answer often keep it. */
static inline pvboot_cpuid_t pvboot_cpuid(uint32_t leaf, uint32_t subleaf) {
    pvboot_cpuid_t r;
    __asm__ volatile ("cpuid" : "=a" (r.eax), "=b" (r.ebx), "=c" (r.ecx), "=d" (r.edx) : "a" (leaf), "c" (subleaf));
    return r;
}

/* ---- Hypervisor and shutdown ------------------------------------------- */

typedef enum {
    PVBOOT_HV_NONE = 0,  /* no hypervisor leaf: bare metal or plain TCG */
    PVBOOT_HV_KVM,
    PVBOOT_HV_XEN,
    PVBOOT_HV_OTHER,
} pvboot_hypervisor_t;

/* Which hypervisor this is (CPUID 0x40000000, or 0x40000100 for Xen beside
 * Viridian); asked of the CPU once, then remembered. */
pvboot_hypervisor_t pvboot_hypervisor(void);

/* Stop the machine with an exit status. On QEMU this writes to the
 * isa-debug-exit device (port 0xf4) so QEMU exits with (status << 1) | 1;
 * status 0 therefore becomes QEMU's exit status 1 - see pyunik/vm.py, which
 * maps it back. A place is kept for Xen's SCHEDOP_shutdown. If neither works
 * the CPU halts with interrupts off. */
__attribute__((noreturn)) void pvboot_shutdown(int status);

/* A hypervisor's own way down (Xen: SCHEDOP_shutdown), tried first by
 * pvboot_shutdown() and pvboot_reboot(). Registered by the hypervisor's
 * module; reboot is nonzero for pvboot_reboot(). */
void pvboot_shutdown_register(void (*fn)(int status, int reboot));

/* ---- Xen ----------------------------------------------------------------
 * Set up by pvboot when it runs on Xen (pvboot_hypervisor() == XEN): the
 * hypercall page is installed before the memory map is read. */

/* The CPUID leaf base of Xen's leaves (0x40000000 or 0x40000100), or 0. */
uint32_t pvboot_xen_cpuid_base(void);
/* HYPERVISOR_<op>(a1, ...) through the hypercall page; Xen's return value. */
long pvboot_xen_hypercall(unsigned op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

/* Restart the machine: the reset control register (0xcf9), else a triple
 * fault. QEMU then boots the same image again (or exits, with -no-reboot). */
__attribute__((noreturn)) void pvboot_reboot(void);

/* Deliberately take a CPU exception (vector 14, page fault on a read of an
 * unmapped address), for tests of the fault path. */
void pvboot_trigger_fault(void);

/* Exit status used when a CPU exception ends the guest. */
#define PVBOOT_EXIT_FAULT (125)

#endif /* PVBOOT_H */
