"""Request framing over bytes, without a server: any split of a valid stream parses."""

import random

import pytest

from alchemy.resp import ProtocolError, RequestReader


def _encode(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@pytest.mark.parametrize("chunk", [1, 7, 1000, 4096, 65536, 100_000, 300_000])
def test_large_pipelined_requests_survive_any_chunking(chunk):
    rng = random.Random(chunk)
    longest = 40_000 if chunk >= 1000 else 2_000  # tiny chunks: a smaller stream
    requests = [[b"SQL", rng.randbytes(rng.randrange(10, longest))] for _ in range(40)]
    stream = b"".join(_encode(*r) for r in requests)
    reader, got = RequestReader(), []
    for i in range(0, len(stream), chunk):
        reader.feed(stream[i:i + chunk])
        got += reader.take()
    assert got == requests


@pytest.mark.parametrize("start", [b"*\x00", b"*1\r\n$\x00"])
def test_unfinished_header_is_refused_whatever_the_chunk_sizes(start):
    # A small first read, then one large enough to pass the checked bound at once.
    reader = RequestReader()
    reader.feed(start + b"A" * 1000)
    assert reader.take() == []
    with pytest.raises(ProtocolError, match="too big"):
        reader.feed(b"A" * 200_000)
        reader.take()


@pytest.mark.parametrize("count", [b"1048577", b"2000000", b"99999999"])
def test_too_large_count_after_complete_requests_is_refused(count):
    # hiredis would wait for the elements: the count is refused as soon as it is read, and
    # the request before it still runs.
    reader = RequestReader()
    reader.feed(_encode(b"PING") + b"*" + count + b"\r\n$3\r\nSET\r\n")
    assert reader.take() == [[b"PING"]]
    with pytest.raises(ProtocolError, match="invalid multibulk length"):
        reader.take()


def test_largest_count_waits_for_its_elements():
    reader = RequestReader()
    reader.feed(_encode(b"PING") + b"*1048576\r\n$3\r\nSET\r\n")
    assert reader.take() == [[b"PING"]]
    reader.feed(b"$1\r\nk\r\n")
    assert reader.take() == []
    assert reader.error is None


def test_negative_count_in_a_pipelined_chunk_is_skipped():
    reader = RequestReader()
    reader.feed(_encode(b"PING") + b"*-1\r\n" + _encode(b"ECHO", b"a"))
    assert reader.take() == [[b"PING"], [b"ECHO", b"a"]]
