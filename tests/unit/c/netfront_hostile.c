/*
 * Host-side harness: Xen netfront's ring parsing (vif_poll, reclaim_tx and
 * vif_transmit in modules/xen_netfront/netfront.c, included whole so its
 * static functions are reachable) against a backend that breaks the rules.
 * Compiled and run by tests/unit/test_xenring.py under AddressSanitizer and
 * UBSan; one line per check, exit status non-zero on a failure.
 *
 * The "backend" is this program writing the rx and tx rings directly:
 * indices running ahead, slot ids out of range or not in flight, offsets and
 * lengths beyond the page, flags for frames that were not asked for, then
 * random rings. A bad index or id stops the NIC with one line; a bad frame
 * is dropped; nothing outside the rings and slot pages is ever touched. A
 * backend that leaves Connected makes the NIC gone (the stack aborts its
 * connections) and the front end says Closed.
 */
#include "netfront.c"
#include "xen_front_standins.h"

// ---- what the netif layer would provide ---------------------------------------

static size_t frames_in, last_len;

void pyunik_netif_input(pyunik_nic_t *nic, const void *data, size_t len) {
    (void)nic;
    // Read every byte, as the stack's copy would: ASan sees any overrun.
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += ((const uint8_t *)data)[i];
    }
    frames_in++;
    last_len = len;
}

size_t pyunik_frame_copy(const void *frame, void *dst, size_t off, size_t len) {
    memcpy(dst, (const uint8_t *)frame + off, len);
    return len;
}

// Reached only from vif_start, which the harness does not run.
void pyunik_nic_register(pyunik_nic_t *nic) {
    (void)nic;
}

// ---- checks -----------------------------------------------------------------

// A connected vif as vif_start leaves it: every rx slot posted, every tx
// slot free.
static vif_t *fresh(void) {
    static vif_t v;
    static netif_tx_sring_t *txs;
    static netif_rx_sring_t *rxs;
    static uint8_t *tx_pages, *rx_pages;
    if (txs == NULL) {
        txs = pvboot_page_alloc(1);
        rxs = pvboot_page_alloc(1);
        tx_pages = pvboot_page_alloc(TX_SLOTS);
        rx_pages = pvboot_page_alloc(RX_SLOTS);
    }
    memset(&v, 0, sizeof(v));
    memset(txs, 0, PAGE_SIZE);
    memset(rxs, 0, PAGE_SIZE);
    SHARED_RING_INIT(txs);
    FRONT_RING_INIT(&v.tx, txs, PAGE_SIZE);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&v.rx, rxs, PAGE_SIZE);
    v.tx_pages = tx_pages;
    v.rx_pages = rx_pages;
    for (unsigned i = 0; i < TX_SLOTS; i++) {
        v.tx_free[v.tx_free_count++] = (uint16_t)i;
    }
    for (unsigned i = 0; i < RX_SLOTS; i++) {
        post_rx(&v, (uint16_t)i);
    }
    RING_PUSH_REQUESTS(&v.rx);
    strcpy(v.path, "device/vif/0");
    v.nic.name = v.path;
    v.nic.driver = &v;
    v.nic.link_up = true;
    backend_state = XENBUS_STATE_CONNECTED;
    return &v;
}

static void rx_answer(vif_t *v, RING_IDX slot, uint16_t id, uint16_t offset, int16_t status, uint16_t flags) {
    netif_rx_response_t *rsp = RING_GET_RESPONSE(&v->rx, slot);
    rsp->id = id;
    rsp->offset = offset;
    rsp->status = status;
    rsp->flags = flags;
}

int main(void) {
    random_state = 4242;
    static uint8_t frame[1514];
    vif_t *v = fresh();

    // Honest traffic first: the harness itself must work.
    rx_answer(v, 0, 3, 0, 60, 0);
    rx_answer(v, 1, 4, 100, 1514, 0);
    v->rx.sring->rsp_prod = 2;
    vif_poll(&v->nic);
    check(frames_in == 2 && last_len == 1514 && !v->broken, "two honest frames reach the stack");
    check(v->rx.req_prod_pvt == RX_SLOTS + 2, "their slots are posted again");
    check(vif_transmit(&v->nic, frame, 60) == 0 && v->tx_free_count == TX_SLOTS - 1, "a frame goes out");
    netif_tx_response_t *t = RING_GET_RESPONSE(&v->tx, 0);
    t->id = v->tx_free[TX_SLOTS - 1]; // the slot the frame took: the top of the free stack
    t->status = NETIF_RSP_OKAY;
    v->tx.sring->rsp_prod = 1;
    vif_poll(&v->nic);
    check(v->tx_free_count == TX_SLOTS && !v->broken, "its slot comes back");

    // Bad frames are dropped, the NIC goes on.
    v = fresh();
    size_t before = frames_in;
    rx_answer(v, 0, 1, 4000, 200, 0);                 // beyond the page
    rx_answer(v, 1, 2, 0, -1, 0);                     // an error status
    rx_answer(v, 2, 3, 0, 0, 0);                      // empty
    rx_answer(v, 3, 4, 0, 100, NETRXF_more_data);     // a fragment (no feature-sg)
    rx_answer(v, 4, 5, 0, 100, NETRXF_extra_info);    // extra info (no GSO)
    v->rx.sring->rsp_prod = 5;
    vif_poll(&v->nic);
    check(frames_in == before && !v->broken, "frames beyond the page, errors, fragments: dropped, NIC on");

    // Broken rings stop the NIC with one line.
    v = fresh();
    int lines = messages;
    v->rx.sring->rsp_prod = 1000;
    vif_poll(&v->nic);
    check(v->broken && !v->nic.link_up && messages == lines + 1, "rx rsp_prod far ahead: NIC stopped, one line");
    check(vif_transmit(&v->nic, frame, 60) == -EIO, "then transmit fails EIO");
    v = fresh();
    rx_answer(v, 0, RX_SLOTS, 0, 60, 0);
    v->rx.sring->rsp_prod = 1;
    vif_poll(&v->nic);
    check(v->broken, "rx id beyond the slots: NIC stopped");
    v = fresh();
    vif_transmit(&v->nic, frame, 60);
    t = RING_GET_RESPONSE(&v->tx, 0);
    t->id = 7; // a free slot, not in flight
    v->tx.sring->rsp_prod = 1;
    vif_poll(&v->nic);
    check(v->broken && v->tx_free_count == TX_SLOTS - 1, "tx id not in flight: NIC stopped, no slot freed twice");
    v = fresh();
    vif_transmit(&v->nic, frame, 60);
    v->tx.sring->rsp_prod = 5;
    vif_poll(&v->nic);
    check(v->broken, "tx rsp_prod beyond the requests: NIC stopped");
    v = fresh();
    check(vif_transmit(&v->nic, frame, PAGE_SIZE + 1) == -EIO && !v->broken, "a frame beyond a page is refused");

    // The backend leaves Connected.
    v = fresh();
    backend_state = XENBUS_STATE_CLOSED;
    int closed = closed_said;
    vif_poll(&v->nic);
    check(v->nic.gone && v->broken && closed_said == closed + 1, "backend Closed: NIC gone, front end says Closed");
    check(vif_transmit(&v->nic, frame, 60) == -EIO && closed_said == closed + 1, "transmit then fails, once said");

    // Random rings: nothing outside the rings and pages is touched (ASan).
    quiet = true;
    int stopped = 0;
    for (int round = 0; round < 2000; round++) {
        v = fresh();
        for (int k = 0; k < (int)(next_random() % 4); k++) {
            vif_transmit(&v->nic, frame, 60 + next_random() % 1400);
        }
        for (RING_IDX i = 0; i < 8; i++) {
            rx_answer(v, i, (uint16_t)(next_random() % (RX_SLOTS + 8)), (uint16_t)(next_random() % 4200),
                (int16_t)(next_random() % 3 ? next_random() % 2000 : next_random()), (uint16_t)(next_random() % 8));
            netif_tx_response_t *r = RING_GET_RESPONSE(&v->tx, i);
            r->id = (uint16_t)(next_random() % (TX_SLOTS + 8));
        }
        v->rx.sring->rsp_prod = next_random() % 4 == 0 ? next_random() : next_random() % 9;
        v->tx.sring->rsp_prod = next_random() % 4 == 0 ? next_random() : next_random() % 5;
        vif_poll(&v->nic);
        stopped += v->broken;
    }
    quiet = false;
    printf("random rings: %d of 2000 stopped the NIC, %zu frames delivered in all\n", stopped, frames_in);
    check(stopped > 0 && stopped < 2000, "2000 random rings: some stop the NIC, some do not, none corrupt memory");

    printf("%d failures\n", failures);
    return failures != 0;
}
