/*
 * The floor: the least a PVH kernel can do. QEMU's PVH loader enters here in
 * 32-bit protected mode; we write ">>> " to COM1 (the same marker the
 * harness waits for on pyunik and Linux, so all are timed the same way) and
 * exit through isa-debug-exit with status 0. What this costs is QEMU's own
 * start-up, machine creation, firmware and ELF loading: no guest can boot
 * faster under the same settings.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18     /* xen/elfnote.h */
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4

    .section .note.pvh, "a", @note
    .balign 4
    .long 4                             /* name size: "Xen\0" */
    .long 4                             /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .long _start32
    .balign 4

    .section .text, "ax"
    .code32
    .globl _start32
_start32:
    cli
    movw $COM1, %dx
    movb $'>', %al
    outb %al, %dx
    outb %al, %dx
    outb %al, %dx
    movb $' ', %al
    outb %al, %dx
    movw $DEBUG_EXIT, %dx
    xorl %eax, %eax
    outl %eax, %dx                      /* QEMU exits with (0 << 1) | 1 */
1:  hlt                                 /* without isa-debug-exit: stay here */
    jmp 1b

    .section .note.GNU-stack, "", @progbits
