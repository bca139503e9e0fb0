"""String commands (t_string.c): GET/SET and friends, counters, ranges."""

from alchemy.command import command
from alchemy.errors import (INVALID_EXPIRE, NOT_INTEGER, OVERFLOW, STRING_TOO_LONG, SYNTAX,
                            AlchemyError)
from alchemy.keyspace import now_ms
from alchemy.reply import OK
from alchemy.util import format_float, parse_float, parse_int

MAX_STRING = 512 * 1024 * 1024


def _string(ctx, key: bytes):
    return ctx.db.get_string(key)


def expire_option(ctx, argv: list, i: int, name: str) -> tuple[int, int]:
    """Parse EX/PX/EXAT/PXAT <n> at argv[i]; the absolute deadline in ms and the next index."""
    if i + 1 >= len(argv):
        raise AlchemyError(SYNTAX)
    unit = argv[i].upper()
    value = parse_int(argv[i + 1])
    if value <= 0:
        raise AlchemyError(INVALID_EXPIRE % name)
    if unit in (b"EX", b"EXAT"):
        if value > (2**63 - 1) // 1000:
            raise AlchemyError(INVALID_EXPIRE % name)
        value *= 1000
    if unit in (b"EX", b"PX"):
        value += now_ms()
        if value >= 2**63:
            raise AlchemyError(INVALID_EXPIRE % name)
    return value, i + 2


@command("get", 2, "readonly fast", keys=(1, 1, 1), group="string",
         summary="Get the value of a key")
def get(ctx, argv):
    return _bytes(_string(ctx, argv[1]))


def _bytes(value):
    return value if type(value) is not bytearray else bytes(value)


@command("set", -3, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Set the string value of a key")
def set_(ctx, argv):
    db = ctx.db
    key = argv[1]
    if len(argv) == 3:
        db.set(key, argv[2])
        ctx.server.dirty += 1
        return OK
    condition = None
    want_old = keep_ttl = False
    deadline = None
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if option in (b"NX", b"XX") and condition in (None, option):
            condition = option
            i += 1
        elif option == b"GET":
            want_old = True
            i += 1
        elif option == b"KEEPTTL" and deadline is None:
            keep_ttl = True
            i += 1
        elif option in (b"EX", b"PX", b"EXAT", b"PXAT") and deadline is None and not keep_ttl:
            deadline, i = expire_option(ctx, argv, i, "set")
        else:
            raise AlchemyError(SYNTAX)
    old = db.get_string(key) if want_old else db.get(key)
    if (condition == b"NX" and old is not None) or (condition == b"XX" and old is None):
        return _bytes(old) if want_old else None
    db.set(key, argv[2], keep_ttl=keep_ttl)
    if deadline is not None:
        db.expire_at(key, deadline)
    ctx.server.dirty += 1
    return _bytes(old) if want_old else OK


@command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Set the value of a key, only if the key does not exist")
def setnx(ctx, argv):
    if ctx.db.get(argv[1]) is not None:
        return 0
    ctx.db.set(argv[1], argv[2])
    ctx.server.dirty += 1
    return 1


def _set_with_ttl(ctx, argv, unit: bytes, name: str):
    deadline, _ = expire_option(ctx, [unit, argv[2]], 0, name)
    ctx.db.set(argv[1], argv[3])
    ctx.db.expire_at(argv[1], deadline)
    ctx.server.dirty += 1
    return OK


@command("setex", 4, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Set the value and expiration of a key")
def setex(ctx, argv):
    return _set_with_ttl(ctx, argv, b"EX", "setex")


@command("psetex", 4, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Set the value and expiration in milliseconds of a key")
def psetex(ctx, argv):
    return _set_with_ttl(ctx, argv, b"PX", "psetex")


@command("getset", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Set the string value of a key and return its old value")
def getset(ctx, argv):
    old = _string(ctx, argv[1])
    ctx.db.set(argv[1], argv[2])
    ctx.server.dirty += 1
    return _bytes(old)


@command("getdel", 2, "write fast", keys=(1, 1, 1), group="string",
         summary="Get the value of a key and delete the key")
def getdel(ctx, argv):
    old = _string(ctx, argv[1])
    if old is not None:
        ctx.db.delete(argv[1])
        ctx.server.dirty += 1
    return _bytes(old)


@command("getex", -2, "write fast", keys=(1, 1, 1), group="string",
         summary="Get the value of a key and optionally set its expiration")
def getex(ctx, argv):
    deadline = None
    persist = False
    i = 2
    while i < len(argv):
        option = argv[i].upper()
        if option in (b"EX", b"PX", b"EXAT", b"PXAT") and deadline is None and not persist:
            deadline, i = expire_option(ctx, argv, i, "getex")
        elif option == b"PERSIST" and deadline is None and not persist:
            persist = True
            i += 1
        else:
            raise AlchemyError(SYNTAX)
    value = _string(ctx, argv[1])
    if value is None:
        return None
    if deadline is not None:
        ctx.db.expire_at(argv[1], deadline)
        ctx.server.dirty += 1
    elif persist and ctx.db.persist(argv[1]):
        ctx.server.dirty += 1
    return _bytes(value)


@command("mget", -2, "readonly fast", keys=(1, -1, 1), group="string",
         summary="Get the values of all the given keys")
def mget(ctx, argv):
    db = ctx.db
    out = []
    for key in argv[1:]:
        value = db.get(key)
        out.append(_bytes(value) if type(value) in (bytes, bytearray) else None)
    return out


def _pairs(argv, name: str) -> list:
    if len(argv) % 2 == 0:
        raise AlchemyError(f"ERR wrong number of arguments for '{name}' command")
    return list(zip(argv[1::2], argv[2::2]))


@command("mset", -3, "write denyoom", keys=(1, -1, 2), group="string",
         summary="Set multiple keys to multiple values")
def mset(ctx, argv):
    for key, value in _pairs(argv, "mset"):
        ctx.db.set(key, value)
    ctx.server.dirty += 1
    return OK


@command("msetnx", -3, "write denyoom", keys=(1, -1, 2), group="string",
         summary="Set multiple keys to multiple values, only if none of the keys exist")
def msetnx(ctx, argv):
    pairs = _pairs(argv, "msetnx")
    if any(ctx.db.get(key) is not None for key, _ in pairs):
        return 0
    for key, value in pairs:
        ctx.db.set(key, value)
    ctx.server.dirty += 1
    return 1


@command("append", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Append a value to a key")
def append(ctx, argv):
    value = _string(ctx, argv[1])
    if value is None:
        ctx.db.set(argv[1], argv[2], keep_ttl=True)
        ctx.server.dirty += 1
        return len(argv[2])
    if len(value) + len(argv[2]) > MAX_STRING:
        raise AlchemyError(STRING_TOO_LONG)
    if type(value) is bytes:
        value = bytearray(value)
        ctx.db.set(argv[1], value, keep_ttl=True)
    value += argv[2]
    ctx.server.dirty += 1
    return len(value)


@command("strlen", 2, "readonly fast", keys=(1, 1, 1), group="string",
         summary="Get the length of the value stored in a key")
def strlen(ctx, argv):
    value = _string(ctx, argv[1])
    return 0 if value is None else len(value)


def _getrange(ctx, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    value = _string(ctx, argv[1])
    if value is None:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    end = min(end, n - 1)
    if start > end or n == 0:
        return b""
    return bytes(value[start:end + 1])


@command("getrange", 4, "readonly", keys=(1, 1, 1), group="string",
         summary="Get a substring of the string stored at a key")
def getrange(ctx, argv):
    return _getrange(ctx, argv)


@command("substr", 4, "readonly", keys=(1, 1, 1), group="string",
         summary="Get a substring of the string stored at a key")
def substr(ctx, argv):
    return _getrange(ctx, argv)


@command("setrange", 4, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Overwrite part of a string at key starting at the specified offset")
def setrange(ctx, argv):
    offset = parse_int(argv[2])
    if offset < 0:
        raise AlchemyError("ERR offset is out of range")
    patch = argv[3]
    value = _string(ctx, argv[1])
    if not patch:
        return 0 if value is None else len(value)
    if offset + len(patch) > MAX_STRING:
        raise AlchemyError(STRING_TOO_LONG)
    if value is None or type(value) is bytes:
        value = bytearray(value or b"")
        ctx.db.set(argv[1], value, keep_ttl=True)
    if len(value) < offset:
        value.extend(bytes(offset - len(value)))
    value[offset:offset + len(patch)] = patch
    ctx.server.dirty += 1
    return len(value)


def _incr(ctx, key: bytes, delta: int) -> int:
    value = _string(ctx, key)
    if value is None:
        current = 0
    else:
        current = parse_int(bytes(value) if type(value) is bytearray else value, NOT_INTEGER)
    result = current + delta
    if not -2**63 <= result < 2**63:
        raise AlchemyError(OVERFLOW)
    ctx.db.set(key, str(result).encode(), keep_ttl=True)
    ctx.server.dirty += 1
    return result


@command("incr", 2, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increment the integer value of a key by one")
def incr(ctx, argv):
    return _incr(ctx, argv[1], 1)


@command("decr", 2, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Decrement the integer value of a key by one")
def decr(ctx, argv):
    return _incr(ctx, argv[1], -1)


@command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increment the integer value of a key by the given amount")
def incrby(ctx, argv):
    return _incr(ctx, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Decrement the integer value of a key by the given number")
def decrby(ctx, argv):
    delta = parse_int(argv[2])
    if delta == -2**63:
        raise AlchemyError("ERR decrement would overflow")
    return _incr(ctx, argv[1], -delta)


@command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increment the float value of a key by the given amount")
def incrbyfloat(ctx, argv):
    value = _string(ctx, argv[1])
    current = 0.0 if value is None else parse_float(bytes(value))
    result = current + parse_float(argv[2])
    if result != result or result in (float("inf"), float("-inf")):
        raise AlchemyError("ERR increment would produce NaN or Infinity")
    text = format_float(result)
    ctx.db.set(argv[1], text, keep_ttl=True)
    ctx.server.dirty += 1
    return text
