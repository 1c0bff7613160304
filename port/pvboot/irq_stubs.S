/*
 * Entry stubs for interrupt vectors 32-255 (devices, timer, spurious).
 *
 * Each stub pushes its vector and joins irq_common, which saves the
 * caller-saved registers and the SSE state (handlers are ordinary C and the
 * interrupted code may be using floats), calls pvboot_irq_dispatch(vector)
 * on a 16-byte aligned stack, and returns with iretq. Interrupt gates clear
 * IF, so handlers never nest.
 */
    .code64
    .text

.macro irq_stub vector
    .balign 16
irq_stub_\vector:
    pushq $\vector
    jmp irq_common
.endm

.altmacro
    .set i, 32
    .rept 224
    irq_stub %i
    .set i, i + 1
    .endr

irq_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    movq 72(%rsp), %rdi         /* the vector the stub pushed */
    movq %rsp, %rax
    subq $512, %rsp             /* FXSAVE area, 16-byte aligned */
    andq $~15, %rsp
    pushq %rax                  /* the unaligned stack pointer to return to */
    pushq %rax                  /* (twice: keeps the alignment) */
    fxsave 16(%rsp)
    call pvboot_irq_dispatch
    fxrstor 16(%rsp)
    popq %rax
    movq %rax, %rsp
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    addq $8, %rsp               /* the vector */
    iretq

.macro irq_addr vector
    .quad irq_stub_\vector
.endm
    .section .rodata
    .balign 8
    .globl pvboot_irq_stubs
pvboot_irq_stubs:
    .set i, 32
    .rept 224
    irq_addr %i
    .set i, i + 1
    .endr

    .section .note.GNU-stack, "", @progbits
