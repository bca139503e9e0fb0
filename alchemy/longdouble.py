"""x87 80-bit long double arithmetic, the way Redis's INCRBYFLOAT and HINCRBYFLOAT do it.

Redis parses both operands with strtold, adds them in long double (a 64-bit significand)
and stores "%.17Lf" with the trailing zeros cut. So 0.1 + 0.2 stores "0.3" rather than a
double's "0.30000000000000004", "1e4000" is a valid increment, and hex floats parse.

A finite value here is a pair (q, e) meaning exactly q * 2**e with |q| < 2**64, rounded to
long double precision (ties to even) after every step, which reproduces Redis's results
bit for bit with integer arithmetic only. Infinities are the floats ±inf, so
`type(x) is float` tells an infinity from a finite value.

    >>> format_long_double(add(parse_long_double(b"0.1"), parse_long_double(b"0.2")))
    b'0.3'
"""

import re
from decimal import Decimal

from alchemy.errors import NOT_FLOAT, AlchemyError

_DECIMAL = re.compile(rb"[+-]?([0-9]*)\.?([0-9]*)(?:[eE]([+-]?[0-9]+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?")
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)

_SIGNIFICAND_BITS = 64
_MIN_EXPONENT = -16445      # the least subnormal is 2**-16445
_MAX_BITS = 16384           # every finite long double is below 2**16384
_MAX_TEXT = 5 * 1024        # Redis's MAX_LONG_DOUBLE_CHARS buffer
_DECIMAL_DIGITS = 4960      # decimal exponents of long doubles lie within ±4951
INF = float("inf")
ZERO = (0, 0)


def _round_half_even(numerator: int, denominator: int) -> int:
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q & 1):
        q += 1
    return q


def _round(n: int, d: int):
    """n / d (d > 0) rounded to the nearest long double: (q, e), or ±INF past the largest."""
    if n == 0:
        return ZERO
    sign = -1 if n < 0 else 1
    n = abs(n)
    e = n.bit_length() - d.bit_length()
    if (n << max(-e, 0)) < (d << max(e, 0)):
        e -= 1              # now 2**e <= n/d < 2**(e+1)
    exponent = max(e - (_SIGNIFICAND_BITS - 1), _MIN_EXPONENT)
    if exponent >= 0:
        q = _round_half_even(n, d << exponent)
    else:
        q = _round_half_even(n << -exponent, d)
    if q.bit_length() + exponent > _MAX_BITS:
        return sign * INF
    return (sign * q, exponent)


def _exact(arg: bytes):
    """(numerator, denominator) of what strtold reads from all of arg, ±INF, or None.

    Numbers far outside long double range are refused before any big-integer arithmetic:
    `1e999999999` must not make the server compute 10**999999999."""
    m = _DECIMAL.fullmatch(arg)
    if m and (m.group(1) or m.group(2)):
        whole, fraction, power = m.group(1).lstrip(b"0"), m.group(2), m.group(3)
        significant = (whole + fraction).lstrip(b"0")
        if not significant:
            return 0, 1
        if power is not None and len(power.lstrip(b"+-").lstrip(b"0")) > 6:
            return None  # out of range either way
        # The power of ten of the first significant digit.
        first = len(whole) - 1 if whole else len(fraction.lstrip(b"0")) - len(fraction) - 1
        leading = first + int(power or 0)
        if not -_DECIMAL_DIGITS <= leading <= _DECIMAL_DIGITS:
            return None
        return Decimal(arg.decode()).as_integer_ratio()
    m = _HEX.fullmatch(arg)
    if m and (m.group(2) or m.group(3)):
        sign, whole, fraction, power = m.groups()
        fraction = fraction or b""
        n = int(whole + fraction, 16) * (-1 if sign == b"-" else 1)
        if n == 0:
            return 0, 1
        if power is not None and len(power.lstrip(b"+-").lstrip(b"0")) > 7:
            return None
        shift = int(power or 0) - 4 * len(fraction)
        if not _MIN_EXPONENT - 2 <= abs(n).bit_length() + shift <= _MAX_BITS + 1:
            return None
        return (n << shift, 1) if shift >= 0 else (n, 1 << -shift)
    m = _INFINITY.fullmatch(arg)
    if m:
        return -INF if m.group(1) == b"-" else INF
    return None


def parse_long_double(arg: bytes, error: str = NOT_FLOAT):
    """A long double as Redis's string2ld accepts it: all of strtold's syntax (hex, inf),
    no spaces, no NaN, nothing that overflows or underflows to zero."""
    exact = _exact(arg) if 0 < len(arg) < _MAX_TEXT else None
    if exact is None:
        raise AlchemyError(error)
    if type(exact) is float:
        return exact
    value = _round(*exact)
    if type(value) is float or (value[0] == 0 and exact[0] != 0):
        raise AlchemyError(error)
    return value


def add(a, b):
    """a + b rounded once, as the FPU does; NaN comes back as None."""
    if type(a) is float or type(b) is float:
        total = (a if type(a) is float else 0.0) + (b if type(b) is float else 0.0)
        return None if total != total else total
    (qa, ea), (qb, eb) = a, b
    low = min(ea, eb)
    n = (qa << (ea - low)) + (qb << (eb - low))
    return _round(n << low, 1) if low >= 0 else _round(n, 1 << -low)


def format_long_double(value) -> bytes:
    """"%.17Lf" of a finite value with trailing zeros (and a bare point) cut; "-0" is "0"."""
    q, e = value
    scaled = abs(q) * 10**17
    digits = scaled << e if e >= 0 else _round_half_even(scaled, 1 << -e)
    if digits == 0:
        return b"0"
    whole, fraction = divmod(digits, 10**17)
    text = format(Decimal(whole), "f")  # str() refuses ints of over 4,300 digits
    fraction_text = str(fraction).rjust(17, "0").rstrip("0")
    if fraction_text:
        text += "." + fraction_text
    return (("-" if q < 0 else "") + text).encode()
