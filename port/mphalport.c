/*
 * Console input and output, ticks, delays and waiting for MicroPython.
 *
 * Console input reaches mp_hal_console_receive(): from the console's
 * interrupt handler, or - for a polled console - whenever MicroPython looks
 * (the REPL waiting for a key, the VM hook every few thousand bytecodes,
 * select.poll on sys.stdin). Ctrl-C is taken out of the stream there and
 * becomes a KeyboardInterrupt, which is how it interrupts a busy loop or a
 * running asyncio loop. Waiting halts the CPU until the deadline or the
 * next interrupt (pvboot_yield): no busy loop.
 */
#include "py/mphal.h"
#include "py/mpconfig.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "py/ringbuf.h"

#include "devpoll.h"

static uint8_t stdin_storage[1024];
static ringbuf_t stdin_ring = { stdin_storage, sizeof(stdin_storage), 0, 0 };

// Interrupt context (or polling, with interrupts masked).
void mp_hal_console_receive(int c) {
    if (c == mp_interrupt_char) {
        mp_sched_keyboard_interrupt();
    } else {
        ringbuf_put(&stdin_ring, (uint8_t)c);
    }
}

// How much more input the ring takes (interrupt context too).
size_t mp_hal_console_room(void) {
    return ringbuf_free(&stdin_ring);
}

void mp_hal_poll_console(void) {
    int c;
    while (mp_hal_console_room() > 0 && (c = pvboot_console_read()) >= 0) {
        uint64_t flags = pvboot_irq_save();
        mp_hal_console_receive(c);
        pvboot_irq_restore(flags);
    }
}

static int stdin_get(void) {
    uint64_t flags = pvboot_irq_save();
    int c = ringbuf_get(&stdin_ring);
    pvboot_irq_restore(flags);
    if (c >= 0) {
        pvboot_console_resume(); // a throttled console may send again
    }
    return c;
}

// MicroPython looks for events (before every wait, in select.poll and
// asyncio): console input, then the devices' work (network frames, timers).
void mp_hal_poll_events(void) {
    mp_hal_poll_console();
    pyunik_devpoll_run();
}

void mp_hal_wait_event(mp_int_t timeout_ms) {
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
        : pvboot_clock_monotonic() + (uint64_t)timeout_ms * 1000000;
    // A device's timer (lwIP's next timeout) may be due sooner.
    uint64_t device = pyunik_devpoll_deadline();
    pvboot_yield(device < deadline ? device : deadline);
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    uintptr_t ret = 0;
    mp_hal_poll_console();
    if ((poll_flags & MP_STREAM_POLL_RD) && ringbuf_avail(&stdin_ring) > 0) {
        ret |= MP_STREAM_POLL_RD;
    }
    if (poll_flags & MP_STREAM_POLL_WR) {
        ret |= MP_STREAM_POLL_WR;
    }
    return ret;
}

int mp_hal_stdin_rx_chr(void) {
    for (;;) {
        int c = stdin_get();
        if (c >= 0) {
            return c;
        }
        mp_event_wait_indefinite();
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    pvboot_console_write(str, len);
    return len;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(pvboot_clock_monotonic() / 1000000);
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)(pvboot_clock_monotonic() / 1000);
}

// time.time(), time.time_ns(), time.localtime(): the wall clock (UTC).
uint64_t mp_hal_time_ns(void) {
    return pvboot_wallclock_ns();
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t deadline = pvboot_clock_monotonic() + (uint64_t)ms * 1000000;
    for (;;) {
        uint64_t now = pvboot_clock_monotonic();
        if (now >= deadline) {
            break;
        }
        // Runs scheduled callbacks and raises a pending KeyboardInterrupt.
        mp_event_wait_ms((mp_uint_t)((deadline - now + 999999) / 1000000));
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    if (us >= 1000) {
        mp_hal_delay_ms(us / 1000);
        us %= 1000;
    }
    mp_hal_delay_us_fast(us);
}
