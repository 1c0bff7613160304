/*
 * The core of running as a Xen PVH guest: shared info, event channels
 * delivered through the HVM callback vector into the same interrupt path as
 * every other device, the wall clock, and shutdown through SCHEDOP_shutdown.
 *
 * Everything here is skipped when the image runs elsewhere (QEMU without
 * Xen): the xen-pvh image boots on both.
 */
#include <string.h>

#include "xen_guest.h" // first: it sets the Xen interface version
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>


#define HVM_CALLBACK_VECTOR_TYPE (2ULL << 56)

// Xen replaces the RAM behind this page with the shared info page.
static shared_info_t shared_info_page __attribute__((aligned(4096)));
static bool present;

typedef struct {
    xen_evtchn_handler_t handler;
    void *arg;
} evtchn_slot_t;

static evtchn_slot_t handlers[EVTCHN_2L_NR_CHANNELS];

bool xen_present(void) {
    return present;
}

uint64_t xen_hvm_param(unsigned index) {
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    if (pvboot_xen_hypercall(__HYPERVISOR_hvm_op, HVMOP_get_param, (uintptr_t)&p, 0, 0, 0) != 0) {
        return 0;
    }
    return p.value;
}

void xen_evtchn_notify(evtchn_port_t port) {
    struct evtchn_send send = { .port = port };
    pvboot_xen_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (uintptr_t)&send, 0, 0, 0);
}

void xen_evtchn_bind(evtchn_port_t port, xen_evtchn_handler_t handler, void *arg) {
    if (port >= EVTCHN_2L_NR_CHANNELS) {
        return;
    }
    handlers[port].arg = arg;
    handlers[port].handler = handler;
    struct evtchn_unmask unmask = { .port = port };
    pvboot_xen_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_unmask, (uintptr_t)&unmask, 0, 0, 0);
}

// The callback vector: demultiplex pending event channels.
static void upcall(void *arg) {
    (void)arg;
    shared_info_t *s = &shared_info_page;
    vcpu_info_t *v = &s->vcpu_info[0];
    v->evtchn_upcall_pending = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    xen_ulong_t selector = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (selector != 0) {
        unsigned word = __builtin_ctzl(selector);
        selector &= selector - 1;
        xen_ulong_t pending = s->evtchn_pending[word] & ~s->evtchn_mask[word];
        while (pending != 0) {
            unsigned bit = __builtin_ctzl(pending);
            pending &= pending - 1;
            __atomic_fetch_and(&s->evtchn_pending[word], ~(1UL << bit), __ATOMIC_SEQ_CST);
            evtchn_port_t port = word * 64 + bit;
            if (handlers[port].handler != NULL) {
                handlers[port].handler(port, handlers[port].arg);
            }
        }
    }
}

// Nanoseconds since Xen started this domain's clock (the vCPU's pvclock).
static uint64_t xen_system_time(void) {
    volatile vcpu_time_info_t *t = &shared_info_page.vcpu_info[0].time;
    uint32_t version;
    uint64_t ns;
    do {
        version = t->version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint64_t delta = pvboot_clock_cycles() - t->tsc_timestamp;
        if (t->tsc_shift >= 0) {
            delta <<= t->tsc_shift;
        } else {
            delta >>= -t->tsc_shift;
        }
        ns = t->system_time + (uint64_t)(((unsigned __int128)delta * t->tsc_to_system_mul) >> 32);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != t->version);
    return ns;
}

// Xen's wall clock: the time of day at system time 0, plus system time.
static uint64_t xen_wallclock_ns(void) {
    volatile shared_info_t *s = &shared_info_page;
    uint32_t version;
    uint64_t sec, nsec;
    do {
        version = s->wc_version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        sec = ((uint64_t)s->wc_sec_hi << 32) | s->wc_sec;
        nsec = s->wc_nsec;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != s->wc_version);
    return sec * 1000000000ULL + nsec + xen_system_time();
}

// pvboot_shutdown() has flushed the consoles (the PV console's ring) already.
static void xen_shutdown(int status, int reboot) {
    struct sched_shutdown shutdown = {
        .reason = reboot ? SHUTDOWN_reboot : status == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash,
    };
    pvboot_xen_hypercall(__HYPERVISOR_sched_op, SCHEDOP_shutdown, (uintptr_t)&shutdown, 0, 0, 0);
}

void xen_gnttab_init(void);
void xen_store_init(void);

void xen_init(void) {
    if (pvboot_hypervisor() != PVBOOT_HV_XEN || pvboot_xen_cpuid_base() == 0) {
        return;
    }
    struct xen_add_to_physmap map = {
        .domid = DOMID_SELF,
        .space = XENMAPSPACE_shared_info,
        .idx = 0,
        .gpfn = (uintptr_t)&shared_info_page >> 12,
    };
    if (pvboot_xen_hypercall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (uintptr_t)&map, 0, 0, 0) != 0) {
        pvboot_printf("xen: cannot map the shared info page\n");
        return;
    }
    for (unsigned i = 0; i < sizeof(shared_info_page.evtchn_mask) / sizeof(xen_ulong_t); i++) {
        shared_info_page.evtchn_mask[i] = ~0UL; // unmasked one by one as bound
    }
    int vector = pvboot_irq_attach_vector(upcall, NULL);
    struct xen_hvm_param callback = {
        .domid = DOMID_SELF,
        .index = HVM_PARAM_CALLBACK_IRQ,
        .value = HVM_CALLBACK_VECTOR_TYPE | (uint64_t)vector,
    };
    if (vector < 0 || pvboot_xen_hypercall(__HYPERVISOR_hvm_op, HVMOP_set_param, (uintptr_t)&callback, 0, 0, 0) != 0) {
        pvboot_printf("xen: cannot set the event callback vector\n");
        return;
    }
    present = true;
    pvboot_shutdown_register(xen_shutdown);
    pvboot_wallclock_register(xen_wallclock_ns);
    xen_gnttab_init();
    xen_store_init();
}
