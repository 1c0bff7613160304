"""A small authoritative DNS server for tests (scapy's DNS codec), run inside a test's namespace.

    python dnsserver.py --bind 192.168.117.1 --seconds 60 svc.pyunik.test=192.168.117.77

Answers A queries for the names given; NXDOMAIN for any other name. It never
forwards or recurses, so a guest's lookups end here. Prints "ready" once
bound and "query NAME" for each question; stops by itself after --seconds.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

from scapy.layers.dns import DNS, DNSQR, DNSRR


def answer(query: bytes, names: dict[str, str]) -> tuple[bytes, str] | None:
    """The response to one DNS message and the name asked; None for what is not a query."""
    try:
        msg = DNS(query)
    except Exception:  # scapy raises many kinds on garbage
        return None
    questions = msg.qd if isinstance(msg.qd, list) else ([msg.qd] if msg.qd else [])
    if msg.qr != 0 or not questions or not isinstance(questions[0], DNSQR):
        return None
    question = questions[0]
    name = question.qname.decode(errors="replace").rstrip(".")
    if name in names and question.qtype == 1:
        record = DNSRR(rrname=question.qname, type="A", ttl=60, rdata=names[name])
        reply = DNS(id=msg.id, qr=1, aa=1, rd=msg.rd, ra=0, qd=question, an=record)
    else:
        reply = DNS(id=msg.id, qr=1, aa=1, rd=msg.rd, ra=0, rcode=3, qd=question)
    return bytes(reply), name


def serve(bind: str, port: int, seconds: float, names: dict[str, str]) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((bind, port))
        sock.settimeout(0.2)
        print("ready", sock.getsockname()[1], flush=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            result = answer(data, names)
            if result is not None:
                sock.sendto(result[0], peer)
                print("query", result[1], flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("records", nargs="+", help="NAME=IPV4")
    args = parser.parse_args(argv)
    names = dict(r.split("=", 1) for r in args.records)
    return serve(args.bind, args.port, args.seconds, names)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
