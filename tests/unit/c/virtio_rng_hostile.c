/*
 * Host-side harness: the virtio-rng driver (modules/virtio_rng/virtio_rng.c,
 * included whole) on the real virtio core (virtqueue.c, virtio.c) against a
 * device that breaks the rules, through the entropy device it registers
 * with pvboot. Compiled and run by tests/unit/test_virtqueue.py under ASan
 * and UBSan; prints one line per check and exits non-zero on a failure.
 *
 * The "device" is this program: when the driver waits (pvboot_yield) it
 * takes the posted request from the available ring and answers in the used
 * ring as a good, short, silent, buggy or hostile device would. Every read
 * must return at most what was asked, copy only what the device said it
 * wrote, end a wrong id or an oversized length with one line and -1, and
 * end a device that never answers within the timeout with one line and -1,
 * never a hang.
 */
#include "virtio_rng.c"
#include "harness_standins.h"

// ---- what pvboot would provide besides (harness_standins.h) --------------------

static const pvboot_entropy_device_t *registered;
void pvboot_entropy_register(const pvboot_entropy_device_t *device) {
    registered = device;
}

// ---- the device -----------------------------------------------------------------

typedef enum {
    GOOD,          // fills the whole buffer
    SHORT,         // 7 bytes of it
    ZERO_THEN_GOOD,// nothing at first, then the whole buffer
    WRONG_ID,      // names a descriptor that is not the request's head
    ID_OUT_OF_RANGE,
    HUGE_LENGTH,   // says 1 MiB for a buffer of at most a page
    INDEX_AHEAD,   // moves the used index 100 entries ahead
    SILENT,        // never answers
    RANDOM,        // random id, length and index step
} behaviour_t;

static behaviour_t behaviour;
static uint16_t seen_avail; // requests taken from the available ring
static unsigned zero_answers;
static unsigned yields;
static uint64_t now_ns;
static bool irq_routable = true;
static void used(virtq_t *vq, uint32_t id, uint32_t len, uint16_t step) {
    uint16_t at = vq->used_header[1];
    vq->used_ring[at & (vq->size - 1)].id = id;
    vq->used_ring[at & (vq->size - 1)].len = len;
    vq->used_header[1] = (uint16_t)(at + step);
}

// The device writes at most the buffer the descriptor gives (a DMA engine
// could write anywhere; what the guest must not do is trust its lengths).
static void fill(volatile struct virtq_desc *d, uint32_t n) {
    uint32_t len = n < d->len ? n : d->len;
    for (uint32_t i = 0; i < len; i++) {
        ((uint8_t *)(uintptr_t)d->addr)[i] = (uint8_t)(0xa5 ^ i);
    }
}

// Returns whether it answered.
static bool device_acts(void) {
    virtq_t *vq = &rng.vq;
    if (vq->avail[1] == seen_avail || behaviour == SILENT) {
        return false;
    }
    uint16_t head = vq->avail[2 + (seen_avail & (vq->size - 1))];
    seen_avail++;
    volatile struct virtq_desc *d = &vq->desc[head & (vq->size - 1)];
    switch (behaviour) {
        case GOOD:
            fill(d, d->len);
            used(vq, head, d->len, 1);
            break;
        case SHORT:
            fill(d, 7);
            used(vq, head, 7, 1);
            break;
        case ZERO_THEN_GOOD:
            if (zero_answers++ < 3) {
                used(vq, head, 0, 1);
            } else {
                fill(d, d->len);
                used(vq, head, d->len, 1);
            }
            break;
        case WRONG_ID:
            used(vq, (head + 1u) & (vq->size - 1), 8, 1);
            break;
        case ID_OUT_OF_RANGE:
            used(vq, 60000, 8, 1);
            break;
        case HUGE_LENGTH:
            fill(d, d->len);
            used(vq, head, 1u << 20, 1);
            break;
        case INDEX_AHEAD:
            used(vq, head, 8, 100);
            break;
        case RANDOM: {
            uint32_t len = next_random() % 8192;
            fill(d, len);
            uint32_t id = next_random() % 4 == 0 ? next_random() % 16 : head;
            used(vq, id, len, (uint16_t)(next_random() % 4));
            break;
        }
        case SILENT:
            return false;
    }
    return true;
}

// ---- what the virtio transport and the clock would provide ------------------------

static uint8_t status;
static uint64_t fake_get_features(virtio_dev_t *dev) {
    (void)dev;
    return VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
}
static void fake_set_features(virtio_dev_t *dev, uint64_t features) {
    (void)dev, (void)features;
}
static uint8_t fake_get_status(virtio_dev_t *dev) {
    (void)dev;
    return status;
}
static void fake_set_status(virtio_dev_t *dev, uint8_t s) {
    (void)dev;
    status = s;
}
static unsigned fake_queue_max(virtio_dev_t *dev, unsigned index) {
    (void)dev;
    return index == 0 ? 64 : 0;
}
static int fake_queue_enable(virtio_dev_t *dev, virtq_t *vq) {
    (void)dev;
    static uint32_t notify_reg;
    vq->notify = &notify_reg;
    return 0;
}
static int fake_irq_attach(virtio_dev_t *dev) {
    (void)dev;
    return irq_routable ? 0 : -1;
}
static void fake_notify(virtq_t *vq) {
    (void)vq;
}
static const virtio_transport_t fake = {
    .get_features = fake_get_features,
    .set_features = fake_set_features,
    .get_status = fake_get_status,
    .set_status = fake_set_status,
    .queue_max = fake_queue_max,
    .queue_enable = fake_queue_enable,
    .irq_attach = fake_irq_attach,
    .notify = fake_notify,
};

void virtio_mmio_probe(void) {
    virtio_dev_t *dev = virtio_new_device(&fake, VIRTIO_ID_RNG);
    strcpy(dev->name, "virtio-mmio@fake");
}

void virtio_pci_probe(void) {
}

uint64_t pvboot_clock_monotonic(void) {
    return now_ns;
}

// The driver waits: the device gets its turn. An answer is an interrupt
// 10 us later; without one the halt lasts until the deadline (or a poll's).
void pvboot_yield(uint64_t deadline_ns) {
    yields++;
    if (device_acts()) {
        now_ns += 10000;
    } else {
        now_ns = deadline_ns;
    }
}

// ---- checks -------------------------------------------------------------------------

// A healthy driver on a fresh queue: what a test broke is mended here.
static void fresh(behaviour_t b) {
    if (rng.dev != NULL) {
        rng.dev->broken = false;
    }
    memset(&rng, 0, sizeof(rng));
    registered = NULL;
    behaviour = b;
    seen_avail = 0;
    zero_answers = 0;
    yields = 0;
    virtio_rng_init();
    if (registered == NULL) {
        printf("FAIL the driver registered no entropy device\n");
        exit(2);
    }
}

static bool pattern(const uint8_t *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != (uint8_t)(0xa5 ^ i)) {
            return false;
        }
    }
    return true;
}

// Reads len bytes into a buffer of exactly len (ASan sees any byte past it).
static int read_exact(size_t len, uint8_t **out) {
    uint8_t *buf = malloc(len);
    memset(buf, 0, len);
    int n = registered->read(buf, len);
    *out = buf;
    return n;
}

int main(void) {
    random_state = 2463534242u;
    uint8_t *buf;
    int n;

    fresh(GOOD);
    check(strcmp(registered->name, "virtio-rng") == 0, "the driver registers itself as \"virtio-rng\"");
    n = read_exact(64, &buf);
    check(n == 64 && pattern(buf, 64), "a good device: 64 bytes asked, 64 of the device's bytes");
    free(buf);
    n = read_exact(10000, &buf);
    check(n == 4096 && pattern(buf, 4096), "10000 asked: one page at a time (4096)");
    free(buf);

    fresh(SHORT);
    n = read_exact(64, &buf);
    check(n == 7 && pattern(buf, 7) && buf[7] == 0, "a short answer: 7 bytes, only those copied");
    free(buf);

    fresh(ZERO_THEN_GOOD);
    n = read_exact(32, &buf);
    check(n == 32 && pattern(buf, 32) && zero_answers == 4, "empty answers are asked again, then 32 bytes");
    free(buf);

    int before = messages;
    fresh(WRONG_ID);
    n = read_exact(16, &buf);
    check(n == -1 && messages == before + 1 && strstr(last_message, "not outstanding") != NULL,
        "an answer naming another descriptor: -1 and one line");
    check(registered->read(buf, 16) == -1 && messages == before + 1, "then every read is -1, no more lines");
    free(buf);

    before = messages;
    fresh(ID_OUT_OF_RANGE);
    n = read_exact(16, &buf);
    check(n == -1 && messages == before + 1, "id 60000 in a ring of 4: -1 and one line");
    free(buf);

    before = messages;
    fresh(HUGE_LENGTH);
    n = read_exact(16, &buf);
    check(n == -1 && messages == before + 1 && strstr(last_message, "exceeds the buffers") != NULL,
        "1 MiB claimed for a 16-byte request: -1 and one line, nothing copied");
    free(buf);

    before = messages;
    fresh(INDEX_AHEAD);
    n = read_exact(16, &buf);
    check(n == -1 && messages == before + 1, "a used index 100 ahead: -1 and one line");
    free(buf);

    before = messages;
    fresh(SILENT);
    uint64_t started = now_ns;
    n = read_exact(16, &buf);
    check(n == -1 && messages == before + 1 && strstr(last_message, "no answer in 5000 ms") != NULL,
        "a silent device: -1 and one line");
    check(now_ns - started >= 5000000000ULL && now_ns - started < 5100000000ULL && yields < 10,
        "after the 5 s bound (halted until it, not spinning)");
    // It answers after all: into its own page, which nothing reads any more.
    behaviour = GOOD;
    device_acts();
    check(registered->read(buf, 16) == -1 && messages == before + 1 && buf[0] == 0,
        "a late answer is not read: still -1, no more lines");
    free(buf);

    // No interrupt: answers are polled, every millisecond.
    irq_routable = false;
    before = messages;
    fresh(SILENT);
    check(messages == before + 1 && strstr(last_message, "polled") != NULL, "no interrupt routed: one line");
    started = now_ns;
    n = read_exact(8, &buf);
    check(n == -1 && now_ns - started >= 5000000000ULL && yields >= 4999 && yields <= 5001,
        "polled and silent: -1 after 5 s of 1 ms polls");
    free(buf);
    fresh(GOOD);
    n = read_exact(8, &buf);
    check(n == 8 && pattern(buf, 8), "polled and good: 8 bytes");
    free(buf);
    irq_routable = true;

    // A call left in its wait (a soft reset) leaves its request in flight:
    // the next call takes that answer, clamped to what it asks.
    fresh(SILENT);
    virtq_buf_t b = { pvboot_dma_addr(rng.page), 512, true };
    virtq_add(&rng.vq, &b, 1, &rng);
    rng.asked = 512;
    behaviour = GOOD;
    n = read_exact(20, &buf);
    check(n == 20 && pattern(buf, 20), "an earlier 512-byte request answered: 20 bytes copied for 20 asked");
    free(buf);

    // Random answers: whatever the device does, a read returns -1 or
    // 1..asked bytes, all of them the device's, and never hangs.
    quiet = true;
    int bad = 0;
    for (int round = 0; round < 2000; round++) {
        fresh(RANDOM);
        size_t len = 1 + next_random() % 6000;
        n = read_exact(len, &buf);
        size_t want = len < 4096 ? len : 4096;
        if (!(n == -1 || (n >= 1 && (size_t)n <= want && pattern(buf, (size_t)n)))) {
            bad++;
        }
        if (yields > 10000) {
            bad++;
        }
        free(buf);
    }
    quiet = false;
    check(bad == 0, "2000 random devices: -1 or 1..asked of the device's bytes, bounded waits");

    printf("%d failures, %d guest messages\n", failures, messages);
    return failures != 0;
}
