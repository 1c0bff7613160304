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

int xen_gnttab_end(int ref) {
    if (ref < GNTTAB_NR_RESERVED_ENTRIES || (unsigned)ref >= next_free) {
        return -1;
    }
    // Revoke only while the backend has the page mapped by neither read nor
    // write (Xen sets GTF_reading/GTF_writing in the same word while it
    // maps): one compare-and-swap, so that a mapping made between our look
    // and our write cannot slip through. A page still mapped stays granted,
    // its reference is not reused, and the caller must not reuse the page.
    uint16_t flags = __atomic_load_n(&table[ref].flags, __ATOMIC_ACQUIRE);
    do {
        if (flags & (GTF_reading | GTF_writing)) {
            return -1;
        }
        if (!(flags & GTF_permit_access)) {
            return -1; // not granted (ended already): freeing it twice would hand it out twice
        }
    } while (!__atomic_compare_exchange_n(&table[ref].flags, &flags, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    uint64_t irq = pvboot_irq_save();
    free_list[nr_free++] = (int16_t)ref;
    pvboot_irq_restore(irq);
    return 0;
}
