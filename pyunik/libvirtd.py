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
    _check_can_start()
    with tempfile.TemporaryDirectory(prefix="pyunik-libvirtd-") as tmp:
        conf = Path(tmp) / "qemu.conf"
        conf.write_text(QEMU_CONF)
        script = 'mount --bind "$1" /etc/libvirt/qemu.conf && exec "$2"'
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(conf), LIBVIRTD]
        with _daemon(argv, SYSTEM_URI, log, timeout):
            yield SYSTEM_URI


#: What the private daemon of :func:`in_namespace` runs: its own state, cache,
#: log and run directories bind-mounted over the system's (so it can run beside
#: another libvirtd), our qemu.conf, and its sockets in the work directory.
PRIVATE_DAEMON = """set -e
w=$1
mkdir -p "$w/lib" "$w/cache" "$w/log" /run/libvirt
mount -t tmpfs tmpfs /run/libvirt
mount --bind "$w/lib" /var/lib/libvirt
mount --bind "$w/cache" /var/cache/libvirt
mount --bind "$w/log" /var/log/libvirt
mount --bind "$w/qemu.conf" /etc/libvirt/qemu.conf
exec "$2" --pid-file "$w/libvirtd.pid" --config "$w/libvirtd.conf"
"""


@contextlib.contextmanager
def in_namespace(netns: str, workdir: Path, log: Path | None = None, timeout: float = 30.0) -> Iterator[str]:
    """A private libvirtd inside the network namespace ``netns`` for the ``with``
    block; yields its URI (``qemu:///system?socket=...`` in ``workdir``).

    Everything it makes for a network (the bridge, dnsmasq, firewall rules)
    exists only in that namespace, and it runs beside any other libvirtd
    (the system's, or the one :func:`running` started). Networks it starts
    leave dnsmasq behind when it stops, by libvirt's design: the caller
    removes the namespace with what runs in it.
    """
    _silence_libvirt_errors()
    _check_can_start()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "qemu.conf").write_text(QEMU_CONF)
    (workdir / "libvirtd.conf").write_text(f'unix_sock_dir = "{workdir}"\nunix_sock_ro_perms = "0700"\n')
    uri = f"{SYSTEM_URI}?socket={workdir / 'libvirt-sock'}"
    argv = ["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private"]
    argv += ["sh", "-c", PRIVATE_DAEMON, "sh", str(workdir), LIBVIRTD]
    with _daemon(argv, uri, log, timeout):
        yield uri


def _check_can_start() -> None:
    if os.geteuid() != 0:
        raise LibvirtdError("no libvirtd answers at qemu:///system and only root can start one")
    if not Path(LIBVIRTD).exists() or shutil.which("unshare") is None:
        raise LibvirtdError(f"{LIBVIRTD} not found; fix: ./bootstrap.sh installs libvirt-daemon-system")


@contextlib.contextmanager
def _daemon(argv: list[str], uri: str, log: Path | None, timeout: float) -> Iterator[None]:
    """Start the daemon ``argv``, wait until it answers at ``uri``, stop it after."""
    env = dict(os.environ)
    if log:
        env["LIBVIRT_LOG_OUTPUTS"] = f"3:file:{log}"
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not answers(uri):
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                raise LibvirtdError(f"libvirtd exited with status {proc.returncode}: {err[-300:]}")
            if time.monotonic() > deadline:
                raise LibvirtdError(f"libvirtd did not answer at {uri} within {timeout:.0f} s")
            time.sleep(0.1)
        yield
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
