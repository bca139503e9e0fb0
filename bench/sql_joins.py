"""SQL joins over the network, beside Alchemy's point SELECT and redis-server GET in the
same run.

    .venv/bin/python -m bench.sql_joins [--rows N] [-n REQUESTS]

Alchemy holds t (id INT PRIMARY KEY, fk INT, name TEXT) with an index on fk (10 rows per fk
value), u (id INT PRIMARY KEY, name TEXT, v INT) with one row per fk value, and
v (id INT PRIMARY KEY, label TEXT) of 1,000 rows. redis-benchmark (-c 50, without
pipelining and with -P 16) sends:

- point SELECT: `SELECT * FROM t WHERE id=<random>`
- 2-table join, 10 rows: `SELECT u.name, t.name FROM u JOIN t ON t.fk = u.id WHERE u.id=<r>`
  (u's row by primary key drives; the fk index gives its 10 rows of t)
- 3-table join, 10 rows: the same with `JOIN v ON v.id = u.v` (one probe of v per row)
- time series, latest 100: `SELECT ts, payload FROM events WHERE series=<r> ORDER BY ts
  DESC LIMIT 100` on events (series INT, ts BIGINT, payload TEXT, PRIMARY KEY (series, ts)),
  1,000 series of 200 events (the key walked backwards from the series' end)

Ratios: each statement against redis GET, and the joins against the point SELECT (the
goal for the 2-table join with -P 16 is at least 0.3 of the point SELECT).
"""

import argparse
import tempfile
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.run import machine, start_alchemy, start_redis
from bench.sql import benchmark

STATEMENTS = [
    ("point SELECT", ["SELECT", "*", "FROM", "t", "WHERE", "id=__rand_int__"]),
    ("2-table join, 10 rows", ["SELECT", "u.name,", "t.name", "FROM", "u", "JOIN", "t", "ON",
                               "t.fk", "=", "u.id", "WHERE", "u.id=__rand_int__"]),
    ("3-table join, 10 rows", ["SELECT", "u.name,", "t.name,", "v.label", "FROM", "u", "JOIN",
                               "t", "ON", "t.fk", "=", "u.id", "JOIN", "v", "ON", "v.id", "=",
                               "u.v", "WHERE", "u.id=__rand_int__"]),
    ("time series, latest 100", ["SELECT", "ts,", "payload", "FROM", "events", "WHERE",
                                 "series=__rand_int__", "ORDER", "BY", "ts", "DESC", "LIMIT",
                                 "100"]),
]
SERIES, EVENTS_PER_SERIES = 1000, 200


def load(port: int, rows: int) -> float:
    """Fill the three tables through the server, 1,000 rows a statement; seconds taken."""
    client = redis.Redis(port=port, protocol=2, socket_timeout=600,
                         retry=Retry(NoBackoff(), 0))
    client.execute_command("SQL", "CREATE TABLE t (id INT PRIMARY KEY, fk INT, name TEXT)")
    client.execute_command("SQL", "CREATE INDEX t_fk ON t (fk)")
    client.execute_command("SQL", "CREATE TABLE u (id INT PRIMARY KEY, name TEXT, v INT)")
    client.execute_command("SQL", "CREATE TABLE v (id INT PRIMARY KEY, label TEXT)")
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for first in range(1, rows + 1, 1000):
        numbers = range(first, min(first + 1000, rows + 1))
        pipe.execute_command("SQL", "INSERT INTO t VALUES " + ",".join(
            f"({i},{i // 10},'nm{i:08d}')" for i in numbers))
        fks = range(first // 10, (numbers[-1] + 1) // 10 + 1)
        pipe.execute_command("SQL", "REPLACE INTO u VALUES " + ",".join(
            f"({k},'un{k:07d}',{k % 1000})" for k in fks))
        if first % 50_000 == 1:
            pipe.execute()
    pipe.execute_command("SQL", "INSERT INTO v VALUES " + ",".join(
        f"({k},'label{k}')" for k in range(1000)))
    pipe.execute()
    load_events(client)
    return time.perf_counter() - start


def load_events(client: redis.Redis) -> None:
    """SERIES series of EVENTS_PER_SERIES events, a series' events 1,000 ms apart."""
    client.execute_command("SQL", "CREATE TABLE events (series INT, ts BIGINT, payload TEXT, "
                                  "PRIMARY KEY (series, ts))")
    pipe = client.pipeline(transaction=False)
    for series in range(SERIES):
        pipe.execute_command("SQL", "INSERT INTO events VALUES " + ",".join(
            f"({series},{1_700_000_000_000 + n * 1000},'event {series}/{n}')"
            for n in range(EVENTS_PER_SERIES)))
    pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("-n", "--requests", type=int, default=100_000)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as workdir:
        ours, theirs = start_alchemy(workdir), start_redis(workdir)
        try:
            seconds = load(ours.port, args.rows)
            print(f"loaded {args.rows:,} rows of t and {SERIES * EVENTS_PER_SERIES:,} events in "
                  f"{seconds:.1f} s (the time series: -r {SERIES})\n")
            redis.Redis(port=theirs.port).set("key:__rand_int__", "x")
            keyspace = args.rows // 10
            for pipeline in (1, 16):
                flag = f" -P {pipeline}" if pipeline > 1 else ""
                print(f"`redis-benchmark -c 50 -n {args.requests} -r {keyspace}{flag} "
                      f"<statement>`\n")
                print("| statement | Alchemy req/s | redis GET req/s | / GET | / point SELECT |")
                print("| --- | ---: | ---: | ---: | ---: |")
                point = None
                for name, command in STATEMENTS:
                    keys = SERIES if "events" in command else keyspace
                    get = benchmark(theirs.port, ["GET", "key:__rand_int__"], args.requests,
                                    keys, pipeline)
                    rps = benchmark(ours.port, command, args.requests, keys, pipeline)
                    point = point or rps
                    print(f"| {name} | {rps:,.0f} | {get:,.0f} | {rps / get:.3f} | "
                          f"{rps / point:.3f} |", flush=True)
                print()
        finally:
            ours.stop()
            theirs.stop()


if __name__ == "__main__":
    main()
