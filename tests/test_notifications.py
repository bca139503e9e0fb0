"""Keyspace notifications: notify-keyspace-events, the __keyspace@/__keyevent@ channels, and
the events each command fires, in Redis 7.0's order, received through redis-py's PubSub."""

import time

import pytest
import redis

MARK = "notifications-test-mark"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def listener(request, server):
    """A subscribed connection (RESP2 or RESP3) on every keyspace and keyevent channel,
    plus a marker channel that tells where the events of a step end."""
    client = server.client(protocol=request.param)
    pubsub = client.pubsub()
    pubsub.psubscribe("__key*__:*")
    pubsub.subscribe(MARK)
    for _ in range(2):
        assert _next(pubsub)["type"] in ("psubscribe", "subscribe")
    yield pubsub
    pubsub.close()
    client.close()


@pytest.fixture(autouse=True)
def notifications_off(server):
    yield
    client = server.client()
    client.config_set("notify-keyspace-events", "")
    client.close()


def _next(pubsub, timeout: float = 3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return message
    raise AssertionError("no message received")


def received(r, pubsub) -> list:
    """Every notification since the last call, as (channel, data) pairs in arrival order."""
    r.publish(MARK, "end")
    out = []
    while True:
        message = _next(pubsub)
        if message["channel"] == MARK.encode():
            return out
        out.append((message["channel"], message["data"]))


def events(r, pubsub) -> list:
    """The keyevent notifications received so far: (event, key) pairs."""
    return [(channel.split(b":", 1)[1], key) for channel, key in received(r, pubsub)]


def enable(r, flags: str) -> None:
    r.config_set("notify-keyspace-events", flags)


# -- configuration ---------------------------------------------------------------------

@pytest.mark.parametrize("given, shown", [
    ("", ""), ("gKE", "gKE"), ("$lshzxeKE", "$lshzxeKE"), ("KA", "AK"), ("EA", "AE"),
    ("En", "nE"), ("KEAn", "AKE"), ("AmEK", "AKEm"), ("tdK", "tdK"), ("EgAg", "AE"),
])
def test_config_normalizes_flags(r, given, shown):
    enable(r, given)
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}


def test_config_refuses_unknown_letters(r):
    enable(r, "KE")
    with pytest.raises(redis.ResponseError) as error:
        r.config_set("notify-keyspace-events", "KEq")
    assert str(error.value) == (
        "CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == "KE"


def test_nothing_is_published_by_default(r, listener):
    r.set("foo", "bar")
    r.lpush("list", "a")
    r.delete("foo", "list")
    assert received(r, listener) == []


# -- channels and classes --------------------------------------------------------------

def test_keyspace_and_keyevent_channels(r, listener):
    enable(r, "KEA")
    r.set("foo", "bar")
    assert received(r, listener) == [(b"__keyspace@0__:foo", b"set"),
                                     (b"__keyevent@0__:set", b"foo")]


def test_channels_name_the_database(server, listener):
    other = server.client(db=3)
    other.flushdb()
    enable(other, "KE$")
    other.set("foo", "bar")
    assert received(other, listener) == [(b"__keyspace@3__:foo", b"set"),
                                         (b"__keyevent@3__:set", b"foo")]
    other.close()


def test_k_or_e_alone(r, listener):
    enable(r, "K$")
    r.set("foo", "bar")
    assert received(r, listener) == [(b"__keyspace@0__:foo", b"set")]
    enable(r, "E$")
    r.set("foo", "bar")
    assert received(r, listener) == [(b"__keyevent@0__:set", b"foo")]


def test_classes_without_k_or_e_publish_nothing(r, listener):
    enable(r, "A")
    r.set("foo", "bar")
    assert received(r, listener) == []


def test_class_filtering(r, listener):
    enable(r, "El")
    r.set("foo", "bar")
    r.lpush("list", "a")
    r.delete("list")
    assert events(r, listener) == [(b"lpush", b"list")]
    enable(r, "Eg")
    r.set("foo", "bar")
    r.lpush("list", "a")
    r.expire("foo", 100)
    r.delete("foo", "list")
    assert events(r, listener) == [(b"expire", b"foo"), (b"del", b"foo"), (b"del", b"list")]
    enable(r, "Ehsz$")
    r.hset("h", "f", "v")
    r.sadd("s", "m")
    r.zadd("z", {"m": 1})
    r.append("str", "x")
    r.rpush("list", "a")
    assert events(r, listener) == [(b"hset", b"h"), (b"sadd", b"s"), (b"zadd", b"z"),
                                   (b"append", b"str")]


def test_new_events(r, listener):
    enable(r, "En")
    r.set("foo", "bar")
    r.set("foo", "baz")  # not new: overwritten
    r.set("bar", "bar")
    r.lpush("list", "a", "b")
    r.lpush("list", "c")
    assert events(r, listener) == [(b"new", b"foo"), (b"new", b"bar"), (b"new", b"list")]


def test_a_leaves_out_new(r, listener):
    enable(r, "EA")
    r.set("foo", "bar")
    assert events(r, listener) == [(b"set", b"foo")]
    enable(r, "EAn")
    r.set("other", "bar")
    assert events(r, listener) == [(b"new", b"other"), (b"set", b"other")]


# -- expiry ----------------------------------------------------------------------------

def test_expired_by_active_expiry(r, listener):
    enable(r, "Ex")
    r.psetex("foo", 50, "1")
    # Nobody touches the key: the server's own expiry cycle must reclaim and announce it.
    assert _next(listener)["channel"] == b"__keyevent@0__:expired"
    assert r.dbsize() == 0


def test_expired_on_access_comes_before_new(r, listener):
    enable(r, "Exn")
    r.psetex("foo", 30, "1")
    r.config_set("hz", 1)
    try:
        assert events(r, listener) == [(b"new", b"foo")]
        time.sleep(0.06)
        r.set("foo", "again")
    finally:
        r.config_set("hz", 10)
    assert events(r, listener) == [(b"expired", b"foo"), (b"new", b"foo")]


# -- events per command ----------------------------------------------------------------

def test_string_events(r, listener):
    enable(r, "EA")
    r.set("s", "v", ex=100)
    r.set("s", "v", nx=True)  # not set: no event
    r.setnx("s", "v")
    r.getset("s", "w")
    r.incr("n")
    r.incrbyfloat("f", 1.5)
    r.append("s", "x")
    r.setrange("s", 0, "")  # nothing written
    r.setrange("s", 0, "y")
    r.mset({"a": "1", "b": "2"})
    r.getex("s", px=1000)
    r.getex("s", persist=True)
    r.getex("s", persist=True)  # no TTL left to remove
    r.getdel("s")
    r.getdel("s")
    assert events(r, listener) == [
        (b"set", b"s"), (b"expire", b"s"), (b"set", b"s"), (b"incrby", b"n"),
        (b"incrbyfloat", b"f"), (b"append", b"s"), (b"setrange", b"s"),
        (b"set", b"a"), (b"set", b"b"), (b"expire", b"s"), (b"persist", b"s"),
        (b"del", b"s")]


def test_generic_events(r, server, listener):
    enable(r, "EAn")
    r.set("a", "1")
    r.rename("a", "b")
    r.expire("b", 100)
    r.persist("b")
    r.persist("b")  # no TTL: no event
    r.copy("b", "c")
    r.move("c", 5)
    r.delete("b", "missing")
    r.set("d", "1")
    r.pexpireat("d", 1)  # a deadline in the past deletes
    assert received(r, listener) == [
        (b"__keyevent@0__:new", b"a"), (b"__keyevent@0__:set", b"a"),
        (b"__keyevent@0__:new", b"b"), (b"__keyevent@0__:rename_from", b"a"),
        (b"__keyevent@0__:rename_to", b"b"),
        (b"__keyevent@0__:expire", b"b"), (b"__keyevent@0__:persist", b"b"),
        (b"__keyevent@0__:new", b"c"), (b"__keyevent@0__:copy_to", b"c"),
        (b"__keyevent@5__:new", b"c"), (b"__keyevent@0__:move_from", b"c"),
        (b"__keyevent@5__:move_to", b"c"),
        (b"__keyevent@0__:del", b"b"),
        (b"__keyevent@0__:new", b"d"), (b"__keyevent@0__:set", b"d"),
        (b"__keyevent@0__:del", b"d")]
    server.client(db=5).flushdb()


def test_list_events(r, listener):
    enable(r, "EAn")
    r.rpush("l", "a", "b", "c")
    r.lpushx("missing", "a")
    r.linsert("l", "before", "b", "x")
    r.linsert("l", "before", "nope", "x")
    r.lset("l", 0, "z")
    r.lrem("l", 0, "nope")
    r.lrem("l", 0, "x")
    r.lmove("l", "m", "LEFT", "RIGHT")
    r.ltrim("l", 0, -1)
    r.lpop("l", 5)
    assert events(r, listener) == [
        (b"new", b"l"), (b"rpush", b"l"), (b"linsert", b"l"), (b"lset", b"l"),
        (b"lrem", b"l"), (b"new", b"m"), (b"rpush", b"m"), (b"lpop", b"l"),
        (b"ltrim", b"l"), (b"lpop", b"l"), (b"del", b"l")]


def test_blocked_pop_events(r, server, listener):
    enable(r, "El")
    waiter = server.client()
    connection = waiter.connection_pool.get_connection()
    connection.send_command("BLPOP", "q", 0)
    time.sleep(0.1)
    r.rpush("q", "a")
    assert connection.read_response() == [b"q", b"a"]
    assert events(r, listener) == [(b"rpush", b"q"), (b"lpop", b"q")]
    waiter.connection_pool.release(connection)
    waiter.close()


def test_hash_events(r, listener):
    enable(r, "EA")
    r.hset("h", mapping={"yes": 1, "no": 0})
    r.hsetnx("h", "yes", 5)  # exists: no event
    r.hincrby("h", "yes", 10)
    r.hincrbyfloat("h", "f", 1.5)
    r.hdel("h", "missing")
    r.hdel("h", "yes", "no", "f")
    assert events(r, listener) == [
        (b"hset", b"h"), (b"hincrby", b"h"), (b"hincrbyfloat", b"h"), (b"hdel", b"h"),
        (b"del", b"h")]


def test_set_events(r, listener):
    enable(r, "EA")
    r.sadd("s", "a", "b", "c")
    r.sadd("s", "a")  # nothing added
    r.srem("s", "x")  # nothing removed
    r.smove("s", "t", "a")
    r.spop("s")
    r.sinterstore("i", "s", "t")  # empty: nothing to delete
    r.sunionstore("u", "s", "t")
    r.spop("s", 10)
    assert events(r, listener) == [
        (b"sadd", b"s"), (b"srem", b"s"), (b"sadd", b"t"), (b"spop", b"s"),
        (b"sunionstore", b"u"), (b"spop", b"s"), (b"del", b"s")]


def test_zset_events(r, listener):
    enable(r, "EA")
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    r.zadd("z", {"a": 1})  # unchanged
    r.zadd("z", {"a": 5}, nx=True)  # refused
    r.zincrby("z", 1, "a")
    r.zrem("z", "x")
    r.zrem("z", "a")
    r.zremrangebyscore("z", 100, 200)  # nothing in range
    r.zremrangebyscore("z", 0, 2)
    r.zunionstore("u", ["z"])
    r.zrangestore("r", "z", 0, -1)
    r.zpopmax("z")
    assert events(r, listener) == [
        (b"zadd", b"z"), (b"zincr", b"z"), (b"zrem", b"z"), (b"zremrangebyscore", b"z"),
        (b"zunionstore", b"u"), (b"zrangestore", b"r"), (b"zpopmax", b"z"), (b"del", b"z")]


def test_bitmap_events(r, listener):
    enable(r, "EAn")
    r.setbit("b", 7, 1)
    r.setbit("b", 7, 1)  # unchanged
    r.bitfield("b").set("u8", 8, 255).execute()
    r.bitop("NOT", "dest", "b")
    r.bitop("AND", "dest", "missing")
    assert events(r, listener) == [
        (b"new", b"b"), (b"setbit", b"b"), (b"setbit", b"b"), (b"new", b"dest"),
        (b"set", b"dest"), (b"del", b"dest")]


def test_events_inside_transactions(r, listener):
    enable(r, "E$")
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1")
        pipe.incr("a")
        pipe.execute()
    assert events(r, listener) == [(b"set", b"a"), (b"incrby", b"a")]


def test_zset_range_removals_name_their_kind(r, listener):
    enable(r, "Ez")
    r.zadd("z", {"a": 0, "b": 0, "c": 0, "d": 0})
    r.zremrangebyrank("z", 0, 0)
    r.zremrangebylex("z", "[b", "[c")
    r.zremrangebylex("z", "[x", "[y")  # nothing in range
    assert events(r, listener) == [(b"zadd", b"z"), (b"zremrangebyrank", b"z"),
                                   (b"zremrangebylex", b"z")]
