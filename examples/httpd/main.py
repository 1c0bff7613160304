# An HTTP/1.1 server: `invoke run --board qemu-microvm-net --app examples/httpd
# --net user:hostfwd=tcp:127.0.0.1:8080-:80`, then http://127.0.0.1:8080/.
# Options (kernel command line): port=80, timeout=10 (seconds a client has
# to send a request head), max_conns=100.
import asyncio

import cmdline
import netup
from httpd import Server


async def main():
    addr = await netup.wait_for_address()
    if addr:
        print("httpd: address", addr)
    server = Server(
        int(cmdline.get("port", "80")),
        timeout_ms=int(float(cmdline.get("timeout", "10")) * 1000),
        max_conns=int(cmdline.get("max_conns", "100")),
    )
    await server.serve()


asyncio.run(main())
