# littlefs on a pyunik disk: the one definition. Frozen into the image (the
# guest's VfsLfs2 mounts and formats with it: _boot.py) and read by the host
# (pyunik/disk.py: `invoke disk.create` and the tests make images with it),
# so that either side reads what the other wrote.
#
# BLOCK_SIZE is on-disk format: littlefs records it in the superblock and
# refuses to mount with another one (EINVAL; an image made before these 4 KiB
# blocks must be re-made with `invoke disk.create`). The others are not:
# - READ_SIZE = a whole block: littlefs reads through a cache of
#   4 * max(READ_SIZE, PROG_SIZE) bytes capped at one block (MicroPython's
#   vfs_lfsx.c), so this makes its read and write caches a whole block and
#   each block one device request.
# - PROG_SIZE = a sector: a metadata commit is padded to it, so a small
#   commit (a file created, synced) writes one sector, not a block.
# - LOOKAHEAD (bytes; 8 blocks a byte): littlefs finds free blocks by walking
#   every file it has (every block of every file's skip-list) once per
#   LOOKAHEAD * 8 allocations; 2048 bytes cover a 64 MiB disk in one walk.
SECTOR = 512
BLOCK_SIZE = 4096
READ_SIZE = 4096
PROG_SIZE = 512
LOOKAHEAD = 2048
