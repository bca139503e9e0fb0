"""Geospatial commands (geo.c): GEOADD, GEOPOS, GEODIST, GEOHASH, and the searches
GEORADIUS, GEORADIUSBYMEMBER (with their _RO forms), GEOSEARCH and GEOSEARCHSTORE.

A geo set IS a sorted set whose scores are 52-bit geohashes (alchemy.geohash), so ZRANGE,
ZREM, TYPE and the rest work on it, as in Redis. GEOADD turns its positions into scores and
runs ZADD, which is also what it is logged as (Redis propagates the rewritten ZADD); the
STORE forms of the searches write their destination as ZRANGESTORE does, and are logged as
they ran. Replies follow Redis 7.0: distances are bulk strings with four decimals in RESP2
and RESP3 alike, coordinates "%.17Lf" of the cell centre with trailing zeros cut (bulk
strings in RESP2, doubles in RESP3).

A search reads at most nine score ranges of the set (see alchemy.geohash.Shape): O(N + log M)
for N members in those ranges of a set of M, plus O(N log N) to sort them.
"""

from dataclasses import dataclass

from alchemy import geohash
from alchemy.command import command
from alchemy.commands.zsets import parse_score, store_scores, zadd
from alchemy.errors import SYNTAX, AlchemyError
from alchemy.reply import NULL_ARRAY, Encoded
from alchemy.util import parse_int
from alchemy.zset import ZSet

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}  # metres in each
BAD_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
NO_MEMBER = "ERR could not decode requested zset member"
WITH_OPTIONS = "is not compatible with WITHDIST, WITHHASH and WITHCOORD options"


# -- arguments -------------------------------------------------------------------------

def _position(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    """A longitude and latitude as GEOADD and FROMLONLAT accept them."""
    lon, lat = parse_score(lon_arg), parse_score(lat_arg)
    if not (geohash.LONG_MIN <= lon <= geohash.LONG_MAX
            and geohash.LAT_MIN <= lat <= geohash.LAT_MAX):
        raise AlchemyError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def _unit(arg: bytes) -> float:
    """Metres in a unit named by M, KM, FT or MI (any case)."""
    metres = _UNITS.get(arg.lower())
    if metres is None:
        raise AlchemyError(BAD_UNIT)
    return metres


def _radius(argv: list, at: int) -> tuple[float, float]:
    """`radius unit` at argv[at]: (radius, metres per unit)."""
    radius = parse_score(argv[at], "ERR need numeric radius")
    if radius < 0:
        raise AlchemyError("ERR radius cannot be negative")
    return radius, _unit(argv[at + 1])


def _box(argv: list, at: int) -> tuple[float, float, float]:
    """`width height unit` at argv[at]: (width, height, metres per unit)."""
    width = parse_score(argv[at], "ERR need numeric width")
    height = parse_score(argv[at + 1], "ERR need numeric height")
    if height < 0 or width < 0:
        raise AlchemyError("ERR height or width cannot be negative")
    return width, height, _unit(argv[at + 2])


def _member_position(zset: ZSet, member: bytes) -> tuple[float, float]:
    score = zset.score(member)
    if score is None:
        raise AlchemyError(NO_MEMBER)
    return geohash.decode(score)


# -- replies -----------------------------------------------------------------------------

def _distance_text(metres: float) -> bytes:
    """A distance as Redis replies it: rounded (half to even, as llrint) to 4 decimals.
    A NaN reads as llrint's LLONG_MIN, as in Redis."""
    scaled = round(metres * 10000) if metres == metres else -2**63
    digits = b"%05d" % abs(scaled)
    return b"-" * (scaled < 0) + digits[:-4] + b"." + digits[-4:]


def _human(value: float) -> bytes:
    """"%.17Lf" with the trailing zeros and dot cut, and "-0" as "0" (LD_STR_HUMAN)."""
    text = (b"%.17f" % value).rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def _coordinate(ctx, value: float):
    """A longitude or latitude: a bulk string in RESP2 and a double in RESP3, with the
    digits Redis prints. A script is given the float itself (Lua sees a number either
    way), which other callers would encode with %.17g: the same number."""
    if not ctx.resp3:
        return _human(value)
    if ctx.kind == "normal":  # the reply goes to the wire, alone or in EXEC's
        return Encoded(b",%s\r\n" % _human(value))
    return value


# -- GEOADD, GEOPOS, GEODIST, GEOHASH ---------------------------------------------------

_GEOADD_FLAGS = (b"NX", b"XX", b"CH")


@command("geoadd", -5, "write denyoom", keys=(1, 1, 1), group="geo", since="3.2.0",
         complexity="O(log(N)) for each item added, where N is the number of elements in "
                    "the sorted set.",
         summary="Add one or more geospatial items in the geospatial index represented "
                 "using a sorted set")
def geoadd(ctx, argv):
    first = 2
    while first < len(argv) and argv[first].upper() in _GEOADD_FLAGS:
        first += 1
    flags = {flag.upper() for flag in argv[2:first]}
    if (len(argv) - first) % 3 or {b"NX", b"XX"} <= flags:
        raise AlchemyError(SYNTAX)
    rewritten = [b"zadd", *argv[1:first]]  # the flags as given: ZADD reads them alike
    for at in range(first, len(argv), 3):
        lon, lat = _position(argv[at], argv[at + 1])
        rewritten += (b"%d" % geohash.score(lon, lat), argv[at + 2])
    # Run as ZADD, not through the command table: INFO counts one GEOADD, no ZADD.
    ctx.server.propagate_as(rewritten)
    return zadd(ctx, rewritten)


@command("geopos", -2, "readonly", keys=(1, 1, 1), group="geo", since="3.2.0",
         complexity="O(N) where N is the number of members requested.",
         summary="Returns longitude and latitude of members of a geospatial index")
def geopos(ctx, argv):
    zset = ctx.db.get_typed(argv[1], ZSet)
    reply = []
    for member in argv[2:]:
        score = zset.score(member) if zset is not None else None
        if score is None:
            reply.append(NULL_ARRAY)
        else:
            lon, lat = geohash.decode(score)
            reply.append([_coordinate(ctx, lon), _coordinate(ctx, lat)])
    return reply


@command("geodist", -4, "readonly", keys=(1, 1, 1), group="geo", since="3.2.0",
         complexity="O(log(N))",
         summary="Returns the distance between two members of a geospatial index")
def geodist(ctx, argv):
    if len(argv) > 5:
        raise AlchemyError(SYNTAX)
    metres_per_unit = _unit(argv[4]) if len(argv) == 5 else 1.0
    zset = ctx.db.get_typed(argv[1], ZSet)
    if zset is None:
        return None
    first, second = zset.score(argv[2]), zset.score(argv[3])
    if first is None or second is None:
        return None
    metres = geohash.distance(*geohash.decode(first), *geohash.decode(second))
    return _distance_text(metres / metres_per_unit)


@command("geohash", -2, "readonly", keys=(1, 1, 1), group="geo", since="3.2.0",
         complexity="O(log(N)) for each member requested, where N is the number of "
                    "elements in the sorted set.",
         summary="Returns members of a geospatial index as standard geohash strings")
def geohash_(ctx, argv):
    zset = ctx.db.get_typed(argv[1], ZSet)
    scores = [zset.score(member) if zset is not None else None for member in argv[2:]]
    return [None if score is None else geohash.standard_geohash(score) for score in scores]


# -- searches ----------------------------------------------------------------------------

@dataclass
class _Search:
    """What a GEORADIUS*/GEOSEARCH* call asks for, as its arguments are read."""
    variant: str                 # "lonlat", "member", "search" (GEOSEARCH*)
    store_allowed: bool          # GEORADIUS and GEORADIUSBYMEMBER take STORE/STOREDIST
    shape: geohash.Shape | None = None
    centre: tuple | None = None  # GEOSEARCH's FROMMEMBER/FROMLONLAT, before its BY*
    from_member: bool = False
    from_lonlat: bool = False
    store: bytes | None = None
    store_dist: bool = False
    with_dist: bool = False
    with_hash: bool = False
    with_coord: bool = False
    order: str = ""              # "", "asc" or "desc"
    count: int = 0               # 0: all
    any: bool = False


def _search_command(ctx, argv: list, variant: str, store_allowed: bool = False,
                    destination: bytes | None = None):
    """Every search: parse as georadiusGeneric does (the source is looked up first, so
    WRONGTYPE comes before argument errors), then reply or store."""
    src = 2 if destination is not None else 1
    zset = ctx.db.get_typed(argv[src], ZSet)
    search = _Search(variant, store_allowed, store=destination)
    first_option = _read_centre(search, argv, zset)
    _read_options(search, argv, first_option, zset)
    _check(search, argv)
    if search.centre is not None:
        search.shape.lon, search.shape.lat = search.centre
    if zset is None:
        return [] if search.store is None else store_scores(ctx, search.store, {}, b"")
    found = _matches(zset, search)
    if search.store is not None:
        conversion = search.shape.conversion
        scores = {member: dist / conversion if search.store_dist else score
                  for dist, member, score, _, _ in found}
        event = b"geosearchstore" if variant == "search" else b"georadiusstore"
        return store_scores(ctx, search.store, scores, event)
    return _reply(ctx, search, found)


def _read_centre(search: _Search, argv: list, zset: ZSet | None) -> int:
    """GEORADIUS's `lon lat radius unit`, GEORADIUSBYMEMBER's `member radius unit`: the
    shape, and where the options start. GEORADIUSBYMEMBER of a missing key reads neither
    its member nor its radius, as in Redis."""
    if search.variant == "lonlat":
        lon, lat = _position(argv[2], argv[3])
        radius, conversion = _radius(argv, 4)
        search.shape = geohash.Shape(lon, lat, conversion, radius)
        return 6
    if search.variant == "member":
        if zset is not None:
            lon, lat = _member_position(zset, argv[2])
            radius, conversion = _radius(argv, 3)
            search.shape = geohash.Shape(lon, lat, conversion, radius)
        return 5
    return 3 if search.store is not None else 2


_SWITCHES = {b"WITHDIST": "with_dist", b"WITHHASH": "with_hash", b"WITHCOORD": "with_coord",
             b"ANY": "any"}


def _read_options(search: _Search, argv: list, i: int, zset: ZSet | None) -> None:
    """The options from argv[i] on, in any order; a repeated one overrides."""
    searching = search.variant == "search"
    while i < len(argv):
        option = argv[i].upper()
        left = len(argv) - i - 1  # arguments after this one
        if option in _SWITCHES:
            setattr(search, _SWITCHES[option], True)
        elif option in (b"ASC", b"DESC"):
            search.order = option.decode().lower()
        elif option == b"COUNT" and left >= 1:
            search.count = parse_int(argv[i + 1])
            if search.count <= 0:
                raise AlchemyError("ERR COUNT must be > 0")
            i += 1
        elif option in (b"STORE", b"STOREDIST") and left >= 1 and search.store_allowed:
            search.store, search.store_dist = argv[i + 1], option == b"STOREDIST"
            i += 1
        elif option == b"STOREDIST" and searching and search.store is not None:
            search.store_dist = True
        elif searching:
            i += _read_search_option(search, argv, i, option, left, zset)
        else:
            raise AlchemyError(SYNTAX)
        i += 1


def _read_search_option(search: _Search, argv: list, i: int, option: bytes, left: int,
                        zset: ZSet | None) -> int:
    """GEOSEARCH's FROMMEMBER, FROMLONLAT, BYRADIUS and BYBOX: how many arguments past
    the option it took. The second of FROM* or of BY* is a syntax error."""
    if option == b"FROMMEMBER" and left >= 1 and not search.from_lonlat:
        if zset is not None:  # with no key the member is not looked up, as in Redis
            search.centre = _member_position(zset, argv[i + 1])
        search.from_member = True
        return 1
    if option == b"FROMLONLAT" and left >= 2 and not search.from_member:
        search.centre = _position(argv[i + 1], argv[i + 2])
        search.from_lonlat = True
        return 2
    by_radius = search.shape is not None and search.shape.radius is not None
    by_box = search.shape is not None and not by_radius
    if option == b"BYRADIUS" and left >= 2 and not by_box:
        radius, conversion = _radius(argv, i + 1)
        search.shape = geohash.Shape(0.0, 0.0, conversion, radius)
        return 2
    if option == b"BYBOX" and left >= 3 and not by_radius:
        width, height, conversion = _box(argv, i + 1)
        search.shape = geohash.Shape(0.0, 0.0, conversion, width=width, height=height)
        return 3
    raise AlchemyError(SYNTAX)


def _check(search: _Search, argv: list) -> None:
    """The combinations refused once every option is read, in Redis's order."""
    if search.store is not None and (search.with_dist or search.with_hash
                                     or search.with_coord):
        storing = "GEOSEARCHSTORE" if search.variant == "search" else \
            "STORE option in GEORADIUS"
        raise AlchemyError(f"ERR {storing} {WITH_OPTIONS}")
    if search.variant == "search":
        name = argv[0].decode("utf-8", "replace")
        if not (search.from_member or search.from_lonlat):
            raise AlchemyError(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be "
                               f"specified for {name}")
        if search.shape is None:
            raise AlchemyError(f"ERR exactly one of BYRADIUS and BYBOX can be specified "
                               f"for {name}")
    if search.any and not search.count:
        raise AlchemyError("ERR the ANY argument requires COUNT argument")


def _matches(zset: ZSet, search: _Search) -> list:
    """(distance in metres, member, score, lon, lat) of the members inside the shape,
    sorted and cut to COUNT as asked. With ANY the scan stops at COUNT matches."""
    shape = search.shape
    limit = search.count if search.any else 0
    found = []
    for low, high in shape.ranges():
        if limit and len(found) >= limit:
            break
        start, stop = zset.score_span(low, False, high, True)
        for member, score in zset.items(start, stop):
            lon, lat = geohash.decode(score)
            dist = shape.distance_to(lon, lat)
            if dist is not None:
                found.append((dist, member, score, lon, lat))
                if limit and len(found) >= limit:
                    break
    order = search.order or ("asc" if search.count and not search.any else "")
    if order:  # a stable sort: members at one distance stay in score order
        found.sort(key=lambda match: match[0], reverse=order == "desc")
    return found[:search.count] if search.count else found


def _reply(ctx, search: _Search, found: list) -> list:
    extras = search.with_dist or search.with_hash or search.with_coord
    if not extras:
        return [member for _, member, _, _, _ in found]
    conversion = search.shape.conversion
    reply = []
    for dist, member, score, lon, lat in found:
        entry = [member]
        if search.with_dist:
            entry.append(_distance_text(dist / conversion))
        if search.with_hash:
            entry.append(int(score))
        if search.with_coord:
            entry.append([_coordinate(ctx, lon), _coordinate(ctx, lat)])
        reply.append(entry)
    return reply


def _radius_keys(options_from: int):
    """find_keys of GEORADIUS (options from argv[6]) and GEORADIUSBYMEMBER (from argv[5]):
    the source, then the key after the first STORE and after the first STOREDIST, as
    Redis 7.0's key specs find them (a keyword in the last place names no key)."""
    def find_keys(argv: list) -> list:
        keys = [argv[1]]
        for keyword in (b"STORE", b"STOREDIST"):
            for i in range(options_from, len(argv) - 1):
                if argv[i].upper() == keyword:
                    keys.append(argv[i + 1])
                    break
        return keys
    return find_keys


_SEARCH_COMPLEXITY = ("O(N+log(M)) where N is the number of elements inside the bounding "
                      "box of the circular area delimited by center and radius and M is the "
                      "number of items inside the index.")
_GEOSEARCH_COMPLEXITY = ("O(N+log(M)) where N is the number of elements in the "
                         "grid-aligned bounding box area around the shape provided as the "
                         "filter and M is the number of items inside the shape")


@command("georadius", -6, "write denyoom", keys=(1, 1, 1), find_keys=_radius_keys(6),
         group="geo", since="3.2.0", complexity=_SEARCH_COMPLEXITY,
         summary="Query a sorted set representing a geospatial index to fetch members "
                 "matching a given maximum distance from a point")
def georadius(ctx, argv):
    return _search_command(ctx, argv, "lonlat", store_allowed=True)


@command("georadius_ro", -6, "readonly", keys=(1, 1, 1), group="geo", since="3.2.10",
         complexity=_SEARCH_COMPLEXITY, summary="A read-only variant for GEORADIUS")
def georadius_ro(ctx, argv):
    return _search_command(ctx, argv, "lonlat")


@command("georadiusbymember", -5, "write denyoom", keys=(1, 1, 1), find_keys=_radius_keys(5),
         group="geo", since="3.2.0", complexity=_SEARCH_COMPLEXITY,
         summary="Query a sorted set representing a geospatial index to fetch members "
                 "matching a given maximum distance from a member")
def georadiusbymember(ctx, argv):
    return _search_command(ctx, argv, "member", store_allowed=True)


@command("georadiusbymember_ro", -5, "readonly", keys=(1, 1, 1), group="geo",
         since="3.2.10", complexity=_SEARCH_COMPLEXITY,
         summary="A read-only variant for GEORADIUSBYMEMBER")
def georadiusbymember_ro(ctx, argv):
    return _search_command(ctx, argv, "member")


@command("geosearch", -7, "readonly", keys=(1, 1, 1), group="geo", since="6.2.0",
         complexity=_GEOSEARCH_COMPLEXITY,
         summary="Query a sorted set representing a geospatial index to fetch members "
                 "inside an area of a box or a circle.")
def geosearch(ctx, argv):
    return _search_command(ctx, argv, "search")


@command("geosearchstore", -8, "write denyoom", keys=(1, 2, 1), group="geo", since="6.2.0",
         complexity=_GEOSEARCH_COMPLEXITY,
         summary="Query a sorted set representing a geospatial index to fetch members "
                 "inside an area of a box or a circle, and store the result in another key.")
def geosearchstore(ctx, argv):
    return _search_command(ctx, argv, "search", destination=argv[1])
