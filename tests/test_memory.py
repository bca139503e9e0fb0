"""MEMORY USAGE for every type, and the MEMORY container's errors."""

import pytest
import redis


def test_memory_usage_grows_with_the_value(r):
    r.set("s", "x")
    r.set("big", "x" * 10_000)
    assert 0 < r.memory_usage("s") < r.memory_usage("big")
    r.rpush("l", *range(100))
    r.hset("h", mapping={f"f{i}": i for i in range(100)})
    r.sadd("set", *range(100))
    r.zadd("z", {f"m{i}": i for i in range(100)})
    for key in ("l", "h", "set", "z"):
        assert r.memory_usage(key) > 1000
        assert r.memory_usage(key, samples=0) > 1000
    r.execute_command("SQL", "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
    r.execute_command("SQL", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    assert r.memory_usage("t") > 0
    assert r.memory_usage("nope") is None


def test_memory_errors(r):
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("MEMORY", "USAGE", "k", "SAMPLES")
    with pytest.raises(redis.ResponseError, match="unknown subcommand"):
        r.execute_command("MEMORY", "WHAT")
    assert r.execute_command("MEMORY", "HELP")[0].startswith(b"MEMORY <subcommand>")
