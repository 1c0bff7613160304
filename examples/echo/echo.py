# TCP and UDP echo (RFC 862), discard with a byte count (RFC 863, counted),
# and a byte source: what a network benchmark needs to measure round trips
# and bulk throughput in each direction.
#
# - echo (TCP): every byte comes back, until the client closes.
# - echo (UDP): every datagram comes back to its sender.
# - discard (TCP): reads until the client closes its side, then answers the
#   number of bytes it got as a decimal line and closes - so a client knows
#   when all it sent has arrived.
# - source (TCP): reads a decimal count and a newline, sends that many bytes
#   and closes.
# Every connection that is idle for `timeout_ms` is closed.
import asyncio
import socket
from asyncio import core

BUF = 4096
SOURCE_LIMIT = 1 << 30
BLOCK = b"0123456789abcdef" * (BUF // 16)


class Counters:
    def __init__(self):
        self.tcp = 0
        self.udp = 0
        self.bytes = 0
        self.timeouts = 0


def _readable(sock):
    # asyncio has no datagram API in MicroPython; waiting on the socket is
    # what asyncio.Stream.read itself does before each read.
    yield core._io_queue.queue_read(sock)


class Echo:
    def __init__(self, timeout_ms=30000):
        self.timeout_ms = timeout_ms
        self.count = Counters()

    async def _close(self, writer):
        try:
            await writer.wait_closed()
        except OSError:
            pass

    async def tcp_echo(self, reader, writer):
        self.count.tcp += 1
        buf = bytearray(BUF)
        mv = memoryview(buf)
        try:
            while True:
                n = await asyncio.wait_for_ms(reader.readinto(buf), self.timeout_ms)
                if not n:
                    break
                self.count.bytes += n
                writer.write(mv[:n])
                await asyncio.wait_for_ms(writer.drain(), self.timeout_ms)
        except asyncio.TimeoutError:
            self.count.timeouts += 1
        except OSError:
            pass
        await self._close(writer)

    async def tcp_discard(self, reader, writer):
        buf = bytearray(BUF)
        total = 0
        try:
            while True:
                n = await asyncio.wait_for_ms(reader.readinto(buf), self.timeout_ms)
                if not n:
                    break
                total += n
            writer.write(b"%d\n" % total)
            await asyncio.wait_for_ms(writer.drain(), self.timeout_ms)
        except asyncio.TimeoutError:
            self.count.timeouts += 1
        except OSError:
            pass
        await self._close(writer)

    async def tcp_source(self, reader, writer):
        try:
            line = b""
            while not line.endswith(b"\n") and len(line) < 16:
                chunk = await asyncio.wait_for_ms(reader.read(16), self.timeout_ms)
                if not chunk:
                    break
                line += chunk
            count = int(line.strip() or b"0")
            if not 0 <= count <= SOURCE_LIMIT:
                raise ValueError("count out of range")
            while count > 0:
                n = min(count, BUF)
                writer.write(BLOCK if n == BUF else BLOCK[:n])
                await asyncio.wait_for_ms(writer.drain(), self.timeout_ms)
                count -= n
        except asyncio.TimeoutError:
            self.count.timeouts += 1
        except (OSError, ValueError):
            pass
        await self._close(writer)

    async def udp_echo(self, port, address="0.0.0.0"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(socket.getaddrinfo(address, port)[0][-1])
        sock.setblocking(False)
        while True:
            await _readable(sock)
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                continue  # EAGAIN after a spurious wake-up
            self.count.udp += 1
            try:
                sock.sendto(data, peer)
            except OSError:
                pass  # no buffer for the reply: UDP may drop it

    async def serve(self, echo_port=7, discard_port=9, source_port=19, address="0.0.0.0"):
        servers = [
            await asyncio.start_server(self.tcp_echo, address, echo_port, 16),
            await asyncio.start_server(self.tcp_discard, address, discard_port, 4),
            await asyncio.start_server(self.tcp_source, address, source_port, 4),
        ]
        udp = asyncio.create_task(self.udp_echo(echo_port, address))
        print("echo: tcp+udp %d, discard %d, source %d" % (echo_port, discard_port, source_port))
        await servers[0].wait_closed()
        udp.cancel()
