"""SQL statements as commands: SQL "<statement>", or the statement split into words.

`redis-cli SELECT '*' FROM t WHERE id = 1` arrives as the words of the statement; the
command name is its first word, so SELECT (with more than one argument), INSERT, REPLACE,
UPDATE, DELETE, CREATE, DROP, ALTER, DESC, SHOW, EXPLAIN and SCAN are commands, and the
statement is the arguments joined with single spaces: AlchemyDB clients sent exactly this.

A SELECT replies an array: the column names, then one array per row. Counts reply integers,
DDL and INSERT +OK.
"""

import copy
import functools
import re

from alchemy.command import command
from alchemy.keyspace import register_type
from alchemy.reply import OK
from alchemy.errors import AlchemyError
from alchemy.sql.bridge import (denorm, dump_rows, dump_to_file, key_as_table, split_as_dump,
                                split_store, store)
from alchemy.sql.documents import reply_value, to_json
from alchemy.sql.engine import Count, Ok, Rows
from alchemy.sql.scanner import parameterize, render
from alchemy.storage.documents import Document
from alchemy.storage.table import Table

register_type(Table, "table", copy.deepcopy, lambda table: "table")

def run_sql(ctx, text: str, params: tuple = ()):
    """Execute a statement for a client and shape the reply (the in-process API's client
    gets the result object itself, with Python values)."""
    server = ctx.server
    result = _execute(ctx, text, params)
    if _changed(ctx, text, result) and params and server.log is not None:
        # Logged with the values written in, so that replay binds the same typed values.
        server.propagate_as([b"SQL", render(text, params).encode()])
    return _reply(ctx, text, result)


def run_words(ctx, argv: list):
    """A statement written as words. redis-benchmark and the like send the same words but
    the last (`... WHERE id=<n>`): what the others lift to is kept, and only the last word
    is lifted per statement. The values go in as parameters of a `?` text, whose shape the
    scanner keeps, and the statement is logged as its words, as sent."""
    prefix = _prefixes.get(tuple(argv[:-1]), _UNKNOWN)
    if prefix is _UNKNOWN:
        prefix = _prefixes[tuple(argv[:-1])] = _prefix(argv[:-1])
        if len(_prefixes) > _PREFIXES_LIMIT:
            _prefixes.clear()
    last = argv[-1]
    tail = _PLAIN_WORD.fullmatch(last) and parameterize(last.decode("utf-8", "replace"))
    if prefix is None or not tail:
        return run_sql(ctx, _statement(argv, 0))
    text = prefix[0] + tail[0]
    result = ctx.server.sql_engine.execute(ctx.db, text, prefix[1] + tuple(tail[1]), ctx)
    _changed(ctx, text, result)
    return _reply(ctx, text, result)


_UNKNOWN = object()
_PREFIXES_LIMIT = 1024
_prefixes: dict = {}  # words but the last -> (`?` text and a space, values), or None
_PLAIN_WORD = re.compile(rb"[^\s'\"`{?]*")  # nothing in it can join a neighbouring word
_LIFTED_VERBS = ("SELECT", "UPDATE", "DELETE", "SCAN")  # INSERT's VALUES rows are folded


def _prefix(words: list) -> tuple[str, tuple] | None:
    """The words but the last of a statement, lifted, when lifting them alone gives what
    lifting the whole statement would: a DML verb other than INSERT, nothing left open
    (a string a later word closes), no STORE into a key, no AlchemyDB quoted clause."""
    text = _statement(words, 0)
    if words[0].decode("utf-8", "replace").upper() not in _LIFTED_VERBS or '"' in text \
            or "STORE" in text.upper():
        return None
    lifted = parameterize(text)
    return None if lifted is None else (lifted[0] + " ", tuple(lifted[1]))


def _changed(ctx, text: str, result) -> bool:
    """Count a statement's changes as the server's writes: did it change anything?"""
    changed = type(result) is Count and result.changed or type(result) is Ok
    if changed:
        server = ctx.server
        server.dirty += max(result.value, 1) if type(result) is Count else 1
        db = ctx.db
        if db.watched or db.blocked:
            server.touch(db, text_table_key(text))
    return changed


def _reply(ctx, text: str, result):
    if ctx.kind == "api":
        return result
    if type(result) is Rows:
        if ctx.sql_output == "text":
            return text_rows_reply(result)
        return rows_reply(result, ctx.resp3)
    if type(result) is Count:
        return result.value if not _is_insert(text) else OK
    return OK


def _execute(ctx, text: str, params: tuple):
    """The engine's result, with the forms that cross into Redis types done here."""
    stored = split_store(text)
    if stored is not None:
        select, verb, key = stored
        rows = ctx.server.sql_engine.execute(ctx.db, select, params, ctx)
        return Count(store(ctx, rows, verb, key))  # the write it ran counted itself
    made = split_as_dump(text) if text.lstrip()[:6].upper() == "CREATE" else None
    if made is not None:
        return Count(key_as_table(ctx, *made), changed=True)
    return ctx.server.sql_engine.execute(ctx.db, text, params, ctx)


def _is_insert(text: str) -> bool:
    return text.lstrip()[:7].upper() in ("INSERT ", "REPLACE")


@functools.lru_cache(maxsize=1024)  # the in-process API repeats its texts
def text_table_key(text: str) -> bytes:
    """The key of the table a DML statement names (for WATCH); best effort."""
    words = text.replace("(", " ").split()
    upper = [w.upper() for w in words]
    for marker in ("INTO", "FROM", "UPDATE"):
        if marker in upper and upper.index(marker) + 1 < len(words):
            return words[upper.index(marker) + 1].strip('"`').lower().encode()
    return b""


def rows_reply(result: Rows, resp3: bool) -> list:
    header = result.wire_header or [name.encode() for name in result.header]
    # Text, integers and NULL are converted inline: a call per value would cost as much as
    # the rest of a point SELECT's reply.
    return [header] + [[v.encode() if type(v) is str else v if type(v) in _AS_IS
                        else _value(v, resp3) for v in row] for row in result.rows]


_AS_IS = frozenset((int, bytes, type(None)))


def text_rows_reply(result: Rows) -> list:
    """AlchemyDB's layout: `id, name` then one `1,'abc',,2.5` line per row."""
    lines = [", ".join(result.header).encode()]
    for row in result.rows:
        lines.append(b",".join(_text(v) for v in row))
    return lines


def _text(value) -> bytes:
    if value is None:
        return b""
    if type(value) is Document:
        return to_json(value).encode()
    if isinstance(value, str):
        return ("'" + value + "'").encode()
    if isinstance(value, bytes):
        return b"'" + value + b"'"
    return repr(value).encode()


def _value(value, resp3: bool):
    kind = type(value)
    if kind is str:
        return value.encode()
    if kind is float and not resp3:
        return repr(value).encode()
    if kind is Document:
        return reply_value(value, resp3)
    return value


def _statement(argv: list, skip: int) -> str:
    return b" ".join(argv[skip:]).decode("utf-8", "replace")


def statement_command(ctx, argv):
    """SELECT or SCAN written as words (SELECT with one argument is Redis's SELECT db)."""
    return run_words(ctx, argv)


@command("sql", -2, "write", group="sql",
         summary="Run one SQL statement; values for its ? placeholders may follow")
def sql(ctx, argv):
    params = argv[2:] if ctx.kind == "api" else [_parameter(a) for a in argv[2:]]
    return run_sql(ctx, argv[1].decode("utf-8", "replace"), tuple(params))


def _parameter(arg: bytes):
    """A parameter sent over RESP is text; numbers in it are bound as numbers."""
    text = arg.decode("utf-8", "replace")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _word_command(name: str, flags: str, summary: str) -> None:
    @command(name, -2, flags, group="sql", summary=summary)
    def handler(ctx, argv):
        return run_words(ctx, argv)


for _name, _flags, _summary in [
        ("insert", "write", "Insert rows into a table"),
        ("replace", "write", "Insert rows, replacing rows with the same key"),
        ("update", "write", "Change rows of a table"),
        ("delete", "write", "Delete rows of a table"),
        ("create", "write", "Create a table or an index"),
        ("drop", "write", "Drop a table or an index"),
        ("alter", "write", "Add a column to a table"),
        ("desc", "readonly", "Describe a table: columns, indexes, memory"),
        ("show", "readonly", "List tables or indexes"),
        ("explain", "readonly", "Show the plan of a statement")]:
    _word_command(_name, _flags, _summary)


@command("denorm", 3, "write", group="sql",
         summary="Write each row of a table as the hash <prefix>:<primary key>")
def denorm_command(ctx, argv):
    return denorm(ctx, argv[1].decode("utf-8", "replace"), argv[2])


def dump_table(ctx, argv: list):
    """DUMP of a table (the DUMP command serializes other keys): every row, header first,
    or `DUMP t TO FILE path` writing CSV."""
    name = argv[1].decode("utf-8", "replace")
    if len(argv) == 5 and argv[2].upper() == b"TO" and argv[3].upper() == b"FILE":
        return dump_to_file(ctx, name, argv[4])
    if len(argv) != 2:
        raise AlchemyError("ERR syntax: DUMP table [TO FILE path]")
    result = dump_rows(ctx, name)
    if ctx.kind == "api":
        return result
    return text_rows_reply(result) if ctx.sql_output == "text" else rows_reply(result, ctx.resp3)
