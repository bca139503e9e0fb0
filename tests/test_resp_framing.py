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
