"""lwIP 2.2.1 as the network stack, with MicroPython's own socket
(extmod/modlwip.c) and network modules on top: TCP, UDP, raw ICMP, DHCP,
DNS. Its timers run from the event loop; there is no periodic tick."""

from __future__ import annotations

import ipaddress
from typing import Any

from pyunik import sources
from pyunik.board import ROOT, Board
from pyunik.hookspecs import Component, Option, PluginInfo, c_string, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "lwip"

#: lwIP's files for IPv4 (and IPv6 when asked) over Ethernet, without PPP,
#: SLIP, mDNS and the socket/netconn APIs (MicroPython has its own).
LWIP_CORE = (
    "core/def.c",
    "core/dns.c",
    "core/inet_chksum.c",
    "core/init.c",
    "core/ip.c",
    "core/mem.c",
    "core/memp.c",
    "core/netif.c",
    "core/pbuf.c",
    "core/raw.c",
    "core/stats.c",
    "core/sys.c",
    "core/tcp.c",
    "core/tcp_in.c",
    "core/tcp_out.c",
    "core/timeouts.c",
    "core/udp.c",
    "core/ipv4/acd.c",
    "core/ipv4/autoip.c",
    "core/ipv4/dhcp.c",
    "core/ipv4/etharp.c",
    "core/ipv4/icmp.c",
    "core/ipv4/igmp.c",
    "core/ipv4/ip4_addr.c",
    "core/ipv4/ip4.c",
    "core/ipv4/ip4_frag.c",
    "netif/ethernet.c",
)
LWIP_IPV6 = (
    "core/ipv6/dhcp6.c",
    "core/ipv6/ethip6.c",
    "core/ipv6/icmp6.c",
    "core/ipv6/inet6.c",
    "core/ipv6/ip6_addr.c",
    "core/ipv6/ip6.c",
    "core/ipv6/ip6_frag.c",
    "core/ipv6/mld6.c",
    "core/ipv6/nd6.c",
)


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="lwip",
        description="lwIP network stack: socket, select, asyncio streams, network.LAN, DHCP/static, DNS, ping",
        provides=("netstack",),
        options={
            "ip": Option(str, "", "static address ADDR/PREFIX, e.g. 10.0.2.15/24 (default: DHCP; ip= on the cmdline)"),
            "gw": Option(str, "", "gateway for a static address (gw= on the cmdline)"),
            "dns": Option(str, "", "DNS server for a static address (dns= on the cmdline)"),
            "tcp_pcbs": Option(int, 100, "TCP connections open at once", minimum=4, maximum=4096),
            "mem_size": Option(int, 256 * 1024, "bytes of lwIP's heap (outgoing data)", minimum=16 * 1024),
            "tcp_wnd": Option(int, 32 * 1024, "TCP receive window, bytes", minimum=2920, maximum=65535),
            "ipv6": Option(bool, False, "IPv6 (adds MLD and ND timers that wake an idle guest)"),
            "igmp": Option(bool, False, "IGMP multicast (adds a 100 ms timer while joined)"),
        },
    )


def _netif_providers(board: Board) -> list[str]:
    from pyunik.plugins import PluginManager

    manager = PluginManager()
    return [
        name for name in board.plugins if name in manager.plugins and "netif" in manager.plugins[name].info.provides
    ]


@hookimpl
def pyunik_validate_options(board: Board, options: dict[str, Any]) -> list[str]:
    errors = []
    if not _netif_providers(board):
        errors.append("lwip needs a network interface; fix: add a netif plugin under [plugins], e.g. virtio-net = {}")
    if options["ip"]:
        try:
            ipaddress.IPv4Interface(options["ip"])
        except ValueError:
            errors.append(f'ip is {options["ip"]!r}; fix: give ADDR/PREFIX, e.g. "10.0.2.15/24"')
    for key in ("gw", "dns"):
        if options[key]:
            try:
                ipaddress.IPv4Address(options[key])
            except ValueError:
                errors.append(f'{key} is {options[key]!r}; fix: give an IPv4 address, e.g. "10.0.2.2"')
    return errors


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    trees = sources.ensure_sources(ROOT, log=lambda *_: None)
    lwip = trees["lwip"] / "src"
    files = LWIP_CORE + (LWIP_IPV6 if options["ipv6"] else ())
    return Component(
        c_sources=[
            *(lwip / f for f in files),
            trees["micropython"] / "shared" / "netutils" / "netutils.c",
            SOURCE_DIR / "netif.c",
            SOURCE_DIR / "network_lan.c",
        ],
        include_dirs=[SOURCE_DIR, lwip / "include"],
        defines={
            "MICROPY_PY_LWIP": "1",
            "PYUNIK_LWIP_IP": c_string(options["ip"]),
            "PYUNIK_LWIP_GW": c_string(options["gw"]),
            "PYUNIK_LWIP_DNS": c_string(options["dns"]),
            "PYUNIK_LWIP_TCP_PCBS": str(options["tcp_pcbs"]),
            "PYUNIK_LWIP_MEM_SIZE": str(options["mem_size"]),
            "PYUNIK_LWIP_TCP_WND": str(options["tcp_wnd"]),
            "PYUNIK_LWIP_IPV6": str(int(options["ipv6"])),
            "PYUNIK_LWIP_IGMP": str(int(options["igmp"])),
        },
        init="lwip_port_init",
        init_order=45,
    )
