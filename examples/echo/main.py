# TCP and UDP echo servers, plus discard and source for bulk transfers:
# `invoke run --board qemu-microvm-net --app examples/echo
# --net user:hostfwd=tcp:127.0.0.1:7007-:7,hostfwd=udp:127.0.0.1:7007-:7`.
# Options (kernel command line): port=7, discard=9, source=19, timeout=30 (s).
import asyncio

import cmdline
import netup
from echo import Echo


async def main():
    addr = await netup.wait_for_address()
    if addr:
        print("echo: address", addr)
    echo = Echo(int(float(cmdline.get("timeout", "30")) * 1000))
    await echo.serve(
        int(cmdline.get("port", "7")),
        int(cmdline.get("discard", "9")),
        int(cmdline.get("source", "19")),
    )


asyncio.run(main())
