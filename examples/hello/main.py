# The smallest pyunik app: print, then end. The VM shuts down with status 0.
import sys

import board

print("Hello from pyunik on", board.name, "- arguments:", sys.argv[1:])
