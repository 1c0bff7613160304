/*
 * Split virtqueues (virtio 1.2, 2.7): the driver's side of the descriptor
 * table, the available ring and the used ring, with VIRTIO_F_EVENT_IDX
 * notification suppression when the device offers it.
 *
 * Indices are free-running 16-bit counters; the ring position is
 * index & (size - 1), so size is a power of two. The used ring is written
 * by the device: its index may move at most `size` ahead of what the driver
 * read, and each entry must name the head of a request the driver posted
 * and not yet got back, with a length no larger than that request offered.
 * Anything else marks the device broken.
 */
#include "virtio.h"

#define DESC_F_NEXT (1)
#define DESC_F_WRITE (2)

#define AVAIL_FLAGS (0)
#define AVAIL_IDX (1)
#define AVAIL_RING (2)
#define AVAIL_F_NO_INTERRUPT (1)
#define USED_FLAGS (0)
#define USED_IDX (1)
#define USED_F_NO_NOTIFY (1)

static inline volatile uint16_t *used_event(virtq_t *vq) {
    return &vq->avail[AVAIL_RING + vq->size];
}

int virtq_add(virtq_t *vq, const virtq_buf_t *bufs, size_t n, void *token) {
    if (vq->dev->broken) {
        return -VIRTIO_EIO;
    }
    if (n == 0 || n > vq->num_free || token == NULL) {
        return -VIRTIO_ENOSPC;
    }
    uint16_t head = vq->free_head;
    uint16_t i = head;
    uint32_t writable = 0;
    for (size_t k = 0; k < n; k++) {
        volatile struct virtq_desc *d = &vq->desc[i];
        d->addr = bufs[k].addr;
        d->len = bufs[k].len;
        d->flags = (uint16_t)((bufs[k].device_writes ? DESC_F_WRITE : 0) | (k + 1 < n ? DESC_F_NEXT : 0));
        if (bufs[k].device_writes) {
            writable += bufs[k].len;
        }
        i = d->next;
    }
    vq->free_head = i;
    vq->num_free -= (uint16_t)n;
    vq->tokens[head] = token;
    vq->write_len[head] = writable;
    vq->chain_len[head] = (uint16_t)n;

    vq->avail[AVAIL_RING + (vq->avail_idx & (vq->size - 1))] = head;
    // The entry must be visible before the index that publishes it.
    pvboot_mb();
    vq->avail_idx++;
    vq->avail[AVAIL_IDX] = vq->avail_idx;
    return 0;
}

void virtq_kick(virtq_t *vq) {
    if (vq->dev->broken || vq->kicked_idx == vq->avail_idx) {
        return;
    }
    // The published index must be visible before we read what the device
    // asked for, or we could skip a notification it still needs.
    pvboot_mb();
    uint16_t old = vq->kicked_idx;
    uint16_t new = vq->avail_idx;
    vq->kicked_idx = new;
    bool needed;
    if (vq->event_idx) {
        // vring_need_event(): notify when avail_event lies in [old, new).
        uint16_t event = *vq->avail_event;
        needed = (uint16_t)(new - event - 1) < (uint16_t)(new - old);
    } else {
        needed = !(vq->used_header[USED_FLAGS] & USED_F_NO_NOTIFY);
    }
    if (needed) {
        vq->dev->transport->notify(vq);
    }
}

bool virtq_has_used(const virtq_t *vq) {
    return vq->used_header[USED_IDX] != vq->last_used;
}

void *virtq_pop(virtq_t *vq, uint32_t *len) {
    if (vq->dev->broken) {
        return NULL;
    }
    uint16_t used_idx = vq->used_header[USED_IDX];
    if (used_idx == vq->last_used) {
        return NULL;
    }
    if ((uint16_t)(used_idx - vq->last_used) > vq->size) {
        virtio_mark_broken(vq->dev, "used ring index ran ahead of the requests posted");
        return NULL;
    }
    // Read the entry only after the index that published it.
    pvboot_mb();
    volatile struct virtq_used_elem *e = &vq->used_ring[vq->last_used & (vq->size - 1)];
    uint32_t id = e->id;
    uint32_t written = e->len;
    if (id >= vq->size || vq->tokens[id] == NULL) {
        virtio_mark_broken(vq->dev, "used ring names a request that is not outstanding");
        return NULL;
    }
    if (written > vq->write_len[id]) {
        virtio_mark_broken(vq->dev, "used ring length exceeds the buffers offered");
        return NULL;
    }
    vq->last_used++;
    void *token = vq->tokens[id];
    vq->tokens[id] = NULL;
    // Return the chain to the free list.
    uint16_t n = vq->chain_len[id];
    uint16_t tail = (uint16_t)id;
    for (uint16_t k = 1; k < n; k++) {
        tail = vq->desc[tail].next;
    }
    vq->desc[tail].next = vq->free_head;
    vq->free_head = (uint16_t)id;
    vq->num_free += n;
    *len = written;
    return token;
}

bool virtq_enable_interrupts(virtq_t *vq) {
    if (vq->event_idx) {
        *used_event(vq) = vq->last_used;
    } else {
        vq->avail[AVAIL_FLAGS] = 0;
    }
    pvboot_mb();
    return virtq_has_used(vq);
}

void virtq_disable_interrupts(virtq_t *vq) {
    if (vq->event_idx) {
        // An event index just behind what was read: the device's used index
        // does not cross it again until it wraps, 65536 requests from now.
        *used_event(vq) = (uint16_t)(vq->last_used - 1);
    } else {
        vq->avail[AVAIL_FLAGS] = AVAIL_F_NO_INTERRUPT;
    }
}
