"""The libraries Redis scripts rely on that lupa does not ship: bit, cjson (decoding),
cmsgpack (bytes), struct.

Each function here is a bridge the sandbox (sandbox.lua) wraps: it receives plain Lua
values (bytes, numbers, booleans, tables already flattened by the Lua side) and answers
`(value, error message or None)`, or for several results `(error message or False,
values...)`; the Lua wrapper raises the message as a Lua error. Tables going back to Lua
are built with the runtime's `table_from`, so scripts only ever see Lua values.
"""

import json
import math
import struct as pystruct
from typing import Callable

import msgpack

# -- bit: LuaBitOp over 32-bit integers -------------------------------------------------


def _number(value) -> float:
    if type(value) is bytes:
        value = float(value)  # luaL_checknumber accepts numeric strings
    if type(value) not in (int, float):
        raise ValueError("number expected")
    return value


def tobit(value) -> int:
    """LuaBitOp's normalisation: round to nearest (ties to even), keep 32 bits, signed."""
    number = _number(value)
    if math.isnan(number) or math.isinf(number):
        return 0
    n = round(number) & 0xFFFFFFFF
    return n - 0x100000000 if n & 0x80000000 else n


def _bitop(name: str, compute: Callable) -> Callable:
    def op(*args):
        try:
            return compute(*args), None
        except (ValueError, TypeError):
            return None, f"bad argument #1 to '{name}' (number expected)"
    return op


def _fold(function: Callable) -> Callable:
    def compute(first, *rest):
        value = tobit(first)
        for other in rest:
            value = tobit(function(value, tobit(other)))
        return value
    return compute


def _rotate(left: bool) -> Callable:
    def compute(value, count):
        n, count = tobit(value) & 0xFFFFFFFF, tobit(count) & 31
        if not left:
            count = (32 - count) & 31
        return tobit((n << count) | (n >> (32 - count)))
    return compute


def _tohex(value, digits=8):
    n = tobit(value) & 0xFFFFFFFF
    digits = tobit(digits)
    upper = digits < 0
    # Redis's fix for INT32_MIN: its negation stays negative in C; take it as 8 digits.
    digits = min(abs(digits), 8)
    text = format(n, "08X" if upper else "08x")
    return text[8 - digits:].encode()


BIT = {
    "tobit": _bitop("tobit", tobit),
    "bnot": _bitop("bnot", lambda x: tobit(~tobit(x))),
    "band": _bitop("band", _fold(lambda a, b: a & b)),
    "bor": _bitop("bor", _fold(lambda a, b: a | b)),
    "bxor": _bitop("bxor", _fold(lambda a, b: a ^ b)),
    "lshift": _bitop("lshift", lambda x, n: tobit(tobit(x) << (tobit(n) & 31))),
    "rshift": _bitop("rshift", lambda x, n: tobit((tobit(x) & 0xFFFFFFFF) >> (tobit(n) & 31))),
    "arshift": _bitop("arshift", lambda x, n: tobit(tobit(x) >> (tobit(n) & 31))),
    "rol": _bitop("rol", _rotate(True)),
    "ror": _bitop("ror", _rotate(False)),
    "bswap": _bitop("bswap", lambda x: tobit(int.from_bytes(
        (tobit(x) & 0xFFFFFFFF).to_bytes(4, "little"), "big"))),
    "tohex": _bitop("tohex", _tohex),
}

# -- cjson.decode -----------------------------------------------------------------------


def _to_lua_number(value):
    # Lua numbers are doubles: integers past 64 bits would not cross into Lua.
    return value if -2**63 <= value < 2**63 else float(value)


def json_decoder(table_from: Callable) -> Callable:
    """cjson.decode: Python's json parses; JSON null becomes cjson.null."""
    def decode(text: bytes, max_depth, null):
        try:
            value = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            return None, f"Expected value but found invalid token at character {_position(e)}"
        try:
            return convert(value, 1, int(max_depth), null), None
        except _TooDeep as e:
            return None, f"Found too many nested data structures ({e.args[0]}) at character 1"

    def convert(value, depth, max_depth, null):
        kind = type(value)
        if kind is str:
            return value.encode()
        if kind is int:
            return _to_lua_number(value)
        if value is None:
            return null
        if kind is list or kind is dict:
            if depth > max_depth:
                raise _TooDeep(depth)
            if kind is list:
                return table_from([convert(v, depth + 1, max_depth, null) for v in value])
            return table_from({k.encode(): convert(v, depth + 1, max_depth, null)
                               for k, v in value.items()})
        return value
    return decode


class _TooDeep(Exception):
    pass


def _position(error: Exception) -> int:
    return getattr(error, "pos", 0) + 1

# -- cmsgpack ---------------------------------------------------------------------------


def msgpack_packer(read_flat: Callable) -> Callable:
    """cmsgpack.pack: the Lua side walked the values into (tag, value) tokens."""
    def pack(tokens, count):
        flat = read_flat(tokens, count)
        out = bytearray()
        i = 0
        while i < len(flat):
            i = _encode(flat, i, out)
        return bytes(out)
    return pack


def _encode(flat: list, i: int, out: bytearray) -> int:
    tag, value = flat[i], flat[i + 1]
    i += 2
    if tag == b"string":
        _header(out, len(value), 0xA0, 31, 0xD9, 0xDA, 0xDB)
        out += value
    elif tag == b"number":
        _encode_number(value, out)
    elif tag == b"boolean":
        out.append(0xC3 if value else 0xC2)
    elif tag == b"array":
        _header(out, value, 0x90, 15, None, 0xDC, 0xDD)
        for _ in range(value):
            i = _encode(flat, i, out)
    elif tag == b"map":
        _header(out, value, 0x80, 15, None, 0xDE, 0xDF)
        for _ in range(2 * value):
            i = _encode(flat, i, out)
    else:
        out.append(0xC0)
    return i


def _header(out: bytearray, n: int, fix: int, fix_max: int, one, two, four) -> None:
    if n <= fix_max:
        out.append(fix | n)
    elif one is not None and n <= 0xFF:
        out += bytes((one, n))
    elif n <= 0xFFFF:
        out.append(two)
        out += n.to_bytes(2, "big")
    else:
        out.append(four)
        out += n.to_bytes(4, "big")


def _encode_number(value, out: bytearray) -> None:
    if type(value) is float and value.is_integer() and -2**63 <= value < 2**63:
        value = int(value)
    if type(value) is int and -2**63 <= value < 2**63:
        _encode_int(value, out)
        return
    value = float(value)
    try:
        single = pystruct.pack(">f", value)
        exact = pystruct.unpack(">f", single)[0] == value
    except OverflowError:
        exact = False
    if exact:
        out += b"\xca" + single
    else:
        out += b"\xcb" + pystruct.pack(">d", value)


def _encode_int(n: int, out: bytearray) -> None:
    if n >= 0:
        if n <= 127:
            out.append(n)
        else:
            for limit, code, size in ((0xFF, 0xCC, 1), (0xFFFF, 0xCD, 2),
                                      (0xFFFFFFFF, 0xCE, 4), (2**64 - 1, 0xCF, 8)):
                if n <= limit:
                    out.append(code)
                    out += n.to_bytes(size, "big")
                    return
    elif n >= -32:
        out.append(n & 0xFF)
    else:
        for limit, code, size in ((-128, 0xD0, 1), (-32768, 0xD1, 2),
                                  (-2**31, 0xD2, 4), (-2**63, 0xD3, 8)):
            if n >= limit:
                out.append(code)
                out += n.to_bytes(size, "big", signed=True)
                return


def msgpack_unpacker(table_from: Callable) -> Callable:
    """cmsgpack.unpack / unpack_one / unpack_limit: (False, [offset,] values...)."""
    def convert(value):
        kind = type(value)
        if kind is list:
            return table_from([convert(v) for v in value])
        if kind is dict:
            return table_from({convert(k): convert(v) for k, v in value.items()
                               if k is not None})
        if kind is int:
            return _to_lua_number(value)
        if kind is msgpack.ExtType:
            return None
        return value

    def unpack(data, limit, offset, with_offset):
        if type(data) is not bytes:
            return ("bad argument #1 (string expected)",)
        offset, limit = int(offset), int(limit)
        if offset < 0 or offset > len(data):
            return ("Start offset out of range.",)
        unpacker = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=0)
        unpacker.feed(data[offset:])
        values = []
        try:
            while not limit or len(values) < limit:
                try:
                    values.append(convert(unpacker.unpack()))
                except msgpack.OutOfData:
                    break
        except (ValueError, msgpack.UnpackException):
            return ("Bad data format in input.",)
        consumed = offset + unpacker.tell()
        if consumed < len(data) and not with_offset:
            return ("Missing bytes in input.",)
        if with_offset:
            return (False, consumed if consumed < len(data) else -1, *values)
        return (False, *values)
    return unpack

# -- struct: Roberto Ierusalimschy's struct library -------------------------------------


_SIZES = {b"b": 1, b"B": 1, b"h": 2, b"H": 2, b"l": 8, b"L": 8, b"T": 8, b"i": 4, b"I": 4,
          b"f": 4, b"d": 8, b"x": 1, b"c": 1}


def _options(fmt: bytes):
    """(option, size) pairs of a struct format, with endianness and alignment applied
    as ('<', None), ('!', n)."""
    i = 0
    while i < len(fmt):
        option = fmt[i:i + 1]
        i += 1
        digits = b""
        while i < len(fmt) and fmt[i:i + 1].isdigit():
            digits += fmt[i:i + 1]
            i += 1
        if option in (b" ",):
            continue
        if option in (b"<", b">", b"="):
            yield option, None
        elif option == b"!":
            yield option, int(digits) if digits else 8
        elif option == b"s":
            yield option, 0
        elif option in (b"i", b"I", b"c"):
            size = int(digits) if digits else _SIZES[option]
            if option != b"c" and not 1 <= size <= 8:
                raise ValueError(f"integral size {size} is larger than limit of 8")
            yield option, size
        elif option in _SIZES:
            yield option, _SIZES[option]
        else:
            raise ValueError(f"invalid format option '{option.decode('latin-1')}'")


def _padding(position: int, size: int, align: int, option: bytes) -> int:
    if option in (b"c", b"s", b"x") or size <= 1 or align <= 1:
        return 0
    alignment = min(size, align)
    return -position % alignment


def struct_pack(fmt, *values):
    try:
        out, little, align, args = bytearray(), True, 1, list(values)
        for option, size in _options(fmt):
            if size is None:
                little = option != b">"
                continue
            if option == b"!":
                align = size
                continue
            out += bytes(_padding(len(out), size, align, option))
            if option == b"x":
                out.append(0)
                continue
            if not args:
                raise ValueError("bad argument (no value)")
            value = args.pop(0)
            if option in (b"f", b"d"):
                out += pystruct.pack(("<" if little else ">") + option.decode(), _number(value))
            elif option == b"c":
                text = _string(value)
                size = size or len(text)
                if len(text) < size:
                    raise ValueError("string too short")
                out += text[:size]
            elif option == b"s":
                out += _string(value) + b"\0"
            else:
                n = int(_number(value)) & ((1 << (8 * size)) - 1)
                out += n.to_bytes(size, "little" if little else "big")
        return False, bytes(out)
    except (ValueError, TypeError, OverflowError, pystruct.error) as e:
        return (f"bad argument to 'pack' ({e})",)


def struct_unpack(fmt, data, start=1):
    try:
        if type(data) is not bytes:
            raise ValueError("string expected")
        position, little, align, values = int(_number(start)) - 1, True, 1, []
        for option, size in _options(fmt):
            if size is None:
                little = option != b">"
                continue
            if option == b"!":
                align = size
                continue
            position += _padding(position, size, align, option)
            if option == b"c" and size == 0:
                if not values:
                    raise ValueError("format 'c0' needs a previous size")
                size = int(values.pop())
            if option == b"s":
                end = data.find(b"\0", position)
                if end < 0:
                    raise ValueError("unfinished string for format 's'")
                values.append(data[position:end])
                position = end + 1
                continue
            if position + size > len(data):
                raise ValueError("data string too short")
            chunk = data[position:position + size]
            position += size
            if option == b"x":
                continue
            if option == b"c":
                values.append(chunk)
            elif option in (b"f", b"d"):
                values.append(pystruct.unpack(("<" if little else ">") + option.decode(),
                                              chunk)[0])
            else:
                values.append(int.from_bytes(chunk, "little" if little else "big",
                                             signed=option.islower()))
        return (False, *values, position + 1)
    except (ValueError, TypeError, pystruct.error) as e:
        return (f"bad argument to 'unpack' ({e})",)


def struct_size(fmt):
    try:
        position, align = 0, 1
        for option, size in _options(fmt):
            if option == b"!":
                align = size
            elif size is not None:
                if option == b"s" or (option == b"c" and size == 0):
                    raise ValueError("options 'c0' - 's' have undefined sizes")
                position += _padding(position, size, align, option) + size
        return False, position
    except ValueError as e:
        return (f"bad argument to 'size' ({e})",)


def _string(value) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) in (int, float):
        return b"%.14g" % value
    raise ValueError("string expected")
