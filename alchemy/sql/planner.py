"""From a sqlglot tree to a plan: which access path, which filter, which projection.

Access path choice, best first: every primary key column equal (a point, or several for
IN); the index or primary key with the longest run of leading columns compared for equality,
plus a range on the next column; an index or primary key whose order gives ORDER BY; a full
scan. The whole WHERE clause stays as the filter, so a path only narrows, never decides.
"""

import re

from sqlglot import exp

from alchemy.errors import AlchemyError
from alchemy.sql import access
from alchemy.sql.documents import assignments, document_ref
from alchemy.sql.expressions import Scope, compile_count, compile_expr, is_constant, \
    placeholder_index
from alchemy.sql.plans import DeletePlan, InsertPlan, SelectPlan, UpdatePlan
from alchemy.storage.table import Table

_FLIPPED = {exp.LT: exp.GT, exp.GT: exp.LT, exp.LTE: exp.GTE, exp.GTE: exp.LTE,
            exp.EQ: exp.EQ}


def scope_of(table: Table, alias: str | None = None) -> Scope:
    scope = Scope(table.name, [c.name for c in table.columns], alias)
    scope.documents = frozenset(i for i, c in enumerate(table.columns) if c.type == "LUATABLE")
    return scope


def _reference(node, scope: Scope):
    """What an operand names: a column position, a field of a document as (position, path),
    or None (not a column)."""
    ref = document_ref(node, scope)
    if ref is not None:
        return ref
    return scope.resolve(node) if isinstance(node, exp.Column) else None


def _table_ref(node: exp.Expression) -> exp.Table:
    if not isinstance(node, exp.Table):
        raise AlchemyError("ERR only single-table statements are supported here")
    return node


# -- SELECT ---------------------------------------------------------------------------


def plan_select(tree: exp.Select, table: Table) -> SelectPlan:
    from_ = tree.args.get("from_") or tree.args.get("from")
    if from_ is None:
        raise AlchemyError("ERR SELECT needs a FROM clause")
    if tree.args.get("joins"):
        raise AlchemyError("ERR joins are not supported yet")
    ref = _table_ref(from_.this)
    scope = scope_of(table, ref.alias or None)
    where_node = tree.args.get("where")
    where = compile_expr(where_node.this, scope) if where_node else None
    columns, count_star = _projection(tree.expressions, table, scope)
    order_items = _order_items(tree, scope)
    path = choose_access(table, where_node.this if where_node else None, scope, order_items)
    if _decided_by(path, where_node, table, scope):
        where = None
    decided = _decided_by_walk(path, where_node, table, scope) if where is not None else ()
    order = [] if _order_satisfied(path, order_items, scope) else [
        (_order_evaluator(node, scope, columns), desc) for node, desc in order_items]
    return SelectPlan(
        table.name, path, where, columns, order,
        limit=compile_count(tree.args.get("limit"), scope),
        offset=compile_count(tree.args.get("offset"), scope),
        distinct=bool(tree.args.get("distinct")), count_star=count_star,
        ordered=bool(order_items), lua_filter=_lua_names(where_node),
        whole_row=_whole_row(tree.expressions), decided=decided,
        picks=_picks(tree.expressions, scope))


def _whole_row(items: list) -> bool:
    """Is the select list `*` alone, so that each row read is a result row as it is?"""
    return len(items) == 1 and isinstance(items[0], exp.Star)


def _lua_names(node) -> tuple:
    """The Lua functions an expression calls (names that are not SQL functions)."""
    if node is None:
        return ()
    return tuple(dict.fromkeys(call.name for call in node.find_all(exp.Anonymous)))


def _decided_by(path, where_node, table: Table, scope: Scope) -> bool:
    """Is the WHERE clause nothing but the primary key equalities a point lookup applies?
    Then re-checking it on the row found is wasted work."""
    if not isinstance(path, access.KeyPoints) or len(path.keys) != 1:
        return False
    conjuncts = _conjuncts(where_node.this)
    positions = []
    for node in conjuncts:
        if not isinstance(node, exp.EQ):
            return False
        column = node.this if isinstance(node.this, exp.Column) else node.expression
        if not isinstance(column, exp.Column):
            return False
        position = _reference(column, scope)
        if type(position) is not int:  # a field inside a document
            return False
        positions.append(position)
    return sorted(positions) == sorted(table.key_positions)


# Values that compare with a column's values as SQL compares them, per column kind: with
# one of these an equality walk finds exactly the equal entries; with another (text for an
# INT column) it falls back to a scan that the filter must narrow.
_WALKABLE = {"i": frozenset((int, float)), "f": frozenset((int, float)),
             "s": frozenset((str,)), "b": frozenset((bytes,))}


def _decided_by_walk(path, where_node, table: Table, scope: Scope) -> tuple:
    """Is the WHERE clause nothing but `column = value` for the equal leading columns of an
    index (or primary key) walk? Then ((parameter index, value types), ...): when each
    value is of its types, the walk finds exactly the rows the clause selects, and checking
    the clause on each row is wasted work (a child table's rows found by their parent's key
    through the index on it)."""
    if not isinstance(path, access.Range) or not path.prefix or path.low is not None \
            or path.high is not None:
        return ()
    positions = (table.key_positions if path.index is None else path.index.positions)
    leading = positions[:len(path.prefix)]
    found = {}
    for node in _conjuncts(where_node.this):
        if not isinstance(node, exp.EQ):
            return ()
        column, value = node.this, node.expression
        if isinstance(value, exp.Column):
            column, value = value, column
        if not isinstance(column, exp.Column) or not isinstance(value, exp.Placeholder):
            return ()
        position = _reference(column, scope)
        if type(position) is not int or position in found:
            return ()
        found[position] = placeholder_index(value)
    if set(found) != set(leading):  # also refuses a field of a document (a tuple)
        return ()
    kinds = [table.columns[p].kind for p in leading]
    if not all(kind in _WALKABLE for kind in kinds):
        return ()
    return tuple((found[p], _WALKABLE[kind]) for p, kind in zip(leading, kinds))


def _picks(items: list, scope: Scope) -> tuple | None:
    """The row positions the columns read, when each is a column of the table as it is
    (named, maybe aliased; not a path inside a document, not an expression)."""
    nodes = [item.this if isinstance(item, exp.Alias) else item for item in items]
    if not all(type(node) is exp.Column and document_ref(node, scope) is None
               for node in nodes):
        return None
    return tuple(scope.resolve(node) for node in nodes)


def _projection(items: list, table: Table, scope: Scope) -> tuple[list, bool]:
    if len(items) == 1 and isinstance(items[0], exp.Count) \
            and isinstance(items[0].this, exp.Star):
        return [], True
    columns = []
    for item in items:
        if isinstance(item, exp.Star):
            for position, column in enumerate(table.columns):
                columns.append((column.name, _column_getter(position)))
            continue
        name = item.alias_or_name if isinstance(item, (exp.Alias, exp.Column)) \
            and document_ref(item, scope) is None else _title(item)
        node = item.this if isinstance(item, exp.Alias) else item
        if node.find(exp.AggFunc) is not None:
            raise AlchemyError("ERR aggregate functions other than COUNT(*) are not supported yet")
        columns.append((name, compile_expr(node, scope)))
    return columns, False


def _title(node: exp.Expression):
    """An expression column is titled by its text; lifted literals are put back when the
    plan runs (the title is then a function of the parameters). Lua function names keep
    their case (INTERPRET's globals are told apart by it)."""
    text = node.sql(normalize_functions=node.find(exp.Anonymous) is None and "upper")
    if ":p" not in text:
        return text
    return lambda params: _PLACEHOLDER.sub(lambda m: _sql_literal(params[int(m.group(1))]), text)


_PLACEHOLDER = re.compile(r":p(\d+)")


def _sql_literal(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _column_getter(position: int):
    return lambda row, params: row[position]


def _order_items(tree: exp.Select, scope: Scope) -> list:
    order = tree.args.get("order")
    if order is None:
        return []
    items = []
    for ordered in order.expressions:
        items.append((ordered.this, bool(ordered.args.get("desc"))))
    return items


def _order_evaluator(node, scope: Scope, columns: list):
    """ORDER BY an expression, or by a result column's number (`ORDER BY 2`): the number
    was lifted into a parameter, so the column is picked when the plan runs."""
    if not isinstance(node, exp.Placeholder):
        return compile_expr(node, scope)
    index = placeholder_index(node)

    def by_position(row, params):
        number = params[index]
        if type(number) is not int or not 1 <= number <= len(columns):
            raise AlchemyError(f"ERR ORDER BY term out of range - should be between 1 and "
                               f"{len(columns)}")
        return columns[number - 1][1](row, params)
    return by_position


def _order_satisfied(path, order_items: list, scope: Scope) -> bool:
    if not order_items:
        return True
    directions = {desc for _, desc in order_items}
    if len(directions) != 1 or not isinstance(path, (access.Range, access.FullScan)):
        return False
    return _order_matches(order_items, path.ordered_by, scope) \
        and path.reverse == directions.pop()


# -- access path choice -----------------------------------------------------------------


def _conjuncts(node) -> list:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _predicates(where, scope: Scope) -> dict:
    """column position -> list of (kind, value nodes): kind is =, <, <=, >, >=, in."""
    found: dict = {}
    for node in _conjuncts(where):
        kind = type(node)
        if kind in _FLIPPED:
            left, right = node.this, node.expression
            if isinstance(right, (exp.Column, exp.Dot)) and is_constant(left):
                left, right, kind = right, left, _FLIPPED[kind]
            if _reference(left, scope) is not None and is_constant(right):
                found.setdefault(_reference(left, scope), []).append((kind, [right]))
        elif kind is exp.Between and _reference(node.this, scope) is not None \
                and is_constant(node.args["low"]) and is_constant(node.args["high"]):
            position = _reference(node.this, scope)
            found.setdefault(position, []).append((exp.GTE, [node.args["low"]]))
            found.setdefault(position, []).append((exp.LTE, [node.args["high"]]))
        elif kind is exp.In and _reference(node.this, scope) is not None \
                and not node.args.get("query") and all(map(is_constant, node.expressions)):
            found.setdefault(_reference(node.this, scope), []).append((exp.In, node.expressions))
    return found


def choose_access(table: Table, where, scope: Scope, order_items: list = ()):
    predicates = _predicates(where, scope)
    compile_value = lambda node: compile_expr(node, scope)  # noqa: E731
    key = table.key_positions
    equal = {p: v[0] for p, kinds in predicates.items() for k, v in kinds if k is exp.EQ}
    if all(p in equal for p in key):
        return access.KeyPoints([[compile_value(equal[p]) for p in key]])
    if len(key) == 1:
        for kind, values in predicates.get(key[0], ()):
            if kind is exp.In:
                return access.KeyPoints([[compile_value(v)] for v in values])
    candidates = [(None, key)] + [(index, index.positions) for index in table.indexes.values()]
    best, best_score = None, 0
    for index, positions in candidates:
        prefix = []
        for p in positions:
            if p not in equal:
                break
            prefix.append(p)
        bounds = _range_bounds(predicates.get(positions[len(prefix)], ())) \
            if len(prefix) < len(positions) else (None, None)
        score = 4 * len(prefix) + (2 if bounds != (None, None) else 0) + (index is None)
        if (prefix or bounds != (None, None)) and score > best_score:
            best, best_score = (index, positions, prefix, bounds), score
    if best is None:
        for index in table.indexes.values():
            for kind, values in predicates.get(index.positions[0], ()):
                if kind is exp.In:
                    return access.Union([access.Range(index, [compile_value(v)])
                                         for v in values])
    if best is not None:
        index, positions, prefix, bounds = best
        ordered = _ordered_by(table, positions, len(prefix))
        reverse = bool(order_items) and all(desc for _, desc in order_items) \
            and _order_matches(order_items, ordered, scope)
        (low, low_incl), (high, high_incl) = _bound_evaluators(bounds, compile_value)
        return access.Range(index, [compile_value(equal[p]) for p in prefix], low, low_incl,
                            high, high_incl, reverse, ordered)
    return _ordered_scan(table, order_items, scope)


def _range_bounds(kinds: list) -> tuple:
    low = high = None
    for kind, values in kinds:
        if kind in (exp.GT, exp.GTE) and low is None:
            low = (values[0], kind is exp.GTE)
        elif kind in (exp.LT, exp.LTE) and high is None:
            high = (values[0], kind is exp.LTE)
    return low, high


def _bound_evaluators(bounds: tuple, compile_value) -> tuple:
    return tuple((None, True) if b is None else (compile_value(b[0]), b[1]) for b in bounds)


def _ordered_by(table: Table, positions: list, skip: int) -> tuple:
    """Column names in the order a walk of this tree returns rows, past its equal prefix."""
    names = [_position_name(table, p) for p in positions[skip:]]
    if positions is not table.key_positions:
        names += [table.columns[p].name.lower() for p in table.key_positions]
    return tuple(names)


def _position_name(table: Table, position) -> str | tuple:
    """How ORDER BY names a column (lower case), or a document field ((position, path))."""
    return position if type(position) is tuple else table.columns[position].name.lower()


def _order_matches(order_items, ordered: tuple, scope: Scope) -> bool:
    names = []
    for node, _ in order_items:
        name = document_ref(node, scope)
        if name is None and isinstance(node, exp.Column):
            name = node.name.lower()
        if name is None:
            return False
        names.append(name)
    return ordered[:len(names)] == tuple(names)


def _ordered_scan(table: Table, order_items: list, scope: Scope):
    """No usable predicate: walk a tree in ORDER BY order if one has it, so LIMIT can stop."""
    if order_items:
        descending = {desc for _, desc in order_items}
        if len(descending) == 1:
            reverse = descending.pop()
            for index, positions in [(None, table.key_positions)] + \
                    [(i, i.positions) for i in table.indexes.values()]:
                ordered = _ordered_by(table, positions, 0)
                if _order_matches(order_items, ordered, scope):
                    if index is None:
                        return access.FullScan(reverse, ordered)
                    return access.Range(index, [], reverse=reverse, ordered_by=ordered)
    return access.FullScan(False, _ordered_by(table, table.key_positions, 0))


# -- INSERT, UPDATE, DELETE -------------------------------------------------------------


def plan_insert(tree: exp.Insert, table: Table, replace: bool) -> InsertPlan:
    target = tree.this
    if isinstance(target, exp.Schema):
        names = [i.name for i in target.expressions]
        positions = []
        for name in names:
            position = table.position(name)
            if position is None:
                raise AlchemyError(f"ERR table '{table.name}' has no column named '{name}'")
            positions.append(position)
    else:
        positions = list(range(len(table.columns)))
    values = tree.expression
    if not isinstance(values, exp.Values):
        raise AlchemyError("ERR INSERT needs VALUES (...)")
    scope = scope_of(table)
    rows = []
    for row in values.expressions:
        items = row.expressions if isinstance(row, exp.Tuple) else [row]
        if len(items) != len(positions):
            raise AlchemyError(f"ERR table '{table.name}' has {len(positions)} columns but "
                               f"{len(items)} values were supplied")
        rows.append([compile_expr(item, scope) for item in items])
    first = values.expressions[0]
    per_row = sum(1 for _ in first.find_all(exp.Placeholder))
    duplicate = []
    conflict = tree.args.get("conflict")
    if conflict is not None:
        duplicate = assignments(conflict.args.get("expressions") or [], scope,
                                lambda node: _assignment(node, table, scope), table)
    items = first.expressions if isinstance(first, exp.Tuple) else [first]
    placeholders = None
    if len(rows) == 1 and all(type(item) is exp.Placeholder for item in items) \
            and tree.find(exp.Anonymous) is None:
        placeholders = [placeholder_index(item) for item in items]
    return InsertPlan(table.name, positions, rows, per_row, replace, duplicate, placeholders)


def _assignment(node: exp.Expression, table: Table, scope: Scope) -> tuple:
    if not isinstance(node, exp.EQ) or not isinstance(node.this, exp.Column):
        raise AlchemyError(f"ERR expected column = value, got {node.sql()}")
    position = scope.resolve(node.this)
    return position, compile_expr(node.expression, scope)


def plan_update(tree: exp.Update, table: Table) -> UpdatePlan:
    scope = scope_of(table, tree.this.alias or None)
    where_node = tree.args.get("where")
    where = compile_expr(where_node.this, scope) if where_node else None
    path = choose_access(table, where_node.this if where_node else None, scope)
    if _decided_by(path, where_node, table, scope):
        where = None
    changes = assignments(tree.expressions, scope,
                          lambda node: _assignment(node, table, scope), table)
    return UpdatePlan(table.name, path, where, changes)


def plan_delete(tree: exp.Delete, table: Table) -> DeletePlan:
    scope = scope_of(table, tree.this.alias or None)
    where_node = tree.args.get("where")
    where = compile_expr(where_node.this, scope) if where_node else None
    path = choose_access(table, where_node.this if where_node else None, scope)
    if _decided_by(path, where_node, table, scope):
        where = None
    return DeletePlan(table.name, path, where)
