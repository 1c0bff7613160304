/*
 * CPU exception entry stubs (vectors 0-31). Each pushes a uniform frame -
 * vector, error code (0 where the CPU pushes none), then all general
 * registers - and calls pvboot_exception(frame), which reports and never
 * returns.
 */
    .code64
    .text


.macro exception_stub vector
    .balign 16
exception_stub_\vector:
    /* Vectors 8, 10-14, 17, 21, 29 and 30 come with an error code. */
    .if !((\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30))
    pushq $0
    .endif
    pushq $\vector
    jmp exception_common
.endm

.altmacro
.macro all_stubs
    .set i, 0
    .rept 32
    exception_stub %i
    .set i, i + 1
    .endr
.endm
all_stubs

exception_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    andq $~15, %rsp
    call pvboot_exception
1:  cli
    hlt
    jmp 1b

/* Table of stub addresses, read by idt.c to fill the IDT. */
.macro stub_addr vector
    .quad exception_stub_\vector
.endm
    .section .rodata
    .balign 8
    .globl pvboot_exception_stubs
pvboot_exception_stubs:
    .set i, 0
    .rept 32
    stub_addr %i
    .set i, i + 1
    .endr

    .section .note.GNU-stack, "", @progbits
