"""gdb helpers for pyunik: MicroPython objects and tracebacks, read from the guest.

    (gdb) source tools/gdb/pyunik.py          # invoke debug does this
    (gdb) mp-obj o_in                         # str 'pyunik'
    (gdb) mp-qstr 1234                        # the interned string of a qstr
    (gdb) break nlr_jump
    (gdb) mp-traceback val                    # the Python traceback of the exception being raised
    (gdb) mp-traceback                        # ... of the exception the innermost handler caught

Objects use MicroPython's representation A (the port's, mpconfigport.h): a
small int has bit 0 set, a qstr is ``q << 3 | 2``, None/False/True are
``n << 3 | 6``, anything else points at an object whose first word is its type.
"""

from __future__ import annotations

import gdb  # type: ignore[import-not-found]

MAX_STR = 200


def _ulong(value: gdb.Value) -> int:
    return int(value.cast(gdb.lookup_type("unsigned long"))) & 0xFFFFFFFFFFFFFFFF


def qstr_str(q: int) -> str:
    """The text of qstr ``q``, found in the chain of qstr pools."""
    pool = gdb.parse_and_eval("mp_state_ctx.vm.last_pool")
    if int(pool) == 0:  # before mp_init(): the pool compiled into the image
        pool = gdb.parse_and_eval("&mp_qstr_const_pool")
    while int(pool) != 0:
        first = int(pool["total_prev_len"])
        if q >= first:
            if q - first >= int(pool["len"]):
                return f"<qstr {q}: out of range>"
            data = pool["qstrs"][q - first]
            length = int(pool["lengths"][q - first])
            return gdb.selected_inferior().read_memory(int(data), length).tobytes().decode(errors="replace")
        pool = pool["prev"]
    return f"<qstr {q}>"


def _signed(word: int) -> int:
    return word - (1 << 64) if word & (1 << 63) else word


def type_name(obj_addr: int) -> str:
    base = gdb.Value(obj_addr).cast(gdb.lookup_type("mp_obj_base_t").pointer())
    return qstr_str(int(base["type"]["name"]))


def describe(value: gdb.Value) -> str:
    """``type repr`` of one mp_obj_t, for the kinds that are cheap to read."""
    word = _ulong(value)
    if word & 1:
        return f"int {_signed(word) >> 1}"
    if word & 7 == 2:
        q = word >> 3
        return f"str {qstr_str(q)!r} (qstr {q})"
    if word & 7 == 6:
        return {0: "NoneType None", 1: "bool False", 3: "bool True"}.get(word >> 3, f"immediate {word >> 3}")
    if word == 0:
        return "NULL (MP_OBJ_NULL)"
    if word & 3:
        return f"<not an object: {word:#x}>"
    name = type_name(word)
    if name in ("str", "bytes"):
        s = gdb.Value(word).cast(gdb.lookup_type("mp_obj_str_t").pointer())
        length = int(s["len"])
        raw = gdb.selected_inferior().read_memory(int(s["data"]), min(length, MAX_STR)).tobytes()
        shown = raw.decode(errors="replace") if name == "str" else raw
        return f"{name} {shown!r}" + ("..." if length > MAX_STR else "")
    if name == "float":
        f = gdb.Value(word).cast(gdb.lookup_type("mp_obj_float_t").pointer())
        return f"float {float(f['value'])!r}"
    if name in ("tuple", "list"):
        return f"{name} of {int(gdb.Value(word).cast(gdb.lookup_type('mp_obj_tuple_t').pointer())['len'])}"
    return f"{name} at {word:#x}"


def text_of(value: gdb.Value) -> str:
    """A str object or qstr as Python's str() shows it; else its description."""
    word = _ulong(value)
    if word & 7 == 2:
        return qstr_str(word >> 3)
    if word and not word & 3 and type_name(word) == "str":
        s = gdb.Value(word).cast(gdb.lookup_type("mp_obj_str_t").pointer())
        raw = gdb.selected_inferior().read_memory(int(s["data"]), min(int(s["len"]), MAX_STR)).tobytes()
        return raw.decode(errors="replace")
    return describe(value)


def traceback_lines(exc_addr: int) -> list[str]:
    """The exception's traceback as MicroPython prints it, innermost last."""
    exc = gdb.Value(exc_addr).cast(gdb.lookup_type("mp_obj_exception_t").pointer())
    lines = ["Traceback (most recent call last):"]
    count = int(exc["traceback_len"])
    data = exc["traceback_data"]
    for i in range(count - 3, -1, -3):
        file, line, block = int(data[i]), int(data[i + 1]), int(data[i + 2])
        lines.append(f'  File "{qstr_str(file)}", line {line}, in {qstr_str(block)}')
    args = exc["args"]
    message = ""
    if int(args) != 0 and int(args["len"]) > 0:
        message = text_of(args["items"][0])
    lines.append(f"{type_name(exc_addr)}: {message}".rstrip(": "))
    return lines


class MpObj(gdb.Command):
    """mp-obj EXPR: the type and value of a MicroPython object (mp_obj_t)."""

    def __init__(self) -> None:
        super().__init__("mp-obj", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg: str, from_tty: bool) -> None:
        gdb.write(describe(gdb.parse_and_eval(arg)) + "\n")


class MpQstr(gdb.Command):
    """mp-qstr N: the string of qstr number N."""

    def __init__(self) -> None:
        super().__init__("mp-qstr", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg: str, from_tty: bool) -> None:
        gdb.write(qstr_str(int(gdb.parse_and_eval(arg))) + "\n")


class MpTraceback(gdb.Command):
    """mp-traceback [EXPR]: the Python traceback of an exception object.

    Without EXPR: the exception the innermost nlr handler holds
    (mp_state_ctx.thread.nlr_top->ret_val), i.e. after `break nlr_jump`,
    `finish` or within the handler. At `break nlr_jump`, give `val`."""

    def __init__(self) -> None:
        super().__init__("mp-traceback", gdb.COMMAND_STACK, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg: str, from_tty: bool) -> None:
        expr = arg.strip() or "mp_state_ctx.thread.nlr_top->ret_val"
        word = _ulong(gdb.parse_and_eval(expr))
        if word == 0 or word & 3:
            gdb.write(f"{expr} is not an exception object ({describe(gdb.parse_and_eval(expr))})\n")
            return
        gdb.write("\n".join(traceback_lines(word)) + "\n")


MpObj()
MpQstr()
MpTraceback()
