"""Lift literals out of a statement, so statements that differ only in values share a plan.

sqlglot takes about 360 us to parse a one-row INSERT here; a regular expression pass takes a
few. `lift("SELECT * FROM t WHERE id = 7")` gives the shape `SELECT * FROM t WHERE id = :p0`
and the values [7]; the shape is the plan cache's key, the values are bound per execution.
A `?` already in the text takes the next caller-supplied parameter, so the Python API's
parameters and lifted literals go through the same cache.

A multi-row INSERT's VALUES list is cut down to its first row in the shape, so that inserting
1 row or 1,000 rows of the same table shares one plan.

A Lua table constructor written in the statement (`{name='RUSS', tags={'a','b'}}`, a value
for a LUATABLE column) is lifted whole, as a LuaText value.
"""

import json
import functools
import re

from alchemy.errors import AlchemyError
from alchemy.sql.documents import LuaText

# Strings and quoted identifiers are matched whole so that nothing inside them is lifted;
# a number counts only where it does not continue an identifier (t1, x2y) or a name (a.1).
_LITERAL = re.compile(r"""(?=['"`?\d.xX])(     # the lookahead lets re skip other text fast
    [xX]'[0-9a-fA-F]*'                               # blob literal
  | '(?:[^']|'')*'                                   # string literal
  | "(?:[^"]|"")*" | `[^`]*`                         # quoted identifier: kept
  | (?<![\w$.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w$])   # number
  | \?                                               # caller's parameter
)""", re.VERBOSE)

_VALUES_ROW = re.compile(r"\(\s*(?:\?|NULL)(?:\s*,\s*(?:\?|NULL))*\s*\)", re.IGNORECASE)


class Lifted:
    __slots__ = ("shape", "values", "rows")

    def __init__(self, shape: str, values: list, rows: int):
        self.shape = shape
        self.values = values
        self.rows = rows  # rows in an INSERT's VALUES list (1 otherwise)


# Texts whose only values are `?` (the in-process API's, the DB-API's): the text alone
# decides the shape, so the next execution of the same text skips the scan.
_PLACEHOLDERS_ONLY: dict[str, tuple[str, int, int]] = {}  # text -> (shape, rows, count)
_PLACEHOLDERS_ONLY_LIMIT = 1024


def lift(text: str, params: tuple = ()) -> Lifted:
    known = _PLACEHOLDERS_ONLY.get(text)
    if known is None:
        return _lift(text, params)
    shape, rows, count = known
    if len(params) != count:
        raise AlchemyError("ERR not enough parameters for the placeholders"
                           if len(params) < count else "ERR more parameters than placeholders")
    return Lifted(shape, list(params), rows)


def _lift(text: str, params: tuple) -> Lifted:
    # split() with one group gives [text, token, text, token, ..., text] in one C call,
    # much cheaper than sub() with a Python callback per match.
    parts = _split(text)
    values: list = []
    supplied = iter(params)
    # Only INSERT's VALUES rows are folded; other statements are numbered in this one pass.
    insert = text.lstrip()[:7].upper() in ("INSERT ", "REPLACE")
    for i in range(1, len(parts), 2):
        token = parts[i]
        first = token[0]
        if first == '"' or first == "`":
            continue
        if first == "?":
            value = next(supplied, _END)
            if value is _END:
                raise AlchemyError("ERR not enough parameters for the placeholders")
            values.append(value)
        else:
            values.append(_value(token))
        parts[i] = "?" if insert else f":p{len(values) - 1}"
    if next(supplied, _END) is not _END:
        raise AlchemyError("ERR more parameters than placeholders")
    shape, rows = "".join(parts), 1
    if insert:
        shape, rows = _fold_values(shape)
        shape = _number(shape)
    if params and len(values) == len(params):
        if len(_PLACEHOLDERS_ONLY) >= _PLACEHOLDERS_ONLY_LIMIT:
            _PLACEHOLDERS_ONLY.clear()
        _PLACEHOLDERS_ONLY[text] = (shape, rows, len(params))
    return Lifted(shape, values, rows)


def _value(token: str):
    """The value of a literal token: a string, a Lua table, a blob or a number."""
    first = token[0]
    if first == "'":
        return token[1:-1].replace("''", "'")
    if first == "{":
        return LuaText(token)
    if first in "xX":
        return bytes.fromhex(token[2:-1])
    if "." in token or "e" in token or "E" in token:
        return float(token)
    return int(token)


def parameterize(text: str) -> tuple[str, list] | None:
    """text with each literal replaced by `?`, and their values: `SET a='x' WHERE id=7` ->
    (`SET a=? WHERE id=?`, ['x', 7]); lift() of the result with those values gives the
    text's own shape. None when text is not closed (a string or quoted name left open,
    which a later word may close) or holds what is lifted with its context (`?`, `{`)."""
    if "?" in text or "{" in text:
        return None
    parts = _LITERAL.split(text)
    between = "".join(parts[0::2])  # the text outside literals and quoted names
    if "'" in between or '"' in between or "`" in between:
        return None
    values = []
    for i in range(1, len(parts), 2):
        token = parts[i]
        if token[0] != '"' and token[0] != "`":
            values.append(_value(token))
            parts[i] = "?"
    return "".join(parts), values


def render(text: str, params: tuple) -> str:
    """text with each `?` replaced by its parameter written as a SQL literal: the form a
    statement is logged in, so that replaying it binds the same typed values."""
    parts = _split(text)
    supplied = iter(params)
    for i in range(1, len(parts), 2):
        if parts[i] == "?":
            parts[i] = literal(next(supplied))
    return "".join(parts)


def literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return "X'" + bytes(value).hex() + "'"
    if isinstance(value, (dict, list)):  # a document bound by the Python API
        value = json.dumps(value)
    return "'" + str(value).replace("'", "''") + "'"


# Outside a constructor: SQL strings and quoted identifiers are skipped whole.
_STRING_OR_BRACE = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\{""")
# Inside one: Lua strings (with escapes), long strings [[...]] / [==[...]==], and braces.
_LUA_TOKEN = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|\[(=*)\[.*?\]\1\]|[{}]""",
                        re.DOTALL)


def _split(text: str) -> list:
    """_LITERAL.split(text), except that each Lua table constructor is one token."""
    if "{" not in text:
        return _LITERAL.split(text)
    parts = [""]
    done = scan = 0  # text before `done` is in parts; `scan` is where the search goes on
    while (m := _STRING_OR_BRACE.search(text, scan)) is not None:
        scan = m.end()
        if m.group() == "{":
            scan = _constructor_end(text, m.start())
            _append(parts, text[done:m.start()])
            parts += [text[m.start():scan], ""]
            done = scan
    _append(parts, text[done:])
    return parts


def _append(parts: list, segment: str) -> None:
    """Add a stretch of statement text (split on its literals) to a split list."""
    pieces = _LITERAL.split(segment)
    parts[-1] += pieces[0]
    parts += pieces[1:]


def _constructor_end(text: str, start: int) -> int:
    depth = 0
    pos = start
    while (m := _LUA_TOKEN.search(text, pos)) is not None:
        token = m.group()
        depth += 1 if token == "{" else -1 if token == "}" else 0
        pos = m.end()
        if depth == 0:
            return pos
    raise AlchemyError(f"ERR unterminated Lua table near '{text[start:start + 20]}'")


_MARK = re.compile(r'"(?:[^"]|"")*"|`[^`]*`|\?')


def _number(shape: str) -> str:
    """`?` -> `:p0`, `:p1`, ...: sqlglot keeps named placeholders' names, so each knows
    which value it takes whatever order the tree is walked in."""
    count = iter(range(1 << 30))
    return _MARK.sub(lambda m: f":p{next(count)}" if m.group() == "?" else m.group(), shape)


_END = object()


_EMPTY_VALUE = re.compile(r"(?<=[(,])\s*(?=[,)])")


def _fold_values(shape: str) -> tuple[str, int]:
    """Keep one row of `VALUES (?, ?), (?, ?), ...`: (shape, how many rows there were).

    An empty value, AlchemyDB's `(,'x')` for "next primary key", becomes NULL first."""
    at = _values_keyword(shape)
    if at < 0:
        return shape, 1
    shape = shape[:at] + _EMPTY_VALUE.sub("NULL", shape[at:])
    first = _VALUES_ROW.match(shape, at)
    if first is None:
        return shape, 1
    row = _SPACE.sub("", first.group())
    more = _rows_like(row).match(shape, first.end())  # one C pass over 1,000 rows
    if shape[more.end():].lstrip().startswith(","):  # rows of another shape follow: no fold
        return shape, 1
    return shape[:at] + row + shape[more.end():], 1 + more.group().count("(")


_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=64)
def _rows_like(row: str) -> re.Pattern:
    """`, <row>` repeated, for a compact row like `(?,NULL,?)`, spaced in any way."""
    tokens = re.findall(r"NULL|.", row, re.IGNORECASE)
    return re.compile(r"(?:\s*,\s*" + r"\s*".join(map(re.escape, tokens)) + ")*",
                      re.IGNORECASE)


def _values_keyword(shape: str) -> int:
    m = re.match(r"\s*(?:INSERT|REPLACE)\b.*?\bVALUES\s*", shape, re.IGNORECASE | re.DOTALL)
    return m.end() if m else -1
