# sys.argv (split in C, port/app.c) and the cmdline module (split in Python)
# must see the same words, whatever whitespace separates them.
import sys

import cmdline

print("argv:", sys.argv[1:])
print("args:", cmdline.args)
print("options:", sorted(cmdline.options.items()))
