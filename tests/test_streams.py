"""Stream commands through redis-py (RESP2 and RESP3): entries, trims, consumer groups,
blocking reads, COPY, and survival of restarts and kill -9."""

import threading
import time

import pytest
import redis

from conftest import ServerProcess


def entry_ids(entries) -> list:
    return [stream_id for stream_id, _ in entries]


# -- entries ------------------------------------------------------------------------------

def test_xadd_ids_and_ranges(r):
    assert r.xadd("s", {"a": 1}, id="1-1") == b"1-1"
    assert r.xadd("s", {"b": 2}, id="1-*") == b"1-2"
    assert r.xadd("s", {"c": 3}, id="2") == b"2-0"
    auto = r.xadd("s", {"d": 4})
    assert int(auto.split(b"-")[0]) > 2
    assert r.xlen("s") == 4
    assert entry_ids(r.xrange("s")) == [b"1-1", b"1-2", b"2-0", auto]
    assert r.xrange("s", "1", "1") == [(b"1-1", {b"a": b"1"}), (b"1-2", {b"b": b"2"})]
    assert entry_ids(r.xrange("s", "(1-1", "+", count=2)) == [b"1-2", b"2-0"]
    assert entry_ids(r.xrevrange("s", "+", "-", count=1)) == [auto]
    assert r.xrange("missing") == []
    assert r.execute_command("XRANGE", "s", "-", "+", "COUNT", "0") is None


def test_xadd_errors(r):
    r.xadd("s", {"a": 1}, id="5-5")
    for bad in ("5-5", "5-4", "4", "4-*"):
        with pytest.raises(redis.ResponseError, match="equal or smaller than the target"):
            r.xadd("s", {"a": 1}, id=bad)
    with pytest.raises(redis.ResponseError, match="must be greater than 0-0"):
        r.xadd("t", {"a": 1}, id="0-0")
    with pytest.raises(redis.ResponseError, match="Invalid stream ID"):
        r.xadd("t", {"a": 1}, id="x-1")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'xadd'"):
        r.execute_command("XADD", "s", "*", "a")
    with pytest.raises(redis.ResponseError, match="MAXLEN and MINID"):
        r.execute_command("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b")
    with pytest.raises(redis.ResponseError, match="without the special ~"):
        r.execute_command("XADD", "s", "MAXLEN", "1", "LIMIT", "1", "*", "a", "b")
    assert r.xadd("nokey", {"a": 1}, nomkstream=True) is None
    assert not r.exists("t", "nokey")
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.xadd("str", {"a": 1})
    with pytest.raises(redis.ResponseError, match="invalid start ID"):
        r.xrange("s", "(18446744073709551615-18446744073709551615", "+")


def test_trims_and_xdel(r):
    for i in range(1, 11):
        r.xadd("s", {"i": i}, id=f"{i}-0")
    assert r.xdel("s", "1-0", "1-0", "99-0") == 1
    assert r.xtrim("s", maxlen=5, approximate=False) == 4
    assert entry_ids(r.xrange("s"))[0] == b"6-0"
    assert r.xtrim("s", minid="8", approximate=False) == 2
    assert r.xlen("s") == 3
    info = r.xinfo_stream("s")
    assert info["max-deleted-entry-id"] == b"1-0"
    assert info["entries-added"] == 10
    assert info["recorded-first-entry-id"] == b"8-0"
    # Approximate trims remove whole nodes only (100 entries by default).
    for i in range(150):
        r.xadd("big", {"i": i})
    assert r.xtrim("big", maxlen=120, approximate=True) == 0
    assert r.xtrim("big", maxlen=10, approximate=True) == 100
    assert r.xlen("big") == 50


def test_type_and_keyspace_integration(r):
    r.xadd("s", {"a": 1}, id="1-0")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "c", {"s": ">"})
    assert r.type("s") == b"stream"
    assert r.object("encoding", "s") == b"stream"
    assert r.scan(type="stream") == (0, [b"s"])
    assert r.copy("s", "s2")
    assert r.xinfo_stream("s2", full=True) == r.xinfo_stream("s", full=True)
    r.xack("s", "g", "1-0")  # the copy's PEL is its own
    assert r.xpending("s2", "g")["pending"] == 1
    assert r.rename("s2", "s3")
    assert r.move("s3", 1) and r.xlen("s") == 1
    assert r.memory_usage("s") > 0
    r.xadd("empty", {"a": 1}, id="7-0")
    r.xgroup_create("empty", "g", id="$")
    r.xdel("empty", "7-0")
    r.restore("empty2", 0, r.dump("empty"))
    assert r.xinfo_stream("empty2", full=True) == r.xinfo_stream("empty", full=True)
    r.expire("s", 100)
    assert r.ttl("s") > 0
    assert r.delete("s") == 1


def test_notifications_and_watch(r):
    r.config_set("notify-keyspace-events", "Etn")
    pubsub = r.pubsub()
    pubsub.psubscribe("__keyevent@0__:*")
    try:
        r.xgroup_create("s", "g", id="$", mkstream=True)
        r.xadd("s", {"a": 1}, id="1-0", maxlen=0, approximate=False)
        r.xadd("s", {"a": 2}, id="2-0")
        r.xreadgroup("g", "c", {"s": ">"})
        r.xdel("s", "2-0")
        r.xgroup_delconsumer("s", "g", "c")
        r.execute_command("XSETID", "s", "9-0")
        r.xgroup_destroy("s", "g")
        seen = []
        deadline = time.monotonic() + 3
        while len(seen) < 10 and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "pmessage":
                seen.append(message["channel"].split(b":", 1)[1])
        assert seen == [b"new", b"xgroup-create", b"xadd", b"xtrim", b"xadd",
                        b"xgroup-createconsumer", b"xdel", b"xgroup-delconsumer", b"xsetid",
                        b"xgroup-destroy"]
    finally:
        pubsub.close()
        r.config_set("notify-keyspace-events", "")
    pipe = r.pipeline()
    pipe.watch("s")
    r.xadd("s", {"b": 1})
    pipe.multi()
    pipe.xlen("s")
    with pytest.raises(redis.WatchError):
        pipe.execute()


def test_resp3_shapes(r3):
    r3.xadd("s", {"a": 1}, id="1-0")
    reply = r3.execute_command("XREAD", "STREAMS", "s", "0")
    assert list(reply) == [b"s"]  # a map in RESP3
    assert reply[b"s"][0][0] == (b"1-0", {b"a": b"1"})
    info = r3.execute_command("XINFO", "STREAM", "s")
    assert info[b"length"] == 1 and info[b"first-entry"] == [b"1-0", [b"a", b"1"]]
    assert not r3.execute_command("XREAD", "STREAMS", "s", "1-0")  # null


# -- consumer groups ------------------------------------------------------------------------

def test_consumer_groups_end_to_end(r):
    assert r.xgroup_create("s", "g", id="$", mkstream=True)
    with pytest.raises(redis.ResponseError, match="BUSYGROUP"):
        r.xgroup_create("s", "g")
    with pytest.raises(redis.ResponseError, match="requires the key to exist"):
        r.xgroup_create("nokey", "g")
    for i in range(1, 4):
        r.xadd("s", {"i": i}, id=f"{i}-0")
    got = r.xreadgroup("g", "alice", {"s": ">"}, count=2)
    assert entry_ids(got[0][1]) == [b"1-0", b"2-0"]
    assert r.xreadgroup("g", "bob", {"s": ">"})[0][1] == [(b"3-0", {b"i": b"3"})]
    summary = r.xpending("s", "g")
    assert summary["pending"] == 3 and summary["min"] == b"1-0" and summary["max"] == b"3-0"
    assert summary["consumers"] == [{"name": b"alice", "pending": 2},
                                    {"name": b"bob", "pending": 1}]
    # History: alice's own pending entries, delivered again.
    history = r.xreadgroup("g", "alice", {"s": "0"})
    assert entry_ids(history[0][1]) == [b"1-0", b"2-0"]
    detail = r.xpending_range("s", "g", "-", "+", 10, consumername="alice")
    assert [d["times_delivered"] for d in detail] == [2, 2]
    time.sleep(0.01)
    assert r.xclaim("s", "g", "bob", 5, ["1-0"], justid=True) == [b"1-0"]
    assert r.xautoclaim("s", "g", "carol", 0, "0-0", count=1, justid=True) == [b"1-0"]
    assert r.xack("s", "g", "1-0", "2-0", "9-0") == 2
    groups = r.xinfo_groups("s")
    assert groups[0]["pending"] == 1 and groups[0]["last-delivered-id"] == b"3-0"
    assert groups[0]["entries-read"] == 3 and groups[0]["lag"] == 0
    assert {c["name"] for c in r.xinfo_consumers("s", "g")} == {b"alice", b"bob", b"carol"}
    assert r.xgroup_delconsumer("s", "g", "bob") == 1
    assert r.xgroup_createconsumer("s", "g", "dave") == 1
    assert r.xgroup_setid("s", "g", "0") is True
    assert r.xgroup_destroy("s", "g") == 1
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        r.xreadgroup("g", "alice", {"s": ">"})
    with pytest.raises(redis.ResponseError, match="meaningless"):
        r.execute_command("XGROUP", "CREATE", "s", "g2", "0")
        r.execute_command("XREADGROUP", "GROUP", "g2", "c", "STREAMS", "s", "$")


def test_deleted_entry_in_history_and_claim(r):
    r.xgroup_create("s", "g", id="0", mkstream=True)
    r.xadd("s", {"a": 1}, id="1-0")
    r.xreadgroup("g", "c", {"s": ">"})
    r.xdel("s", "1-0")
    assert r.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == \
        [[b"s", [(b"1-0", {})]]]  # [ID, nil] on the wire
    assert r.execute_command("XAUTOCLAIM", "s", "g", "d", "0", "0") == [b"0-0", [], [b"1-0"]]
    assert r.xpending("s", "g")["pending"] == 0


# -- blocking -----------------------------------------------------------------------------

def _later(action, delay: float = 0.2) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), action()))
    thread.start()
    return thread


def test_blocking_xread_and_xreadgroup(server, r):
    other = server.client()
    r.xadd("s", {"old": 1}, id="1-0")
    thread = _later(lambda: other.xadd("s", {"new": 1}, id="2-0"))
    got = r.xread({"s": "$"}, block=5000)
    thread.join()
    assert got == [[b"s", [(b"2-0", {b"new": b"1"})]]]
    r.xgroup_create("s", "g", id="$")
    thread = _later(lambda: other.xadd("s", {"n": 3}, id="3-0"))
    got = r.xreadgroup("g", "c", {"s": ">"}, block=5000)
    thread.join()
    assert got == [[b"s", [(b"3-0", {b"n": b"3"})]]]
    assert r.xpending("s", "g")["pending"] == 1
    start = time.monotonic()
    assert r.xread({"s": "$"}, block=100) == []  # a null array on the wire
    assert time.monotonic() - start >= 0.09
    thread = _later(lambda: other.xgroup_destroy("s", "g"))
    with pytest.raises(redis.ResponseError, match="no longer exists"):
        r.xreadgroup("g", "c", {"s": ">"}, block=5000)
    thread.join()
    other.close()


def test_group_bookkeeping_wakes_nobody(server, r):
    """XCLAIM, XACK and XREADGROUP change no entry: a blocked reader keeps its timeout and
    WATCH holds."""
    other = server.client()
    r.xadd("s", {"a": 1}, id="1-0")
    r.xgroup_create("s", "g", id="0")
    r.xgroup_create("s", "idle", id="$")

    def churn():
        for _ in range(8):
            time.sleep(0.05)
            other.xclaim("s", "g", "c", 0, ["1-0"], force=True, justid=True)
            other.xack("s", "g", "1-0")
    thread = threading.Thread(target=churn)
    thread.start()
    start = time.monotonic()
    assert r.xreadgroup("idle", "c", {"s": ">"}, block=300) == []
    assert time.monotonic() - start < 0.6  # restarted by each of 8 writes: 0.8 s or more
    thread.join()
    pipe = r.pipeline()
    pipe.watch("s")
    other.xreadgroup("g", "c", {"s": "0"})
    other.xack("s", "g", "1-0")
    pipe.multi()
    pipe.xlen("s")
    assert pipe.execute() == [1]
    other.close()


@pytest.mark.parametrize("remove", ["DEL", "FLUSHDB", "FLUSHALL"])
def test_removing_the_stream_wakes_a_group_reader(server, r, remove):
    """A reader blocked on a group learns at once that its stream is gone (Redis 7.0), and
    is counted once in commandstats; a plain XREAD keeps waiting."""
    other = server.client()
    r.xgroup_create("s", "g", id="$", mkstream=True)
    r.config_resetstat()
    thread = _later(lambda: other.execute_command(remove, *(["s"] if remove == "DEL" else [])))
    start = time.monotonic()
    with pytest.raises(redis.ResponseError, match="UNBLOCKED the stream key no longer exists"):
        r.xreadgroup("g", "c", {"s": ">"}, block=5000)
    assert time.monotonic() - start < 2
    thread.join()
    assert r.info("commandstats")["cmdstat_xreadgroup"]["calls"] == 1
    other.close()


def test_a_retried_reader_that_finds_nothing_keeps_its_deadline(server, r):
    """Deleting an entry wakes the readers of the stream, who find nothing new and wait on
    until the deadline of their first call, not a timeout started over."""
    other = server.client()
    r.xadd("s", {"a": 1}, id="1-0")
    r.xadd("s", {"a": 2}, id="2-0")
    r.xgroup_create("s", "g", id="$")
    thread = _later(lambda: (other.xdel("s", "1-0"), time.sleep(0.2), other.xdel("s", "2-0")),
                    delay=0.2)
    start = time.monotonic()
    assert r.xreadgroup("g", "c", {"s": ">"}, block=600) == []
    elapsed = time.monotonic() - start
    thread.join()
    assert 0.55 < elapsed < 0.95  # two retries restarting the timeout would wait 1 s
    other.close()


def test_block_inside_multi_does_not_block(r):
    r.xgroup_create("s", "g", id="$", mkstream=True)
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "100000", "STREAMS", "s", ">")
    pipe.execute_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert pipe.execute() == [[], []]  # null arrays, as if timed out
    with pytest.raises(redis.ResponseError, match="not allowed with BLOCK option from scripts"):
        r.eval("return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')", 1, "s")


# -- durability ---------------------------------------------------------------------------

def _make_state(r) -> None:
    r.xadd("s", {"a": 1}, id="1-0")
    for i in range(300):
        r.xadd("s", {"i": i})
    r.xadd("s", {"x": 1}, maxlen=200, approximate=True)
    r.xdel("s", entry_ids(r.xrange("s", count=3))[2])
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "alice", {"s": ">"}, count=5)
    r.xreadgroup("g", "bob", {"s": ">"}, count=3, noack=True)
    r.xclaim("s", "g", "carol", 0, [entry_ids(r.xrange("s", count=1))[0]])
    r.xgroup_create("s", "empty", id="$")
    r.xgroup_createconsumer("s", "empty", "idle")


def _state(r) -> dict:
    info = r.xinfo_stream("s", full=True)
    for group in info["groups"]:
        for consumer in group["consumers"]:
            consumer.pop("seen-time")
    return {"info": info, "entries": r.xrange("s"), "len": r.xlen("s")}


def _rewritten(r) -> None:
    r.bgrewriteaof()
    for _ in range(200):
        if r.info("persistence")["aof_rewrite_in_progress"] == 0:
            return
        time.sleep(0.05)


def test_streams_survive_restart_rewrite_and_kill9(tmp_path):
    """Replay of the log as written, then of a rewritten log after kill -9."""
    conf = tmp_path / "alchemy.conf"
    conf.write_text('appendonly yes\nsave ""\n')
    proc = ServerProcess(tmp_path / "data", "--config", str(conf),
                         "--appendfsync", "always").start()
    try:
        r = proc.client()
        _make_state(r)
        before = _state(r)
        proc.stop()
        proc.start()
        r = proc.client()
        assert _state(r) == before
        _rewritten(r)
        r.xadd("s", {"after": "rewrite"}, id="*")
        r.xreadgroup("g", "dave", {"s": ">"})
        before = _state(r)
        proc.kill9()
        proc.start()
        assert _state(proc.client()) == before
    finally:
        proc.stop()


def test_snapshot_keeps_groups(tmp_path):
    proc = ServerProcess(tmp_path / "data").start()
    try:
        r = proc.client()
        _make_state(r)
        before = _state(r)
        r.save()
        proc.stop()
        proc.start()
        assert _state(proc.client()) == before
    finally:
        proc.stop()
