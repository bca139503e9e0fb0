"""The log replays to exactly the state the server had: writes whose replay could differ
(relative times, random picks, float arithmetic, pops that choose among keys) are logged
as Redis 7.0 propagates them; snapshots keep every type and its OBJECT ENCODING.

Every test runs a real server with appendonly yes and appendfsync always on its own
directory (test_persistence.make_server), writes through redis-py, kills or restarts it
and compares what it holds before and after; the log itself is read back with
alchemy.resp.RequestParser to check the form each write was logged in.
"""

import socket
import time

import pytest

from alchemy.resp import RequestParser
from test_persistence import make_server, read_log, restart


def state(r) -> dict:
    """Every key of database 0: type, value, absolute deadline (ms, or -1) and encoding."""
    out = {}
    for key in r.keys("*"):
        kind = r.type(key).decode()
        value = {"string": lambda: r.get(key), "list": lambda: r.lrange(key, 0, -1),
                 "hash": lambda: r.hgetall(key), "set": lambda: sorted(r.smembers(key)),
                 "zset": lambda: r.zrange(key, 0, -1, withscores=True)}[kind]()
        out[key] = (kind, value, r.pexpiretime(key), r.object("encoding", key))
    return out


def logged(tmp_path) -> list:
    """The commands in the log, after its header, each as a list of bytes (CRC dropped)."""
    parser = RequestParser(max_bulk_len=2**40)
    parser.feed(read_log(tmp_path))
    commands = []
    while (request := parser.next()) is not False:
        commands.append(request[:-1])
    return commands[1:]


def names(commands: list) -> set:
    return {argv[0].upper() for argv in commands}


def after(commands: list, marker: bytes) -> list:
    """The commands logged after the first SET of key marker (a test's own section)."""
    for i, argv in enumerate(commands):
        if argv[0].upper() == b"SET" and argv[1] == marker:
            return commands[i + 1:]
    raise AssertionError(f"no SET {marker!r} in the log")


@pytest.fixture
def proc(tmp_path):
    proc = make_server(tmp_path, fsync="always").start()
    yield proc
    proc.stop()


def crash_and_start(proc):
    proc.kill9()
    proc.start()
    return proc.client()


# -- strings ---------------------------------------------------------------------------

def test_set_with_relative_expire_keeps_its_deadline(proc, tmp_path):
    r = proc.client()
    now = int(time.time())
    r.set("ex", "v", ex=100)
    r.set("px", "v", px=100_000)
    r.set("exat", "v", exat=now + 100)
    r.set("pxat", "v", pxat=(now + 100) * 1000)
    r.execute_command("SETEX", "setex", 100, "v")
    r.execute_command("PSETEX", "psetex", 100_000, "v")
    r.set("old", "before", ex=50)
    assert r.set("old", "after", ex=100, get=True) == b"before"
    assert r.set("old", "nx", ex=5, nx=True) is None  # no write: nothing logged
    r.set("kept", "v", ex=100)
    assert r.set("kept", "w", keepttl=True, get=True) == b"v"
    time.sleep(1.5)
    before = state(r)
    commands = logged(tmp_path)
    assert not names(commands) & {b"SETEX", b"PSETEX"}
    for argv in commands:
        options = {arg.upper() for arg in argv[3:]}
        assert not options & {b"EX", b"PX", b"EXAT", b"GET", b"NX"}, argv
    for key in ("ex", "px", "exat", "setex", "psetex"):
        assert [b"SET", key.encode(), b"v", b"PXAT",
                b"%d" % before[key.encode()][2]] in commands
    assert [b"SET", b"old", b"after", b"PXAT", b"%d" % before[b"old"][2]] in commands
    kept = [argv for argv in commands if argv[1] == b"kept"][-1]
    assert kept[0].upper() == b"SET" and kept[1:] == [b"kept", b"w", b"KEEPTTL"]
    r = crash_and_start(proc)
    assert state(r) == before
    assert r.ttl("ex") <= 99 and r.pttl("setex") <= 98_600  # not reset to 100 s
    assert r.get("old") == b"after" and r.get("kept") == b"w"


def test_getex_and_getdel_are_logged_as_what_they_did(proc, tmp_path):
    r = proc.client()
    now_ms = int(time.time() * 1000)
    for key in ("ex", "px", "exat", "pxat", "persist", "past", "getdel"):
        r.set(key, key)
    r.expire("persist", 100)
    r.set("marker", 1)
    assert r.getex("ex", ex=100) == b"ex"
    assert r.getex("px", px=100_000) == b"px"
    assert r.getex("exat", exat=now_ms // 1000 + 100) == b"exat"
    assert r.getex("pxat", pxat=now_ms + 100_000) == b"pxat"
    assert r.getex("persist", persist=True) == b"persist"
    assert r.getex("persist", persist=True) == b"persist"  # no TTL left: nothing logged
    assert r.getex("past", exat=1000) == b"past"  # already past: deleted
    assert r.getdel("getdel") == b"getdel"
    assert r.getex("ex") == b"ex"  # no option: no write
    time.sleep(1.2)
    before = state(r)
    commands = after(logged(tmp_path), b"marker")
    assert commands == [
        [b"PEXPIREAT", b"ex", b"%d" % before[b"ex"][2]],
        [b"PEXPIREAT", b"px", b"%d" % before[b"px"][2]],
        [b"PEXPIREAT", b"exat", b"%d" % (now_ms // 1000 * 1000 + 100_000)],
        [b"PEXPIREAT", b"pxat", b"%d" % (now_ms + 100_000)],
        [b"PERSIST", b"persist"],
        [b"DEL", b"past"],
        [b"DEL", b"getdel"],
    ]
    r = restart(proc)
    assert state(r) == before
    assert 0 < r.ttl("ex") <= 99 and r.ttl("persist") == -1
    assert r.exists("past", "getdel") == 0


def test_float_increments_are_logged_as_their_results(proc, tmp_path):
    r = proc.client()
    r.set("f", "1.1", ex=100)
    r.set("marker", 1)
    assert r.incrbyfloat("f", "0.2") == pytest.approx(1.3)
    assert r.incrbyfloat("new", "5.0e3") == 5000
    r.hset("h", "g", "x")
    assert r.hincrbyfloat("h", "f", "0.1") == pytest.approx(0.1)
    assert r.hincrbyfloat("h", "f", "0.2") == pytest.approx(0.3)
    before = state(r)
    assert logged(tmp_path)[-5:] == [
        [b"SET", b"f", b"1.3", b"KEEPTTL"],
        [b"SET", b"new", b"5000", b"KEEPTTL"],
        [b"HSET", b"h", b"g", b"x"],
        [b"HSET", b"h", b"f", b"0.1"],
        [b"HSET", b"h", b"f", b"0.3"],
    ]
    r = crash_and_start(proc)
    assert state(r) == before
    assert r.get("f") == b"1.3" and r.hget("h", "f") == b"0.3" and r.ttl("f") > 0


def test_mset_counts_every_key_as_a_change(proc):
    r = proc.client()

    def changes() -> int:
        return r.info("persistence")["rdb_changes_since_last_save"]

    start = changes()
    r.mset({"a": 1, "b": 2, "c": 3})
    assert changes() == start + 3
    assert r.msetnx({"d": 1, "e": 2}) is True
    assert changes() == start + 5
    assert r.msetnx({"e": 1, "f": 2}) is False
    assert changes() == start + 5


# -- SPOP --------------------------------------------------------------------------------

def test_spop_logs_the_members_it_chose(proc, tmp_path):
    r = proc.client()
    r.sadd("one", *range(20))
    r.sadd("few", *range(100))  # popping 10 of 100: SREM of those 10
    r.sadd("all", "a", "b", "c")
    r.sadd("single", "x")
    r.set("marker", 1)
    popped_one = r.spop("one")
    popped_few = r.spop("few", 10)
    assert len(r.spop("all", 3)) == 3 and r.exists("all") == 0
    assert r.spop("single") == b"x"
    before = state(r)
    commands = after(logged(tmp_path), b"marker")
    assert commands[0] == [b"SREM", b"one", popped_one]
    assert commands[1][:2] == [b"SREM", b"few"] and set(commands[1][2:]) == set(popped_few)
    assert commands[2:] == [[b"DEL", b"all"], [b"SREM", b"single", b"x"]]
    r = crash_and_start(proc)
    assert state(r) == before
    assert r.smembers("few") == {str(i).encode() for i in range(100)} - set(popped_few)


def test_spop_that_rebuilds_the_set_replays_its_encoding_and_ttl(proc, tmp_path):
    r = proc.client()
    # More members than set-max-intset-entries (512): a hash table. Popping most of them
    # rebuilds the set from the few survivors, as an intset again.
    r.sadd("s", *range(600))
    r.expire("s", 1000)
    r.sadd("big", *range(7500))
    assert r.object("encoding", "s") == b"hashtable"
    r.set("marker", 1)
    popped = r.spop("s", 590)
    r.spop("big", 6250)  # 1250 survivors: SADD in batches of 1024 at most, one unit
    assert r.object("encoding", "s") == b"intset"
    before = state(r)
    commands = after(logged(tmp_path), b"marker")
    survivors = {str(i).encode() for i in range(600)} - set(popped)
    deadline = b"%d" % before[b"s"][2]
    assert commands[:5] == [[b"MULTI"], [b"DEL", b"s"], [b"SADD", b"s", *commands[2][2:]],
                            [b"PEXPIREAT", b"s", deadline], [b"EXEC"]]
    assert set(commands[2][2:]) == survivors
    assert [argv[0] for argv in commands[5:]] == [b"MULTI", b"DEL", b"SADD", b"SADD", b"EXEC"]
    assert [len(argv) - 2 for argv in commands[7:9]] == [1024, 226]
    r = restart(proc)
    assert state(r) == before
    assert r.smembers("s") == survivors and r.object("encoding", "s") == b"intset"


# -- blocking pops ---------------------------------------------------------------------

def test_blocking_pops_served_at_once_are_logged_as_plain_pops(proc, tmp_path):
    r = proc.client()
    r.rpush("l2", "a", "b", "c", "d", "e")
    r.zadd("z2", {"m": 1, "n": 2, "o": 3, "p": 4})
    r.set("marker", 1)
    assert r.blpop(["l1", "l2"], 0) == (b"l2", b"a")
    assert r.brpop(["l1", "l2"], 0) == (b"l2", b"e")
    assert r.blmpop(0, 2, "l1", "l2", direction="LEFT", count=10) == [b"l2", [b"b", b"c", b"d"]]
    r.rpush("src", "1", "2", "3")
    assert r.blmove("src", "dst", 0, "LEFT", "RIGHT") == b"1"
    assert r.brpoplpush("src", "dst", 0) == b"3"
    assert r.lmpop(2, "l1", "src", direction="RIGHT") == [b"src", [b"2"]]
    assert r.bzpopmin(["z1", "z2"], 0) == (b"z2", b"m", 1.0)
    assert r.bzpopmax(["z1", "z2"], 0) == (b"z2", b"p", 4.0)
    assert r.execute_command("BZMPOP", 0, 2, "z1", "z2", "MIN", "COUNT", 5)[0] == b"z2"
    r.zadd("z3", {"x": 1})
    assert r.zmpop(2, ["z1", "z3"], max=True)[0] == b"z3"
    before = state(r)
    commands = after(logged(tmp_path), b"marker")
    assert commands == [
        [b"LPOP", b"l2"], [b"RPOP", b"l2"], [b"LPOP", b"l2", b"3"],
        [b"RPUSH", b"src", b"1", b"2", b"3"],
        [b"LMOVE", b"src", b"dst", b"LEFT", b"RIGHT"], [b"RPOPLPUSH", b"src", b"dst"],
        [b"RPOP", b"src", b"1"],
        [b"ZPOPMIN", b"z2"], [b"ZPOPMAX", b"z2"], [b"ZPOPMIN", b"z2", b"2"],
        [b"ZADD", b"z3", b"1", b"x"], [b"ZPOPMAX", b"z3", b"1"],
    ]
    r = crash_and_start(proc)
    assert state(r) == before
    assert r.lrange("dst", 0, -1) == [b"3", b"1"]


class Waiter:
    """A raw connection parked in a blocking command."""

    def __init__(self, proc, r, *argv: str):
        self.sock = socket.create_connection(("127.0.0.1", proc.port), timeout=10)
        blocked = r.info("clients")["blocked_clients"]
        self.sock.sendall(b"".join([b"*%d\r\n" % len(argv)] +
                                   [b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in argv]))
        deadline = time.time() + 10
        while r.info("clients")["blocked_clients"] == blocked:
            assert time.time() < deadline
            time.sleep(0.01)

    def reply(self) -> bytes:
        data = self.sock.recv(65536)
        self.sock.close()
        return data


def test_blocking_pops_served_after_waiting_name_the_key_that_woke_them(proc, tmp_path):
    r = proc.client()
    waiters = [Waiter(proc, r, "BLPOP", "a", "b", "0"),
               Waiter(proc, r, "BLMPOP", "0", "2", "c", "d", "RIGHT", "COUNT", "5"),
               Waiter(proc, r, "BRPOPLPUSH", "e", "f", "0"),
               Waiter(proc, r, "BLMOVE", "g", "h", "RIGHT", "LEFT", "0"),
               Waiter(proc, r, "BZPOPMAX", "y", "z", "0"),
               Waiter(proc, r, "BZMPOP", "0", "2", "w", "x", "MIN", "COUNT", "9")]
    r.set("marker", 1)
    # Each transaction writes the waiter's later key first: Redis 7.0 serves a waiter from
    # the key that woke it, so replaying the blocking command itself would pop elsewhere.
    for first, second, write in (("b", "a", "rpush"), ("d", "c", "rpush"),
                                 ("e", "e", "rpush"), ("g", "g", "rpush")):
        pipe = r.pipeline(transaction=True)
        getattr(pipe, write)(first, "1", "2")
        getattr(pipe, write)(second, "3", "4")
        pipe.execute()
    for first, second in (("z", "y"), ("x", "w")):
        pipe = r.pipeline(transaction=True)
        pipe.zadd(first, {"p": 1, "q": 2})
        pipe.zadd(second, {"r": 3, "s": 4})
        pipe.execute()
    replies = [waiter.reply() for waiter in waiters]
    assert replies[0] == b"*2\r\n$1\r\nb\r\n$1\r\n1\r\n"
    assert replies[4].startswith(b"*3\r\n$1\r\nz\r\n$1\r\nq\r\n")
    before = state(r)
    pops = [argv for argv in after(logged(tmp_path), b"marker")
            if argv[0] not in (b"MULTI", b"EXEC", b"RPUSH", b"ZADD")]
    assert pops == [[b"LPOP", b"b"], [b"RPOP", b"d", b"2"], [b"RPOPLPUSH", b"e", b"f"],
                    [b"LMOVE", b"g", b"h", b"RIGHT", b"LEFT"], [b"ZPOPMAX", b"z"],
                    [b"ZPOPMIN", b"x", b"2"]]
    r = crash_and_start(proc)
    assert state(r) == before
    assert r.lrange("a", 0, -1) == [b"3", b"4"] and r.exists("d") == 0


# -- snapshots -------------------------------------------------------------------------

def fill_every_type(r) -> None:
    long = "L" * 300
    r.set("embstr", "short")
    r.set("int", 12345)
    r.set("raw", "r" * 100)
    r.append("appended", "grown")
    r.rpush("list", "a", "", long, *range(1000))
    r.hset("hash-small", mapping={"f": "v", "": "empty", "n": 1})
    r.hset("hash-long", mapping={"f": long})
    r.hset("hash-big", mapping={f"f{i}": i for i in range(600)})
    r.hset("hash-shrunk", mapping={"f": "v", "g": long})
    r.hdel("hash-shrunk", "g")  # stays a hash table, as in Redis until reloaded
    r.sadd("set-int", 1, 2, -3, 2**62)
    r.sadd("set-str", "a", "b", "")
    r.sadd("set-big", *range(600))
    r.zadd("zset-small", {"a": 1.5, "b": -2, "c": float("inf"), "": 0})
    r.zadd("zset-big", {f"m{i}": i / 7 for i in range(200)})
    r.zadd("zset-neg-zero", {f"m{i}": i for i in range(200)})
    r.zadd("zset-neg-zero", {"zero": -0.0, "low": float("-inf")})
    r.expire("list", 1000)
    r.pexpire("hash-big", 2_000_000)
    r.expire("zset-small", 3000)
    r.expire("set-str", 400)


def test_snapshot_keeps_every_type_and_encoding(tmp_path):
    proc = make_server(tmp_path, appendonly=False).start()
    try:
        r = proc.client()
        fill_every_type(r)
        before = state(r)
        assert {before[key][3] for key in before} == {
            b"embstr", b"int", b"raw", b"quicklist", b"listpack", b"hashtable", b"intset",
            b"skiplist"}
        assert before[b"hash-shrunk"][3] == b"hashtable"
        assert r.save() is True
        dump = (tmp_path / "data" / "dump.rdb").read_bytes()
        for module in (b"alchemy.commands", b"collections", b"sortedcontainers"):
            assert module not in dump  # no pickled values
        r = restart(proc)
        assert state(r) == before
        assert r.zscore("zset-neg-zero", "zero") == 0.0
        assert str(r.zscore("zset-neg-zero", "zero")).startswith("-")
        r.hset("hash-small", "more", "x")  # loaded values take writes as before
        assert r.object("encoding", "hash-small") == b"listpack"
        r.sadd("set-int", "text")
        assert r.object("encoding", "set-int") == b"hashtable"
    finally:
        proc.stop()


def test_snapshot_then_log_tail_with_rewrites(proc, tmp_path):
    r = proc.client()
    fill_every_type(r)
    r.save()
    r.set("after", "v", ex=100)
    r.spop("set-big", 5)
    r.hincrbyfloat("hash-small", "n", "0.5")
    r.blpop(["nothing", "list"], 0)
    before = state(r)
    r = crash_and_start(proc)
    assert state(r) == before
