/*
 * The PVH start info: command line and memory map, and from it the region
 * the port may use as its heap.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xen/arch-x86/hvm/start_info.h>

#include "pvboot_internal.h"

/* pvboot maps the first 4 GiB (entry.S); RAM above it is not usable yet. */
#define MAPPED_LIMIT (4ULL << 30)
/* Below 1 MiB live the start info, the memory map, the command line, BIOS
 * data and the VGA hole: never hand it out. */
#define LOW_LIMIT (1ULL << 20)

static pvboot_memmap_entry_t memmap[PVBOOT_MAX_MEMMAP];
// The loader's start info, memory map and command line may lie in what
// becomes the heap (Xen puts them right after the image): keep copies.
static char cmdline[PVBOOT_MAX_CMDLINE];

static void consider_free(pvboot_start_info_t *si, uint64_t start, uint64_t end) {
    uint64_t image_end = (uintptr_t)_end;
    if (start < LOW_LIMIT) {
        start = LOW_LIMIT;
    }
    /* Regions overlapping the image start after it. */
    if (start < image_end && end > (uintptr_t)__image_start) {
        start = image_end;
    }
    if (end > MAPPED_LIMIT) {
        end = MAPPED_LIMIT;
    }
    start = (start + 4095) & ~4095ULL;
    end &= ~4095ULL;
    if (end > start && end - start > si->heap.size) {
        si->heap.addr = (uintptr_t)start;
        si->heap.size = (size_t)(end - start);
    }
}

// QEMU's microvm appends "virtio_mmio.device=..." words to the user's
// command line. They describe the machine, not the app: move them out, so
// that sys.argv and cmdline.options hold only what the user wrote.
static char device_words[PVBOOT_MAX_CMDLINE];

static void split_device_words(pvboot_start_info_t *si) {
    static const char key[] = "virtio_mmio.device=";
    char *out = cmdline, *dev = device_words;
    const char *p = cmdline;
    while (*p != '\0') {
        // A word with the spaces before it: the user's words keep theirs.
        const char *space = p;
        while (*p == ' ') {
            p++;
        }
        const char *word = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
        size_t len = (size_t)(p - word);
        if (len >= sizeof(key) - 1 && memcmp(word, key, sizeof(key) - 1) == 0) {
            if (dev != device_words) {
                *dev++ = ' ';
            }
            memcpy(dev, word, len);
            dev += len;
        } else {
            memmove(out, space, (size_t)(p - space));
            out += p - space;
        }
    }
    *out = '\0';
    *dev = '\0';
    si->device_words = device_words;
}

void pvboot_memmap_init(uint64_t start_info_paddr, pvboot_start_info_t *si) {
    const struct hvm_start_info *hsi = (const struct hvm_start_info *)(uintptr_t)start_info_paddr;
    si->cmdline = "";
    si->device_words = "";
    if (hsi == NULL || hsi->magic != XEN_HVM_START_MAGIC_VALUE) {
        pvboot_printf("pvboot: no PVH start info (magic %x)\n", hsi ? hsi->magic : 0);
        return;
    }
    if (hsi->cmdline_paddr != 0) {
        const char *given = (const char *)(uintptr_t)hsi->cmdline_paddr;
        size_t n = 0;
        while (n < sizeof(cmdline) - 1 && given[n] != '\0') {
            cmdline[n] = given[n];
            n++;
        }
        cmdline[n] = '\0';
        si->cmdline = cmdline;
        while (n < 65536 && given[n] != '\0') {
            n++;
        }
        si->cmdline_length = n;
        split_device_words(si);
    }
    if (hsi->version >= 1) {
        si->rsdp_paddr = hsi->rsdp_paddr;
    }
    pvboot_memmap_entry_t given[PVBOOT_MAX_MEMMAP];
    size_t count = 0;
    if (hsi->version >= 1 && hsi->memmap_paddr != 0) {
        const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)hsi->memmap_paddr;
        for (uint32_t i = 0; i < hsi->memmap_entries && count < PVBOOT_MAX_MEMMAP; i++) {
            given[count].addr = e[i].addr;
            given[count].size = e[i].size;
            given[count].type = e[i].type;
            count++;
        }
    } else if (pvboot_hypervisor() == PVBOOT_HV_XEN) {
        /* Xen gives a PVH dom0 no map in the start info: ask for it. */
        count = pvboot_xen_memory_map(given, PVBOOT_MAX_MEMMAP);
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        /* QEMU microvm's qboot appends an empty entry (0 + 0, type 0). */
        if (given[i].size == 0) {
            continue;
        }
        memmap[n] = given[i];
        if (given[i].type == XEN_HVM_MEMMAP_TYPE_RAM) {
            si->ram_total += given[i].size;
            consider_free(si, given[i].addr, given[i].addr + given[i].size);
        }
        n++;
    }
    si->memmap = memmap;
    si->memmap_entries = n;
}
