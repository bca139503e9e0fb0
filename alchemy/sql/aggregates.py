"""Aggregates and GROUP BY: COUNT, SUM, AVG, MIN, MAX over groups of rows, as SQLite does.

Grouping turns a stream of rows into group rows: the GROUP BY values, then one result per
aggregate. The select list, HAVING and ORDER BY are rewritten to read group rows: each
aggregate call and each expression equal to a GROUP BY expression becomes a Prepared node
reading its slot; a column left over is neither grouped nor aggregated, an error (SQLite
would pick a value from an arbitrary row).

NULL semantics are SQLite's: aggregates skip NULLs; COUNT of nothing is 0, SUM/AVG/MIN/MAX of
nothing NULL; SUM of integers is an integer (overflow is an error), of anything else a
float; AVG is a float. Without GROUP BY there is exactly one group, even over no rows.

Shortcut: with no WHERE and no GROUP BY, COUNT(*) is the table's row count and MIN/MAX of a
column that leads the primary key or an index is that tree's first or last entry, O(log n).

Cost: one dict lookup per row for its group and one step per aggregate; groups come out
sorted by their GROUP BY values (as SQLite's sorter gives them).
"""

from sqlglot import exp

from alchemy.errors import AlchemyError
from alchemy.sql.documents import document_ref
from alchemy.sql.expressions import (Prepared, _numeric, check_int, compile_expr,
                                     placeholder_index, sort_key, truth)

AGGREGATES = {exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min",
              exp.Max: "max"}


class Aggregate:
    """One aggregate call: its kind, its argument (None for COUNT(*)), DISTINCT or not."""

    def __init__(self, kind: str, argument, distinct: bool):
        self.kind = kind
        self.argument = argument
        self.distinct = distinct

    def start(self):
        if self.distinct:
            return set()
        return [0, 0.0, False, 0] if self.kind in ("sum", "avg") else (
            0 if self.kind == "count" else None)

    def finish(self, state):
        if self.distinct:
            state = self._fold(state)
        kind = self.kind
        if kind == "count" or kind == "min" or kind == "max":
            return state
        total, real, approximate, count = state
        if not count:
            return None
        if kind == "avg":
            return real / count
        return real if approximate else check_int(total)

    def _fold(self, values: set):
        state = Aggregate(self.kind, None, False).start()
        for value in values:
            state = self.step(state, value)
        return state

    def step(self, state, value):
        """state after one more non-DISTINCT value (NULLs are skipped by the caller)."""
        kind = self.kind
        if kind == "count":
            return state + 1
        if kind == "min":
            return value if state is None or sort_key(value) < sort_key(state) else state
        if kind == "max":
            return value if state is None or sort_key(value) > sort_key(state) else state
        if type(value) is int:
            state[0] = check_int(state[0] + value)
            state[1] += value
        else:  # a float, or text and blobs read as a number: the sum is a float
            state[2] = True
            state[1] += float(_numeric(value))
        state[3] += 1
        return state


class Grouping:
    """Rows in, group rows out: GROUP BY values, then each aggregate's result."""

    def __init__(self, keys: list, aggregates: list[Aggregate], having=None):
        self.keys = keys  # evaluators over source rows
        self.aggregates = aggregates
        self.having = having  # evaluator over group rows, or None

    def run(self, rows, params: list) -> list:
        keys, aggregates = self.keys, self.aggregates
        groups: dict = {}
        for row in rows:
            key = tuple([e(row, params) for e in keys])
            states = groups.get(key)
            if states is None:
                states = groups[key] = [a.start() for a in aggregates]
            for i, a in enumerate(aggregates):
                if a.argument is None:  # COUNT(*)
                    states[i] += 1
                    continue
                value = a.argument(row, params)
                if value is None:
                    continue
                if a.distinct:
                    states[i].add(value)
                else:
                    states[i] = a.step(states[i], value)
        if not groups and not keys:
            groups[()] = [a.start() for a in aggregates]
        out = []
        for key in sorted(groups, key=lambda k: [sort_key(v) for v in k]):
            row = [*key, *[a.finish(s) for a, s in zip(aggregates, groups[key])]]
            if self.having is None or truth(self.having(row, params)):
                out.append(row)
        return out

    def explain(self) -> list[str]:
        what = f"{len(self.aggregates)} aggregate(s)"
        lines = [f"GROUP BY {len(self.keys)} expression(s), {what}" if self.keys
                 else f"AGGREGATE all rows into one, {what}"]
        if self.having is not None:
            lines.append("FILTER groups by HAVING")
        return lines


def find_aggregate(node):
    """The first aggregate call in node, not looking inside subqueries."""
    if isinstance(node, exp.AggFunc):
        return node
    if isinstance(node, (exp.Subquery, exp.Exists, exp.Select)):
        return None
    for child in node.iter_expressions():
        found = find_aggregate(child)
        if found is not None:
            return found
    return None


class Grouper:
    """Rewrites expressions of a grouped SELECT to read group rows, collecting aggregates."""

    def __init__(self, group_nodes: list, scope):
        self.scope = scope  # of the source rows
        self.signatures = [self.signature(n) for n in group_nodes]
        self.keys = [compile_expr(n, scope) for n in group_nodes]
        self.aggregates: list[Aggregate] = []
        self._aggregate_signatures: list = []

    def signature(self, node) -> tuple[str, list[int]]:
        """The text of node with columns resolved (equal for `a` and `t.a`) and literals
        left as `?`, and the parameters those take: the scanner lifted each literal into
        its own parameter, so `a % 3` in the select list and in GROUP BY differ only there."""
        placeholders: list[int] = []

        def resolved(n):
            field = document_ref(n, self.scope)
            if field is not None:  # info.a and t.info.a alike
                return exp.Var(this=f"c{field[0]}:{'.'.join(field[1])}")
            if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star):
                return exp.column(f"c{self.scope.resolve(n)}")
            if isinstance(n, exp.Placeholder):
                placeholders.append(placeholder_index(n))
                return exp.Placeholder()
            return n
        return node.transform(resolved).sql(), placeholders

    def _match(self, signature, known: list):
        """(index in known, pairs of parameters that must be equal) or None."""
        for i, (text, placeholders) in enumerate(known):
            if text == signature[0]:
                return i, [(a, b) for a, b in zip(signature[1], placeholders) if a != b]
        return None

    def rewrite(self, node):
        """node reading group rows; AlchemyError if it reads a column not grouped."""
        if isinstance(node, (exp.Subquery, exp.Exists, Prepared)):
            return node
        signature = self.signature(node) if node.find(exp.Column) is not None \
            or isinstance(node, exp.AggFunc) else None
        match = self._match(signature, self.signatures) if signature else None
        if match is not None:
            return _slot(match[0], match[1], node.sql())
        if isinstance(node, exp.AggFunc):
            return _slot(len(self.keys) + self._aggregate(node, signature))
        if isinstance(node, exp.Column):
            raise AlchemyError(f"ERR column '{node.sql()}' must appear in GROUP BY or be "
                               f"used in an aggregate function")
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expression):
                node.set(key, self.rewrite(value))
            elif isinstance(value, list):
                node.set(key, [self.rewrite(v) if isinstance(v, exp.Expression) else v
                               for v in value])
        return node

    def _aggregate(self, node, signature: tuple) -> int:
        if signature in self._aggregate_signatures:  # the same call, the same parameters
            return self._aggregate_signatures.index(signature)
        kind = AGGREGATES.get(type(node))
        if kind is None or node.args.get("expressions"):
            raise AlchemyError(f"ERR unsupported aggregate function: {node.sql()}")
        argument = node.this
        distinct = isinstance(argument, exp.Distinct)
        if distinct:
            if len(argument.expressions) != 1:
                raise AlchemyError("ERR DISTINCT aggregates take exactly one argument")
            argument = argument.expressions[0]
        if argument is None or (isinstance(argument, exp.Star) and kind != "count"):
            raise AlchemyError(f"ERR wrong number of arguments to function {kind}()")
        if find_aggregate(argument) is not None:
            raise AlchemyError(f"ERR misuse of aggregate function {kind}()")
        evaluator = None if isinstance(argument, exp.Star) else compile_expr(argument,
                                                                                self.scope)
        self.aggregates.append(Aggregate(kind, evaluator, distinct))
        self._aggregate_signatures.append(signature)
        return len(self.aggregates) - 1

    def grouping(self, having) -> Grouping:
        return Grouping(self.keys, self.aggregates, having)


def _slot(index: int, equal: list = (), text: str = "") -> Prepared:
    """A node reading a group row's slot; `equal` pairs of parameters must hold equal
    values (else the expression only looks like the GROUP BY one)."""
    def build(node, scope, functions):
        if not equal:
            return lambda row, params: row[index]

        def checked(row, params):
            if any(params[a] != params[b] for a, b in equal):
                raise AlchemyError(f"ERR '{text}' must appear in GROUP BY or be used in an "
                                   f"aggregate function")
            return row[index]
        return checked
    return Prepared(build=build)


class GroupedScope:
    """What compiling a rewritten expression sees: every column left is an error (the
    rewrite already replaced the grouped ones)."""

    documents: frozenset = frozenset()

    def resolve(self, column: exp.Column) -> int:
        raise AlchemyError(f"ERR column '{column.sql()}' must appear in GROUP BY or be used "
                           f"in an aggregate function")


# -- answers without a scan ------------------------------------------------------------


class Shortcut:
    """SELECT of COUNT(*), MIN(col), MAX(col) only, no WHERE or GROUP BY: answered from the
    row count and the first or last entry of a tree led by the column."""

    def __init__(self, table_name: str, items: list):
        self.table_name = table_name
        self.items = items  # (kind, index or None): index None is the primary key tree

    def row(self, table) -> list:
        out = []
        for kind, index in self.items:
            if kind == "count":
                out.append(len(table))
                continue
            tree = table.rows if index is None else table.indexes[index].tree
            out.append(_extreme(tree, kind == "max", nullable=index is not None))
        return out

    def explain(self) -> list[str]:
        lines = []
        for kind, index in self.items:
            if kind == "count":
                lines.append(f"COUNT(*) from the row count of {self.table_name}, no scan")
            else:
                where = "PRIMARY KEY" if index is None else f"INDEX {index}"
                end = "last" if kind == "max" else "first"
                lines.append(f"{kind.upper()} from the {end} entry of {where} of "
                             f"{self.table_name}, no scan")
        return lines


def _extreme(tree, last: bool, nullable: bool):
    """The first or last non-NULL leading value of a sorted tree (NULLs sort first)."""
    if last:
        start = tree.first()
    else:
        start = tree.bound((None,), right=True) if nullable else tree.first()
    for entry, _ in tree.iterate(start, tree.end(), last):
        return entry[0]
    return None


def shortcut(table, items: list) -> Shortcut | None:
    """A Shortcut for these select items (nodes, aliases removed), or None."""
    plan = []
    for node in items:
        kind = AGGREGATES.get(type(node))
        if kind == "count" and isinstance(node.this, exp.Star):
            plan.append(("count", None))
            continue
        if kind not in ("min", "max") or not isinstance(node.this, exp.Column) \
                or node.args.get("expressions"):
            return None
        position = table.position(node.this.name)
        if position is None:
            position = next((i for i, c in enumerate(table.columns)
                             if c.name.lower() == node.this.name.lower()), None)
        if position is None:
            return None
        if table.key_positions[0] == position:
            plan.append((kind, None))
            continue
        index = next((name for name, index in table.indexes.items()
                      if index.positions[0] == position), None)
        if index is None:
            return None
        plan.append((kind, index))
    return Shortcut(table.name, plan)
