/*
 * Host-side harness: the guest's Xen ring code (modules/xen/xenstore.c,
 * xen_console.c, gnttab.c) against a backend that breaks the rules.
 * Compiled with AddressSanitizer and UBSan and run by
 * tests/unit/test_xen_rings.py; prints one line per check and exits
 * non-zero when any failed.
 *
 * The "backend" is this program writing the shared pages directly, as a
 * buggy or hostile xenstored, xenconsoled or netback could: indices running
 * ahead or behind, replies longer than the protocol allows, random bytes.
 * The guest must answer with an error or one line, never read or write
 * outside the rings and its own buffers. Each case runs in a fork of its
 * own, so the modules' static state starts fresh every time. Time is
 * fake: each look at the clock is a millisecond later, and a wait with a
 * deadline that nothing ends (the backend makes no move) lasts until the
 * deadline, so the guest's timeouts run at once. A guest that would wait
 * forever for a backend that never answers is stopped by the fake
 * pvboot_yield() after a bounded number of waits (that is a hang, not a
 * corruption, and is counted as "waits").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xen_guest.h"
#include <xen/grant_table.h>
#include <xen/hvm/params.h>
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>
#include <xen/memory.h>

void xen_store_init(void);
void xen_console_init(void);
void xen_gnttab_init(void);

// ---- what pvboot and the rest of the Xen module would provide -------------

static struct xenstore_domain_interface *store;
static struct xencons_interface *console;
static int messages;
static char last_message[512];

void pvboot_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof(last_message), fmt, ap);
    va_end(ap);
    printf("  guest says: %s", last_message);
    messages++;
}

bool xen_present(void) {
    return true;
}

uint64_t xen_hvm_param(unsigned index) {
    switch (index) {
        case HVM_PARAM_STORE_PFN:
            return (uintptr_t)store >> 12;
        case HVM_PARAM_CONSOLE_PFN:
            return (uintptr_t)console >> 12;
        default:
            return 1; // event channel ports
    }
}

void xen_evtchn_bind(evtchn_port_t port, xen_evtchn_handler_t handler, void *arg) {
    (void)port;
    (void)handler;
    (void)arg;
}

// What xenconsoled does when the guest notifies it, in the random console
// cases: take some output, sanely or not; after many notifications, all of
// it (the guest waits for room, as it must not lose output).
static bool console_backend_random;
static unsigned notifications;
static unsigned rnd(void);

void xen_evtchn_notify(evtchn_port_t port) {
    (void)port;
    if (console_backend_random && console != NULL) {
        if (++notifications % 64 == 0) {
            console->out_cons = console->out_prod;
        } else if (rnd() % 2) {
            console->out_cons += rnd() % 64;
        } else {
            console->out_cons = rnd();
        }
    }
}

// Where gnttab.c's table is: it asks Xen to map the grant frames over it.
static grant_entry_v1_t *gnttab_table;

long pvboot_xen_hypercall(unsigned op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
    (void)a3, (void)a4, (void)a5;
    if (op == __HYPERVISOR_memory_op && a1 == XENMEM_add_to_physmap) {
        const struct xen_add_to_physmap *map = (const void *)(uintptr_t)a2;
        if (map->idx == 0) {
            gnttab_table = (grant_entry_v1_t *)(uintptr_t)(map->gpfn << 12);
        }
    }
    return 0;
}

// Sealed images map the rings' pages through pvboot; here memory is flat.
volatile void *pvboot_shared_map(uint64_t phys, size_t size) {
    (void)size;
    return (volatile void *)(uintptr_t)phys;
}

static pvboot_console_t *registered;
static char input[8192];
static size_t input_len, input_room = 64;

void pvboot_console_register(pvboot_console_t *c) {
    registered = c;
}

void pvboot_console_input(const char *buf, size_t len) {
    if (len > input_room || input_len + len > sizeof(input)) {
        printf("  input beyond the room given\n");
        exit(3);
    }
    memcpy(input + input_len, buf, len);
    input_len += len;
    input_room -= len;
}

size_t pvboot_console_room(void) {
    return input_room;
}

// The backend's move each time the guest waits; false: it has none left.
static bool (*backend)(void);
static jmp_buf gave_up;
static unsigned waits;
#define MAX_WAITS (200)

static uint64_t fake_now;

uint64_t pvboot_clock_monotonic(void) {
    fake_now += 1000000;
    return fake_now;
}

void pvboot_yield(uint64_t deadline_ns) {
    if (backend == NULL || !backend()) {
        if (deadline_ns != UINT64_MAX && fake_now < deadline_ns) {
            fake_now = deadline_ns; // halted until the deadline
        }
        if (++waits > MAX_WAITS) {
            longjmp(gave_up, 1);
        }
    }
}

// ---- checks ---------------------------------------------------------------

static int failures, checks;

#define CHECK(cond) do { \
        if (!(cond)) { \
            printf("  check failed: %s (line %d)\n", #cond, __LINE__); \
            exit(1); \
        } \
} while (0)

// Run body() in a child: a fresh copy of every static, and an ASan report
// or an exit in the child is a failure of this case alone.
static void run_case(const char *name, void (*body)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        store = aligned_alloc(4096, 4096);
        console = aligned_alloc(4096, 4096);
        memset(store, 0, 4096);
        memset(console, 0, 4096);
        body();
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    checks++;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %s\n", name);
    } else {
        failures++;
        printf("FAIL %s (status %d)\n", name, status);
    }
}

// ---- xenstore ---------------------------------------------------------------

static void rsp_put(const void *data, size_t len) {
    const char *p = data;
    for (size_t i = 0; i < len; i++) {
        store->rsp[MASK_XENSTORE_IDX(store->rsp_prod + i)] = p[i];
    }
    store->rsp_prod += (XENSTORE_RING_IDX)len;
}

// A header claiming header_len bytes, followed by what fits of body.
static void reply_raw(uint32_t type, uint32_t req_id, uint32_t header_len, const char *body, size_t body_len) {
    struct xsd_sockmsg h = { .type = type, .req_id = req_id, .len = header_len };
    rsp_put(&h, sizeof(h));
    rsp_put(body, body_len < XENSTORE_RING_SIZE - sizeof(h) ? body_len : XENSTORE_RING_SIZE - sizeof(h));
}

static void reply(uint32_t type, uint32_t req_id, const char *body, uint32_t len) {
    reply_raw(type, req_id, len, body, len);
}

static char filler[XENSTORE_RING_SIZE];

// A well-behaved xenstored: consume the request, answer "value".
static bool good_backend(void) {
    if (store->req_prod == store->req_cons) {
        return false;
    }
    struct xsd_sockmsg h;
    for (size_t i = 0; i < sizeof(h); i++) {
        ((char *)&h)[i] = store->req[MASK_XENSTORE_IDX(store->req_cons + i)];
    }
    store->req_cons = store->req_prod;
    reply(XS_READ, h.req_id, "value", 5);
    return true;
}

static int read_node(char *buf, size_t size) {
    const char *parts[] = { "device/vif/0/state" };
    if (setjmp(gave_up)) {
        return -2; // the guest would still be waiting
    }
    return xen_store_request(XS_READ, parts, 1, buf, size);
}

static void store_good_reply(void) {
    xen_store_init();
    backend = good_backend;
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == 5 && strcmp(buf, "value") == 0);
    CHECK(messages == 0);
}

static void store_request_too_long(void) {
    xen_store_init();
    backend = good_backend;
    static char path[XENSTORE_PAYLOAD_MAX + 10];
    memset(path, 'a', sizeof(path) - 1);
    const char *parts[] = { path };
    char buf[64];
    CHECK(xen_store_request(XS_READ, parts, 1, buf, sizeof(buf)) == -1);
    CHECK(strcmp(buf, "E2BIG") == 0);
    CHECK(store->req_prod == 0); // nothing went onto the ring
}

static uint32_t bad_len;
static bool oversized_backend(void) {
    if (store->req_prod == store->req_cons) {
        return false;
    }
    store->req_cons = store->req_prod;
    memset(filler, 'x', sizeof(filler));
    reply_raw(XS_READ, 1, bad_len, filler, bad_len);
    return true;
}

static void store_reply_too_long(uint32_t len) {
    xen_store_init();
    bad_len = len;
    backend = oversized_backend;
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == -1 && strcmp(buf, "EIO") == 0);
    CHECK(messages == 1 && strstr(last_message, "reply length"));
    // From now on: EIO at once, nothing more read from or written to the ring.
    XENSTORE_RING_IDX req = store->req_prod, rsp = store->rsp_cons;
    CHECK(read_node(buf, sizeof(buf)) == -1 && strcmp(buf, "EIO") == 0);
    CHECK(store->req_prod == req && store->rsp_cons == rsp && messages == 1);
}

static void store_reply_payload_max_plus_1(void) {
    store_reply_too_long(XENSTORE_PAYLOAD_MAX + 1);
}

static void store_reply_4_gib(void) {
    store_reply_too_long(0xffffffffu);
}

static XENSTORE_RING_IDX hostile_prod;
static bool runaway_rsp_backend(void) {
    store->req_cons = store->req_prod;
    store->rsp_prod = hostile_prod;
    return true;
}

static void store_rsp_prod_runs_ahead(XENSTORE_RING_IDX prod) {
    xen_store_init();
    hostile_prod = prod;
    backend = runaway_rsp_backend;
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == -1 && strcmp(buf, "EIO") == 0);
    CHECK(messages == 1 && strstr(last_message, "prod - cons"));
}

static void store_rsp_prod_a_ring_and_a_byte_ahead(void) {
    store_rsp_prod_runs_ahead(XENSTORE_RING_SIZE + 1);
}

static void store_rsp_prod_behind_cons(void) {
    store_rsp_prod_runs_ahead((XENSTORE_RING_IDX)-1);
}

static void store_req_cons_runs_ahead(void) {
    xen_store_init();
    store->req_cons = 0x80000000u; // prod - cons then looks like 2 GiB in flight
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == -1 && strcmp(buf, "EIO") == 0);
    CHECK(messages == 1);
}

static void store_reply_into_a_small_buffer(void) {
    xen_store_init();
    bad_len = 1000; // what fits on the ring in one go
    backend = oversized_backend;
    char buf[8];
    // The body is cut to the buffer; the ring stays in step (the whole body was taken).
    CHECK(read_node(buf, sizeof(buf)) == 7 && strlen(buf) == 7);
    CHECK(store->rsp_cons == store->rsp_prod && messages == 0);
}

static bool events_then_reply_backend(void) {
    if (store->req_prod == store->req_cons) {
        return false;
    }
    store->req_cons = store->req_prod;
    for (int i = 0; i < 3; i++) {
        reply(XS_WATCH_EVENT, 0, "backend/vif/0/state\0tok\0", 24);
    }
    reply(XS_READ, 1, "4", 1);
    return true;
}

static void store_watch_events_are_queued(void) {
    xen_store_init();
    backend = events_then_reply_backend;
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == 1 && buf[0] == '4');
    int n = 0;
    while (xen_store_next_event(buf, 16) > 0) { // a buffer shorter than the event: cut, no overflow
        n++;
    }
    CHECK(n == 3);
}

// The reply first, then a watch event, both on the ring before the guest
// looks: xenstored answered a read and the backend then changed the node.
static bool reply_then_event_backend(void) {
    if (store->req_prod == store->req_cons) {
        return false;
    }
    store->req_cons = store->req_prod;
    reply(XS_READ, 1, "2", 1);
    reply(XS_WATCH_EVENT, 0, "backend/vbd/0/state\0tok\0", 24);
    return true;
}

// The event's interrupt came while the request waited for its reply: a
// caller that waits for the next interrupt before it pumps would sleep past
// the event (on Xen, a blkfront handshake rested until its 10 s deadline).
// So when the request returns, the event must be queued already.
static void store_events_behind_a_reply_are_queued(void) {
    xen_store_init();
    backend = reply_then_event_backend;
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == 1 && buf[0] == '2');
    backend = NULL;
    CHECK(store->rsp_cons == store->rsp_prod);
    CHECK(xen_store_next_event(buf, sizeof(buf)) == 24 && strcmp(buf, "backend/vbd/0/state") == 0);
    CHECK(messages == 0);
}

// Takes the request, never answers.
static unsigned silent_requests;
static bool silent_backend(void) {
    if (store->req_prod != store->req_cons) {
        store->req_cons = store->req_prod;
        silent_requests++;
    }
    return false;
}

static void store_no_answer_times_out(void) {
    xen_store_init();
    backend = silent_backend;
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == -1 && strcmp(buf, "ETIMEDOUT") == 0);
    CHECK(silent_requests == 1 && messages == 1 && strstr(last_message, "no answer from the backend within 10 s"));
    // Nothing of a reply was taken: the store still works, and the late
    // reply to the first request, when it comes, is skipped.
    reply(XS_READ, 1, "late", 4);
    backend = good_backend;
    CHECK(read_node(buf, sizeof(buf)) == 5 && strcmp(buf, "value") == 0);
    CHECK(messages == 1);
}

// Takes the request, answers with half a header, then nothing.
static bool half_header_backend(void) {
    if (store->req_prod == store->req_cons) {
        return false;
    }
    store->req_cons = store->req_prod;
    struct xsd_sockmsg h = { .type = XS_READ, .req_id = 1, .len = 5 };
    rsp_put(&h, sizeof(h) / 2);
    return true;
}

static void store_reply_cut_by_the_timeout_breaks_the_store(void) {
    xen_store_init();
    backend = half_header_backend;
    char buf[64];
    CHECK(read_node(buf, sizeof(buf)) == -1 && strcmp(buf, "EIO") == 0);
    CHECK(messages == 1 && strstr(last_message, "reply cut short by the timeout"));
    backend = good_backend;
    CHECK(read_node(buf, sizeof(buf)) == -1 && strcmp(buf, "EIO") == 0); // out of step: no more requests
}

static void store_pump_hostile_header(void) {
    xen_store_init();
    struct xsd_sockmsg h = { .type = XS_WATCH_EVENT, .len = 0x7fffffff };
    rsp_put(&h, sizeof(h));
    xen_store_pump();
    CHECK(messages == 1 && strstr(last_message, "reply length"));
    xen_store_pump(); // broken: nothing more read
    CHECK(messages == 1 && store->rsp_cons == 0);
}

// Random bytes and indices on both rings, each case in a fork.
static unsigned seed;
static unsigned rnd(void) {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static bool random_backend(void) {
    switch (rnd() % 4) {
        case 0:
            store->req_cons = rnd() % 2 ? store->req_prod : rnd();
            break;
        case 1: {
            uint32_t len = rnd() % 8 == 0 ? rnd() : rnd() % 64;
            reply_raw(rnd() % 2 ? XS_WATCH_EVENT : rnd() % 24, rnd() % 3, len, filler, len < 64 ? len : 64);
            break;
        }
        case 2:
            for (int i = 0; i < 32; i++) {
                store->rsp[rnd() % XENSTORE_RING_SIZE] = (char)rnd();
            }
            break;
        default:
            store->rsp_prod += rnd() % 64;
            break;
    }
    return true;
}

static void store_random_once(void) {
    xen_store_init();
    backend = random_backend;
    for (int i = 0; i < 4; i++) {
        char buf[32];
        int n = read_node(buf, sizeof(buf));
        CHECK(n >= -2 && n < (int)sizeof(buf));
        if (n >= 0) {
            CHECK(strlen(buf) == (size_t)n || memchr(buf, 0, (size_t)n) != NULL);
        }
        xen_store_pump();
        while (xen_store_next_event(buf, sizeof(buf)) > 0) {
        }
    }
}

static void store_random(void) {
    for (unsigned i = 0; i < 500; i++) {
        seed = i * 2654435761u + 1;
        pid_t pid = fork();
        if (pid == 0) {
            fclose(stdout); // quiet: 500 children's lines
            store_random_once();
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

// ---- console ----------------------------------------------------------------

static void console_write_str(const char *s) {
    registered->write(s, strlen(s));
}

static void console_good(void) {
    xen_console_init();
    CHECK(registered != NULL);
    console_write_str("hello");
    CHECK(console->out_prod == 5 && memcmp((const char *)console->out, "hello", 5) == 0);
    memcpy((char *)console->in, "abc", 3);
    console->in_prod = 3;
    void (*resume)(void) = registered->resume;
    resume();
    CHECK(input_len == 3 && memcmp(input, "abc", 3) == 0 && console->in_cons == 3);
}

static void console_input_room_respected(void) {
    xen_console_init();
    memset((char *)console->in, 'x', sizeof(console->in));
    console->in_prod = sizeof(console->in);
    input_room = 10;
    registered->resume();
    CHECK(input_len == 10 && console->in_cons == 10 && messages == 0);
}

static void console_in_prod_runs_ahead(void) {
    xen_console_init();
    console->in_prod = sizeof(console->in) + 1;
    registered->resume();
    CHECK(input_len == 0 && messages == 1 && strstr(last_message, "input prod - cons"));
    console->in_prod = 1; // sane again: the ring stays dropped
    registered->resume();
    CHECK(input_len == 0);
}

static void console_out_cons_runs_ahead(void) {
    xen_console_init();
    console->out_cons = 5000; // prod - cons wraps to ~4 G bytes "in flight"
    console_write_str("hello");
    CHECK(messages == 1 && strstr(last_message, "output prod - cons"));
    CHECK(console->out_prod == 0);
    console_write_str("more"); // dropped quietly from now on
    CHECK(console->out_prod == 0 && messages == 1);
    registered->flush(); // returns at once (pvboot_console_flush calls it before a shutdown)
}

static void console_backend_never_drains(void) {
    xen_console_init();
    static char full[sizeof(console->out)];
    memset(full, 'z', sizeof(full));
    registered->write(full, sizeof(full)); // fills the ring exactly
    CHECK(console->out_prod == sizeof(console->out) && messages == 0);
    uint64_t before = fake_now;
    console_write_str("more"); // no room, and xenconsoled takes nothing
    CHECK(messages == 1 && strstr(last_message, "took no output for 2 s"));
    CHECK(fake_now - before >= 2000000000ULL && fake_now - before < 2100000000ULL); // waited 2 s, no longer
    before = fake_now;
    console_write_str("still more"); // dropped at once, no second wait or line
    CHECK(messages == 1 && fake_now - before < 10000000ULL);
    registered->flush(); // returns at once
    CHECK(fake_now - before < 10000000ULL);
    console->out_cons = console->out_prod; // the backend is back
    console_write_str("back");
    CHECK(console->out_prod == sizeof(console->out) + 4 && messages == 1);
}

static void console_random(void) {
    for (unsigned i = 0; i < 500; i++) {
        seed = i * 40503u + 7;
        pid_t pid = fork();
        if (pid == 0) {
            fclose(stdout);
            console_backend_random = true;
            xen_console_init();
            for (int round = 0; round < 8; round++) {
                console->in_prod = rnd() % 3 ? console->in_cons + rnd() % (2 * sizeof(console->in)) : rnd();
                console->out_cons = rnd() % 3 ? console->out_prod - rnd() % sizeof(console->out) : rnd();
                for (int k = 0; k < 16; k++) {
                    console->in[rnd() % sizeof(console->in)] = (char)rnd();
                }
                input_room = rnd() % 4096;
                registered->resume();
                if (rnd() % 2) {
                    char line[300];
                    memset(line, 'y', sizeof(line));
                    registered->write(line, rnd() % sizeof(line));
                }
                // Whatever is in flight, the guest never takes more than a ring.
                CHECK(input_len <= sizeof(input));
            }
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

// ---- grant table -------------------------------------------------------------

static void gnttab_end_frees_an_unmapped_grant(void) {
    xen_gnttab_init();
    int ref = xen_gnttab_grant(0, 0x1234, false);
    CHECK(ref >= GNTTAB_NR_RESERVED_ENTRIES);
    CHECK(xen_gnttab_end(ref) == 0);
    CHECK(xen_gnttab_grant(0, 0x1235, false) == ref); // reused
}

static void gnttab_end_refuses_a_mapped_grant(void) {
    xen_gnttab_init();
    int ref = xen_gnttab_grant(0, 0x1234, false);
    CHECK(gnttab_table != NULL);
    volatile uint16_t *flags = &gnttab_table[ref].flags;
    CHECK(*flags & GTF_permit_access);
    *flags |= GTF_reading; // the backend maps it
    CHECK(xen_gnttab_end(ref) == -1);
    CHECK(*flags & GTF_permit_access); // still granted
    CHECK(xen_gnttab_grant(0, 0x1235, false) != ref); // not handed out again
    *flags &= (uint16_t)~GTF_reading;
    *flags |= GTF_writing;
    CHECK(xen_gnttab_end(ref) == -1);
    *flags &= (uint16_t)~GTF_writing; // unmapped
    CHECK(xen_gnttab_end(ref) == 0);
    CHECK(xen_gnttab_end(ref) == -1); // twice: refused, not freed twice
    CHECK(xen_gnttab_end(100000) == -1 && xen_gnttab_end(-5) == -1 && xen_gnttab_end(ref + 50) == -1);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    run_case("xenstore: a good reply", store_good_reply);
    run_case("xenstore: a request longer than XENSTORE_PAYLOAD_MAX is refused (E2BIG)", store_request_too_long);
    run_case("xenstore: a reply of XENSTORE_PAYLOAD_MAX + 1 breaks the store (EIO)", store_reply_payload_max_plus_1);
    run_case("xenstore: a reply of 4 GiB breaks the store (EIO)", store_reply_4_gib);
    run_case("xenstore: rsp_prod a ring and a byte ahead", store_rsp_prod_a_ring_and_a_byte_ahead);
    run_case("xenstore: rsp_prod behind rsp_cons", store_rsp_prod_behind_cons);
    run_case("xenstore: req_cons runs ahead of req_prod", store_req_cons_runs_ahead);
    run_case("xenstore: a long reply into a small buffer is cut, ring in step", store_reply_into_a_small_buffer);
    run_case("xenstore: watch events before the reply are queued", store_watch_events_are_queued);
    run_case("xenstore: a watch event behind the reply is queued when the request returns",
        store_events_behind_a_reply_are_queued);
    run_case("xenstore: pump with a header claiming 2 GiB", store_pump_hostile_header);
    run_case("xenstore: no answer: ETIMEDOUT after 10 s, the store still works", store_no_answer_times_out);
    run_case("xenstore: a reply cut short by the timeout breaks the store (EIO)",
        store_reply_cut_by_the_timeout_breaks_the_store);
    run_case("xenstore: 500 random backends", store_random);
    run_case("console: good output and input", console_good);
    run_case("console: input never beyond the receiver's room", console_input_room_respected);
    run_case("console: in_prod a ring and a byte ahead drops the ring", console_in_prod_runs_ahead);
    run_case("console: out_cons ahead of out_prod drops the ring", console_out_cons_runs_ahead);
    run_case("console: a backend that never drains: one line after 2 s, then output dropped", console_backend_never_drains);
    run_case("console: 500 random ring states", console_random);
    run_case("gnttab: an unmapped grant is ended and its reference reused", gnttab_end_frees_an_unmapped_grant);
    run_case("gnttab: a grant the backend maps (GTF_reading/GTF_writing) is not ended", gnttab_end_refuses_a_mapped_grant);
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
