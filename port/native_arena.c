/*
 * Where native and viper code lives in a sealed image (the board option
 * native = "sealed"): an arena of pages pvboot keeps either read-write or
 * read-execute, never both.
 *
 * MicroPython's emitter writes a function's machine code into a buffer on
 * the GC heap (read-write, no-execute) and hands it to MP_PLAT_COMMIT_EXEC,
 * which lands here: the code is copied to the arena's next free bytes, the
 * pages it touches are made read-write (and so not executable) for the
 * copy and the relocations of a loaded .mpy, then read-execute again. The
 * heap buffer is left to the collector. Code is never freed one function at
 * a time; a soft reset, after which no function object survives, empties
 * the arena (native_arena_reset).
 */
#include <string.h>

#include "py/persistentcode.h"
#include "py/runtime.h"

#include "pvboot.h"

#if PYUNIK_NATIVE_ARENA

#define PAGE (4096)
// A function's code starts 16-byte aligned, as the compiler would place it.
#define ALIGN (16)

static pvboot_region_t arena;
static size_t used;

void native_arena_init(size_t bytes) {
    arena = pvboot_code_arena_reserve(bytes);
    used = 0;
}

void native_arena_reset(void) {
    used = 0;
}

void *native_arena_commit(void *buf, size_t len, void *reloc) {
    size_t need = (len + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need > arena.size - used) {
        mp_raise_msg_varg(&mp_type_MemoryError,
            MP_ERROR_TEXT("native code arena full (%u of %u KiB used, %u bytes more asked)"),
            (unsigned)(used / 1024), (unsigned)(arena.size / 1024), (unsigned)len);
    }
    uint8_t *code = (uint8_t *)arena.addr + used;
    uintptr_t first = (uintptr_t)code & ~(uintptr_t)(PAGE - 1);
    uintptr_t end = ((uintptr_t)code + need + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
    if (pvboot_code_protect((void *)first, end - first, false) != 0) {
        mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("native code arena: pages not writable"));
    }
    if (reloc != NULL) {
        // Loaded .mpy: fix up addresses for where the code will run.
        mp_native_relocate(reloc, buf, (uintptr_t)code);
    }
    memcpy(code, buf, len);
    pvboot_code_protect((void *)first, end - first, true);
    used += need;
    return code;
}

#endif
