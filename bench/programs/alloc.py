# Allocation-heavy, with a small live set: many short-lived objects of several
# kinds (tuple, str, list, dict, bytearray), so that the heap fills up and the
# GC runs again and again. Used to find the least memory a guest needs to
# boot and do real work. Prints "ALLOC-OK <objects> <heap bytes>" on success;
# a MemoryError ends it with a traceback instead.
# Runs unchanged on pyunik (pasted over the raw REPL) and the unix port.
import gc
import sys


def churn(rounds, per_round):
    made = 0
    keep = []
    for r in range(rounds):
        batch = []
        for i in range(per_round):
            batch.append((i, str(i * r), [i] * 4, {"k": i}, bytearray(16)))
            made += 5
        keep.append(batch[-1])
        if len(keep) > 8:
            keep.pop(0)
    return made


def main(rounds=400, per_round=10):
    made = churn(rounds, per_round)
    gc.collect()
    print("ALLOC-OK", made, gc.mem_free() + gc.mem_alloc())


if len(sys.argv) > 1 and sys.argv[-1] == "run":
    main()
