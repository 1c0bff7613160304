# Wait until the network interface has an IPv4 address, or fail clearly.
#
# On pyunik the NIC comes up with DHCP (or the static ip= of the kernel
# command line); a server that binds before the lease arrives would run
# but be unreachable, so apps wait here first. Where there is no
# `network` module (the MicroPython unix port, whose host already has a
# configured stack) there is nothing to wait for.
import asyncio
import time


async def wait_for_address(timeout_ms=15000):
    """The interface's IPv4 address as a string; None on the unix port.

    Raises OSError when there is no NIC, the link stays down or no address
    arrives within ``timeout_ms``: a clear error instead of a server that
    waits forever for clients that cannot reach it.
    """
    try:
        import network
    except ImportError:
        return None
    nic = network.LAN()  # raises OSError when the board has no NIC
    if not nic.active():
        nic.active(True)
    start = time.ticks_ms()
    while True:
        addr = nic.ipconfig("addr4")[0]
        if addr != "0.0.0.0":
            return addr
        if time.ticks_diff(time.ticks_ms(), start) > timeout_ms:
            up = nic.isconnected() if hasattr(nic, "isconnected") else "unknown"
            raise OSError(110, "no IPv4 address after %d ms (link up: %s)" % (timeout_ms, up))  # 110: ETIMEDOUT
        await asyncio.sleep_ms(20)
