"""LUATRIGGERs: a Lua function a table's writes call for each row they insert, update
or delete.

    CREATE LUATRIGGER name ON table INSERT|UPDATE|DELETE fn(column, ...)
    DROP LUATRIGGER [IF EXISTS] name
    SHOW TRIGGERS [FROM table]          (DESC table lists them too)

The call may be quoted ('...' or "...") or written as words. Its arguments are columns of
the table: for INSERT those of the row inserted, for DELETE of the row deleted, for UPDATE
of the row as updated, or as it was before with `old.column` (`fn(id, old.n, n)`).
Documents arrive as Lua tables. Trigger names are unique in a database, as index names.

A trigger runs inside the statement, right after its row is written (so a SELECT it runs
sees the row), once per trigger in creation order. UPDATE calls it for rows whose values
changed; REPLACE over an existing row is a DELETE then an INSERT; ON DUPLICATE KEY UPDATE
is an UPDATE. The function may write with redis.call (a counter, a denormalized hash).

An error in a trigger fails the statement with the trigger's error, and the statement's
rows are taken back, with the keys its triggers wrote through redis.call for earlier rows
(see alchemy.sql.lua_calls: rows they wrote into other tables through SQL stay).

Durability: a trigger belongs to its table (saved in the snapshot with it; CREATE and DROP
LUATRIGGER are logged as sent). What triggers write is logged as its effects, the commands
redis.call ran, next to the statement in one unit; replaying the log therefore runs no
trigger (`persistence.loading`), so their writes are applied once. A statement that fails
is not logged, nor is anything its triggers wrote.

The statements' plans run the triggers (alchemy.sql.lua_calls.fire).
"""

import re

from alchemy.errors import AlchemyError
from alchemy.sql import lua_calls
from alchemy.sql.plans import Rows, table_of
from alchemy.storage.table import Table, Trigger

EVENTS = ("INSERT", "UPDATE", "DELETE")

_CREATE = re.compile(r"\s*CREATE\s+LUATRIGGER\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s+ON\s+(\w+)\s+"
                     r"(\w+)\s+(.*?)\s*;?\s*", re.IGNORECASE | re.DOTALL)
_DROP = re.compile(r"\s*DROP\s+LUATRIGGER\s+(IF\s+EXISTS\s+)?(\w+)\s*;?\s*", re.IGNORECASE)
_CALL = re.compile(r"(\w+)\s*\(\s*(.*?)\s*\)", re.DOTALL)
_ARGUMENT = re.compile(r"(?:(old|new)\s*\.\s*)?(\w+)", re.IGNORECASE)
_SYNTAX = "ERR syntax: CREATE LUATRIGGER name ON table INSERT|UPDATE|DELETE fn(column, ...)"


def is_trigger_ddl(text: str) -> bool:
    words = text.split(None, 2)
    return len(words) > 1 and words[1].upper() == "LUATRIGGER"


def ddl(db, text: str):
    """CREATE or DROP LUATRIGGER; OK (the engine's) when done."""
    from alchemy.sql.engine import OK
    if text.lstrip()[:4].upper() == "DROP":
        dropped = _DROP.fullmatch(text)
        if dropped is None:
            raise AlchemyError("ERR syntax: DROP LUATRIGGER [IF EXISTS] name")
        drop(db, dropped.group(2), bool(dropped.group(1)))
        return OK
    created = _CREATE.fullmatch(text)
    if created is None:
        raise AlchemyError(_SYNTAX)
    exists, name, table_name, event, call = created.groups()
    table = table_of(db, table_name)
    if find(db, name) is not None:
        if exists:
            return OK
        raise AlchemyError(f"ERR trigger '{name}' already exists")
    table.triggers.append(_trigger(table, name, event.upper(), _unquoted(call)))
    return OK


def _unquoted(call: str) -> str:
    if len(call) >= 2 and call[0] == call[-1] and call[0] in "'\"":
        return call[1:-1].strip()
    return call


def _trigger(table: Table, name: str, event: str, call: str) -> Trigger:
    if event not in EVENTS:
        raise AlchemyError(_SYNTAX)
    parts = _CALL.fullmatch(call)
    if parts is None:
        raise AlchemyError(f"ERR a trigger calls a Lua function with columns of its table: "
                           f"fn(column, ...), not {call!r}")
    function, listed = parts.groups()
    caller = lua_calls.current_caller()
    server = caller.server
    if not server.persistence.loading and not server.lua.functions.has_function(function):
        raise AlchemyError(f"ERR no such function: {function}")
    arguments = []
    for text in (a.strip() for a in listed.split(",")) if listed else ():
        argument = _ARGUMENT.fullmatch(text)
        if argument is None:
            raise AlchemyError(f"ERR a trigger's arguments are columns, not {text!r}")
        which = (argument.group(1) or "new").lower()
        if which == "old" and event != "UPDATE":
            raise AlchemyError("ERR old.column is for UPDATE triggers (a DELETE trigger "
                               "gets the deleted row's columns)")
        arguments.append((_position(table, argument.group(2)), which))
    return Trigger(name, event, function, arguments, call)


def _position(table: Table, name: str) -> int:
    for position, column in enumerate(table.columns):
        if column.name.lower() == name.lower():
            return position
    raise AlchemyError(f"ERR table '{table.name}' has no column named '{name}'")


def _tables(db) -> list[Table]:
    return [value for value in db.data.values() if isinstance(value, Table)]


def find(db, name: str) -> tuple | None:
    """(table, trigger) of the trigger by this name (any case), or None."""
    for table in _tables(db):
        for trigger in table.triggers:
            if trigger.name.lower() == name.lower():
                return table, trigger
    return None


def drop(db, name: str, if_exists: bool = False) -> None:
    found = find(db, name)
    if found is None:
        if if_exists:
            return
        raise AlchemyError(f"ERR no such trigger '{name}'")
    table, trigger = found
    table.triggers.remove(trigger)


def show(db, text: str) -> Rows:
    """SHOW TRIGGERS [FROM table]: name, table, event and call of each."""
    words = text.split()
    if len(words) not in (2, 4) or len(words) == 4 and words[2].upper() != "FROM":
        raise AlchemyError("ERR syntax: SHOW TRIGGERS [FROM table]")
    tables = [table_of(db, words[3])] if len(words) == 4 else \
        sorted(_tables(db), key=lambda t: t.name)
    return Rows(["trigger", "table", "event", "call"],
                [[t.name, table.name, t.event, t.call] for table in tables
                 for t in table.triggers])
