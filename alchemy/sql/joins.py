"""Joins: the tables of FROM as one stream of joined rows (index nested loop or hash join).

A joined row is the rows of the tables laid end to end, in join order; JoinScope resolves a
column, qualified or not, to its place in that row. The planner orders the tables: the one
with the most selective access path from constant predicates drives; each next one is the
table best reached from those already placed: through its primary key or an index whose
leading columns the join predicates fix (probed once per outer row), else through a hash
table built once per execution on the join columns, or, with no join predicate at all, a
list of its rows.

Access paths come from planner.choose_access, as for single-table statements: a value of the
outer row reaches a path through a Prepared node that reads the outer row current at that
step, so a probe is an ordinary KeyPoints or Range walk.

A LEFT JOIN keeps its place in FROM order (every table before it is placed first) and pads an
outer row that has no match with NULLs; only its ON conditions narrow its access, and WHERE
conditions on its columns filter after the padding, as in SQLite. Tables before the first
LEFT JOIN are reordered freely.

Cost: a probe is O(log n) per outer row; a hash join reads the probed table once per
execution (O(n)) and is O(1) per outer row.
"""

from itertools import chain

from sqlglot import exp

from alchemy.errors import AlchemyError
from alchemy.sql import access
from alchemy.sql.expressions import Prepared, Scope, compile_expr, truth
from alchemy.sql.planner import choose_access, scope_of
from alchemy.sql.plans import table_of
from alchemy.storage.table import Table


class Source:
    """One table of FROM: its name in the statement, and where its columns start in a
    joined row once the planner has placed it."""

    def __init__(self, table: Table, alias: str, left: bool = False, on: list = ()):
        self.table = table
        self.alias = alias
        self.name = alias or table.name
        self.left = left
        self.on = list(on)  # ON conjuncts of a LEFT JOIN (inner joins pool theirs)
        self.offset = 0
        self.positions = {c.name.lower(): i for i, c in enumerate(table.columns)}
        self.read: set[int] = set()  # positions of the columns the statement reads

    def scope(self) -> Scope:
        """A scope for conditions that name only this table."""
        return scope_of(self.table, self.alias or None)


class JoinScope:
    """Column -> position in a joined row, for the sources of one FROM clause."""

    def __init__(self, sources: list[Source]):
        self.sources = sources

    @property
    def documents(self) -> frozenset:
        """Joined-row positions of LUATABLE columns (read once the sources are placed)."""
        return frozenset(source.offset + i for source in self.sources
                         for i, column in enumerate(source.table.columns)
                         if column.type == "LUATABLE")

    def document_of(self, names: list) -> tuple | None:
        """(joined-row position, path) for `alias.info.a` or an unambiguous `info.a`."""
        field = self._document_field(names)
        if field is None:
            return None
        field[0].read.add(field[1])
        return field[0].offset + field[1], field[2]

    def _document_field(self, names: list) -> tuple | None:
        """(source, column position, path) of a field inside a LUATABLE column; a first
        name that is a table's is a column reference, as SQL reads it."""
        first = names[0].lower()
        for source in self.sources:
            if source.name.lower() == first:
                position = source.positions.get(names[1].lower()) if len(names) >= 3 else None
                if position is None or source.table.columns[position].type != "LUATABLE":
                    return None
                return source, position, tuple(names[2:])
        found = [s for s in self.sources if first in s.positions
                 and s.table.columns[s.positions[first]].type == "LUATABLE"]
        if len(found) > 1:
            raise AlchemyError(f"ERR ambiguous column name: {names[0]}")
        if not found:
            return None
        return found[0], found[0].positions[first], tuple(names[1:])

    def source_of(self, column: exp.Column) -> Source:
        name = column.name.lower()
        qualifier = column.table.lower()
        if qualifier:
            for source in self.sources:  # (three parts or more: a path inside a document)
                if source.name.lower() == qualifier and name in source.positions \
                        and len(column.parts) == 2:
                    return source
            field = self._document_field([part.name for part in column.parts])
            if field is not None:  # info.a: a path inside a document
                return field[0]
            raise AlchemyError(f"ERR no such column: {column.sql()}")
        found = [s for s in self.sources if name in s.positions]
        if len(found) > 1:
            raise AlchemyError(f"ERR ambiguous column name: {column.name}")
        if not found:
            raise AlchemyError(f"ERR no such column: {column.name}")
        return found[0]

    def plain_position(self, column: exp.Column, source: Source) -> int | None:
        """The position in source of a column of source's own, None for anything else
        (another table's column, or a path inside one of source's documents: `info.a`
        reads as column a of a table info)."""
        if self.source_of(column) is not source:
            return None
        qualifier = column.table.lower()
        if qualifier and (qualifier != source.name.lower() or len(column.parts) > 2):
            return None
        return source.positions.get(column.name.lower())

    def resolve(self, column: exp.Column) -> int:
        """The joined-row position of a column, noted as read: whatever reads a joined
        row learns the positions it reads here (or in document_of)."""
        source = self.source_of(column)
        position = source.positions[column.name.lower()]
        source.read.add(position)
        return source.offset + position


def _and(nodes: list):
    if not nodes:
        return None
    tree = nodes[0]
    for node in nodes[1:]:
        tree = exp.And(this=tree, expression=node)
    return tree


def _score(path) -> int:
    """How selective an access path is likely to be: the planner's ranking of candidates."""
    if isinstance(path, access.KeyPoints):
        return 100 - min(len(path.keys), 50)
    if isinstance(path, access.Union):
        return 40
    if isinstance(path, access.Range):
        bounded = path.low is not None or path.high is not None
        if path.prefix or bounded:
            return 30 + 10 * len(path.prefix) + 5 * bounded - 2 * (path.index is not None)
    return 0


class Step:
    """One table in join order: how its rows are reached, and what is checked there."""

    def __init__(self, source: Source):
        self.source = source
        self.cell = [None]  # the outer row being extended, read by the access path's values
        self.path = None  # access path (driver, or probe per outer row)
        self.hash_keys = None  # (positions in the table's row, outer evaluators): hash join
        self.build_path = self.build_filter = None  # rows a hash join's table is built from
        self.on = None  # LEFT JOIN match condition
        self.decided: list = []  # conjuncts the access path answers: not checked again
        self.filter = None  # conditions decided once this table is joined

    def describe(self, before: list[str]) -> str:
        source = self.source
        table = source.table
        alias = f" AS {source.alias}" if source.alias else ""
        kind = "LEFT JOIN " if source.left else ""
        if self.hash_keys is not None:
            build = self.build_path.describe(table).replace(f" {table.name}", f" {table.name}"
                                                            f"{alias}", 1)
            names = [table.columns[p].name for p in self.hash_keys[0]]
            how = f"HASH JOIN on ({', '.join(names)})" if names else "NESTED LOOP over all rows"
            return f"{kind}{how}, built once from: {build}"
        line = self.path.describe(table).replace(f" {table.name}", f" {table.name}{alias}", 1)
        if not before:
            return line
        return f"{kind}{line} for each row of {', '.join(before)}"


class JoinSource:
    """The joined rows of several tables, produced lazily (LIMIT stops the walk early)."""

    def __init__(self, steps: list[Step], scope: JoinScope):
        self.steps = steps
        self.scope = scope

    def rows(self, db, params: list):
        first = self.steps[0]
        table = table_of(db, first.source.table.name)
        stream = first.path.rows(table, params)
        if first.filter is not None:
            check = first.filter
            stream = (row for row in stream if truth(check(row, params)))
        for step in self.steps[1:]:
            stream = _join(stream, step, table_of(db, step.source.table.name), params)
        return stream

    def read_only(self, raw: dict | None = None) -> None:
        """Once everything reading the joined rows is compiled: decode only the columns
        read (a hash join's table, whose own conditions read it directly, whole); raw,
        source -> positions of text columns to read as UTF-8 bytes."""
        raw = raw or {}
        for step in self.steps:
            if step.hash_keys is None:
                step.path.read_only(step.source.table, step.source.read,
                                    raw.get(step.source, ()))

    def explain(self) -> list[str]:
        lines, before = [], []
        for step in self.steps:
            lines.append(step.describe(before))
            before.append(step.source.name)
        return lines


def _join(outer_rows, step: Step, table: Table, params: list):
    candidates = _candidates(step, table, params)
    if step.on is None and step.filter is None and not step.source.left:
        # An inner join its access decides: rows extended in C, no Python step per row.
        return chain.from_iterable(map(lambda outer: map(outer.__add__, candidates(outer)),
                                       outer_rows))
    return _checked_join(outer_rows, step, candidates, len(table.columns), params)


def _checked_join(outer_rows, step: Step, candidates, width: int, params: list):
    on, check, left = step.on, step.filter, step.source.left
    pad = [None] * width
    for outer in outer_rows:
        matched = False
        for inner in candidates(outer):
            row = outer + inner
            if on is not None and not truth(on(row, params)):
                continue
            matched = True
            if check is None or truth(check(row, params)):
                yield row
        if left and not matched:
            row = outer + pad
            if check is None or truth(check(row, params)):
                yield row


def _candidates(step: Step, table: Table, params: list):
    """outer row -> the rows of step's table that may join it."""
    if step.hash_keys is not None:
        return _hash_table(step, table, params)
    path, cell = step.path, step.cell
    if isinstance(path, access.KeyPoints) and len(path.keys) == 1:
        key_values = path.keys[0]
        get, kinds = table.get, path.kinds
        last = [None, ()]  # outer rows in a row often share the key (children of a parent)

        def by_key(outer):
            cell[0] = outer
            key = tuple([e(None, params) for e in key_values])
            if key == last[0]:
                return last[1]
            try:
                row = get(key, kinds) if None not in key else None
            except TypeError:  # a value of another type than the key: nothing equals it
                row = None
            last[0], last[1] = key, (() if row is None else (row,))
            return last[1]
        return by_key

    def by_path(outer):
        cell[0] = outer
        return path.rows(table, params)
    return by_path


def _hash_table(step: Step, table: Table, params: list):
    positions, outer_values = step.hash_keys
    check = step.build_filter
    buckets: dict = {}
    for row in step.build_path.rows(table, params):
        if check is not None and not truth(check(row, params)):
            continue
        key = tuple([row[p] for p in positions])
        if None not in key:
            buckets.setdefault(key, []).append(row)

    def lookup(outer):
        key = tuple([e(outer, params) for e in outer_values])
        return buckets.get(key, ()) if None not in key else ()
    return lookup


# -- planning ---------------------------------------------------------------------------


def conjuncts(node) -> list:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    if isinstance(node, exp.Paren) and isinstance(node.this, exp.And):
        return conjuncts(node.this)
    return [node]


def sources_of(tree: exp.Select, db) -> tuple[list[Source], list]:
    """The sources of a SELECT's FROM and JOINs, and the conditions of its inner joins."""
    from_ = tree.args.get("from_") or tree.args.get("from")
    items = [(from_.this, None)] + [(j.this, j) for j in tree.args.get("joins") or []]
    sources, pooled = [], []
    for node, join in items:
        if not isinstance(node, exp.Table):
            raise AlchemyError("ERR only tables can be joined (no subqueries in FROM)")
        side = (join.side or "").upper() if join is not None else ""
        if side in ("RIGHT", "FULL"):
            raise AlchemyError(f"ERR {side} JOIN is not supported; write it as a LEFT JOIN")
        if join is not None and (join.args.get("using") or join.args.get("method")):
            raise AlchemyError("ERR JOIN ... USING and NATURAL JOIN are not supported; use ON")
        on = conjuncts(join.args.get("on")) if join is not None else []
        left = side == "LEFT"
        source = Source(table_of(db, node.name), node.alias or "", left, on if left else ())
        if not left:
            pooled.extend(on)
        sources.append(source)
    names = [s.name.lower() for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise AlchemyError(f"ERR table '{name}' appears twice in FROM: give each an alias")
    return sources, pooled


def plan_join(sources: list[Source], pooled: list) -> JoinSource:
    """Order the sources and choose each one's access; pooled holds the WHERE and inner ON
    conjuncts (each checked as soon as every table it names is joined)."""
    scope = JoinScope(sources)
    refs = {id(node): _referenced(node, scope) for node in pooled}
    for source in sources:
        for node in source.on:
            refs[id(node)] = _referenced(node, scope)
    first_left = next((i for i, s in enumerate(sources) if s.left), len(sources))
    free, fixed = list(sources[:first_left]), sources[first_left:]
    steps: list[Step] = []
    placed: list[Source] = []
    offset = 0
    while free or fixed:
        if free:
            options = [_access(s, placed, pooled, refs, scope) for s in free]
            # Equal scores: the smaller table first (fewer rows to drive or to hash).
            best = max(range(len(free)),
                       key=lambda i: (options[i][1], -len(free[i].table), -i))
            source, step = free.pop(best), options[best][0]
        else:
            source = fixed.pop(0)
            step = _access(source, placed, pooled, refs, scope)[0]
        source.offset = offset
        offset += len(source.table.columns)
        placed.append(source)
        steps.append(step)
    order = {id(s): i for i, s in enumerate(placed)}
    checks: list[list] = [[] for _ in steps]
    for node in pooled:
        at = max((order[id(s)] for s in refs[id(node)]), default=0)
        if all(node is not d for d in steps[at].decided):
            checks[at].append(node)
    for i, step in enumerate(steps):
        step.filter = _compiled(checks[i], scope)
        step.on = _compiled([n for n in step.source.on
                             if all(n is not d for d in step.decided)], scope)
    return JoinSource(steps, scope)


def _compiled(nodes: list, scope):
    tree = _and(nodes)
    return None if tree is None else compile_expr(tree, scope)


def _referenced(node, scope: JoinScope) -> list[Source]:
    found: list[Source] = []
    for column in node.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            continue
        source = scope.source_of(column)
        if all(source is not s for s in found):
            found.append(source)
    return found


def _access(source: Source, placed: list, pooled: list, refs: dict, scope: JoinScope):
    """(Step, score): the best way to reach source's rows given the tables placed."""
    step = Step(source)
    known = placed + [source]
    usable = source.on if source.left else [
        n for n in pooled
        if any(s is source for s in refs[id(n)])
        and all(any(s is k for k in known) for s in refs[id(n)])]
    own = [n for n in usable if all(s is source for s in refs[id(n)])]
    cell = step.cell
    rewritten = [_outer_values(n, source, scope, cell) for n in usable]
    single = source.scope()
    step.path = choose_access(source.table, _and(rewritten), single)
    step.decided = _decided(step.path, usable, source, scope)
    score = _score(step.path)
    if not placed:
        return step, score
    positions, outer_values = [], []
    for node in usable:
        pair = _equi(node, source, scope)
        if pair is not None:
            positions.append(pair[0])
            outer_values.append(compile_expr(pair[1], scope))
    fixed = isinstance(step.path, (access.KeyPoints, access.Union)) or \
        isinstance(step.path, access.Range) and step.path.prefix
    if fixed or (score and not positions):
        return step, score
    # No index fixes its rows from the outer row: hash join on the equalities with it.
    step.hash_keys = (positions, outer_values)
    step.build_path = choose_access(source.table, _and(own), single)
    step.build_filter = _compiled(own, single)
    return step, 10 if positions else 0


def _decided(path, usable: list, source: Source, scope: JoinScope) -> list:
    """The conjuncts a one-key primary key lookup answers exactly: `key column = value` for
    every key column (the last such per column, as choose_access takes it). A lookup with a
    value of another type finds nothing, which is also what SQL's = says."""
    if isinstance(path, access.Range):
        return _decided_by_index(path, usable, source, scope)
    if not isinstance(path, access.KeyPoints) or len(path.keys) != 1:
        return []
    key = source.table.key_positions
    chosen: dict = {}
    for node in usable:
        if not isinstance(node, exp.EQ):
            continue
        for mine, other in ((node.this, node.expression), (node.expression, node.this)):
            position = scope.plain_position(mine, source) \
                if isinstance(mine, exp.Column) else None
            if position in key and not any(scope.source_of(c) is source
                                           for c in other.find_all(exp.Column)):
                chosen[position] = node
                break
    return list(chosen.values()) if len(chosen) == len(key) else []


_KIND_CLASS = {"i": "number", "f": "number", "s": "text", "b": "blob"}


def _decided_by_index(path, usable: list, source: Source, scope: JoinScope) -> list:
    """The conjuncts an index walk over equal leading values answers exactly (a parent's
    children through the index on their foreign key): one `column = other table's column`
    per leading column, of kinds that compare (numbers with numbers, text with text), so
    that the walk never meets a value it cannot compare and falls back to a scan that the
    filter would have to narrow. Two conditions on one column: none is decided."""
    if path.index is None or not path.prefix or path.low is not None \
            or path.high is not None:
        return []
    columns = source.table.columns
    decided = []
    for position in path.index.positions[:len(path.prefix)]:
        if not isinstance(position, int):  # a field inside a document
            return []
        on_column = [n for n in usable if isinstance(n, exp.EQ)
                     and _equi(n, source, scope) is not None
                     and _equi(n, source, scope)[0] == position]
        if len(on_column) != 1:
            return []
        other = _equi(on_column[0], source, scope)[1]
        if not isinstance(other, exp.Column):
            return []
        outer = scope.source_of(other)
        at = scope.plain_position(other, outer)
        if at is None or _KIND_CLASS.get(outer.table.columns[at].kind) != \
                _KIND_CLASS.get(columns[position].kind):
            return []
        decided.append(on_column[0])
    return decided


def _equi(node, source: Source, scope: JoinScope):
    """(column position in source, outer expression) for `source.col = <outer expr>`."""
    if not isinstance(node, exp.EQ):
        return None
    for mine, other in ((node.this, node.expression), (node.expression, node.this)):
        position = scope.plain_position(mine, source) if isinstance(mine, exp.Column) else None
        if position is not None and other.find(exp.Column) is not None \
                and not any(scope.source_of(c) is source for c in other.find_all(exp.Column)):
            return position, other
    return None


def _outer_values(node, source: Source, scope: JoinScope, cell: list):
    """node with every column of another table replaced by that column's value in the
    outer row current at this step, so access paths see it as a known value."""
    def replace(n):
        if isinstance(n, exp.Column) and scope.source_of(n) is not source:
            if len(n.parts) > 1 and scope.document_of([p.name for p in n.parts]):
                evaluate = compile_expr(n, scope)  # a path inside the other's document
                return Prepared(build=lambda node, s, f:
                                lambda row, params: evaluate(cell[0], params))
            position = scope.resolve(n)
            return Prepared(build=lambda node, s, f: lambda row, params: cell[0][position])
        return n
    return node.transform(replace)
