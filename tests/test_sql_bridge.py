"""Tables and Redis types, both ways: SELECT ... STORE, CREATE TABLE AS DUMP, DENORM, DUMP."""

import csv

import pytest
import redis

from conftest import ServerProcess


@pytest.fixture
def worker(r):
    r.flushall()
    # redis-py turns a SELECT reply into True/False (it expects SELECT db): undo that.
    r.set_response_callback("SELECT", lambda response, **options: response)
    r.execute_command("CREATE", "TABLE", "worker",
                      "(id INT PRIMARY KEY, division INT, name TEXT, salary FLOAT)")
    r.execute_command("CREATE", "INDEX", "worker_division", "ON", "worker", "(division)")
    rows = ",".join(f"({i},{10 + i % 5},'w{i}',{1000 + i}.5)" for i in range(1, 21))
    r.execute_command("INSERT", "INTO", "worker", "VALUES", rows)
    return r


def test_store_rpush_in_alchemydb_spelling(worker, server):
    assert worker.execute_command("SELECT", "name", "FROM", "worker", "WHERE",
                                  "division BETWEEN 11 AND 12", "STORE", "RPUSH",
                                  "l_names") == 8
    # In the order of the index the WHERE walked: division, then id.
    assert worker.lrange("l_names", 0, -1) == [b"w1", b"w6", b"w11", b"w16", b"w2", b"w7",
                                                b"w12", b"w17"]
    out = server.cli("SELECT", "name", "FROM", "worker", "WHERE", "division = 13",
                     "STORE", "SADD", "s_names")
    assert out.strip() == "4"
    assert worker.smembers("s_names") == {b"w3", b"w8", b"w13", b"w18"}


def test_store_zadd_and_hset(worker):
    assert worker.execute_command(
        "SQL", "SELECT salary, name FROM worker WHERE division = 11 STORE ZADD z_salary") == 4
    assert worker.zrange("z_salary", 0, -1, withscores=True) == [
        (b"w1", 1001.5), (b"w6", 1006.5), (b"w11", 1011.5), (b"w16", 1016.5)]
    assert worker.execute_command(
        "SQL", "SELECT id, name FROM worker WHERE division = 11 STORE HSET h_names") == 4
    assert worker.hgetall("h_names") == {b"1": b"w1", b"6": b"w6", b"11": b"w11",
                                         b"16": b"w16"}


def test_store_with_no_rows_writes_nothing(worker):
    assert worker.execute_command(
        "SQL", "SELECT name FROM worker WHERE division = 99 STORE RPUSH none") == 0
    assert worker.exists("none") == 0


def test_store_refusals_write_nothing(worker):
    worker.set("str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        worker.execute_command("SQL", "SELECT name FROM worker STORE RPUSH str")
    assert worker.get("str") == b"x"
    with pytest.raises(redis.ResponseError, match="SQL table"):
        worker.execute_command("SQL", "SELECT name FROM worker STORE RPUSH worker")
    assert worker.execute_command("SQL", "SELECT COUNT(*) FROM worker") == [[b"COUNT(*)"], [20]]
    with pytest.raises(redis.ResponseError, match="takes 2 selected columns"):
        worker.execute_command("SQL", "SELECT name FROM worker STORE ZADD z")
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        worker.execute_command("SQL", "SELECT name, id FROM worker STORE ZADD z")
    with pytest.raises(redis.ResponseError, match="STORE takes RPUSH"):
        worker.execute_command("SQL", "SELECT name FROM worker STORE SET k")
    assert worker.exists("z", "k") == 0


def test_store_inside_a_string_is_text(worker):
    worker.execute_command("SQL", "INSERT INTO worker VALUES (99, 1, 'a STORE RPUSH x', 0)")
    assert worker.execute_command(
        "SQL", "SELECT id FROM worker WHERE name = 'a STORE RPUSH x'") == [[b"id"], [99]]
    assert worker.exists("x") == 0


@pytest.mark.parametrize("kind, fill, header, rows", [
    ("hash", lambda r: r.hset("src", mapping={"a": "1", "b": "2"}),
     [b"field", b"value"], [[b"a", b"1"], [b"b", b"2"]]),
    ("list", lambda r: r.rpush("src", "x", "y", "x"),
     [b"pos", b"value"], [[0, b"x"], [1, b"y"], [2, b"x"]]),
    ("set", lambda r: r.sadd("src", "m", "n"), [b"member"], [[b"m"], [b"n"]]),
    ("zset", lambda r: r.zadd("src", {"m": 2.5, "n": 1}),
     [b"member", b"score"], [[b"m", b"2.5"], [b"n", b"1.0"]]),
])
def test_create_table_as_dump(r, kind, fill, header, rows):
    r.flushall()
    r.set_response_callback("SELECT", lambda response, **options: response)
    fill(r)
    assert r.execute_command("CREATE", "TABLE", "copy", "AS", "DUMP", "src") == len(rows)
    assert r.execute_command("SELECT", "*", "FROM", "copy") == [header] + rows
    assert r.type("copy") == b"table"


def test_create_table_as_dump_keeps_binary_values(r):
    r.flushall()
    r.set_response_callback("SELECT", lambda response, **options: response)
    r.hset("bin", "k", b"\xff\x00")
    r.execute_command("CREATE", "TABLE", "b", "AS", "DUMP", "bin")
    assert r.execute_command("SELECT", "value", "FROM", "b") == [[b"value"], [b"\xff\x00"]]


def test_create_table_as_dump_refusals(r):
    r.flushall()
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="cannot become a table"):
        r.execute_command("CREATE", "TABLE", "t", "AS", "DUMP", "s")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.execute_command("CREATE", "TABLE", "t", "AS", "DUMP", "missing")
    assert r.exists("t") == 0


def test_denorm_writes_one_hash_per_row(worker):
    assert worker.execute_command("DENORM", "worker", "w:*") == 20
    assert worker.hgetall("w:7") == {b"id": b"7", b"division": b"12", b"name": b"w7",
                                     b"salary": b"1007.5"}
    with pytest.raises(redis.ResponseError, match="one '\\*'"):
        worker.execute_command("DENORM", "worker", "nostar")
    with pytest.raises(redis.ResponseError, match="no such table"):
        worker.execute_command("DENORM", "nope", "x:*")


def test_dump_rows_and_csv_file(worker, server):
    dumped = worker.execute_command("DUMP", "worker")
    assert dumped[0] == [b"id", b"division", b"name", b"salary"]
    assert dumped[1] == [1, 11, b"w1", b"1001.5"] and len(dumped) == 21
    assert worker.execute_command("DUMP", "worker", "TO", "FILE", "worker.csv") == 20
    with open(f"{server.data_dir}/worker.csv", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["id", "division", "name", "salary"]
    assert lines[20] == ["20", "10", "w20", "1020.5"]
    for outside in ("../escape.csv", "/tmp/escape.csv", "."):
        with pytest.raises(redis.ResponseError, match="inside the data directory"):
            worker.execute_command("DUMP", "worker", "TO", "FILE", outside)


def test_bridge_writes_survive_a_crash(tmp_path):
    conf = tmp_path / "alchemy.conf"
    conf.write_text("appendonly yes\n")
    args = (tmp_path / "data", "--config", str(conf), "--appendfsync", "always")
    server = ServerProcess(*args).start()
    client = server.client()
    client.execute_command("SQL", "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
    client.execute_command("SQL", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    client.execute_command("SQL", "SELECT name FROM t STORE RPUSH names")
    client.execute_command("DENORM", "t", "row:*")
    client.rpush("src", "p", "q")
    client.execute_command("CREATE", "TABLE", "fromlist", "AS", "DUMP", "src")
    server.kill9()
    server = ServerProcess(*args).start()
    try:
        client = server.client()
        client.set_response_callback("SELECT", lambda response, **options: response)
        assert client.lrange("names", 0, -1) == [b"a", b"b"]  # stored once, not replayed twice
        assert client.hgetall("row:2") == {b"id": b"2", b"name": b"b"}
        assert client.execute_command("SELECT", "*", "FROM", "fromlist") == [
            [b"pos", b"value"], [0, b"p"], [1, b"q"]]
    finally:
        server.stop()


def test_create_table_as_dump_over_resp3(r3):
    r3.flushall()
    r3.zadd("z", {"a": 1, "b": 2.5})
    r3.hset("h", "f", "v")
    assert r3.execute_command("SQL", "CREATE TABLE zt AS DUMP z") == 2
    assert r3.execute_command("SQL", "CREATE TABLE ht AS DUMP h") == 1
    assert r3.execute_command("SQL", "SELECT * FROM zt")[1:] == [[b"a", 1.0], [b"b", 2.5]]
    assert r3.execute_command("SQL", "SELECT * FROM ht")[1:] == [[b"f", b"v"]]


def test_bridge_through_redis_cli(worker, server):
    assert server.cli("DENORM", "worker", "cli:*").strip() == "20"
    assert server.cli("HGET", "cli:5", "name").strip() == "w5"
    assert server.cli("SELECT", "id,", "name", "FROM", "worker", "WHERE", "id < 3", "STORE",
                      "HSET", "cli_h").strip() == "2"
    assert server.cli("CREATE", "TABLE", "from_cli", "AS", "DUMP", "cli_h").strip() == "2"
    dumped = server.cli("DUMP", "from_cli").split()
    assert dumped[:2] == ["field", "value"] and dumped[2:] == ["1", "w1", "2", "w2"]
