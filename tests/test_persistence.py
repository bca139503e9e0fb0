"""Durability: the log and snapshots survive restarts; torn and damaged logs are handled.

Every test starts its own server on its own data directory (tests/conftest.py's
ServerProcess), writes through redis-py, stops it and starts it again on the same files.
"""

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis

from conftest import ROOT, ServerProcess

LOG = "appendonly.aof"
CHECK = [sys.executable, "-m", "alchemy.persistence.check"]


def make_server(tmp_path, appendonly: bool = True, fsync: str = "always",
                save: str = "") -> ServerProcess:
    """A server on tmp_path/data; no save points unless asked, so restarts read the log."""
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f"appendonly {'yes' if appendonly else 'no'}\nsave \"{save}\"\n")
    return ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", fsync)


def restart(proc: ServerProcess) -> redis.Redis:
    proc.stop()
    proc.start()
    return proc.client()


def has(r: redis.Redis, name: str) -> bool:
    return name in r.execute_command("COMMAND", "INFO", name)


def dump_all(r: redis.Redis) -> dict:
    """Every key of every database with its type, value and whether it has a TTL."""
    out = {}
    for index in range(16):
        r.execute_command("SELECT", index)
        for key in r.keys("*"):
            kind = r.type(key).decode()
            value = {"string": lambda: r.get(key), "list": lambda: r.lrange(key, 0, -1),
                     "hash": lambda: r.hgetall(key), "set": lambda: r.smembers(key),
                     "zset": lambda: r.zrange(key, 0, -1, withscores=True)}[kind]()
            out[(index, key)] = (kind, value, r.pttl(key) > 0)
    r.execute_command("SELECT", 0)
    return out


def fill(r: redis.Redis) -> None:
    r.set("s", "hello")
    r.set("n", 10)
    r.incrby("n", 5)
    r.append("s", " world")
    r.setbit("bits", 7, 1)
    r.set("ttl", "v")
    r.expire("ttl", 1000)
    r.set("gone", "x")
    r.delete("gone")
    pipe = r.pipeline(transaction=True)
    pipe.set("t1", 1).incr("t1").set("t2", "b")
    pipe.execute()
    if has(r, "lpush"):
        r.rpush("list", "a", "b", "c")
        r.lpop("list")
    if has(r, "hset"):
        r.hset("hash", mapping={"f1": "1", "f2": "2"})
        r.hdel("hash", "f2")
    if has(r, "sadd"):
        r.sadd("set", "x", "y", "z")
        r.srem("set", "y")
    if has(r, "zadd"):
        r.zadd("zset", {"a": 1.5, "b": -2, "c": 3})
        r.zincrby("zset", 1, "a")
    r.execute_command("SELECT", 5)
    r.set("in5", "five")
    r.execute_command("SELECT", 0)


def test_pipelined_writes_across_databases_are_logged_in_order(tmp_path):
    # One read of many writes: their records are made together when the pass's send runs,
    # with a SELECT wherever the database changes, an argument past the header tables and
    # commands of other lengths among them.
    proc = make_server(tmp_path, fsync="no").start()
    try:
        r = proc.client()
        big = b"v" * 5000
        pipe = r.pipeline(transaction=False)
        pipe.set("a", "0").set("a", "1").execute_command("SELECT", 1).set("a", "2")
        pipe.rpush("l", "x", "y").execute_command("SELECT", 0).set("big", big)
        pipe.set("k" * 4100, "long key").append("a", "z").delete("gone")
        pipe.execute_command("SELECT", 1).incr("n").set("a", "3")
        pipe.execute()
        r = restart(proc)
        assert r.get("a") == b"1z" and r.get("big") == big and r.get("k" * 4100) == b"long key"
        r.execute_command("SELECT", 1)
        assert r.get("a") == b"3" and r.lrange("l", 0, -1) == [b"x", b"y"]
        assert r.get("n") == b"1"
    finally:
        proc.stop()


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_log_round_trip(tmp_path, fsync):
    proc = make_server(tmp_path, fsync=fsync).start()
    try:
        r = proc.client()
        fill(r)
        before = dump_all(r)
        assert (5, b"in5") in before and before[(0, b"ttl")][2]
        r = restart(proc)
        assert dump_all(r) == before
        assert not os.path.exists(tmp_path / "data" / "dump.rdb")
        r.incr("n")  # the log goes on after a restart
        r = restart(proc)
        assert r.get("n") == b"16"
    finally:
        proc.stop()


@pytest.mark.parametrize("how", ["SHUTDOWN", "SIGTERM", "SHUTDOWN SAVE"])
def test_stopping_saves_a_snapshot_with_save_points(tmp_path, how):
    save = "" if how == "SHUTDOWN SAVE" else "3600 1"
    proc = make_server(tmp_path, appendonly=False, save=save).start()
    try:
        r = proc.client()
        fill(r)
        before = dump_all(r)
        if how == "SIGTERM":
            proc.stop()
        else:
            with pytest.raises(redis.ConnectionError):
                r.execute_command(*how.split())
            proc.proc.wait(10)
        assert os.path.exists(tmp_path / "data" / "dump.rdb")
        proc.start()
        assert dump_all(proc.client()) == before
    finally:
        proc.stop()


def test_shutdown_nosave_writes_no_snapshot(tmp_path):
    proc = make_server(tmp_path, appendonly=False, save="3600 1").start()
    try:
        r = proc.client()
        r.set("a", 1)
        with pytest.raises(redis.ConnectionError):
            r.execute_command("SHUTDOWN", "NOSAVE")
        proc.proc.wait(10)
        assert not os.path.exists(tmp_path / "data" / "dump.rdb")
    finally:
        proc.stop()


def test_save_points_start_a_background_save(tmp_path):
    proc = make_server(tmp_path, save="1 3").start()
    try:
        r = proc.client()
        for key in "abc":
            r.set(key, 1)
        deadline = time.time() + 10
        while r.info("persistence")["rdb_saves"] == 0:
            assert time.time() < deadline
            time.sleep(0.05)
        assert os.path.exists(tmp_path / "data" / "dump.rdb")
    finally:
        proc.stop()


def test_snapshot_round_trip_without_log(tmp_path):
    proc = make_server(tmp_path, appendonly=False).start()
    try:
        r = proc.client()
        fill(r)
        before = dump_all(r)
        assert r.save() is True
        assert abs(r.lastsave().timestamp() - time.time()) < 5
        assert not os.path.exists(tmp_path / "data" / LOG)
        r = restart(proc)
        assert dump_all(r) == before
    finally:
        proc.stop()


def test_bgsave_keeps_strings_of_every_kind_and_leaves_the_server_whole(tmp_path):
    """A forked writer puts short strings in one block and the rest key by key: a long
    string, a bitmap, a string written over a hash, expiring and expired strings, an
    MSET with a long value, SWAPDB'd databases all come back as they were."""
    proc = make_server(tmp_path, appendonly=False).start()
    try:
        r = proc.client()
        fill(r)
        r.set("long", "L" * 5000)
        r.hset("was-hash", "f", "v")
        r.set("was-hash", "now a string")
        r.mset({"m1": "short", "m2": "M" * 4097})
        r.set("dies", "soon", px=300)
        r.execute_command("SELECT", 7)
        r.set("in7", "seven")
        r.execute_command("SWAPDB", 7, 8)
        r.execute_command("SELECT", 0)
        before = dump_all(r)
        del before[(0, b"dies")]  # gone by the end; before then, when depends on the load
        r.bgsave()
        deadline = time.time() + 20
        while r.info("persistence")["rdb_saves"] == 0:
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(0.4)
        assert dump_all(r) == before  # the child's taking apart left the server's data alone
        r = restart(proc)
        assert dump_all(r) == before
        assert r.ttl("ttl") > 900 and r.getbit("bits", 7) == 1
    finally:
        proc.stop()


def test_snapshot_then_log_tail_applies_each_write_once(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        r.set("counter", 0)
        for _ in range(10):
            r.incr("counter")
        r.execute_command("SELECT", 3)  # the tail must select its own database
        r.set("db3", "x")
        assert r.bgsave()
        wait_bgsave(r)
        r.incr("counter")  # db 3 still selected: the tail records it there
        r.execute_command("SELECT", 0)
        r.incr("counter")
        assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        r = restart(proc)
        assert r.get("counter") == b"11"
        r.execute_command("SELECT", 3)
        assert r.get("counter") == b"1" and r.get("db3") == b"x"
        r.execute_command("SELECT", 0)
        r.save()
        r.incr("counter")
        r = restart(proc)
        assert r.get("counter") == b"12"
    finally:
        proc.stop()


def wait_bgsave(r: redis.Redis) -> None:
    deadline = time.time() + 20
    while r.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.time() < deadline
        time.sleep(0.02)


def read_log(tmp_path) -> bytes:
    """The log's records, without the zeros a writer under `always` keeps written ahead
    of them (a record ends in CRLF, never in a zero byte)."""
    return (tmp_path / "data" / LOG).read_bytes().rstrip(b"\0")


def test_expire_is_logged_as_absolute_time(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        r.set("k", "v")
        r.expire("k", 100)
        r.set("old", "v")
        r.expireat("old", 1000)  # in the past: deleted, logged as DEL
        log = read_log(tmp_path)
        assert b"PEXPIREAT" in log and b"$6\r\nexpire\r\n" not in log.lower()
        assert b"$3\r\nDEL\r\n$3\r\nold\r\n" in log
        deadline = r.pexpiretime("k")
        r = restart(proc)
        assert r.pexpiretime("k") == deadline
        assert r.exists("old") == 0
    finally:
        proc.stop()


def test_lazy_and_active_expiry_are_logged_as_del(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        r.set("lazy", "v", px=30)
        r.set("active", "v", px=30)
        time.sleep(0.1)
        assert r.get("lazy") is None
        # Active expiry may have taken either key first, lazy included: wait for both.
        deadline = time.time() + 5
        while b"$3\r\nDEL\r\n$6\r\nactive\r\n" not in read_log(tmp_path):
            assert time.time() < deadline
            time.sleep(0.05)
        assert b"$3\r\nDEL\r\n$4\r\nlazy\r\n" in read_log(tmp_path)
    finally:
        proc.stop()


def test_multi_exec_is_one_unit_in_the_log(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        pipe = r.pipeline(transaction=True)
        pipe.set("a", 1).get("a").incr("a")
        pipe.execute()
        log = read_log(tmp_path).lower()
        assert log.index(b"multi") < log.index(b"$1\r\na\r\n$1\r\n1") \
            < log.index(b"incr") < log.index(b"exec")
        assert b"$3\r\nget" not in log
    finally:
        proc.stop()


def test_torn_tail_is_cut_at_start_up(tmp_path):
    proc = make_server(tmp_path).start()
    r = proc.client()
    for i in range(5):
        r.set(f"k{i}", f"value-{i}")
    proc.stop()
    path = tmp_path / "data" / LOG
    whole = path.read_bytes()
    start = whole.rindex(b"*4\r\n$3\r\nSET")  # the last record: SET k4 value-4 + CRC
    assert whole.endswith(b"\r\n")
    for cut in (start + 1, start + 5, start + 12, start + 24, len(whole) - 1):
        path.write_bytes(whole[:cut])
        proc.start()
        try:
            r = proc.client()
            assert r.get("k3") == b"value-3"
            assert r.get("k4") is None
        finally:
            proc.stop()
        assert path.read_bytes() == whole[:start]
    path.write_bytes(whole[:start] + b"\x00" * 40)  # a tail of zeros: also torn
    proc.start()
    try:
        assert proc.client().get("k3") == b"value-3"
    finally:
        proc.stop()


def test_torn_transaction_is_dropped_whole(tmp_path):
    proc = make_server(tmp_path).start()
    r = proc.client()
    r.set("before", 1)
    pipe = r.pipeline(transaction=True)
    pipe.set("t1", 1).set("t2", 2)
    pipe.execute()
    proc.stop()
    path = tmp_path / "data" / LOG
    whole = path.read_bytes()
    path.write_bytes(whole[:whole.rindex(b"EXEC") - 10])
    proc.start()
    try:
        r = proc.client()
        assert r.get("before") == b"1"
        assert r.get("t1") is None and r.get("t2") is None
    finally:
        proc.stop()


def test_a_second_server_on_the_same_log_does_not_start(tmp_path):
    """The running server's log writer holds its file: a second server on the same
    directory waits for it (as a restart waits for a killed server's writer), then gives up
    with a clear error instead of writing the same log."""
    first = make_server(tmp_path).start()
    try:
        first.client().set("k", "v")
        with pytest.raises(RuntimeError, match="still being written by another process"):
            make_server(tmp_path).start()
        assert first.client().get("k") == b"v"
    finally:
        first.stop()


def test_damage_in_the_middle_stops_start_up_and_check_log_fixes_it(tmp_path):
    proc = make_server(tmp_path).start()
    r = proc.client()
    for i in range(6):
        r.set(f"k{i}", f"value-{i}")
    proc.stop()
    path = tmp_path / "data" / LOG
    data = bytearray(path.read_bytes())
    at = data.index(b"value-2")
    record = data.rindex(b"*", 0, at)
    data[at + 3] ^= 0x01  # one flipped bit inside a value
    path.write_bytes(bytes(data))

    with pytest.raises(RuntimeError) as failed:
        proc.start()
    message = str(failed.value)
    assert f"byte offset {record}" in message and str(path) in message

    check = subprocess.run([*CHECK, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 1
    assert f"damaged record at byte offset {record}" in check.stdout
    fixed = subprocess.run([*CHECK, str(path), "--fix"], capture_output=True, text=True,
                           cwd=ROOT)
    assert fixed.returncode == 0 and "truncated" in fixed.stdout
    assert os.path.getsize(path) == record
    ok = subprocess.run([*CHECK, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "OK" in ok.stdout

    proc.start()
    try:
        r = proc.client()
        assert r.get("k1") == b"value-1" and r.get("k2") is None
    finally:
        proc.stop()


def test_check_log_reports_torn_tail(tmp_path):
    proc = make_server(tmp_path).start()
    proc.client().set("a", "b")
    proc.stop()
    path = tmp_path / "data" / LOG
    path.write_bytes(path.read_bytes()[:-3])
    check = subprocess.run([*CHECK, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 1 and "torn last record" in check.stdout


def test_space_written_ahead_under_always_is_cut(tmp_path):
    """Under `always` the log writer keeps zeros written past the records (an fdatasync
    that leaves the size alone is cheaper): a clean stop cuts them; after a crash of the
    server and its writer, alchemy-check-log names them and start-up cuts them."""
    proc = make_server(tmp_path).start()
    path = tmp_path / "data" / LOG
    r = proc.client()
    r.set("a", 1)
    records = len(read_log(tmp_path))
    assert os.path.getsize(path) > records, "zeros written ahead"
    proc.stop()
    assert os.path.getsize(path) == records, "cut by a clean stop"

    proc.start()
    r = proc.client()
    r.set("b", 2)
    records = len(read_log(tmp_path))
    writer = r.info("persistence")["aof_writer_pid"]
    os.kill(writer, signal.SIGSTOP)  # so that the server starts no writer in its place
    proc.kill9()
    os.kill(writer, signal.SIGKILL)
    size = os.path.getsize(path)
    assert size > records
    check = subprocess.run([*CHECK, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 1
    assert (f"{size - records} bytes of unwritten space the log writer kept ahead at byte "
            f"offset {records}") in check.stdout
    proc.start()
    try:
        assert proc.client().mget("a", "b") == [b"1", b"2"]
        assert os.path.getsize(path) == records
    finally:
        proc.stop()


def test_no_room_for_zeros_ahead_appends_records_as_they_come(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        writer = r.info("persistence")["aof_writer_pid"]
        limit = 1 << 20  # the file may not grow past 1 MB: no room for 8 MB of zeros
        subprocess.run(["prlimit", f"--pid={writer}", f"--fsize={limit}:{limit}"], check=True)
        for i in range(100):
            r.set(f"k{i}", i)
        path = tmp_path / "data" / LOG
        assert os.path.getsize(path) == len(read_log(tmp_path)) < limit
        assert r.info("persistence")["aof_writer_pid"] == writer
        proc.kill9()
        proc.start()
        assert proc.client().get("k99") == b"99"
    finally:
        proc.stop()


def test_info_persistence_and_lastsave(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        info = r.info("persistence")
        assert info["aof_enabled"] == 1 and info["rdb_bgsave_in_progress"] == 0
        r.set("a", 1)
        r.set("b", 2)
        assert r.info("persistence")["rdb_changes_since_last_save"] == 2
        before = r.lastsave()
        r.bgsave()
        wait_bgsave(r)
        info = r.info("persistence")
        assert info["rdb_changes_since_last_save"] == 0 and info["rdb_saves"] == 1
        assert info["rdb_last_bgsave_status"] == "ok"
        assert r.lastsave() >= before
        # Every fork so far (log writer, snapshot writer) saw one thread: this one.
        assert info["forks"] >= 2 and info["fork_max_threads"] == 1
        with pytest.raises(redis.ResponseError, match="syntax error"):
            r.execute_command("BGSAVE", "NOW")
    finally:
        proc.stop()


def test_bgsave_inside_multi_agrees_with_the_log(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        r.set("n", 0)
        pipe = r.pipeline(transaction=True)
        pipe.incr("n").bgsave().incr("n")
        assert pipe.execute()[0] == 1
        wait_bgsave(r)
        r.incr("n")
        r = restart(proc)
        assert r.get("n") == b"3"  # each INCR once: from the snapshot or from the log
    finally:
        proc.stop()


def test_a_file_that_is_not_a_log_is_not_overwritten(tmp_path):
    proc = make_server(tmp_path)
    os.makedirs(proc.data_dir)
    path = tmp_path / "data" / LOG
    path.write_bytes(b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n")  # a Redis AOF, say
    with pytest.raises(RuntimeError, match="not an Alchemy log"):
        proc.start()
    assert path.read_bytes() == b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n"
    path.write_bytes(b"*5\r\n$11\r\nALCHEMY-L")  # a torn header: started again
    proc.start()
    try:
        r = proc.client()
        r.set("a", 1)
        r = restart(proc)
        assert r.get("a") == b"1"
    finally:
        proc.stop()


def test_config_set_appendfsync_replaces_the_log_writer(tmp_path):
    proc = make_server(tmp_path, fsync="everysec").start()
    try:
        r = proc.client()
        r.set("a", 1)
        first = r.info("persistence")["aof_writer_pid"]
        r.config_set("appendfsync", "always")
        deadline = time.time() + 10
        while r.info("persistence")["aof_writer_pid"] in (first, 0):
            assert time.time() < deadline
            time.sleep(0.02)
        for i in range(20):
            r.incr("n")
        r = restart(proc)
        assert r.get("a") == b"1" and r.get("n") == b"20"
    finally:
        proc.stop()


def test_shutdown_flushes_what_the_log_writer_has_not_confirmed(tmp_path):
    proc = make_server(tmp_path, fsync="everysec").start()
    try:
        r = proc.client()
        pipe = r.pipeline(transaction=False)
        for i in range(3000):
            pipe.set(f"k{i}", "x" * 100)
        pipe.execute()
        with pytest.raises(redis.ConnectionError):
            r.execute_command("SHUTDOWN", "NOSAVE")  # within the second: nothing fsynced yet
        assert proc.proc.wait(10) == 0
        proc.start()
        assert proc.client().dbsize() == 3000
    finally:
        proc.stop()


@pytest.mark.parametrize("fsync", ["everysec", "no"])
def test_no_reply_shows_a_write_before_the_writer_holds_the_log(tmp_path, fsync):
    """A restart after a crash waits for the log's lock before reading the log; a reply
    waits until the writer has reported, holding that lock, so the restart cannot read the
    log while an answered record is still on its way. Here the writer cannot take the lock
    until the test lets go of a shared one (start-up's own check shares it)."""
    proc = make_server(tmp_path, fsync=fsync).start()
    proc.stop()  # the log exists now
    held = os.open(tmp_path / "data" / LOG, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_SH)
        proc.start()
        with socket.create_connection(("127.0.0.1", proc.port)) as sock:
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(100)
            os.close(held)
            held = -1
            sock.settimeout(10)
            assert sock.recv(100) == b"+OK\r\n"
        proc.kill9()
        proc.start()
        assert proc.client().get("k") == b"v"
    finally:
        if held >= 0:
            os.close(held)
        proc.stop()


@pytest.mark.parametrize("fsync", ["everysec", "no"])
def test_kill9_right_after_a_reply_loses_nothing_answered(tmp_path, fsync):
    """The reply leaves only once the write is in the log writer's pipe, which the writer
    drains after the server died."""
    proc = make_server(tmp_path, fsync=fsync).start()
    try:
        for round in range(8):
            r = proc.client()
            r.set(f"k{round}", round)
            proc.kill9()
            proc.start()
            assert proc.client().mget([f"k{i}" for i in range(round + 1)]) == \
                [b"%d" % i for i in range(round + 1)]
    finally:
        proc.stop()
