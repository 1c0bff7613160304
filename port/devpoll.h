/*
 * Devices the event loop looks after: a network stack, a block device.
 *
 * Interrupt handlers only note that something happened; the work (moving
 * received frames into lwIP, running its timers) is done by a device's
 * poll(), called by the port whenever MicroPython waits or looks for
 * events (select.poll, asyncio, time.sleep, socket timeouts). deadline()
 * says when poll() must run again even if no interrupt comes (a protocol
 * timer); the CPU halts until the earliest of those deadlines, the
 * caller's timeout and the next interrupt. There is no periodic tick.
 */
#ifndef PYUNIK_DEVPOLL_H
#define PYUNIK_DEVPOLL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pyunik_devpoll {
    const char *name;
    // Thread context, never re-entered; may run Python callbacks' scheduling.
    // Returns true when it delivered something a waiter may be waiting for
    // (a frame into the stack): the port then looks again instead of halting.
    bool (*poll)(void);
    // The pvboot_clock_monotonic() time by which poll() must run again, or
    // UINT64_MAX when only an interrupt can make it necessary.
    uint64_t (*deadline)(void);
    struct pyunik_devpoll *next; // owned by devpoll.c
} pyunik_devpoll_t;

// Called at board init by a device's module.
void pyunik_devpoll_register(pyunik_devpoll_t *dev);

// Called by the port: run every registered poll(), and the earliest
// deadline of all (UINT64_MAX for none).
void pyunik_devpoll_run(void);
uint64_t pyunik_devpoll_deadline(void);
// True (once) when a poll() since the last call delivered something: the
// waiter that just ran the polls must re-check before the CPU halts, since
// the interrupt that announced the data came before, not during, the wait.
bool pyunik_devpoll_take_delivered(void);

#endif // PYUNIK_DEVPOLL_H
