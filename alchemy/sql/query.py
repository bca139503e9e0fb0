"""SELECTs beyond one table's rows: joins, aggregates, subqueries; INSERT ... SELECT and
CREATE TABLE ... AS SELECT.

A single-table SELECT without these keeps planner.plan_select's plan (its point lookup is
the hot path). Everything else is a QueryPlan, one pipeline:

    joined rows (joins.JoinSource, one table or many)
      -> groups (aggregates.Grouping), HAVING
      -> projection: the select list, then ORDER BY keys not in it (hidden columns)
      -> DISTINCT -> ORDER BY -> OFFSET / LIMIT

Without ORDER BY, DISTINCT or grouping the pipeline is lazy, so LIMIT stops the join early.

Subqueries are not correlated: each runs once per execution, before the outer statement,
and its result (a set for IN, a value for a scalar subquery, a flag for EXISTS) is read
through a Prepared node, so the plan of the outer statement is cached with the subquery's.
"""

import re
from dataclasses import dataclass, field
from operator import itemgetter

from sqlglot import exp

from alchemy.errors import AlchemyError
from alchemy.sql import planner
from alchemy.sql.aggregates import GroupedScope, Grouper, Shortcut, find_aggregate, shortcut
from alchemy.sql.documents import document_ref
from alchemy.sql.expressions import Prepared, compile_count, compile_expr, placeholder_index, \
    sort_key
from alchemy.sql.joins import JoinSource, Source, conjuncts, plan_join, sources_of
from alchemy.sql.plans import InsertPlan, Rows, SelectPlan, Titles, _undo, _written, table_of
from alchemy.sql.schema import coerce


def plan_select(tree: exp.Select, db):
    """The plan of any SELECT: the single-table plan when it is enough, else a QueryPlan."""
    if not isinstance(tree, exp.Select):
        raise AlchemyError("ERR only SELECT statements can be queried (no UNION yet)")
    from_ = tree.args.get("from_") or tree.args.get("from")
    if from_ is None:
        raise AlchemyError("ERR SELECT needs a FROM clause")
    if not tree.expressions:  # sqlglot reads `SELECT FROM t` as a query of nothing
        raise AlchemyError("ERR syntax error: SELECT names no column (SELECT * FROM t)")
    if _simple(tree):
        return planner.plan_select(tree, table_of(db, from_.this.name))
    return _plan_query(tree, db)


def _simple(tree: exp.Select) -> bool:
    if tree.args.get("joins") or tree.args.get("group") or tree.args.get("having"):
        return False
    if any(isinstance(n, (exp.Subquery, exp.Exists)) for n in tree.find_all(exp.Subquery,
                                                                              exp.Exists)):
        return False
    items = tree.expressions
    count_star = len(items) == 1 and isinstance(items[0], exp.Count) \
        and isinstance(items[0].this, exp.Star)
    if not count_star and any(find_aggregate(item) is not None for item in items):
        return False
    where = tree.args.get("where")
    if where is not None and find_aggregate(where) is not None:
        return False  # an error, which the QueryPlan's planner words
    if any(isinstance(i, exp.Column) and isinstance(i.this, exp.Star) for i in items):
        return False
    aliases = {i.alias.lower() for i in items if isinstance(i, exp.Alias)}
    order = tree.args.get("order")
    return not order or not any(
        isinstance(o.this, exp.Column) and not o.this.table and o.this.name.lower() in aliases
        for o in order.expressions)


# -- the plan ---------------------------------------------------------------------------


@dataclass
class Subquery:
    plan: object
    kind: str  # "in", "scalar" or "exists"
    cell: list = field(default_factory=lambda: [None])

    def fill(self, db, params: list) -> None:
        result = self.plan.run(db, params)
        if self.kind == "exists":
            self.cell[0] = bool(result.rows)
            return
        if len(result.header) != 1:
            raise AlchemyError(f"ERR sub-select returns {len(result.header)} columns - "
                               f"expected 1")
        if self.kind == "scalar":
            self.cell[0] = result.rows[0][0] if result.rows else None
            return
        values = {row[0] for row in result.rows}
        has_null = None in values
        values.discard(None)
        self.cell[0] = (values, has_null)


@dataclass
class QueryPlan:
    source: JoinSource | None
    subqueries: list
    grouping: object  # aggregates.Grouping or None
    names: list  # column titles: text, or a function of the parameters
    evaluators: list  # visible columns, then hidden ORDER BY keys
    types: list  # each visible column's table column type, when it is a plain column
    order: list  # (("column", index) or ("position", parameter), descending)
    limit: object = None
    offset: object = None
    distinct: bool = False
    shortcut: Shortcut | None = None
    pick: object = None  # rows -> output rows, when every column is a plain one (made once)
    alone = False  # runs without lua_calls.statement (SqlEngine.run): no Lua call in it
    # (output column, source, position) of text columns only shown: no condition, order,
    # grouping or computation reads them (see text_as_bytes)
    shown_texts: tuple = ()

    def __post_init__(self):
        self.titles = Titles(self.names)

    def run(self, db, params: list) -> Rows:
        for sub in self.subqueries:
            sub.fill(db, params)
        titles = self.titles
        if self.shortcut is not None:
            return titles.rows(params, [self.shortcut.row(table_of(db,
                                                                   self.shortcut.table_name))])
        limit = None if self.limit is None else SelectPlan._number(self.limit, params, "LIMIT")
        offset = 0 if self.offset is None else \
            SelectPlan._number(self.offset, params, "OFFSET")
        rows = self.source.rows(db, params)
        if self.grouping is not None:
            rows = self.grouping.run(rows, params)
        width = len(self.names)
        rows = self.pick(rows) if self.pick else map(self._evaluating(params), rows)
        if not self.order and not self.distinct:
            # Without ORDER BY no hidden columns: rows are width.
            return titles.rows(params, list(rows) if not offset and limit is None
                               else _window(rows, offset, limit, width))
        out = list(rows)
        if self.distinct:
            seen, unique = set(), []
            for row in out:
                marker = tuple(row[:width])
                if marker not in seen:
                    seen.add(marker)
                    unique.append(row)
            out = unique
        for index, descending in reversed(self._order_columns(params, width)):
            out.sort(key=lambda row: sort_key(row[index]), reverse=descending)
        return titles.rows(params, _window(out, offset, limit, width))

    def text_as_bytes(self) -> None:
        """Read the text columns that are only shown as their UTF-8 bytes, which is what
        a network client is sent: decoding them, then encoding them again, cost a
        ten-row join a tenth of its instructions. Rows.rows decodes them for the other
        readers. For a statement's own plan only, not a subquery's."""
        raw: dict = {}
        for _, source, position in self.shown_texts:
            raw.setdefault(source, set()).add(position)
        if raw:
            self.source.read_only(raw)
            self.titles.undecoded = tuple(index for index, _, _ in self.shown_texts)

    def _evaluating(self, params: list):
        """row -> output row (visible and hidden columns), evaluating each."""
        evaluators = self.evaluators
        return lambda row: [e(row, params) for e in evaluators]

    def _order_columns(self, params: list, width: int) -> list:
        columns = []
        for (kind, value), descending in self.order:
            if kind == "position":
                number = params[value]
                if type(number) is not int or not 1 <= number <= width:
                    raise AlchemyError(f"ERR ORDER BY term out of range - should be between 1 "
                                       f"and {width}")
                value = number - 1
            columns.append((value, descending))
        return columns

    def explain(self, db) -> list[str]:
        lines = []
        for i, sub in enumerate(self.subqueries, 1):
            lines.append(f"SUBQUERY {i} ({sub.kind}), run once before the statement:")
            lines.extend("  " + line for line in sub.plan.explain(db))
        if self.shortcut is not None:
            return lines + self.shortcut.explain()
        lines.extend(self.source.explain())
        if self.grouping is not None:
            lines.extend(self.grouping.explain())
        if self.distinct:
            lines.append("DISTINCT rows")
        if self.order:
            lines.append("SORT rows for ORDER BY")
        if self.limit is not None:
            lines.append("LIMIT stops the walk early" if not self.order and not self.distinct
                         and self.grouping is None else "LIMIT after sorting")
        return lines


def _picker(positions: list):
    """rows -> tuples of the values at positions of each, made in C (no Python call per
    row). Nothing changes an output row, so tuples, not lists."""
    getter = itemgetter(*positions)
    if len(positions) == 1:  # the value itself: zip makes it a 1-tuple
        return lambda rows: zip(map(getter, rows))
    return lambda rows: map(getter, rows)


def _window(rows, offset: int, limit, width: int) -> list:
    if not offset and limit is None:
        return [row if len(row) == width else row[:width] for row in rows]
    out = []
    for row in rows:
        if offset:
            offset -= 1
            continue
        if limit is not None and len(out) >= limit:
            break
        out.append(row if len(row) == width else row[:width])
    return out


# -- planning ---------------------------------------------------------------------------


def _plan_query(tree: exp.Select, db) -> QueryPlan:
    sources, pooled = sources_of(tree, db)
    where = tree.args.get("where")
    subqueries: list[Subquery] = []
    pooled = [_lift_subqueries(node, db, subqueries) for node in
              conjuncts(where.this if where else None) + pooled]
    for source in sources:
        source.on = [_lift_subqueries(node, db, subqueries) for node in source.on]
    for node in pooled + [n for s in sources for n in s.on]:
        if find_aggregate(node) is not None:
            raise AlchemyError("ERR aggregate functions are not allowed in WHERE or ON")
    join = plan_join(sources, pooled)
    scope = join.scope
    read_by_conditions = {source: set(source.read) for source in sources}
    items = _expand_stars(tree.expressions, sources)
    names = [_name(item) for item in items]
    nodes = [item.this if isinstance(item, exp.Alias) else item for item in items]
    types = [_column_type(node, scope) for node in nodes]
    aliases = {item.alias.lower(): i for i, item in enumerate(items)
               if isinstance(item, exp.Alias)}
    group = tree.args.get("group")
    having = tree.args.get("having")
    order = tree.args.get("order")
    order_nodes = [o.this for o in order.expressions] if order else []
    grouped = bool(group) or having is not None or any(
        find_aggregate(n) is not None for n in nodes + order_nodes)
    plan = QueryPlan(join, subqueries, None, names, [], types, [],
                     distinct=bool(tree.args.get("distinct")))
    limit, offset = tree.args.get("limit"), tree.args.get("offset")
    plan.limit, plan.offset = compile_count(limit, scope), compile_count(offset, scope)
    if grouped and len(sources) == 1 and not pooled and not group and having is None \
            and not order_nodes and limit is None and offset is None and not plan.distinct:
        plan.shortcut = shortcut(sources[0].table, nodes)
        if plan.shortcut is not None:
            return plan
    compile_scope = scope
    if grouped:
        group_nodes = [_group_node(n, items, aliases, scope)
                       for n in (group.expressions if group else [])]
        grouper = Grouper(group_nodes, scope)
        nodes = [grouper.rewrite(n) for n in nodes]
        having_node = None if having is None else grouper.rewrite(
            _with_aliases(having.this, items, aliases, scope))
        order_plan = _order_plan(order, aliases, len(nodes), grouper.rewrite)
        compile_scope = GroupedScope()
        having_eval = None if having_node is None else compile_expr(
            _lift_subqueries(having_node, db, subqueries), compile_scope)
        plan.grouping = grouper.grouping(having_eval)
    else:
        order_plan = _order_plan(order, aliases, len(nodes), lambda n: n)
    hidden = [node for node, _ in order_plan if isinstance(node, exp.Expression)]
    plan.evaluators = [compile_expr(_lift_subqueries(n, db, subqueries), compile_scope)
                       for n in nodes + hidden]
    if not grouped and all(type(n) is exp.Column and document_ref(n, scope) is None
                           for n in nodes + hidden):
        plan.pick = _picker([scope.resolve(n) for n in nodes + hidden])
        if not order_plan and not plan.distinct:
            plan.shown_texts = _shown_texts(nodes, scope, read_by_conditions)
    plan.order = _order_slots(order_plan, len(nodes))
    join.read_only()
    return plan


def _shown_texts(nodes: list, scope, read_by_conditions: dict) -> tuple:
    """QueryPlan.shown_texts of output columns (plain columns, in order) read by nothing
    but the output (key columns are not decoded anyway)."""
    shown = []
    for index, node in enumerate(nodes):
        source = scope.source_of(node)
        position = source.positions[node.name.lower()]
        if source.table.columns[position].kind == "s" \
                and position not in read_by_conditions[source] \
                and position not in source.table.key_positions:
            shown.append((index, source, position))
    return tuple(shown)


def _expand_stars(items: list, sources: list[Source]) -> list:
    out = []
    for item in items:
        star = isinstance(item, exp.Star) or (isinstance(item, exp.Column)
                                              and isinstance(item.this, exp.Star))
        if not star:
            out.append(item)
            continue
        qualifier = item.table.lower() if isinstance(item, exp.Column) else ""
        chosen = [s for s in sources if not qualifier or s.name.lower() == qualifier]
        if not chosen:
            raise AlchemyError(f"ERR no such table: {item.table}")
        for source in chosen:
            for column in source.table.columns:
                out.append(exp.column(column.name, table=source.name, quoted=True))
    return out


def _name(item):
    if isinstance(item, (exp.Alias, exp.Column)):
        return item.alias_or_name
    return planner._title(item)


def _column_type(node, scope) -> str | None:
    if not isinstance(node, exp.Column) or document_ref(node, scope) is not None:
        return None
    source = scope.source_of(node)
    return source.table.columns[source.positions[node.name.lower()]].type


def _group_node(node, items: list, aliases: dict, scope):
    """A GROUP BY item: an expression, or the name of a select alias."""
    if isinstance(node, exp.Placeholder):
        raise AlchemyError("ERR GROUP BY a column number is not supported: name the column")
    return _with_aliases(node, items, aliases, scope)


def _with_aliases(node, items: list, aliases: dict, scope):
    """node with names of select aliases that are not table columns replaced by the aliased
    expressions (GROUP BY and HAVING may name them, as SQLite allows)."""
    def replace(n):
        if isinstance(n, exp.Column) and not n.table and n.name.lower() in aliases:
            try:
                scope.resolve(n)
            except AlchemyError:
                return items[aliases[n.name.lower()]].this.copy()
        return n
    return node.transform(replace)


def _order_plan(order, aliases: dict, width: int, rewrite) -> list:
    """Per ORDER BY item: (output column index, a parameter index for `ORDER BY 2`, or an
    expression to compute as a hidden column), descending."""
    plan = []
    for ordered in order.expressions if order else []:
        node = ordered.this
        descending = bool(ordered.args.get("desc"))
        if isinstance(node, exp.Placeholder):
            plan.append((("position", placeholder_index(node)), descending))
        elif isinstance(node, exp.Column) and not node.table and node.name.lower() in aliases:
            plan.append((aliases[node.name.lower()], descending))
        else:
            plan.append((rewrite(node), descending))
    return plan


def _order_slots(order_plan: list, width: int) -> list:
    slots, hidden = [], width
    for target, descending in order_plan:
        if isinstance(target, exp.Expression):
            slots.append((("column", hidden), descending))
            hidden += 1
        elif isinstance(target, int):
            slots.append((("column", target), descending))
        else:
            slots.append((target, descending))
    return slots


# -- subqueries -------------------------------------------------------------------------


def _lift_subqueries(node, db, subqueries: list):
    """node with each subquery replaced by a Prepared node reading its result."""
    if isinstance(node, exp.In) and node.args.get("query") is not None:
        sub = _subquery(node.args["query"], db, "in", subqueries)
        value = _lift_subqueries(node.this, db, subqueries)
        return Prepared(this=value, build=lambda n, scope, f: _member(
            compile_expr(n.this, scope, f), sub.cell))
    if isinstance(node, exp.Exists):
        sub = _subquery(node.this, db, "exists", subqueries)
        return Prepared(build=lambda n, scope, f: lambda row, params: int(sub.cell[0]))
    if isinstance(node, exp.Subquery):
        sub = _subquery(node, db, "scalar", subqueries)
        return Prepared(build=lambda n, scope, f: lambda row, params: sub.cell[0])
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(key, _lift_subqueries(value, db, subqueries))
        elif isinstance(value, list):
            node.set(key, [_lift_subqueries(v, db, subqueries)
                           if isinstance(v, exp.Expression) else v for v in value])
    return node


def _subquery(node, db, kind: str, subqueries: list) -> Subquery:
    select = node.this if isinstance(node, exp.Subquery) else node
    try:
        sub = Subquery(plan_select(select, db), kind)
    except AlchemyError as e:
        if str(e).startswith("ERR no such column"):  # most likely a column of the outer query
            raise AlchemyError(f"{e} (a subquery cannot use the outer query's columns)") \
                from None
        raise
    subqueries.append(sub)
    return sub


def _member(value, cell: list):
    """x IN (SELECT ...): 1, 0, or NULL when x is NULL (and the set is not empty) or the
    answer is unknown (the set holds a NULL and no equal value)."""
    def evaluate(row, params):
        v = value(row, params)
        values, has_null = cell[0]
        if not values and not has_null:
            return 0  # nothing is in an empty set, not even NULL
        if v is None:
            return None
        if v in values:
            return 1
        return None if has_null else 0
    return evaluate


# -- INSERT ... SELECT and CREATE TABLE ... AS SELECT ------------------------------------


@dataclass
class InsertSelectPlan:
    query: object
    insert: InsertPlan

    def run(self, db, params: list):
        """All rows are read first (so a table can be inserted into from itself), then
        inserted; a failure takes back every row inserted before it."""
        rows = self.query.run(db, params).rows
        table = table_of(db, self.insert.table_name)
        values = self.insert.rows[0]
        done: list = []
        try:
            for row in rows:
                self.insert._insert_one(table, values, row, done)
        except AlchemyError:
            _undo(table, done)
            raise
        return _written(table, done, len(done))

    def explain(self, db) -> list[str]:
        return [f"INSERT INTO {self.insert.table_name} the rows of:"] + \
            ["  " + line for line in self.query.explain(db)]


def plan_insert_select(tree: exp.Insert, db, replace: bool) -> InsertSelectPlan:
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    table = table_of(db, target.name)
    query = plan_select(tree.expression, db)
    if isinstance(tree.this, exp.Schema):
        positions = []
        for identifier in tree.this.expressions:
            position = table.position(identifier.name)
            if position is None:
                raise AlchemyError(f"ERR table '{table.name}' has no column named "
                                   f"'{identifier.name}'")
            positions.append(position)
    else:
        positions = list(range(len(table.columns)))
    width = len(query.names) if isinstance(query, QueryPlan) else len(query.columns) or 1
    if width != len(positions):
        raise AlchemyError(f"ERR table '{table.name}' has {len(positions)} columns but the "
                           f"SELECT gives {width}")
    values = [_parameter(i) for i in range(width)]
    return InsertSelectPlan(query, InsertPlan(table.name, positions, [values], width, replace))


def _parameter(i: int):
    return lambda row, params: params[i]


def create_table_as(db, tree: exp.Create, create_table) -> object:
    """CREATE TABLE t AS SELECT ...: columns named and typed after the result (a table
    column keeps its type; an expression takes the type of its values), the first column
    the primary key. Nothing is created if a row cannot be stored."""
    name = tree.this.name
    existing = db.get(name.lower().encode())
    if not isinstance(tree.expression, exp.Select):
        raise AlchemyError("ERR CREATE TABLE ... AS needs a SELECT")
    query = _plan_query(tree.expression, db)
    result = query.run(db, [])
    if existing is not None:  # an error, or nothing to do under IF NOT EXISTS
        return create_table(db, _schema(tree, result.header, ["TEXT"] * len(result.header)))
    types = [t or _value_type([row[i] for row in result.rows])
             for i, t in enumerate(query.types)]
    done = create_table(db, _schema(tree, result.header, types))
    table = table_of(db, name)
    try:
        for row in result.rows:
            table.insert([coerce(v, c, table.name) for v, c in zip(row, table.columns)])
    except AlchemyError as e:
        db.delete(name.lower().encode())
        raise AlchemyError(f"{e} (the first column is the primary key of the new table)") \
            from None
    return done


def _schema(tree: exp.Create, names: list, types: list) -> exp.Create:
    columns = [exp.ColumnDef(this=exp.to_identifier(n, quoted=True),
                             kind=exp.DataType.build(t)) for n, t in zip(names, types)]
    return exp.Create(this=exp.Schema(this=tree.this, expressions=columns), kind="TABLE",
                      exists=tree.args.get("exists"))


def _value_type(values: list) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int}:
        return "INT"
    if kinds and kinds <= {int, float}:
        return "FLOAT"
    if kinds == {bytes}:
        return "BLOB"
    return "TEXT"



# AlchemyDB quoted the table list and the WHERE clause as one argument each:
# SELECT ... FROM "division, worker" WHERE "division.id = worker.division AND ...".
_QUOTED_CLAUSE = re.compile(
    r"'(?:[^']|'')*'"  # a string literal: kept as it is, whatever it holds
    r'|\b(FROM|WHERE)(\s+)"([^"]*[,=<>][^"]*|[^"]*\s(?:BETWEEN|IN|LIKE|IS)\s[^"]*)"',
    re.IGNORECASE)


def alchemydb_spelling(text: str) -> str:
    """text with AlchemyDB's quoted FROM list and WHERE clause unquoted (a quoted name
    holding a comma or a comparison is taken for one)."""
    return _QUOTED_CLAUSE.sub(
        lambda m: m.group(0) if m.group(1) is None else f"{m.group(1)}{m.group(2)}{m.group(3)}",
        text)
