"""The in-process SQL API: db.sql() with ? placeholders, and the DB-API 2.0 module."""

import pytest

import alchemy
from alchemy import dbapi


@pytest.fixture
def con():
    con = alchemy.connect()
    con.execute("CREATE TABLE t (id INT PRIMARY KEY, name TEXT, score FLOAT, data BLOB)")
    return con


def test_db_sql_binds_values_without_parsing_them():
    db = alchemy.Database()
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
    hostile = "x'); DROP TABLE t; --"
    assert db.sql("INSERT INTO t VALUES (?, ?)", 1, hostile) == 1
    assert db.sql("SELECT name FROM t WHERE id = ?", 1) == [(hostile,)]
    assert db.sql("SELECT id FROM t WHERE name = ?", hostile) == [(1,)]
    assert db.sql("UPDATE t SET name = ? WHERE id = ?", "b", 1) == 1
    with pytest.raises(alchemy.AlchemyError, match="not enough parameters"):
        db.sql("SELECT * FROM t WHERE id = ?")
    with pytest.raises(alchemy.AlchemyError, match="more parameters"):
        db.sql("SELECT * FROM t WHERE id = ?", 1, 2)


def test_a_statement_run_before_follows_schema_changes():
    db = alchemy.Database()
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
    db.sql("INSERT INTO t VALUES (?, ?)", 1, "a")
    words = [b"SELECT", b"*", b"FROM", b"t", b"WHERE", b"id=1"]
    assert db.sql("SELECT * FROM t WHERE id = ?", 1) == [(1, "a")]
    assert db.execute(*words) == [[b"id", b"name"], [1, b"a"]]
    db.sql("ALTER TABLE t ADD COLUMN score FLOAT")
    assert db.sql("SELECT * FROM t WHERE id = ?", 1) == [(1, "a", None)]
    assert db.execute(*words) == [[b"id", b"name", b"score"], [1, b"a", None]]
    assert db.sql("SELECT * FROM t WHERE id = ?", 1, raw=True).header == \
        ["id", "name", "score"]
    assert db.sql("SELECT name FROM t WHERE id = ?", 1) == [("a",)]
    db.sql("DROP TABLE t")
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, n INT, name TEXT)")
    db.sql("INSERT INTO t VALUES (?, ?, ?)", 1, 7, "b")
    assert db.sql("SELECT name FROM t WHERE id = ?", 1) == [("b",)]
    assert db.execute(*words) == [[b"id", b"n", b"name"], [1, 7, b"b"]]


def test_cursor_like_sqlite3(con):
    cur = con.cursor()
    cur.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                    [(1, "a", 1.5, b"\x00\x01"), (2, "b", None, None), (3, "c", 2.0, b"z")])
    assert cur.rowcount == 3
    cur.execute("SELECT id, name, score, data FROM t WHERE id >= ? ORDER BY id", (2,))
    assert [d[0] for d in cur.description] == ["id", "name", "score", "data"]
    assert cur.fetchone() == (2, "b", None, None)
    assert cur.fetchall() == [(3, "c", 2.0, b"z")]
    assert cur.fetchone() is None
    cur.execute("SELECT name FROM t ORDER BY id")
    assert cur.fetchmany(2) == [("a",), ("b",)]
    assert [row for row in cur] == [("c",)]
    cur.execute("DELETE FROM t WHERE score IS NULL")
    assert cur.rowcount == 1 and cur.description is None
    con.commit()


def test_errors_map_to_pep249_classes(con):
    con.execute("INSERT INTO t VALUES (1, 'a', 1.0, NULL)")
    with pytest.raises(dbapi.IntegrityError):
        con.execute("INSERT INTO t VALUES (1, 'again', 1.0, NULL)")
    with pytest.raises(dbapi.ProgrammingError, match="no such table"):
        con.execute("SELECT * FROM nope")
    with pytest.raises(dbapi.DataError):
        con.execute("INSERT INTO t VALUES (?, 'x', 1.0, NULL)", ("not a number",))
    with pytest.raises(dbapi.NotSupportedError):
        con.rollback()
    assert dbapi.paramstyle == "qmark" and dbapi.apilevel == "2.0"


def test_parameters_over_resp(r):
    r.execute_command("SQL", "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
    r.execute_command("SQL", "INSERT INTO t VALUES (?, ?)", 5, "x'y")
    assert r.execute_command("SQL", "SELECT name FROM t WHERE id = ?", 5) == [[b"name"], [b"x'y"]]


def test_multi_row_insert_with_rows_of_different_shapes(db):
    db.sql("CREATE TABLE t (a INT PRIMARY KEY, b INT)")
    db.sql("INSERT INTO t VALUES (1, 2), (3,4), (5, NULL)")  # two rows alike, then another
    db.sql("INSERT INTO t VALUES (6, NULL), (7, null),\n (8, 9)")
    db.sql("INSERT INTO t VALUES (10, 1), (11, 1) ON DUPLICATE KEY UPDATE b = 5")
    db.sql("INSERT INTO t VALUES (10, 1), (12, 1) ON DUPLICATE KEY UPDATE b = 5")
    assert db.sql("SELECT * FROM t") == [(1, 2), (3, 4), (5, None), (6, None), (7, None),
                                         (8, 9), (10, 5), (11, 1), (12, 1)]


def test_nan_is_null_as_in_sqlite(db):
    db.sql("CREATE TABLE f (id INT PRIMARY KEY, x FLOAT)")
    db.sql("CREATE INDEX f_x ON f (x)")
    db.sql("INSERT INTO f VALUES (?, ?), (?, ?), (?, ?)", 1, float("nan"), 2, "nan", 3, 1.5)
    assert db.sql("SELECT id, x FROM f ORDER BY id") == [(1, None), (2, None), (3, 1.5)]
    assert db.sql("SELECT id FROM f WHERE x = ?", float("nan")) == []
    assert db.sql("SELECT id FROM f WHERE id > 0 AND x = ?", float("nan")) == []
    assert db.sql("SELECT id FROM f WHERE x > 1 ORDER BY x") == [(3,)]


def test_a_text_run_again_answers_for_its_new_values(db):
    """The same text with other parameters reuses its plan; a wrong count, literals among
    the placeholders and a changed schema still answer as the text does."""
    db.sql("CREATE TABLE p (id INT PRIMARY KEY, v TEXT)")
    for i in range(1, 4):
        assert db.sql("INSERT INTO p VALUES (?, ?)", i, f"v{i}") == 1
    for i in range(1, 4):
        assert db.sql("SELECT v FROM p WHERE id = ?", i) == [(f"v{i}",)]
    with pytest.raises(alchemy.AlchemyError, match="not enough parameters"):
        db.sql("SELECT v FROM p WHERE id = ?")
    with pytest.raises(alchemy.AlchemyError, match="more parameters"):
        db.sql("SELECT v FROM p WHERE id = ?", 1, 2)
    assert db.sql("SELECT v FROM p WHERE id = ? OR id = 3", 1) == [("v1",), ("v3",)]
    assert db.sql("SELECT v FROM p WHERE id = ? OR id = 3", 2) == [("v2",), ("v3",)]
    assert db.sql("SELECT COUNT(*) FROM p") == [(3,)]
    db.sql("DROP TABLE p")
    db.sql("CREATE TABLE p (v TEXT, id INT PRIMARY KEY)")
    db.sql("INSERT INTO p VALUES (?, ?)", "x", 1)
    assert db.sql("SELECT v FROM p WHERE id = ?", 1) == [("x",)]
    assert db.sql("SELECT COUNT(*) FROM p") == [(1,)]


def test_two_databases_keep_their_own_plans():
    first, second = alchemy.Database(), alchemy.Database()
    first.sql("CREATE TABLE s (id INT PRIMARY KEY, v TEXT)")
    second.sql("CREATE TABLE s (v TEXT, id INT PRIMARY KEY)")
    first.sql("INSERT INTO s VALUES (?, ?)", 1, "one")
    second.sql("INSERT INTO s VALUES (?, ?)", "uno", 1)
    assert first.sql("SELECT v FROM s WHERE id = ?", 1) == [("one",)]
    assert second.sql("SELECT v FROM s WHERE id = ?", 1) == [("uno",)]


def test_a_key_found_by_an_equal_value_of_another_type_shows_as_stored(db):
    """13.0 finds the row of 13 and 2 the row of 2.0, as in SQLite; the row shows its key
    as stored, whichever way the statement reaches it."""
    db.sql("CREATE TABLE ti (id INT PRIMARY KEY, name TEXT)")
    db.sql("CREATE TABLE tf (x FLOAT PRIMARY KEY, name TEXT)")
    db.sql("INSERT INTO ti VALUES (13, 'a')")
    db.sql("INSERT INTO tf VALUES (2.5, 'b'), (2.0, 'c')")
    assert db.sql("SELECT * FROM ti WHERE id = 1.3e1") == [(13, "a")]
    assert db.sql("SELECT id FROM ti WHERE id IN (13.0, 14)") == [(13,)]
    assert db.sql("SELECT * FROM ti WHERE id = ?", 13.0) == [(13, "a")]
    assert db.sql("SELECT * FROM ti WHERE id = 13.5") == []
    assert db.sql("SELECT * FROM tf WHERE x = 2") == [(2.0, "c")]
    assert type(db.sql("SELECT x FROM tf WHERE x = 2")[0][0]) is float
    assert db.execute("SELECT", "*", "FROM", "ti", "WHERE", "id=13.0") == [[b"id", b"name"],
                                                                           [13, b"a"]]


def test_a_row_of_parameters_is_coerced_numbered_and_refused_as_written_out(db):
    db.sql("CREATE TABLE b (id INT PRIMARY KEY, n INT, f FLOAT, s TEXT, d BLOB, ok BOOL)")
    insert = "INSERT INTO b VALUES (?, ?, ?, ?, ?, ?)"
    assert db.sql(insert, 1, "42", 3, 7, "x", True) == 1
    assert db.sql(insert, None, None, float("nan"), None, None, None) == 1  # numbered 2
    assert db.sql(insert, 2.0 + 8, 2**63 - 1, -0.5, "é" * 70, b"\xff", 0) == 1
    assert db.sql("INSERT INTO b (s, s, n) VALUES (?, ?, ?)", "a", "last", 5) == 1  # 11
    assert db.sql("SELECT * FROM b") == [
        (1, 42, 3.0, "7", b"x", 1), (2, None, None, None, None, None),
        (10, 2**63 - 1, -0.5, "é" * 70, b"\xff", 0), (11, 5, None, "last", None, None)]
    for values, error in [((3, 2**63, 0, "", b"", 0), "overflow"),
                          ((3, 2.5, 0, "", b"", 0), "type mismatch"),
                          ((3, 1, "x", "", b"", 0), "type mismatch"),
                          ((1, 1, 0, "", b"", 0), "duplicate primary key")]:
        with pytest.raises(alchemy.AlchemyError, match=error):
            db.sql(insert, *values)
    assert db.sql("SELECT COUNT(*) FROM b") == [(4,)]
    db.sql("CREATE TABLE k (name TEXT PRIMARY KEY, n INT)")  # not numbered
    with pytest.raises(alchemy.AlchemyError, match="NULL primary key"):
        db.sql("INSERT INTO k VALUES (?, ?)", None, 1)


def test_point_select_star_gives_plain_values(db):
    """A point SELECT * of integers, texts and BLOBs is read in fewer steps in process;
    its rows must be what the general way gives (texts as str, NULL as None)."""
    db.sql("CREATE TABLE p (id INT PRIMARY KEY, n INT, a TEXT, b BLOB)")
    db.sql("INSERT INTO p VALUES (?, ?, ?, ?)", 1, -7, "é", b"\x00")
    db.sql("INSERT INTO p VALUES (?, ?, ?, ?)", 2, None, "x" * 300, b"")
    query = "SELECT * FROM p WHERE id = ?"
    assert db.sql(query, 1) == [(1, -7, "é", b"\x00")]
    assert db.sql(query, 2) == [(2, None, "x" * 300, b"")]
    assert db.sql(query, 3) == []
    assert db.sql(query, 1.0) == [(1, -7, "é", b"\x00")]  # another type: the general way
    assert db.sql(query, 1, raw=True).header == ["id", "n", "a", "b"]


@pytest.mark.parametrize("statement, error", [
    ("DELETE t WHERE id > 1", "a table name is missing"),  # no FROM
    ("SELECT FROM t", "SELECT names no column"),
    ("SELECT FROM t, u WHERE t.id = u.id", "SELECT names no column"),
    ("INSERT INTO u SELECT FROM t", "SELECT names no column"),
    ("SELECT * FROM t LIMIT id", "LIMIT must be an integer"),
    ("SELECT * FROM t LIMIT 1 OFFSET doc.n", "OFFSET must be an integer"),
    ("SELECT t.id FROM t JOIN u ON t.id = u.id LIMIT u.id", "LIMIT must be an integer"),
    ("SELECT * FROM t WHERE id IN 3", "IN takes a list or a sub-select"),
    ("ALTER TABLE t ADD COLUMN c LIKE TEXT", "column 'c' needs a type"),
    ("INSERT INTO t VALUES (2, {a='\\255'})", "a string in it is not UTF-8 text"),
    ("UPDATE t SET doc = {a=1, \xe9 b=2} WHERE id = 1", "a string in it is not UTF-8 text"),
])
def test_statements_missing_a_part_are_refused_by_name(db, statement, error):
    """Statements sqlglot reads without a part they need (a table, a column, a number)
    get an error that says so, and change nothing."""
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LUATABLE)")
    db.sql("CREATE TABLE u (id INT PRIMARY KEY)")
    db.sql("INSERT INTO t VALUES (1, {n=1})")
    with pytest.raises(alchemy.AlchemyError, match=error):
        db.sql(statement)
    assert db.sql("SELECT id FROM t") == [(1,)]
    assert db.sql("SELECT * FROM t LIMIT 1 + 1 OFFSET 0") == [(1, {"n": 1})]


def test_an_empty_in_list_finds_nothing_and_explains_so(db):
    db.sql("CREATE TABLE e (id INT PRIMARY KEY, fk INT)")
    db.sql("CREATE INDEX e_fk ON e (fk)")
    db.sql("INSERT INTO e VALUES (1, 1)")
    assert db.sql("SELECT * FROM e WHERE fk IN ()") == []
    assert db.sql("EXPLAIN SELECT * FROM e WHERE fk IN ()")[0] == ("NO ROWS (an empty IN list)",)


def test_point_select_of_columns_gives_what_a_range_gives(db):
    """A point SELECT of columns as they are is read in fewer steps in process; its rows
    and header must be what the general way gives, for every kind of column."""
    db.sql("CREATE TABLE w (id INT PRIMARY KEY, i INT, f FLOAT, s TEXT, b BLOB, o BOOL)")
    db.sql("INSERT INTO w VALUES (?, ?, ?, ?, ?, ?)", 1, -5, 1.5, "é" * 40, b"\x00", True)
    db.sql("INSERT INTO w VALUES (?, ?, ?, ?, ?, ?)", 2, None, None, "x" * 300, None, None)
    db.sql("ALTER TABLE w ADD COLUMN late TEXT")
    for columns in ["s", "f, i", "late, id", "o AS flag, b", "i, i"]:
        for key in (1, 2, 3):
            point = db.sql(f"SELECT {columns} FROM w WHERE id = ?", key, raw=True)
            walk = db.sql(f"SELECT {columns} FROM w WHERE id >= ? AND id <= ?", key, key,
                          raw=True)
            assert point.header == walk.header
            assert db.sql(f"SELECT {columns} FROM w WHERE id = ?", key) == \
                [tuple(row) for row in walk.rows]
    assert db.sql("SELECT o AS flag, s FROM w WHERE id = ?", 1) == [(1, "é" * 40)]


def test_delete_by_key_keeps_indexes_and_refuses_other_types_quietly(db):
    """DELETE ... WHERE key = value takes the row out without reading it first: its index
    entries go with it, and a value of another type deletes nothing."""
    db.sql("CREATE TABLE k (id INT PRIMARY KEY, fk INT, doc LUATABLE)")
    db.sql("CREATE INDEX k_fk ON k (fk)")
    db.sql("CREATE INDEX k_age ON k (doc.age) INT")
    db.sql("INSERT INTO k VALUES (1, 7, {age=3}), (2, 7, {age=3}), (13, 8, {age=4})")
    assert db.sql("DELETE FROM k WHERE id = ?", 1) == 1
    assert db.sql("DELETE FROM k WHERE id = ?", 1) == 0
    assert db.sql("DELETE FROM k WHERE id = ?", "abc") == 0
    assert db.sql("DELETE FROM k WHERE id = ?", None) == 0
    assert db.sql("DELETE FROM k WHERE id = 13.0") == 1
    assert db.sql("SELECT id FROM k WHERE fk = 7") == [(2,)]
    assert db.sql("SELECT id FROM k WHERE doc.age = 3") == [(2,)]
    assert db.sql("SELECT id FROM k WHERE fk = 8") == []
    assert db.sql("SELECT id FROM k WHERE doc.age = 4") == []
