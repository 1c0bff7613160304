# Frozen beside the rdrand C module: the same plugin can ship both.
import binascii

import rdrand


def token(nbytes=16):
    """A random hex string, e.g. for a session id."""
    return binascii.hexlify(rdrand.bytes(nbytes)).decode()
