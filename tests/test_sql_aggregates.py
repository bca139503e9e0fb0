"""Aggregates, GROUP BY/HAVING, subqueries, INSERT ... SELECT and CREATE TABLE ... AS SELECT,
through redis-py, redis-cli and the in-process API."""

import pytest
from redis.exceptions import ResponseError


@pytest.fixture
def sales(r):
    r.execute_command("SQL", "CREATE TABLE sales (id INT PRIMARY KEY, region TEXT, "
                             "amount INT, price FLOAT, rep TEXT)")
    r.execute_command("SQL", "CREATE INDEX sales_amount ON sales (amount)")
    r.execute_command("SQL", "INSERT INTO sales VALUES (1,'east',10,1.5,'ann'),"
                             "(2,'east',20,NULL,'bob'),(3,'west',NULL,2.5,'ann'),"
                             "(4,'west',5,0.5,NULL),(5,'north',7,3.0,'cy'),(6,'east',10,1.0,'cy')")
    return r


def sql(r, statement):
    return r.execute_command("SQL", statement)


def test_aggregates_over_all_rows_and_nulls(sales):
    assert sql(sales, "SELECT COUNT(*), COUNT(amount), COUNT(DISTINCT amount), SUM(amount), "
                      "MIN(amount), MAX(rep) FROM sales") == \
        [[b"COUNT(*)", b"COUNT(amount)", b"COUNT(DISTINCT amount)", b"SUM(amount)",
          b"MIN(amount)", b"MAX(rep)"], [6, 5, 4, 52, 5, b"cy"]]
    # Over no rows: COUNT is 0, everything else NULL, and there is still one row.
    assert sql(sales, "SELECT COUNT(*), SUM(amount), AVG(price), MIN(rep) FROM sales "
                      "WHERE id > 100")[1] == [0, None, None, None]
    # AVG is a float; SUM of a FLOAT column is a float, of an INT column an integer.
    assert sql(sales, "SELECT AVG(amount), SUM(price), SUM(amount) FROM sales "
                      "WHERE region = 'east'")[1] == [b"13.333333333333334", b"2.5", 40]
    assert sql(sales, "SELECT SUM(DISTINCT amount), AVG(DISTINCT amount) FROM sales "
                      "WHERE region = 'east'")[1] == [30, b"15.0"]


def test_group_by_having_order_by_aggregate(sales):
    rows = sql(sales, "SELECT region, COUNT(*) AS n, SUM(amount) FROM sales GROUP BY region "
                      "ORDER BY n DESC, region")
    assert rows == [[b"region", b"n", b"SUM(amount)"], [b"east", 3, 40], [b"west", 2, 5],
                    [b"north", 1, 7]]
    assert sql(sales, "SELECT region FROM sales GROUP BY region HAVING SUM(amount) > 6 "
                      "ORDER BY SUM(amount)") == [[b"region"], [b"north"], [b"east"]]
    assert sql(sales, "SELECT region, rep, COUNT(*) FROM sales GROUP BY region, rep "
                      "HAVING COUNT(*) = 1 AND rep IS NOT NULL ORDER BY 1, 2") == \
        [[b"region", b"rep", b"COUNT(*)"], [b"east", b"ann", 1], [b"east", b"bob", 1],
         [b"east", b"cy", 1], [b"north", b"cy", 1], [b"west", b"ann", 1]]
    # A GROUP BY expression, repeated in the select list with its own literal.
    assert sql(sales, "SELECT amount % 5, COUNT(*) FROM sales WHERE amount IS NOT NULL "
                      "GROUP BY amount % 5 ORDER BY 1") == \
        [[b"amount % 5", b"COUNT(*)"], [0, 4], [2, 1]]
    # NULLs group together and sort first.
    assert sql(sales, "SELECT rep, COUNT(*) FROM sales GROUP BY rep")[1] == [None, 1]


def test_aggregate_misuse_is_an_error(sales):
    with pytest.raises(ResponseError, match="column 'rep' must appear in GROUP BY"):
        sql(sales, "SELECT region, rep, COUNT(*) FROM sales GROUP BY region")
    with pytest.raises(ResponseError, match="column 'rep' must appear in GROUP BY"):
        sql(sales, "SELECT rep, MAX(amount) FROM sales")
    with pytest.raises(ResponseError, match="not allowed in WHERE"):
        sql(sales, "SELECT region FROM sales WHERE COUNT(*) > 1")
    with pytest.raises(ResponseError, match="misuse of aggregate"):
        sql(sales, "SELECT SUM(COUNT(*)) FROM sales")
    with pytest.raises(ResponseError, match="must appear in GROUP BY"):
        sql(sales, "SELECT amount % 3 FROM sales GROUP BY amount % 5")


def test_min_max_count_without_a_scan(sales):
    plan = [line[0] for line in sql(sales, "EXPLAIN SELECT COUNT(*), MIN(amount), "
                                           "MAX(amount), MAX(id) FROM sales")[1:]]
    assert plan == [b"COUNT(*) from the row count of sales, no scan",
                    b"MIN from the first entry of INDEX sales_amount of sales, no scan",
                    b"MAX from the last entry of INDEX sales_amount of sales, no scan",
                    b"MAX from the last entry of PRIMARY KEY of sales, no scan"]
    # The NULL amount sorts first in the index; MIN skips it.
    assert sql(sales, "SELECT COUNT(*), MIN(amount), MAX(amount), MAX(id) FROM sales")[1] == \
        [6, 5, 20, 6]
    sql(sales, "DELETE FROM sales")
    assert sql(sales, "SELECT COUNT(*), MIN(amount), MAX(id) FROM sales")[1] == [0, None, None]
    # Without an index on the column it is an ordinary aggregate.
    assert b"no scan" not in sql(sales, "EXPLAIN SELECT MIN(price) FROM sales")[1][0]


def test_aggregates_over_a_join(sales):
    sql(sales, "CREATE TABLE regions (name TEXT PRIMARY KEY, manager TEXT)")
    sql(sales, "INSERT INTO regions VALUES ('east','eve'),('west','wes'),('south','sam')")
    rows = sql(sales, "SELECT g.manager, COUNT(s.id), SUM(s.amount) FROM regions g "
                      "LEFT JOIN sales s ON s.region = g.name GROUP BY g.manager "
                      "ORDER BY g.manager")
    assert rows[1:] == [[b"eve", 3, 40], [b"sam", 0, None], [b"wes", 2, 5]]


def test_subqueries(sales):
    sql(sales, "CREATE TABLE stars (rep TEXT PRIMARY KEY)")
    sql(sales, "INSERT INTO stars VALUES ('ann'),('cy')")
    assert sql(sales, "SELECT id FROM sales WHERE rep IN (SELECT rep FROM stars) "
                      "ORDER BY id") == [[b"id"], [1], [3], [5], [6]]
    assert sql(sales, "SELECT id FROM sales WHERE amount = (SELECT MAX(amount) FROM sales)") \
        == [[b"id"], [2]]
    assert sql(sales, "SELECT id FROM sales WHERE rep NOT IN (SELECT rep FROM stars) "
                      "ORDER BY id") == [[b"id"], [2]]
    # NOT IN a set holding NULL is never true; IN an empty set is false even for NULL.
    assert sql(sales, "SELECT id FROM sales WHERE id NOT IN (SELECT amount FROM sales)") == \
        [[b"id"]]
    assert sql(sales, "SELECT COUNT(*) FROM sales WHERE NOT (rep IN (SELECT rep FROM stars "
                      "WHERE rep = 'zed'))")[1] == [6]
    with pytest.raises(ResponseError, match="sub-select returns 2 columns"):
        sql(sales, "SELECT id FROM sales WHERE rep IN (SELECT rep, rep FROM stars)")
    plan = [line[0] for line in sql(sales, "EXPLAIN SELECT id FROM sales WHERE rep IN "
                                           "(SELECT rep FROM stars)")[1:]]
    assert plan[0].startswith(b"SUBQUERY 1 (in)") and plan[1].startswith(b"  SCAN stars")


def test_insert_select_is_atomic(sales):
    sql(sales, "CREATE TABLE big (id INT PRIMARY KEY, who TEXT, total INT)")
    assert sql(sales, "INSERT INTO big SELECT id, rep, amount * 10 FROM sales "
                      "WHERE amount >= 10") == b"OK"
    assert sql(sales, "SELECT * FROM big ORDER BY id") == \
        [[b"id", b"who", b"total"], [1, b"ann", 100], [2, b"bob", 200], [6, b"cy", 100]]
    # Row 2 is already there: nothing of this statement stays.
    with pytest.raises(ResponseError, match="duplicate primary key"):
        sql(sales, "INSERT INTO big (id, who) SELECT id, region FROM sales WHERE id <= 3 "
                   "ORDER BY id DESC")
    assert sql(sales, "SELECT COUNT(*) FROM big")[1] == [3]
    # A table can be filled from itself: the rows are read before any is written.
    sql(sales, "INSERT INTO big SELECT id + 100, who, total FROM big")
    assert sql(sales, "SELECT COUNT(*), MAX(id) FROM big")[1] == [6, 106]


def test_create_table_as_select(server, sales):
    assert sql(sales, "CREATE TABLE totals AS SELECT region, COUNT(*) AS n, SUM(price) AS p "
                      "FROM sales GROUP BY region") == b"OK"
    assert sql(sales, "DESC totals")[1:4] == [[b"region", b"TEXT", b"PRIMARY KEY"],
                                              [b"n", b"INT", b""], [b"p", b"FLOAT", b""]]
    assert sql(sales, "SELECT * FROM totals ORDER BY region") == \
        [[b"region", b"n", b"p"], [b"east", 3, b"2.5"], [b"north", 1, b"3.0"],
         [b"west", 2, b"3.0"]]
    # The first column is the key: a duplicate in it leaves no table behind.
    with pytest.raises(ResponseError, match="primary key"):
        sql(sales, "CREATE TABLE reps AS SELECT rep, id FROM sales")
    assert sales.exists("reps") == 0
    with pytest.raises(ResponseError, match="already exists"):
        sql(sales, "CREATE TABLE totals AS SELECT id FROM sales")
    # The same through redis-cli, words joined by spaces.
    assert server.cli("CREATE", "TABLE", "cheap", "AS", "SELECT", "id,", "price", "FROM",
                      "sales", "WHERE", "price < 2").strip() == "OK"
    assert server.cli("SELECT", "COUNT(*)", "FROM", "cheap").split() == ["COUNT(*)", "3"]


def test_in_process_aggregates(db):
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, g INT, v FLOAT)")
    for i in range(1, 101):
        db.sql("INSERT INTO t VALUES (?, ?, ?)", i, i % 4, i / 2)
    assert db.sql("SELECT g, COUNT(*), SUM(v) FROM t WHERE id <= ? GROUP BY g", 8) == \
        [(0, 2, 6.0), (1, 2, 3.0), (2, 2, 4.0), (3, 2, 5.0)]
    assert db.sql("SELECT g FROM t GROUP BY g HAVING SUM(v) > ?", 640) == [(0,)]
