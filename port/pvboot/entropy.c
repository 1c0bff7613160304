/*
 * Entropy for the boot layer and the port: the stack canary, the
 * randomised heap base and stack top, os.urandom, random's and lwIP's seeds.
 *
 * RDSEED gives full-entropy bits, RDRAND the output of a generator the CPU
 * reseeds from them; a VM gets both from its CPU (QEMU's TCG offers them
 * with -cpu max or qemu64,+rdrand,+rdseed; Xen passes the host's through by
 * default). Without either, pvboot_random_u64() falls back to timing jitter
 * of the cycle counter: when QEMU started (host scheduling puts
 * milliseconds of noise into the first TSC reading) and how long a few
 * hypervisor exits take. That is weaker - an observer of the host's timing
 * could narrow it down, and nothing certifies it - so os.urandom refuses to
 * use it (it raises OSError instead), while the canary, the layout and
 * random's seed, which need "different on every boot" rather than
 * cryptographic quality, take it. Xen gives a PVH domU no entropy of its
 * own (no seed in the start info or xenstore), so there jitter is also
 * what is left.
 *
 * Between the two: an entropy device whose driver registered it
 * (pvboot_entropy_register: virtio-rng, whose bytes come from the host's
 * /dev/urandom). It is fit for keys, so os.urandom and the seeds take it
 * where the CPU has no RDSEED/RDRAND. The stack canary and the layout are
 * drawn before any driver has run (pvboot_random_boot_u64), so they keep
 * the CPU's bits or the jitter; pvboot_layout_info()->source says which.
 * A device that fails (no answer within its driver's bound, or a broken
 * ring: the driver says so in one line) is dropped, and what is left
 * takes over.
 *
 * The boot-time draws run before the stack canary is set (the canary comes
 * from them), so they are built without the stack protector (NO_SSP).
 */
#include <string.h>

#include "pvboot_internal.h"

#define CPUID_1_ECX_RDRAND (1u << 30)
#define CPUID_7_EBX_RDSEED (1u << 18)
// Intel's guidance: retry a few times before declaring the source drained.
#define HW_RETRIES (10)
#define JITTER_ROUNDS (64)

#define NO_SSP __attribute__((no_stack_protector))

static int has_rdseed = -1, has_rdrand = -1;

NO_SSP static void detect(void) {
    has_rdrand = (pvboot_cpuid(1, 0).ecx & CPUID_1_ECX_RDRAND) != 0;
    has_rdseed = pvboot_cpuid(0, 0).eax >= 7 && (pvboot_cpuid(7, 0).ebx & CPUID_7_EBX_RDSEED) != 0;
}

NO_SSP static bool rdseed64(uint64_t *out) {
    for (int i = 0; i < HW_RETRIES; i++) {
        uint8_t ok;
        __asm__ volatile ("rdseed %0; setc %1" : "=r" (*out), "=qm" (ok));
        if (ok) {
            return true;
        }
    }
    return false;
}

NO_SSP static bool rdrand64(uint64_t *out) {
    for (int i = 0; i < HW_RETRIES; i++) {
        uint8_t ok;
        __asm__ volatile ("rdrand %0; setc %1" : "=r" (*out), "=qm" (ok));
        if (ok) {
            return true;
        }
    }
    return false;
}

NO_SSP bool pvboot_random_hw(uint64_t *out) {
    if (has_rdrand < 0) {
        detect();
    }
    // RDSEED first; when it is momentarily drained, RDRAND.
    return (has_rdseed && rdseed64(out)) || (has_rdrand && rdrand64(out));
}

// MurmurHash3's 64-bit finaliser: every input bit moves every output bit,
// so the few noisy low bits of a timing end up spread over the word.
NO_SSP static uint64_t fmix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

// The weaker source: the first TSC reading, then how long CPUID takes
// (an exit to the hypervisor, or a helper call under TCG) a few dozen
// times, each wait as long as the noise of the one before it, all folded
// into a running hash.
NO_SSP static uint64_t jitter64(void) {
    static uint64_t pool;
    uint64_t h = pool ^ pvboot_clock_cycles();
    for (int i = 0; i < JITTER_ROUNDS; i++) {
        uint64_t t0 = pvboot_clock_cycles();
        (void)pvboot_cpuid(0, 0);
        uint64_t dt = pvboot_clock_cycles() - t0;
        for (volatile uint64_t spin = dt & 63; spin > 0; spin--) {
        }
        h = fmix64(h ^ dt ^ ((uint64_t)i << 56));
    }
    pool = h;
    return fmix64(h ^ pvboot_clock_cycles());
}

static const pvboot_entropy_device_t *device;

void pvboot_entropy_register(const pvboot_entropy_device_t *d) {
    device = d;
}

// len bytes from the registered device, or false when it failed (it is
// then dropped: its driver said why). A driver that claims more than it
// was asked for, or nothing, is not trusted either.
static bool device_fill(uint8_t *buf, size_t len) {
    while (len > 0) {
        int n = device->read(buf, len);
        if (n <= 0 || (size_t)n > len) {
            device = NULL;
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

int pvboot_random_bytes(void *buf, size_t len) {
    uint8_t *out = buf;
    size_t done = 0;
    uint64_t word;
    while (done < len && pvboot_random_hw(&word)) {
        size_t take = len - done < 8 ? len - done : 8;
        memcpy(out + done, &word, take);
        done += take;
    }
    if (done == len) {
        return PVBOOT_RANDOM_OK;
    }
    // No RDSEED/RDRAND, or they stayed drained: the device, if any.
    if (device == NULL) {
        return has_rdseed || has_rdrand ? PVBOOT_RANDOM_FAILED : PVBOOT_RANDOM_NONE;
    }
    return device_fill(out + done, len - done) ? PVBOOT_RANDOM_OK : PVBOOT_RANDOM_FAILED;
}

uint64_t pvboot_random_u64(void) {
    uint64_t v;
    if (pvboot_random_hw(&v)) {
        return v;
    }
    if (device != NULL && device_fill((uint8_t *)&v, sizeof(v))) {
        return v;
    }
    return jitter64();
}

NO_SSP uint64_t pvboot_random_boot_u64(void) {
    uint64_t v;
    if (pvboot_random_hw(&v)) {
        return v;
    }
    return jitter64();
}

const char *pvboot_boot_entropy_source(void) {
    if (has_rdrand < 0) {
        detect();
    }
    return has_rdseed ? "rdseed" : has_rdrand ? "rdrand" : "tsc-jitter";
}

const char *pvboot_entropy_source(void) {
    const char *cpu = pvboot_boot_entropy_source(); // detects the CPU's sources first
    return !has_rdseed && !has_rdrand && device != NULL ? device->name : cpu;
}
