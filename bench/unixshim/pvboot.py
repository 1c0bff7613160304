# Stand-in for pyunik's pvboot module on the MicroPython unix port, so that
# pyunik's own frozen `cmdline` module (port/frozen/cmdline.py) and the apps
# in examples/ run unchanged there: the "kernel command line" is the
# environment variable PYUNIK_CMDLINE. Used by the unix-port tests of the
# examples and by the Linux guest of the network benchmark.
import os


def cmdline():
    return os.getenv("PYUNIK_CMDLINE") or ""


def idle_stats():
    """(halts, interrupts) as pyunik's pvboot.idle_stats() starts: Linux counts no
    halts here (None); interrupts are the total of every CPU since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith("intr "):
                return (None, int(line.split()[1]))
    return (None, None)
