"""Keyspace and expiry commands (db.c, expire.c, object.c): DEL, EXISTS, KEYS, SCAN,
RENAME, COPY, MOVE, SWAPDB, OBJECT, EXPIRE and the TTL family.

Expiry itself lives in the Keyspace (lazy on access, active from Database.cron); these
commands only set, read and remove deadlines. A command that writes a key of a database
other than the client's (MOVE, COPY ... DB n, SWAPDB) tells watchers itself, since the
dispatcher only touches the declared keys in the client's database.
"""

import random
import re

from alchemy.command import command
from alchemy.commands.sql import dump_table, run_words
from alchemy.errors import (INVALID_DB, INVALID_EXPIRE, NO_SUCH_KEY, NOT_INTEGER, SYNTAX,
                            AlchemyError, unknown_subcommand, wrong_arity)
from alchemy.keyspace import TYPES, Keyspace, now_ms
from alchemy.notify import GENERIC, NEW, notify, publish
from alchemy.persistence.snapshot import CODECS
from alchemy.reply import OK, Status
from alchemy.storage.table import Table
from alchemy.util import BAD_PAYLOAD, glob_matcher, open_payload, parse_int, seal_payload

SAME_OBJECT = "ERR source and destination objects are the same"

_LLONG_MAX = 2**63 - 1
# C's LLONG_MAX / 1000 and LLONG_MIN / 1000 (division truncates toward zero).
_MAX_SECONDS = _LLONG_MAX // 1000


# -- existence and deletion -------------------------------------------------------------

def _delete(ctx, keys: list) -> int:
    deleted = 0
    for key in keys:
        if ctx.db.delete(key):
            deleted += 1
            notify(ctx, GENERIC, b"del", key)
    ctx.server.dirty += deleted
    return deleted


@command("del", -2, "write table_ok", keys=(1, -1, 1), group="generic", summary="Delete a key",
         complexity="O(N) where N is the number of keys that will be removed")
def del_(ctx, argv):
    return _delete(ctx, argv[1:])


@command("unlink", -2, "write fast table_ok", keys=(1, -1, 1), group="generic", since="4.0.0",
         summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, "
                 "but non blocking.")
def unlink(ctx, argv):
    # Values are freed by Python's refcounting either way; there is no thread to hand them to.
    return _delete(ctx, argv[1:])


@command("exists", -2, "readonly fast", keys=(1, -1, 1), group="generic",
         summary="Determine if a key exists")
def exists(ctx, argv):
    # A key named twice counts twice, as in Redis.
    return sum(1 for key in argv[1:] if ctx.db.exists(key))


@command("touch", -2, "readonly fast", keys=(1, -1, 1), group="generic", since="3.2.1",
         summary="Alters the last access time of a key(s). Returns the number of existing "
                 "keys specified.")
def touch(ctx, argv):
    return sum(1 for key in argv[1:] if ctx.db.exists(key))


@command("type", 2, "readonly fast", keys=(1, 1, 1), group="generic",
         summary="Determine the type stored at key")
def type_(ctx, argv):
    value = ctx.db.get(argv[1])
    return Status("none" if value is None else ctx.db.type_name(value))


# -- enumerating keys -------------------------------------------------------------------

def _expired(db: Keyspace, key: bytes, now: int) -> bool:
    deadline = db.deadline(key)
    return deadline is not None and deadline <= now


@command("keys", 2, "readonly", group="generic", summary="Find all keys matching the given pattern",
         complexity="O(N) with N being the number of keys in the database")
def keys(ctx, argv):
    # Like Redis, KEYS skips expired keys without reclaiming them.
    db = ctx.db
    match = None if argv[1] == b"*" else glob_matcher(argv[1])
    now = now_ms()
    return [key for key in db.data
            if (match is None or match(key)) and not _expired(db, key, now)]


_CURSOR = re.compile(rb"([+-]?)([0-9]+)")


def parse_cursor(arg: bytes) -> int:
    """A SCAN-family cursor as Redis's strtoul-based parser reads it.

    strtoul takes a sign ("-1" wraps to 2**64-1) and reads "" as 0; Redis then refuses
    leading spaces, trailing garbage and values past 2**64-1.
    """
    if arg == b"":
        return 0
    m = _CURSOR.fullmatch(arg)
    if m is None or int(m.group(2)) >= 2**64:
        raise AlchemyError("ERR invalid cursor")
    value = int(m.group(2))
    return (-value) % 2**64 if m.group(1) == b"-" else value


def parse_scan_options(argv: list, start: int, allow_type: bool) -> tuple:
    """COUNT/MATCH (and TYPE for SCAN) from argv[start:]: (count, match function or None,
    type name in lower case or None)."""
    count, match, type_name = 10, None, None
    i = start
    while i < len(argv):
        option = argv[i].upper()
        if i + 1 >= len(argv):
            raise AlchemyError(SYNTAX)
        if option == b"COUNT":
            count = parse_int(argv[i + 1])
            if count < 1:
                raise AlchemyError(SYNTAX)
        elif option == b"MATCH":
            match = None if argv[i + 1] == b"*" else glob_matcher(argv[i + 1])
        elif option == b"TYPE" and allow_type:
            type_name = argv[i + 1].lower()
        else:
            raise AlchemyError(SYNTAX)
        i += 2
    return count, match, type_name


@command("scan", -2, "readonly", group="generic", since="2.8.0",
         summary="Incrementally iterate the keys space",
         complexity="O(1) for every call. O(N) for a complete iteration")
def scan(ctx, argv):
    """O(COUNT) a call, plus O(N) once per scan for the snapshot taken at cursor 0."""
    if any(arg.upper() == b"FROM" for arg in argv[2:]):
        return run_words(ctx, argv)  # AlchemyDB's SCAN cols FROM table: SQL
    cursor = parse_cursor(argv[1])
    count, match, type_name = parse_scan_options(argv, 2, allow_type=True)
    db = ctx.db
    next_cursor, batch = ctx.server.cursors.next_batch(cursor, count, lambda: list(db.data))
    found = []
    for key in batch:
        if match is not None and not match(key):
            continue
        value = db.get(key)  # None for keys deleted or expired since the snapshot
        if value is None:
            continue
        if type_name is not None and db.type_name(value).encode() != type_name:
            continue
        found.append(key)
    return [str(next_cursor).encode(), found]


@command("randomkey", 1, "readonly", group="generic",
         summary="Return a random key from the keyspace")
def randomkey(ctx, argv):
    """O(N): Python dicts offer no random access, so the key names are listed first."""
    db = ctx.db
    candidates = list(db.data)
    while candidates:
        i = random.randrange(len(candidates))
        key = candidates[i]
        if db.get(key) is not None:
            return key
        candidates[i] = candidates[-1]  # expired (and now reclaimed): draw again
        candidates.pop()
    return None


# -- renaming, copying, moving ----------------------------------------------------------

def _rename(ctx, argv, nx: bool):
    db = ctx.db
    src, dst = argv[1], argv[2]
    value = db.get(src)
    if value is None:
        raise AlchemyError(NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    if nx and db.get(dst) is not None:
        return 0
    _place(ctx, db, dst, value, db.deadline(src))
    db.delete(src)
    ctx.server.dirty += 1
    notify(ctx, GENERIC, b"rename_from", src)
    notify(ctx, GENERIC, b"rename_to", dst)
    return 1 if nx else OK


def _place(ctx, db: Keyspace, key: bytes, value, deadline: int | None) -> None:
    """Store value at key, replacing whatever was there, with the given deadline (or none).
    The key is new even when it replaces one: Redis deletes the old key, then adds."""
    publish(ctx.server, db.index, NEW, b"new", key)
    db.set(key, value)
    if deadline is not None:
        db.expire_at(key, deadline)


@command("rename", 3, "write", keys=(1, 2, 1), group="generic", summary="Rename a key")
def rename(ctx, argv):
    return _rename(ctx, argv, nx=False)


@command("renamenx", 3, "write fast", keys=(1, 2, 1), group="generic",
         summary="Rename a key, only if the new key does not exist")
def renamenx(ctx, argv):
    return _rename(ctx, argv, nx=True)


_INT_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"


def _db_index(arg: bytes, error: str | None = None) -> int:
    """A database number as Redis's getIntFromObjectOrReply reads it: a 32-bit C int;
    `error`, when given, replaces both of its error texts."""
    index = parse_int(arg, error or NOT_INTEGER)
    if not -2**31 <= index < 2**31:
        raise AlchemyError(error or _INT_RANGE)
    return index


def _database(ctx, index: int) -> Keyspace:
    if not 0 <= index < len(ctx.server.dbs):
        raise AlchemyError(INVALID_DB)
    return ctx.server.dbs[index]


@command("copy", -3, "write denyoom", keys=(1, 2, 1), group="generic", since="6.2.0",
         summary="Copy a key",
         complexity="O(N) worst case for collections, where N is the number of nested items. "
                    "O(1) for string values.")
def copy(ctx, argv):
    src_db = dst_db = ctx.db
    replace = False
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if option == b"REPLACE":
            replace = True
        elif option == b"DB" and i + 1 < len(argv):
            i += 1
            dst_db = _database(ctx, _db_index(argv[i]))
        else:
            raise AlchemyError(SYNTAX)
        i += 1
    src, dst = argv[1], argv[2]
    if src_db is dst_db and src == dst:
        raise AlchemyError(SAME_OBJECT)
    value = src_db.get(src)
    if value is None or (dst_db.get(dst) is not None and not replace):
        return 0
    _place(ctx, dst_db, dst, TYPES[type(value)].copy(value), src_db.deadline(src))
    ctx.server.dirty += 1
    publish(ctx.server, dst_db.index, GENERIC, b"copy_to", dst)
    if dst_db is not src_db:
        ctx.server.touch(dst_db, dst)
    return 1


@command("move", 3, "write fast", keys=(1, 1, 1), group="generic",
         summary="Move a key to another database")
def move(ctx, argv):
    src_db, key = ctx.db, argv[1]
    dst_db = _database(ctx, _db_index(argv[2]))
    if dst_db is src_db:
        raise AlchemyError(SAME_OBJECT)
    value = src_db.get(key)
    if value is None or dst_db.get(key) is not None:
        return 0
    _place(ctx, dst_db, key, value, src_db.deadline(key))
    src_db.delete(key)
    ctx.server.dirty += 1
    notify(ctx, GENERIC, b"move_from", key)
    publish(ctx.server, dst_db.index, GENERIC, b"move_to", key)
    ctx.server.touch(dst_db, key)
    return 1


@command("swapdb", 3, "write fast", group="server", since="4.0.0",
         summary="Swaps two Redis databases",
         complexity="O(N) where N is the count of clients watching or blocking on keys from "
                    "both databases.")
def swapdb(ctx, argv):
    first = _db_index(argv[1], "ERR invalid first DB index")
    second = _db_index(argv[2], "ERR invalid second DB index")
    if not (0 <= first < len(ctx.server.dbs) and 0 <= second < len(ctx.server.dbs)):
        raise AlchemyError(INVALID_DB)
    if first != second:
        a, b = ctx.server.dbs[first], ctx.server.dbs[second]
        a.swap(b)
        # A statement prepared in one database must not run on the other's tables, whose
        # columns may differ: a new schema version makes every plan again.
        ctx.server.sql_engine.schema_version += 1
        # Watchers and waiters stay with their database number; a key that exists on
        # either side of the swap has changed for them (touchAllWatchedKeysInDb).
        for db in (a, b):
            for key in set(db.watched) | set(db.blocked):
                if key in a.data or key in b.data:
                    ctx.server.touch(db, key)
    ctx.server.dirty += 1
    return OK


# -- OBJECT -----------------------------------------------------------------------------

OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]

_POLICY_NOTE = ("Please note that when switching between policies at runtime LRU and LFU "
                "data will take some time to adjust.")
# Redis keeps one shared object for each of the integers 0..9999 (OBJ_SHARED_INTEGERS)
# unless an LRU/LFU policy needs per-key access data; its refcount reads INT_MAX.
_SHARED_REFCOUNT = 2**31 - 1


def _lfu(ctx) -> bool:
    return "lfu" in ctx.server.config["maxmemory-policy"]


def _encoding(ctx, value) -> bytes:
    return TYPES[type(value)].encoding(value).encode()


def _refcount(ctx, value) -> int:
    config = ctx.server.config
    shared = (type(value) is bytes and TYPES[bytes].encoding(value) == "int"
              and 0 <= int(value) < 10000
              and (not config["maxmemory"] or not config["maxmemory-policy"].startswith(
                  ("allkeys-l", "volatile-l"))))
    return _SHARED_REFCOUNT if shared else 1


def _idletime(ctx, value) -> int:
    if _lfu(ctx):
        raise AlchemyError("ERR An LFU maxmemory policy is selected, idle time not tracked. "
                           + _POLICY_NOTE)
    return 0  # access times are not tracked (no eviction yet)


def _freq(ctx, value) -> int:
    if not _lfu(ctx):
        raise AlchemyError("ERR An LFU maxmemory policy is not selected, access frequency not "
                           "tracked. " + _POLICY_NOTE)
    return 0  # access frequencies are not tracked (no eviction yet)


_OBJECT_INSPECTORS = {b"encoding": _encoding, b"refcount": _refcount,
                      b"idletime": _idletime, b"freq": _freq}


@command("object", -2, "readonly", keys=(2, 2, 1), group="generic", since="2.2.3",
         summary="A container for object introspection commands")
def object_(ctx, argv):
    sub = argv[1].lower()
    if sub == b"help":
        if len(argv) != 2:
            raise wrong_arity("object|help")
        return [Status(line) for line in OBJECT_HELP]
    inspect = _OBJECT_INSPECTORS.get(sub)
    if inspect is None:
        raise unknown_subcommand("object", argv[1])
    if len(argv) != 3:
        raise wrong_arity("object|" + sub.decode())
    value = ctx.db.get(argv[2])
    return None if value is None else inspect(ctx, value)


# -- expiry -----------------------------------------------------------------------------

def _expire_flags(options: list) -> set:
    flags = set()
    for option in options:
        flag = option.upper()
        if flag not in (b"NX", b"XX", b"GT", b"LT"):
            raise AlchemyError("ERR Unsupported option " + option.decode("utf-8", "replace"))
        flags.add(flag)
    if b"NX" in flags and len(flags) > 1:
        raise AlchemyError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"GT" in flags and b"LT" in flags:
        raise AlchemyError("ERR GT and LT options at the same time are not compatible")
    return flags


def _expire(ctx, argv, name: str, seconds: bool, relative: bool) -> int:
    flags = _expire_flags(argv[3:])
    when = parse_int(argv[2])
    if seconds:
        if not -_MAX_SECONDS <= when <= _MAX_SECONDS:
            raise AlchemyError(INVALID_EXPIRE % name)
        when *= 1000
    now = now_ms()
    base = now if relative else 0
    if when > _LLONG_MAX - base:
        raise AlchemyError(INVALID_EXPIRE % name)
    when += base
    db, key = ctx.db, argv[1]
    if db.get(key) is None:
        return 0
    current = db.deadline(key)
    if ((b"NX" in flags and current is not None)
            or (b"XX" in flags and current is None)
            or (b"GT" in flags and (current is None or when <= current))
            or (b"LT" in flags and current is not None and when >= current)):
        return 0
    # The log gets the absolute deadline, so replaying it later means the same instant.
    if when <= now:
        db.delete(key)  # a deadline already past deletes at once
        ctx.server.propagate_as([b"DEL", key])
        notify(ctx, GENERIC, b"del", key)
    else:
        db.expire_at(key, when)
        ctx.server.propagate_as([b"PEXPIREAT", key, b"%d" % when])
        notify(ctx, GENERIC, b"expire", key)
    ctx.server.dirty += 1
    return 1


@command("expire", -3, "write fast", keys=(1, 1, 1), group="generic",
         summary="Set a key's time to live in seconds")
def expire(ctx, argv):
    return _expire(ctx, argv, "expire", seconds=True, relative=True)


@command("pexpire", -3, "write fast", keys=(1, 1, 1), group="generic", since="2.6.0",
         summary="Set a key's time to live in milliseconds")
def pexpire(ctx, argv):
    return _expire(ctx, argv, "pexpire", seconds=False, relative=True)


@command("expireat", -3, "write fast", keys=(1, 1, 1), group="generic", since="1.2.0",
         summary="Set the expiration for a key as a UNIX timestamp")
def expireat(ctx, argv):
    return _expire(ctx, argv, "expireat", seconds=True, relative=False)


@command("pexpireat", -3, "write fast", keys=(1, 1, 1), group="generic", since="2.6.0",
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds")
def pexpireat(ctx, argv):
    return _expire(ctx, argv, "pexpireat", seconds=False, relative=False)


def _ttl(ctx, key: bytes, ms: bool, absolute: bool) -> int:
    db = ctx.db
    if db.get(key) is None:
        return -2
    deadline = db.deadline(key)
    if deadline is None:
        return -1
    ttl = max(deadline if absolute else deadline - now_ms(), 0)
    return ttl if ms else (ttl + 500) // 1000  # Redis rounds to the nearest second


@command("ttl", 2, "readonly fast", keys=(1, 1, 1), group="generic",
         summary="Get the time to live for a key in seconds")
def ttl(ctx, argv):
    return _ttl(ctx, argv[1], ms=False, absolute=False)


@command("pttl", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="2.6.0",
         summary="Get the time to live for a key in milliseconds")
def pttl(ctx, argv):
    return _ttl(ctx, argv[1], ms=True, absolute=False)


@command("expiretime", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="7.0.0",
         summary="Get the expiration Unix timestamp for a key")
def expiretime(ctx, argv):
    return _ttl(ctx, argv[1], ms=False, absolute=True)


@command("pexpiretime", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="7.0.0",
         summary="Get the expiration Unix timestamp for a key in milliseconds")
def pexpiretime(ctx, argv):
    return _ttl(ctx, argv[1], ms=True, absolute=True)


@command("persist", 2, "write fast", keys=(1, 1, 1), group="generic", since="2.2.0",
         summary="Remove the expiration from a key")
def persist(ctx, argv):
    if ctx.db.get(argv[1]) is None or not ctx.db.persist(argv[1]):
        return 0
    ctx.server.dirty += 1
    notify(ctx, GENERIC, b"persist", argv[1])
    return 1


# -- DUMP and RESTORE -----------------------------------------------------------------
# The payload is Alchemy's own, opaque to clients as Redis's is: u8 length and name of the
# type, then the value in the snapshot's codec for that type, sealed by util.seal_payload.
# A payload comes from a client, so RESTORE decodes only types with a codec (never pickle)
# and treats any failure to decode as bad data.


@command("dump", -2, "readonly", keys=(1, 1, 1), group="generic",
         summary="Return a serialized version of the value stored at the specified key; "
                 "for a SQL table, its rows (DUMP t TO FILE path writes CSV)")
def dump(ctx, argv):
    value = ctx.db.get(argv[1])
    if type(value) is Table or len(argv) > 2:
        return dump_table(ctx, argv)
    if value is None:
        return None
    name = TYPES[type(value)].name
    if name != "string" and name not in CODECS:
        raise AlchemyError(f"ERR DUMP cannot serialize a {name}")
    body = bytes(value) if name == "string" else CODECS[name][0](value)
    return seal_payload(bytes([len(name)]) + name.encode() + body)


def _restored(payload: bytes):
    if len(payload) < 8:
        raise AlchemyError(BAD_PAYLOAD)
    data = open_payload(payload)
    name, body = data[1:1 + data[0]].decode("latin-1"), data[1 + data[0]:]
    if name == "string":
        return body
    try:
        value = CODECS[name][1](body)
    except Exception:  # any damage a crafted payload can do to a decoder
        raise AlchemyError("ERR Bad data format") from None
    # Redis refuses empty collections too (not a stream: one emptied by XDEL or XTRIM keeps
    # its IDs and groups); a NaN score would break a sorted set's order.
    if (not len(value) and name != "stream") \
            or (name == "zset" and any(s != s for _, s in value.items())):
        raise AlchemyError("ERR Bad data format")
    return value


@command("restore", -4, "write", keys=(1, 1, 1), group="generic",
         summary="Create a key using the provided serialized value, previously obtained "
                 "using DUMP")
def restore(ctx, argv):
    key, ttl = argv[1], parse_int(argv[2])
    replace = absolute = False
    i = 4
    while i < len(argv):
        option = argv[i].upper()
        if option == b"REPLACE":
            replace = True
        elif option == b"ABSTTL":
            absolute = True
        elif option in (b"IDLETIME", b"FREQ") and i + 1 < len(argv):
            i += 1
            if parse_int(argv[i]) < 0 or (option == b"FREQ" and parse_int(argv[i]) > 255):
                raise AlchemyError("ERR Invalid IDLETIME value, must be >= 0"
                                   if option == b"IDLETIME"
                                   else "ERR Invalid FREQ value, must be >= 0 and <= 255")
        else:
            raise AlchemyError(SYNTAX)
        i += 1
    if ttl < 0:
        raise AlchemyError("ERR Invalid TTL value, must be >= 0")
    db = ctx.db
    if not replace and db.get(key) is not None:
        raise AlchemyError("BUSYKEY Target key name already exists.")
    value = _restored(argv[3])
    deadline = None if ttl == 0 else ttl if absolute else now_ms() + ttl
    if deadline is not None and deadline <= now_ms():
        # Already expired: nothing is created, and REPLACE still removes the old value.
        if db.delete(key):
            ctx.server.dirty += 1
            notify(ctx, GENERIC, b"del", key)
        return OK
    _place(ctx, db, key, value, deadline)
    ctx.server.dirty += 1
    notify(ctx, GENERIC, b"restore", key)
    if deadline is not None and not absolute:
        ctx.server.propagate_as([b"RESTORE", key, b"%d" % deadline, argv[3], b"ABSTTL",
                                 b"REPLACE"])
    return OK
