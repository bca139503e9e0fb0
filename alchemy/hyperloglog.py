"""HyperLogLog in Redis's own string representation (hyperloglog.c), byte for byte.

A HyperLogLog is an ordinary string value, so GET and SET move it between Redis and
Alchemy unchanged. Layout: a 16-byte header ("HYLL", the encoding byte, three unused
bytes, the cached cardinality as 8 little-endian bytes whose top bit set means stale),
then the registers: 16384 six-bit registers, either

- dense: packed least significant bit first, 12288 bytes; or
- sparse: run-length opcodes, ZERO (00xxxxxx: 1-64 zero registers), XZERO (01xxxxxx
  yyyyyyyy: 1-16384 zero registers) and VAL (1vvvvvxx: 1-4 registers of value 1-32).

An element's register and value come from MurmurHash64A with Redis's seed: the low 14
bits pick the register, the run of zero bits above them plus one is the value. A sparse
HLL turns dense when a value exceeds 32 or the string would pass hll-sparse-max-bytes;
the cardinality is Ertl's improved estimator over the histogram of register values.

Redis edits the sparse string in place, and the bytes it leaves (which neighbouring VAL
opcodes it merges, when it promotes) depend on the order of the edits, so `Hll` replays
its algorithm step for step; only where each opcode starts is found first (in numpy), so
that each element costs a bisect rather than a walk over the opcodes.

Cost: adding an element is O(1) on a dense HLL; on a sparse one, a decoding of the
opcodes once per command (skipped for the value written last) and a bisect and a list
edit per element. Counting and merging are O(16384) in numpy (30-70 us), and PFCOUNT of
one key reuses the cached cardinality until the HLL changes.
"""

from bisect import bisect_right
import math
import struct

import numpy as np

from alchemy.errors import AlchemyError

INVALID_HLL = "INVALIDOBJ Corrupted HLL object detected"
NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."

HEADER = 16
REGISTERS = 16384
DENSE_SIZE = HEADER + REGISTERS * 6 // 8
DENSE, SPARSE = 0, 1
STALE = 0x80  # in header byte 15, the top byte of the cached cardinality
# A new HLL: sparse, one XZERO opcode covering every register, cached cardinality 0.
EMPTY = b"HYLL\x01" + bytes(11) + b"\x7f\xff"

_Q = 50  # hash bits above the register index: register values are 1..Q+1
_SPARSE_MAX_VALUE = 32
_ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)
_M = 0xc6a4a7935bd1e995
_MASK = (1 << 64) - 1
_SEED = 0xadc83b19


def check(value) -> None:
    """Refuse a string that is not an HLL, as isHLLObjectOrReply does."""
    if (len(value) < HEADER or value[:4] != b"HYLL" or value[4] > SPARSE
            or (value[4] == DENSE and len(value) != DENSE_SIZE)):
        raise AlchemyError(NOT_HLL)


def murmurhash64a(data: bytes, seed: int = _SEED) -> int:
    """Redis's MurmurHash64A (64-bit words read little-endian on every machine)."""
    length = len(data)
    h = seed ^ (length * _M & _MASK)
    words = length >> 3
    for k in struct.unpack_from("<%dQ" % words, data):
        k = k * _M & _MASK
        k ^= k >> 47
        h ^= k * _M & _MASK
        h = h * _M & _MASK
    if length & 7:
        h ^= int.from_bytes(data[words * 8:], "little")
        h = h * _M & _MASK
    h ^= h >> 47
    h = h * _M & _MASK
    return h ^ (h >> 47)


def element_register(element: bytes) -> tuple[int, int]:
    """(register index, value) that adding element raises the register to (hllPatLen)."""
    h = murmurhash64a(element)
    rest = (h >> 14) | (1 << _Q)
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# -- cached cardinality --------------------------------------------------------------

def cached_count(value) -> int | None:
    """The cardinality the header holds, None when stale."""
    if value[15] & STALE:
        return None
    return int.from_bytes(value[8:16], "little")


def store_count(value: bytearray, count: int) -> None:
    value[8:16] = count.to_bytes(8, "little")


# -- registers -----------------------------------------------------------------------

def _dense_registers(value) -> np.ndarray:
    """The 16384 registers of a dense HLL, one byte each: every 3 bytes hold 4."""
    packed = np.frombuffer(value, np.uint8, DENSE_SIZE - HEADER, HEADER).reshape(-1, 3)
    b0, b1, b2 = packed[:, 0], packed[:, 1], packed[:, 2]
    registers = np.empty((len(packed), 4), np.uint8)
    registers[:, 0] = b0 & 63
    registers[:, 1] = (b0 >> 6) | ((b1 & 15) << 2)
    registers[:, 2] = (b1 >> 4) | ((b2 & 3) << 4)
    registers[:, 3] = b2 >> 2
    return registers.ravel()


def _dense_histogram(value) -> list:
    """How many registers of a dense HLL hold each value 0..63, without unpacking them:
    each 12 bits hold two registers, so one bincount over 8192 pairs and two sums over
    its 64x64 table do it (31 us here, against 51 us unpacking then counting)."""
    packed = np.frombuffer(value, np.uint8, DENSE_SIZE - HEADER, HEADER).reshape(-1, 3)
    b1 = packed[:, 1]
    pairs = np.empty((2, len(packed)), np.uint16)
    np.bitwise_or(packed[:, 0], (b1 & 15).astype(np.uint16) << 8, out=pairs[0])
    np.bitwise_or(b1 >> 4, packed[:, 2].astype(np.uint16) << 4, out=pairs[1])
    table = np.bincount(pairs.ravel(), minlength=4096).reshape(64, 64)  # [high][low]
    return (table.sum(axis=0) + table.sum(axis=1)).tolist()


def pack_dense(registers: np.ndarray) -> bytes:
    """The dense register bytes of 16384 register values (the inverse of the above)."""
    r = registers.reshape(-1, 4)
    packed = np.empty((len(r), 3), np.uint8)
    packed[:, 0] = r[:, 0] | (r[:, 1] << 6)
    packed[:, 1] = (r[:, 1] >> 2) | (r[:, 2] << 4)
    packed[:, 2] = (r[:, 2] >> 4) | (r[:, 3] << 2)
    return packed.tobytes()


class _Opcodes:
    """A sparse HLL's opcodes, decoded in numpy: per opcode its byte offset, whether it
    is an XZERO or a VAL, its register value (0 for ZERO/XZERO) and its span."""

    def __init__(self, value):
        n = len(value) - HEADER
        # Each opcode covers a register or more in at most two bytes: more bytes than
        # that cannot cover exactly 16384 (and would cost memory in proportion).
        if n > 2 * REGISTERS:
            raise AlchemyError(INVALID_HLL)
        data = np.frombuffer(value, np.uint8, n, HEADER)
        # An XZERO's second byte may look like any opcode, so where opcodes start is found
        # from runs of XZERO-looking bytes: a byte after any other byte starts an opcode,
        # and inside a run every other byte does, from the run's first.
        xzero_like = (data & 0xC0) == 0x40
        index = np.arange(n)
        run_first = xzero_like.copy()
        run_first[1:] &= ~xzero_like[:-1]
        run_start = np.maximum.accumulate(np.where(run_first, index, 0))
        opens = xzero_like & ((index - run_start) & 1 == 0)
        starts = ~xzero_like
        starts[1:] &= ~opens[:-1]
        starts |= opens
        self.offsets = offsets = np.flatnonzero(starts)
        first = data[offsets].astype(np.int64)
        # A last XZERO cut short reads a zero byte, as Redis reads the string's terminator.
        second = np.append(data, np.uint8(0))[offsets + 1].astype(np.int64)
        self.xzero = xzero = xzero_like[offsets]
        self.val = val = first >= 0x80
        self.spans = np.where(xzero, ((first & 63) << 8 | second) + 1,
                              np.where(val, (first & 3) + 1, (first & 63) + 1))
        self.values = np.where(val, ((first >> 2) & 31) + 1, 0)
        self.size = n

    def byte_firsts(self) -> list:
        """For each byte, the first register of the opcode it belongs to."""
        firsts = np.cumsum(self.spans) - self.spans
        widths = np.where(self.xzero, 2, 1)
        if len(widths) and self.offsets[-1] == self.size - 1:
            widths[-1] = 1  # an XZERO cut short at the end
        return np.repeat(firsts, widths).tolist()

    def registers(self) -> np.ndarray:
        """The 16384 registers; INVALIDOBJ unless the opcodes cover exactly that many
        (as redis-server 7.0.15 with the CVE-2025-32023 fix checks)."""
        if int(self.spans.sum()) != REGISTERS:
            raise AlchemyError(INVALID_HLL)
        return np.repeat(self.values, self.spans).astype(np.uint8)


def decode(value) -> str:
    """A sparse HLL's opcodes as PFDEBUG DECODE spells them: `Z:16384`, `z:3`, `v:2,1`."""
    ops = _Opcodes(value)
    return " ".join(
        f"v:{held},{span}" if val else f"Z:{span}" if xzero else f"z:{span}"
        for val, xzero, held, span in zip(ops.val.tolist(), ops.xzero.tolist(),
                                          ops.values.tolist(), ops.spans.tolist()))


def registers(value) -> np.ndarray:
    """An HLL's 16384 registers, one uint8 each (a copy); INVALIDOBJ for a bad sparse one."""
    if value[4] == DENSE:
        return _dense_registers(value)
    return _Opcodes(value).registers()


# -- cardinality ---------------------------------------------------------------------

def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        before = z
        z += x * y
        y += y
        if before == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        before = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if before == z:
            return z / 3


def estimate(histogram: list) -> int:
    """hllCount's estimate from the count of registers holding each value 0..63."""
    m = float(REGISTERS)
    z = m * _tau((m - histogram[_Q + 1]) / m)
    for value in range(_Q, 0, -1):
        z += histogram[value]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    e = _ALPHA_INF * m * m / z
    whole = math.floor(e)
    return int(whole) + (e - whole >= 0.5)  # llroundl: halves away from zero


def histogram(registers: np.ndarray) -> list:
    return np.bincount(registers, minlength=64).tolist()


def count(value) -> int:
    """The estimated cardinality of one HLL, computed afresh; INVALIDOBJ for a bad sparse
    one."""
    if value[4] == DENSE:
        return estimate(_dense_histogram(value))
    return estimate(histogram(_Opcodes(value).registers()))


# -- changing an HLL -----------------------------------------------------------------

def _val(value: int, run: int) -> bytes:
    return _ONE_BYTE[0x80 | (value - 1) << 2 | (run - 1)]


def _run_like(code: int, run: int) -> bytes:
    """An opcode for run registers holding what the opcode starting with code holds:
    a VAL, or for zeros a ZERO, or an XZERO past 64 registers."""
    if code >= 0x80:
        return _val(((code >> 2) & 31) + 1, run)
    if run <= 64:
        return _ONE_BYTE[run - 1]
    return (0x4000 | (run - 1)).to_bytes(2, "big")


# The `firsts` of the sparse values written last, by id: adding an element to the same
# key again skips decoding (~100 us of ~110 for one element into 1000). An entry is used
# only for the very object it was made for, still holding the same opcode bytes.
_DECODED: dict = {}
_DECODED_MAX = 32


class Hll:
    """An HLL value being changed by one command.

    A dense value is the stored bytearray itself, edited in place. A sparse one is edited
    as hllSparseSet edits the string: `codes` is a copy of its opcode bytes and `firsts`
    has for each of those bytes the first register of its opcode (both bytes of an XZERO
    share theirs, which tells them apart), so an element's opcode is a bisect away.
    """

    def __init__(self, value: bytearray, sparse_max_bytes: int):
        self.dense = value if value[4] == DENSE else None
        self.header = value[:HEADER]
        self.sparse_max_bytes = sparse_max_bytes
        if self.dense is None:
            self.codes = codes = value[HEADER:]
            self.source = id(value)
            decoded = _DECODED.get(self.source)
            if decoded is not None and decoded[0] is value and decoded[1] == codes:
                self.firsts = decoded[2]
            else:
                self.firsts = _Opcodes(value).byte_firsts()

    def add(self, element: bytes) -> bool:
        """Add one element; did a register change?"""
        index, count = element_register(element)
        return self.set(index, count)

    def set(self, index: int, count: int) -> bool:
        """Raise register index to count unless it holds as much; did it change?"""
        if self.dense is not None:
            return _dense_set(self.dense, index, count)
        changed = self._sparse_set(index, count) if count <= _SPARSE_MAX_VALUE else None
        if changed is None:
            self._promote()
            return _dense_set(self.dense, index, count)
        return changed

    def merge(self, maxima: np.ndarray) -> None:
        """Raise every register to at least the one in maxima (PFMERGE's destination)."""
        if self.dense is None:
            for index in np.flatnonzero(maxima).tolist():
                if self._sparse_set(index, int(maxima[index])) is None:
                    self._promote()
                    break
            else:
                return
        raised = np.maximum(_dense_registers(self.dense), maxima)
        self.dense[HEADER:] = pack_dense(raised)

    def to_dense(self) -> None:
        if self.dense is None:
            self._promote()

    def value(self) -> bytearray:
        """The HLL's bytes now, with the cached cardinality marked stale."""
        if self.dense is not None:
            self.dense[15] |= STALE
            return self.dense
        self.header[15] |= STALE
        value = self.header + self.codes
        _DECODED.pop(self.source, None)  # its firsts are value's now
        if len(_DECODED) >= _DECODED_MAX:
            del _DECODED[next(iter(_DECODED))]
        self.source = id(value)
        _DECODED[self.source] = (value, bytes(self.codes), self.firsts)
        return value

    def _promote(self) -> None:
        """Turn dense (hllSparseToDense): the header is kept, but for its encoding byte."""
        dense = bytearray(DENSE_SIZE)
        dense[:HEADER] = self.header
        dense[4] = DENSE
        dense[HEADER:] = pack_dense(_Opcodes(self.header + self.codes).registers())
        self.dense = dense

    def _sparse_set(self, index: int, count: int) -> bool | None:
        """hllSparseSet: raise register index to count; None when the HLL must turn
        dense first (a split would pass hll-sparse-max-bytes)."""
        codes, firsts = self.codes, self.firsts
        i = bisect_right(firsts, index) - 1
        if i > 0 and firsts[i - 1] == firsts[i]:  # an XZERO's second byte
            i -= 1
        if i < 0:
            raise AlchemyError(INVALID_HLL)
        code, first = codes[i], firsts[i]
        if code < 0x40:
            width, run = 1, code + 1
        elif code < 0x80:
            # An XZERO cut short at the end reads a zero, Redis's string terminator.
            width, run = 2, ((code & 63) << 8 | (codes[i + 1] if i + 1 < len(codes) else 0)) + 1
        else:
            width, run = 1, (code & 3) + 1
        last = first + run - 1
        if index > last:  # past the last opcode
            raise AlchemyError(INVALID_HLL)
        if code >= 0x80:
            if ((code >> 2) & 31) + 1 >= count:
                return False
            if run == 1:
                codes[i] = 0x80 | (count - 1) << 2
                self._merge_vals(i)
                return True
        elif code == 0:  # a ZERO of one register
            codes[i] = 0x80 | (count - 1) << 2
            self._merge_vals(i)
            return True
        # Split the opcode into up to three: the registers before index, index, after.
        seq = _val(count, 1)
        seq_firsts = [index]
        if index != first:
            before = _run_like(code, index - first)
            seq = before + seq
            seq_firsts[:0] = [first] * len(before)
        if index != last:
            after = _run_like(code, last - index)
            seq += after
            seq_firsts += [index + 1] * len(after)
        grown = len(seq) - width
        if grown > 0 and HEADER + len(codes) + grown > self.sparse_max_bytes:
            return None
        if i + width > len(codes):  # Redis's string keeps the cut XZERO's length
            seq, seq_firsts = seq[:-1], seq_firsts[:-1]
        codes[i:i + width] = seq
        firsts[i:i + width] = seq_firsts
        self._merge_vals(i)
        return True

    def _merge_vals(self, i: int) -> None:
        """Merge neighbouring VALs of one value, looking at five opcodes from the one
        before the opcode at byte i changed, as Redis does (so its bytes are ours)."""
        codes, firsts = self.codes, self.firsts
        if i == 0:
            p = 0
        else:  # the opcode before: one byte, or an XZERO's two
            p = i - 2 if i > 1 and firsts[i - 2] == firsts[i - 1] else i - 1
        end = len(codes)
        for _ in range(5):
            if p >= end:
                return
            code = codes[p]
            if code < 0x80:
                p += 2 if code >= 0x40 else 1
                continue
            if p + 1 < end:
                following = codes[p + 1]
                run = (code & 3) + (following & 3) + 2
                if following >= 0x80 and (code ^ following) & 0x7C == 0 and run <= 4:
                    codes[p + 1] = (code & 0xFC) | (run - 1)
                    del codes[p]
                    del firsts[p + 1]
                    end -= 1
                    continue
            p += 1


def _dense_set(value: bytearray, index: int, count: int) -> bool:
    """hllDenseSet on the whole value: raise register index to count."""
    bit = index * 6
    at = HEADER + (bit >> 3)
    shift = bit & 7
    if shift <= 2:  # the register lies in one byte
        if count <= (value[at] >> shift) & 63:
            return False
        value[at] = (value[at] & ~(63 << shift)) | (count << shift)
        return True
    old = ((value[at] >> shift) | (value[at + 1] << (8 - shift))) & 63
    if count <= old:
        return False
    value[at] = (value[at] & ((1 << shift) - 1)) | ((count << shift) & 0xFF)
    value[at + 1] = (value[at + 1] & ~(63 >> (8 - shift))) | (count >> (8 - shift))
    return True


_ONE_BYTE = [bytes((b,)) for b in range(256)]
