"""Blocking list pops against a real server: each waiter is a redis-py client of its own,
blocked in a thread of the test process, while another client pushes.

Checked: wake-ups in arrival order, timeouts, MULTI/EXEC, pipelines (the pusher's and the
waiter's), chained BLMOVEs, types, disconnects; in RESP2 and RESP3 where replies differ.
"""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


class Waiters:
    """Blocking commands started on their own connections, each in a thread."""

    def __init__(self, server, control: redis.Redis):
        self.server = server
        self.control = control
        self.pool = ThreadPoolExecutor(8)
        self.clients: list = []

    def blocked(self) -> int:
        return self.control.info("clients")["blocked_clients"]

    def wait_blocked(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while self.blocked() != count:
            assert time.monotonic() < deadline, f"{self.blocked()} blocked, not {count}"
            time.sleep(0.005)

    def start(self, *args, protocol: int = 2, blocks: bool = True):
        """Send a command on a new client; a future of (reply or error, seconds taken).
        With blocks, return once the server has parked it."""
        client = self.server.client(protocol=protocol, socket_timeout=10)
        self.clients.append(client)
        before = self.blocked()

        def call():
            started = time.monotonic()
            try:
                reply = client.execute_command(*args)
            except redis.ResponseError as error:
                reply = error
            return reply, time.monotonic() - started

        future = self.pool.submit(call)
        if blocks:
            self.wait_blocked(before + 1)
        return future

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for client in self.clients:
            client.close()


@pytest.fixture
def waiters(server, r):
    pool = Waiters(server, r)
    yield pool
    pool.close()


def reply(future, timeout: float = 5):
    return future.result(timeout)[0]


def as_list(value):
    return list(value) if value is not None else None


# -- being woken ----------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_blpop_woken_by_push(waiters, r, protocol):
    future = waiters.start("BLPOP", "list", 0, protocol=protocol)
    assert r.rpush("list", "foo") == 1
    assert as_list(reply(future)) == [b"list", b"foo"]
    assert r.exists("list") == 0  # the waiter emptied it
    assert waiters.blocked() == 0


def test_brpop_blmpop_blmove_brpoplpush_woken(waiters, r):
    brpop = waiters.start("BRPOP", "a", "b", 0)
    blmpop = waiters.start("BLMPOP", 0, 1, "c", "RIGHT", "COUNT", 2)
    blmove = waiters.start("BLMOVE", "d", "target", "LEFT", "RIGHT", 0)
    brpoplpush = waiters.start("BRPOPLPUSH", "e", "target", 0)
    r.rpush("b", "1", "2")
    r.rpush("c", "x", "y", "z")
    r.rpush("d", "first", "second")
    r.rpush("e", "last")
    assert as_list(reply(brpop)) == [b"b", b"2"]
    assert reply(blmpop) == [b"c", [b"z", b"y"]]
    assert reply(blmove) == b"first"
    assert reply(brpoplpush) == b"last"
    assert r.lrange("target", 0, -1) == [b"last", b"first"]
    assert r.lrange("b", 0, -1) == [b"1"]
    assert r.lrange("c", 0, -1) == [b"x"]
    assert r.lrange("d", 0, -1) == [b"second"]


def test_waiters_served_in_arrival_order(waiters, r):
    futures = [waiters.start("BRPOP", "queue", 0) for _ in range(4)]
    r.rpush("queue", "a", "b", "c")
    assert [as_list(reply(f)) for f in futures[:3]] == [
        [b"queue", b"c"], [b"queue", b"b"], [b"queue", b"a"]]
    assert not futures[3].done()
    assert waiters.blocked() == 1
    r.rpush("queue", "d")
    assert as_list(reply(futures[3])) == [b"queue", b"d"]


def test_one_push_per_waiter_across_keys(waiters, r):
    first = waiters.start("BLPOP", "k1", "k2", 0)
    second = waiters.start("BLPOP", "k2", 0)
    r.rpush("k2", "only")
    assert as_list(reply(first)) == [b"k2", b"only"]  # it came first, on k2 too
    r.rpush("k2", "next")
    assert as_list(reply(second)) == [b"k2", b"next"]


def test_blmpop_several_waiters(waiters, r):
    # Redis's own scenario: waiters are served per key, in order, until the key empties.
    w1 = waiters.start("BLMPOP", 0, 2, "blist", "blist2", "LEFT", "COUNT", 1)
    w2 = waiters.start("BLMPOP", 0, 2, "blist", "blist2", "RIGHT", "COUNT", 10)
    w3 = waiters.start("BLMPOP", 0, 2, "blist", "blist2", "LEFT", "COUNT", 10)
    w4 = waiters.start("BLMPOP", 0, 2, "blist", "blist2", "RIGHT", "COUNT", 1)
    with r.pipeline() as pipe:
        pipe.lpush("blist", *"abcde")
        pipe.lpush("blist2", *"12345")
        pipe.execute()
    assert reply(w1) == [b"blist", [b"e"]]
    assert reply(w2) == [b"blist", [b"a", b"b", b"c", b"d"]]
    assert reply(w3) == [b"blist2", [b"5", b"4", b"3", b"2", b"1"]]
    r.lpush("blist2", "1", "2", "3")
    assert reply(w4) == [b"blist2", [b"1"]]


def test_served_from_the_key_that_became_ready(waiters, r):
    # Redis 7.0 serves the waiter from the key that woke it, not the first of its keys.
    future = waiters.start("BLPOP", "a", "b", 0)
    with r.pipeline() as pipe:
        pipe.rpush("b", "x")
        pipe.rpush("a", "y")
        pipe.execute()
    assert as_list(reply(future)) == [b"b", b"x"]
    assert r.lrange("a", 0, -1) == [b"y"]


def test_same_key_repeated(waiters, r):
    future = waiters.start("BLPOP", "k", "k", "other", "k", 0)
    r.rpush("k", "1", "2")
    assert as_list(reply(future)) == [b"k", b"1"]
    assert r.lrange("k", 0, -1) == [b"2"]
    assert waiters.blocked() == 0


def test_woken_by_rename_into_place(waiters, r):
    future = waiters.start("BLPOP", "target", 0)
    r.rpush("staging", "a", "b")
    r.rename("staging", "target")
    assert as_list(reply(future)) == [b"target", b"a"]


# -- transactions and pipelines -------------------------------------------------------------

def test_multi_exec_wakes_at_its_end(waiters, r):
    future = waiters.start("BLPOP", "list", 0)
    with r.pipeline() as pipe:
        pipe.lpush("list", "a")
        pipe.lpush("list", "b")
        pipe.lpush("list", "c")
        pipe.lrange("list", 0, -1)
        assert pipe.execute() == [1, 2, 3, [b"c", b"b", b"a"]]
    assert as_list(reply(future)) == [b"list", b"c"]


def test_push_then_delete_in_multi_does_not_wake(waiters, r):
    future = waiters.start("BLPOP", "list", 0)
    with r.pipeline() as pipe:
        pipe.lpush("list", "a")
        pipe.delete("list")
        pipe.set("list", "foo")  # not a list: the waiter keeps waiting
        pipe.execute()
    time.sleep(0.1)
    assert not future.done()
    r.set("list", "bar")
    time.sleep(0.1)
    assert not future.done()
    r.delete("list")
    r.lpush("list", "b")
    assert as_list(reply(future)) == [b"list", b"b"]


def test_pushers_pipeline_sees_the_waiter_served(waiters, r):
    # The waiter is served right after the push, before the pusher's next request.
    future = waiters.start("BLPOP", "k", 0)
    with r.pipeline(transaction=False) as pipe:
        pipe.lpush("k", "x")
        pipe.lpop("k")
        pipe.exists("k")
        assert pipe.execute() == [1, None, 0]
    assert as_list(reply(future)) == [b"k", b"x"]


def test_waiters_pipeline_resumes_after_the_answer(server, r):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n"
                     b"*2\r\n$4\r\nPING\r\n$5\r\nafter\r\n"
                     b"*3\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$1\r\ny\r\n")
        time.sleep(0.1)
        r.rpush("k", "x")
        expected = b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n$5\r\nafter\r\n:1\r\n"
        data = b""
        while len(data) < len(expected):
            data += sock.recv(1024)
        assert data == expected
    assert r.lrange("k", 0, -1) == [b"y"]


def test_blocking_commands_inside_multi_do_not_block(r):
    with r.pipeline() as pipe:
        pipe.blpop("missing", 0)
        pipe.brpop("missing", 0)
        pipe.execute_command("BLMPOP", 0, 1, "missing", "LEFT")
        pipe.execute_command("BLMOVE", "missing", "x", "LEFT", "RIGHT", 0)
        pipe.brpoplpush("missing", "x", 0)
        assert pipe.execute() == [None, None, None, None, None]


@pytest.mark.parametrize("hello3, replies", [
    (False, b"*-1\r\n*-1\r\n$-1\r\n$-1\r\n"),
    (True, b"_\r\n_\r\n_\r\n_\r\n"),
])
def test_null_kinds_inside_multi(server, hello3, replies):
    # Inside MULTI BLPOP answers a null array but BLMOVE a null bulk, as in Redis 7.0.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        if hello3:
            sock.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
            time.sleep(0.1)
            sock.recv(65536)
        sock.sendall(b"*1\r\n$5\r\nMULTI\r\n"
                     b"*3\r\n$5\r\nBLPOP\r\n$2\r\nno\r\n$1\r\n0\r\n"
                     b"*5\r\n$6\r\nBLMPOP\r\n$1\r\n0\r\n$1\r\n1\r\n$2\r\nno\r\n$4\r\nLEFT\r\n"
                     b"*6\r\n$6\r\nBLMOVE\r\n$2\r\nno\r\n$1\r\nx\r\n$4\r\nLEFT\r\n$4\r\nLEFT\r\n"
                     b"$1\r\n0\r\n"
                     b"*4\r\n$10\r\nBRPOPLPUSH\r\n$2\r\nno\r\n$1\r\nx\r\n$1\r\n0\r\n"
                     b"*1\r\n$4\r\nEXEC\r\n")
        expected = b"+OK\r\n" + b"+QUEUED\r\n" * 4 + b"*4\r\n" + replies
        data = b""
        while len(data) < len(expected):
            data += sock.recv(1024)
        assert data == expected


def test_push_from_brpoplpush_touches_watchers(waiters, server, r):
    r.set("somekey", "value")
    future = waiters.start("BRPOPLPUSH", "src", "dst", 0)
    watching = server.client()
    with watching.pipeline() as pipe:
        pipe.watch("dst")
        pipe.multi()
        pipe.get("somekey")
        r.lpush("src", "element")
        assert reply(future) == b"element"
        with pytest.raises(redis.WatchError):
            pipe.execute()
    watching.close()


# -- chained wake-ups -----------------------------------------------------------------------

@pytest.mark.parametrize("wherefrom, whereto", [
    ("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("RIGHT", "RIGHT")])
def test_blmove_into_a_list_another_client_waits_on(waiters, r, wherefrom, whereto):
    popper = waiters.start("BLPOP", "target", 0)
    mover = waiters.start("BLMOVE", "source", "target", wherefrom, whereto, 0)
    r.rpush("source", "foo")
    assert reply(mover) == b"foo"
    assert as_list(reply(popper)) == [b"target", b"foo"]
    assert r.exists("source", "target") == 0


def test_linked_blmoves(waiters, r):
    first = waiters.start("BLMOVE", "list1", "list2", "RIGHT", "LEFT", 0)
    second = waiters.start("BLMOVE", "list2", "list3", "LEFT", "RIGHT", 0)
    r.rpush("list1", "foo")
    assert reply(first) == b"foo" and reply(second) == b"foo"
    assert r.exists("list1", "list2") == 0
    assert r.lrange("list3", 0, -1) == [b"foo"]


def test_circular_and_self_referential_brpoplpush(waiters, r):
    first = waiters.start("BRPOPLPUSH", "list1", "list2", 0)
    second = waiters.start("BRPOPLPUSH", "list2", "list1", 0)
    r.rpush("list1", "foo")
    assert reply(first) == b"foo" and reply(second) == b"foo"
    assert r.lrange("list1", 0, -1) == [b"foo"]
    assert r.exists("list2") == 0
    itself = waiters.start("BRPOPLPUSH", "blist", "blist", 0)
    r.rpush("blist", "bar")
    assert reply(itself) == b"bar"
    assert r.lrange("blist", 0, -1) == [b"bar"]


# -- types and errors -----------------------------------------------------------------------

def test_brpoplpush_wrong_destination_type(waiters, r):
    r.set("target", "nolist")
    future = waiters.start("BRPOPLPUSH", "blist", "target", 0)
    r.rpush("blist", "a", "b", "c")
    assert str(reply(future)) == WRONGTYPE
    assert r.lrange("blist", 0, -1) == [b"a", b"b", b"c"]  # nothing was popped


def test_brpoplpush_wrong_type_waiter_does_not_stop_the_next(waiters, r):
    r.set("target1", "nolist")
    first = waiters.start("BRPOPLPUSH", "blist", "target1", 0)
    second = waiters.start("BRPOPLPUSH", "blist", "target2", 0)
    r.lpush("blist", "foo")
    assert str(reply(first)) == WRONGTYPE
    assert reply(second) == b"foo"
    assert r.lrange("target2", 0, -1) == [b"foo"]


@pytest.mark.parametrize("args", [
    ["BLPOP", "k", "{t}"], ["BRPOP", "k", "{t}"], ["BLMPOP", "{t}", 1, "k", "LEFT"],
    ["BLMOVE", "k", "d", "LEFT", "RIGHT", "{t}"], ["BRPOPLPUSH", "k", "d", "{t}"],
])
def test_timeout_errors(r, args):
    cases = {"-1": "timeout is negative", "-0.5": "timeout is negative",
             "abc": "timeout is not a float or out of range",
             "1_0": "timeout is not a float or out of range",
             "nan": "timeout is not a float or out of range",
             # Past 2**63 ms the C conversion in Redis 7.0 wraps to a negative number.
             "inf": "timeout is negative", "1e16": "timeout is negative"}
    for timeout, message in cases.items():
        with pytest.raises(redis.ResponseError) as info:
            r.execute_command(*[timeout if a == "{t}" else a for a in args])
        assert str(info.value) == message


def test_timeout_is_checked_before_the_key_type(r):
    r.set("s", "v")
    with pytest.raises(redis.ResponseError) as info:
        r.blpop("s", -1)
    assert str(info.value) == "timeout is negative"


# -- timeouts and disconnects ---------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_blpop_times_out_after_its_timeout(waiters, protocol):
    future = waiters.start("BLPOP", "empty", 0.2, protocol=protocol, blocks=False)
    answer, elapsed = future.result(5)
    assert answer is None
    assert 0.18 <= elapsed < 1.0
    assert waiters.blocked() == 0


def test_other_blocking_commands_time_out(waiters):
    futures = [waiters.start(*args, blocks=False) for args in (
        ["BRPOP", "empty", 0.1], ["BLMPOP", 0.1, 1, "empty", "LEFT"],
        ["BLMOVE", "empty", "t", "LEFT", "RIGHT", 0.1], ["BRPOPLPUSH", "empty", "t", 0.1],
        ["BLPOP", "empty", 0.001])]
    for future in futures:
        answer, elapsed = future.result(5)
        assert answer is None and elapsed < 1.0


@pytest.mark.parametrize("hello3, null", [(False, b"*-1\r\n"), (True, b"_\r\n")])
def test_blmove_times_out_with_a_null_array(server, hello3, null):
    # Redis 7.0 answers every timed-out list wait with the null array, BLMOVE's too.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        if hello3:
            sock.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
            time.sleep(0.1)
            sock.recv(65536)
        sock.sendall(b"*6\r\n$6\r\nBLMOVE\r\n$2\r\nno\r\n$1\r\nx\r\n$4\r\nLEFT\r\n"
                     b"$4\r\nLEFT\r\n$3\r\n0.1\r\n")
        assert sock.recv(1024) == null


def test_zero_timeout_waits_until_a_push(waiters, r):
    future = waiters.start("BLPOP", "list", 0)
    time.sleep(0.5)
    assert not future.done()
    r.rpush("list", "late")
    assert as_list(reply(future)) == [b"list", b"late"]


def test_disconnected_waiter_is_forgotten(server, waiters, r):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    waiters.wait_blocked(1)
    survivor = waiters.start("BLPOP", "q", 0)
    sock.close()
    waiters.wait_blocked(1)
    r.rpush("q", "1", "2")
    assert as_list(reply(survivor)) == [b"q", b"1"]
    assert r.lrange("q", 0, -1) == [b"2"]  # nothing went to the closed connection
    r.rpush("q", "3")
    assert r.lrange("q", 0, -1) == [b"2", b"3"]


def test_redis_cli_waits_for_a_push(server, waiters, r):
    pool = ThreadPoolExecutor(1)
    output = pool.submit(server.cli, "BLPOP", "cli-list", "5")
    waiters.wait_blocked(1)
    r.rpush("cli-list", "hello")
    assert output.result(10).split() == ["cli-list", "hello"]
    pool.shutdown()
