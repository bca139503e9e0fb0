"""LUATABLE (JSON) document columns: CRUD, dot paths, field indexes, restarts, bad input."""

import csv
import json
import random

import pytest
import redis

import alchemy
from alchemy.sql.scanner import render
from conftest import ServerProcess


def sql(client, statement, *params):
    return client.execute_command("SQL", statement, *params)


@pytest.fixture
def users(r):
    sql(r, "CREATE TABLE users (id INT PRIMARY KEY, name TEXT, info LUATABLE)")
    sql(r, "INSERT INTO users VALUES (1, 'russ', {fname='RUSS', age=35, tags={'a','b'}, "
           "nest={x={y=1}}})")
    sql(r, """INSERT INTO users VALUES (2, 'jim', '{"fname":"JIM","age":25,"score":2.5}')""")
    sql(r, "INSERT INTO users VALUES (3, 'ann', {fname='ANN', age=41, active=true}), "
           "(4, 'nobody', NULL)")
    return r


def _documents(client, where="1 = 1"):
    rows = sql(client, f"SELECT id, info FROM users WHERE {where} ORDER BY id")[1:]
    return {i: None if doc is None else json.loads(doc) for i, doc in rows}


# -- CRUD ----------------------------------------------------------------------------------


def test_documents_round_trip_as_json_text(users):
    assert _documents(users) == {
        1: {"age": 35, "fname": "RUSS", "nest": {"x": {"y": 1}}, "tags": ["a", "b"]},
        2: {"fname": "JIM", "age": 25, "score": 2.5},
        3: {"active": True, "age": 41, "fname": "ANN"},
        4: None}
    assert sql(users, "SELECT info FROM users WHERE id = 2") == \
        [[b"info"], [b'{"fname":"JIM","age":25,"score":2.5}']]
    assert sql(users, "DELETE FROM users WHERE id = 2") == 1
    assert sorted(_documents(users)) == [1, 3, 4]


def test_resp3_gives_a_map(server, users):
    r3 = server.client(protocol=3)
    assert r3.execute_command("SQL", "SELECT info FROM users WHERE id = 1") == [
        [b"info"],
        [{b"age": 35, b"fname": b"RUSS", b"nest": {b"x": {b"y": 1}}, b"tags": [b"a", b"b"]}]]
    assert r3.execute_command("SQL", "SELECT info.tags, info.active FROM users WHERE id = 3"
                              ) == [[b"info.tags", b"info.active"], [None, 1]]


def test_in_process_api_gives_python_values(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc JSON)")
    db.sql("INSERT INTO t VALUES (?, ?)", 1, {"a": [1, 2, {"b": None}]})
    db.sql("INSERT INTO t VALUES (?, ?)", 2, "{x={1,2,3}, [10]='ten', y=1.5}")
    assert db.sql("SELECT doc FROM t ORDER BY id") == [
        ({"a": [1, 2, {"b": None}]},), ({"10": "ten", "x": [1, 2, 3], "y": 1.5},)]
    assert db.sql("SELECT doc.a.3.b, doc.a.2, doc.x.3 FROM t ORDER BY id") == \
        [(None, 2, None), (None, None, 3)]


def test_documents_bound_by_the_api_are_logged_as_json(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc JSON)")
    statement = render("INSERT INTO t VALUES (?, ?)", (1, {"it's": [1, "two"]}))
    db.sql(statement)
    assert db.sql("SELECT doc FROM t") == [({"it's": [1, "two"]},)]


def test_db_api_cursor_gives_python_values():
    con = alchemy.connect()
    cur = con.cursor()
    cur.execute("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    cur.execute("INSERT INTO t VALUES (1, {a={b=true}})")
    cur.execute("SELECT doc, doc.a FROM t")
    assert cur.fetchall() == [({"a": {"b": True}}, {"b": True})]


def test_documents_leave_tables_as_json(users, server):
    assert sql(users, "SELECT id, info FROM users WHERE id <= 2 STORE HSET h_docs") == 2
    assert json.loads(users.hget("h_docs", "2")) == {"fname": "JIM", "age": 25, "score": 2.5}
    assert users.execute_command("DUMP", "users", "TO", "FILE", "users.csv") == 4
    with open(f"{server.data_dir}/users.csv", newline="") as f:
        lines = list(csv.reader(f))
    assert json.loads(lines[3][2]) == {"active": True, "age": 41, "fname": "ANN"}
    assert sql(users, "SELECT id, info FROM users WHERE id = 1")[1][1] == \
        users.execute_command("DUMP", "users")[1][2]


def test_lua_tables_become_lists_or_maps(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    db.sql("INSERT INTO t VALUES (1, {}), (2, {1, nil, 3}), (3, {'a', x='}'}), "
           "(4, {[1.5]=true, s=[[long }]]}), (5, {n=-7, f=1e3})")
    assert [row[0] for row in db.sql("SELECT doc FROM t ORDER BY id")] == [
        {}, {"1": 1, "3": 3}, {"1": "a", "x": "}"}, {"1.5": True, "s": "long }"},
        {"f": 1000, "n": -7}]


def test_desc_shows_the_type(users):
    assert sql(users, "DESC users")[1:4] == [[b"id", b"INT", b"PRIMARY KEY"],
                                             [b"name", b"TEXT", b""],
                                             [b"info", b"LUATABLE", b""]]
    sql(users, "CREATE TABLE j (id INT PRIMARY KEY, doc JSON)")
    assert sql(users, "DESC j")[2] == [b"doc", b"LUATABLE", b""]


# -- dot notation ----------------------------------------------------------------------------


def test_paths_in_select_where_and_order_by(users):
    assert sql(users, "SELECT info.fname FROM users WHERE info.age > 30 ORDER BY info.age") \
        == [[b"info.fname"], [b"RUSS"], [b"ANN"]]
    assert sql(users, "SELECT id, info.nest.x.y, users.info.nest.x, info.missing.deep "
                      "FROM users WHERE id = 1") == \
        [[b"id", b"info.nest.x.y", b"users.info.nest.x", b"info.missing.deep"],
         [1, 1, b'{"y":1}', None]]
    assert sql(users, "SELECT id FROM users u WHERE u.info.fname LIKE '%u%' ORDER BY id") == \
        [[b"id"], [1]]
    assert sql(users, "SELECT id FROM users ORDER BY info.age DESC") == \
        [[b"id"], [3], [1], [2], [4]]
    assert sql(users, "SELECT id, info.age * 2 FROM users WHERE info.score = 2.5") == \
        [[b"id", b"info.age * 2"], [2, 50]]
    assert sql(users, "SELECT id FROM users WHERE info.fname.x IS NULL AND info IS NOT NULL "
                      "ORDER BY id") == [[b"id"], [1], [2], [3]]


def test_comparisons_follow_the_type_of_the_value_found(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    db.sql("INSERT INTO t VALUES (1, {v=10}), (2, {v='9'}), (3, {v=9.5}), (4, {v={1}})")
    # numbers compare as numbers and sort before text, as SQL orders mixed values
    assert db.sql("SELECT id FROM t WHERE doc.v < 10") == [(3,)]
    assert db.sql("SELECT id FROM t ORDER BY doc.v") == [(3,), (1,), (2,), (4,)]
    assert db.sql("SELECT id FROM t WHERE doc.v = '9'") == [(2,)]


# -- UPDATE ------------------------------------------------------------------------------------


def test_update_one_field_creating_maps_on_the_way(users):
    assert sql(users, "UPDATE users SET info.nest.x.y = 100 WHERE id = 4") == 1
    assert sql(users, "UPDATE users SET info.age = info.age + 1, info.new.k = {1, 2}, "
                      "info.tags = NULL WHERE id = 1") == 1
    docs = _documents(users)
    assert docs[4] == {"nest": {"x": {"y": 100}}}
    assert docs[1] == {"age": 36, "fname": "RUSS", "nest": {"x": {"y": 1}},
                       "new": {"k": [1, 2]}}
    sql(users, "UPDATE users SET info.tags.3 = 'c' WHERE id = 1")
    assert _documents(users, "id = 1")[1]["tags"] == {"3": "c"}


def test_on_duplicate_key_update_of_a_path(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    for _ in range(3):
        db.sql("INSERT INTO t VALUES (1, {n=1}) ON DUPLICATE KEY UPDATE doc.n = doc.n + 1")
    assert db.sql("SELECT doc FROM t") == [({"n": 3},)]


def test_update_replaces_the_whole_document(users):
    assert sql(users, "UPDATE users SET info = {fname='NEW'} WHERE id <= 2") == 2
    assert sql(users, """UPDATE users SET info = '["a", 1]' WHERE id = 3""") == 1
    docs = _documents(users)
    assert docs[1] == docs[2] == {"fname": "NEW"}
    assert docs[3] == ["a", 1]


def test_setting_a_path_into_a_non_table_writes_nothing(users):
    before = _documents(users)
    with pytest.raises(redis.ResponseError, match="info.fname is a string, not a table"):
        sql(users, "UPDATE users SET info.fname.x = 1 WHERE id IN (4, 1)")
    with pytest.raises(redis.ResponseError, match="not a table"):
        sql(users, "UPDATE users SET info.age.x = 1, name = 'changed'")
    assert _documents(users) == before
    assert sql(users, "SELECT COUNT(*) FROM users WHERE name = 'changed'") == \
        [[b"COUNT(*)"], [0]]


# -- indexes on fields -------------------------------------------------------------------------


def _plan(client, statement) -> str:
    return " | ".join(line[0].decode() for line in sql(client, "EXPLAIN " + statement)[1:])


def test_field_index_serves_equality_in_ranges_and_order(users):
    sql(users, "CREATE INDEX users_age ON users (info.age)")
    sql(users, "CREATE INDEX users_fname ON users (info.fname) TEXT")
    cases = {
        "SELECT id FROM users WHERE info.age = 25": ("INDEX users_age (info.age=?)", [[2]]),
        "SELECT id FROM users WHERE info.age > 30 ORDER BY info.age":
            ("INDEX users_age (info.age>?)", [[1], [3]]),
        "SELECT id FROM users WHERE info.age BETWEEN 20 AND 36 ORDER BY info.age DESC":
            ("INDEX users_age (info.age>=? AND info.age<=?) [range, backwards]", [[1], [2]]),
        "SELECT id FROM users WHERE info.fname IN ('ANN', 'JIM')":
            ("INDEX users_fname (info.fname=?) [2 equalities]", [[2], [3]]),
        "SELECT id FROM users ORDER BY info.age LIMIT 2":
            ("INDEX users_age [ordered scan]", [[4], [2]]),
    }
    for statement, (plan, rows) in cases.items():
        assert plan in _plan(users, statement), statement
        assert sorted(sql(users, statement)[1:]) == sorted(rows) if "ORDER" not in statement \
            else sql(users, statement)[1:] == rows, statement
    assert "ORDER BY satisfied by the access order" in \
        _plan(users, "SELECT id FROM users ORDER BY info.age")
    shown = sql(users, "SHOW INDEXES FROM users")[1:]
    assert [b"users_fname", b"users", b"info.fname TEXT", 0] in shown


def test_typed_index_holds_only_values_of_its_type(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    db.sql("INSERT INTO t VALUES (1, {n=5}), (2, {n='5'}), (3, {n=5.0}), (4, {n=5.5})")
    db.sql("CREATE INDEX t_n ON t (doc.n) INT")
    plan = db.sql("EXPLAIN SELECT id FROM t WHERE doc.n = 5", raw=True).rows[0][0]
    assert "INDEX t_n" in plan
    assert db.sql("SELECT id FROM t WHERE doc.n = 5") == [(1,), (3,)]
    # 5.5 is no INT: it is indexed as NULL, so an index range does not see it
    assert db.sql("SELECT id FROM t WHERE doc.n > 4") == [(1,), (3,)]
    # a value the INT index cannot compare with falls back to reading every row
    assert db.sql("SELECT id FROM t WHERE doc.n = '5'") == [(2,)]


def test_unique_field_index(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    db.sql("CREATE UNIQUE INDEX t_mail ON t (doc.mail)")
    db.sql("INSERT INTO t VALUES (1, {mail='a'}), (2, {}), (3, {})")
    with pytest.raises(Exception, match="unique index 't_mail'"):
        db.sql("INSERT INTO t VALUES (4, {mail='a'})")
    with pytest.raises(Exception, match="unique index 't_mail'"):
        db.sql("UPDATE t SET doc.mail = 'a' WHERE id = 2")
    assert db.sql("SELECT id FROM t WHERE doc.mail = 'a'") == [(1,)]


def _index_entries(db, table: str, index: str) -> list:
    tree = db.dbs[0].get(table.encode()).indexes[index].tree
    return [entry for entry, _ in tree.iterate(tree.first(), tree.end())]


def test_field_indexes_stay_consistent_under_random_writes(db):
    """Random INSERT / UPDATE of a field / UPDATE of the whole document / DELETE, checked
    against a dict after each step: through the index, and the index's entries directly."""
    rng = random.Random(7)
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    db.sql("CREATE INDEX t_v ON t (doc.a.v)")
    db.sql("CREATE INDEX t_vi ON t (doc.a.v) INT")
    model: dict = {}

    def random_value():
        return rng.choice([rng.randint(0, 9), f"s{rng.randint(0, 3)}", None])

    for step in range(300):
        op = rng.random()
        key = rng.randint(1, 40)
        value = random_value()
        literal = "NULL" if value is None else repr(value)
        if op < 0.35 and key not in model:
            db.sql(f"INSERT INTO t VALUES ({key}, {{a={{v={'nil' if value is None else literal}}}}})")
            model[key] = value
        elif op < 0.6:
            changed = db.sql(f"UPDATE t SET doc.a.v = {literal} WHERE id = {key}")
            if key in model:
                model[key] = value
            assert changed == (key in model)
        elif op < 0.8:
            db.sql(f"UPDATE t SET doc = ? WHERE id = {key}",
                   json.dumps({"a": {"v": value}} if value is not None else {"b": 1}))
            if key in model:
                model[key] = value
        else:
            db.sql(f"DELETE FROM t WHERE id = {key}")
            model.pop(key, None)
        probe = random_value()
        if probe is not None:
            expected = sorted(k for k, v in model.items() if v == probe)
            assert db.sql("SELECT id FROM t WHERE doc.a.v = ?", probe) == \
                [(k,) for k in expected], step
        ints = sorted((v, k) for k, v in model.items() if type(v) is int)
        assert db.sql("SELECT doc.a.v, id FROM t WHERE doc.a.v >= 0 AND doc.a.v < 10 "
                      "ORDER BY doc.a.v") == ints
        assert sorted(k for (_, k) in _index_entries(db, "t", "t_vi")) == sorted(model)
        assert len(_index_entries(db, "t", "t_v")) == len(model)
    assert "INDEX t_v" in db.sql("EXPLAIN SELECT id FROM t WHERE doc.a.v = 3", raw=True).rows[0][0]


def test_index_on_the_whole_document_or_many_fields_is_refused(users):
    with pytest.raises(redis.ResponseError, match="index a field of LUATABLE column 'info'"):
        sql(users, "CREATE INDEX bad ON users (info)")
    with pytest.raises(redis.ResponseError, match="INT, FLOAT or TEXT"):
        sql(users, "CREATE INDEX bad ON users (info.age) BLOB")
    with pytest.raises(redis.ResponseError, match="syntax"):
        sql(users, "CREATE INDEX bad ON users (info.age, name)")


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value, message", [
    ("{fname=}", "invalid Lua table"),
    ("{f=function() return 1 end}", "cannot hold a function"),
    ("{(function() while true do end end)()}", "too much work"),
    ("{x=os}", "cannot hold"),  # nil: the environment is empty, so x is just missing
    ("{x=print('hi')}", "attempt to call"),
    ("{x=0/0}", "NaN"),
    ("{[true]=1}", "keys must be strings or numbers"),
    ("'{\"a\": }'", "invalid JSON"),
    ("'42'", "a JSON object or array"),
    ("'not json'", "invalid JSON"),
    ("'[1e999]'", "NaN or infinity"),
    ("12", "not 12"),
])
def test_bad_documents_are_refused_and_nothing_is_written(users, value, message):
    if value == "{x=os}":  # an unknown global is nil: the table is simply empty
        sql(users, f"INSERT INTO users VALUES (9, 'x', {value})")
        assert _documents(users, "id = 9") == {9: {}}
        return
    before = _documents(users)
    with pytest.raises(redis.ResponseError, match=message.replace("(", r"\(")):
        sql(users, f"INSERT INTO users VALUES (9, 'x', {value})")
    with pytest.raises(redis.ResponseError, match=message.replace("(", r"\(")):
        sql(users, f"UPDATE users SET info = {value} WHERE id = 1")
    assert _documents(users) == before


def test_deep_nesting_and_unterminated_tables(users):
    with pytest.raises(redis.ResponseError, match="nested deeper"):
        sql(users, "INSERT INTO users VALUES (9, 'x', " + "{" * 70 + "}" * 70 + ")")
    with pytest.raises(redis.ResponseError, match="unterminated Lua table"):
        sql(users, "INSERT INTO users VALUES (9, 'x', {a={1})")
    with pytest.raises(redis.ResponseError, match="cannot be a primary key"):
        sql(users, "CREATE TABLE bad (doc LUATABLE PRIMARY KEY, id INT)")
    assert users.ping()


# -- restarts ----------------------------------------------------------------------------------


def _durable_server(tmp_path, appendonly: bool) -> ServerProcess:
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f"appendonly {'yes' if appendonly else 'no'}\n")
    return ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", "always")


def _fill(client):
    sql(client, "CREATE TABLE users (id INT PRIMARY KEY, info LUATABLE)")
    sql(client, "CREATE INDEX users_age ON users (info.age) INT")
    sql(client, "INSERT INTO users VALUES (1, {fname='RUSS', age=35}), (2, {age=20})")
    sql(client, "INSERT INTO users VALUES (?, ?)", 3, '{"fname": "Q", "age": 50}')
    sql(client, "UPDATE users SET info.nest.x = 'deep' WHERE id = 2")
    sql(client, "UPDATE users SET info = {age=60} WHERE id = 1")


def _check(client):
    assert sql(client, "SELECT id, info FROM users ORDER BY info.age") == [
        [b"id", b"info"], [2, b'{"age":20,"nest":{"x":"deep"}}'],
        [3, b'{"fname":"Q","age":50}'], [1, b'{"age":60}']]
    assert "INDEX users_age" in _plan(client, "SELECT id FROM users WHERE info.age > 30")
    assert sql(client, "SELECT id FROM users WHERE info.age > 30 ORDER BY id") == \
        [[b"id"], [1], [3]]


@pytest.mark.parametrize("appendonly", [True, False])
def test_documents_and_field_indexes_survive_a_restart(tmp_path, appendonly):
    server = _durable_server(tmp_path, appendonly).start()
    client = server.client()
    _fill(client)
    if appendonly:
        server.kill9()
    else:
        assert client.save()
        server.stop()
    server = _durable_server(tmp_path, appendonly).start()
    try:
        _check(server.client())
    finally:
        server.stop()


def test_paths_across_joins_and_groups(db):
    db.sql("CREATE TABLE users (id INT PRIMARY KEY, info LUATABLE)")
    db.sql("CREATE TABLE orders (id INT PRIMARY KEY, uid INT, total FLOAT)")
    db.sql("INSERT INTO users VALUES (1, {name='ann', age=30, addr={city='Oslo', geo={lat=1}}}),"
           " (2, {name='bob', age=40}), (3, {name='ann', age=50})")
    db.sql("INSERT INTO orders VALUES (10, 1, 5.5), (11, 2, 7.0), (12, 1, 1.0), (13, 3, 2.0)")
    assert db.sql("SELECT o.id, u.info.name, info.addr.city, u.info.addr.geo.lat FROM orders o "
                  "JOIN users u ON u.id = o.uid WHERE info.age > 20 "
                  "ORDER BY u.info.age DESC, o.id") == [
        (13, "ann", None, None), (11, "bob", None, None), (10, "ann", "Oslo", 1),
        (12, "ann", "Oslo", 1)]
    # Equalities on paths, which read like columns of a table named info (or u.info).
    assert db.sql("SELECT o.id FROM orders o JOIN users u ON u.id = o.uid "
                  "WHERE info.name = 'ann' AND info.addr.city = 'Oslo' ORDER BY o.id") == [
        (10,), (12,)]
    assert db.sql("SELECT o.id FROM orders o, users u WHERE u.info.age = o.uid * 20 "
                  "AND info.name = 'bob'") == [(11,)]
    assert db.sql("SELECT info.name, COUNT(*), SUM(o.total) FROM orders o JOIN users u "
                  "ON u.id = o.uid GROUP BY info.name ORDER BY info.name") == [
        ("ann", 3, 8.5), ("bob", 1, 7.0)]
    assert db.sql("SELECT info.name, MAX(info.age) FROM users GROUP BY info.name "
                  "ORDER BY info.name") == [("ann", 50), ("bob", 40)]
    assert db.sql("SELECT o.id FROM orders o LEFT JOIN users u ON u.id = o.uid "
                  "AND u.info.age > 35 WHERE info.name IS NULL ORDER BY o.id") == [(10,), (12,)]
    db.sql("CREATE INDEX users_age ON users (info.age)")
    statement = "SELECT o.id FROM users u JOIN orders o ON o.uid = u.id WHERE u.info.age = 40"
    assert "INDEX users_age" in db.sql("EXPLAIN " + statement)[0][0]
    assert db.sql(statement) == [(11,)]
    with pytest.raises(alchemy.AlchemyError, match="ambiguous column name: info"):
        db.sql("SELECT info.name FROM users a JOIN users b ON a.id = b.id")
    with pytest.raises(alchemy.AlchemyError, match="must appear in GROUP BY"):
        db.sql("SELECT info.age, COUNT(*) FROM users GROUP BY info.name")
