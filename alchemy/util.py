"""Argument parsing shared by handlers, with Redis's exact rules and error texts."""

import math
import re
import struct
import zlib
from decimal import Decimal

from alchemy.errors import (NOT_FLOAT, NOT_INTEGER, TIMEOUT_NEGATIVE, TIMEOUT_NOT_FLOAT,
                            AlchemyError)

_INTEGER = re.compile(rb"-?(0|[1-9][0-9]{0,19})")


def parse_int(arg: bytes, error: str = NOT_INTEGER) -> int:
    """A signed 64-bit integer written as Redis's string2ll accepts it (no spaces, no +)."""
    if arg.isdigit() and len(arg) < 19 and (arg[0] != 48 or len(arg) == 1):
        return int(arg)  # the commonest argument, canonical and in range: no expression
    if _INTEGER.fullmatch(arg) is None or arg == b"-0":
        raise AlchemyError(error)
    value = int(arg)
    if not -2**63 <= value < 2**63:
        raise AlchemyError(error)
    return value


def parse_float(arg: bytes, error: str = NOT_FLOAT) -> float:
    """A double as Redis's strtod-based parsers accept it: no spaces, no nan."""
    # Python's float() also takes digit separators (1_0), which strtod does not. (find, not
    # `in`: bytes.__contains__ first tries its argument as an integer, raising and clearing
    # a TypeError.)
    if not arg or arg[:1].isspace() or arg[-1:].isspace() or arg.find(b"_") >= 0:
        raise AlchemyError(error)
    try:
        value = float(arg)
    except ValueError:
        raise AlchemyError(error) from None
    if math.isnan(value):
        raise AlchemyError(error)
    return value


def parse_timeout(arg: bytes) -> float:
    """A blocking command's timeout in seconds (0: forever), as Redis 7.0 reads it: rounded
    up to whole milliseconds; anything past 2**63 ms reads as negative there (the C
    conversion wraps), so it gets the same error."""
    seconds = parse_float(arg, TIMEOUT_NOT_FLOAT)
    ms = math.ceil(seconds * 1000) if math.isfinite(seconds) else -1
    if not 0 <= ms < 2**63:
        raise AlchemyError(TIMEOUT_NEGATIVE)
    return ms / 1000


def format_float(value: float) -> bytes:
    """A double as INCRBYFLOAT and HINCRBYFLOAT store it: shortest form, no exponent."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.encode() if text != "-0" else b"0"


def index_span(start: int, end: int, length: int) -> tuple[int, int]:
    """Redis's inclusive start..end indexes (negative: from the tail) as a half-open
    [start, stop) clamped to length; (0, 0) when start is past end or past the sequence."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    if start > end or start >= length:
        return 0, 0
    return start, min(end, length - 1) + 1


_glob_cache: dict[bytes, object] = {}


def glob_matcher(pattern: bytes):
    """A match function for a Redis glob (`*`, `?`, `[a-c]`, `[^x]`, `\\` escapes).

    One regular expression when the pattern has at most one `*`. With more, a regular
    expression would backtrack exponentially (`a*a*a*...b` against a long run of a's hangs
    it, which Redis's own test suite checks); the pattern is cut at its stars instead and
    the star-free pieces are found left to right, which is O(len(key) * len(pattern))."""
    matcher = _glob_cache.get(pattern)
    if matcher is None:
        if len(_glob_cache) > 1000:
            _glob_cache.clear()
        tokens = _glob_tokens(pattern)
        if tokens.count(STAR) <= 1:
            # Redis's stringmatchlen never matches an empty string against a non-empty pattern.
            regex = b"(?=.)" + b"".join(b".*" if t is STAR else t for t in tokens) \
                if pattern else b""
            matcher = re.compile(regex, re.DOTALL).fullmatch
        elif tokens.count(STAR) - (tokens[-1] is STAR) > _MAX_STAR_NESTING:
            # Redis's stringmatchlen recurses once per star and gives up past 1000 levels.
            matcher = _never
        else:
            matcher = wildcard_matcher(tokens, re.DOTALL, empty_matches=False)
        _glob_cache[pattern] = matcher
    return matcher


STAR = None  # a wildcard token: any run of characters
_MAX_STAR_NESTING = 1000


def _never(key) -> bool:
    return False


def wildcard_matcher(tokens: list, flags: int, empty_matches: bool = True):
    """A match function for tokens (STAR, or a regular expression for exactly one
    character), cut at the stars so that no regular expression ever backtracks over one:
    O(len(text) * len(tokens)) whatever the pattern. Works on str or bytes tokens."""
    segments, current = [], []
    for token in tokens:
        if token is STAR:
            segments.append(current)
            current = []
        else:
            current.append(token)
    segments.append(current)
    empty = next(t for t in tokens if t is not STAR)[:0] if len(tokens) > tokens.count(STAR) \
        else ""
    compiled = [(re.compile(empty.join(seg), flags), len(seg)) for seg in segments]
    if len(compiled) == 1:  # no star: the whole text against one expression
        whole = compiled[0][0].fullmatch
        return lambda key: (bool(key) or empty_matches) and whole(key) is not None
    (first, first_len), middle, (last, last_len) = compiled[0], compiled[1:-1], compiled[-1]

    def match(key) -> bool:
        if (not key and not empty_matches) or not first.match(key):
            return False
        pos = first_len
        for piece, _ in middle:
            found = piece.search(key, pos)
            if found is None:
                return False
            pos = found.end()
        return len(key) - last_len >= pos and last.match(key, len(key) - last_len) is not None
    return match


def _glob_tokens(pattern: bytes) -> list:
    """The pattern as STAR or one regular expression matching exactly one byte per token."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i:i + 1]
        if c == b"*":
            if not out or out[-1] is not STAR:  # consecutive stars are one
                out.append(STAR)
        elif c == b"?":
            out.append(b".")
        elif c == b"\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i:i + 1]))
        elif c == b"[":
            i += 1
            negate = i < n and pattern[i:i + 1] == b"^"
            if negate:
                i += 1
            members = bytearray()
            while i < n and pattern[i:i + 1] != b"]":
                if pattern[i:i + 1] == b"\\" and i + 1 < n:
                    i += 1
                    members += re.escape(pattern[i:i + 1])
                elif pattern[i + 1:i + 2] == b"-" and i + 2 < n:  # `[a-]` ranges up to `]`
                    low, high = sorted((pattern[i], pattern[i + 2]))
                    members += re.escape(bytes([low])) + b"-" + re.escape(bytes([high]))
                    i += 2
                else:
                    members += re.escape(pattern[i:i + 1])
                i += 1
            if not members:
                out.append(b"(?!)" if not negate else b".")
            else:
                out.append(b"[" + (b"^" if negate else b"") + bytes(members) + b"]")
        else:
            out.append(re.escape(c))
        i += 1
    return out


# Payloads the server hands out and takes back (DUMP, FUNCTION DUMP): the body, u16
# PAYLOAD_VERSION, then the CRC-32 of everything before it, as Redis frames its own.
PAYLOAD_VERSION = 1
BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"


def seal_payload(body: bytes) -> bytes:
    data = body + struct.pack("<H", PAYLOAD_VERSION)
    return data + struct.pack("<I", zlib.crc32(data))


def open_payload(payload: bytes) -> bytes:
    """The body of a sealed payload; AlchemyError when its version or checksum is wrong."""
    data, crc = payload[:-4], payload[-4:]
    if len(payload) < 6 or struct.pack("<I", zlib.crc32(data)) != crc \
            or struct.unpack("<H", data[-2:])[0] != PAYLOAD_VERSION:
        raise AlchemyError(BAD_PAYLOAD)
    return data[:-2]
