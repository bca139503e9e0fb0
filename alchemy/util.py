"""Argument parsing shared by handlers, with Redis's exact rules and error texts."""

import math
import re
from decimal import Decimal

from alchemy.errors import (NOT_FLOAT, NOT_INTEGER, TIMEOUT_NEGATIVE, TIMEOUT_NOT_FLOAT,
                            AlchemyError)

_INTEGER = re.compile(rb"-?(0|[1-9][0-9]{0,19})")


def parse_int(arg: bytes, error: str = NOT_INTEGER) -> int:
    """A signed 64-bit integer written as Redis's string2ll accepts it (no spaces, no +)."""
    if _INTEGER.fullmatch(arg) is None or arg == b"-0":
        raise AlchemyError(error)
    value = int(arg)
    if not -2**63 <= value < 2**63:
        raise AlchemyError(error)
    return value


def parse_float(arg: bytes, error: str = NOT_FLOAT) -> float:
    """A double as Redis's strtod-based parsers accept it: no spaces, no nan."""
    # Python's float() also takes digit separators (1_0), which strtod does not.
    if not arg or arg[:1].isspace() or arg[-1:].isspace() or b"_" in arg:
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


_glob_cache: dict[bytes, re.Pattern] = {}


def glob_matcher(pattern: bytes):
    """A match function for a Redis glob (`*`, `?`, `[a-c]`, `[^x]`, `\\` escapes)."""
    compiled = _glob_cache.get(pattern)
    if compiled is None:
        if len(_glob_cache) > 1000:
            _glob_cache.clear()
        # Redis's stringmatchlen never matches an empty string against a non-empty pattern.
        regex = b"(?=.)" + _glob_to_regex(pattern) if pattern else b""
        compiled = re.compile(regex, re.DOTALL)
        _glob_cache[pattern] = compiled
    return compiled.fullmatch


def _glob_to_regex(pattern: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i:i + 1]
        if c == b"*":
            out += b".*"
        elif c == b"?":
            out += b"."
        elif c == b"\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i:i + 1])
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
                out += b"(?!)" if not negate else b"."
            else:
                out += b"[" + (b"^" if negate else b"") + members + b"]"
        else:
            out += re.escape(c)
        i += 1
    return bytes(out)
