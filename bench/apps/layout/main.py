# Where this boot put the C stack and the GC heap, and one draw of random,
# on one line; then main ends and so does the VM (bench/entropy.py).
import random

import pvboot

layout = pvboot.layout()
stack_top, heap_start, heap_pool, source, stack_positions, heap_positions = (layout[i] for i in (1, 2, 3, 5, 6, 7))
print("LAYOUT", stack_top, heap_start, heap_pool, random.getrandbits(32), source, stack_positions, heap_positions)
