/*
 * PVH entry: from 32-bit protected mode (paging off, flat segments,
 * %ebx = physical address of struct hvm_start_info) to long mode and C.
 *
 * The first 4 GiB are identity-mapped with 2 MiB pages: the image, RAM below
 * 4 GiB and the local APIC / IOAPIC / MMIO window all live there.
 */
#include <xen/elfnote.h>

/* PVBOOT_EXIT_PORT, when the board has an exit device (shutdown.c). */
#include "board_config.h"

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

#define PTE_PRESENT 0x1
#define PTE_WRITE 0x2
#define PTE_LARGE 0x80

#define BOOT_STACK_SIZE (48 * 1024)
/* The stack CPU exceptions run on (the TSS's IST1, set up in idt.c): a
 * fault caused by the boot stack overflowing into its guard page must not
 * need that stack to be reported. */
#define EXCEPTION_STACK_SIZE (8 * 1024)

/* The note QEMU's and Xen's PVH loaders look for: where to enter, 32-bit. */
    .section .note.pvh, "a", @note
    .balign 4
    .long 4                         /* name size: "Xen\0" */
    .long 4                         /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .long _start32
    .balign 4

    .section .text.boot, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    movl %ebx, pvboot_start_info_paddr

    /* A 32-bit-only CPU (QEMU's -cpu qemu32) would triple-fault at the switch
     * to long mode without a word: ask CPUID first (extended leaf
     * 0x80000001, EDX bit 29). Registers only; %ebx is kept. */
    movl %ebx, %edi
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc no_long_mode
    /* Without a local APIC (-cpu qemu64,-apic) the image would reach its
     * prompt and then take no timer or device interrupt: deaf, its sleeps
     * never ending. CPUID leaf 1, EDX bit 9. */
    movl $1, %eax
    cpuid
    btl $9, %edx
    jnc no_apic
    movl %edi, %ebx

    /* Before touching the stack or the page tables (both at the end of the
     * image), check that RAM reaches the image's end: with too small a -m
     * they would be written to memory that is not there, and the guest
     * would die without a word. The check uses registers only. */
    cmpl $0x336ec578, (%ebx)        /* XEN_HVM_START_MAGIC_VALUE */
    jne ram_ok
    cmpl $1, 4(%ebx)                /* version 1 has a memory map */
    jb ram_ok
    movl 0x28(%ebx), %esi           /* memmap_paddr (below 4 GiB) */
    movl 0x30(%ebx), %ecx           /* memmap_entries */
    testl %ecx, %ecx
    jz ram_ok
1:  cmpl $1, 16(%esi)               /* type RAM */
    jne 2f
    cmpl $0, 4(%esi)                /* starts below 4 GiB */
    jne 2f
    cmpl $0x100000, (%esi)          /* ... at or below 1 MiB */
    ja 2f
    movl (%esi), %eax               /* end = addr + size, 64-bit */
    movl 4(%esi), %edx
    addl 8(%esi), %eax
    adcl 12(%esi), %edx
    testl %edx, %edx
    jnz ram_ok                      /* ends above 4 GiB: enough */
    cmpl $_end, %eax
    jae ram_ok
2:  addl $24, %esi                  /* sizeof(struct hvm_memmap_table_entry) */
    loop 1b
    /* No RAM covers the image: say so on COM1 and stop with status 125. */
    movl $too_little_ram, %esi
    jmp fail32
no_apic:
    movl $no_apic_msg, %esi
    jmp fail32
no_long_mode:
    movl $no_long_mode_msg, %esi
    /* Print the string at %esi on COM1 and stop with status 125 (through the
     * exit device when the board has one, else by halting). */
fail32:
3:  lodsb
    testb %al, %al
    jz 4f
    movw $0x3f8, %dx
    outb %al, %dx
    jmp 3b
4:
#ifdef PVBOOT_EXIT_PORT
    movw $PVBOOT_EXIT_PORT, %dx
    movl $125, %eax
    outl %eax, %dx
#endif
5:  hlt
    jmp 5b

ram_ok:
    /* Zero the paging structures: the loader zeroes .bss, but say so here
     * rather than depend on it. PML4, PDPT and four directories: 6 pages of 4 KiB. */
    movl $boot_pml4, %edi
    xorl %eax, %eax
    movl $(6 * 4096 / 4), %ecx
    rep stosl

    /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories. */
    movl $boot_pdpt, %eax
    orl $(PTE_PRESENT | PTE_WRITE), %eax
    movl %eax, boot_pml4

    movl $boot_pd, %eax
    orl $(PTE_PRESENT | PTE_WRITE), %eax
    movl $boot_pdpt, %edi
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b

    /* 2048 entries of 2 MiB: physical 0 .. 4 GiB. The high dword of each
     * entry stays zero (all addresses are below 4 GiB). */
    movl $boot_pd, %edi
    movl $(PTE_PRESENT | PTE_WRITE | PTE_LARGE), %eax
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 2b

    movl %cr4, %eax
    orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    movl %eax, %cr4

    movl $boot_pml4, %eax
    movl %eax, %cr3

    movl $MSR_EFER, %ecx
    rdmsr
    orl $(EFER_LME | EFER_NXE), %eax
    wrmsr

    /* Paging on (long mode becomes active), SSE usable: EM off, MP on. */
    movl %cr0, %eax
    andl $~CR0_EM, %eax
    orl $(CR0_PE | CR0_MP | CR0_WP | CR0_PG), %eax
    movl %eax, %cr0

    lgdt boot_gdt_desc
    ljmp $0x08, $_start64

    .code64
_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs

    movq $boot_stack_top, %rsp
    xorq %rbp, %rbp
    call pvboot_start
    /* pvboot_start does not return; if it does, stop. */
3:  cli
    hlt
    jmp 3b

    /* In .text.boot, the first page of the image: printable even when
     * little of the image fits in RAM. */
    .section .text.boot
too_little_ram:
    .asciz "pvboot: RAM does not cover the image; give the VM more memory (-m)\r\n"
no_apic_msg:
    .asciz "pvboot: this CPU has no local APIC; pyunik needs one for its timer and interrupts (QEMU: leave out -apic)\r\n"
no_long_mode_msg:
    .asciz "pvboot: this CPU has no long mode; pyunik needs an x86_64 CPU (e.g. QEMU -cpu qemu64)\r\n"

    /* In .rodata: read-only once the image is sealed (paging.c), so that
     * nothing can rewrite a segment. It is written only before that, while
     * the boot map is writable: idt.c fills the TSS slot and ltr marks it
     * busy. The accessed bits are set here, or the CPU would set them (a
     * write) the first time it loads each descriptor, e.g. on an iretq. */
    .section .rodata
    .balign 16
    .globl boot_gdt
boot_gdt:
    .quad 0                         /* null */
    .quad 0x00af9b000000ffff        /* 0x08: 64-bit code, ring 0, accessed */
    .quad 0x00cf93000000ffff        /* 0x10: data, ring 0, accessed */
    .quad 0, 0                      /* 0x18: the 64-bit TSS, filled in by idt.c */
boot_gdt_end:
    .globl boot_gdt_desc
boot_gdt_desc:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .section .data
    .globl pvboot_start_info_paddr
    .balign 8
pvboot_start_info_paddr:
    .quad 0

    /* In .pvboot.bss, out of .bss, so that clearing .bss in C does not wipe the page
     * tables or the stack we are running on. Each stack has a page below it
     * that pvboot_start() unmaps: an overflow faults there (and is reported
     * on the exception stack) instead of silently overwriting what lies
     * below, which used to be the page tables. */
    .section .pvboot.bss, "aw", @nobits
    .balign 4096
    .globl boot_stack_guard
boot_stack_guard:
    .skip 4096
    .globl boot_stack_bottom
boot_stack_bottom:
    .skip BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:
    .globl exception_stack_guard
exception_stack_guard:
    .skip 4096
    .globl exception_stack_top
    .skip EXCEPTION_STACK_SIZE
exception_stack_top:
    .globl boot_pml4
boot_pml4:
    .skip 4096
    .globl boot_pdpt
boot_pdpt:
    .skip 4096
    .globl boot_pd
boot_pd:
    .skip 4 * 4096

    .section .note.GNU-stack, "", @progbits
