"""pyunik-rdrand: a third-party pyunik plugin (see plugin.py)."""
