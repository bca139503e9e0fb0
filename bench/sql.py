"""SQL over the network and in-process, beside redis-server GET and sqlite3 in the same run.

    .venv/bin/python -m bench.sql [--rows N] [-n REQUESTS] [--skip-network] [--skip-inprocess]

Network: Alchemy holds `t (id INT PRIMARY KEY, fk INT, field TEXT, name TEXT)` with an index
on fk (10 rows per fk value); redis-benchmark sends each statement with its random-number
placeholder (`id=__rand_int__` arrives as `id=000000123456`), without pipelining and with
-P 16, and the same run measures redis-server's GET. Ratios are Alchemy / redis GET. The
first row is Alchemy's own GET: the cost of its request path with the least a command can do.
Each row also gives each server's CPU time per request (user and system, from /proc): without
pipelining the benchmark client and the server share the two cores, so a statement's rate
follows its server's CPU per request.
In-process: point SELECT and INSERT through db.sql() against Python's sqlite3 module (in
memory, parameterised statements), same data, same run.

Both also hold `d (id INT PRIMARY KEY, info LUATABLE)`, the same rows as documents
`{"fk": ..., "name": ...}` with an index on info.fk; sqlite3's peer is a JSON text column
with an index on json_extract(info, '$.fk').
"""

import argparse
import csv
import io
import random
import sqlite3
import subprocess
import sys
import tempfile
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.cpu import cpu_seconds
from bench.run import REDIS_BENCHMARK, machine, start_alchemy, start_redis

GET = ["GET", "key:__rand_int__"]
SCHEMA = "(id INT PRIMARY KEY, fk INT, field TEXT, name TEXT)"

STATEMENTS = [
    ("point SELECT", ["SELECT", "*", "FROM", "t", "WHERE", "id=__rand_int__"]),
    ("point SELECT of two columns", ["SELECT", "name,fk", "FROM", "t", "WHERE", "id=__rand_int__"]),
    ("10-row SELECT on fk index", ["SELECT", "*", "FROM", "t", "WHERE", "fk=__rand_int__"]),
    ("10-row SELECT on LuaTable field index",
     ["SELECT", "*", "FROM", "d", "WHERE", "info.fk=__rand_int__"]),
    ("UPDATE by key", ["UPDATE", "t", "SET", "fk=1", "WHERE", "id=__rand_int__"]),
    ("REPLACE (insert) random key", ["REPLACE", "INTO", "t", "VALUES",
                                     "(__rand_int__,1,'field','name')"]),
    ("DELETE by key", ["DELETE", "FROM", "t", "WHERE", "id=__rand_int__"]),
]


def _row(i: int) -> tuple:
    return i, i // 10, f"field{i % 1000:05d}", f"nm{i:08d}"


def _document(i: int) -> str:
    return '{"fk":%d,"name":"nm%08d"}' % (i // 10, i)


def load(port: int, rows: int) -> float:
    """Fill the table through the server, 1,000 rows a statement; seconds taken."""
    # No retries: redis-py 8 re-sends on a slow reply, and an INSERT must run once.
    client = redis.Redis(port=port, protocol=2, socket_timeout=600,
                         retry=Retry(NoBackoff(), 0))
    client.execute_command("SQL", f"CREATE TABLE t {SCHEMA}")
    client.execute_command("SQL", "CREATE INDEX t_fk ON t (fk)")
    client.execute_command("SQL", "CREATE TABLE d (id INT PRIMARY KEY, info LUATABLE)")
    client.execute_command("SQL", "CREATE INDEX d_fk ON d (info.fk) INT")
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for first in range(1, rows + 1, 1000):
        numbers = range(first, min(first + 1000, rows + 1))
        values = ",".join("(%d,%d,'%s','%s')" % _row(i) for i in numbers)
        pipe.execute_command("SQL", f"INSERT INTO t VALUES {values}")
        documents = ",".join(f"({i},'{_document(i)}')" for i in numbers)
        pipe.execute_command("SQL", f"INSERT INTO d VALUES {documents}")
        if first % 50_000 == 1:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - start


def benchmark(server, command: list, requests: int, keyspace: int,
              pipeline: int) -> tuple[float, float]:
    """req/s of one redis-benchmark run, and the server's CPU time (user and system) per
    request in µs: without pipelining the client and the server share two cores, so this
    is what a server's rate answers to."""
    argv = [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(server.port), "-c", "50", "-n",
            str(requests), "-r", str(keyspace), "-P", str(pipeline), "--csv", *command]
    before = sum(cpu_seconds(server.proc.pid))
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    used = sum(cpu_seconds(server.proc.pid)) - before
    row = next(csv.reader(io.StringIO(out.splitlines()[-1])))
    return float(row[1]), used * 1e6 / requests


def network(rows: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        ours, theirs = start_alchemy(workdir), start_redis(workdir)
        try:
            seconds = load(ours.port, rows)
            print(f"loaded {rows:,} rows and {rows:,} documents in {seconds:.1f} s\n")
            for server in (ours, theirs):
                redis.Redis(port=server.port).set("key:__rand_int__", "x")
            for pipeline in (1, 16):
                flag = f" -P {pipeline}" if pipeline > 1 else ""
                print(f"`redis-benchmark -c 50 -n {requests} -r <keys>{flag} <statement>`\n")
                print("| statement | Alchemy req/s | redis GET req/s | ratio "
                      "| Alchemy CPU µs | redis CPU µs |")
                print("| --- | ---: | ---: | ---: | ---: | ---: |")
                for name, command in [("GET", GET)] + STATEMENTS:
                    keyspace = rows // 10 if "fk" in command[-1] else rows
                    get, get_cpu = benchmark(theirs, GET, requests, keyspace, pipeline)
                    rps, cpu = benchmark(ours, command, requests, keyspace, pipeline)
                    print(f"| {name} | {rps:,.0f} | {get:,.0f} | {rps / get:.3f} "
                          f"| {cpu:.1f} | {get_cpu:.1f} |", flush=True)
                print()
        finally:
            ours.stop()
            theirs.stop()


def in_process(rows: int, operations: int) -> None:
    import alchemy
    db = alchemy.Database()
    db.sql(f"CREATE TABLE t {SCHEMA}")
    peer = sqlite3.connect(":memory:")
    peer.execute(f"CREATE TABLE t {SCHEMA.replace('id INT', 'id INTEGER')}")
    data = [_row(i) for i in range(1, rows + 1)]
    results = []
    start = time.perf_counter()
    for row in data[:operations]:
        db.sql("INSERT INTO t VALUES (?, ?, ?, ?)", *row)
    ours = operations / (time.perf_counter() - start)
    start = time.perf_counter()
    for row in data[:operations]:
        peer.execute("INSERT INTO t VALUES (?, ?, ?, ?)", row)
    peer.commit()
    results.append(("INSERT", ours, operations / (time.perf_counter() - start)))
    keys = [random.randrange(1, operations) for _ in range(operations)]
    results.append(("point SELECT", *_point_selects(db, peer, "*", keys)))
    results.append(("point SELECT of two columns", *_point_selects(db, peer, "name, fk", keys)))
    results.append(_documents(db, peer, data[:operations], keys))
    print("In-process: `db.sql(...)` against Python's sqlite3 (in memory, parameterised)\n")
    print("| statement | Alchemy ops/s | sqlite3 ops/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, a, b in results:
        print(f"| {name} | {a:,.0f} | {b:,.0f} | {a / b:.3f} |")
    print()


def _point_selects(db, peer, columns: str, keys: list) -> tuple[float, float]:
    """Alchemy's and sqlite3's rates of `SELECT <columns> FROM t WHERE id = ?` over keys."""
    statement = f"SELECT {columns} FROM t WHERE id = ?"
    start = time.perf_counter()
    for key in keys:
        db.sql(statement, key)
    ours = len(keys) / (time.perf_counter() - start)
    start = time.perf_counter()
    for key in keys:
        peer.execute(statement, (key,)).fetchall()
    return ours, len(keys) / (time.perf_counter() - start)


def _documents(db, peer, data: list, keys: list) -> tuple:
    """10-row SELECTs on an indexed document field, after loading the documents."""
    db.sql("CREATE TABLE d (id INT PRIMARY KEY, info LUATABLE)")
    db.sql("CREATE INDEX d_fk ON d (info.fk) INT")
    peer.execute("CREATE TABLE d (id INTEGER PRIMARY KEY, info TEXT)")
    peer.execute("CREATE INDEX d_fk ON d (json_extract(info, '$.fk'))")
    for row in data:
        db.sql("INSERT INTO d VALUES (?, ?)", row[0], _document(row[0]))
        peer.execute("INSERT INTO d VALUES (?, ?)", (row[0], _document(row[0])))
    peer.commit()
    probes = [key // 10 for key in keys[:len(keys) // 10]]
    start = time.perf_counter()
    for fk in probes:
        db.sql("SELECT * FROM d WHERE info.fk = ?", fk)
    ours = len(probes) / (time.perf_counter() - start)
    start = time.perf_counter()
    for fk in probes:
        peer.execute("SELECT * FROM d WHERE json_extract(info, '$.fk') = ?", (fk,)).fetchall()
    return "10-row SELECT on a document field index", ours, \
        len(probes) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("-n", "--requests", type=int, default=200_000)
    parser.add_argument("--operations", type=int, default=100_000,
                        help="in-process statements of each kind")
    parser.add_argument("--skip-network", action="store_true")
    parser.add_argument("--skip-inprocess", action="store_true")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    if not args.skip_network:
        network(args.rows, args.requests)
    if not args.skip_inprocess:
        in_process(args.rows, args.operations)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
