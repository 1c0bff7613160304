# An explicit manifest (MicroPython's syntax): freeze these two modules.
module("main.py")
module("stats.py")
