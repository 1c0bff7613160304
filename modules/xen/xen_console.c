/*
 * Xen's PV console: the ring at HVM_PARAM_CONSOLE_PFN, with its event
 * channel. What `xl console` shows and types. Output is copied into the
 * ring and the backend notified; input arrives by event-channel interrupt
 * and goes to pvboot_console_input(), with the same flow control as the
 * UART: no more than the receiver has room for.
 *
 * xenconsoled writes out_cons and in_prod; a producer more than a ring
 * ahead of its consumer is a backend breaking the protocol. The ring is
 * then dropped (output to it stops, input from it is ignored) with one
 * line on any other console, rather than read or written by indices that
 * mean nothing. Indices are always masked into the ring.
 *
 * Output waits for room while xenconsoled drains the ring, but not for
 * ever: a backend that takes nothing for STALL_NS (or, without a clock,
 * SPIN_MAX turns) has stalled. Then one line goes to the other consoles and
 * output to this one is dropped, without waiting, until the backend takes
 * some again; the guest goes on instead of hanging in a print.
 */
#include "xen_guest.h" // first: it sets the Xen interface version
#include <xen/hvm/params.h>
#include <xen/io/console.h>


static volatile struct xencons_interface *cons;
static evtchn_port_t port;
static bool broken;
static bool stalled;

#define STALL_NS (2000000000ULL)
#define SPIN_MAX (1u << 30)

static void console_stalled(void) {
    // Before printing, as for a broken ring: the line skips this console.
    stalled = true;
    pvboot_printf("xen console: the backend took no output for %u s; output to it is dropped until it takes some\n",
        (unsigned)(STALL_NS / 1000000000ULL));
}

static void console_broken(const char *which, XENCONS_RING_IDX prod, XENCONS_RING_IDX c) {
    // Before printing: pvboot_printf() writes to this console too.
    broken = true;
    pvboot_printf("xen console: the backend broke the ring protocol (%s prod - cons: %u - %u); console dropped\n",
        which, (unsigned)prod, (unsigned)c);
}

static void console_write(const char *buf, size_t len) {
    uint64_t deadline = 0;
    unsigned spins = 0;
    while (len > 0 && !broken) {
        XENCONS_RING_IDX c = cons->out_cons, p = cons->out_prod;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((XENCONS_RING_IDX)(p - c) > sizeof(cons->out)) {
            console_broken("output", p, c);
            return;
        }
        size_t space = sizeof(cons->out) - (XENCONS_RING_IDX)(p - c);
        if (space == 0) {
            if (stalled) {
                return; // still full: dropped, not waited for again
            }
            // xenconsoled drains it; spin (output must not be lost), bounded.
            uint64_t now = pvboot_clock_monotonic();
            if (deadline == 0) {
                deadline = now + STALL_NS;
            } else if (now >= deadline || ++spins > SPIN_MAX) {
                console_stalled();
                return;
            }
            xen_evtchn_notify(port);
            __asm__ volatile ("pause");
            continue;
        }
        stalled = false; // it took some: the backend is back
        size_t n = len < space ? len : space;
        for (size_t i = 0; i < n; i++) {
            cons->out[MASK_XENCONS_IDX(p + i, cons->out)] = buf[i];
        }
        __atomic_thread_fence(__ATOMIC_RELEASE);
        cons->out_prod = p + (XENCONS_RING_IDX)n;
        buf += n;
        len -= n;
    }
    xen_evtchn_notify(port);
}

static void console_take_input(void) {
    if (broken) {
        return;
    }
    XENCONS_RING_IDX c = cons->in_cons, p = cons->in_prod;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if ((XENCONS_RING_IDX)(p - c) > sizeof(cons->in)) {
        console_broken("input", p, c);
        return;
    }
    size_t room = pvboot_console_room();
    bool took = false;
    while (c != p && room > 0) {
        char ch = cons->in[MASK_XENCONS_IDX(c, cons->in)];
        pvboot_console_input(&ch, 1);
        c++;
        room--;
        took = true;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    cons->in_cons = c;
    if (took) {
        xen_evtchn_notify(port); // room in the ring for more
    }
}

static void console_event(evtchn_port_t p, void *arg) {
    (void)p;
    (void)arg;
    console_take_input();
}

// The port made room again after we stopped taking input.
static void console_resume(void) {
    uint64_t flags = pvboot_irq_save();
    console_take_input();
    pvboot_irq_restore(flags);
}

static void console_flush(void) {
    if (cons == NULL) {
        return;
    }
    // Wait (bounded) for xenconsoled to take what is in the ring: a domain
    // that shuts down right after printing would lose its last words.
    for (unsigned i = 0; i < 100000000 && !broken && !stalled && cons->out_cons != cons->out_prod; i++) {
        __asm__ volatile ("pause");
    }
}

static pvboot_console_t xen_console = {
    .name = "xen",
    .write = console_write,
    .read = NULL,
    .resume = console_resume,
    .flush = console_flush,
};

void xen_console_init(void) {
    if (!xen_present()) {
        return;
    }
    uint64_t pfn = xen_hvm_param(HVM_PARAM_CONSOLE_PFN);
    if (pfn == 0) {
        return;
    }
    cons = (volatile struct xencons_interface *)pvboot_shared_map(pfn << 12, 4096);
    if (cons == NULL) {
        return;
    }
    port = (evtchn_port_t)xen_hvm_param(HVM_PARAM_CONSOLE_EVTCHN);
    xen_evtchn_bind(port, console_event, NULL);
    pvboot_console_register(&xen_console);
    console_take_input(); // anything typed before we listened
}
