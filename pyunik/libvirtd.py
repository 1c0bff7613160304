"""Starting and stopping Debian's libvirtd for the tests and CI (as root).

On a real host systemd starts libvirtd; a CI machine or a container has no
systemd, so :func:`running` starts the daemon itself when nothing answers at
qemu:///system, and stops it afterwards. An already running libvirtd is used
as it is and left alone.

The daemon runs in a mount namespace of its own in which our qemu.conf is
bind-mounted over /etc/libvirt/qemu.conf (the file itself is not touched):

- ``user``/``group`` root: Debian runs QEMU as libvirt-qemu, which cannot open
  a /dev/kvm that is root's only (no udev rule here gives it to group kvm).
  libvirt then finds "KVM was enabled when probing, but it is not available
  now", throws its QEMU capabilities away and probes QEMU again on every
  call: each call takes seconds and a domain start half a minute. Every
  other QEMU of the tests runs as root too.
- ``stdio_handler = "file"``: QEMU's output goes straight to
  /var/log/libvirt/qemu/NAME.log, without a virtlogd to manage.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LIBVIRTD = "/usr/sbin/libvirtd"
PIDFILE = Path("/run/libvirtd.pid")
SYSTEM_URI = "qemu:///system"
QEMU_CONF = 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n'


class LibvirtdError(Exception):
    """libvirtd could not be started or reached; the message says why."""


def answers(uri: str = SYSTEM_URI) -> bool:
    """True when a libvirtd answers at ``uri``."""
    import libvirt

    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return False
    conn.close()
    return True


def _silence_libvirt_errors() -> None:
    """libvirt prints every failed call on stderr; the callers report their own."""
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


@contextlib.contextmanager
def running(log: Path | None = None, timeout: float = 30.0) -> Iterator[str]:
    """A libvirtd answering at qemu:///system for the ``with`` block; yields the URI."""
    _silence_libvirt_errors()
    if answers():
        yield SYSTEM_URI
        return
    if os.geteuid() != 0:
        raise LibvirtdError("no libvirtd answers at qemu:///system and only root can start one")
    if not Path(LIBVIRTD).exists() or shutil.which("unshare") is None:
        raise LibvirtdError(f"{LIBVIRTD} not found; fix: ./bootstrap.sh installs libvirt-daemon-system")
    with tempfile.TemporaryDirectory(prefix="pyunik-libvirtd-") as tmp:
        conf = Path(tmp) / "qemu.conf"
        conf.write_text(QEMU_CONF)
        env = dict(os.environ)
        if log:
            env["LIBVIRT_LOG_OUTPUTS"] = f"3:file:{log}"
        script = 'mount --bind "$1" /etc/libvirt/qemu.conf && exec "$2"'
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(conf), LIBVIRTD],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not answers():
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                    raise LibvirtdError(f"libvirtd exited with status {proc.returncode}: {err[-300:]}")
                if time.monotonic() > deadline:
                    raise LibvirtdError(f"libvirtd did not answer at {SYSTEM_URI} within {timeout:.0f} s")
                time.sleep(0.1)
            yield SYSTEM_URI
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the libvirtd we started (it ends the QEMUs of its transient domains)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()
