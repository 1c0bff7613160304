/*
 * pyunik's MicroPython main: from pvboot's start info to the REPL.
 */
#include "py/compile.h"
#include "py/gc.h"
#include "py/mperrno.h"
#include "py/runtime.h"
#include "py/stackctrl.h"
#include "py/unicode.h"
#include "shared/runtime/interrupt_char.h"
#include "shared/runtime/pyexec.h"
#include "shared/runtime/softtimer.h"

#include "app.h"
#include "app_config.h" // generated: PYUNIK_AFTER_MAIN_SHUTDOWN
#include "board_init.h"
#include "gcpace.h"
#include "pvboot.h"

#ifndef PYUNIK_DISK_BOOT
#define PYUNIK_DISK_BOOT (0)
#endif

// Clearing the GC's allocation table costs time linear in the heap size, at
// every boot: the heap is capped unless the board says otherwise.
#ifndef PYUNIK_HEAP_MAX
#define PYUNIK_HEAP_MAX (64 * 1024 * 1024)
#endif

#define HEAP_MIN (16 * 1024)

// What the stack checker keeps in reserve below the limit, for the
// handlers of a RuntimeError "maximum recursion depth exceeded".
#define STACK_MARGIN (8 * 1024)

// boot.py or main.py: from the mounted disk when the board lets the disk
// override the frozen app (the storage plugin's disk_boot option), else
// the frozen one.
static bool run_app_script(const char *name, int *status) {
    #if PYUNIK_DISK_BOOT
    if (app_run_file(name, status)) {
        return true;
    }
    #endif
    return app_run_frozen(name, status);
}

static void heap_init(void) {
    // What the drivers left of the free RAM (they took their ring pages
    // during board_init); claimed once, reused by an escalated soft reset.
    static pvboot_region_t heap;
    if (heap.size == 0) {
        heap = pvboot_heap_claim();
    }
    size_t size = heap.size;
    if (size > PYUNIK_HEAP_MAX) {
        size = PYUNIK_HEAP_MAX;
    }
    // Less than this is no use for a REPL, let alone an app.
    if (size < HEAP_MIN) {
        pvboot_printf("pyunik: no RAM left for the heap (%lu bytes free); give the VM more memory\n",
            (unsigned long)size);
        pvboot_shutdown(PVBOOT_EXIT_FAULT);
    }
    gc_init((void *)heap.addr, (void *)(heap.addr + size));
}

// The kernel command line becomes sys.argv and cmdline.line, Python str:
// refuse one that was cut or is not UTF-8 with one line, instead of an
// uncaught UnicodeError before any handler exists, or a silent cut.
static void check_cmdline(const pvboot_start_info_t *si) {
    if (si->cmdline_length >= PVBOOT_MAX_CMDLINE) {
        pvboot_printf("pyunik: the kernel command line is %lu bytes; at most %u are taken; fix: shorten it\n",
            (unsigned long)si->cmdline_length, PVBOOT_MAX_CMDLINE - 1);
        pvboot_shutdown(APP_EXIT_BAD_CMDLINE);
    }
    size_t len = 0;
    while (si->cmdline[len] != '\0') {
        len++;
    }
    if (!utf8_check((const byte *)si->cmdline, len)) {
        pvboot_printf("pyunik: the kernel command line is not valid UTF-8; fix: pass UTF-8 text\n");
        pvboot_shutdown(APP_EXIT_BAD_CMDLINE);
    }
}

#if PYUNIK_NATIVE_ARENA
// The native-code arena: a 32nd of the free RAM, at least 8 KiB and at most
// 1 MiB (a viper function is typically a few hundred bytes).
#define NATIVE_ARENA_MIN (8 * 1024)
#define NATIVE_ARENA_MAX (1024 * 1024)
void native_arena_init(size_t bytes);
void native_arena_reset(void);

static void native_init(void) {
    size_t bytes = pvboot_start_info()->heap.size / 32;
    bytes = bytes < NATIVE_ARENA_MIN ? NATIVE_ARENA_MIN : bytes > NATIVE_ARENA_MAX ? NATIVE_ARENA_MAX : bytes;
    native_arena_init(bytes);
}
#else
static void native_init(void) {
}
static void native_arena_reset(void) {
}
#endif

static void *soft_reset_jump[5];
static const pvboot_start_info_t *boot_info;

void app_soft_reset_from_interrupt(void) {
    if (boot_info == NULL) {
        return;
    }
    pvboot_irq_leave();
    pvboot_printf("\npyunik: Ctrl-C not taken (a long C computation): soft reset, Python state lost\n");
    __builtin_longjmp(soft_reset_jump, 1);
}

int pvboot_main(const pvboot_start_info_t *si) {
    // Console input goes to the REPL's ring (and Ctrl-C to the VM) from
    // the first byte; then the devices, consoles first.
    pvboot_console_set_receiver(mp_hal_console_receive, mp_hal_console_room);
    board_init();
    native_init();

    // The whole boot stack, from its top: the GC scans up to here for
    // pointers, and mp_stack_ctrl_init()'s "address of a local" would miss
    // the frame of whichever caller LTO inlines this function into (the
    // REPL's line buffer lived there, and gc.collect() freed it).
    mp_stack_set_top((void *)(si->stack.addr + si->stack.size));
    mp_stack_set_limit(si->stack.size - STACK_MARGIN);
    heap_init();
    check_cmdline(si);

    boot_info = si;
    if (__builtin_setjmp(soft_reset_jump)) {
        // Here from an interrupt handler, with interrupts off, on this
        // frame; whatever ran is abandoned mid-way, so nothing of it is
        // trusted: no NLR handler, no heap (not even for finalisers).
        si = boot_info;
        MP_STATE_THREAD(nlr_top) = NULL;
        MP_STATE_THREAD(nlr_jump_callback_top) = NULL;
        mp_hal_set_interrupt_char(-1);
        soft_timer_deinit();
        heap_init();
        __asm__ volatile ("sti" : : : "memory");
    }

    for (;;) {
        native_arena_reset(); // no function object of the last run survives
        mp_init();
        gc_pace_init();
        app_set_argv(si->cmdline);

        // What plugins set up before the app: the storage plugin mounts
        // the board's disk here.
        int status;
        app_run_frozen("_boot.py", &status);

        // The app: boot.py, then main.py, as on every MicroPython board.
        // A batch job or a test ends the VM with main's status.
        run_app_script("boot.py", &status);
        if (run_app_script("main.py", &status) && PYUNIK_AFTER_MAIN_SHUTDOWN) {
            return status;
        }

        for (;;) {
            if (pyexec_mode_kind == PYEXEC_MODE_RAW_REPL) {
                if (pyexec_raw_repl() != 0) {
                    break;
                }
            } else {
                if (pyexec_friendly_repl() != 0) {
                    break;
                }
            }
        }

        mp_printf(&mp_plat_print, "MPY: soft reboot\n");
        soft_timer_deinit();
        gc_sweep_all();
        mp_deinit();
    }
    return 0;
}

void nlr_jump_fail(void *val) {
    pvboot_printf("\npyunik: uncaught NLR %p\n", val);
    pvboot_shutdown(PVBOOT_EXIT_FAULT);
}

