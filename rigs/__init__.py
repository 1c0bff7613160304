"""The rigs: what tests and measures pyunik, kept apart from the product.

``xenrig`` (real Xen 4.17 under QEMU TCG with a Debian dom0), ``conformance``
(MicroPython's run-tests.py against an image and the unix port), ``debian``
(the rigs' .deb downloads, unpacking, shared-library closures) and ``cpio``
(newc archives for their initramfs). They live in the checkout only: the
pyunik wheel does not carry them, and no product module imports them
(tests/unit/test_layout.py).
"""
