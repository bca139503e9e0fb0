"""Tables and indexes: rows keyed by primary key, secondary indexes kept consistent.

A table is a SortedColumns map from primary key to the encoded row (the other columns); an
index is a SortedColumns set of (indexed values..., primary key...) entries. Every change
goes through Table.insert/update/delete, which check constraints before touching anything,
so a failed statement leaves no half-written row or index entry.
"""

from dataclasses import dataclass

from alchemy.errors import AlchemyError
from alchemy.storage.columns import SortedColumns
from alchemy.storage.documents import field, order_key
from alchemy.storage.rowcodec import RowCodec

# Column type -> value kind. BOOL is stored as a 0/1 integer, LUATABLE as a document.
KINDS = {"INT": "i", "FLOAT": "f", "TEXT": "s", "BLOB": "b", "BOOL": "i", "LUATABLE": "d"}
_STORED_TYPES = {"i": int, "f": float, "s": str, "b": bytes}  # the Python type of each kind


class ConstraintError(AlchemyError):
    """A write that would break a primary key or unique index."""


@dataclass
class Column:
    name: str
    type: str  # one of KINDS

    @property
    def kind(self) -> str:
        return KINDS[self.type]


def _tree_kind(kind: str) -> str:
    return "o" if kind in "sb" else kind


class Index:
    def __init__(self, name: str, table: "Table", positions: list[int], unique: bool = False):
        self.name = name
        self.table = table
        self.positions = positions
        self.unique = unique
        kinds = [table.columns[p].kind for p in positions + table.key_positions]
        self.tree = SortedColumns("".join(map(_tree_kind, kinds)))

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():  # not __dict__.update: see SortedColumns.__setstate__
            setattr(self, name, value)

    @property
    def column_names(self) -> list[str]:
        return [self.table.columns[p].name for p in self.positions]

    def values(self, row: list) -> tuple:
        positions = self.positions
        if len(positions) == 1:  # the usual index: no list built, no comprehension called
            return (row[positions[0]],)
        return tuple([row[p] for p in positions])

    def add(self, row: list, key: tuple) -> None:
        self.tree.insert(self.values(row) + key)

    def remove(self, row: list, key: tuple) -> None:
        self.tree.pop(self.values(row) + key)  # (pop: the call delete would make)

    def conflict(self, row: list, key: tuple) -> bool:
        """Would row (under primary key `key`) duplicate another row's unique values?"""
        if not self.unique:
            return False
        values = self.values(row)
        if None in values:
            return False  # NULLs never collide, as in SQL
        tree = self.tree
        start, stop = tree.span(values)
        return any(entry[len(values):] != key for entry, _ in tree.iterate(start, stop))

    def key_runs(self, start: tuple[int, int], stop: tuple[int, int], reverse: bool = False):
        """Primary keys of the entries between two positions, in index order, in runs
        (SortedColumns.tail_runs: per run, one sequence per key part)."""
        return self.tree.tail_runs(start, stop, len(self.positions), reverse)


class FieldIndex(Index):
    """An index on one field inside a LUATABLE column (`info.age`), optionally typed.

    Every row has one entry, so the index also gives ORDER BY. An untyped index holds every
    value, ordered as SQL orders mixed types (NULL, numbers, text, tables): through it a
    query finds exactly what a scan would. A typed index (INT, FLOAT or TEXT) holds values of
    its type (an integral float counts as INT, an integer as FLOAT) in a packed column, and
    NULL for anything else, which is what the type promises: a WHERE answered through it
    does not find rows whose field holds another type, an ORDER BY through it puts them
    first, with the NULLs.

    Its one position is the pair (column position, path), which the planner matches against
    the document paths of a WHERE or ORDER BY clause.
    """

    def __init__(self, name: str, table: "Table", position: int, path: tuple,
                 kind: str | None = None, unique: bool = False):
        self.name = name
        self.table = table
        self.position = position
        self.path = path
        self.kind = kind
        self.positions = [(position, path)]
        self.unique = unique
        key_kinds = "".join(_tree_kind(table.columns[p].kind) for p in table.key_positions)
        first = {"INT": "i", "FLOAT": "f"}.get(kind, "o")
        self.tree = (SortedColumns if kind else _MixedTree)(first + key_kinds)

    @property
    def column_names(self) -> list[str]:
        label = self.table.label(self.positions[0])
        return [f"{label} {self.kind}" if self.kind else label]

    def values(self, row: list) -> tuple:
        doc = row[self.position]
        value = None if doc is None else field(doc, self.path)
        if value is None:
            return (None,)
        kind = self.kind
        if kind is None:
            return (order_key(value),)
        vtype = type(value)
        if kind == "INT":
            if vtype is float and value.is_integer() and abs(value) < 2**63:
                return (int(value),)
            return (value if vtype is int else None,)
        if kind == "FLOAT":
            return (float(value) if vtype is int or vtype is float else None,)
        return (value if vtype is str else None,)


class _MixedTree(SortedColumns):
    """The tree of an untyped field index: its first part is stored as order_key(value),
    so values looked up (range bounds, equalities) are put in that form first."""

    def bound(self, key, right: bool = False) -> tuple[int, int]:
        return super().bound(_stored(key), right)

    def span(self, key) -> tuple[tuple[int, int], tuple[int, int]]:
        return super().span(_stored(key))

    def find(self, key: tuple) -> tuple[int, int] | None:
        return super().find(_stored(key))


def _stored(key) -> tuple:
    """A key looked up in a _MixedTree, its first part in the stored form (a key already
    in that form is left as it is)."""
    if key and key[0] is not None and type(key[0]) is not tuple:
        return (order_key(key[0]),) + tuple(key[1:])
    return key


@dataclass
class Trigger:
    """A Lua function called for each row an event (INSERT, UPDATE or DELETE) writes
    (CREATE LUATRIGGER). Kept here so that it lives and is saved with its table; what
    runs it is the SQL layer (alchemy.sql.triggers)."""
    name: str
    event: str
    function: str
    arguments: list  # (column position, "new" or "old"): which row's value is passed
    call: str  # the call as written, `fn(id, info)`


class Table:
    exists_any = False  # set once any table is made: until then writes skip the table guard

    def __init__(self, name: str, columns: list[Column], key_positions: list[int],
                 dictionary: bytes | None = None):
        Table.exists_any = True
        self.name = name
        self.columns = columns
        self.key_positions = key_positions
        self.value_positions = [i for i in range(len(columns)) if i not in key_positions]
        self._derive()
        kinds = "".join(_tree_kind(columns[p].kind) for p in key_positions)
        self.rows = SortedColumns(kinds, payload=True, nullable=False)
        self.codec = RowCodec("".join(columns[p].kind for p in self.value_positions), dictionary)
        self.indexes: dict[str, Index] = {}
        self.last_id = 0  # highest integer primary key seen, for auto-increment
        self.triggers: list[Trigger] = []

    def __len__(self) -> int:
        return len(self.rows)

    def __setstate__(self, state: dict) -> None:
        # A table loaded from a snapshot is a table made: writes must check for tables.
        Table.exists_any = True
        state.setdefault("triggers", [])  # saved before tables had triggers
        state.pop("_leading", None)  # saved before _key_first
        for name, value in state.items():  # not __dict__.update: see SortedColumns.__setstate__
            setattr(self, name, value)
        self._derive()

    def _derive(self) -> None:
        """What reads use, derived from the columns: the Python type of each key part as
        stored, and whether the key columns come first (the usual layout, where a row is
        the key's values followed by the decoded payload)."""
        self._key_types = tuple(_STORED_TYPES.get(self.columns[p].kind)
                                for p in self.key_positions)
        self._key_first = self.key_positions == list(range(len(self.key_positions)))
        self._one_key = self.key_positions == [0]  # (the rows tree takes insert_keyed)

    def position(self, name: str) -> int | None:
        for i, column in enumerate(self.columns):
            if column.name == name:
                return i
        return None

    def label(self, position) -> str:
        """The name of a column, or `info.a.b` for a field reference (position, path)."""
        if type(position) is tuple:
            return ".".join((self.columns[position[0]].name,) + position[1])
        return self.columns[position].name

    def key_of(self, row: list) -> tuple:
        return tuple([row[p] for p in self.key_positions])

    def next_id(self) -> int:
        return self.last_id + 1

    # -- reading -----------------------------------------------------------------------

    def kinds_for(self, positions, raw=()) -> str:
        """What the reads below take as `kinds` to decode only the columns at positions
        (the key columns come from the key): the others read as None, at a fraction of
        the cost. Text columns at positions in raw read as their UTF-8 bytes."""
        return self.codec.skipping([p in positions for p in self.value_positions],
                                   [p in raw for p in self.value_positions])

    def get(self, key: tuple, kinds: str | None = None) -> list | None:
        row = self.rows.read(key, self._decoder(kinds))
        if row is not None and tuple(map(type, key)) != self._key_types:
            # An equal value of another type found the row (13.0 finds 13): the row shows
            # its key as stored.
            for p, kind in zip(self.key_positions, self._key_types):
                row[p] = kind(row[p])
        return row

    def rows_of(self, runs, kinds: str | None = None):
        """The rows of primary keys in runs (Index.key_runs), in the order given, in one
        walk of the rows tree; keys without a row are passed over."""
        return self.rows.payloads(runs, self._decoder(kinds))

    def _decoder(self, kinds: str | None = None):
        """(payload's bytes, key, start, end) -> row, decoding kinds (RowCodec.reader)."""
        read = self.codec.reader(kinds)
        if self._key_first:
            return read
        return lambda data, key, start, end: self._scattered(read, data, key, start, end)

    def _scattered(self, read, data, key: tuple, start: int, end: int) -> list:
        """A row whose key columns are not its first ones (the usual layout has the
        key's values, then the payload's)."""
        row = [None] * len(self.columns)
        for p, value in zip(self.key_positions, key):
            row[p] = value
        decoded = read(data, (), start, end)
        for p, value in zip(self.value_positions, decoded):
            row[p] = value
        return row

    def scan(self, start=None, stop=None, reverse: bool = False, kinds: str | None = None):
        """Rows in primary key order between two positions of self.rows (default: all)."""
        rows = self.rows
        decode = self._decoder(kinds)
        for key, payload in rows.iterate(start or rows.first(), stop or rows.end(), reverse):
            yield decode(payload, key, 0, len(payload))

    # -- writing -----------------------------------------------------------------------

    def _check_unique(self, row: list, key: tuple) -> None:
        for index in self.indexes.values():
            if index.unique and index.conflict(row, key):
                raise ConstraintError(f"ERR unique index '{index.name}' violated by "
                                      f"{_show(index.values(row))} in table '{self.name}'")

    def insert(self, row: list) -> None:
        # The key and the payload's values in slices when the key leads the row.
        if self._one_key:  # the usual table, keyed by its first column alone
            key, values = (row[0],), row[1:]
        elif self._key_first:
            n = len(self.key_positions)
            key, values = tuple(row[:n]), row[n:]
        else:
            key, values = self.key_of(row), [row[p] for p in self.value_positions]
        if None in key:
            raise ConstraintError(f"ERR NULL primary key in table '{self.name}'")
        indexes = self.indexes
        if indexes:
            self._check_unique(row, key)
        payload = self.codec.encode(values)
        # A one-part key goes in with one call (the general insert is a call more).
        if not (self.rows.insert_keyed(key[0], payload) if self._one_key
                else self.rows.insert(key, payload)):
            raise ConstraintError(
                f"ERR duplicate primary key {_show(key)} in table '{self.name}'")
        if indexes:
            for index in indexes.values():
                index.add(row, key)
        first = key[0]
        if type(first) is int and first > self.last_id and len(key) == 1:
            self.last_id = first

    def delete(self, key: tuple, row: list | None = None) -> list | None:
        """Remove the row with this primary key; the removed row, or None. row: that row
        as just read (every column), which spares decoding it again for the indexes."""
        payload = self.rows.pop(key)
        if payload is None:
            return None
        if row is None:
            row = self._decoder()(payload, key, 0, len(payload))
        for index in self.indexes.values():
            index.remove(row, key)
        return row

    def update(self, old: list, new: list) -> None:
        """Replace row old (as read from the table) with new, keys and indexes included."""
        if self._one_key:  # the usual table: its key and its payload's values in slices
            old_key, new_key, values = (old[0],), (new[0],), new[1:]
        else:
            old_key, new_key = self.key_of(old), self.key_of(new)
            values = [new[p] for p in self.value_positions]
        if new_key != old_key:
            if None in new_key:
                raise ConstraintError(f"ERR NULL primary key in table '{self.name}'")
            if self.rows.find(new_key) is not None:
                raise ConstraintError(
                    f"ERR duplicate primary key {_show(new_key)} in table '{self.name}'")
        changes = []  # (index, old entry, new entry) of the indexes this update moves
        for index in self.indexes.values():
            old_values, new_values = index.values(old), index.values(new)
            if old_values != new_values and index.unique and index.conflict(new, old_key):
                raise ConstraintError(f"ERR unique index '{index.name}' violated by "
                                      f"{_show(new_values)} in table '{self.name}'")
            if old_values != new_values or new_key != old_key:
                changes.append((index, old_values + old_key, new_values + new_key))
        payload = self.codec.encode(values)
        if new_key == old_key:
            self.rows.replace(old_key, payload)
        else:
            self.rows.delete(old_key)
            self.rows.insert(new_key, payload)
            if len(new_key) == 1 and type(new_key[0]) is int and new_key[0] > self.last_id:
                self.last_id = new_key[0]
        for index, old_entry, new_entry in changes:
            index.tree.pop(old_entry)
            index.tree.insert(new_entry)

    # -- schema ------------------------------------------------------------------------

    def add_index(self, name: str, positions: list[int], unique: bool = False) -> Index:
        """Build an index over the existing rows; ConstraintError if unique is violated."""
        return self._build(Index(name, self, positions, unique))

    def add_field_index(self, name: str, position: int, path: tuple, kind: str | None = None,
                        unique: bool = False) -> Index:
        """Build an index on a field inside a LUATABLE column (see FieldIndex)."""
        return self._build(FieldIndex(name, self, position, path, kind, unique))

    def _build(self, index: Index) -> Index:
        name = index.name
        for row in self.scan():
            key = self.key_of(row)
            if index.conflict(row, key):
                raise ConstraintError(f"ERR cannot create unique index '{name}': "
                                      f"duplicate {_show(index.values(row))}")
            index.add(row, key)
        self.indexes[name] = index
        return index

    def add_column(self, column: Column) -> None:
        """Append a column; existing rows read it as NULL without being rewritten."""
        self.columns.append(column)
        self.value_positions.append(len(self.columns) - 1)
        self.codec.add_column(column.kind)

    def memory(self) -> dict[str, int]:
        """Bytes used by the rows and by each index."""
        usage = {"rows": self.rows.memory()}
        for name, index in self.indexes.items():
            usage[name] = index.tree.memory()
        return usage


def _show(values: tuple) -> str:
    return "(" + ", ".join(repr(v) for v in values) + ")"
