"""SQL joins through redis-py, redis-cli and the in-process API: both spellings, LEFT JOIN,
self-joins, the planner's choices as EXPLAIN shows them, chains of 3 and 10 tables."""

import pytest
from redis.exceptions import ResponseError

from alchemy.commands.sql import _value
from alchemy.resp import encode_rows

DIVISIONS = "(11,'bosses','N.Y.'),(22,'workers','Chicago'),(33,'execs','Dubai')," \
            "(55,'bankers','Zurich'),(66,'janitors','Detroit')"
WORKERS = "(1,11,1,10000.5,'jim'),(2,22,2,2000.5,'jack'),(3,33,3,30000,'bob')," \
          "(4,44,2,40000,'bill'),(5,55,1,50000,'jan'),(6,66,2,6000,'jan'),(7,66,3,7000,'jon')," \
          "(8,11,4,8000,'jay')"


def load(run) -> None:
    run("CREATE TABLE division (id INT PRIMARY KEY, name TEXT, location TEXT)")
    run("CREATE TABLE worker (id INT PRIMARY KEY, division INT, health INT, salary FLOAT, "
        "name TEXT)")
    run("CREATE INDEX worker_division ON worker (division)")
    run(f"INSERT INTO division VALUES {DIVISIONS}")
    run(f"INSERT INTO worker VALUES {WORKERS}")


@pytest.fixture
def company(r):
    load(lambda statement: r.execute_command("SQL", statement))
    # redis-py takes a SELECT reply for SELECT db's and makes it a bool: keep it as sent.
    r.set_response_callback("SELECT", lambda response, **options: response)
    return r


def sql(r, statement):
    return r.execute_command("SQL", statement)


EXPECTED = [[b"name", b"name"], [b"bosses", b"jay"], [b"bosses", b"jim"],
            [b"execs", b"bob"], [b"workers", b"jack"]]


def test_join_on_and_alchemydb_spelling_agree(company):
    on = sql(company, "SELECT d.name, w.name FROM division d JOIN worker w "
                      "ON w.division = d.id WHERE d.id BETWEEN 11 AND 33 ORDER BY 1, 2")
    assert on == EXPECTED
    comma = sql(company, "SELECT division.name, worker.name FROM division, worker WHERE "
                         "division.id = worker.division AND division.id BETWEEN 11 AND 33 "
                         "ORDER BY 1, 2")
    assert comma == EXPECTED
    # AlchemyDB's own spelling, as words (what its clients sent) and as one quoted text.
    words = company.execute_command(
        "SELECT", "division.name,worker.name", "FROM", "division, worker", "WHERE",
        "division.id = worker.division AND division.id BETWEEN 11 AND 33")
    assert sorted(words[1:]) == EXPECTED[1:]
    quoted = sql(company, 'SELECT division.name,worker.name FROM "division, worker" WHERE '
                          '"division.id = worker.division AND division.id BETWEEN 11 AND 33"')
    assert sorted(quoted[1:]) == EXPECTED[1:]


def test_redis_cli_alchemydb_spelling(server, company):
    out = server.cli("SELECT", "division.name,worker.name", "FROM", "division, worker",
                     "WHERE", "division.id = worker.division AND division.id BETWEEN 11 AND 33")
    lines = out.split()
    assert lines[:2] == ["name", "name"]
    pairs = sorted(zip(lines[2::2], lines[3::2]))
    assert pairs == [("bosses", "jay"), ("bosses", "jim"), ("execs", "bob"), ("workers", "jack")]


def test_explain_drives_from_the_range_and_probes_the_index(company):
    plan = [line[0] for line in sql(company, "EXPLAIN SELECT d.name, w.name FROM worker w "
                                             "JOIN division d ON w.division = d.id "
                                             "WHERE d.id BETWEEN 11 AND 33")[1:]]
    assert plan[0].startswith(b"SEARCH division AS d USING PRIMARY KEY") and b"range" in plan[0]
    assert plan[1].startswith(b"SEARCH worker AS w USING INDEX worker_division (division=?)")
    assert plan[1].endswith(b"for each row of d")


def test_join_without_index_is_a_hash_join_with_the_same_answer(company):
    statement = "SELECT w.name, d.name FROM worker w JOIN division d ON d.location = w.name " \
                "OR d.id = w.division ORDER BY w.id"
    indexed = sql(company, statement)
    sql(company, "DROP INDEX worker_division")
    hashed = "SELECT d.name, w.name FROM division d JOIN worker w ON w.division = d.id " \
             "WHERE d.id BETWEEN 11 AND 33 ORDER BY 1, 2"
    plan = [line[0] for line in sql(company, "EXPLAIN " + hashed)[1:]]
    assert plan[1].startswith(b"HASH JOIN on (division), built once from: SCAN worker AS w")
    assert sql(company, hashed) == EXPECTED
    assert sql(company, statement) == indexed  # an OR: no equality to hash, a nested loop
    assert len(indexed) == 8


def test_left_join_pads_with_nulls(company):
    rows = sql(company, "SELECT w.name, d.name FROM worker w LEFT JOIN division d "
                        "ON d.id = w.division ORDER BY w.id")
    assert rows[4] == [b"bill", None]
    assert len(rows) == 9
    # A condition in ON only decides the match; in WHERE it filters the padded rows.
    on = sql(company, "SELECT d.id, w.id FROM division d LEFT JOIN worker w "
                      "ON w.division = d.id AND w.health = 3 ORDER BY d.id, w.id")
    assert on[1:] == [[11, None], [22, None], [33, 3], [55, None], [66, 7]]
    where = sql(company, "SELECT d.id, w.id FROM division d LEFT JOIN worker w "
                         "ON w.division = d.id WHERE w.id IS NULL")
    assert where[1:] == []
    sql(company, "INSERT INTO division VALUES (77,'empty','Nowhere')")
    assert sql(company, "SELECT d.id FROM division d LEFT JOIN worker w "
                        "ON w.division = d.id WHERE w.id IS NULL")[1:] == [[77]]


def test_self_join_with_aliases(company):
    rows = sql(company, "SELECT a.name, b.name FROM worker a JOIN worker b "
                        "ON a.division = b.division AND a.id < b.id ORDER BY a.id")
    assert rows == [[b"name", b"name"], [b"jim", b"jay"], [b"jan", b"jon"]]
    same = sql(company, "SELECT a.id, b.id FROM worker a, worker b "
                        "WHERE a.name = b.name AND a.id <> b.id ORDER BY a.id")
    assert same[1:] == [[5, 6], [6, 5]]


def test_ambiguous_and_unknown_columns(company):
    with pytest.raises(ResponseError, match="ambiguous column name: name"):
        sql(company, "SELECT name FROM division d JOIN worker w ON w.division = d.id")
    with pytest.raises(ResponseError, match="ambiguous column name: id"):
        sql(company, "SELECT d.name FROM division d, worker w WHERE id = 11")
    with pytest.raises(ResponseError, match="no such column: w.nope"):
        sql(company, "SELECT w.nope FROM division d JOIN worker w ON w.division = d.id")
    with pytest.raises(ResponseError, match="no such column: worker.name"):
        sql(company, "SELECT worker.name FROM worker w JOIN division d ON w.division = d.id")
    with pytest.raises(ResponseError, match="RIGHT JOIN is not supported"):
        sql(company, "SELECT * FROM worker w RIGHT JOIN division d ON w.division = d.id")
    # Unambiguous unqualified names resolve to their table.
    assert sql(company, "SELECT salary, location FROM worker w JOIN division d "
                        "ON w.division = d.id WHERE health = 4") == \
        [[b"salary", b"location"], [b"8000.0", b"N.Y."]]


def test_order_limit_offset_and_star_across_join(company):
    rows = sql(company, "SELECT w.salary, d.location FROM worker w JOIN division d "
                        "ON w.division = d.id ORDER BY w.salary DESC LIMIT 2 OFFSET 1")
    assert rows == [[b"salary", b"location"], [b"30000.0", b"Dubai"], [b"10000.5", b"N.Y."]]
    star = sql(company, "SELECT * FROM division d JOIN worker w ON w.division = d.id "
                        "WHERE w.id = 3")
    assert star == [[b"id", b"name", b"location", b"id", b"division", b"health", b"salary",
                     b"name"], [33, b"execs", b"Dubai", 3, 33, 3, b"30000.0", b"bob"]]
    assert sql(company, "SELECT d.* FROM division d JOIN worker w ON w.division = d.id "
                        "WHERE w.id = 3") == [[b"id", b"name", b"location"],
                                              [33, b"execs", b"Dubai"]]


def test_three_table_chain(company):
    sql(company, "CREATE TABLE location (city TEXT PRIMARY KEY, country TEXT)")
    sql(company, "INSERT INTO location VALUES ('N.Y.','US'),('Dubai','AE'),('Zurich','CH')")
    rows = sql(company, "SELECT w.name, d.name, l.country FROM worker w "
                        "JOIN division d ON d.id = w.division "
                        "JOIN location l ON l.city = d.location WHERE w.salary > 9000 "
                        "ORDER BY w.name")
    assert rows[1:] == [[b"bob", b"execs", b"AE"], [b"jan", b"bankers", b"CH"],
                        [b"jim", b"bosses", b"US"]]
    plan = sql(company, "EXPLAIN SELECT w.name FROM worker w JOIN division d "
                        "ON d.id = w.division JOIN location l ON l.city = d.location "
                        "WHERE w.id = 5")
    assert [line[0].split(b" USING ")[0] for line in plan[1:]] == [
        b"SEARCH worker AS w", b"SEARCH division AS d", b"SEARCH location AS l"]
    assert all(b"(point)" in line[0] for line in plan[1:])


def test_ten_table_chain(db):
    for i in range(10):
        db.sql(f"CREATE TABLE c{i} (id INT PRIMARY KEY, next INT, label TEXT)")
        db.sql(f"INSERT INTO c{i} VALUES " + ",".join(
            f"({k},{k + 1},'t{i}r{k}')" for k in range(1, 21)))
    joins = " ".join(f"JOIN c{i} ON c{i}.id = c{i - 1}.next" for i in range(1, 10))
    statement = f"SELECT c0.id, c9.id, c9.label FROM c0 {joins} WHERE c0.id BETWEEN 3 AND 5"
    assert db.sql(statement) == [(3, 12, "t9r12"), (4, 13, "t9r13"), (5, 14, "t9r14")]
    plan = [line[0] for line in db.sql("EXPLAIN " + statement)]
    assert len(plan) == 10 and plan[0].startswith("SEARCH c0 USING PRIMARY KEY")
    assert all("(point)" in line for line in plan[1:])


def test_plan_cache_reused_for_other_literals(db):
    load(db.sql)
    engine = db.sql_engine
    statement = "SELECT w.name FROM worker w JOIN division d ON w.division = d.id " \
                "WHERE d.id = {}"
    assert db.sql(statement.format(11)) == [("jim",), ("jay",)]
    misses = engine.misses
    assert db.sql(statement.format(33)) == [("bob",)]
    assert db.sql(statement.format(66)) == [("jan",), ("jon",)]
    assert engine.misses == misses


def test_join_with_parameters_in_process(db):
    load(db.sql)
    result = db.sql("SELECT d.location, w.salary FROM worker w JOIN division d "
                    "ON d.id = w.division WHERE w.name = ?", "jan", raw=True)
    assert result.header == ["location", "salary"]
    assert sorted(map(list, result.rows)) == [["Detroit", 6000.0], ["Zurich", 50000.0]]


def test_quoted_text_is_not_taken_for_alchemydb_spelling(db):
    db.sql("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
    db.sql("""INSERT INTO notes VALUES (1, 'copied FROM "a, b" WHERE "x = 1"')""")
    assert db.sql("SELECT body FROM notes WHERE id = 1") == \
        [('copied FROM "a, b" WHERE "x = 1"',)]


def test_index_probe_on_columns_of_other_kinds_keeps_the_condition(db):
    # An INT foreign key probed with TEXT values: the walk cannot compare them, so the join
    # condition must stay as a filter; the index must not change any answer.
    db.sql("CREATE TABLE p (id INT PRIMARY KEY, code TEXT, n INT)")
    db.sql("CREATE TABLE c (id INT PRIMARY KEY, pid INT, name TEXT)")
    db.sql("INSERT INTO p VALUES (1, '1', 2), (2, 'x', 1), (3, NULL, NULL)")
    db.sql("INSERT INTO c VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c'), (13, NULL, 'd')")
    statements = ["SELECT p.id, c.name FROM p JOIN c ON c.pid = p.code ORDER BY c.id",
                  "SELECT p.id, c.name FROM p JOIN c ON c.pid = p.n ORDER BY c.id",
                  "SELECT p.id, c.name FROM p LEFT JOIN c ON c.pid = p.n ORDER BY p.id, c.id"]
    hashed = [db.sql(s) for s in statements]
    db.sql("CREATE INDEX c_pid ON c (pid)")
    assert "INDEX c_pid" in db.sql("EXPLAIN " + statements[0])[1][0]
    assert [db.sql(s) for s in statements] == hashed
    assert hashed[1] == [(2, "a"), (2, "b"), (1, "c")]
    assert hashed[2] == [(1, "c"), (2, "a"), (2, "b"), (3, None)]


def test_join_rows_hold_every_column_a_clause_reads(db):
    # A join decodes only the columns the statement reads, passing over the others (long
    # texts too): whatever a clause names must still be there.
    body = "x" * 3000
    db.sql("CREATE TABLE a (id INT PRIMARY KEY, body TEXT, n INT, tag TEXT)")
    db.sql("CREATE TABLE b (id INT PRIMARY KEY, aid INT, note TEXT, score FLOAT)")
    db.sql("CREATE INDEX b_aid ON b (aid)")
    db.sql(f"INSERT INTO a VALUES (1, '{body}', 5, 'p'), (2, '{body}y', 6, 'q')")
    db.sql("INSERT INTO b VALUES (10, 1, 'n1', 1.5), (11, 1, 'n2', 2.5), (12, 2, 'n3', 3.5)")
    join = "FROM a JOIN b ON b.aid = a.id"
    assert db.sql(f"SELECT b.note {join} WHERE a.n = 5 ORDER BY b.score DESC") == \
        [("n2",), ("n1",)]
    assert db.sql(f"SELECT b.note {join} WHERE a.body LIKE '%y'") == [("n3",)]
    assert db.sql(f"SELECT a.tag, SUM(b.score) {join} GROUP BY a.tag ORDER BY 1") == \
        [("p", 4.0), ("q", 3.5)]
    assert db.sql(f"SELECT b.*, a.tag {join} WHERE a.id = 2") == [(12, 2, "n3", 3.5, "q")]
    assert db.sql(f"SELECT a.n + b.id, b.note {join} WHERE a.id = 1 AND b.score > 2") == \
        [(16, "n2")]


def test_shown_text_reads_the_same_everywhere(server, company):
    """Text columns a join only shows are sent as stored; every other reader (the
    in-process API, a script, STORE, a condition on them) sees them as text."""
    long_name = "z\u00e9" * 150  # past the short-text tag, stored as a long value
    sql(company, "INSERT INTO division VALUES (77,'caf\u00e9',NULL)")
    sql(company, f"INSERT INTO worker VALUES (9,77,1,1.0,'{long_name}'),(10,77,1,1.0,NULL)")
    statement = "SELECT d.name, d.location, w.name FROM division d JOIN worker w " \
                "ON w.division = d.id WHERE d.id = 77"
    assert sql(company, statement) == [[b"name", b"location", b"name"],
                                       [b"caf\xc3\xa9", None, long_name.encode()],
                                       [b"caf\xc3\xa9", None, None]]
    assert company.eval(f"return redis.call('SQL', \"{statement}\")", 0) == \
        [[b"name", b"location", b"name"], [b"caf\xc3\xa9", None, long_name.encode()],
         [b"caf\xc3\xa9", None, None]]
    assert sql(company, statement.replace("WHERE", "WHERE w.name > 'a' AND")) == \
        [[b"name", b"location", b"name"], [b"caf\xc3\xa9", None, long_name.encode()]]
    assert sql(company, "SELECT w.name FROM division d JOIN worker w ON w.division = d.id "
                        "WHERE d.id = 77 AND w.id = 9 STORE RPUSH shown") == 1
    assert company.lrange("shown", 0, -1) == [long_name.encode()]


def test_joined_texts_on_the_wire_in_both_protocols(server, company):
    """Rows of shown texts only, each kind a text column holds among short texts: NULL,
    non-ASCII, long (past the short-text tag, and 4 KiB or more), as RESP2 and RESP3
    clients read them."""
    huge = "h\u00e9" * 3000
    sql(company, f"INSERT INTO division VALUES (77,'caf\u00e9',NULL),(78,'{huge}','x')")
    sql(company, f"INSERT INTO worker VALUES (9,77,1,1.0,'{'w' * 300}'),(10,77,1,1.0,NULL),"
                 f"(11,78,1,1.0,'{huge}'),(12,78,1,1.0,'k')")
    statement = "SELECT d.name, d.location, w.name FROM division d JOIN worker w " \
                "ON w.division = d.id WHERE d.id > 70"  # no ORDER BY: read as bytes
    rows = sorted([[b"caf\xc3\xa9", None, b"w" * 300], [b"caf\xc3\xa9", None, None],
                   [huge.encode(), b"x", huge.encode()], [huge.encode(), b"x", b"k"]],
                  key=repr)
    reply = sql(company, statement)
    assert reply[0] == [b"name", b"location", b"name"]
    assert sorted(reply[1:], key=repr) == rows
    reply = server.client(protocol=3).execute_command("SQL", statement)
    assert sorted(reply[1:], key=repr) == rows


@pytest.mark.parametrize("resp3", [False, True])
def test_rows_said_to_be_texts_encode_as_any_rows(resp3):
    """encode_rows told that every column is read as text bytes takes rows of short texts
    in one step each; any other value among them (a str too, found only when the pieces
    are joined) is encoded as without it, and so are the rows after it."""
    header = [b"a", b"b"]
    texts = [(b"x", b"yz")] * 3
    others = [(b"x", "caf\u00e9"), (None, b"y"), (b"q" * 5000, bytearray(b"r")), (7, 2.5),
              (b"x", [b"k", 1])]
    for rows in (texts, texts + others[:1], texts + others[1:] + texts, others[1:2] + texts):
        fast = encode_rows(header, rows, resp3, _value, None, (0, 1))
        assert fast == encode_rows(header, rows, resp3, _value)
        assert bytes(fast).count(b"*2\r\n$1\r\nx\r\n$2\r\nyz\r\n") == rows.count(texts[0])
