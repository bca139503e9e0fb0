"""SQL tables survive restarts: through the log and through snapshots."""

import redis

from conftest import ServerProcess


def _server(tmp_path, appendonly: bool) -> ServerProcess:
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f"appendonly {'yes' if appendonly else 'no'}\n")
    return ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", "always")


def _fill(client):
    client.execute_command("SQL", "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, b BLOB)")
    client.execute_command("SQL", "CREATE UNIQUE INDEX t_name ON t (name)")
    client.execute_command("SQL", "INSERT INTO t VALUES (1, 'ann', X'00ff'), (2, 'bob', NULL)")
    client.execute_command("SQL", "INSERT INTO t VALUES (?, ?, ?)", 3, "5", "x")
    client.execute_command("SQL", "UPDATE t SET name = 'cy' WHERE id = 2")


def _check(client):
    assert client.execute_command("SQL", "SELECT * FROM t") == \
        [[b"id", b"name", b"b"], [1, b"ann", b"\x00\xff"], [2, b"cy", None], [3, b"5", b"x"]]
    assert client.execute_command("SQL", "SELECT id FROM t WHERE name = '5'") == [[b"id"], [3]]
    plan = client.execute_command("SQL", "EXPLAIN SELECT id FROM t WHERE name = 'cy'")
    assert b"INDEX t_name" in plan[1][0]
    try:
        client.set("t", "x")
        raise AssertionError("a Redis write replaced a table")
    except redis.ResponseError as e:
        assert "SQL table" in str(e)


def test_tables_replay_from_the_log(tmp_path):
    server = _server(tmp_path, appendonly=True).start()
    _fill(server.client())
    server.kill9()
    server = _server(tmp_path, appendonly=True).start()
    try:
        _check(server.client())
    finally:
        server.stop()


def test_tables_load_from_a_snapshot(tmp_path):
    server = _server(tmp_path, appendonly=False).start()
    client = server.client()
    _fill(client)
    assert client.save()
    server.stop()
    server = _server(tmp_path, appendonly=False).start()
    try:
        _check(server.client())
    finally:
        server.stop()
