# An HTTP/1.1 server on asyncio streams: keep-alive, pipelining, a static
# page and a JSON endpoint, many clients at once.
#
# Written for a small, long-running guest: every input is bounded. A request
# head larger than HEAD_LIMIT gets 431, a malformed one 400, and either way
# the connection is closed (the bytes after a bad head cannot be trusted to
# start the next request). A client must send a whole head within `timeout`
# seconds of the previous response (or of connecting): one that connects and
# never sends, or dribbles a byte at a time (slowloris), is dropped. Past
# `max_conns` open connections a new one gets 503 and is closed, so a flood
# costs a bounded amount of memory.
import asyncio
import gc
import json
import sys

HEAD_LIMIT = 8192  # bytes of request line + headers
BODY_LIMIT = 65536  # a request body larger than this is refused (413)
CHUNK = 1024

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pyunik</title></head>
<body><h1>Hello from pyunik</h1>
<p>This page comes from an asyncio HTTP/1.1 server frozen into a unikernel.</p>
<p>Server state as JSON: <a href="/api/stats">/api/stats</a></p>
</body></html>
"""

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class BadRequest(Exception):
    """The client sent something that is not HTTP: answer with ``status``, then close."""

    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


class Stats:
    def __init__(self):
        self.open = 0
        self.peak = 0
        self.connections = 0
        self.requests = 0
        self.rejected = {}  # status -> count of connections closed for bad input
        self.timeouts = 0
        self.resets = 0


class Connection:
    """Bytes from one client, split into request heads and bodies.

    Bytes after a head stay buffered for the next request (pipelining).
    """

    def __init__(self, reader):
        self.reader = reader
        self.buf = b""

    async def _more(self):
        chunk = await self.reader.read(CHUNK)
        if not chunk:
            return False
        self.buf += chunk
        return True

    async def head(self):
        """The next request head without its blank line; None when the client
        closed cleanly between requests."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            skip = 4
            bare = self.buf.find(b"\n\n")  # tolerate bare LF line ends (RFC 9112 2.2)
            if bare >= 0 and (end < 0 or bare < end):
                end, skip = bare, 2
            if end >= 0:
                if end > HEAD_LIMIT:
                    raise BadRequest(431, "head of %d bytes" % end)
                head = self.buf[:end]
                self.buf = self.buf[end + skip :]
                return head
            if len(self.buf) > HEAD_LIMIT:
                raise BadRequest(431, "head over %d bytes" % HEAD_LIMIT)
            if not await self._more():
                if self.buf.strip():
                    raise BadRequest(400, "connection closed inside a request head")
                return None

    async def body(self, length):
        while len(self.buf) < length:
            if not await self._more():
                raise BadRequest(400, "connection closed inside a request body")
        body = self.buf[:length]
        self.buf = self.buf[length:]
        return body


def _is_token(word):
    # Methods and header names are RFC 9110 tokens: no controls, spaces or separators.
    if not word:
        return False
    return all(not (c <= 32 or c >= 127 or c in b'"(),/:;<=>?@[\\]{}') for c in word)


def parse_head(head):
    """(method, target, version, headers) with lower-case header names, or BadRequest(400)."""
    lines = head.split(b"\n")
    parts = lines[0].rstrip(b"\r").split(b" ")
    if len(parts) != 3:
        raise BadRequest(400, "request line is not METHOD TARGET VERSION")
    method, target, version = parts
    if not _is_token(method) or not target.startswith(b"/") or version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest(400, "bad request line")
    headers = {}
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        name, sep, value = line.partition(b":")
        if not sep or not _is_token(name):
            raise BadRequest(400, "bad header line")
        headers[name.lower()] = value.strip()
    return method.decode(), target.decode(), version, headers


def response(status, body, content_type="text/plain; charset=utf-8", keep_alive=True, head_only=False):
    head = "HTTP/1.1 %d %s\r\nServer: pyunik-httpd\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
        status,
        REASONS.get(status, "Unknown"),
        content_type,
        len(body),
        "" if keep_alive else "Connection: close\r\n",
    )
    return head.encode() + (b"" if head_only else body)


class Server:
    def __init__(self, port, timeout_ms=10000, max_conns=100):
        self.port = port
        self.timeout_ms = timeout_ms
        self.max_conns = max_conns
        self.stats = Stats()

    def stats_json(self):
        gc.collect()
        s = self.stats
        state = {
            "platform": sys.platform,
            "open": s.open,
            "peak_open": s.peak,
            "connections": s.connections,
            "requests": s.requests,
            "rejected": dict((str(k), v) for k, v in s.rejected.items()),
            "timeouts": s.timeouts,
            "resets": s.resets,
            "mem_free": gc.mem_free(),
            "mem_alloc": gc.mem_alloc(),
        }
        try:
            import pvboot

            halts, interrupts = pvboot.idle_stats()[:2]
            state["idle_halts"] = halts
            state["idle_interrupts"] = interrupts
        except (ImportError, AttributeError):
            pass
        return json.dumps(state).encode()

    def route(self, method, target):
        """(status, body, content type) for a well-formed request."""
        if method not in ("GET", "HEAD"):
            return 405, b"only GET and HEAD\n", "text/plain; charset=utf-8"
        path = target.split("?", 1)[0]
        if path in ("/", "/index.html"):
            return 200, PAGE, "text/html; charset=utf-8"
        if path == "/api/stats":
            return 200, self.stats_json(), "application/json"
        return 404, b"not found\n", "text/plain; charset=utf-8"

    async def _send(self, writer, data):
        writer.write(data)
        # A client that stops reading must not hold the connection forever.
        await asyncio.wait_for_ms(writer.drain(), self.timeout_ms)

    async def _requests(self, conn, writer):
        while True:
            head = await asyncio.wait_for_ms(conn.head(), self.timeout_ms)
            if head is None:
                return
            method, target, version, headers = parse_head(head)
            if b"transfer-encoding" in headers:
                raise BadRequest(501, "chunked request bodies are not supported")
            length = headers.get(b"content-length", b"0")
            if not length.isdigit():
                raise BadRequest(400, "bad Content-Length")
            length = int(length)
            if length > BODY_LIMIT:
                raise BadRequest(413, "body of %d bytes" % length)
            if length:
                await asyncio.wait_for_ms(conn.body(length), self.timeout_ms)
            connection = headers.get(b"connection", b"").lower()
            keep_alive = connection != b"close" if version == b"HTTP/1.1" else connection == b"keep-alive"
            status, body, ctype = self.route(method, target)
            self.stats.requests += 1
            keep_alive = keep_alive and status != 405
            await self._send(writer, response(status, body, ctype, keep_alive, method == "HEAD"))
            if not keep_alive:
                return

    async def handle(self, reader, writer):
        s = self.stats
        s.connections += 1
        s.open += 1
        s.peak = max(s.peak, s.open)
        try:
            if s.open > self.max_conns:
                raise BadRequest(503, "too many connections")
            await self._requests(Connection(reader), writer)
        except BadRequest as exc:
            s.rejected[exc.status] = s.rejected.get(exc.status, 0) + 1
            try:
                await self._send(writer, response(exc.status, (str(exc) + "\n").encode(), keep_alive=False))
            except Exception:
                pass
        except asyncio.TimeoutError:
            s.timeouts += 1
        except OSError:
            s.resets += 1  # the client reset or vanished: nothing to answer
        finally:
            s.open -= 1
            try:
                await writer.wait_closed()  # closes the socket (StreamWriter.close() does not)
            except OSError:
                pass

    async def serve(self, address="0.0.0.0", backlog=32):
        server = await asyncio.start_server(self.handle, address, self.port, backlog)
        print("httpd: listening on %s:%d" % (address, self.port))
        await server.wait_closed()
