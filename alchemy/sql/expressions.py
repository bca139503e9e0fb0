"""SQL expressions compiled to Python closures, with SQLite's value semantics.

`compile_expr(node, scope)` turns a sqlglot expression into `f(row, params) -> value` once
per plan, so executing a cached plan walks no syntax tree. Semantics follow SQLite for the
types Alchemy has: NULL propagates through arithmetic and comparisons (and AND/OR use
three-valued logic), integers and floats compare numerically, numbers sort before text and
text before blobs, integer overflow is an error, division by zero gives NULL, LIKE is
case-insensitive for ASCII with % and _ wildcards.
"""

import re
from typing import Callable

from sqlglot import exp

from alchemy.errors import AlchemyError
from alchemy.sql.documents import document_ref, path_evaluator, table_document_of
from alchemy.sql.lua_calls import lua_call
from alchemy.util import STAR, wildcard_matcher

Evaluator = Callable[[list, list], object]

INT_MIN, INT_MAX = -2**63, 2**63 - 1


class Scope:
    """Resolves column names of one table to positions in its rows."""

    documents: frozenset = frozenset()  # positions of LUATABLE columns (paths inside them)

    def __init__(self, table_name: str, column_names: list[str], alias: str | None = None):
        self.table_name = table_name
        self.alias = alias
        self.positions = {name.lower(): i for i, name in enumerate(column_names)}

    def document_of(self, names: list) -> tuple | None:
        return table_document_of(self, names)

    def resolve(self, column: exp.Column) -> int:
        qualifier = column.table
        if qualifier and qualifier.lower() not in (self.table_name.lower(),
                                                   (self.alias or "").lower()):
            raise AlchemyError(f"ERR no such column: {column.sql()}")
        position = self.positions.get(column.name.lower())
        if position is None:
            raise AlchemyError(f"ERR no such column: {column.sql()}")
        return position


def storage_class(value) -> int:
    """SQLite's sort order of types: NULL < numbers < text < blob."""
    if value is None:
        return 0
    kind = type(value)
    if kind is int or kind is float or kind is bool:
        return 1
    if kind is str:
        return 2
    return 3


def compare(a, b) -> int | None:
    """-1, 0 or 1, or None when either side is NULL."""
    if a is None or b is None:
        return None
    ca, cb = storage_class(a), storage_class(b)
    if ca != cb:
        return -1 if ca < cb else 1
    # NaN is neither less, greater nor equal: unknown, as NULL (SQLite stores NaN as NULL).
    return -1 if a < b else (1 if a > b else (0 if a == b else None))


def sort_key(value):
    """A key that orders values as SQL does (NULL first), whatever their types."""
    return (storage_class(value), value if value is not None else 0)


def truth(value) -> bool | None:
    """SQL truth of a value: NULL stays unknown; numbers are true when non-zero."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value != 0
    try:
        return float(value) != 0
    except (TypeError, ValueError):
        return False


def check_int(value):
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise AlchemyError("ERR integer overflow")
    return value


def _numeric(value):
    if value is None or type(value) in (int, float):
        return value
    if type(value) is bool:
        return int(value)
    try:
        text = value.decode() if isinstance(value, bytes) else value
        return int(text) if re.fullmatch(r"\s*[-+]?\d+\s*", text) else float(text)
    except (ValueError, AttributeError):
        return 0


def _arith(op: str):
    def apply(a, b):
        if a is None or b is None:
            return None
        a, b = _numeric(a), _numeric(b)
        if op == "+":
            return check_int(a + b)
        if op == "-":
            return check_int(a - b)
        if op == "*":
            return check_int(a * b)
        if b == 0:
            return None
        if op == "/":
            if type(a) is int and type(b) is int:
                q = abs(a) // abs(b)
                return check_int(q if (a >= 0) == (b >= 0) else -q)
            return a / b
        if type(a) is int and type(b) is int:  # %: sign of the dividend, as in C
            r = abs(a) % abs(b)
            return r if a >= 0 else -r
        return _fmod(a, b)
    return apply


def _fmod(a: float, b: float):
    import math
    return math.fmod(a, b)


_COMPARISONS = {
    exp.EQ: lambda c: c == 0, exp.NEQ: lambda c: c != 0, exp.LT: lambda c: c < 0,
    exp.LTE: lambda c: c <= 0, exp.GT: lambda c: c > 0, exp.GTE: lambda c: c >= 0,
}
_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}


def like_matcher(pattern: str):
    """LIKE: % any run, _ any one character, ASCII case ignored (as SQLite does)."""
    tokens = [STAR if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return wildcard_matcher(tokens, re.IGNORECASE | re.DOTALL)


def _as_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return str(value)


def compile_expr(node: exp.Expression, scope: Scope, functions=None) -> Evaluator:
    """Compile node; `functions` maps lower-case names of extra functions to callables."""
    kind = type(node)
    if kind is exp.Column or kind is exp.Dot:
        ref = document_ref(node, scope)
        if ref is not None:
            return path_evaluator(*ref)
    if kind is exp.Column:
        position = scope.resolve(node)
        return lambda row, params: row[position]
    if kind is exp.Placeholder:
        index = placeholder_index(node)
        return lambda row, params: params[index]
    if kind is exp.Literal:
        value = _literal(node)
        return lambda row, params: value
    if kind is exp.Null:
        return lambda row, params: None
    if kind is exp.Boolean:
        value = 1 if node.this else 0
        return lambda row, params: value
    if kind is exp.Paren:
        return compile_expr(node.this, scope, functions)
    if kind in _COMPARISONS:
        return _compile_comparison(node, scope, functions, _COMPARISONS[kind])
    if kind in _ARITHMETIC:
        left = compile_expr(node.this, scope, functions)
        right = compile_expr(node.expression, scope, functions)
        apply = _arith(_ARITHMETIC[kind])
        return lambda row, params: apply(left(row, params), right(row, params))
    if kind is exp.Neg:
        inner = compile_expr(node.this, scope, functions)
        return lambda row, params: (None if (v := inner(row, params)) is None
                                    else check_int(-_numeric(v)))
    if kind is exp.And or kind is exp.Or:
        return _compile_logic(node, scope, functions)
    if kind is exp.Not:
        inner = compile_expr(node.this, scope, functions)
        return lambda row, params: (None if (t := truth(inner(row, params))) is None
                                    else int(not t))
    if kind is exp.Is:
        inner = compile_expr(node.this, scope, functions)
        if not isinstance(node.expression, exp.Null):
            raise AlchemyError("ERR only IS NULL and IS NOT NULL are supported")
        return lambda row, params: int(inner(row, params) is None)
    if kind is exp.Between:
        return _compile_between(node, scope, functions)
    if kind is exp.In:
        return _compile_in(node, scope, functions)
    if kind is exp.Like:
        return _compile_like(node, scope, functions)
    if kind is exp.DPipe:
        left = compile_expr(node.this, scope, functions)
        right = compile_expr(node.expression, scope, functions)
        return lambda row, params: (
            None if (a := left(row, params)) is None or (b := right(row, params)) is None
            else _as_text(a) + _as_text(b))
    if isinstance(node, Prepared):
        return node.args["build"](node, scope, functions)
    if kind is exp.Anonymous:  # not a SQL function: a Lua one, looked up when it runs
        arguments = [compile_expr(a, scope, functions) for a in node.expressions]
        return lua_call(node.name, arguments)
    raise AlchemyError(f"ERR unsupported expression: {node.sql()}")


class Prepared(exp.Expression):
    """A node the planner compiles itself: `build(node, scope, functions)` gives its
    evaluator (the node passed is the one compiled, which may be a copy).

    Planners put these in place of what compile_expr cannot know alone: a subquery's result,
    a value of the outer row in a join, an aggregate's result. `this`, when set, is an
    expression of the row the node still depends on (so is_constant sees its columns)."""

    arg_types = {"this": False, "build": True}


def placeholder_index(node: exp.Placeholder) -> int:
    """Which value a placeholder takes: the scanner names them p0, p1, ..."""
    name = node.this or ""
    if not (name.startswith("p") and name[1:].isdigit()):
        raise AlchemyError(f"ERR unsupported placeholder :{name}")
    return int(name[1:])


def _literal(node: exp.Literal):
    if node.is_string:
        return node.this
    text = node.this
    try:
        return check_int(int(text))
    except ValueError:
        return float(text)


def _compile_comparison(node, scope, functions, test) -> Evaluator:
    left = compile_expr(node.this, scope, functions)
    right = compile_expr(node.expression, scope, functions)

    def evaluate(row, params):
        c = compare(left(row, params), right(row, params))
        return None if c is None else int(test(c))
    return evaluate


def _compile_logic(node, scope, functions) -> Evaluator:
    left = compile_expr(node.this, scope, functions)
    right = compile_expr(node.expression, scope, functions)
    if type(node) is exp.And:
        def evaluate(row, params):
            a = truth(left(row, params))
            if a is False:
                return 0
            b = truth(right(row, params))
            if b is False:
                return 0
            return None if a is None or b is None else 1
    else:
        def evaluate(row, params):
            a = truth(left(row, params))
            if a:
                return 1
            b = truth(right(row, params))
            if b:
                return 1
            return None if a is None or b is None else 0
    return evaluate


def _compile_between(node, scope, functions) -> Evaluator:
    value = compile_expr(node.this, scope, functions)
    low = compile_expr(node.args["low"], scope, functions)
    high = compile_expr(node.args["high"], scope, functions)

    def evaluate(row, params):
        v = value(row, params)
        a, b = compare(v, low(row, params)), compare(v, high(row, params))
        if a is not None and a < 0 or b is not None and b > 0:
            return 0
        return None if a is None or b is None else 1
    return evaluate


def _compile_in(node, scope, functions) -> Evaluator:
    if node.args.get("query") is not None:
        raise AlchemyError("ERR subqueries are not supported yet")
    value = compile_expr(node.this, scope, functions)
    options = [compile_expr(e, scope, functions) for e in node.expressions]

    def evaluate(row, params):
        v = value(row, params)
        if v is None:
            return None
        unknown = False
        for option in options:
            c = compare(v, option(row, params))
            if c == 0:
                return 1
            unknown = unknown or c is None
        return None if unknown else 0
    return evaluate


def _compile_like(node, scope, functions) -> Evaluator:
    value = compile_expr(node.this, scope, functions)
    pattern = compile_expr(node.expression, scope, functions)
    cache: dict = {}

    def evaluate(row, params):
        v, p = value(row, params), pattern(row, params)
        if v is None or p is None:
            return None
        p = _as_text(p)
        match = cache.get(p)
        if match is None:
            if len(cache) > 64:
                cache.clear()
            match = cache[p] = like_matcher(p)
        return int(bool(match(_as_text(v))))
    return evaluate


def is_constant(node: exp.Expression) -> bool:
    """No column references: its value is known before any row is read."""
    return node.find(exp.Column) is None


def compile_count(clause, scope: Scope) -> Evaluator | None:
    """A LIMIT or OFFSET clause's number, which is known before any row is read (its
    evaluator is called without one): a column in it is refused here."""
    if clause is None:
        return None
    if not is_constant(clause.expression):
        raise AlchemyError(f"ERR {clause.key.upper()} must be an integer")
    return compile_expr(clause.expression, scope)
