"""Random tables and random queries of the SQL subset: results must equal sqlite3's."""

import random
import sqlite3

import pytest

import alchemy

COLUMNS = {"id": "INT", "a": "INT", "b": "TEXT", "c": "FLOAT", "d": "INT"}
WORDS = ["ant", "bee", "Cat", "dog", "eel", "fox", "", "b%"]


def _value(rng: random.Random, column: str, columns: dict = COLUMNS):
    if column.split(".")[-1] != "id" and rng.random() < 0.15:
        return None
    kind = columns[column]
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


def _predicate(rng: random.Random, depth: int = 0, columns: dict = COLUMNS) -> str:
    roll = rng.random()
    if depth < 2 and roll < 0.3:
        joiner = rng.choice([" AND ", " OR "])
        return "(" + _predicate(rng, depth + 1, columns) + joiner + \
            _predicate(rng, depth + 1, columns) + ")"
    if depth < 2 and roll < 0.38:
        return "NOT (" + _predicate(rng, depth + 1, columns) + ")"
    column = rng.choice(list(columns))
    form = rng.random()
    if form < 0.1:
        return f"{column} IS {'NOT ' if rng.random() < 0.5 else ''}NULL"
    if form < 0.25:
        low, high = sorted([_value(rng, column, columns) or 0, _value(rng, column, columns) or 0],
                           key=lambda v: (isinstance(v, str), v))
        if type(low) is not type(high):
            low = high
        return f"{column} BETWEEN {_literal(low)} AND {_literal(high)}"
    if form < 0.4:
        values = ", ".join(_literal(_value(rng, column, columns))
                           for _ in range(rng.randrange(1, 4)))
        return f"{column} IN ({values})"
    if form < 0.5 and columns[column] == "TEXT":
        return f"{column} LIKE {_literal(rng.choice(['%', 'b%', '%e%', '_o_', 'C%', 'b!%']))}"
    op = rng.choice(["=", "!=", "<", "<=", ">", ">=", "<>"])
    return f"{column} {op} {_literal(_value(rng, column, columns))}"


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
        got = [list(row) for row in db.sql_engine.execute(keyspace, statement).rows]
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
    assert [list(row) for row in db.sql_engine.execute(keyspace, final).rows] == \
        [list(r) for r in peer.execute(final)]


# -- joins, aggregates, subqueries ------------------------------------------------------

TABLES = {
    "t": {"id": "INT", "a": "INT", "b": "TEXT", "c": "FLOAT", "d": "INT"},
    "u": {"id": "INT", "t_id": "INT", "e": "INT", "f": "TEXT"},
    "v": {"id": "INT", "u_id": "INT", "g": "INT"},
}


def _columns(*names: str) -> dict:
    return {f"{t}.{c}": kind for t in names for c, kind in TABLES[t].items()}


def _join_query(rng: random.Random) -> tuple[str, bool]:
    """A 2- or 3-table join, spelled with JOIN ... ON, LEFT JOIN or commas."""
    three = rng.random() < 0.4
    names = ["t", "u", "v"] if three else ["t", "u"]
    on_tu = rng.choice(["u.t_id = t.id", "u.t_id = t.id", "u.e = t.a", "u.f = t.b",
                        "u.e = t.c", "u.t_id = t.id AND u.e > t.d"])
    on_uv = rng.choice(["v.u_id = u.id", "v.g = u.e"])
    style = rng.choice(["join", "left", "comma"])
    where = _predicate(rng, 1, _columns(*names)) if rng.random() < 0.7 else ""
    if style == "comma":
        from_ = ", ".join(names)
        conditions = [on_tu] + ([on_uv] if three else []) + ([where] if where else [])
        tail = " WHERE " + " AND ".join(conditions)
    else:
        kind = "LEFT JOIN" if style == "left" else "JOIN"
        from_ = f"t {kind} u ON {on_tu}" + (f" {kind} v ON {on_uv}" if three else "")
        tail = f" WHERE {where}" if where else ""
    columns = rng.choice(["t.id, u.id", "t.b, u.f, u.e", "*", "t.a + u.e, u.id, t.id"])
    if three:
        columns += ", v.g"
    keys = ["t.id", "u.id"] + (["v.id"] if three else [])
    if rng.random() < 0.5:
        direction = rng.choice(["", " DESC"])
        order = " ORDER BY " + ", ".join(k + direction for k in keys)
        if rng.random() < 0.5:
            order += f" LIMIT {rng.randrange(0, 6)} OFFSET {rng.randrange(0, 3)}"
        return f"SELECT {columns} FROM {from_}{tail}{order}", True
    return f"SELECT {columns} FROM {from_}{tail}", False


def _aggregate_query(rng: random.Random) -> tuple[str, bool]:
    functions = ["COUNT(*)", "COUNT(a)", "COUNT(DISTINCT a)", "SUM(a)", "SUM(c)", "AVG(a)",
                 "AVG(c)", "MIN(b)", "MAX(b)", "MIN(c)", "MAX(a)", "SUM(DISTINCT d)",
                 "COUNT(DISTINCT b)", "SUM(a + d)"]
    chosen = rng.sample(functions, rng.randrange(1, 4))
    where = f" WHERE {_predicate(rng)}" if rng.random() < 0.5 else ""
    if rng.random() < 0.25:
        return f"SELECT {', '.join(chosen)} FROM t{where}", False
    group = rng.choice(["a", "b", "d", "a, b", "a % 3", "b, d"])
    having = ""
    if rng.random() < 0.4:
        having = f" HAVING {rng.choice(['COUNT(*) > 1', 'SUM(a) > 10', 'MIN(c) IS NULL'])}"
    statement = f"SELECT {group}, {', '.join(chosen)} FROM t{where} GROUP BY {group}{having}"
    if rng.random() < 0.5:
        return statement + f" ORDER BY {group.replace(',', ' DESC,')} DESC", True
    return statement, False


def _joined_aggregate_query(rng: random.Random) -> tuple[str, bool]:
    kind = rng.choice(["JOIN", "LEFT JOIN"])
    function = rng.choice(["COUNT(u.id)", "SUM(u.e)", "MAX(u.f)", "COUNT(*)", "AVG(u.e)"])
    return (f"SELECT t.a, {function} FROM t {kind} u ON u.t_id = t.id GROUP BY t.a "
            f"ORDER BY t.a", True)


def _subquery_query(rng: random.Random) -> tuple[str, bool]:
    inner_where = f" WHERE {_predicate(rng, 1, _columns('u'))}" if rng.random() < 0.6 else ""
    form = rng.random()
    if form < 0.6:
        negate = "NOT " if rng.random() < 0.4 else ""
        column, inner = rng.choice([("a", "u.e"), ("id", "u.t_id"), ("b", "u.f"),
                                    ("d", "u.e")])
        condition = f"{column} {negate}IN (SELECT {inner} FROM u{inner_where})"
    else:
        function = rng.choice(["MAX(u.e)", "MIN(u.e)", "COUNT(*)", "AVG(u.e)"])
        condition = f"a {rng.choice(['<', '=', '>='])} (SELECT {function} FROM u{inner_where})"
    return f"SELECT id, a, b FROM t WHERE {condition}", False


def _load(rng: random.Random, db, peer, seed: int) -> None:
    for name, columns in TABLES.items():
        schema = ", ".join(f"{c} {k}" for c, k in columns.items())
        db.execute("SQL", f"CREATE TABLE {name} ({schema}, PRIMARY KEY (id))")
        peer.execute(f"CREATE TABLE {name} ({schema.replace('id INT', 'id INTEGER', 1)}, "
                     f"PRIMARY KEY (id))")
        for i in rng.sample(range(1, 200), {"t": 60, "u": 90, "v": 70}[name]):
            row = [i] + [_value(rng, f"{name}.{c}", _columns(name))
                         for c in list(columns)[1:]]
            if name != "t" and row[1] is not None:
                row[1] = rng.choice(range(1, 200))  # a parent id, which may be missing
            values = ", ".join(map(_literal, row))
            db.execute("SQL", f"INSERT INTO {name} VALUES ({values})")
            peer.execute(f"INSERT INTO {name} VALUES ({values})")
    if seed % 2:
        db.execute("SQL", "CREATE INDEX u_t ON u (t_id)")
        db.execute("SQL", "CREATE INDEX v_u ON v (u_id)")
    if seed % 3 == 0:
        db.execute("SQL", "CREATE INDEX u_e ON u (e)")
        db.execute("SQL", "CREATE INDEX t_a ON t (a)")


@pytest.mark.parametrize("seed", range(6))
def test_joins_aggregates_subqueries_match_sqlite(seed):
    rng = random.Random(1000 + seed)
    db = alchemy.Database()
    peer = sqlite3.connect(":memory:")
    _load(rng, db, peer, seed)
    keyspace = db.dbs[0]
    makers = [_join_query] * 4 + [_aggregate_query] * 3 + [_joined_aggregate_query] + \
        [_subquery_query] * 2
    for _ in range(300):
        statement, ordered = rng.choice(makers)(rng)
        expected = [list(r) for r in peer.execute(statement).fetchall()]
        got = [list(row) for row in db.sql_engine.execute(keyspace, statement).rows]
        if not ordered:
            expected.sort(key=repr)
            got = sorted(got, key=repr)
        assert got == expected, statement
