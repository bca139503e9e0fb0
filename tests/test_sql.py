"""SQL through redis-py, redis-cli and the in-process API."""

import pytest
import redis

import alchemy


@pytest.fixture
def users(r):
    r.execute_command("CREATE TABLE users (id INT PRIMARY KEY, name TEXT, age INT, score FLOAT)")
    r.execute_command("INSERT INTO users VALUES (1,'ann',30,1.5),(2,'bob',25,NULL),"
                      "(3,'cy',35,2.0),(4,'dee',NULL,0.5)")
    return r


def sql(r, statement):
    return r.execute_command("SQL", statement)


def test_select_star_point_lookup(users):
    # redis-py turns a SELECT reply into True/False (it expects SELECT db): undo that.
    users.set_response_callback("SELECT", lambda response, **options: response)
    assert users.execute_command("SELECT", "*", "FROM", "users", "WHERE", "id = 2") == \
        [[b"id", b"name", b"age", b"score"], [2, b"bob", 25, None]]


def test_where_order_limit_offset(users):
    assert sql(users, "SELECT name FROM users WHERE age >= 25 ORDER BY age DESC") == \
        [[b"name"], [b"cy"], [b"ann"], [b"bob"]]
    assert sql(users, "SELECT id FROM users ORDER BY id DESC LIMIT 2 OFFSET 1") == \
        [[b"id"], [3], [2]]
    assert sql(users, "SELECT id, name AS who FROM users WHERE name LIKE 'B%' OR age IS NULL") \
        == [[b"id", b"who"], [2, b"bob"], [4, b"dee"]]
    assert sql(users, "SELECT COUNT(*) FROM users WHERE age BETWEEN 20 AND 31") == \
        [[b"COUNT(*)"], [2]]
    assert sql(users, "SELECT COUNT(*) FROM users") == [[b"COUNT(*)"], [4]]
    assert sql(users, "SELECT id FROM users WHERE id IN (4, 2, 9) ORDER BY id") == \
        [[b"id"], [2], [4]]


def test_null_semantics(users):
    assert sql(users, "SELECT id FROM users WHERE age = NULL") == [[b"id"]]
    assert sql(users, "SELECT id FROM users WHERE age <> 30 ORDER BY id") == \
        [[b"id"], [2], [3]]
    assert sql(users, "SELECT id FROM users WHERE NOT (age > 26) ORDER BY id") == [[b"id"], [2]]
    assert sql(users, "SELECT age + 1 FROM users WHERE id = 4") == [[b"age + 1"], [None]]


def test_distinct_and_expressions(users):
    sql(users, "INSERT INTO users VALUES (5,'eve',30,1.5)")
    assert sql(users, "SELECT DISTINCT age FROM users WHERE age = 30") == [[b"age"], [30]]
    assert sql(users, "SELECT id * 10 + 1, name || '!' FROM users WHERE id = 1") == \
        [[b"id * 10 + 1", b"name || '!'"], [11, b"ann!"]]


def test_resp3_floats_are_doubles(server, users):
    r3 = server.client(protocol=3)
    assert r3.execute_command("SQL", "SELECT score FROM users WHERE id = 1") == \
        [[b"score"], [1.5]]
    assert users.execute_command("SQL", "SELECT score FROM users WHERE id = 1") == \
        [[b"score"], [b"1.5"]]


def test_rows_on_the_wire_in_both_protocols(server, users):
    """Each kind of value a row holds, as RESP2 and RESP3 clients read it, alone and inside
    the array EXEC replies."""
    long_name = "x" * 5000 + "\u00e9"
    sql(users, f"INSERT INTO users VALUES (7,'{long_name}',-2000,-0.25)")
    statement = "SELECT id, name, age, score FROM users WHERE id IN (2, 7) ORDER BY id"
    encoded_name = long_name.encode()
    assert sql(users, statement) == [[b"id", b"name", b"age", b"score"],
                                     [2, b"bob", 25, None], [7, encoded_name, -2000, b"-0.25"]]
    r3 = server.client(protocol=3)
    assert r3.execute_command("SQL", statement)[1:] == [[2, b"bob", 25, None],
                                                        [7, encoded_name, -2000, -0.25]]
    pipe = users.pipeline(transaction=True)
    pipe.execute_command("SQL", "SELECT name FROM users WHERE id = 1")
    pipe.execute_command("SQL", "SELECT name FROM users WHERE id = 99")
    assert pipe.execute() == [[[b"name"], [b"ann"]], [[b"name"]]]


def test_update_and_delete_count_rows(users):
    assert sql(users, "UPDATE users SET age = age + 1 WHERE age >= 30") == 2
    assert sql(users, "SELECT age FROM users WHERE id = 3") == [[b"age"], [36]]
    assert sql(users, "UPDATE users SET id = 10 WHERE id = 1") == 1
    assert sql(users, "SELECT id, name FROM users WHERE id = 10") == [[b"id", b"name"], [10, b"ann"]]
    assert sql(users, "SELECT id FROM users WHERE id = 1") == [[b"id"]]
    assert sql(users, "DELETE FROM users WHERE age IS NULL") == 1
    assert sql(users, "DELETE FROM users WHERE id > 100") == 0
    assert sql(users, "SELECT COUNT(*) FROM users") == [[b"COUNT(*)"], [3]]


def test_indexes_are_used_and_kept_consistent(users):
    sql(users, "CREATE INDEX users_age ON users (age)")
    plan = sql(users, "EXPLAIN SELECT * FROM users WHERE age BETWEEN 20 AND 31")
    assert b"INDEX users_age" in plan[1][0] and b"range" in plan[1][0]
    assert b"PRIMARY KEY" in sql(users, "EXPLAIN SELECT * FROM users WHERE id = 3")[1][0]
    assert b"full scan" in sql(users, "EXPLAIN SELECT * FROM users WHERE name = 'x'")[1][0]
    sql(users, "UPDATE users SET age = 99 WHERE id = 2")
    sql(users, "DELETE FROM users WHERE id = 1")
    sql(users, "INSERT INTO users VALUES (7,'gus',99,NULL)")
    assert sql(users, "SELECT id FROM users WHERE age = 99 ORDER BY id") == [[b"id"], [2], [7]]
    assert sql(users, "SELECT id FROM users WHERE age BETWEEN 20 AND 31") == [[b"id"]]
    rows = sql(users, "SHOW INDEXES FROM users")
    assert rows[1] == [b"users_age", b"users", b"age", 0]


def test_order_by_index_with_limit_stops_early(users):
    sql(users, "CREATE INDEX users_age ON users (age)")
    plan = sql(users, "EXPLAIN SELECT id FROM users ORDER BY age DESC LIMIT 1")
    assert b"INDEX users_age" in plan[1][0] and b"backwards" in plan[1][0]
    assert sql(users, "SELECT id FROM users ORDER BY age DESC LIMIT 1") == [[b"id"], [3]]


def test_unique_index_and_duplicate_key_write_nothing(users):
    sql(users, "CREATE UNIQUE INDEX users_name ON users (name)")
    with pytest.raises(redis.ResponseError, match="users_name"):
        sql(users, "INSERT INTO users VALUES (8,'ann',1,NULL)")
    with pytest.raises(redis.ResponseError, match="duplicate primary key"):
        sql(users, "INSERT INTO users VALUES (9,'new',1,NULL),(1,'again',1,NULL)")
    assert sql(users, "SELECT COUNT(*) FROM users") == [[b"COUNT(*)"], [4]]
    assert sql(users, "SELECT id FROM users WHERE id = 9") == [[b"id"]]
    with pytest.raises(redis.ResponseError, match="users_name"):
        sql(users, "UPDATE users SET name = 'bob' WHERE id > 2")
    assert sql(users, "SELECT name FROM users ORDER BY id") == \
        [[b"name"], [b"ann"], [b"bob"], [b"cy"], [b"dee"]]


def test_auto_increment(r):
    sql(r, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
    assert r.execute_command("INSERT", "INTO", "t", "VALUES", "(,'a')") == b"OK"
    sql(r, "INSERT INTO t (v) VALUES ('b')")
    sql(r, "INSERT INTO t VALUES (10,'c'),(,'d')")
    assert sql(r, "SELECT * FROM t") == [[b"id", b"v"], [1, b"a"], [2, b"b"], [10, b"c"], [11, b"d"]]


def test_replace_and_on_duplicate_key_update(r):
    sql(r, "CREATE TABLE c (k TEXT PRIMARY KEY, n INT)")
    sql(r, "INSERT INTO c VALUES ('a', 1)")
    sql(r, "INSERT INTO c VALUES ('a', 1) ON DUPLICATE KEY UPDATE n = n + 1")
    sql(r, "INSERT INTO c VALUES ('b', 5) ON DUPLICATE KEY UPDATE n = n + 1")
    assert sql(r, "SELECT * FROM c") == [[b"k", b"n"], [b"a", 2], [b"b", 5]]
    sql(r, "REPLACE INTO c VALUES ('a', 42)")
    assert sql(r, "SELECT n FROM c WHERE k = 'a'") == [[b"n"], [42]]
    # Over a unique index: the row's own value is no conflict, another row's is, and a
    # failing row takes back the rows before it in the statement.
    sql(r, "CREATE UNIQUE INDEX c_n ON c (n)")
    sql(r, "REPLACE INTO c VALUES ('a', 42), ('b', 6)")
    with pytest.raises(redis.ResponseError, match="unique index 'c_n'"):
        sql(r, "REPLACE INTO c VALUES ('b', 7), ('a', 7)")
    assert sql(r, "SELECT * FROM c") == [[b"k", b"n"], [b"a", 42], [b"b", 6]]
    assert sql(r, "SELECT k FROM c WHERE n = 6") == [[b"k"], [b"b"]]
    assert sql(r, "SELECT k FROM c WHERE n = 7") == [[b"k"]]


def test_alter_add_column_and_desc(r):
    sql(r, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
    sql(r, "INSERT INTO t VALUES (1, 'x')")
    sql(r, "ALTER TABLE t ADD COLUMN w FLOAT")
    assert sql(r, "SELECT * FROM t") == [[b"id", b"v", b"w"], [1, b"x", None]]
    desc = r.execute_command("DESC", "t")
    assert desc[1] == [b"id", b"INT", b"PRIMARY KEY"] and desc[3] == [b"w", b"FLOAT", b""]
    assert [b"rows", b"1"] == desc[-2][:2]


def test_tables_and_redis_keys_do_not_collide(r):
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match="already a Redis key of type string"):
        sql(r, "CREATE TABLE k (id INT)")
    sql(r, "CREATE TABLE t (id INT)")
    with pytest.raises(redis.ResponseError, match="is a SQL table"):
        r.set("t", "x")
    with pytest.raises(redis.ResponseError, match="already exists"):
        sql(r, "CREATE TABLE t (id INT)")
    assert sql(r, "CREATE TABLE IF NOT EXISTS t (id INT)") == b"OK"
    assert r.type("t") == b"table"
    sql(r, "DROP TABLE t")
    assert r.exists("t") == 0
    assert sql(r, "DROP TABLE IF EXISTS t") == b"OK"
    assert r.select(0) is True  # SELECT with one argument is still Redis's


@pytest.mark.parametrize("statement, message", [
    ("SELECT * FROM nope", "no such table 'nope'"),
    ("SELECT nope FROM users", "no such column: nope"),
    ("SELECT * FORM users", "syntax error"),
    ("INSERT INTO users VALUES ('abc','x',1,1.0)", "type mismatch: 'abc' is not INT"),
    ("INSERT INTO users VALUES (1,'x')", "has 4 columns but 2 values"),
    ("INSERT INTO users VALUES (99999999999999999999,'x',1,1.0)", "overflow"),
    ("UPDATE users SET age = 9223372036854775807 + 1 WHERE id = 1", "integer overflow"),
    ("CREATE TABLE bad (id WIBBLE)", "unsupported type"),
])
def test_errors_name_the_problem(users, statement, message):
    with pytest.raises(redis.ResponseError, match=message):
        sql(users, statement)
    assert sql(users, "SELECT COUNT(*) FROM users") == [[b"COUNT(*)"], [4]]


def test_redis_cli_word_splitting(server, r):
    assert server.cli("CREATE", "TABLE", "t", "(id INT PRIMARY KEY, name TEXT)").strip() == "OK"
    assert server.cli("INSERT", "INTO", "t", "VALUES", "(1,'abc')").strip() == "OK"
    out = server.cli("SELECT", "*", "FROM", "t", "WHERE", "id = 1").split()
    assert out == ["id", "name", "1", "abc"]
    out = server.cli("SELECT", "name", "FROM", "t", "WHERE", "id BETWEEN 0 AND 5").split()
    assert out == ["name", "abc"]
    assert server.cli("SCAN", "id", "FROM", "t").split() == ["id", "1"]


def test_plan_cache_reuses_shapes():
    db = alchemy.Database()
    db.execute("SQL", "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
    for i in range(50):
        db.execute("SQL", f"INSERT INTO t VALUES ({i}, {i * 2})")
        db.execute("SQL", f"SELECT v FROM t WHERE id = {i}")
    assert db.sql_engine.misses == 2 and db.sql_engine.hits == 98
    assert db.execute("SQL", "SELECT v FROM t WHERE id = 7") == [[b"v"], [14]]


def test_text_output_mode_is_per_connection(server, users):
    other = server.client()
    assert users.config_set("sql-output-mode", "text")
    assert users.config_get("sql-output-mode") == {"sql-output-mode": "text"}
    assert sql(users, "SELECT id, name, age, score FROM users WHERE id IN (1, 2)") == \
        [b"id, name, age, score", b"1,'ann',30,1.5", b"2,'bob',25,"]
    assert sql(other, "SELECT id FROM users WHERE id = 1") == [[b"id"], [1]]
    assert other.config_get("sql-output-mode") == {"sql-output-mode": "resp"}
    with pytest.raises(redis.ResponseError, match="sql-output-mode"):
        users.config_set("sql-output-mode", "xml")
    users.config_set("sql-output-mode", "resp")
    assert sql(users, "SELECT id FROM users WHERE id = 1") == [[b"id"], [1]]


def test_offset_by_rank_and_in_on_an_index(r):
    sql(r, "CREATE TABLE big (id INT PRIMARY KEY, grp INT)")
    sql(r, "CREATE INDEX big_grp ON big (grp)")
    values = ",".join(f"({i},{i % 7})" for i in range(1, 2001))
    sql(r, f"INSERT INTO big VALUES {values}")
    assert sql(r, "SELECT id FROM big LIMIT 3 OFFSET 1500") == [[b"id"], [1501], [1502], [1503]]
    assert sql(r, "SELECT id FROM big ORDER BY id DESC LIMIT 2 OFFSET 10") == \
        [[b"id"], [1990], [1989]]
    # grp 0 holds 285 rows (7, 14, ... 1995): rank 286 is the second row of grp 1.
    assert sql(r, "SELECT id FROM big ORDER BY grp, id LIMIT 2 OFFSET 286") == \
        [[b"id"], [8], [15]]
    plan = sql(r, "EXPLAIN SELECT id FROM big LIMIT 3 OFFSET 1500")
    assert [b"OFFSET skips rows by rank, without reading them"] in plan
    assert sql(r, "SELECT id FROM big LIMIT 5 OFFSET 5000") == [[b"id"]]
    plan = sql(r, "EXPLAIN SELECT id FROM big WHERE grp IN (3, 5)")
    assert b"INDEX big_grp" in plan[1][0] and b"2 equalities" in plan[1][0]
    got = sql(r, "SELECT id FROM big WHERE grp IN (3, 5, 3)")[1:]
    assert sorted(row[0] for row in got) == [i for i in range(1, 2001) if i % 7 in (3, 5)]


def test_words_lifted_apart_give_the_whole_statement(users):
    """Statements as words (the last lifted alone when the others are known) answer as the
    same text sent whole, however values and strings fall across the words."""
    users.set_response_callback("SELECT", lambda response, **options: response)
    cases = [
        ["SELECT", "name", "FROM", "users", "WHERE", "id=000000000002"],
        ["SELECT", "name", "FROM", "users", "WHERE", "id=3"],
        ["SELECT", "name", "FROM", "users", "WHERE", "id=2.0"],
        ["SELECT", "id", "FROM", "users", "WHERE", "name=", "'ann'"],
        ["SELECT", "id", "FROM", "users", "WHERE", "name='bob'", "OR", "id=3"],
        ["SELECT", "id", "FROM", "users", "WHERE", "name='b", "o'"],  # a string across words
        ["SELECT", "id", "FROM", "users", "WHERE", "name", "=", "'it''s'"],
        ["SELECT", "id", "FROM", "users", "WHERE", "score>1", "ORDER", "BY", "id"],
    ]
    for words in cases:
        assert users.execute_command(*words) == sql(users, " ".join(words)), words
    assert users.execute_command("UPDATE", "users", "SET", "age=age+1", "WHERE", "id=1") == 1
    assert users.execute_command("UPDATE", "users", "SET", "name='x y'", "WHERE",
                                 "id=4") == 1
    assert users.execute_command("DELETE", "FROM", "users", "WHERE", "id=3") == 1
    assert users.execute_command("SELECT", "id", "FROM", "users", "WHERE", "age>0",
                                 "STORE", "RPUSH", "ids") == 2
    assert users.lrange("ids", 0, -1) == [b"1", b"2"]
    assert sql(users, "SELECT id, name, age FROM users ORDER BY id") == \
        [[b"id", b"name", b"age"], [1, b"ann", 31], [2, b"bob", 25], [4, b"x y", None]]


def test_repeated_words_keep_answering_as_the_whole_statement(server, r):
    """Words that come again with other values (what redis-benchmark sends) reuse the
    statement's plan; the answers stay those of the text sent whole, across INSERT and
    REPLACE rows, names ending in digits, a schema change and another database."""
    r.set_response_callback("SELECT", lambda response, **options: response)
    sql(r, "CREATE TABLE t1 (id INT PRIMARY KEY, v TEXT, n INT)")
    for i in (5, 6):
        assert r.execute_command("INSERT", "INTO", "t1", "VALUES", f"({i},'v{i}',-{i})") == b"OK"
    assert r.execute_command("INSERT", "INTO", "t1", "VALUES", "(7,'a',7),", "(8,'b',8)") == b"OK"
    assert r.execute_command("REPLACE", "INTO", "t1", "VALUES", "(6,'new',60)") == b"OK"
    for i in (5, 6, 7, 8, 9):
        words = ["SELECT", "v,n", "FROM", "t1", "WHERE", f"id={i:012d}"]
        assert r.execute_command(*words) == sql(r, f"SELECT v,n FROM t1 WHERE id={i}")
    assert r.execute_command("SELECT", "id", "FROM", "t1", "WHERE", "n=-5") == [[b"id"], [5]]
    assert r.execute_command("SELECT", "COUNT(*)", "FROM", "t1") == [[b"COUNT(*)"], [4]]
    assert r.execute_command("SELECT", "id", "FROM", "t1", "ORDER", "BY", "id", "LIMIT",
                             "2") == [[b"id"], [5], [6]]
    assert r.execute_command("DELETE", "FROM", "t1", "WHERE", "id=000000000008") == 1
    assert r.execute_command("DELETE", "FROM", "t1", "WHERE", "id=000000000008") == 0
    sql(r, "DROP TABLE t1")
    sql(r, "CREATE TABLE t1 (id INT PRIMARY KEY, n INT, v TEXT)")
    sql(r, "INSERT INTO t1 VALUES (5, 50, 'five')")
    assert r.execute_command("SELECT", "v,n", "FROM", "t1", "WHERE", "id=000000000005") == \
        [[b"v", b"n"], [b"five", 50]]
    other = server.client(db=1)
    other.set_response_callback("SELECT", lambda response, **options: response)
    with pytest.raises(redis.ResponseError, match="no such table"):
        other.execute_command("SELECT", "v,n", "FROM", "t1", "WHERE", "id=000000000005")


def test_index_equality_answers_the_where_clause(users):
    sql(users, "CREATE INDEX users_age ON users (age)")
    plan = sql(users, "EXPLAIN SELECT * FROM users WHERE age = 30")
    assert b"answered by the walk" in plan[2][0]
    assert b"FILTER" in sql(users, "EXPLAIN SELECT * FROM users WHERE age = 30 AND id > 0")[2][0]
    assert sql(users, "SELECT id FROM users WHERE age = 30") == [[b"id"], [1]]
    assert sql(users, "SELECT id FROM users WHERE age = 30.0") == [[b"id"], [1]]
    assert sql(users, "SELECT id FROM users WHERE age = 30.5") == [[b"id"]]
    assert sql(users, "SELECT id FROM users WHERE age = 'x'") == [[b"id"]]
    assert sql(users, "SELECT id FROM users WHERE age = NULL") == [[b"id"]]


def test_explain_of_writes(db):
    db.sql("CREATE TABLE w (id INT PRIMARY KEY, n INT)")
    db.sql("CREATE INDEX w_n ON w (n)")
    explain = lambda s: [line for (line,) in db.sql("EXPLAIN " + s)]  # noqa: E731
    assert explain("UPDATE w SET n = 1 WHERE id = 3")[0] == \
        "UPDATE the rows of: SEARCH w USING PRIMARY KEY (point)"
    assert explain("DELETE FROM w WHERE n > 5") == [
        "DELETE the rows of: SEARCH w USING INDEX w_n (n>?) [range]",
        "FILTER rows by the WHERE clause", "MAINTAIN INDEX w_n"]
    assert explain("REPLACE INTO w VALUES (1, 2)") == ["REPLACE INTO w the VALUES rows",
                                                       "MAINTAIN INDEX w_n"]
    assert explain("INSERT INTO w SELECT * FROM w")[0] == "INSERT INTO w the rows of:"


def test_point_select_star_read_from_row_bytes(server, r):
    """A point SELECT * of integers and short texts is answered from the row's stored bytes;
    anything else (NULL, long or compressed text, a float key, a row older than a column)
    the general way. Both must give the same reply, in RESP2 and RESP3."""
    r.set_response_callback("SELECT", lambda response, **options: response)
    r.execute_command("CREATE TABLE w (id INT PRIMARY KEY, n INT, a TEXT, b BLOB)")
    long = "x" * 300
    r.execute_command("INSERT INTO w VALUES (1,-5,'ann','b1'),(2,NULL,'bob','b2'),"
                      f"(3,{2**62},'{long}','b3'),(-4,0,'é€','')")
    cases = ["id=1", "id=2", "id=3", "id=-4", "id=000000000001", "id=9", "id = 1.0"]
    expected = {
        "id=1": [[b"id", b"n", b"a", b"b"], [1, -5, b"ann", b"b1"]],
        "id=2": [[b"id", b"n", b"a", b"b"], [2, None, b"bob", b"b2"]],
        "id=3": [[b"id", b"n", b"a", b"b"], [3, 2**62, long.encode(), b"b3"]],
        "id=-4": [[b"id", b"n", b"a", b"b"], [-4, 0, "é€".encode(), b""]],
        "id=000000000001": [[b"id", b"n", b"a", b"b"], [1, -5, b"ann", b"b1"]],
        "id=9": [[b"id", b"n", b"a", b"b"]],
        "id = 1.0": [[b"id", b"n", b"a", b"b"], [1, -5, b"ann", b"b1"]],
    }
    r3 = server.client(protocol=3)
    r3.set_response_callback("SELECT", lambda response, **options: response)
    for where in cases:
        for client in (r, r3):
            words = client.execute_command("SELECT", "*", "FROM", "w", "WHERE", where)
            assert words == expected[where], where
            assert client.execute_command("SQL", f"SELECT * FROM w WHERE {where}") == words
    r.execute_command("ALTER TABLE w ADD COLUMN c INT")  # rows written before lack it
    r.execute_command("INSERT INTO w VALUES (5,1,'new','b',7)")
    assert r.execute_command("SELECT", "*", "FROM", "w", "WHERE", "id=1") == \
        [[b"id", b"n", b"a", b"b", b"c"], [1, -5, b"ann", b"b1", None]]
    assert r.execute_command("SELECT", "*", "FROM", "w", "WHERE", "id=5") == \
        [[b"id", b"n", b"a", b"b", b"c"], [5, 1, b"new", b"b", 7]]
    r.execute_command("CONFIG", "SET", "sql-output-mode", "text")
    assert r.execute_command("SELECT", "*", "FROM", "w", "WHERE", "id=5") == \
        [b"id, n, a, b, c", b"5,1,'new','b',7"]


def test_point_select_of_columns_read_from_row_bytes(server, r):
    """A point SELECT of columns as they are is written from the row's bytes too: the same
    reply as the general way's (a range walk), in RESP2, RESP3 and text mode."""
    r.execute_command("CREATE TABLE v (name TEXT PRIMARY KEY, n INT, a TEXT, b BLOB)")
    r.execute_command("INSERT INTO v VALUES ('k1',-5,'ann','b1'),('k2',NULL,'bob','b2'),"
                      f"('k3',{2**62},'{'x' * 300}','b3'),('é',0,'€','')")
    r3 = server.client(protocol=3)
    text = server.client(protocol=2)
    text.config_set("sql-output-mode", "text")
    for columns in ["a", "n,b", "name,a", "b AS blob,name,n", "n,n"]:
        for key in ["k1", "k2", "k3", "é", "none"]:
            point = f"SELECT {columns} FROM v WHERE name = '{key}'"
            walk = f"SELECT {columns} FROM v WHERE name >= '{key}' AND name <= '{key}'"
            for client in (r, r3, text):
                assert client.execute_command("SQL", point) == \
                    client.execute_command("SQL", walk), (columns, key)
    assert r.execute_command("SQL", "SELECT b AS blob,n FROM v WHERE name = 'k1'") == \
        [[b"blob", b"n"], [b"b1", -5]]


def test_point_select_star_meets_another_table_under_its_name(r):
    """A statement seen before runs on whatever table now has the name (SWAPDB, RENAME)."""
    r.set_response_callback("SELECT", lambda response, **options: response)
    r.execute_command("CREATE TABLE s (id INT PRIMARY KEY, a TEXT)")
    r.execute_command("INSERT INTO s VALUES (1,'one')")
    assert r.execute_command("SELECT", "*", "FROM", "s", "WHERE", "id=1") == \
        [[b"id", b"a"], [1, b"one"]]
    r.execute_command("SELECT", "1")
    r.execute_command("CREATE TABLE s (id INT PRIMARY KEY, a TEXT)")
    r.execute_command("INSERT INTO s VALUES (1,'other')")
    r.execute_command("SELECT", "0")
    r.swapdb(0, 1)
    assert r.execute_command("SELECT", "*", "FROM", "s", "WHERE", "id=1") == \
        [[b"id", b"a"], [1, b"other"]]


def test_statements_seen_before_a_swapdb_meet_the_other_schema(r):
    """SWAPDB can put a table of other columns under a name a statement was prepared for:
    the statement is planned again, on the columns the table has now."""
    r.execute_command("SELECT", "1")
    r.execute_command("SQL", "CREATE TABLE s (id INT PRIMARY KEY, a TEXT)")
    r.execute_command("SQL", "INSERT INTO s VALUES (1, 'one')")
    r.execute_command("SELECT", "0")
    r.execute_command("SQL", "CREATE TABLE s (id INT PRIMARY KEY, x INT, y TEXT)")
    r.execute_command("SQL", "INSERT INTO s VALUES (1, 5, 'why')")
    star, column = "SELECT * FROM s WHERE id = ?", "SELECT y FROM s WHERE id = ?"
    assert r.execute_command("SQL", star, 1) == [[b"id", b"x", b"y"], [1, 5, b"why"]]
    assert r.execute_command("SQL", column, 1) == [[b"y"], [b"why"]]
    r.swapdb(0, 1)
    assert r.execute_command("SQL", star, 1) == [[b"id", b"a"], [1, b"one"]]
    with pytest.raises(redis.ResponseError, match="no such column: y"):
        r.execute_command("SQL", column, 1)
    with pytest.raises(redis.ResponseError, match="no such column: y"):
        r.execute_command("SQL", "UPDATE s SET y = 'z' WHERE id = 1")


def test_point_select_star_by_text_key(r):
    r.set_response_callback("SELECT", lambda response, **options: response)
    r.execute_command("CREATE TABLE k (name TEXT PRIMARY KEY, n INT)")
    r.execute_command("INSERT INTO k VALUES ('ann',1),('é',2)")
    assert r.execute_command("SELECT", "*", "FROM", "k", "WHERE", "name='ann'") == \
        [[b"name", b"n"], [b"ann", 1]]
    assert r.execute_command("SELECT", "*", "FROM", "k", "WHERE", "name='é'") == \
        [[b"name", b"n"], ["é".encode(), 2]]
    assert r.execute_command("SELECT", "*", "FROM", "k", "WHERE", "name=1") == [[b"name", b"n"]]


def test_select_star_by_index_equality_read_from_row_bytes(r):
    """SELECT * of what an index equality finds is written from the rows' bytes too; the
    statement sent as one SQL argument takes the general way: both must agree."""
    r.set_response_callback("SELECT", lambda response, **options: response)
    r.execute_command("CREATE TABLE x (id INT PRIMARY KEY, fk INT, tag TEXT, n INT)")
    r.execute_command("CREATE INDEX x_fk ON x (fk)")
    r.execute_command("CREATE INDEX x_tag_n ON x (tag, n)")
    r.execute_command("INSERT INTO x VALUES (1,7,'a',1),(2,7,'b',2),(3,8,'a',NULL),"
                      "(4,7,'a',3),(5,9,'é',4)")
    header = [b"id", b"fk", b"tag", b"n"]
    cases = {"fk=7": [[1, 7, b"a", 1], [2, 7, b"b", 2], [4, 7, b"a", 3]],
             "fk=8": [[3, 8, b"a", None]],  # a NULL: the general way
             "fk=6": [], "fk = 7.0": [[1, 7, b"a", 1], [2, 7, b"b", 2], [4, 7, b"a", 3]],
             "tag='a'": [[1, 7, b"a", 1], [4, 7, b"a", 3], [3, 8, b"a", None]],
             "tag='é'": [[5, 9, "é".encode(), 4]], "fk=7 AND n=2": [[2, 7, b"b", 2]]}
    for where, rows in cases.items():
        words = r.execute_command("SELECT", "*", "FROM", "x", "WHERE", where)
        general = r.execute_command("SQL", f"SELECT * FROM x WHERE {where}")
        assert sorted(words[1:]) == sorted(general[1:]) == sorted(rows), where
        assert words[0] == general[0] == header
        assert words == general or where == "fk=7 AND n=2", where  # same order, same walk
    r.execute_command("DELETE FROM x WHERE id=2")
    assert r.execute_command("SELECT", "*", "FROM", "x", "WHERE", "fk=7") == \
        [header, [1, 7, b"a", 1], [4, 7, b"a", 3]]


def test_words_differing_in_numbers_bind_their_own_values(r):
    """A last word seen before with other digits is lifted from what it gave then; digits in
    a string, a float or a name must still be read as written."""
    r.set_response_callback("SELECT", lambda response, **options: response)
    r.execute_command("CREATE TABLE v (id INT PRIMARY KEY, n INT, f FLOAT, s TEXT)")
    for i in (1, 22, 333):
        r.execute_command("REPLACE", "INTO", "v", "VALUES", f"({i:012d},{i * 2},1.5,'x')")
        r.execute_command("INSERT", "INTO", "v", "VALUES", f"({i + 1000},7,{i}.25,'s{i}')")
    r.execute_command("REPLACE", "INTO", "v", "VALUES", "(000000000022,-3,2e2,'x')")
    assert r.execute_command("SQL", "SELECT * FROM v ORDER BY id") == [
        [b"id", b"n", b"f", b"s"], [1, 2, b"1.5", b"x"], [22, -3, b"200.0", b"x"],
        [333, 666, b"1.5", b"x"], [1001, 7, b"1.25", b"s1"], [1022, 7, b"22.25", b"s22"],
        [1333, 7, b"333.25", b"s333"]]
