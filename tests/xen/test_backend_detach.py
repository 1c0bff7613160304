"""A backend that leaves Connected mid-run: dom0 detaches the domU's disk
and then its vif (``xl block-detach``, ``xl network-detach``: libxl moves the
backend to Closing) while the domU is busy with each. The front ends see it
through a xenstore watch on the backend's state (an event on the store's
event channel, no polling), fail the I/O in flight at once with an OSError
(not after the block layer's 30 s timeout, not never for a socket), say
Closed so that the detach completes, and the REPL goes on."""

from __future__ import annotations

import time
from collections.abc import Callable

from test_netfront import GUEST  # tests/xen is on sys.path (rootdir-relative imports)
from test_pyunik_on_xen import Console

from rigs.xenrig import Domain, XenRig

#: Far below the block layer's 30 s timeout: what "at once" means under nested TCG.
PROMPTLY_S = 20
#: Files written, closed and synced until the disk goes; then the error.
DISK_WRITER = (
    b"exec(\"import os\\ni = 0\\ntry:\\n    while True:\\n        f = open('/f%d' % (i % 8), 'wb')\\n"
    b"        f.write(bytes(4096))\\n        f.close()\\n        os.sync()\\n        i += 1\\n"
    b"        if i == 3:\\n            print('WRITING')\\n"
    b"except OSError as e:\\n    print('DISKERR', e.errno, i >= 3)\\n\")\r"
)
#: A connection from dom0, then a recv() that only the detach ends.
NET_READER = (
    b"exec(\"import socket\\ns = socket.socket()\\ns.bind(('0.0.0.0', 7))\\ns.listen(1)\\nc, a = s.accept()\\n"
    b"print('CONNECTED', c.recv(10))\\ntry:\\n    c.recv(10)\\n    print('NETEOF')\\n"
    b"except OSError as e:\\n    print('NETERR', e.errno)\\n\")\r"
)


def test_detach_fails_io_at_once_and_the_repl_goes_on(
    xen_rig: XenRig,
    net_disk_domu: Callable[[str, str, int], Domain],
    dut,  # type: ignore[no-untyped-def]
) -> None:
    domain = net_disk_domu("pyunik-detach", "00:16:3e:50:59:05", 2 << 20)
    console = Console(dut)

    # The disk: block-detach while files are being written and synced.
    console.keys(DISK_WRITER)
    dut.expect_exact(b"WRITING\r\n", timeout=60)  # the echo has WRITING')
    started = time.monotonic()
    status, out = xen_rig.sh(f"xl block-detach {domain.name} xvda", timeout=60)
    assert status == 0, out  # libxl saw the backend Closed: the front end let go
    found = dut.expect(rb"DISKERR (\d+) (\w+)\r\n", timeout=PROMPTLY_S)
    disk_s = time.monotonic() - started
    assert found.group(1) == b"19" and found.group(2) == b"True", found.group(0)  # ENODEV, after real writes
    dut.expect_exact(b">>> ", timeout=30)
    out = console.run("import blockdev; print(blockdev.count(), 6 * 7)")
    assert out.strip() == "1 42", out  # the disk object stays, dead; Python goes on
    _, log = xen_rig.sh(f"cat /var/log/xen/console/guest-{domain.name}.log")
    assert "xen-blkfront device/vbd/51712: backend left Connected (state 5)" in log, log[-500:]

    # The network: network-detach while recv() waits on a connection from dom0.
    console.keys(NET_READER)
    time.sleep(1)
    status, out = xen_rig.sh(
        f"(echo hi; sleep 120) | nc {GUEST} 7 >/dev/null 2>&1 & echo $! >/run/detach-nc.pid; "
        "i=0; while ! grep -q ' 01 ' /proc/net/tcp && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done"
    )
    dut.expect_exact(b"CONNECTED b'hi\\n'", timeout=60)
    started = time.monotonic()
    status, out = xen_rig.sh(f"xl network-detach {domain.name} 0", timeout=60)
    assert status == 0, out
    found = dut.expect(rb"NETERR (\d+)\r\n|NETEOF\r\n", timeout=PROMPTLY_S)
    net_s = time.monotonic() - started
    xen_rig.sh("kill $(cat /run/detach-nc.pid) 2>/dev/null; true")
    assert found.group(1) == b"103", found.group(0)  # ECONNABORTED: lwIP aborted the connection
    dut.expect_exact(b">>> ", timeout=30)
    assert console.run("print(6 * 7)").strip() == "42"
    print(f"OSError after xl block-detach in {disk_s:.1f} s, after xl network-detach in {net_s:.1f} s")
    assert domain.state() not in ("", "c"), "the domU must still run"
    domain.destroy()
