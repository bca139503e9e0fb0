"""LUATABLE (alias JSON) columns in SQL: documents in, paths inside them, documents out.

A value written to a LUATABLE column is either a Lua table constructor, written bare in
the statement (`{name='RUSS', age=35, tags={'a','b'}}`: the scanner lifts it whole as a
LuaText), or JSON text (`'{"name":"RUSS"}'`; a string that is not JSON but starts with `{`
is read as a Lua constructor). The Python API may also bind a dict or a list.

Lua tables become JSON's shapes: a table whose keys are exactly 1..n is a list, any other
table a map with string keys (number keys written as Lua prints them: `{[1]='a', x=2}` is
{"1": "a", "x": 2}, a table with holes like `{1, nil, 3}` is {"1": 1, "3": 3}); `{}` is an
empty map. A map from Lua has its keys sorted (Lua tables have no order); a map from JSON
keeps its order. Values may be strings, finite numbers, booleans and nested tables (JSON
null too); functions, non-UTF-8 strings, integers outside 64 bits and nesting deeper than
MAX_DEPTH are refused.

In SQL, `info.a.b` reads a path (NULL where it leads nowhere; booleans read as 1/0, nested
tables as documents), `SET info.a.b = v` writes one (maps created on the way, NULL removes
the field), and SELECT returns a document as JSON text (RESP3: a map or an array).
"""

from itertools import chain
import json
import math

from lupa import lua51
from sqlglot import exp

from alchemy.errors import AlchemyError
from alchemy.storage.documents import Document, field, pack, set_path

MAX_DEPTH = 64
INSTRUCTION_LIMIT = 100_000  # a constructor needs a few per field: this only stops loops
MEMORY_LIMIT = 64 << 20
INT_MIN, INT_MAX = -2**63, 2**63 - 1


class LuaText(str):
    """The source of a Lua table constructor written in a statement."""

    __slots__ = ()


_runtime: list = []  # the evaluating Lua function, made on first use

_EVALUATE = """
function(text, limit)
  local f, err = loadstring("return " .. text, "=document")
  if not f then return false, err end
  setfenv(f, {})
  local co = coroutine.create(f)
  debug.sethook(co, function() error("too much work to build the table", 0) end, "", limit)
  local result = {coroutine.resume(co)}
  if not result[1] then return false, result[2] end
  if #result ~= 2 then return false, "one table expected" end
  return true, result[2]
end
"""


def evaluate_constructor(text: str):
    """The value of a Lua table constructor, as a Python dict or list.

    It runs as `return <text>` in an empty environment (no globals, no functions to call),
    with an instruction budget so that `{(function() while true do end end)()}` ends, and a
    memory ceiling so that `{('x'):rep(2^30)}` does too."""
    if not _runtime:
        runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False,
                                   unpack_returned_tuples=True, max_memory=MEMORY_LIMIT)
        _runtime.append(runtime.eval(_EVALUATE))
    try:
        ok, value = _runtime[0](text, INSTRUCTION_LIMIT)
        if not ok:
            raise AlchemyError(f"ERR invalid Lua table: {value}")
        if lua51.lua_type(value) != "table":
            raise AlchemyError("ERR invalid Lua table: the value is not a table")
        return _from_lua(value, 1)
    except lua51.LuaError as e:  # out of memory while building the result
        raise AlchemyError(f"ERR invalid Lua table: {e}") from None
    except UnicodeDecodeError:  # a string ('\255'), or a message quoting part of one
        raise AlchemyError("ERR invalid Lua table: a string in it is not UTF-8 text") from None


def _from_lua(table, depth: int):
    if depth > MAX_DEPTH:
        raise AlchemyError(f"ERR document nested deeper than {MAX_DEPTH} levels")
    items = list(table.items())
    if items and all(type(k) is int for k, _ in items) \
            and sorted(k for k, _ in items) == list(range(1, len(items) + 1)):
        return [_lua_value(v, depth) for _, v in sorted(items, key=lambda kv: kv[0])]
    result = {}
    for key, value in sorted(((document_key(k), v) for k, v in items), key=lambda kv: kv[0]):
        result[key] = _lua_value(value, depth)
    return result


def document_key(key) -> str:
    """A table key as a document's map key: Lua and JSON keep only string keys."""
    kind = type(key)
    if kind is str:
        return key
    if kind is int:
        return str(key)
    if kind is float:
        return repr(key)
    if kind is bytes:
        return _text(key)
    raise AlchemyError(f"ERR document keys must be strings or numbers, not "
                       f"{lua51.lua_type(key) or kind.__name__}")


def _lua_value(value, depth: int):
    kind = type(value)
    if kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        return _finite(value)
    if kind is bytes:
        return _text(value)
    if lua51.lua_type(value) == "table":
        return _from_lua(value, depth + 1)
    raise AlchemyError(f"ERR a document cannot hold a {lua51.lua_type(value) or kind.__name__}")


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise AlchemyError("ERR document strings must be UTF-8") from None


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise AlchemyError("ERR a document cannot hold NaN or infinity")
    return number


def _checked(value, depth: int = 1):
    """A Python value (decoded JSON, or bound by the API) verified to fit in a document."""
    kind = type(value)
    if kind is dict or kind is list:
        if depth > MAX_DEPTH:
            raise AlchemyError(f"ERR document nested deeper than {MAX_DEPTH} levels")
        if kind is list:
            return [_checked(v, depth + 1) for v in value]
        for key in value:
            if type(key) is not str:
                raise AlchemyError("ERR document keys must be strings")
        return {k: _checked(v, depth + 1) for k, v in value.items()}
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise AlchemyError("ERR integer overflow in document")
        return value
    if kind is float:
        return _finite(value)
    if kind is str or kind is bool or value is None:
        return value
    raise AlchemyError(f"ERR a document cannot hold a {kind.__name__}")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed in a document")


def table_value(value):
    """A dict or list from a Lua constructor, JSON text, or a Python dict/list."""
    kind = type(value)
    if kind is bytes:
        value, kind = _text(value), str
    if kind is LuaText or kind is str and value.lstrip().startswith("{"):
        return _lua_or_json(value, lua_first=kind is LuaText)
    if kind is str:
        return _json(value)
    if kind is dict or kind is list:
        return _checked(value)
    raise AlchemyError(f"ERR a document must be a Lua table or JSON text, not {value!r:.40}")


def _json(text: str):
    try:
        decoded = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise AlchemyError(f"ERR invalid JSON document: {e}") from None
    if type(decoded) not in (dict, list):
        raise AlchemyError("ERR a document must be a JSON object or array")
    return _checked(decoded)


def _lua_or_json(text: str, lua_first: bool):
    """`{...}` may be either: a constructor written bare is tried as Lua first, text as JSON
    first; when neither reads it, the error says why for both."""
    readers = [evaluate_constructor, _json] if lua_first else [_json, evaluate_constructor]
    try:
        return readers[0](text)
    except AlchemyError as first:
        try:
            return readers[1](text)
        except AlchemyError as second:
            raise AlchemyError(f"{first.message}; {second.message[4:]}") from None


def to_document(value, column: str, table: str) -> Document:
    """value made into the document stored in a LUATABLE column."""
    if type(value) is Document:
        return value
    try:
        return pack(table_value(value))
    except AlchemyError as e:
        raise AlchemyError(f"{e.message} (column '{column}' of table '{table}')") from None


def _field_value(value):
    """A value assigned to a path: tables from constructors, documents and API dicts/lists
    stay tables; text stays text (`SET info.a = '{}'` stores a string)."""
    kind = type(value)
    if kind is LuaText:
        return evaluate_constructor(value)
    if kind is Document:
        return value.value()
    if kind is bytes:
        return _text(value)
    return _checked(value)


# -- paths in SQL ------------------------------------------------------------------------


def document_ref(node: exp.Expression, scope) -> tuple | None:
    """(column position, path) when node (`info.a`, `t.info.a.b`) names a field inside a
    LUATABLE column of the scope's table; None when it names no such field (and for scopes
    that know no documents: a scope says which columns are documents in `documents`)."""
    if not isinstance(node, (exp.Column, exp.Dot)) or not getattr(scope, "documents", None):
        return None
    names = [part.name for part in node.parts]
    return scope.document_of(names) if len(names) >= 2 else None


def table_document_of(scope, names: list) -> tuple | None:
    """document_ref for the scope of one table: `t.info.a` or `info.a`."""
    qualifiers = (scope.table_name.lower(), (scope.alias or "").lower())
    if len(names) >= 3 and names[0].lower() in qualifiers:
        position = scope.positions.get(names[1].lower())
        if position in scope.documents:
            return position, tuple(names[2:])
    position = scope.positions.get(names[0].lower())
    if position in scope.documents:
        return position, tuple(names[1:])
    return None


def path_evaluator(position: int, path: tuple):
    def evaluate(row, params):
        doc = row[position]
        return None if doc is None else field(doc, path)
    return evaluate


def assignments(nodes: list, scope, plain, table) -> list:
    """UPDATE's SET list as (position, evaluator) pairs. `plain(node)` compiles an ordinary
    assignment; assignments to paths of one document are merged into one evaluator that
    applies them in order, after the whole-document assignment if there is one."""
    from alchemy.sql.expressions import compile_expr
    result, paths = [], {}
    for node in nodes:
        ref = document_ref(node.this, scope) if isinstance(node, exp.EQ) else None
        if ref is None:
            result.append(plain(node))
        else:
            paths.setdefault(ref[0], []).append((ref[1], compile_expr(node.expression, scope)))
    for position, sets in paths.items():
        whole = next((e for p, e in result if p == position), None)
        result = [(p, e) for p, e in result if p != position]
        setter = _path_setter(position, whole, sets, table.columns[position].name, table.name)
        result.append((position, setter))
    return result


def _path_setter(position: int, whole, sets: list, name: str, table: str):
    def evaluate(row, params):
        base = row[position] if whole is None else whole(row, params)
        if base is not None and type(base) is not Document:
            base = to_document(base, name, table)
        root = None if base is None else base.value()
        for path, value in sets:
            root = set_path(root, path, _field_value(value(row, params)), name)
        return pack(root)
    return evaluate


# -- documents out ----------------------------------------------------------------------


def to_json(doc: Document) -> str:
    return json.dumps(doc.value(), ensure_ascii=False, separators=(",", ":"))


def reply_value(doc: Document, resp3: bool):
    """A document as a reply: JSON text in RESP2, a map or an array in RESP3."""
    if not resp3:
        return to_json(doc).encode()
    return _resp3(doc.value())


def _resp3(value):
    kind = type(value)
    if kind is str:
        return value.encode()
    if kind is dict:
        return {k.encode(): _resp3(v) for k, v in value.items()}
    if kind is list:
        return [_resp3(v) for v in value]
    return value


def plain(value):
    """A result value for the Python API: documents decoded, anything else as it is."""
    return value.value() if type(value) is Document else value


def plain_rows(result: "Rows") -> list:  # (plans.Rows: plans imports this module)
    """A result set's rows as the Python API gives them: tuples of plain values. Looking
    for a document among the values takes C calls alone; a row without one is copied as
    it is."""
    if result.plain:
        return result.wire_rows
    rows = result.rows
    if Document in set(map(type, chain.from_iterable(rows))):
        return [tuple(map(plain, row)) for row in rows]
    return list(map(tuple, rows))
