/*
 * ACPI soft power-off (S5), for machines without QEMU's isa-debug-exit.
 *
 * pvboot_shutdown() falls back to this when the exit device did not end the
 * machine: q35 and pc take SLP_TYP|SLP_EN in the FADT's PM1a control
 * block; a hardware-reduced machine (QEMU microvm with ACPI on) takes it in
 * the FADT's sleep control register (its GED). SLP_TYP comes from the DSDT's
 * \_S5 package. Nothing here runs unless the machine is being stopped, and
 * the tables are only read: they are found anew each time.
 *
 * The write only asks: QEMU's vCPU goes on running until its main loop
 * handles the shutdown request, so the caller waits a while before it says
 * that the machine did not stop (q35 under TCG printed "no way to power off"
 * on ~3 boots in 8 that then powered off all the same).
 */
#include "pvboot_internal.h"

#define FADT_DSDT (40)
#define FADT_PM1A_CNT (64)
#define FADT_FLAGS (112)
#define FADT_X_DSDT (140)
#define FADT_SLEEP_CONTROL (244)
#define FADT_HW_REDUCED (1u << 20)
#define PM1_SLP_EN (1u << 13)
#define SLEEP_CONTROL_SLP_EN (1u << 5)
#define GAS_MEMORY (0)
#define GAS_IO (1)

typedef struct {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
} __attribute__((packed)) sdt_header_t;

static int sums_to_zero(const uint8_t *p, size_t n) {
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += p[i];
    }
    return sum == 0;
}

static int same(const void *a, const char *b, size_t n) {
    const char *x = a;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

// Low memory is identity-mapped (entry.S; sealed: pvboot_paging_map_firmware): tables below 4 GiB are readable
// as they are; anything above, or a length that makes no sense, is refused.
static const sdt_header_t *table_at(uint64_t paddr) {
    if (paddr == 0 || paddr >= (1ULL << 32) - 4096) {
        return NULL;
    }
    const sdt_header_t *h = (const sdt_header_t *)(uintptr_t)paddr;
    if (h->length < sizeof(sdt_header_t) || h->length > (1u << 20)) {
        return NULL;
    }
    return sums_to_zero((const uint8_t *)h, h->length) ? h : NULL;
}

static const uint8_t *find_rsdp(void) {
    uint64_t given = pvboot_start_info()->rsdp_paddr;
    if (given != 0 && given < (1ULL << 32)) {
        return (const uint8_t *)(uintptr_t)given;
    }
    // Where firmware keeps it: the first KiB of the EBDA, then the BIOS area.
    uintptr_t ebda = (uintptr_t)(*(volatile uint16_t *)0x40e) << 4;
    uintptr_t ranges[2][2] = { { ebda, ebda + 1024 }, { 0xe0000, 0x100000 } };
    for (int r = ebda >= 0x80000 && ebda < 0xa0000 ? 0 : 1; r < 2; r++) {
        for (uintptr_t p = ranges[r][0]; p + 20 <= ranges[r][1]; p += 16) {
            const uint8_t *c = (const uint8_t *)p;
            if (same(c, "RSD PTR ", 8) && sums_to_zero(c, 20)) {
                return c;
            }
        }
    }
    return NULL;
}

static const sdt_header_t *find_fadt(void) {
    const uint8_t *rsdp = find_rsdp();
    if (rsdp == NULL) {
        return NULL;
    }
    uint32_t rsdt_paddr;
    uint64_t xsdt_paddr = 0;
    __builtin_memcpy(&rsdt_paddr, rsdp + 16, 4);
    if (rsdp[15] >= 2) {
        __builtin_memcpy(&xsdt_paddr, rsdp + 24, 8);
    }
    const sdt_header_t *root = table_at(xsdt_paddr);
    size_t entry = 8;
    if (root == NULL) {
        root = table_at(rsdt_paddr);
        entry = 4;
    }
    if (root == NULL) {
        return NULL;
    }
    const uint8_t *entries = (const uint8_t *)root + 36;
    size_t n = (root->length - 36) / entry;
    for (size_t i = 0; i < n; i++) {
        uint64_t paddr = 0;
        __builtin_memcpy(&paddr, entries + i * entry, entry);
        const sdt_header_t *t = table_at(paddr);
        if (t != NULL && same(t->signature, "FACP", 4)) {
            return t;
        }
    }
    return NULL;
}

// One AML integer at p (ZeroOp, OneOp, OnesOp, or a Byte/Word/DWordPrefix).
static int aml_integer(const uint8_t *p, const uint8_t *end, uint32_t *value) {
    if (p >= end) {
        return 0;
    }
    switch (p[0]) {
        case 0x00:
            *value = 0;
            return 1;
        case 0x01:
            *value = 1;
            return 1;
        case 0xff:
            *value = 0xffffffff;
            return 1;
        case 0x0a:
            *value = p + 1 < end ? p[1] : 0;
            return p + 1 < end;
        case 0x0b:
            *value = p + 2 < end ? (uint32_t)(p[1] | p[2] << 8) : 0;
            return p + 2 < end;
        default:
            return 0;
    }
}

// SLP_TYPa of \_S5: Name (_S5_, Package () { SLP_TYPa, ... }) in the DSDT.
static int s5_sleep_type(const sdt_header_t *fadt, uint32_t *slp_typ) {
    uint64_t dsdt_paddr = 0;
    if (fadt->length >= FADT_X_DSDT + 8) {
        __builtin_memcpy(&dsdt_paddr, (const uint8_t *)fadt + FADT_X_DSDT, 8);
    }
    if (dsdt_paddr == 0) {
        uint32_t low;
        __builtin_memcpy(&low, (const uint8_t *)fadt + FADT_DSDT, 4);
        dsdt_paddr = low;
    }
    const sdt_header_t *dsdt = table_at(dsdt_paddr);
    if (dsdt == NULL) {
        return 0;
    }
    const uint8_t *p = (const uint8_t *)dsdt + 36;
    const uint8_t *end = (const uint8_t *)dsdt + dsdt->length;
    for (; p + 8 < end; p++) {
        // NameOp, then the name (maybe rooted: '\'), then PackageOp.
        if (!same(p, "_S5_", 4) || !(p[-1] == 0x08 || (p[-1] == '\\' && p[-2] == 0x08)) || p[4] != 0x12) {
            continue;
        }
        const uint8_t *q = p + 5;
        q += 1 + (q[0] >> 6); // PkgLength: its first byte says how many follow
        q += 1; // NumElements
        return aml_integer(q, end, slp_typ);
    }
    return 0;
}

bool pvboot_acpi_power_off(void) {
    pvboot_paging_map_firmware(); // a sealed image maps none of it
    const sdt_header_t *fadt = find_fadt();
    uint32_t slp_typ;
    if (fadt == NULL || fadt->length < FADT_FLAGS + 4 || !s5_sleep_type(fadt, &slp_typ)) {
        return false;
    }
    const uint8_t *f = (const uint8_t *)fadt;
    uint32_t flags;
    __builtin_memcpy(&flags, f + FADT_FLAGS, 4);
    if (flags & FADT_HW_REDUCED) {
        if (fadt->length < FADT_SLEEP_CONTROL + 12) {
            return false;
        }
        uint64_t address;
        __builtin_memcpy(&address, f + FADT_SLEEP_CONTROL + 4, 8);
        uint8_t value = (uint8_t)(((slp_typ & 7) << 2) | SLEEP_CONTROL_SLP_EN);
        if (f[FADT_SLEEP_CONTROL] == GAS_MEMORY && address != 0) {
            *(volatile uint8_t *)pvboot_mmio_map(address, 1) = value;
        } else if (f[FADT_SLEEP_CONTROL] == GAS_IO && address != 0 && address < 0x10000) {
            pvboot_outb((uint16_t)address, value);
        } else {
            return false;
        }
        return true;
    }
    uint32_t pm1a_cnt;
    __builtin_memcpy(&pm1a_cnt, f + FADT_PM1A_CNT, 4);
    if (pm1a_cnt == 0 || pm1a_cnt >= 0x10000) {
        return false;
    }
    uint16_t now = pvboot_inw((uint16_t)pm1a_cnt);
    pvboot_outw((uint16_t)pm1a_cnt, (uint16_t)((now & ~(7u << 10)) | ((slp_typ & 7) << 10) | PM1_SLP_EN));
    return true;
}
