"""Memory copied on write while a forked child works, beside redis-server doing the same.

    .venv/bin/python -m bench.cow [--size-mb 1000] [--rate 1000]

Each server gets the same data through redis-py pipelines: strings (100-byte values),
hashes (10 fields) and a SQL table (redis-server has no tables: it gets each row as a
hash of its columns). Alchemy is filled until its resident set has grown by --size-mb;
redis-server gets the same commands. Then, while one client keeps writing over the data
(--rate writes a second: SET, HSET and UPDATE of random existing keys and rows), BGSAVE
and then BGREWRITEAOF run, and /proc/<pid>/smaps_rollup of the server and of the child
is read every 20 ms during the child's life. Reported, as peaks over the child's life: the
private memory of the child and of the parent, and the memory both use beyond what the
server used just before the fork (the sum of their Pss, proportional set sizes, minus its
Pss then), beside the dataset size; for redis-server also its own
rdb_last_cow_size / aof_last_cow_size (the child's private memory, as it measures it).

Before a fork every page of the server is private to it; after, the pages are shared
until either side writes to one, which is then copied: the copy is private to the side
that wrote and the original private to the other. So each copied page shows in both
private figures once, and the extra memory is about one of them (plus what either side
newly allocates). A child that only reads should stay small, but CPython writes to every
object it reads (reference counts, and the garbage collector's header fields), so the
child's private memory tells how much of the heap it touched.
"""

import argparse
import os
import random
import tempfile
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.run import machine, start_alchemy, start_redis

MB = 1 << 20
CHUNK = {"strings": 10_000, "hashes": 1_000, "rows": 5_000}  # one loading round
SAMPLE_SECONDS = 0.02
SCHEMA = "(id INT PRIMARY KEY, fk INT, field TEXT, name TEXT)"


def smaps(pid: int) -> dict[str, int] | None:
    """Bytes per smaps_rollup field (Rss, Private_Dirty, Shared_Dirty, ...), None once gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            lines = f.read().splitlines()[1:]
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = {}
    for line in lines:
        name, value = line.split(":", 1)
        parts = value.split()
        if parts and parts[-1] == "kB":
            fields[name] = int(parts[0]) * 1024
    return fields or None


def children(pid: int) -> set[int]:
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.update(int(p) for p in f.read().split())
    return found


def client(port: int) -> redis.Redis:
    # No retries: a statement sent again on a slow reply would run twice.
    return redis.Redis(port=port, protocol=2, socket_timeout=600, retry=Retry(NoBackoff(), 0))


def _text(i: int, width: int) -> str:
    return (f"{i:x}-" * (width // 4 + 1))[:width]


def load_round(r: redis.Redis, n: int, tables: bool) -> None:
    """Round n of the data: strings, hashes and table rows with numbers from n * CHUNK."""
    pipe = r.pipeline(transaction=False)
    first = n * CHUNK["strings"]
    for start in range(first, first + CHUNK["strings"], 1000):
        pipe.mset({f"s:{i}": _text(i, 100) for i in range(start, start + 1000)})
    first = n * CHUNK["hashes"]
    for i in range(first, first + CHUNK["hashes"]):
        pipe.hset(f"h:{i}", mapping={f"field{f}": _text(i + f, 20) for f in range(10)})
    first = n * CHUNK["rows"]
    for start in range(first, first + CHUNK["rows"], 1000):
        numbers = range(start, start + 1000)
        if tables:
            values = ",".join(f"({i},{i // 10},'{_text(i, 30)}','nm{i:08d}')" for i in numbers)
            pipe.execute_command("SQL", f"INSERT INTO t VALUES {values}")
        else:
            for i in numbers:
                pipe.hset(f"t:{i}", mapping={"fk": i // 10, "field": _text(i, 30),
                                             "name": f"nm{i:08d}"})
    pipe.execute()


class Writer(threading.Thread):
    """Overwrites random existing strings, hash fields and rows at a steady rate."""

    def __init__(self, port: int, rounds: int, rate: int, tables: bool):
        super().__init__(daemon=True)
        self.r = client(port)
        self.rounds, self.rate, self.tables = rounds, rate, tables
        self.stop = threading.Event()
        self.writes = 0

    def run(self) -> None:
        rng = random.Random(7)
        interval = 1.0 / self.rate
        due = time.perf_counter()
        while not self.stop.is_set():
            kind = self.writes % 3
            if kind == 0:
                self.r.set(f"s:{rng.randrange(self.rounds * CHUNK['strings'])}", "x" * 100)
            elif kind == 1:
                self.r.hset(f"h:{rng.randrange(self.rounds * CHUNK['hashes'])}", "field3", "y")
            else:
                row = rng.randrange(self.rounds * CHUNK["rows"])
                if self.tables:
                    self.r.execute_command("SQL", f"UPDATE t SET fk=1 WHERE id={row}")
                else:
                    self.r.hset(f"t:{row}", "fk", 1)
            self.writes += 1
            due += interval
            time.sleep(max(0.0, due - time.perf_counter()))


def watch_child(pid: int, known: set[int], command: str, r: redis.Redis) -> dict:
    """Run command, then sample the server and its new child until the child exits."""
    pss_before = smaps(pid)["Pss"]
    r.execute_command(command)
    deadline = time.time() + 10
    child = None
    while child is None and time.time() < deadline:
        new = children(pid) - known
        child = min(new) if new else None
    if child is None:
        raise RuntimeError(f"{command}: no child appeared")
    began = time.perf_counter()
    peak = {"child": 0, "parent": 0, "extra": 0, "samples": 0}
    while True:
        # The server first: if the child still lives after, it lived during that read too
        # (once it exits, the server's pages turn private again).
        ours = smaps(pid)
        theirs = smaps(child)
        if theirs is None or ours is None:
            break
        child_private = theirs.get("Private_Dirty", 0) + theirs.get("Private_Clean", 0)
        parent_private = ours.get("Private_Dirty", 0) + ours.get("Private_Clean", 0)
        peak["child"] = max(peak["child"], child_private)
        peak["parent"] = max(peak["parent"], parent_private)
        peak["extra"] = max(peak["extra"], ours["Pss"] + theirs["Pss"] - pss_before)
        peak["samples"] += 1
        time.sleep(SAMPLE_SECONDS)
    peak["seconds"] = time.perf_counter() - began
    return peak


def wait_done(r: redis.Redis) -> dict:
    while True:
        info = r.info("persistence")
        if not info["rdb_bgsave_in_progress"] and not info["aof_rewrite_in_progress"]:
            return info
        time.sleep(0.05)


def measure(server, rounds: int | None, size: int, rate: int, tables: bool) -> dict:
    """Fill the server (`rounds` rounds, or until it has grown by size bytes), then watch a
    BGSAVE and a BGREWRITEAOF child."""
    pid = server.proc.pid
    r = client(server.port)
    if tables:
        r.execute_command("SQL", f"CREATE TABLE t {SCHEMA}")
    before = smaps(pid)["Rss"]
    done = 0
    began = time.perf_counter()
    while (done < rounds) if rounds is not None else (smaps(pid)["Rss"] - before < size):
        load_round(r, done, tables)
        done += 1
    loaded = time.perf_counter() - began
    result = {"rounds": done, "keys": r.dbsize(), "load_seconds": loaded,
              "dataset": smaps(pid)["Rss"] - before, "rss": smaps(pid)["Rss"]}
    writer = Writer(server.port, done, rate, tables)
    writer.start()
    time.sleep(1)
    for command in ("BGSAVE", "BGREWRITEAOF"):
        wait_done(r)
        writes = writer.writes
        result[command] = watch_child(pid, children(pid), command, r)
        result[command]["writes"] = writer.writes - writes
        info = wait_done(r)
        if "rdb_last_cow_size" in info:
            own = "rdb_last_cow_size" if command == "BGSAVE" else "aof_last_cow_size"
            result[command]["reported"] = info[own]
    writer.stop.set()
    writer.join()
    return result


def report(name: str, result: dict) -> None:
    dataset = result["dataset"]
    print(f"{name}: {result['keys']:,} keys ({result['rounds']} rounds), dataset "
          f"{dataset / MB:,.0f} MB (RSS {result['rss'] / MB:,.0f} MB), loaded in "
          f"{result['load_seconds']:.0f} s")
    print("| child | seconds | writes meanwhile | child private MB | parent private MB "
          "| extra MB | extra / dataset | server's own figure MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for command in ("BGSAVE", "BGREWRITEAOF"):
        p = result[command]
        own = f"{p['reported'] / MB:,.1f}" if "reported" in p else "-"
        print(f"| {command} | {p['seconds']:.1f} | {p['writes']:,} | {p['child'] / MB:,.1f} "
              f"| {p['parent'] / MB:,.1f} | {p['extra'] / MB:,.1f} | {p['extra'] / dataset:.2f} "
              f"| {own} |")


def available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1000,
                        help="grow Alchemy's resident set by this much (default 1000)")
    parser.add_argument("--rate", type=int, default=1000,
                        help="writes a second while a child works (default 1000)")
    args = parser.parse_args(argv)
    size = args.size_mb * MB
    # Alchemy and its child may each hold the dataset, redis-server and its child too.
    room = available() // 5
    if size > room:
        print(f"Only {available() // MB:,} MB available: scaling down to {room // MB:,} MB")
        size = room
    print(machine())
    with tempfile.TemporaryDirectory(prefix="alchemy-cow-") as workdir:
        alchemy = start_alchemy(workdir, 'save ""\nappendonly yes\nappendfsync everysec\n')
        try:
            ours = measure(alchemy, None, size, args.rate, tables=True)
        finally:
            alchemy.stop()
        report("Alchemy", ours)
        peer = start_redis(workdir, "everysec")
        try:
            theirs = measure(peer, ours["rounds"], size, args.rate, tables=False)
        finally:
            peer.stop()
        report("redis-server", theirs)


if __name__ == "__main__":
    main()
