# littlefs on a pyunik disk: the one definition. Frozen into the image (the
# guest's VfsLfs2 mounts and formats with it: _boot.py) and read by the host
# (pyunik/disk.py: `invoke disk.create` and the tests make images with it),
# so that either side reads what the other wrote.
#
# BLOCK_SIZE is on-disk format: littlefs records it in the superblock and
# refuses to mount with another one (EINVAL). 16 KiB: littlefs moves a file
# block by block (and walks its skip-list once per block), and each block is
# a device call, a round trip to the device model; the port makes littlefs's
# caches a whole block (MICROPY_VFS_LFS2_CACHE_BLOCK). A file over ~1 KiB
# (littlefs inlines smaller ones in its directory) takes at least a block.
# OLD_BLOCK_SIZES: what earlier images used; _boot.py mounts those too.
# The others are not on-disk format:
# - READ_SIZE, PROG_SIZE = a sector: a metadata commit is padded to
#   PROG_SIZE (a small commit writes one sector), and littlefs reads 4-byte
#   skip-list pointers a READ_SIZE at a time.
# - LOOKAHEAD (bytes; 8 blocks a byte): littlefs finds free blocks by walking
#   every file it has once per LOOKAHEAD * 8 allocations (it was 32: a walk
#   per 256 blocks); 2048 cover 256 MiB of 16 KiB blocks in one walk.
SECTOR = 512
BLOCK_SIZE = 16384
OLD_BLOCK_SIZES = (4096,)
READ_SIZE = 512
PROG_SIZE = 512
LOOKAHEAD = 2048
