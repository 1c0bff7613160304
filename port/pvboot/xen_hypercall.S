/*
 * The Xen hypercall page: Xen fills it with one 32-byte stub per
 * hypercall when its physical address is written to the MSR that CPUID
 * leaf base+2 names (see xen.c). It must be executable, so it lives in .text.
 */
    .section .text.hypercall, "ax"
    .balign 4096
    .globl pvboot_xen_hypercall_page
pvboot_xen_hypercall_page:
    .fill 4096, 1, 0xcc     /* int3 until Xen writes it */

    .section .note.GNU-stack, "", @progbits
