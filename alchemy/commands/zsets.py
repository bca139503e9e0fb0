"""Sorted set commands (t_zset.c): ZADD and friends, ranges by rank, score and lex, pops
(blocking ones too), set algebra (ZUNION/ZINTER/ZDIFF and their STORE forms), ZSCAN.

The storage is alchemy.zset.ZSet; this module parses arguments as Redis 7.0 does and
shapes replies. Scores are returned as Python floats: the encoder writes them as RESP2 bulk
strings (%.17g) or RESP3 doubles. Pairs of member and score are flat in RESP2 and nested
[member, score] arrays in RESP3, as Redis 7.0 replies.
"""

import math
import random
import re

from alchemy.command import command
from alchemy.errors import SYNTAX, WRONGTYPE, AlchemyError
from alchemy.keyspace import register_type
from alchemy.notify import GENERIC, NEW, ZSET, notify, notify_new
from alchemy.persistence.snapshot import (CODECS, pack_collection, pack_doubles,
                                          unpack_collection, unpack_doubles)
from alchemy.reply import NULL_ARRAY
from alchemy.resp import format_double
from alchemy.util import glob_matcher, index_span, parse_int, parse_timeout
from alchemy.zset import LEX_MAX, LEX_MIN, ZSet


def _encode(zset: ZSet) -> bytes:
    """Snapshot payload: the listpack flag, the members in order, then their scores as
    doubles (exact: -0.0 and infinities too). O(n)."""
    pairs = zset.items()
    return pack_collection(zset.compact, [member for member, _ in pairs],
                           pack_doubles([score for _, score in pairs]))


def _decode(payload: bytes) -> ZSet:
    """O(n): the pairs come in order, which the sorted list's build takes in linear time."""
    compact, members, at = unpack_collection(payload, "zset")
    zset = ZSet.from_scores(dict(zip(members, unpack_doubles(payload, at))))
    zset.compact = bool(compact)
    return zset


register_type(ZSet, "zset", ZSet.copy, lambda z: "listpack" if z.compact else "skiplist")
CODECS["zset"] = (_encode, _decode)

NOT_VALID_FLOAT = "ERR value is not a valid float"
NOT_FLOAT_RANGE = "ERR min or max is not a float"
NOT_LEX_RANGE = "ERR min or max not valid string range item"
NAN_SCORE = "ERR resulting score is not a number (NaN)"
XX_AND_NX = "ERR XX and NX options at the same time are not compatible"
GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
INCR_PAIR = "ERR INCR option supports a single increment-element pair"
LIMIT_WITH_RANK = ("ERR syntax error, LIMIT is only supported in combination with either "
                   "BYSCORE or BYLEX")
WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
NOT_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"
COUNT_POSITIVE = "ERR count should be greater than 0"

LONG_MAX = 2**63 - 1


# -- numbers as Redis reads them ----------------------------------------------------

# What C's strtod accepts: decimal, hexadecimal (0x1p3), inf/infinity, nan.
_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?(?:0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|inf(?:inity)?|nan))", re.I)


def _strtod(text: bytes) -> tuple[float, bool] | None:
    """strtod over the whole of text: (value, ERANGE), or None if text is not a number."""
    match = _STRTOD.fullmatch(text)
    if match is None:
        return None
    number = match.group(1).lower()
    hexadecimal = b"x" in number
    try:
        value = float.fromhex(number.decode()) if hexadecimal else float(number)
    except OverflowError:
        return (-math.inf if number[:1] == b"-" else math.inf), True
    if math.isinf(value):
        return value, b"n" not in number
    mantissa = number.split(b"p" if hexadecimal else b"e")[0]
    underflow = value == 0 and mantissa.strip(b"+-0.x") != b""
    return value, underflow


def parse_score(arg: bytes, error: str = NOT_VALID_FLOAT) -> float:
    """A score, weight or increment (getDoubleFromObject): no spaces, no overflow, no nan."""
    if arg.isdigit() and len(arg) < 300:
        # A plain integer, what most scores are, reads the same with float() as with strtod
        # (300 digits stay far below overflow), at a tenth of the cost of the grammar below;
        # so does a plain decimal (GEOADD's coordinates), its sign and one point aside.
        return float(arg)
    if len(arg) < 300 and (arg[1:] if arg[:1] == b"-" else arg).replace(b".", b"", 1).isdigit():
        return float(arg)
    parsed = _strtod(arg) if arg[:1] and not arg[:1].isspace() else None
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        raise AlchemyError(error)
    return parsed[0]


def _score_bound(arg: bytes) -> tuple[float, bool]:
    """`1.5`, `(1.5`, `-inf`, `+inf` (zslParseRange: strtod unchecked, so "" reads as 0)."""
    open_ = arg[:1] == b"("
    text = arg[1:] if open_ else arg
    parsed = _strtod(text) if text else (0.0, False)
    if parsed is None or math.isnan(parsed[0]):
        raise AlchemyError(NOT_FLOAT_RANGE)
    return parsed[0], open_


def _lex_bound(arg: bytes) -> tuple[object, bool]:
    """`[a` (closed), `(a` (open), `-` and `+` (unbounded)."""
    first = arg[:1]
    if first == b"[" or first == b"(":
        return arg[1:], first == b"("
    if arg == b"-":
        return LEX_MIN, True
    if arg == b"+":
        return LEX_MAX, True
    raise AlchemyError(NOT_LEX_RANGE)


def _span(zset: ZSet, by: bytes, low: bytes, high: bytes) -> tuple[int, int]:
    """Positions covered by a BYSCORE or BYLEX range (parsed first: errors before lookup)."""
    if by == b"BYSCORE":
        return zset.score_span(*_score_bound(low), *_score_bound(high))
    return zset.lex_span(*_lex_bound(low), *_lex_bound(high))


def _check_range(by: bytes, low: bytes, high: bytes) -> None:
    parse = _score_bound if by == b"BYSCORE" else _lex_bound
    parse(low)
    parse(high)


def _positive(arg: bytes, error: str = NOT_POSITIVE, least: int = 0) -> int:
    """An integer >= least; any failure (not a number too) is answered with error."""
    try:
        value = parse_int(arg)
    except AlchemyError:
        raise AlchemyError(error) from None
    if value < least:
        raise AlchemyError(error)
    return value


# -- keyspace and replies -----------------------------------------------------------

def _zset(ctx, key: bytes) -> ZSet | None:
    return ctx.db.get_typed(key, ZSet)


def _fits_listpack(ctx, size: int, longest: int) -> bool:
    config = ctx.server.config.values
    return (size <= config["zset-max-listpack-entries"]
            and longest <= config["zset-max-listpack-value"])


def _put(ctx, zset: ZSet, member: bytes, score: float, new: bool) -> None:
    """Add (new) or update a member; leave listpack first when it would outgrow the limits
    (like Redis 7.0, deletions never convert back)."""
    if zset.compact:
        if new:
            zset.compact = _fits_listpack(ctx, len(zset.scores) + 1, len(member))
        # A listpack stores -0 as the integer 0 (Redis replies 0 from then on).
        zset.add(member, score + 0.0 if zset.compact else score)
    else:
        zset.add(member, score)


def _created(ctx, key: bytes) -> ZSet:
    """A new empty sorted set stored at key, to be filled at once."""
    zset = ZSet()
    notify(ctx, NEW, b"new", key)
    ctx.db.set(key, zset)
    return zset


def store_scores(ctx, key: bytes, scores: dict, event: bytes) -> int:
    """Replace key with a sorted set of scores (deleting it when empty) and notify event;
    the new size."""
    if not scores:
        if ctx.db.delete(key):
            notify(ctx, GENERIC, b"del", key)
            ctx.server.dirty += 1
        return 0
    compact = _fits_listpack(ctx, len(scores), max(map(len, scores)))
    if compact:
        scores = {member: score + 0.0 for member, score in scores.items()}
    zset = ZSet.from_scores(scores)
    zset.compact = compact
    notify_new(ctx, key)
    ctx.db.set(key, zset)
    ctx.server.dirty += 1
    notify(ctx, ZSET, event, key)
    return len(zset)


def _removed(ctx, key: bytes, zset: ZSet, count: int, event: bytes) -> None:
    """Account for count members removed by event: the write, and the key if now empty."""
    if count:
        ctx.server.dirty += count
        notify(ctx, ZSET, event, key)
        if not zset:
            ctx.db.delete(key)
            notify(ctx, GENERIC, b"del", key)


def _scored(ctx, pairs: list) -> list:
    """(member, score) pairs as WITHSCORES replies them: flat in RESP2, pairs in RESP3."""
    if ctx.resp3:
        return [[member, score] for member, score in pairs]
    return [item for pair in pairs for item in pair]


def _flat(pairs: list) -> list:
    return [item for pair in pairs for item in pair]


def _keys_after_numkeys(numkeys_at: int, with_destination: bool = False):
    """find_keys for commands that name their keys with a count (ZUNION, ZMPOP, ...)."""
    def find_keys(argv: list) -> list:
        try:
            count = max(int(argv[numkeys_at]), 0)
        except (ValueError, IndexError):
            count = 0
        keys = argv[numkeys_at + 1:numkeys_at + 1 + count]
        return [argv[1], *keys] if with_destination else keys
    return find_keys


# -- adding and removing ------------------------------------------------------------

_ZADD_FLAGS = {b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"}


@command("zadd", -4, "write denyoom fast", keys=(1, 1, 1), group="sorted_set",
         since="1.2.0", complexity="O(log(N)) for each item added",
         summary="Add one or more members to a sorted set, or update its score")
def zadd(ctx, argv, flags=None):
    """ZADD, and with flags {INCR} ZINCRBY (ZADD itself saves a call)."""
    key = argv[1]
    if flags is None and len(argv) == 4 and argv[2].isdigit() and len(argv[2]) < 300:
        # ZADD key score member with an integer score, what most ZADDs are: no flags, one
        # pair, no loop (the loop below does the same for this shape), and a score float()
        # reads exactly as parse_score would, without its call.
        score, member = float(argv[2]), argv[3]
        db = ctx.db
        # Keyspace.get_typed written out, as in LPUSH (a call is 500 instructions).
        zset = db.get(key) if db.expires else db.data.get(key)
        if zset is None:
            zset = _created(ctx, key)
        elif type(zset) is not ZSet:
            raise AlchemyError(WRONGTYPE)
        old = zset.scores.get(member)
        if old == score:
            return 0
        _put(ctx, zset, member, score, old is None)
        ctx.server.dirty += 1
        if ctx.server.config.values["notify-keyspace-events"]:  # notify's own test, sparing
            notify(ctx, ZSET, b"zadd", key)                      # the call when it is off
        return int(old is None)
    i = 2
    if flags is None:
        flags = ()
        if not argv[2][:1].isdigit():  # not a score: flags, maybe (most ZADDs have none)
            flags = set()
            while i < len(argv) and argv[i].upper() in _ZADD_FLAGS:
                flags.add(argv[i].upper())
                i += 1
    args = argv[i:]
    if not args or len(args) % 2:
        raise AlchemyError(SYNTAX)
    nx = xx = gt = lt = incr = False
    if flags:
        nx, xx, gt, lt = (flag in flags for flag in (b"NX", b"XX", b"GT", b"LT"))
        incr = b"INCR" in flags
        if nx and xx:
            raise AlchemyError(XX_AND_NX)
        if (gt or lt) and nx or (gt and lt):
            raise AlchemyError(GT_LT_NX)
        if incr and len(args) > 2:
            raise AlchemyError(INCR_PAIR)
    if len(args) == 2:
        pairs = ((parse_score(args[0]), args[1]),)
    else:  # every score is checked before anything changes
        pairs = list(zip([parse_score(arg) for arg in args[::2]], args[1::2]))
    zset = ctx.db.get_typed(key, ZSet)
    if zset is None:
        if xx:
            return None if incr else 0
        zset = _created(ctx, key)
    added = updated = 0
    result = None
    scores = zset.scores
    for score, member in pairs:
        old = scores.get(member)
        if old is None:
            if xx:
                continue
            _put(ctx, zset, member, score, True)
            added += 1
        else:
            if nx:
                continue
            if incr:
                score += old
                if math.isnan(score):
                    raise AlchemyError(NAN_SCORE)
            if (lt and score >= old) or (gt and score <= old):
                continue
            if score != old:
                _put(ctx, zset, member, score, False)
                updated += 1
        result = score
    ctx.server.dirty += added + updated
    if added or updated:
        notify(ctx, ZSET, b"zincr" if incr else b"zadd", key)
    if incr:
        return result
    return added + updated if b"CH" in flags else added


@command("zincrby", 4, "write denyoom fast", keys=(1, 1, 1), group="sorted_set",
         since="1.2.0", complexity="O(log(N))",
         summary="Increment the score of a member in a sorted set")
def zincrby(ctx, argv):
    return zadd(ctx, argv, {b"INCR"})


@command("zrem", -3, "write fast", keys=(1, 1, 1), group="sorted_set", since="1.2.0",
         complexity="O(M*log(N)) for M members removed",
         summary="Remove one or more members from a sorted set")
def zrem(ctx, argv):
    key = argv[1]
    zset = _zset(ctx, key)
    if zset is None:
        return 0
    removed = sum(zset.remove(member) for member in argv[2:])
    _removed(ctx, key, zset, removed, b"zrem")
    return removed


_ZREMRANGE_EVENTS = {b"RANK": b"zremrangebyrank", b"BYSCORE": b"zremrangebyscore",
                     b"BYLEX": b"zremrangebylex"}


def _zremrange(ctx, argv, by: bytes) -> int:
    key, low, high = argv[1], argv[2], argv[3]
    if by == b"RANK":
        start, end = parse_int(low), parse_int(high)
    else:
        _check_range(by, low, high)
    zset = _zset(ctx, key)
    if zset is None:
        return 0
    if by == b"RANK":
        span = index_span(start, end, len(zset))
    else:
        span = _span(zset, by, low, high)
    removed = zset.delete_span(*span)
    _removed(ctx, key, zset, removed, _ZREMRANGE_EVENTS[by])
    return removed


@command("zremrangebyrank", 4, "write", keys=(1, 1, 1), group="sorted_set", since="2.0.0",
         complexity="O(log(N)+M) for M members removed",
         summary="Remove the members of a sorted set within a range of ranks")
def zremrangebyrank(ctx, argv):
    return _zremrange(ctx, argv, b"RANK")


@command("zremrangebyscore", 4, "write", keys=(1, 1, 1), group="sorted_set",
         since="1.2.0", complexity="O(log(N)+M) for M members removed",
         summary="Remove the members of a sorted set within a range of scores")
def zremrangebyscore(ctx, argv):
    return _zremrange(ctx, argv, b"BYSCORE")


@command("zremrangebylex", 4, "write", keys=(1, 1, 1), group="sorted_set", since="2.8.9",
         complexity="O(log(N)+M) for M members removed",
         summary="Remove the members of a sorted set within a lexicographical range")
def zremrangebylex(ctx, argv):
    return _zremrange(ctx, argv, b"BYLEX")


# -- reading single members ----------------------------------------------------------

@command("zcard", 2, "readonly fast", keys=(1, 1, 1), group="sorted_set", since="1.2.0",
         complexity="O(1)", summary="Get the number of members in a sorted set")
def zcard(ctx, argv):
    zset = _zset(ctx, argv[1])
    return len(zset) if zset is not None else 0


@command("zscore", 3, "readonly fast", keys=(1, 1, 1), group="sorted_set", since="1.2.0",
         complexity="O(1)", summary="Get the score of a member in a sorted set")
def zscore(ctx, argv):
    zset = _zset(ctx, argv[1])
    return zset.score(argv[2]) if zset is not None else None


@command("zmscore", -3, "readonly fast", keys=(1, 1, 1), group="sorted_set",
         since="6.2.0", complexity="O(N) for N members",
         summary="Get the scores of several members of a sorted set")
def zmscore(ctx, argv):
    zset = _zset(ctx, argv[1]) or ZSet()
    return [zset.score(member) for member in argv[2:]]


def _zrank(ctx, argv, reverse: bool):
    zset = _zset(ctx, argv[1])
    rank = zset.rank(argv[2]) if zset is not None else None
    if rank is None or not reverse:
        return rank
    return len(zset) - 1 - rank


@command("zrank", 3, "readonly fast", keys=(1, 1, 1), group="sorted_set", since="2.0.0",
         complexity="O(log(N))", summary="Get the rank of a member, scores ascending")
def zrank(ctx, argv):
    return _zrank(ctx, argv, False)


@command("zrevrank", 3, "readonly fast", keys=(1, 1, 1), group="sorted_set",
         since="2.0.0", complexity="O(log(N))",
         summary="Get the rank of a member, scores descending")
def zrevrank(ctx, argv):
    return _zrank(ctx, argv, True)


def _zcount(ctx, argv, by: bytes) -> int:
    _check_range(by, argv[2], argv[3])
    zset = _zset(ctx, argv[1])
    if zset is None:
        return 0
    start, stop = _span(zset, by, argv[2], argv[3])
    return stop - start


@command("zcount", 4, "readonly fast", keys=(1, 1, 1), group="sorted_set", since="2.0.0",
         complexity="O(log(N))",
         summary="Count the members of a sorted set with scores within a range")
def zcount(ctx, argv):
    return _zcount(ctx, argv, b"BYSCORE")


@command("zlexcount", 4, "readonly fast", keys=(1, 1, 1), group="sorted_set",
         since="2.8.9", complexity="O(log(N))",
         summary="Count the members of a sorted set within a lexicographical range")
def zlexcount(ctx, argv):
    return _zcount(ctx, argv, b"BYLEX")


# -- ranges ---------------------------------------------------------------------------

def _zrange(ctx, argv, src: int, by: bytes | None = None, reverse: bool | None = None,
            destination: bytes | None = None):
    """Every Z*RANGE* command: argv[src] is the key, then min, max and the options.

    by and reverse are fixed by the legacy commands and None (chosen by options) for
    ZRANGE and ZRANGESTORE. O(log(N)+M) for M members returned.
    """
    withscores = False
    offset, limit = 0, -1
    i = src + 3
    while i < len(argv):
        option = argv[i].upper()
        if option == b"WITHSCORES" and destination is None:
            withscores = True
        elif option == b"LIMIT" and len(argv) - i - 1 >= 2:
            offset, limit = parse_int(argv[i + 1]), parse_int(argv[i + 2])
            i += 2
        elif option == b"REV" and reverse is None:
            reverse = True
        elif option in (b"BYSCORE", b"BYLEX") and by is None:
            by = option
        else:
            raise AlchemyError(SYNTAX)
        i += 1
    by = by or b"RANK"
    reverse = bool(reverse)
    if limit != -1 and by == b"RANK":
        raise AlchemyError(LIMIT_WITH_RANK)
    if withscores and by == b"BYLEX":
        raise AlchemyError(WITHSCORES_BYLEX)
    low, high = argv[src + 1], argv[src + 2]
    if reverse and by != b"RANK":
        low, high = high, low
    if by == b"RANK":
        start, end = parse_int(low), parse_int(high)
    else:
        _check_range(by, low, high)
    zset = _zset(ctx, argv[src])
    if zset is None:
        pairs = []
    elif by == b"RANK":
        pairs = _rank_items(zset, start, end, reverse)
    else:
        pairs = _limited_items(zset, _span(zset, by, low, high), offset, limit, reverse)
    if destination is not None:
        return store_scores(ctx, destination, dict(pairs), b"zrangestore")
    if withscores:
        return _scored(ctx, pairs)
    return [member for member, _ in pairs]


def _rank_items(zset: ZSet, start: int, end: int, reverse: bool) -> list:
    first, stop = index_span(start, end, len(zset))
    if reverse:
        first, stop = len(zset) - stop, len(zset) - first
    return zset.items(first, stop, reverse)


def _limited_items(zset: ZSet, span: tuple, offset: int, limit: int, reverse: bool) -> list:
    """The items of a span after LIMIT offset count (a negative offset selects nothing,
    a negative count everything left, as Redis walks them)."""
    start, stop = span
    available = stop - start - offset
    if offset < 0 or available <= 0:
        return []
    count = available if limit < 0 else min(limit, available)
    if reverse:
        return zset.items(stop - offset - count, stop - offset, True)
    return zset.items(start + offset, start + offset + count)


@command("zrange", -4, "readonly", keys=(1, 1, 1), group="sorted_set", since="1.2.0",
         complexity="O(log(N)+M) for M members returned",
         summary="Return a range of members of a sorted set (by rank, score or lex)")
def zrange(ctx, argv):
    return _zrange(ctx, argv, 1)


@command("zrangestore", -5, "write denyoom", keys=(1, 2, 1), group="sorted_set",
         since="6.2.0", complexity="O(log(N)+M) for M members stored",
         summary="Store a range of members of a sorted set into another key")
def zrangestore(ctx, argv):
    return _zrange(ctx, argv, 2, destination=argv[1])


@command("zrevrange", -4, "readonly", keys=(1, 1, 1), group="sorted_set", since="1.2.0",
         complexity="O(log(N)+M) for M members returned",
         summary="Return a range of members of a sorted set by rank, highest first")
def zrevrange(ctx, argv):
    return _zrange(ctx, argv, 1, b"RANK", True)


@command("zrangebyscore", -4, "readonly", keys=(1, 1, 1), group="sorted_set",
         since="1.0.5", complexity="O(log(N)+M) for M members returned",
         summary="Return the members of a sorted set within a range of scores")
def zrangebyscore(ctx, argv):
    return _zrange(ctx, argv, 1, b"BYSCORE", False)


@command("zrevrangebyscore", -4, "readonly", keys=(1, 1, 1), group="sorted_set",
         since="2.2.0", complexity="O(log(N)+M) for M members returned",
         summary="Return the members within a range of scores, highest first")
def zrevrangebyscore(ctx, argv):
    return _zrange(ctx, argv, 1, b"BYSCORE", True)


@command("zrangebylex", -4, "readonly", keys=(1, 1, 1), group="sorted_set",
         since="2.8.9", complexity="O(log(N)+M) for M members returned",
         summary="Return the members of a sorted set within a lexicographical range")
def zrangebylex(ctx, argv):
    return _zrange(ctx, argv, 1, b"BYLEX", False)


@command("zrevrangebylex", -4, "readonly", keys=(1, 1, 1), group="sorted_set",
         since="2.8.9", complexity="O(log(N)+M) for M members returned",
         summary="Return the members within a lexicographical range, highest first")
def zrevrangebylex(ctx, argv):
    return _zrange(ctx, argv, 1, b"BYLEX", True)


# -- pops -----------------------------------------------------------------------------

def _pop(ctx, key: bytes, zset: ZSet, count: int, highest: bool) -> list:
    popped = zset.pop(count, highest)
    _removed(ctx, key, zset, len(popped), b"zpopmax" if highest else b"zpopmin")
    return popped


def _zpop(ctx, argv, highest: bool):
    if len(argv) > 3:
        raise AlchemyError(SYNTAX)
    count = _positive(argv[2]) if len(argv) == 3 else None
    key = argv[1]
    zset = _zset(ctx, key)
    if zset is None or count == 0:
        return []
    popped = _pop(ctx, key, zset, count or 1, highest)
    if count is not None and ctx.resp3:
        return [list(pair) for pair in popped]
    return _flat(popped)


@command("zpopmin", -2, "write fast", keys=(1, 1, 1), group="sorted_set", since="5.0.0",
         complexity="O(log(N)*M) for M members popped",
         summary="Remove and return the members with the lowest scores")
def zpopmin(ctx, argv):
    return _zpop(ctx, argv, False)


@command("zpopmax", -2, "write fast", keys=(1, 1, 1), group="sorted_set", since="5.0.0",
         complexity="O(log(N)*M) for M members popped",
         summary="Remove and return the members with the highest scores")
def zpopmax(ctx, argv):
    return _zpop(ctx, argv, True)


_POP_NAMES = {False: b"ZPOPMIN", True: b"ZPOPMAX"}  # what a pop from one key is logged as


def _block(ctx, keys: list, timeout: float, argv: list):
    """Wait for a write to one of keys; outside a client that can wait, time out at once."""
    if not ctx.can_block:
        return NULL_ARRAY
    return ctx.server.block(ctx, keys, timeout, argv, NULL_ARRAY, ZSet)


def _bzpop(ctx, argv, highest: bool):
    timeout = parse_timeout(argv[-1])
    keys = argv[1:-1]
    for key in ctx.server.keys_to_try(keys):
        zset = _zset(ctx, key)
        if zset is not None:
            # Logged as the pop from that key, as Redis 7.0 propagates it.
            ctx.server.propagate_as([_POP_NAMES[highest], key])
            return [key, *_flat(_pop(ctx, key, zset, 1, highest))]
    return _block(ctx, keys, timeout, argv)


@command("bzpopmin", -3, "write noscript blocking fast", keys=(1, -2, 1),
         group="sorted_set", since="5.0.0", complexity="O(log(N))",
         summary="Remove and return the lowest-scored member, or block until one is added")
def bzpopmin(ctx, argv):
    return _bzpop(ctx, argv, False)


@command("bzpopmax", -3, "write noscript blocking fast", keys=(1, -2, 1),
         group="sorted_set", since="5.0.0", complexity="O(log(N))",
         summary="Remove and return the highest-scored member, or block until one is added")
def bzpopmax(ctx, argv):
    return _bzpop(ctx, argv, True)


def _zmpop_args(argv, numkeys_at: int) -> tuple[list, bool, int]:
    """numkeys key [key ...] MIN|MAX [COUNT count] -> (keys, highest, count)."""
    numkeys = _positive(argv[numkeys_at], NUMKEYS, least=1)
    where = numkeys_at + numkeys + 1
    if where >= len(argv):
        raise AlchemyError(SYNTAX)
    side = argv[where].upper()
    if side not in (b"MIN", b"MAX"):
        raise AlchemyError(SYNTAX)
    count = None
    i = where + 1
    while i < len(argv):
        if count is None and argv[i].upper() == b"COUNT" and i + 1 < len(argv):
            count = _positive(argv[i + 1], COUNT_POSITIVE, least=1)
            i += 2
        else:
            raise AlchemyError(SYNTAX)
    return argv[numkeys_at + 1:where], side == b"MAX", count or 1


def _zmpop_from(ctx, keys: list, highest: bool, count: int):
    """Pop from the first of keys that exists: [key, [[member, score], ...]], else None.
    Logged as ZPOPMIN/ZPOPMAX key <count popped>, as Redis 7.0 propagates it."""
    for key in ctx.server.keys_to_try(keys):
        zset = _zset(ctx, key)
        if zset is not None:
            popped = _pop(ctx, key, zset, count, highest)
            ctx.server.propagate_as([_POP_NAMES[highest], key, b"%d" % len(popped)])
            return [key, [list(pair) for pair in popped]]
    return None


@command("zmpop", -4, "write", find_keys=_keys_after_numkeys(1), group="sorted_set",
         since="7.0.0", complexity="O(K)+O(M*log(N)) for K keys and M members popped",
         summary="Remove and return members with the lowest or highest scores")
def zmpop(ctx, argv):
    reply = _zmpop_from(ctx, *_zmpop_args(argv, 1))
    return NULL_ARRAY if reply is None else reply


@command("bzmpop", -5, "write blocking", find_keys=_keys_after_numkeys(2),
         group="sorted_set", since="7.0.0",
         complexity="O(K)+O(M*log(N)) for K keys and M members popped",
         summary="Remove and return members by score, or block until one is added")
def bzmpop(ctx, argv):
    timeout = parse_timeout(argv[1])
    keys, highest, count = _zmpop_args(argv, 2)
    reply = _zmpop_from(ctx, keys, highest, count)
    return _block(ctx, keys, timeout, argv) if reply is None else reply


# -- random members and scanning -----------------------------------------------------

@command("zrandmember", -2, "readonly", keys=(1, 1, 1), group="sorted_set",
         since="6.2.0", complexity="O(N) where N is the number of members returned",
         summary="Return one or more random members of a sorted set")
def zrandmember(ctx, argv):
    if len(argv) == 2:
        zset = _zset(ctx, argv[1])
        return zset.at(random.randrange(len(zset)))[0] if zset is not None else None
    count = parse_int(argv[2])
    if count < -LONG_MAX:
        raise AlchemyError(f"ERR value is out of range, value must between {-LONG_MAX} "
                           f"and {LONG_MAX}")
    if len(argv) > 4 or (len(argv) == 4 and argv[3].upper() != b"WITHSCORES"):
        raise AlchemyError(SYNTAX)
    withscores = len(argv) == 4
    if withscores and abs(count) > LONG_MAX // 2:
        raise AlchemyError("ERR value is out of range")
    zset = _zset(ctx, argv[1])
    if zset is None or count == 0:
        return []
    size = len(zset)
    if count < 0:
        positions = [random.randrange(size) for _ in range(-count)]
    elif count >= size:
        positions = range(size)
    else:
        positions = random.sample(range(size), count)
    pairs = [zset.at(i) for i in positions]
    return _scored(ctx, pairs) if withscores else [member for member, _ in pairs]


_CURSOR = re.compile(rb"[+-]?[0-9]+")


@command("zscan", -3, "readonly", keys=(1, 1, 1), group="sorted_set", since="2.8.0",
         complexity="O(1) per call, O(N) for a complete iteration",
         summary="Incrementally iterate the members and scores of a sorted set")
def zscan(ctx, argv):
    if _CURSOR.fullmatch(argv[2]) is None or abs(int(argv[2])) >= 2**64:
        raise AlchemyError("ERR invalid cursor")
    cursor = int(argv[2]) % 2**64
    zset = _zset(ctx, argv[1])
    if zset is None:
        return [b"0", []]
    count, match = 10, None
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if option == b"COUNT" and i + 1 < len(argv):
            count = parse_int(argv[i + 1])
            if count < 1:
                raise AlchemyError(SYNTAX)
        elif option == b"MATCH" and i + 1 < len(argv):
            match = glob_matcher(argv[i + 1])
        else:
            raise AlchemyError(SYNTAX)
        i += 2
    if zset.compact:
        # A listpack is sent whole in one reply, as Redis does.
        cursor, members = 0, [member for member, _ in zset.items()]
    else:
        cursor, members = ctx.server.cursors.next_batch(cursor, count,
                                                        lambda: list(zset.scores))
    reply = []
    for member in members:
        score = zset.score(member)
        if score is not None and (match is None or match(member)):
            reply += (member, format_double(score))
    return [str(cursor).encode(), reply]


# -- union, intersection, difference --------------------------------------------------

def _aggregate(how: bytes, target: float, value: float) -> float:
    if how == b"SUM":
        total = target + value
        return 0.0 if math.isnan(total) else total  # inf + -inf: Redis's convention is 0
    if how == b"MIN":
        return value if value < target else target
    return value if value > target else target


def _scores_of(ctx, key: bytes) -> dict:
    """The member -> score view of an input: a sorted set, or a plain set (all scores 1)."""
    value = ctx.db.get(key)
    if value is None:
        return {}
    if type(value) is ZSet:
        return value.scores
    if ctx.db.type_name(value) == "set":
        return dict.fromkeys(value, 1.0)
    raise AlchemyError(WRONGTYPE)


def _setop(ctx, argv, numkeys_at: int, op: str, destination: bytes | None = None):
    """ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD: parse, combine, reply or store.

    Union and intersection are O(N) over the input sizes plus O(M log M) to order M
    results; intersection walks the smallest input and probes the others.
    """
    name = argv[0].decode().lower()
    numkeys = parse_int(argv[numkeys_at])
    if numkeys < 1:
        raise AlchemyError(f"ERR at least 1 input key is needed for '{name}' command")
    if numkeys > len(argv) - numkeys_at - 1:
        raise AlchemyError(SYNTAX)
    first = numkeys_at + 1
    inputs = [_scores_of(ctx, key) for key in argv[first:first + numkeys]]
    weights = [1.0] * numkeys
    how, withscores, limit = b"SUM", False, 0
    i = first + numkeys
    while i < len(argv):
        option = argv[i].upper()
        left = len(argv) - i - 1
        if op in ("union", "inter") and option == b"WEIGHTS" and left >= numkeys:
            weights = [parse_score(w, "ERR weight value is not a float")
                       for w in argv[i + 1:i + 1 + numkeys]]
            i += numkeys
        elif op in ("union", "inter") and option == b"AGGREGATE" and left >= 1:
            how = argv[i + 1].upper()
            if how not in (b"SUM", b"MIN", b"MAX"):
                raise AlchemyError(SYNTAX)
            i += 1
        elif option == b"WITHSCORES" and destination is None and op != "card":
            withscores = True
        elif option == b"LIMIT" and op == "card" and left >= 1:
            limit = _positive(argv[i + 1], "ERR LIMIT can't be negative")
            i += 1
        else:
            raise AlchemyError(SYNTAX)
        i += 1
    if op == "card":
        return _intercard(inputs, limit)
    if op == "diff":
        result = _diff(inputs)
    else:
        weighted = sorted(zip(inputs, weights), key=lambda pair: len(pair[0]))
        result = (_union if op == "union" else _inter)(weighted, how)
    if destination is not None:
        return store_scores(ctx, destination, result, b"z%sstore" % op.encode())
    pairs = ZSet.from_scores(result).items()
    return _scored(ctx, pairs) if withscores else [member for member, _ in pairs]


def _weighted(score: float, weight: float) -> float:
    product = score * weight
    return 0.0 if math.isnan(product) else product  # 0 * inf


def _union(weighted: list, how: bytes) -> dict:
    result: dict = {}
    for scores, weight in weighted:
        for member, score in scores.items():
            score = _weighted(score, weight)
            old = result.get(member)
            result[member] = score if old is None else _aggregate(how, old, score)
    return result


def _inter(weighted: list, how: bytes) -> dict:
    (smallest, weight), others = weighted[0], weighted[1:]
    result = {}
    for member, score in smallest.items():
        total = _weighted(score, weight)
        for scores, other_weight in others:
            other = scores.get(member)
            if other is None:
                break
            total = _aggregate(how, total, other * other_weight)
        else:
            result[member] = total
    return result


def _diff(inputs: list) -> dict:
    first, others = inputs[0], inputs[1:]
    return {member: score for member, score in first.items()
            if not any(member in other for other in others)}


def _intercard(inputs: list, limit: int) -> int:
    smallest, *others = sorted(inputs, key=len)
    found = 0
    for member in smallest:
        if all(member in other for other in others):
            found += 1
            if found == limit:
                break
    return found


_STORE_KEYS = _keys_after_numkeys(2, with_destination=True)
_READ_KEYS = _keys_after_numkeys(1)


@command("zunionstore", -4, "write denyoom", find_keys=_STORE_KEYS, group="sorted_set",
         since="2.0.0", complexity="O(N)+O(M log(M)) for input sizes N and M results",
         summary="Store the union of sorted sets in a key")
def zunionstore(ctx, argv):
    return _setop(ctx, argv, 2, "union", argv[1])


@command("zinterstore", -4, "write denyoom", find_keys=_STORE_KEYS, group="sorted_set",
         since="2.0.0", complexity="O(N*K)+O(M*log(M)), N the smallest input, K inputs",
         summary="Store the intersection of sorted sets in a key")
def zinterstore(ctx, argv):
    return _setop(ctx, argv, 2, "inter", argv[1])


@command("zdiffstore", -4, "write denyoom", find_keys=_STORE_KEYS, group="sorted_set",
         since="6.2.0", complexity="O(L + (N-K)log(N))",
         summary="Store the difference of sorted sets in a key")
def zdiffstore(ctx, argv):
    return _setop(ctx, argv, 2, "diff", argv[1])


@command("zunion", -3, "readonly", find_keys=_READ_KEYS, group="sorted_set",
         since="6.2.0", complexity="O(N)+O(M*log(M))",
         summary="Return the union of sorted sets")
def zunion(ctx, argv):
    return _setop(ctx, argv, 1, "union")


@command("zinter", -3, "readonly", find_keys=_READ_KEYS, group="sorted_set",
         since="6.2.0", complexity="O(N*K)+O(M*log(M))",
         summary="Return the intersection of sorted sets")
def zinter(ctx, argv):
    return _setop(ctx, argv, 1, "inter")


@command("zdiff", -3, "readonly", find_keys=_READ_KEYS, group="sorted_set",
         since="6.2.0", complexity="O(L + (N-K)log(N))",
         summary="Return the difference of sorted sets")
def zdiff(ctx, argv):
    return _setop(ctx, argv, 1, "diff")


@command("zintercard", -3, "readonly", find_keys=_READ_KEYS, group="sorted_set",
         since="7.0.0", complexity="O(N*K), N the smallest input, K inputs",
         summary="Count the members of the intersection of sorted sets")
def zintercard(ctx, argv):
    return _setop(ctx, argv, 1, "card")
