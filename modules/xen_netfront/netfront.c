/*
 * Xen's netfront: each vif of this domain (device/vif/N in xenstore)
 * becomes a NIC of the netif layer (pyunik_netif.h), the same one virtio-net
 * feeds, so lwIP, sockets and asyncio do not know which hypervisor this is.
 *
 * The handshake (xen/io/netif.h, xenbus): wait for the backend's InitWait,
 * grant it a tx and an rx ring page, make an event channel, write the
 * ring references, the channel, request-rx-copy, feature-rx-notify and
 * feature-no-csum-offload in one transaction (retried on EAGAIN), go
 * Connected and wait for the backend to do the same. Receive: every rx
 * slot has a page granted to the backend, which copies each frame into
 * one (rx-copy); poll() copies it into the stack and posts the slot again.
 * Transmit: a frame is copied into one of the tx slots' pages (granted
 * read-only once) and its request pushed. Every id, offset and length the
 * backend writes is checked before use; a backend that breaks the rules
 * stops this NIC with one line, never corrupts memory.
 *
 * A backend that leaves Connected (`xl network-detach`, dom0 closing it):
 * a xenstore watch on its state node (the event comes on the store's event
 * channel: no timer) is looked at in poll and transmit; the NIC stops, the
 * stack is told it is gone (its connections abort: OSError at once), and
 * the front end says Closed so that the backend lets go of the rings.
 */
#include <string.h>

#include "xen_guest.h" // first: it sets the Xen interface version

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/netif.h>
#include <xen/io/xs_wire.h>

#include "pyunik_netif.h"

#define PAGE_SIZE (4096)
#define MAX_VIFS (4)
// Slots with a page each; the rings have 256 entries, of which only these
// are used (1 MiB per direction would not fit a small domU).
#define TX_SLOTS (64)
#define RX_SLOTS (64)
#define HANDSHAKE_MS (10000)
#define ENOSPC (28)
#define EIO (5)

typedef struct {
    pyunik_nic_t nic;
    char path[32];       // device/vif/N
    char backend[96];    // /local/domain/0/backend/vif/D/N
    char backend_state[104]; // its state node, watched while connected
    xen_store_watch_t watch;
    domid_t backend_id;
    evtchn_port_t port;
    int tx_ring_ref;
    int rx_ring_ref;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    uint8_t *tx_pages;   // TX_SLOTS pages, granted read-only
    uint8_t *rx_pages;   // RX_SLOTS pages, granted writable
    grant_ref_t tx_gref[TX_SLOTS];
    grant_ref_t rx_gref[RX_SLOTS];
    uint16_t tx_free[TX_SLOTS]; // a stack of free tx slot ids
    unsigned tx_free_count;
    bool tx_busy[TX_SLOTS];
    bool broken;
    volatile bool interrupted;
} vif_t;

static vif_t vifs[MAX_VIFS];

static void vif_broken(vif_t *v, const char *why) {
    if (!v->broken) {
        v->broken = true;
        v->nic.link_up = false;
        pvboot_printf("xen-netfront %s: %s; this NIC is stopped\n", v->path, why);
    }
}

// True when the backend has left Connected (then the NIC is stopped and
// gone, with one line, and the front end has said Closed).
static bool backend_left(vif_t *v) {
    int state = xenbus_watched_state(&v->watch, v->backend_state);
    if (state == XENBUS_STATE_CONNECTED) {
        return false;
    }
    if (!v->nic.gone) {
        v->nic.gone = true;
        vif_broken(v, state == 0 ? "backend gone" : state == XENBUS_STATE_CLOSING ? "backend Closing"
            : state == XENBUS_STATE_CLOSED ? "backend Closed" : "backend left Connected");
        xenbus_front_closed(v->path);
    }
    return true;
}

static void on_event(evtchn_port_t port, void *arg) {
    (void)port;
    ((vif_t *)arg)->interrupted = true;
}

static void post_rx(vif_t *v, uint16_t id) {
    netif_rx_request_t *req = RING_GET_REQUEST(&v->rx, v->rx.req_prod_pvt);
    req->id = id;
    req->gref = v->rx_gref[id];
    v->rx.req_prod_pvt++;
}

static void reclaim_tx(vif_t *v) {
    RING_IDX prod = v->tx.sring->rsp_prod;
    xen_rmb();
    // The backend answers at most what was asked: anything else is bogus.
    if (prod - v->tx.rsp_cons > v->tx.req_prod_pvt - v->tx.rsp_cons) {
        vif_broken(v, "tx response index beyond the requests");
        return;
    }
    for (RING_IDX i = v->tx.rsp_cons; i != prod; i++) {
        netif_tx_response_t *rsp = RING_GET_RESPONSE(&v->tx, i);
        uint16_t id = rsp->id;
        if (id >= TX_SLOTS || !v->tx_busy[id]) {
            vif_broken(v, "tx response names a slot not in flight");
            return;
        }
        v->tx_busy[id] = false;
        v->tx_free[v->tx_free_count++] = id;
    }
    v->tx.rsp_cons = prod;
}

static int vif_transmit(pyunik_nic_t *nic, const void *frame, size_t len) {
    vif_t *v = nic->driver;
    if (v->broken || backend_left(v)) {
        return -EIO;
    }
    if (len > PAGE_SIZE) {
        return -EIO;
    }
    reclaim_tx(v);
    if (v->tx_free_count == 0 || RING_FULL(&v->tx)) {
        return -ENOSPC; // lwIP drops the frame; TCP retransmits
    }
    uint16_t id = v->tx_free[--v->tx_free_count];
    v->tx_busy[id] = true;
    pyunik_frame_copy(frame, v->tx_pages + (size_t)id * PAGE_SIZE, 0, len);
    netif_tx_request_t *req = RING_GET_REQUEST(&v->tx, v->tx.req_prod_pvt);
    req->gref = v->tx_gref[id];
    req->offset = 0;
    req->flags = 0; // checksums are complete: lwIP computes them
    req->id = id;
    req->size = (uint16_t)len;
    v->tx.req_prod_pvt++;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&v->tx, notify);
    if (notify) {
        xen_evtchn_notify(v->port);
    }
    return 0;
}

static void vif_poll(pyunik_nic_t *nic) {
    vif_t *v = nic->driver;
    v->interrupted = false;
    if (v->broken || backend_left(v)) {
        return;
    }
    int more;
    unsigned budget = 2 * RX_SLOTS;
    do {
        RING_IDX prod = v->rx.sring->rsp_prod;
        xen_rmb();
        if (prod - v->rx.rsp_cons > v->rx.req_prod_pvt - v->rx.rsp_cons) {
            vif_broken(v, "rx response index beyond the requests");
            return;
        }
        for (RING_IDX i = v->rx.rsp_cons; i != prod && budget > 0; i++, budget--) {
            netif_rx_response_t *rsp = RING_GET_RESPONSE(&v->rx, i);
            uint16_t id = rsp->id;
            if (id >= RX_SLOTS) {
                vif_broken(v, "rx response names an unknown slot");
                return;
            }
            int16_t status = rsp->status;
            uint16_t offset = rsp->offset;
            // A frame spanning pages (more_data) or carrying extra info
            // was not asked for (no feature-sg, no GSO): dropped.
            if (status > 0 && (uint32_t)offset + (uint32_t)status <= PAGE_SIZE
                && !(rsp->flags & (NETRXF_more_data | NETRXF_extra_info))) {
                pyunik_netif_input(nic, v->rx_pages + (size_t)id * PAGE_SIZE + offset, (size_t)status);
            }
            v->rx.rsp_cons = i + 1;
            post_rx(v, id);
        }
        int notify;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&v->rx, notify);
        if (notify) {
            xen_evtchn_notify(v->port);
        }
        if (budget == 0) {
            nic->busy = true;
            break;
        }
        nic->busy = false;
        RING_FINAL_CHECK_FOR_RESPONSES(&v->rx, more);
    } while (more);
    reclaim_tx(v);
}

static bool parse_mac(const char *text, uint8_t mac[6]) {
    for (int i = 0; i < 6; i++) {
        unsigned byte = 0;
        for (int k = 0; k < 2; k++) {
            char c = *text++;
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
            if (d == 16) {
                return false;
            }
            byte = byte * 16 + d;
        }
        mac[i] = (uint8_t)byte;
        if (i < 5 && *text++ != ':') {
            return false;
        }
    }
    return *text == '\0';
}

// The ring references, the event channel and the features, then
// Connected, in one transaction (xenbus_write_nodes retries it on EAGAIN).
static bool publish(vif_t *v) {
    const xenbus_node_t nodes[] = {
        { "tx-ring-ref", NULL, (unsigned long)v->tx_ring_ref },
        { "rx-ring-ref", NULL, (unsigned long)v->rx_ring_ref },
        { "event-channel", NULL, v->port },
        { "request-rx-copy", NULL, 1 },
        { "feature-rx-notify", NULL, 1 },
        { "feature-no-csum-offload", NULL, 1 },
        { "state", NULL, XENBUS_STATE_CONNECTED },
    };
    return xenbus_write_nodes(v->path, nodes, sizeof(nodes) / sizeof(nodes[0]));
}

static bool vif_start(vif_t *v, const char *index) {
    char path[128], value[96];
    xenbus_join(v->path, sizeof(v->path), "device/vif", index);
    xenbus_join(path, sizeof(path), v->path, "backend");
    if (xenbus_read(path, v->backend, sizeof(v->backend)) <= 0) {
        pvboot_printf("xen-netfront %s: no backend path\n", v->path);
        return false;
    }
    xenbus_join(path, sizeof(path), v->path, "backend-id");
    v->backend_id = (domid_t)xenbus_read_ulong(path, 0);
    xenbus_join(path, sizeof(path), v->path, "mac");
    if (xenbus_read(path, value, sizeof(value)) <= 0 || !parse_mac(value, v->nic.mac)) {
        pvboot_printf("xen-netfront %s: no valid mac in xenstore\n", v->path);
        return false;
    }
    xenbus_join(path, sizeof(path), v->backend, "state");
    int state = xenbus_wait_state(path, 1u << XENBUS_STATE_INITWAIT | 1u << XENBUS_STATE_CONNECTED, HANDSHAKE_MS);
    if (state != XENBUS_STATE_INITWAIT && state != XENBUS_STATE_CONNECTED) {
        pvboot_printf("xen-netfront %s: backend never reached InitWait (state %d)\n", v->path, state);
        return false;
    }
    xenbus_join(path, sizeof(path), v->backend, "feature-rx-copy");
    if (xenbus_read_ulong(path, 0) != 1) {
        pvboot_printf("xen-netfront %s: backend cannot copy into our pages (no feature-rx-copy)\n", v->path);
        return false;
    }

    // Rings and slot pages, never on the GC heap; grants to the backend.
    netif_tx_sring_t *txs = pvboot_page_alloc(1);
    netif_rx_sring_t *rxs = pvboot_page_alloc(1);
    v->tx_pages = pvboot_page_alloc(TX_SLOTS);
    v->rx_pages = pvboot_page_alloc(RX_SLOTS);
    if (txs == NULL || rxs == NULL || v->tx_pages == NULL || v->rx_pages == NULL) {
        pvboot_printf("xen-netfront %s: no RAM for rings; give the domain more memory\n", v->path);
        return false;
    }
    SHARED_RING_INIT(txs);
    FRONT_RING_INIT(&v->tx, txs, PAGE_SIZE);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&v->rx, rxs, PAGE_SIZE);
    int tx_ref = xen_gnttab_grant(v->backend_id, pvboot_dma_addr(txs) >> 12, false);
    int rx_ref = xen_gnttab_grant(v->backend_id, pvboot_dma_addr(rxs) >> 12, false);
    bool granted = tx_ref >= 0 && rx_ref >= 0;
    for (unsigned i = 0; i < TX_SLOTS && granted; i++) {
        int ref = xen_gnttab_grant(v->backend_id, pvboot_dma_addr(v->tx_pages + (size_t)i * PAGE_SIZE) >> 12, true);
        granted = ref >= 0;
        v->tx_gref[i] = (grant_ref_t)ref;
        v->tx_free[v->tx_free_count++] = (uint16_t)i;
    }
    for (unsigned i = 0; i < RX_SLOTS && granted; i++) {
        int ref = xen_gnttab_grant(v->backend_id, pvboot_dma_addr(v->rx_pages + (size_t)i * PAGE_SIZE) >> 12, false);
        granted = ref >= 0;
        v->rx_gref[i] = (grant_ref_t)ref;
    }
    if (!granted) {
        pvboot_printf("xen-netfront %s: the grant table is full\n", v->path);
        return false;
    }
    v->port = xen_evtchn_alloc_unbound(v->backend_id);
    if (v->port == 0) {
        pvboot_printf("xen-netfront %s: no event channel\n", v->path);
        return false;
    }
    xen_evtchn_bind(v->port, on_event, v);
    for (unsigned i = 0; i < RX_SLOTS; i++) {
        post_rx(v, (uint16_t)i);
    }
    RING_PUSH_REQUESTS(&v->rx);

    v->tx_ring_ref = tx_ref;
    v->rx_ring_ref = rx_ref;
    if (!publish(v)) {
        pvboot_printf("xen-netfront %s: could not write the ring references to xenstore\n", v->path);
        return false;
    }
    xenbus_join(path, sizeof(path), v->backend, "state");
    state = xenbus_wait_state(path, 1u << XENBUS_STATE_CONNECTED | 1u << XENBUS_STATE_CLOSING
        | 1u << XENBUS_STATE_CLOSED, HANDSHAKE_MS);
    if (state != XENBUS_STATE_CONNECTED) {
        pvboot_printf("xen-netfront %s: backend did not connect (state %d)\n", v->path, state);
        return false;
    }
    xen_evtchn_notify(v->port);
    xenbus_join(v->backend_state, sizeof(v->backend_state), v->backend, "state");
    if (!xenbus_watch_state(&v->watch, v->backend_state)) {
        pvboot_printf("xen-netfront %s: no watch on the backend's state; a detach is not seen\n", v->path);
    }

    pyunik_nic_t *nic = &v->nic;
    nic->name = v->path;
    nic->driver = v;
    nic->mtu = 1500;
    nic->link_up = true;
    nic->transmit = vif_transmit;
    nic->poll = vif_poll;
    pyunik_nic_register(nic);
    return true;
}

void xen_netfront_init(void) {
    if (!xen_present()) {
        return; // plain QEMU: virtio-net, if the board has it, is the NIC
    }
    // XS_DIRECTORY: the vif indices, each NUL-terminated.
    char list[128];
    const char *parts[] = { "device/vif" };
    int n = xen_store_request(XS_DIRECTORY, parts, 1, list, sizeof(list));
    size_t count = 0;
    for (int i = 0; i < n && count < MAX_VIFS; i += (int)strlen(list + i) + 1) {
        if (list[i] != '\0' && vif_start(&vifs[count], list + i)) {
            count++;
        }
    }
}
