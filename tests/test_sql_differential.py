"""Random tables and random queries of the SQL subset: results must equal sqlite3's."""

import random
import sqlite3

import pytest

import alchemy

COLUMNS = {"id": "INT", "a": "INT", "b": "TEXT", "c": "FLOAT", "d": "INT"}
WORDS = ["ant", "bee", "Cat", "dog", "eel", "fox", "", "b%"]


def _value(rng: random.Random, column: str):
    if column != "id" and rng.random() < 0.15:
        return None
    kind = COLUMNS[column]
    if kind == "INT":
        return rng.randrange(-5, 20)
    if kind == "FLOAT":
        return rng.choice([-1.5, 0.0, 0.25, 2.0, 3.75, 10.0])
    return rng.choice(WORDS)


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _predicate(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 2 and roll < 0.3:
        joiner = rng.choice([" AND ", " OR "])
        return "(" + _predicate(rng, depth + 1) + joiner + _predicate(rng, depth + 1) + ")"
    if depth < 2 and roll < 0.38:
        return "NOT (" + _predicate(rng, depth + 1) + ")"
    column = rng.choice(list(COLUMNS))
    form = rng.random()
    if form < 0.1:
        return f"{column} IS {'NOT ' if rng.random() < 0.5 else ''}NULL"
    if form < 0.25:
        low, high = sorted([_value(rng, column) or 0, _value(rng, column) or 0],
                           key=lambda v: (isinstance(v, str), v))
        if type(low) is not type(high):
            low = high
        return f"{column} BETWEEN {_literal(low)} AND {_literal(high)}"
    if form < 0.4:
        values = ", ".join(_literal(_value(rng, column)) for _ in range(rng.randrange(1, 4)))
        return f"{column} IN ({values})"
    if form < 0.5 and COLUMNS[column] == "TEXT":
        return f"{column} LIKE {_literal(rng.choice(['%', 'b%', '%e%', '_o_', 'C%', 'b!%']))}"
    op = rng.choice(["=", "!=", "<", "<=", ">", ">=", "<>"])
    return f"{column} {op} {_literal(_value(rng, column))}"


def _query(rng: random.Random) -> tuple[str, bool]:
    columns = rng.choice(["*", "id, b", "a, c, d", "id, a + d, c * 2"])
    where = f" WHERE {_predicate(rng)}" if rng.random() < 0.9 else ""
    order, ordered = "", False
    if rng.random() < 0.6:
        key = rng.choice(["id", "a, id", "b DESC, id DESC", "c, d, id", "id DESC"])
        order, ordered = f" ORDER BY {key}", True
        if rng.random() < 0.5:
            order += f" LIMIT {rng.randrange(0, 8)}"
            if rng.random() < 0.5:
                order += f" OFFSET {rng.randrange(0, 5)}"
    if rng.random() < 0.1:
        return f"SELECT COUNT(*) FROM t{where}", True
    distinct = "DISTINCT " if rng.random() < 0.1 and not ordered else ""
    return f"SELECT {distinct}{columns} FROM t{where}{order}", ordered


@pytest.mark.parametrize("seed", range(6))
def test_random_queries_match_sqlite(seed):
    rng = random.Random(seed)
    db = alchemy.Database()
    peer = sqlite3.connect(":memory:")
    schema = "(id INT PRIMARY KEY, a INT, b TEXT, c FLOAT, d INT)"
    db.execute("SQL", f"CREATE TABLE t {schema}")
    peer.execute(f"CREATE TABLE t {schema.replace('id INT', 'id INTEGER')}")
    if seed % 2:
        db.execute("SQL", "CREATE INDEX t_a ON t (a)")
        db.execute("SQL", "CREATE INDEX t_bd ON t (b, d)")
    if seed % 3 == 0:
        db.execute("SQL", "CREATE INDEX t_c ON t (c)")
    ids = rng.sample(range(1, 500), 120)
    for i in ids:
        row = [i] + [_value(rng, c) for c in list(COLUMNS)[1:]]
        values = ", ".join(map(_literal, row))
        db.execute("SQL", f"INSERT INTO t VALUES ({values})")
        peer.execute(f"INSERT INTO t VALUES ({values})")
    keyspace = db.dbs[0]
    for _ in range(250):
        statement, ordered = _query(rng)
        expected = [list(r) for r in peer.execute(statement).fetchall()]
        got = db.sql_engine.execute(keyspace, statement).rows
        if not ordered:
            expected.sort(key=repr)
            got = sorted(got, key=repr)
        assert got == expected, statement
    # Writes too: the same UPDATE and DELETE leave the same tables.
    for _ in range(20):
        predicate = _predicate(rng)
        update = f"UPDATE t SET d = d + 1, c = c * 2 WHERE {predicate}"
        assert db.sql_engine.execute(keyspace, update).value == peer.execute(update).rowcount
        delete = f"DELETE FROM t WHERE {_predicate(rng)}"
        assert db.sql_engine.execute(keyspace, delete).value == peer.execute(delete).rowcount
    final = "SELECT * FROM t ORDER BY id"
    assert db.sql_engine.execute(keyspace, final).rows == [list(r) for r in peer.execute(final)]
