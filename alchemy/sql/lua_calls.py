"""Lua functions called from SQL expressions: `SELECT format_name(info) FROM users`,
`WHERE has_coupon(info, 'XYZ123')`, `UPDATE t SET c = some_fn(c)`.

A call of a name that is not a SQL function (sqlglot parses those as exp.Anonymous)
compiles to an evaluator that calls, when the plan runs, the FUNCTION library function
(any case) or the INTERPRET global of that name. Nothing is looked up while planning, so a
cached plan stays valid when functions are loaded, replaced or deleted, and statements
that differ only in literals share a plan as any other. A name sqlglot knows as a SQL
function (upper, length, format, ...) is taken for that function (most are not supported
yet), never for a Lua one.

Values in: documents (LUATABLE values) as Lua tables, text as strings, numbers as numbers,
NULL as nil. Values out: strings as TEXT (bytes that are not UTF-8 as BLOB), numbers,
booleans as 1/0, nil as NULL, and a table as a document: stored as one in a LUATABLE
column, shown as one in a projection (JSON text under RESP2), refused with a type error by
any other column.

The functions run read-only (their redis.call may read, not write): the log keeps a
statement as it was sent and replay runs it again, functions included, so a function must
give the same result from the same data and must not write. Writes belong in triggers
(alchemy.sql.triggers).

Triggers (alchemy.sql.triggers) run through `fire`, which the plans call for each row
written to a table that has triggers.

Who runs the statement (the client whose database redis.call uses) is kept on a stack by
`statement`: statements nest when Lua runs SQL.

A statement that fails leaves nothing half-applied: its plan takes its rows back, and the
Redis keys its triggers wrote are put back as they were: while a trigger runs,
Database.call saves each key a write command declares before it changes it, and the
statement's writes are dropped from what goes to the log. Rows a trigger writes into other
tables through SQL are not in that journal: a failing statement keeps them.
"""

from alchemy.errors import AlchemyError
from alchemy.sql.documents import document_key, table_value
from alchemy.storage.documents import Document, pack
from alchemy.storage.table import Table

MAX_DEPTH = 16  # triggers firing triggers (through SQL they run), at most this deep

_callers: list = []  # the clients of the statements running, innermost last
_depth = [0]  # triggers running


_journals: list = []  # per statement running: (keys saved before triggers wrote, log mark)


def statement(caller, work, *args):
    """work(*args) as a statement run by caller. If it fails, the keys its triggers wrote
    are put back and none of it is logged; if it succeeds, what it saved joins the
    enclosing statement's journal, so that a failure there takes it back too."""
    _callers.append(caller)
    _journals.append(None if caller is None else ([], caller.server.log_mark()))
    try:
        return work(*args)
    except AlchemyError:
        _undo()
        raise
    finally:
        _callers.pop()
        journal = _journals.pop()
        if journal is not None and _journals and _journals[-1] is not None:
            _journals[-1][0].extend(journal[0])


def nested() -> bool:
    """Does the running statement run inside another one (through a trigger or a Lua
    function it called), which may yet fail and take back what this one did?"""
    return len(_journals) > 1 and _journals[-2] is not None


def running() -> bool:
    """Does a statement run, inside which the caller's write runs without `statement`
    (InsertPlan.run_for), and may yet fail and take back what that write did?"""
    return bool(_journals) and _journals[-1] is not None


def keep_for_undo(take_back) -> None:
    """A nested statement succeeded: take_back() undoes its rows if an enclosing one fails."""
    _journals[-1][0].append(take_back)


def _undo() -> None:
    """The statement failed: put back the keys its triggers wrote and the rows statements
    nested in it wrote, and log none of it."""
    journal = _journals[-1]
    if journal is None:
        return
    saved, mark = journal
    server = _callers[-1].server
    for entry in reversed(saved):
        if callable(entry):
            entry()
            continue
        keyspace, key, value, deadline = entry
        keyspace.delete(key)
        if value is not None:
            keyspace.set(key, value)
            if deadline is not None:
                keyspace.expire_at(key, deadline)
        server.touch(keyspace, key)
    saved.clear()
    server.forget_logged_since(mark)


def current_caller():
    """The client running the innermost statement; an error when Lua is out of reach
    (a statement run by the engine for itself)."""
    caller = _callers[-1] if _callers else None
    if caller is None:
        raise AlchemyError("ERR Lua functions cannot be called from this statement")
    return caller


def lua_call(name: str, arguments: list):
    """The evaluator of `name(arguments...)`, arguments being evaluators."""
    def evaluate(row, params):
        values = [lua_argument(argument(row, params)) for argument in arguments]
        return sql_value(call(name, values, read_only=True), name)
    return evaluate


def call(name: str, values: list, read_only: bool):
    """Call a Lua function by name for the statement running; its Python result."""
    caller = current_caller()
    scripts = caller.server.lua
    try:
        return scripts.call_function(name, values, caller, read_only)
    except AlchemyError as error:
        if not scripts.functions.has_function(name):
            raise AlchemyError(f"ERR no such function: {name}") from None
        message = error.message[4:] if error.message.startswith("ERR ") else error.message
        raise AlchemyError(f"ERR Lua function '{name}' failed: {message}") from None


def lua_argument(value):
    """A SQL value as call_function takes it: a document as its map or list."""
    return value.value() if type(value) is Document else value


def sql_value(value, name: str):
    """What a Lua function returned, as a SQL value (see the module's notes)."""
    kind = type(value)
    if kind is bool:
        return int(value)
    if kind is dict or kind is list:
        try:
            return pack(table_value(_text_keys(value)))
        except AlchemyError as error:
            raise AlchemyError(f"{error.message} (the table Lua function '{name}' "
                               f"returned)") from None
    return value


def _text_keys(value):
    """A decoded Lua table with its number keys written as Lua prints them, as documents
    have them (`{[1]='a', x=2}` is {"1": "a", "x": 2})."""
    kind = type(value)
    if kind is list:
        return [_text_keys(v) for v in value]
    if kind is not dict:
        return value
    return {document_key(k): _text_keys(v) for k, v in value.items()}


def fire(table: Table, event: str, old: list | None, new: list | None) -> None:
    """Run the table's triggers of this event for one row written (old: the row before,
    new: after; None where there is none). A failing trigger raises, with the statement
    kept out of the log (see alchemy.sql.triggers)."""
    caller = current_caller()
    server = caller.server
    if server.persistence.loading:  # what the triggers wrote is in the log already
        return
    rows = {"old": old, "new": old if new is None else new}  # DELETE passes the old row
    for trigger in [t for t in table.triggers if t.event == event]:
        values = [lua_argument(rows[which][position]) for position, which in trigger.arguments]
        if _depth[0] >= MAX_DEPTH:
            raise AlchemyError(f"ERR triggers nested deeper than {MAX_DEPTH} levels "
                               f"(trigger '{trigger.name}')")
        _depth[0] += 1
        recording, server.undo_log = server.undo_log, _journals[-1][0]
        try:
            call(trigger.function, values, read_only=False)
        except AlchemyError as error:
            server.propagate_as()
            raise AlchemyError(f"ERR trigger '{trigger.name}' on table '{table.name}': "
                               f"{error.message[4:]}") from None
        finally:
            _depth[0] -= 1
            server.undo_log = recording
