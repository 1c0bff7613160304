/*
 * A QEMU TCG plugin: how many guest instructions each translation block
 * start address executed. Written to the file named by the `out=` argument
 * when QEMU exits, one line per block: "<hex address> <instructions> <runs>".
 * bench/profile.py turns it into instructions per function.
 *
 * QEMU's plugin header (qemu-plugin.h) is not in any Debian binary package,
 * so the few functions of its API version 1 (QEMU 4.2 to 8.x; Debian 12
 * ships 7.2) that this uses are declared here, as that header declares them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

// One counter per (start address, length): a block translated again with
// the same shape shares its counter. Open addressing; a guest of pyunik's
// size has a few thousand blocks, the unix port with libc some ten thousand.
#define TABLE_SIZE (1u << 20)

typedef struct {
    uint64_t vaddr;
    uint64_t n_insns;
    uint64_t runs;
} block_t;

static block_t *blocks;
static const char *out_path = "tbcount.txt";

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
    uint64_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t i = (vaddr * 0x9E3779B97F4A7C15ull + n) & (TABLE_SIZE - 1);
    while (blocks[i].n_insns && !(blocks[i].vaddr == vaddr && blocks[i].n_insns == n)) {
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    blocks[i].vaddr = vaddr;
    blocks[i].n_insns = n;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &blocks[i].runs, 1);
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    FILE *f = fopen(out_path, "w");
    if (f == NULL) {
        perror(out_path);
        return;
    }
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        if (blocks[i].runs) {
            fprintf(f, "%llx %llu %llu\n", (unsigned long long)blocks[i].vaddr,
                (unsigned long long)blocks[i].n_insns, (unsigned long long)blocks[i].runs);
        }
    }
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
    int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out_path = strdup(argv[i] + 4);
        }
    }
    blocks = calloc(TABLE_SIZE, sizeof(*blocks));
    if (blocks == NULL) {
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
    return 0;
}
