"""Keyspace commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, KEYS, SCAN, RENAME, RENAMENX,
RANDOMKEY, COPY, MOVE, SWAPDB, OBJECT, through redis-py (RESP2/RESP3), redis-cli and the
in-process API."""

import random
import time

import pytest
import redis

import alchemy


def error_of(client, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        client.execute_command(*args)
    return str(info.value)


def inprocess_error(db, *args) -> str:
    with pytest.raises(alchemy.AlchemyError) as info:
        db.execute(*args)
    return info.value.message


# -- DEL, UNLINK, EXISTS, TOUCH, TYPE ---------------------------------------------------

@pytest.mark.parametrize("name", ["DEL", "UNLINK"])
def test_delete_counts_keys_removed(r, name):
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.execute_command(name, "a", "b", "a", "missing") == 2
    assert r.keys("*") == [b"c"]
    assert r.execute_command(name, "a") == 0
    assert error_of(r, name) == f"wrong number of arguments for '{name.lower()}' command"


def test_exists_counts_repeated_keys(r):
    r.set("a", 1)
    assert r.exists("a", "a", "b") == 2
    assert r.exists("b") == 0
    assert error_of(r, "EXISTS") == "wrong number of arguments for 'exists' command"


def test_touch_counts_existing_keys(r):
    r.mset({"a": 1, "b": 2})
    assert r.touch("a", "b", "a", "missing") == 3
    assert error_of(r, "TOUCH") == "wrong number of arguments for 'touch' command"


def test_type(r, r3):
    r.set("s", "v")
    assert r.type("s") == b"string"
    assert r.type("missing") == b"none"
    assert r3.type("s") == b"string"
    assert error_of(r, "TYPE", "a", "b") == "wrong number of arguments for 'type' command"


# -- KEYS -------------------------------------------------------------------------------

GLOB_KEYS = [b"hello", b"hallo", b"hillo", b"hxllo", b"hllo", b"heeello", b"h*llo",
             b"h-llo", b"h]llo", b"h\\llo"]


@pytest.mark.parametrize("pattern, expected", [
    (b"h?llo", {b"hello", b"hallo", b"hillo", b"hxllo", b"h*llo", b"h-llo", b"h]llo",
                b"h\\llo"}),
    (b"h*llo", set(GLOB_KEYS)),
    (b"h[ae]llo", {b"hello", b"hallo"}),
    (b"h[^e]llo", {b"hallo", b"hillo", b"hxllo", b"h*llo", b"h-llo", b"h]llo", b"h\\llo"}),
    (b"h[a-b]llo", {b"hallo"}),
    (b"h[b-a]llo", {b"hallo"}),  # reversed ranges are swapped
    (b"h\\*llo", {b"h*llo"}),
    (b"h[\\]]llo", {b"h]llo"}),
    (b"h[\\\\]llo", {b"h\\llo"}),
    (b"h[-]llo", {b"h-llo"}),
    (b"h[]llo", set()),  # an empty class matches nothing
    (b"h[a-]llo", set()),  # Redis reads `a-]` as a range, so the class never closes
    (b"h*", set(GLOB_KEYS)),
    (b"*o", set(GLOB_KEYS)),
    (b"hello", {b"hello"}),
    (b"nomatch*", set()),
])
def test_keys_glob(r, pattern, expected):
    for key in GLOB_KEYS:
        r.set(key, 1)
    assert set(r.keys(pattern)) == expected


def test_keys_star_and_empty_key(r):
    r.set("", "empty")
    r.set("a", 1)
    assert sorted(r.keys("*")) == [b"", b"a"]
    assert r.keys("**") == [b"a"]  # a non-empty pattern never matches the empty key


def test_keys_errors(r):
    assert error_of(r, "KEYS") == "wrong number of arguments for 'keys' command"
    assert error_of(r, "KEYS", "*", "x") == "wrong number of arguments for 'keys' command"


def test_keys_cli(server, r):
    r.mset({"user:1": 1, "user:2": 2, "order:1": 3})
    out = server.cli("KEYS", "user:*")
    assert sorted(out.split()) == ["user:1", "user:2"]


# -- SCAN -------------------------------------------------------------------------------

def full_scan(client, **kwargs) -> list:
    cursor, seen = 0, []
    while True:
        cursor, batch = client.scan(cursor, **kwargs)
        seen.extend(batch)
        if cursor == 0:
            return seen


def test_scan_returns_every_key_once(r):
    keys = {f"key:{i}".encode() for i in range(1000)}
    r.mset({k: 1 for k in keys})
    seen = full_scan(r, count=37)
    assert len(seen) == len(keys)
    assert set(seen) == keys


def test_scan_small_keyspace_in_one_call(r):
    r.mset({"a": 1, "b": 2})
    cursor, keys = r.scan(0)
    assert cursor == 0 and sorted(keys) == [b"a", b"b"]


def test_scan_match_and_type(r):
    r.mset({f"user:{i}": i for i in range(50)})
    r.mset({f"item:{i}": i for i in range(50)})
    assert len(full_scan(r, match="user:*", count=10)) == 50
    assert set(full_scan(r, match="user:1?")) == {f"user:1{i}".encode() for i in range(10)}
    assert len(full_scan(r, _type="string")) == 100
    assert len(full_scan(r, _type="STRING", match="item:4*")) == 11
    assert full_scan(r, _type="list") == []
    assert full_scan(r, _type="nosuchtype") == []


def test_scan_never_misses_keys_present_throughout(r):
    stable = {f"stable:{i}".encode() for i in range(500)}
    r.mset({k: 1 for k in stable})
    rng = random.Random(5)
    cursor, seen, added = 0, set(), 0
    while True:
        cursor, batch = r.scan(cursor, count=20)
        seen.update(batch)
        # Churn between calls: add new keys and delete some transient ones.
        for _ in range(10):
            r.set(f"new:{added}", 1)
            added += 1
        r.delete(*[f"new:{rng.randrange(added)}" for _ in range(5)])
        if cursor == 0:
            break
    assert stable <= seen
    assert all(k in stable or k.startswith(b"new:") for k in seen)


def test_scan_skips_keys_deleted_since_snapshot(r):
    r.mset({f"k{i}": i for i in range(100)})
    cursor, first = r.scan(0, count=10)
    assert cursor != 0
    remaining = {f"k{i}".encode() for i in range(100)} - set(first)
    gone = set(list(remaining)[:40])
    r.delete(*gone)
    rest = []
    while cursor != 0:
        cursor, batch = r.scan(cursor, count=10)
        rest.extend(batch)
    assert not gone & set(rest)
    assert set(rest) == remaining - gone


def test_scan_errors(r):
    assert error_of(r, "SCAN") == "wrong number of arguments for 'scan' command"
    assert error_of(r, "SCAN", "abc") == "invalid cursor"
    assert error_of(r, "SCAN", " 0") == "invalid cursor"
    assert error_of(r, "SCAN", "18446744073709551616") == "invalid cursor"
    assert error_of(r, "SCAN", "abc", "COUNT", "0") == "invalid cursor"  # cursor first
    assert error_of(r, "SCAN", "0", "COUNT", "0") == "syntax error"
    assert error_of(r, "SCAN", "0", "COUNT", "-1") == "syntax error"
    assert error_of(r, "SCAN", "0", "COUNT", "abc") == \
        "value is not an integer or out of range"
    assert error_of(r, "SCAN", "0", "COUNT") == "syntax error"
    assert error_of(r, "SCAN", "0", "MATCH") == "syntax error"
    assert error_of(r, "SCAN", "0", "TYPE") == "syntax error"
    assert error_of(r, "SCAN", "0", "FOO", "bar") == "syntax error"


def test_scan_cursor_forms(r):
    r.set("a", 1)
    # strtoul-style: a sign is accepted and "-1" wraps around.
    assert r.execute_command("SCAN", "+0") == (0, [b"a"])
    assert r.execute_command("SCAN", "-0") == (0, [b"a"])
    assert r.execute_command("SCAN", "-1") == (0, [])  # past the end


def test_scan_resp3(r3):
    r3.mset({"a": 1, "b": 2})
    cursor, keys = r3.scan(0, match="a")
    assert cursor == 0 and keys == [b"a"]


def test_scan_cli(server, r):
    r.mset({f"k{i}": i for i in range(30)})
    out = server.cli("--scan", "--pattern", "k1*")
    assert sorted(out.split()) == sorted(["k1"] + [f"k1{i}" for i in range(10)])


# -- RENAME, RENAMENX -------------------------------------------------------------------

def test_rename_moves_value_and_ttl(r):
    r.set("src", "v", ex=100)
    r.set("dst", "old")
    assert r.rename("src", "dst") is True
    assert r.get("dst") == b"v" and r.exists("src") == 0
    assert 98 <= r.ttl("dst") <= 100


def test_rename_drops_destination_ttl(r):
    r.set("src", "v")
    r.set("dst", "old", ex=100)
    r.rename("src", "dst")
    assert r.ttl("dst") == -1


def test_rename_same_key(r):
    r.set("k", "v", ex=100)
    assert r.rename("k", "k") is True
    assert r.get("k") == b"v" and r.ttl("k") > 0
    assert r.renamenx("k", "k") is False
    assert error_of(r, "RENAME", "missing", "missing") == "no such key"
    assert error_of(r, "RENAMENX", "missing", "missing") == "no such key"


def test_renamenx(r):
    r.mset({"a": 1, "b": 2})
    assert r.renamenx("a", "b") is False
    assert r.get("a") == b"1"
    assert r.renamenx("a", "c") is True
    assert r.get("c") == b"1" and r.exists("a") == 0


def test_rename_errors(r):
    assert error_of(r, "RENAME", "missing", "x") == "no such key"
    assert error_of(r, "RENAME", "a") == "wrong number of arguments for 'rename' command"
    assert error_of(r, "RENAMENX", "a") == "wrong number of arguments for 'renamenx' command"


# -- RANDOMKEY --------------------------------------------------------------------------

def test_randomkey(r, r3):
    assert r.randomkey() is None
    assert r3.randomkey() is None
    r.mset({"a": 1, "b": 2, "c": 3})
    assert {r.randomkey() for _ in range(50)} == {b"a", b"b", b"c"}
    assert error_of(r, "RANDOMKEY", "x") == "wrong number of arguments for 'randomkey' command"


def test_randomkey_skips_expired(db):
    import time
    db.execute("SET", "live", "1")
    for i in range(20):
        db.execute("SET", f"gone{i}", "1", "PX", "1")
    time.sleep(0.01)
    assert all(db.execute("RANDOMKEY") == b"live" for _ in range(10))
    db.execute("DEL", "live")
    assert db.execute("RANDOMKEY") is None


# -- COPY -------------------------------------------------------------------------------

def test_copy_same_db(r):
    r.set("a", "v", ex=100)
    assert r.copy("a", "b") is True
    assert r.get("b") == b"v" and 98 <= r.ttl("b") <= 100
    r.set("c", "other")
    assert r.copy("a", "c") is False
    assert r.get("c") == b"other"
    assert r.copy("a", "c", replace=True) is True
    assert r.get("c") == b"v"
    assert r.copy("missing", "x") is False


def test_copy_replace_clears_destination_ttl(r):
    r.set("a", "v")
    r.set("b", "old", ex=100)
    assert r.copy("a", "b", replace=True) is True
    assert r.ttl("b") == -1


def test_copy_is_independent(r):
    r.set("a", "x")
    r.append("a", "y")
    r.copy("a", "b")
    r.append("a", "z")
    assert r.get("b") == b"xy" and r.get("a") == b"xyz"


def test_copy_to_other_db(server, r):
    other = server.client(db=3)
    r.set("a", "v", px=100000)
    assert r.copy("a", "a", destination_db=3) is True
    assert other.get("a") == b"v" and other.pttl("a") > 99000
    assert r.copy("a", "a", destination_db=3) is False
    assert r.execute_command("COPY", "a", "a", "DB", "3", "REPLACE") == 1
    other.close()


def test_copy_errors(r):
    r.set("a", 1)
    assert error_of(r, "COPY", "a", "a") == "source and destination objects are the same"
    assert error_of(r, "COPY", "a", "a", "DB", "0") == "source and destination objects are the same"
    assert error_of(r, "COPY", "a", "b", "DB", "x") == "value is not an integer or out of range"
    assert error_of(r, "COPY", "a", "b", "DB", "4294967296") == \
        "value is out of range, value must between -2147483648 and 2147483647"
    assert error_of(r, "COPY", "a", "b", "DB", "16") == "DB index is out of range"
    assert error_of(r, "COPY", "a", "b", "DB", "-1") == "DB index is out of range"
    assert error_of(r, "COPY", "a", "a", "DB", "99") == "DB index is out of range"
    assert error_of(r, "COPY", "a", "b", "DB") == "syntax error"
    assert error_of(r, "COPY", "a", "b", "FOO") == "syntax error"
    assert error_of(r, "COPY", "a") == "wrong number of arguments for 'copy' command"


def test_copy_to_other_db_aborts_watch(server, r):
    watcher = server.client(db=2)
    with watcher.pipeline() as pipe:
        pipe.watch("k")
        r.set("k", "v")
        r.copy("k", "k", destination_db=2)
        pipe.multi()
        pipe.get("k")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    watcher.close()


# -- MOVE -------------------------------------------------------------------------------

def test_move(server, r):
    other = server.client(db=1)
    r.set("k", "v", ex=100)
    assert r.move("k", 1) is True
    assert r.exists("k") == 0
    assert other.get("k") == b"v" and 98 <= other.ttl("k") <= 100
    r.set("k", "new")
    assert r.move("k", 1) is False  # already there
    assert r.get("k") == b"new" and other.get("k") == b"v"
    assert r.move("missing", 1) is False
    other.close()


def test_move_errors(r):
    r.set("k", 1)
    assert error_of(r, "MOVE", "k", "0") == "source and destination objects are the same"
    assert error_of(r, "MOVE", "missing", "0") == "source and destination objects are the same"
    assert error_of(r, "MOVE", "k", "x") == "value is not an integer or out of range"
    assert error_of(r, "MOVE", "k", "16") == "DB index is out of range"
    assert error_of(r, "MOVE", "k", "-1") == "DB index is out of range"
    assert error_of(r, "MOVE", "k") == "wrong number of arguments for 'move' command"


def test_move_aborts_watch_in_destination(server, r):
    watcher = server.client(db=1)
    with watcher.pipeline() as pipe:
        pipe.watch("k")
        r.set("k", "v")
        r.move("k", 1)
        pipe.multi()
        pipe.get("k")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    watcher.close()


# -- SWAPDB -----------------------------------------------------------------------------

def test_swapdb(server, r):
    other = server.client(db=1)
    r.set("zero", "0", ex=100)
    other.set("one", "1")
    assert r.swapdb(0, 1) is True
    assert r.keys("*") == [b"one"]
    assert other.keys("*") == [b"zero"] and other.ttl("zero") > 0
    assert r.swapdb(1, 1) is True
    assert r.swapdb(1, 0) is True
    assert r.get("zero") == b"0"
    other.close()


def test_swapdb_aborts_watch_on_existing_keys_only(server, r):
    watcher = server.client()
    r.execute_command("SELECT", "0")
    server.client(db=1).set("k", "v")
    with watcher.pipeline() as pipe, watcher.pipeline() as untouched:
        pipe.watch("k")  # absent in db 0, present in db 1: changes with the swap
        untouched.watch("nowhere")  # absent on both sides: Redis leaves it alone
        r.swapdb(0, 1)
        pipe.multi()
        pipe.get("k")
        with pytest.raises(redis.WatchError):
            pipe.execute()
        untouched.multi()
        untouched.get("nowhere")
        assert untouched.execute() == [None]
    watcher.close()


def test_swapdb_errors(r):
    assert error_of(r, "SWAPDB", "0", "x") == "invalid second DB index"
    assert error_of(r, "SWAPDB", "x", "0") == "invalid first DB index"
    assert error_of(r, "SWAPDB", "99", "x") == "invalid second DB index"
    assert error_of(r, "SWAPDB", "4294967296", "0") == "invalid first DB index"
    assert error_of(r, "SWAPDB", "0", "99") == "DB index is out of range"
    assert error_of(r, "SWAPDB", "-1", "0") == "DB index is out of range"
    assert error_of(r, "SWAPDB", "0", "1", "2") == "wrong number of arguments for 'swapdb' command"


# -- OBJECT -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, encoding", [
    ("1", b"int"), ("-9223372036854775808", b"int"), ("9223372036854775808", b"embstr"),
    ("01", b"embstr"), ("a" * 44, b"embstr"), ("a" * 45, b"raw"),
])
def test_object_encoding(r, value, encoding):
    r.set("k", value)
    assert r.object("encoding", "k") == encoding


def test_object_encoding_after_append_is_raw(r):
    r.set("k", "abc")
    r.append("k", "d")
    assert r.object("encoding", "k") == b"raw"


def test_object_refcount(r):
    r.set("shared", "9999")
    r.set("big", "10000")
    r.set("text", "hello")
    assert r.object("refcount", "shared") == 2147483647
    assert r.object("refcount", "big") == 1
    assert r.object("refcount", "text") == 1


def test_object_idletime_and_freq_under_default_policy(r):
    r.set("k", "v")
    assert r.object("idletime", "k") == 0
    assert error_of(r, "OBJECT", "FREQ", "k").startswith(
        "An LFU maxmemory policy is not selected, access frequency not tracked.")


def test_object_missing_key(r, r3):
    for sub in ("ENCODING", "REFCOUNT", "IDLETIME", "FREQ"):
        assert r.execute_command("OBJECT", sub, "missing") is None
        assert r3.execute_command("OBJECT", sub, "missing") is None


def test_object_help(r, r3):
    lines = r.execute_command("OBJECT", "HELP")
    assert lines[0] == b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert lines[-2:] == [b"HELP", b"    Prints this help."]
    assert len(lines) == 15
    assert len(r3.execute_command("OBJECT", "help")) == 15


def test_object_errors(r):
    assert error_of(r, "OBJECT") == "wrong number of arguments for 'object' command"
    assert error_of(r, "OBJECT", "ENCODING") == \
        "wrong number of arguments for 'object|encoding' command"
    assert error_of(r, "OBJECT", "encoding", "a", "b") == \
        "wrong number of arguments for 'object|encoding' command"
    assert error_of(r, "OBJECT", "HELP", "x") == \
        "wrong number of arguments for 'object|help' command"
    assert error_of(r, "OBJECT", "foo", "bar") == "unknown subcommand 'foo'. Try OBJECT HELP."


def test_object_cli(server, r):
    r.set("k", "12")
    assert server.cli("OBJECT", "ENCODING", "k").strip() == "int"


# -- in-process API ---------------------------------------------------------------------

def test_inprocess_keyspace(db):
    db.execute("SET", "a", "1")
    db.execute("SET", "b", "2")
    assert db.execute("EXISTS", "a", "b", "c") == 2
    assert db.execute("TYPE", "a") == "string"
    assert sorted(db.execute("KEYS", "*")) == [b"a", b"b"]
    assert db.execute("SCAN", "0", "MATCH", "a") == [b"0", [b"a"]]
    assert db.execute("RENAME", "a", "c") == "OK"
    assert db.execute("COPY", "c", "c", "DB", "5") == 1
    assert db.execute("MOVE", "b", "5") == 1
    assert db.execute("SWAPDB", "0", "5") == "OK"
    assert sorted(db.execute("KEYS", "*")) == [b"b", b"c"]
    assert db.execute("OBJECT", "ENCODING", "c") == b"int"
    assert db.execute("UNLINK", "b", "c") == 2
    assert db.execute("RANDOMKEY") is None
    assert inprocess_error(db, "RENAME", "nope", "x") == "ERR no such key"
    assert inprocess_error(db, "SCAN", "0", "COUNT", "0") == "ERR syntax error"


def test_keys_with_many_stars_does_not_backtrack_forever(r):
    # Redis's own regression: a nested-star pattern against a long run of one letter.
    r.set("a" * 3000, "v")
    start = time.monotonic()
    assert r.keys("a*" * 40 + "b") == []
    assert r.keys("a*a*a*" + "a" * 10) == [b"a" * 3000]
    assert time.monotonic() - start < 2


def test_keys_gives_up_past_a_thousand_nested_stars_as_redis(r):
    r.set("a" * 5000, 1)
    assert r.keys("*?" * 5000) == []
    assert r.keys("*?" * 10) == [b"a" * 5000]


def test_dump_restore_round_trips_every_type(r):
    r.flushall()
    r.set("s", b"\x00bin")
    r.rpush("l", "a", "b", "a")
    r.hset("h", mapping={"f": "v", "g": "w"})
    r.sadd("set", "x", "y")
    r.zadd("z", {"m": 1.5, "n": float("-inf")})
    for key in ("s", "l", "h", "set", "z"):
        payload = r.dump(key)
        assert r.restore(key + ":copy", 0, payload)
        assert r.type(key + ":copy") == r.type(key)
    assert r.get("s:copy") == b"\x00bin"
    assert r.lrange("l:copy", 0, -1) == [b"a", b"b", b"a"]
    assert r.hgetall("h:copy") == {b"f": b"v", b"g": b"w"}
    assert r.smembers("set:copy") == {b"x", b"y"}
    assert r.zrange("z:copy", 0, -1, withscores=True) == [(b"n", float("-inf")), (b"m", 1.5)]
    assert r.dump("missing") is None


def test_restore_options_and_refusals(r):
    r.flushall()
    r.set("k", "v")
    payload = r.dump("k")
    with pytest.raises(redis.ResponseError, match="BUSYKEY"):
        r.restore("k", 0, payload)
    assert r.restore("k", 5000, payload, replace=True)
    assert 0 < r.pttl("k") <= 5000
    with pytest.raises(redis.ResponseError, match="Invalid TTL"):
        r.restore("k2", -1, payload)
    for bad in (payload[:-1] + b"?", b"", b"garbage"):
        with pytest.raises(redis.ResponseError, match="checksum are wrong"):
            r.restore("k2", 0, bad)
    assert r.restore("gone", 1, payload, absttl=True)  # long expired: nothing created
    assert r.exists("gone", "k2") == 0
    assert r.get("k") == b"v"
