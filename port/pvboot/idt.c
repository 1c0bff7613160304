/*
 * The interrupt descriptor table and the report of CPU exceptions.
 *
 * Every exception is fatal: it prints the vector, error code, the
 * registers, CR2 and the top of the stack to the console, then shuts the
 * machine down with PVBOOT_EXIT_FAULT so that a crash is never silent and
 * never looks like success.
 */
#include "pvboot_internal.h"

/* The frame exceptions.S builds, lowest address first. */
typedef struct {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
} exception_frame_t;

typedef struct {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t zero;
} __attribute__((packed)) idt_gate_t;

#define IDT_ENTRIES (256)
#define GATE_INTERRUPT (0x8e) /* present, ring 0, 64-bit interrupt gate */
#define KERNEL_CS (0x08)
#define TSS_SELECTOR (0x18)
/* CPU exceptions run on interrupt stack table entry 1: a fresh stack, so
 * that an overflow of the boot stack (a fault while pushing onto its guard
 * page) can still be reported instead of becoming a triple fault. */
#define EXCEPTION_IST (1)

/* The 64-bit task-state segment: only its IST pointers are used. */
typedef struct {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed)) tss_t;

static tss_t tss;
extern uint64_t boot_gdt[5];

// A page of its own (256 gates of 16 bytes), which the sealed map makes
// read-only (paging.c): every gate is set here, before sealing, and never
// changed; a device's handler goes in irq.c's table, not in the IDT.
// Named for the probes (bench/seal.py) that write to it.
idt_gate_t pvboot_idt[IDT_ENTRIES] __attribute__((aligned(4096)));
#define idt pvboot_idt
extern const uint64_t pvboot_exception_stubs[32];
extern const uint64_t pvboot_irq_stubs[IDT_ENTRIES - 32];

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault",
    "coprocessor segment overrun", "invalid TSS", "segment not present",
    "stack fault", "general protection", "page fault", "reserved",
    "x87 floating point", "alignment check", "machine check",
    "SIMD floating point", "virtualisation", "control protection",
    "reserved", "reserved", "reserved", "reserved", "reserved", "reserved",
    "hypervisor injection", "VMM communication", "security", "reserved",
};

static void idt_set_gate(unsigned vector, uint64_t handler, uint8_t ist) {
    idt_gate_t *g = &idt[vector];
    g->offset_low = handler & 0xffff;
    g->selector = KERNEL_CS;
    g->ist = ist;
    g->type_attr = GATE_INTERRUPT;
    g->offset_mid = (handler >> 16) & 0xffff;
    g->offset_high = handler >> 32;
    g->zero = 0;
}

static void tss_init(void) {
    tss.ist[EXCEPTION_IST - 1] = (uint64_t)(uintptr_t)exception_stack_top;
    tss.iomap_base = sizeof(tss); // no I/O permission bitmap
    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof(tss) - 1;
    // An available 64-bit TSS (type 9), present, in two GDT slots.
    boot_gdt[TSS_SELECTOR / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16)
        | (0x89ULL << 40) | (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    boot_gdt[TSS_SELECTOR / 8 + 1] = base >> 32;
    // The memory clobber: the TSS and GDT stores above must land first.
    __asm__ volatile ("ltr %w0" : : "r" (TSS_SELECTOR) : "memory");
}

void pvboot_idt_init(void) {
    tss_init();
    for (unsigned v = 0; v < 32; v++) {
        idt_set_gate(v, pvboot_exception_stubs[v], EXCEPTION_IST);
    }
    // Interrupts (irq.c dispatches them to the handlers drivers register).
    for (unsigned v = 32; v < IDT_ENTRIES; v++) {
        idt_set_gate(v, pvboot_irq_stubs[v - 32], 0);
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile ("lidt %0" : : "m" (desc));
}

uintptr_t pvboot_idt_page(void) {
    _Static_assert(sizeof(idt) == 4096, "the IDT is one page");
    return (uintptr_t)idt;
}

static int stack_readable(uint64_t addr) {
    /* Only mapped memory can be read safely; a fault while dumping would
     * recurse. */
    return addr >= 0x1000 && pvboot_page_mapped(addr) && pvboot_page_mapped(addr + 8 * 8 - 1);
}

int pvboot_in_stack_guard(uintptr_t addr) {
    return (addr >= (uintptr_t)boot_stack_guard && addr < (uintptr_t)boot_stack_bottom)
        || (addr >= (uintptr_t)exception_stack_guard && addr < (uintptr_t)exception_stack_guard + 4096)
        || (pvboot_main_stack_guard != 0 && addr >= pvboot_main_stack_guard && addr < pvboot_main_stack_guard + 4096);
}

extern char boot_pml4[], boot_pd[];

// Where addr lies, for the page-fault line: the sealed map's regions.
static const char *region_name(uintptr_t addr) {
    if (addr < 4096) {
        return " (page 0: a NULL pointer)";
    } else if (addr >= (uintptr_t)__image_start && addr < (uintptr_t)__text_end) {
        return " (.text)";
    } else if (addr >= (uintptr_t)boot_gdt && addr < (uintptr_t)&boot_gdt[5]) {
        return " (the GDT)";
    } else if (addr >= (uintptr_t)__rodata_start && addr < (uintptr_t)__rodata_end) {
        return " (.rodata)";
    } else if (addr >= (uintptr_t)idt && addr < (uintptr_t)&idt[IDT_ENTRIES]) {
        return " (the IDT)";
    } else if (addr >= (uintptr_t)boot_pml4 && addr < (uintptr_t)boot_pd + 4 * 4096) {
        return " (the page tables)";
    }
    return "";
}

// The error code's bits: 0 the page was present, 1 a write, 4 a fetch.
static void describe_page_fault(uint64_t error, uint64_t cr2) {
    const char *access = (error & 0x10) ? "execute from" : (error & 0x2) ? "write to" : "read of";
    const char *page = !(error & 0x1) ? "an unmapped page"
        : (error & 0x10) ? "a no-execute page" : "a read-only page";
    pvboot_printf("\npvboot: page fault: %s %s at %lx%s\n", access, page, cr2, region_name((uintptr_t)cr2));
}

__attribute__((noreturn)) void pvboot_exception(exception_frame_t *f);

void pvboot_exception(exception_frame_t *f) {
    static int depth;
    if (depth++) {
        pvboot_printf("\npvboot: exception %lu while reporting an exception\n", f->vector);
        pvboot_shutdown(PVBOOT_EXIT_FAULT);
    }
    uint64_t cr2, cr3;
    __asm__ volatile ("mov %%cr2, %0" : "=r" (cr2));
    __asm__ volatile ("mov %%cr3, %0" : "=r" (cr3));

    if (pvboot_in_stack_guard(cr2) || pvboot_in_stack_guard(f->rsp)) {
        pvboot_printf("\npvboot: stack overflow: the C stack (%lu KiB) ran into its guard page\n",
            (uint64_t)(boot_stack_top - boot_stack_bottom) / 1024);
    }
    if (f->vector == 14) {
        describe_page_fault(f->error, cr2);
    }
    pvboot_printf("\n*** CPU exception %lu (%s), error code 0x%lx\n",
        f->vector, exception_names[f->vector & 31], f->error);
    pvboot_printf("RIP %016lx  CS %04lx  RFLAGS %016lx\n", f->rip, f->cs, f->rflags);
    pvboot_printf("RSP %016lx  SS %04lx  CR2 %016lx  CR3 %016lx\n", f->rsp, f->ss, cr2, cr3);
    pvboot_printf("RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    pvboot_printf("RSI %016lx  RDI %016lx  RBP %016lx\n", f->rsi, f->rdi, f->rbp);
    pvboot_printf("R8  %016lx  R9  %016lx  R10 %016lx  R11 %016lx\n", f->r8, f->r9, f->r10, f->r11);
    pvboot_printf("R12 %016lx  R13 %016lx  R14 %016lx  R15 %016lx\n", f->r12, f->r13, f->r14, f->r15);
    if (stack_readable(f->rsp)) {
        const uint64_t *sp = (const uint64_t *)(uintptr_t)f->rsp;
        pvboot_printf("stack:\n");
        for (int i = 0; i < 8; i += 2) {
            pvboot_printf("  %016lx: %016lx %016lx\n", f->rsp + i * 8, sp[i], sp[i + 1]);
        }
    }
    pvboot_shutdown(PVBOOT_EXIT_FAULT);
}

void pvboot_trigger_fault(void) {
    /* Above the 4 GiB identity map: nothing is mapped there. */
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)0x123456789000ULL;
    (void)*p;
}
