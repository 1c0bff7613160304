"""Xen, from Python: xenstore, and whether we run on Xen at all.

import xen
xen.present()                      # True on Xen
xen.store.read("name")             # this domain's name (relative paths
                                   # are under /local/domain/<domid>/)
xen.store.write("data/ready", "1")
xen.store.directory("device")      # e.g. ['vif', 'vbd', 'console']
xen.store.watch("data/cmd", "t1")
xen.store.wait_event(1000)         # ('data/cmd', 't1') or None
xen.domid()
"""

import time

import _xen


def present():
    return _xen.present()


class Store:
    """The xenstore of this domain."""

    def read(self, path):
        return _xen.store_read(path)

    def write(self, path, value):
        _xen.store_write(path, str(value))

    def directory(self, path):
        return _xen.store_directory(path)

    def watch(self, path, token):
        _xen.store_watch(path, token)

    def unwatch(self, path, token):
        _xen.store_unwatch(path, token)

    def wait_event(self, timeout_ms=-1):
        """The next fired watch as (path, token), or None after timeout_ms."""
        start = time.ticks_ms()
        while True:
            event = _xen.store_next_event()
            if event is not None:
                return event
            if timeout_ms >= 0 and time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
                return None
            time.sleep_ms(10)


store = Store()


def domid():
    return int(store.read("domid"))
