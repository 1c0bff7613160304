"""Malformed frames and a SYN flood with scapy, sent on a tap inside a test's namespace.

    python badframes.py malformed IFACE GUEST_IP GUEST_MAC [--per-kind 40]
    python badframes.py synflood IFACE GUEST_IP GUEST_MAC --count 2000 --port 80

Run it inside the namespace (``ip netns exec``): the frames go only onto
that namespace's tap, to the guest behind it. For the oversized frames the
tap's MTU must be raised first (9000). Every kind is sent a bounded
number of times; the whole run is bounded by its count. Prints one JSON line
with how many frames of each kind were sent.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.sendrecv import sendp


def malformed(ip: str, mac: str, src_ip: str, src_mac: str, rng: random.Random) -> dict[str, list[bytes]]:
    """Frames of each kind, as bytes (so checksums stay as broken as they are set)."""
    eth = Ether(dst=mac, src=src_mac)
    syn = eth / IP(src=src_ip, dst=ip) / TCP(sport=40000, dport=80, flags="S")
    whole = bytes(syn)
    return {
        "truncated": [whole[:n] for n in (1, 13, 14, 15, 20, 33, 34, 40, 53)],
        "bad_ip_checksum": [bytes(eth / IP(src=src_ip, dst=ip, chksum=0xDEAD) / TCP(dport=80, flags="S"))],
        "bad_tcp_checksum": [bytes(eth / IP(src=src_ip, dst=ip) / TCP(dport=80, flags="S", chksum=0xBEEF))],
        "bad_udp_checksum": [bytes(eth / IP(src=src_ip, dst=ip) / UDP(dport=7, chksum=0x1234) / Raw(b"y" * 32))],
        "ip_length_lies": [
            bytes(eth / IP(src=src_ip, dst=ip, len=60000) / TCP(dport=80, flags="S")),
            bytes(eth / IP(src=src_ip, dst=ip, len=10) / TCP(dport=80, flags="S")),
        ],
        "bad_ihl": [bytes(eth / IP(src=src_ip, dst=ip, ihl=15) / TCP(dport=80, flags="S"))],
        "bad_version": [bytes(eth / IP(src=src_ip, dst=ip, version=5) / TCP(dport=80, flags="S"))],
        "tcp_offset_lies": [bytes(eth / IP(src=src_ip, dst=ip) / TCP(dport=80, flags="S", dataofs=15))],
        "fragments": [
            bytes(eth / IP(src=src_ip, dst=ip, flags="MF", frag=rng.randrange(0, 8000), id=i) / Raw(b"f" * 48))
            for i in range(4)
        ],
        # Longer than the guest's 1500-byte MTU (the test raises the tap's MTU so the kernel lets them out).
        "oversized": [bytes(eth / IP(src=src_ip, dst=ip) / UDP(dport=7) / Raw(b"o" * n)) for n in (1480, 4000, 8900)],
        "icmp_junk": [bytes(eth / IP(src=src_ip, dst=ip) / ICMP(type=rng.randrange(256), code=7) / Raw(b"\xff" * 20))],
        "arp_junk": [bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac) / ARP(op=7, pdst=ip, hwlen=3, plen=9))],
        "random_payload": [
            bytes(Ether(dst=mac, src=src_mac, type=0x0800)) + rng.randbytes(rng.randrange(20, 1500)) for _ in range(3)
        ],
        "random_bytes": [rng.randbytes(rng.randrange(1, 1514)) for _ in range(3)],
    }


def flood(ip: str, mac: str, count: int, port: int, rng: random.Random, subnet: str) -> list[bytes]:
    """SYNs from addresses nobody in the namespace owns (their SYN-ACKs go nowhere)."""
    return [
        bytes(
            Ether(dst=mac)
            / IP(src=f"{subnet}.{rng.randrange(100, 250)}", dst=ip)
            / TCP(sport=rng.randrange(1024, 65535), dport=port, flags="S", seq=rng.randrange(1 << 32))
        )
        for _ in range(count)
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("malformed", "synflood"))
    parser.add_argument("iface")
    parser.add_argument("ip")
    parser.add_argument("mac")
    parser.add_argument("--per-kind", type=int, default=40)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    subnet = args.ip.rsplit(".", 1)[0]
    sent: dict[str, int] = {}
    if args.what == "malformed":
        from scapy.arch import get_if_addr, get_if_hwaddr

        kinds = malformed(args.ip, args.mac, get_if_addr(args.iface), get_if_hwaddr(args.iface), rng)
        for _ in range(args.per_kind):
            for kind, frames in kinds.items():
                sendp([Raw(f) for f in frames], iface=args.iface, verbose=False)
                sent[kind] = sent.get(kind, 0) + len(frames)
    else:
        frames = flood(args.ip, args.mac, min(args.count, 100_000), args.port, rng, subnet)
        sendp([Raw(f) for f in frames], iface=args.iface, verbose=False)
        sent["syn"] = len(frames)
    print(json.dumps(sent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
