# HTTP load from the Xen rig's dom0 (bench/xen_http.py): the dom0 has no
# Python and no wrk, so the unix port of MicroPython runs this there.
#
#   micropython xen_httpload.py HOST PORT CONNECTIONS MAX_REQUESTS SECONDS
#
# CONNECTIONS keep-alive connections, each with one GET / outstanding (so the
# server sees CONNECTIONS requests at once, as wrk -cN would make it), until
# MAX_REQUESTS answers or errors, or SECONDS have passed: both bounds hold.
# A response that is not 200, a reset, a close or a 5 s silence is an error;
# the connection is then opened again. One line on stdout:
#   HTTPLOAD <200 responses> <errors> <microseconds>
import socket
import sys
import time

TIMEOUT_S = 5


class Connection:
    def __init__(self, address, request):
        self.request = request
        self.buf = b""
        self.sock = socket.socket()
        self.sock.settimeout(TIMEOUT_S)
        self.sock.connect(address)

    def send(self):
        sent = 0
        while sent < len(self.request):
            sent += self.sock.send(self.request[sent:])

    def _more(self):
        chunk = self.sock.recv(4096)
        if not chunk:
            raise OSError("the server closed the connection")
        self.buf += chunk

    def response(self):
        """The status of the next response, its body read and dropped."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        end = self.buf.index(b"\r\n\r\n")
        head, self.buf = self.buf[:end], self.buf[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line[15:])
        while len(self.buf) < length:
            self._more()
        self.buf = self.buf[length:]
        return status

    def close(self):
        try:  # noqa: SIM105 (the unix port has no contextlib)
            self.sock.close()
        except OSError:
            pass


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    conns, limit, seconds = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    address = socket.getaddrinfo(host, port)[0][-1]
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    ok = errors = 0
    start = time.ticks_us()
    budget_us = int(seconds * 1e6)
    pool = []
    for _ in range(conns):
        c = Connection(address, request)
        c.send()
        pool.append(c)
    while ok + errors < limit and time.ticks_diff(time.ticks_us(), start) < budget_us:
        for i in range(len(pool)):
            try:
                if pool[i].response() == 200:
                    ok += 1
                else:
                    errors += 1
                pool[i].send()
            except OSError:
                errors += 1
                pool[i].close()
                try:
                    pool[i] = Connection(address, request)
                    pool[i].send()
                except OSError:
                    time.sleep_ms(100)  # the next round tries again; each try is counted
    took = time.ticks_diff(time.ticks_us(), start)
    for c in pool:
        c.close()
    print("HTTPLOAD", ok, errors, took)


main()
