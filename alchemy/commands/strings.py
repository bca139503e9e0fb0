"""String commands (t_string.c): GET/SET and friends, counters, ranges, LCS.

Writes whose replay could differ are logged as Redis 7.0 propagates them: relative expire
times as absolute ones (SET ... PXAT, PEXPIREAT), INCRBYFLOAT as the SET of its result.
"""

from alchemy.command import command
from alchemy.errors import (INVALID_EXPIRE, NOT_INTEGER, OVERFLOW, STRING_TOO_LONG, SYNTAX,
                            AlchemyError)
from alchemy.keyspace import now_ms
from alchemy.longdouble import ZERO, add, format_long_double, parse_long_double
from alchemy.notify import GENERIC, NEW, STRING, enabled, notify, notify_new
from alchemy.reply import OK
from alchemy.util import parse_int

_EXPIRE_UNITS = frozenset((b"EX", b"PX", b"EXAT", b"PXAT"))
# Which options each option excludes (parseExtendedStringArgumentsOrReply). An expire unit
# does not exclude itself: `SET k v EX 1 EX 2` is valid and the last value wins.
_CONFLICTS = {
    b"NX": {b"XX"},
    b"XX": {b"NX"},
    b"GET": set(),
    b"KEEPTTL": {b"PERSIST"} | _EXPIRE_UNITS,
    b"PERSIST": {b"KEEPTTL"} | _EXPIRE_UNITS,
    **{unit: {b"KEEPTTL", b"PERSIST"} | (_EXPIRE_UNITS - {unit}) for unit in _EXPIRE_UNITS},
}
_SET_OPTIONS = frozenset((b"NX", b"XX", b"GET", b"KEEPTTL")) | _EXPIRE_UNITS
_GETEX_OPTIONS = frozenset((b"PERSIST",)) | _EXPIRE_UNITS


def _string(ctx, key: bytes):
    return ctx.db.get_string(key)


def _check_length(ctx, size: int) -> None:
    if size > ctx.server.config["proto-max-bulk-len"]:
        raise AlchemyError(STRING_TOO_LONG)


def _string_options(argv: list, first: int, allowed: frozenset) -> tuple[set, bytes | None,
                                                                           bytes | None]:
    """The options of SET or GETEX from argv[first:]: (flags, expire unit, expire argument).

    Only the syntax is checked here; as in Redis the expire value is checked afterwards.
    """
    flags: set = set()
    unit = value = None
    i = first
    while i < len(argv):
        option = argv[i].upper()
        if option not in allowed or flags & _CONFLICTS[option]:
            raise AlchemyError(SYNTAX)
        if option in _EXPIRE_UNITS:
            if i + 1 == len(argv):
                raise AlchemyError(SYNTAX)
            unit, value = option, argv[i + 1]
            i += 1
        flags.add(option)
        i += 1
    return flags, unit, value


def expire_deadline(unit: bytes, arg: bytes, name: str) -> int:
    """The absolute deadline in ms of EX/PX/EXAT/PXAT <arg>, with Redis's range checks."""
    value = parse_int(arg)
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
    return value


@command("get", 2, "readonly fast", keys=(1, 1, 1), group="string",
         summary="Get the value of a key")
def get(ctx, argv):
    db = ctx.db
    # Keyspace.get_string written out for a bytes value or none: two calls fewer, about a
    # tenth of a pipelined GET.
    value = db.data.get(argv[1]) if not db.expires else db.get(argv[1])
    if type(value) is bytes or value is None:
        return value
    return _bytes(db.get_string(argv[1]))  # a bytearray, or WRONGTYPE


def _bytes(value):
    return value if type(value) is not bytearray else bytes(value)


@command("set", -3, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Set the string value of a key")
def set_(ctx, argv):
    db = ctx.db
    key = argv[1]
    if len(argv) == 3 and not ctx.server.config.values["notify-keyspace-events"]:
        # The commonest SET: no options to parse, and with notifications off (the
        # default) no lookup of the old value either. Keyspace.set of a bytes value,
        # without the call: bytes need no `apart` entry.
        db.data[key] = argv[2]
        if db.expires:
            db.expires.pop(key, None)
        ctx.server.dirty += 1
        return OK
    flags, unit, expire = _string_options(argv, 3, _SET_OPTIONS)
    deadline = expire_deadline(unit, expire, "set") if unit else None
    want_old = b"GET" in flags
    old = db.get_string(key) if want_old else db.get(key)
    if (b"NX" in flags and old is not None) or (b"XX" in flags and old is None):
        return _bytes(old) if want_old else None
    if old is None:
        notify(ctx, NEW, b"new", key)
    db.set(key, argv[2], keep_ttl=b"KEEPTTL" in flags)
    ctx.server.dirty += 1
    notify(ctx, STRING, b"set", key)
    if deadline is not None:
        db.expire_at(key, deadline)
        notify(ctx, GENERIC, b"expire", key)
    if unit is not None and unit != b"PXAT":
        _log_set_until(ctx, key, argv[2], deadline)
    elif want_old:  # the old value was for the caller; replay needs only the write
        ctx.server.propagate_as(argv[:3] + [arg for arg in argv[3:] if arg.upper() != b"GET"])
    return _bytes(old) if want_old else OK


def _log_set_until(ctx, key: bytes, value: bytes, deadline: int) -> None:
    """Log a SET with a relative expire time as SET key value PXAT <absolute ms>."""
    ctx.server.propagate_as([b"SET", key, value, b"PXAT", b"%d" % deadline])


@command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Set the value of a key, only if the key does not exist")
def setnx(ctx, argv):
    if ctx.db.get(argv[1]) is not None:
        return 0
    notify(ctx, NEW, b"new", argv[1])
    ctx.db.set(argv[1], argv[2])
    ctx.server.dirty += 1
    notify(ctx, STRING, b"set", argv[1])
    return 1


def _set_with_ttl(ctx, argv, unit: bytes, name: str):
    deadline = expire_deadline(unit, argv[2], name)
    notify_new(ctx, argv[1])
    ctx.db.set(argv[1], argv[3])
    notify(ctx, STRING, b"set", argv[1])
    ctx.db.expire_at(argv[1], deadline)
    notify(ctx, GENERIC, b"expire", argv[1])
    ctx.server.dirty += 1
    _log_set_until(ctx, argv[1], argv[3], deadline)
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
    if old is None:
        notify(ctx, NEW, b"new", argv[1])
    ctx.db.set(argv[1], argv[2])
    notify(ctx, STRING, b"set", argv[1])
    ctx.server.dirty += 1
    return _bytes(old)


@command("getdel", 2, "write fast", keys=(1, 1, 1), group="string",
         summary="Get the value of a key and delete the key")
def getdel(ctx, argv):
    old = _string(ctx, argv[1])
    if old is not None:
        ctx.db.delete(argv[1])
        notify(ctx, GENERIC, b"del", argv[1])
        ctx.server.dirty += 1
        ctx.server.propagate_as([b"DEL", argv[1]])
    return _bytes(old)


@command("getex", -2, "write fast", keys=(1, 1, 1), group="string",
         summary="Get the value of a key and optionally set its expiration")
def getex(ctx, argv):
    flags, unit, expire = _string_options(argv, 2, _GETEX_OPTIONS)
    value = _string(ctx, argv[1])
    if value is None:
        return None
    db, key = ctx.db, argv[1]
    if unit is not None:
        deadline = expire_deadline(unit, expire, "getex")
        if unit in (b"EXAT", b"PXAT") and deadline <= now_ms():
            db.delete(key)  # a deadline already past deletes at once, as in Redis
            ctx.server.propagate_as([b"DEL", key])
            notify(ctx, GENERIC, b"del", key)
        else:
            db.expire_at(key, deadline)
            ctx.server.propagate_as([b"PEXPIREAT", key, b"%d" % deadline])
            notify(ctx, GENERIC, b"expire", key)
        ctx.server.dirty += 1
    elif b"PERSIST" in flags and db.persist(key):
        notify(ctx, GENERIC, b"persist", key)
        ctx.server.dirty += 1
        ctx.server.propagate_as([b"PERSIST", key])
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


def _keys_and_values(argv, name: str) -> tuple[list, list]:
    """The keys and the values of `name key value [key value ...]`."""
    if len(argv) % 2 == 0:
        raise AlchemyError(f"ERR wrong number of arguments for '{name}' command")
    return argv[1::2], argv[2::2]


@command("mset", -3, "write denyoom", keys=(1, -1, 2), group="string",
         summary="Set multiple keys to multiple values")
def mset(ctx, argv):
    _set_pairs(ctx, *_keys_and_values(argv, "mset"))
    return OK


def _set_pairs(ctx, keys: list, values: list) -> None:
    if enabled(ctx, NEW | STRING):
        for key, value in zip(keys, values):
            notify_new(ctx, key)
            ctx.db.set(key, value)
            notify(ctx, STRING, b"set", key)
    else:
        ctx.db.set_many(keys, values)
    ctx.server.dirty += len(keys)


@command("msetnx", -3, "write denyoom", keys=(1, -1, 2), group="string",
         summary="Set multiple keys to multiple values, only if none of the keys exist")
def msetnx(ctx, argv):
    keys, values = _keys_and_values(argv, "msetnx")
    if any(ctx.db.get(key) is not None for key in keys):
        return 0
    _set_pairs(ctx, keys, values)
    return 1


@command("append", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Append a value to a key")
def append(ctx, argv):
    value = _string(ctx, argv[1])
    if value is None:
        notify(ctx, NEW, b"new", argv[1])
        ctx.db.set(argv[1], argv[2], keep_ttl=True)
        ctx.server.dirty += 1
        notify(ctx, STRING, b"append", argv[1])
        return len(argv[2])
    _check_length(ctx, len(value) + len(argv[2]))
    if type(value) is bytes:
        value = bytearray(value)
        ctx.db.set(argv[1], value, keep_ttl=True)
    value += argv[2]
    ctx.server.dirty += 1
    notify(ctx, STRING, b"append", argv[1])
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
    _check_length(ctx, offset + len(patch))
    if value is None:
        notify(ctx, NEW, b"new", argv[1])
    if value is None or type(value) is bytes:
        value = bytearray(value or b"")
        ctx.db.set(argv[1], value, keep_ttl=True)
    if len(value) < offset:
        value.extend(bytes(offset - len(value)))
    value[offset:offset + len(patch)] = patch
    ctx.server.dirty += 1
    notify(ctx, STRING, b"setrange", argv[1])
    return len(value)


# The value the last counter command stored and the number it holds. A hot counter (one
# key INCRed again and again) still holds that very object at the next INCR, which then
# skips reading the number back. Bytes never change, so the same object is the same number.
_counted: object = object()
_count = 0


@command("incr", 2, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increment the integer value of a key by one")
def incr(ctx, argv, delta: int = 1) -> int:
    """INCR, and with delta the other counter commands (INCR itself saves a call)."""
    global _counted, _count
    key = argv[1]
    db = ctx.db
    value = db.data.get(key) if not db.expires else db.get(key)  # get_string, inlined
    if value is _counted:
        result = _count + delta
    elif value is None:
        result = delta
        notify(ctx, NEW, b"new", key)
    else:
        if type(value) is not bytes:
            value = db.get_string(key)  # a bytearray (SETRANGE, SETBIT), or WRONGTYPE
        result = parse_int(value) + delta  # read as an argument is: string2ll
    if not -2**63 <= result < 2**63:
        raise AlchemyError(OVERFLOW)
    # All of Keyspace.set a bytes value needs when the key's TTL stays (or it has none).
    db.data[key] = _counted = b"%d" % result
    _count = result
    server = ctx.server
    server.dirty += 1
    if server.config.values["notify-keyspace-events"]:  # notify's own test, sparing
        notify(ctx, STRING, b"incrby", key)            # the call when it is off
    return result


@command("decr", 2, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Decrement the integer value of a key by one")
def decr(ctx, argv):
    return incr(ctx, argv, -1)


@command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increment the integer value of a key by the given amount")
def incrby(ctx, argv):
    return incr(ctx, argv, parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Decrement the integer value of a key by the given number")
def decrby(ctx, argv):
    delta = parse_int(argv[2])
    if delta == -2**63:
        raise AlchemyError("ERR decrement would overflow")
    return incr(ctx, argv, -delta)


@command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increment the float value of a key by the given amount")
def incrbyfloat(ctx, argv):
    # Redis computes in long double, which is why 0.1 + 0.2 stores "0.3" (alchemy.longdouble).
    value = _string(ctx, argv[1])
    current = ZERO if value is None else parse_long_double(bytes(value))
    result = add(current, parse_long_double(argv[2]))
    if result is None or type(result) is float:  # NaN or an infinity
        raise AlchemyError("ERR increment would produce NaN or Infinity")
    text = format_long_double(result)
    if value is None:
        notify(ctx, NEW, b"new", argv[1])
    ctx.db.set(argv[1], text, keep_ttl=True)
    ctx.server.dirty += 1
    notify(ctx, STRING, b"incrbyfloat", argv[1])
    # The result, not the increment: replay must not depend on float arithmetic.
    ctx.server.propagate_as([b"SET", argv[1], text, b"KEEPTTL"])
    return text


# -- LCS -----------------------------------------------------------------------------

def _lcs_rows(a: bytes, b: bytes) -> list:
    """Row i says, for the prefix a[:i], where the LCS length grows along b.

    Bit j of row i is 0 exactly when LCS(a[:i], b[:j+1]) = LCS(a[:i], b[:j]) + 1, so
    LCS(a[:i], b[:j]) is the number of zero bits below bit j. This is the bit-parallel
    form of the dynamic programming table (Crochemore et al. 2001): each row costs a few
    big-integer operations, O(len(a) * len(b) / word size) in all.
    """
    full = (1 << len(b)) - 1
    positions: dict = {}
    for j, byte in enumerate(b):
        positions[byte] = positions.get(byte, 0) | (1 << j)
    row = full
    rows = [row]
    for byte in a:
        matched = row & positions.get(byte, 0)
        row = ((row + matched) | (row - matched)) & full
        rows.append(row)
    return rows


def _lcs(a: bytes, b: bytes, min_len: int, with_len: bool) -> tuple[bytes, list]:
    """The LCS and its matching ranges, walking the table back as Redis does.

    The walk decides ties the same way as lcsCommand, so the string and the ranges are
    the ones Redis gives.
    """
    rows = _lcs_rows(a, b)
    out = bytearray()
    matches = []
    i, j = len(a), len(b)
    a_start = None  # the current range: a[a_start..a_end] == b[b_start..b_end]
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            if a_start is None:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            emit = emit or a_start == 0 or b_start == 0
            i -= 1
            j -= 1
        else:
            # LCS(i, j-1) < LCS(i, j) exactly when bit j-1 of row i is 0: step up then.
            if rows[i] >> (j - 1) & 1:
                j -= 1
            else:
                i -= 1
            emit = a_start is not None
        if emit:
            length = a_end - a_start + 1
            if length >= min_len:
                match = [[a_start, a_end], [b_start, b_end]]
                matches.append(match + [length] if with_len else match)
            a_start = None
    out.reverse()
    return bytes(out), matches


@command("lcs", -3, "readonly", keys=(1, 2, 1), group="string", since="7.0.0",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
         summary="Find longest common substring")
def lcs(ctx, argv):
    db = ctx.db
    values = [db.get(argv[1]), db.get(argv[2])]
    if any(v is not None and type(v) not in (bytes, bytearray) for v in values):
        raise AlchemyError("ERR The specified keys must contain string values")
    a, b = (bytes(v) if v is not None else b"" for v in values)
    want_len = want_idx = with_len = False
    min_len = 0
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if option == b"IDX":
            want_idx = True
        elif option == b"LEN":
            want_len = True
        elif option == b"WITHMATCHLEN":
            with_len = True
        elif option == b"MINMATCHLEN" and i + 1 < len(argv):
            min_len = max(parse_int(argv[i + 1]), 0)
            i += 1
        else:
            raise AlchemyError(SYNTAX)
        i += 1
    if want_idx and want_len:
        raise AlchemyError("ERR If you want both the length and indexes, please just use IDX.")
    # Redis refuses when its (len(a)+1) x (len(b)+1) table of 4-byte cells would be too big.
    if (len(a) + 1) * (len(b) + 1) * 4 > ctx.server.config["proto-max-bulk-len"]:
        raise AlchemyError("ERR Insufficient memory, transient memory for LCS exceeds "
                           "proto-max-bulk-len")
    if want_len:
        return len(b) - _lcs_rows(a, b)[-1].bit_count()
    common, matches = _lcs(a, b, min_len, with_len)
    if want_idx:
        return {b"matches": matches, b"len": len(common)}
    return common
