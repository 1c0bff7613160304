# File I/O through the VFS, on any MicroPython: the disk benchmark's guest
# side. The same file is pyunik's frozen main.py (on its littlefs or FAT disk,
# mounted at /) and the unix port's script in the Linux guest (ext4 or vfat
# on the same virtio-blk disk, mounted at /mnt).
#
#   disk_io.py DIR SEQ_MIB RAND_READS SMALL_FILES [pause]
#
# - FIRST: the first bytes read from a file on the disk (the harness times
#   this line from QEMU's start: boot to first file read);
# - seq_write: SEQ_MIB records of 1 MiB into one file, then flush (fsync on
#   the unix port, a littlefs/FAT sync and a virtio FLUSH on pyunik), close;
# - seq_read: the file read back in 1 MiB records;
# - rand_read: RAND_READS reads of 4 KiB at random 4 KiB-aligned offsets;
# - small_files: SMALL_FILES files of 1 KiB, each created, written, flushed
#   (made durable) and closed;
# - mount_us (pyunik only): a second, read-only mount of disk 0 at /m
#   (blockdev: virtio-blk or xen-blkfront).
# Before each read phase the OS's cache is dropped (Linux: its page cache,
# /proc/sys/vm/drop_caches; pyunik: its block layer's read cache,
# blockdev.drop_caches()), so reads come from the device on both; within a
# phase both read ahead and keep what they read. Times are the guest's own
# time.ticks_us(). With "pause", the program prints "PHASE <name>" after each
# phase and waits for a line on stdin: the harness reads QEMU's block
# statistics there. Each result: "RESULT <name> <count> <bytes> <microseconds>".
import gc
import os
import sys
import time

RECORD = 1 << 20
SMALL = 1024
PAGE = 4096


def pause(enabled, name):
    if enabled:
        print("PHASE", name)
        sys.stdin.readline()


def drop_caches():
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        import blockdev  # pyunik: its disks' read cache (modules/block/blockcache.h)

        blockdev.drop_caches()


def result(name, count, nbytes, t0):
    print("RESULT", name, count, nbytes, time.ticks_diff(time.ticks_us(), t0))


def seq_write(path, records):
    buf = bytearray(RECORD)
    for i in range(0, RECORD, 256):
        buf[i] = i >> 8 & 0xFF
    t0 = time.ticks_us()
    with open(path, "wb") as f:
        for _ in range(records):
            f.write(buf)
        f.flush()
    result("seq_write", records, records * RECORD, t0)


def seq_read(path, records):
    buf = bytearray(RECORD)
    total = 0
    t0 = time.ticks_us()
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            total += n
    result("seq_read", records, total, t0)
    if total != records * RECORD:
        raise OSError(f"read {total} bytes of {records * RECORD}")


def rand_read(path, records, count):
    pages = records * RECORD // PAGE
    buf = bytearray(PAGE)
    x = 12345
    t0 = time.ticks_us()
    with open(path, "rb") as f:
        for _ in range(count):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF  # the same offsets on every platform
            f.seek((x % pages) * PAGE)
            if f.readinto(buf) != PAGE:
                raise OSError("short read")
    result("rand_read", count, count * PAGE, t0)


def small_files(directory, count):
    payload = bytes(range(256)) * (SMALL // 256)
    os.mkdir(directory)
    t0 = time.ticks_us()
    for i in range(count):
        with open(f"{directory}/f{i}", "wb") as f:
            f.write(payload)
            f.flush()
    result("small_files", count, count * SMALL, t0)


def mount_time():
    try:
        import blockdev
        import vfs
    except ImportError:
        return  # the Linux guest: its /init times the kernel's mount
    from lfs_geometry import BLOCK_SIZE, LOOKAHEAD, PROG_SIZE, READ_SIZE, SECTOR

    # The geometry modules/storage/_boot.py mounts with; littlefs first, as it does.
    blockdev.drop_caches()
    t0 = time.ticks_us()
    try:
        fs = vfs.VfsLfs2(blockdev.Disk(0, BLOCK_SIZE), readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)
    except OSError:
        t0 = time.ticks_us()
        fs = vfs.VfsFat(blockdev.Disk(0, SECTOR))
    vfs.mount(fs, "/m", readonly=True)
    elapsed = time.ticks_diff(time.ticks_us(), t0)
    os.listdir("/m")
    vfs.umount("/m")
    print("RESULT mount_us 1 0", elapsed)


def main(argv):
    directory, seq_mib, rand_reads, small = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    paused = "pause" in argv[5:]
    with open(directory + "/first.txt") as f:
        print("FIRST", f.read().strip())
    print("HEAP", gc.mem_free() + gc.mem_alloc())
    pause(paused, "start")
    path = directory + "/seq.bin"
    seq_write(path, seq_mib)
    pause(paused, "seq_write")
    drop_caches()
    seq_read(path, seq_mib)
    pause(paused, "seq_read")
    drop_caches()
    rand_read(path, seq_mib, rand_reads)
    pause(paused, "rand_read")
    small_files(directory + "/small", small)
    pause(paused, "small_files")
    mount_time()
    print("DONE")


main(sys.argv)
