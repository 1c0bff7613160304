/*
 * A read cache of recently used 4 KiB pages of the disks, in front of the
 * drivers: what a page cache is to Linux, without the write-back part.
 *
 * - Writes go through: a write reaches the device and is completed there
 *   before the cache learns its data, so a write that returned is as
 *   durable as without the cache (sync is still the device's FLUSH).
 * - A read that misses right after a cached page (a sequential reader)
 *   fetches a whole window (readahead: one request of the driver's
 *   largest) and keeps every page of it; so does a miss just ahead of
 *   such a stream (the aligned window it falls in follows a cached page);
 *   other misses fetch their pages to the end of the caller's block
 *   (blockdev.c decides): littlefs reads a file block by block and walks
 *   its skip-list to blocks ahead of the one it reads, FAT reads its table
 *   sector by sector; without this each of those is a round trip to the
 *   device model (an exit and an interrupt under TCG).
 * - blockdev.drop_caches() empties it, as /proc/sys/vm/drop_caches does
 *   Linux's (the bench drops both before its read phases).
 *
 * 8-way set-associative (sets chosen by a hash of the page), least recently
 * used within a set: a lookup looks at eight tags. Pages come from the page allocator at the first disk's
 * registration (board init); the size is the block plugin's `cache_kib`.
 */
#ifndef PYUNIK_BLOCKCACHE_H
#define PYUNIK_BLOCKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev.h"

#define BLOCKCACHE_PAGE (4096)
#define BLOCKCACHE_PAGE_SECTORS (BLOCKCACHE_PAGE / BLOCKDEV_SECTOR)

// Takes the pages (once; at board init, while the page allocator gives
// pages). False, with the cache off, when there is no memory for it.
bool pyunik_blockcache_init(void);
bool pyunik_blockcache_enabled(void);

// Whether the page holding this sector is cached.
bool pyunik_blockcache_has(pyunik_blockdev_t *dev, uint64_t sector);

// Copy len bytes at 512-byte sector `sector` of dev into dst when every
// page they touch is cached; false (nothing copied) otherwise.
bool pyunik_blockcache_read(pyunik_blockdev_t *dev, uint64_t sector, uint8_t *dst, size_t len);

// What the device now holds at sector (it was read from, or written to and
// completed by, the device): whole pages are kept, cached pages that the
// range covers in part are updated.
void pyunik_blockcache_store(pyunik_blockdev_t *dev, uint64_t sector, const uint8_t *src, size_t len);

// Forget the pages touching the range (a write that failed: the device may
// hold the old data, the new, or a mix).
void pyunik_blockcache_forget(pyunik_blockdev_t *dev, uint64_t sector, size_t len);

// Forget everything.
void pyunik_blockcache_drop(void);

typedef struct {
    uint32_t pages;
    uint64_t hits;   // transfers served from the cache
    uint64_t misses; // transfers that went to the device
} pyunik_blockcache_stats_t;
extern pyunik_blockcache_stats_t pyunik_blockcache_stats;

#endif // PYUNIK_BLOCKCACHE_H
