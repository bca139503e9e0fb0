"""Hash commands through redis-py (RESP2 and RESP3) and redis-cli, against Redis 7.0's replies."""

import pytest
import redis

LONG_MIN = -2**63


@pytest.fixture(params=["r", "r3"])
def c(request):
    """Each test runs once over RESP2 and once over RESP3."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def limits(r):
    """Small encoding limits for the test, restored afterwards."""
    names = ("hash-max-listpack-entries", "hash-max-listpack-value")
    saved = {name: r.config_get(name)[name] for name in names}
    r.config_set("hash-max-listpack-entries", 4)
    r.config_set("hash-max-listpack-value", 8)
    yield
    for name, value in saved.items():
        r.config_set(name, value)


def error_of(call, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        call(*args)
    return str(info.value)


# -- setting and reading fields ---------------------------------------------------------

def test_hset_hget_hlen(c):
    assert c.hset("h", mapping={"a": 1, "b": "two"}) == 2
    assert c.hset("h", mapping={"b": 2, "c": 3}) == 1  # b only updated
    assert c.execute_command("HSET", "h", "d", "x", "d", "y") == 1
    assert c.hget("h", "b") == b"2"
    assert c.hget("h", "d") == b"y"
    assert c.hget("h", "nope") is None
    assert c.hget("nokey", "a") is None
    assert c.hlen("h") == 4
    assert c.hlen("nokey") == 0
    assert c.type("h") == b"hash"


def test_hsetnx(c):
    assert c.hsetnx("h", "a", "1") == 1
    assert c.hsetnx("h", "a", "2") == 0
    assert c.hget("h", "a") == b"1"


def test_hmset_hmget(c):
    assert c.execute_command("HMSET", "h", "a", "1", "b", "2") in (b"OK", "OK", True)
    assert c.hmget("h", ["a", "nope", "b"]) == [b"1", None, b"2"]
    assert c.hmget("nokey", ["a", "b"]) == [None, None]


def test_hdel_removes_fields_and_then_the_key(c):
    c.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert c.hdel("h", "a", "nope") == 1
    assert c.hdel("h", "b", "c", "b") == 2
    assert c.exists("h") == 0
    assert c.hdel("h", "a") == 0
    assert c.hdel("nokey", "a") == 0


def test_hstrlen_hexists(c):
    c.hset("h", mapping={"a": "hello", "e": "", "n": "-9223372036854775808"})
    assert c.hstrlen("h", "a") == 5
    assert c.hstrlen("h", "e") == 0
    assert c.hstrlen("h", "n") == 20
    assert c.hstrlen("h", "nope") == 0
    assert c.hstrlen("nokey", "a") == 0
    assert c.hexists("h", "a") in (1, True)
    assert c.hexists("h", "nope") in (0, False)
    assert c.hexists("nokey", "a") in (0, False)


def test_hkeys_hvals_hgetall(c):
    c.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert sorted(c.hkeys("h")) == [b"a", b"b", b"c"]
    assert sorted(c.hvals("h")) == [b"1", b"2", b"3"]
    assert c.hgetall("h") == {b"a": b"1", b"b": b"2", b"c": b"3"}
    assert c.hkeys("nokey") == []
    assert c.hvals("nokey") == []
    assert c.hgetall("nokey") == {}


def test_binary_fields_and_values(c):
    field, value = b"\x00\xff\r\n", b"\x01\x00" * 100
    c.hset("h", field, value)
    assert c.hget("h", field) == value
    assert c.hgetall("h") == {field: value}


# -- counters ---------------------------------------------------------------------------

def test_hincrby(c):
    assert c.hincrby("h", "n", 5) == 5
    assert c.hincrby("h", "n", -7) == -2
    assert c.hget("h", "n") == b"-2"
    c.hset("h", "big", 2**63 - 2)
    assert c.hincrby("h", "big", 1) == 2**63 - 1


def test_hincrby_errors(c):
    c.hset("h", mapping={"s": "abc", "sp": " 1", "max": 2**63 - 1, "min": LONG_MIN})
    assert error_of(c.hincrby, "h", "s", 1) == "hash value is not an integer"
    assert error_of(c.hincrby, "h", "sp", 1) == "hash value is not an integer"
    assert error_of(c.hincrby, "h", "n", "x") == "value is not an integer or out of range"
    assert error_of(c.hincrby, "h", "n", "1.5") == "value is not an integer or out of range"
    assert error_of(c.hincrby, "h", "max", 1) == "increment or decrement would overflow"
    assert error_of(c.hincrby, "h", "min", -1) == "increment or decrement would overflow"
    assert c.hget("h", "max") == str(2**63 - 1).encode()


def incrbyfloat(c, key: str, field: str, by: str) -> bytes:
    """HINCRBYFLOAT's result as stored (redis-py turns the reply into a float)."""
    reply = c.hincrbyfloat(key, field, by)
    stored = c.hget(key, field)
    assert reply == float(stored)
    return stored


def test_hincrbyfloat_prints_like_redis_long_doubles(c):
    c.hset("h", "f", "10.50")
    assert incrbyfloat(c, "h", "f", "0.1") == b"10.6"
    assert incrbyfloat(c, "h", "f", "-5") == b"5.6"
    c.hset("h", "g", "5.0e3")
    assert incrbyfloat(c, "h", "g", "2.0e2") == b"5200"
    # Long doubles: 0.1 + 0.2 prints as 0.3, not 0.30000000000000004.
    incrbyfloat(c, "h", "x", "0.1")
    assert incrbyfloat(c, "h", "x", "0.2") == b"0.3"
    assert incrbyfloat(c, "h", "y", "1e-20") == b"0"
    assert incrbyfloat(c, "h", "z", "0x10") == b"16"
    assert incrbyfloat(c, "h", "i", "17179869184") == b"17179869184"
    assert incrbyfloat(c, "h", "j", "-1.5") == b"-1.5"


def test_hincrbyfloat_reply_text(server, r):
    r.hset("h", "x", "0.1")
    assert server.cli("HINCRBYFLOAT", "h", "x", "0.2") == "0.3\n"
    # The long double nearest 1e30, printed in full as Redis 7.0 prints it.
    assert server.cli("HINCRBYFLOAT", "h", "y", "1e30") == "1000000000000000000024696061952\n"
    assert server.cli("HINCRBYFLOAT", "h", "z", "1.1e21") == "1100000000000000000000\n"


def test_hincrbyfloat_errors(c):
    c.hset("h", mapping={"s": "abc", "sp": "11 ", "nul": b"1\x002", "inf": "inf",
                         "big": "1.1e4932"})
    assert error_of(c.hincrbyfloat, "h", "s", 1) == "hash value is not a float"
    assert error_of(c.hincrbyfloat, "h", "sp", 1) == "hash value is not a float"
    assert error_of(c.hincrbyfloat, "h", "nul", 1) == "hash value is not a float"
    assert error_of(c.hincrbyfloat, "h", "n", "abc") == "value is not a valid float"
    assert error_of(c.hincrbyfloat, "h", "n", "nan") == "value is not a valid float"
    assert error_of(c.hincrbyfloat, "h", "n", "1_0") == "value is not a valid float"
    assert error_of(c.hincrbyfloat, "h", "n", "inf") == "value is NaN or Infinity"
    assert error_of(c.hincrbyfloat, "h", "n", "-Infinity") == "value is NaN or Infinity"
    assert error_of(c.hincrbyfloat, "h", "inf", 1) == "increment would produce NaN or Infinity"
    assert error_of(c.hincrbyfloat, "h", "big", "1e4932") == \
        "increment would produce NaN or Infinity"
    assert c.hexists("h", "n") in (0, False)
    # The increment is checked before the key's type, as in Redis.
    c.set("str", "x")
    assert error_of(c.hincrbyfloat, "str", "f", "inf") == "value is NaN or Infinity"


# -- random fields ----------------------------------------------------------------------

def test_hrandfield_single(c):
    c.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    seen = {c.hrandfield("h") for _ in range(100)}
    assert seen == {b"a", b"b", b"c"}
    assert c.hrandfield("nokey") is None


def test_hrandfield_count(c):
    fields = {f"f{i}".encode(): str(i).encode() for i in range(20)}
    c.hset("h", mapping=fields)
    some = c.hrandfield("h", 5)
    assert len(some) == 5 and len(set(some)) == 5 and set(some) <= set(fields)
    assert sorted(c.hrandfield("h", 100)) == sorted(fields)
    repeats = c.hrandfield("h", -200)
    assert len(repeats) == 200 and set(repeats) <= set(fields)
    assert len(set(repeats)) < 200
    assert c.hrandfield("h", 0) == []
    assert c.hrandfield("nokey", 3) == []
    assert c.hrandfield("nokey", -3, withvalues=True) == []


def test_hrandfield_withvalues(c):
    fields = {f"f{i}".encode(): str(i).encode() for i in range(10)}
    c.hset("h", mapping=fields)
    for count in (3, 50, -30):
        reply = c.hrandfield("h", count, withvalues=True)
        # redis-py presents both protocols alike: [[field, value], ...] or a flat list.
        pairs = reply if reply and isinstance(reply[0], list) else \
            [list(p) for p in zip(reply[::2], reply[1::2])]
        assert len(pairs) == min(abs(count), 10) if count > 0 else len(pairs) == 30
        assert all(fields[f] == v for f, v in pairs)


def test_hrandfield_wire_shapes(server, r):
    r.hset("h", "a", "1")
    assert server.cli("--no-raw", "HRANDFIELD", "h", "1", "WITHVALUES") == '1) "a"\n2) "1"\n'
    assert server.cli("-3", "--no-raw", "HRANDFIELD", "h", "-2", "WITHVALUES") == \
        '1) 1) "a"\n   2) "1"\n2) 1) "a"\n   2) "1"\n'


def test_hrandfield_errors(c):
    c.hset("h", "a", "1")
    assert error_of(c.execute_command, "HRANDFIELD", "h", "1", "WITHVALUE") == "syntax error"
    assert error_of(c.execute_command, "HRANDFIELD", "h", "1", "WITHVALUES", "x") == \
        "syntax error"
    assert error_of(c.execute_command, "HRANDFIELD", "h", "x") == \
        "value is not an integer or out of range"
    assert error_of(c.execute_command, "HRANDFIELD", "h", str(LONG_MIN)) == (
        "value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert error_of(c.execute_command, "HRANDFIELD", "h", "-9223372036854770000",
                    "WITHVALUES") == "value is out of range"
    assert error_of(c.execute_command, "HRANDFIELD", "nokey", "4611686018427387904",
                    "WITHVALUES") == "value is out of range"


# -- scanning ---------------------------------------------------------------------------

def test_hscan_small_hash_comes_whole(c):
    c.hset("h", mapping={"a": 1, "b": 2, "ab": 3})
    assert c.hscan("h", 0, count=1) == (0, {b"a": b"1", b"b": b"2", b"ab": b"3"})
    assert c.hscan("h", 0, match="a*") == (0, {b"a": b"1", b"ab": b"3"})
    assert c.hscan("nokey", 0) == (0, {})


def test_hscan_large_hash_iterates_everything(c):
    fields = {f"field:{i}".encode(): str(i).encode() for i in range(1000)}
    c.hset("h", mapping=fields)
    cursor, batch = c.hscan("h", 0, count=100)
    assert cursor != 0 and 0 < len(batch) < 1000
    assert dict(c.hscan_iter("h", count=70)) == fields
    matched = dict(c.hscan_iter("h", match="field:1??"))
    assert matched == {f: v for f, v in fields.items() if len(f) == 9 and f[6:7] == b"1"}


def test_hscan_skips_fields_deleted_meanwhile(c):
    c.hset("h", mapping={f"f{i}": i for i in range(1000)})
    cursor, first = c.hscan("h", 0, count=10)
    c.hdel("h", *[f"f{i}" for i in range(1000) if f"f{i}".encode() not in first])
    assert first
    seen = dict(first)
    while cursor:
        cursor, batch = c.hscan("h", cursor, count=50)
        seen.update(batch)
    assert seen == dict(first)


def test_hscan_errors(c):
    c.hset("h", "a", "1")
    assert error_of(c.execute_command, "HSCAN", "h", "x") == "invalid cursor"
    assert error_of(c.execute_command, "HSCAN", "h", "0", "COUNT", "0") == "syntax error"
    assert error_of(c.execute_command, "HSCAN", "h", "0", "COUNT") == "syntax error"
    assert error_of(c.execute_command, "HSCAN", "h", "0", "TYPE", "hash") == "syntax error"
    # Options are not looked at when the key is missing, as in Redis.
    assert c.execute_command("HSCAN", "nokey", "0", "COUNT", "0") in ([b"0", []], (0, {}))


# -- encodings --------------------------------------------------------------------------

def test_encoding_follows_redis_7_0(r, limits):
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.object("encoding", "h") == b"listpack"
    r.hset("h", "e", 5)
    assert r.object("encoding", "h") == b"hashtable"
    r.hdel("h", "a", "b", "c")
    assert r.object("encoding", "h") == b"hashtable"  # never converted back
    r.hset("long_value", "a", "123456789")
    assert r.object("encoding", "long_value") == b"hashtable"
    r.hset("long_field", "123456789", "a")
    assert r.object("encoding", "long_field") == b"hashtable"
    r.hset("ok", "12345678", "12345678")
    assert r.object("encoding", "ok") == b"listpack"
    r.hset("f", "tmp", 0)
    r.hincrbyfloat("f", "tmp", "0.000005")
    assert r.object("encoding", "f") == b"listpack"
    r.hincrbyfloat("f", "tmp", "0.0000005")  # "0.0000055": 9 bytes
    assert r.object("encoding", "f") == b"hashtable"
    r.hincrby("g", "abcdefghi", 1)
    assert r.object("encoding", "g") == b"hashtable"


def test_copy_keeps_encoding_and_is_independent(r, limits):
    r.hset("h", mapping={str(i): i for i in range(6)})
    r.hdel("h", "0", "1", "2")
    assert r.copy("h", "h2") in (1, True)
    assert r.object("encoding", "h2") == b"hashtable"
    r.hset("h2", "new", 1)
    assert r.hexists("h", "new") in (0, False)


# -- errors shared by every command -----------------------------------------------------

HASH_COMMANDS = [
    ("HSET", "k", "f", "v"), ("HSETNX", "k", "f", "v"), ("HGET", "k", "f"),
    ("HMGET", "k", "f"), ("HMSET", "k", "f", "v"), ("HDEL", "k", "f"), ("HLEN", "k"),
    ("HSTRLEN", "k", "f"), ("HEXISTS", "k", "f"), ("HKEYS", "k"), ("HVALS", "k"),
    ("HGETALL", "k"), ("HINCRBY", "k", "f", "1"), ("HINCRBYFLOAT", "k", "f", "1"),
    ("HRANDFIELD", "k"), ("HRANDFIELD", "k", "0"), ("HRANDFIELD", "k", "2", "WITHVALUES"),
    ("HSCAN", "k", "0"),
]


@pytest.mark.parametrize("args", HASH_COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:]))
def test_wrongtype(c, args):
    c.set("k", "string")
    assert error_of(c.execute_command, *args) == \
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert c.get("k") == b"string"


@pytest.mark.parametrize("args", [
    ("HSET", "k"), ("HSET", "k", "f"), ("HSET", "k", "f", "v", "g"), ("HMSET", "k", "f"),
    ("HMSET", "k", "f", "v", "g"), ("HSETNX", "k", "f"), ("HGET", "k"), ("HMGET", "k"),
    ("HDEL", "k"), ("HLEN",), ("HSTRLEN", "k"), ("HEXISTS", "k", "f", "g"), ("HKEYS",),
    ("HVALS", "k", "x"), ("HGETALL",), ("HINCRBY", "k", "f"), ("HINCRBYFLOAT", "k"),
    ("HRANDFIELD",), ("HSCAN", "k"),
], ids=lambda a: " ".join(a))
def test_wrong_arity(c, args):
    name = args[0].lower()
    assert error_of(c.execute_command, *args) == \
        f"wrong number of arguments for '{name}' command"


# -- writes are seen by WATCH, and only real writes --------------------------------------

def test_watch_sees_hash_writes(server, r):
    r.hset("h", "a", "1")
    other = server.client()
    with r.pipeline() as pipe:
        pipe.watch("h")
        other.hset("h", "a", "1")  # same value, still a write in Redis
        pipe.multi()
        pipe.hget("h", "a")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    with r.pipeline() as pipe:
        pipe.watch("h")
        other.hdel("h", "nope")  # deletes nothing: not a write
        other.hsetnx("h", "a", "2")  # field exists: not a write
        pipe.multi()
        pipe.hget("h", "a")
        assert pipe.execute() == [b"1"]
    other.close()


# -- redis-cli --------------------------------------------------------------------------

def test_redis_cli(server, r):
    assert server.cli("HSET", "user:1", "name", "Ada", "born", "1815") == "2\n"
    assert server.cli("HINCRBY", "user:1", "born", "1") == "1816\n"
    assert server.cli("HGET", "user:1", "name") == "Ada\n"
    assert server.cli("-3", "--no-raw", "HGETALL", "user:1") == \
        '1# "name" => "Ada"\n2# "born" => "1816"\n'
    assert server.cli("--no-raw", "HGETALL", "user:1") == \
        '1) "name"\n2) "Ada"\n3) "born"\n4) "1816"\n'
    assert server.cli("-3", "--no-raw", "HGETALL", "nokey") == "(empty hash)\n"
    assert server.cli("HINCRBY", "user:1", "name", "1") == \
        "ERR hash value is not an integer\n\n"


def test_default_encoding_limits(r):
    r.hset("h", mapping={i: i for i in range(512)})
    assert r.object("encoding", "h") == b"listpack"
    r.hset("h", "one more", 1)
    assert r.object("encoding", "h") == b"hashtable"
    r.hset("v", "f", "x" * 64)
    assert r.object("encoding", "v") == b"listpack"
    r.hset("v", "g", "x" * 65)
    assert r.object("encoding", "v") == b"hashtable"
    assert r.config_get("hash-max-ziplist-entries") == {"hash-max-ziplist-entries": "512"}
