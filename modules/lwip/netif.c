/*
 * The netif layer (pyunik_netif.h) on lwIP: one lwIP netif per registered
 * NIC, lwIP's timers and the NICs' receive work run from the event loop
 * (devpoll.h), and the addresses each NIC starts with.
 *
 * Addresses: DHCP unless the kernel command line (or the board's lwip
 * options) gives a static one for the first NIC:
 *     ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.3
 */
#include <string.h>

#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "devpoll.h"
#include "pvboot.h"
#include "pyunik_netif.h"

#define MAX_NICS (4)
#define NS_PER_SECOND (1000000000ULL)

#ifndef PYUNIK_LWIP_IP
#define PYUNIK_LWIP_IP ""
#endif
#ifndef PYUNIK_LWIP_GW
#define PYUNIK_LWIP_GW ""
#endif
#ifndef PYUNIK_LWIP_DNS
#define PYUNIK_LWIP_DNS ""
#endif

static pyunik_nic_t *nics;
static struct netif netifs[MAX_NICS];
static size_t netif_count;
static uint32_t dropped_frames;
static uint32_t frames_in; // frames handed to lwIP, for poll_network()
static uint64_t timers_started; // when lwip_init() started lwIP's timers

void pyunik_nic_register(pyunik_nic_t *nic) {
    pyunik_nic_t **p = &nics;
    while (*p != NULL) {
        p = &(*p)->next;
    }
    nic->next = NULL;
    *p = nic;
}

pyunik_nic_t *pyunik_nic_first(void) {
    return nics;
}

size_t pyunik_frame_copy(const void *frame, void *dst, size_t off, size_t len) {
    return pbuf_copy_partial((const struct pbuf *)frame, dst, (u16_t)len, (u16_t)off);
}

void pyunik_netif_input(pyunik_nic_t *nic, const void *data, size_t len) {
    struct netif *netif = nic->stack;
    // An Ethernet header, at most the MTU and a VLAN tag beyond it.
    if (netif == NULL || len < SIZEOF_ETH_HDR || len > (size_t)nic->mtu + SIZEOF_ETH_HDR + 4) {
        dropped_frames++;
        return;
    }
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
    if (p == NULL) {
        dropped_frames++; // out of buffers: the sender retransmits
        return;
    }
    pbuf_take(p, data, (u16_t)len);
    frames_in++;
    if (netif->input(p, netif) != ERR_OK) {
        pbuf_free(p);
    }
}

static err_t linkoutput(struct netif *netif, struct pbuf *p) {
    pyunik_nic_t *nic = netif->state;
    int ret = nic->transmit(nic, p, p->tot_len);
    return ret == 0 ? ERR_OK : (ret == -28 ? ERR_MEM : ERR_IF);
}

static err_t netif_init_cb(struct netif *netif) {
    pyunik_nic_t *nic = netif->state;
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = linkoutput;
    netif->mtu = nic->mtu;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, nic->mac, ETH_HWADDR_LEN);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    #if LWIP_IGMP
    netif->flags |= NETIF_FLAG_IGMP;
    #endif
    netif_set_hostname(netif, "pyunik");
    return ERR_OK;
}

// "a.b.c.d" or "a.b.c.d/prefix" from a command line word's value.
static bool parse_addr(const char *text, size_t len, ip4_addr_t *addr, int *prefix) {
    char buf[24];
    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
        int n = 0;
        const char *d = slash + 1;
        if (*d == '\0' || prefix == NULL) {
            return false;
        }
        for (; *d != '\0'; d++) {
            if (*d < '0' || *d > '9' || n > 32) {
                return false;
            }
            n = n * 10 + (*d - '0');
        }
        if (n > 32) {
            return false;
        }
        *prefix = n;
    }
    return ip4addr_aton(buf, addr) != 0;
}

// The value of `key=` on the kernel command line, else the board's
// default; *len its length.
static const char *option(const char *key, const char *fallback, size_t *len) {
    const char *value = pvboot_cmdline_option(key, len);
    if (value == NULL) {
        *len = strlen(fallback);
        value = fallback;
    }
    return value;
}

// Static addresses for the first NIC, or DHCP. Returns true when static.
static bool configure_static(struct netif *netif) {
    size_t len;
    const char *ip = option("ip", PYUNIK_LWIP_IP, &len);
    if (len == 0) {
        return false;
    }
    ip4_addr_t addr, mask, gw;
    int prefix = 24;
    if (!parse_addr(ip, len, &addr, &prefix)) {
        pvboot_printf("lwip: ip= wants ADDR/PREFIX (e.g. ip=10.0.2.15/24); using DHCP\n");
        return false;
    }
    ip4_addr_set_u32(&mask, prefix == 0 ? 0 : lwip_htonl(0xffffffffu << (32 - prefix)));
    ip4_addr_set_zero(&gw);
    const char *g = option("gw", PYUNIK_LWIP_GW, &len);
    if (len != 0 && !parse_addr(g, len, &gw, NULL)) {
        pvboot_printf("lwip: gw= is not an IPv4 address; no gateway\n");
        ip4_addr_set_zero(&gw);
    }
    netif_set_addr(netif, &addr, &mask, &gw);
    const char *d = option("dns", PYUNIK_LWIP_DNS, &len);
    ip4_addr_t dns;
    if (len != 0) {
        if (parse_addr(d, len, &dns, NULL)) {
            ip_addr_t server;
            ip_addr_copy_from_ip4(server, dns);
            dns_setserver(0, &server);
        } else {
            pvboot_printf("lwip: dns= is not an IPv4 address; ignored\n");
        }
    }
    return true;
}

static bool poll_network(void) {
    uint32_t before = frames_in;
    for (size_t i = 0; i < netif_count; i++) {
        struct netif *netif = &netifs[i];
        pyunik_nic_t *nic = netif->state;
        nic->poll(nic);
        if (nic->gone && netif_is_up(netif)) {
            // lwIP's own way: an address change aborts the connections
            // bound to the old address (tcp_netif_ip_addr_changed).
            pvboot_printf("lwip: %s is gone; its connections are aborted\n", nic->name);
            dhcp_stop(netif);
            netif_set_addr(netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4);
            netif_set_down(netif);
        }
        bool up = netif_is_link_up(netif);
        if (nic->link_up && !up) {
            netif_set_link_up(netif);
        } else if (!nic->link_up && up) {
            netif_set_link_down(netif);
        }
    }
    sys_check_timeouts();
    return frames_in != before;
}

static uint64_t network_deadline(void) {
    for (pyunik_nic_t *nic = nics; nic != NULL; nic = nic->next) {
        if (nic->busy) {
            return 0; // frames left over from a flood: no sleeping yet
        }
    }
    u32_t ms = sys_timeouts_sleeptime();
    if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE) {
        return UINT64_MAX;
    }
    uint64_t due = pvboot_clock_monotonic() + (uint64_t)ms * 1000000;
    // Timer slack: without open connections, every lwIP timer is
    // housekeeping (DHCP's 500 ms retransmission check, ARP, DNS and IP
    // reassembly every second, TIME_WAIT expiry) that may run up to a second
    // late, so the wake-up moves to the next whole second counted from
    // lwip_init(): an idle guest with a lease wakes once a second. Deciding
    // by the distance to the next timer instead was not enough: a timer that
    // lwIP had restarted from a late wake-up (its "overload" path) kept a
    // phase of its own a few ms past the second, and cost a second wake-up
    // every second (measured: 2.1 wake-ups/s idle). While a connection is
    // open (retransmissions, delayed ACKs) nothing is deferred.
    if (tcp_active_pcbs == NULL) {
        uint64_t since = due > timers_started ? due - timers_started : 0;
        due = timers_started + (since + NS_PER_SECOND - 1) / NS_PER_SECOND * NS_PER_SECOND;
    }
    return due;
}

static pyunik_devpoll_t network_poller = {
    .name = "lwip",
    .poll = poll_network,
    .deadline = network_deadline,
};

struct netif *pyunik_netif_get(size_t index) {
    return index < netif_count ? &netifs[index] : NULL;
}

size_t pyunik_netif_count(void) {
    return netif_count;
}

uint32_t pyunik_netif_dropped(void) {
    return dropped_frames;
}

void lwip_port_init(void) {
    lwip_init();
    // lwip_init() starts the cyclic timers last (and the first clock read
    // may calibrate the clock): take their start after it.
    timers_started = pvboot_clock_monotonic() / 1000000 * 1000000;
    for (pyunik_nic_t *nic = nics; nic != NULL && netif_count < MAX_NICS; nic = nic->next) {
        struct netif *netif = &netifs[netif_count];
        if (netif_add_noaddr(netif, nic, netif_init_cb, ethernet_input) == NULL) {
            pvboot_printf("lwip: %s could not be added\n", nic->name);
            continue;
        }
        nic->stack = netif;
        if (netif_count == 0) {
            netif_set_default(netif);
        }
        netif_set_up(netif);
        if (nic->link_up) {
            netif_set_link_up(netif);
        }
        if (netif_count != 0 || !configure_static(netif)) {
            dhcp_start(netif);
        }
        netif_count++;
    }
    if (netif_count == 0) {
        pvboot_printf("lwip: no network interface found; sockets will report OSError\n");
    }
    pyunik_devpoll_register(&network_poller);
}

u32_t sys_now(void) {
    return (u32_t)(pvboot_clock_monotonic() / 1000000);
}

// lwIP's randomness (initial local ports, DHCP and DNS ids, IGMP delays):
// pvboot's seed source (RDSEED, RDRAND, else an entropy device such as
// virtio-rng, else timing jitter; entropy.c). Ids must differ between boots
// and not follow from each other; lwIP asks a handful of times, not per
// packet, so a device round trip each time costs nothing that shows.
uint32_t pyunik_lwip_rand(void) {
    return (uint32_t)pvboot_random_u64();
}

#if !LWIP_IGMP
// See lwipopts.h: multicast membership needs the board's igmp option.
int igmp_joingroup(const struct ip4_addr *ifaddr, const struct ip4_addr *groupaddr) {
    (void)ifaddr;
    (void)groupaddr;
    return ERR_VAL;
}

int igmp_leavegroup(const struct ip4_addr *ifaddr, const struct ip4_addr *groupaddr) {
    (void)ifaddr;
    (void)groupaddr;
    return ERR_VAL;
}
#endif

void pyunik_lwip_assert(const char *msg, const char *file, int line) {
    pvboot_printf("lwip: assertion failed: %s (%s:%d)\n", msg, file, line);
    pvboot_shutdown(PVBOOT_EXIT_FAULT);
}
