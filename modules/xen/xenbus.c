/*
 * xenbus, a front end's side: reading and writing a device's xenstore
 * nodes (in transactions), and waiting for the backend's state through a
 * xenstore watch (its event arrives on the store's event channel, whose
 * interrupt ends the CPU's rest: no polling loop).
 */
#include <string.h>

#include "xen_guest.h" // first: it sets the Xen interface version
#include <xen/io/xs_wire.h>

int xenbus_read(const char *path, char *buf, size_t size) {
    const char *parts[] = { path };
    return xen_store_request(XS_READ, parts, 1, buf, size);
}

unsigned long xenbus_read_ulong(const char *path, unsigned long fallback) {
    char buf[24];
    if (xenbus_read(path, buf, sizeof(buf)) <= 0) {
        return fallback;
    }
    unsigned long v = 0;
    for (const char *p = buf; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > 0xffffffffUL) {
            return fallback;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    return v;
}

int xenbus_write(uint32_t tx_id, const char *path, const char *value) {
    char reply[32];
    const char *parts[] = { path, value };
    return xen_store_request_tx(tx_id, XS_WRITE, parts, 2, reply, sizeof(reply)) < 0 ? -1 : 0;
}

uint32_t xenbus_transaction_start(void) {
    char reply[24];
    const char *parts[] = { "" };
    if (xen_store_request(XS_TRANSACTION_START, parts, 1, reply, sizeof(reply)) < 0) {
        return 0;
    }
    uint32_t id = 0;
    for (const char *p = reply; *p >= '0' && *p <= '9'; p++) {
        id = id * 10 + (uint32_t)(*p - '0');
    }
    return id;
}

int xenbus_transaction_end(uint32_t tx_id, bool commit) {
    char reply[32];
    const char *parts[] = { commit ? "T" : "F" };
    if (xen_store_request_tx(tx_id, XS_TRANSACTION_END, parts, 1, reply, sizeof(reply)) >= 0) {
        return 0;
    }
    return strcmp(reply, "EAGAIN") == 0 ? 1 : -1;
}

int xenbus_wait_state(const char *state_path, unsigned wanted, uint64_t timeout_ms) {
    static const char token[] = "pyunik-xenbus";
    char reply[64];
    const char *watch[] = { state_path, token };
    xen_store_request(XS_WATCH, watch, 2, reply, sizeof(reply));
    uint64_t deadline = pvboot_clock_monotonic() + timeout_ms * 1000000;
    int state;
    for (;;) {
        state = (int)xenbus_read_ulong(state_path, 0);
        if ((state > 0 && state < 32 && (wanted & (1u << state))) || pvboot_clock_monotonic() >= deadline) {
            break;
        }
        // Rest until the watch fires (or the deadline), then look again.
        // Pump before resting: an event already on the ring has had its
        // interrupt, and pvboot_yield() would sleep through it.
        char event[256];
        for (;;) {
            xen_store_pump();
            if (xen_store_next_event(event, sizeof(event)) > 0 || pvboot_clock_monotonic() >= deadline) {
                break;
            }
            pvboot_yield(deadline);
        }
    }
    xen_store_request(XS_UNWATCH, watch, 2, reply, sizeof(reply));
    // Events of this watch still queued are of no use to anyone.
    char event[256];
    while (xen_store_next_event(event, sizeof(event)) > 0) {
    }
    return state;
}

void xenbus_join(char *out, size_t size, const char *dir, const char *name) {
    size_t ld = strlen(dir), ln = strlen(name);
    if (ld + 1 + ln + 1 > size) {
        out[0] = '\0'; // no node has an empty path: the request fails
        return;
    }
    memcpy(out, dir, ld);
    out[ld] = '/';
    memcpy(out + ld + 1, name, ln + 1);
}

static void decimal(char *out, unsigned long v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *out++ = tmp[--n];
    }
    *out = '\0';
}

bool xenbus_write_nodes(const char *dir, const xenbus_node_t *nodes, size_t n) {
    char path[128], number[24];
    for (int attempt = 0; attempt < 10; attempt++) {
        uint32_t tx = xenbus_transaction_start();
        if (tx == 0) {
            return false;
        }
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            xenbus_join(path, sizeof(path), dir, nodes[i].name);
            const char *value = nodes[i].text;
            if (value == NULL) {
                decimal(number, nodes[i].number);
                value = number;
            }
            ok = xenbus_write(tx, path, value) == 0;
        }
        int end = xenbus_transaction_end(tx, ok);
        if (end == 0 && ok) {
            return true;
        }
        if (end != 1) {
            return false; // not EAGAIN: xenstored refused
        }
    }
    return false;
}

bool xenbus_watch_state(xen_store_watch_t *w, const char *state_path) {
    // The token: "pyunik-dev:" and the path's tail (unique per device:
    // .../backend/vbd/D/N/state).
    static const char prefix[] = "pyunik-dev:";
    size_t len = strlen(state_path), room = sizeof(w->token) - sizeof(prefix);
    const char *tail = len > room ? state_path + len - room : state_path;
    memcpy(w->token, prefix, sizeof(prefix) - 1);
    memcpy(w->token + sizeof(prefix) - 1, tail, strlen(tail) + 1);
    xen_store_watch_register(w);
    char reply[64];
    const char *watch[] = { state_path, w->token };
    return xen_store_request(XS_WATCH, watch, 2, reply, sizeof(reply)) >= 0;
}

int xenbus_watched_state(xen_store_watch_t *w, const char *state_path) {
    if (!xen_store_watch_fired(w)) {
        return XENBUS_STATE_CONNECTED; // nothing changed since the last look
    }
    return (int)xenbus_read_ulong(state_path, 0);
}

void xenbus_front_closed(const char *front_path) {
    const xenbus_node_t closed[] = { { "state", NULL, XENBUS_STATE_CLOSED } };
    xenbus_write_nodes(front_path, closed, 1);
}

evtchn_port_t xen_evtchn_alloc_unbound(domid_t remote) {
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote };
    if (pvboot_xen_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, (uintptr_t)&op, 0, 0, 0) != 0) {
        return 0;
    }
    return op.port;
}
