/*
 * Stand-ins for what pvboot and the Xen layer (xenstore, event channels,
 * grant tables) give a Xen front end, shared by the host-side harnesses
 * that include a front end's C file whole (blkfront_hostile.c,
 * netfront_hostile.c). Include it after the driver's .c file: it defines
 * functions the driver declares. One harness = one program, so the
 * definitions here are not static and appear once per binary.
 *
 * The harness sets backend_state to play a backend leaving Connected and
 * reads closed_said to see the front end say Closed; pvboot's console,
 * pages, check() and next_random() come from harness_standins.h.
 */
#ifndef PYUNIK_TESTS_XEN_FRONT_STANDINS_H
#define PYUNIK_TESTS_XEN_FRONT_STANDINS_H

#include "harness_standins.h"

static int closed_said;
static int backend_state = XENBUS_STATE_CONNECTED;

void xen_evtchn_notify(evtchn_port_t port) {
    (void)port;
}

int xenbus_watched_state(xen_store_watch_t *w, const char *state_path) {
    (void)w, (void)state_path;
    return backend_state;
}

void xenbus_front_closed(const char *front_path) {
    (void)front_path;
    closed_said++;
}

// Reached only from the front end's start and init, which the harnesses do
// not run (a device is set up by hand there).
bool xen_present(void) {
    return false;
}
int xen_store_request(uint32_t type, const char *const *parts, size_t nparts, char *buf, size_t size) {
    (void)type, (void)parts, (void)nparts, (void)buf, (void)size;
    return -1;
}
int xenbus_read(const char *path, char *buf, size_t size) {
    (void)path, (void)buf, (void)size;
    return -1;
}
unsigned long xenbus_read_ulong(const char *path, unsigned long fallback) {
    (void)path;
    return fallback;
}
int xenbus_wait_state(const char *state_path, unsigned wanted, uint64_t timeout_ms) {
    (void)state_path, (void)wanted, (void)timeout_ms;
    return 0;
}
void xenbus_join(char *out, size_t size, const char *dir, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}
bool xenbus_write_nodes(const char *dir, const xenbus_node_t *nodes, size_t n) {
    (void)dir, (void)nodes, (void)n;
    return false;
}
bool xenbus_watch_state(xen_store_watch_t *w, const char *state_path) {
    (void)w, (void)state_path;
    return false;
}
evtchn_port_t xen_evtchn_alloc_unbound(domid_t remote) {
    (void)remote;
    return 0;
}
void xen_evtchn_bind(evtchn_port_t port, xen_evtchn_handler_t handler, void *arg) {
    (void)port, (void)handler, (void)arg;
}
int xen_gnttab_grant(domid_t domid, unsigned long frame, bool readonly) {
    (void)domid, (void)frame, (void)readonly;
    return 1;
}

#endif // PYUNIK_TESTS_XEN_FRONT_STANDINS_H
