/*
 * pvhtest: the smallest Xen PVH domU that proves the rig, and the floor for
 * timing one (a line out, a shutdown). It stays in 32-bit protected mode
 * with paging off, as PVH starts it, so guest-physical addresses are
 * pointers. Built by tests/xen/conftest.py (gcc -m32, ld -m elf_i386).
 *
 * Kernel command line words (xl's cmdline=):
 *   echo    print each byte typed on the console as <hh> until 'q' arrives
 *   crash   end with SCHEDOP_shutdown(crash); reboot: (reboot); default poweroff
 *   fault   execute ud2 with no IDT: a triple fault, which Xen turns into a crash
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define HYPERVISOR_sched_op 29
#define HYPERVISOR_event_channel_op 32
#define HYPERVISOR_hvm_op 34
#define SCHEDOP_yield 0
#define SCHEDOP_shutdown 2
#define EVTCHNOP_send 4
#define HVMOP_get_param 1
#define HVM_PARAM_CONSOLE_PFN 17
#define HVM_PARAM_CONSOLE_EVTCHN 18
#define DOMID_SELF 0x7FF0

struct xencons_interface {
    char in[1024];
    char out[2048];
    volatile u32 in_cons, in_prod;
    volatile u32 out_cons, out_prod;
};

struct hvm_start_info {
    u32 magic, version, flags, nr_modules;
    u64 modlist_paddr, cmdline_paddr;
};

__attribute__((aligned(4096))) u8 hypercall_page[4096];
static struct xencons_interface *cons;
static u32 cons_port;

/* PVH entry: 32-bit protected mode, paging off, ebx = hvm_start_info. The
 * ELF note tells Xen where it is. */
__asm__(
    ".pushsection .note.Xen, \"a\", @note\n"
    ".balign 4\n"
    ".long 4, 4, 18\n" /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
    ".asciz \"Xen\"\n"
    ".balign 4\n"
    ".long _start\n"
    ".popsection\n"
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "  cli\n"
    "  mov $stack_top, %esp\n"
    "  push %ebx\n"
    "  call pvh_main\n"
    "1: hlt\n"
    "  jmp 1b\n"
    ".bss\n"
    ".balign 16\n"
    "  .skip 8192\n"
    "stack_top:\n"
    ".text\n");

static long hypercall2(u32 nr, u32 a1, u32 a2) {
    long ret;
    __asm__ volatile("call *%[fn]"
                     : "=a"(ret), "+b"(a1), "+c"(a2)
                     : [fn] "r"(hypercall_page + nr * 32)
                     : "memory", "edx", "esi", "edi");
    return ret;
}

static void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "0"(leaf), "2"(0));
}

static int xen_init(void) {
    for (u32 base = 0x40000000; base < 0x40010000; base += 0x100) {
        u32 a, b, c, d;
        cpuid(base, &a, &b, &c, &d);
        if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e) { /* "XenVMMXenVMM" */
            cpuid(base + 2, &a, &b, &c, &d);
            u64 addr = (u32)hypercall_page;
            __asm__ volatile("wrmsr" ::"c"(b), "a"((u32)addr), "d"((u32)(addr >> 32)));
            return 1;
        }
    }
    return 0;
}

static u64 hvm_param(u32 index) {
    struct {
        u16 domid;
        u16 pad;
        u32 index;
        u64 value;
    } __attribute__((packed)) p = {DOMID_SELF, 0, index, 0};
    hypercall2(HYPERVISOR_hvm_op, HVMOP_get_param, (u32)&p);
    return p.value;
}

static void notify(void) {
    u32 port = cons_port;
    hypercall2(HYPERVISOR_event_channel_op, EVTCHNOP_send, (u32)&port);
}

static void yield(void) {
    hypercall2(HYPERVISOR_sched_op, SCHEDOP_yield, 0);
}

static void put(const char *s, u32 n) {
    for (u32 i = 0; i < n; i++) {
        while (cons->out_prod - cons->out_cons >= sizeof cons->out) {
            notify();
            yield();
        }
        cons->out[cons->out_prod & (sizeof cons->out - 1)] = s[i];
        __asm__ volatile("" ::: "memory");
        cons->out_prod++;
    }
    notify();
}

static u32 len(const char *s) {
    u32 n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static void puts_(const char *s) {
    put(s, len(s));
}

static int has_word(const char *line, const char *word) {
    u32 n = len(word);
    for (const char *p = line; *p; p++) {
        if ((p == line || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) {
            u32 i = 0;
            while (i < n && p[i] == word[i]) {
                i++;
            }
            if (i == n) {
                return 1;
            }
        }
    }
    return 0;
}

static void echo(void) {
    static const char hex[] = "0123456789abcdef";
    puts_("pvhtest: echo\n");
    for (;;) {
        while (cons->in_cons == cons->in_prod) {
            yield();
        }
        u8 c = cons->in[cons->in_cons & (sizeof cons->in - 1)];
        __asm__ volatile("" ::: "memory");
        cons->in_cons++;
        notify();
        if (c == 'q') {
            puts_("\npvhtest: end of echo\n");
            return;
        }
        char out[4] = {'<', hex[c >> 4], hex[c & 15], '>'};
        put(out, 4);
    }
}

void pvh_main(struct hvm_start_info *si) {
    if (!xen_init()) {
        return; /* not on Xen: nothing to talk to */
    }
    cons = (struct xencons_interface *)(u32)(hvm_param(HVM_PARAM_CONSOLE_PFN) << 12);
    cons_port = (u32)hvm_param(HVM_PARAM_CONSOLE_EVTCHN);
    const char *line = si->cmdline_paddr ? (const char *)(u32)si->cmdline_paddr : "";
    puts_("pvhtest: hello from a PVH domU; cmdline: ");
    puts_(line);
    puts_("\n");
    if (has_word(line, "echo")) {
        echo();
    }
    u32 reason = has_word(line, "crash") ? 3 : has_word(line, "reboot") ? 1 : 0;
    if (has_word(line, "fault")) {
        puts_("pvhtest: ud2\n");
    }
    while (cons->out_cons != cons->out_prod) { /* let xenconsoled take it all */
        notify();
        yield();
    }
    if (has_word(line, "fault")) {
        __asm__ volatile("ud2");
    }
    hypercall2(HYPERVISOR_sched_op, SCHEDOP_shutdown, (u32)&reason);
}
