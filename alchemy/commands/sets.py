"""Set commands (t_set.c): SADD/SREM and friends, random members, algebra, SSCAN.

A set is a `Set`: a Python set of bytes members. Redis 7.0 keeps a set of integers in an
intset and converts it to a hash table, for good, once a member is not an integer or the set
grows past set-max-intset-entries; `Set.intset` records which, so OBJECT ENCODING answers as
Redis does. (Redis 7.2's listpack encoding for small sets does not exist in 7.0.)

Random members: Python sets have no random access, so a random pick walks the set to a
random position (O(N) at C speed) and sampling lists the members first (O(N)); Redis does
these in O(1) and O(count). SPOP and SRANDMEMBER of one member from a big set keep the list
they draw from (`Set.picks`, 8 bytes a member), which makes a run of them amortised O(1)
each; the first draw after members were added lists them again, O(N) (see _draw).
"""

import random
from itertools import islice

from alchemy.command import command
from alchemy.commands.keys import parse_cursor, parse_scan_options
from alchemy.errors import SYNTAX, WRONGTYPE, AlchemyError
from alchemy.keyspace import register_type
from alchemy.notify import GENERIC, NEW, SET, notify, notify_new
from alchemy.persistence.snapshot import CODECS, pack_collection, unpack_collection
from alchemy.util import parse_int

# Redis counts with a C long: -2**63 cannot be negated, so it is refused.
_LONG_MAX = 2**63 - 1
COUNT_RANGE = ("ERR value is out of range, value must between "
               f"-{_LONG_MAX} and {_LONG_MAX}")
MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"
# The intset of Redis holds at most 2**30 members whatever set-max-intset-entries says.
_INTSET_LIMIT = 1 << 30
# SPOP logs the members it took in SREMs of at most this many (Redis 7.0 logs one SREM per
# member, which makes the log several times larger).
_LOG_BATCH = 1024


# Up to this size SPOP walks to a random position (cheaper than keeping a list to draw from).
_WALK_MAX = 64


class Set(set):
    """A set value; `intset` stays True while Redis 7.0 would still use an intset. `picks`
    is None or a list holding every member (and maybe members removed since) that SPOP
    draws from; adding members to a set drops its picks."""

    __slots__ = ("intset", "picks")

    def __init__(self, members=()):
        super().__init__(members)
        self.intset = True
        self.picks = None


def _copy(value: Set) -> Set:
    duplicate = Set(value)
    duplicate.intset = value.intset
    return duplicate


def _encode(value: Set) -> bytes:
    return pack_collection(value.intset, list(value))


def _decode(payload: bytes) -> Set:
    intset, members, _ = unpack_collection(payload, "set")
    value = Set(members)
    value.intset = bool(intset)
    return value


register_type(Set, "set", _copy, lambda value: "intset" if value.intset else "hashtable")
CODECS["set"] = (_encode, _decode)


def _int_or(arg: bytes, fallback: int | None) -> int | None:
    """arg as an integer, or fallback when it is not one (for errors worded per command)."""
    try:
        return parse_int(arg)
    except AlchemyError:
        return fallback


def _is_integer(member: bytes) -> bool:
    return _int_or(member, None) is not None


def _after_adding(ctx, value: Set, members) -> None:
    """Leave the intset encoding if the members just added to an intset call for it, as
    Redis does."""
    limit = min(ctx.server.config["set-max-intset-entries"], _INTSET_LIMIT)
    if len(value) > limit or not all(_is_integer(m) for m in members):
        value.intset = False


def _set(ctx, key: bytes) -> Set | None:
    return ctx.db.get_typed(key, Set)


def _sets(ctx, keys: list) -> list:
    """The sets at keys (None where missing); like Redis, every key is type-checked even
    after a missing one."""
    return [_set(ctx, key) for key in keys]


def _remove(ctx, key: bytes, value: Set, members, event: bytes = b"srem") -> int:
    """Remove members from the set at key, deleting the key once empty; how many went."""
    before = len(value)
    value.difference_update(members)
    removed = before - len(value)
    if removed:
        notify(ctx, SET, event, key)
    if not value:
        ctx.db.delete(key)
        notify(ctx, GENERIC, b"del", key)
    ctx.server.dirty += removed
    return removed


# -- random members, shared with HRANDFIELD ---------------------------------------------

def parse_random_count(arg: bytes) -> int:
    """The count of SRANDMEMBER/HRANDFIELD: a C long other than LONG_MIN."""
    count = parse_int(arg)
    if count == -2**63:
        raise AlchemyError(COUNT_RANGE)
    return count


def random_member(collection):
    """One uniformly chosen member (a key, for a dict) of a non-empty collection. O(N)."""
    return next(islice(iter(collection), random.randrange(len(collection)), None))


def random_members(collection, count: int) -> list:
    """Redis's random-count rule: count >= 0 gives distinct members (all of them when count
    is at least the size, in iteration order); a negative count gives -count independent
    picks, repeats allowed. O(N + |count|)."""
    if count >= len(collection):
        return list(collection)
    if count >= 0:
        return random.sample(list(collection), count)
    return random.choices(list(collection), k=-count)


def _draw(value: Set, taken: bool) -> bytes:
    """A uniformly chosen member of a non-empty set (taken: for SPOP to remove). A big set
    draws from its picks, listed at the first draw (O(N)): a random entry, taken out of the
    list (the last one moved into its place) when it is no member any more or is taken,
    until one is a member, so a run of draws costs amortised O(1) each. Uniform as long as
    the picks hold every member, which is why adding members drops them."""
    if len(value) <= _WALK_MAX:
        value.picks = None
        return random_member(value)
    picks = value.picks
    if picks is None:
        picks = value.picks = list(value)
    while True:
        index = int(random.random() * len(picks))
        member = picks[index]
        present = member in value
        if taken or not present:
            picks[index] = picks[-1]
            picks.pop()
        if present:
            return member


# -- scanning, shared with HSCAN --------------------------------------------------------

def scan_collection(ctx, argv: list, cursor: int, collection, compact: bool, reply_of) -> list:
    """HSCAN/SSCAN's reply for a collection (argv[3:] holds the options).

    A compactly encoded collection is returned whole with cursor 0, as Redis does. Otherwise
    the scan walks a snapshot of the members; members removed meanwhile are skipped.
    reply_of(member) gives the reply items of one member.
    """
    count, match, _ = parse_scan_options(argv, 3, allow_type=False)
    if compact:
        next_cursor, batch = 0, list(collection)
    else:
        next_cursor, batch = ctx.server.cursors.next_batch(
            cursor, count, lambda: list(collection))
    found = []
    for member in batch:
        if member in collection and (match is None or match(member)):
            found.extend(reply_of(member))
    return [str(next_cursor).encode(), found]


# -- commands ---------------------------------------------------------------------------

@command("sadd", -3, "write denyoom fast", keys=(1, 1, 1), group="set",
         summary="Add one or more members to a set")
def sadd(ctx, argv):
    key = argv[1]
    db = ctx.db
    # Keyspace.get_typed written out, as in LPUSH (a call is 500 instructions).
    value = db.get(key) if db.expires else db.data.get(key)
    if value is None:
        value = _created(ctx, key)
    elif type(value) is not Set:
        raise AlchemyError(WRONGTYPE)
    if len(argv) == 3:  # one member, most SADDs: no slice of argv, no count of the set
        member = argv[2]
        if member in value:
            return 0
        value.add(member)
        added = 1
    else:
        before = len(value)
        value.update(argv[2:])
        added = len(value) - before
    if added:
        value.picks = None
        if value.intset:
            _after_adding(ctx, value, argv[2:])
        ctx.server.dirty += added
        if ctx.server.config.values["notify-keyspace-events"]:  # notify's own test, sparing
            notify(ctx, SET, b"sadd", key)                       # the call when it is off
    return added


def _created(ctx, key: bytes) -> Set:
    """A new empty set stored at key, to be filled at once."""
    value = Set()
    notify(ctx, NEW, b"new", key)
    ctx.db.set(key, value)
    return value


@command("srem", -3, "write fast", keys=(1, 1, 1), group="set",
         summary="Remove one or more members from a set")
def srem(ctx, argv):
    value = _set(ctx, argv[1])
    if value is None:
        return 0
    return _remove(ctx, argv[1], value, argv[2:])


@command("scard", 2, "readonly fast", keys=(1, 1, 1), group="set",
         summary="Get the number of members in a set")
def scard(ctx, argv):
    value = _set(ctx, argv[1])
    return 0 if value is None else len(value)


@command("sismember", 3, "readonly fast", keys=(1, 1, 1), group="set",
         summary="Determine if a given value is a member of a set")
def sismember(ctx, argv):
    value = _set(ctx, argv[1])
    return int(value is not None and argv[2] in value)


@command("smismember", -3, "readonly fast", keys=(1, 1, 1), group="set", since="6.2.0",
         summary="Returns the membership associated with the given elements for a set")
def smismember(ctx, argv):
    value = _set(ctx, argv[1]) or ()
    return [int(member in value) for member in argv[2:]]


@command("smembers", 2, "readonly", keys=(1, 1, 1), group="set",
         summary="Get all the members in a set")
def smembers(ctx, argv):
    return set(_set(ctx, argv[1]) or ())


@command("srandmember", -2, "readonly", keys=(1, 1, 1), group="set",
         summary="Get one or multiple random members from a set")
def srandmember(ctx, argv):
    if len(argv) > 3:
        raise AlchemyError(SYNTAX)
    count = parse_random_count(argv[2]) if len(argv) == 3 else None
    value = _set(ctx, argv[1])
    if count is None:
        return None if value is None else _draw(value, False)
    return [] if value is None else random_members(value, count)


@command("spop", -2, "write fast", keys=(1, 1, 1), group="set",
         summary="Remove and return one or multiple random members from a set")
def spop(ctx, argv):
    if len(argv) == 2:
        db = ctx.db
        # Keyspace.get_typed written out, as in LPUSH (a call is 500 instructions).
        value = db.get(argv[1]) if db.expires else db.data.get(argv[1])
        if value is None:
            return None
        if type(value) is not Set:
            raise AlchemyError(WRONGTYPE)
        member = _draw(value, True)
        _remove(ctx, argv[1], value, (member,), b"spop")
        ctx.server.propagate_as([b"SREM", argv[1], member])  # the random choice, made
        return member
    if len(argv) > 3:
        raise AlchemyError(SYNTAX)
    return _spop_count(ctx, argv[1], argv[2])


def _batches(name: bytes, key: bytes, members: list) -> list:
    return [[name, key, *members[i:i + _LOG_BATCH]]
            for i in range(0, len(members), _LOG_BATCH)]


def _spop_count(ctx, key: bytes, arg: bytes) -> set:
    count = _int_or(arg, -1)
    if count < 0:
        raise AlchemyError(MUST_BE_POSITIVE)
    value = _set(ctx, key)
    if value is None or count == 0:
        return set()
    popped = set(random_members(value, count))
    remaining = len(value) - len(popped)
    _remove(ctx, key, value, popped, b"spop")
    # The log gets what was chosen, as one unit.
    if not remaining:
        logged = [[b"DEL", key]]
    elif remaining * 5 <= count:
        # Redis rebuilds the set from the survivors when few remain, re-choosing the
        # encoding; the log rebuilds it the same way (and costs O(survivors), not O(count)).
        value.intset = True
        _after_adding(ctx, value, value)
        logged = [[b"DEL", key], *_batches(b"SADD", key, list(value))]
        deadline = ctx.db.deadline(key)
        if deadline is not None:
            logged.append([b"PEXPIREAT", key, b"%d" % deadline])
    else:
        logged = _batches(b"SREM", key, list(popped))
    ctx.server.propagate_as(*logged)
    return popped


@command("smove", 4, "write fast", keys=(1, 2, 1), group="set",
         summary="Move a member from one set to another")
def smove(ctx, argv):
    source_key, destination_key, member = argv[1], argv[2], argv[3]
    source = ctx.db.get(source_key)
    if source is None:
        return 0  # Redis answers before checking either type
    destination = ctx.db.get(destination_key)
    if type(source) is not Set or (destination is not None and type(destination) is not Set):
        raise AlchemyError(WRONGTYPE)
    if source is destination:
        return int(member in source)
    if member not in source:
        return 0
    _remove(ctx, source_key, source, (member,))
    if destination is None:
        destination = _created(ctx, destination_key)
    if member not in destination:
        destination.add(member)
        destination.picks = None
        if destination.intset:
            _after_adding(ctx, destination, (member,))
        ctx.server.dirty += 1
        notify(ctx, SET, b"sadd", destination_key)
    else:
        ctx.server.only_touched(source_key)
    return 1


# -- algebra ----------------------------------------------------------------------------

def _intersection(sets: list, cls: type) -> set:
    """O(N*M): N the smallest set's size, M the number of sets."""
    if any(s is None for s in sets):
        return cls()
    smallest = min(sets, key=len)
    result = cls(smallest)
    result.intersection_update(*(s for s in sets if s is not smallest))
    return result


def _union(sets: list, cls: type) -> set:
    result = cls()
    result.update(*(s for s in sets if s is not None))
    return result


def _difference(sets: list, cls: type) -> set:
    if sets[0] is None:
        return cls()
    result = cls(sets[0])
    result.difference_update(*(s for s in sets[1:] if s is not None))
    return result


def _store(ctx, destination: bytes, result: Set, event: bytes) -> int:
    """Replace destination with result (dropping its TTL), or delete it when result is
    empty; the size of the result."""
    if result:
        _after_adding(ctx, result, result)
        notify_new(ctx, destination)
        ctx.db.set(destination, result)
        notify(ctx, SET, event, destination)
        ctx.server.dirty += 1
    elif ctx.db.delete(destination):
        notify(ctx, GENERIC, b"del", destination)
        ctx.server.dirty += 1
    return len(result)


@command("sinter", -2, "readonly", keys=(1, -1, 1), group="set",
         summary="Intersect multiple sets")
def sinter(ctx, argv):
    return _intersection(_sets(ctx, argv[1:]), set)


@command("sinterstore", -3, "write denyoom", keys=(1, -1, 1), group="set",
         summary="Intersect multiple sets and store the resulting set in a key")
def sinterstore(ctx, argv):
    return _store(ctx, argv[1], _intersection(_sets(ctx, argv[2:]), Set), b"sinterstore")


@command("sunion", -2, "readonly", keys=(1, -1, 1), group="set", summary="Add multiple sets")
def sunion(ctx, argv):
    return _union(_sets(ctx, argv[1:]), set)


@command("sunionstore", -3, "write denyoom", keys=(1, -1, 1), group="set",
         summary="Add multiple sets and store the resulting set in a key")
def sunionstore(ctx, argv):
    return _store(ctx, argv[1], _union(_sets(ctx, argv[2:]), Set), b"sunionstore")


@command("sdiff", -2, "readonly", keys=(1, -1, 1), group="set", summary="Subtract multiple sets")
def sdiff(ctx, argv):
    return _difference(_sets(ctx, argv[1:]), set)


@command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1), group="set",
         summary="Subtract multiple sets and store the resulting set in a key")
def sdiffstore(ctx, argv):
    return _store(ctx, argv[1], _difference(_sets(ctx, argv[2:]), Set), b"sdiffstore")


def _numkeys_keys(argv: list) -> list:
    """The keys of SINTERCARD numkeys key [key ...]: none while numkeys is not valid."""
    numkeys = _int_or(argv[1], 0)
    return argv[2:2 + numkeys] if numkeys > 0 else []


@command("sintercard", -3, "readonly", find_keys=_numkeys_keys, group="set", since="7.0.0",
         summary="Intersect multiple sets and return the cardinality of the result")
def sintercard(ctx, argv):
    """O(N*M) worst case, N the smallest set's size, M the number of sets; LIMIT stops early."""
    numkeys = _int_or(argv[1], 0)
    if numkeys <= 0:
        raise AlchemyError(NUMKEYS)
    if numkeys > len(argv) - 2:
        raise AlchemyError("ERR Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].upper() != b"LIMIT" or i + 1 >= len(argv):
            raise AlchemyError(SYNTAX)
        limit = _int_or(argv[i + 1], -1)
        if limit < 0:
            raise AlchemyError("ERR LIMIT can't be negative")
        i += 2
    sets = _sets(ctx, argv[2:2 + numkeys])
    if any(s is None for s in sets):
        return 0
    smallest = min(sets, key=len)
    others = [s for s in sets if s is not smallest]
    found = 0
    for member in smallest:
        if all(member in s for s in others):
            found += 1
            if found == limit:
                break
    return found


@command("sscan", -3, "readonly", keys=(1, 1, 1), group="set", since="2.8.0",
         summary="Incrementally iterate Set elements")
def sscan(ctx, argv):
    cursor = parse_cursor(argv[2])
    value = _set(ctx, argv[1])
    if value is None:
        return [b"0", []]
    return scan_collection(ctx, argv, cursor, value, value.intset, lambda member: (member,))
