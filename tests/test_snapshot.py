"""Snapshot files: every type and encoding written and read back, by the server's SAVE and by
a forked writer's layout (strings and listpack hashes in one marshal walk); files of
the earlier format versions still load.

tests/snapshots/snapshot-v2.bin, -v3.bin and -v4.bin were written by the code of those versions
(v4 by a forked writer, so it has an M part) from the commands of `fill` below.
"""

import os
import time

import pytest

import alchemy
from alchemy.persistence import snapshot
from conftest import ROOT
from test_persistence import make_server, restart

DATA = os.path.join(ROOT, "tests", "snapshots")
AD_2100 = 4102444800000  # ms: a deadline that never comes during a test


def fill(db: alchemy.Database) -> None:
    x = db.execute
    x("SET", "s", "short")
    x("SET", "long", "L" * 5000)
    x("SET", "n", "12345")
    x("SETBIT", "bits", 7, 1)
    x("SET", "ttl-s", "v", "PXAT", AD_2100)
    x("RPUSH", "list", "a", "b", "c")
    x("HSET", "hash", "f1", "1", "f2", "2")
    x("HSET", "bighash", *[item for i in range(200) for item in (f"f{i}", f"v{i}")])
    x("HSET", "bighash", "long", "x" * 100)  # past hash-max-listpack-value
    x("HSET", "ttl-h", "f", "v")
    x("PEXPIREAT", "ttl-h", AD_2100)
    x("SADD", "intset", "1", "2", "3")
    x("SADD", "set", "x", "y", "z")
    x("ZADD", "zset", 1.5, "a", -2, "b")
    x("SELECT", 3)
    x("SET", "in3", "three")
    x("HSET", "h3", "a", "b")
    x("SELECT", 0)


def check(db: alchemy.Database) -> None:
    """What fill wrote, with encodings and deadlines."""
    x = db.execute
    assert x("GET", "s") == b"short" and x("GET", "long") == b"L" * 5000
    assert x("GET", "n") == b"12345" and x("GETBIT", "bits", 7) == 1
    assert x("PEXPIRETIME", "ttl-s") == AD_2100 and x("PEXPIRETIME", "ttl-h") == AD_2100
    assert x("LRANGE", "list", 0, -1) == [b"a", b"b", b"c"]
    assert x("HGETALL", "hash") == {b"f1": b"1", b"f2": b"2"}
    assert x("HGET", "bighash", "f199") == b"v199" and x("HLEN", "bighash") == 201
    assert x("HGETALL", "ttl-h") == {b"f": b"v"}
    assert x("SMEMBERS", "intset") == {b"1", b"2", b"3"}
    assert x("SMEMBERS", "set") == {b"x", b"y", b"z"}
    assert x("ZRANGE", "zset", 0, -1, "WITHSCORES") == [b"b", -2.0, b"a", 1.5]
    encodings = {key: x("OBJECT", "ENCODING", key) for key in
                 ("hash", "bighash", "ttl-h", "intset", "set", "zset")}
    assert encodings == {"hash": b"listpack", "bighash": b"hashtable", "ttl-h": b"listpack",
                         "intset": b"intset", "set": b"hashtable", "zset": b"listpack"}
    assert x("DBSIZE") == 12
    x("SELECT", 3)
    assert x("GET", "in3") == b"three" and x("HGETALL", "h3") == {b"a": b"b"}
    assert x("OBJECT", "ENCODING", "h3") == b"listpack"
    x("SELECT", 0)


def load(path: str) -> tuple[alchemy.Database, snapshot.Origin]:
    db = alchemy.Database()
    return db, snapshot.read(path, db.dbs)


@pytest.mark.parametrize("version", [2, 3, 4])
def test_files_of_earlier_versions_load(version):
    path = os.path.join(DATA, f"snapshot-v{version}.bin")
    with open(path, "rb") as f:
        assert f.read(18)[16:] == version.to_bytes(2, "little")
    db, origin = load(path)
    check(db)
    assert (origin.log_id, origin.log_offset, origin.created_ms) == (b"log", 7, 1000)


@pytest.mark.parametrize("owned", [False, True], ids=["save", "forked-writer"])
def test_round_trip_of_every_type(tmp_path, owned):
    db = alchemy.Database()
    fill(db)
    path = str(tmp_path / "dump.rdb")
    snapshot.write(db.dbs, path, snapshot.Origin(b"id", b"log", 7, 1000), owned)
    with open(path, "rb") as f:
        assert f.read(18)[16:] == snapshot.VERSION.to_bytes(2, "little")
    if owned:
        # What the writer left in the data is what its marshal walk took: the bytes
        # strings (not the bitmap, a bytearray) and the listpack hashes.
        assert set(db.dbs[0].data) == {b"s", b"long", b"n", b"ttl-s", b"hash", b"ttl-h"}
        assert set(db.dbs[3].data) == {b"in3", b"h3"}
    loaded, _ = load(path)
    check(loaded)


def test_hash_converted_then_shrunk_stays_hashtable_through_a_forked_writer(tmp_path):
    db = alchemy.Database()
    db.execute("HSET", "h", "g", "small", "f", "v" * 100)  # past hash-max-listpack-value
    db.execute("HDEL", "h", "f")
    db.execute("HSET", "expired", "f", "v")
    db.execute("PEXPIREAT", "expired", int(time.time() * 1000) + 50)
    path = str(tmp_path / "dump.rdb")
    snapshot.write(db.dbs, path, snapshot.Origin(b"id", b"log", 0, 0), True)
    time.sleep(0.1)
    loaded, _ = load(path)
    assert loaded.execute("OBJECT", "ENCODING", "h") == b"hashtable"
    assert loaded.execute("HGETALL", "h") == {b"g": b"small"}
    assert loaded.execute("EXISTS", "expired") == 0


@pytest.mark.parametrize("how", ["BGSAVE", "BGREWRITEAOF"])
def test_forked_children_keep_hashes_and_their_encodings_over_a_restart(tmp_path, how):
    proc = make_server(tmp_path, appendonly=how == "BGREWRITEAOF").start()
    try:
        r = proc.client()
        r.hset("small", mapping={"a": "1", "b": "2"})
        r.pexpireat("small", AD_2100)
        r.hset("big", mapping={f"f{i}": i for i in range(600)})  # past 512 entries
        r.hset("was-big", mapping={"f": "v", "long": "x" * 100})
        r.hdel("was-big", "long")
        r.set("s", "v")
        r.execute_command(how)
        done = "rdb_saves" if how == "BGSAVE" else "aof_rewrites"
        deadline = time.time() + 30
        while not r.info("persistence").get(done):
            assert time.time() < deadline
            time.sleep(0.05)
        r = restart(proc)
        assert r.hgetall("small") == {b"a": b"1", b"b": b"2"}
        assert r.pexpiretime("small") == AD_2100
        assert r.hlen("big") == 600 and r.hget("big", "f599") == b"599"
        assert r.hgetall("was-big") == {b"f": b"v"} and r.get("s") == b"v"
        assert [r.object("encoding", key) for key in ("small", "big", "was-big")] == \
            [b"listpack", b"hashtable", b"hashtable"]
    finally:
        proc.stop()
