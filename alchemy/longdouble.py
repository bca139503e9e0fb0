"""x87 80-bit long double arithmetic, the way Redis's INCRBYFLOAT and HINCRBYFLOAT do it.

Redis parses both operands with strtold, adds them in long double (a 64-bit significand)
and stores "%.17Lf" with the trailing zeros cut. So 0.1 + 0.2 stores "0.3" rather than a
double's "0.30000000000000004", "1e4000" is a valid increment, and hex floats parse.
Values here are exact Fractions rounded to long double precision after each step, which
reproduces those results bit for bit; float("inf") stands for an infinity.

    >>> format_long_double(add(parse_long_double(b"0.1"), parse_long_double(b"0.2")))
    b'0.3'
"""

import re
from decimal import Decimal
from fractions import Fraction

from alchemy.errors import NOT_FLOAT, AlchemyError

_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?")
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)

_SIGNIFICAND_BITS = 64
_MIN_EXPONENT = -16445          # the least subnormal is 2**-16445
_MAX = (2**64 - 1) * 2**(16383 - 63)
_MAX_TEXT = 5 * 1024            # Redis's MAX_LONG_DOUBLE_CHARS buffer
INF = float("inf")


def _round(x: Fraction):
    """x rounded to the nearest long double (ties to even); ±INF past the largest one."""
    if x == 0:
        return Fraction(0)
    n, d = abs(x.numerator), x.denominator
    e = n.bit_length() - d.bit_length()
    if (n << max(-e, 0)) < (d << max(e, 0)):
        e -= 1                  # now 2**e <= |x| < 2**(e+1)
    exponent = max(e - (_SIGNIFICAND_BITS - 1), _MIN_EXPONENT)
    if exponent >= 0:
        q = _round_half_even(n, d << exponent)
    else:
        q = _round_half_even(n << -exponent, d)
    rounded = q * Fraction(2) ** exponent
    if rounded > _MAX:
        return INF if x > 0 else -INF
    return rounded if x > 0 else -rounded


def _round_half_even(numerator: int, denominator: int) -> int:
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q & 1):
        q += 1
    return q


def _exact(arg: bytes):
    """The exact value strtold would read from all of arg, or None if it reads less."""
    if _DECIMAL.fullmatch(arg):
        return Fraction(Decimal(arg.decode()))
    m = _HEX.fullmatch(arg)
    if m and (m.group(2) or m.group(3)):
        sign, whole, fraction, power = m.groups()
        digits = whole + (fraction or b"")
        value = Fraction(int(digits, 16), 16 ** len(fraction or b""))
        value *= Fraction(2) ** int(power or 0)
        return -value if sign == b"-" else value
    m = _INFINITY.fullmatch(arg)
    if m:
        return -INF if m.group(1) == b"-" else INF
    return None


def parse_long_double(arg: bytes, error: str = NOT_FLOAT):
    """A long double as Redis's string2ld accepts it: all of strtold's syntax (hex, inf),
    no spaces, no NaN, nothing that overflows or underflows to zero."""
    value = _exact(arg) if 0 < len(arg) < _MAX_TEXT else None
    if value is None:
        raise AlchemyError(error)
    if value in (INF, -INF):
        return value
    rounded = _round(value)
    if rounded in (INF, -INF) or (rounded == 0 and value != 0):
        raise AlchemyError(error)
    return rounded


def add(a, b):
    """a + b rounded once, as the FPU does; NaN comes back as None."""
    if a in (INF, -INF) or b in (INF, -INF):
        total = float(a) + float(b)
        return None if total != total else total
    return _round(a + b)


def format_long_double(value: Fraction) -> bytes:
    """"%.17Lf" with trailing zeros (and a bare point) removed, "-0" shown as "0"."""
    scaled = abs(value) * 10**17
    q = _round_half_even(scaled.numerator, scaled.denominator)
    if q == 0:
        return b"0"
    whole, fraction = divmod(q, 10**17)
    text = str(whole)
    fraction_text = str(fraction).rjust(17, "0").rstrip("0")
    if fraction_text:
        text += "." + fraction_text
    return (("-" if value < 0 else "") + text).encode()
