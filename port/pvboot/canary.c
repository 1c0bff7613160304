/*
 * The stack protector's guard and what happens when a canary is found
 * overwritten.
 *
 * The image is built with -fstack-protector-strong and
 * -mstack-protector-guard=global: every protected function compares its
 * frame's copy with __stack_chk_guard on return. Global rather than the
 * x86_64 default (a TLS slot at %fs:0x28) because pyunik has one CPU and
 * one thread, so there is no per-thread guard to keep; a TLS guard would
 * need an FS base and a per-CPU block for nothing. Linux and glibc share
 * one canary per process too.
 *
 * pvboot_canary_init() runs first thing in pvboot_start(), before any
 * protected function is entered; it and its callees (entropy.c) are built
 * without the protector: a protected setter would find its own canary
 * "overwritten" on return.
 */
#include "pvboot_internal.h"

// A fixed value until pvboot_canary_init() replaces it: in .data, so that
// the .bss wipe at start cannot zero it after it was set.
uintptr_t __stack_chk_guard __attribute__((section(".data"))) = 0x2f8c6b09d4a5e300ULL;

__attribute__((no_stack_protector, noinline)) void pvboot_canary_init(void) {
    // The low byte stays 0 (a "terminator" canary, as glibc's): a string
    // copy that runs over a buffer stops at it and cannot write past it
    // with the canary intact, and a read past the buffer cannot print it.
    __stack_chk_guard = (uintptr_t)(pvboot_random_boot_u64() & ~0xffULL);
}

__attribute__((noreturn, no_stack_protector)) void __stack_chk_fail(void);

void __stack_chk_fail(void) {
    __asm__ volatile ("cli");
    pvboot_printf("\npvboot: stack smashing detected: a function's canary was overwritten"
        " (returning to %p); stopping\n", __builtin_return_address(0));
    pvboot_shutdown(PVBOOT_EXIT_STACK_SMASH);
}
