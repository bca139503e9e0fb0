"""Documents: the values of LUATABLE columns, held in rows as msgpack bytes.

A document is a map (string keys) or a list, whose values are strings, numbers, booleans,
null, or nested maps and lists. A row stores its msgpack encoding (a Document is those
bytes); it is decoded only when something reads inside it, never kept as live objects.

    doc = pack({"name": "RUSS", "age": 35, "nest": {"x": 1}})
    field(doc, ("age",))          # 35
    field(doc, ("nest",))         # Document of {"x": 1}
    field(doc, ("age", "x"))      # None: a path through a non-table finds nothing
    set_path(doc.value(), ("nest", "y"), 2)   # {"name": ..., "nest": {"x": 1, "y": 2}}

A path part that is a decimal number picks that (1-based, as in Lua) element of a list.
A field read as a SQL value: booleans are 1/0 (SQL has no boolean), nested tables stay
Documents. Cost: reading a field decodes the whole document, O(size); the last document
decoded is remembered, so several fields of one row cost one decode.
"""

import msgpack

from alchemy.errors import AlchemyError


class Document(bytes):
    """The msgpack bytes of one document."""

    __slots__ = ()

    def value(self):
        """The decoded map or list (a fresh object: callers may change it)."""
        return msgpack.unpackb(self, raw=False)


def pack(value) -> Document:
    return Document(msgpack.packb(value, use_bin_type=True))


_last: list = [None, None]  # (document, its decoded value): rows read fields in runs


def _decoded(doc: Document):
    if doc is not _last[0]:
        _last[1] = doc.value()
        _last[0] = doc
    return _last[1]


def _step(node, part: str):
    if type(node) is dict:
        return node.get(part)
    if type(node) is list and part.isdigit() and 1 <= int(part) <= len(node):
        return node[int(part) - 1]
    return None


def field(doc: Document, path: tuple):
    """The SQL value at path inside doc, None when the path leads nowhere."""
    node = _decoded(doc)
    for part in path:
        node = _step(node, part)
        if node is None:
            return None
    kind = type(node)
    if kind is dict or kind is list:
        return pack(node)
    if kind is bool:
        return int(node)
    return node


def set_path(root, path: tuple, value, name: str):
    """root (a decoded document, or None) with the value at path replaced, missing maps on
    the way created; value None removes the field. `name` (the column) is for errors.
    root is changed in place and returned."""
    if root is None:
        root = {}
    node = root
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        where = ".".join((name,) + path[:depth])
        if type(node) is list:
            if not part.isdigit() or not 1 <= int(part) <= len(node) + 1:
                raise AlchemyError(f"ERR cannot set {name}.{'.'.join(path)}: {where} is a "
                                   f"list and '{part}' is not one of its positions")
            index = int(part) - 1
            if index == len(node):
                node.append({} if not last else None)
        elif type(node) is dict:
            index = part
            if not last and node.get(part) is None:
                node[part] = {}
        else:
            raise AlchemyError(f"ERR cannot set {name}.{'.'.join(path)}: {where} is "
                               f"{_kind(node)}, not a table")
        if last:
            if value is None and type(node) is dict:
                node.pop(index, None)
            else:
                node[index] = value
        else:
            node = node[index]
    return root


def _kind(value) -> str:
    if type(value) is str:
        return "a string"
    if type(value) is bool:
        return "a boolean"
    return "null" if value is None else "a number"


def order_key(value):
    """A sortable form of a field value that orders as SQL does whatever its type:
    numbers, then text, then tables (NULL, stored as None, comes first)."""
    kind = type(value)
    if kind is int or kind is float:
        return (1, value)
    if kind is str:
        return (2, value)
    return (3, value)
