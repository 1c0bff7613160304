/*
 * The disks' read cache (see blockcache.h).
 */
#include <string.h>

#include "pvboot_driver.h"
#include "blockcache.h"

#ifndef BLOCKDEV_CACHE_KIB
#define BLOCKDEV_CACHE_KIB (1024)
#endif

#define WAYS (8)

typedef struct {
    pyunik_blockdev_t *dev; // NULL: the way is empty
    uint64_t page;          // the disk's byte offset / BLOCKCACHE_PAGE
    uint32_t used;          // clock value of the last use (LRU within the set)
} tag_t;

static tag_t *tags;     // sets * WAYS
static uint8_t *data;   // sets * WAYS pages, in the same order as tags
static size_t sets;
static uint32_t clock;
pyunik_blockcache_stats_t pyunik_blockcache_stats;

bool pyunik_blockcache_init(void) {
    if (tags != NULL || BLOCKDEV_CACHE_KIB < 4 * WAYS) {
        return tags != NULL;
    }
    size_t pages = BLOCKDEV_CACHE_KIB / 4 / WAYS * WAYS;
    size_t tag_pages = (pages * sizeof(tag_t) + BLOCKCACHE_PAGE - 1) / BLOCKCACHE_PAGE;
    uint8_t *mem = pvboot_page_alloc(pages + tag_pages);
    if (mem == NULL) {
        pvboot_printf("block: no memory for a %u KiB disk cache; disks are read uncached\n",
            (unsigned)BLOCKDEV_CACHE_KIB);
        return false;
    }
    data = mem;
    tags = (tag_t *)(mem + pages * BLOCKCACHE_PAGE); // zeroed pages: every way empty
    sets = pages / WAYS;
    pyunik_blockcache_stats.pages = (uint32_t)pages;
    return true;
}

bool pyunik_blockcache_enabled(void) {
    return tags != NULL;
}

static size_t set_of(pyunik_blockdev_t *dev, uint64_t page) {
    // A multiplicative hash: littlefs's skip-lists visit blocks at power-of-two
    // distances, which `page % sets` would pile into one set.
    uint64_t key = (page ^ ((uint64_t)(uintptr_t)dev << 40)) * 0x9e3779b97f4a7c15ull;
    return (size_t)((key >> 32) % sets) * WAYS;
}

// The way holding the page, or -1.
static ptrdiff_t lookup(pyunik_blockdev_t *dev, uint64_t page) {
    size_t set = set_of(dev, page);
    for (size_t i = set; i < set + WAYS; i++) {
        if (tags[i].dev == dev && tags[i].page == page) {
            return (ptrdiff_t)i;
        }
    }
    return -1;
}

// The part of [pos, end) that lies in pos's page: its length, and in
// *in_page where in the page it starts.
static size_t page_part(uint64_t pos, uint64_t end, size_t *in_page) {
    *in_page = (size_t)(pos % BLOCKCACHE_PAGE);
    size_t n = BLOCKCACHE_PAGE - *in_page;
    return n < end - pos ? n : (size_t)(end - pos);
}

bool pyunik_blockcache_has(pyunik_blockdev_t *dev, uint64_t sector) {
    return tags != NULL && lookup(dev, sector * BLOCKDEV_SECTOR / BLOCKCACHE_PAGE) >= 0;
}

bool pyunik_blockcache_read(pyunik_blockdev_t *dev, uint64_t sector, uint8_t *dst, size_t len) {
    if (tags == NULL || len == 0) {
        return false;
    }
    uint64_t start = sector * BLOCKDEV_SECTOR;
    uint64_t end = start + len;
    // First look that all of it is there, so a miss copies nothing.
    for (uint64_t page = start / BLOCKCACHE_PAGE; page * BLOCKCACHE_PAGE < end; page++) {
        if (lookup(dev, page) < 0) {
            pyunik_blockcache_stats.misses++;
            return false;
        }
    }
    uint64_t pos = start;
    while (pos < end) {
        uint64_t page = pos / BLOCKCACHE_PAGE;
        size_t in_page;
        size_t n = page_part(pos, end, &in_page);
        ptrdiff_t way = lookup(dev, page);
        tags[way].used = ++clock;
        pyunik_blockdev_copy(dst, data + (size_t)way * BLOCKCACHE_PAGE + in_page, n);
        dst += n;
        pos += n;
    }
    pyunik_blockcache_stats.hits++;
    return true;
}

void pyunik_blockcache_store(pyunik_blockdev_t *dev, uint64_t sector, const uint8_t *src, size_t len) {
    if (tags == NULL) {
        return;
    }
    uint64_t start = sector * BLOCKDEV_SECTOR;
    uint64_t end = start + len;
    uint64_t pos = start;
    while (pos < end) {
        uint64_t page = pos / BLOCKCACHE_PAGE;
        size_t in_page;
        size_t n = page_part(pos, end, &in_page);
        ptrdiff_t way = lookup(dev, page);
        if (way < 0 && n == BLOCKCACHE_PAGE) {
            // A whole page: it takes the set's least recently used way.
            size_t set = set_of(dev, page);
            way = (ptrdiff_t)set;
            for (size_t i = set; i < set + WAYS; i++) {
                if (tags[i].dev == NULL) {
                    way = (ptrdiff_t)i;
                    break;
                }
                if (tags[i].used < tags[way].used) {
                    way = (ptrdiff_t)i;
                }
            }
            tags[way].dev = dev;
            tags[way].page = page;
        }
        if (way >= 0) {
            // A part of a page is kept only where the rest is cached already.
            tags[way].used = ++clock;
            pyunik_blockdev_copy(data + (size_t)way * BLOCKCACHE_PAGE + in_page, src, n);
        }
        src += n;
        pos += n;
    }
}

void pyunik_blockcache_forget(pyunik_blockdev_t *dev, uint64_t sector, size_t len) {
    if (tags == NULL || len == 0) {
        return;
    }
    uint64_t start = sector * BLOCKDEV_SECTOR;
    uint64_t end = start + len;
    for (uint64_t page = start / BLOCKCACHE_PAGE; page * BLOCKCACHE_PAGE < end; page++) {
        ptrdiff_t way = lookup(dev, page);
        if (way >= 0) {
            tags[way].dev = NULL;
        }
    }
}

void pyunik_blockcache_drop(void) {
    if (tags != NULL) {
        memset(tags, 0, sets * WAYS * sizeof(tag_t));
    }
}
