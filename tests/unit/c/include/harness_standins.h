/*
 * What every host-side harness that includes a driver's C file whole needs:
 * pvboot's console line and page allocator, one line per check, and the
 * random rounds' generator. Shared by virtio_rng_hostile.c and, through
 * xen_front_standins.h, by the Xen front ends' harnesses. Include it after
 * the driver's .c file: it defines functions the driver declares. One
 * harness = one program, so the definitions here are not static and appear
 * once per binary.
 *
 * pvboot_printf() counts each line in messages and keeps the last in
 * last_message; it prints them unless quiet (the random rounds). check()
 * prints one line per check and counts the failures for main's exit status;
 * next_random() draws the random rounds from random_state, which main seeds.
 */
#ifndef PYUNIK_TESTS_HARNESS_STANDINS_H
#define PYUNIK_TESTS_HARNESS_STANDINS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HARNESS_PAGE (4096)

static int messages;
static char last_message[256];
static bool quiet; // the random rounds: count the lines, do not print them
static int failures;
static uint32_t random_state; // the random rounds' xorshift state: main seeds it

static uint32_t next_random(void) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 17;
    random_state ^= random_state << 5;
    return random_state;
}

static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) {
        failures++;
    }
}

void pvboot_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof(last_message), fmt, ap);
    va_end(ap);
    messages++;
    if (!quiet) {
        printf("  guest says: %s", last_message);
    }
}

void *pvboot_page_alloc(size_t npages) {
    void *p = aligned_alloc(HARNESS_PAGE, npages * HARNESS_PAGE);
    memset(p, 0, npages * HARNESS_PAGE);
    return p;
}

#endif // PYUNIK_TESTS_HARNESS_STANDINS_H
