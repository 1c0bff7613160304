/*
 * A xenstore client over the shared ring (HVM_PARAM_STORE_PFN/EVTCHN).
 *
 * Requests are synchronous: write the request, notify, and let the CPU rest
 * (pvboot_yield) until the event channel says the reply is there. Watch
 * events can arrive at any time on the same ring; they are kept in a small
 * queue for xen_store_next_event(), except those of a driver's watch
 * (xen_store_watch_t, by token), which only set that watch's flag: a
 * driver looks at its flag in its own poll, and Python's queue never fills
 * with events nobody there asked for. Relative paths ("name") are resolved
 * by xenstored against this domain's home, /local/domain/<domid>/.
 *
 * The ring's other side writes the indices and the replies' headers, and
 * nothing it writes is trusted: a producer more than a ring ahead of the
 * consumer, or a reply longer than XENSTORE_PAYLOAD_MAX (which the wire
 * protocol forbids, and after which the ring cannot be parsed again), makes
 * the store "broken": one line says what the backend did, and every
 * request from then on fails with "EIO" instead of reading garbage.
 * Requests longer than XENSTORE_PAYLOAD_MAX are refused ("E2BIG") before
 * anything is written. A request waits at most REQUEST_TIMEOUT_NS for room
 * and for its reply: then it fails with "ETIMEDOUT" and one line. If no part
 * of it was on the ring or was taken off it, the store stays usable (a late
 * reply is skipped: its req_id is not the next request's); if the timeout
 * cut a message in two, the ring cannot be parsed again and the store is
 * broken. The copies only ever use masked indices into the
 * ring and lengths checked against the buffers they fill.
 */
#include <string.h>

#include "xen_guest.h" // first: it sets the Xen interface version
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>


static volatile struct xenstore_domain_interface *ring;
static evtchn_port_t port;
static uint32_t next_req_id = 1;

#define EVENT_QUEUE_SIZE (2048)
static char events[EVENT_QUEUE_SIZE]; // records: u16 length, then path\0token\0
static size_t events_len;
// Drivers' watches, by token.
static xen_store_watch_t *driver_watches;
// Set by the store's interrupt: something came on the ring since the last pump.
static volatile bool kicked;

static bool broken;

#define REQUEST_TIMEOUT_NS (10000000000ULL)
// ring_write() and ring_read(): done, the store broke, or the deadline passed.
enum { RING_OK, RING_BROKEN, RING_TIMEOUT };

static void store_broken(const char *what, uint32_t a, uint32_t b) {
    if (!broken) {
        pvboot_printf("xenstore: the backend broke the ring protocol (%s: %u, %u); xenstore requests fail from now on\n",
            what, (unsigned)a, (unsigned)b);
    }
    broken = true;
}

static void store_event(evtchn_port_t p, void *arg) {
    (void)p;
    (void)arg; // a waiting request is woken by the interrupt itself
    kicked = true;
}

// The deadline passed with `done` bytes of a message moved: none, and the
// caller may fail just this request; some, and the ring is out of step.
static int timed_out(const char *what, size_t done, size_t len) {
    if (done == 0) {
        return RING_TIMEOUT;
    }
    store_broken(what, (uint32_t)done, (uint32_t)len);
    return RING_BROKEN;
}

static int ring_write(const void *data, size_t len, uint64_t deadline) {
    const char *src = data;
    size_t done = 0;
    while (len > 0) {
        XENSTORE_RING_IDX cons = ring->req_cons, prod = ring->req_prod;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((XENSTORE_RING_IDX)(prod - cons) > XENSTORE_RING_SIZE) {
            store_broken("request ring prod - cons", prod, cons);
            return RING_BROKEN;
        }
        size_t space = XENSTORE_RING_SIZE - (prod - cons);
        if (space == 0) {
            if (pvboot_clock_monotonic() >= deadline) {
                return timed_out("request cut short by the timeout (bytes written, left)", done, len);
            }
            xen_evtchn_notify(port);
            pvboot_yield(deadline);
            continue;
        }
        size_t n = len < space ? len : space;
        for (size_t i = 0; i < n; i++) {
            ring->req[MASK_XENSTORE_IDX(prod + i)] = src[i];
        }
        __atomic_thread_fence(__ATOMIC_RELEASE);
        ring->req_prod = prod + (XENSTORE_RING_IDX)n;
        src += n;
        len -= n;
        done += n;
    }
    xen_evtchn_notify(port);
    return RING_OK;
}

static int ring_read(void *data, size_t len, uint64_t deadline) {
    char *dst = data;
    size_t done = 0;
    while (len > 0) {
        XENSTORE_RING_IDX cons = ring->rsp_cons, prod = ring->rsp_prod;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        size_t avail = (XENSTORE_RING_IDX)(prod - cons);
        if (avail > XENSTORE_RING_SIZE) {
            store_broken("reply ring prod - cons", prod, cons);
            return RING_BROKEN;
        }
        if (avail == 0) {
            if (pvboot_clock_monotonic() >= deadline) {
                return timed_out("reply cut short by the timeout (bytes read, left)", done, len);
            }
            pvboot_yield(deadline);
            continue;
        }
        size_t n = len < avail ? len : avail;
        for (size_t i = 0; i < n; i++) {
            dst[i] = ring->rsp[MASK_XENSTORE_IDX(cons + i)];
        }
        __atomic_thread_fence(__ATOMIC_RELEASE);
        ring->rsp_cons = cons + (XENSTORE_RING_IDX)n;
        xen_evtchn_notify(port);
        dst += n;
        len -= n;
        done += n;
    }
    return RING_OK;
}

static int fail(char *buf, size_t size, const char *error) {
    if (size > 0) {
        size_t n = strlen(error) < size - 1 ? strlen(error) : size - 1;
        memcpy(buf, error, n);
        buf[n] = '\0';
    }
    return -1;
}

// A request that ended in ring_write()/ring_read()'s `status`.
static int request_failed(int status, uint32_t type, char *buf, size_t size) {
    if (status == RING_TIMEOUT) {
        pvboot_printf("xenstore: no answer from the backend within %u s (request type %u); it fails with ETIMEDOUT\n",
            (unsigned)(REQUEST_TIMEOUT_NS / 1000000000ULL), (unsigned)type);
        return fail(buf, size, "ETIMEDOUT");
    }
    return fail(buf, size, "EIO");
}

static size_t bounded_strlen(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n] != '\0') {
        n++;
    }
    return n;
}

static void queue_event(const char *body, uint32_t len) {
    // body: path\0token\0; a driver's token only sets its watch's flag.
    size_t path_len = bounded_strlen(body, len);
    if (path_len < len) {
        const char *token = body + path_len + 1;
        size_t token_len = bounded_strlen(token, len - path_len - 1);
        for (xen_store_watch_t *w = driver_watches; w != NULL; w = w->next) {
            if (strlen(w->token) == token_len && memcmp(w->token, token, token_len) == 0) {
                w->fired = true;
                return;
            }
        }
    }
    if (events_len + 2 + len > EVENT_QUEUE_SIZE) {
        return; // full: the oldest are kept, this one is dropped
    }
    events[events_len] = (char)(len & 0xff);
    events[events_len + 1] = (char)(len >> 8);
    memcpy(events + events_len + 2, body, len);
    events_len += 2 + len;
}

int xen_store_next_event(char *buf, size_t size) {
    if (events_len == 0) {
        return 0;
    }
    size_t len = (unsigned char)events[0] | ((unsigned char)events[1] << 8);
    size_t n = len < size ? len : size;
    memcpy(buf, events + 2, n);
    memmove(events, events + 2 + len, events_len - 2 - len);
    events_len -= 2 + len;
    return (int)n;
}

int xen_store_request(uint32_t type, const char *const *parts, size_t nparts, char *buf, size_t size) {
    return xen_store_request_tx(0, type, parts, nparts, buf, size);
}

int xen_store_request_tx(uint32_t tx_id, uint32_t type, const char *const *parts, size_t nparts, char *buf,
    size_t size) {
    if (ring == NULL) {
        return fail(buf, size, "ENODEV");
    }
    if (broken) {
        return fail(buf, size, "EIO");
    }
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        total += strlen(parts[i]) + 1; // each part NUL-terminated...
    }
    if (type == XS_WRITE && nparts == 2) {
        total -= 1; // ...except a written value, which is raw bytes
    }
    if (total > XENSTORE_PAYLOAD_MAX) {
        return fail(buf, size, "E2BIG"); // xenstored would drop the connection
    }
    uint64_t deadline = pvboot_clock_monotonic() + REQUEST_TIMEOUT_NS;
    struct xsd_sockmsg msg = { .type = type, .req_id = next_req_id++, .tx_id = tx_id, .len = (uint32_t)total };
    int status = ring_write(&msg, sizeof(msg), deadline);
    for (size_t i = 0; i < nparts && status == RING_OK; i++) {
        size_t len = strlen(parts[i]) + !(type == XS_WRITE && i == 1);
        status = ring_write(parts[i], len, deadline);
        if (status == RING_TIMEOUT) {
            // The header is on the ring already: the request is cut.
            store_broken("request cut short by the timeout (part, of)", (uint32_t)i, (uint32_t)nparts);
            status = RING_BROKEN;
        }
    }
    if (status != RING_OK) {
        return request_failed(status, type, buf, size);
    }
    for (;;) {
        struct xsd_sockmsg reply;
        static char body[XENSTORE_PAYLOAD_MAX + 1];
        status = ring_read(&reply, sizeof(reply), deadline);
        if (status != RING_OK) {
            return request_failed(status, type, buf, size);
        }
        if (reply.len > XENSTORE_PAYLOAD_MAX) {
            // Where this reply ends cannot be trusted, so neither can
            // anything after it on the ring.
            store_broken("reply length", reply.len, XENSTORE_PAYLOAD_MAX);
            return fail(buf, size, "EIO");
        }
        uint32_t len = reply.len;
        status = ring_read(body, len, deadline);
        if (status == RING_TIMEOUT) {
            // The header is taken: the ring is cut mid-message.
            store_broken("reply cut short by the timeout (length)", len, 0);
            status = RING_BROKEN;
        }
        if (status != RING_OK) {
            return request_failed(status, type, buf, size);
        }
        body[len] = '\0';
        if (reply.type == XS_WATCH_EVENT) {
            queue_event(body, len);
            continue;
        }
        if (reply.req_id != msg.req_id) {
            continue; // not ours (should not happen: one request at a time)
        }
        size_t n = size == 0 ? 0 : len < size - 1 ? len : size - 1;
        if (size > 0) {
            memcpy(buf, body, n);
            buf[n] = '\0';
        }
        // Watch events that came behind the reply were announced by an
        // interrupt this request's wait has taken already: a caller that
        // waits for an interrupt before it looks would sleep past them (seen
        // on Xen: a blkfront handshake that rested until its 10 s deadline).
        // Queue them now, so that whatever an interrupt announced is looked at.
        xen_store_pump();
        return reply.type == XS_ERROR || size == 0 ? -1 : (int)n;
    }
}

// Move complete watch events from the ring into the queue, without
// waiting; a reply to a request is never pending here (requests are
// synchronous), so everything on the ring between requests is an event.
void xen_store_pump(void) {
    if (ring == NULL || broken) {
        return;
    }
    for (;;) {
        XENSTORE_RING_IDX cons = ring->rsp_cons, prod = ring->rsp_prod;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX avail = prod - cons;
        if (avail > XENSTORE_RING_SIZE) {
            store_broken("reply ring prod - cons", prod, cons);
            return;
        }
        if (avail < sizeof(struct xsd_sockmsg)) {
            return;
        }
        struct xsd_sockmsg header;
        for (size_t i = 0; i < sizeof(header); i++) {
            ((char *)&header)[i] = ring->rsp[MASK_XENSTORE_IDX(cons + i)];
        }
        if (header.len > XENSTORE_PAYLOAD_MAX) {
            store_broken("reply length", header.len, XENSTORE_PAYLOAD_MAX);
            return;
        }
        if (avail < sizeof(header) + header.len) {
            return; // the rest is on its way
        }
        static char body[XENSTORE_PAYLOAD_MAX + 1];
        struct xsd_sockmsg skip;
        // Whole on the ring already (checked above): no waiting.
        if (ring_read(&skip, sizeof(skip), 0) != RING_OK || ring_read(body, header.len, 0) != RING_OK) {
            return;
        }
        if (header.type == XS_WATCH_EVENT) {
            queue_event(body, header.len);
        }
    }
}

void xen_store_watch_register(xen_store_watch_t *w) {
    w->fired = false;
    w->next = driver_watches;
    driver_watches = w;
}

bool xen_store_watch_fired(xen_store_watch_t *w) {
    if (kicked) {
        kicked = false; // before the pump: what comes during it kicks again
        xen_store_pump();
    }
    bool fired = w->fired;
    w->fired = false;
    return fired;
}

void xen_store_init(void) {
    uint64_t pfn = xen_hvm_param(HVM_PARAM_STORE_PFN);
    port = (evtchn_port_t)xen_hvm_param(HVM_PARAM_STORE_EVTCHN);
    if (pfn == 0) {
        return;
    }
    ring = (volatile struct xenstore_domain_interface *)pvboot_shared_map(pfn << 12, 4096);
    if (ring == NULL) {
        return;
    }
    xen_evtchn_bind(port, store_event, NULL);
}
