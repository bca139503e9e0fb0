"""List commands (t_list.c): pushes and pops at both ends, ranges, LPOS, LMOVE, and the
blocking pops that wait for a push (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH).

A list is a collections.deque of its elements: O(1) at both ends; reaching index i walks
blocks of 64 elements from the nearer end, O(min(i, N - i)), as Redis's quicklist does. An
emptied list is deleted at once, so a list key never holds an empty deque.

Each element is kept as its RESP bulk string (b"$3\r\nabc\r\n"), as Redis keeps a list's
elements packed in listpacks rather than as separate strings: LRANGE's reply to a network
client is then one join (RESP2 and RESP3 encode bulk strings alike), where encoding each
element cost six times a GET (LRANGE 0 99 of 3-byte elements). A push encodes its elements
once (about 900 instructions each, as a pop's decoding costs); commands that hand elements
out or compare them decode or encode at their edge (the encoding is injective, so an encoded
needle finds what the plain one would). Scripts, the in-process API and commands run inside
others (EXEC, the SQL bridge) get plain bytes; the snapshot holds plain elements too.

A blocking command that finds nothing parks its client with Database.block; a write to one
of its keys runs it again, and the retry takes from the key that became ready
(Database.keys_to_try).

Pops that choose among keys are logged as Redis 7.0 propagates them, naming the key they
took from: BLPOP/BRPOP as LPOP/RPOP key, LMPOP/BLMPOP as LPOP/RPOP key <count popped>,
BLMOVE as LMOVE and BRPOPLPUSH as RPOPLPUSH (a waiting command's replay must not wait).
"""

from collections import deque
from itertools import islice

from alchemy.command import command
from alchemy.errors import (INDEX_OUT_OF_RANGE, NO_SUCH_KEY, SYNTAX, WRONGTYPE, AlchemyError,
                            wrong_arity)
from alchemy.keyspace import register_type
from alchemy.notify import GENERIC, LIST, NEW, notify
from alchemy.persistence.snapshot import CODECS, pack_collection, unpack_collection
from alchemy.reply import NULL_ARRAY, OK, Encoded
from alchemy.resp import BULK_HEADERS
from alchemy.util import index_span, parse_int, parse_timeout


# (head, tail) around an element of each length under 4 KiB: value.join(frame) is the bulk
# string, head + value + CRLF, in one copy and with no tuple built (half the instructions
# of a %-format).
_FRAMES = [(head, b"\r\n") for head in BULK_HEADERS]


def encode_element(value: bytes) -> bytes:
    """An element as a list keeps it: its RESP bulk string."""
    try:
        return value.join(_FRAMES[len(value)])
    except IndexError:  # 4 KiB or more
        return b"$%d\r\n%s\r\n" % (len(value), value)


def _element_starts() -> list:
    """Where the element starts in an item of each length, for elements under 4 KiB: the
    size of its length header, which the item's length alone tells (both grow together)."""
    starts = [0] * (len(BULK_HEADERS) + len(BULK_HEADERS[-1]) + 2)  # the longest item + 1
    for length, head in enumerate(BULK_HEADERS):
        starts[len(head) + length + 2] = len(head)
    return starts


_STARTS = _element_starts()


def decode_element(item: bytes) -> bytes:
    """The element a list's item holds. A lookup by length, not a search for the header's
    end: a third of the instructions."""
    try:
        return item[_STARTS[len(item)]:-2]
    except IndexError:  # 4 KiB or more: the first newline ends the header
        return item[item.index(b"\n") + 1:-2]


def decode_elements(items) -> list:
    """decode_element of each of a sequence of items, inline."""
    try:
        return [item[_STARTS[len(item)]:-2] for item in items]
    except IndexError:
        return list(map(decode_element, items))


# Redis 7.0 stores every list as a quicklist (the small-list listpack encoding is 7.2's).
register_type(deque, "list", deque, lambda value: "quicklist")
# The snapshot keeps plain elements: its format does not depend on how lists are held.
CODECS["list"] = (lambda value: pack_collection(0, decode_elements(value)),
                  lambda payload: deque(map(encode_element,
                                            unpack_collection(payload, "list")[1])))

NOT_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"
COUNT_NOT_POSITIVE = "ERR count should be greater than 0"
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second "
             "... or use negative to start from the end of the list")
COUNT_NEGATIVE = "ERR COUNT can't be negative"
MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"


# -- helpers ------------------------------------------------------------------------------

def _list(ctx, key: bytes) -> deque | None:
    return ctx.db.get_typed(key, deque)


def _at_least(arg: bytes, least: int, error: str) -> int:
    """An integer >= least; error (for bad syntax too) otherwise, as getRangeLong... does."""
    value = parse_int(arg, error)
    if value < least:
        raise AlchemyError(error)
    return value


def _side(arg: bytes) -> bool:
    """LEFT (True) or RIGHT (False)."""
    side = arg.lower()
    if side == b"left":
        return True
    if side == b"right":
        return False
    raise AlchemyError(SYNTAX)


def _push(values: deque, item: bytes, left: bool) -> None:
    if left:
        values.appendleft(item)
    else:
        values.append(item)


def _removed(ctx, key: bytes, values: deque, count: int, event: bytes) -> None:
    """Account for count elements taken out of the list at key by event; an empty list
    goes."""
    # notify's own test, made here: with notifications off LPOP is spared the call.
    if ctx.server.config.values["notify-keyspace-events"]:
        notify(ctx, LIST, event, key)
    if not values:
        ctx.db.delete(key)
        notify(ctx, GENERIC, b"del", key)
    ctx.server.dirty += count


def _pop_event(left: bool) -> bytes:
    return b"lpop" if left else b"rpop"


def _pop_many(ctx, key: bytes, values: deque, left: bool, count: int) -> list:
    """Up to count elements from one end, in the order they are popped. O(count)."""
    pop = values.popleft if left else values.pop
    popped = decode_elements([pop() for _ in range(min(count, len(values)))])
    _removed(ctx, key, values, len(popped), _pop_event(left))
    return popped


def _created(ctx, key: bytes) -> deque:
    """A new empty list stored at key, to be filled at once."""
    values = deque()
    notify(ctx, NEW, b"new", key)
    ctx.db.set(key, values)
    return values


def _slice(values: deque, start: int, stop: int) -> list:
    """values[start:stop], walked from the nearer end: O(min(start, N - stop) + stop - start)."""
    length = len(values)
    if start <= length - stop:
        return list(islice(values, start, stop))
    part = list(islice(reversed(values), length - stop, length - start))
    part.reverse()
    return part


def _numkeys_keys(at: int):
    """Key positions of a `numkeys key [key ...]` command with numkeys at argv[at]."""
    def find(argv: list) -> list:
        try:
            count = parse_int(argv[at])
        except AlchemyError:
            return []
        return argv[at + 1:at + 1 + count] if count > 0 else []
    return find


# -- pushes -------------------------------------------------------------------------------

def _push_event(left: bool) -> bytes:
    return b"lpush" if left else b"rpush"


_PUSH_COMPLEXITY = ("O(1) for each element added, so O(N) to add N elements when the command "
                    "is called with multiple arguments.")


@command("lpush", -3, "write denyoom fast", keys=(1, 1, 1), group="list",
         complexity=_PUSH_COMPLEXITY, summary="Prepend one or multiple elements to a list")
def lpush(ctx, argv, left: bool = True, existing_only: bool = False) -> int:
    """LPUSH, and with other arguments RPUSH, LPUSHX and RPUSHX (LPUSH saves a call)."""
    key = argv[1]
    db = ctx.db
    # Keyspace.get_typed written out: its call is about 500 instructions, 5% of an
    # in-process LPUSH.
    values = db.get(key) if db.expires else db.data.get(key)
    if values is None:
        if existing_only:
            return 0
        values = _created(ctx, key)
    elif type(values) is not deque:
        raise AlchemyError(WRONGTYPE)
    if len(argv) == 3:  # one element, most pushes: no slice of argv
        value = argv[2]
        try:  # encode_element, inline
            item = value.join(_FRAMES[len(value)])
        except IndexError:
            item = encode_element(value)
        if left:
            values.appendleft(item)
        else:
            values.append(item)
    elif left:
        values.extendleft(map(encode_element, argv[2:]))
    else:
        values.extend(map(encode_element, argv[2:]))
    ctx.server.dirty += len(argv) - 2
    if ctx.server.config.values["notify-keyspace-events"]:  # notify's own test, sparing
        notify(ctx, LIST, _push_event(left), key)            # the calls when it is off
    return len(values)


@command("rpush", -3, "write denyoom fast", keys=(1, 1, 1), group="list",
         complexity=_PUSH_COMPLEXITY, summary="Append one or multiple elements to a list")
def rpush(ctx, argv):
    return lpush(ctx, argv, False)


@command("lpushx", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="2.2.0",
         complexity=_PUSH_COMPLEXITY,
         summary="Prepend an element to a list, only if the list exists")
def lpushx(ctx, argv):
    return lpush(ctx, argv, True, True)


@command("rpushx", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="2.2.0",
         complexity=_PUSH_COMPLEXITY,
         summary="Append an element to a list, only if the list exists")
def rpushx(ctx, argv):
    return lpush(ctx, argv, False, True)


@command("linsert", 5, "write denyoom", keys=(1, 1, 1), group="list", since="2.2.0",
         complexity="O(N) where N is the number of elements to traverse before seeing the "
                    "value pivot.",
         summary="Insert an element before or after another element in a list")
def linsert(ctx, argv):
    where = argv[2].lower()
    if where not in (b"before", b"after"):
        raise AlchemyError(SYNTAX)
    values = _list(ctx, argv[1])
    if values is None:
        return 0
    try:
        index = values.index(encode_element(argv[3]))
    except ValueError:
        return -1
    values.insert(index if where == b"before" else index + 1, encode_element(argv[4]))
    ctx.server.dirty += 1
    notify(ctx, LIST, b"linsert", argv[1])
    return len(values)


# -- pops ---------------------------------------------------------------------------------

@command("lpop", -2, "write fast", keys=(1, 1, 1), group="list",
         complexity="O(N) where N is the number of elements returned",
         summary="Remove and get the first elements in a list")
def lpop(ctx, argv, left: bool = True):
    """LPOP, and with left False RPOP (LPOP saves a call)."""
    key = argv[1]
    if len(argv) == 2:
        db = ctx.db
        values = db.get(key) if db.expires else db.data.get(key)  # get_typed, written out
        if values is None:
            return None
        if type(values) is not deque:
            raise AlchemyError(WRONGTYPE)
        item = values.popleft() if left else values.pop()
        server = ctx.server
        if values and not server.config.values["notify-keyspace-events"]:
            server.dirty += 1  # all _removed does for a list that stays, unnotified
        else:
            _removed(ctx, key, values, 1, _pop_event(left))
        try:  # decode_element, inline
            return item[_STARTS[len(item)]:-2]
        except IndexError:
            return decode_element(item)
    if len(argv) > 3:
        raise wrong_arity(argv[0].decode().lower())
    count = _at_least(argv[2], 0, NOT_POSITIVE)  # checked before the key, as in Redis
    values = _list(ctx, key)
    if values is None:
        return NULL_ARRAY
    return _pop_many(ctx, key, values, left, count) if count else []


@command("rpop", -2, "write fast", keys=(1, 1, 1), group="list",
         complexity="O(N) where N is the number of elements returned",
         summary="Remove and get the last elements in a list")
def rpop(ctx, argv):
    return lpop(ctx, argv, False)


def _pop_first(ctx, keys: list, left: bool, count: int | None):
    """Pop from the first non-empty list of keys: [key, element] (count None) or
    [key, [elements]]; None when every list is empty. A wrong type before it is an error.
    Logged as the pop from that one key."""
    for key in keys:
        values = _list(ctx, key)
        if values is not None:
            name = b"LPOP" if left else b"RPOP"
            if count is None:
                ctx.server.propagate_as([name, key])
                return [key, _pop_many(ctx, key, values, left, 1)[0]]
            popped = _pop_many(ctx, key, values, left, count)
            ctx.server.propagate_as([name, key, b"%d" % len(popped)])
            return [key, popped]
    return None


def _mpop_arguments(argv: list, numkeys_at: int) -> tuple[list, bool, int]:
    """numkeys key [key ...] LEFT|RIGHT [COUNT count] -> (keys, left, count)."""
    numkeys = _at_least(argv[numkeys_at], 1, NUMKEYS)
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(argv):
        raise AlchemyError(SYNTAX)
    left = _side(argv[where_at])
    count = None
    i = where_at + 1
    while i < len(argv):
        if count is None and argv[i].upper() == b"COUNT" and i + 1 < len(argv):
            count = _at_least(argv[i + 1], 1, COUNT_NOT_POSITIVE)
            i += 2
        else:
            raise AlchemyError(SYNTAX)
    return argv[numkeys_at + 1:where_at], left, count or 1


@command("lmpop", -4, "write", find_keys=_numkeys_keys(1), group="list", since="7.0.0",
         complexity="O(N+M) where N is the number of provided keys and M is the number of "
                    "elements returned.",
         summary="Pop elements from a list")
def lmpop(ctx, argv):
    keys, left, count = _mpop_arguments(argv, 1)
    reply = _pop_first(ctx, keys, left, count)
    return NULL_ARRAY if reply is None else reply


# -- reading and changing in place ----------------------------------------------------------

@command("llen", 2, "readonly fast", keys=(1, 1, 1), group="list", complexity="O(1)",
         summary="Get the length of a list")
def llen(ctx, argv):
    values = _list(ctx, argv[1])
    return len(values) if values is not None else 0


@command("lrange", 4, "readonly", keys=(1, 1, 1), group="list",
         complexity="O(S+N) where S is the distance of start offset from the nearest end "
                    "and N is the number of elements in the specified range.",
         summary="Get a range of elements from a list")
def lrange(ctx, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    values = _list(ctx, argv[1])
    if values is None:
        return []
    start, stop = index_span(start, end, len(values))
    # The whole list, the commonest range, is read from the deque itself: no islice.
    items = values if stop - start == len(values) else _slice(values, start, stop)
    # A network client's own command (not one EXEC or the SQL bridge runs and reads) is
    # answered with the items as they are: RESP2 and RESP3 arrays of bulk strings alike.
    if ctx.kind == "normal" and not ctx.server.in_command():
        return Encoded(b"".join([b"*%d\r\n" % len(items), *items]))  # one join, no concat
    return decode_elements(items)


def _index(values: deque, arg: bytes) -> int | None:
    """The position an index argument names (negative: from the tail), None if outside."""
    index = parse_int(arg)
    if index < 0:
        index += len(values)
    return index if 0 <= index < len(values) else None


@command("lindex", 3, "readonly", keys=(1, 1, 1), group="list",
         complexity="O(N) where N is the number of elements to traverse to get to the element "
                    "at index, from the nearer end.",
         summary="Get an element from a list by its index")
def lindex(ctx, argv):
    values = _list(ctx, argv[1])
    if values is None:
        return None
    index = _index(values, argv[2])
    return decode_element(values[index]) if index is not None else None


@command("lset", 4, "write denyoom", keys=(1, 1, 1), group="list",
         complexity="O(N) where N is the number of elements to traverse to get to the element "
                    "at index, from the nearer end.",
         summary="Set the value of an element in a list by its index")
def lset(ctx, argv):
    values = _list(ctx, argv[1])
    if values is None:
        raise AlchemyError(NO_SUCH_KEY)
    index = _index(values, argv[2])
    if index is None:
        raise AlchemyError(INDEX_OUT_OF_RANGE)
    values[index] = encode_element(argv[3])
    ctx.server.dirty += 1
    notify(ctx, LIST, b"lset", argv[1])
    return OK


@command("ltrim", 4, "write", keys=(1, 1, 1), group="list",
         complexity="O(N) where N is the number of elements to be removed by the operation.",
         summary="Trim a list to the specified range")
def ltrim(ctx, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    key = argv[1]
    values = _list(ctx, key)
    if values is None:
        return OK
    length = len(values)
    start, stop = index_span(start, end, length)
    if start == stop:
        start = stop = length
    for _ in range(start):
        values.popleft()
    for _ in range(length - stop):
        values.pop()
    removed = length - (stop - start)
    _removed(ctx, key, values, removed, b"ltrim")
    if not removed:
        # Redis signals the key as modified even when nothing was trimmed (WATCH sees it).
        ctx.server.touch(ctx.db, key)
    return OK


@command("lrem", 4, "write", keys=(1, 1, 1), group="list",
         complexity="O(N+M) where N is the length of the list and M is the number of "
                    "elements removed.",
         summary="Remove elements from a list")
def lrem(ctx, argv):
    count = parse_int(argv[2])
    key, element = argv[1], encode_element(argv[3])
    values = _list(ctx, key)
    if values is None:
        return 0
    limit = abs(count) or len(values)
    kept = []
    removed = 0
    for value in (values if count >= 0 else reversed(values)):
        if removed < limit and value == element:
            removed += 1
        else:
            kept.append(value)
    if removed:
        if count < 0:
            kept.reverse()
        values.clear()
        values.extend(kept)  # the same deque: the key keeps its TTL
        _removed(ctx, key, values, removed, b"lrem")
    return removed


def _lpos_options(argv: list) -> tuple[int, int | None, int]:
    """[RANK rank] [COUNT num] [MAXLEN len] -> (rank, count or None, maxlen)."""
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if i + 1 >= len(argv) or option not in (b"RANK", b"COUNT", b"MAXLEN"):
            raise AlchemyError(SYNTAX)
        if option == b"RANK":
            rank = parse_int(argv[i + 1])
            if rank == 0:
                raise AlchemyError(RANK_ZERO)
        elif option == b"COUNT":
            count = _at_least(argv[i + 1], 0, COUNT_NEGATIVE)
        else:
            maxlen = _at_least(argv[i + 1], 0, MAXLEN_NEGATIVE)
        i += 2
    return rank, count, maxlen


@command("lpos", -3, "readonly", keys=(1, 1, 1), group="list", since="6.0.6",
         complexity="O(N) where N is the number of elements in the list, for the average "
                    "case. When searching for elements near the head or the tail of the list, "
                    "or when the MAXLEN option is provided, the command may run in constant "
                    "time.",
         summary="Return the index of matching elements on a list")
def lpos(ctx, argv):
    rank, count, maxlen = _lpos_options(argv)
    values = _list(ctx, argv[1])
    if values is None:
        return [] if count is not None else None
    element, length = encode_element(argv[2]), len(values)
    if rank > 0:
        scan = enumerate(values)
    else:
        scan = ((length - 1 - i, value) for i, value in enumerate(reversed(values)))
        # Redis negates the rank in a C long: -2**63 stays negative and so matches first.
        rank = -rank if rank != -2**63 else 1
    if maxlen:
        scan = islice(scan, maxlen)
    found = []
    matches = 0
    for index, value in scan:
        if value == element:
            matches += 1
            if matches >= rank:
                found.append(index)
                if count is None or len(found) == count:
                    break
    if count is not None:
        return found
    return found[0] if found else None


# -- moving between lists -----------------------------------------------------------------

def _move(ctx, source: bytes, target: bytes, from_left: bool, to_left: bool):
    """Pop from source, push onto target, reply the element; None if source is empty."""
    values = _list(ctx, source)
    if values is None:
        return None
    destination = _list(ctx, target)  # checked before anything changes
    item = values.popleft() if from_left else values.pop()
    if destination is None:
        destination = _created(ctx, target)
    _push(destination, item, to_left)
    notify(ctx, LIST, _push_event(to_left), target)
    _removed(ctx, source, values, 1, _pop_event(from_left))
    return decode_element(item)


@command("lmove", 5, "write denyoom", keys=(1, 2, 1), group="list", since="6.2.0",
         complexity="O(1)",
         summary="Pop an element from a list, push it to another list and return it")
def lmove(ctx, argv):
    from_left, to_left = _side(argv[3]), _side(argv[4])
    return _move(ctx, argv[1], argv[2], from_left, to_left)


@command("rpoplpush", 3, "write denyoom", keys=(1, 2, 1), group="list", since="1.2.0",
         complexity="O(1)",
         summary="Remove the last element in a list, prepend it to another list and return it")
def rpoplpush(ctx, argv):
    return _move(ctx, argv[1], argv[2], from_left=False, to_left=True)


# -- blocking -----------------------------------------------------------------------------

def _wait(ctx, keys: list, timeout: float, argv: list, at_once):
    """Park the client on keys until a push or the timeout (answered with the null array,
    as Redis 7.0 answers every list wait, BLMOVE's too); where it cannot wait (MULTI,
    scripts), answer at_once."""
    if not ctx.can_block:
        return at_once
    return ctx.server.block(ctx, keys, timeout, argv, NULL_ARRAY, deque)


def _blocking_pop(ctx, argv: list, keys: list, left: bool, count: int | None, timeout: float):
    reply = _pop_first(ctx, ctx.server.keys_to_try(keys), left, count)
    if reply is not None:
        return reply
    return _wait(ctx, keys, timeout, argv, NULL_ARRAY)


@command("blpop", -3, "write noscript blocking", keys=(1, -2, 1), group="list", since="2.0.0",
         complexity="O(N) where N is the number of provided keys.",
         summary="Remove and get the first element in a list, or block until one is available")
def blpop(ctx, argv):
    return _blocking_pop(ctx, argv, argv[1:-1], True, None, parse_timeout(argv[-1]))


@command("brpop", -3, "write noscript blocking", keys=(1, -2, 1), group="list", since="2.0.0",
         complexity="O(N) where N is the number of provided keys.",
         summary="Remove and get the last element in a list, or block until one is available")
def brpop(ctx, argv):
    return _blocking_pop(ctx, argv, argv[1:-1], False, None, parse_timeout(argv[-1]))


@command("blmpop", -5, "write blocking", find_keys=_numkeys_keys(2), group="list",
         since="7.0.0",
         complexity="O(N+M) where N is the number of provided keys and M is the number of "
                    "elements returned.",
         summary="Pop elements from a list, or block until one is available")
def blmpop(ctx, argv):
    keys, left, count = _mpop_arguments(argv, 2)
    return _blocking_pop(ctx, argv, keys, left, count, parse_timeout(argv[1]))


def _blocking_move(ctx, argv: list, from_left: bool, to_left: bool, timeout: float,
                   logged: list):
    """BLMOVE/BRPOPLPUSH: move now and log it as `logged` (the non-blocking form), or wait."""
    if _list(ctx, argv[1]) is not None:
        ctx.server.propagate_as(logged)
        return _move(ctx, argv[1], argv[2], from_left, to_left)
    return _wait(ctx, [argv[1]], timeout, argv, None)


@command("blmove", 6, "write denyoom noscript blocking", keys=(1, 2, 1), group="list",
         since="6.2.0", complexity="O(1)",
         summary="Pop an element from a list, push it to another list and return it; "
                 "or block until one is available")
def blmove(ctx, argv):
    from_left, to_left = _side(argv[3]), _side(argv[4])
    return _blocking_move(ctx, argv, from_left, to_left, parse_timeout(argv[5]),
                          [b"LMOVE", *argv[1:5]])


@command("brpoplpush", 4, "write denyoom noscript blocking", keys=(1, 2, 1), group="list",
         since="2.2.0", complexity="O(1)",
         summary="Pop an element from a list, push it to another list and return it; "
                 "or block until one is available")
def brpoplpush(ctx, argv):
    return _blocking_move(ctx, argv, False, True, parse_timeout(argv[3]),
                          [b"RPOPLPUSH", argv[1], argv[2]])
