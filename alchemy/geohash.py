"""Geohash arithmetic for the GEO commands, with Redis 7.0's numbers.

A position is stored as a sorted-set score: a 52-bit geohash, 26 bits of longitude and 26
of latitude interleaved (latitude in the even bits), over the Web Mercator ranges
longitude -180..180 and latitude -85.05112878..85.05112878. A score decodes to the centre
of its cell, which is what GEOPOS replies. Distances are haversine on a sphere of Redis's
radius, 6372797.560856 m. Each step is computed in the order Redis computes it, in
doubles, so results agree with Redis's to the last bit (what decides whether a point on a
search area's edge is inside).

A search (GEORADIUS, GEOSEARCH) reads up to nine score ranges of the sorted set: the
geohash cell holding the centre, at a precision chosen from the radius, and its eight
neighbours, less those the search area cannot reach. `Shape.ranges` gives them in Redis's
order; `Shape.distance_to` tells whether a point lies inside.

    >>> score(13.361389, 38.115556)
    3479099956230698
    >>> standard_geohash(3479099956230698)
    b'sqc8b49rny0'
"""

import math

LONG_MIN, LONG_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
STEP_MAX = 26  # 26 bits each for longitude and latitude: 52-bit scores, exact in a double
EARTH_RADIUS = 6372797.560856
MERCATOR_MAX = 20037726.37
_RADIANS_PER_DEGREE = math.pi / 180.0
_MASK64 = (1 << 64) - 1
_EVEN_BITS = 0x5555555555555555
_ODD_BITS = 0xAAAAAAAAAAAAAAAA
_BASE32 = b"0123456789bcdefghjkmnpqrstuvwxyz"


def _spread(value: int) -> int:
    """The 32 low bits of value moved to the even bit positions."""
    value &= 0xFFFFFFFF
    value = (value | (value << 16)) & 0x0000FFFF0000FFFF
    value = (value | (value << 8)) & 0x00FF00FF00FF00FF
    value = (value | (value << 4)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value << 2)) & 0x3333333333333333
    return (value | (value << 1)) & _EVEN_BITS


def _squeeze(value: int) -> int:
    """The even bits of value gathered into a 32-bit number (the inverse of _spread)."""
    value &= _EVEN_BITS
    value = (value | (value >> 1)) & 0x3333333333333333
    value = (value | (value >> 2)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value >> 4)) & 0x00FF00FF00FF00FF
    value = (value | (value >> 8)) & 0x0000FFFF0000FFFF
    return (value | (value >> 16)) & 0xFFFFFFFF


def encode(lon: float, lat: float, step: int, lat_low: float = LAT_MIN,
           lat_high: float = LAT_MAX) -> int:
    """The geohash of (lon, lat) with step bits per coordinate (lon within -180..180,
    lat within the latitude range given)."""
    lat_offset = (lat - lat_low) / (lat_high - lat_low) * (1 << step)
    lon_offset = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN) * (1 << step)
    return _spread(int(lat_offset)) | (_spread(int(lon_offset)) << 1)


def score(lon: float, lat: float) -> int:
    """The sorted-set score GEOADD stores for a valid (lon, lat)."""
    return encode(lon, lat, STEP_MAX)


def cell(bits: int, step: int) -> tuple[float, float, float, float]:
    """The area a geohash covers: (lon_min, lon_max, lat_min, lat_max)."""
    lat_cell, lon_cell = _squeeze(bits), _squeeze(bits >> 1)
    size = 1 << step
    lat_scale, lon_scale = LAT_MAX - LAT_MIN, LONG_MAX - LONG_MIN
    # The C code adds 1 in 32-bit arithmetic; only scores no GEOADD wrote get that far.
    return (LONG_MIN + (lon_cell * 1.0 / size) * lon_scale,
            LONG_MIN + (((lon_cell + 1) & 0xFFFFFFFF) * 1.0 / size) * lon_scale,
            LAT_MIN + (lat_cell * 1.0 / size) * lat_scale,
            LAT_MIN + (((lat_cell + 1) & 0xFFFFFFFF) * 1.0 / size) * lat_scale)


def decode(score_: float) -> tuple[float, float]:
    """(lon, lat) of the centre of a score's cell, clamped to the valid ranges. A score
    no GEOADD wrote (negative, fractional, beyond 52 bits) is read as Redis's cast to a
    64-bit unsigned integer reads it, and lands somewhere valid."""
    bits = _as_uint64(score_)
    lon_min, lon_max, lat_min, lat_max = cell(bits, STEP_MAX)
    lon = min(max((lon_min + lon_max) / 2, LONG_MIN), LONG_MAX)
    lat = min(max((lat_min + lat_max) / 2, LAT_MIN), LAT_MAX)
    return lon, lat


def _as_uint64(value: float) -> int:
    """(uint64_t)value as x86-64 code computes it: modulo 2**64 within the range of a
    64-bit integer, 0 from 2**64 up, 2**63 below -2**63."""
    if value >= 2**63:
        return int(value) if value < 2**64 else 0
    return int(value) & _MASK64 if value >= -2**63 else 1 << 63


def standard_geohash(score_: float) -> bytes:
    """The 11-character geohash string (latitude range -90..90, as everyone else's) of
    the cell centre a score decodes to; the 11th character stands for bits a 52-bit
    score does not have, so it is always '0'."""
    lon, lat = decode(score_)
    bits = encode(lon, lat, STEP_MAX, -90.0, 90.0)
    return bytes(_BASE32[(bits >> (52 - 5 * (i + 1))) & 0x1F] for i in range(10)) + b"0"


# -- distances ---------------------------------------------------------------------------

def _radians(degrees: float) -> float:
    return degrees * _RADIANS_PER_DEGREE


def lat_distance(lat1: float, lat2: float) -> float:
    """Metres between two latitudes on one meridian."""
    return EARTH_RADIUS * abs(_radians(lat2) - _radians(lat1))


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine great-circle distance in metres."""
    lon1r, lon2r = _radians(lon1), _radians(lon2)
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:  # the same meridian: Redis takes this shortcut, which rounds differently
        return lat_distance(lat1, lat2)
    lat1r, lat2r = _radians(lat1), _radians(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    root = math.sqrt(u * u + math.cos(lat1r) * math.cos(lat2r) * v * v)
    # Rounding can take the root of antipodes just past 1, where C's asin gives NaN.
    return 2.0 * EARTH_RADIUS * math.asin(root) if root <= 1.0 else math.nan


def _cos_degrees(degrees: float) -> float:
    # An infinite radius gives infinite latitudes here: C's cos is NaN, Python's raises.
    return math.cos(_radians(degrees)) if math.isfinite(degrees) else math.nan


# -- search areas ------------------------------------------------------------------------

def _steps_for(radius_m: float, lat: float) -> int:
    """The geohash precision whose cells (centre and neighbours) cover a radius."""
    if radius_m == 0:
        return STEP_MAX
    step = 1
    while radius_m < MERCATOR_MAX:
        radius_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:  # meridians converge: wider cells towards the poles
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), STEP_MAX)


def _moved(bits: int, step: int, east: int, north: int) -> int:
    """The neighbouring geohash east (1) or west (-1), north (1) or south (-1), wrapping
    around at the edges of the ranges."""
    shift = 64 - 2 * step
    for direction, own, other in ((east, _ODD_BITS, _EVEN_BITS),
                                  (north, _EVEN_BITS, _ODD_BITS)):
        if direction:
            # Filling the other coordinate's bits with ones makes the carry (or borrow)
            # of this coordinate's add run through them.
            part, fill = bits & own, other >> shift
            part = part + (fill + 1) if direction > 0 else (part | fill) - (fill + 1)
            bits = (bits & other) | (part & (own >> shift))
    return bits


# Centre, north, south, east, west, north-east, north-west, south-east, south-west.
_NEIGHBOURS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


class Shape:
    """A search area: a circle of `radius`, or a `width` x `height` box, around (lon, lat);
    sizes in a unit of `conversion` metres."""

    __slots__ = ("lon", "lat", "conversion", "radius", "width", "height")

    def __init__(self, lon: float, lat: float, conversion: float,
                 radius: float | None = None, width: float = 0.0, height: float = 0.0):
        self.lon, self.lat, self.conversion = lon, lat, conversion
        self.radius, self.width, self.height = radius, width, height

    def distance_to(self, lon: float, lat: float) -> float | None:
        """Metres from the centre to (lon, lat), None if outside the area."""
        if self.radius is not None:
            metres = distance(self.lon, self.lat, lon, lat)
            return None if metres > self.radius * self.conversion else metres
        # In a box: within half the height along the meridian, and within half the width
        # along the point's own parallel (cheapest test first).
        if lat_distance(lat, self.lat) > self.height * self.conversion / 2:
            return None
        if distance(lon, lat, self.lon, lat) > self.width * self.conversion / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)

    def _bounds(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) around the area. A parallel nearer a pole
        is shorter, so a width spans more longitude there: the poleward side's span is
        taken."""
        circle = self.radius is not None
        half_height = self.conversion * (self.radius if circle else self.height / 2)
        half_width = self.conversion * (self.radius if circle else self.width / 2)
        lat_delta = half_height / EARTH_RADIUS / _RADIANS_PER_DEGREE
        lon_delta_top = half_width / EARTH_RADIUS / _cos_degrees(self.lat + lat_delta) \
            / _RADIANS_PER_DEGREE
        lon_delta_bottom = half_width / EARTH_RADIUS / _cos_degrees(self.lat - lat_delta) \
            / _RADIANS_PER_DEGREE
        lon_delta = lon_delta_bottom if self.lat < 0 else lon_delta_top
        return (self.lon - lon_delta, self.lat - lat_delta,
                self.lon + lon_delta, self.lat + lat_delta)

    def _radius_m(self) -> float:
        if self.radius is not None:
            return self.radius * self.conversion
        half_width, half_height = self.width / 2, self.height / 2
        corner = math.sqrt(half_width * half_width + half_height * half_height)
        return corner * self.conversion

    def ranges(self) -> list[tuple[int, int]]:
        """The score ranges [low, high) to scan, in Redis's order: the centre cell and
        its neighbours, less those beyond the area and a repeat of the range scanned
        just before (a huge radius makes neighbours coincide)."""
        lon_min, lat_min, lon_max, lat_max = self._bounds()
        step = _steps_for(self._radius_m(), self.lat)
        centre = encode(self.lon, self.lat, step)
        # Cells too large at the edges of the area: one step coarser covers it.
        north, south = (cell(_moved(centre, step, 0, d), step) for d in (1, -1))
        east, west = (cell(_moved(centre, step, d, 0), step) for d in (1, -1))
        if step > 1 and (north[3] < lat_max or south[2] > lat_min
                         or east[1] < lon_max or west[0] > lon_min):
            step -= 1
            centre = encode(self.lon, self.lat, step)
        cells = [_moved(centre, step, east_, north_) for east_, north_ in _NEIGHBOURS]
        if step >= 2:
            _drop_unneeded(cells, cell(centre, step), (lon_min, lat_min, lon_max, lat_max))
        return _score_ranges(cells, step)


def _drop_unneeded(cells: list, centre_cell: tuple, bounds: tuple) -> None:
    """Set to None the neighbours on a side where the centre cell already reaches past
    the area's bounds (lon_min, lat_min, lon_max, lat_max)."""
    cell_lon_min, cell_lon_max, cell_lat_min, cell_lat_max = centre_cell
    lon_min, lat_min, lon_max, lat_max = bounds
    for beyond, (east, north) in ((cell_lat_min < lat_min, (None, -1)),
                                  (cell_lat_max > lat_max, (None, 1)),
                                  (cell_lon_min < lon_min, (-1, None)),
                                  (cell_lon_max > lon_max, (1, None))):
        if beyond:
            for i, (cell_east, cell_north) in enumerate(_NEIGHBOURS):
                if cell_east == east or cell_north == north:
                    cells[i] = None


def _score_ranges(cells: list, step: int) -> list[tuple[int, int]]:
    """Each remaining cell's scores, [low, high). Redis skips a cell equal to the one
    scanned last, but never compares with the centre (its "last" index 0 reads as none)."""
    shift = 52 - 2 * step
    ranges = []
    last = 0
    for i, bits in enumerate(cells):
        if bits is None or (last and bits == cells[last]):
            continue
        ranges.append((bits << shift, (bits + 1) << shift))
        last = i
    return ranges
