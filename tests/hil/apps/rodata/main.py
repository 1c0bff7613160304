# Frozen code runs in place from the read-only section: the bytecode of a
# frozen function lies between the linker's __rodata_start and __rodata_end.
# mp_obj_fun_bc_t is {base, context, child_table, bytecode}: 8 bytes each.
import machine
import pvboot


def frozen_function():
    return 42


def address_of_bytecode(fun):
    base = id(fun) + 3 * 8
    return machine.mem32[base] | machine.mem32[base + 4] << 32


start, end = pvboot.rodata()
where = address_of_bytecode(frozen_function)
source = "def compiled_function():\n    return 42\n"
scope = {}
exec(source, scope)
heap = address_of_bytecode(scope["compiled_function"])
print("rodata %x..%x frozen %x in_rodata %s" % (start, end, where, start <= where < end))
print("compiled %x in_rodata %s" % (heap, start <= heap < end))
