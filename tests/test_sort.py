"""SORT and SORT_RO: numeric and ALPHA, BY and GET patterns, LIMIT, STORE, errors."""

import threading

import pytest
import redis


def test_sort_numbers_alpha_and_limit(r):
    r.rpush("n", 3, 1, 2, 10, 2.5, -1)
    assert r.sort("n") == [b"-1", b"1", b"2", b"2.5", b"3", b"10"]
    assert r.sort("n", desc=True, start=1, num=3) == [b"3", b"2.5", b"2"]
    assert r.sort("n", alpha=True) == [b"-1", b"1", b"10", b"2", b"2.5", b"3"]
    r.rpush("words", "b", "a")
    with pytest.raises(redis.ResponseError, match="can't be converted into double"):
        r.sort("words")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sort("s")


def test_sort_by_and_get_patterns(r):
    r.rpush("ids", 3, 1, 2)
    r.mset({"w_1": 30, "w_2": 10, "w_3": 20})
    r.hset("u_1", "name", "ann")
    r.hset("u_3", "name", "cy")
    assert r.sort("ids", by="w_*") == [b"2", b"3", b"1"]
    assert r.sort("ids", by="w_*", get=["#", "u_*->name"]) == \
        [b"2", None, b"3", b"cy", b"1", b"ann"]
    assert r.sort("ids", by="nosort") == [b"3", b"1", b"2"]


def test_sort_store_and_sort_ro(r):
    r.sadd("s", 5, 3, 9)
    assert r.sort("s", store="dst") == 3
    assert r.lrange("dst", 0, -1) == [b"3", b"5", b"9"]
    assert r.sort("missing", store="dst") == 0 and not r.exists("dst")
    assert r.execute_command("SORT_RO", "s", "DESC") == [b"9", b"5", b"3"]
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SORT_RO", "s", "STORE", "x")


def test_sort_getkeys_names_the_last_store_only(r):
    keys = r.command_getkeys("SORT", "abc", "STORE", "invalid", "STORE", "stillbad",
                             "STORE", "def")
    assert keys == ["abc", "def"]
    # A GET pattern spelled "store" is not an option.
    assert r.command_getkeys("SORT", "abc", "GET", "store", "LIMIT", "0", "1") == ["abc"]


def test_sort_store_wakes_a_blocked_pop(server, r):
    r.rpush("src", 2, 1)
    got = []
    waiter = threading.Thread(target=lambda: got.append(server.client().blpop("dst", 5)))
    waiter.start()
    while not r.info("clients")["blocked_clients"]:
        pass
    r.sort("src", store="dst")
    waiter.join(5)
    assert got == [(b"dst", b"1")]


def test_sort_store_notifies(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    sub = server.client().pubsub()
    sub.psubscribe("__keyevent@0__:*")
    sub.get_message(timeout=1)
    r.rpush("src", 1)
    r.sort("src", store="dst")
    r.sort("missing", store="dst")
    events = []
    while (message := sub.get_message(timeout=1)) is not None:
        events.append((message["channel"], message["data"]))
    assert (b"__keyevent@0__:sortstore", b"dst") in events
    assert (b"__keyevent@0__:del", b"dst") in events
    r.config_set("notify-keyspace-events", "")
