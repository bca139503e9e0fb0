"""SORT and SORT_RO (sort.c): the elements of a list, set or sorted set, sorted, weighted
by other keys (BY), projected through other keys (GET), optionally stored as a list.

Numeric sorting parses each weight as a double; equal weights fall back to comparing the
elements as strings, as Redis does, so the result is deterministic.
"""

from collections import deque
from functools import cmp_to_key

from alchemy.command import command
from alchemy.commands.hashes import Hash
from alchemy.commands.lists import decode_elements, encode_element
from alchemy.commands.sets import Set
from alchemy.errors import SYNTAX, WRONGTYPE, AlchemyError
from alchemy.notify import GENERIC, LIST, notify, notify_new
from alchemy.util import parse_float, parse_int
from alchemy.zset import ZSet

NOT_DOUBLE = "ERR One or more scores can't be converted into double"


# Arguments taken by the options a key finder must step over (a GET pattern may be "store").
_OPTION_ARGS = {b"LIMIT": 2, b"GET": 1, b"BY": 1}


def _sort_keys(argv: list) -> list:
    """The sorted key and the destination: only the last STORE counts, as in Redis."""
    store = None
    i = 2
    while i < len(argv):
        word = argv[i].upper()
        if word in _OPTION_ARGS:
            i += _OPTION_ARGS[word]
        elif word == b"STORE" and i + 1 < len(argv):
            store = argv[i + 1]
        i += 1
    return [argv[1]] if store is None else [argv[1], store]


class _Options:
    def __init__(self, argv: list, store_allowed: bool):
        self.desc = self.alpha = False
        self.by = None
        self.gets: list = []
        self.offset, self.count = 0, -1
        self.store = None
        i = 2
        while i < len(argv):
            word = argv[i].upper()
            more = len(argv) - i - 1
            if word in (b"ASC", b"DESC"):
                self.desc = word == b"DESC"
            elif word == b"ALPHA":
                self.alpha = True
            elif word == b"LIMIT" and more >= 2:
                self.offset, self.count = parse_int(argv[i + 1]), parse_int(argv[i + 2])
                i += 2
            elif word == b"STORE" and more >= 1 and store_allowed:
                self.store = argv[i + 1]
                i += 1
            elif word == b"BY" and more >= 1:
                self.by = argv[i + 1]
                i += 1
            elif word == b"GET" and more >= 1:
                self.gets.append(argv[i + 1])
                i += 1
            else:
                raise AlchemyError(SYNTAX)
            i += 1

    @property
    def sorting(self) -> bool:
        return self.by is None or b"*" in self.by  # BY without * means "don't sort"


def _lookup(db, pattern: bytes, element: bytes):
    """The value a BY/GET pattern names for element: `#` is the element itself, `*` is
    replaced by it, and `key->field` reads a hash field. None when there is none."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = pattern[arrow + 2:] if arrow >= 0 and arrow + 2 < len(pattern) else None
    name = pattern[:arrow] if field is not None else pattern
    value = db.get(name[:star] + element + name[star + 1:])
    if field is not None:
        return value.get(field) if type(value) in (dict, Hash) else None
    return bytes(value) if type(value) in (bytes, bytearray) else None


def _elements(value) -> list:
    if type(value) is deque:
        return decode_elements(value)
    if type(value) is Set:
        return list(value)
    if type(value) is ZSet:
        return [member for member, _ in value.items()]
    raise AlchemyError(WRONGTYPE)


def _sorted(db, elements: list, opts: _Options) -> list:
    if opts.alpha:
        weights = [(_lookup(db, opts.by, e) if opts.by else e) for e in elements]
    else:
        weights = []
        for e in elements:
            weight = _lookup(db, opts.by, e) if opts.by else e
            weights.append(0.0 if weight is None else parse_float(weight, NOT_DOUBLE))

    def compare(a: int, b: int) -> int:
        wa, wb = weights[a], weights[b]
        if wa is None or wb is None:  # ALPHA BY with missing keys: those come first
            cmp = (wa is not None) - (wb is not None)
        else:
            cmp = (wa > wb) - (wa < wb)
        if cmp == 0 and not (opts.alpha and opts.by):
            cmp = (elements[a] > elements[b]) - (elements[a] < elements[b])
        return -cmp if opts.desc else cmp
    order = sorted(range(len(elements)), key=cmp_to_key(compare))
    return [elements[i] for i in order]


def _sort(ctx, argv: list, store_allowed: bool):
    opts = _Options(argv, store_allowed)
    db = ctx.db
    value = db.get(argv[1])
    elements = [] if value is None else _elements(value)
    if opts.sorting:
        elements = _sorted(db, elements, opts)
    elif type(value) is ZSet and opts.desc:
        elements.reverse()
    elif type(value) is Set and (opts.store is not None or ctx.kind == "script"):
        elements.sort()  # a set has no order: a stored or scripted result must repeat
    start = max(opts.offset, 0)
    stop = len(elements) if opts.count < 0 else start + opts.count
    elements = elements[start:stop]
    if opts.gets:
        result = [_lookup(db, pattern, e) for e in elements for pattern in opts.gets]
    else:
        result = elements
    if opts.store is None:
        return result
    stored = deque(encode_element(b"" if r is None else r) for r in result)
    if stored:
        notify_new(ctx, opts.store)
        db.set(opts.store, stored)
        notify(ctx, LIST, b"sortstore", opts.store)
    elif db.delete(opts.store):
        notify(ctx, GENERIC, b"del", opts.store)
    ctx.server.dirty += 1
    return len(stored)


@command("sort", -2, "write denyoom", find_keys=_sort_keys, group="generic",
         summary="Sort the elements in a list, set or sorted set",
         complexity="O(N+M*log(M)) where N is the number of elements in the list or set "
                    "to sort, and M the number of returned elements.")
def sort(ctx, argv):
    return _sort(ctx, argv, store_allowed=True)


@command("sort_ro", -2, "readonly", keys=(1, 1, 1), group="generic", since="7.0.0",
         summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
         complexity="O(N+M*log(M)) where N is the number of elements in the list or set "
                    "to sort, and M the number of returned elements.")
def sort_ro(ctx, argv):
    return _sort(ctx, argv, store_allowed=False)
