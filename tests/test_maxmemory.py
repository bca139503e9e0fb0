"""maxmemory (noeviction): past the limit, commands that may grow the dataset get -OOM
before they run, through redis-py, scripts, SQL and the in-process API; reads, deletes and
log replay go on.

The limit is compared with the server's resident size, so `maxmemory 1` is always
exceeded and a limit of 1000 GB never is.
"""

import pytest
import redis

from alchemy.errors import AlchemyError
from test_persistence import make_server

OOM = "OOM command not allowed when used memory > 'maxmemory'."
REFUSED = "^command not allowed when used memory > 'maxmemory'"  # redis-py drops the code


@pytest.fixture
def full(r):
    """r on a server whose maxmemory is exceeded, with a, h and t written before."""
    r.set("a", "1")
    r.hset("h", "f", "v")
    r.execute_command("SQL", "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
    r.execute_command("SQL", "INSERT INTO t VALUES (1, 'ann')")
    r.config_set("maxmemory", 1)
    yield r
    r.config_set("maxmemory", 0)


def test_writes_that_grow_are_refused_and_counted(full):
    r = full
    r.config_resetstat()
    for call in (lambda: r.set("b", "2"), lambda: r.hset("h", "g", "w"),
                 lambda: r.lpush("l", "x"), lambda: r.append("a", "more")):
        with pytest.raises(redis.exceptions.OutOfMemoryError, match=REFUSED):
            call()
    assert r.get("a") == b"1" and r.hgetall("h") == {b"f": b"v"}
    assert not r.exists("b", "l")
    stats = r.info("commandstats")["cmdstat_set"]
    assert stats["calls"] == 0 and stats["rejected_calls"] == 1
    assert r.info("errorstats")["errorstat_OOM"]["count"] == 4


def test_reads_and_deletes_go_on(full):
    r = full
    assert r.get("a") == b"1"
    assert r.delete("a") == 1
    with pytest.raises(redis.exceptions.OutOfMemoryError, match=REFUSED):
        r.incr("n")
    assert r.info("memory")["maxmemory"] == 1
    r.config_set("maxmemory", "1000gb")
    assert r.set("b", "2")


def test_multi_queues_nothing_past_the_limit(full):
    r = full
    pipe = r.pipeline(transaction=True)
    pipe.get("a").set("b", "2")
    with pytest.raises(redis.ResponseError, match="EXECABORT|command not allowed when used memory"):
        pipe.execute()
    assert not r.exists("b")


def test_scripts_past_the_limit(full):
    r = full
    with pytest.raises(redis.exceptions.OutOfMemoryError, match=REFUSED):
        r.eval("return redis.call('set', 'x', 'y')", 1, "x")
    assert r.eval("local t = redis.pcall('set', 'x', 'y') return t['err']", 1, "x") == \
        OOM.encode()
    with pytest.raises(redis.exceptions.OutOfMemoryError, match="^allow-oom flag is not set"):
        r.eval("#!lua\nreturn 1", 0)
    assert r.eval("#!lua flags=no-writes\nreturn redis.call('get', 'a')", 0) == b"1"
    assert r.eval("#!lua flags=allow-oom\nreturn redis.call('set', 'x', 'y')", 1, "x") == \
        b"OK"
    assert r.get("x") == b"y"
    # Only a script's first write is refused: after one, stopping would leave half a change.
    assert r.eval("redis.call('del', 'x') return redis.call('set', 'x', 'z')", 1, "x") == \
        b"OK"


def test_sql_that_grows_is_refused(full):
    r = full
    for words in (["INSERT", "INTO", "t", "VALUES", "(2,'bob')"],
                  ["SQL", "INSERT INTO t VALUES (2, 'bob')"],
                  ["UPDATE", "t", "SET", "name='x'", "WHERE", "id=1"],
                  ["CREATE", "INDEX", "t_name", "ON", "t", "(name)"]):
        with pytest.raises(redis.exceptions.OutOfMemoryError, match=REFUSED):
            r.execute_command(*words)
    assert r.execute_command("SQL", "SELECT * FROM t") == [[b"id", b"name"], [1, b"ann"]]
    assert r.execute_command("DELETE", "FROM", "t", "WHERE", "id=1") == 1


def test_in_process_api(db):
    db.execute("CONFIG", "SET", "maxmemory", "1")
    with pytest.raises(AlchemyError, match="^OOM"):
        db.execute("SET", "a", "1")
    with pytest.raises(AlchemyError, match="^OOM"):
        db.sql("CREATE TABLE t (id INT PRIMARY KEY)")
    db.execute("CONFIG", "SET", "maxmemory", "0")
    db.sql("CREATE TABLE t (id INT PRIMARY KEY)")
    assert db.sql("INSERT INTO t VALUES (?)", 1) == 1


def test_log_replay_is_never_refused(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        r.set("a", "1")
        r.config_set("maxmemory", 1)
        proc.stop()
        (tmp_path / "alchemy.conf").write_text(
            (tmp_path / "alchemy.conf").read_text() + "maxmemory 1\n")
        proc.start()
        r = proc.client()
        assert r.config_get("maxmemory") == {"maxmemory": "1"}
        assert r.get("a") == b"1"
    finally:
        proc.stop()
