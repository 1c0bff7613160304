# Ends with status 3: QEMU exits with 7 only if the image writes it to isa-debug-exit.
import sys

print("exit3: leaving with status 3")
sys.exit(3)
