/*
 * lwIP's configuration for pyunik: a VM, not a microcontroller.
 *
 * NO_SYS: lwIP runs only in thread context, from the event loop (devpoll.h)
 * and from MicroPython's socket calls; interrupt handlers never enter it.
 * Sizes are for a server in a few MiB of RAM: TCP_MSS 1460 on a 1500-byte
 * MTU, a 32 KiB window, and enough PCBs and segments for 100 connections.
 * Each can be set from board.toml ([plugins] lwip = { tcp_pcbs = 200 ... }),
 * which reaches here as PYUNIK_LWIP_* through board_config.h.
 *
 * Timers: lwIP's timers run only when due - the port arms the one-shot
 * timer for lwIP's next timeout (sys_timeouts_sleeptime). IGMP, MLD (IPv6),
 * mDNS and AutoIP are off unless a board turns them on; each would add
 * timers that wake an idle guest.
 */
#ifndef PYUNIK_LWIPOPTS_H
#define PYUNIK_LWIPOPTS_H

#include "py/mpconfig.h"

#define NO_SYS (1)
#define SYS_LIGHTWEIGHT_PROT (1)
#define LWIP_TIMERS (1)
// lwIP is never entered from an interrupt: no protection is needed.
#define SYS_ARCH_DECL_PROTECT(lev) do { } while (0)
#define SYS_ARCH_PROTECT(lev) do { } while (0)
#define SYS_ARCH_UNPROTECT(lev) do { } while (0)
typedef uint32_t sys_prot_t;

#define MEM_ALIGNMENT (8)
#define MEM_LIBC_MALLOC (0)
#define MEMP_MEM_MALLOC (0)

#define LWIP_ARP (1)
#define LWIP_ETHERNET (1)
#define LWIP_RAW (1)
#define LWIP_NETCONN (0)
#define LWIP_SOCKET (0)
#define LWIP_STATS (0)
#define LWIP_NETIF_HOSTNAME (1)
#define LWIP_NETIF_LINK_CALLBACK (1)
#define LWIP_NETIF_STATUS_CALLBACK (1)
#define LWIP_CHKSUM_ALGORITHM (3)
#define LWIP_CHECKSUM_CTRL_PER_NETIF (1)
// Frames are checked on input: a frame with a bad checksum is dropped.
#define CHECKSUM_CHECK_IP (1)
#define CHECKSUM_CHECK_TCP (1)
#define CHECKSUM_CHECK_UDP (1)
#define CHECKSUM_CHECK_ICMP (1)

#define LWIP_IPV4 (1)
#ifndef PYUNIK_LWIP_IPV6
#define PYUNIK_LWIP_IPV6 (0)
#endif
#define LWIP_IPV6 (PYUNIK_LWIP_IPV6)
#define LWIP_ICMP (1)
#define LWIP_DHCP (1)
#define LWIP_DHCP_CHECK_LINK_UP (1)
#define LWIP_DHCP_DOES_ACD_CHECK (0)
#define LWIP_AUTOIP (0)
#define LWIP_ACD (0)
#define LWIP_DNS (1)
#define DNS_MAX_SERVERS (2)
#define LWIP_DNS_SUPPORT_MDNS_QUERIES (0)
#define LWIP_MDNS_RESPONDER (0)
#ifndef PYUNIK_LWIP_IGMP
#define PYUNIK_LWIP_IGMP (0)
#endif
#define LWIP_IGMP (PYUNIK_LWIP_IGMP)
#if !LWIP_IGMP
// MicroPython's modlwip calls these for IP_ADD_MEMBERSHIP whatever the
// configuration; without IGMP (whose 100 ms timer would wake an idle
// guest ten times a second) netif.c makes them fail, so the socket option
// raises OSError.
struct ip4_addr;
int igmp_joingroup(const struct ip4_addr *ifaddr, const struct ip4_addr *groupaddr);
int igmp_leavegroup(const struct ip4_addr *ifaddr, const struct ip4_addr *groupaddr);
#endif
#define LWIP_NUM_NETIF_CLIENT_DATA (0)

#define SO_REUSE (1)
#define LWIP_SO_RCVBUF (0)
#define TCP_LISTEN_BACKLOG (1)
#define LWIP_TCP_KEEPALIVE (1)

// Sizes. The defaults serve 100 concurrent connections in ~0.5 MiB.
#ifndef PYUNIK_LWIP_TCP_PCBS
#define PYUNIK_LWIP_TCP_PCBS (100)
#endif
#ifndef PYUNIK_LWIP_MEM_SIZE
#define PYUNIK_LWIP_MEM_SIZE (256 * 1024)
#endif
#ifndef PYUNIK_LWIP_TCP_WND
#define PYUNIK_LWIP_TCP_WND (32 * 1024)
#endif
#define MEM_SIZE (PYUNIK_LWIP_MEM_SIZE)
#define TCP_MSS (1460)
#define TCP_WND (PYUNIK_LWIP_TCP_WND)
#define TCP_SND_BUF (32 * 1024)
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#define MEMP_NUM_TCP_PCB (PYUNIK_LWIP_TCP_PCBS)
#define MEMP_NUM_TCP_PCB_LISTEN (16)
#define MEMP_NUM_TCP_SEG (4 * PYUNIK_LWIP_TCP_PCBS + TCP_SND_QUEUELEN)
#define MEMP_NUM_UDP_PCB (16)
#define MEMP_NUM_RAW_PCB (4)
#define MEMP_NUM_PBUF (64)
#define MEMP_NUM_REASSDATA (8)
#define MEMP_NUM_ARP_QUEUE (32)
#define PBUF_POOL_SIZE (128)
#define PBUF_POOL_BUFSIZE (1536)
#define ARP_TABLE_SIZE (32)
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 2)
// Half-open connections are bounded: a SYN flood fills the backlog of a
// listener, not the whole PCB pool.
#define TCP_DEFAULT_LISTEN_BACKLOG (32)

#define LWIP_RAND() pyunik_lwip_rand()
uint32_t pyunik_lwip_rand(void);

#define sys_jiffies sys_now

#endif // PYUNIK_LWIPOPTS_H
