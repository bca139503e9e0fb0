"""SQL statements as commands: SQL "<statement>", or the statement split into words.

`redis-cli SELECT '*' FROM t WHERE id = 1` arrives as the words of the statement; the
command name is its first word, so SELECT (with more than one argument), INSERT, REPLACE,
UPDATE, DELETE, CREATE, DROP, ALTER, DESC, SHOW, EXPLAIN and SCAN are commands, and the
statement is the arguments joined with single spaces: AlchemyDB clients sent exactly this.

A SELECT replies an array: the column names, then one array per row. Counts reply integers,
DDL and INSERT +OK.

A statement seen before runs from what was prepared for it (_Prepared), without its text
being lifted again. A SELECT * (or of columns as they are) of one row by primary key, and a
SELECT * of the rows an index equality finds, skip their plan's layers (_read_point,
_read_index): a network client's reply is written straight from the rows' stored bytes, the
most common queries' largest cost; the in-process API gets tuples of the values read.
"""

import copy
import functools
import re
from operator import itemgetter

from alchemy.command import command, lookup
from alchemy.keyspace import register_type
from alchemy.reply import OK, Encoded
from alchemy.resp import encode_header, encode_rows
from alchemy.errors import AlchemyError
from alchemy.maxmemory import OOM
from alchemy.sql.bridge import (denorm, dump_rows, dump_to_file, key_as_table, split_as_dump,
                                split_store, store)
from alchemy.sql.documents import reply_value, to_json
from alchemy.sql.engine import Count, Ok, Rows
from alchemy.sql.access import Range
from alchemy.sql.plans import SelectPlan, walk_decides
from alchemy.sql.scanner import parameterize, render
from alchemy.storage.documents import Document
from alchemy.storage.rowcodec import DECLINED
from alchemy.storage.table import Table

register_type(Table, "table", copy.deepcopy, lambda table: "table")


def run_sql(ctx, text: str, params: list | tuple = ()):
    """Execute a statement for a client and shape the reply (the in-process API's client
    gets the result object itself, with Python values). A DML text seen before, with as
    many parameters, runs its plan straight away."""
    server = ctx.server
    engine = server.sql_engine
    key = (engine.schema_version, ctx.db.index, text, len(params))
    prepared = engine.prepared.get(key, _UNKNOWN)
    if prepared is _UNKNOWN:
        prepared = _keep(engine, key, _prepare_text(ctx, text, params))
    if prepared is None:
        result = _execute(ctx, text, params)
    else:
        values = [*prepared.values, *params]
        if prepared.shortcut is not None:
            reply = prepared.shortcut(ctx, prepared, values)
            if reply is not None:
                return reply
        result = engine.run(ctx.db, prepared.plan, values, ctx)
    if type(result) is Rows:  # the commonest statement: nothing changed, nothing to log
        return result if ctx.kind == "api" else rows_reply(ctx, result)
    if _changed(ctx, text, result) and params and server.log is not None:
        # Logged with the values written in, so that replay binds the same typed values.
        server.propagate_as([b"SQL", render(text, params).encode()])
    return result if ctx.kind == "api" else _reply(ctx, _is_insert(text), result)


def run_words(ctx, argv: list):
    """A statement written as words. redis-benchmark and the like send the same words but
    the last, or but a number at its end (`... WHERE id=<n>`): the words with the last one
    lifted (or cut before its number), in this database, map to the statement's plan and
    the values of the literals that do not vary, kept while the schema stays. The
    statement is logged as its words, as sent."""
    last = argv[-1]
    if argv[0].upper() not in _DML_VERBS or _QUOTE in last:  # (a number: see resp.split_args)
        return run_sql(ctx, _statement(argv, 0))
    engine = ctx.server.sql_engine
    head = last.rstrip(_DIGITS)  # (a regular expression cost the statement 5%)
    if len(head) < len(last) and (not head or head[-1] not in _NAME_BYTES):
        varying = [int(last[len(head):])]
        key = (engine.schema_version, ctx.db.index, *argv[:-1], head)
    else:
        tail = _lift_last(engine.lifted_words, last)
        if tail is None:
            return run_sql(ctx, _statement(argv, 0))
        varying = tail[1]
        # text: never equal to a cut word (bytes)
        key = (engine.schema_version, ctx.db.index, *argv[:-1], tail[0])
    prepared = engine.prepared.get(key, _UNKNOWN)
    if prepared is _UNKNOWN:
        prepared = _keep(engine, key, _prepare(ctx, argv, varying))
    if prepared is None:
        return run_sql(ctx, _statement(argv, 0))
    values = prepared.values + varying
    if prepared.shortcut is not None:
        reply = prepared.shortcut(ctx, prepared, values)
        if reply is not None:
            return reply
    result = engine.run(ctx.db, prepared.plan, values, ctx)
    if type(result) is Rows:  # nothing changed (see _changed); a call less for a SELECT
        return result if ctx.kind == "api" else rows_reply(ctx, result)
    _changed(ctx, prepared.text, result)
    return _reply(ctx, prepared.insert, result)


class _Prepared:
    __slots__ = ("plan", "values", "text", "insert", "shortcut", "table_key", "table",
                 "index", "wire", "decode", "pick", "key_of", "key_type", "header", "found",
                 "missing")

    def __init__(self, plan, values: list, text: str):
        self.plan = plan
        self.values = values  # of the literals that do not vary, in order
        self.text = text  # the statement with `?` for each literal
        self.insert = _is_insert(text)  # (its count replies +OK: _reply)
        # A SELECT of columns of one row by primary key, or a SELECT * of the rows an
        # index equality finds, is read in fewer steps than its plan takes (_read_point,
        # _read_index), with what that needs of the last table it ran on (_table_setup).
        self.shortcut = _shortcut(plan)
        if self.shortcut is not None:
            self.table_key = plan.table_name.lower().encode()
            self.table = self.wire = self.decode = None
            self.pick = _row_picker(plan)


def _shortcut(plan):
    if type(plan) is not SelectPlan or not plan.alone:
        return None
    if plan.point and (plan.whole_row or plan.picks):
        return _read_point
    access = plan.access
    if not plan.whole_row:
        return None
    if type(access) is Range and access.index is not None and access.low is None \
            and access.high is None and not access.reverse and plan.limit is None \
            and plan.offset is None and not plan.distinct and not plan.count_star \
            and not plan.order and (plan.where is None or plan.decided):
        return _read_index
    return None


def _row_picker(plan):
    """row -> the tuple the in-process API gets of a point SELECT: the whole row, or the
    values at plan.picks."""
    if plan.whole_row or not plan.picks:
        return tuple
    getter = itemgetter(*plan.picks)
    return getter if len(plan.picks) > 1 else lambda row: (getter(row),)


def _table(ctx, prepared: _Prepared):
    """The table a shortcut reads (set up for it), or None: the general way answers."""
    db = ctx.db
    table = db.get(prepared.table_key) if db.expires else db.data.get(prepared.table_key)
    if table is not prepared.table:
        _table_setup(prepared, table)
    return None if prepared.wire is None else table


def _read_point(ctx, prepared: _Prepared, values: list):
    """The reply of a point SELECT * or of columns as they are (plan.picks), read in
    fewer steps than its plan takes. On a table of integers, texts and BLOBs, to a
    network client (RESP, either version: such a row reads the same in both), it is
    written by the table's wire reader (RowCodec.wire_reader) straight from the row's
    bytes, skipping the row's values, the result set and encode_rows (half of the
    statement's instructions). For the in-process API, on a table without documents, the
    result set: a tuple of the row's values, texts decoded as they are read. None where
    the general way must answer: another client or output mode, a key value of another
    type than the key column's, no table, another table, a row the wire reader does not
    read."""
    db = ctx.db  # _table's steps, inline: a call costs a point query 2.5% of its time
    table = db.get(prepared.table_key) if db.expires else db.data.get(prepared.table_key)
    if table is not prepared.table:
        _table_setup(prepared, table)
    kind = ctx.kind
    if kind == "api":
        read = prepared.decode
    elif kind != "normal" or ctx.sql_output != "resp":
        return None
    else:
        read = prepared.wire
    if read is None:
        return None
    key = prepared.key_of(None, values)
    if type(key) is not prepared.key_type:
        return None
    row = table.rows.read((key,), read)
    if kind == "api":
        titles = prepared.plan.titles
        # undecoded=(), plain=True, given by position: keywords cost the statement 2%.
        return Rows(titles.names[:], [] if row is None else [prepared.pick(row)], titles,
                    (), True)
    if row:
        return Encoded(prepared.found + row)
    return prepared.missing if row is None else None


def _read_index(ctx, prepared: _Prepared, values: list):
    """The reply of a SELECT * of the rows an index equality finds, to a network client:
    each row as the wire reader writes it (see _read_point), in the index's order. None
    where the general way must answer (as for _read_point, and when the WHERE clause is
    more than the equality for these values: plan.decided)."""
    if ctx.kind != "normal" or ctx.sql_output != "resp":
        return None
    plan = prepared.plan
    if plan.where is not None and not walk_decides(plan.decided, values):
        return None
    table = _table(ctx, prepared)
    if table is None or prepared.index is None:
        return None
    prefix = tuple([e(None, values) for e in plan.access.prefix])
    if None in prefix:
        return None
    index = prepared.index
    try:
        start, stop = index.tree.span(prefix)
    except TypeError:  # a value of another type than the column's: a scan decides
        return None
    rows = list(table.rows.payloads(index.key_runs(start, stop), prepared.wire))
    if DECLINED in rows:
        return None
    return Encoded(b"*%d\r\n%b%b" % (len(rows) + 1, prepared.header, b"".join(rows)))


def _table_setup(prepared: _Prepared, table) -> None:
    """What a shortcut needs of the table it meets (a plan outlives a table dropped and
    made again under its name only with a schema change, but RENAME or SWAPDB can put
    another table there)."""
    prepared.table = table
    plan = prepared.plan
    titles = plan.titles
    prepared.wire = prepared.decode = None
    if not isinstance(table, Table) or table.key_positions != [0]:
        return
    kind = table.columns[0].kind
    if plan.whole_row and len(titles.names) == len(table.columns):
        prepared.wire = table.codec.wire_reader(kind)
    elif plan.picks and max(plan.picks) < len(table.columns):
        prepared.wire = table.codec.wire_reader(kind, plan.picks)
    if "d" not in table.codec.kinds:  # no document: the API gives the values as read
        prepared.decode = table.codec.reader()
    prepared.key_of = plan.access.keys[0][0] if plan.point else None
    prepared.key_type = _KEY_TYPES.get(kind)
    index = getattr(plan.access, "index", None)
    prepared.index = index if index is not None and \
        table.indexes.get(index.name) is index else None
    prepared.header = encode_header(titles.wire)
    prepared.found = b"*2\r\n" + prepared.header  # the head of a point query's reply
    prepared.missing = Encoded(b"*1\r\n" + prepared.header)


# The type a key value has when the rows tree holds it as it is: another (13.0 for 13)
# may find a row, whose key the general way shows as stored (Table.get).
_KEY_TYPES = {"i": int, "s": str, "b": bytes}


_UNKNOWN = object()
_PREPARED_LIMIT = 1024
# A number at the end of a word is a literal unless it ends a name (t1, a.1, $1).
_DIGITS = b"0123456789"
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$." + _DIGITS)
_QUOTE = ord('"')
_DML_VERBS = {b"SELECT", b"UPDATE", b"DELETE", b"SCAN", b"INSERT", b"REPLACE"}


def _lift_last(known: dict, word: bytes) -> tuple[str, list] | None:
    """parameterize() of a statement's last word, which mostly differs from one seen
    before in its numbers alone (`(000000000272,1,'a')`, as redis-benchmark sends): what
    lifting gave is kept under the word's text between its runs of digits, with where
    each run goes among the values (_lifting), and used again (the scan cost a one-row
    REPLACE 12% of its instructions)."""
    pieces = _DIGIT_RUNS.split(word)
    texts = tuple(pieces[0::2])
    lifting = known.get(texts)
    if lifting is None:
        if len(known) >= _PREPARED_LIMIT:
            known.clear()
        lifting = known[texts] = _lifting(pieces)
    if lifting is False:
        return parameterize(word.decode("utf-8", "replace"))
    shape, template = lifting
    numbers = pieces[1::2]
    return shape, [int(numbers[at]) if type(at) is int else at[0] for at in template]


def _lifting(pieces: list) -> tuple[str, list] | bool:
    """(shape, template) of a word split at its runs of digits: per value, the number of
    the run it is, or (value,) for one that does not vary; False unless every run is a
    number of its own (not in a string, a name, a float or a blob), which lifting a copy
    with other numbers in the runs' places shows."""
    lifted = parameterize(b"".join(pieces).decode("utf-8", "replace"))
    runs = len(pieces) // 2
    if lifted is None or not runs:
        return False
    copy = pieces[:]
    copy[1::2] = [b"%d" % (_MARKER + n) for n in range(runs)]
    try:
        other = parameterize(b"".join(copy).decode("utf-8", "replace"))
    except ValueError:  # a run in a blob (x'0a'), now of odd length
        return False
    if other is None or other[0] != lifted[0] or len(other[1]) != len(lifted[1]):
        return False
    template = []
    for marked, value in zip(other[1], lifted[1]):
        n = marked - _MARKER if type(marked) is int else -1
        if 0 <= n < runs and n not in template and value == int(pieces[2 * n + 1]):
            template.append(n)
        elif type(marked) is not int and marked == value:
            template.append((value,))
        else:
            return False
    if sum(type(at) is int for at in template) != runs:
        return False
    return lifted[0], template


_DIGIT_RUNS = re.compile(rb"(\d+)")
_MARKER = 7_000_000_001  # (numbers _lifting puts in the runs' places)


def _keep(engine, key: tuple, prepared: _Prepared | None) -> _Prepared | None:
    """Keep a statement's _Prepared (None: it runs the long way) in engine.prepared under
    (schema version, db, text, parameters) or (schema version, db, words, the last word
    lifted or cut): a change of schema leaves the old ones unused, until the limit clears
    them all."""
    kept = engine.prepared
    kept[key] = prepared
    if len(kept) > _PREPARED_LIMIT:
        kept.clear()
    return prepared


def _prepare_text(ctx, text: str, params: tuple) -> _Prepared | None:
    """The plan of a DML statement whose literals are all `?` (or that has no `?`), and
    what does not vary: None for any other statement."""
    verb = text.lstrip()[:8].split(None, 1)
    if not verb or verb[0].upper().encode() not in _DML_VERBS or '"' in text \
            or split_store(text) is not None:
        return None
    engine = ctx.server.sql_engine
    prepared = engine.prepare(ctx.db, text, params)
    if prepared is None or params and len(prepared[1]) != len(params):
        return None  # a multi-row INSERT, or literals among the placeholders
    plan, values = prepared
    return _Prepared(plan, [] if params else values, text)


def _prepare(ctx, argv: list, varying: list) -> _Prepared | None:
    """The plan of a statement written as words, when lifting the last word alone and the
    others together gives what lifting the whole statement would (see _prefix), and the
    values varying are the statement's last; None otherwise."""
    prefix = _prefix(argv[:-1])
    tail = parameterize(argv[-1].decode("utf-8", "replace"))
    if prefix is None or tail is None or tail[1][len(tail[1]) - len(varying):] != varying:
        return None
    text = prefix[0] + tail[0]
    engine = ctx.server.sql_engine
    prepared = engine.prepare(ctx.db, text, prefix[1] + tuple(tail[1]))
    if prepared is None:
        return None
    plan, values = prepared
    del values[len(values) - len(varying):]
    return _Prepared(plan, values, text)


def _prefix(words: list) -> tuple[str, tuple] | None:
    """The words but the last of a statement, lifted, when lifting them alone gives what
    lifting the whole statement would: nothing left open (a string a later word closes),
    no STORE into a key, no AlchemyDB quoted clause."""
    text = _statement(words, 0)
    if '"' in text or "STORE" in text.upper():
        return None
    lifted = parameterize(text)
    return None if lifted is None else (lifted[0] + " ", tuple(lifted[1]))


def _changed(ctx, text: str, result) -> bool:
    """Count a statement's changes as the server's writes: did it change anything?"""
    if type(result) is Count:
        if not result.changed:
            return False
        ctx.server.dirty += result.value if result.value > 1 else 1
    elif type(result) is Ok:
        ctx.server.dirty += 1
    else:
        return False
    db = ctx.db
    if db.watched or db.blocked:
        ctx.server.touch(db, text_table_key(text))
    return True


def _reply(ctx, insert: bool, result):
    """The reply of a statement's result; insert: the statement is an INSERT or a
    REPLACE, whose count replies +OK."""
    if ctx.kind == "api":
        return result
    if type(result) is Rows:
        return rows_reply(ctx, result)
    if type(result) is Count:
        return result.value if not insert else OK
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


def rows_reply(ctx, result: Rows):
    """The reply of a result set: encoded here for a network client; for a script or the
    in-process Redis API, an array of the header and of each row."""
    if ctx.sql_output == "text":
        return text_rows_reply(result)
    titles = result.titles
    header = [name.encode() for name in result.header] if titles is None else titles.wire
    resp3 = ctx.resp3
    if ctx.kind == "normal":
        if titles is not None and titles.encoded is None:
            titles.encoded = encode_header(header)
        return encode_rows(header, result.wire_rows, resp3, _value,
                           None if titles is None else titles.encoded,
                           result.undecoded)
    reply = [header]
    add = reply.append
    # Text, integers and NULL are converted inline: a call per value would cost as much as
    # the rest of a point SELECT's reply. Plain loops: a comprehension per row is a
    # function call per row (a third of this function's cost for ten rows).
    for row in result.rows:
        out = []
        for v in row:
            kind = type(v)
            out.append(v.encode() if kind is str else v if kind in _AS_IS
                       else _value(v, resp3))
        add(out)
    return reply


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


@command("sql", -2, "write table_ok", group="sql",
         summary="Run one SQL statement; values for its ? placeholders may follow")
def sql(ctx, argv):
    params = argv[2:] if ctx.kind == "api" else [_parameter(a) for a in argv[2:]]
    text = argv[1].decode("utf-8", "replace")
    limit = ctx.server.memory_limit
    if limit is not None and limit.exceeded and _grows(text):  # as the words commands'
        raise AlchemyError(OOM)  # denyoom flag refuses them
    return run_sql(ctx, text, params)


def _grows(text: str) -> bool:
    """May the statement grow the dataset: is its verb a SQL word command flagged denyoom
    (INSERT, UPDATE, CREATE, ...)?"""
    verb = text.split(None, 1)[:1]
    cmd = lookup(verb[0].encode()) if verb else None
    return cmd is not None and cmd.group == "sql" and cmd.denyoom


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
        ("insert", "write denyoom table_ok", "Insert rows into a table"),
        ("replace", "write denyoom table_ok", "Insert rows, replacing rows with the same key"),
        ("update", "write denyoom table_ok", "Change rows of a table"),
        ("delete", "write table_ok", "Delete rows of a table"),
        ("create", "write denyoom table_ok", "Create a table or an index"),
        ("drop", "write table_ok", "Drop a table or an index"),
        ("alter", "write denyoom table_ok", "Add a column to a table"),
        ("desc", "readonly", "Describe a table: columns, indexes, memory"),
        ("show", "readonly", "List tables or indexes"),
        ("explain", "readonly", "Show the plan of a statement")]:
    _word_command(_name, _flags, _summary)


@command("denorm", 3, "write denyoom", group="sql",
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
    return rows_reply(ctx, result)
