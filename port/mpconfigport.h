/*
 * MicroPython configuration of the pyunik port (x86_64, PVH, bare metal).
 * Board- and plugin-specific settings arrive through board_config.h, which
 * pyunik.build generates from the board file.
 */
#include <stdint.h>

#include "board_config.h"
#include "pvboot.h"

// A full-featured interpreter: what a user of the unix port expects.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

#define MICROPY_ENABLE_GC (1)
// The mark stack. When it overflows (64 entries by default: a pairing heap
// of asyncio tasks is deeper), the collector rescans the whole heap's
// allocation table, a million blocks at 32 MiB, once per overflow: that was
// a sixth of the time asyncio spends per task. A block index fits 32 bits
// (the heap is capped at 64 MiB), so 256 entries cost 1 KiB of bss.
#define MICROPY_ALLOC_GC_STACK_SIZE (256)
#define MICROPY_GC_STACK_ENTRY_TYPE uint32_t
// A module's globals start as a 61-slot hash table (1 by default). A map
// grows only when it is completely full, and a lookup that misses probes
// until it finds a free slot: every builtin a module uses (max, isinstance)
// is first missed in its globals, which walked all 29 slots of a full
// asyncio.core dict. At 61 slots, a module of up to ~30 names misses in a
// probe or two; larger ones grow as before.
#define MICROPY_MODULE_DICT_SIZE (61)
// As the unix port: a jump table for the bytecode dispatch.
#define MICROPY_OPT_COMPUTED_GOTO (1)
#define MICROPY_STACK_CHECK (1)
#define MICROPY_ENABLE_EMERGENCY_EXCEPTION_BUF (1)
#define MICROPY_EMERGENCY_EXCEPTION_BUF_SIZE (256)
#define MICROPY_LONGINT_IMPL (MICROPY_LONGINT_IMPL_MPZ)
#define MICROPY_FLOAT_IMPL (MICROPY_FLOAT_IMPL_DOUBLE)
#define MICROPY_USE_INTERNAL_ERRNO (1)
#define MICROPY_ERROR_REPORTING (MICROPY_ERROR_REPORTING_DETAILED)
#define MICROPY_ALLOC_PATH_MAX (256)
// MICROPY_EMIT_X64 comes from board_config.h (the board's `native` key).
// With a sealed arena, compiled native code is copied into pages that are
// then made read-execute (native_arena.c); without, it runs from the heap.
#if PYUNIK_NATIVE_ARENA
void *native_arena_commit(void *buf, size_t len, void *reloc);
#define MP_PLAT_COMMIT_EXEC(buf, len, reloc) native_arena_commit(buf, len, reloc)
#endif
#define MICROPY_KBD_EXCEPTION (1)
#define MICROPY_HELPER_REPL (1)
#define MICROPY_REPL_INFO (1)
#define MICROPY_ENABLE_SCHEDULER (1)
#define MICROPY_SCHEDULER_DEPTH (8)
#define MICROPY_WARNINGS (1)
#define MICROPY_PERSISTENT_CODE_LOAD (1)

// Files: MicroPython's VFS in every image, so open(), import from a
// mounted filesystem, `os`, `mpremote mount` (a VFS served over the
// console) and a ROMFS built into the image work on every board. The
// on-disk filesystems (littlefs v2, FAT) are compiled in only on boards
// whose `storage` plugin asks for them (MICROPY_VFS_LFS2/FAT come from
// board.mk, see plugins/storage.py).
#define MICROPY_VFS (1)
#define MICROPY_READER_VFS (1)
#define MICROPY_PY_OS (1)
#define MICROPY_PY_OS_INCLUDEFILE "os_port.c"
#define MICROPY_PY_OS_UNAME (1)
#define MICROPY_PY_OS_URANDOM (1)
#define MICROPY_PY_OS_SYNC (1)
#define MICROPY_PY_OS_STATVFS (1)
#define MICROPY_VFS_ROM (1)
// littlefs on a disk (extmod/vfs_lfsx.c; patches/micropython/0013): read and
// program caches of a whole block, as each device call is a round trip to the
// device model and bytes are cheap, and no wear levelling (-1): a disk needs
// none, and it moves metadata blocks every 100 erases.
#define MICROPY_VFS_LFS2_CACHE_BLOCK (1)
#define MICROPY_VFS_LFS2_BLOCK_CYCLES (-1)
// errno: MicroPython's default list and what a filesystem reports.
#define MICROPY_PY_ERRNO_LIST \
    X(EPERM) X(ENOENT) X(EIO) X(EBADF) X(EAGAIN) X(ENOMEM) X(EACCES) X(EEXIST) \
    X(ENODEV) X(EISDIR) X(EINVAL) X(EOPNOTSUPP) X(EADDRINUSE) X(ECONNABORTED) \
    X(ECONNRESET) X(ENOBUFS) X(ENOTCONN) X(ETIMEDOUT) X(ECONNREFUSED) \
    X(EHOSTUNREACH) X(EALREADY) X(EINPROGRESS) \
    X(ENOSPC) X(EROFS) X(ENOTDIR) X(EFBIG)
// littlefs: the block size is the device's (512 bytes for virtio-blk);
// what pyunik/disk.py gives littlefs-python on the host must match.
#define MICROPY_FATFS_RPATH (2)
#define MICROPY_FATFS_ENABLE_LFN (1)
#define MICROPY_FATFS_LFN_CODE_PAGE 437
#define MICROPY_FATFS_MAX_SS (4096)
#define MICROPY_FATFS_USE_LABEL (1)
#define MICROPY_FATFS_MULTI_PARTITION (0)
#define MICROPY_FATFS_NORTC (0)
#define MICROPY_PY_SYS_PLATFORM "pyunik"
#define MICROPY_PY_SYS_STDFILES (1)
#define MICROPY_PY_SYS_STDIO_BUFFER (1)
#define MICROPY_PY_SYS_EXIT (1)
#define MICROPY_PY_SELECT (1)
#define MICROPY_PY_TIME (1)
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)
#define MICROPY_EPOCH_IS_1970 (1)
#define MICROPY_PY_TIME_INCLUDEFILE "time_port.c"
#define MICROPY_PY_TIME_CUSTOM_SLEEP (1)
#define MICROPY_PY_ASYNCIO (1)
#define MICROPY_PY_HASHLIB_SHA1 (0)
#define MICROPY_PY_CRYPTOLIB (0)
// random is seeded on import (and by random.seed()) from RDSEED/RDRAND, else
// an entropy device (virtio-rng, when the board has one), else the cycle
// counter's jitter (pvboot/entropy.c): different on every boot, never a
// constant.
#define MICROPY_PY_RANDOM_SEED_INIT_FUNC ((mp_uint_t)pvboot_random_u64())
#define MICROPY_PY_MACHINE (1)
#define MICROPY_PY_MACHINE_INCLUDEFILE "machine_port.c"
#define MICROPY_PY_MACHINE_RESET (1)
#define MICROPY_PY_MACHINE_MEMX (1)
#define MICROPY_PY_MACHINE_PIN_BASE (1)
#define MICROPY_PY_MACHINE_BARE_METAL_FUNCS (1)
#define MICROPY_PY_MACHINE_TIMER (1)

// Networking, when the board selects the lwip plugin (which defines
// MICROPY_PY_LWIP): MicroPython's own socket (extmod/modlwip.c) and
// network modules; network.LAN comes from modules/lwip.
#if defined(MICROPY_PY_LWIP) && MICROPY_PY_LWIP
#define MICROPY_PY_NETWORK (1)
#define MICROPY_PY_NETWORK_HOSTNAME_DEFAULT "pyunik"
#define MICROPY_PY_NETWORK_INCLUDEFILE "network_port.h"
#define MICROPY_PY_NETWORK_MODULE_GLOBALS_INCLUDEFILE "network_globals.h"
#define MICROPY_PY_LWIP_SOCK_RAW (1)
#endif

// As the unix port has them, for MicroPython's own tests (invoke conformance):
// micropython.mem_total/current/peak, sys.exc_info, websocket, machine.PinBase
// (above), Signal and time_pulse_us on Python-defined pins.
#define MICROPY_MEM_STATS (1)
#define MICROPY_MALLOC_USES_ALLOCATED_SIZE (1)
#define MICROPY_PY_SYS_EXC_INFO (1)
#define MICROPY_PY_WEBSOCKET (1)
#define MICROPY_PY_MACHINE_PULSE (1)

// Type definitions for x86_64.
#define MP_SSIZE_MAX (0x7fffffffffffffffL)
#define UINT_FMT "%lu"
#define INT_FMT "%ld"
typedef int64_t mp_int_t;   // must be pointer size
typedef uint64_t mp_uint_t; // must be pointer size
typedef long mp_off_t;

#include <alloca.h>
// libm_dbl has no log2; MicroPython supplies one when asked.
#define MP_NEED_LOG2 (1)

#define MICROPY_HW_MCU_NAME "x86_64"
#ifndef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME "pyunik"
#endif

#define MP_STATE_PORT MP_STATE_VM

// The console is polled while Python runs, so that Ctrl-C interrupts a busy
// loop: every MICROPY_VM_HOOK_COUNT jumps/returns the VM looks at it once.
#define MICROPY_VM_HOOK_COUNT (2000)
#define MICROPY_VM_HOOK_INIT static unsigned int vm_hook_divisor = MICROPY_VM_HOOK_COUNT;
#define MICROPY_VM_HOOK_POLL \
    if (--vm_hook_divisor == 0) { \
        vm_hook_divisor = MICROPY_VM_HOOK_COUNT; \
        mp_hal_poll_console(); \
    }
#define MICROPY_VM_HOOK_LOOP MICROPY_VM_HOOK_POLL
#define MICROPY_VM_HOOK_RETURN MICROPY_VM_HOOK_POLL

// Waiting (time.sleep, select.poll, asyncio) polls the console and the
// devices (devpoll.h), then lets the CPU rest until the deadline, a
// device's next timer or the next interrupt.
void mp_hal_poll_console(void);
void mp_hal_console_receive(int c);
size_t mp_hal_console_room(void);
void mp_hal_wait_event(mp_int_t timeout_ms);
void mp_hal_poll_events(void);
#define MICROPY_INTERNAL_EVENT_HOOK mp_hal_poll_events()
#define MICROPY_INTERNAL_WFE(TIMEOUT_MS) mp_hal_wait_event(TIMEOUT_MS)

// Interrupt handlers (console input, soft timers) share the scheduler queue
// and the stdin ring with the main thread: mask interrupts around them.
#define MICROPY_BEGIN_ATOMIC_SECTION() pvboot_irq_save()
#define MICROPY_END_ATOMIC_SECTION(state) pvboot_irq_restore(state)
// shared/runtime/softtimer.c guards its heap against soft_timer_handler(),
// which runs in the timer interrupt.
#define MICROPY_PY_PENDSV_ENTER uint64_t pendsv_irq_flags = pvboot_irq_save()
#define MICROPY_PY_PENDSV_EXIT pvboot_irq_restore(pendsv_irq_flags)
