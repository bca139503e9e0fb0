"""Access paths: how a plan reaches the rows it may need.

Each path yields candidate rows; the plan's filter (the whole WHERE clause) still decides
which qualify, so a path only has to be a superset, never exact. A path that walks a sorted
structure yields rows in that structure's order, which lets ORDER BY ... LIMIT stop early.

A plan that reads only some columns of the rows narrows its path (`read_only`): the rows
then hold None in the other columns, which are not decoded.
"""

from alchemy.storage.table import Index, Table


class _Path:
    kinds: str | None = None  # Table.kinds_for the columns read, None for all

    def read_only(self, table: Table, positions, raw=()) -> None:
        """Decode only the columns at positions of the rows found (the text columns at
        positions in raw to their UTF-8 bytes)."""
        self.kinds = table.kinds_for(positions, raw)


class FullScan(_Path):
    ordered_by: tuple = ()

    def __init__(self, reverse: bool = False, key_columns: tuple = ()):
        self.reverse = reverse
        self.ordered_by = key_columns

    def rows(self, table: Table, params: list, skip: int = 0):
        """Every row; `skip` rows are passed over by rank, in O(log n)."""
        tree = table.rows
        if not skip:
            return table.scan(reverse=self.reverse, kinds=self.kinds)
        if self.reverse:
            return table.scan(tree.first(), tree.at(len(tree) - skip), True, self.kinds)
        return table.scan(tree.at(skip), tree.end(), False, self.kinds)

    def describe(self, table: Table) -> str:
        order = " in primary key order, backwards" if self.reverse else ""
        return f"SCAN {table.name} (full scan{order})"


class KeyPoints(_Path):
    """Rows whose primary key is one of the given values (= or IN)."""

    ordered_by: tuple = ()

    def __init__(self, keys: list):
        self.keys = keys  # one list of evaluators per key

    def rows(self, table: Table, params: list):
        if len(self.keys) == 1:  # most often: a row or none, without a generator
            row = self._row(table, tuple([e(None, params) for e in self.keys[0]]))
            return () if row is None else (row,)
        return self._rows(table, params)

    def _rows(self, table: Table, params: list):
        seen = set()
        for key_exprs in self.keys:
            key = tuple([e(None, params) for e in key_exprs])
            if key not in seen:
                seen.add(key)
                row = self._row(table, key)
                if row is not None:
                    yield row

    def _row(self, table: Table, key: tuple) -> list | None:
        if None in key:
            return None
        try:
            return table.get(key, self.kinds)
        except TypeError:  # a value of another type: it cannot be equal
            return None

    def describe(self, table: Table) -> str:
        kind = "point" if len(self.keys) == 1 else f"{len(self.keys)} points"
        return f"SEARCH {table.name} USING PRIMARY KEY ({kind})"


class Range(_Path):
    """A walk over a sorted tree: equal values for the leading parts, then an optional
    range on the next part, in either direction.

    `index` None walks the table's primary key; otherwise the index, then fetches rows.
    """

    def __init__(self, index: Index | None, prefix: list, low=None, low_inclusive=True,
                 high=None, high_inclusive=True, reverse: bool = False, ordered_by=()):
        self.index = index
        self.prefix = prefix
        self.low, self.low_inclusive = low, low_inclusive
        self.high, self.high_inclusive = high, high_inclusive
        self.reverse = reverse
        self.ordered_by = ordered_by

    def bounds(self, tree, params: list):
        prefix = tuple([e(None, params) for e in self.prefix])
        if self.low is None and self.high is None:  # an equality: one descent
            return None if None in prefix else tree.span(prefix)
        low = self.low(None, params) if self.low is not None else None
        high = self.high(None, params) if self.high is not None else None
        if None in prefix or (self.low is not None and low is None) \
                or (self.high is not None and high is None):
            return None  # comparing with NULL matches nothing
        start = tree.bound(prefix + (low,), right=not self.low_inclusive) \
            if self.low is not None else tree.bound(prefix)
        stop = tree.bound(prefix + (high,), right=self.high_inclusive) \
            if self.high is not None else tree.bound(prefix, right=True)
        return start, stop

    def rows(self, table: Table, params: list, skip: int = 0):
        """Rows between the bounds; `skip` rows are passed over by rank, in O(log n)
        (only asked for when no filter follows, so every row counts). The walk is
        returned as it is, without a generator of its own: a join runs one per outer row."""
        tree = table.rows if self.index is None else self.index.tree
        try:
            bounds = self.bounds(tree, params)
        except TypeError:
            # A value of another type than the column (text against INT): the sorted walk
            # cannot compare it, so fall back to every row; the filter decides.
            return table.scan(reverse=self.reverse, kinds=self.kinds)
        if bounds is None:
            return ()
        start, stop = bounds
        if skip:
            first, last = tree.rank(start), tree.rank(stop)
            if first + skip >= last:
                return ()
            if self.reverse:
                stop = tree.at(last - skip)
            else:
                start = tree.at(first + skip)
        if self.index is None:
            return table.scan(start, stop, self.reverse, self.kinds)
        return table.rows_of(self.index.key_runs(start, stop, self.reverse), self.kinds)

    def describe(self, table: Table) -> str:
        name = "PRIMARY KEY" if self.index is None else f"INDEX {self.index.name}"
        columns = (table.key_positions if self.index is None else self.index.positions)
        names = [table.label(p) for p in columns]
        conditions = [f"{n}=?" for n in names[:len(self.prefix)]]
        if self.low is not None or self.high is not None:
            n = names[len(self.prefix)]
            if self.low is not None:
                conditions.append(f"{n}{'>=' if self.low_inclusive else '>'}?")
            if self.high is not None:
                conditions.append(f"{n}{'<=' if self.high_inclusive else '<'}?")
        kind = "range" if self.low is not None or self.high is not None else (
            "equality" if conditions else "ordered scan")
        where = f" ({' AND '.join(conditions)})" if conditions else ""
        direction = ", backwards" if self.reverse else ""
        return f"SEARCH {table.name} USING {name}{where} [{kind}{direction}]"


class Union(_Path):
    """Rows found by several ranges (IN on an indexed column), each row once."""

    ordered_by: tuple = ()

    def __init__(self, ranges: list):
        self.ranges = ranges

    def read_only(self, table: Table, positions, raw=()) -> None:
        for walk in self.ranges:
            walk.read_only(table, positions, raw)

    def rows(self, table: Table, params: list):
        seen = set()
        for walk in self.ranges:
            for row in walk.rows(table, params):
                key = table.key_of(row)
                if key not in seen:
                    seen.add(key)
                    yield row

    def describe(self, table: Table) -> str:
        if not self.ranges:  # x IN (): no walk, no row
            return "NO ROWS (an empty IN list)"
        return self.ranges[0].describe(table).replace("[equality]",
                                                      f"[{len(self.ranges)} equalities]")
