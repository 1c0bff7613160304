/*
 * One-shot timers over one hardware timer, and idling.
 *
 * Timers sit in a list sorted by deadline; the hardware timer device is
 * programmed for the first one only, so an idle guest takes no interrupt
 * until something is due: there is no periodic tick.
 */
#include "pvboot_internal.h"

static pvboot_timer_t *timers;
static const pvboot_timer_device_t *device;
static uint64_t programmed = UINT64_MAX;

static uint64_t halts;
static uint64_t timer_interrupts;
// pvboot_irq_count when pvboot_yield() last returned: a different value
// means an interrupt came in between.
static uint64_t irqs_seen;
extern volatile uint64_t pvboot_irq_count;

void pvboot_timer_device_register(const pvboot_timer_device_t *d) {
    device = d;
}

static void program(uint64_t deadline) {
    if (device != NULL && deadline != programmed) {
        programmed = deadline;
        device->program(deadline);
    }
}

static void unlink(pvboot_timer_t *timer) {
    for (pvboot_timer_t **p = &timers; *p != NULL; p = &(*p)->next) {
        if (*p == timer) {
            *p = timer->next;
            return;
        }
    }
}

void pvboot_timer_arm(pvboot_timer_t *timer, uint64_t deadline_ns) {
    uint64_t flags = pvboot_irq_save();
    unlink(timer);
    timer->deadline_ns = deadline_ns;
    pvboot_timer_t **p = &timers;
    while (*p != NULL && (*p)->deadline_ns <= deadline_ns) {
        p = &(*p)->next;
    }
    timer->next = *p;
    *p = timer;
    program(timers->deadline_ns);
    pvboot_irq_restore(flags);
}

void pvboot_timer_cancel(pvboot_timer_t *timer) {
    uint64_t flags = pvboot_irq_save();
    unlink(timer);
    program(timers != NULL ? timers->deadline_ns : UINT64_MAX);
    pvboot_irq_restore(flags);
}

// Called from the timer device's interrupt handler.
void pvboot_timer_expired(void) {
    timer_interrupts++;
    programmed = UINT64_MAX;
    uint64_t now = pvboot_clock_monotonic();
    while (timers != NULL && timers->deadline_ns <= now) {
        pvboot_timer_t *t = timers;
        timers = t->next;
        t->next = NULL;
        t->fn(t->arg); // may re-arm itself
    }
    program(timers != NULL ? timers->deadline_ns : UINT64_MAX);
}

static void wake(void *arg) {
    (void)arg; // the interrupt itself ends the halt
}

void pvboot_yield(uint64_t deadline_ns) {
    static pvboot_timer_t wakeup = { .fn = wake };
    __asm__ volatile ("cli" : : : "memory");
    if (pvboot_irq_count != irqs_seen || (device == NULL && deadline_ns != UINT64_MAX)) {
        // Something happened since the caller last looked (or nothing could
        // wake us at the deadline): let it look again.
        irqs_seen = pvboot_irq_count;
        __asm__ volatile ("sti; pause" : : : "memory");
        return;
    }
    if (deadline_ns <= pvboot_clock_monotonic()) {
        __asm__ volatile ("sti" : : : "memory");
        return;
    }
    if (deadline_ns != UINT64_MAX) {
        pvboot_timer_arm(&wakeup, deadline_ns);
    }
    halts++;
    // sti takes effect after the next instruction: no interrupt can slip in
    // between the check above and the halt.
    __asm__ volatile ("sti; hlt" : : : "memory");
    irqs_seen = pvboot_irq_count;
    pvboot_timer_cancel(&wakeup);
}

void pvboot_idle_stats(pvboot_idle_stats_t *stats) {
    stats->halts = halts;
    stats->interrupts = pvboot_irq_count;
    stats->timer_interrupts = timer_interrupts;
}
