"""Request framing over bytes, without a server: any split of a valid stream parses."""

import random

import pytest

from alchemy.resp import RequestReader


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
        while (request := reader.gets()) is not False:
            got.append(request)
    assert got == requests
