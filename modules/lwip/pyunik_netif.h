/*
 * The netif layer: what a NIC driver (virtio-net, Xen's netfront) gives the
 * network stack, and what it gets back. A driver does not include lwIP's
 * headers: frames cross this boundary as bytes.
 *
 * At board init a driver fills in a pyunik_nic_t and registers it; the
 * lwip plugin's init (which runs after the NIC drivers') gives each NIC an
 * lwIP netif, and from then on:
 * - the stack calls nic->transmit() with a frame to send, which the driver
 *   copies out with pyunik_frame_copy() (the frame is gone after return);
 * - the driver's poll(), called from the event loop whenever MicroPython
 *   waits or looks for events, hands each received frame to
 *   pyunik_netif_input() (copied: the driver may reuse its buffer at once)
 *   and reclaims finished transmissions. Interrupt handlers only note
 *   that poll() has work; they never call into the stack.
 */
#ifndef PYUNIK_NETIF_H
#define PYUNIK_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pyunik_nic pyunik_nic_t;

struct pyunik_nic {
    const char *name;  // for messages, e.g. "virtio-mmio@0xfeb00e00"
    uint8_t mac[6];
    uint16_t mtu;      // the largest IP packet, 1500 on Ethernet
    bool link_up;      // kept current by the driver
    bool busy;         // poll() stopped with work left: poll again soon
    // The device went away for good (e.g. its Xen backend closed): the
    // stack takes its addresses off the interface, which aborts the TCP
    // connections over it (their sockets raise OSError ECONNABORTED at
    // once), and a new connection finds no route (EHOSTUNREACH).
    bool gone;
    // Send one Ethernet frame of len bytes (without FCS). Returns 0, or a
    // negative errno: -ENOSPC when the device has no room now (the stack
    // then drops the frame; TCP retransmits), -EIO when it is broken.
    int (*transmit)(pyunik_nic_t *nic, const void *frame, size_t len);
    // Thread context: feed received frames to pyunik_netif_input(),
    // reclaim sent ones, update link_up.
    void (*poll)(pyunik_nic_t *nic);
    void *driver;      // the driver's own state
    void *stack;       // the stack's (an lwIP struct netif), set at register
    pyunik_nic_t *next;
};

// A NIC driver's init registers each device it found.
void pyunik_nic_register(pyunik_nic_t *nic);

// From a driver's poll(): one received Ethernet frame. Frames shorter than
// an Ethernet header or longer than the MTU allows are dropped and counted.
void pyunik_netif_input(pyunik_nic_t *nic, const void *data, size_t len);

// From a driver's transmit(): copy len bytes of the frame from offset off
// into dst. Returns the bytes copied.
size_t pyunik_frame_copy(const void *frame, void *dst, size_t off, size_t len);

// The registered NICs, in order (NULL-terminated list through ->next).
pyunik_nic_t *pyunik_nic_first(void);

#endif // PYUNIK_NETIF_H
