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

static idt_gate_t idt[IDT_ENTRIES] __attribute__((aligned(16)));
extern const uint64_t pvboot_exception_stubs[32];

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

void pvboot_idt_set(unsigned vector, uint64_t handler) {
    idt_gate_t *g = &idt[vector];
    g->offset_low = handler & 0xffff;
    g->selector = KERNEL_CS;
    g->ist = 0;
    g->type_attr = GATE_INTERRUPT;
    g->offset_mid = (handler >> 16) & 0xffff;
    g->offset_high = handler >> 32;
    g->zero = 0;
}

void pvboot_idt_init(void) {
    for (unsigned v = 0; v < 32; v++) {
        pvboot_idt_set(v, pvboot_exception_stubs[v]);
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile ("lidt %0" : : "m" (desc));
}

static int stack_readable(uint64_t addr) {
    /* Only the identity-mapped first 4 GiB can be read safely; a fault
     * while dumping would recurse. */
    return addr >= 0x1000 && addr + 8 * 8 <= (4ULL << 30);
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
