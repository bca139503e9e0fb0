"""Tables and Redis types, both ways: what makes the store hybrid.

- `SELECT ... STORE <command> <key>` writes the result rows into a Redis object with one
  command (RPUSH, LPUSH, SADD: one column; HSET: field and value; ZADD: score and member),
  run through the command table like any client's, so types, tables and the log are
  checked and written as for that command. NULL is stored as the empty string.
- `CREATE TABLE t AS DUMP <key>` builds a table from a hash (field, value), a list
  (pos, value: pos counts from 0 like LINDEX), a set (member) or a sorted set (member,
  score). Text columns become BLOB when a value is not UTF-8, so nothing is lost.
- `DENORM t "prefix:*"` writes each row as the hash prefix:<primary key> (its non-NULL
  columns); `DUMP t` replies every row, header first; `DUMP t TO FILE path` writes CSV
  inside the data directory.
"""

import csv
import os
import re

from alchemy.errors import AlchemyError
from alchemy.resp import format_double
from alchemy.sql.documents import to_json
from alchemy.sql.plans import Rows, table_of
from alchemy.storage.documents import Document

_AS_DUMP = re.compile(r"\s*CREATE\s+TABLE\s+(\w+)\s+AS\s+DUMP\s+(\S+)\s*$", re.IGNORECASE)

# verb -> the number of selected columns it takes per row
_STORE_COLUMNS = {b"RPUSH": 1, b"LPUSH": 1, b"SADD": 1, b"HSET": 2, b"ZADD": 2}

_INSERT_CHUNK = 256  # rows per INSERT when a key becomes a table


def split_store(text: str) -> tuple[str, bytes, bytes] | None:
    """(select, verb, key) when text ends in STORE <verb> <key> outside a string."""
    words = text.rsplit(None, 3)  # cheap enough for every statement, unlike a regex search
    if len(words) < 4 or words[1].upper() != "STORE" or words[0].count("'") % 2:
        return None
    return words[0], words[2].upper().encode(), words[3].encode()


def store(ctx, result, verb: bytes, key: bytes) -> int:
    """Write the rows of a SELECT into key with one `verb` command; the rows stored."""
    if type(result) is not Rows:
        raise AlchemyError("ERR STORE follows a SELECT")
    width = _STORE_COLUMNS.get(verb)
    if width is None:
        raise AlchemyError("ERR STORE takes RPUSH, LPUSH, SADD, HSET or ZADD, not '"
                           + verb.decode("utf-8", "replace") + "'")
    if len(result.header) != width:
        raise AlchemyError(f"ERR STORE {verb.decode()} takes {width} selected column"
                           f"{'s' if width > 1 else ''}, the SELECT gives {len(result.header)}")
    if not result.rows:
        return 0
    values = [_bytes(value) for row in result.rows for value in row]
    reply = ctx.server.call(ctx, [verb, key, *values])
    if isinstance(reply, AlchemyError):
        raise reply
    # The write was logged as the command it ran; the statement itself must not be.
    ctx.server.propagate_as()
    return len(result.rows)


def _bytes(value) -> bytes:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is str:
        return value.encode()
    if kind is int:
        return b"%d" % value
    if kind is float:
        return format_double(value)
    if kind is Document:
        return to_json(value).encode()
    return b"" if value is None else str(value).encode()


def split_as_dump(text: str) -> tuple[str, bytes] | None:
    """(table, key) for CREATE TABLE t AS DUMP key."""
    found = _AS_DUMP.fullmatch(text)
    return None if found is None else (found.group(1), found.group(2).encode())


# type -> (read command, columns, rows from the reply)
_DUMPS = {
    b"hash": ([b"HGETALL"], ["field", "value"], lambda r: _pairs(r)),
    b"list": ([b"LRANGE", b"0", b"-1"], ["pos", "value"], lambda r: list(enumerate(r))),
    b"set": ([b"SMEMBERS"], ["member"], lambda r: [(m,) for m in sorted(r)]),
    b"zset": ([b"ZRANGE", b"0", b"-1", b"WITHSCORES"], ["member", "score"],
              lambda r: [(m, float(s)) for m, s in _pairs(r)]),
}


def _pairs(reply) -> list:
    """Pairs from a reply in either protocol's shape: a map, pairs (RESP3) or flat."""
    if isinstance(reply, dict):
        return list(reply.items())
    if reply and isinstance(reply[0], list):
        return [tuple(pair) for pair in reply]
    return list(zip(reply[::2], reply[1::2]))


def key_as_table(ctx, name: str, key: bytes) -> int:
    """Create table name holding the contents of key; the rows written."""
    server = ctx.server
    value = ctx.db.get(key)
    if value is None:
        raise AlchemyError(f"ERR no such key '{key.decode('utf-8', 'replace')}'")
    kind = ctx.db.type_name(value).encode()
    if kind not in _DUMPS:
        raise AlchemyError(f"ERR a {kind.decode()} cannot become a table: "
                           "only a hash, list, set or sorted set")
    read, names, to_rows = _DUMPS[kind]
    rows = to_rows(server.call(ctx, [read[0], key, *read[1:]]))
    columns = ", ".join(f"{column} {_column_type(rows, i)}" + (" PRIMARY KEY" if i == 0 else "")
                        for i, column in enumerate(names))
    engine = server.sql_engine
    engine.execute(ctx.db, f"CREATE TABLE {name} ({columns})")
    marks = "(" + ", ".join("?" * len(names)) + ")"
    try:
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start:start + _INSERT_CHUNK]
            params = tuple(value for row in chunk for value in row)
            engine.execute(ctx.db, f"INSERT INTO {name} VALUES "
                           + ", ".join([marks] * len(chunk)), params)
    except AlchemyError:
        engine.execute(ctx.db, f"DROP TABLE {name}")  # all rows or no table
        raise
    return len(rows)


def _column_type(rows: list, position: int) -> str:
    sample = rows[0][position] if rows else b""
    if isinstance(sample, int):
        return "INT"
    if isinstance(sample, float):
        return "FLOAT"
    try:
        for row in rows:
            row[position].decode()
    except UnicodeDecodeError:
        return "BLOB"
    return "TEXT"


def denorm(ctx, name: str, pattern: bytes) -> int:
    """HSET pattern-with-key for every row of table name; the rows written."""
    if pattern.count(b"*") != 1:
        raise AlchemyError("ERR DENORM takes a key pattern with one '*', e.g. 'user:*'")
    table = table_of(ctx.db, name)
    names = [column.name.encode() for column in table.columns]
    key_positions = table.key_positions
    written = 0
    for row in list(table.scan()):
        pk = b":".join(_bytes(row[i]) for i in key_positions)
        fields = [part for field, value in zip(names, row) if value is not None
                  for part in (field, _bytes(value))]
        if not fields:
            continue
        reply = ctx.server.call(ctx, [b"HSET", pattern.replace(b"*", pk), *fields])
        if isinstance(reply, AlchemyError):
            raise reply
        written += 1
    ctx.server.propagate_as()
    return written


def dump_rows(ctx, name: str) -> Rows:
    table = table_of(ctx.db, name)
    return Rows([column.name for column in table.columns], [list(r) for r in table.scan()])


def dump_to_file(ctx, name: str, path: bytes) -> int:
    """Write table name as CSV (header first) to path inside the data directory."""
    rows = dump_rows(ctx, name)
    root = os.path.realpath(ctx.server.config["dir"])
    target = os.path.realpath(os.path.join(root, os.fsdecode(path)))
    if os.path.commonpath([root, target]) != root or target == root:
        raise AlchemyError("ERR DUMP TO FILE writes only inside the data directory")
    temporary = target + ".tmp"
    with open(temporary, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(rows.header)
        for row in rows.rows:
            writer.writerow(["" if v is None else to_json(v) if type(v) is Document
                             else v.hex() if isinstance(v, bytes) else v for v in row])
    os.replace(temporary, target)
    return len(rows.rows)
