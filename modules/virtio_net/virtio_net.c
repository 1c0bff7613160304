/*
 * virtio-net (virtio 1.2, 5.1): each device found becomes a NIC of the
 * netif layer (pyunik_netif.h).
 *
 * Receive: the rx queue is kept full of 2 KiB buffers (a 12-byte header
 * and a full Ethernet frame fit in one, so with VIRTIO_NET_F_MRG_RXBUF a
 * frame never spans buffers; one that claims to is dropped whole). The
 * interrupt handler only notes that the device spoke: poll(), from the
 * event loop, copies each frame into the stack and gives its buffer back.
 * Transmit: a frame is copied behind a zeroed header into one of a fixed
 * set of buffers; finished ones are reclaimed on the next transmit or
 * poll, with tx interrupts suppressed. No offloads are negotiated (QEMU's
 * user network offers none): the stack computes and checks checksums.
 */
#include <string.h>

#include "board_config.h"
#include "pyunik_netif.h"
#include "virtio.h"

#define VIRTIO_NET_F_MTU (3)
#define VIRTIO_NET_F_MAC (5)
#define VIRTIO_NET_F_MRG_RXBUF (15)
#define VIRTIO_NET_F_STATUS (16)

#define CONFIG_MAC (0)
#define CONFIG_STATUS (6)
#define CONFIG_MTU (10)
#define STATUS_LINK_UP (1)

#define QUEUE_RX (0)
#define QUEUE_TX (1)
#define HEADER_SIZE (12) // struct virtio_net_hdr with num_buffers (VERSION_1)
#define BUF_SIZE (2048)
#define MAX_DEVICES (4)
#define ENOSPC (28)
#define EIO (5)

#ifndef VIRTIO_NET_RX_BUFFERS
#define VIRTIO_NET_RX_BUFFERS (128)
#endif
#ifndef VIRTIO_NET_TX_BUFFERS
#define VIRTIO_NET_TX_BUFFERS (64)
#endif

typedef struct {
    pyunik_nic_t nic;
    virtio_dev_t *dev;
    virtq_t rx;
    virtq_t tx;
    uint8_t *tx_bufs;
    uint8_t **tx_free;     // a stack of free tx buffers
    unsigned tx_free_count;
    volatile bool interrupted; // set by the interrupt handler
    uint32_t rx_frames;
    uint32_t rx_dropped;
} vnet_t;

static vnet_t vnets[MAX_DEVICES];

static void on_interrupt(void *arg) {
    vnet_t *v = arg;
    v->interrupted = true;
}

static void post_rx(vnet_t *v, uint8_t *buf) {
    virtq_buf_t b = { pvboot_dma_addr(buf), BUF_SIZE, true };
    virtq_add(&v->rx, &b, 1, buf);
}

static void reclaim_tx(vnet_t *v) {
    uint32_t len;
    uint8_t *buf;
    while ((buf = virtq_pop(&v->tx, &len)) != NULL) {
        v->tx_free[v->tx_free_count++] = buf;
    }
}

static int vnet_transmit(pyunik_nic_t *nic, const void *frame, size_t len) {
    vnet_t *v = nic->driver;
    if (virtio_broken(v->dev)) {
        return -EIO;
    }
    if (len + HEADER_SIZE > BUF_SIZE) {
        return -EIO;
    }
    reclaim_tx(v);
    // The device finishes transmissions on its own thread: give it a
    // moment (bounded) before dropping a frame for lack of room.
    uint64_t give_up = pvboot_clock_monotonic() + 20 * 1000000ULL;
    while (v->tx_free_count == 0) {
        uint64_t now = pvboot_clock_monotonic();
        if (now >= give_up) {
            return -ENOSPC;
        }
        pvboot_yield(now + 50 * 1000);
        reclaim_tx(v);
    }
    uint8_t *buf = v->tx_free[--v->tx_free_count];
    memset(buf, 0, HEADER_SIZE);
    pyunik_frame_copy(frame, buf + HEADER_SIZE, 0, len);
    virtq_buf_t b = { pvboot_dma_addr(buf), (uint32_t)(HEADER_SIZE + len), false };
    if (virtq_add(&v->tx, &b, 1, buf) != 0) {
        v->tx_free[v->tx_free_count++] = buf;
        return -ENOSPC;
    }
    virtq_kick(&v->tx);
    return 0;
}

static void vnet_poll(pyunik_nic_t *nic) {
    vnet_t *v = nic->driver;
    if (v->interrupted) {
        v->interrupted = false;
        if (virtio_has(v->dev, VIRTIO_NET_F_STATUS)) {
            nic->link_up = (virtio_config_read16(v->dev, CONFIG_STATUS) & STATUS_LINK_UP) != 0;
        }
    }
    // Each frame taken is a buffer given back, so a flood cannot keep this
    // loop going for ever: at most two rings' worth per poll, and the rest
    // at the next one (the event loop comes back at once: nic->busy).
    unsigned budget = 2u * v->rx.size;
    bool reposted = false;
    for (;;) {
        uint32_t len;
        uint8_t *buf;
        while (budget > 0 && (buf = virtq_pop(&v->rx, &len)) != NULL) {
            budget--;
            uint16_t num_buffers = (uint16_t)(buf[10] | buf[11] << 8);
            if (len < HEADER_SIZE || num_buffers > 1) {
                // A frame across buffers cannot be one this driver asked
                // for (no GSO): drop it and the buffers that follow.
                for (uint16_t k = 1; k < num_buffers; k++) {
                    uint8_t *more = virtq_pop(&v->rx, &len);
                    if (more == NULL) {
                        break;
                    }
                    post_rx(v, more);
                }
                v->rx_dropped++;
            } else {
                v->rx_frames++;
                pyunik_netif_input(nic, buf + HEADER_SIZE, len - HEADER_SIZE);
            }
            post_rx(v, buf);
            reposted = true;
        }
        if (budget == 0 || !virtq_enable_interrupts(&v->rx)) {
            break;
        }
    }
    nic->busy = budget == 0;
    if (reposted) {
        virtq_kick(&v->rx);
    }
    reclaim_tx(v);
}

static bool vnet_start(vnet_t *v, virtio_dev_t *dev) {
    uint64_t wanted = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)
        | VIRTIO_BIT(VIRTIO_NET_F_MTU);
    if (virtio_negotiate(dev, wanted) != 0) {
        return false;
    }
    v->dev = dev;
    if (virtio_queue_init(dev, &v->rx, QUEUE_RX, VIRTIO_NET_RX_BUFFERS) != 0
        || virtio_queue_init(dev, &v->tx, QUEUE_TX, VIRTIO_NET_TX_BUFFERS) != 0) {
        pvboot_printf("%s: virtio-net queues could not be set up\n", virtio_name(dev));
        return false;
    }
    uint8_t *rx_bufs = pvboot_page_alloc((size_t)v->rx.size * BUF_SIZE / 4096);
    v->tx_bufs = pvboot_page_alloc((size_t)v->tx.size * BUF_SIZE / 4096);
    v->tx_free = pvboot_page_alloc(((size_t)v->tx.size * sizeof(uint8_t *) + 4095) / 4096);
    if (rx_bufs == NULL || v->tx_bufs == NULL || v->tx_free == NULL) {
        pvboot_printf("%s: no RAM for virtio-net buffers; give the VM more memory or fewer buffers\n",
            virtio_name(dev));
        return false;
    }
    for (unsigned i = 0; i < v->tx.size; i++) {
        v->tx_free[v->tx_free_count++] = v->tx_bufs + (size_t)i * BUF_SIZE;
    }
    for (unsigned i = 0; i < v->rx.size; i++) {
        post_rx(v, rx_bufs + (size_t)i * BUF_SIZE);
    }
    virtq_disable_interrupts(&v->tx);
    virtq_enable_interrupts(&v->rx);
    if (virtio_irq_attach(dev, on_interrupt, v) != 0) {
        pvboot_printf("%s: no interrupt for virtio-net; not used\n", virtio_name(dev));
        return false;
    }
    virtio_driver_ok(dev);
    virtq_kick(&v->rx);

    pyunik_nic_t *nic = &v->nic;
    nic->name = virtio_name(dev);
    nic->driver = v;
    nic->transmit = vnet_transmit;
    nic->poll = vnet_poll;
    nic->mtu = 1500;
    if (virtio_has(dev, VIRTIO_NET_F_MTU)) {
        uint16_t mtu = virtio_config_read16(dev, CONFIG_MTU);
        if (mtu >= 576 && mtu < nic->mtu) {
            nic->mtu = mtu;
        }
    }
    if (virtio_has(dev, VIRTIO_NET_F_MAC)) {
        for (unsigned i = 0; i < 6; i++) {
            nic->mac[i] = virtio_config_read8(dev, CONFIG_MAC + i);
        }
    } else {
        // A locally administered address from the device's place.
        static const uint8_t fallback[6] = { 0x02, 0x50, 0x59, 0x55, 0x4e, 0x00 };
        memcpy(nic->mac, fallback, 6);
        nic->mac[5] = (uint8_t)(v - vnets);
    }
    nic->link_up = !virtio_has(dev, VIRTIO_NET_F_STATUS)
        || (virtio_config_read16(dev, CONFIG_STATUS) & STATUS_LINK_UP) != 0;
    pyunik_nic_register(nic);
    return true;
}

void virtio_net_init(void) {
    virtio_dev_t *found[MAX_DEVICES];
    size_t n = virtio_find(VIRTIO_ID_NET, found, MAX_DEVICES);
    if (n == 0) {
        // On Xen the NICs are netfront's (a board may carry both drivers).
        if (pvboot_hypervisor() != PVBOOT_HV_XEN) {
            pvboot_printf("virtio-net: no device; the network is down "
                "(QEMU: -device virtio-net-device on microvm, virtio-net-pci on q35)\n");
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        vnet_start(&vnets[i], found[i]);
    }
}
