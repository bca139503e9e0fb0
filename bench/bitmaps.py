"""Bitmap speed: BITCOUNT, BITOP OR and SETBIT on 16 MiB bitmaps, beside redis-server.

    .venv/bin/python -m bench.bitmaps [--mib 16] [--setbits 100000]

Alchemy runs in-process (alchemy.Database().execute: no network). redis-server is started
by this script on a free port and driven by redis-py in the same run; its BITCOUNT and
BITOP are timed one call at a time (the 16 MiB of work dwarfs the round trip), its SETBITs
pipelined 1000 at a time so that the figure is the server's cost, not the round trip.
Each figure is the best of several rounds, in ms per operation; the ratio is alchemy's
time over redis's (below 1: alchemy is faster).
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import redis

import alchemy

ROUNDS = 10
PIPELINE = 1000


def best_ms(run, ops: int = 1) -> float:
    """The best of ROUNDS timings of run(), in ms per operation."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000 / ops


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir: str) -> tuple[subprocess.Popen, redis.Redis]:
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, client
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def bench_alchemy(a: bytes, b: bytes, offsets: list) -> dict:
    db = alchemy.Database()
    db.execute("SET", "a", a)
    db.execute("SET", "b", b)
    db.execute("SETBIT", "a", 0, 1)  # the one-time bytes -> bytearray conversion

    def setbits():
        for offset in offsets:
            db.execute("SETBIT", "a", offset, 1)

    return {
        "BITCOUNT": best_ms(lambda: db.execute("BITCOUNT", "a")),
        "BITOP OR": best_ms(lambda: db.execute("BITOP", "OR", "dest", "a", "b")),
        "SETBIT (random offset)": best_ms(setbits, len(offsets)),
    }


def bench_redis(client: redis.Redis, a: bytes, b: bytes, offsets: list) -> dict:
    client.set("a", a)
    client.set("b", b)

    def setbits():
        for i in range(0, len(offsets), PIPELINE):
            pipe = client.pipeline(transaction=False)
            for offset in offsets[i:i + PIPELINE]:
                pipe.setbit("a", offset, 1)
            pipe.execute()

    return {
        "BITCOUNT": best_ms(lambda: client.bitcount("a")),
        "BITOP OR": best_ms(lambda: client.bitop("OR", "dest", "a", "b")),
        "SETBIT (random offset)": best_ms(setbits, len(offsets)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=16, help="bitmap size in MiB")
    parser.add_argument("--setbits", type=int, default=100_000, help="SETBITs per round")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    a, b = os.urandom(size), os.urandom(size)
    rng = random.Random(1)
    offsets = [rng.randrange(size * 8) for _ in range(args.setbits)]

    ours = bench_alchemy(a, b, offsets)
    with tempfile.TemporaryDirectory() as workdir:
        proc, client = start_redis(workdir)
        try:
            version = client.info("server")["redis_version"]
            theirs = bench_redis(client, a, b, offsets)
        finally:
            client.close()
            proc.terminate()
            proc.wait(10)

    print(f"bitmaps of {args.mib} MiB; alchemy in-process vs redis-server {version} "
          f"(best of {ROUNDS}, ms per op)")
    print(f"{'operation':<24}{'alchemy':>12}{'redis':>12}{'ratio':>8}")
    for name, ms in ours.items():
        print(f"{name:<24}{ms:>12.4f}{theirs[name]:>12.4f}{ms / theirs[name]:>8.2f}")


if __name__ == "__main__":
    main()
