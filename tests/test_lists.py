"""List commands through redis-py (RESP2 and RESP3), raw sockets and redis-cli: replies,
edge cases and error texts as Redis 7.0 gives them. Blocking pops: test_blocking.py."""

import socket
import time

import pytest
import redis

from test_persistence import make_server, restart

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "value is not an integer or out of range"
NOT_POSITIVE = "value is out of range, must be positive"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def c(request):
    """The same tests through a RESP2 and a RESP3 client."""
    return request.getfixturevalue("r" if request.param == 2 else "r3")


def error(client, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        client.execute_command(*args)
    return str(info.value)


def raw(server, *commands: list, hello3: bool = False) -> bytes:
    """The exact bytes a server answers to commands sent on one connection."""
    def encode(args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            arg = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        return b"".join(parts)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        if hello3:
            sock.sendall(encode(["HELLO", "3"]))
            _read_until_quiet(sock)
        sock.sendall(b"".join(encode(args) for args in commands) + encode(["PING", "end"]))
        data = b""
        while not data.endswith(b"$3\r\nend\r\n") and not data.endswith(b"+end\r\n"):
            data += sock.recv(65536)
        return data[:data.rindex(b"$3\r\nend\r\n")]


def _read_until_quiet(sock) -> None:
    sock.settimeout(0.2)
    try:
        while sock.recv(65536):
            pass
    except (TimeoutError, socket.timeout):
        pass
    sock.settimeout(5)


# -- pushes and lengths -------------------------------------------------------------------

def test_push_order_and_length(c):
    assert c.rpush("l", "a", "b") == 2
    assert c.lpush("l", "x", "y") == 4  # pushed one by one: y ends up first
    assert c.lrange("l", 0, -1) == [b"y", b"x", b"a", b"b"]
    assert c.llen("l") == 4
    assert c.llen("missing") == 0
    assert c.type("l") in (b"list", "list")


def test_pushx_only_on_existing_lists(c):
    assert c.lpushx("l", "a") == 0
    assert c.rpushx("l", "a") == 0
    assert c.exists("l") == 0
    c.rpush("l", "m")
    assert c.execute_command("LPUSHX", "l", "a", "b") == 3
    assert c.execute_command("RPUSHX", "l", "y", "z") == 5
    assert c.lrange("l", 0, -1) == [b"b", b"a", b"m", b"y", b"z"]


def test_object_encoding_is_quicklist(c):
    # Redis 7.0 keeps every list in a quicklist, however small (listpack lists are 7.2's).
    c.rpush("small", "a")
    c.rpush("big", *[b"x" * 100] * 200)
    assert c.object("encoding", "small") in (b"quicklist", "quicklist")
    assert c.object("encoding", "big") in (b"quicklist", "quicklist")


def test_linsert(c):
    c.rpush("l", "a", "c")
    assert c.linsert("l", "BEFORE", "c", "b") == 3
    assert c.linsert("l", "after", "c", "d") == 4
    assert c.linsert("l", "AFTER", "zz", "x") == -1
    assert c.lrange("l", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert c.execute_command("LINSERT", "missing", "BEFORE", "a", "x") == 0
    assert error(c, "LINSERT", "l", "middle", "a", "x") == "syntax error"
    assert error(c, "LINSERT", "missing", "middle", "a", "x") == "syntax error"


# -- pops -----------------------------------------------------------------------------------

def test_pop_one_and_many(c):
    c.rpush("l", *"abcdefg")
    assert c.lpop("l") == b"a"
    assert c.rpop("l") == b"g"
    assert c.lpop("l", 2) == [b"b", b"c"]
    assert c.rpop("l", 2) == [b"f", b"e"]  # in popping order
    assert c.rpop("l", 100) == [b"d"]
    assert c.exists("l") == 0


def test_pop_count_zero_and_missing_key(c):
    c.rpush("l", "a")
    assert c.lpop("l", 0) == []
    assert c.rpop("l", 0) == []
    assert c.lrange("l", 0, -1) == [b"a"]
    assert c.lpop("missing") is None
    assert c.lpop("missing", 0) is None
    assert c.rpop("missing", 3) is None


@pytest.mark.parametrize("hello3, plain, counted", [
    (False, b"$-1\r\n", b"*-1\r\n"),
    (True, b"_\r\n", b"_\r\n"),
])
def test_pop_missing_key_null_kinds(server, r, hello3, plain, counted):
    # Without COUNT a missing key is a null bulk; with COUNT (even 0) a null array.
    reply = raw(server, ["LPOP", "nokey"], ["RPOP", "nokey"], ["LPOP", "nokey", 0],
                ["RPOP", "nokey", 1], hello3=hello3)
    assert reply == plain * 2 + counted * 2
    r.rpush("l", "a")
    assert raw(server, ["LPOP", "l", 0], hello3=hello3) == b"*0\r\n"


def test_pop_errors(c):
    c.rpush("l", "a")
    assert error(c, "LPOP", "l", -1) == NOT_POSITIVE
    assert error(c, "RPOP", "l", "abc") == NOT_POSITIVE
    assert error(c, "LPOP", "missing", -123) == NOT_POSITIVE
    assert error(c, "LPOP", "l", 1, 2) == "wrong number of arguments for 'lpop' command"
    assert error(c, "RPOP", "l", 2, 2) == "wrong number of arguments for 'rpop' command"
    c.set("s", "v")
    assert error(c, "LPOP", "s", -1) == NOT_POSITIVE  # the count is read before the key
    assert error(c, "LPOP", "s", 0) == WRONGTYPE


def test_lmpop(c):
    c.rpush("a", "1", "2", "3")
    c.rpush("b", "x", "y")
    assert c.lmpop(2, "missing", "a", direction="LEFT") == [b"a", [b"1"]]
    assert c.lmpop(2, "a", "b", direction="RIGHT", count=10) == [b"a", [b"3", b"2"]]
    assert c.exists("a") == 0
    assert c.execute_command("LMPOP", 2, "a", "b", "left", "count", 1) == [b"b", [b"x"]]
    assert c.lmpop(2, "nokey", "nokey2", direction="LEFT") is None


@pytest.mark.parametrize("args, message", [
    (["0", "l", "LEFT"], "numkeys should be greater than 0"),
    (["a", "l", "LEFT"], "numkeys should be greater than 0"),
    (["-1", "l", "RIGHT"], "numkeys should be greater than 0"),
    (["5", "l", "LEFT"], "syntax error"),
    (["1", "l", "bad_where"], "syntax error"),
    (["1", "l", "LEFT", "bar_arg"], "syntax error"),
    (["1", "l", "RIGHT", "LEFT"], "syntax error"),
    (["1", "l", "COUNT"], "syntax error"),
    (["1", "l", "LEFT", "COUNT", "1", "COUNT", "2"], "syntax error"),
    (["1", "l", "LEFT", "COUNT", "0"], "count should be greater than 0"),
    (["1", "l", "RIGHT", "COUNT", "a"], "count should be greater than 0"),
    (["2", "l", "m", "RIGHT", "COUNT", "-1"], "count should be greater than 0"),
])
def test_lmpop_errors(c, args, message):
    assert error(c, "LMPOP", *args) == message


def test_lmpop_arity(c):
    for args in ([], ["1"], ["1", "l"]):
        assert error(c, "LMPOP", *args) == "wrong number of arguments for 'lmpop' command"


# -- ranges and indexes ---------------------------------------------------------------------

def test_lrange(c):
    c.rpush("l", *"abcdef")
    assert c.lrange("l", 1, 2) == [b"b", b"c"]
    assert c.lrange("l", -3, -1) == [b"d", b"e", b"f"]
    assert c.lrange("l", -100, 100) == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert c.lrange("l", 4, 2) == []
    assert c.lrange("l", 6, 10) == []
    assert c.lrange("l", 0, -7) == []
    assert c.lrange("missing", 0, -1) == []
    assert error(c, "LRANGE", "l", "a", 1) == NOT_INTEGER
    assert error(c, "LRANGE", "l", 0, "9223372036854775808") == NOT_INTEGER


def test_lrange_long_replies_exact_bytes(server, r):  # r: a flushed server
    """Long arrays of bulk strings are encoded in one piece: empty, binary and 4 KiB+
    elements keep their exact lengths."""
    values = [b"", b"a\r\nb", b"\x00" * 7, b"x" * 4095, b"y" * 4096, b"z" * 10000] * 3
    reply = raw(server, ["RPUSH", "big", *values], ["LRANGE", "big", 0, -1])
    expected = b"*%d\r\n" % len(values) + b"".join(
        b"$%d\r\n%s\r\n" % (len(v), v) for v in values)
    assert reply == b":%d\r\n" % len(values) + expected


def test_lrange_long_list_from_both_ends(c):
    c.rpush("l", *range(1000))
    assert c.lrange("l", 995, 997) == [b"995", b"996", b"997"]
    assert c.lrange("l", 2, 4) == [b"2", b"3", b"4"]
    assert c.lrange("l", -600, -598) == [b"400", b"401", b"402"]
    assert len(c.lrange("l", 0, -1)) == 1000


def test_lindex(c):
    c.rpush("l", "a", "b", "c")
    assert c.lindex("l", 0) == b"a"
    assert c.lindex("l", -1) == b"c"
    assert c.lindex("l", 3) is None
    assert c.lindex("l", -4) is None
    assert c.lindex("missing", 0) is None
    assert error(c, "LINDEX", "l", "x") == NOT_INTEGER
    assert c.execute_command("LINDEX", "missing", "x") is None  # the key is looked up first


def test_lset_and_its_errors(c):
    c.rpush("l", "a", "b", "c")
    assert c.lset("l", 0, "A") is True
    assert c.lset("l", -1, "C") is True
    assert c.lrange("l", 0, -1) == [b"A", b"b", b"C"]
    assert error(c, "LSET", "l", 3, "x") == "index out of range"
    assert error(c, "LSET", "l", -4, "x") == "index out of range"
    assert error(c, "LSET", "missing", 0, "x") == "no such key"
    assert error(c, "LSET", "missing", "abc", "x") == "no such key"
    assert error(c, "LSET", "l", "abc", "x") == NOT_INTEGER


def test_ltrim(c):
    c.rpush("l", *range(1, 10))
    assert c.ltrim("l", 2, -3) is True
    assert c.lrange("l", 0, -1) == [b"3", b"4", b"5", b"6", b"7"]
    c.ltrim("l", -2, 100)
    assert c.lrange("l", 0, -1) == [b"6", b"7"]
    c.ltrim("l", 5, 1)
    assert c.exists("l") == 0
    assert c.ltrim("missing", 0, 1) is True
    assert error(c, "LTRIM", "l", "a", 1) == NOT_INTEGER


def test_ltrim_keeps_ttl_and_touches_watchers(server, c):
    c.rpush("l", "a", "b")
    c.expire("l", 100)
    c.ltrim("l", 0, 0)
    assert 0 < c.ttl("l") <= 100
    # Redis signals the key even when LTRIM removes nothing: a WATCH on it aborts EXEC.
    other = server.client()
    with c.pipeline() as pipe:
        pipe.watch("l")
        other.ltrim("l", 0, -1)
        pipe.multi()
        pipe.get("x")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    other.close()


def test_lrem(c):
    c.rpush("l", *"abacada")
    assert c.lrem("l", 2, "a") == 2
    assert c.lrange("l", 0, -1) == [b"b", b"c", b"a", b"d", b"a"]
    assert c.lrem("l", -1, "a") == 1
    assert c.lrange("l", 0, -1) == [b"b", b"c", b"a", b"d"]
    assert c.lrem("l", 0, "zz") == 0
    assert c.lrem("l", 0, "a") == 1
    assert c.lrem("missing", 0, "a") == 0
    assert error(c, "LREM", "l", "x", "a") == NOT_INTEGER
    for value in "bcd":
        c.lrem("l", 0, value)
    assert c.exists("l") == 0


def test_lpos(c):
    c.rpush("l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert c.lpos("l", "c") == 2
    assert c.lpos("l", "c", rank=2) == 6
    assert c.lpos("l", "c", rank=-1) == 7
    assert c.lpos("l", "c", rank=-2) == 6
    assert c.lpos("l", "c", count=0) == [2, 6, 7]
    assert c.lpos("l", "c", count=2) == [2, 6]
    assert c.lpos("l", "c", count=2, rank=2) == [6, 7]
    assert c.lpos("l", "c", count=0, rank=-1) == [7, 6, 2]
    assert c.lpos("l", "c", maxlen=3) == 2
    assert c.lpos("l", "c", maxlen=2) is None
    assert c.lpos("l", "c", rank=-1, maxlen=2, count=0) == [7, 6]
    assert c.lpos("l", "c", rank=99) is None
    assert c.lpos("l", "zz") is None
    assert c.lpos("l", "zz", count=0) == []
    assert c.lpos("missing", "c") is None
    assert c.lpos("missing", "c", count=1) == []


@pytest.mark.parametrize("options, message", [
    (["RANK", "0"], "RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"),
    (["COUNT", "-1"], "COUNT can't be negative"),
    (["COUNT", "x"], "COUNT can't be negative"),
    (["MAXLEN", "-1"], "MAXLEN can't be negative"),
    (["RANK", "x"], NOT_INTEGER),
    (["RANK"], "syntax error"),
    (["FOO", "1"], "syntax error"),
])
def test_lpos_errors(c, options, message):
    c.rpush("l", "a")
    assert error(c, "LPOS", "l", "a", *options) == message
    assert error(c, "LPOS", "missing", "a", *options) == message  # options come first


# -- moving between lists -------------------------------------------------------------------

@pytest.mark.parametrize("wherefrom, whereto, moved, target", [
    ("LEFT", "LEFT", b"a", [b"a", b"x"]),
    ("LEFT", "RIGHT", b"a", [b"x", b"a"]),
    ("RIGHT", "LEFT", b"c", [b"c", b"x"]),
    ("right", "right", b"c", [b"x", b"c"]),
])
def test_lmove(c, wherefrom, whereto, moved, target):
    c.rpush("src", "a", "b", "c")
    c.rpush("dst", "x")
    assert c.execute_command("LMOVE", "src", "dst", wherefrom, whereto) == moved
    assert c.lrange("dst", 0, -1) == target
    assert c.llen("src") == 2


def test_lmove_creates_target_and_deletes_empty_source(c):
    c.rpush("src", "only")
    assert c.execute_command("LMOVE", "src", "new", "LEFT", "RIGHT") == b"only"
    assert c.exists("src") == 0
    assert c.lrange("new", 0, -1) == [b"only"]
    assert c.execute_command("LMOVE", "missing", "new", "LEFT", "RIGHT") is None
    assert error(c, "LMOVE", "new", "x", "up", "LEFT") == "syntax error"
    assert error(c, "LMOVE", "missing", "x", "LEFT", "down") == "syntax error"


def test_rpoplpush_same_list_rotates(c):
    c.rpush("l", "a", "b", "c")
    assert c.rpoplpush("l", "l") == b"c"
    assert c.lrange("l", 0, -1) == [b"c", b"a", b"b"]
    c.rpush("one", "x")
    assert c.rpoplpush("one", "one") == b"x"
    assert c.lrange("one", 0, -1) == [b"x"]
    assert c.rpoplpush("missing", "l") is None


def test_moves_check_both_types_before_changing_anything(c):
    c.set("s", "v")
    c.rpush("l", "a")
    assert error(c, "RPOPLPUSH", "l", "s") == WRONGTYPE
    assert error(c, "LMOVE", "s", "l", "LEFT", "LEFT") == WRONGTYPE
    assert c.lrange("l", 0, -1) == [b"a"]
    assert c.get("s") == b"v"


# -- types and errors ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPUSHX", "s", "a"], ["RPUSHX", "s", "a"],
    ["LLEN", "s"], ["LRANGE", "s", 0, -1], ["LINDEX", "s", 0], ["LSET", "s", 0, "a"],
    ["LINSERT", "s", "BEFORE", "a", "b"], ["LREM", "s", 0, "a"], ["LTRIM", "s", 0, 1],
    ["LPOS", "s", "a"], ["LPOP", "s"], ["RPOP", "s", 2], ["LMPOP", 1, "s", "LEFT"],
    ["RPOPLPUSH", "s", "d"], ["BLPOP", "s", 0], ["BRPOP", "missing", "s", 0],
    ["BLMPOP", 0, 1, "s", "LEFT"], ["BLMOVE", "s", "d", "LEFT", "RIGHT", 0],
    ["BRPOPLPUSH", "s", "d", 0],
])
def test_wrongtype(c, args):
    c.set("s", "string")
    assert error(c, *args) == WRONGTYPE
    assert c.get("s") == b"string"


def test_blocking_pops_on_data_do_not_block(c):
    c.rpush("a", "1", "2")
    c.rpush("b", "x")
    assert list(c.blpop(["missing", "a"], 0)) == [b"a", b"1"]
    assert list(c.brpop(["b", "a"], 0)) == [b"b", b"x"]
    assert c.blmpop(0, 1, "a", direction="RIGHT", count=5) == [b"a", [b"2"]]
    c.rpush("a", "y")
    assert c.execute_command("BLMOVE", "a", "b", "LEFT", "RIGHT", 0) == b"y"
    assert c.brpoplpush("b", "a", 0) == b"y"


def test_copy_rename_and_del(c):
    c.rpush("l", "a", "b")
    assert c.copy("l", "l2") in (1, True)
    c.rpush("l2", "c")
    assert c.lrange("l", 0, -1) == [b"a", b"b"]  # a copy, not the same deque
    assert c.lrange("l2", 0, -1) == [b"a", b"b", b"c"]
    c.rename("l2", "l3")
    assert c.llen("l3") == 3
    assert c.delete("l", "l3") == 2


def test_in_process_api(db):
    assert db.execute("RPUSH", "l", "a", "b") == 2
    assert db.execute("BLPOP", "l", 0) == [b"l", b"a"]
    # In-process there is nobody to wait for: an empty list times out at once.
    assert db.execute("BLPOP", "nothing", 0) is None
    assert db.execute("LMPOP", 1, "l", "LEFT") == [b"l", [b"b"]]


def test_redis_cli(server, r):
    assert server.cli("RPUSH", "cli", "a", "b", "c").strip() == "3"
    assert server.cli("LRANGE", "cli", "0", "-1").split() == ["a", "b", "c"]
    assert server.cli("LPOS", "cli", "b").strip() == "1"
    assert server.cli("LSET", "cli", "9", "x").strip() == "ERR index out of range"
    assert server.cli("BLPOP", "cli", "0").split() == ["cli", "a"]
    assert server.cli("BLPOP", "empty", "0.1").strip() == ""
    assert server.cli("LLEN", "cli").strip() == "2"


# -- elements as stored: every edge hands out and compares the plain bytes -----------------

# Elements that look like their own storage (RESP bulk strings), hold its separators, or
# pass the 4 KiB of the encoding's head table.
AWKWARD = [b"", b"a\r\nb", b"$3\r\nabc\r\n", b"\n", b"\x00\xff", b"x" * 4095, b"y" * 4096,
           b"z" * 10000]


def test_awkward_elements_through_every_command(c):
    assert c.rpush("l", *AWKWARD) == len(AWKWARD)
    assert c.lrange("l", 0, -1) == AWKWARD
    assert [c.lindex("l", i) for i in range(len(AWKWARD))] == AWKWARD
    assert [c.lpos("l", value) for value in AWKWARD] == list(range(len(AWKWARD)))
    assert c.lpos("l", b"abc") is None and c.lpos("l", b"$3\r\nabc") is None
    assert c.linsert("l", "AFTER", b"a\r\nb", b"") == 9
    assert c.lrem("l", 0, b"") == 2
    assert c.lset("l", 0, b"y" * 4096) is True
    assert c.lpos("l", b"y" * 4096, count=0) == [0, 5]
    assert c.lpop("l") == b"y" * 4096
    assert c.rpop("l", 2) == [b"z" * 10000, b"y" * 4096]
    assert c.execute_command("LMOVE", "l", "m", "LEFT", "RIGHT") == b"$3\r\nabc\r\n"
    assert list(c.blpop(["l"], 0)) == [b"l", b"\n"]
    assert c.brpoplpush("l", "m", 0) == b"x" * 4095
    assert c.lrange("m", 0, -1) == [b"x" * 4095, b"$3\r\nabc\r\n"]
    assert c.lmpop(1, "l", direction="LEFT") == [b"l", [b"\x00\xff"]]
    assert c.exists("l") == 0


def test_single_pushes_of_awkward_elements(c):
    for value in AWKWARD:
        c.lpush("l", value)
        c.rpush("r", value)
    assert c.lrange("l", 0, -1) == AWKWARD[::-1]
    assert c.lrange("r", 0, -1) == AWKWARD
    assert c.lrange("r", 2, 3) == AWKWARD[2:4]
    assert c.lrange("r", -3, -2) == AWKWARD[-3:-1]  # sliced from the tail


def test_sort_reads_and_stores_plain_elements(c):
    c.rpush("n", "10", "9", "-1.5")
    assert c.sort("n") == [b"-1.5", b"9", b"10"]
    c.rpush("l", b"b\r\n", b"", b"a" * 5000)
    assert c.sort("l", alpha=True) == [b"", b"a" * 5000, b"b\r\n"]
    assert c.sort("l", alpha=True, store="sorted") == 3
    assert c.lrange("sorted", 0, -1) == [b"", b"a" * 5000, b"b\r\n"]
    c.set("w_", "2")
    assert c.sort("l", by="nosort", get=["#", "w_*"], store="got") == 6
    assert c.lrange("got", 0, -1) == [b"b\r\n", b"", b"", b"2", b"a" * 5000, b""]


@pytest.mark.parametrize("hello3", [False, True], ids=["resp2", "resp3"])
def test_lrange_exact_bytes_alone_and_inside_multi(server, r, hello3):
    values = [b"", b"a\r\nb", b"y" * 4096]
    reply = raw(server, ["RPUSH", "l", *values], ["LRANGE", "l", 0, -1], ["MULTI"],
                ["LRANGE", "l", 0, -1], ["LPOP", "l"], ["EXEC"], ["LRANGE", "l", 1, 1],
                ["LRANGE", "l", 5, 9], ["LRANGE", "missing", 0, -1], hello3=hello3)
    whole = b"*3\r\n$0\r\n\r\n$4\r\na\r\nb\r\n$4096\r\n" + b"y" * 4096 + b"\r\n"
    assert reply == (b":3\r\n" + whole + b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n" + whole
                     + b"$0\r\n\r\n" + b"*1\r\n$4096\r\n" + b"y" * 4096 + b"\r\n"
                     + b"*0\r\n*0\r\n")


def test_scripts_get_plain_elements(r):
    r.rpush("l", b"a\r\nb", b"", b"z" * 5000)
    script = """
        local range = redis.call('LRANGE', KEYS[1], 0, -1)
        return {#range, #range[1], range[1], range[2],
                redis.call('LINDEX', KEYS[1], -1) == string.rep('z', 5000) and 1 or 0,
                redis.call('LPOS', KEYS[1], '')}"""
    assert r.eval(script, 1, "l") == [3, 4, b"a\r\nb", b"", 1, 1]
    assert r.eval("return redis.call('RPUSH', KEYS[1], ARGV[1])", 1, "l", b"x\r\n") == 4
    assert r.lrange("l", -1, -1) == [b"x\r\n"]
    assert r.eval("return redis.call('RPOP', KEYS[1])", 1, "l") == b"x\r\n"


def test_in_process_elements_are_plain(db):
    db.execute("RPUSH", "l", b"a\r\nb", b"", b"z" * 5000)
    assert db.execute("LRANGE", "l", 0, -1) == [b"a\r\nb", b"", b"z" * 5000]
    assert db.execute("LINDEX", "l", 0) == b"a\r\nb"
    assert db.execute("SORT", "l", "ALPHA") == [b"", b"a\r\nb", b"z" * 5000]
    db.execute("MULTI")
    db.execute("LRANGE", "l", 1, -1)
    assert db.execute("EXEC") == [[b"", b"z" * 5000]]
    assert db.execute("LPOP", "l", 2) == [b"a\r\nb", b""]


def test_awkward_elements_survive_a_restart(tmp_path):
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        r = proc.client()
        r.rpush("l", *AWKWARD)
        r.lset("l", 1, b"\r\n")
        r = restart(proc)  # the log replayed
        expected = [AWKWARD[0], b"\r\n", *AWKWARD[2:]]
        assert r.lrange("l", 0, -1) == expected
        r.execute_command("BGREWRITEAOF")  # a snapshot as the log's base
        deadline = time.time() + 30
        while not r.info("persistence").get("aof_rewrites"):
            assert time.time() < deadline
            time.sleep(0.05)
        r = restart(proc)
        assert r.lrange("l", 0, -1) == expected
        assert r.lpos("l", b"\r\n") == 1 and r.object("encoding", "l") == b"quicklist"
    finally:
        proc.stop()
