/*
 * The devices the event loop polls (see devpoll.h).
 */
#include <stdbool.h>
#include <stddef.h>

#include "devpoll.h"

static pyunik_devpoll_t *devices;
static bool running;
static bool delivered;

void pyunik_devpoll_register(pyunik_devpoll_t *dev) {
    pyunik_devpoll_t **p = &devices;
    while (*p != NULL) {
        p = &(*p)->next;
    }
    dev->next = NULL;
    *p = dev;
}

void pyunik_devpoll_run(void) {
    // A poll() that schedules Python may be followed by a wait inside
    // the same call chain: never re-enter a device's poll.
    if (running) {
        return;
    }
    running = true;
    for (pyunik_devpoll_t *d = devices; d != NULL; d = d->next) {
        if (d->poll()) {
            delivered = true;
        }
    }
    running = false;
}

bool pyunik_devpoll_take_delivered(void) {
    bool was = delivered;
    delivered = false;
    return was;
}

uint64_t pyunik_devpoll_deadline(void) {
    uint64_t earliest = UINT64_MAX;
    for (pyunik_devpoll_t *d = devices; d != NULL; d = d->next) {
        uint64_t t = d->deadline();
        if (t < earliest) {
            earliest = t;
        }
    }
    return earliest;
}
