"""Bytes per row of SQL table storage, beside sqlite3 in memory, measured in the same run.

    .venv/bin/python -m bench.table_memory [--rows N] [--schema fk|name]

Each measurement runs in its own child process and reports the growth of its resident set
(RSS) while loading, so allocator overhead counts, as it does for a real server.
  fk:   (id INT PRIMARY KEY, fk INT, field TEXT, name TEXT), index on fk, ~10-byte texts
  name: (id INT PRIMARY KEY, name TEXT), 16-byte names
"""

import argparse
import json
import random
import subprocess
import sys


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _rows(schema: str, n: int):
    rng = random.Random(1)
    for i in range(1, n + 1):
        if schema == "fk":
            yield [i, rng.randrange(n // 10 + 1), f"field{i % 100000:05d}", f"nm{rng.randrange(10**8):08d}"]
        else:
            yield [i, f"name-{i:011d}"]


def measure_alchemy(schema: str, n: int) -> int:
    from alchemy.storage.table import Column, Table
    if schema == "fk":
        columns = [Column("id", "INT"), Column("fk", "INT"), Column("field", "TEXT"),
                   Column("name", "TEXT")]
    else:
        columns = [Column("id", "INT"), Column("name", "TEXT")]
    before = _rss()
    table = Table("t", columns, [0])
    if schema == "fk":
        table.add_index("t_fk", [1])
    for row in _rows(schema, n):  # made on the fly, so only storage stays
        table.insert(row)
    return _rss() - before


def measure_sqlite(schema: str, n: int) -> int:
    import sqlite3
    before = _rss()
    con = sqlite3.connect(":memory:")
    if schema == "fk":
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, fk INT, field TEXT, name TEXT)")
        con.execute("CREATE INDEX t_fk ON t (fk)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", _rows(schema, n))
    else:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        con.executemany("INSERT INTO t VALUES (?, ?)", _rows(schema, n))
    con.commit()
    return _rss() - before


def _child(engine: str, schema: str, n: int) -> int:
    out = subprocess.run([sys.executable, "-m", "bench.table_memory", "--child", engine,
                          "--schema", schema, "--rows", str(n)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["bytes"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--schema", choices=["fk", "name"], default=None)
    parser.add_argument("--child", choices=["alchemy", "sqlite"])
    args = parser.parse_args()
    if args.child:
        measure = measure_alchemy if args.child == "alchemy" else measure_sqlite
        print(json.dumps({"bytes": measure(args.schema, args.rows)}))
        return
    print(f"{'schema':8} {'rows':>10} {'alchemy B/row':>14} {'sqlite3 B/row':>14} {'ratio':>6}")
    for schema in [args.schema] if args.schema else ["fk", "name"]:
        ours = _child("alchemy", schema, args.rows) / args.rows
        peer = _child("sqlite", schema, args.rows) / args.rows
        print(f"{schema:8} {args.rows:>10} {ours:>14.1f} {peer:>14.1f} {ours / peer:>6.2f}")


if __name__ == "__main__":
    main()
