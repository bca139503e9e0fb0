"""Sorted set commands through redis-py (RESP2 and RESP3), raw RESP, and redis-cli."""

import random
import re
import socket
import time

import pytest
import redis

NAN_ERROR = re.escape("resulting score is not a number (NaN)")


def raw(server, *args: str, resp3: bool = False) -> bytes:
    """One command over a plain socket: the exact reply bytes."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        if resp3:
            sock.sendall(b"HELLO 3\r\n")
            _read_some(sock)
        parts = [a.encode() for a in args]
        sock.sendall(b"*%d\r\n" % len(parts)
                     + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return _read_some(sock)


def _read_some(sock) -> bytes:
    sock.settimeout(5)
    data = sock.recv(65536)
    sock.settimeout(0.05)
    try:
        while True:
            more = sock.recv(65536)
            if not more:
                break
            data += more
    except socket.timeout:
        pass
    return data


# -- adding, scores and options -----------------------------------------------------

def test_zadd_and_read_back(r):
    assert r.zadd("z", {"a": 1, "b": 2.5, "c": -3}) == 3
    assert r.zadd("z", {"a": 1, "d": 4}) == 1
    assert r.zcard("z") == 4
    assert r.zscore("z", "b") == 2.5
    assert r.zscore("z", "nope") is None
    assert r.zscore("nokey", "a") is None
    assert r.zmscore("z", ["a", "nope", "c"]) == [1.0, None, -3.0]
    assert r.zmscore("nokey", ["a"]) == [None]
    assert r.zrange("z", 0, -1, withscores=True) == [
        (b"c", -3.0), (b"a", 1.0), (b"b", 2.5), (b"d", 4.0)]
    assert r.type("z") == b"zset"


def test_zadd_options(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zadd("z", {"a": 5, "c": 7}, xx=True) == 0
    assert r.zadd("z", {"a": 9, "c": 3}, nx=True) == 1
    assert r.zrange("z", 0, -1, withscores=True) == [(b"b", 2.0), (b"c", 3.0), (b"a", 5.0)]
    assert r.zadd("z", {"a": 5, "b": 1, "d": 9}, ch=True) == 2
    assert r.zadd("z", {"a": 4, "b": 2, "e": 8}, gt=True, ch=True) == 2
    assert r.zadd("z", {"a": 4, "b": 1, "e": 100}, lt=True, ch=True) == 2
    assert r.zadd("z", {"a": 10, "nope": 1}, xx=True, gt=True, ch=True) == 1
    assert r.zscore("z", "a") == 10.0
    assert r.zscore("z", "nope") is None
    assert r.zadd("nokey", {"a": 1}, xx=True) == 0
    assert r.exists("nokey") == 0


def test_zadd_incr_and_zincrby(r):
    assert r.zadd("z", {"a": 1.5}, incr=True) == 1.5
    assert r.zincrby("z", 2, "a") == 3.5
    assert r.zincrby("z", -1e308, "b") == -1e308
    assert r.zadd("z", {"a": 1}, nx=True, incr=True) is None
    assert r.zadd("z", {"a": -1}, gt=True, incr=True) is None
    assert r.zadd("z", {"a": 1}, lt=True, incr=True) is None
    assert r.zadd("z", {"a": -1}, lt=True, incr=True) == 2.5
    assert r.zadd("z", {"nope": 1}, xx=True, incr=True) is None
    assert r.zadd("none", {"a": 1}, xx=True, incr=True) is None
    assert r.exists("none") == 0
    assert r.zincrby("z", float("inf"), "a") == float("inf")


@pytest.mark.parametrize("args, message", [
    (["z", "XX", "NX", "1", "a"], "XX and NX options at the same time are not compatible"),
    (["z", "GT", "LT", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
    (["z", "NX", "GT", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
    (["z", "INCR", "1", "a", "2", "b"], "INCR option supports a single increment-element pair"),
    (["z", "1", "a", "2"], "syntax error"),
    (["z", "NX", "XX", "1", "a", "2"], "syntax error"),
    (["z", "1", "a", "x", "b"], "value is not a valid float"),
    (["z", "1", "a", "nan", "b"], "value is not a valid float"),
    (["z", "1", "a", "1_0", "b"], "value is not a valid float"),
    (["z", "1", "a", "1e400", "b"], "value is not a valid float"),
    (["z", "1", "a", " 1", "b"], "value is not a valid float"),
    # One pair, the shape ZADD reads without its loop when the score is all digits.
    (["z", "1x", "a"], "value is not a valid float"),
    (["z", "9" * 400, "a"], "value is not a valid float"),
    (["z", "NX", "a"], "syntax error"),
])
def test_zadd_errors_leave_the_key_untouched(r, args, message):
    r.zadd("z", {"old": 7})
    with pytest.raises(redis.ResponseError, match=f"^{message}"):
        r.execute_command("ZADD", *args)
    assert r.zrange("z", 0, -1, withscores=True) == [(b"old", 7.0)]


def test_nan_increment_is_refused(r):
    r.zadd("z", {"a": float("inf")})
    with pytest.raises(redis.ResponseError, match=NAN_ERROR):
        r.zincrby("z", float("-inf"), "a")
    with pytest.raises(redis.ResponseError, match=NAN_ERROR):
        r.zadd("z", {"a": float("-inf")}, incr=True)
    assert r.zscore("z", "a") == float("inf")


def test_wrong_type(r):
    r.set("s", "v")
    for call in (lambda: r.zadd("s", {"a": 1}), lambda: r.zincrby("s", 1, "a"),
                 lambda: r.zrange("s", 0, -1), lambda: r.zcard("s"),
                 lambda: r.zpopmin("s"), lambda: r.zunionstore("d", ["s"]),
                 lambda: r.zrangestore("d", "s", 0, -1), lambda: r.zscan("s")):
        with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
            call()
    assert r.get("s") == b"v"
    assert r.exists("d") == 0


def test_scores_as_redis_parses_and_prints_them(server, r):
    r.execute_command("ZADD", "z", "0x10", "hex", "1e-310", "tiny", "-INFINITY", "low",
                      "0.1", "tenth", "123456789012345678", "big", "-0", "negzero")
    assert raw(server, "ZRANGE", "z", "0", "-1", "WITHSCORES") == (
        b"*12\r\n$3\r\nlow\r\n$4\r\n-inf\r\n$7\r\nnegzero\r\n$1\r\n0\r\n"
        b"$4\r\ntiny\r\n$23\r\n9.9999999999999694e-311\r\n"
        b"$5\r\ntenth\r\n$19\r\n0.10000000000000001\r\n$3\r\nhex\r\n$2\r\n16\r\n"
        b"$3\r\nbig\r\n$22\r\n1.2345678901234568e+17\r\n")
    assert raw(server, "ZSCORE", "z", "tenth", resp3=True) == b",0.10000000000000001\r\n"
    assert raw(server, "ZSCORE", "z", "nope", resp3=True) == b"_\r\n"


# -- ranks and ranges -----------------------------------------------------------------

@pytest.fixture
def five(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    return r


def test_ranks(five):
    r = five
    assert r.zrank("z", "a") == 0
    assert r.zrank("z", "e") == 4
    assert r.zrevrank("z", "e") == 0
    assert r.zrank("z", "nope") is None
    assert r.zrevrank("nokey", "a") is None


def test_zrange_by_rank(five):
    r = five
    assert r.zrange("z", 1, 3) == [b"b", b"c", b"d"]
    assert r.zrange("z", -2, -1) == [b"d", b"e"]
    assert r.zrange("z", 3, 1) == []
    assert r.zrange("z", -100, 100) == [b"a", b"b", b"c", b"d", b"e"]
    assert r.zrange("z", 1, 2, desc=True) == [b"d", b"c"]
    assert r.zrevrange("z", 0, 1, withscores=True) == [(b"e", 5.0), (b"d", 4.0)]
    assert r.zrange("nokey", 0, -1) == []


def test_zrange_by_score(five):
    r = five
    assert r.zrangebyscore("z", "(1", 3) == [b"b", b"c"]
    assert r.zrangebyscore("z", "-inf", "+inf", start=1, num=2) == [b"b", b"c"]
    assert r.zrangebyscore("z", "(1", "(5", withscores=True) == [
        (b"b", 2.0), (b"c", 3.0), (b"d", 4.0)]
    assert r.zrevrangebyscore("z", 4, "(2") == [b"d", b"c"]
    assert r.zrevrangebyscore("z", "+inf", "-inf", start=0, num=2) == [b"e", b"d"]
    assert r.zrangebyscore("z", 4, 2) == []
    assert r.zrange("z", 3, "(1", byscore=True, desc=True) == [b"c", b"b"]
    assert r.zrange("z", "+inf", "-inf", byscore=True, desc=True, offset=1, num=2,
                    withscores=True) == [(b"d", 4.0), (b"c", 3.0)]
    assert r.execute_command("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "5") == []
    assert r.execute_command("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "3", "-5") == [
        b"d", b"e"]
    assert r.zcount("z", "-inf", "+inf") == 5
    assert r.zcount("z", "(1", "(5") == 3
    assert r.zcount("z", 5, 1) == 0
    assert r.zcount("nokey", 0, 1) == 0


def test_score_bound_errors(five):
    r = five
    for low, high in (("abc", 2), (1, "((2"), ("(nan", 1), ("nan", 1)):
        with pytest.raises(redis.ResponseError, match="^min or max is not a float$"):
            r.zrangebyscore("z", low, high)
        with pytest.raises(redis.ResponseError, match="^min or max is not a float$"):
            r.zcount("nokey", low, high)


def test_lex_ranges(r):
    r.zadd("l", {m: 0 for m in "abcdefg"})
    assert r.zrangebylex("l", "-", "+") == [m.encode() for m in "abcdefg"]
    assert r.zrangebylex("l", "[b", "(e") == [b"b", b"c", b"d"]
    assert r.zrangebylex("l", "(b", "[e", start=1, num=2) == [b"d", b"e"]
    assert r.zrevrangebylex("l", "[e", "(b") == [b"e", b"d", b"c"]
    assert r.zrangebylex("l", "+", "-") == []
    assert r.zrangebylex("l", "(c", "[c") == []
    assert r.zrange("l", "[d", "[b", bylex=True, desc=True) == [b"d", b"c", b"b"]
    assert r.zlexcount("l", "-", "+") == 7
    assert r.zlexcount("l", "(a", "[c") == 2
    with pytest.raises(redis.ResponseError, match="^min or max not valid string range item$"):
        r.zrangebylex("l", "a", "+")
    with pytest.raises(redis.ResponseError, match="^min or max not valid string range item$"):
        r.zlexcount("l", "[a", "c")


def test_zrange_option_errors(five):
    r = five
    with pytest.raises(redis.ResponseError, match="LIMIT is only supported in combination"):
        r.execute_command("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1")
    with pytest.raises(redis.ResponseError, match="WITHSCORES not supported in combination"):
        r.execute_command("ZRANGEBYLEX", "z", "-", "+", "WITHSCORES")
    for args in (["0", "-1", "REV", "REV"], ["0", "-1", "BYSCORE", "BYLEX"],
                 ["0", "-1", "LIMIT", "0"]):
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            r.execute_command("ZRANGE", "z", *args)
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("ZREVRANGE", "z", "0", "-1", "REV")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES")


def test_zrangestore(five):
    r = five
    r.set("d", "old")
    assert r.zrangestore("d", "z", 1, 2) == 2
    assert r.zrange("d", 0, -1, withscores=True) == [(b"b", 2.0), (b"c", 3.0)]
    assert r.zrangestore("d", "z", "(1", "+inf", byscore=True, offset=0, num=2) == 2
    assert r.zrange("d", 0, -1) == [b"b", b"c"]
    assert r.zrangestore("d", "z", 10, 20) == 0
    assert r.exists("d") == 0
    r.zadd("d", {"x": 1})
    with pytest.raises(redis.ResponseError):
        r.zrangestore("d", "z", "x", 2)
    assert r.zrange("d", 0, -1) == [b"x"]


def test_zrem_and_zremrange(five):
    r = five
    assert r.zrem("z", "a", "nope") == 1
    assert r.zremrangebyrank("z", -1, -1) == 1
    assert r.zrange("z", 0, -1) == [b"b", b"c", b"d"]
    assert r.zremrangebyrank("z", 5, 10) == 0
    with pytest.raises(redis.ResponseError, match="^min or max is not a float$"):
        r.zremrangebyscore("z", "x", 3)
    assert r.zremrangebyscore("z", "(2", 3) == 1
    assert r.zrange("z", 0, -1) == [b"b", b"d"]
    assert r.zrem("z", "b", "d") == 2
    assert r.exists("z") == 0
    assert r.zrem("nokey", "a") == 0
    r.zadd("l", {m: 0 for m in "abcde"})
    assert r.zremrangebylex("l", "[b", "(d") == 2
    with pytest.raises(redis.ResponseError, match="^min or max not valid string range item$"):
        r.zremrangebylex("l", "b", "d")
    assert r.zrange("l", 0, -1) == [b"a", b"d", b"e"]
    assert r.zremrangebylex("l", "-", "+") == 3
    assert r.exists("l") == 0


# -- RESP3 shapes ---------------------------------------------------------------------

def test_resp3_pairs(r3, server):
    r3.zadd("z", {"a": 1, "b": 2.5, "c": 3})
    assert r3.zrange("z", 0, -1, withscores=True) == [[b"a", 1.0], [b"b", 2.5], [b"c", 3.0]]
    assert r3.zscore("z", "b") == 2.5
    assert raw(server, "ZRANGE", "z", "0", "0", "WITHSCORES", resp3=True) == (
        b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n")
    assert raw(server, "ZPOPMIN", "z", resp3=True) == b"*2\r\n$1\r\na\r\n,1\r\n"
    assert raw(server, "ZPOPMIN", "z", "1", resp3=True) == b"*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    assert raw(server, "ZMPOP", "1", "z", "MAX", resp3=True) == (
        b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n,3\r\n")
    assert raw(server, "ZMPOP", "1", "z", "MAX", resp3=True) == b"_\r\n"
    assert raw(server, "ZMPOP", "1", "z", "MAX") == b"*-1\r\n"


def test_resp2_flat_pops(server, r):
    r.zadd("z", {"a": 1, "b": 2.5, "c": 3})
    assert raw(server, "ZPOPMAX", "z", "2") == (
        b"*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$3\r\n2.5\r\n")
    assert raw(server, "ZMPOP", "1", "z", "MIN", "COUNT", "5") == (
        b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")
    assert r.exists("z") == 0


# -- pops -----------------------------------------------------------------------------

def test_zpop(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert r.zpopmin("z") == [(b"a", 1.0)]
    assert r.zpopmax("z", 5) == [(b"c", 3.0), (b"b", 2.0)]
    assert r.exists("z") == 0
    assert r.zpopmin("z") == []
    r.zadd("z", {"a": 1})
    assert r.zpopmin("z", 0) == []
    with pytest.raises(redis.ResponseError, match="^value is out of range, must be positive$"):
        r.zpopmin("z", -1)
    assert r.zcard("z") == 1


def test_zmpop(r):
    r.zadd("a", {"x": 1, "y": 2})
    r.zadd("b", {"w": 9})
    assert r.zmpop(3, ["nokey", "a", "b"], max=True, count=10) == [
        b"a", [[b"y", b"2"], [b"x", b"1"]]]
    assert r.zmpop(2, ["a", "b"], min=True) == [b"b", [[b"w", b"9"]]]
    assert r.zmpop(1, ["a"], min=True) is None
    for args, message in ((["0", "a", "MIN"], "numkeys should be greater than 0"),
                          (["1", "a", "MIN", "COUNT", "0"], "count should be greater than 0"),
                          (["2", "a", "MIN"], "syntax error"),
                          (["1", "a", "SIDEWAYS"], "syntax error")):
        with pytest.raises(redis.ResponseError, match=f"^{message}$"):
            r.execute_command("ZMPOP", *args)


# -- blocking -------------------------------------------------------------------------

def test_bzpopmin_returns_at_once_when_data_is_there(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.bzpopmin(["nokey", "z"], 1) == (b"z", b"a", 1.0)
    assert r.bzpopmax("z", 1) == (b"z", b"b", 2.0)
    assert r.exists("z") == 0


def test_bzpopmin_blocks_until_a_write(server, r):
    waiter = server.client()
    conn = waiter.connection_pool.get_connection()
    try:
        conn.send_command("BZPOPMIN", "k1", "k2", "5")
        time.sleep(0.2)
        r.set("unrelated", "x")
        r.zadd("k2", {"m": 3, "n": 4})
        assert conn.read_response() == [b"k2", b"m", b"3"]
        assert r.zrange("k2", 0, -1) == [b"n"]
    finally:
        waiter.connection_pool.release(conn)
        waiter.close()


def test_bzmpop_blocks_until_a_write(server, r):
    waiter = server.client()
    conn = waiter.connection_pool.get_connection()
    try:
        conn.send_command("BZMPOP", "5", "1", "q", "MAX", "COUNT", "2")
        time.sleep(0.2)
        r.zadd("q", {"a": 1, "b": 2, "c": 3})
        assert conn.read_response() == [b"q", [[b"c", b"3"], [b"b", b"2"]]]
        assert r.zrange("q", 0, -1) == [b"a"]
    finally:
        waiter.connection_pool.release(conn)
        waiter.close()


def test_blocking_timeout_and_multi(r):
    started = time.monotonic()
    assert r.bzpopmin("nokey", 0.2) is None
    assert time.monotonic() - started >= 0.15
    pipe = r.pipeline(transaction=True)
    pipe.bzpopmin("nokey", 0).bzmpop(0, 1, ["nokey"], min=True)
    assert pipe.execute() == [None, None]


def test_blocking_errors(r):
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.bzpopmin(["nokey", "s"], 0)
    with pytest.raises(redis.ResponseError, match="^timeout is negative$"):
        r.bzpopmin("z", -1)
    with pytest.raises(redis.ResponseError, match="^timeout is not a float or out of range$"):
        r.execute_command("BZPOPMIN", "z", "abc")
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("BZMPOP", "0", "0", "z", "MIN")


# -- set algebra ----------------------------------------------------------------------

@pytest.fixture
def abc(r):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.zadd("b", {"y": 10, "z": 20, "w": 30})
    r.zadd("c", {"z": 5})
    return r


def test_zunion_zinter_zdiff(abc):
    r = abc
    assert r.zunion(["a", "b"], withscores=True) == [
        (b"x", 1.0), (b"y", 12.0), (b"z", 23.0), (b"w", 30.0)]
    assert r.zunion({"a": 2, "b": 0.5}, withscores=True) == [
        (b"x", 2.0), (b"y", 9.0), (b"w", 15.0), (b"z", 16.0)]
    assert r.zunion(["a", "b"], aggregate="MIN", withscores=True) == [
        (b"x", 1.0), (b"y", 2.0), (b"z", 3.0), (b"w", 30.0)]
    assert r.zinter(["a", "b", "c"], withscores=True) == [(b"z", 28.0)]
    assert r.zinter({"a": 1, "b": 2, "c": 3}, aggregate="MAX", withscores=True) == [
        (b"z", 40.0)]
    assert r.zinter(["a", "nokey"]) == []
    assert r.zdiff(["a", "b"], withscores=True) == [b"x", b"1"]  # redis-py leaves it flat
    assert r.zdiff(["nokey", "a"]) == []
    assert r.zintercard(2, ["a", "b"]) == 2
    assert r.zintercard(2, ["a", "b"], limit=1) == 1


def test_infinities_aggregate_as_redis_does(r):
    r.zadd("p", {"m": float("inf")})
    r.zadd("n", {"m": float("-inf")})
    assert r.zunion(["p", "n"], withscores=True) == [(b"m", 0.0)]
    assert r.zunion({"p": 0}, withscores=True) == [(b"m", 0.0)]


def test_store_forms(abc):
    r = abc
    r.set("out", "string")
    r.expire("out", 100)
    assert r.zunionstore("out", ["a", "b"]) == 4
    assert r.ttl("out") == -1
    assert r.zrange("out", 0, -1, withscores=True)[-1] == (b"w", 30.0)
    assert r.zinterstore("out", {"a": 1, "b": -1}) == 2
    assert r.zrange("out", 0, -1, withscores=True) == [(b"z", -17.0), (b"y", -8.0)]
    assert r.zdiffstore("out", ["a", "b"]) == 1
    assert r.zinterstore("out", ["a", "nokey"]) == 0
    assert r.exists("out") == 0


def test_set_algebra_errors_leave_destination_untouched(abc):
    r = abc
    r.zadd("out", {"keep": 1})
    r.set("s", "v")
    cases = [
        (["ZUNIONSTORE", "out", "0", "a"],
         "at least 1 input key is needed for 'zunionstore' command"),
        (["ZUNIONSTORE", "out", "3", "a", "b"], "syntax error"),
        (["ZUNIONSTORE", "out", "x", "a"], "value is not an integer or out of range"),
        (["ZUNIONSTORE", "out", "2", "a", "s"], "WRONGTYPE"),
        (["ZUNIONSTORE", "out", "1", "a", "WEIGHTS", "x"], "weight value is not a float"),
        (["ZUNIONSTORE", "out", "1", "a", "AGGREGATE", "avg"], "syntax error"),
        (["ZUNIONSTORE", "out", "1", "a", "WITHSCORES"], "syntax error"),
        (["ZDIFFSTORE", "out", "1", "a", "WEIGHTS", "1"], "syntax error"),
        (["ZINTERCARD", "1", "a", "LIMIT", "-1"], "LIMIT can't be negative"),
        (["ZINTERCARD", "0", "a"], "at least 1 input key is needed for 'zintercard' command"),
    ]
    for args, message in cases:
        with pytest.raises(redis.ResponseError, match=f"^{message}"):
            r.execute_command(*args)
    assert r.zrange("out", 0, -1) == [b"keep"]


def test_plain_sets_count_with_score_one(r):
    r.zadd("a", {"x": 1, "y": 2})
    r.sadd("s", "x", "q")
    assert r.zunion(["a", "s"], withscores=True) == [(b"q", 1.0), (b"x", 2.0), (b"y", 2.0)]
    assert r.zinter(["a", "s"], withscores=True) == [(b"x", 2.0)]
    assert r.zdiff(["s", "a"], withscores=True) == [b"q", b"1"]
    assert r.zintercard(2, ["a", "s"]) == 1


def test_store_destination_is_watched(server, r):
    r.zadd("a", {"x": 1})
    r.zadd("out", {"old": 1})
    with r.pipeline(transaction=True) as pipe:
        pipe.watch("out")
        other = server.client()
        other.zunionstore("out", ["a"])
        other.close()
        pipe.multi()
        pipe.get("anything")
        with pytest.raises(redis.WatchError):
            pipe.execute()


# -- random members, scanning, encoding ------------------------------------------------

def test_zrandmember(r):
    members = {f"m{i}".encode(): float(i) for i in range(20)}
    r.zadd("z", members)
    assert r.zrandmember("z") in members
    picked = r.zrandmember("z", 5)
    assert len(picked) == len(set(picked)) == 5 and set(picked) <= set(members)
    assert sorted(r.zrandmember("z", 50)) == sorted(members)
    repeated = r.zrandmember("z", -50, withscores=True)
    assert len(repeated) == 100
    for member, score in zip(repeated[::2], repeated[1::2]):
        assert float(score) == members[member]
    assert r.zrandmember("nokey") is None
    assert r.zrandmember("nokey", 3) == []
    assert r.zrandmember("z", 0) == []
    with pytest.raises(redis.ResponseError, match="^value is out of range$"):
        r.execute_command("ZRANDMEMBER", "z", str(2**62), "WITHSCORES")


def test_zscan_small_and_large(server, r):
    r.zadd("small", {"b": 2, "a": 1.1})
    assert raw(server, "ZSCAN", "small", "0", resp3=True) == (
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$18\r\n1.1000000000000001\r\n"
        b"$1\r\nb\r\n$1\r\n2\r\n")
    members = {f"member:{i}": i for i in range(1000)}
    r.zadd("big", members)
    seen = dict(r.zscan_iter("big", count=100))
    assert seen == {k.encode(): float(v) for k, v in members.items()}
    assert dict(r.zscan_iter("big", match="member:99*")) == {
        b"member:99": 99.0, **{f"member:99{i}".encode(): float(f"99{i}") for i in range(10)}}
    with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
        r.execute_command("ZSCAN", "big", "abc")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("ZSCAN", "big", "0", "COUNT", "0")


def test_object_encoding(r):
    config = r.config_get("zset-max-listpack-*")
    try:
        r.config_set("zset-max-listpack-entries", 4)
        r.config_set("zset-max-listpack-value", 8)
        r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
        assert r.object("encoding", "z") == b"listpack"
        r.zadd("z", {"e": 5})
        assert r.object("encoding", "z") == b"skiplist"
        r.zpopmin("z", 3)
        assert r.object("encoding", "z") == b"skiplist"
        assert r.zunionstore("u", ["z"]) == 2
        assert r.object("encoding", "u") == b"listpack"
        r.zadd("long", {"a-long-member": 1})
        assert r.object("encoding", "long") == b"skiplist"
    finally:
        for name, value in config.items():
            r.config_set(name, value)


# -- a time series ---------------------------------------------------------------------

def test_time_series_latest_and_window(r):
    rng = random.Random(7)
    events = []
    pipe = r.pipeline(transaction=False)
    for i in range(100_000):
        timestamp = 1_700_000_000_000 + rng.randrange(10_000_000)
        payload = f"evt:{i}:{rng.randrange(1 << 30):x}".encode()
        events.append((timestamp, payload))
        pipe.zadd("events:sensor-1", {payload: timestamp})
        if len(pipe) == 5000:
            pipe.execute()
    pipe.execute()
    events.sort()
    assert r.zcard("events:sensor-1") == 100_000

    for n in (1, 10, 1000):
        latest = r.zrevrangebyscore("events:sensor-1", "+inf", "-inf", start=0, num=n)
        assert latest == [payload for _, payload in events[::-1][:n]]

    for _ in range(5):
        low, high = sorted(rng.randrange(events[0][0], events[-1][0]) for _ in range(2))
        window = r.zrangebyscore("events:sensor-1", low, high)
        assert window == [payload for ts, payload in events if low <= ts <= high]
        assert r.zcount("events:sensor-1", low, high) == len(window)


# -- redis-cli ------------------------------------------------------------------------

def test_redis_cli(server, r):
    assert server.cli("ZADD", "board", "10", "alice", "20", "bob", "15", "carol").strip() == "3"
    assert server.cli("ZREVRANGE", "board", "0", "-1", "WITHSCORES").split() == [
        "bob", "20", "carol", "15", "alice", "10"]
    assert server.cli("ZINCRBY", "board", "0.5", "alice").strip() == "10.5"
    assert "min or max is not a float" in server.cli("ZCOUNT", "board", "x", "y")
    assert server.cli("ZRANK", "board", "carol").strip() == "1"


def test_lex_ranges_follow_members_when_scores_rise_with_them(r):
    # Redis's own ZRANGESTORE BYLEX test: lexicographic ranges over distinct scores.
    r.zadd("z1", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zrange("z1", "[b", "[c", bylex=True) == [b"b", b"c"]
    assert r.zrangestore("z2", "z1", "[b", "[c", bylex=True) == 2
    assert r.zrange("z2", 0, -1, withscores=True) == [(b"b", 2.0), (b"c", 3.0)]
    assert r.zlexcount("z1", "(a", "+") == 3
