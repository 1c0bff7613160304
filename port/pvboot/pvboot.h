/*
 * pvboot.h - the port's face of pyunik's boot layer.
 *
 * pvboot takes an x86_64 machine from the PVH entry point (32-bit protected
 * mode, paging off, %ebx = struct hvm_start_info) to a C function in long
 * mode, and then offers a handful of services. It knows nothing of Python.
 * It has two public headers and nothing else of it is public (as Solo5's
 * solo5.h is the only face of its bindings):
 *
 * - this one, for the MicroPython port and for any module: start info,
 *   memory, consoles, clocks, timers, waiting, CPUID, shutdown;
 * - pvboot_driver.h, for device drivers: port I/O, MMIO, PCI configuration
 *   space, interrupts, pages for device rings, hypercalls.
 *
 * Threading model: one CPU, one thread. None of these functions may be called
 * from an interrupt or exception handler except pvboot_console_write(),
 * pvboot_console_input(), pvboot_console_room(), pvboot_printf(),
 * pvboot_timer_expired() and pvboot_shutdown().
 *
 * Callers MUST NOT rely on: physical addresses equalling virtual ones (use
 * pvboot_dma_addr()), the layout of memory beyond what the start info says,
 * or any symbol not declared in the two headers.
 */
#ifndef PVBOOT_H
#define PVBOOT_H

#include <stdbool.h>
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
     * copied out of the loader's memory; never NULL, "" when there was none.
     * Words the machine itself appends to describe its devices are moved
     * out of it into device_words (see below). At most PVBOOT_MAX_CMDLINE - 1
     * bytes: cmdline_length says how long the given one was (up to 64 KiB,
     * device words included), so that a cut can be refused. */
    const char *cmdline;
    size_t cmdline_length;
    /* QEMU microvm's "virtio_mmio.device=SIZE@BASE:IRQ" words, one space
     * between each; "" when there are none. For the virtio driver. */
    const char *device_words;
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
    /* The ACPI RSDP the loader gave (0: none given; firmware areas are
     * searched instead). */
    uint64_t rsdp_paddr;
} pvboot_start_info_t;

/* The start info pvboot_main() was given, for later readers. */
const pvboot_start_info_t *pvboot_start_info(void);

/* The next word of a command line: *cursor moves past it. Words are split
 * on ASCII whitespace (space, \t, \n, \v, \f, \r), exactly as MicroPython's
 * str.split() splits them for the frozen cmdline module, so C (sys.argv,
 * pvboot_cmdline_option) and Python see the same words. Returns the word's
 * start and sets *len, or returns NULL at the end of the line. */
const char *pvboot_cmdline_word(const char **cursor, size_t *len);

/* The value of a key=value word on the command line before a lone "--"
 * (the image's options; the frozen cmdline module reads the same words),
 * or NULL when there is none. The value is not NUL-terminated: *len is its
 * length. */
const char *pvboot_cmdline_option(const char *key, size_t *len);

/* The RAM for the port's heap: what is left of the start info's heap region
 * after drivers took their pages (pvboot_page_alloc). Called once, after the
 * drivers' init; from then on pvboot_page_alloc() returns NULL, so the heap
 * and device memory can never overlap. */
pvboot_region_t pvboot_heap_claim(void);

/* Native code (MicroPython's native and viper emitters) goes into an arena
 * whose pages are either read-write or read-execute, never both.
 * pvboot_code_arena_reserve() takes it, once, before pvboot_heap_claim()
 * (from the same RAM), and returns it (size 0: none, e.g. an unsealed
 * image). pvboot_code_protect() turns whole pages of it read-execute
 * (executable) or read-write, no-execute; -1 for anything outside it. */
pvboot_region_t pvboot_code_arena_reserve(size_t bytes);
int pvboot_code_protect(void *addr, size_t len, bool executable);

/* Implemented by the port: called once, in long mode, with a stack, SSE on
 * and exception handlers installed. Its return value becomes the exit status
 * (pvboot_shutdown). Kept out of line (LTO would inline it into the entry)
 * so that a debugger can break at it: `invoke debug` does. */
__attribute__((noinline)) int pvboot_main(const pvboot_start_info_t *si);

/* The randomised layout (layout.c): how many equally likely places the
 * stack top and the heap base were chosen from on this boot (1: not
 * randomised, too little RAM). log2 of it is the entropy, given a uniform
 * source. */
typedef struct {
    size_t stack_positions;
    size_t heap_positions;
    /* What both were drawn from: "rdseed", "rdrand" or "tsc-jitter" (the
     * stack's place is chosen before any driver runs, so never a device). */
    const char *source;
} pvboot_layout_info_t;

const pvboot_layout_info_t *pvboot_layout_info(void);

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
    /* Optional: wait (bounded) until the other side has taken what was
     * written (a ring the hypervisor's console daemon drains). Called by
     * pvboot_shutdown() and pvboot_reboot(), so last words are not lost. */
    void (*flush)(void);
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
/* Every console's flush(), in turn. */
void pvboot_console_flush(void);
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

/* ---- Interrupt masking ------------------------------------------------
 *
 * Code that shares data with an interrupt handler masks interrupts around
 * the access. Attaching handlers is a driver's business: pvboot_driver.h.
 */

/* For a handler that leaves by a non-local jump instead of returning (the
 * port's last resort against a Ctrl-C the VM cannot act on): acknowledges
 * the interrupt being handled, if any, now. Interrupts stay disabled. */
void pvboot_irq_leave(void);

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

/* ---- Entropy ------------------------------------------------------------
 *
 * See entropy.c for the sources and what each is worth. In order of
 * preference: the CPU (RDSEED, else RDRAND), an entropy device a driver
 * registered (virtio-rng), else timing jitter of the cycle counter.
 */

/* 64 bits from the CPU: RDSEED, else RDRAND. false when the CPU has neither
 * (QEMU's default TCG CPU, qemu64) or both stayed drained through retries. */
bool pvboot_random_hw(uint64_t *out);

/* An entropy device, registered by its driver at board init (one at a time:
 * a later one replaces it). read() fills buf with 1..len bytes from the
 * device and returns how many, waiting for the device with a bound of its
 * own; -1 once the device failed (no answer in time, or it broke the
 * rules: the driver says so in one line). After -1 pvboot stops asking it.
 * Not from interrupt context. */
typedef struct {
    const char *name; /* what pvboot_entropy_source() says: "virtio-rng" */
    int (*read)(void *buf, size_t len);
} pvboot_entropy_device_t;

void pvboot_entropy_register(const pvboot_entropy_device_t *device);

/* len bytes fit for keys (os.urandom): from the CPU, else the registered
 * device; never the timing jitter. Not from interrupt context. */
#define PVBOOT_RANDOM_OK (0)
#define PVBOOT_RANDOM_NONE (-1)   /* no RDSEED/RDRAND and no (working) device */
#define PVBOOT_RANDOM_FAILED (-2) /* the source gave nothing (RDRAND drained,
                                   * the device failed just now) */
int pvboot_random_bytes(void *buf, size_t len);

/* 64 bits that differ on every boot, for seeds (random's, lwIP's): the CPU,
 * else the registered device, else timing jitter (weaker: not for keys;
 * os.urandom does not use it). Not from interrupt context. The stack
 * canary and the randomised layout are drawn before any driver has run,
 * so they take the CPU or the jitter (pvboot_layout_info()->source). */
uint64_t pvboot_random_u64(void);
/* What pvboot_random_u64() draws from now: "rdseed", "rdrand", the
 * device's name ("virtio-rng") or "tsc-jitter". */
const char *pvboot_entropy_source(void);

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

/* Stop the machine with an exit status. A hypervisor's own way down
 * (pvboot_shutdown_register: Xen's SCHEDOP_shutdown) is tried first; on QEMU,
 * when the board has the isa-debug-exit plugin (which defines
 * PVBOOT_EXIT_PORT), the status goes to that device (port 0xf4), so QEMU exits
 * with (status << 1) | 1 and status 0 becomes QEMU's exit status 1 - see
 * pyunik/vm.py, which maps it back. A status other than 0 is first reported
 * to a pvpanic device (port 0x505) if there is one, so that libvirt sees a
 * crash. Without the exit device the machine is powered off through ACPI
 * (S5: q35/pc's PM1a control block, microvm's GED sleep register), and a
 * status other than 0, which then cannot reach the host, is printed first.
 * If nothing ends the machine (no exit device and no ACPI, e.g. microvm
 * with acpi=off) one line says so and the CPU halts with interrupts off.
 * Reserved statuses are listed at the end. */
__attribute__((noreturn)) void pvboot_shutdown(int status);

/* A hypervisor's own way down (Xen: SCHEDOP_shutdown), tried first by
 * pvboot_shutdown() and pvboot_reboot(). Registered by the hypervisor's
 * module; reboot is nonzero for pvboot_reboot(). */
void pvboot_shutdown_register(void (*fn)(int status, int reboot));

/* Restart the machine: the reset control register (0xcf9), else a triple
 * fault. QEMU then boots the same image again (or exits, with -no-reboot). */
__attribute__((noreturn)) void pvboot_reboot(void);

/* Deliberately take a CPU exception (vector 14, page fault on a read of an
 * unmapped address), for tests of the fault path. */
void pvboot_trigger_fault(void);

/* Exit statuses reserved by pvboot and the port: an app's sys.exit() should
 * use 0..124 so that the host can tell its status from these. */
/* A CPU exception ended the guest (the fault dump was printed). */
#define PVBOOT_EXIT_FAULT (125)
/* A stack canary was found overwritten (__stack_chk_fail): a C buffer
 * overflow on the stack was caught before its function returned. */
#define PVBOOT_EXIT_STACK_SMASH (126)

#endif /* PVBOOT_H */
