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
#include "shared/readline/readline.h" // CHAR_CTRL_C

#include "devpoll.h"
#include "app.h"

static uint8_t stdin_storage[1024];
static ringbuf_t stdin_ring = { stdin_storage, sizeof(stdin_storage), 0, 0 };

// Type-ahead and Ctrl-C. While a program runs, input it does not read
// fills the ring and then waits in the console device (flow control), with
// any Ctrl-C behind it. When the ring has been full for STALE_INPUT_NS
// without a read, the console is drained anyway: what does not fit is
// dropped (said once on the console) so that a Ctrl-C behind it is seen.
// Ctrl-C empties the ring, as a terminal's INTR flushes its input queue.
#define STALE_INPUT_NS (1000000000ULL)
static volatile bool discarding;
static volatile bool read_since_full;
static volatile bool stale_timer_armed;
static void input_stale(void *arg);
static pvboot_timer_t stale_timer = { .fn = input_stale };

// A Ctrl-C that nothing acts on: while a program runs it raises
// KeyboardInterrupt at the next bytecode, and while the REPL compiles it is
// input for the next read; neither comes while C code runs (a regex that
// backtracks, constant folding of 10 ** (10 ** 7), math.factorial(10**6)).
// The third Ctrl-C, when the first is still not taken KBD_ESCALATE_NS
// later, ends it all with a soft reset.
#define KBD_ESCALATE_NS (1000000000ULL)
#define KBD_ESCALATE_PRESSES (3)
static uint64_t kbd_first_ns;
static unsigned kbd_presses;
static uint32_t stdin_reads; // read attempts: the REPL or a program is alive
static uint32_t stdin_reads_at_first;
static bool kbd_first_as_data;

static void ctrl_c(bool as_interrupt) {
    uint64_t now = pvboot_clock_monotonic();
    // Not taken: the KeyboardInterrupt is still pending, or the first
    // Ctrl-C came as input (while the REPL compiled) and nothing read since
    // (the compiled code may have started running in between).
    bool unread = kbd_first_as_data && stdin_reads == stdin_reads_at_first;
    bool pending = MP_STATE_MAIN_THREAD(mp_pending_exception) == MP_OBJ_FROM_PTR(&MP_STATE_VM(mp_kbd_exception));
    bool not_taken = as_interrupt ? pending || unread : unread;
    if (as_interrupt && !pending) {
        mp_sched_keyboard_interrupt();
    }
    if (kbd_presses > 0 && not_taken) {
        if (++kbd_presses >= KBD_ESCALATE_PRESSES && now - kbd_first_ns >= KBD_ESCALATE_NS) {
            kbd_presses = 0;
            stdin_ring.iget = stdin_ring.iput = 0; // the Ctrl-Cs typed meanwhile
            app_soft_reset_from_interrupt();
        }
        return;
    }
    kbd_first_ns = now;
    kbd_presses = 1;
    stdin_reads_at_first = stdin_reads;
    kbd_first_as_data = !as_interrupt;
}

// Interrupt context (or polling, with interrupts masked).
void mp_hal_console_receive(int c) {
    if (c == mp_interrupt_char) {
        stdin_ring.iget = stdin_ring.iput = 0;
        discarding = false;
        ctrl_c(true);
        return;
    }
    if (c == CHAR_CTRL_C) {
        ctrl_c(false);
    }
    ringbuf_put(&stdin_ring, (uint8_t)c); // fails (drops) only when discarding
}

// How much more input the ring takes (interrupt context too).
size_t mp_hal_console_room(void) {
    size_t room = ringbuf_free(&stdin_ring);
    if (discarding) {
        return SIZE_MAX;
    }
    if (room == 0 && mp_interrupt_char >= 0 && !stale_timer_armed) {
        // A program runs and the ring is full: look again in a while.
        read_since_full = false;
        stale_timer_armed = true;
        pvboot_timer_arm(&stale_timer, pvboot_clock_monotonic() + STALE_INPUT_NS);
    }
    return room;
}

static void input_stale(void *arg) {
    (void)arg;
    stale_timer_armed = false;
    if (read_since_full || ringbuf_free(&stdin_ring) != 0 || mp_interrupt_char < 0) {
        return;
    }
    discarding = true;
    pvboot_printf("\npyunik: input not read for 1 s with 1 KiB waiting: dropping more, watching for Ctrl-C\n");
    pvboot_console_resume();
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
    stdin_reads++;
    read_since_full = true;
    discarding = false;
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

// now + ns, saturated: a sleep too long for the clock to count (sleep_ms(2**62)
// is 2**62 * 10**6 ns) waits forever instead of wrapping into the past.
static uint64_t deadline_after(uint64_t count, uint64_t ns_each) {
    uint64_t now = pvboot_clock_monotonic();
    if (count > (UINT64_MAX - now) / ns_each) {
        return UINT64_MAX;
    }
    return now + count * ns_each;
}

void mp_hal_wait_event(mp_int_t timeout_ms) {
    // MicroPython ran the event hook (devices' polls) just before this: if
    // that put a frame into the stack, a socket the caller polls may be
    // ready now. Halting would sleep through it until the next interrupt or
    // timer (lwIP's, up to a second away): return, so the caller looks.
    if (pyunik_devpoll_take_delivered()) {
        return;
    }
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : deadline_after((uint64_t)timeout_ms, 1000000);
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
    uint64_t deadline = deadline_after(ms, 1000000);
    for (;;) {
        uint64_t now = pvboot_clock_monotonic();
        if (now >= deadline) {
            break;
        }
        // Runs scheduled callbacks and raises a pending KeyboardInterrupt.
        if (deadline == UINT64_MAX) {
            mp_event_wait_indefinite();
        } else {
            mp_event_wait_ms((mp_uint_t)((deadline - now + 999999) / 1000000));
        }
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    if (us >= 1000) {
        mp_hal_delay_ms(us / 1000);
        us %= 1000;
    }
    mp_hal_delay_us_fast(us);
}
