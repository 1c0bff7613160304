/*
 * Xen's blkfront: each vbd of this domain (device/vbd/N in xenstore)
 * becomes a disk of the block-device layer (modules/block/blockdev.h), the
 * same one virtio-blk feeds, so blockdev.Disk, VfsLfs2/VfsFat and the
 * storage plugin do not know which hypervisor this is.
 *
 * The handshake (xen/io/blkif.h, xenbus): wait for the backend's InitWait,
 * grant it one ring page, make an event channel, write ring-ref,
 * event-channel, protocol (x86_64-abi) and feature-persistent (our data
 * pages stay granted for the disk's life) in one transaction, go
 * Initialised, wait for the backend's Connected, then read the geometry
 * (sectors, sector-size, info) and features (feature-flush-cache,
 * feature-barrier, feature-max-indirect-segments) and go Connected.
 *
 * Requests: data goes through BUFFER_PAGES pages granted once; a transfer
 * of up to 11 pages is one direct request (a segment per page), a longer
 * one an indirect request (BLKIF_OP_INDIRECT: the segments in a granted
 * page) when the backend offers enough indirect segments, else the layer
 * is told the most a request moves is 11 pages. Sync is
 * BLKIF_OP_FLUSH_DISKCACHE, or a WRITE_BARRIER when only that is offered.
 * Every index, id and operation the backend writes is checked; a backend
 * that breaks the rules stops the disk with one line, never corrupts memory.
 *
 * A backend that leaves Connected (`xl block-detach`, dom0 closing it): a
 * xenstore watch on its state node (the event arrives on the store's event
 * channel and ends the CPU's rest) is looked at in submit and poll; the
 * request in flight and every later one fail with ENODEV at once (not after
 * the layer's 30 s), the disk is dead, and the front end says Closed so the
 * backend lets go. The pages stay granted and allocated: the backend may
 * still have them mapped, and nothing reuses them.
 */
#include <string.h>

#include "xen_guest.h" // first: it sets the Xen interface version

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xs_wire.h>

#include "py/mperrno.h"
#include "blockdev.h"

#ifndef XEN_BLKFRONT_MAX_DISKS
#define XEN_BLKFRONT_MAX_DISKS (4)
#endif

#define PAGE_SIZE (4096)
#define SECTORS_PER_PAGE (PAGE_SIZE / BLOCKDEV_SECTOR)
// One request's data: as much as virtio-blk moves at once.
#define BUFFER_PAGES (16)
#define HANDSHAKE_MS (10000)
// xen/io/blkif.h: info bits.
#define VDISK_READONLY_BIT (0x4)

typedef struct {
    pyunik_blockdev_t blk;
    char path[32];       // device/vbd/N
    char backend[96];    // /local/domain/0/backend/vbd/D/N
    char backend_state[104]; // its state node, watched while connected
    xen_store_watch_t watch;
    domid_t backend_id;
    blkif_vdev_t handle;
    evtchn_port_t port;
    blkif_front_ring_t ring;
    int ring_ref;
    uint8_t *buffer;     // BUFFER_PAGES pages, granted writable
    grant_ref_t gref[BUFFER_PAGES];
    struct blkif_request_segment *indirect; // one page of segments for indirect requests
    grant_ref_t indirect_ref;
    unsigned max_segments; // per request: 11, or up to BUFFER_PAGES indirect
    uint8_t flush_op;    // FLUSH_DISKCACHE, WRITE_BARRIER, or 0xff (none)
    uint64_t next_id;    // ids of requests, so a stale answer is told apart
    uint64_t pending_id; // the request in flight
    uint8_t pending_op;
    bool in_flight;
} vbd_t;

#define NO_FLUSH (0xff)

static vbd_t vbds[XEN_BLKFRONT_MAX_DISKS];

static void vbd_broken(vbd_t *v, const char *why) {
    if (!v->blk.dead) {
        v->blk.dead = true;
        pvboot_printf("xen-blkfront %s: %s; disk no longer used\n", v->path, why);
    }
}

// True when the backend has left Connected (then the disk is dead, with
// one line, and the front end has said Closed).
static bool backend_left(vbd_t *v) {
    int state = xenbus_watched_state(&v->watch, v->backend_state);
    if (state == XENBUS_STATE_CONNECTED) {
        return false;
    }
    if (!v->blk.dead) {
        v->blk.dead = true;
        pvboot_printf("xen-blkfront %s: backend left Connected (state %d); disk no longer used\n", v->path, state);
        xenbus_front_closed(v->path);
    }
    return true;
}

static void on_event(evtchn_port_t port, void *arg) {
    // Interrupt context: nothing to do. The interrupt ends the CPU's halt
    // and the block layer's wait polls the ring.
    (void)port;
    (void)arg;
}

static int vbd_submit(pyunik_blockdev_t *blk, blockdev_op_t op, uint64_t sector, size_t len) {
    vbd_t *v = blk->priv;
    if (backend_left(v)) {
        return -MP_ENODEV;
    }
    if (v->in_flight || RING_FULL(&v->ring)) {
        // The layer has one request in flight; an older one never answered.
        vbd_broken(v, "a request is still in flight");
        return -MP_EIO;
    }
    if (op == BLOCKDEV_FLUSH && v->flush_op == NO_FLUSH) {
        return 0; // nothing to flush through: the layer does not ask then
    }
    unsigned pages = (unsigned)((len + PAGE_SIZE - 1) / PAGE_SIZE);
    if (pages > v->max_segments || len % BLOCKDEV_SECTOR != 0) {
        return -MP_EINVAL;
    }
    uint64_t id = ++v->next_id;
    uint8_t operation = op == BLOCKDEV_READ ? BLKIF_OP_READ : op == BLOCKDEV_WRITE ? BLKIF_OP_WRITE : v->flush_op;
    blkif_request_t *req = RING_GET_REQUEST(&v->ring, v->ring.req_prod_pvt);
    struct blkif_request_segment *segs = req->seg;
    if (pages > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        blkif_request_indirect_t *ind = (blkif_request_indirect_t *)req;
        ind->operation = BLKIF_OP_INDIRECT;
        ind->indirect_op = operation;
        ind->nr_segments = (uint16_t)pages;
        ind->id = id;
        ind->sector_number = sector;
        ind->handle = v->handle;
        ind->indirect_grefs[0] = v->indirect_ref;
        segs = v->indirect;
    } else {
        req->operation = operation;
        req->nr_segments = (uint8_t)pages;
        req->handle = v->handle;
        req->id = id;
        req->sector_number = op == BLOCKDEV_FLUSH ? 0 : sector;
    }
    size_t left = len;
    for (unsigned i = 0; i < pages; i++) {
        size_t bytes = left < PAGE_SIZE ? left : PAGE_SIZE;
        segs[i].gref = v->gref[i];
        segs[i].first_sect = 0;
        segs[i].last_sect = (uint8_t)(bytes / BLOCKDEV_SECTOR - 1);
        left -= bytes;
    }
    v->ring.req_prod_pvt++;
    v->pending_id = id;
    v->pending_op = operation;
    v->in_flight = true;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&v->ring, notify);
    if (notify) {
        xen_evtchn_notify(v->port);
    }
    return 0;
}

static int vbd_poll(pyunik_blockdev_t *blk) {
    vbd_t *v = blk->priv;
    if (blk->dead) {
        return -MP_EIO;
    }
    if (!v->in_flight) {
        return 0; // a flush with nothing to flush through
    }
    RING_IDX prod = v->ring.sring->rsp_prod;
    xen_rmb();
    // The backend answers at most what was asked: anything else is bogus.
    if (prod - v->ring.rsp_cons > v->ring.req_prod_pvt - v->ring.rsp_cons) {
        vbd_broken(v, "response index beyond the requests");
        return -MP_EIO;
    }
    if (prod == v->ring.rsp_cons) {
        // Nothing yet: ask for an event at the next response, then look
        // once more (it may have come in between).
        v->ring.sring->rsp_event = v->ring.rsp_cons + 1;
        xen_mb();
        if (v->ring.sring->rsp_prod == v->ring.rsp_cons) {
            // No answer: has the backend gone away meanwhile? (Its watch
            // event's interrupt ended the layer's rest.)
            return backend_left(v) ? -MP_ENODEV : BLOCKDEV_PENDING;
        }
        return vbd_poll(blk);
    }
    blkif_response_t *rsp = RING_GET_RESPONSE(&v->ring, v->ring.rsp_cons);
    uint64_t id = rsp->id;
    uint8_t operation = rsp->operation;
    int16_t status = rsp->status;
    v->ring.rsp_cons++;
    if (id != v->pending_id || (operation != v->pending_op && operation != BLKIF_OP_INDIRECT)) {
        vbd_broken(v, "response names a request not in flight");
        return -MP_EIO;
    }
    v->in_flight = false;
    switch (status) {
        case BLKIF_RSP_OKAY:
            return 0;
        case BLKIF_RSP_EOPNOTSUPP:
            if (operation == v->flush_op) {
                // The backend took the feature back (as Linux's does when a
                // barrier fails): say so once, and sync no longer flushes.
                pvboot_printf("xen-blkfront %s: backend refused a flush; sync no longer flushes\n", v->path);
                v->flush_op = NO_FLUSH;
                blk->can_flush = false;
            }
            return -MP_EOPNOTSUPP;
        default:
            return -MP_EIO;
    }
}

static bool grant_pages(vbd_t *v, blkif_sring_t *sring) {
    v->ring_ref = xen_gnttab_grant(v->backend_id, pvboot_dma_addr(sring) >> 12, false);
    if (v->ring_ref < 0) {
        return false;
    }
    for (unsigned i = 0; i < BUFFER_PAGES; i++) {
        int ref = xen_gnttab_grant(v->backend_id, pvboot_dma_addr(v->buffer + (size_t)i * PAGE_SIZE) >> 12, false);
        if (ref < 0) {
            return false;
        }
        v->gref[i] = (grant_ref_t)ref;
    }
    // Writable although the backend only reads it: with persistent grants
    // Linux's blkback maps every grant read-write (and fails on a
    // read-only one).
    int ref = xen_gnttab_grant(v->backend_id, pvboot_dma_addr(v->indirect) >> 12, false);
    v->indirect_ref = (grant_ref_t)ref;
    return ref >= 0;
}

// The geometry and features the backend wrote before going Connected.
static bool read_backend(vbd_t *v) {
    char path[128];
    pyunik_blockdev_t *blk = &v->blk;
    xenbus_join(path, sizeof(path), v->backend, "sector-size");
    unsigned long sector_size = xenbus_read_ulong(path, BLOCKDEV_SECTOR);
    xenbus_join(path, sizeof(path), v->backend, "sectors");
    // In 512-byte units, as Linux's blkback writes it and blkfront reads it
    // (blkif.h says "sector-size" units; both Linux ends use 512).
    unsigned long long sectors = xenbus_read_ulong(path, 0);
    if (sector_size < BLOCKDEV_SECTOR || sector_size > PAGE_SIZE || (sector_size & (sector_size - 1)) != 0) {
        pvboot_printf("xen-blkfront %s: backend gives sector-size %lu (not a power of two from 512 to 4096); "
            "disk not used\n", v->path, sector_size);
        return false;
    }
    if (sectors == 0 || (sectors * BLOCKDEV_SECTOR) % sector_size != 0) {
        pvboot_printf("xen-blkfront %s: backend gives %llu sectors (none, or not whole %lu-byte blocks); "
            "disk not used\n", v->path, sectors, sector_size);
        return false;
    }
    blk->sector_size = (uint32_t)sector_size;
    blk->sectors = sectors;
    xenbus_join(path, sizeof(path), v->backend, "info");
    blk->read_only = (xenbus_read_ulong(path, 0) & VDISK_READONLY_BIT) != 0;
    xenbus_join(path, sizeof(path), v->backend, "feature-flush-cache");
    bool flush = xenbus_read_ulong(path, 0) == 1;
    xenbus_join(path, sizeof(path), v->backend, "feature-barrier");
    bool barrier = xenbus_read_ulong(path, 0) == 1;
    v->flush_op = flush ? BLKIF_OP_FLUSH_DISKCACHE : barrier ? BLKIF_OP_WRITE_BARRIER : NO_FLUSH;
    blk->can_flush = v->flush_op != NO_FLUSH;
    xenbus_join(path, sizeof(path), v->backend, "feature-max-indirect-segments");
    unsigned long indirect = xenbus_read_ulong(path, 0);
    v->max_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        v->max_segments = indirect < BUFFER_PAGES ? (unsigned)indirect : BUFFER_PAGES;
    }
    blk->max_bytes = v->max_segments * PAGE_SIZE;
    return true;
}

static bool vbd_start(vbd_t *v, const char *index) {
    char path[128];
    xenbus_join(v->path, sizeof(v->path), "device/vbd", index);
    xenbus_join(path, sizeof(path), v->path, "backend");
    if (xenbus_read(path, v->backend, sizeof(v->backend)) <= 0) {
        pvboot_printf("xen-blkfront %s: no backend path\n", v->path);
        return false;
    }
    xenbus_join(path, sizeof(path), v->path, "backend-id");
    v->backend_id = (domid_t)xenbus_read_ulong(path, 0);
    xenbus_join(path, sizeof(path), v->path, "virtual-device");
    v->handle = (blkif_vdev_t)xenbus_read_ulong(path, 0);
    xenbus_join(path, sizeof(path), v->backend, "state");
    int state = xenbus_wait_state(path, 1u << XENBUS_STATE_INITWAIT, HANDSHAKE_MS);
    if (state != XENBUS_STATE_INITWAIT) {
        pvboot_printf("xen-blkfront %s: backend never reached InitWait (state %d)\n", v->path, state);
        return false;
    }

    // The ring, the data pages and the indirect page: never the GC heap.
    blkif_sring_t *sring = pvboot_page_alloc(1);
    v->buffer = pvboot_page_alloc(BUFFER_PAGES);
    v->indirect = pvboot_page_alloc(1);
    if (sring == NULL || v->buffer == NULL || v->indirect == NULL) {
        pvboot_printf("xen-blkfront %s: no RAM for the ring; give the domain more memory\n", v->path);
        return false;
    }
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&v->ring, sring, PAGE_SIZE);
    if (!grant_pages(v, sring)) {
        pvboot_printf("xen-blkfront %s: the grant table is full\n", v->path);
        return false;
    }
    v->port = xen_evtchn_alloc_unbound(v->backend_id);
    if (v->port == 0) {
        pvboot_printf("xen-blkfront %s: no event channel\n", v->path);
        return false;
    }
    xen_evtchn_bind(v->port, on_event, v);
    const xenbus_node_t ring_nodes[] = {
        { "ring-ref", NULL, (unsigned long)v->ring_ref },
        { "event-channel", NULL, v->port },
        { "protocol", XEN_IO_PROTO_ABI_X86_64, 0 },
        { "feature-persistent", NULL, 1 },
        { "state", NULL, XENBUS_STATE_INITIALISED },
    };
    if (!xenbus_write_nodes(v->path, ring_nodes, sizeof(ring_nodes) / sizeof(ring_nodes[0]))) {
        pvboot_printf("xen-blkfront %s: could not write the ring reference to xenstore\n", v->path);
        return false;
    }
    xenbus_join(path, sizeof(path), v->backend, "state");
    state = xenbus_wait_state(path, 1u << XENBUS_STATE_CONNECTED | 1u << XENBUS_STATE_CLOSING
        | 1u << XENBUS_STATE_CLOSED, HANDSHAKE_MS);
    if (state != XENBUS_STATE_CONNECTED) {
        pvboot_printf("xen-blkfront %s: backend did not connect (state %d)\n", v->path, state);
        return false;
    }
    if (!read_backend(v)) {
        const xenbus_node_t closing[] = { { "state", NULL, XENBUS_STATE_CLOSING } };
        xenbus_write_nodes(v->path, closing, 1);
        return false;
    }
    const xenbus_node_t connected[] = { { "state", NULL, XENBUS_STATE_CONNECTED } };
    if (!xenbus_write_nodes(v->path, connected, 1)) {
        pvboot_printf("xen-blkfront %s: could not write state Connected\n", v->path);
        return false;
    }
    xenbus_join(v->backend_state, sizeof(v->backend_state), v->backend, "state");
    if (!xenbus_watch_state(&v->watch, v->backend_state)) {
        pvboot_printf("xen-blkfront %s: no watch on the backend's state; a detach is seen only by timeout\n",
            v->path);
    }
    pyunik_blockdev_t *blk = &v->blk;
    blk->driver = "xen-blkfront";
    blk->name = v->path;
    blk->priv = v;
    blk->buffer = v->buffer;
    blk->irq = true;
    blk->submit = vbd_submit;
    blk->poll = vbd_poll;
    return true;
}

void xen_blkfront_init(void) {
    if (!xen_present()) {
        return; // plain QEMU: virtio-blk, if the board has it, gives the disks
    }
    // XS_DIRECTORY: the vbd indices, each NUL-terminated.
    char list[160];
    const char *parts[] = { "device/vbd" };
    int n = xen_store_request(XS_DIRECTORY, parts, 1, list, sizeof(list));
    size_t count = 0;
    for (int i = 0; i < n && count < XEN_BLKFRONT_MAX_DISKS; i += (int)strlen(list + i) + 1) {
        if (list[i] == '\0') {
            continue;
        }
        memset(&vbds[count], 0, sizeof(vbds[count])); // what a failed start left
        if (vbd_start(&vbds[count], list + i)) {
            pyunik_blockdev_register(&vbds[count].blk);
            count++;
        }
    }
}
