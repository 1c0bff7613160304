# Stand-in for pyunik's pvboot module on the MicroPython unix port, so that
# pyunik's own frozen `cmdline` module (port/frozen/cmdline.py) and the apps
# in examples/ run unchanged there: the "kernel command line" is the
# environment variable PYUNIK_CMDLINE. Used by the unix-port tests of the
# examples and by the Linux guest of the network benchmark.
import os


def cmdline():
    return os.getenv("PYUNIK_CMDLINE") or ""
