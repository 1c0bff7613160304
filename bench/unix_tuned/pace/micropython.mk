# The unix port with pyunik's interpreter settings (bench/unixport.py,
# TUNED_MAKE_OPTIONS): this "user C module" adds no Python module; it brings
# pyunik's GC pacing (port/gcpace.c) into the unix port and builds the same
# hot files at -O2 as port/Makefile does. The unix port's own sources stay
# untouched: its calls to gc_init() and gc_collect_end() are renamed, in
# main.o and gccollect.o only, to wrappers that pace as pyunik's main.c and
# gccollect.c do.
SRC_USERMOD_C += $(USERMOD_DIR)/pace.c

$(BUILD)/main.o: CFLAGS += -Dgc_init=pyunik_paced_gc_init
$(BUILD)/gccollect.o: CFLAGS += -Dgc_collect_end=pyunik_paced_gc_collect_end

# port/Makefile's HOT_O2 (py.mk already builds gc.c and vm.c at -O3, as for pyunik).
$(BUILD)/py/runtime.o $(BUILD)/py/objgenerator.o: CFLAGS += -O2
