"""Hash commands (t_hash.c): HSET/HGET and friends, counters, HRANDFIELD, HSCAN.

A hash is a dict of field -> value, both bytes. Redis 7.0 keeps a small hash in a listpack
and converts it to a hash table, for good, once it holds more than hash-max-listpack-entries
fields or is given a field or value longer than hash-max-listpack-value bytes. The class
records which, so OBJECT ENCODING answers as Redis does: a hash still in the listpack
encoding is an exact `dict`, one converted is a `Hash` (a dict subclass), and conversion
replaces the value, once. Small hashes are exact dicts because a forked snapshot writer
serializes exact dicts in one marshal walk that writes no reference count
(alchemy.persistence.snapshot): their pages stay shared with the server.

HINCRBYFLOAT computes in long double as Redis does (alchemy.longdouble): 0.1 + 0.2 gives
"0.3", where doubles would give "0.30000000000000004".
"""

from alchemy.command import command
from alchemy.commands.keys import parse_cursor
from alchemy.commands.sets import (parse_random_count, random_member, random_members,
                                   scan_collection)
from alchemy.errors import (NOT_FLOAT, OVERFLOW, SYNTAX, WRONGTYPE, AlchemyError,
                            wrong_arity)
from alchemy.keyspace import register_type
from alchemy.longdouble import ZERO, add, format_long_double, parse_long_double
from alchemy.notify import GENERIC, HASH, NEW, notify
from alchemy.persistence.snapshot import CODECS, pack_collection, unpack_collection
from alchemy.reply import OK
from alchemy.util import parse_int

HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
# HRANDFIELD ... WITHVALUES doubles the reply, so Redis bounds the count by LONG_MAX / 2.
_WITHVALUES_MAX = (2**63 - 1) // 2


class Hash(dict):
    """A hash in the hashtable encoding (see the module's docstring)."""

    __slots__ = ()


def _encode(value: dict) -> bytes:
    """Snapshot payload: the listpack flag, then the fields, then their values."""
    return pack_collection(type(value) is dict, [*value, *value.values()])


def _decode(payload: bytes) -> dict:
    listpack, items, _ = unpack_collection(payload, "hash")
    half = len(items) // 2
    return (dict if listpack else Hash)(zip(items[:half], items[half:]))


register_type(dict, "hash", dict, lambda value: "listpack")
register_type(Hash, "hash", Hash, lambda value: "hashtable")
CODECS["hash"] = (_encode, _decode)


def _hash(ctx, key: bytes) -> dict | None:
    """The hash at key (a dict or a Hash), None if absent; WRONGTYPE for another type."""
    db = ctx.db
    # Keyspace.get's deadline check only when some key has a deadline (as get_typed does).
    value = db.get(key) if db.expires else db.data.get(key)
    if value is not None and type(value) is not dict and type(value) is not Hash:
        raise AlchemyError(WRONGTYPE)
    return value


@command("hset", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Set the string value of a hash field")
def hset(ctx, argv, event: bytes = b"hset") -> int:
    """HSET, and the write of HMSET, HSETNX, HINCRBY and HINCRBYFLOAT (which name their
    event): the field-value pairs of argv[2:] set in the hash at argv[1]; how many fields
    are new."""
    if len(argv) % 2:
        raise wrong_arity(argv[0].decode().lower())
    key = argv[1]
    db = ctx.db
    # _hash written out, as LPUSH writes out Keyspace.get_typed (a call is 500 instructions).
    value = db.get(key) if db.expires else db.data.get(key)
    if value is not None and type(value) is not dict and type(value) is not Hash:
        raise AlchemyError(WRONGTYPE)
    server = ctx.server
    config = server.config.values
    events = config["notify-keyspace-events"]
    if value is None:
        value = {}
        if events:
            notify(ctx, NEW, b"new", key)
        db.set(key, value)
    # One pair, most calls: no slices, no zip, no map (each an allocation that costs more
    # than the rest of the test), and no limit to test once the hash is a Hash.
    if len(argv) == 4:
        field, text = argv[2], argv[3]
        added = 0 if field in value else 1
        value[field] = text
        if type(value) is dict:
            longest = config["hash-max-listpack-value"]
            if len(field) > longest or len(text) > longest \
                    or len(value) > config["hash-max-listpack-entries"]:
                db.set(key, Hash(value), keep_ttl=True)
        server.dirty += 1
    else:
        before = len(value)
        value.update(zip(argv[2::2], argv[3::2]))
        added = len(value) - before
        if type(value) is dict and (
                max(map(len, argv[2:])) > config["hash-max-listpack-value"]
                or len(value) > config["hash-max-listpack-entries"]):
            db.set(key, Hash(value), keep_ttl=True)
        server.dirty += len(argv) // 2 - 1
    if events:
        notify(ctx, HASH, event, key)
    return added


@command("hmset", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Set multiple hash fields to multiple values")
def hmset(ctx, argv):
    hset(ctx, argv)
    return OK


@command("hsetnx", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Set the value of a hash field, only if the field does not exist")
def hsetnx(ctx, argv):
    value = _hash(ctx, argv[1])
    if value is not None and argv[2] in value:
        return 0
    return hset(ctx, argv)


@command("hget", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get the value of a hash field")
def hget(ctx, argv):
    value = _hash(ctx, argv[1])
    return None if value is None else value.get(argv[2])


@command("hmget", -3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get the values of all the given hash fields")
def hmget(ctx, argv):
    value = _hash(ctx, argv[1]) or {}
    return [value.get(field) for field in argv[2:]]


@command("hdel", -3, "write fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Delete one or more hash fields")
def hdel(ctx, argv):
    value = _hash(ctx, argv[1])
    if value is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        if value.pop(field, None) is not None:
            deleted += 1
    if deleted:
        notify(ctx, HASH, b"hdel", argv[1])
    if not value:
        ctx.db.delete(argv[1])
        notify(ctx, GENERIC, b"del", argv[1])
    ctx.server.dirty += deleted
    return deleted


@command("hlen", 2, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get the number of fields in a hash")
def hlen(ctx, argv):
    value = _hash(ctx, argv[1])
    return 0 if value is None else len(value)


@command("hstrlen", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="3.2.0",
         summary="Get the length of the value of a hash field")
def hstrlen(ctx, argv):
    value = _hash(ctx, argv[1]) or {}
    return len(value.get(argv[2], b""))


@command("hexists", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Determine if a hash field exists")
def hexists(ctx, argv):
    value = _hash(ctx, argv[1])
    return int(value is not None and argv[2] in value)


@command("hkeys", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get all the fields in a hash")
def hkeys(ctx, argv):
    return list(_hash(ctx, argv[1]) or ())


@command("hvals", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get all the values in a hash")
def hvals(ctx, argv):
    return list((_hash(ctx, argv[1]) or {}).values())


@command("hgetall", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get all the fields and values in a hash")
def hgetall(ctx, argv):
    return dict(_hash(ctx, argv[1]) or {})


@command("hincrby", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Increment the integer value of a hash field by the given number")
def hincrby(ctx, argv):
    increment = parse_int(argv[3])
    value = _hash(ctx, argv[1])
    old = None if value is None else value.get(argv[2])
    result = (0 if old is None else parse_int(old, HASH_NOT_INTEGER)) + increment
    if not -2**63 <= result < 2**63:
        raise AlchemyError(OVERFLOW)
    hset(ctx, [*argv[:3], str(result).encode()], b"hincrby")
    return result


@command("hincrbyfloat", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.6.0",
         summary="Increment the float value of a hash field by the given amount")
def hincrbyfloat(ctx, argv):
    increment = parse_long_double(argv[3], NOT_FLOAT)
    if type(increment) is float:  # an infinity (alchemy.longdouble)
        raise AlchemyError("ERR value is NaN or Infinity")
    value = _hash(ctx, argv[1])
    old = None if value is None else value.get(argv[2])
    result = add(ZERO if old is None else parse_long_double(old, HASH_NOT_FLOAT), increment)
    if result is None or type(result) is float:
        raise AlchemyError("ERR increment would produce NaN or Infinity")
    text = format_long_double(result)
    hset(ctx, [*argv[:3], text], b"hincrbyfloat")
    # The result, not the increment: replay must not depend on float arithmetic.
    ctx.server.propagate_as([b"HSET", argv[1], argv[2], text])
    return text


@command("hrandfield", -2, "readonly", keys=(1, 1, 1), group="hash", since="6.2.0",
         summary="Get one or multiple random fields from a hash")
def hrandfield(ctx, argv):
    """O(N): see alchemy.commands.sets on random picks."""
    if len(argv) == 2:
        value = _hash(ctx, argv[1])
        return None if value is None else random_member(value)
    count = parse_random_count(argv[2])
    if len(argv) > 4 or (len(argv) == 4 and argv[3].upper() != b"WITHVALUES"):
        raise AlchemyError(SYNTAX)
    with_values = len(argv) == 4
    if with_values and abs(count) > _WITHVALUES_MAX:
        raise AlchemyError("ERR value is out of range")
    value = _hash(ctx, argv[1])
    if value is None:
        return []
    fields = random_members(value, count)
    if not with_values:
        return fields
    if ctx.resp3:
        return [[field, value[field]] for field in fields]
    return [item for field in fields for item in (field, value[field])]


@command("hscan", -3, "readonly", keys=(1, 1, 1), group="hash", since="2.8.0",
         summary="Incrementally iterate hash fields and associated values")
def hscan(ctx, argv):
    cursor = parse_cursor(argv[2])
    value = _hash(ctx, argv[1])
    if value is None:
        return [b"0", []]
    return scan_collection(ctx, argv, cursor, value, type(value) is dict,
                           lambda field: (field, value[field]))

