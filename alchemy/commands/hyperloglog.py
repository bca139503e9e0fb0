"""HyperLogLog commands (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

An HLL is a string value in Redis's representation (alchemy.hyperloglog). Writes are
logged as Redis propagates them: PFADD and PFMERGE as themselves, and a PFCOUNT that
refreshes the cached cardinality as itself too, so that replay leaves the same bytes.
"""

import math
import random

import numpy as np

from alchemy import hyperloglog as hll
from alchemy.command import command
from alchemy.errors import AlchemyError
from alchemy.notify import NEW, STRING, notify
from alchemy.reply import OK, Status


def _hll(ctx, key: bytes):
    """The HLL at key, or None; WRONGTYPE for another type or a string that is not one."""
    value = ctx.db.get_string(key)
    if value is not None:
        hll.check(value)
    return value


def _for_write(ctx, key: bytes, value) -> bytearray:
    """The HLL at key as a bytearray to edit, created (sparse, empty) when value is None."""
    if value is None:
        value = bytearray(hll.EMPTY)
        notify(ctx, NEW, b"new", key)
        ctx.db.set(key, value)
    elif type(value) is bytes:
        value = bytearray(value)
        ctx.db.set(key, value, keep_ttl=True)
    return value


def _store(ctx, key: bytes, value: bytearray, edited: hll.Hll) -> None:
    """Keep what edited made of value (a dense value was changed in place)."""
    result = edited.value()
    if result is not value:
        ctx.db.set(key, result, keep_ttl=True)


def _sparse_max_bytes(ctx) -> int:
    return ctx.server.config.values["hll-sparse-max-bytes"]


@command("pfadd", -2, "write denyoom fast", keys=(1, 1, 1), group="hyperloglog",
         summary="Adds the specified elements to the specified HyperLogLog.",
         since="2.8.9", complexity="O(1) to add every element.")
def pfadd(ctx, argv):
    key = argv[1]
    old = _hll(ctx, key)
    value = _for_write(ctx, key, old)
    changed = 0
    if len(argv) > 2:
        edited = hll.Hll(value, _sparse_max_bytes(ctx))
        try:
            for element in argv[2:]:
                changed += edited.add(element)
        except AlchemyError:  # a corrupt sparse HLL
            if changed:  # Redis keeps what the elements before the bad one changed,
                _store(ctx, key, value, edited)
                ctx.server.dirty += 1  # and so does replaying this command
            raise
    if changed:
        _store(ctx, key, value, edited)
    elif old is None:
        value[15] |= hll.STALE
    updated = changed + (old is None)
    if not updated:
        return 0
    notify(ctx, STRING, b"pfadd", key)
    ctx.server.dirty += updated
    return 1


@command("pfcount", -2, "readonly may_replicate", keys=(1, -1, 1), group="hyperloglog",
         summary="Return the approximated cardinality of the set(s) observed by the "
                 "HyperLogLog at key(s).",
         since="2.8.9",
         complexity="O(1) with a very small average constant time when called with a "
                    "single key. O(N) with N being the number of keys, and much bigger "
                    "constant times, when called with multiple keys.")
def pfcount(ctx, argv):
    if len(argv) > 2:
        return hll.estimate(hll.histogram(_union(ctx, argv[1:])[0]))
    key = argv[1]
    value = _hll(ctx, key)
    if value is None:
        return 0
    cached = hll.cached_count(value)
    if cached is not None:
        return cached
    count = hll.count(value)
    # The cache is part of the string: storing it is a write, logged as Redis logs it.
    hll.store_count(_for_write(ctx, key, value), count)
    ctx.server.dirty += 1
    ctx.server.propagate_as([b"PFCOUNT", key])
    return count


def _union(ctx, keys: list) -> tuple[np.ndarray, bool]:
    """The register-wise maximum of the HLLs at keys (missing ones are empty), and whether
    any of them is dense."""
    maxima = np.zeros(hll.REGISTERS, np.uint8)
    any_dense = False
    for key in keys:
        value = _hll(ctx, key)
        if value is not None:
            any_dense |= value[4] == hll.DENSE
            np.maximum(maxima, hll.registers(value), out=maxima)
    return maxima, any_dense


@command("pfmerge", -2, "write denyoom", keys=(1, -1, 1), group="hyperloglog",
         summary="Merge N different HyperLogLogs into a single one.", since="2.8.9",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.")
def pfmerge(ctx, argv):
    # The destination is a source too, so it is checked with the others.
    maxima, any_dense = _union(ctx, argv[1:])
    key = argv[1]
    value = _for_write(ctx, key, ctx.db.get_string(key))
    edited = hll.Hll(value, _sparse_max_bytes(ctx))
    if any_dense:  # a dense result is certain: skip growing a sparse one first
        edited.to_dense()
    edited.merge(maxima)
    _store(ctx, key, value, edited)
    notify(ctx, STRING, b"pfadd", key)  # a merge is a mass add, as Redis reports it
    ctx.server.dirty += 1
    return OK


@command("pfdebug", 3, "write denyoom admin", keys=(2, 2, 1), group="hyperloglog",
         summary="Internal commands for debugging HyperLogLog values", since="2.8.9",
         complexity="N/A")
def pfdebug(ctx, argv):
    sub, key = argv[1].lower(), argv[2]
    value = _hll(ctx, key)
    if value is None:
        raise AlchemyError("ERR The specified key does not exist")
    if sub == b"getreg":
        if value[4] == hll.SPARSE:
            _to_dense(ctx, key, value)
        return hll.registers(ctx.db.get(key)).tolist()
    if sub == b"decode":
        if value[4] != hll.SPARSE:
            raise AlchemyError("ERR HLL encoding is not sparse")
        return hll.decode(value).encode()
    if sub == b"encoding":
        return Status("dense" if value[4] == hll.DENSE else "sparse")
    if sub == b"todense":
        if value[4] == hll.DENSE:
            return 0
        _to_dense(ctx, key, value)
        return 1
    raise AlchemyError(f"ERR Unknown PFDEBUG subcommand '{argv[1].decode(errors='replace')}'")


def _to_dense(ctx, key: bytes, value) -> None:
    edited = hll.Hll(bytearray(value), _sparse_max_bytes(ctx))
    edited.to_dense()
    ctx.db.set(key, edited.dense, keep_ttl=True)
    ctx.server.dirty += 1  # the new encoding is propagated, as in Redis


@command("pfselftest", 1, "admin", group="hyperloglog",
         summary="An internal command for testing HyperLogLog values", since="2.8.9",
         complexity="N/A")
def pfselftest(ctx, argv):
    """Redis's self test, scaled to this implementation's speed: register packing round
    trips, then sparse and dense HLLs fed the same elements agree with each other and
    stay within six standard errors at each power of ten up to 100,000 elements."""
    rng = random.Random()
    for _ in range(10):
        values = np.frombuffer(rng.randbytes(hll.REGISTERS), np.uint8) & 63
        packed = bytearray(hll.EMPTY[:hll.HEADER]) + hll.pack_dense(values)
        packed[4] = hll.DENSE
        unpacked = hll.registers(packed)
        if not np.array_equal(unpacked, values):
            i = int(np.flatnonzero(unpacked != values)[0])
            raise AlchemyError(f"TESTFAILED Register {i} should be {values[i]} "
                               f"but is {unpacked[i]}")
    dense = hll.Hll(bytearray(hll.EMPTY), _sparse_max_bytes(ctx))
    dense.to_dense()
    sparse = hll.Hll(bytearray(hll.EMPTY), _sparse_max_bytes(ctx))
    seed = rng.getrandbits(64)
    checkpoint = 1
    for j in range(1, 100_001):
        element = (j ^ seed).to_bytes(8, "little")
        dense.add(element)
        sparse.add(element)
        if j != checkpoint:
            continue
        if j < _sparse_max_bytes(ctx) // 2 and sparse.dense is not None:
            raise AlchemyError("TESTFAILED sparse encoding not used")
        card = hll.count(dense.value())
        if card != hll.count(sparse.value()):
            raise AlchemyError("TESTFAILED dense/sparse disagree")
        error = abs(checkpoint - card)
        if error > (1 if j == 10 else math.ceil(1.04 / 128 * 6 * checkpoint)):
            raise AlchemyError(f"TESTFAILED Too big error. card:{checkpoint} "
                               f"abserr:{error}")
        checkpoint *= 10
    return OK
