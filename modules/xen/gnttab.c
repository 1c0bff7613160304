/*
 * The grant table (version 1): how this domain lets a backend (netback,
 * blkback in dom0) map its pages. Frames are mapped into our physical
 * address space with XENMEM_add_to_physmap, over pages set aside here.
 */
#include "xen_guest.h" // first: it sets the Xen interface version
#include <xen/grant_table.h>
#include <xen/memory.h>


#define GNTTAB_FRAMES (4)
#define ENTRIES_PER_FRAME (4096 / sizeof(grant_entry_v1_t))
#define NR_ENTRIES (GNTTAB_FRAMES * ENTRIES_PER_FRAME)

static grant_entry_v1_t table[NR_ENTRIES] __attribute__((aligned(4096)));
static unsigned frames;
static unsigned next_free = GNTTAB_NR_RESERVED_ENTRIES;
static int16_t free_list[NR_ENTRIES]; // freed references, reused first
static unsigned nr_free;

void xen_gnttab_init(void) {
    for (unsigned i = 0; i < GNTTAB_FRAMES; i++) {
        struct xen_add_to_physmap map = {
            .domid = DOMID_SELF,
            .space = XENMAPSPACE_grant_table,
            .idx = i,
            .gpfn = ((uintptr_t)table >> 12) + i,
        };
        if (pvboot_xen_hypercall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (uintptr_t)&map, 0, 0, 0) != 0) {
            break;
        }
        frames = i + 1;
    }
}

unsigned xen_gnttab_frames(void) {
    return frames;
}

int xen_gnttab_grant(domid_t domid, unsigned long frame, bool readonly) {
    uint64_t flags = pvboot_irq_save();
    int ref = -1;
    if (nr_free > 0) {
        ref = free_list[--nr_free];
    } else if (next_free < frames * ENTRIES_PER_FRAME) {
        ref = (int)next_free++;
    }
    pvboot_irq_restore(flags);
    if (ref < 0) {
        return -1;
    }
    table[ref].frame = (uint32_t)frame;
    table[ref].domid = domid;
    __atomic_thread_fence(__ATOMIC_RELEASE); // frame and domid before the flags
    table[ref].flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
    return ref;
}

void xen_gnttab_end(int ref) {
    if (ref < GNTTAB_NR_RESERVED_ENTRIES || (unsigned)ref >= NR_ENTRIES) {
        return;
    }
    table[ref].flags = 0;
    uint64_t flags = pvboot_irq_save();
    free_list[nr_free++] = (int16_t)ref;
    pvboot_irq_restore(flags);
}
