"""Instructions per SQL statement, in process, counted by valgrind's callgrind: a figure a
shared, noisy machine does not disturb, for comparing two versions of the engine.

    .venv/bin/python -m bench.sql_instructions [statement ...]

Each statement runs in a child under `valgrind --tool=callgrind` for N=1000 and N=3000
calls of `db.call(client, argv)` (argv as redis-benchmark sends it, the key a different
random number each call) followed by the RESP2 encoding of the reply, as the server does;
(refs(3000) - refs(1000)) / 2000 is the cost of one statement, loading and warm-up taken out.
`--child STATEMENT N` is what runs under valgrind.
"""

import random
import re
import subprocess
import sys

ROWS = 5000

STATEMENTS = {
    "point": ["SELECT", "*", "FROM", "t", "WHERE", "id=%012d"],
    "index10": ["SELECT", "*", "FROM", "t", "WHERE", "fk=%012d"],
    "join": ["SELECT", "u.name,", "t.name", "FROM", "u", "JOIN", "t", "ON", "t.fk", "=",
             "u.id", "WHERE", "u.id=%012d"],
    "update": ["UPDATE", "t", "SET", "fk=1", "WHERE", "id=%012d"],
}


def load(db) -> None:
    """bench/sql_joins.py's t and u: t.fk has 10 rows per value, u one row per fk value."""
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, fk INT, name TEXT)")
    db.sql("CREATE INDEX t_fk ON t (fk)")
    db.sql("CREATE TABLE u (id INT PRIMARY KEY, name TEXT, v INT)")
    for first in range(1, ROWS + 1, 1000):
        numbers = range(first, min(first + 1000, ROWS + 1))
        db.sql("INSERT INTO t VALUES " + ",".join(f"({i},{i // 10},'nm{i:08d}')"
                                                 for i in numbers))
    db.sql("INSERT INTO u VALUES " + ",".join(f"({k},'un{k:07d}',{k % 1000})"
                                             for k in range(ROWS // 10 + 1)))


def child(statement: str, count: int) -> None:
    import alchemy
    from alchemy.resp import write_reply

    db = alchemy.Database()
    load(db)
    client = db.new_client()
    words = STATEMENTS[statement]
    last = len(words) - 1
    top = ROWS if words[last].startswith("id") else ROWS // 10
    rng = random.Random(7)
    call = db.call
    for _ in range(count):
        argv = [w.encode() for w in words]
        argv[last] = (words[last] % rng.randint(1, top)).encode()
        out: list = []
        write_reply(out, call(client, argv), False)
        if out[0][:1] == b"-":
            raise SystemExit(b"".join(out).decode())


def refs(statement: str, count: int) -> int:
    run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, "-m", "bench.sql_instructions", "--child", statement,
                          str(count)], capture_output=True, text=True, check=True)
    return int(re.search(r"refs:\s+([\d,]+)", run.stderr).group(1).replace(",", ""))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
        return
    for statement in sys.argv[1:] or STATEMENTS:
        per = (refs(statement, 3000) - refs(statement, 1000)) / 2000
        print(f"{statement}: {per:,.0f} instructions per statement", flush=True)


if __name__ == "__main__":
    main()
