"""HyperLogLog: PFADD, PFCOUNT, PFMERGE (and PFDEBUG, PFSELFTEST) in Redis's representation.

Most tests drive the server through redis-py; the byte-for-byte ones run the same commands
against the machine's redis-server too and compare the stored strings, since an HLL must
move between Redis and Alchemy with GET/SET unchanged.
"""

import random
import shutil
import socket
import subprocess
import time

import pytest
import redis

import alchemy
from conftest import ServerProcess

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
INVALID = "INVALIDOBJ Corrupted HLL object detected"
WRONGTYPE = "Operation against a key holding the wrong kind of value"
DENSE_SIZE = 16 + 12288


def encoding(r, key) -> str:
    return {b"\x00": "dense", b"\x01": "sparse"}[r.getrange(key, 4, 4)]


# -- the commands --------------------------------------------------------------------

def test_pfadd_creates_and_reports_changes(r):
    assert r.pfadd("hll") == 1  # no elements: the key is created all the same
    assert r.exists("hll") == 1
    assert r.get("hll") == b"HYLL\x01" + bytes(10) + b"\x80\x7f\xff"
    assert r.pfcount("hll") == 0
    assert r.pfadd("hll", "a", "b", "c") == 1
    assert r.pfadd("hll", "a", "b", "c") == 0
    assert r.pfadd("hll") == 0
    assert r.pfadd("hll", "") == 1


def test_pfcount_counts_small_sets_exactly(r):
    r.pfadd("hll", 1, 2, 3, 4, 5)
    assert r.pfcount("hll") == 5
    r.pfadd("hll", 6, 7, 8, 8, 9, 10)
    assert r.pfcount("hll") == 10
    assert r.pfcount("missing") == 0


def test_the_cached_cardinality_is_kept_and_invalidated(r):
    r.pfadd("hll", "a", "b", "c")
    assert r.getrange("hll", 15, 15) == b"\x80"
    assert r.pfcount("hll") == 3
    assert r.getrange("hll", 8, 15) == b"\x03" + bytes(7)
    r.pfadd("hll", "a", "b", "c")  # no register changes: the cache stays valid
    assert r.getrange("hll", 15, 15) == b"\x00"
    r.pfadd("hll", 1, 2, 3)
    assert r.getrange("hll", 15, 15) == b"\x80"
    # A valid cache is believed, whatever the registers say.
    r.pfcount("hll")
    r.setrange("hll", 8, b"\x2a")
    assert r.pfcount("hll") == 42


def test_counts_within_the_standard_error(r):
    """100,000 distinct elements: 1.04/sqrt(16384) = 0.81% is one standard error."""
    n = 100_000
    pipe = r.pipeline(transaction=False)
    for start in range(0, n, 5000):
        pipe.pfadd("hll", *(f"element:{i}" for i in range(start, start + 5000)))
    pipe.execute()
    assert encoding(r, "hll") == "dense"
    assert r.strlen("hll") == DENSE_SIZE
    assert abs(r.pfcount("hll") - n) < 3 * 0.0081 * n
    # Adding them again changes nothing.
    assert r.pfadd("hll", *(f"element:{i}" for i in range(0, n, 97))) == 0


def test_sparse_turns_dense_past_hll_sparse_max_bytes(r):
    assert r.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "3000"}
    added = 0
    r.pfadd("hll")
    while encoding(r, "hll") == "sparse":
        assert r.strlen("hll") <= 3000
        r.pfadd("hll", *(f"e{i}" for i in range(added, added + 50)))
        added += 50
    assert 1000 < added < 10_000
    assert r.strlen("hll") == DENSE_SIZE
    assert abs(r.pfcount("hll") - added) < 0.05 * added
    try:
        r.config_set("hll-sparse-max-bytes", 100)
        r.pfadd("small", *range(200))
        assert encoding(r, "small") == "dense"
        r.pfadd("tiny", *range(10))
        assert encoding(r, "tiny") == "sparse"
    finally:
        r.config_set("hll-sparse-max-bytes", 3000)


@pytest.mark.parametrize("text, why", [
    ("-1", "argument must be a memory value"),
    ("abc", "argument must be a memory value"),
    ("9223372036854775808", "argument must be between 0 and 9223372036854775807 inclusive"),
])
def test_hll_sparse_max_bytes_refuses_as_redis_does(r, text, why):
    with pytest.raises(redis.ResponseError) as error:
        r.config_set("hll-sparse-max-bytes", text)
    assert str(error.value) == ("CONFIG SET failed (possibly related to argument "
                                f"'hll-sparse-max-bytes') - {why}")
    r.config_set("hll-sparse-max-bytes", "1k")
    assert r.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "1000"}
    r.config_set("hll-sparse-max-bytes", 3000)


def test_a_register_above_32_makes_a_sparse_hll_dense():
    # An element doing this is one in 2**32: the register is raised directly.
    from alchemy.hyperloglog import EMPTY, Hll, registers
    edited = Hll(bytearray(EMPTY), 3000)
    assert edited.set(100, 5) and edited.dense is None
    assert edited.set(200, 40) and edited.dense is not None
    value = edited.value()
    assert len(value) == DENSE_SIZE and value[4] == 0
    assert registers(value)[[99, 100, 200]].tolist() == [0, 5, 40]


def test_sparse_and_dense_hlls_of_the_same_elements_agree(r):
    r.pfadd("sparse", *range(300))
    r.pfadd("dense")
    assert r.execute_command("PFDEBUG", "TODENSE", "dense") == 1
    r.pfadd("dense", *range(300))
    assert (encoding(r, "sparse"), encoding(r, "dense")) == ("sparse", "dense")
    assert r.pfcount("sparse") == r.pfcount("dense")


def test_pfmerge_and_pfcount_of_several_keys_count_the_union(r):
    r.pfadd("h1", "a", "b", "c")
    r.pfadd("h2", "b", "c", "d")
    r.pfadd("h3", "c", "d", "e")
    assert r.pfcount("h1", "h2", "h3", "missing") == 5
    assert r.pfmerge("h", "h1", "h2", "h3") is True
    assert r.pfcount("h") == 5
    assert r.pfmerge("h1", "h2") is True  # the destination is one of the sources
    assert r.pfcount("h1") == 4
    assert r.pfmerge("empty") is True
    assert r.pfcount("empty") == 0
    assert encoding(r, "h") == "sparse"
    r.pfadd("big", *range(5000))
    r.pfmerge("h", "big")  # a dense source: the result is dense
    assert encoding(r, "h") == "dense"
    assert abs(r.pfcount("h") - 5005) < 0.05 * 5005


def test_pfmerge_keeps_the_destination_ttl(r):
    r.pfadd("h", "a")
    r.expire("h", 100)
    r.pfadd("src", "b", "c")
    r.pfmerge("h", "src")
    r.pfadd("h", "d")
    assert 0 < r.ttl("h") <= 100


def test_type_errors(r):
    r.set("str", "bar")
    r.rpush("list", "x")
    for command in (("PFADD", "str", 1), ("PFCOUNT", "str"), ("PFCOUNT", "h", "str"),
                    ("PFMERGE", "bar", "str"), ("PFMERGE", "str", "bar")):
        with pytest.raises(redis.ResponseError, match=f"^{NOT_HLL}$"):
            r.execute_command(*command)
    for command in (("PFADD", "list", 1), ("PFCOUNT", "list"), ("PFMERGE", "list")):
        with pytest.raises(redis.ResponseError, match=WRONGTYPE):
            r.execute_command(*command)
    for name in ("PFADD", "PFCOUNT", "PFMERGE"):
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            r.execute_command(name)


@pytest.mark.parametrize("corrupt, error", [
    (lambda r: r.append("hll", "hello"), INVALID),           # extra opcodes at the tail
    (lambda r: r.setrange("hll", 0, "0123"), NOT_HLL),       # broken magic
    (lambda r: r.setrange("hll", 4, "x"), NOT_HLL),          # unknown encoding
    (lambda r: r.setrange("hll", 4, "\x00"), NOT_HLL),       # dense of the wrong length
    (lambda r: r.set("hll", "HYLL"), NOT_HLL),               # shorter than a header
])
def test_corrupted_hlls_are_detected(r, corrupt, error):
    r.pfadd("hll", "a", "b", "c")
    corrupt(r)
    with pytest.raises(redis.ResponseError, match=f"^{error}$"):
        r.pfcount("hll")
    with pytest.raises(redis.ResponseError, match=f"^{error}$"):
        r.pfcount("hll", "other")


def test_pfcount_refreshing_its_cache_is_a_write_for_watch(r, server):
    r.pfadd("hll", "a")
    other = server.client()

    def watched_transaction():
        pipe = r.pipeline()
        pipe.watch("hll")
        other.pfcount("hll")
        pipe.multi()
        pipe.pfcount("hll")
        return pipe.execute()

    with pytest.raises(redis.WatchError):  # the first PFCOUNT stores the cardinality
        watched_transaction()
    assert watched_transaction() == [1]  # the cache was valid: nothing written
    other.close()


def test_pfadd_notifies(r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        sub = r.pubsub()
        sub.psubscribe("__keyevent@0__:*")
        sub.get_message(timeout=1)
        r.pfadd("hll", "a")
        r.pfadd("hll", "a")  # nothing changed: no event
        r.pfmerge("hll", "hll")
        events = []
        deadline = time.time() + 2
        while len(events) < 2 and time.time() < deadline:
            message = sub.get_message(timeout=0.2)
            if message:
                events.append((message["channel"], message["data"]))
        assert events == [(b"__keyevent@0__:pfadd", b"hll")] * 2
        sub.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_pfdebug(r):
    r.pfadd("hll", "a", "b", "c")
    assert r.execute_command("PFDEBUG", "ENCODING", "hll") == b"sparse"
    decoded = r.execute_command("PFDEBUG", "DECODE", "hll").decode().split()
    assert len(decoded) >= 5 and sum(int(op.split(":")[1].split(",")[-1])
                                     for op in decoded) == 16384
    registers = r.execute_command("PFDEBUG", "GETREG", "hll")
    assert len(registers) == 16384 and sum(1 for v in registers if v) == 3
    assert r.execute_command("PFDEBUG", "ENCODING", "hll") == b"dense"  # GETREG converts
    assert r.execute_command("PFDEBUG", "TODENSE", "hll") == 0
    with pytest.raises(redis.ResponseError, match="HLL encoding is not sparse"):
        r.execute_command("PFDEBUG", "DECODE", "hll")
    with pytest.raises(redis.ResponseError, match="The specified key does not exist"):
        r.execute_command("PFDEBUG", "ENCODING", "nokey")
    with pytest.raises(redis.ResponseError, match="Unknown PFDEBUG subcommand 'nope'"):
        r.execute_command("PFDEBUG", "nope", "hll")


def test_pfselftest(r):
    assert r.execute_command("PFSELFTEST") == b"OK"


def test_in_process():
    db = alchemy.Database()
    assert db.execute("PFADD", "h", "a", "b") == 1
    assert db.execute("PFCOUNT", "h") == 2
    assert db.execute("PFMERGE", "u", "h", "nokey") == "OK"
    assert db.execute("PFCOUNT", "u", "h") == 2
    db.execute("SET", "s", "x")
    with pytest.raises(alchemy.AlchemyError, match=NOT_HLL):
        db.execute("PFCOUNT", "s")


# -- durability ----------------------------------------------------------------------

def test_the_log_replays_to_the_same_bytes(tmp_path):
    conf = tmp_path / "alchemy.conf"
    conf.write_text('appendonly yes\nsave ""\n')
    proc = ServerProcess(tmp_path / "data", "--config", str(conf)).start()
    try:
        r = proc.client()
        r.pfadd("sparse", *range(100))
        r.pfadd("dense", *range(5000))
        r.pfmerge("merged", "sparse", "dense")
        r.pfadd("sparse", "more")
        assert r.pfcount("sparse") == 101  # refreshes the cache: logged too
        r.pfcount("dense")
        before = {key: r.get(key) for key in ("sparse", "dense", "merged")}
        assert before["sparse"][15] == 0
        proc.stop()
        proc.start()
        r = proc.client()
        assert {key: r.get(key) for key in before} == before
    finally:
        proc.stop()


# -- against redis-server ------------------------------------------------------------

@pytest.fixture(scope="module")
def real_redis(tmp_path_factory):
    """The machine's redis-server on a free port, or a skip when there is none."""
    path = shutil.which("redis-server")
    if path is None:
        pytest.skip("no redis-server on this machine")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([path, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.time() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.time() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield client
    client.close()
    proc.terminate()
    proc.wait(10)


def _both(r, real, *command):
    replies = []
    for client in (r, real):
        try:
            replies.append(client.execute_command(*command))
        except redis.ResponseError as error:
            replies.append(str(error))
    return replies


def test_same_bytes_as_redis(r, real_redis):
    """The same PFADDs, PFCOUNTs and PFMERGEs leave the same strings as in Redis, through
    sparse edits of every kind, promotion to dense and merges of both encodings."""
    real_redis.flushall()
    rng = random.Random(3)
    keys = [f"h{i}" for i in range(6)]
    for size, batch in ((1, 1), (40, 1), (300, 7), (1500, 50), (2500, 500), (8000, 2000)):
        key = keys.pop(0)
        elements = [str(rng.random()) for _ in range(size)]
        for start in range(0, size, batch):
            a, b = _both(r, real_redis, "PFADD", key, *elements[start:start + batch])
            assert a == b
            if rng.random() < 0.2:
                assert _both(r, real_redis, "PFCOUNT", key)[0] == \
                    _both(r, real_redis, "PFCOUNT", key)[1]
        assert r.get(key) == real_redis.get(key), key
    for command in (("PFMERGE", "m1", "h0", "h1", "h2"), ("PFMERGE", "m2", "h3", "h5"),
                    ("PFMERGE", "h2", "h3"), ("PFCOUNT", "h0", "h4"), ("PFCOUNT", "m1")):
        a, b = _both(r, real_redis, *command)
        assert a == b or {a, b} == {b"OK", True}, command
    for key in ("m1", "m2", "h2"):
        assert r.get(key) == real_redis.get(key), key
    # And a Redis HLL set into Alchemy goes on as it would in Redis.
    r.set("copied", real_redis.get("h3"))
    real_redis.set("copied", real_redis.get("h3"))
    assert _both(r, real_redis, "PFADD", "copied", *range(400)) == [1, 1]
    assert r.get("copied") == real_redis.get("copied")


def test_corrupted_hlls_behave_as_in_redis(r, real_redis):
    """Random bytes overwritten (the Redis suite's fuzzing): the same errors, and what
    PFADD and PFMERGE still write is the same."""
    real_redis.flushall()
    rng = random.Random(7)
    for _ in range(60):
        elements = [rng.random() for _ in range(rng.randrange(1, 2000))]
        writes = [("DEL", "hll", "dest"), ("PFADD", "hll", *elements)]
        for _ in range(rng.randrange(1, 4)):
            writes.append(("SETRANGE", "hll", rng.randrange(16, 16 + len(elements)),
                           bytes([rng.randrange(256)])))
        for command in writes + [("PFCOUNT", "hll"), ("PFADD", "hll", "x", "y"),
                                 ("PFCOUNT", "hll", "x"), ("PFMERGE", "dest", "hll")]:
            a, b = _both(r, real_redis, *command)
            assert a == b or {a, b} == {b"OK", True}, command[:1]
        assert r.get("hll") == real_redis.get("hll")
        assert r.get("dest") == real_redis.get("dest")
