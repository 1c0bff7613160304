# Runs before the app's boot.py (port/main.c): mounts the board's disk as
# plugins/storage.py's options say. Every way it can fail ends in one line
# on the console and an unmounted disk, never a crash and never a write the
# board did not ask for (it formats only with format = "lfs" or "fat").
import errno

import board
import vfs

# The littlefs geometry, the same as the host's (modules/storage/lfs_geometry.py).
from lfs_geometry import BLOCK_SIZE, LOOKAHEAD, OLD_BLOCK_SIZES, PROG_SIZE, READ_SIZE, SECTOR


def _lfs(dev):
    return vfs.VfsLfs2(dev, readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)


def _filesystem(driver, index, fs):
    if fs == "fat":
        return vfs.VfsFat(driver.Disk(index, SECTOR))
    try:
        return _lfs(driver.Disk(index, BLOCK_SIZE))
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        # littlefs refuses another block size with EINVAL: an image made
        # with an earlier geometry mounts with its own.
        for size in OLD_BLOCK_SIZES:
            try:
                return _lfs(driver.Disk(index, size))
            except OSError:
                pass
        raise exc


def _mkfs(driver, index, fs):
    if fs == "lfs":
        vfs.VfsLfs2.mkfs(driver.Disk(index, BLOCK_SIZE), readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)
    else:
        vfs.VfsFat.mkfs(driver.Disk(index, SECTOR))


def _mount(opts):
    import blockdev as driver

    index = opts["disk"]
    point = opts["mount"]
    count = driver.count()
    if index >= count:
        print(
            "storage: no disk %d to mount at %s (the VM has %d); give one with `invoke run --disk IMG`"
            % (index, point, count)
        )
        return
    kinds = ("lfs", "fat") if opts["fs"] == "auto" else (opts["fs"],)
    failed = []
    for fs in kinds:
        try:
            vfs.mount(_filesystem(driver, index, fs), point, readonly=opts["readonly"])
            break
        except OSError as exc:
            failed.append("%s: %s" % (fs, exc))
    else:
        fmt = opts["format"]
        if not fmt:
            print(
                "storage: disk %d is not a %s filesystem (%s); not mounted. "
                'fix: `invoke disk.create IMG --fs %s`, or format = "%s" in the board'
                % (index, " or ".join(kinds), "; ".join(failed), kinds[0], kinds[0])
            )
            return
        print('storage: disk %d: formatting as %s (format = "%s")' % (index, fmt, fmt))
        _mkfs(driver, index, fmt)
        vfs.mount(_filesystem(driver, index, fmt), point, readonly=opts["readonly"])
    import os
    import sys

    os.chdir(point)
    sys.path.append((point.rstrip("/") or "") + "/lib")


try:
    _mount(board.options["storage"])
except Exception as exc:  # one line, and the REPL or the app still comes up
    print("storage: mount failed: %r" % (exc,))
del _mount
