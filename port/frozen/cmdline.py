"""The kernel command line, as an app reads it.

The hypervisor passes one line (QEMU ``-append``, Xen ``cmdline=``/``extra=``).
What comes before a lone ``--`` is for the image: ``key=value`` options (a
word without ``=`` is an option set to ``True``). What comes after ``--`` is
the app's, and is also ``sys.argv[1:]``. Words are split on whitespace
(space, tab, newline, vertical tab, form feed, CR), as pvboot_cmdline_word()
splits them for sys.argv and the C options::

    -append "heap=8M verbose -- input.json 3"

    import cmdline
    cmdline.line                  # 'heap=8M verbose -- input.json 3'
    cmdline.options               # {'heap': '8M', 'verbose': True}
    cmdline.get("heap", "4M")     # '8M'
    cmdline.args                  # ['input.json', '3']
"""

import pvboot


def _parse(text):
    words = text.split()
    own, app = words, []
    if "--" in words:
        split = words.index("--")
        own, app = words[:split], words[split + 1 :]
    opts = {}
    for word in own:
        key, sep, value = word.partition("=")
        opts[key] = value if sep else True
    return opts, app


line = pvboot.cmdline()
options, args = _parse(line)


def get(key, default=None):
    """The value of option ``key`` (a string, or True for a bare word)."""
    return options.get(key, default)
