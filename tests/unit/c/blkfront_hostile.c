/*
 * Host-side harness: Xen blkfront's ring parsing (vbd_submit / vbd_poll in
 * modules/xen_blkfront/blkfront.c, included whole so its static functions
 * are reachable) against a backend that breaks the rules. Compiled and run
 * by tests/unit/test_xenring.py under AddressSanitizer and UBSan; one line
 * per check, exit status non-zero on a failure.
 *
 * The "backend" is this program writing the shared ring page directly:
 * response indices running ahead of the requests, ids never asked for, an
 * operation that was not the request's, then random rings. Each must stop
 * the disk with -EIO and one line, never touch memory outside the ring,
 * and leave later requests failing cleanly. A backend that leaves
 * Connected (its state watch fires) fails the request in flight with
 * -ENODEV and the front end says Closed.
 */
#include "blkfront.c"
#include "xen_front_standins.h"

// ---- what the block layer would provide ---------------------------------------

void pyunik_blockdev_register(pyunik_blockdev_t *dev) {
    (void)dev;
}

// ---- checks -----------------------------------------------------------------

// A connected disk with a fresh ring, 11 direct segments, a FLUSH op.
static vbd_t *fresh(void) {
    static vbd_t v;
    static blkif_sring_t *sring;
    if (sring == NULL) {
        sring = pvboot_page_alloc(1);
        v.buffer = pvboot_page_alloc(BUFFER_PAGES);
        v.indirect = pvboot_page_alloc(1);
    }
    uint8_t *buffer = v.buffer;
    struct blkif_request_segment *indirect = v.indirect;
    memset(&v, 0, sizeof(v));
    v.buffer = buffer;
    v.indirect = indirect;
    memset(sring, 0, PAGE_SIZE);
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&v.ring, sring, PAGE_SIZE);
    strcpy(v.path, "device/vbd/51712");
    v.max_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST;
    v.flush_op = BLKIF_OP_FLUSH_DISKCACHE;
    v.blk.priv = &v;
    v.blk.driver = "xen-blkfront";
    v.blk.name = v.path;
    backend_state = XENBUS_STATE_CONNECTED;
    return &v;
}

// The backend answers the request at ring slot `slot`.
static void backend_answers(vbd_t *v, RING_IDX slot, uint64_t id, uint8_t op, int16_t status) {
    blkif_response_t *rsp = RING_GET_RESPONSE(&v->ring, slot);
    rsp->id = id;
    rsp->operation = op;
    rsp->status = status;
}

int main(void) {
    random_state = 12345;
    vbd_t *v = fresh();

    // A well-behaved round trip first: the harness itself must work.
    check(vbd_submit(&v->blk, BLOCKDEV_READ, 8, 4096) == 0, "submit a 4 KiB read");
    check(vbd_poll(&v->blk) == BLOCKDEV_PENDING, "pending until the backend answers");
    backend_answers(v, 0, v->pending_id, BLKIF_OP_READ, BLKIF_RSP_OKAY);
    v->ring.sring->rsp_prod = 1;
    check(vbd_poll(&v->blk) == 0 && !v->blk.dead, "an honest answer completes it");
    check(vbd_submit(&v->blk, BLOCKDEV_WRITE, 0, 512) == 0, "a second request starts");
    backend_answers(v, 1, v->pending_id, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
    v->ring.sring->rsp_prod = 2;
    check(vbd_poll(&v->blk) == -MP_EIO && !v->blk.dead, "a device error is EIO for that request only");

    // Response index beyond the requests.
    v = fresh();
    vbd_submit(&v->blk, BLOCKDEV_READ, 0, 4096);
    v->ring.sring->rsp_prod = 200;
    int before = messages;
    check(vbd_poll(&v->blk) == -MP_EIO && v->blk.dead, "rsp_prod far ahead: EIO, disk dead");
    check(messages == before + 1, "one line says why");
    check(vbd_poll(&v->blk) == -MP_EIO && messages == before + 1, "later polls fail quietly");

    // Response index running backwards (wraps to a huge count).
    v = fresh();
    vbd_submit(&v->blk, BLOCKDEV_READ, 0, 4096);
    v->ring.sring->rsp_prod = (RING_IDX)-5;
    check(vbd_poll(&v->blk) == -MP_EIO && v->blk.dead, "rsp_prod behind rsp_cons: EIO, disk dead");

    // An id that was never asked for, then a stale one.
    v = fresh();
    vbd_submit(&v->blk, BLOCKDEV_READ, 0, 4096);
    backend_answers(v, 0, v->pending_id + 77, BLKIF_OP_READ, BLKIF_RSP_OKAY);
    v->ring.sring->rsp_prod = 1;
    check(vbd_poll(&v->blk) == -MP_EIO && v->blk.dead, "unknown id: EIO, disk dead");
    v = fresh();
    vbd_submit(&v->blk, BLOCKDEV_READ, 0, 4096);
    backend_answers(v, 0, v->pending_id, BLKIF_OP_READ, BLKIF_RSP_OKAY);
    v->ring.sring->rsp_prod = 1;
    vbd_poll(&v->blk);
    vbd_submit(&v->blk, BLOCKDEV_READ, 0, 4096);
    backend_answers(v, 1, v->pending_id - 1, BLKIF_OP_READ, BLKIF_RSP_OKAY);
    v->ring.sring->rsp_prod = 2;
    check(vbd_poll(&v->blk) == -MP_EIO && v->blk.dead, "a repeated (stale) id: EIO, disk dead");

    // The right id with another operation.
    v = fresh();
    vbd_submit(&v->blk, BLOCKDEV_READ, 0, 4096);
    backend_answers(v, 0, v->pending_id, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
    v->ring.sring->rsp_prod = 1;
    check(vbd_poll(&v->blk) == -MP_EIO && v->blk.dead, "a write's answer to a read: EIO, disk dead");

    // A request beyond what the ring takes is refused before it starts.
    v = fresh();
    check(vbd_submit(&v->blk, BLOCKDEV_READ, 0, 12 * PAGE_SIZE) == -MP_EINVAL, "12 pages without indirect: EINVAL");
    check(vbd_submit(&v->blk, BLOCKDEV_READ, 0, 100) == -MP_EINVAL, "not whole sectors: EINVAL");

    // The backend leaves Connected with a request in flight.
    v = fresh();
    vbd_submit(&v->blk, BLOCKDEV_WRITE, 0, 4096);
    backend_state = XENBUS_STATE_CLOSING;
    int closed = closed_said;
    check(vbd_poll(&v->blk) == -MP_ENODEV && v->blk.dead, "backend Closing: the request in flight fails ENODEV");
    check(closed_said == closed + 1, "the front end says Closed once");
    check(vbd_submit(&v->blk, BLOCKDEV_READ, 0, 4096) == -MP_ENODEV && closed_said == closed + 1,
        "a new request fails ENODEV, no second Closed");

    // Random rings: whatever the backend writes, the answer is 0, PENDING or
    // a negative errno, and nothing outside the ring page is touched (ASan).
    int outcomes[3] = { 0, 0, 0 };
    quiet = true;
    for (int round = 0; round < 2000; round++) {
        v = fresh();
        vbd_submit(&v->blk, BLOCKDEV_READ, 0, (1 + next_random() % 11) * PAGE_SIZE);
        RING_IDX prod = next_random() % 4 == 0 ? next_random() : next_random() % 3;
        for (RING_IDX i = 0; i < 3; i++) {
            uint64_t id = next_random() % 2 ? v->pending_id : next_random();
            backend_answers(v, i, id, (uint8_t)(next_random() % 2 ? BLKIF_OP_READ : next_random()),
                (int16_t)(next_random() % 2 ? BLKIF_RSP_OKAY : next_random()));
        }
        v->ring.sring->rsp_prod = prod;
        int r = vbd_poll(&v->blk);
        outcomes[r == 0 ? 0 : r == BLOCKDEV_PENDING ? 1 : 2]++;
        if (r != 0 && r != BLOCKDEV_PENDING && r >= 0) {
            check(0, "a random ring gave a result that is neither 0, PENDING nor -errno");
        }
    }
    quiet = false;
    printf("random rings: %d completed, %d pending, %d failed\n", outcomes[0], outcomes[1], outcomes[2]);
    check(outcomes[0] > 0 && outcomes[2] > 0, "2000 random rings: some complete, some fail, none corrupt memory");

    printf("%d failures\n", failures);
    return failures != 0;
}
