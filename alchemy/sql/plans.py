"""Compiled statements: what the executor runs for each cached statement shape.

A plan holds evaluators (closures from alchemy.sql.expressions) and an access path
(alchemy.sql.access); `run(db, params)` executes it against the tables of one Keyspace and
returns a result: rows with a header, or a count. Plans reach storage only through
alchemy.storage.table, and only DML plans are cached (DDL is parsed each time: it is rare).
"""

from dataclasses import dataclass, field
from functools import partial

from alchemy.errors import AlchemyError
from alchemy.sql.access import FullScan, KeyPoints, Range
from alchemy.sql.expressions import sort_key, truth
from alchemy.sql.lua_calls import fire, keep_for_undo, nested, running, statement
from alchemy.sql.schema import binder, coerce
from alchemy.storage.table import ConstraintError, Table


class Rows:
    """A result set: column names, then rows of Python values (tuples or lists).

    A SELECT whose plan reads some text columns as their UTF-8 bytes (QueryPlan.
    text_as_bytes: what a network client is sent) keeps its rows as read in `wire_rows`;
    `rows` has those columns decoded, on first use. `plain`: the rows are tuples of the
    values the Python API gives as they are (no document among them)."""

    __slots__ = ("header", "wire_rows", "titles", "undecoded", "plain")

    def __init__(self, header: list[str], rows: list, titles: "Titles | None" = None,
                 undecoded: tuple = (), plain: bool = False):
        self.header = header
        self.wire_rows = rows
        self.titles = titles  # the plan's fixed names (their bytes, made once): read only
        self.undecoded = undecoded  # columns that may hold UTF-8 bytes for text
        self.plain = plain

    @property
    def rows(self) -> list:
        if self.undecoded:
            self.wire_rows = [_decoded(row, self.undecoded) for row in self.wire_rows]
            self.undecoded = ()
        return self.wire_rows


def _decoded(row, columns: tuple) -> list:
    row = list(row)
    for i in columns:
        value = row[i]
        if value is not None and type(value) is not str:
            row[i] = value.decode()
    return row


class Titles:
    """A plan's column names: text, or functions of the parameters (an expression's title
    holding a lifted literal). Fixed names and their bytes are made once, not per run."""

    __slots__ = ("names", "fixed", "wire", "encoded", "undecoded")

    def __init__(self, names: list):
        self.names = names
        self.fixed = all(type(name) is str for name in names)
        self.wire = [name.encode() for name in names] if self.fixed else None
        self.encoded = None  # wire as a network reply writes it (rows_reply), once
        self.undecoded: tuple = ()  # columns read as UTF-8 bytes (QueryPlan.text_as_bytes)

    def rows(self, params: list, rows: list) -> Rows:
        if self.fixed:
            return Rows(self.names[:], rows, self, self.undecoded)
        return Rows([n if type(n) is str else n(params) for n in self.names], rows, None,
                    self.undecoded)


@dataclass
class Count:
    """The number of rows a statement counted or changed."""
    value: int
    changed: bool = False


# What a one-row write gives: one object for all (nothing changes a Count once made).
_ONE_WRITTEN = Count(1, changed=True)
_NONE_WRITTEN = Count(0, changed=False)


def table_of(db, name: str) -> Table:
    key = name.lower().encode()
    table = db.get(key) if db.expires else db.data.get(key)  # (get checks deadlines)
    if not isinstance(table, Table):
        raise AlchemyError(f"ERR no such table '{name}'")
    return table


@dataclass
class SelectPlan:
    table_name: str
    access: object
    where: object  # evaluator or None
    columns: list  # (name, evaluator)
    order: list  # (evaluator, descending): empty when the access path gives the order
    limit: object = None
    offset: object = None
    distinct: bool = False
    count_star: bool = False
    ordered: bool = False  # the statement has ORDER BY
    lua_filter: tuple = ()  # the Lua functions the WHERE clause calls, for EXPLAIN
    whole_row: bool = False  # the columns are the row as read (SELECT *): no projection
    picks: tuple | None = None  # the row's positions, when the columns are columns alone
    # (parameter index, value types) per equality an index walk answers exactly when its
    # value is of those types: then the WHERE clause (nothing but those) is not checked.
    decided: tuple = ()
    alone = False  # runs without lua_calls.statement (SqlEngine.run): no Lua call in it

    def __post_init__(self):
        # One row by primary key, nothing else to do: the most common query, kept short.
        self.point = self.where is None and not self.order and self.limit is None \
            and not self.distinct and not self.count_star and self.offset is None \
            and isinstance(self.access, KeyPoints) and len(self.access.keys) == 1
        self.titles = Titles(["COUNT(*)"] if self.count_star else
                             [name for name, _ in self.columns])

    def text_as_bytes(self, db) -> None:
        """A point SELECT * reads its text columns as their UTF-8 bytes, which is what a
        network client is sent (as QueryPlan.text_as_bytes), rather than decoding them
        to encode them again. Rows.rows decodes them for the other readers. Other SELECTs
        filter, sort or compare the values they read as text."""
        if not (self.point and self.whole_row):
            return
        table = table_of(db, self.table_name)
        texts = tuple(p for p in table.value_positions if table.columns[p].kind == "s")
        if texts:
            self.access.read_only(table, range(len(table.columns)), texts)
            self.titles.undecoded = texts

    def run(self, db, params: list):
        table = table_of(db, self.table_name)
        if self.point:
            return self._point(table, params)
        if self.count_star and self.where is None:
            return self.titles.rows(params, [[len(table)]])
        limit = self._number(self.limit, params, "LIMIT")
        offset = self._number(self.offset, params, "OFFSET") or 0
        if offset and self.where is None and not self.order and not self.distinct \
                and not self.count_star and isinstance(self.access, (FullScan, Range)):
            # Every row of the walk is a result row: jump over OFFSET rows by rank.
            rows = self.access.rows(table, params, skip=offset)
            offset = 0
        else:
            rows = self._matching(table, params)
        if self.count_star:
            return self.titles.rows(params, [[sum(1 for _ in rows)]])
        if self.order:
            rows = sorted(rows, key=self._sort_key(params))
        evaluators = None if self.whole_row else [e for _, e in self.columns]
        if evaluators is None and limit is None and not offset and not self.distinct:
            return self.titles.rows(params, list(rows))  # each row read is a result row
        result = []
        seen = set()
        skip = offset
        for row in rows:
            out = row if evaluators is None else [e(row, params) for e in evaluators]
            if self.distinct:
                marker = tuple(out)
                if marker in seen:
                    continue
                seen.add(marker)
            if skip:
                skip -= 1
                continue
            if limit is not None and len(result) >= limit:
                break
            result.append(out)
        return self.titles.rows(params, result)

    def _point(self, table: Table, params: list) -> "Rows":
        parts = self.access.keys[0]
        key = (parts[0](None, params),) if len(parts) == 1 else \
            tuple([e(None, params) for e in parts])
        try:
            row = table.get(key, self.access.kinds) if None not in key else None
        except TypeError:  # a value of another type than the key column: no row equals it
            row = None
        if row is None:
            return self.titles.rows(params, [])
        if self.whole_row:
            return self.titles.rows(params, [row])
        return self.titles.rows(params, [[e(row, params) for _, e in self.columns]])

    def _matching(self, table: Table, params: list):
        where = self.where
        if where is None or self.decided and walk_decides(self.decided, params):
            return self.access.rows(table, params)
        return (row for row in self.access.rows(table, params) if truth(where(row, params)))

    def _sort_key(self, params: list):
        order = self.order

        def key(row):
            parts = []
            for evaluate, descending in order:
                k = sort_key(evaluate(row, params))
                parts.append(_Descending(k) if descending else k)
            return parts
        return key

    @staticmethod
    def _number(evaluate, params, clause: str):
        if evaluate is None:
            return None
        value = evaluate(None, params)
        if type(value) is not int:
            raise AlchemyError(f"ERR {clause} must be an integer")
        return None if value < 0 and clause == "LIMIT" else max(value, 0)

    def explain(self, db) -> list[str]:
        table = table_of(db, self.table_name)
        lines = [self.access.describe(table)]
        if self.decided:
            lines.append("WHERE clause answered by the walk (checked on rows only for values "
                         "of another type than their column)")
        elif self.where is not None:
            lines.append("FILTER rows by the WHERE clause" + (
                f", calling Lua: {', '.join(self.lua_filter)}" if self.lua_filter else ""))
        if self.order:
            lines.append("SORT rows for ORDER BY")
        elif self.ordered:
            lines.append("ORDER BY satisfied by the access order")
        if self.offset is not None and self.where is None and not self.order \
                and isinstance(self.access, (FullScan, Range)):
            lines.append("OFFSET skips rows by rank, without reading them")
        if self.limit is not None:
            lines.append("LIMIT stops the walk early" if not self.order
                         else "LIMIT after sorting")
        return lines


def walk_decides(decided: tuple, params: list) -> bool:
    for index, types in decided:
        value = params[index]
        if type(value) not in types or value != value:  # NaN equals nothing
            return False
    return True


class _Descending:
    """Inverts the order of a sort key, for ORDER BY ... DESC."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __lt__(self, other: "_Descending") -> bool:
        return other.key < self.key

    def __eq__(self, other) -> bool:
        return self.key == other.key


@dataclass
class InsertPlan:
    table_name: str
    positions: list[int]  # table column of each value in a VALUES row
    rows: list  # VALUES rows, each a list of evaluators
    per_row: int  # placeholders per VALUES row
    replace: bool = False
    on_duplicate: list = field(default_factory=list)  # (position, evaluator)
    # The parameter each value takes when the statement is one VALUES row of nothing but
    # placeholders (as the scanner leaves every row of literals), and it calls no Lua.
    placeholders: list | None = None

    def __post_init__(self):
        self._bound = (None, None)  # (table, binder of placeholders into its rows): run_for
        self._plain = self.placeholders is not None and not self.on_duplicate

    def explain(self, db) -> list[str]:
        table = table_of(db, self.table_name)
        verb = "REPLACE" if self.replace else "INSERT"
        return [f"{verb} INTO {table.name} the VALUES rows"
                + (", ON DUPLICATE KEY UPDATE the row found" if self.on_duplicate else ""),
                *_upkeep(table)]

    def run(self, db, params: list, repeat: int = 1):
        """Insert the VALUES rows; `repeat` > 1 when the scanner folded identical rows
        into one, each repetition taking the next `per_row` parameters."""
        table = table_of(db, self.table_name)
        k = self.per_row
        trailing = params[repeat * k:]
        done = []  # (kind, old row, new row) to undo if a later row fails
        try:
            for r in range(repeat):
                row_params = params if repeat == 1 else params[r * k:(r + 1) * k] + trailing
                for values in self.rows:
                    self._insert_one(table, values, row_params, done)
        except AlchemyError:
            _undo(table, done)
            raise
        return _written(table, done, len(done))

    def run_for(self, db, params: list, caller):
        """run() as engine.run calls it. A plain INSERT or REPLACE of one row of
        placeholders into a table without triggers runs here, without lua_calls.statement:
        no Lua function to call, no trigger writes to take back (what statement costs is a
        tenth of such an INSERT); its row is bound by a binder made for the table
        (schema.binder), not a call of coerce per value."""
        table = table_of(db, self.table_name)
        if not self._plain or table.triggers:
            return statement(caller, self.run, db, params)
        bound_table, bind = self._bound
        if bound_table is not table:
            bind = binder(table, self.positions, self.placeholders)
            self._bound = table, bind
        row = bind(params)
        existing = None
        if self.replace:
            key = table.key_of(row)
            existing = table.get(key) if None not in key else None
        if existing is None:
            table.insert(row)
            done = ("insert", None, row)
        else:  # what deleting and inserting would leave, cheaper (as _insert_one)
            table.update(existing, row)
            done = ("update", existing, row)
        if running():  # inside another statement (a trigger's), which may yet fail
            keep_for_undo(partial(_undo, table, [done]))
        return _ONE_WRITTEN

    def _insert_one(self, table: Table, values: list, params: list, done: list) -> None:
        row = [None] * len(table.columns)
        for position, evaluate in zip(self.positions, values):
            row[position] = coerce(evaluate(None, params), table.columns[position], table.name)
        keys = table.key_positions
        if len(keys) == 1 and row[keys[0]] is None and table.columns[keys[0]].type == "INT":
            row[keys[0]] = table.next_id()
        if not (self.on_duplicate or self.replace):  # a duplicate is refused by insert()
            table.insert(row)
            done.append(("insert", None, row))
            if table.triggers:
                fire(table, "INSERT", None, row)
            return
        key = table.key_of(row)
        existing = table.get(key) if None not in key else None
        if existing is not None and self.on_duplicate:
            new = list(existing)
            for position, evaluate in self.on_duplicate:
                new[position] = coerce(evaluate(existing, params), table.columns[position],
                                       table.name)
            table.update(existing, new)
            done.append(("update", existing, new))
            if table.triggers:
                fire(table, "UPDATE", existing, new)
            return
        if existing is not None and self.replace and not table.triggers:
            table.update(existing, row)  # what deleting and inserting would leave, cheaper
            done.append(("update", existing, row))
            return
        if existing is not None and self.replace:
            table.delete(table.key_of(existing))
            done.append(("delete", existing, None))
            if table.triggers:
                fire(table, "DELETE", existing, None)
        table.insert(row)
        done.append(("insert", None, row))
        if table.triggers:
            fire(table, "INSERT", None, row)


def _written(table: Table, done: list, count: int, direct: bool = False) -> Count:
    """The reply of a write statement that succeeded; nested in another statement, what
    it did is kept for that one to take back if it fails. direct: it ran without
    lua_calls.statement (run_for), inside whatever statement runs."""
    if done and (running() if direct else nested()):
        keep_for_undo(partial(_undo, table, done))
    return Count(count, changed=bool(done))


def _undo(table: Table, done: list) -> None:
    """Take back the changes of a failed statement, newest first."""
    for kind, old, new in reversed(done):
        if kind == "insert":
            table.delete(table.key_of(new))
        elif kind == "update":
            table.update(new, old)
        else:
            table.insert(old)


class _RunsItself:
    """run_for, as SqlEngine.run calls an UPDATE or a DELETE: one that calls no Lua
    function (lua_free, set by the engine), on a table without triggers, runs without
    lua_calls.statement, which has nothing to take back for it (a tenth of a one-row
    UPDATE's instructions)."""

    lua_free = False

    def run_for(self, db, params: list, caller):
        table = table_of(db, self.table_name)
        if not self.lua_free or table.triggers:
            return statement(caller, self.run, db, params)
        return self._run(table, params, True)

    def run(self, db, params: list):
        return self._run(table_of(db, self.table_name), params, False)


@dataclass
class UpdatePlan(_RunsItself):
    table_name: str
    access: object
    where: object
    assignments: list  # (position, evaluator)

    def explain(self, db) -> list[str]:
        return _write_explain(db, "UPDATE", self.table_name, self.access, self.where)

    def _run(self, table: Table, params: list, direct: bool):
        where = self.where
        targets = [row for row in self.access.rows(table, params)
                   if where is None or truth(where(row, params))]
        done = []
        try:
            for old in targets:
                new = list(old)
                for position, evaluate in self.assignments:
                    new[position] = coerce(evaluate(old, params), table.columns[position],
                                           table.name)
                if new != old:
                    table.update(old, new)
                    done.append(("update", old, new))
                    if table.triggers:
                        fire(table, "UPDATE", old, new)
        except (AlchemyError, ConstraintError):
            _undo(table, done)
            raise
        return _written(table, done, len(targets), direct)


@dataclass
class DeletePlan(_RunsItself):
    table_name: str
    access: object
    where: object

    def explain(self, db) -> list[str]:
        return _write_explain(db, "DELETE", self.table_name, self.access, self.where)

    def _run(self, table: Table, params: list, direct: bool):
        where = self.where
        alone = not table.triggers and not (running() if direct else nested())
        access = self.access
        if alone and where is None and type(access) is KeyPoints and len(access.keys) == 1:
            return _delete_key(table, tuple([e(None, params) for e in access.keys[0]]))
        found = [row for row in access.rows(table, params)
                 if where is None or truth(where(row, params))]
        if alone:
            # Nothing runs between the read and the deletes: the rows read are as stored.
            for row in found:
                table.delete(table.key_of(row), row)
            return Count(len(found), changed=bool(found))
        # A trigger may change a row still to delete: each is read again as it goes.
        keys = [table.key_of(row) for row in found]
        done = []
        try:
            for key in keys:
                old = table.delete(key)
                done.append(("delete", old, None))
                if table.triggers:
                    fire(table, "DELETE", old, None)
        except AlchemyError:
            _undo(table, done)
            raise
        return _written(table, done, len(keys), direct)


def _delete_key(table: Table, key: tuple) -> Count:
    """DELETE ... WHERE <primary key> = <value>: the row is taken out without being read
    first (Table.delete decodes it for the indexes)."""
    try:
        deleted = None not in key and table.delete(key) is not None
    except TypeError:  # a value of another type than the key's: no key equals it
        deleted = False
    return _ONE_WRITTEN if deleted else _NONE_WRITTEN


def _write_explain(db, verb: str, table_name: str, access, where) -> list[str]:
    """EXPLAIN of an UPDATE or DELETE: how it finds its rows, then what each change keeps up."""
    table = table_of(db, table_name)
    lines = [f"{verb} the rows of: {access.describe(table)}"]
    if where is not None:
        lines.append("FILTER rows by the WHERE clause")
    return lines + _upkeep(table)


def _upkeep(table: Table) -> list[str]:
    lines = [f"MAINTAIN INDEX {name}" for name in table.indexes]
    if table.triggers:
        lines.append("FIRE LUATRIGGERs: " + ", ".join(t.name for t in table.triggers))
    return lines
