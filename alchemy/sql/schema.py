"""Column types and the conversion of values into them (INSERT and UPDATE).

Alchemy's columns are typed: a value is converted to the column's type when it can be
without losing anything ('42' into INT, 3 into FLOAT), and refused with an error naming the
column otherwise ('abc' into INT, 2.5 into INT).
"""

import re

from sqlglot import exp

from alchemy.errors import AlchemyError
from alchemy.sql.documents import to_document, to_json
from alchemy.storage.documents import Document
from alchemy.sql.expressions import INT_MAX, INT_MIN
from alchemy.storage.table import Column, Table

_TYPE_NAMES = {
    "INT": "INT", "INTEGER": "INT", "BIGINT": "INT", "SMALLINT": "INT", "TINYINT": "INT",
    "MEDIUMINT": "INT", "UBIGINT": "INT",
    "FLOAT": "FLOAT", "REAL": "FLOAT", "DOUBLE": "FLOAT", "DECIMAL": "FLOAT",
    "TEXT": "TEXT", "VARCHAR": "TEXT", "CHAR": "TEXT", "NCHAR": "TEXT", "NVARCHAR": "TEXT",
    "STRING": "TEXT", "MEDIUMTEXT": "TEXT", "LONGTEXT": "TEXT",
    "BLOB": "BLOB", "VARBINARY": "BLOB", "BINARY": "BLOB", "BYTEA": "BLOB",
    "BOOL": "BOOL", "BOOLEAN": "BOOL",
    "LUATABLE": "LUATABLE", "JSON": "LUATABLE",
}

_INTEGER_TEXT = re.compile(r"\s*[-+]?\d+\s*")


def column_type(data_type: exp.DataType, column: str) -> str:
    name = data_type.this.name if hasattr(data_type.this, "name") else str(data_type.this)
    if name == "USERDEFINED":  # a type sqlglot does not know, such as LUATABLE
        name = str(data_type.args.get("kind") or "")
    canonical = _TYPE_NAMES.get(name.upper())
    if canonical is None:
        raise AlchemyError(f"ERR unsupported type {data_type.sql()} for column '{column}'")
    return canonical


def index_type(name: str) -> str:
    """The type of a typed index on a document field: INT, FLOAT or TEXT."""
    canonical = _TYPE_NAMES.get(name.upper())
    if canonical not in ("INT", "FLOAT", "TEXT"):
        raise AlchemyError(f"ERR an index on a document field is INT, FLOAT or TEXT, "
                           f"not {name}")
    return canonical


def coerce(value, column: Column, table: str):
    """value converted to column's type, or an error that names table and column."""
    if value is None:
        return None
    kind = column.type
    vtype = type(value)
    if kind == "INT" or kind == "BOOL":
        if vtype is int:
            if not INT_MIN <= value <= INT_MAX:
                raise AlchemyError(f"ERR integer overflow in column '{column.name}'")
            return value
        if vtype is bool:
            return int(value)
        if vtype is float and value.is_integer() and INT_MIN <= value <= INT_MAX:
            return int(value)
        if vtype is str and _INTEGER_TEXT.fullmatch(value):
            return coerce(int(value), column, table)
        if vtype is str and kind == "BOOL" and value.lower() in ("true", "false"):
            return int(value.lower() == "true")
    elif kind == "FLOAT":
        if vtype is float or vtype is int:
            value = float(value)
            return value if value == value else None  # NaN is stored as NULL, as SQLite does
        if vtype is str:
            try:
                value = float(value)
            except ValueError:
                pass
            else:
                return value if value == value else None
    elif kind == "TEXT":
        if vtype is str:
            return value
        if vtype is int or vtype is float:
            return str(value)
        if vtype is bytes:
            try:
                return value.decode()
            except UnicodeDecodeError:
                pass
    elif kind == "BLOB":
        if vtype is bytes:
            return value
        if vtype is str:
            return value.encode()
    elif kind == "LUATABLE":
        return to_document(value, column.name, table)
    raise AlchemyError(f"ERR type mismatch: {_show(value)} is not {kind} "
                       f"(column '{column.name}' of table '{table}')")


# Per column type, the test of a value that coerce would return as it is.
_AS_IS = {
    "INT": f"type({{v}}) is int and {INT_MIN} <= {{v}} <= {INT_MAX}",
    "BOOL": f"type({{v}}) is int and {INT_MIN} <= {{v}} <= {INT_MAX}",
    "FLOAT": "type({v}) is float and {v} == {v}",  # (NaN is NULL)
    "TEXT": "type({v}) is str",
    "BLOB": "type({v}) is bytes",
    "LUATABLE": "False",
}


def binder(table: Table, positions: list[int], placeholders: list[int]):
    """params -> a row of table: the value of parameter placeholders[i] coerced into
    column positions[i], NULL in the columns not given, and a one-column INT primary key
    left NULL numbered (Table.next_id). Written out in Python source for these columns, so
    a value of its column's type costs one test and no call (a loop calling coerce for each
    cost a fifth of an INSERT); others go to coerce."""
    columns = table.columns
    given = dict(zip(positions, placeholders))  # a column given twice takes the last
    lines = ["def bind(params):"]
    for position, index in given.items():
        v = f"v{position}"
        lines += [f"    {v} = params[{index}]",
                  f"    if not ({_AS_IS[columns[position].type].format(v=v)}):",
                  f"        {v} = coerce({v}, columns[{position}], name)"]
    row = [f"v{p}" if p in given else "None" for p in range(len(columns))]
    keys = table.key_positions
    if len(keys) == 1 and columns[keys[0]].type == "INT":
        key = keys[0]
        if key in given:
            lines += [f"    if v{key} is None:", f"        v{key} = next_id()"]
        else:
            row[key] = "next_id()"
    lines.append(f"    return [{', '.join(row)}]")
    scope = {"coerce": coerce, "columns": columns, "name": table.name,
             "next_id": table.next_id}
    exec(compile("\n".join(lines), f"<row binder {table.name}>", "exec"), scope)
    return scope["bind"]


def _show(value) -> str:
    text = to_json(value) if type(value) is Document else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
